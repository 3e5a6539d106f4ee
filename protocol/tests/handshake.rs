//! X3DH: bundle verification (signatures, low-order and weak keys), the
//! responder's prekey lookup, and the one-time prekey's lifetime.

mod common;

use common::{ScriptedRng, hex32, low_order_points, responder, seeded};
use ed25519_dalek::VerifyingKey;
use rand_core::Rng;
use sealwire::{
    BUNDLE_LEN_WITH_OPK, BUNDLE_LEN_WITHOUT_OPK, Error, HandshakeError, IdentityKeyPair,
    IdentityPublicKey, InMemoryPreKeyStore, OneTimePreKey, PreKeyBundle, PreKeyStore as _,
    PublicKey, SignedPreKey, initiate_with_rng, respond_with_rng,
};

fn initiate_err(alice: &IdentityKeyPair, bundle: &PreKeyBundle) -> Error {
    // Nothing may be drawn before the bundle verifies: an empty script panics.
    let mut empty = ScriptedRng::new(&[]);
    match initiate_with_rng(alice, bundle, b"x", &mut empty) {
        Ok(_) => panic!("bundle accepted"),
        Err(e) => e,
    }
}

#[test]
fn low_order_points_give_all_zero_x25519_output() {
    // Checks the published list itself before the protocol tests rely on it.
    let mut rng = seeded(301);
    for (name, point, canonical) in low_order_points() {
        let top_or_above_p = point[31] & 0x80 != 0 || name.starts_with("p") && name != "p-1";
        assert_eq!(canonical, !top_or_above_p, "{name}: canonical flag");
        for _ in 0..4 {
            let mut scalar = [0u8; 32];
            rng.fill_bytes(&mut scalar);
            assert_eq!(x25519_dalek::x25519(scalar, point), [0u8; 32], "{name}");
        }
        assert!(PublicKey::from_bytes(point).is_low_order(), "{name}");
    }
    let genuine = *sealwire::hazmat::KeyPair::generate_with_rng(&mut rng).public();
    assert!(!genuine.is_low_order(), "seed 301");
}

#[test]
fn bundle_with_low_order_signed_or_one_time_prekey_is_rejected() {
    let mut rng = seeded(302);
    let alice = IdentityKeyPair::generate_with_rng(&mut rng);
    let bob = responder(&mut rng, true);
    let (opk_id, opk) = *bob.bundle.one_time_prekey().unwrap();
    for (name, point, canonical) in low_order_points() {
        // A correctly signed low-order SPK: only the order check can refuse it.
        let sig = bob.identity.sign(&point);
        let spk = PublicKey::from_bytes(point);
        let bundle =
            PreKeyBundle::from_parts(*bob.bundle.identity_key(), 7, spk, sig, Some((opk_id, opk)));
        assert_eq!(
            bundle.verify(),
            Err(Error::LowOrderKey),
            "seed 302, SPK {name}"
        );
        assert_eq!(
            initiate_err(&alice, &bundle),
            Error::LowOrderKey,
            "SPK {name}"
        );

        // Through the encoding, a non-canonical key is already a wire error.
        let expected = if canonical { "low_order_key" } else { "wire" };
        let decoded = PreKeyBundle::from_bytes(&bundle.to_bytes()).and_then(|b| b.verify());
        assert_eq!(
            decoded.unwrap_err().class().as_str(),
            expected,
            "SPK {name}"
        );

        let bundle = PreKeyBundle::from_parts(
            *bob.bundle.identity_key(),
            7,
            *bob.bundle.signed_prekey(),
            *bob.bundle.signature(),
            Some((opk_id, PublicKey::from_bytes(point))),
        );
        let decoded = PreKeyBundle::from_bytes(&bundle.to_bytes()).and_then(|b| b.verify());
        assert_eq!(
            decoded.unwrap_err().class().as_str(),
            expected,
            "OPK {name}"
        );
        assert_eq!(
            bundle.verify(),
            Err(Error::LowOrderKey),
            "seed 302, OPK {name}"
        );
        assert_eq!(
            initiate_err(&alice, &bundle),
            Error::LowOrderKey,
            "OPK {name}"
        );
    }
    assert!(bob.bundle.verify().is_ok(), "seed 302: genuine bundle");
}

#[test]
fn bad_signed_prekey_signature_is_rejected() {
    let seed = 303;
    let mut rng = seeded(seed);
    let alice = IdentityKeyPair::generate_with_rng(&mut rng);
    let bob = responder(&mut rng, false);
    let mallory = IdentityKeyPair::generate_with_rng(&mut rng);
    let b = &bob.bundle;
    let with = |ik: [u8; 32], spk: PublicKey, sig: [u8; 64]| {
        PreKeyBundle::from_parts(ik, 7, spk, sig, None)
    };
    let bad = Error::Handshake(HandshakeError::BadSignature);
    let mut cases = Vec::new();
    for bit in 0..512 {
        let mut sig = *b.signature();
        sig[bit / 8] ^= 1 << (bit % 8);
        cases.push((
            format!("signature bit {bit}"),
            with(*b.identity_key(), *b.signed_prekey(), sig),
        ));
    }
    let other_spk = *sealwire::hazmat::KeyPair::generate_with_rng(&mut rng).public();
    cases.push((
        "signature over another SPK".into(),
        with(*b.identity_key(), other_spk, *b.signature()),
    ));
    let mallory_sig = mallory.sign(b.signed_prekey().as_bytes());
    cases.push((
        "signed by another identity".into(),
        with(*b.identity_key(), *b.signed_prekey(), mallory_sig),
    ));
    // Non-canonical S: S + L (RFC 8032 §5.1.7 requires S < L).
    let mut sig = *b.signature();
    let l = hex32("edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010");
    let mut carry = 0u16;
    for i in 0..32 {
        let sum = u16::from(sig[32 + i]) + u16::from(l[i]) + carry;
        sig[32 + i] = sum as u8;
        carry = sum >> 8;
    }
    assert_eq!(carry, 0);
    cases.push((
        "non-canonical S".into(),
        with(*b.identity_key(), *b.signed_prekey(), sig),
    ));
    for (i, (name, bundle)) in cases.iter().enumerate() {
        assert_eq!(bundle.verify(), Err(bad.clone()), "seed {seed}: {name}");
        // `initiate` runs the same verification first; through it, every
        // 16th flipped bit and each of the other cases (debug-build time).
        if i % 16 == 0 || i >= 512 {
            assert_eq!(initiate_err(&alice, bundle), bad, "seed {seed}: {name}");
        }
    }
}

/// Ed25519 encodings of small-order points (orders 1, 2, 4 and 8, with both
/// sign bits), as listed in Chalkias, Garillot and Nikolaenko, "Taming the
/// many EdDSAs" (2020), Table 6, and in libsodium's
/// `ge25519_has_small_order` blocklist.
const WEAK_IDENTITY_KEYS: [&str; 8] = [
    "0100000000000000000000000000000000000000000000000000000000000000",
    "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "0000000000000000000000000000000000000000000000000000000000000000",
    "0000000000000000000000000000000000000000000000000000000000000080",
    "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
    "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa",
    "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
    "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85",
];

/// Weak (small-order) and undecodable identity keys.
fn bad_identity_keys() -> Vec<(String, [u8; 32])> {
    let mut out: Vec<_> = WEAK_IDENTITY_KEYS
        .iter()
        .map(|h| {
            let key = hex32(h);
            let weak = VerifyingKey::from_bytes(&key).map(|k| k.is_weak());
            assert!(weak.unwrap_or(true), "{h} is not a weak key");
            (format!("weak {h}"), key)
        })
        .collect();
    // y values with no x on the curve: the encoding does not decode.
    let mut y = 2u8;
    while out.len() < WEAK_IDENTITY_KEYS.len() + 3 {
        let mut key = [0u8; 32];
        key[0] = y;
        if VerifyingKey::from_bytes(&key).is_err() {
            out.push((format!("undecodable y = {y}"), key));
        }
        y += 1;
    }
    out
}

#[test]
fn weak_or_invalid_identity_keys_are_rejected_in_bundles_and_initial_messages() {
    let seed = 304;
    let mut rng = seeded(seed);
    let alice = IdentityKeyPair::generate_with_rng(&mut rng);
    let mut bob = responder(&mut rng, true);
    let (_, initial) = initiate_with_rng(&alice, &bob.bundle, b"x", &mut rng).unwrap();
    let invalid = Error::Handshake(HandshakeError::InvalidIdentityKey);
    for (name, key) in bad_identity_keys() {
        let ctx = format!("seed {seed}: identity key {name}");
        assert_eq!(
            IdentityPublicKey::from_bytes(key),
            Err(invalid.clone()),
            "{ctx}"
        );
        let b = &bob.bundle;
        let bundle = PreKeyBundle::from_parts(
            key,
            7,
            *b.signed_prekey(),
            *b.signature(),
            b.one_time_prekey().copied(),
        );
        assert_eq!(initiate_err(&alice, &bundle), invalid, "{ctx}");
        let mut msg = initial.clone();
        msg[1..33].copy_from_slice(&key);
        let err = respond_with_rng(&bob.identity, &mut bob.store, &msg, &mut rng).unwrap_err();
        assert_eq!(err, invalid, "{ctx}");
        assert_eq!(bob.store.one_time_prekeys_len(), 1, "{ctx}");
    }
}

#[test]
fn low_order_ephemeral_key_in_initial_message_is_rejected_and_store_unchanged() {
    let seed = 305;
    let mut rng = seeded(seed);
    let alice = IdentityKeyPair::generate_with_rng(&mut rng);
    let mut bob = responder(&mut rng, true);
    let (_, initial) = initiate_with_rng(&alice, &bob.bundle, b"x", &mut rng).unwrap();
    for (name, point, canonical) in low_order_points() {
        let mut msg = initial.clone();
        msg[33..65].copy_from_slice(&point);
        let err = respond_with_rng(&bob.identity, &mut bob.store, &msg, &mut rng).unwrap_err();
        // Non-canonical encodings never reach the DH: the decoder refuses them.
        let expected = if canonical { "low_order_key" } else { "wire" };
        assert_eq!(err.class().as_str(), expected, "seed {seed}: EK {name}");
        assert_eq!(
            bob.store.one_time_prekeys_len(),
            1,
            "seed {seed}: EK {name}"
        );
    }
    let (_, pt) = respond_with_rng(&bob.identity, &mut bob.store, &initial, &mut rng).unwrap();
    assert_eq!(pt, b"x", "seed {seed}");
}

#[test]
fn one_time_prekey_is_kept_after_a_failed_first_message_and_deleted_after_a_good_one() {
    let seed = 306;
    let mut rng = seeded(seed);
    let alice = IdentityKeyPair::generate_with_rng(&mut rng);
    let bob = IdentityKeyPair::generate_with_rng(&mut rng);
    let spk = SignedPreKey::generate_with_rng(1, &bob, &mut rng);
    let mut store = InMemoryPreKeyStore::new();
    let opks: Vec<_> = (10..13)
        .map(|id| OneTimePreKey::generate_with_rng(id, &mut rng))
        .collect();
    let bundle = PreKeyBundle::new(&bob, &spk, Some(&opks[1]));
    store.add_signed_prekey(spk);
    for k in &opks {
        store.add_one_time_prekey(k.clone());
    }
    let (_, initial) = initiate_with_rng(&alice, &bundle, b"first", &mut rng).unwrap();
    let mut bad = initial.clone();
    let last = bad.len() - 1;
    bad[last] ^= 0x40;
    let err = respond_with_rng(&bob, &mut store, &bad, &mut rng).unwrap_err();
    assert_eq!(err, Error::DecryptionFailed, "seed {seed}");
    assert!(
        store.one_time_prekey(11).is_some(),
        "seed {seed}: kept after a failure"
    );
    assert_eq!(store.one_time_prekeys_len(), 3, "seed {seed}");

    let (_, pt) = respond_with_rng(&bob, &mut store, &initial, &mut rng).unwrap();
    assert_eq!(pt, b"first", "seed {seed}");
    assert!(
        store.one_time_prekey(11).is_none(),
        "seed {seed}: deleted after success"
    );
    assert!(store.one_time_prekey(10).is_some() && store.one_time_prekey(12).is_some());
}

#[test]
fn unknown_signed_or_one_time_prekey_id_is_a_handshake_error() {
    let seed = 307;
    let mut rng = seeded(seed);
    let alice = IdentityKeyPair::generate_with_rng(&mut rng);
    let bob = IdentityKeyPair::generate_with_rng(&mut rng);
    let spk = SignedPreKey::generate_with_rng(7, &bob, &mut rng);
    let opk = OneTimePreKey::generate_with_rng(100, &mut rng);
    let bundle = PreKeyBundle::new(&bob, &spk, Some(&opk));
    let (_, initial) = initiate_with_rng(&alice, &bundle, b"x", &mut rng).unwrap();

    let mut no_spk = InMemoryPreKeyStore::new();
    no_spk.add_signed_prekey(SignedPreKey::generate_with_rng(8, &bob, &mut rng));
    no_spk.add_one_time_prekey(opk.clone());
    let err = respond_with_rng(&bob, &mut no_spk, &initial, &mut rng).unwrap_err();
    assert_eq!(
        err,
        Error::Handshake(HandshakeError::UnknownSignedPreKey(7)),
        "seed {seed}"
    );
    assert_eq!(no_spk.one_time_prekeys_len(), 1, "seed {seed}");

    let mut no_opk = InMemoryPreKeyStore::new();
    no_opk.add_signed_prekey(spk);
    no_opk.add_one_time_prekey(OneTimePreKey::generate_with_rng(101, &mut rng));
    let err = respond_with_rng(&bob, &mut no_opk, &initial, &mut rng).unwrap_err();
    assert_eq!(
        err,
        Error::Handshake(HandshakeError::UnknownOneTimePreKey(100)),
        "seed {seed}"
    );
    assert_eq!(no_opk.one_time_prekeys_len(), 1, "seed {seed}");
    no_opk.add_one_time_prekey(opk);
    let (_, pt) = respond_with_rng(&bob, &mut no_opk, &initial, &mut rng).unwrap();
    assert_eq!(pt, b"x", "seed {seed}");
}

#[test]
fn bundle_encoding_round_trips_and_rejects_malformed_input() {
    let mut rng = seeded(308);
    for with_opk in [false, true] {
        let bob = responder(&mut rng, with_opk);
        let bytes = bob.bundle.to_bytes();
        let len = if with_opk {
            BUNDLE_LEN_WITH_OPK
        } else {
            BUNDLE_LEN_WITHOUT_OPK
        };
        assert_eq!(bytes.len(), len);
        assert_eq!(PreKeyBundle::from_bytes(&bytes).unwrap(), bob.bundle);
        for cut in 0..bytes.len() {
            let err = PreKeyBundle::from_bytes(&bytes[..cut]).unwrap_err();
            assert_eq!(err.class().as_str(), "wire", "seed 308: cut at {cut}");
        }
        let err = PreKeyBundle::from_bytes(&[&bytes[..], &[0]].concat()).unwrap_err();
        assert_eq!(err.class().as_str(), "wire", "seed 308: trailing byte");
        for v in [0u8, 2, 0xff] {
            let mut b = bytes.clone();
            b[0] = v;
            assert_eq!(
                PreKeyBundle::from_bytes(&b).unwrap_err().class().as_str(),
                "wire"
            );
        }
        let mut b = bytes.clone();
        b[BUNDLE_LEN_WITHOUT_OPK - 1] = 2;
        assert_eq!(
            PreKeyBundle::from_bytes(&b).unwrap_err().class().as_str(),
            "wire"
        );
    }
}

#[test]
fn initiate_draws_64_bytes_and_respond_draws_32() {
    let mut rng = seeded(309);
    let alice = IdentityKeyPair::generate_with_rng(&mut rng);
    let mut bob = responder(&mut rng, true);
    let mut script = ScriptedRng::new(&[&[0x11; 32], &[0x22; 32]]);
    let (_, initial) = initiate_with_rng(&alice, &bob.bundle, b"x", &mut script).unwrap();
    assert_eq!(script.remaining(), 0);
    let mut script = ScriptedRng::new(&[&[0x33; 32]]);
    respond_with_rng(&bob.identity, &mut bob.store, &initial, &mut script).unwrap();
    assert_eq!(script.remaining(), 0);
}

#[test]
fn prekey_store_keeps_keys_by_id_and_a_reused_id_replaces_the_old_key() {
    let identity = IdentityKeyPair::from_seed([1; 32]);
    let spk = |id: u32, b: u8| SignedPreKey::new(id, [b; 32], &identity);
    let public = |key: Option<&SignedPreKey>| key.map(|k| *k.public().as_bytes());
    let mut store = InMemoryPreKeyStore::new();
    store.add_signed_prekey(spk(1, 11));
    store.add_signed_prekey(spk(2, 12));
    assert_eq!(public(store.signed_prekey(1)), public(Some(&spk(1, 11))));
    assert_eq!(public(store.signed_prekey(2)), public(Some(&spk(2, 12))));
    store.add_signed_prekey(spk(1, 13));
    assert_eq!(public(store.signed_prekey(1)), public(Some(&spk(1, 13))));
    assert_eq!(public(store.signed_prekey(2)), public(Some(&spk(2, 12))));
    assert_ne!(public(Some(&spk(1, 11))), public(Some(&spk(1, 13))));

    let opk = |id: u32, b: u8| OneTimePreKey::new(id, [b; 32]);
    let public = |key: Option<&OneTimePreKey>| key.map(|k| *k.public().as_bytes());
    store.add_one_time_prekey(opk(5, 21));
    store.add_one_time_prekey(opk(6, 22));
    assert_eq!(store.one_time_prekeys_len(), 2);
    store.add_one_time_prekey(opk(5, 23));
    assert_eq!(store.one_time_prekeys_len(), 2);
    assert_eq!(public(store.one_time_prekey(5)), public(Some(&opk(5, 23))));
    assert_eq!(public(store.one_time_prekey(6)), public(Some(&opk(6, 22))));
}

/// An initial message is `INITIAL_PREFIX_LEN_WITHOUT_OPK` bytes (4 more with
/// a one-time prekey id) before its ratchet message; the longest one (with
/// a one-time prekey and the longest plaintext) decodes, one byte more is
/// `Oversized`.
#[test]
fn initial_message_length_bounds() {
    use sealwire::{
        INITIAL_PREFIX_LEN_WITHOUT_OPK, InitialMessage, MAX_MESSAGE_LEN, MAX_PLAINTEXT_LEN,
        WireError,
    };
    let mut rng = seeded(31);
    let alice = IdentityKeyPair::generate_with_rng(&mut rng);
    for with_opk in [false, true] {
        let bob = responder(&mut rng, with_opk);
        let (_, initial) = initiate_with_rng(&alice, &bob.bundle, b"hi", &mut rng).unwrap();
        let prefix = INITIAL_PREFIX_LEN_WITHOUT_OPK + if with_opk { 4 } else { 0 };
        assert_eq!(initial.len(), prefix + b"hi".len() + sealwire::OVERHEAD);
    }
    let bob = responder(&mut rng, true);
    let longest = vec![0x61; MAX_PLAINTEXT_LEN];
    let (_, initial) = initiate_with_rng(&alice, &bob.bundle, &longest, &mut rng).unwrap();
    assert_eq!(
        initial.len(),
        INITIAL_PREFIX_LEN_WITHOUT_OPK + 4 + MAX_MESSAGE_LEN
    );
    let decoded = InitialMessage::decode(&initial).unwrap();
    assert_eq!(decoded.encode(), initial);
    let mut longer = initial.clone();
    longer.push(0);
    assert_eq!(
        InitialMessage::decode(&longer).unwrap_err(),
        Error::Wire(WireError::Oversized)
    );
    // The length is checked first, before the version byte.
    longer[0] = 0x02;
    assert_eq!(
        InitialMessage::decode(&longer).unwrap_err(),
        Error::Wire(WireError::Oversized)
    );
}
