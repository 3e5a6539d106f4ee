//! Session persistence: the exact round trip in mid-conversation, the
//! restored session's behaviour, corrupted plain states, and sealed states.

mod common;

use common::{Pair, open, pair, seeded, snapshot};
use rand_core::Rng;
use sealwire::{Error, Session, StateError, StorageKey};

/// Offsets in the plain state (SPEC / state.rs): version 0, AD 1..65, RK,
/// DHs, CKs, Ns, PN, then the DHr flag at 169.
const DHR_FLAG: usize = 169;
/// With DHr and CKr present: CKr flag, then Nr, then the earlier-key count.
const CKR_FLAG: usize = DHR_FLAG + 1 + 32;
const PREVIOUS_COUNT: usize = CKR_FLAG + 1 + 32 + 4;

/// A conversation with skipped keys on both sides and earlier ratchet keys.
fn mid_conversation(seed: u64) -> (Pair, Vec<Vec<u8>>, Vec<Vec<u8>>) {
    let mut p = pair(seed, true);
    let mut late_for_bob = Vec::new();
    let mut late_for_alice = Vec::new();
    for turn in 0..3 {
        let msgs: Vec<_> = (0..4)
            .map(|i| p.alice.encrypt(format!("a{turn}-{i}").as_bytes()).unwrap())
            .collect();
        open(&mut p.bob, &msgs[3], &mut p.rng, "setup");
        late_for_bob.extend_from_slice(&msgs[..2]);
        let msgs: Vec<_> = (0..3)
            .map(|i| p.bob.encrypt(format!("b{turn}-{i}").as_bytes()).unwrap())
            .collect();
        open(&mut p.alice, &msgs[2], &mut p.rng, "setup");
        late_for_alice.push(msgs[0].clone());
    }
    assert!(p.bob.skipped_keys_len() >= 6, "seed {seed}");
    assert!(p.alice.skipped_keys_len() >= 3, "seed {seed}");
    (p, late_for_bob, late_for_alice)
}

#[test]
fn state_round_trip_in_mid_conversation_is_exact_and_restored_sessions_behave_identically() {
    let seed = 401;
    let (mut p, late_for_bob, late_for_alice) = mid_conversation(seed);
    let bob_bytes = snapshot(&p.bob);
    let alice_bytes = snapshot(&p.alice);
    let mut bob2 = Session::from_bytes(&bob_bytes).unwrap();
    let mut alice2 = Session::from_bytes(&alice_bytes).unwrap();
    assert!(
        snapshot(&bob2) == bob_bytes,
        "seed {seed}: Bob's round trip"
    );
    assert!(
        snapshot(&alice2) == alice_bytes,
        "seed {seed}: Alice's round trip"
    );
    assert_eq!(bob2.skipped_keys_len(), p.bob.skipped_keys_len());

    // The original and the restored session, driven in lockstep with
    // identically seeded generators, stay byte-identical.
    let mut rng_a = seeded(seed + 1000);
    let mut rng_b = seeded(seed + 1000);
    for (i, msg) in late_for_bob.iter().enumerate() {
        let ctx = format!("seed {seed}: late message {i} to Bob");
        let x = open(&mut p.bob, msg, &mut rng_a, &ctx);
        assert_eq!(open(&mut bob2, msg, &mut rng_b, &ctx), x, "{ctx}");
        assert!(snapshot(&bob2) == snapshot(&p.bob), "{ctx}");
    }
    for (i, msg) in late_for_alice.iter().enumerate() {
        let ctx = format!("seed {seed}: late message {i} to Alice");
        let x = open(&mut p.alice, msg, &mut rng_a, &ctx);
        assert_eq!(open(&mut alice2, msg, &mut rng_b, &ctx), x, "{ctx}");
    }
    for turn in 0..4 {
        let ctx = format!("seed {seed}: turn {turn} after restore");
        let m1 = alice2.encrypt(ctx.as_bytes()).unwrap();
        assert_eq!(p.alice.encrypt(ctx.as_bytes()).unwrap(), m1, "{ctx}");
        assert_eq!(open(&mut bob2, &m1, &mut rng_b, &ctx), ctx.as_bytes());
        open(&mut p.bob, &m1, &mut rng_a, &ctx);
        let m2 = bob2.encrypt(b"back").unwrap();
        assert_eq!(p.bob.encrypt(b"back").unwrap(), m2, "{ctx}");
        assert_eq!(open(&mut alice2, &m2, &mut rng_b, &ctx), b"back");
        open(&mut p.alice, &m2, &mut rng_a, &ctx);
        assert!(snapshot(&alice2) == snapshot(&p.alice), "{ctx}: Alice");
        assert!(snapshot(&bob2) == snapshot(&p.bob), "{ctx}: Bob");
        let back = Session::from_bytes(&snapshot(&alice2)).unwrap();
        assert!(snapshot(&back) == snapshot(&alice2), "{ctx}");
    }
}

fn state_class(bytes: &[u8]) -> Result<Session, Error> {
    let result = Session::from_bytes(bytes);
    if let Err(e) = &result {
        assert_eq!(e.class().as_str(), "state", "{e:?}");
    }
    result
}

#[test]
fn truncated_extended_or_wrong_version_states_are_rejected() {
    let (p, _, _) = mid_conversation(402);
    for bytes in [
        snapshot(&p.bob),
        snapshot(&p.alice),
        snapshot(&pair(403, false).alice),
    ] {
        for len in 0..bytes.len() {
            let err = state_class(&bytes[..len]).unwrap_err();
            assert_eq!(
                err,
                Error::State(StateError::Truncated),
                "seed 402: len {len}"
            );
        }
        for extra in [&[0u8][..], &[1, 2, 3]] {
            let err = state_class(&[&bytes[..], extra].concat()).unwrap_err();
            assert_eq!(err, Error::State(StateError::TrailingBytes), "seed 402");
        }
        for v in [0u8, 2, 0x81, 0xff] {
            let mut b = bytes.clone();
            b[0] = v;
            let err = state_class(&b).unwrap_err();
            assert_eq!(
                err,
                Error::State(StateError::UnsupportedVersion(v)),
                "seed 402"
            );
        }
    }
}

#[test]
fn states_with_bad_flags_or_over_counts_are_rejected() {
    let seed = 404;
    let (p, _, _) = mid_conversation(seed);
    let bytes = snapshot(&p.bob);
    assert_eq!((bytes[DHR_FLAG], bytes[CKR_FLAG]), (1, 1), "seed {seed}");
    let corrupted = |b: &[u8], what: &str| {
        let err = state_class(b).unwrap_err();
        assert!(
            matches!(err, Error::State(StateError::Corrupted(_))),
            "seed {seed}: {what}: {err:?}"
        );
    };
    for flag in [DHR_FLAG, CKR_FLAG] {
        for v in [2u8, 3, 0x80, 0xff] {
            let mut b = bytes.clone();
            b[flag] = v;
            corrupted(&b, &format!("flag at {flag} = {v}"));
        }
    }
    // A receiving chain without a receiving ratchet key.
    let no_dhr = [&bytes[..DHR_FLAG], &[0], &bytes[DHR_FLAG + 33..]].concat();
    corrupted(&no_dhr, "CKr without DHr");

    let count = usize::from(bytes[PREVIOUS_COUNT]);
    assert!(count >= 2, "seed {seed}: earlier ratchet keys expected");
    for v in [17u8, 0x80, 0xff] {
        let mut b = bytes.clone();
        b[PREVIOUS_COUNT] = v;
        corrupted(&b, &format!("earlier-key count {v}"));
    }
    let skipped_at = PREVIOUS_COUNT + 1 + 32 * count;
    let skipped = u16::from_be_bytes([bytes[skipped_at], bytes[skipped_at + 1]]);
    assert_eq!(
        usize::from(skipped),
        p.bob.skipped_keys_len(),
        "seed {seed}"
    );
    for v in [2001u16, 0x8000, 0xffff] {
        let mut b = bytes.clone();
        b[skipped_at..skipped_at + 2].copy_from_slice(&v.to_be_bytes());
        corrupted(&b, &format!("skipped count {v}"));
    }
    // Counts that claim one entry more or less than present.
    let mut b = bytes.clone();
    b[skipped_at..skipped_at + 2].copy_from_slice(&(skipped + 1).to_be_bytes());
    assert_eq!(
        state_class(&b).unwrap_err(),
        Error::State(StateError::Truncated)
    );
    b[skipped_at..skipped_at + 2].copy_from_slice(&(skipped - 1).to_be_bytes());
    assert_eq!(
        state_class(&b).unwrap_err(),
        Error::State(StateError::TrailingBytes)
    );
    // The same skipped key twice.
    let first_entry = bytes[skipped_at + 2..skipped_at + 2 + 68].to_vec();
    let mut b = [&bytes[..], &first_entry].concat();
    b[skipped_at..skipped_at + 2].copy_from_slice(&(skipped + 1).to_be_bytes());
    corrupted(&b, "duplicate skipped key");
}

#[test]
fn randomly_corrupted_states_never_panic_and_accepted_ones_reencode_exactly() {
    let seed = 405;
    let (mut p, _, _) = mid_conversation(seed);
    let originals = [
        snapshot(&p.bob),
        snapshot(&p.alice),
        snapshot(&pair(406, true).alice),
    ];
    let (mut accepted, mut rejected) = (0, 0);
    for round in 0..3000 {
        let mut b = originals[round % 3].clone();
        for _ in 0..1 + p.rng.next_u32() % 3 {
            let i = p.rng.next_u32() as usize % b.len();
            b[i] = p.rng.next_u32() as u8;
        }
        match state_class(&b) {
            Ok(s) => {
                assert!(
                    snapshot(&s) == b,
                    "seed {seed}, round {round}: not canonical"
                );
                accepted += 1;
            }
            Err(_) => rejected += 1,
        }
    }
    assert!(
        accepted > 0 && rejected > 0,
        "seed {seed}: {accepted}/{rejected}"
    );
}

#[test]
fn sealed_state_round_trips_and_rejects_wrong_key_every_bit_flip_and_truncation() {
    let seed = 407;
    let (mut p, late_for_bob, _) = mid_conversation(seed);
    let mut key_bytes = [0u8; 32];
    p.rng.fill_bytes(&mut key_bytes);
    let key = StorageKey::from_bytes(key_bytes);
    let sealed = p.bob.seal_state_with_rng(&key, &mut p.rng);
    let plain = snapshot(&p.bob);
    assert_eq!(sealed.len(), 1 + 32 + plain.len() + 16, "seed {seed}");
    assert_eq!(sealed[0], sealwire::SEALED_STATE_VERSION);
    assert!(
        sealed
            .windows(32)
            .all(|w| !plain.windows(32).any(|q| q == w)),
        "seed {seed}: sealed state shows plain state bytes"
    );
    let again = p.bob.seal_state_with_rng(&key, &mut p.rng);
    assert_ne!(again, sealed, "seed {seed}: a fresh salt each time");

    let mut opened = Session::open_state(&key, &sealed).unwrap();
    assert!(snapshot(&opened) == plain, "seed {seed}: sealed round trip");
    let ctx = format!("seed {seed}: opened session");
    assert_eq!(
        open(&mut opened, &late_for_bob[0], &mut p.rng, &ctx),
        b"a0-0"
    );

    let auth = Error::State(StateError::AuthenticationFailed);
    for flip in [0usize, 1, 255] {
        let mut wrong = key_bytes;
        wrong[flip % 32] ^= 1 << (flip % 8);
        let err = Session::open_state(&StorageKey::from_bytes(wrong), &sealed).unwrap_err();
        assert_eq!(err, auth, "seed {seed}: wrong key");
    }
    for bit in 0..sealed.len() * 8 {
        let mut b = sealed.clone();
        b[bit / 8] ^= 1 << (bit % 8);
        let err = Session::open_state(&key, &b).unwrap_err();
        let expected = if bit < 8 {
            Error::State(StateError::UnsupportedVersion(b[0]))
        } else {
            auth.clone()
        };
        assert_eq!(err, expected, "seed {seed}: sealed bit {bit}");
    }
    for len in 0..sealed.len() {
        let err = Session::open_state(&key, &sealed[..len]).unwrap_err();
        assert_eq!(
            err.class().as_str(),
            "state",
            "seed {seed}: sealed truncated to {len}"
        );
    }
    let err = Session::open_state(&key, &[&sealed[..], &[0]].concat()).unwrap_err();
    assert_eq!(err, auth, "seed {seed}: sealed extended");
}

/// States at the caps load: the earlier-ratchet-key list holds exactly
/// [`MAX_PREVIOUS_RATCHET_KEYS`] after enough turns and round-trips (plain
/// and sealed with the operating system's salt); a sealed state whose body
/// is empty but whose tag is present is an authentication failure, one
/// byte shorter is truncated.
#[test]
fn states_at_the_caps_round_trip_and_the_shortest_sealed_state_is_judged_by_its_tag() {
    use sealwire::MAX_PREVIOUS_RATCHET_KEYS;
    let seed = 408;
    let mut p = pair(seed, false);
    for turn in 0..MAX_PREVIOUS_RATCHET_KEYS + 3 {
        let ctx = format!("seed {seed}: turn {turn}");
        let m = p.bob.encrypt(b"b").unwrap();
        open(&mut p.alice, &m, &mut p.rng, &ctx);
        let m = p.alice.encrypt(b"a").unwrap();
        open(&mut p.bob, &m, &mut p.rng, &ctx);
        for session in [&p.alice, &p.bob] {
            let bytes = snapshot(session);
            let restored = Session::from_bytes(&bytes).unwrap_or_else(|e| panic!("{ctx}: {e}"));
            assert!(snapshot(&restored) == bytes, "{ctx}: round trip");
        }
    }
    let bytes = snapshot(&p.bob);
    assert_eq!(
        usize::from(bytes[PREVIOUS_COUNT]),
        MAX_PREVIOUS_RATCHET_KEYS,
        "seed {seed}"
    );

    let key = StorageKey::from_bytes([0x42; 32]);
    let sealed = p.bob.seal_state(&key);
    assert_eq!(sealed.len(), 1 + 32 + bytes.len() + 16, "seed {seed}");
    let opened = Session::open_state(&key, &sealed).unwrap();
    assert!(snapshot(&opened) == bytes, "seed {seed}: sealed round trip");
    assert_ne!(p.bob.seal_state(&key), sealed, "seed {seed}: fresh salt");

    let tag_only = [&sealed[..33], &sealed[sealed.len() - 16..]].concat();
    assert_eq!(
        Session::open_state(&key, &tag_only).unwrap_err(),
        Error::State(StateError::AuthenticationFailed)
    );
    assert_eq!(
        Session::open_state(&key, &tag_only[..tag_only.len() - 1]).unwrap_err(),
        Error::State(StateError::Truncated)
    );
}
