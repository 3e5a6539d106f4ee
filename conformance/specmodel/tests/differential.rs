//! Differential tests: the model and the reference crate `sealwire` agree on
//! identities, bundles (honest and mutated), X3DH, every sent and received
//! message of random conversations (out of order, tampered, replayed, of
//! sizes around the block and buffer boundaries) and sealed states, all
//! driven by seeded generators. Every assertion names its seed; set
//! `SPECMODEL_SEED=<n>` to replay one seed.

use rand_chacha::ChaCha20Rng;
use rand_core::{Rng, SeedableRng, TryCryptoRng, TryRng};
use sealwire::{
    IdentityKeyPair, OneTimePreKey, PreKeyBundle, SignedPreKey, StorageKey, initiate_with_rng,
    respond_with_rng,
};
use sealwire::{InMemoryPreKeyStore, Session};
use sealwire_specmodel::keys::{IdentityModel, validate_identity_key};
use sealwire_specmodel::session::{self, ModelSession, PrekeySecrets};
use sealwire_specmodel::wire::Bundle;
use sealwire_specmodel::{Checker, ErrorClass, Secret32, state, x3dh};

/// The seeds a run covers: `SPECMODEL_SEED` alone, or 0..count.
fn seeds(count: u64) -> Vec<u64> {
    match std::env::var("SPECMODEL_SEED") {
        Ok(seed) => vec![seed.parse().expect("SPECMODEL_SEED is a u64")],
        Err(_) => (0..count).collect(),
    }
}

fn class(name: &str) -> ErrorClass {
    ErrorClass::from_name(name).unwrap_or_else(|| panic!("unknown class {name}"))
}

/// A seeded generator that records what the reference draws, so that the
/// model can be given the same keys.
struct Recording {
    inner: ChaCha20Rng,
    drawn: Vec<u8>,
}

impl Recording {
    fn new(seed: u64) -> Self {
        Self {
            inner: ChaCha20Rng::seed_from_u64(seed),
            drawn: Vec::new(),
        }
    }

    fn take(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.drawn)
    }

    fn bytes<const N: usize>(&mut self) -> [u8; N] {
        let mut out = [0u8; N];
        self.inner.fill_bytes(&mut out);
        out
    }

    fn below(&mut self, n: u64) -> u64 {
        self.inner.next_u64() % n
    }
}

impl TryRng for Recording {
    type Error = core::convert::Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        rand_core::utils::next_word_via_fill(self)
    }

    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        rand_core::utils::next_word_via_fill(self)
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
        self.inner.fill_bytes(dst);
        self.drawn.extend_from_slice(dst);
        Ok(())
    }
}

impl TryCryptoRng for Recording {}

fn key32(bytes: &[u8]) -> [u8; 32] {
    bytes.try_into().expect("32 bytes drawn")
}

#[test]
pub(crate) fn identities_and_their_montgomery_forms_agree() {
    for seed in seeds(64) {
        let mut rng = Recording::new(seed);
        let ikm = rng.bytes::<32>();
        let reference = IdentityKeyPair::from_seed(ikm);
        let model = IdentityModel::from_seed(&ikm);
        assert_eq!(&model.public, reference.public().as_bytes(), "seed {seed}");
        assert_eq!(
            &model.montgomery_public,
            reference.public().to_x25519().as_bytes(),
            "seed {seed}"
        );
        assert_eq!(
            validate_identity_key(&model.public).expect("valid"),
            model.montgomery_public,
            "seed {seed}: point map and scalar disagree"
        );
    }
}

/// The reference's verdict on bundle bytes: `Ok` or the error class.
fn reference_bundle_verdict(bytes: &[u8]) -> Result<(), ErrorClass> {
    PreKeyBundle::from_bytes(bytes)
        .and_then(|b| b.verify().map(|_| ()))
        .map_err(|e| class(e.class().as_str()))
}

/// Low-order X25519 points (canonical encodings): 0, 1, the order-8 pair,
/// p - 1 (RFC 7748 §6.1 discussion; published in many test suites).
const LOW_ORDER: [[u8; 32]; 5] = {
    let mut p_minus_1 = [0xff_u8; 32];
    p_minus_1[0] = 0xec;
    p_minus_1[31] = 0x7f;
    let mut one = [0u8; 32];
    one[0] = 1;
    [
        [0u8; 32],
        one,
        [
            0xe0, 0xeb, 0x7a, 0x7c, 0x3b, 0x41, 0xb8, 0xae, 0x16, 0x56, 0xe3, 0xfa, 0xf1, 0x9f,
            0xc4, 0x6a, 0xda, 0x09, 0x8d, 0xeb, 0x9c, 0x32, 0xb1, 0xfd, 0x86, 0x62, 0x05, 0x16,
            0x5f, 0x49, 0xb8, 0x00,
        ],
        [
            0x5f, 0x9c, 0x95, 0xbc, 0xa3, 0x50, 0x8c, 0x24, 0xb1, 0xd0, 0xb1, 0x55, 0x9c, 0x83,
            0xef, 0x5b, 0x04, 0x44, 0x5c, 0xc4, 0x58, 0x1c, 0x8e, 0x86, 0xd8, 0x22, 0x4e, 0xdd,
            0xd0, 0x9f, 0x11, 0x57,
        ],
        p_minus_1,
    ]
};

#[test]
pub(crate) fn bundles_honest_and_mutated_get_the_same_verdict() {
    let mut checked = [0usize; 2];
    for seed in seeds(48) {
        let mut rng = Recording::new(1_000 + seed);
        let identity_seed = rng.bytes::<32>();
        let spk_secret = rng.bytes::<32>();
        let opk_secret = rng.bytes::<32>();
        let spk_id = rng.inner.next_u32();
        let opk_id = rng.inner.next_u32();
        let bob = IdentityKeyPair::from_seed(identity_seed);
        let spk = SignedPreKey::new(spk_id, spk_secret, &bob);
        let opk = OneTimePreKey::new(opk_id, opk_secret);
        let with_opk = rng.below(2) == 0;
        let honest = PreKeyBundle::new(&bob, &spk, with_opk.then_some(&opk)).to_bytes();

        let model_identity = IdentityModel::from_seed(&identity_seed);
        let model = x3dh::make_bundle(
            &model_identity,
            (spk_id, &spk_secret),
            with_opk.then_some((opk_id, &opk_secret)),
        );
        assert_eq!(model.encode(), honest, "seed {seed}: honest bundle bytes");
        assert!(
            Checker::check_bundle_accepted(&honest).agrees(),
            "seed {seed}: honest bundle"
        );

        for round in 0..64 {
            let mut bytes = honest.clone();
            match rng.below(6) {
                0 => {
                    let at = rng.below(bytes.len() as u64) as usize;
                    bytes[at] ^= 1 << rng.below(8);
                }
                1 => {
                    let at = rng.below(bytes.len() as u64) as usize;
                    bytes[at] = rng.inner.next_u32() as u8;
                }
                2 => bytes.truncate(rng.below(bytes.len() as u64) as usize),
                3 => bytes.push(rng.inner.next_u32() as u8),
                4 => {
                    // A low-order prekey, in either prekey field.
                    let point = LOW_ORDER[rng.below(LOW_ORDER.len() as u64) as usize];
                    let at = if with_opk && rng.below(2) == 0 {
                        138
                    } else {
                        37
                    };
                    bytes[at..at + 32].copy_from_slice(&point);
                }
                _ => {
                    // Identity key from another seed: the signature fails.
                    let other = IdentityModel::from_seed(&rng.bytes::<32>());
                    bytes[1..33].copy_from_slice(&other.public);
                }
            }
            let verdict = match reference_bundle_verdict(&bytes) {
                Ok(()) => {
                    checked[0] += 1;
                    Checker::check_bundle_accepted(&bytes)
                }
                Err(class) => {
                    checked[1] += 1;
                    Checker::check_bundle_rejected(&bytes, class)
                }
            };
            assert!(verdict.agrees(), "seed {seed} round {round}: {verdict:?}");
        }
    }
    assert!(
        checked[0] > 0 && checked[1] > 0,
        "accepted/rejected: {checked:?}"
    );
}

struct Prekeys {
    signed: (u32, Secret32),
    one_time: Option<(u32, Secret32)>,
}

impl PrekeySecrets for Prekeys {
    fn signed_prekey(&self, id: u32) -> Option<&[u8; 32]> {
        (self.signed.0 == id).then(|| self.signed.1.expose())
    }
    fn one_time_prekey(&self, id: u32) -> Option<&[u8; 32]> {
        self.one_time
            .as_ref()
            .filter(|(k, _)| *k == id)
            .map(|(_, s)| s.expose())
    }
}

/// Plaintext sizes around ChaCha20's 64-byte blocks, Poly1305's 16-byte
/// blocks, 4 KiB pages and 64 KiB, plus small random ones.
fn plaintext(rng: &mut Recording) -> Vec<u8> {
    const BOUNDARIES: [usize; 14] = [
        0, 1, 15, 16, 17, 63, 64, 65, 255, 256, 4095, 4096, 4097, 65_536,
    ];
    let len = if rng.below(3) == 0 {
        BOUNDARIES[rng.below(BOUNDARIES.len() as u64) as usize]
    } else {
        rng.below(200) as usize
    };
    let mut pt = vec![0u8; len];
    rng.inner.fill_bytes(&mut pt);
    pt
}

struct Party {
    reference: Session,
    model: ModelSession,
}

#[derive(Default)]
struct Counts {
    sent: usize,
    accepted: usize,
    rejected: usize,
    sealed: usize,
}

/// One party receives `message`: the reference, its model twin and the
/// `Checker` verdict must agree; a rejection changes neither.
fn deliver(party: &mut Party, message: &[u8], rng: &mut Recording, ctx: &str, counts: &mut Counts) {
    let before = party.reference.to_bytes().to_vec();
    rng.take();
    let result = party.reference.decrypt_with_rng(message, rng);
    let drawn = rng.take();
    let after = party.reference.to_bytes().to_vec();
    match result {
        Ok(plaintext) => {
            counts.accepted += 1;
            let verdict = Checker::check_accepted_message(&before, message, &plaintext, &after);
            assert!(verdict.agrees(), "{ctx}: accepted message: {verdict:?}");
            let next = (!drawn.is_empty()).then(|| key32(&drawn));
            let received = party
                .model
                .decrypt(message, next.as_ref())
                .unwrap_or_else(|e| panic!("{ctx}: the model rejects: {e}"));
            assert_eq!(*received.plaintext, plaintext, "{ctx}: plaintext");
            assert_eq!(
                received.ratchet_step,
                !drawn.is_empty(),
                "{ctx}: ratchet step"
            );
        }
        Err(error) => {
            counts.rejected += 1;
            assert_eq!(
                before, after,
                "{ctx}: a rejected message changed the reference"
            );
            let class = class(error.class().as_str());
            let verdict = Checker::check_rejected_message(&before, message, class);
            assert!(verdict.agrees(), "{ctx}: rejected ({class:?}): {verdict:?}");
            let model_before = party.model.encode().expect("encodable").to_vec();
            let model = party.model.decrypt(message, Some(&[0x22; 32]));
            assert_eq!(
                model.err().and_then(|e| e.class()),
                Some(class),
                "{ctx}: the model's twin"
            );
            assert_eq!(
                party.model.encode().expect("encodable").to_vec(),
                model_before,
                "{ctx}: a rejected message changed the model"
            );
        }
    }
    assert_eq!(
        party.model.encode().expect("encodable").to_vec(),
        party.reference.to_bytes().to_vec(),
        "{ctx}: states differ after delivery"
    );
}

fn send(party: &mut Party, rng: &mut Recording, ctx: &str, counts: &mut Counts) -> Vec<u8> {
    let pt = plaintext(rng);
    let before = party.reference.to_bytes().to_vec();
    let message = party.reference.encrypt(&pt).expect("encrypt");
    let after = party.reference.to_bytes().to_vec();
    let verdict = Checker::check_sent_message(&before, &pt, &message, Some(&after));
    assert!(verdict.agrees(), "{ctx}: sent message: {verdict:?}");
    let twin = party.model.encrypt(&pt).expect("model encrypt");
    assert_eq!(twin, message, "{ctx}: the model's twin sends other bytes");
    counts.sent += 1;
    message
}

fn seal_and_open(party: &Party, rng: &mut Recording, ctx: &str, counts: &mut Counts) {
    let storage = rng.bytes::<32>();
    rng.take();
    let sealed = party
        .reference
        .seal_state_with_rng(&StorageKey::from_bytes(storage), rng);
    let salt = key32(&rng.take());
    let plain = party.reference.to_bytes().to_vec();
    let verdict = Checker::check_sealed_state(&storage, &salt, &plain, &sealed);
    assert!(verdict.agrees(), "{ctx}: sealed state: {verdict:?}");
    let opened = Session::open_state(&StorageKey::from_bytes(storage), &sealed)
        .expect("the reference opens its own sealed state");
    let verdict = Checker::check_opened_state(&storage, &sealed, &opened.to_bytes());
    assert!(verdict.agrees(), "{ctx}: opened state: {verdict:?}");
    // A wrong storage key: both reject.
    let mut wrong = storage;
    wrong[rng.below(32) as usize] ^= 1;
    assert!(Session::open_state(&StorageKey::from_bytes(wrong), &sealed).is_err());
    assert!(
        state::open_state(&wrong, &sealed).is_err(),
        "{ctx}: wrong key"
    );
    counts.sealed += 1;
}

#[test]
pub(crate) fn conversations_agree_message_by_message() {
    let mut counts = Counts::default();
    for seed in seeds(24) {
        let mut rng = Recording::new(7_000 + seed);
        let alice_seed = rng.bytes::<32>();
        let bob_seed = rng.bytes::<32>();
        let spk_secret = rng.bytes::<32>();
        let opk_secret = rng.bytes::<32>();
        let (spk_id, opk_id) = (rng.inner.next_u32(), rng.inner.next_u32());
        let with_opk = rng.below(2) == 0;

        let alice = IdentityKeyPair::from_seed(alice_seed);
        let bob = IdentityKeyPair::from_seed(bob_seed);
        let spk = SignedPreKey::new(spk_id, spk_secret, &bob);
        let opk = OneTimePreKey::new(opk_id, opk_secret);
        let bundle = PreKeyBundle::new(&bob, &spk, with_opk.then_some(&opk));
        let mut store = InMemoryPreKeyStore::new();
        store.add_signed_prekey(spk);
        if with_opk {
            store.add_one_time_prekey(opk);
        }

        let first = plaintext(&mut rng);
        rng.take();
        let (alice_session, initial) =
            initiate_with_rng(&alice, &bundle, &first, &mut rng).expect("initiate");
        let drawn = rng.take();
        let model_alice = IdentityModel::from_seed(&alice_seed);
        let initiated = session::initiate(
            &model_alice,
            &bundle.to_bytes(),
            &key32(&drawn[..32]),
            &key32(&drawn[32..]),
            &first,
        )
        .unwrap_or_else(|e| panic!("seed {seed}: model initiate: {e}"));
        assert_eq!(
            initiated.initial_message, initial,
            "seed {seed}: initial message"
        );
        assert_eq!(
            initiated.session.encode().expect("encodable").to_vec(),
            alice_session.to_bytes().to_vec(),
            "seed {seed}: initiator state"
        );

        let (bob_session, received) =
            respond_with_rng(&bob, &mut store, &initial, &mut rng).expect("respond");
        let drawn = rng.take();
        let prekeys = Prekeys {
            signed: (spk_id, Secret32::new(spk_secret)),
            one_time: with_opk.then(|| (opk_id, Secret32::new(opk_secret))),
        };
        let model_bob = IdentityModel::from_seed(&bob_seed);
        let responded = session::respond(&model_bob, &prekeys, &initial, &key32(&drawn))
            .unwrap_or_else(|e| panic!("seed {seed}: model respond: {e}"));
        assert_eq!(
            *responded.plaintext, received,
            "seed {seed}: first plaintext"
        );
        assert_eq!(
            responded.shared_secret, initiated.shared_secret,
            "seed {seed}: SK"
        );
        assert_eq!(responded.ad, initiated.ad, "seed {seed}: AD");
        assert_eq!(
            responded.session.encode().expect("encodable").to_vec(),
            bob_session.to_bytes().to_vec(),
            "seed {seed}: responder state"
        );

        let mut parties = [
            Party {
                reference: alice_session,
                model: initiated.session,
            },
            Party {
                reference: bob_session,
                model: responded.session,
            },
        ];
        // In flight: (recipient, message); delivered ones may be replayed.
        let mut in_flight: Vec<(usize, Vec<u8>)> = Vec::new();
        let mut delivered: Vec<(usize, Vec<u8>)> = Vec::new();
        for step in 0..120 {
            let ctx = format!("seed {seed} step {step} (SPECMODEL_SEED={seed} to replay)");
            match rng.below(10) {
                0..=3 => {
                    let sender = rng.below(2) as usize;
                    let message = send(&mut parties[sender], &mut rng, &ctx, &mut counts);
                    in_flight.push((1 - sender, message));
                }
                4..=6 if !in_flight.is_empty() => {
                    let (to, message) =
                        in_flight.remove(rng.below(in_flight.len() as u64) as usize);
                    deliver(&mut parties[to], &message, &mut rng, &ctx, &mut counts);
                    delivered.push((to, message));
                }
                7 if !in_flight.is_empty() => {
                    let pick = rng.below(in_flight.len() as u64) as usize;
                    let (to, mut message) = in_flight[pick].clone();
                    let at = rng.below(message.len() as u64) as usize;
                    message[at] ^= 1 << rng.below(8);
                    deliver(&mut parties[to], &message, &mut rng, &ctx, &mut counts);
                }
                8 if !delivered.is_empty() => {
                    let (to, message) =
                        delivered[rng.below(delivered.len() as u64) as usize].clone();
                    deliver(&mut parties[to], &message, &mut rng, &ctx, &mut counts);
                }
                9 => {
                    let who = rng.below(2) as usize;
                    seal_and_open(&parties[who], &mut rng, &ctx, &mut counts);
                }
                _ => {}
            }
        }
    }
    eprintln!(
        "sent {}, accepted {}, rejected {}, sealed {}",
        counts.sent, counts.accepted, counts.rejected, counts.sealed
    );
    assert!(counts.sent > 0 && counts.accepted > 0 && counts.rejected > 0 && counts.sealed > 0);
}

#[test]
pub(crate) fn the_checker_notices_a_deviation() {
    // A check that cannot fail is no check: the same inputs with one byte
    // of the produced value changed must be refused, for every check.
    let mut rng = Recording::new(99);
    let alice = IdentityKeyPair::from_seed(rng.bytes::<32>());
    let bob = IdentityKeyPair::from_seed(rng.bytes::<32>());
    let spk = SignedPreKey::new(1, rng.bytes::<32>(), &bob);
    let bundle = PreKeyBundle::new(&bob, &spk, None);
    let mut store = InMemoryPreKeyStore::new();
    store.add_signed_prekey(spk);
    let (mut alice_session, initial) =
        initiate_with_rng(&alice, &bundle, b"first", &mut rng).expect("initiate");
    let (mut bob_session, _) =
        respond_with_rng(&bob, &mut store, &initial, &mut rng).expect("respond");

    let before = bob_session.to_bytes().to_vec();
    let mut message = bob_session.encrypt(b"reply").expect("encrypt");
    let after = bob_session.to_bytes().to_vec();
    assert!(Checker::check_sent_message(&before, b"reply", &message, Some(&after)).agrees());
    let mut bad = message.clone();
    bad[50] ^= 1;
    assert!(matches!(
        Checker::check_sent_message(&before, b"reply", &bad, None),
        sealwire_specmodel::Verdict::Differs {
            output: "message",
            ..
        }
    ));
    let mut bad_after = after.clone();
    bad_after[200] ^= 1;
    assert!(!Checker::check_sent_message(&before, b"reply", &message, Some(&bad_after)).agrees());

    let alice_before = alice_session.to_bytes().to_vec();
    let plaintext = alice_session
        .decrypt_with_rng(&message, &mut rng)
        .expect("decrypt");
    let alice_after = alice_session.to_bytes().to_vec();
    assert!(
        Checker::check_accepted_message(&alice_before, &message, &plaintext, &alice_after).agrees()
    );
    assert!(
        !Checker::check_accepted_message(&alice_before, &message, b"replx", &alice_after).agrees()
    );
    message[45] ^= 1;
    assert!(matches!(
        Checker::check_accepted_message(&alice_before, &message, &plaintext, &alice_after),
        sealwire_specmodel::Verdict::ModelRejects(_)
    ));
    assert!(
        Checker::check_rejected_message(&alice_before, &message, ErrorClass::DecryptionFailed)
            .agrees()
    );
    assert!(!Checker::check_rejected_message(&alice_before, &message, ErrorClass::Wire).agrees());

    let mut bad_bundle = bundle.to_bytes();
    bad_bundle[80] ^= 1;
    assert!(!Checker::check_bundle_accepted(&bad_bundle).agrees());
    assert!(Checker::check_bundle_rejected(&bad_bundle, ErrorClass::Handshake).agrees());
    assert!(!Checker::check_bundle_rejected(&bundle.to_bytes(), ErrorClass::Handshake).agrees());

    let storage = [7u8; 32];
    let sealed = alice_session.seal_state_with_rng(&StorageKey::from_bytes(storage), &mut rng);
    let plain = alice_session.to_bytes().to_vec();
    assert!(Checker::check_opened_state(&storage, &sealed, &plain).agrees());
    assert!(!Checker::check_opened_state(&[8u8; 32], &sealed, &plain).agrees());
    let mut other = plain.clone();
    other[70] ^= 1;
    assert!(!Checker::check_opened_state(&storage, &sealed, &other).agrees());
    // Bundle decoding of a model-made bundle round-trips.
    assert_eq!(
        Bundle::decode(&bundle.to_bytes())
            .expect("decodes")
            .encode(),
        bundle.to_bytes()
    );
}

/// Lengths around every block and buffer boundary up to the 1 MiB limit:
/// Poly1305's 16 bytes, ChaCha20's 64 bytes, the 256-byte and 4 KiB
/// multiples, 64 KiB, and `MAX_PLAINTEXT_LEN` itself.
fn size_classes() -> Vec<usize> {
    let mut sizes = Vec::new();
    for boundary in [
        16,
        64,
        256,
        512,
        1024,
        4096,
        16_384,
        65_536,
        262_144,
        1 << 20,
    ] {
        sizes.extend([boundary - 1, boundary, boundary + 1]);
    }
    sizes.retain(|&n| n <= sealwire::MAX_PLAINTEXT_LEN);
    sizes
}

#[test]
pub(crate) fn every_size_class_agrees_through_every_encrypt_and_decrypt_api() {
    let mut rng = Recording::new(4242);
    let alice = IdentityKeyPair::from_seed(rng.bytes::<32>());
    let bob = IdentityKeyPair::from_seed(rng.bytes::<32>());
    let spk = SignedPreKey::new(5, rng.bytes::<32>(), &bob);
    let bundle = PreKeyBundle::new(&bob, &spk, None);
    let mut store = InMemoryPreKeyStore::new();
    store.add_signed_prekey(spk);
    let (mut sender, initial) =
        initiate_with_rng(&alice, &bundle, b"start", &mut rng).expect("initiate");
    let (mut receiver, _) =
        respond_with_rng(&bob, &mut store, &initial, &mut rng).expect("respond");
    let mut checked = 0;
    let cases = size_classes()
        .into_iter()
        .flat_map(|len| (0..3).map(move |api| (len, api)));
    for (i, (len, api)) in cases.enumerate() {
        let mut pt = vec![0u8; len];
        rng.inner.fill_bytes(&mut pt);
        let ctx = format!("length {len}, encrypt API {api}, decrypt API {}", i % 2);
        let before = sender.to_bytes().to_vec();
        let message = match api {
            0 => sender.encrypt(&pt).expect("encrypt"),
            1 => {
                let mut out = vec![0u8; len + 57 + 3];
                let n = sender.encrypt_into(&pt, &mut out).expect("encrypt_into");
                out.truncate(n);
                out
            }
            _ => {
                let mut buffer = vec![0u8; len + 57];
                buffer[41..41 + len].copy_from_slice(&pt);
                sender
                    .encrypt_in_place(&mut buffer)
                    .expect("encrypt_in_place");
                buffer
            }
        };
        let after = sender.to_bytes().to_vec();
        let verdict = Checker::check_sent_message(&before, &pt, &message, Some(&after));
        assert!(verdict.agrees(), "{ctx}: sent: {verdict:?}");

        // A tampered copy (last byte of the tag) is rejected by both, and
        // changes neither the session nor, for in-place, the buffer.
        let mut tampered = message.clone();
        *tampered.last_mut().expect("non-empty") ^= 0x80;
        let recv_before = receiver.to_bytes().to_vec();
        let mut buffer = tampered.clone();
        let error = receiver
            .decrypt_in_place_with_rng(&mut buffer, &mut rng)
            .expect_err("tampered");
        assert_eq!(
            buffer, tampered,
            "{ctx}: a rejected in-place decrypt changed the buffer"
        );
        assert_eq!(
            receiver.to_bytes().to_vec(),
            recv_before,
            "{ctx}: state changed"
        );
        let verdict =
            Checker::check_rejected_message(&recv_before, &tampered, class(error.class().as_str()));
        assert!(verdict.agrees(), "{ctx}: rejected: {verdict:?}");

        let plaintext = if i % 2 == 0 {
            receiver
                .decrypt_with_rng(&message, &mut rng)
                .expect("decrypt")
        } else {
            let mut buffer = message.clone();
            receiver
                .decrypt_in_place_with_rng(&mut buffer, &mut rng)
                .expect("decrypt in place")
                .to_vec()
        };
        assert_eq!(plaintext, pt, "{ctx}: plaintext");
        let recv_after = receiver.to_bytes().to_vec();
        let verdict = Checker::check_accepted_message(&recv_before, &message, &pt, &recv_after);
        assert!(verdict.agrees(), "{ctx}: accepted: {verdict:?}");
        checked += 1;
        // Turn the conversation around now and then, so that both the
        // first message of a turn and later ones meet every size.
        if i % 4 == 3 {
            std::mem::swap(&mut sender, &mut receiver);
        }
    }
    assert_eq!(checked, 3 * size_classes().len());
    // One byte over the limit: both refuse to send it.
    let too_long = vec![0u8; sealwire::MAX_PLAINTEXT_LEN + 1];
    let state = sender.to_bytes().to_vec();
    assert!(sender.encrypt(&too_long).is_err());
    let mut model = ModelSession::decode(&state).expect("restore");
    assert_eq!(
        model.encrypt(&too_long).map(|_| ()).map_err(|e| e.class()),
        Err(Some(ErrorClass::RatchetLimit))
    );
}

#[test]
fn non_canonical_identity_encodings_get_the_same_verdict() {
    // Every y >= p (y = p + k, k < 19, either sign bit), and y = 1 and
    // y = p - 1 with the sign bit set (x = 0 with x_0 = 1, RFC 8032
    // §5.1.3 step 4). curve25519-dalek decodes y >= p by reducing it; the
    // model refuses it outright. Both must reject every one: the points
    // that decode are all of small order or have a torsion component.
    let mut p = [0xff_u8; 32];
    p[0] = 0xed;
    p[31] = 0x7f;
    let mut cases = Vec::new();
    for k in 0u8..19 {
        for sign in [0u8, 0x80] {
            let mut bytes = p;
            bytes[0] = 0xed + k;
            bytes[31] |= sign;
            cases.push(bytes);
        }
    }
    let mut one = [0u8; 32];
    one[0] = 1;
    one[31] = 0x80;
    let mut minus_one = p;
    minus_one[0] = 0xec;
    minus_one[31] |= 0x80;
    cases.extend([one, minus_one]);
    for bytes in cases {
        let reference = sealwire::IdentityPublicKey::from_bytes(bytes).map(|_| ());
        let model = validate_identity_key(&bytes).map(|_| ());
        assert!(reference.is_err(), "the reference accepts {bytes:02x?}");
        assert!(model.is_err(), "the model accepts {bytes:02x?}");
    }
}
