//! Area `wire`: valid and malformed encodings of every wire structure.

use std::path::PathBuf;

use sealwire::{
    ErrorClass, Header, InitialMessage, MAX_MESSAGE_LEN, PreKeyBundle, PublicKey, RatchetMessage,
};

use super::party::{Convo, Keys, Setup};
use super::{FileBuilder, b, err, hexv, ok};
use crate::schema::{Step, VectorFile};
use sealwire_adapter::{Request, Structure};

pub(super) fn files() -> Vec<(PathBuf, VectorFile)> {
    let genuine = Genuine::new();
    vec![
        header(&genuine),
        ratchet_message(&genuine),
        initial_message(&genuine),
        bundle(&genuine),
    ]
}

/// Genuine structures from a fixed conversation.
struct Genuine {
    /// Bob's first reply (a new ratchet key) and Alice's next message.
    messages: Vec<Vec<u8>>,
    /// An empty-plaintext message (57 bytes).
    empty: Vec<u8>,
    initial_with_opk: Vec<u8>,
    initial_without_opk: Vec<u8>,
    bundle_with_opk: Vec<u8>,
    bundle_without_opk: Vec<u8>,
}

impl Genuine {
    fn new() -> Self {
        let mut c = Convo::start("wire/with-opk", &Setup::default());
        let b0 = c.send("bob", b"reply from Bob");
        c.recv("alice", &b0);
        let a1 = c.send("alice", b"and Alice again");
        let empty = c.send("alice", b"");
        let without = Convo::start(
            "wire/without-opk",
            &Setup {
                with_opk: false,
                ..Setup::default()
            },
        );
        let keys = Keys::new("wire/bundle");
        Self {
            messages: vec![b0, a1],
            empty,
            initial_with_opk: c.initial.clone(),
            initial_without_opk: without.initial.clone(),
            bundle_with_opk: keys.bundle(true).to_bytes(),
            bundle_without_opk: keys.bundle(false).to_bytes(),
        }
    }
}

fn decode(structure: Structure, bytes: &[u8]) -> Result<Vec<u8>, ErrorClass> {
    match structure {
        Structure::Header => Header::decode(bytes).map(|h| h.encode().to_vec()),
        Structure::RatchetMessage => RatchetMessage::decode(bytes).map(|m| m.encode()),
        Structure::InitialMessage => InitialMessage::decode(bytes).map(|m| m.encode()),
        Structure::Bundle => PreKeyBundle::from_bytes(bytes).map(|b| b.to_bytes()),
    }
    .map_err(|e| e.class())
}

fn step(structure: Structure, bytes: &[u8]) -> (Step, Result<Vec<u8>, ErrorClass>) {
    let result = decode(structure, bytes);
    let request = Request::Decode {
        structure,
        bytes: b(bytes),
    };
    let step = match &result {
        Ok(encoded) => ok(request, &[("encoded", hexv(encoded))]),
        Err(class) => err(request, *class),
    };
    (step, result)
}

fn valid(f: &mut FileBuilder, structure: Structure, bytes: &[u8], comment: &str, flags: &[&str]) {
    let (s, result) = step(structure, bytes);
    assert_eq!(
        result.as_deref(),
        Ok(bytes),
        "{comment}: decodes and re-encodes to itself"
    );
    f.valid(comment, flags, vec![s]);
}

fn malformed(
    f: &mut FileBuilder,
    structure: Structure,
    bytes: &[u8],
    comment: &str,
    flags: &[&str],
) {
    let (s, result) = step(structure, bytes);
    assert_eq!(result, Err(ErrorClass::Wire), "{comment}");
    f.invalid(comment, flags, ErrorClass::Wire, vec![s]);
}

fn p_bytes() -> [u8; 32] {
    let mut p = [0xffu8; 32];
    p[0] = 0xed;
    p[31] = 0x7f;
    p
}

/// Non-canonical X25519 encodings of otherwise fine keys.
fn non_canonical(key: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut top = key.to_vec();
    top[31] |= 0x80;
    assert!(!PublicKey::from_bytes(top.clone().try_into().expect("32")).is_canonical());
    vec![
        ("with bit 255 set".to_string(), top),
        ("equal to p (u = 0 + p)".to_string(), p_bytes().to_vec()),
    ]
}

fn common_notes(f: &mut FileBuilder) {
    f.note(
        "Valid",
        "a genuine encoding: decode then encode gives the input back",
    )
    .note("Truncated", "the input ends before the structure does")
    .note("Version", "the version byte is not 0x01")
    .note(
        "NonCanonicalKey",
        "an X25519 key field is not canonical (bit 255 set, or u >= p)",
    );
}

fn header(g: &Genuine) -> (PathBuf, VectorFile) {
    let mut f = FileBuilder::new(
        "wire/wire_header.json",
        "Sealwire v1 wire format: ratchet header",
        "SPEC.md §7 (Sealing a message): header layout",
        &[
            "header = 0x01 || DHs (32) || u32be(PN) || u32be(N): exactly 41 bytes.",
            "decode accepts any canonical DHs and any counters (limits and low-order",
            "keys are checked when a message is received, not when it is decoded).",
        ],
    );
    common_notes(&mut f);
    f.note("Extreme", "counters or key at the edge of their range")
        .note("Trailing", "bytes follow a complete structure");
    let h = g.messages[0][..41].to_vec();
    f.group("HeaderTest", "valid headers");
    for (i, m) in g.messages.iter().enumerate() {
        valid(
            &mut f,
            Structure::Header,
            &m[..41],
            &format!("the header of genuine message {i} decodes and re-encodes to itself"),
            &["Valid"],
        );
    }
    let mut max = h.clone();
    max[33..41].fill(0xff);
    valid(
        &mut f,
        Structure::Header,
        &max,
        "PN = N = 2^32 - 1 decodes (the receiver, not the decoder, rejects N = 2^32 - 1)",
        &["Valid", "Extreme"],
    );
    let mut zero_key = h.clone();
    zero_key[1..33].fill(0);
    valid(
        &mut f,
        Structure::Header,
        &zero_key,
        "an all-zero DHs (canonical, low order) decodes; it is rejected only when used",
        &["Valid", "Extreme"],
    );
    let mut below_p = p_bytes();
    below_p[0] = 0xec;
    let mut edge = h.clone();
    edge[1..33].copy_from_slice(&below_p);
    valid(
        &mut f,
        Structure::Header,
        &edge,
        "DHs = p - 1, the largest canonical value, decodes",
        &["Valid", "Extreme"],
    );
    f.group("HeaderTest", "truncated at every length");
    for len in 0..41 {
        malformed(
            &mut f,
            Structure::Header,
            &h[..len],
            &format!("the header cut to {len} of 41 bytes"),
            &["Truncated"],
        );
    }
    f.group("HeaderTest", "trailing bytes, versions, non-canonical keys");
    for extra in [1usize, 16] {
        let mut long = h.clone();
        long.extend(std::iter::repeat_n(0u8, extra));
        malformed(
            &mut f,
            Structure::Header,
            &long,
            &format!("the header followed by {extra} byte(s)"),
            &["Trailing"],
        );
    }
    for v in [0x00u8, 0x02, 0x80, 0xff] {
        let mut bad = h.clone();
        bad[0] = v;
        malformed(
            &mut f,
            Structure::Header,
            &bad,
            &format!("the header with version byte {v:#04x}"),
            &["Version"],
        );
    }
    for (what, key) in non_canonical(&h[1..33]) {
        let mut bad = h.clone();
        bad[1..33].copy_from_slice(&key);
        malformed(
            &mut f,
            Structure::Header,
            &bad,
            &format!("the header with DHs {what}"),
            &["NonCanonicalKey"],
        );
    }
    f.finish()
}

fn ratchet_message(g: &Genuine) -> (PathBuf, VectorFile) {
    let mut f = FileBuilder::new(
        "wire/wire_ratchet_message.json",
        "Sealwire v1 wire format: ratchet message",
        "SPEC.md §7 (Sealing a message), §3 (Constants)",
        &[
            "ratchet message = header (41) || ciphertext || tag (16): at least 57 bytes,",
            "at most MAX_MESSAGE_LEN = 2^20 + 57 bytes. decode checks the framing only.",
            "(A valid message of exactly the maximum length is left out to keep the",
            "files small; the oversized one is one byte past it.)",
        ],
    );
    common_notes(&mut f);
    f.note("Oversized", "the input is longer than MAX_MESSAGE_LEN");
    let m = &g.messages[1];
    f.group("RatchetMessageTest", "valid messages");
    for (i, msg) in g.messages.iter().enumerate() {
        valid(
            &mut f,
            Structure::RatchetMessage,
            msg,
            &format!(
                "genuine message {i} ({} bytes) decodes and re-encodes to itself",
                msg.len()
            ),
            &["Valid"],
        );
    }
    valid(
        &mut f,
        Structure::RatchetMessage,
        &g.empty,
        "a message with an empty plaintext (57 bytes, the minimum)",
        &["Valid"],
    );
    f.group(
        "RatchetMessageTest",
        "shorter than header and tag, at every length",
    );
    for len in 0..57 {
        malformed(
            &mut f,
            Structure::RatchetMessage,
            &m[..len],
            &format!("the message cut to {len} bytes (fewer than 57)"),
            &["Truncated"],
        );
    }
    f.group(
        "RatchetMessageTest",
        "versions, non-canonical keys, oversized",
    );
    for v in [0x00u8, 0x02, 0xff] {
        let mut bad = m.clone();
        bad[0] = v;
        malformed(
            &mut f,
            Structure::RatchetMessage,
            &bad,
            &format!("the message with version byte {v:#04x}"),
            &["Version"],
        );
    }
    for (what, key) in non_canonical(&m[1..33]) {
        let mut bad = m.clone();
        bad[1..33].copy_from_slice(&key);
        malformed(
            &mut f,
            Structure::RatchetMessage,
            &bad,
            &format!("the message with DHs {what}"),
            &["NonCanonicalKey"],
        );
    }
    let mut huge = m.clone();
    huge.resize(MAX_MESSAGE_LEN + 1, 0);
    malformed(
        &mut f,
        Structure::RatchetMessage,
        &huge,
        &format!(
            "a message of MAX_MESSAGE_LEN + 1 = {} bytes",
            MAX_MESSAGE_LEN + 1
        ),
        &["Oversized"],
    );
    f.finish()
}

fn initial_message(g: &Genuine) -> (PathBuf, VectorFile) {
    let mut f = FileBuilder::new(
        "wire/wire_initial_message.json",
        "Sealwire v1 wire format: initial message",
        "SPEC.md §8 (Initial message)",
        &[
            "initial message = 0x01 || IK_A (32) || EK_A (32) || u32be(spk_id) ||",
            "opk_flag (0x00 | 0x01) || [u32be(opk_id)] || ratchet message. decode checks",
            "the framing, the flag, EK_A's encoding and the embedded ratchet message's",
            "framing; it does not validate IK_A (the responder does).",
        ],
    );
    common_notes(&mut f);
    f.note(
        "Oversized",
        "the input is longer than the longest initial message",
    )
    .note("BadFlag", "the OPK flag is neither 0x00 nor 0x01")
    .note("WithOpk", "the initial message names a one-time prekey")
    .note("WithoutOpk", "the initial message names no one-time prekey");
    let cases = [
        (&g.initial_with_opk, "WithOpk", "with an OPK id", 69usize),
        (
            &g.initial_without_opk,
            "WithoutOpk",
            "without an OPK id",
            69,
        ),
    ];
    f.group("InitialMessageTest", "valid initial messages");
    for (m, flag, what, _) in cases {
        valid(
            &mut f,
            Structure::InitialMessage,
            m,
            &format!("a genuine initial message {what} ({} bytes)", m.len()),
            &["Valid", flag],
        );
    }
    for (m, flag, what, _) in cases {
        f.group(
            "InitialMessageTest",
            &format!(
                "the initial message {what}, truncated at every length that leaves less than a 57-byte ratchet message (longer cuts are well-formed: decode checks framing, not the tag)"
            ),
        );
        let shortest = if flag == "WithOpk" { 74 + 57 } else { 70 + 57 };
        for len in 0..shortest {
            malformed(
                &mut f,
                Structure::InitialMessage,
                &m[..len],
                &format!(
                    "the initial message {what} cut to {len} of {} bytes",
                    m.len()
                ),
                &["Truncated", flag],
            );
        }
    }
    f.group("InitialMessageTest", "versions, flags, keys, oversized");
    for (m, flag, what, flag_at) in cases {
        for (at, label) in [
            (0usize, "its version byte"),
            (
                if flag == "WithOpk" { 74 } else { 70 },
                "the embedded header's version byte",
            ),
        ] {
            for v in [0x00u8, 0x02] {
                let mut bad = m.clone();
                bad[at] = v;
                malformed(
                    &mut f,
                    Structure::InitialMessage,
                    &bad,
                    &format!("the initial message {what} with {label} set to {v:#04x}"),
                    &["Version", flag],
                );
            }
        }
        for v in [0x02u8, 0x80, 0xff] {
            let mut bad = m.clone();
            bad[flag_at] = v;
            malformed(
                &mut f,
                Structure::InitialMessage,
                &bad,
                &format!("the initial message {what} with OPK flag {v:#04x}"),
                &["BadFlag", flag],
            );
        }
        for (kwhat, key) in non_canonical(&m[33..65]) {
            let mut bad = m.clone();
            bad[33..65].copy_from_slice(&key);
            malformed(
                &mut f,
                Structure::InitialMessage,
                &bad,
                &format!("the initial message {what} with EK_A {kwhat}"),
                &["NonCanonicalKey", flag],
            );
        }
    }
    let m = &g.initial_with_opk;
    let mut huge = m.clone();
    huge.resize(
        MAX_MESSAGE_LEN + sealwire::INITIAL_PREFIX_LEN_WITHOUT_OPK + 4 + 1,
        0,
    );
    malformed(
        &mut f,
        Structure::InitialMessage,
        &huge,
        &format!(
            "an initial message of {} bytes, one past the longest",
            huge.len()
        ),
        &["Oversized", "WithOpk"],
    );
    f.finish()
}

fn bundle(g: &Genuine) -> (PathBuf, VectorFile) {
    let mut f = FileBuilder::new(
        "wire/wire_bundle.json",
        "Sealwire v1 wire format: prekey bundle",
        "SPEC.md §4 (Prekey bundle)",
        &[
            "bundle = 0x01 || IK_B (32) || u32be(spk_id) || SPK_B (32) || sig (64) ||",
            "opk_flag (0x00 | 0x01) || [u32be(opk_id) || OPK_B (32)]: 134 or 170 bytes.",
            "decode checks the encoding only (bundle_verify checks keys and signature):",
            "a bundle with a bad signature decodes.",
        ],
    );
    common_notes(&mut f);
    f.note("Oversized", "the input is longer than 170 bytes")
        .note("Trailing", "bytes follow a complete structure")
        .note("BadFlag", "the OPK flag is neither 0x00 nor 0x01")
        .note("WithOpk", "the bundle offers a one-time prekey")
        .note("WithoutOpk", "the bundle offers no one-time prekey")
        .note(
            "Unverified",
            "the bundle does not verify but is well formed",
        );
    let cases = [
        (&g.bundle_with_opk, "WithOpk", "with an OPK"),
        (&g.bundle_without_opk, "WithoutOpk", "without an OPK"),
    ];
    f.group("BundleTest", "valid encodings");
    for (m, flag, what) in cases {
        valid(
            &mut f,
            Structure::Bundle,
            m,
            &format!("a genuine bundle {what} ({} bytes)", m.len()),
            &["Valid", flag],
        );
        let mut bad_sig = m.clone();
        bad_sig[69] ^= 0x01;
        valid(
            &mut f,
            Structure::Bundle,
            &bad_sig,
            &format!("a bundle {what} whose signature does not verify still decodes"),
            &["Valid", "Unverified", flag],
        );
    }
    for (m, flag, what) in cases {
        f.group(
            "BundleTest",
            &format!("the bundle {what}, truncated at every length"),
        );
        for len in 0..m.len() {
            malformed(
                &mut f,
                Structure::Bundle,
                &m[..len],
                &format!("the bundle {what} cut to {len} of {} bytes", m.len()),
                &["Truncated", flag],
            );
        }
    }
    f.group(
        "BundleTest",
        "trailing bytes, oversized, versions, flags, keys",
    );
    let mut t = g.bundle_without_opk.clone();
    t.push(0);
    malformed(
        &mut f,
        Structure::Bundle,
        &t,
        "the bundle without an OPK followed by one byte",
        &["Trailing", "WithoutOpk"],
    );
    let mut t = g.bundle_without_opk.clone();
    t.extend_from_slice(&[0u8; 36]);
    malformed(
        &mut f,
        Structure::Bundle,
        &t,
        "the bundle without an OPK followed by 36 bytes (the size of an OPK entry)",
        &["Trailing", "WithoutOpk"],
    );
    let mut t = g.bundle_with_opk.clone();
    t.push(0);
    malformed(
        &mut f,
        Structure::Bundle,
        &t,
        "the bundle with an OPK followed by one byte (171 bytes)",
        &["Oversized", "WithOpk"],
    );
    for (m, flag, what) in cases {
        for v in [0x00u8, 0x02, 0xff] {
            let mut bad = m.clone();
            bad[0] = v;
            malformed(
                &mut f,
                Structure::Bundle,
                &bad,
                &format!("the bundle {what} with version byte {v:#04x}"),
                &["Version", flag],
            );
        }
        for v in [0x02u8, 0x80, 0xff] {
            let mut bad = m.clone();
            bad[133] = v;
            malformed(
                &mut f,
                Structure::Bundle,
                &bad,
                &format!("the bundle {what} with OPK flag {v:#04x}"),
                &["BadFlag", flag],
            );
        }
        for (kwhat, key) in non_canonical(&m[37..69]) {
            let mut bad = m.clone();
            bad[37..69].copy_from_slice(&key);
            malformed(
                &mut f,
                Structure::Bundle,
                &bad,
                &format!("the bundle {what} with SPK {kwhat}"),
                &["NonCanonicalKey", flag],
            );
        }
    }
    for (kwhat, key) in non_canonical(&g.bundle_with_opk[138..170]) {
        let mut bad = g.bundle_with_opk.clone();
        bad[138..170].copy_from_slice(&key);
        malformed(
            &mut f,
            Structure::Bundle,
            &bad,
            &format!("the bundle with its OPK {kwhat}"),
            &["NonCanonicalKey", "WithOpk"],
        );
    }
    f.finish()
}
