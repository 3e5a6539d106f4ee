//! Wycheproof's sets for the five primitives, converted to steps.

use super::*;

/// Notes for the Wycheproof flags used, with Wycheproof's own descriptions.
pub(super) fn wycheproof_note<F: core::fmt::Debug + core::hash::Hash + Eq>(
    f: &mut FileBuilder,
    notes: &std::collections::HashMap<F, wycheproof::TestFlagInfo>,
    flag: &F,
) -> String {
    let name = format!("{flag:?}");
    let text = notes
        .get(flag)
        .and_then(|i| i.description.clone())
        .unwrap_or_else(|| "a Wycheproof flag without a published description".to_string());
    f.note(
        &name,
        &format!(
            "Wycheproof: {}",
            text.split_whitespace().collect::<Vec<_>>().join(" ")
        ),
    );
    name
}

pub(super) fn flag_names<F: core::fmt::Debug + core::hash::Hash + Eq>(
    f: &mut FileBuilder,
    notes: &std::collections::HashMap<F, wycheproof::TestFlagInfo>,
    flags: &[F],
) -> Vec<String> {
    flags
        .iter()
        .map(|fl| wycheproof_note(f, notes, fl))
        .collect()
}

pub(super) fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

pub(super) fn one_line(comment: &str, tc_id: usize) -> String {
    let c = comment.split_whitespace().collect::<Vec<_>>().join(" ");
    if c.is_empty() {
        format!("Wycheproof tcId {tc_id}")
    } else {
        format!("Wycheproof tcId {tc_id}: {c}")
    }
}

pub(super) fn wycheproof_chacha20_poly1305() -> (PathBuf, VectorFile) {
    use wycheproof::aead::{TestName, TestSet};
    let set = TestSet::load(TestName::ChaCha20Poly1305).expect("the packaged set loads");
    let mut f = FileBuilder::new(
        "primitives/primitives_wycheproof_chacha20_poly1305.json",
        "ChaCha20-Poly1305",
        &format!("{WYCHEPROOF}: chacha20_poly1305_test.json"),
        &[
            "Wycheproof's ChaCha20-Poly1305 tests. A valid test seals and opens; an",
            "invalid one must not open (decryption_failed). The operation set defines",
            "aead_open for the profile's 12-byte nonces only: a nonce of another size is",
            "a request field of the wrong length, answered with the class wire",
            "(ADAPTER.md), as the tests with other nonce sizes expect.",
        ],
    );
    f.group(
        "AeadTest",
        "Wycheproof ChaCha20-Poly1305, 256-bit key, 96-bit nonce, 128-bit tag",
    );
    let mut other_nonces = Vec::new();
    for group in &set.test_groups {
        assert!(group.tag_size == 128 && group.key_size == 256);
        if group.nonce_size != 96 {
            other_nonces.extend(group.tests.iter().cloned());
            continue;
        }
        for t in &group.tests {
            let flags = flag_names(&mut f, &set.notes, &t.flags);
            let mut ct = t.ct.to_vec();
            ct.extend_from_slice(&t.tag);
            let opened = aead_open(&t.key, &t.nonce, &t.aad, &ct);
            let comment = one_line(&t.comment, t.tc_id);
            if t.result.must_fail() {
                assert!(
                    opened.is_none(),
                    "Wycheproof chacha20 tcId {} opened",
                    t.tc_id
                );
                f.invalid(
                    &comment,
                    &strs(&flags),
                    ErrorClass::DecryptionFailed,
                    vec![open_step(&t.key, &t.nonce, &t.aad, &ct, None)],
                );
            } else {
                assert_eq!(opened.as_deref(), Some(&t.pt[..]), "tcId {}", t.tc_id);
                assert_eq!(
                    aead_seal(&t.key, &t.nonce, &t.aad, &t.pt),
                    ct,
                    "tcId {}",
                    t.tc_id
                );
                f.valid(
                    &comment,
                    &strs(&flags),
                    vec![
                        seal_step(&t.key, &t.nonce, &t.aad, &t.pt, &ct),
                        open_step(&t.key, &t.nonce, &t.aad, &ct, Some(&t.pt)),
                    ],
                );
            }
        }
    }
    f.group(
        "AeadTest",
        "Wycheproof ChaCha20-Poly1305 with nonces of other sizes: a malformed request",
    );
    for t in &other_nonces {
        assert!(t.result.must_fail() && t.nonce.len() != 12);
        let flags = flag_names(&mut f, &set.notes, &t.flags);
        let mut ct = t.ct.to_vec();
        ct.extend_from_slice(&t.tag);
        f.invalid(
            &format!(
                "{} ({}-byte nonce)",
                one_line(&t.comment, t.tc_id),
                t.nonce.len()
            ),
            &strs(&flags),
            ErrorClass::Wire,
            vec![err(
                Request::AeadOpen {
                    key: b(&t.key),
                    nonce: b(&t.nonce),
                    aad: b(&t.aad),
                    ciphertext: b(&ct),
                },
                ErrorClass::Wire,
            )],
        );
    }
    f.finish()
}

pub(super) fn wycheproof_x25519() -> (PathBuf, VectorFile) {
    use wycheproof::xdh::{TestFlag, TestName, TestSet};
    let set = TestSet::load(TestName::X25519).expect("the packaged set loads");
    let mut f = FileBuilder::new(
        "primitives/primitives_wycheproof_x25519.json",
        "X25519",
        &format!("{WYCHEPROOF}: x25519_test.json"),
        &[
            "Wycheproof's X25519 tests. The x25519 operation is the bare RFC 7748",
            "function: for every test, valid or acceptable, it returns the published",
            "shared value, including the all-zero output of low-order public keys.",
            "The second group turns each distinct low-order public key of the set into",
            "a protocol test: used as a correctly signed SPK in a bundle, it must be",
            "rejected by bundle_verify: with low_order_key when canonical, and with wire",
            "when the encoding is non-canonical (bit 255 set or u >= p: SPEC.md rejects",
            "such encodings when decoding, before any key is used).",
        ],
    );
    f.note(
        "Acceptable",
        "Wycheproof's result is 'acceptable': RFC 7748 defines the output, but a protocol may reject the key",
    )
    .note(
        "LowOrderSpk",
        "a low-order public key from this set used as a bundle's signed prekey (the signature over it is valid)",
    );
    f.group(
        "XdhComp",
        "Wycheproof X25519: the primitive returns the published shared value",
    );
    let mut low_order: Vec<Vec<u8>> = Vec::new();
    for group in &set.test_groups {
        for t in &group.tests {
            let mut flags = flag_names(&mut f, &set.notes, &t.flags);
            if t.result == wycheproof::TestResult::Acceptable {
                flags.push("Acceptable".into());
            }
            assert!(!t.result.must_fail(), "the X25519 set has no invalid tests");
            let shared = x25519(&t.private_key, &t.public_key);
            assert_eq!(shared[..], t.shared_secret[..], "tcId {}", t.tc_id);
            if t.flags.contains(&TestFlag::ZeroSharedSecret) {
                assert_eq!(shared, [0u8; 32]);
                if !low_order.contains(&t.public_key.to_vec()) {
                    low_order.push(t.public_key.to_vec());
                }
            }
            f.valid(
                &one_line(&t.comment, t.tc_id),
                &strs(&flags),
                vec![x25519_step(&t.private_key, &t.public_key, &t.shared_secret)],
            );
        }
    }
    f.group(
        "LowOrderSpkTest",
        "Each low-order public key of the set, signed as a bundle's SPK, is rejected by the protocol layer",
    );
    let identity = IdentityKeyPair::from_seed(seed("primitives/wycheproof-x25519/identity"));
    for key in &low_order {
        let key32: [u8; 32] = key[..].try_into().expect("32 bytes");
        let spk = PublicKey::from_bytes(key32);
        assert!(spk.is_low_order());
        let bundle = PreKeyBundle::from_parts(
            *identity.public().as_bytes(),
            1,
            spk,
            identity.sign(&key32),
            None,
        )
        .to_bytes();
        let class = PreKeyBundle::from_bytes(&bundle)
            .and_then(|b| b.verify())
            .expect_err("a low-order SPK never verifies")
            .class();
        let comment = if spk.is_canonical() {
            assert_eq!(class, ErrorClass::LowOrderKey);
            format!(
                "bundle whose validly signed SPK is the low-order key {}",
                sealwire_adapter::hex::encode(key)
            )
        } else {
            assert_eq!(class, ErrorClass::Wire);
            format!(
                "bundle whose validly signed SPK is the non-canonical low-order encoding {} (rejected on the wire)",
                sealwire_adapter::hex::encode(key)
            )
        };
        f.invalid(
            &comment,
            &["LowOrderSpk"],
            class,
            vec![err(Request::BundleVerify { bundle: b(&bundle) }, class)],
        );
    }
    f.finish()
}

pub(super) fn wycheproof_hkdf() -> (PathBuf, VectorFile) {
    use wycheproof::hkdf::{TestName, TestSet};
    let set = TestSet::load(TestName::HkdfSha256).expect("the packaged set loads");
    let mut f = FileBuilder::new(
        "primitives/primitives_wycheproof_hkdf_sha256.json",
        "HKDF-SHA256",
        &format!("{WYCHEPROOF}: hkdf_sha256_test.json"),
        &[
            "Wycheproof's HKDF-SHA256 tests. The three that ask for more than 255 * 32",
            "bytes (SizeTooLarge) are requests with an out-of-range parameter, answered",
            "with the class wire (ADAPTER.md).",
        ],
    );
    f.group("HkdfTest", "Wycheproof HKDF-SHA256");
    for group in &set.test_groups {
        for t in &group.tests {
            let flags = flag_names(&mut f, &set.notes, &t.flags);
            if t.result.must_fail() {
                assert!(hkdf_sha256(&t.salt, &t.ikm, &t.info, t.size).is_none());
                f.invalid(
                    &format!(
                        "{} (L = {} > 255 * 32)",
                        one_line(&t.comment, t.tc_id),
                        t.size
                    ),
                    &strs(&flags),
                    ErrorClass::Wire,
                    vec![err(
                        Request::HkdfSha256 {
                            salt: b(&t.salt),
                            ikm: b(&t.ikm),
                            info: b(&t.info),
                            length: t.size,
                        },
                        ErrorClass::Wire,
                    )],
                );
                continue;
            }
            assert_eq!(
                hkdf_sha256(&t.salt, &t.ikm, &t.info, t.size).as_deref(),
                Some(&t.okm[..]),
                "tcId {}",
                t.tc_id
            );
            f.valid(
                &one_line(&t.comment, t.tc_id),
                &strs(&flags),
                vec![hkdf_step(&t.salt, &t.ikm, &t.info, &t.okm)],
            );
        }
    }
    f.finish()
}

pub(super) fn wycheproof_hmac() -> (PathBuf, VectorFile) {
    use wycheproof::mac::{TestName, TestSet};
    let set = TestSet::load(TestName::HmacSha256).expect("the packaged set loads");
    let mut f = FileBuilder::new(
        "primitives/primitives_wycheproof_hmac_sha256.json",
        "HMAC-SHA256",
        &format!("{WYCHEPROOF}: hmac_sha256_test.json"),
        &[
            "Wycheproof's valid HMAC-SHA256 tests. hmac_sha256 computes the full 32-byte",
            "MAC; for the groups with 128-bit tags the expected value is the full MAC",
            "computed by the generator, checked to begin with Wycheproof's tag. The",
            "invalid tests (modified tags) are left out: they test a verifier, and the",
            "operation set has none.",
        ],
    );
    f.note(
        "TruncatedTag",
        "Wycheproof publishes a 128-bit tag; the full MAC was computed and checked against it",
    );
    f.group(
        "MacTest",
        "Wycheproof HMAC-SHA256: the MAC of key and message",
    );
    for group in &set.test_groups {
        for t in &group.tests {
            if t.result.must_fail() {
                continue;
            }
            let mut flags = flag_names(&mut f, &set.notes, &t.flags);
            let mac = hmac_sha256(&t.key, &t.msg);
            assert_eq!(mac[..t.tag.len()], t.tag[..], "tcId {}", t.tc_id);
            if t.tag.len() < 32 {
                flags.push("TruncatedTag".into());
            }
            f.valid(
                &format!(
                    "{} (key {} bits, published tag {} bits)",
                    one_line(&t.comment, t.tc_id),
                    group.key_size,
                    group.tag_size
                ),
                &strs(&flags),
                vec![hmac_step(&t.key, &t.msg, &mac)],
            );
        }
    }
    f.finish()
}

pub(super) fn wycheproof_ed25519() -> (PathBuf, VectorFile) {
    use wycheproof::eddsa::{TestName, TestSet};
    let set = TestSet::load(TestName::Ed25519).expect("the packaged set loads");
    let mut f = FileBuilder::new(
        "primitives/primitives_wycheproof_ed25519.json",
        "Ed25519",
        &format!("{WYCHEPROOF}: ed25519_test.json"),
        &[
            "Wycheproof's Ed25519 verification tests. ed25519_verify is strict",
            "verification (the profile's verify_strict): it answers valid true exactly",
            "for Wycheproof's valid tests, and valid false for every invalid one,",
            "including signatures of the wrong length.",
        ],
    );
    f.group("EddsaVerify", "Wycheproof Ed25519 strict verification");
    for group in &set.test_groups {
        for t in &group.tests {
            let flags = flag_names(&mut f, &set.notes, &t.flags);
            let valid = ed25519_verify(&group.key.pk, &t.msg, &t.sig);
            assert_eq!(
                valid,
                !t.result.must_fail(),
                "Wycheproof ed25519 tcId {}",
                t.tc_id
            );
            f.valid(
                &format!(
                    "{} (expected {})",
                    one_line(&t.comment, t.tc_id),
                    if valid { "valid" } else { "not valid" }
                ),
                &strs(&flags),
                vec![verify_step(&group.key.pk, &t.msg, &t.sig, valid)],
            );
        }
    }
    f.finish()
}
