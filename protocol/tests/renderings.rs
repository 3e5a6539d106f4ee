//! Renderings that cannot depend on secrets: for every type that holds a
//! secret, its `Debug` (`{:?}` and `{:#?}`), and the `Display` and `Debug`
//! of every error an operation on secrets returns, are identical for two
//! different secrets of the same shape. A differential check, not a window
//! scan: a two-byte "fingerprint" of a key differs between the two values
//! and fails it as surely as a whole key.
//!
//! Public values that a rendering may show (public keys, signatures, the
//! associated data, ids and counters) differ with the secrets they come
//! from; the test knows each of them and masks exactly those renderings
//! before comparing, so nothing else can hide behind the mask. The crate
//! writes no log lines (it has no logging dependency), so `Debug`,
//! `Display` and the errors are all its renderings.

use rand_chacha::ChaCha20Rng;
use rand_core::{Rng, SeedableRng};
use sealwire::hazmat::{ChainKey, KeyPair, MessageKey, RootKey, SharedKey};
use sealwire::{
    IdentityKeyPair, InMemoryPreKeyStore, OneTimePreKey, PreKeyBundle, PreKeyStore, Session,
    SignedPreKey, StorageKey, initiate_with_rng, respond_with_rng,
};

// The raw symmetric key constructors. If they move (to `sealwire::hazmat`),
// only these lines change.
fn root_key(bytes: [u8; 32]) -> RootKey {
    RootKey::from_bytes(bytes)
}
fn chain_key(bytes: [u8; 32]) -> ChainKey {
    ChainKey::from_bytes(bytes)
}
fn message_key(bytes: [u8; 32]) -> MessageKey {
    MessageKey::from_bytes(bytes)
}
fn shared_key(bytes: [u8; 32]) -> SharedKey {
    SharedKey::from_bytes(bytes)
}

/// The forms a public byte string can take in a rendering, with all
/// whitespace removed: lower- and upper-case hex, and the element list of
/// a byte array's `Debug` (decimal, as `[u8; N]` prints).
fn forms(public: &[u8]) -> Vec<String> {
    let lower: String = public.iter().map(|b| format!("{b:02x}")).collect();
    let decimal: Vec<String> = public.iter().map(|b| b.to_string()).collect();
    vec![lower.to_uppercase(), lower, decimal.join(",")]
}

/// The rendering with whitespace removed and every known public value
/// replaced by `<public>`, plus how much whitespace there was (so that not
/// even the layout can carry a secret past the comparison).
fn masked(text: &str, publics: &[Vec<u8>]) -> (String, usize) {
    let whitespace = text.chars().filter(|c| c.is_whitespace()).count();
    let mut text: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    // Longest first, so that a 64-byte AD is masked before its halves.
    let mut all: Vec<String> = publics.iter().flat_map(|p| forms(p)).collect();
    all.sort_by_key(|f| std::cmp::Reverse(f.len()));
    for form in all {
        if !form.is_empty() {
            text = text.replace(&form, "<public>");
        }
    }
    (text, whitespace)
}

/// `{:?}` and `{:#?}` of `a` and `b` agree once their own public values
/// are masked; also checks that the masking leaves something to compare.
fn assert_same_debug<T: core::fmt::Debug>(
    what: &str,
    a: &T,
    a_publics: &[Vec<u8>],
    b: &T,
    b_publics: &[Vec<u8>],
) {
    for pretty in [false, true] {
        let render = |v: &T| {
            if pretty {
                format!("{v:#?}")
            } else {
                format!("{v:?}")
            }
        };
        let (ra, rb) = (render(a), render(b));
        let (ma, mb) = (masked(&ra, a_publics), masked(&rb, b_publics));
        assert_eq!(
            ma, mb,
            "{what}: Debug depends on the secret (pretty: {pretty})\n  a: {ra}\n  b: {rb}"
        );
        assert!(!ma.0.is_empty(), "{what}: nothing rendered");
    }
}

fn assert_same_error_text(what: &str, a: &sealwire::Error, b: &sealwire::Error) {
    assert_eq!(a.to_string(), b.to_string(), "{what}: Display");
    assert_eq!(format!("{a:?}"), format!("{b:?}"), "{what}: Debug");
    assert_eq!(format!("{a:#?}"), format!("{b:#?}"), "{what}: pretty Debug");
}

/// Two different 32-byte secrets, neither trivial.
fn two_secrets(rng: &mut ChaCha20Rng) -> ([u8; 32], [u8; 32]) {
    let mut a = [0u8; 32];
    let mut b = [0u8; 32];
    rng.fill_bytes(&mut a);
    rng.fill_bytes(&mut b);
    assert_ne!(a, b);
    (a, b)
}

#[test]
fn symmetric_keys_render_the_same_for_every_secret() {
    let mut rng = ChaCha20Rng::seed_from_u64(1);
    for _ in 0..16 {
        let (a, b) = two_secrets(&mut rng);
        assert_same_debug("RootKey", &root_key(a), &[], &root_key(b), &[]);
        assert_same_debug("ChainKey", &chain_key(a), &[], &chain_key(b), &[]);
        assert_same_debug("MessageKey", &message_key(a), &[], &message_key(b), &[]);
        assert_same_debug("SharedKey", &shared_key(a), &[], &shared_key(b), &[]);
        assert_same_debug(
            "StorageKey",
            &StorageKey::from_bytes(a),
            &[],
            &StorageKey::from_bytes(b),
            &[],
        );
    }
    // Extreme shapes too: all zero against all ones.
    assert_same_debug(
        "RootKey",
        &root_key([0; 32]),
        &[],
        &root_key([0xff; 32]),
        &[],
    );
}

#[test]
fn key_pairs_identities_and_prekeys_render_the_same_for_every_secret() {
    let mut rng = ChaCha20Rng::seed_from_u64(2);
    for _ in 0..16 {
        let (a, b) = two_secrets(&mut rng);
        let (ka, kb) = (KeyPair::from_secret_bytes(a), KeyPair::from_secret_bytes(b));
        let pub_of = |k: &KeyPair| vec![k.public().as_bytes().to_vec()];
        assert_same_debug("KeyPair", &ka, &pub_of(&ka), &kb, &pub_of(&kb));

        let (ia, ib) = (IdentityKeyPair::from_seed(a), IdentityKeyPair::from_seed(b));
        let id_pub = |i: &IdentityKeyPair| vec![i.public().as_bytes().to_vec()];
        assert_same_debug("IdentityKeyPair", &ia, &id_pub(&ia), &ib, &id_pub(&ib));
        assert_same_debug(
            "IdentityPublicKey",
            ia.public(),
            &id_pub(&ia),
            ib.public(),
            &id_pub(&ib),
        );

        let (sa, sb) = (SignedPreKey::new(7, a, &ia), SignedPreKey::new(7, b, &ib));
        let spk_pub =
            |s: &SignedPreKey| vec![s.public().as_bytes().to_vec(), s.signature().to_vec()];
        assert_same_debug("SignedPreKey", &sa, &spk_pub(&sa), &sb, &spk_pub(&sb));

        let (oa, ob) = (OneTimePreKey::new(9, a), OneTimePreKey::new(9, b));
        let opk_pub = |o: &OneTimePreKey| vec![o.public().as_bytes().to_vec()];
        assert_same_debug("OneTimePreKey", &oa, &opk_pub(&oa), &ob, &opk_pub(&ob));
    }
}

/// A prekey store of a fixed shape (2 signed, 3 one-time prekeys) from
/// `seed`, with every public value it holds.
fn store(seed: u64) -> (InMemoryPreKeyStore, Vec<Vec<u8>>) {
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    let identity = IdentityKeyPair::generate_with_rng(&mut rng);
    let mut store = InMemoryPreKeyStore::new();
    let mut publics = Vec::new();
    for id in [1, 2] {
        let spk = SignedPreKey::generate_with_rng(id, &identity, &mut rng);
        publics.push(spk.public().as_bytes().to_vec());
        publics.push(spk.signature().to_vec());
        store.add_signed_prekey(spk);
    }
    for id in [10, 11, 12] {
        let opk = OneTimePreKey::generate_with_rng(id, &mut rng);
        publics.push(opk.public().as_bytes().to_vec());
        store.add_one_time_prekey(opk);
    }
    (store, publics)
}

#[test]
fn prekey_stores_render_the_same_for_every_secret() {
    for seed in 0..8 {
        let (a, pa) = store(100 + seed);
        let (b, pb) = store(200 + seed);
        assert_same_debug("InMemoryPreKeyStore", &a, &pa, &b, &pb);
        // Removing the same id from both keeps them alike.
        let (mut a, mut b) = (a, b);
        a.remove_one_time_prekey(11);
        b.remove_one_time_prekey(11);
        assert_same_debug("InMemoryPreKeyStore after removal", &a, &pa, &b, &pb);
    }
}

/// Every public value in a §9.1 state: the AD and its two identity keys,
/// DHs's public key (given), DHr, the earlier ratchet keys, and the ratchet
/// key of every skipped entry.
fn state_publics(session: &Session) -> Vec<Vec<u8>> {
    let state = session.to_bytes();
    let mut publics = vec![
        state[1..65].to_vec(),
        state[1..33].to_vec(),
        state[33..65].to_vec(),
        session.ratchet_public_key().as_bytes().to_vec(),
    ];
    let mut at = 169;
    if state[at] == 1 {
        publics.push(state[at + 1..at + 33].to_vec());
        at += 32;
    }
    at += 1;
    if state[at] == 1 {
        at += 32;
    }
    at += 1 + 4;
    let previous = usize::from(state[at]);
    at += 1;
    for _ in 0..previous {
        publics.push(state[at..at + 32].to_vec());
        at += 32;
    }
    let skipped = usize::from(u16::from_be_bytes([state[at], state[at + 1]]));
    at += 2;
    for _ in 0..skipped {
        publics.push(state[at..at + 32].to_vec());
        at += 68;
    }
    assert_eq!(at, state.len(), "state walked to its end");
    publics
}

/// Both sessions of one conversation with a fixed schedule (so a fixed
/// shape: counters, earlier keys, skipped keys), keys from `seed`.
fn conversation(seed: u64) -> (Session, Session) {
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    let alice = IdentityKeyPair::generate_with_rng(&mut rng);
    let bob = IdentityKeyPair::generate_with_rng(&mut rng);
    let spk = SignedPreKey::generate_with_rng(1, &bob, &mut rng);
    let opk = OneTimePreKey::generate_with_rng(2, &mut rng);
    let bundle = PreKeyBundle::new(&bob, &spk, Some(&opk));
    let mut store = InMemoryPreKeyStore::new();
    store.add_signed_prekey(spk);
    store.add_one_time_prekey(opk);
    let (mut a, initial) =
        initiate_with_rng(&alice, &bundle, b"hello", &mut rng).expect("initiate");
    let (mut b, _) = respond_with_rng(&bob, &mut store, &initial, &mut rng).expect("respond");
    // Three turns, each skipping the first message of the turn.
    for turn in 0..3 {
        let (from, to) = if turn % 2 == 0 {
            (&mut b, &mut a)
        } else {
            (&mut a, &mut b)
        };
        let skipped = from.encrypt(b"skipped").expect("encrypt");
        let delivered = from.encrypt(b"delivered").expect("encrypt");
        to.decrypt_with_rng(&delivered, &mut rng).expect("decrypt");
        drop(skipped);
    }
    (a, b)
}

#[test]
fn sessions_render_the_same_for_every_secret() {
    for seed in 0..4 {
        let (a1, b1) = conversation(300 + seed);
        let (a2, b2) = conversation(400 + seed);
        for (what, x, y) in [("initiator", &a1, &a2), ("responder", &b1, &b2)] {
            assert_eq!(
                x.skipped_keys_len(),
                y.skipped_keys_len(),
                "same shape by construction"
            );
            assert!(x.skipped_keys_len() > 0, "the shape has skipped keys");
            assert_same_debug(
                &format!("Session ({what})"),
                x,
                &state_publics(x),
                y,
                &state_publics(y),
            );
        }
    }
}

#[test]
fn errors_from_operations_on_secrets_render_the_same() {
    let (mut a, _) = conversation(500);
    let (mut b, _) = conversation(600);
    let mut rng = ChaCha20Rng::seed_from_u64(3);
    // A message from a stranger: authentication fails in both.
    let (mut stranger, _) = conversation(700);
    let foreign = stranger.encrypt(b"not for you").expect("encrypt");
    let ea = a
        .decrypt_with_rng(&foreign, &mut rng)
        .expect_err("rejected");
    let eb = b
        .decrypt_with_rng(&foreign, &mut rng)
        .expect_err("rejected");
    assert_same_error_text("decrypt of a foreign message", &ea, &eb);
    // Each session's own next message, tampered in the same byte.
    let (mut pa, mut qa) = conversation(800);
    let (mut pb, mut qb) = conversation(900);
    let mut ma = pa.encrypt(b"message").expect("encrypt");
    let mut mb = pb.encrypt(b"message").expect("encrypt");
    ma[50] ^= 1;
    mb[50] ^= 1;
    let ea = qa.decrypt_with_rng(&ma, &mut rng).expect_err("tampered");
    let eb = qb.decrypt_with_rng(&mb, &mut rng).expect_err("tampered");
    assert_same_error_text("decrypt of a tampered message", &ea, &eb);
    // Sealed states opened under the wrong storage key.
    let (ka, kb) = two_secrets(&mut rng);
    let sa = a.seal_state_with_rng(&StorageKey::from_bytes(ka), &mut rng);
    let sb = b.seal_state_with_rng(&StorageKey::from_bytes(kb), &mut rng);
    let ea = Session::open_state(&StorageKey::from_bytes(kb), &sa).expect_err("wrong key");
    let eb = Session::open_state(&StorageKey::from_bytes(ka), &sb).expect_err("wrong key");
    assert_same_error_text("open_state under a wrong key", &ea, &eb);
    // A sealed state with a flipped byte in its body.
    let (mut ta, mut tb) = (sa.clone(), sb.clone());
    ta[60] ^= 4;
    tb[60] ^= 4;
    let ea = Session::open_state(&StorageKey::from_bytes(ka), &ta).expect_err("tampered");
    let eb = Session::open_state(&StorageKey::from_bytes(kb), &tb).expect_err("tampered");
    assert_same_error_text("open_state of a tampered state", &ea, &eb);
    // A bundle whose signature is by another identity.
    let mut bundles = Vec::new();
    for seed in [10, 11] {
        let mut rng = ChaCha20Rng::seed_from_u64(seed);
        let owner = IdentityKeyPair::generate_with_rng(&mut rng);
        let signer = IdentityKeyPair::generate_with_rng(&mut rng);
        let spk = SignedPreKey::generate_with_rng(1, &signer, &mut rng);
        let bundle = PreKeyBundle::from_parts(
            *owner.public().as_bytes(),
            1,
            *spk.public(),
            *spk.signature(),
            None,
        );
        bundles.push(bundle.verify().expect_err("bad signature"));
    }
    assert_same_error_text("bundle with a foreign signature", &bundles[0], &bundles[1]);
    // A respond that fails to authenticate consumes nothing, says the same.
    let mut errors = Vec::new();
    for seed in [20, 21] {
        let mut rng = ChaCha20Rng::seed_from_u64(seed);
        let alice = IdentityKeyPair::generate_with_rng(&mut rng);
        let bob = IdentityKeyPair::generate_with_rng(&mut rng);
        let spk = SignedPreKey::generate_with_rng(1, &bob, &mut rng);
        let bundle = PreKeyBundle::new(&bob, &spk, None);
        let mut store = InMemoryPreKeyStore::new();
        store.add_signed_prekey(spk);
        let (_, mut initial) =
            initiate_with_rng(&alice, &bundle, b"hi", &mut rng).expect("initiate");
        let last = initial.len() - 1;
        initial[last] ^= 1;
        errors.push(respond_with_rng(&bob, &mut store, &initial, &mut rng).expect_err("tampered"));
    }
    assert_same_error_text(
        "respond to a tampered initial message",
        &errors[0],
        &errors[1],
    );
}

#[test]
fn the_comparison_notices_a_fingerprint() {
    // The check must fail on a rendering that shows even two bytes of a
    // secret: a stand-in type that does exactly that.
    struct Fingerprinted([u8; 32]);
    impl core::fmt::Debug for Fingerprinted {
        fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
            write!(f, "Key(<redacted> {:02x}{:02x})", self.0[0], self.0[1])
        }
    }
    let outcome = std::panic::catch_unwind(|| {
        assert_same_debug(
            "fingerprint",
            &Fingerprinted([1; 32]),
            &[],
            &Fingerprinted([2; 32]),
            &[],
        );
    });
    assert!(outcome.is_err(), "a two-byte fingerprint went unnoticed");
    // And masking hides only the public values it is given.
    let public = vec![0xab_u8; 32];
    let (text, _) = masked(&format!("PublicKey({}) 3", "ab".repeat(32)), &[public]);
    assert_eq!(text, "PublicKey(<public>)3");
}
