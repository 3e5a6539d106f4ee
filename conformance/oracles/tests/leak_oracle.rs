//! The leak oracle on the real crate (every public type's `Debug`, every
//! error's text, every output) and proof that each of its checks fires on a
//! deliberately leaking, test-only wrapper.

use core::fmt;

use sealwire::hazmat::{ChainKey, KeyPair, MessageKey, RootKey, SharedKey};
use sealwire::{
    Error, ErrorClass, HandshakeError, Header, InitialMessage, LimitError, PreKeyBundle,
    RatchetMessage, StateError, WireError, testing,
};
use sealwire_oracles::fixture::{self, parties};
use sealwire_oracles::{LeakKind, LeakScanner};
use sealwire_oracles::{Target, Violation};

fn scanner() -> LeakScanner {
    LeakScanner::with_base(&parties().scanner)
}

#[test]
fn fixture_knows_its_secrets() {
    let p = parties();
    let s = &p.scanner;
    let named = [
        ("Alice's identity seed", testing::identity_seed(&p.alice)),
        ("Bob's identity seed", testing::identity_seed(&p.bob)),
        ("storage key", p.storage_key),
        (
            "Alice's root key",
            *testing::session_secrets(&p.alice_session)[0],
        ),
        (
            "Bob's ratchet private key",
            *testing::session_secrets(&p.bob_session)[1],
        ),
        (
            "Bob's skipped message key",
            **testing::session_secrets(&p.bob_with_skipped)
                .last()
                .unwrap(),
        ),
    ];
    for (what, secret) in named {
        let leak = s.check_bytes("probe", &secret[7..19]).expect_err(what);
        assert_eq!(leak.kind, LeakKind::Output, "{what}");
    }
    for (message, plaintext) in p.to_bob.iter().chain(&p.to_alice) {
        assert!(s.check_bytes("probe", plaintext).is_err());
        s.check_bytes("message", message).unwrap();
    }
}

#[test]
fn no_public_type_debug_shows_a_secret() {
    let p = parties();
    let s = scanner();
    let seed = testing::identity_seed(&p.alice);
    let checks: Vec<(&str, String)> = vec![
        ("IdentityKeyPair", format!("{:?}", p.alice)),
        ("IdentityPublicKey", format!("{:?}", p.alice.public())),
        ("SignedPreKey", format!("{:#?}", p.signed_prekey)),
        ("OneTimePreKey", format!("{:#?}", p.one_time_prekey)),
        ("InMemoryPreKeyStore", format!("{:#?}", p.store)),
        (
            "PreKeyBundle",
            format!("{:?}", PreKeyBundle::from_bytes(&p.bundle).unwrap()),
        ),
        ("Session (Alice)", format!("{:#?}", p.alice_session)),
        ("Session (Bob)", format!("{:#?}", p.bob_with_skipped)),
        ("KeyPair", format!("{:?}", KeyPair::from_secret_bytes(seed))),
        ("RootKey", format!("{:?}", RootKey::from_bytes(seed))),
        ("ChainKey", format!("{:?}", ChainKey::from_bytes(seed))),
        ("MessageKey", format!("{:?}", MessageKey::from_bytes(seed))),
        ("SharedKey", format!("{:?}", SharedKey::from_bytes(seed))),
        ("StorageKey", format!("{:?}", p.storage_key())),
        (
            "Header",
            format!("{:?}", Header::decode(&p.to_bob[0].0[..41]).unwrap()),
        ),
        (
            "RatchetMessage",
            format!("{:?}", RatchetMessage::decode(&p.to_bob[0].0).unwrap()),
        ),
        (
            "InitialMessage",
            format!("{:?}", InitialMessage::decode(&p.initial).unwrap()),
        ),
    ];
    for (name, text) in checks {
        s.check_text(LeakKind::Debug, name, &text)
            .unwrap_or_else(|leak| panic!("{leak}"));
    }
}

#[test]
fn no_error_text_shows_a_secret() {
    let s = scanner();
    let errors = [
        Error::Wire(WireError::Truncated),
        Error::Wire(WireError::InvalidField("opk_flag")),
        Error::Wire(WireError::UnsupportedVersion(7)),
        Error::Handshake(HandshakeError::BadSignature),
        Error::Handshake(HandshakeError::UnknownOneTimePreKey(100)),
        Error::LowOrderKey,
        Error::RatchetLimit(LimitError::TooManySkipped { requested: 1001 }),
        Error::Duplicate,
        Error::DecryptionFailed,
        Error::State(StateError::AuthenticationFailed),
        Error::State(StateError::Corrupted("dhr_flag")),
    ];
    for e in &errors {
        s.check_error("error", e)
            .unwrap_or_else(|leak| panic!("{leak}"));
    }
    assert_eq!(errors.len(), 11);
    assert!(
        ErrorClass::ALL
            .iter()
            .all(|c| errors.iter().any(|e| e.class() == *c))
    );
}

/// A deliberately leaking wrapper around a session: TEST-ONLY. Each knob
/// makes one kind of output carry a secret.
struct LeakySession {
    inner: sealwire::Session,
    leak_in_message: bool,
    leak_in_debug: bool,
    leak_in_error: bool,
}

impl LeakySession {
    fn root_key(&self) -> [u8; 32] {
        *testing::session_secrets(&self.inner)[0]
    }

    fn encrypt(&mut self, pt: &[u8]) -> Vec<u8> {
        let rk = self.root_key();
        let mut out = self.inner.encrypt(pt).unwrap();
        if self.leak_in_message {
            // A "debug trailer" with a key in it.
            out.extend_from_slice(&rk[4..20]);
        }
        out
    }

    fn decrypt_error(&mut self, message: &[u8]) -> String {
        let rk = self.root_key();
        let err = self
            .inner
            .decrypt_with_rng(message, &mut fixture::FixtureRng::from_seed(1))
            .unwrap_err();
        if self.leak_in_error {
            let hex: String = rk.iter().map(|b| format!("{b:02X}")).collect();
            format!("{err} (root key {hex})")
        } else {
            err.to_string()
        }
    }
}

impl fmt::Debug for LeakySession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.leak_in_debug {
            let secrets = testing::session_secrets(&self.inner);
            // The sending chain key, as `Debug` prints byte arrays.
            write!(f, "LeakySession {{ chain: {:?} }}", &secrets[2][..])
        } else {
            write!(f, "LeakySession {{ inner: {:?} }}", self.inner)
        }
    }
}

fn leaky(message: bool, debug: bool, error: bool) -> LeakySession {
    LeakySession {
        inner: sealwire::Session::from_bytes(&parties().bob_session.to_bytes())
            .expect("a session restores from its own bytes"),
        leak_in_message: message,
        leak_in_debug: debug,
        leak_in_error: error,
    }
}

fn scanner_for(session: &LeakySession) -> LeakScanner {
    let mut s = scanner();
    fixture::register_session(&mut s, "leaky session", &session.inner);
    s
}

#[test]
fn output_check_fires_on_a_leaking_message() {
    let mut clean = leaky(false, false, false);
    let s = scanner_for(&clean);
    let message = clean.encrypt(b"hello there, this is fine");
    s.check_bytes("message", &message).unwrap();

    let mut bad = leaky(true, false, false);
    let s = scanner_for(&bad);
    let message = bad.encrypt(b"hello there, this is fine");
    let leak = s.check_bytes("message", &message).unwrap_err();
    assert_eq!(leak.kind, LeakKind::Output);
    assert!(leak.secret.contains("session"), "{}", leak.secret);
}

#[test]
fn output_check_fires_on_plaintext_in_a_message() {
    let s = {
        let mut s = scanner();
        s.add_plaintext("plaintext", b"attack at dawn, bring snacks");
        s
    };
    let mut message = parties().to_bob[0].0.clone();
    message.extend_from_slice(b"bring snacks");
    assert_eq!(
        s.check_bytes("m", &message).unwrap_err().secret,
        "plaintext"
    );
}

#[test]
fn debug_check_fires_on_a_leaking_debug() {
    let clean = leaky(false, false, false);
    scanner_for(&clean)
        .check_debug("Debug of LeakySession", &clean)
        .unwrap();
    let bad = leaky(false, true, false);
    let leak = scanner_for(&bad)
        .check_debug("Debug of LeakySession", &bad)
        .unwrap_err();
    assert_eq!(leak.kind, LeakKind::Debug);
}

#[test]
fn error_text_check_fires_on_a_leaking_error() {
    let tampered = {
        let mut m = parties().to_bob[0].0.clone();
        let last = m.len() - 1;
        m[last] ^= 1;
        m
    };
    let mut clean = leaky(false, false, false);
    let s = scanner_for(&clean);
    let text = clean.decrypt_error(&tampered);
    s.check_text(LeakKind::ErrorText, "error", &text).unwrap();
    let mut bad = leaky(false, false, true);
    let s = scanner_for(&bad);
    let text = bad.decrypt_error(&tampered);
    let leak = s
        .check_text(LeakKind::ErrorText, "error", &text)
        .unwrap_err();
    assert_eq!(leak.kind, LeakKind::ErrorText);
    assert!(leak.at.contains("hex"), "{}", leak.at);
}

#[test]
fn oracles_accept_the_fixture_material() {
    let p = parties();
    for (target, data) in [
        (Target::DecodeWire, p.initial.clone()),
        (Target::DecodeWire, p.bundle.clone()),
        (Target::Bundle, vec![1]),
        (Target::Respond, vec![1]),
        (Target::Respond, vec![2]),
        (Target::Decrypt, [&[0u8][..], &p.to_bob[2].0].concat()),
        (Target::Decrypt, [&[5u8][..], &p.to_alice[1].0].concat()),
        (Target::StateRestore, vec![1]),
        (Target::StateRestore, vec![4]),
    ] {
        if let Err(v) = target.run(&data) {
            panic!("{}: {v}", target.name());
        }
    }
}

#[test]
fn conversation_schedules_pass() {
    for (name, ops) in sealwire_oracles::seeds::schedules() {
        if let Err(v) = sealwire_oracles::conversation::run_schedule(&ops) {
            panic!("schedule {name}: {v}");
        }
    }
}

#[test]
fn a_violation_names_its_oracle() {
    let v = Violation::Broken {
        target: "decrypt",
        what: "a forged message of 60 bytes decrypted".into(),
    };
    assert_eq!(
        v.to_string(),
        "decrypt: a forged message of 60 bytes decrypted"
    );
}
