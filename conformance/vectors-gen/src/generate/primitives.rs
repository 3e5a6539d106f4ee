//! Area `primitives`: the published RFC vectors and Wycheproof's sets for
//! the five primitives of the profile, converted to steps.
//!
//! Every published value is checked against the RustCrypto primitives
//! while generating: a typo in a constant, or a primitive that disagrees
//! with its specification, stops the generator.

use std::path::PathBuf;

use chacha20poly1305::aead::inout::InOutBuf;
use chacha20poly1305::{AeadInOut, ChaCha20Poly1305, Key, KeyInit, Nonce, Tag};
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use hmac::Mac;
use sealwire::{ErrorClass, IdentityKeyPair, PreKeyBundle, PublicKey};
use serde_json::Value;
use sha2::{Digest, Sha256, Sha512};

use super::{FileBuilder, b, err, hexv, ok, seed, unhex, unhex32};
use crate::schema::{Step, VectorFile};
use sealwire_adapter::Request;

mod wycheproof_sets;
use wycheproof_sets::{
    wycheproof_chacha20_poly1305, wycheproof_ed25519, wycheproof_hkdf, wycheproof_hmac,
    wycheproof_x25519,
};

/// The Wycheproof data set as packaged by the `wycheproof` crate.
const WYCHEPROOF: &str =
    "Wycheproof (C2SP/wycheproof testvectors_v1, as packaged by the Rust crate wycheproof 0.7.0)";

pub(super) fn files() -> Vec<(PathBuf, VectorFile)> {
    vec![
        rfc8439(),
        rfc7748(),
        rfc5869(),
        rfc4231(),
        rfc8032(),
        wycheproof_chacha20_poly1305(),
        wycheproof_x25519(),
        wycheproof_hkdf(),
        wycheproof_hmac(),
        wycheproof_ed25519(),
    ]
}

// --- The primitives themselves (RustCrypto), used to compute and check.

pub(crate) fn aead_seal(key: &[u8], nonce: &[u8], aad: &[u8], pt: &[u8]) -> Vec<u8> {
    let key: [u8; 32] = key.try_into().expect("32-byte key");
    let nonce: [u8; 12] = nonce.try_into().expect("12-byte nonce");
    let cipher = ChaCha20Poly1305::new(&Key::from(key));
    let mut out = pt.to_vec();
    let tag = cipher
        .encrypt_inout_detached(&Nonce::from(nonce), aad, InOutBuf::from(&mut out[..]))
        .expect("small inputs");
    out.extend_from_slice(&tag);
    out
}

pub(crate) fn aead_open(key: &[u8], nonce: &[u8], aad: &[u8], ct: &[u8]) -> Option<Vec<u8>> {
    let key: [u8; 32] = key.try_into().expect("32-byte key");
    let nonce: [u8; 12] = nonce.try_into().expect("12-byte nonce");
    if ct.len() < 16 {
        return None;
    }
    let (body, tag) = ct.split_at(ct.len() - 16);
    let tag = Tag::try_from(tag).ok()?;
    let cipher = ChaCha20Poly1305::new(&Key::from(key));
    let mut out = body.to_vec();
    cipher
        .decrypt_inout_detached(&Nonce::from(nonce), aad, InOutBuf::from(&mut out[..]), &tag)
        .ok()?;
    Some(out)
}

fn hmac_sha256(key: &[u8], msg: &[u8]) -> [u8; 32] {
    let mut mac = <hmac::Hmac<Sha256> as hmac::KeyInit>::new_from_slice(key).expect("any key");
    mac.update(msg);
    mac.finalize().into_bytes().into()
}

fn hkdf_sha256(salt: &[u8], ikm: &[u8], info: &[u8], len: usize) -> Option<Vec<u8>> {
    let mut okm = vec![0u8; len];
    hkdf::Hkdf::<Sha256>::new(Some(salt), ikm)
        .expand(info, &mut okm)
        .ok()?;
    Some(okm)
}

/// Strict Ed25519 verification, as the profile requires; a signature or key
/// of the wrong length does not verify.
fn ed25519_verify(pk: &[u8], msg: &[u8], sig: &[u8]) -> bool {
    let (Ok(pk), Ok(sig)) = (<[u8; 32]>::try_from(pk), <[u8; 64]>::try_from(sig)) else {
        return false;
    };
    let Ok(key) = VerifyingKey::from_bytes(&pk) else {
        return false;
    };
    key.verify_strict(msg, &Signature::from_bytes(&sig)).is_ok()
}

fn x25519(k: &[u8], u: &[u8]) -> [u8; 32] {
    x25519_dalek::x25519(
        k.try_into().expect("32-byte scalar"),
        u.try_into().expect("32-byte u"),
    )
}

// --- Step builders.

fn seal_step(key: &[u8], nonce: &[u8], aad: &[u8], pt: &[u8], ct: &[u8]) -> Step {
    ok(
        Request::AeadSeal {
            key: b(key),
            nonce: b(nonce),
            aad: b(aad),
            plaintext: b(pt),
        },
        &[("ciphertext", hexv(ct))],
    )
}

fn open_step(key: &[u8], nonce: &[u8], aad: &[u8], ct: &[u8], pt: Option<&[u8]>) -> Step {
    let request = Request::AeadOpen {
        key: b(key),
        nonce: b(nonce),
        aad: b(aad),
        ciphertext: b(ct),
    };
    match pt {
        Some(pt) => ok(request, &[("plaintext", hexv(pt))]),
        None => err(request, ErrorClass::DecryptionFailed),
    }
}

fn x25519_step(k: &[u8], u: &[u8], shared: &[u8]) -> Step {
    ok(
        Request::X25519 {
            private_key: b(k),
            public_key: b(u),
        },
        &[("shared", hexv(shared))],
    )
}

fn hkdf_step(salt: &[u8], ikm: &[u8], info: &[u8], okm: &[u8]) -> Step {
    ok(
        Request::HkdfSha256 {
            salt: b(salt),
            ikm: b(ikm),
            info: b(info),
            length: okm.len(),
        },
        &[("okm", hexv(okm))],
    )
}

fn hmac_step(key: &[u8], msg: &[u8], mac: &[u8]) -> Step {
    ok(
        Request::HmacSha256 {
            key: b(key),
            message: b(msg),
        },
        &[("mac", hexv(mac))],
    )
}

fn verify_step(pk: &[u8], msg: &[u8], sig: &[u8], valid: bool) -> Step {
    ok(
        Request::Ed25519Verify {
            public_key: b(pk),
            message: b(msg),
            signature: b(sig),
        },
        &[("valid", Value::Bool(valid))],
    )
}

// --- RFC 8439: ChaCha20-Poly1305.

fn rfc8439() -> (PathBuf, VectorFile) {
    let mut f = FileBuilder::new(
        "primitives/primitives_rfc8439_chacha20poly1305.json",
        "ChaCha20-Poly1305",
        "RFC 8439 §2.8.2 and Appendix A.5",
        &[
            "The AEAD examples of RFC 8439; the published tags are checked against",
            "RustCrypto's chacha20poly1305 when the file is generated. Negative tests",
            "flip one bit of the published ciphertext, tag or AAD.",
        ],
    );
    f.note("Ktv", "a published known-answer vector")
        .note(
            "ModifiedCiphertext",
            "one bit of the published ciphertext or tag is flipped: the tag must not verify",
        )
        .note(
            "ModifiedAad",
            "one bit of the associated data is flipped: the tag must not verify",
        );

    // RFC 8439 §2.8.2: Example and Test Vector for AEAD_CHACHA20_POLY1305.
    let key_282 = unhex("808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f");
    let nonce_282 = unhex("070000004041424344454647");
    let aad_282 = unhex("50515253c0c1c2c3c4c5c6c7");
    let pt_282 = b"Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.".to_vec();
    let ct_282 = unhex(concat!(
        "d31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d6",
        "3dbea45e8ca9671282fafb69da92728b1a71de0a9e060b2905d6a5b67ecd3b36",
        "92ddbd7f2d778b8c9803aee328091b58fab324e4fad675945585808b4831d7bc",
        "3ff4def08e4b7a9de576d26586cec64b6116",
        "1ae10b594f09e26a7e902ecbd0600691"
    ));
    // RFC 8439 Appendix A.5: ChaCha20-Poly1305 AEAD Decryption.
    let key_a5 = unhex("1c9240a5eb55d38af333888604f6b5f0473917c1402b80099dca5cbc207075c0");
    let nonce_a5 = unhex("000000000102030405060708");
    let aad_a5 = unhex("f33388860000000000004e91");
    let pt_a5 = "Internet-Drafts are draft documents valid for a maximum of six months and may be updated, replaced, or obsoleted by other documents at any time. It is inappropriate to use Internet-Drafts as reference material or to cite them other than as /\u{201c}work in progress./\u{201d}".as_bytes().to_vec();
    let tag_a5 = unhex("eead9d67890cbb22392336fea1851f38");

    assert_eq!(
        aead_seal(&key_282, &nonce_282, &aad_282, &pt_282),
        ct_282,
        "RFC 8439 §2.8.2"
    );
    let ct_a5 = aead_seal(&key_a5, &nonce_a5, &aad_a5, &pt_a5);
    assert_eq!(ct_a5[ct_a5.len() - 16..], tag_a5[..], "RFC 8439 A.5 tag");

    let cases = [
        ("§2.8.2", &key_282, &nonce_282, &aad_282, &pt_282, &ct_282),
        ("A.5", &key_a5, &nonce_a5, &aad_a5, &pt_a5, &ct_a5),
    ];
    f.group(
        "AeadTest",
        "RFC 8439 examples: seal gives ciphertext || tag, open gives the plaintext",
    );
    for (name, key, nonce, aad, pt, ct) in cases {
        f.valid(
            &format!("RFC 8439 {name}: seal and open reproduce the published ciphertext, tag and plaintext"),
            &["Ktv"],
            vec![seal_step(key, nonce, aad, pt, ct), open_step(key, nonce, aad, ct, Some(pt))],
        );
    }
    f.group("AeadTest", "RFC 8439 examples, modified: open must fail");
    for (name, key, nonce, aad, _, ct) in cases {
        for (what, pos) in [
            ("first ciphertext byte", 0),
            ("last tag byte", ct.len() - 1),
        ] {
            let mut bad = ct.clone();
            bad[pos] ^= 0x01;
            assert!(aead_open(key, nonce, aad, &bad).is_none());
            f.invalid(
                &format!("RFC 8439 {name} with the {what} flipped is rejected"),
                &["ModifiedCiphertext"],
                ErrorClass::DecryptionFailed,
                vec![open_step(key, nonce, aad, &bad, None)],
            );
        }
        let mut bad_aad = aad.clone();
        bad_aad[0] ^= 0x80;
        assert!(aead_open(key, nonce, &bad_aad, ct).is_none());
        f.invalid(
            &format!("RFC 8439 {name} opened under a modified AAD is rejected"),
            &["ModifiedAad"],
            ErrorClass::DecryptionFailed,
            vec![open_step(key, nonce, &bad_aad, ct, None)],
        );
    }
    f.finish()
}

// --- RFC 7748: X25519.

fn rfc7748() -> (PathBuf, VectorFile) {
    let mut f = FileBuilder::new(
        "primitives/primitives_rfc7748_x25519.json",
        "X25519",
        "RFC 7748 §5.2 and §6.1",
        &[
            "The X25519 test vectors of RFC 7748 §5.2 (including the iterated test for",
            "1 and 1,000 iterations; the 1,000,000-iteration value is left out as too",
            "slow for a conformance run) and the Diffie-Hellman example of §6.1.",
        ],
    );
    f.note("Ktv", "a published known-answer vector").note(
        "Iterated",
        "RFC 7748 §5.2's iteration: k, u = X25519(k, u), k; every intermediate result is a step",
    );
    f.group("XdhComp", "X25519(k, u) of RFC 7748 §5.2");
    let single = [
        (
            "a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4",
            "e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c",
            "c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552",
        ),
        (
            "4b66e9d4d1b4673c5ad22691957d6af5c11b6421e0ea01d42ca4169e7918ba0d",
            "e5210f12786811d3f4b7959d0538ae2c31dbe7106fc03c3efc4cd549c715a493",
            "95cbde9476e8907d7aade45cb4b873f88b595a68799fa152e6f8f7647aac7957",
        ),
    ];
    for (i, (k, u, out)) in single.iter().enumerate() {
        let (k, u, out) = (unhex(k), unhex(u), unhex(out));
        assert_eq!(
            x25519(&k, &u)[..],
            out[..],
            "RFC 7748 §5.2 vector {}",
            i + 1
        );
        f.valid(
            &format!(
                "RFC 7748 §5.2 test vector {}: scalar clamping and u masking",
                i + 1
            ),
            &["Ktv"],
            vec![x25519_step(&k, &u, &out)],
        );
    }
    // RFC 7748 §5.2, iterated: after 1 and after 1,000 iterations.
    let mut nine = [0u8; 32];
    nine[0] = 9;
    for (iterations, published) in [
        (
            1usize,
            "422c8e7a6227d7bca1350b3e2bb7279f7897b87bb6854b783c60e80311ae3079",
        ),
        (
            1000,
            "684cf59ba83309552800ef566f2f4d3c1c3887c49360e3875f2eb94d99532c51",
        ),
    ] {
        let (mut k, mut u) = (nine, nine);
        let mut steps = Vec::new();
        for _ in 0..iterations {
            let r = x25519(&k, &u);
            steps.push(x25519_step(&k, &u, &r));
            u = k;
            k = r;
        }
        assert_eq!(k, unhex32(published), "RFC 7748 §5.2 after {iterations}");
        f.valid(
            &format!("RFC 7748 §5.2 iterated X25519 from k = u = 9: {iterations} iteration(s) end at the published value"),
            &["Ktv", "Iterated"],
            steps,
        );
    }
    f.group(
        "XdhComp",
        "RFC 7748 §6.1: Alice and Bob's key pairs and shared secret",
    );
    let a = unhex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a");
    let a_pub = unhex("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a");
    let bk = unhex("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb");
    let b_pub = unhex("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f");
    let shared = unhex("4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742");
    assert_eq!(x25519(&a, &nine)[..], a_pub[..]);
    assert_eq!(x25519(&bk, &nine)[..], b_pub[..]);
    assert_eq!(x25519(&a, &b_pub)[..], shared[..]);
    assert_eq!(x25519(&bk, &a_pub)[..], shared[..]);
    f.valid(
        "RFC 7748 §6.1: both public keys from the base point 9, then the same shared secret K on both sides",
        &["Ktv"],
        vec![
            x25519_step(&a, &nine, &a_pub),
            x25519_step(&bk, &nine, &b_pub),
            x25519_step(&a, &b_pub, &shared),
            x25519_step(&bk, &a_pub, &shared),
        ],
    );
    f.finish()
}

// --- RFC 5869: HKDF-SHA256.

fn rfc5869() -> (PathBuf, VectorFile) {
    let mut f = FileBuilder::new(
        "primitives/primitives_rfc5869_hkdf_sha256.json",
        "HKDF-SHA256",
        "RFC 5869 Appendix A.1-A.3",
        &["The three HKDF-SHA256 test cases of RFC 5869 (extract then expand)."],
    );
    f.note("Ktv", "a published known-answer vector").note(
        "EmptySalt",
        "salt and info are empty (the salt defaults to HashLen zero bytes)",
    );
    f.group("HkdfTest", "RFC 5869 Appendix A, SHA-256 test cases");
    let range = |from: u8, to: u8| (from..=to).collect::<Vec<u8>>();
    let cases = [
        (
            "A.1 (basic test case)",
            vec![0x0b; 22],
            range(0x00, 0x0c),
            range(0xf0, 0xf9),
            "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865",
            false,
        ),
        (
            "A.2 (longer inputs and outputs)",
            range(0x00, 0x4f),
            range(0x60, 0xaf),
            range(0xb0, 0xff),
            "b11e398dc80327a1c8e7f78c596a49344f012eda2d4efad8a050cc4c19afa97c59045a99cac7827271cb41c65e590e09da3275600c2f09b8367793a9aca3db71cc30c58179ec3e87c14c01d5c1f3434f1d87",
            false,
        ),
        (
            "A.3 (zero-length salt and info)",
            vec![0x0b; 22],
            Vec::new(),
            Vec::new(),
            "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8",
            true,
        ),
    ];
    for (name, ikm, salt, info, okm, empty) in cases {
        let okm = unhex(okm);
        assert_eq!(
            hkdf_sha256(&salt, &ikm, &info, okm.len()).as_deref(),
            Some(&okm[..]),
            "RFC 5869 {name}"
        );
        let flags: &[&str] = if empty {
            &["Ktv", "EmptySalt"]
        } else {
            &["Ktv"]
        };
        f.valid(
            &format!("RFC 5869 {name}: OKM of L = {} bytes", okm.len()),
            flags,
            vec![hkdf_step(&salt, &ikm, &info, &okm)],
        );
    }
    f.finish()
}

// --- RFC 4231: HMAC-SHA256.

fn rfc4231() -> (PathBuf, VectorFile) {
    let mut f = FileBuilder::new(
        "primitives/primitives_rfc4231_hmac_sha256.json",
        "HMAC-SHA256",
        "RFC 4231 §4.2-§4.8",
        &[
            "The seven HMAC-SHA-256 test cases of RFC 4231. Test case 5 publishes only",
            "the first 128 bits of the MAC: its expected value here is the full MAC",
            "computed by the generator, whose first 16 bytes are checked against the",
            "published truncated value when the file is generated.",
        ],
    );
    f.note("Ktv", "a published known-answer vector")
        .note("Truncated", "RFC 4231 publishes a prefix of the MAC; the full MAC was computed and checked against that prefix");
    f.group("MacTest", "RFC 4231 HMAC-SHA-256");
    let big = |n: usize, v: u8| vec![v; n];
    let cases: Vec<(&str, Vec<u8>, Vec<u8>, &str)> = vec![
        ("4.2 (test case 1)", big(20, 0x0b), b"Hi There".to_vec(),
         "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"),
        ("4.3 (test case 2, key shorter than the output)", b"Jefe".to_vec(), b"what do ya want for nothing?".to_vec(),
         "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"),
        ("4.4 (test case 3)", big(20, 0xaa), big(50, 0xdd),
         "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe"),
        ("4.5 (test case 4)", (1u8..=25).collect(), big(50, 0xcd),
         "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b"),
        ("4.6 (test case 5, truncated to 128 bits)", big(20, 0x0c), b"Test With Truncation".to_vec(),
         "a3b6167473100ee06e0c796c2955552b"),
        ("4.7 (test case 6, key larger than a block)", big(131, 0xaa),
         b"Test Using Larger Than Block-Size Key - Hash Key First".to_vec(),
         "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"),
        ("4.8 (test case 7, key and data larger than a block)", big(131, 0xaa),
         b"This is a test using a larger than block-size key and a larger than block-size data. The key needs to be hashed before being used by the HMAC algorithm.".to_vec(),
         "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2"),
    ];
    for (name, key, msg, published) in cases {
        let published = unhex(published);
        let mac = hmac_sha256(&key, &msg);
        assert_eq!(mac[..published.len()], published[..], "RFC 4231 §{name}");
        let flags: &[&str] = if published.len() < 32 {
            &["Ktv", "Truncated"]
        } else {
            &["Ktv"]
        };
        f.valid(
            &format!("RFC 4231 §{name}"),
            flags,
            vec![hmac_step(&key, &msg, &mac)],
        );
    }
    f.finish()
}

// --- RFC 8032: Ed25519.

/// (name, secret key, public key, message, signature)
type Rfc8032Case = (&'static str, &'static str, &'static str, Vec<u8>, Vec<u8>);

fn rfc8032() -> (PathBuf, VectorFile) {
    let mut f = FileBuilder::new(
        "primitives/primitives_rfc8032_ed25519.json",
        "Ed25519",
        "RFC 8032 §7.1",
        &[
            "The Ed25519 test vectors of RFC 8032 §7.1, verified strictly. The secret",
            "keys are checked to give the published public keys and signatures when the",
            "file is generated. TEST 1024's 1023-byte message and signature are taken",
            "from Wycheproof's ed25519_test.json, which carries RFC 8032's vector.",
            "Negative tests flip one bit of the published signature or message.",
        ],
    );
    f.note("Ktv", "a published known-answer vector")
        .note(
            "ModifiedSignature",
            "one bit of a valid signature is flipped: strict verification must fail",
        )
        .note(
            "ModifiedMessage",
            "one bit of the signed message is flipped: strict verification must fail",
        );
    let wyche = wycheproof::eddsa::TestSet::load(wycheproof::eddsa::TestName::Ed25519)
        .expect("the packaged Wycheproof set loads");
    let pk_1024 = unhex("278117fc144c72340f67d0f2316e8386ceffbf2b2428c9c51fef7c597f1d426e");
    let (msg_1024, sig_1024) = wyche
        .test_groups
        .iter()
        .filter(|g| g.key.pk[..] == pk_1024[..])
        .flat_map(|g| g.tests.iter())
        .find(|t| t.msg.len() == 1023)
        .map(|t| (t.msg.to_vec(), t.sig.to_vec()))
        .expect("Wycheproof carries RFC 8032 TEST 1024");
    let abc = Sha512::digest(b"abc").to_vec();
    let cases: Vec<Rfc8032Case> = vec![
        (
            "TEST 1 (empty message)",
            "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
            "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
            Vec::new(),
            unhex(
                "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
            ),
        ),
        (
            "TEST 2 (one-byte message)",
            "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
            "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
            unhex("72"),
            unhex(
                "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00",
            ),
        ),
        (
            "TEST 3 (two-byte message)",
            "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
            "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025",
            unhex("af82"),
            unhex(
                "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a",
            ),
        ),
        (
            "TEST 1024 (1023-byte message)",
            "f5e5767cf153319517630f226876b86c8160cc583bc013744c6bf255f5cc0ee5",
            "278117fc144c72340f67d0f2316e8386ceffbf2b2428c9c51fef7c597f1d426e",
            msg_1024,
            sig_1024,
        ),
        (
            "TEST SHA(abc) (64-byte message SHA-512(\"abc\"))",
            "833fe62409237b9d62ec77587520911e9a759cec1d19755b7da901b96dca3d42",
            "ec172b93ad5e563bf4932c70e1245034c35467ef2efd4d64ebf819683467e2bf",
            abc,
            unhex(
                "dc2a4459e7369633a52b1bf277839a00201009a3efbf3ecb69bea2186c26b58909351fc9ac90b3ecfdfbc7c66431e0303dca179c138ac17ad9bef1177331a704",
            ),
        ),
    ];
    f.group("EddsaVerify", "RFC 8032 §7.1 signatures verify");
    let mut checked = Vec::new();
    for (name, sk, pk, msg, sig) in cases {
        let signing = SigningKey::from_bytes(&unhex32(sk));
        let pk = unhex(pk);
        assert_eq!(
            signing.verifying_key().to_bytes()[..],
            pk[..],
            "RFC 8032 {name} public key"
        );
        assert_eq!(
            signing.sign(&msg).to_bytes()[..],
            sig[..],
            "RFC 8032 {name} signature"
        );
        assert!(ed25519_verify(&pk, &msg, &sig));
        f.valid(
            &format!("RFC 8032 §7.1 {name}: the published signature verifies"),
            &["Ktv"],
            vec![verify_step(&pk, &msg, &sig, true)],
        );
        checked.push((name, pk, msg, sig));
    }
    f.group(
        "EddsaVerify",
        "RFC 8032 §7.1 signatures, modified: verification fails",
    );
    for (name, pk, msg, sig) in &checked {
        for (what, pos) in [("R", 0usize), ("S", 32)] {
            let mut bad = sig.clone();
            bad[pos] ^= 0x01;
            assert!(!ed25519_verify(pk, msg, &bad));
            f.valid(
                &format!("RFC 8032 §7.1 {name} with one bit of {what} flipped does not verify"),
                &["ModifiedSignature"],
                vec![verify_step(pk, msg, &bad, false)],
            );
        }
        let mut bad_msg = msg.clone();
        if bad_msg.is_empty() {
            bad_msg.push(0);
        } else {
            bad_msg[0] ^= 0x01;
        }
        assert!(!ed25519_verify(pk, &bad_msg, sig));
        f.valid(
            &format!("RFC 8032 §7.1 {name}'s signature does not verify a modified message"),
            &["ModifiedMessage"],
            vec![verify_step(pk, &bad_msg, sig, false)],
        );
    }
    f.finish()
}

// --- Wycheproof.
