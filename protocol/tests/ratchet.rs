//! The Double Ratchet in conversation: turns each way, out-of-order and
//! late delivery across turns, replays.

mod common;

use common::{assert_rejected, open, pair, responder, seeded, snapshot};
use rand_core::Rng;
use sealwire::{
    IdentityKeyPair, InitialMessage, RatchetMessage, Session, initiate_with_rng, respond_with_rng,
};

/// One delivered message: who received it, the bytes and the plaintext.
struct Delivered {
    to_bob: bool,
    bytes: Vec<u8>,
}

fn header_of(msg: &[u8]) -> sealwire::Header {
    RatchetMessage::decode(msg)
        .expect("own message decodes")
        .header
}

/// Several turns each way; checks the plaintexts and the header fields
/// (a new ratchet key every turn, N from 0, PN = previous chain length),
/// then replays every delivered message.
fn conversation(seed: u64, with_opk: bool) {
    let mut rng = seeded(seed);
    let alice_id = IdentityKeyPair::generate_with_rng(&mut rng);
    let mut bob_party = responder(&mut rng, with_opk);
    let store_before = bob_party.store.one_time_prekeys_len();
    let (mut alice, initial) =
        initiate_with_rng(&alice_id, &bob_party.bundle, b"turn 0 from alice", &mut rng)
            .unwrap_or_else(|e| panic!("seed {seed}: {e}"));
    let (mut bob, first) = respond_with_rng(
        &bob_party.identity,
        &mut bob_party.store,
        &initial,
        &mut rng,
    )
    .unwrap_or_else(|e| panic!("seed {seed}: {e}"));
    assert_eq!(first, b"turn 0 from alice", "seed {seed}");
    assert_eq!(
        bob_party.store.one_time_prekeys_len(),
        store_before - usize::from(with_opk),
        "seed {seed}: the used one-time prekey is deleted"
    );
    let first_message = InitialMessage::decode(&initial).expect("decodes").message;
    let mut delivered = vec![Delivered {
        to_bob: true,
        bytes: first_message,
    }];

    let mut sent_in_chain = [1u32, 0u32]; // Alice sent N = 0 already
    let mut previous_len = [0u32, 0u32];
    let mut keys_seen = vec![*alice.ratchet_public_key()];
    for turn in 0..12 {
        let bob_sends = turn % 2 == 0;
        let side = usize::from(bob_sends);
        let count = 1 + (rng.next_u32() % 4) as usize;
        let (sender, receiver) = if bob_sends {
            (&mut bob, &mut alice)
        } else {
            (&mut alice, &mut bob)
        };
        if sent_in_chain[side] == 0 {
            assert!(
                !keys_seen.contains(sender.ratchet_public_key()),
                "seed {seed}, turn {turn}: the ratchet key is new each turn"
            );
            keys_seen.push(*sender.ratchet_public_key());
        }
        for i in 0..count {
            let plaintext = format!("seed {seed} turn {turn} message {i}").into_bytes();
            let msg = sender.encrypt(&plaintext).expect("encrypt");
            assert_eq!(msg.len(), plaintext.len() + sealwire::OVERHEAD);
            let h = header_of(&msg);
            let ctx = format!("seed {seed}, turn {turn}, message {i}");
            assert_eq!(h.message_number, sent_in_chain[side], "{ctx}: N");
            assert_eq!(h.previous_chain_len, previous_len[side], "{ctx}: PN");
            assert_eq!(&h.ratchet_key, sender.ratchet_public_key(), "{ctx}: DHs");
            sent_in_chain[side] += 1;
            assert_eq!(open(receiver, &msg, &mut rng, &ctx), plaintext, "{ctx}");
            delivered.push(Delivered {
                to_bob: !bob_sends,
                bytes: msg,
            });
        }
        // The receiver will answer from a fresh chain.
        let other = 1 - side;
        previous_len[other] = sent_in_chain[other];
        sent_in_chain[other] = 0;
    }
    assert_eq!(alice.skipped_keys_len(), 0, "seed {seed}");
    assert_eq!(bob.skipped_keys_len(), 0, "seed {seed}");

    for (i, d) in delivered.iter().enumerate() {
        let ctx = format!("seed {seed}: replay of delivered message {i}");
        let session = if d.to_bob { &mut bob } else { &mut alice };
        assert_rejected(session, &d.bytes, &mut rng, "duplicate", &ctx);
    }
    // The sessions still work after all the replays.
    let last = alice.encrypt(b"after the replays").expect("encrypt");
    assert_eq!(
        open(&mut bob, &last, &mut rng, "final"),
        b"after the replays"
    );
}

#[test]
fn conversation_with_one_time_prekey_ratchets_each_turn_and_rejects_every_replay() {
    for seed in [1, 2, 3] {
        conversation(seed, true);
    }
}

#[test]
fn conversation_without_one_time_prekey_ratchets_each_turn_and_rejects_every_replay() {
    for seed in [11, 12, 13] {
        conversation(seed, false);
    }
}

#[test]
fn replayed_initial_message_is_rejected_once_its_one_time_prekey_is_used() {
    let seed = 21;
    let mut rng = seeded(seed);
    let alice_id = IdentityKeyPair::generate_with_rng(&mut rng);
    let mut bob = responder(&mut rng, true);
    let (_, initial) = initiate_with_rng(&alice_id, &bob.bundle, b"hello", &mut rng).unwrap();
    respond_with_rng(&bob.identity, &mut bob.store, &initial, &mut rng).unwrap();
    let err = respond_with_rng(&bob.identity, &mut bob.store, &initial, &mut rng).unwrap_err();
    assert_eq!(
        err,
        sealwire::Error::Handshake(sealwire::HandshakeError::UnknownOneTimePreKey(100)),
        "seed {seed}"
    );
}

#[test]
fn out_of_order_and_late_delivery_across_turns_decrypts_each_message_once() {
    let seed = 31;
    let mut p = pair(seed, true);
    let rng = &mut p.rng;
    // Alice's first chain: a1..a4 (a0 was the initial message).
    let a1: Vec<_> = (1..5)
        .map(|i| p.alice.encrypt(format!("a1-{i}").as_bytes()).unwrap())
        .collect();
    open(&mut p.bob, &a1[2], rng, "a1-3 first"); // skips a1-1, a1-2
    assert_eq!(p.bob.skipped_keys_len(), 2, "seed {seed}");
    // Bob's first chain: b0..b2; Alice gets only b2.
    let b1: Vec<_> = (0..3)
        .map(|i| p.bob.encrypt(format!("b1-{i}").as_bytes()).unwrap())
        .collect();
    open(&mut p.alice, &b1[2], rng, "b1-2");
    // Alice's second chain: PN = 5; Bob gets c2 before a1-4 and c0, c1.
    let c: Vec<_> = (0..3)
        .map(|i| p.alice.encrypt(format!("a2-{i}").as_bytes()).unwrap())
        .collect();
    assert_eq!(header_of(&c[0]).previous_chain_len, 5, "seed {seed}");
    assert_eq!(open(&mut p.bob, &c[2], rng, "a2-2"), b"a2-2");
    // a1-4 (N = 4) was stored at the ratchet step (PN = 5), and c0, c1 too.
    assert_eq!(p.bob.skipped_keys_len(), 2 + 1 + 2, "seed {seed}");
    // Bob's second chain, answered before the late messages arrive.
    let d = p.bob.encrypt(b"b2-0").unwrap();
    for (msg, text) in [
        (&a1[3], "a1-4"),
        (&c[0], "a2-0"),
        (&a1[0], "a1-1"),
        (&c[1], "a2-1"),
        (&a1[1], "a1-2"),
    ] {
        let ctx = format!("seed {seed}: late {text}");
        assert_eq!(open(&mut p.bob, msg, rng, &ctx), text.as_bytes(), "{ctx}");
    }
    assert_eq!(p.bob.skipped_keys_len(), 0, "seed {seed}");
    // Alice gets Bob's second chain before the rest of his first.
    assert_eq!(open(&mut p.alice, &d, rng, "b2-0"), b"b2-0");
    assert_eq!(open(&mut p.alice, &b1[0], rng, "b1-0"), b"b1-0");
    assert_eq!(open(&mut p.alice, &b1[1], rng, "b1-1"), b"b1-1");
    assert_eq!(p.alice.skipped_keys_len(), 0, "seed {seed}");
    // Every late message is now a duplicate, and nothing changes.
    for msg in a1.iter().chain(&c) {
        assert_rejected(&mut p.bob, msg, rng, "duplicate", &format!("seed {seed}"));
    }
    for msg in b1.iter().chain([&d]) {
        assert_rejected(&mut p.alice, msg, rng, "duplicate", &format!("seed {seed}"));
    }
}

/// A random schedule of sends and deliveries (each party delivers pending
/// messages in random order); everything must decrypt exactly once.
#[test]
fn random_interleaving_of_sends_and_deliveries_decrypts_everything_exactly_once() {
    for seed in 40..46u64 {
        let mut p = pair(seed, seed % 2 == 0);
        let mut to_bob: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
        let mut to_alice: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
        let mut delivered = 0usize;
        for step in 0..400 {
            let action = p.rng.next_u32() % 4;
            let ctx = format!("seed {seed}, step {step}");
            match action {
                0 | 1 => {
                    let pt = ctx.clone().into_bytes();
                    let (s, queue) = if action == 0 {
                        (&mut p.alice, &mut to_bob)
                    } else {
                        (&mut p.bob, &mut to_alice)
                    };
                    queue.push((s.encrypt(&pt).unwrap(), pt));
                }
                _ => {
                    let (s, queue) = if action == 2 {
                        (&mut p.bob, &mut to_bob)
                    } else {
                        (&mut p.alice, &mut to_alice)
                    };
                    if !queue.is_empty() {
                        let i = p.rng.next_u32() as usize % queue.len();
                        let (msg, pt) = queue.swap_remove(i);
                        assert_eq!(open(s, &msg, &mut p.rng, &ctx), pt, "{ctx}");
                        delivered += 1;
                    }
                }
            }
        }
        for (s, queue) in [(&mut p.bob, &mut to_bob), (&mut p.alice, &mut to_alice)] {
            while let Some((msg, pt)) = queue.pop() {
                let ctx = format!("seed {seed}, draining");
                assert_eq!(open(s, &msg, &mut p.rng, &ctx), pt, "{ctx}");
                delivered += 1;
            }
        }
        assert!(delivered > 100, "seed {seed}: only {delivered} delivered");
        assert_eq!(p.alice.skipped_keys_len(), 0, "seed {seed}: keys left");
        assert_eq!(p.bob.skipped_keys_len(), 0, "seed {seed}: keys left");
    }
}

#[test]
fn both_sides_agree_on_associated_data_initiator_first() {
    let p = pair(51, true);
    assert_eq!(
        p.alice.associated_data(),
        p.bob.associated_data(),
        "seed 51"
    );
    let restored = Session::from_bytes(&snapshot(&p.alice)).unwrap();
    assert_eq!(restored.associated_data(), p.alice.associated_data());
}

/// SPEC §6.5: the last 16 replaced receiving ratchet keys are remembered; a
/// replay from an older chain falls through to a ratchet step and fails
/// authentication. Either way it is rejected and nothing changes.
#[test]
fn replays_from_remembered_chains_are_duplicates_and_older_ones_still_fail() {
    let seed = 61;
    let mut p = pair(seed, true);
    let mut alice_chains = Vec::new(); // one message of each of Alice's chains A2..
    for turn in 0..17 {
        let ctx = format!("seed {seed}, turn {turn}");
        let b = p.bob.encrypt(ctx.as_bytes()).unwrap();
        open(&mut p.alice, &b, &mut p.rng, &ctx);
        let a = p.alice.encrypt(ctx.as_bytes()).unwrap();
        open(&mut p.bob, &a, &mut p.rng, &ctx);
        alice_chains.push(a);
    }
    // Bob has replaced A1 (the initial chain) and A2..A17: 17 keys, so the
    // oldest remembered one is A2 (alice_chains[0]); A1 is forgotten.
    let first_of_a2 = &alice_chains[0];
    let ctx = format!("seed {seed}: replay from the oldest remembered chain");
    assert_rejected(&mut p.bob, first_of_a2, &mut p.rng, "duplicate", &ctx);
    // One more turn: Bob retires A18, and A2 drops out of the list.
    let b = p.bob.encrypt(b"one more turn").unwrap();
    open(&mut p.alice, &b, &mut p.rng, "one more turn");
    let a = p.alice.encrypt(b"one more turn").unwrap();
    open(&mut p.bob, &a, &mut p.rng, "one more turn");
    let ctx = format!("seed {seed}: replay from a forgotten chain");
    assert_rejected(
        &mut p.bob,
        first_of_a2,
        &mut p.rng,
        "decryption_failed",
        &ctx,
    );
    let ctx = format!("seed {seed}: replay from the now oldest remembered chain");
    assert_rejected(&mut p.bob, &alice_chains[1], &mut p.rng, "duplicate", &ctx);
    let last = p.alice.encrypt(b"still fine").unwrap();
    assert_eq!(open(&mut p.bob, &last, &mut p.rng, &ctx), b"still fine");
}

#[test]
fn buffer_apis_produce_the_same_messages_as_encrypt_and_decrypt() {
    let seed = 71;
    let mut p = pair(seed, true);
    let plaintext = b"the same message three ways";
    let mut fork1 = Session::from_bytes(&snapshot(&p.alice)).unwrap();
    let mut fork2 = Session::from_bytes(&snapshot(&p.alice)).unwrap();
    let reference = p.alice.encrypt(plaintext).unwrap();
    let mut out = vec![0u8; plaintext.len() + sealwire::OVERHEAD + 5];
    let len = fork1.encrypt_into(plaintext, &mut out).unwrap();
    assert_eq!(&out[..len], &reference[..], "seed {seed}: encrypt_into");
    let mut in_place = vec![0u8; plaintext.len() + sealwire::OVERHEAD];
    in_place[sealwire::HEADER_LEN..sealwire::HEADER_LEN + plaintext.len()]
        .copy_from_slice(plaintext);
    fork2.encrypt_in_place(&mut in_place).unwrap();
    assert_eq!(in_place, reference, "seed {seed}: encrypt_in_place");
    assert!(snapshot(&fork1) == snapshot(&p.alice), "seed {seed}");
    assert!(snapshot(&fork2) == snapshot(&p.alice), "seed {seed}");

    let mut buf = reference.clone();
    let pt = p
        .bob
        .decrypt_in_place_with_rng(&mut buf, &mut p.rng)
        .unwrap();
    assert_eq!(pt, plaintext, "seed {seed}: decrypt_in_place");
}

/// The initiator's first receiving ratchet key is Bob's signed prekey, which
/// never had a receiving chain. When Bob's first reply replaces it, it is
/// not remembered as an earlier chain (SPEC 6.5): a forged message under it
/// is an ordinary failed ratchet step (`decryption_failed`), not a
/// `duplicate`. `Session::decrypt` (operating-system randomness) opens the
/// reply as `decrypt_with_rng` would.
#[test]
fn the_signed_prekey_is_not_remembered_as_an_earlier_chain() {
    use sealwire::PreKeyStore as _;
    let seed = 81;
    let mut p = pair(seed, false);
    let reply = p.bob.encrypt(b"reply").unwrap();
    assert_eq!(p.alice.decrypt(&reply).unwrap(), b"reply", "seed {seed}");
    let spk = *p.bob_store.signed_prekey(7).unwrap().public();
    let mut forged = p.bob.encrypt(b"forged").unwrap();
    forged[1..33].copy_from_slice(spk.as_bytes());
    forged[33..41].fill(0);
    let ctx = format!("seed {seed}: message under the signed prekey");
    assert_rejected(&mut p.alice, &forged, &mut p.rng, "decryption_failed", &ctx);
}

/// `Debug` of a session names what is present and what is not, without
/// secrets: the initiator has a receiving ratchet key (Bob's signed prekey)
/// but no receiving chain until Bob replies.
#[test]
fn session_debug_shows_which_optional_fields_are_present() {
    use sealwire::PreKeyStore as _;
    let seed = 82;
    let mut p = pair(seed, false);
    let spk = *p.bob_store.signed_prekey(7).unwrap().public();
    let before = format!("{:?}", p.alice);
    let hex: String = spk.as_bytes().iter().map(|b| format!("{b:02x}")).collect();
    assert!(
        before.contains(&format!("ratchet_key: Some(PublicKey({hex}))")),
        "{before}"
    );
    assert!(before.contains("chain: None"), "{before}");
    let reply = p.bob.encrypt(b"reply").unwrap();
    open(&mut p.alice, &reply, &mut p.rng, "reply");
    let after = format!("{:?}", p.alice);
    assert!(!after.contains("chain: None"), "{after}");
    assert!(after.contains("chain: Some("), "{after}");
}
