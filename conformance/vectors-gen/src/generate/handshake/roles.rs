//! The files of the two X3DH roles: `initiate` and `respond`.

use super::*;

pub(super) fn initiate() -> (PathBuf, VectorFile) {
    let mut f = FileBuilder::new(
        "handshake/handshake_initiate.json",
        "Sealwire v1 X3DH initiator",
        "SPEC.md §5.1 (Initiator), §4 (Prekey bundle)",
        &[
            "initiate verifies the bundle before anything else and refuses to start a",
            "session with one that does not verify: a bad signature or an invalid",
            "identity key (handshake), a low-order prekey (low_order_key), a malformed",
            "or non-canonical encoding (wire).",
        ],
    );
    f.note("BadSignature", "the SPK signature does not verify")
        .note(
            "LowOrderSpk",
            "the signed prekey is a low-order point, validly signed",
        )
        .note("LowOrderOpk", "the one-time prekey is a low-order point")
        .note(
            "NonCanonical",
            "a key's encoding is non-canonical and is rejected while decoding",
        )
        .note(
            "InvalidIdentity",
            "the identity key is a weak Ed25519 point or no point at all",
        )
        .note("Malformed", "the bundle's encoding is malformed");
    let keys = Keys::new("handshake/initiate");
    let bob = keys.bob();
    let good = keys.bundle(true);
    let good_bytes = good.to_bytes();
    let ik = *bob.public().as_bytes();
    let spk = *good.signed_prekey();
    let sig = *good.signature();
    let opk = good.one_time_prekey().copied();
    let parts = |ik: [u8; 32], spk: PublicKey, sig: [u8; 64], opk: Option<(u32, PublicKey)>| {
        PreKeyBundle::from_parts(ik, SPK_ID, spk, sig, opk).to_bytes()
    };
    let mut cases: Vec<(String, Vec<u8>, Vec<&str>)> = Vec::new();
    for byte in [0usize, 31, 32, 63] {
        let mut bad = sig;
        bad[byte] ^= 0x01;
        cases.push((
            format!("signature byte {byte} flipped"),
            parts(ik, spk, bad, opk),
            vec!["BadSignature"],
        ));
    }
    let other = IdentityKeyPair::from_seed(seed("handshake/initiate/other-identity"));
    cases.push((
        "a signature by another identity".into(),
        parts(ik, spk, other.sign(spk.as_bytes()), opk),
        vec!["BadSignature"],
    ));
    for (name, point) in low_order_points() {
        let lo = PublicKey::from_bytes(point);
        let mut spk_flags = vec!["LowOrderSpk"];
        let mut opk_flags = vec!["LowOrderOpk"];
        if !lo.is_canonical() {
            spk_flags.push("NonCanonical");
            opk_flags.push("NonCanonical");
        }
        cases.push((
            format!("a validly signed low-order SPK ({name})"),
            parts(ik, lo, bob.sign(&point), opk),
            spk_flags,
        ));
        cases.push((
            format!("a low-order one-time prekey ({name})"),
            parts(ik, spk, sig, Some((OPK_ID, lo))),
            opk_flags,
        ));
    }
    for (name, bad) in bad_identity_keys() {
        cases.push((
            format!("an identity key that is a {name}"),
            parts(bad, spk, sig, opk),
            vec!["InvalidIdentity"],
        ));
    }
    for len in [0usize, 69, 133, good_bytes.len() - 1] {
        cases.push((
            format!("the bundle cut to {len} bytes"),
            good_bytes[..len].to_vec(),
            vec!["Malformed"],
        ));
    }
    let mut v2 = good_bytes.clone();
    v2[0] = 2;
    cases.push(("version byte 0x02".into(), v2, vec!["Malformed"]));
    for (name, bad) in torsion_identity_keys(&bob) {
        cases.push((
            format!("an identity key that is a {name}"),
            parts(bad, spk, sig, opk),
            vec!["TorsionIdentity"],
        ));
    }
    f.note(
        "TorsionIdentity",
        "the identity key is a valid point with a small-order component (not torsion-free)",
    );
    f.group(
        "InitiateTest",
        "initiate refuses a bundle that does not verify",
    );
    for (what, bytes, flags) in cases {
        let class = PreKeyBundle::from_bytes(&bytes)
            .and_then(|bundle| keys.initiate(&bundle, b"never sent"))
            .map(|_| ())
            .expect_err("a bad bundle is refused")
            .class();
        assert_eq!(
            Err(class),
            verify_class(&bytes),
            "initiate and bundle_verify agree: {what}"
        );
        f.invalid(
            &format!("initiate with a bundle with {what} is refused with {class}"),
            &flags,
            class,
            vec![err(keys.initiate_request(&bytes, b"never sent"), class)],
        );
    }
    f.finish()
}

/// The outcome of `respond` for `initial` on a copy of `store`.
pub(super) fn respond_outcome(
    keys: &Keys,
    store: &InMemoryPreKeyStore,
    initial: &[u8],
) -> Result<Vec<u8>, ErrorClass> {
    let mut store = store.clone();
    let mut rng = Scripted::new(&[&keys.bob_ratchet]);
    respond_with_rng(&keys.bob(), &mut store, initial, &mut rng)
        .map(|(_, pt)| pt)
        .map_err(|e| e.class())
}

pub(super) fn ids_step(ids: &[u32]) -> Step {
    ok(
        Request::PrekeyStoreIds {
            store: "store".into(),
        },
        &[(
            "one_time_prekey_ids",
            Value::Array(ids.iter().map(|&i| Value::from(i)).collect()),
        )],
    )
}

pub(super) fn respond_step(
    keys: &Keys,
    initial: &[u8],
    result: &Result<Vec<u8>, ErrorClass>,
    bind: &str,
) -> Step {
    let request = Request::Respond {
        store: "store".into(),
        initial_message: b(initial),
        ratchet_private_key: b(&keys.bob_ratchet),
    };
    match result {
        Ok(pt) => ok_bind(request, bind, &[("plaintext", hexv(pt))]),
        Err(class) => err(request, *class),
    }
}

/// A test: Bob's store, a bad initial message (rejected with `class`, store
/// unchanged), then the genuine one accepted and the OPK gone.
pub(super) fn rejected_then_genuine(
    keys: &Keys,
    genuine: &[u8],
    first: &[u8],
    bad: &[u8],
) -> (Vec<Step>, ErrorClass) {
    let store = keys.store(true);
    let class = respond_outcome(keys, &store, bad).expect_err("a bad initial message is rejected");
    let steps = vec![
        ok_bind(keys.store_request(true), "store", &[]),
        respond_step(keys, bad, &Err(class), "bob"),
        ids_step(&[OPK_ID]),
        respond_step(keys, genuine, &Ok(first.to_vec()), "bob"),
        ids_step(&[]),
    ];
    (steps, class)
}

pub(super) fn respond() -> (PathBuf, VectorFile) {
    let mut f = FileBuilder::new(
        "handshake/handshake_respond.json",
        "Sealwire v1 X3DH responder",
        "SPEC.md §5.2 (Responder), §8 (Initial message)",
        &[
            "respond must reject an initial message naming a prekey it does not have",
            "(handshake), carrying a low-order ephemeral key (low_order_key; wire for a",
            "non-canonical encoding), an invalid initiator identity key (handshake), or",
            "that fails to decrypt (decryption_failed), and must change nothing when it",
            "does: the one-time prekey is still in the store, and the genuine initial",
            "message is accepted afterwards, consuming it only then.",
        ],
    );
    f.note(
        "UnknownSpk",
        "the initial message names a signed prekey id the store lacks",
    )
    .note(
        "UnknownOpk",
        "the initial message names a one-time prekey id the store lacks",
    )
    .note(
        "OpkReused",
        "the one-time prekey was already consumed by an earlier initial message",
    )
    .note("LowOrderEk", "the ephemeral key is a low-order point")
    .note(
        "NonCanonical",
        "a key's encoding is non-canonical and is rejected while decoding",
    )
    .note(
        "InvalidIdentity",
        "the initiator's identity key is weak or not a point",
    )
    .note(
        "Tampered",
        "one bit of the genuine initial message is flipped",
    )
    .note("Truncated", "the initial message is cut short");
    let keys = Keys::new("handshake/respond");
    let first = b"hello Bob".to_vec();
    let (_, genuine) = keys
        .initiate(&keys.bundle(true), &first)
        .expect("the fixed handshake succeeds");
    assert_eq!(
        respond_outcome(&keys, &keys.store(true), &genuine),
        Ok(first.clone())
    );

    f.group("RespondTest", "unknown or consumed prekeys");
    for (what, offset, value, flag) in [
        (
            "signed prekey id 8 (the store has 7)",
            69usize,
            SPK_ID + 1,
            "UnknownSpk",
        ),
        ("signed prekey id 0", 69, 0, "UnknownSpk"),
        (
            "one-time prekey id 101 (the store has 100)",
            74,
            OPK_ID + 1,
            "UnknownOpk",
        ),
        ("one-time prekey id 2^32 - 1", 74, u32::MAX, "UnknownOpk"),
    ] {
        let mut bad = genuine.clone();
        bad[offset - 4..offset].copy_from_slice(&value.to_be_bytes());
        let (steps, class) = rejected_then_genuine(&keys, &genuine, &first, &bad);
        assert_eq!(class, ErrorClass::Handshake, "{what}");
        f.invalid(
            &format!(
                "an initial message naming {what} is rejected; the store keeps its one-time prekey"
            ),
            &[flag],
            class,
            steps,
        );
    }
    {
        let store = keys.store(false);
        let class = respond_outcome(&keys, &store, &genuine).expect_err("no OPK in the store");
        assert_eq!(class, ErrorClass::Handshake);
        f.invalid(
            "an initial message naming one-time prekey 100 to a store that has no one-time prekeys is rejected",
            &["UnknownOpk"],
            class,
            vec![
                ok_bind(keys.store_request(false), "store", &[]),
                respond_step(&keys, &genuine, &Err(class), "bob"),
                ids_step(&[]),
            ],
        );
    }
    {
        let mut store = keys.store(true);
        let mut rng = Scripted::new(&[&keys.bob_ratchet]);
        respond_with_rng(&keys.bob(), &mut store, &genuine, &mut rng).expect("genuine");
        let class = respond_outcome(&keys, &store, &genuine).expect_err("the OPK is gone");
        assert_eq!(class, ErrorClass::Handshake);
        f.invalid(
            "the same initial message delivered twice: the second is rejected because its one-time prekey is consumed",
            &["OpkReused"],
            class,
            vec![
                ok_bind(keys.store_request(true), "store", &[]),
                respond_step(&keys, &genuine, &Ok(first.clone()), "bob"),
                ids_step(&[]),
                respond_step(&keys, &genuine, &Err(class), "bob2"),
                ids_step(&[]),
            ],
        );
    }

    f.group("RespondTest", "low-order ephemeral keys");
    for (name, point) in low_order_points() {
        let mut bad = genuine.clone();
        bad[33..65].copy_from_slice(&point);
        let (steps, class) = rejected_then_genuine(&keys, &genuine, &first, &bad);
        let canonical = PublicKey::from_bytes(point).is_canonical();
        assert_eq!(
            class,
            if canonical {
                ErrorClass::LowOrderKey
            } else {
                ErrorClass::Wire
            },
            "EK {name}"
        );
        let flags: &[&str] = if canonical {
            &["LowOrderEk"]
        } else {
            &["LowOrderEk", "NonCanonical"]
        };
        f.invalid(
            &format!(
                "an initial message whose ephemeral key is the low-order point {name} is rejected"
            ),
            flags,
            class,
            steps,
        );
    }

    f.group("RespondTest", "invalid initiator identity keys");
    for (name, bad_ik) in bad_identity_keys() {
        let mut bad = genuine.clone();
        bad[1..33].copy_from_slice(&bad_ik);
        let (steps, class) = rejected_then_genuine(&keys, &genuine, &first, &bad);
        assert_eq!(class, ErrorClass::Handshake, "{name}");
        f.invalid(
            &format!("an initial message whose identity key is a {name} is rejected"),
            &["InvalidIdentity"],
            class,
            steps,
        );
    }

    f.group(
        "RespondTest",
        "every bit-flipped byte of the initial message is rejected and consumes nothing",
    );
    for pos in 0..genuine.len() {
        let mut bad = genuine.clone();
        bad[pos] ^= 0x01;
        let (steps, class) = rejected_then_genuine(&keys, &genuine, &first, &bad);
        let part = match pos {
            0 => "the version byte".to_string(),
            1..=32 => format!("byte {pos} (IK_A)"),
            33..=64 => format!("byte {pos} (EK_A)"),
            65..=68 => format!("byte {pos} (SPK id)"),
            69 => "byte 69 (OPK flag)".to_string(),
            70..=73 => format!("byte {pos} (OPK id)"),
            74 => "byte 74 (the ratchet header's version)".to_string(),
            75..=106 => format!("byte {pos} (the ratchet header's DHs)"),
            107..=114 => format!("byte {pos} (the ratchet header's PN and N)"),
            p if p < genuine.len() - 16 => format!("byte {p} (ciphertext)"),
            p => format!("byte {p} (tag)"),
        };
        f.invalid(
            &format!("the initial message with the low bit of {part} flipped is rejected with {class}; the genuine one then succeeds"),
            &["Tampered"],
            class,
            steps,
        );
    }
    f.group("RespondTest", "truncated initial messages");
    for len in [0, 1, 33, 65, 69, 70, 74, 75, 115, 130, genuine.len() - 1] {
        let (steps, class) = rejected_then_genuine(&keys, &genuine, &first, &genuine[..len]);
        f.invalid(
            &format!(
                "the initial message cut to {len} of {} bytes is rejected with {class}",
                genuine.len()
            ),
            &["Truncated"],
            class,
            steps,
        );
    }
    f.note(
        "TorsionIdentity",
        "the identity key is a valid point with a small-order component (not torsion-free)",
    );
    f.group(
        "RespondTest",
        "initiator identity keys with a small-order component",
    );
    for (name, bad_ik) in torsion_identity_keys(&keys.alice()) {
        let mut bad = genuine.clone();
        bad[1..33].copy_from_slice(&bad_ik);
        let (steps, class) = rejected_then_genuine(&keys, &genuine, &first, &bad);
        assert_eq!(class, ErrorClass::Handshake, "{name}");
        f.invalid(
            &format!("an initial message whose identity key is the {name} is rejected"),
            &["TorsionIdentity"],
            class,
            steps,
        );
    }
    f.finish()
}
