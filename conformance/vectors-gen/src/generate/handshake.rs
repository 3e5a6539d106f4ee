//! Area `handshake`: identity keys, bundles and X3DH from fixed keys.

use std::path::PathBuf;

use ed25519_dalek::VerifyingKey;
use sealwire::{
    ErrorClass, IdentityKeyPair, IdentityPublicKey, InMemoryPreKeyStore, PreKeyBundle, PublicKey,
    respond_with_rng,
};
use serde_json::Value;

use super::party::{Convo, Keys, OPK_ID, SPK_ID, Setup};
use super::{FileBuilder, Scripted, b, err, hexv, ok, ok_bind, seed, unhex32};
use crate::schema::{Step, VectorFile};
use sealwire_adapter::{PreKeySecret, Request};

mod roles;
use roles::{initiate, respond};

pub(super) fn files() -> Vec<(PathBuf, VectorFile)> {
    vec![x3dh(), bundle_verify(), initiate(), respond()]
}

/// The published low-order X25519 public keys (D. J. Bernstein, "How do I
/// validate Curve25519 public keys?", cr.yp.to/ecdh.html; the list
/// libsodium rejects): 0, 1, the two points of order 8, p - 1, p and p + 1,
/// each also with bit 255 set (which X25519 ignores).
pub(crate) fn low_order_points() -> Vec<(String, [u8; 32])> {
    let mut p = [0xffu8; 32];
    p[0] = 0xed;
    p[31] = 0x7f;
    let with_low = |v: u8| {
        let mut k = p;
        k[0] = v;
        k
    };
    let mut one = [0u8; 32];
    one[0] = 1;
    let base = [
        ("0", [0u8; 32]),
        ("1", one),
        (
            "a point of order 8 (e0eb..)",
            unhex32("e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800"),
        ),
        (
            "a point of order 8 (5f9c..)",
            unhex32("5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157"),
        ),
        ("p - 1", with_low(0xec)),
        ("p (non-canonical 0)", p),
        ("p + 1 (non-canonical 1)", with_low(0xee)),
    ];
    let mut out = Vec::new();
    for (name, key) in base {
        out.push((name.to_string(), key));
        let mut top = key;
        top[31] |= 0x80;
        out.push((format!("{name} with bit 255 set"), top));
    }
    for (name, key) in &out {
        assert!(
            PublicKey::from_bytes(*key).is_low_order(),
            "{name} is low order"
        );
    }
    out
}

/// Encodings that are not usable Ed25519 identity keys: small-order
/// ("weak") points and byte strings that are not points at all.
pub(crate) fn bad_identity_keys() -> Vec<(String, [u8; 32])> {
    let mut candidates = Vec::new();
    let mut one = [0u8; 32];
    one[0] = 1;
    let mut minus_one = [0xffu8; 32];
    minus_one[0] = 0xec;
    minus_one[31] = 0x7f;
    for (name, key) in [
        ("the neutral element (y = 1)", one),
        ("the point of order 2 (y = -1)", minus_one),
        ("a point of order 4 (y = 0)", [0u8; 32]),
        (
            "a point of order 8 (c717..)",
            unhex32("c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a"),
        ),
        (
            "a point of order 8 (26e8..)",
            unhex32("26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05"),
        ),
    ] {
        candidates.push((name.to_string(), key));
        let mut sign = key;
        sign[31] |= 0x80;
        candidates.push((format!("{name}, sign bit set"), sign));
    }
    let mut out = Vec::new();
    for (name, key) in candidates {
        if let Ok(point) = VerifyingKey::from_bytes(&key) {
            if point.is_weak() {
                out.push((format!("weak key: {name}"), key));
            }
        } else {
            out.push((format!("not a point: {name}"), key));
        }
    }
    // The first y values (little-endian) that are not on the curve.
    let mut found = 0;
    for y in 2u8..=255 {
        let mut key = [0u8; 32];
        key[0] = y;
        if VerifyingKey::from_bytes(&key).is_err() {
            out.push((format!("not a point: y = {y}"), key));
            found += 1;
            if found == 3 {
                break;
            }
        }
    }
    assert!(out.len() >= 8, "enough bad identity keys");
    for (name, key) in &out {
        assert!(
            IdentityPublicKey::from_bytes(*key).is_err(),
            "{name} is rejected"
        );
    }
    out
}

/// Identity keys that decode to non-weak points with a small-order
/// (torsion) component: a genuine key plus a point of order 2, 4 or 8, and
/// the first small y values whose points are not torsion-free. SPEC.md §2
/// requires identity keys to be torsion-free.
pub(crate) fn torsion_identity_keys(genuine: &IdentityKeyPair) -> Vec<(String, [u8; 32])> {
    let p = VerifyingKey::from_bytes(genuine.public().as_bytes())
        .expect("a genuine key decodes")
        .to_edwards();
    let mut minus_one = [0xffu8; 32];
    minus_one[0] = 0xec;
    minus_one[31] = 0x7f;
    let mut out = Vec::new();
    for (name, torsion) in [
        ("the point of order 2", minus_one),
        ("a point of order 4", [0u8; 32]),
        (
            "a point of order 8",
            unhex32("c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a"),
        ),
    ] {
        let t = VerifyingKey::from_bytes(&torsion)
            .expect("a small-order point decodes")
            .to_edwards();
        out.push((
            format!("genuine identity key plus {name}"),
            (p + t).compress().to_bytes(),
        ));
    }
    let mut found = 0;
    for y in 2u8..=255 {
        let mut key = [0u8; 32];
        key[0] = y;
        if let Ok(point) = VerifyingKey::from_bytes(&key)
            && !point.is_weak()
            && !point.to_edwards().is_torsion_free()
        {
            out.push((format!("mixed-order point y = {y}"), key));
            found += 1;
            if found == 2 {
                break;
            }
        }
    }
    for (name, key) in &out {
        let point = VerifyingKey::from_bytes(key).expect("decodes");
        assert!(
            !point.is_weak() && !point.to_edwards().is_torsion_free(),
            "{name}"
        );
        assert!(
            IdentityPublicKey::from_bytes(*key).is_err(),
            "{name} is rejected"
        );
    }
    out
}

fn verify_class(bundle: &[u8]) -> Result<(), ErrorClass> {
    PreKeyBundle::from_bytes(bundle)
        .and_then(|b| b.verify())
        .map(|_| ())
        .map_err(|e| e.class())
}

fn verify_step(bundle: &[u8]) -> Step {
    let request = Request::BundleVerify { bundle: b(bundle) };
    match verify_class(bundle) {
        Ok(()) => ok(request, &[]),
        Err(class) => err(request, class),
    }
}

fn x3dh() -> (PathBuf, VectorFile) {
    let mut f = FileBuilder::new(
        "handshake/handshake_x3dh.json",
        "Sealwire v1 X3DH",
        "SPEC.md §2 (Keys), §4 (Prekey bundle), §5 (X3DH), §8 (Initial message)",
        &[
            "Identity keys from seeds, bundles, and complete X3DH handshakes from fixed",
            "keys, with and without a one-time prekey: the initial message bytes, the",
            "shared secret SK and AD on both sides, the first plaintext, the one-time",
            "prekey consumed, and a first reply in each direction proving both session",
            "handles are bound. bundle_create's signature may use any valid Ed25519",
            "nonce: a runner verifies it instead of comparing it (the reference signs",
            "deterministically, RFC 8032).",
        ],
    );
    f.note(
        "WithOpk",
        "Bob's bundle offers a one-time prekey (four DHs)",
    )
    .note(
        "WithoutOpk",
        "Bob's bundle offers no one-time prekey (three DHs)",
    )
    .note(
        "X3dhSecret",
        "initiate and respond also expect shared_secret (SK) and ad",
    )
    .note("EmptyPlaintext", "the first message is empty");
    f.group(
        "IdentityTest",
        "Ed25519 identity keys and their Montgomery form from 32-byte seeds",
    );
    for label in [
        "handshake/identity-0",
        "handshake/identity-1",
        "handshake/identity-2",
    ] {
        let s = seed(label);
        let id = IdentityKeyPair::from_seed(s);
        f.valid(
            &format!("identity_public of the seed SHA-256(\"sealwire-vectors/{label}\")"),
            &[],
            vec![ok(
                Request::IdentityPublic { seed: b(&s) },
                &[
                    ("public_key", hexv(id.public().as_bytes())),
                    (
                        "x25519_public_key",
                        hexv(id.public().to_x25519().as_bytes()),
                    ),
                ],
            )],
        );
    }
    f.group(
        "BundleTest",
        "bundle_create encodes Bob's bundle; it verifies",
    );
    for with_opk in [true, false] {
        let keys = Keys::new(&format!("handshake/bundle-{with_opk}"));
        let bundle = keys.bundle(with_opk).to_bytes();
        f.valid(
            &format!(
                "bundle_create {} a one-time prekey gives the {}-byte encoding, which bundle_verify accepts",
                if with_opk { "with" } else { "without" },
                bundle.len()
            ),
            &[if with_opk { "WithOpk" } else { "WithoutOpk" }],
            vec![
                ok(
                    Request::BundleCreate {
                        identity_seed: b(&keys.bob_seed),
                        signed_prekey: PreKeySecret {
                            id: SPK_ID,
                            private_key: b(&keys.spk),
                        },
                        one_time_prekey: with_opk.then(|| PreKeySecret {
                            id: OPK_ID,
                            private_key: b(&keys.opk),
                        }),
                    },
                    &[("bundle", hexv(&bundle))],
                ),
                verify_step(&bundle),
            ],
        );
    }
    f.group(
        "X3dhTest",
        "complete handshakes: SK, AD, initial message, first plaintext, replies",
    );
    for (i, (with_opk, first)) in [
        (true, b"hello Bob".to_vec()),
        (false, b"hello Bob".to_vec()),
        (true, Vec::new()),
        (false, Vec::new()),
        (
            true,
            b"a longer first message, sent before any reply".to_vec(),
        ),
        (
            false,
            b"a longer first message, sent before any reply".to_vec(),
        ),
    ]
    .into_iter()
    .enumerate()
    {
        let setup = Setup {
            with_opk,
            first: first.clone(),
            x3dh_secret: true,
        };
        let mut c = Convo::start(&format!("handshake/x3dh-{i}"), &setup);
        c.push(ok(
            Request::PrekeyStoreIds {
                store: "store".into(),
            },
            &[("one_time_prekey_ids", Value::Array(Vec::new()))],
        ));
        let reply = c.send("bob", b"hello Alice");
        c.recv("alice", &reply);
        let second = c.send("alice", b"second from Alice");
        c.recv("bob", &second);
        let mut flags = vec![
            if with_opk { "WithOpk" } else { "WithoutOpk" },
            "X3dhSecret",
        ];
        if first.is_empty() {
            flags.push("EmptyPlaintext");
        }
        f.valid(
            &format!(
                "X3DH {} a one-time prekey: SK, AD and the initial message are exact; Bob's store {}; both sessions reply",
                if with_opk { "with" } else { "without" },
                if with_opk { "loses the one-time prekey" } else { "had none" }
            ),
            &flags,
            c.into_steps(),
        );
    }
    f.finish()
}

fn bundle_verify() -> (PathBuf, VectorFile) {
    let mut f = FileBuilder::new(
        "handshake/handshake_bundle_verify.json",
        "Sealwire v1 bundle verification",
        "SPEC.md §4 (Prekey bundle), §2 (Keys and their encodings), §10 (Errors)",
        &[
            "bundle_verify decodes a bundle and checks, in this order: the identity key",
            "is a valid, non-weak Ed25519 key (handshake); the SPK signature verifies",
            "strictly (handshake); neither prekey is of low order (low_order_key).",
            "Malformed encodings are wire errors, and so are non-canonical X25519",
            "encodings (bit 255 set or u >= p), which are rejected while decoding.",
        ],
    );
    f.note("Valid", "a genuine bundle")
        .note("BadSignature", "the SPK signature does not verify")
        .note(
            "ModifiedSpk",
            "one bit of the signed prekey is flipped after signing",
        )
        .note(
            "LowOrderSpk",
            "the signed prekey is a low-order point, validly signed",
        )
        .note("LowOrderOpk", "the one-time prekey is a low-order point")
        .note(
            "NonCanonical",
            "the key's encoding is non-canonical and is rejected while decoding",
        )
        .note(
            "InvalidIdentity",
            "the identity key is a weak Ed25519 point or no point at all",
        )
        .note("Malformed", "the encoding itself is malformed");
    let keys = Keys::new("handshake/verify");
    let bob = keys.bob();
    let good = keys.bundle(true);
    let good_bytes = good.to_bytes();
    let parts = |ik: [u8; 32], spk: PublicKey, sig: [u8; 64], opk: Option<(u32, PublicKey)>| {
        PreKeyBundle::from_parts(ik, SPK_ID, spk, sig, opk).to_bytes()
    };
    let ik = *bob.public().as_bytes();
    let spk = *good.signed_prekey();
    let opk = good.one_time_prekey().copied();

    f.group("BundleVerifyTest", "genuine bundles verify");
    for with_opk in [true, false] {
        let bytes = keys.bundle(with_opk).to_bytes();
        assert_eq!(verify_class(&bytes), Ok(()));
        f.valid(
            &format!(
                "a genuine bundle {} a one-time prekey verifies",
                if with_opk { "with" } else { "without" }
            ),
            &["Valid"],
            vec![verify_step(&bytes)],
        );
    }

    f.group("BundleVerifyTest", "the SPK signature must verify strictly");
    for byte in 0..64 {
        let mut sig = *good.signature();
        sig[byte] ^= 0x01;
        let bytes = parts(ik, spk, sig, opk);
        assert_eq!(
            verify_class(&bytes),
            Err(ErrorClass::Handshake),
            "sig byte {byte}"
        );
        f.invalid(
            &format!(
                "signature byte {byte} ({}) with its low bit flipped is rejected",
                if byte < 32 { "R" } else { "S" }
            ),
            &["BadSignature"],
            ErrorClass::Handshake,
            vec![verify_step(&bytes)],
        );
    }
    let other = IdentityKeyPair::from_seed(seed("handshake/verify/other-identity"));
    let opk_key = opk.expect("the bundle has an OPK").1;
    for (what, sig) in [
        ("made by another identity key", other.sign(spk.as_bytes())),
        (
            "over the one-time prekey instead of the SPK",
            bob.sign(opk_key.as_bytes()),
        ),
        ("over the SPK with its id prepended", {
            let mut msg = SPK_ID.to_be_bytes().to_vec();
            msg.extend_from_slice(spk.as_bytes());
            bob.sign(&msg)
        }),
        ("all zero", [0u8; 64]),
    ] {
        let bytes = parts(ik, spk, sig, opk);
        assert_eq!(verify_class(&bytes), Err(ErrorClass::Handshake), "{what}");
        f.invalid(
            &format!("a signature {what} is rejected"),
            &["BadSignature"],
            ErrorClass::Handshake,
            vec![verify_step(&bytes)],
        );
    }
    {
        // S + L: the same signature with a non-canonical S (malleability).
        const L: [u8; 32] = [
            0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9,
            0xde, 0x14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
        ];
        let mut sig = *good.signature();
        let mut carry = 0u16;
        for i in 0..32 {
            let v = u16::from(sig[32 + i]) + u16::from(L[i]) + carry;
            sig[32 + i] = v as u8;
            carry = v >> 8;
        }
        let bytes = parts(ik, spk, sig, opk);
        assert_eq!(verify_class(&bytes), Err(ErrorClass::Handshake));
        f.invalid(
            "the genuine signature with S replaced by S + L (non-canonical, malleable) is rejected by strict verification",
            &["BadSignature"],
            ErrorClass::Handshake,
            vec![verify_step(&bytes)],
        );
    }

    f.group(
        "BundleVerifyTest",
        "the signed prekey must be the one signed",
    );
    for byte in 0..32 {
        let mut k = *spk.as_bytes();
        k[byte] ^= 0x01;
        let bytes = parts(ik, PublicKey::from_bytes(k), *good.signature(), opk);
        let class = verify_class(&bytes).expect_err("a modified SPK never verifies");
        assert_eq!(class, ErrorClass::Handshake, "spk byte {byte}");
        f.invalid(
            &format!("SPK byte {byte} with its low bit flipped after signing is rejected"),
            &["ModifiedSpk"],
            class,
            vec![verify_step(&bytes)],
        );
    }

    f.group("BundleVerifyTest", "low-order prekeys are rejected");
    for (name, point) in low_order_points() {
        let lo = PublicKey::from_bytes(point);
        let canonical = lo.is_canonical();
        let expected = if canonical {
            ErrorClass::LowOrderKey
        } else {
            ErrorClass::Wire
        };
        let as_spk = parts(ik, lo, bob.sign(&point), opk);
        assert_eq!(verify_class(&as_spk), Err(expected), "SPK {name}");
        let mut flags = vec!["LowOrderSpk"];
        if !canonical {
            flags.push("NonCanonical");
        }
        f.invalid(
            &format!("a validly signed SPK that is the low-order point {name} is rejected"),
            &flags,
            expected,
            vec![verify_step(&as_spk)],
        );
        let as_opk = parts(ik, spk, *good.signature(), Some((OPK_ID, lo)));
        assert_eq!(verify_class(&as_opk), Err(expected), "OPK {name}");
        flags[0] = "LowOrderOpk";
        f.invalid(
            &format!("a one-time prekey that is the low-order point {name} is rejected"),
            &flags,
            expected,
            vec![verify_step(&as_opk)],
        );
    }

    f.group(
        "BundleVerifyTest",
        "the identity key must be a valid, non-weak Ed25519 key",
    );
    for (name, bad) in bad_identity_keys() {
        let bytes = parts(bad, spk, *good.signature(), opk);
        assert_eq!(verify_class(&bytes), Err(ErrorClass::Handshake), "{name}");
        f.invalid(
            &format!("a bundle whose identity key is a {name} is rejected"),
            &["InvalidIdentity"],
            ErrorClass::Handshake,
            vec![verify_step(&bytes)],
        );
    }

    f.group("BundleVerifyTest", "malformed bundle encodings");
    let mut cases: Vec<(String, Vec<u8>)> = Vec::new();
    for len in [0, 1, 33, 37, 69, 133, 134, 137, good_bytes.len() - 1] {
        cases.push((
            format!("the bundle cut to {len} of {} bytes", good_bytes.len()),
            good_bytes[..len].to_vec(),
        ));
    }
    let mut trailing = good_bytes.clone();
    trailing.push(0);
    cases.push(("the bundle with one trailing byte".into(), trailing));
    let mut no_opk_trailing = keys.bundle(false).to_bytes();
    no_opk_trailing.extend_from_slice(&[0, 0, 0, 1]);
    cases.push((
        "a bundle without OPK followed by four extra bytes".into(),
        no_opk_trailing,
    ));
    for v in [0x00u8, 0x02, 0xff] {
        let mut bytes = good_bytes.clone();
        bytes[0] = v;
        cases.push((format!("the bundle with version byte {v:#04x}"), bytes));
    }
    for flag in [0x02u8, 0x80, 0xff] {
        let mut bytes = good_bytes.clone();
        bytes[133] = flag;
        cases.push((format!("the bundle with OPK flag {flag:#04x}"), bytes));
    }
    let mut flag_without = good_bytes.clone();
    flag_without.truncate(134);
    flag_without[133] = 1;
    cases.push((
        "a bundle whose OPK flag is 1 but which ends there".into(),
        flag_without,
    ));
    for (what, bytes) in cases {
        assert_eq!(verify_class(&bytes), Err(ErrorClass::Wire), "{what}");
        f.invalid(
            &format!("{what} is rejected as malformed"),
            &["Malformed"],
            ErrorClass::Wire,
            vec![verify_step(&bytes)],
        );
    }
    f.note(
        "TorsionIdentity",
        "the identity key is a valid point with a small-order component (not torsion-free)",
    );
    f.group(
        "BundleVerifyTest",
        "the identity key must be torsion-free (no small-order component)",
    );
    for (name, bad) in torsion_identity_keys(&bob) {
        let bytes = parts(bad, spk, *good.signature(), opk);
        assert_eq!(verify_class(&bytes), Err(ErrorClass::Handshake), "{name}");
        f.invalid(
            &format!("a bundle whose identity key is a {name} is rejected"),
            &["TorsionIdentity"],
            ErrorClass::Handshake,
            vec![verify_step(&bytes)],
        );
    }
    f.finish()
}
