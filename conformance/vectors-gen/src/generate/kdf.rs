//! Area `kdf`: the profile's root chain, message chain and message-key
//! derivations, and the sealing core, from fixed inputs.

use std::path::PathBuf;

use sealwire::hazmat::{ChainKey, MessageKey, RootKey};
use sealwire::testing::{chain_key_bytes, message_aead_key, message_key_bytes, root_key_bytes};
use sealwire::{ErrorClass, Header, PublicKey};

use super::{FileBuilder, b, err, hexv, ok, seed, seeded_bytes};
use crate::schema::{Step, VectorFile};
use sealwire_adapter::Request;

pub(super) fn files() -> Vec<(PathBuf, VectorFile)> {
    vec![root_chain(), message_chain(), message_keys(), seal_open()]
}

fn kdf_rk(rk: &[u8; 32], dh: &[u8; 32]) -> ([u8; 32], [u8; 32]) {
    let (root, chain) = sealwire::hazmat::root_step(&RootKey::from_bytes(*rk), dh);
    (root_key_bytes(&root), chain_key_bytes(&chain))
}

fn kdf_ck(ck: &[u8; 32]) -> ([u8; 32], [u8; 32]) {
    let (chain, mk) = sealwire::hazmat::chain_step(&ChainKey::from_bytes(*ck));
    (chain_key_bytes(&chain), message_key_bytes(&mk))
}

fn rk_step(rk: &[u8; 32], dh: &[u8; 32]) -> (Step, [u8; 32]) {
    let (root, chain) = kdf_rk(rk, dh);
    (
        ok(
            Request::KdfRk {
                root_key: b(rk),
                dh_output: b(dh),
            },
            &[("root_key", hexv(&root)), ("chain_key", hexv(&chain))],
        ),
        root,
    )
}

fn ck_step(ck: &[u8; 32]) -> (Step, [u8; 32]) {
    let (chain, mk) = kdf_ck(ck);
    (
        ok(
            Request::KdfCk { chain_key: b(ck) },
            &[("chain_key", hexv(&chain)), ("message_key", hexv(&mk))],
        ),
        chain,
    )
}

/// Fixed 32-byte inputs: all zero, all 0xff, and seeded ones.
fn inputs(label: &str, n: usize) -> Vec<(String, [u8; 32])> {
    let mut out = vec![
        ("all-zero".to_string(), [0u8; 32]),
        ("all-0xff".to_string(), [0xffu8; 32]),
    ];
    for i in 0..n {
        out.push((format!("seeded #{i}"), seed(&format!("{label}/{i}"))));
    }
    out
}

fn root_chain() -> (PathBuf, VectorFile) {
    let mut f = FileBuilder::new(
        "kdf/kdf_root_chain.json",
        "Sealwire v1 KDF_RK",
        "SPEC.md §6.1 (KDFs): KDF_RK",
        &[
            "KDF_RK(rk, dh_out) = HKDF-SHA256(salt = rk, ikm = dh_out, info =",
            "\"Sealwire Root v1\", L = 64): new root key = bytes 0..32, chain key =",
            "bytes 32..64. Chains feed each step's root key into the next step.",
        ],
    );
    f.note(
        "Chain",
        "several steps; each step's root key is the next step's input",
    );
    f.group("KdfRkTest", "one KDF_RK step from fixed inputs");
    let rks = inputs("kdf/root/rk", 6);
    let dhs = inputs("kdf/root/dh", 6);
    for ((rn, rk), (dn, dh)) in rks.iter().zip(dhs.iter()) {
        let (step, _) = rk_step(rk, dh);
        f.valid(
            &format!("KDF_RK with a {rn} root key and a {dn} DH output"),
            &[],
            vec![step],
        );
    }
    f.group(
        "KdfRkTest",
        "KDF_RK chains: the root key of each step feeds the next",
    );
    for (chain, len) in [(0, 2), (1, 5), (2, 10)] {
        let mut rk = seed(&format!("kdf/root/chain-{chain}/rk"));
        let mut steps = Vec::new();
        for i in 0..len {
            let dh = seed(&format!("kdf/root/chain-{chain}/dh-{i}"));
            let (step, next) = rk_step(&rk, &dh);
            steps.push(step);
            rk = next;
        }
        f.valid(
            &format!("a root chain of {len} KDF_RK steps with fresh DH outputs"),
            &["Chain"],
            steps,
        );
    }
    f.finish()
}

fn message_chain() -> (PathBuf, VectorFile) {
    let mut f = FileBuilder::new(
        "kdf/kdf_message_chain.json",
        "Sealwire v1 KDF_CK",
        "SPEC.md §6.1 (KDFs): KDF_CK",
        &[
            "KDF_CK(ck): next chain key = HMAC-SHA256(ck, 0x02), message key =",
            "HMAC-SHA256(ck, 0x01). Chains feed each step's chain key into the next.",
        ],
    );
    f.note(
        "Chain",
        "several steps; each step's chain key is the next step's input",
    );
    f.group("KdfCkTest", "one KDF_CK step from a fixed chain key");
    for (name, ck) in inputs("kdf/chain/ck", 6) {
        let (step, _) = ck_step(&ck);
        f.valid(&format!("KDF_CK of a {name} chain key"), &[], vec![step]);
    }
    f.group(
        "KdfCkTest",
        "KDF_CK chains: message keys 0..n of one sending chain",
    );
    for (chain, len) in [(0, 2), (1, 5), (2, 10), (3, 50)] {
        let mut ck = seed(&format!("kdf/chain/chain-{chain}"));
        let mut steps = Vec::new();
        for _ in 0..len {
            let (step, next) = ck_step(&ck);
            steps.push(step);
            ck = next;
        }
        f.valid(
            &format!("a message chain of {len} KDF_CK steps"),
            &["Chain"],
            steps,
        );
    }
    f.finish()
}

fn message_keys() -> (PathBuf, VectorFile) {
    let mut f = FileBuilder::new(
        "kdf/kdf_message_keys.json",
        "Sealwire v1 message keys",
        "SPEC.md §7 (Sealing a message)",
        &[
            "key || nonce = HKDF-SHA256(salt = 0x00*32, ikm = MK, info =",
            "\"Sealwire MessageKeys v1\", L = 44): AEAD key = bytes 0..32, nonce =",
            "bytes 32..44.",
        ],
    );
    f.group("MessageKeysTest", "the AEAD key and nonce of a message key");
    for (name, mk) in inputs("kdf/message-keys/mk", 8) {
        let (key, nonce) = message_aead_key(&MessageKey::from_bytes(mk));
        f.valid(
            &format!("message-key expansion of a {name} message key"),
            &[],
            vec![ok(
                Request::MessageKeys {
                    message_key: b(&mk),
                },
                &[("key", hexv(&key)), ("nonce", hexv(&nonce))],
            )],
        );
    }
    f.finish()
}

fn header(label: &str, pn: u32, n: u32) -> [u8; 41] {
    Header {
        ratchet_key: PublicKey::from_bytes(seed(&format!("{label}/dhs"))),
        previous_chain_len: pn,
        message_number: n,
    }
    .encode()
}

fn open_step(mk: &[u8; 32], ad: &[u8; 64], message: &[u8]) -> (Step, Result<Vec<u8>, ErrorClass>) {
    let result = sealwire::hazmat::seal::open(&MessageKey::from_bytes(*mk), ad, message)
        .map_err(|e| e.class());
    let request = Request::Open {
        message_key: b(mk),
        ad: b(ad),
        message: b(message),
    };
    let step = match &result {
        Ok(pt) => ok(request, &[("plaintext", hexv(pt))]),
        Err(class) => err(request, *class),
    };
    (step, result)
}

fn seal_step(mk: &[u8; 32], ad: &[u8; 64], header: &[u8; 41], pt: &[u8]) -> (Step, Vec<u8>) {
    let message = sealwire::hazmat::seal::seal(&MessageKey::from_bytes(*mk), ad, header, pt)
        .expect("small plaintexts seal");
    (
        ok(
            Request::Seal {
                message_key: b(mk),
                ad: b(ad),
                header: b(header),
                plaintext: b(pt),
            },
            &[("message", hexv(&message))],
        ),
        message,
    )
}

fn seal_open() -> (PathBuf, VectorFile) {
    let mut f = FileBuilder::new(
        "kdf/kdf_seal_open.json",
        "Sealwire v1 sealing core",
        "SPEC.md §7 (Sealing a message)",
        &[
            "seal(MK, AD, header, plaintext) = header || ChaCha20-Poly1305(key, nonce,",
            "AD || header, plaintext) with key and nonce from the message key; open",
            "reverses it. Every byte of a sealed message is authenticated: flipping",
            "one bit anywhere, changing AD or MK makes open fail with",
            "decryption_failed; a message shorter than 57 bytes is malformed (wire).",
        ],
    );
    f.note("ModifiedMessage", "one bit of a sealed message is flipped")
        .note(
            "WrongAd",
            "opened with associated data other than the one it was sealed with",
        )
        .note("WrongKey", "opened with another message key")
        .note("Truncated", "the sealed message is cut short")
        .note(
            "EmptyPlaintext",
            "the plaintext is empty: the message is exactly 57 bytes",
        );
    let mk = seed("kdf/seal/mk");
    let ad: [u8; 64] = seeded_bytes("kdf/seal/ad", 64)
        .try_into()
        .expect("64 bytes");

    f.group(
        "SealTest",
        "seal then open, for plaintexts of several lengths",
    );
    for (i, len) in [0usize, 1, 15, 16, 17, 63, 64, 65, 300]
        .into_iter()
        .enumerate()
    {
        let pt = seeded_bytes(&format!("kdf/seal/pt-{len}"), len);
        let mk_i = seed(&format!("kdf/seal/mk-{i}"));
        let h = header(&format!("kdf/seal/{i}"), i as u32 * 3, i as u32);
        let (seal, message) = seal_step(&mk_i, &ad, &h, &pt);
        assert_eq!(message.len(), len + 57);
        let (open, result) = open_step(&mk_i, &ad, &message);
        assert_eq!(result.as_deref(), Ok(&pt[..]));
        let flags: &[&str] = if len == 0 { &["EmptyPlaintext"] } else { &[] };
        f.valid(
            &format!(
                "seal and open a {len}-byte plaintext: the message is {} bytes",
                len + 57
            ),
            flags,
            vec![seal, open],
        );
    }

    let pt = b"attack at dawn".to_vec();
    let h = header("kdf/seal/tamper", 2, 5);
    let (_, message) = seal_step(&mk, &ad, &h, &pt);

    f.group(
        "OpenTest",
        "open of a sealed message with one bit flipped fails",
    );
    for pos in 0..message.len() {
        let mut bad = message.clone();
        bad[pos] ^= 0x01;
        let (step, result) = open_step(&mk, &ad, &bad);
        assert_eq!(result, Err(ErrorClass::DecryptionFailed), "byte {pos}");
        let part = match pos {
            0 => "the header's version byte".to_string(),
            1..=32 => format!("header byte {pos} (ratchet key)"),
            33..=36 => format!("header byte {pos} (PN)"),
            37..=40 => format!("header byte {pos} (N)"),
            p if p < message.len() - 16 => format!("ciphertext byte {}", p - 41),
            p => format!("tag byte {}", p - (message.len() - 16)),
        };
        f.invalid(
            &format!("open rejects the message with the low bit of {part} flipped"),
            &["ModifiedMessage"],
            ErrorClass::DecryptionFailed,
            vec![step],
        );
    }

    f.group(
        "OpenTest",
        "open with the wrong associated data or key fails",
    );
    let mut swapped = [0u8; 64];
    swapped[..32].copy_from_slice(&ad[32..]);
    swapped[32..].copy_from_slice(&ad[..32]);
    let mut first = ad;
    first[0] ^= 0x01;
    let mut last = ad;
    last[63] ^= 0x80;
    for (what, bad_ad) in [
        ("the two identity keys swapped (responder first)", swapped),
        ("its first bit flipped", first),
        ("its last bit flipped", last),
        ("all zero", [0u8; 64]),
    ] {
        let (step, result) = open_step(&mk, &bad_ad, &message);
        assert_eq!(result, Err(ErrorClass::DecryptionFailed));
        f.invalid(
            &format!("open rejects the message under an AD with {what}"),
            &["WrongAd"],
            ErrorClass::DecryptionFailed,
            vec![step],
        );
    }
    let (next_ck, _) = kdf_ck(&mk);
    for (what, bad_mk) in [
        ("the message key with one bit flipped", {
            let mut k = mk;
            k[31] ^= 0x01;
            k
        }),
        ("an unrelated message key", seed("kdf/seal/other-mk")),
        ("a chain key instead of the message key", next_ck),
    ] {
        let (step, result) = open_step(&bad_mk, &ad, &message);
        assert_eq!(result, Err(ErrorClass::DecryptionFailed));
        f.invalid(
            &format!("open rejects the message under {what}"),
            &["WrongKey"],
            ErrorClass::DecryptionFailed,
            vec![step],
        );
    }

    f.group("OpenTest", "open of a truncated message fails");
    for len in [0, 1, 40, 41, 56, 57, message.len() - 1] {
        let (step, result) = open_step(&mk, &ad, &message[..len]);
        let class = result.expect_err("a truncated message never opens");
        let expected = if len < 57 {
            ErrorClass::Wire
        } else {
            ErrorClass::DecryptionFailed
        };
        assert_eq!(class, expected, "length {len}");
        f.invalid(
            &format!(
                "open rejects the message cut to {len} of {} bytes ({})",
                message.len(),
                if len < 57 {
                    "shorter than header and tag: wire"
                } else {
                    "the tag no longer matches"
                }
            ),
            &["Truncated"],
            class,
            vec![step],
        );
    }
    f.finish()
}
