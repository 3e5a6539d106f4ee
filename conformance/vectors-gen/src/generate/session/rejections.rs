//! The session files about rejected messages: duplicates, tampering,
//! plaintext sizes and the exhausted counter.

use super::*;

pub(super) fn duplicates() -> (PathBuf, VectorFile) {
    let mut f = FileBuilder::new(
        "session/session_duplicates.json",
        "Sealwire v1 session",
        "SPEC.md §6.4 (Receiving), §6.5 (Earlier receiving ratchet keys)",
        &[
            "A message whose key was already used is rejected as duplicate and changes",
            "nothing: in the current chain, from a stored skipped key after it was used,",
            "and from an earlier chain. The next genuine message then decrypts. A",
            "replay from a chain older than the 16 remembered receiving ratchet keys",
            "fails authentication instead (decryption_failed, SPEC.md §6.5).",
        ],
    );
    f.note("InChain", "the replay is from the current receiving chain")
        .note("StoredKey", "the replayed message's key came from the skipped-key store")
        .note("EarlierChain", "the replay is from a receiving chain already replaced by a ratchet step")
        .note("InitialMessage", "the replay is the ratchet message inside the initial message")
        .note("BeyondMemory", "the replay is from a chain older than the 16 receiving ratchet keys a session remembers: it fails authentication instead (SPEC.md §6.5)")
        .note("OldestRemembered", "the replay is from the oldest of the 16 remembered receiving chains");
    f.group("SessionTest", "replays are rejected and change nothing");
    {
        let mut c = start("session/dup-chain");
        let a1 = c.send("alice", b"a1");
        let a2 = c.send("alice", b"a2");
        c.recv("bob", &a1);
        c.recv_err("bob", &a1, ErrorClass::Duplicate);
        c.recv("bob", &a2);
        c.recv_err("bob", &a1, ErrorClass::Duplicate);
        c.count("bob");
        f.invalid(
            "a message delivered again in its chain is a duplicate; the next one decrypts",
            &["InChain"],
            ErrorClass::Duplicate,
            c.into_steps(),
        );
    }
    {
        let mut c = start("session/dup-stored");
        let a1 = c.send("alice", b"a1");
        let a2 = c.send("alice", b"a2");
        let a3 = c.send("alice", b"a3");
        c.recv("bob", &a3);
        c.count("bob");
        c.recv("bob", &a1);
        c.recv_err("bob", &a1, ErrorClass::Duplicate);
        c.count("bob");
        c.recv("bob", &a2);
        c.count("bob");
        f.invalid(
            "a late message decrypted with its stored key is a duplicate the second time; the other stored key still works",
            &["StoredKey"],
            ErrorClass::Duplicate,
            c.into_steps(),
        );
    }
    {
        let mut c = start("session/dup-earlier");
        let a1 = c.send("alice", b"a1");
        c.recv("bob", &a1);
        let b0 = c.send("bob", b"b0");
        c.recv("alice", &b0);
        let c0 = c.send("alice", b"c0");
        c.recv("bob", &c0);
        c.recv_err("bob", &a1, ErrorClass::Duplicate);
        let b1 = c.send("bob", b"b1");
        c.recv("alice", &b1);
        c.recv_err("alice", &b0, ErrorClass::Duplicate);
        let c1 = c.send("alice", b"c1");
        c.recv("bob", &c1);
        f.invalid(
            "a message from a chain replaced by a ratchet step is a duplicate, on both sides",
            &["EarlierChain"],
            ErrorClass::Duplicate,
            c.into_steps(),
        );
    }
    {
        let mut c = start("session/dup-initial");
        let inner = c.initial[74..].to_vec();
        c.recv_err("bob", &inner, ErrorClass::Duplicate);
        let a1 = c.send("alice", b"a1");
        c.recv("bob", &a1);
        f.invalid(
            "the first ratchet message, replayed out of its initial message, is a duplicate",
            &["InitialMessage"],
            ErrorClass::Duplicate,
            c.into_steps(),
        );
    }
    {
        let mut c = start("session/dup-reply");
        let b0 = c.send("bob", b"b0");
        let b1 = c.send("bob", b"b1");
        c.recv("alice", &b1);
        c.recv("alice", &b0);
        c.recv_err("alice", &b0, ErrorClass::Duplicate);
        c.recv_err("alice", &b1, ErrorClass::Duplicate);
        c.count("alice");
        let a1 = c.send("alice", b"a1");
        c.recv("bob", &a1);
        f.invalid(
            "Bob's first two replies delivered out of order, then both again: each replay is a duplicate",
            &["StoredKey", "InChain"],
            ErrorClass::Duplicate,
            c.into_steps(),
        );
    }
    for back in [1usize, 15, 16, 17] {
        // Bob's receiving chains: one per Alice turn. Replay a message from
        // `back` chains before the current one.
        let mut c = start(&format!("session/dup-back-{back}"));
        let mut firsts = Vec::new();
        for turn in 0..=back {
            let m = c.send("alice", &pt("alice", turn));
            c.recv("bob", &m);
            firsts.push(m);
            let r = c.send("bob", &pt("bob", turn));
            c.recv("alice", &r);
        }
        let old = firsts[0].clone();
        let result = c.recv_any("bob", &old);
        let class = result.expect_err("a replay never decrypts");
        let m = c.send("alice", b"after the replay");
        c.recv("bob", &m);
        let flags: &[&str] = match back {
            17.. => &["EarlierChain", "BeyondMemory"],
            16 => &["EarlierChain", "OldestRemembered"],
            _ => &["EarlierChain"],
        };
        // SPEC.md §6.5: a remembered key is a duplicate; an older replay
        // falls through to a DH ratchet step and fails authentication.
        let expected = if back <= 16 {
            ErrorClass::Duplicate
        } else {
            ErrorClass::DecryptionFailed
        };
        assert_eq!(class, expected, "replay {back} chains back");
        f.invalid(
            &format!("a message from {back} receiving chain(s) back is rejected as {class}; the session goes on"),
            flags,
            class,
            c.into_steps(),
        );
    }
    f.finish()
}

pub(super) fn tampering() -> (PathBuf, VectorFile) {
    let mut f = FileBuilder::new(
        "session/session_tampering.json",
        "Sealwire v1 session",
        "SPEC.md §6.4 (Receiving), §7 (Sealing a message), §10 (Errors)",
        &[
            "Every field of a ratchet message is protected: a flipped bit anywhere, a",
            "truncated or extended message is rejected with its error class (wire,",
            "decryption_failed, duplicate, ratchet_limit or low_order_key as the field",
            "dictates) and changes nothing: the genuine message then decrypts.",
            "The message tampered with is Bob's first reply, which starts a new ratchet",
            "turn at Alice, unless the group says otherwise.",
        ],
    );
    f.note("HeaderBit", "one bit of the 41-byte header is flipped")
        .note("BodyByte", "one bit of the ciphertext or tag is flipped")
        .note("Truncated", "the message is cut short")
        .note("Extended", "bytes are appended to the message")
        .note("FieldValue", "a header field is set to a chosen value")
        .note("MidChain", "the message tampered with is the next one in the receiver's current chain (no ratchet step)");

    // One handshake, copied into every test: the tests differ only in the
    // message they tamper with.
    let base = {
        let mut c = start("session/tamper");
        let b0 = c.send("bob", b"reply");
        (c, b0)
    };
    let mid_base = {
        let mut c = start("session/tamper-mid");
        let a1 = c.send("alice", b"a1");
        (c, a1)
    };
    let field = |pos: usize| match pos {
        0 => "version".to_string(),
        1..=32 => format!("DHs byte {}", pos - 1),
        33..=36 => format!("PN byte {}", pos - 33),
        _ => format!("N byte {}", pos - 37),
    };

    f.group(
        "SessionTest",
        "every bit of the header of a message that starts a ratchet turn",
    );
    for bit in 0..41 * 8 {
        let (mut c, b0) = base.clone();
        let mut bad = b0.clone();
        bad[bit / 8] ^= 1 << (bit % 8);
        let class = c
            .recv_any("alice", &bad)
            .expect_err("a tampered header never decrypts");
        c.recv("alice", &b0);
        f.invalid(
            &format!("bit {} of header byte {} ({}) flipped: rejected with {class}, then the genuine message decrypts", bit % 8, bit / 8, field(bit / 8)),
            &["HeaderBit"],
            class,
            c.into_steps(),
        );
    }
    f.group(
        "SessionTest",
        "every header byte of a message in the current chain",
    );
    for pos in 0..41 {
        let (mut c, a1) = mid_base.clone();
        let mut bad = a1.clone();
        bad[pos] ^= 0x01;
        let class = c
            .recv_any("bob", &bad)
            .expect_err("a tampered header never decrypts");
        c.recv("bob", &a1);
        c.count("bob");
        f.invalid(
            &format!("low bit of header byte {pos} ({}) flipped in the next message of the chain: rejected with {class}", field(pos)),
            &["HeaderBit", "MidChain"],
            class,
            c.into_steps(),
        );
    }
    f.group("SessionTest", "every byte of ciphertext and tag");
    let (_, sample) = base.clone();
    for pos in 41..sample.len() {
        let (mut c, b0) = base.clone();
        let mut bad = b0.clone();
        bad[pos] ^= 0x80;
        c.recv_err("alice", &bad, ErrorClass::DecryptionFailed);
        c.recv("alice", &b0);
        let what = if pos < b0.len() - 16 {
            format!("ciphertext byte {}", pos - 41)
        } else {
            format!("tag byte {}", pos - (b0.len() - 16))
        };
        f.invalid(
            &format!(
                "top bit of {what} flipped: decryption_failed, then the genuine message decrypts"
            ),
            &["BodyByte"],
            ErrorClass::DecryptionFailed,
            c.into_steps(),
        );
    }
    f.group("SessionTest", "truncated at every length, and extended");
    for len in 0..sample.len() {
        let (mut c, b0) = base.clone();
        let class = c
            .recv_any("alice", &b0[..len])
            .expect_err("a truncated message never decrypts");
        c.recv("alice", &b0);
        f.invalid(
            &format!(
                "the {}-byte message cut to {len} bytes is rejected with {class}",
                b0.len()
            ),
            &["Truncated"],
            class,
            c.into_steps(),
        );
    }
    for extra in [1usize, 16] {
        let (mut c, b0) = base.clone();
        let mut long = b0.clone();
        long.extend(std::iter::repeat_n(0u8, extra));
        let class = c
            .recv_any("alice", &long)
            .expect_err("an extended message never decrypts");
        c.recv("alice", &b0);
        f.invalid(
            &format!("the message with {extra} zero byte(s) appended is rejected with {class}"),
            &["Extended"],
            class,
            c.into_steps(),
        );
    }
    f.group("SessionTest", "header fields set to chosen values");
    let set_u32 = |m: &[u8], at: usize, v: u32| {
        let mut m = m.to_vec();
        m[at..at + 4].copy_from_slice(&v.to_be_bytes());
        m
    };
    for (what, pick) in [
        ("N = 2^32 - 1", 0usize),
        ("N = 1001 (more than MAX_SKIP ahead)", 1),
        ("PN = 2^32 - 1", 2),
        ("PN = 1001", 3),
        ("version 0x02", 4),
        ("version 0x00", 5),
    ] {
        let (mut c, b0) = base.clone();
        let bad = match pick {
            0 => set_u32(&b0, 37, u32::MAX),
            1 => set_u32(&b0, 37, 1001),
            2 => set_u32(&b0, 33, u32::MAX),
            3 => set_u32(&b0, 33, 1001),
            4 => {
                let mut m = b0.clone();
                m[0] = 2;
                m
            }
            _ => {
                let mut m = b0.clone();
                m[0] = 0;
                m
            }
        };
        let class = c
            .recv_any("alice", &bad)
            .expect_err("a modified field never decrypts");
        c.recv("alice", &b0);
        f.invalid(
            &format!("Bob's first reply with {what} is rejected with {class}; the genuine one then decrypts"),
            &["FieldValue"],
            class,
            c.into_steps(),
        );
    }
    f.finish()
}

pub(super) fn plaintext_sizes() -> (PathBuf, VectorFile) {
    let mut f = FileBuilder::new(
        "session/session_plaintext_sizes.json",
        "Sealwire v1 session",
        "SPEC.md §7 (Sealing a message)",
        &[
            "Empty, small and large plaintexts in both directions: every message is",
            "exactly 57 bytes longer than its plaintext.",
        ],
    );
    f.note("Empty", "the plaintext is empty (a 57-byte message)")
        .note("Large", "the plaintext is at least 64 KiB");
    f.group("SessionTest", "plaintext sizes");
    {
        let setup = Setup {
            first: Vec::new(),
            ..Setup::default()
        };
        let mut c = Convo::start("session/size-empty", &setup);
        for i in 0..2 {
            let m = c.send("bob", b"");
            assert_eq!(m.len(), 57);
            c.recv("alice", &m);
            let m = c.send("alice", b"");
            c.recv("bob", &m);
            let _ = i;
        }
        f.valid(
            "empty plaintexts in both directions, the first message included: every message is 57 bytes",
            &["Empty"],
            c.into_steps(),
        );
    }
    {
        let mut c = start("session/size-small");
        for len in [1usize, 2, 15, 16, 17, 63, 64, 65, 255, 256, 1000] {
            let m = c.send(
                "bob",
                &crate::generate::seeded_bytes(&format!("session/size-small/{len}"), len),
            );
            assert_eq!(m.len(), len + 57);
            c.recv("alice", &m);
        }
        f.valid(
            "plaintexts of 1 to 1000 bytes across ChaCha20 and Poly1305 block boundaries",
            &[],
            c.into_steps(),
        );
    }
    {
        let mut c = start("session/size-large");
        let big = crate::generate::seeded_bytes("session/size-large/plaintext", 64 * 1024);
        let m = c.send("alice", &big);
        assert_eq!(m.len(), big.len() + 57);
        c.recv("bob", &m);
        f.valid(
            "a 64 KiB plaintext from Alice to Bob",
            &["Large"],
            c.into_steps(),
        );
    }
    {
        let mut c = start("session/size-too-large");
        let too_big = vec![0u8; sealwire::MAX_PLAINTEXT_LEN + 1];
        let class = c
            .snapshot("alice")
            .encrypt(&too_big)
            .expect_err("over the limit")
            .class();
        assert_eq!(class, ErrorClass::RatchetLimit);
        c.push(crate::generate::err(
            sealwire_adapter::Request::Encrypt {
                session: "alice".into(),
                plaintext: crate::generate::b(&too_big),
            },
            class,
        ));
        let m = c.send("alice", b"the next message is unaffected");
        c.recv("bob", &m);
        f.note(
            "TooLarge",
            "the plaintext is longer than MAX_PLAINTEXT_LEN = 1 MiB",
        );
        f.invalid(
            "encrypt refuses a plaintext of 1 MiB + 1 bytes (ratchet_limit) and changes nothing: the next message is exact",
            &["TooLarge"],
            class,
            c.into_steps(),
        );
    }
    f.finish()
}

pub(super) fn counter_exhausted() -> (PathBuf, VectorFile) {
    let mut f = FileBuilder::new(
        "session/session_counter_exhausted.json",
        "Sealwire v1 session",
        "SPEC.md §6.3 (Sending), §6.4 (Receiving), §9.1 (Plain state)",
        &[
            "The sending counter N never reaches 2^32 - 1: with Ns = 2^32 - 2 (set in",
            "an imported state) one more message is sent, the next encrypt is refused",
            "with ratchet_limit, and a receiver refuses a header with N = 2^32 - 1.",
            "The imported state is Alice's genuine state with only Ns changed.",
        ],
    );
    f.note("CounterLimit", "the sending counter is at its limit")
        .note(
            "State",
            "the session is restored from a state with a chosen counter",
        );
    f.group("SessionTest", "the sending counter's limit");
    let mut c = start("session/counter");
    let mut state = c.snapshot("alice").to_bytes().to_vec();
    // Ns: after version, AD, RK, DHs and CKs (SPEC.md §9.1).
    const NS: usize = 1 + 64 + 32 * 3;
    state[NS..NS + 4].copy_from_slice(&(u32::MAX - 1).to_be_bytes());
    c.import("alice2", &state);
    let last = c.send("alice2", b"N = 2^32 - 2");
    let class = c
        .snapshot("alice2")
        .encrypt(b"one too many")
        .expect_err("the counter is exhausted")
        .class();
    assert_eq!(class, ErrorClass::RatchetLimit);
    c.push(crate::generate::err(
        sealwire_adapter::Request::Encrypt {
            session: "alice2".into(),
            plaintext: crate::generate::b(b"one too many"),
        },
        class,
    ));
    // Bob would have to skip far more than MAX_SKIP keys for it.
    c.recv_err("bob", &last, ErrorClass::RatchetLimit);
    let mut forged = last.clone();
    forged[37..41].copy_from_slice(&u32::MAX.to_be_bytes());
    c.recv_err("bob", &forged, ErrorClass::RatchetLimit);
    let b0 = c.send("bob", b"Bob is unaffected");
    c.recv("alice2", &b0);
    f.invalid(
        "Ns = 2^32 - 2: one more message (N = 2^32 - 2) is sent, the next encrypt is refused; Bob refuses N = 2^32 - 2 (too far) and 2^32 - 1",
        &["CounterLimit", "State"],
        class,
        c.into_steps(),
    );
    f.finish()
}
