//! The bounds of the receive algorithm: MAX_SKIP = 1000 per chain (inside a
//! chain via N, at a ratchet step via PN), the 2000-key store with
//! oldest-first eviction, and counter exhaustion.

mod common;

use common::{assert_rejected, open, pair, snapshot};
use sealwire::{Error, LimitError, MAX_SKIP, MAX_SKIPPED_KEYS, RatchetMessage, Session};

fn send_many(session: &mut Session, label: &str, count: u32) -> Vec<Vec<u8>> {
    (0..count)
        .map(|i| session.encrypt(format!("{label}-{i}").as_bytes()).unwrap())
        .collect()
}

fn too_many(requested: u64) -> Error {
    Error::RatchetLimit(LimitError::TooManySkipped { requested })
}

#[test]
fn skipping_exactly_max_skip_inside_a_chain_is_accepted_and_one_more_rejected() {
    let seed = 101;
    let mut p = pair(seed, true);
    // Bob has N = 0 of Alice's chain; a1[k] has N = k + 1.
    let a1 = send_many(&mut p.alice, "a1", MAX_SKIP + 2);
    let over = &a1[MAX_SKIP as usize + 1]; // N = 1002: skips N = 1..=1001
    let ctx = format!("seed {seed}: 1001 skipped inside a chain");
    let err = assert_rejected(&mut p.bob, over, &mut p.rng, "ratchet_limit", &ctx);
    assert_eq!(err, too_many(1001), "{ctx}");
    assert_eq!(p.bob.skipped_keys_len(), 0, "{ctx}");

    let exact = &a1[MAX_SKIP as usize]; // N = 1001: skips N = 1..=1000
    let ctx = format!("seed {seed}: 1000 skipped inside a chain");
    assert_eq!(open(&mut p.bob, exact, &mut p.rng, &ctx), b"a1-1000");
    assert_eq!(p.bob.skipped_keys_len(), MAX_SKIP as usize, "{ctx}");
    // The message rejected earlier is now the next one in the chain.
    assert_eq!(open(&mut p.bob, over, &mut p.rng, &ctx), b"a1-1001");
    // Every skipped key works, once.
    for (i, msg) in a1[..MAX_SKIP as usize].iter().enumerate().rev() {
        assert_eq!(
            open(&mut p.bob, msg, &mut p.rng, &ctx),
            format!("a1-{i}").as_bytes()
        );
        assert_rejected(&mut p.bob, msg, &mut p.rng, "duplicate", &ctx);
    }
    assert_eq!(p.bob.skipped_keys_len(), 0, "{ctx}");
}

#[test]
fn skipping_exactly_max_skip_at_a_ratchet_step_via_pn_is_accepted_and_one_more_rejected() {
    let seed = 102;
    let mut p = pair(seed, false);
    let reply = p.bob.encrypt(b"reply").unwrap();
    // Alice's first chain grows to 1001 messages (N = 0 .. 1000); Bob has N = 0.
    let a1 = send_many(&mut p.alice, "a1", MAX_SKIP);
    let fork = snapshot(&p.alice);

    // Fork with one message more: its next turn carries PN = 1002.
    let mut longer = Session::from_bytes(&fork).unwrap();
    longer.encrypt(b"never delivered").unwrap();
    open(&mut longer, &reply, &mut p.rng, "fork");
    let pn_over = longer.encrypt(b"over").unwrap();
    let h = RatchetMessage::decode(&pn_over).unwrap().header;
    assert_eq!((h.previous_chain_len, h.message_number), (1002, 0));
    let ctx = format!("seed {seed}: PN needs 1001 skipped");
    let err = assert_rejected(&mut p.bob, &pn_over, &mut p.rng, "ratchet_limit", &ctx);
    assert_eq!(err, too_many(1001), "{ctx}");

    // The real Alice: PN = 1001, and her new chain's N = 1001 / 1000.
    open(&mut p.alice, &reply, &mut p.rng, "alice gets the reply");
    let a2 = send_many(&mut p.alice, "a2", MAX_SKIP + 2);
    let h = RatchetMessage::decode(&a2[0]).unwrap().header;
    assert_eq!(h.previous_chain_len, MAX_SKIP + 1, "seed {seed}");
    let ctx = format!("seed {seed}: PN skips 1000, N skips 1001");
    let err = assert_rejected(&mut p.bob, &a2[1001], &mut p.rng, "ratchet_limit", &ctx);
    assert_eq!(err, too_many(1001), "{ctx}");

    // 1000 skipped in the old chain and 1000 in the new one: both accepted.
    let ctx = format!("seed {seed}: PN skips 1000, N skips 1000");
    assert_eq!(open(&mut p.bob, &a2[1000], &mut p.rng, &ctx), b"a2-1000");
    assert_eq!(p.bob.skipped_keys_len(), MAX_SKIPPED_KEYS, "{ctx}");
    assert_eq!(open(&mut p.bob, &a1[0], &mut p.rng, &ctx), b"a1-0");
    assert_eq!(open(&mut p.bob, &a1[999], &mut p.rng, &ctx), b"a1-999");
    assert_eq!(open(&mut p.bob, &a2[0], &mut p.rng, &ctx), b"a2-0");
    assert_eq!(open(&mut p.bob, &a2[1001], &mut p.rng, &ctx), b"a2-1001");
}

#[test]
fn full_skipped_key_store_evicts_oldest_first_and_never_exceeds_its_cap() {
    let seed = 103;
    let mut p = pair(seed, true);
    let check_cap = |s: &Session, ctx: &str| {
        assert!(
            s.skipped_keys_len() <= MAX_SKIPPED_KEYS,
            "seed {seed}: {ctx}"
        );
    };
    // Chain A1: N = 1..=1000 skipped (stored oldest), N = 1001 delivered.
    let a1 = send_many(&mut p.alice, "a1", MAX_SKIP + 1);
    open(&mut p.bob, &a1[1000], &mut p.rng, "a1-1000");
    assert_eq!(p.bob.skipped_keys_len(), 1000, "seed {seed}");
    let b = p.bob.encrypt(b"b1").unwrap();
    open(&mut p.alice, &b, &mut p.rng, "b1");
    // Chain A2: N = 0..=999 skipped, N = 1000 delivered: the store is full.
    let a2 = send_many(&mut p.alice, "a2", MAX_SKIP + 1);
    open(&mut p.bob, &a2[1000], &mut p.rng, "a2-1000");
    assert_eq!(p.bob.skipped_keys_len(), MAX_SKIPPED_KEYS, "seed {seed}");
    // A full store is a valid state: it round-trips exactly.
    let full = snapshot(&p.bob);
    let restored = Session::from_bytes(&full).unwrap();
    assert!(
        snapshot(&restored) == full,
        "seed {seed}: full store round trip"
    );
    let b = p.bob.encrypt(b"b2").unwrap();
    open(&mut p.alice, &b, &mut p.rng, "b2");
    // Chain A3: N = 0..=4 skipped: the five oldest keys (A1, N = 1..=5) go.
    let a3 = send_many(&mut p.alice, "a3", 6);
    open(&mut p.bob, &a3[5], &mut p.rng, "a3-5");
    check_cap(&p.bob, "after a3-5");
    assert_eq!(p.bob.skipped_keys_len(), MAX_SKIPPED_KEYS, "seed {seed}");

    for (i, msg) in a1[..5].iter().enumerate() {
        let ctx = format!("seed {seed}: evicted key of a1-{i}");
        assert_rejected(&mut p.bob, msg, &mut p.rng, "duplicate", &ctx);
    }
    // The oldest surviving key and the newest ones still work.
    for (msg, text) in [(&a1[5], "a1-5"), (&a2[0], "a2-0"), (&a3[4], "a3-4")] {
        let ctx = format!("seed {seed}: {text} survives eviction");
        assert_eq!(open(&mut p.bob, msg, &mut p.rng, &ctx), text.as_bytes());
        check_cap(&p.bob, &ctx);
    }
    assert_eq!(
        p.bob.skipped_keys_len(),
        MAX_SKIPPED_KEYS - 3,
        "seed {seed}"
    );

    // One big skip into a full store evicts exactly as many as it adds.
    let a3_more = send_many(&mut p.alice, "a3+", MAX_SKIP);
    open(&mut p.bob, &a3_more[999], &mut p.rng, "a3-1005");
    check_cap(&p.bob, "after a3-1005");
    assert_eq!(p.bob.skipped_keys_len(), MAX_SKIPPED_KEYS, "seed {seed}");
    // 1997 were stored (three used keys are gone), 999 added (A3 N = 6..=1004):
    // the 996 oldest go, i.e. A1 N = 7..=1000 (994 keys) and A2 N = 1, 2.
    assert_rejected(&mut p.bob, &a1[999], &mut p.rng, "duplicate", "a1-999");
    assert_rejected(&mut p.bob, &a2[2], &mut p.rng, "duplicate", "a2-2");
    assert_eq!(open(&mut p.bob, &a2[3], &mut p.rng, "a2-3"), b"a2-3");
    assert_eq!(open(&mut p.bob, &a3_more[0], &mut p.rng, "a3+0"), b"a3+-0");
}

#[test]
fn message_number_at_u32_max_or_far_ahead_is_a_ratchet_limit() {
    let seed = 104;
    let mut p = pair(seed, true);
    let genuine = p.alice.encrypt(b"genuine").unwrap();
    for n in [u32::MAX, u32::MAX - 1, 1 << 31, 1002] {
        let mut forged = genuine.clone();
        forged[37..41].copy_from_slice(&n.to_be_bytes());
        let ctx = format!("seed {seed}: N = {n}");
        assert_rejected(&mut p.bob, &forged, &mut p.rng, "ratchet_limit", &ctx);
    }
    // PN far ahead on a new ratchet key.
    let reply = p.bob.encrypt(b"reply").unwrap();
    open(&mut p.alice, &reply, &mut p.rng, "reply");
    let turn = p.alice.encrypt(b"turn").unwrap();
    for pn in [u32::MAX, 1 << 20, 1002] {
        let mut forged = turn.clone();
        forged[33..37].copy_from_slice(&pn.to_be_bytes());
        let ctx = format!("seed {seed}: PN = {pn}");
        assert_rejected(&mut p.bob, &forged, &mut p.rng, "ratchet_limit", &ctx);
    }
    assert_eq!(open(&mut p.bob, &turn, &mut p.rng, "turn"), b"turn");
    assert_eq!(open(&mut p.bob, &genuine, &mut p.rng, "late"), b"genuine");
}

/// Offset of Ns in the state format (version, AD, RK, DHs, CKs).
const NS_OFFSET: usize = 1 + 64 + 32 + 32 + 32;

#[test]
fn sending_counter_exhaustion_is_a_ratchet_limit_and_changes_nothing() {
    let seed = 105;
    let p = pair(seed, true);
    let mut state = snapshot(&p.alice);
    state[NS_OFFSET..NS_OFFSET + 4].copy_from_slice(&(u32::MAX - 1).to_be_bytes());
    let mut alice = Session::from_bytes(&state).unwrap();
    let last = alice.encrypt(b"last").unwrap();
    let h = RatchetMessage::decode(&last).unwrap().header;
    assert_eq!(h.message_number, u32::MAX - 1, "seed {seed}");
    let before = snapshot(&alice);
    assert_eq!(
        alice.encrypt(b"one too many"),
        Err(Error::RatchetLimit(LimitError::CounterExhausted)),
        "seed {seed}"
    );
    let mut buf = [0u8; 64];
    assert_eq!(
        alice
            .encrypt_into(b"x", &mut buf)
            .unwrap_err()
            .class()
            .as_str(),
        "ratchet_limit"
    );
    assert!(snapshot(&alice) == before, "seed {seed}: state changed");
}

#[test]
fn plaintext_longer_than_the_maximum_is_a_ratchet_limit_and_changes_nothing() {
    let seed = 106;
    let mut p = pair(seed, true);
    let before = snapshot(&p.alice);
    let too_long = vec![0x5a; sealwire::MAX_PLAINTEXT_LEN + 1];
    let err = p.alice.encrypt(&too_long).unwrap_err();
    assert_eq!(
        err,
        Error::RatchetLimit(LimitError::PlaintextTooLong),
        "seed {seed}"
    );
    assert!(snapshot(&p.alice) == before, "seed {seed}: state changed");
    let longest = vec![0xa5; sealwire::MAX_PLAINTEXT_LEN];
    let msg = p.alice.encrypt(&longest).unwrap();
    assert_eq!(msg.len(), sealwire::MAX_MESSAGE_LEN, "seed {seed}");
    assert_eq!(open(&mut p.bob, &msg, &mut p.rng, "longest"), longest);
}

/// The length bounds of every API that takes a message buffer, on both
/// sides of each bound: below the 57-byte overhead, an empty plaintext,
/// the longest plaintext, one byte more. A rejection changes nothing.
#[test]
fn buffer_length_bounds_of_the_in_place_and_sealing_core_apis() {
    use sealwire::hazmat::MessageKey;
    use sealwire::hazmat::seal::{self, AD_LEN, HEADER_LEN, OVERHEAD};
    use sealwire::{MAX_PLAINTEXT_LEN, WireError};
    let seed = 107;
    let mut p = pair(seed, false);

    // Session::encrypt_in_place: `41 spare || plaintext || 16 spare`.
    let before = snapshot(&p.alice);
    let mut short = vec![7u8; OVERHEAD - 1];
    assert_eq!(
        p.alice.encrypt_in_place(&mut short).unwrap_err(),
        Error::Wire(WireError::Truncated)
    );
    assert!(short == vec![7u8; OVERHEAD - 1] && snapshot(&p.alice) == before);
    let mut too_long = vec![7u8; MAX_PLAINTEXT_LEN + 1 + OVERHEAD];
    assert_eq!(
        p.alice.encrypt_in_place(&mut too_long).unwrap_err(),
        Error::RatchetLimit(LimitError::PlaintextTooLong)
    );
    assert!(snapshot(&p.alice) == before, "seed {seed}: state changed");
    assert!(
        too_long.iter().all(|&b| b == 7),
        "seed {seed}: buffer changed"
    );
    for len in [0, 1, MAX_PLAINTEXT_LEN - 1, MAX_PLAINTEXT_LEN] {
        let mut message = vec![0u8; len + OVERHEAD];
        message[HEADER_LEN..HEADER_LEN + len].fill(0x3c);
        p.alice.encrypt_in_place(&mut message).unwrap();
        assert_eq!(
            open(&mut p.bob, &message, &mut p.rng, "in place"),
            vec![0x3c; len]
        );
    }

    // The sealing core: seal, seal_in_place, open_in_place.
    let mk = MessageKey::from_bytes([9; 32]);
    let ad = [4u8; AD_LEN];
    let header = [1u8; HEADER_LEN];
    assert_eq!(
        seal::seal(&mk, &ad, &header, &vec![0; MAX_PLAINTEXT_LEN + 1]).unwrap_err(),
        Error::RatchetLimit(LimitError::PlaintextTooLong)
    );
    let mut short = vec![0u8; OVERHEAD - 1];
    assert_eq!(
        seal::seal_in_place(&mk, &ad, &mut short).unwrap_err(),
        Error::Wire(WireError::Truncated)
    );
    assert_eq!(
        seal::open_in_place(&mk, &ad, &mut short).unwrap_err(),
        Error::Wire(WireError::Truncated)
    );
    let mut too_long = vec![0u8; MAX_PLAINTEXT_LEN + 1 + OVERHEAD];
    assert_eq!(
        seal::seal_in_place(&mk, &ad, &mut too_long).unwrap_err(),
        Error::RatchetLimit(LimitError::PlaintextTooLong)
    );
    assert_eq!(
        seal::open_in_place(&mk, &ad, &mut too_long).unwrap_err(),
        Error::Wire(WireError::Oversized)
    );
    assert!(too_long.iter().all(|&b| b == 0), "rejected buffer changed");
    for len in [0, 1, MAX_PLAINTEXT_LEN] {
        let plaintext = vec![0x77u8; len];
        let sealed = seal::seal(&mk, &ad, &header, &plaintext).unwrap();
        let mut in_place = vec![0u8; len + OVERHEAD];
        in_place[..HEADER_LEN].copy_from_slice(&header);
        in_place[HEADER_LEN..HEADER_LEN + len].copy_from_slice(&plaintext);
        seal::seal_in_place(&mk, &ad, &mut in_place).unwrap();
        assert!(in_place == sealed, "length {len}");
        assert!(seal::open_in_place(&mk, &ad, &mut in_place).unwrap() == &plaintext[..]);
    }
}
