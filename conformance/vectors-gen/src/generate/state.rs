//! Area `state`: persisted session states, plain and sealed.

use std::path::PathBuf;

use sealwire::{ErrorClass, Session, StorageKey};

use super::party::{Convo, Setup};
use super::primitives::aead_seal;
use super::{FileBuilder, Scripted, b, err, hexv, ok, ok_bind, seed};
use crate::schema::{Step, VectorFile};
use sealwire_adapter::Request;

pub(super) fn files() -> Vec<(PathBuf, VectorFile)> {
    vec![round_trip(), corrupted(), sealed()]
}

const SOURCE: &str = "SPEC.md §9 (Persisted session state)";

fn start(label: &str) -> Convo {
    Convo::start(label, &Setup::default())
}

fn round_trip() -> (PathBuf, VectorFile) {
    let mut f = FileBuilder::new(
        "state/state_round_trip.json",
        "Sealwire v1 persisted state",
        SOURCE,
        &[
            "export_state gives SPEC.md's state bytes exactly; import_state restores a",
            "session that goes on exactly as the original would: every later message",
            "is byte-exact. States are taken at several points of a conversation.",
        ],
    );
    f.note("Fresh", "the state is taken right after the handshake")
        .note("SkippedKeys", "the state holds skipped message keys")
        .note(
            "EarlierKeys",
            "the state remembers earlier receiving ratchet keys",
        )
        .note(
            "Reexport",
            "the imported session exports the same bytes again",
        );
    f.group(
        "StateTest",
        "export, import, and go on with the imported session",
    );
    {
        let mut c = start("state/rt-alice-fresh");
        let s = c.export("alice");
        c.import("alice2", &s);
        let b0 = c.send("bob", b"b0");
        c.recv("alice2", &b0);
        let a1 = c.send("alice2", b"a1 from the restored session");
        c.recv("bob", &a1);
        f.valid(
            "Alice's state right after initiate (no receiving chain yet) round-trips; the restored session ratchets on Bob's reply",
            &["Fresh"],
            c.into_steps(),
        );
    }
    {
        let mut c = start("state/rt-bob-fresh");
        let s = c.export("bob");
        c.import("bob2", &s);
        c.export("bob2");
        let b0 = c.send("bob2", b"b0 from the restored session");
        c.recv("alice", &b0);
        f.valid(
            "Bob's state right after respond round-trips, exports the same bytes again, and sends",
            &["Fresh", "Reexport"],
            c.into_steps(),
        );
    }
    {
        let mut c = start("state/rt-skipped");
        let a1 = c.send("alice", b"a1");
        let a2 = c.send("alice", b"a2");
        let a3 = c.send("alice", b"a3");
        c.recv("bob", &a3);
        let s = c.export("bob");
        c.import("bob2", &s);
        c.count("bob2");
        c.recv("bob2", &a1);
        c.recv("bob2", &a2);
        c.count("bob2");
        f.valid(
            "a state holding two skipped keys round-trips: the restored session decrypts both late messages",
            &["SkippedKeys"],
            c.into_steps(),
        );
    }
    {
        let mut c = start("state/rt-turns");
        let mut late = Vec::new();
        for turn in 0..4 {
            let m0 = c.send("alice", &format!("alice {turn}.0").into_bytes());
            let m1 = c.send("alice", &format!("alice {turn}.1").into_bytes());
            c.recv("bob", &m1);
            late.push(m0);
            let r = c.send("bob", &format!("bob {turn}").into_bytes());
            c.recv("alice", &r);
        }
        let sa = c.export("alice");
        let sb = c.export("bob");
        c.import("alice2", &sa);
        c.import("bob2", &sb);
        c.export("alice2");
        c.export("bob2");
        for m in &late {
            c.recv("bob2", m);
        }
        let m = c.send("alice2", b"from restored Alice");
        c.recv("bob2", &m);
        let r = c.send("bob2", b"from restored Bob");
        c.recv("alice2", &r);
        f.valid(
            "after four turns (earlier ratchet keys and four skipped keys) both states round-trip and the restored sessions talk",
            &["SkippedKeys", "EarlierKeys", "Reexport"],
            c.into_steps(),
        );
    }
    f.finish()
}

fn import_step(state: &[u8]) -> (Step, ErrorClass) {
    let class = Session::from_bytes(state)
        .map(|_| ())
        .expect_err("a corrupted state is rejected")
        .class();
    (err(Request::ImportState { state: b(state) }, class), class)
}

/// Byte offsets of a state's variable part.
struct Layout {
    dhr_flag: usize,
    ckr_flag: usize,
    prev_count: usize,
    skipped_count: usize,
}

fn layout(state: &[u8]) -> Layout {
    let dhr_flag = 1 + 64 + 32 * 3 + 8;
    let mut at = dhr_flag;
    if state[at] == 1 {
        at += 32;
    }
    at += 1;
    let ckr_flag = at;
    if state[at] == 1 {
        at += 32;
    }
    at += 1 + 4;
    let prev_count = at;
    at += 1 + 32 * usize::from(state[prev_count]);
    Layout {
        dhr_flag,
        ckr_flag,
        prev_count,
        skipped_count: at,
    }
}

fn corrupted() -> (PathBuf, VectorFile) {
    let mut f = FileBuilder::new(
        "state/state_corrupted.json",
        "Sealwire v1 persisted state",
        SOURCE,
        &[
            "import_state rejects a corrupted state with the class state: truncated at",
            "any length, trailing bytes, an unknown version, invalid flags, a receiving",
            "chain without a ratchet key, too many earlier keys (more than 16), too many",
            "skipped keys (more than 2000), or a skipped key stored twice.",
        ],
    );
    f.note("Truncated", "the state ends early")
        .note("Trailing", "bytes follow a complete state")
        .note("Version", "the version byte is not 0x01")
        .note("BadFlag", "a presence flag is neither 0x00 nor 0x01")
        .note("Inconsistent", "fields contradict each other")
        .note("TooMany", "a count is over its limit");
    // A compact state (Alice right after initiate) and a rich one (Bob after
    // several turns, with skipped and earlier keys).
    let compact = start("state/corrupt-compact").export("alice");
    let rich = {
        let mut c = start("state/corrupt-rich");
        for turn in 0..3 {
            let _late = c.send("alice", &[turn]);
            let m = c.send("alice", &[turn, 1]);
            c.recv("bob", &m);
            let r = c.send("bob", &[turn]);
            c.recv("alice", &r);
        }
        c.export("bob")
    };
    let l = layout(&rich);
    assert_eq!(rich[l.dhr_flag], 1);
    assert_eq!(rich[l.ckr_flag], 1);
    assert!(rich[l.prev_count] >= 1);
    assert!(u16::from_be_bytes([rich[l.skipped_count], rich[l.skipped_count + 1]]) >= 1);

    f.group("StateTest", "the compact state truncated at every length");
    for len in 0..compact.len() {
        let (step, class) = import_step(&compact[..len]);
        assert_eq!(class, ErrorClass::State);
        f.invalid(
            &format!(
                "a {}-byte state cut to {len} bytes is rejected",
                compact.len()
            ),
            &["Truncated"],
            class,
            vec![step],
        );
    }
    f.group("StateTest", "the rich state cut at each field boundary");
    let mut cuts = vec![
        1,
        65,
        97,
        129,
        161,
        169,
        l.dhr_flag + 1,
        l.ckr_flag,
        l.ckr_flag + 1,
        l.prev_count,
        l.prev_count + 1,
        l.skipped_count,
        l.skipped_count + 1,
        l.skipped_count + 2,
        l.skipped_count + 2 + 36,
        rich.len() - 1,
    ];
    cuts.sort_unstable();
    cuts.dedup();
    for len in cuts {
        let (step, class) = import_step(&rich[..len]);
        assert_eq!(class, ErrorClass::State);
        f.invalid(
            &format!(
                "a {}-byte state with skipped and earlier keys cut to {len} bytes is rejected",
                rich.len()
            ),
            &["Truncated"],
            class,
            vec![step],
        );
    }
    f.group("StateTest", "corrupted fields");
    let mut cases: Vec<(String, Vec<u8>, &str)> = Vec::new();
    for extra in [1usize, 68] {
        let mut s = rich.clone();
        s.extend(std::iter::repeat_n(0u8, extra));
        cases.push((
            format!("the state followed by {extra} byte(s)"),
            s,
            "Trailing",
        ));
    }
    for v in [0x00u8, 0x02, 0xff] {
        let mut s = rich.clone();
        s[0] = v;
        cases.push((
            format!("the state with version byte {v:#04x}"),
            s,
            "Version",
        ));
    }
    for (name, at) in [("DHr", l.dhr_flag), ("CKr", l.ckr_flag)] {
        for v in [0x02u8, 0xff] {
            let mut s = rich.clone();
            s[at] = v;
            cases.push((
                format!("the state with its {name} presence flag {v:#04x}"),
                s,
                "BadFlag",
            ));
        }
    }
    {
        // A receiving chain key without a receiving ratchet key.
        let mut s = rich[..l.dhr_flag].to_vec();
        s.push(0);
        s.extend_from_slice(&rich[l.dhr_flag + 33..]);
        cases.push((
            "a state with a receiving chain key but no receiving ratchet key".into(),
            s,
            "Inconsistent",
        ));
    }
    {
        // 17 earlier receiving ratchet keys.
        let count = usize::from(rich[l.prev_count]);
        let mut s = rich[..l.prev_count].to_vec();
        s.push(17);
        for i in 0..17u8 {
            s.extend_from_slice(&seed(&format!("state/corrupt/prev-{i}")));
        }
        s.extend_from_slice(&rich[l.prev_count + 1 + 32 * count..]);
        cases.push((
            "a state listing 17 earlier receiving ratchet keys (at most 16)".into(),
            s,
            "TooMany",
        ));
    }
    for n in [2001u16, 0xffff] {
        let mut s = rich.clone();
        s[l.skipped_count..l.skipped_count + 2].copy_from_slice(&n.to_be_bytes());
        cases.push((
            format!("a state whose skipped-key count is {n} (at most 2000)"),
            s,
            "TooMany",
        ));
    }
    {
        // The first skipped entry stored twice.
        let count = u16::from_be_bytes([rich[l.skipped_count], rich[l.skipped_count + 1]]);
        let entries = l.skipped_count + 2;
        let mut s = rich[..l.skipped_count].to_vec();
        s.extend_from_slice(&(count + 1).to_be_bytes());
        s.extend_from_slice(&rich[entries..entries + 68]);
        s.extend_from_slice(&rich[entries..]);
        cases.push((
            "a state storing the same skipped key twice".into(),
            s,
            "Inconsistent",
        ));
    }
    {
        // A count one higher than the entries present.
        let count = u16::from_be_bytes([rich[l.skipped_count], rich[l.skipped_count + 1]]);
        let mut s = rich.clone();
        s[l.skipped_count..l.skipped_count + 2].copy_from_slice(&(count + 1).to_be_bytes());
        cases.push((
            "a state whose skipped-key count is one more than its entries".into(),
            s,
            "Truncated",
        ));
        let mut s = rich.clone();
        s[l.prev_count] += 1;
        cases.push((
            "a state whose earlier-key count is one more than its keys".into(),
            s,
            "Inconsistent",
        ));
    }
    for (what, s, flag) in cases {
        let (step, class) = import_step(&s);
        assert_eq!(class, ErrorClass::State, "{what}");
        f.invalid(&format!("{what} is rejected"), &[flag], class, vec![step]);
    }
    f.finish()
}

fn sealed() -> (PathBuf, VectorFile) {
    let mut f = FileBuilder::new(
        "state/state_sealed.json",
        "Sealwire v1 sealed state",
        SOURCE,
        &[
            "sealed = 0x01 || salt (32) || ChaCha20-Poly1305(key, nonce, aad = 0x01 ||",
            "salt, state) with key || nonce = HKDF-SHA256(salt, storage key, \"Sealwire",
            "State v1\", 44). seal_state with a given salt is byte-exact; open_state",
            "restores the session. A wrong key, any flipped bit, truncation or extension",
            "is rejected with the class state, and so is a well-sealed but corrupted state.",
        ],
    );
    f.note(
        "RoundTrip",
        "seal then open, and the opened session goes on",
    )
    .note("WrongKey", "opened with another storage key")
    .note("BitFlip", "one bit of the sealed state is flipped")
    .note("Truncated", "the sealed state is cut short")
    .note("Extended", "bytes are appended to the sealed state")
    .note(
        "CorruptInner",
        "authentic, but the state inside is corrupted",
    );
    let key = seed("state/sealed/storage-key");
    let salt = seed("state/sealed/salt");
    let seal_of = |c: &Convo, name: &str| {
        let mut rng = Scripted::new(&[&salt]);
        c.snapshot(name)
            .seal_state_with_rng(&StorageKey::from_bytes(key), &mut rng)
    };
    let seal_step = |name: &str, sealed: &[u8]| {
        ok(
            Request::SealState {
                session: name.into(),
                storage_key: b(&key),
                salt: b(&salt),
            },
            &[("sealed_state", hexv(sealed))],
        )
    };
    let open_err = |k: &[u8; 32], sealed: &[u8]| -> (Step, ErrorClass) {
        let class = Session::open_state(&StorageKey::from_bytes(*k), sealed)
            .map(|_| ())
            .expect_err("rejected")
            .class();
        (
            err(
                Request::OpenState {
                    storage_key: b(k),
                    sealed_state: b(sealed),
                },
                class,
            ),
            class,
        )
    };

    f.group("SealedStateTest", "seal with a fixed salt, open, go on");
    for (who, label) in [
        ("alice", "state/sealed-rt-alice"),
        ("bob", "state/sealed-rt-bob"),
    ] {
        let mut c = start(label);
        let a1 = c.send("alice", b"a1");
        c.recv("bob", &a1);
        let sealed = seal_of(&c, who);
        c.push(seal_step(who, &sealed));
        let opened = Session::open_state(&StorageKey::from_bytes(key), &sealed).expect("opens");
        c.push(ok_bind(
            Request::OpenState {
                storage_key: b(&key),
                sealed_state: b(&sealed),
            },
            "restored",
            &[],
        ));
        c.adopt("restored", opened);
        c.export("restored");
        let from = if who == "alice" { "bob" } else { "alice" };
        let m = c.send(from, b"to the restored session");
        c.recv("restored", &m);
        let r = c.send("restored", b"from the restored session");
        c.recv(from, &r);
        f.valid(
            &format!("{who}'s sealed state is byte-exact with the given salt; the opened session exports the same state and goes on"),
            &["RoundTrip"],
            c.into_steps(),
        );
    }

    let base = start("state/sealed-tamper");
    let sealed = seal_of(&base, "alice");
    f.group("SealedStateTest", "the wrong storage key");
    for (what, k) in [
        ("another storage key", seed("state/sealed/other-key")),
        ("the storage key with one bit flipped", {
            let mut k = key;
            k[0] ^= 1;
            k
        }),
        ("the salt used as the key", salt),
    ] {
        let (step, class) = open_err(&k, &sealed);
        assert_eq!(class, ErrorClass::State);
        f.invalid(
            &format!("the sealed state opened with {what} is rejected"),
            &["WrongKey"],
            class,
            vec![step],
        );
    }
    f.group(
        "SealedStateTest",
        "every byte of the sealed state, one bit flipped",
    );
    for pos in 0..sealed.len() {
        let mut bad = sealed.clone();
        bad[pos] ^= 0x01;
        let (step, class) = open_err(&key, &bad);
        assert_eq!(class, ErrorClass::State);
        let part = match pos {
            0 => "the version byte".to_string(),
            1..=32 => format!("salt byte {}", pos - 1),
            p if p < sealed.len() - 16 => format!("encrypted state byte {}", p - 33),
            p => format!("tag byte {}", p - (sealed.len() - 16)),
        };
        f.invalid(
            &format!("the sealed state with the low bit of {part} flipped is rejected"),
            &["BitFlip"],
            class,
            vec![step],
        );
    }
    f.group("SealedStateTest", "truncated and extended");
    for len in [0, 1, 32, 33, 48, 49, sealed.len() - 16, sealed.len() - 1] {
        let (step, class) = open_err(&key, &sealed[..len]);
        assert_eq!(class, ErrorClass::State);
        f.invalid(
            &format!(
                "the {}-byte sealed state cut to {len} bytes is rejected",
                sealed.len()
            ),
            &["Truncated"],
            class,
            vec![step],
        );
    }
    {
        let mut long = sealed.clone();
        long.push(0);
        let (step, class) = open_err(&key, &long);
        f.invalid(
            "the sealed state with one byte appended is rejected",
            &["Extended"],
            class,
            vec![step],
        );
    }
    f.group(
        "SealedStateTest",
        "authentic sealed states holding corrupted states",
    );
    let state = base.snapshot("alice").to_bytes().to_vec();
    let mut okm = [0u8; 44];
    hkdf::Hkdf::<sha2::Sha256>::new(Some(&salt), &key)
        .expand(sealwire::LABEL_STATE, &mut okm)
        .expect("44 bytes");
    let seal_raw = |inner: &[u8]| {
        let mut aad = vec![sealwire::SEALED_STATE_VERSION];
        aad.extend_from_slice(&salt);
        let mut out = aad.clone();
        out.extend_from_slice(&aead_seal(&okm[..32], &okm[32..], &aad, inner));
        out
    };
    assert_eq!(
        seal_raw(&state),
        sealed,
        "the generator's sealing matches the reference"
    );
    let mut v2 = state.clone();
    v2[0] = 2;
    let mut trailing = state.clone();
    trailing.push(0);
    for (what, inner) in [
        ("a truncated state", state[..state.len() - 1].to_vec()),
        ("a state with version byte 0x02", v2),
        ("a state with a trailing byte", trailing),
        ("an empty state", Vec::new()),
    ] {
        let (step, class) = open_err(&key, &seal_raw(&inner));
        assert_eq!(class, ErrorClass::State);
        f.invalid(
            &format!("an authentic sealed state holding {what} is rejected"),
            &["CorruptInner"],
            class,
            vec![step],
        );
    }
    f.finish()
}
