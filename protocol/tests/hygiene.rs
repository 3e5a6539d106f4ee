//! Secret hygiene: no secret bytes in any `Debug` output, in error text or
//! on the wire; no plaintext in error text; secret types are not `Copy`.

mod common;

use core::marker::PhantomData;

use common::{open, pair, seeded};
use rand_core::Rng;
use sealwire::hazmat::{ChainKey, KeyPair, MessageKey, RootKey, SharedKey};
use sealwire::testing;
use sealwire::{
    Error, ErrorClass, IdentityKeyPair, InMemoryPreKeyStore, OneTimePreKey, PreKeyBundle, Session,
    SignedPreKey, StorageKey, initiate_with_rng, respond_with_rng,
};
use sha2::{Digest, Sha512};

/// The ways an 8-byte window of a secret could show up in text: raw bytes,
/// contiguous lower- or upper-case hex, and the element lists that `Debug`
/// of a byte array prints with each integer format (`{:?}`, `{:x?}`,
/// `{:02x?}`, `{:#04x?}`, upper case alike).
fn renderings(window: &[u8]) -> Vec<Vec<u8>> {
    let lower: String = window.iter().map(|b| format!("{b:02x}")).collect();
    let upper = lower.to_uppercase();
    let element_formats: [fn(u8) -> String; 7] = [
        |b| format!("{b}"),
        |b| format!("{b:x}"),
        |b| format!("{b:02x}"),
        |b| format!("{b:X}"),
        |b| format!("{b:02X}"),
        |b| format!("{b:#04x}"),
        |b| format!("{b:#04X}"),
    ];
    let mut out = vec![window.to_vec(), lower.into_bytes(), upper.into_bytes()];
    for f in element_formats {
        let list: Vec<String> = window.iter().map(|&b| f(b)).collect();
        out.push(list.join(", ").into_bytes());
    }
    out
}

fn assert_no_window(haystack: &[u8], secrets: &[(String, Vec<u8>)], what: &str) {
    for (name, secret) in secrets {
        for (i, window) in secret.windows(8).enumerate() {
            for needle in renderings(window) {
                assert!(
                    !haystack.windows(needle.len()).any(|w| w == needle),
                    "{what} shows bytes {i}..{} of {name}",
                    i + 8
                );
            }
        }
    }
}

fn assert_debug_clean<T: core::fmt::Debug>(value: &T, secrets: &[(String, Vec<u8>)], what: &str) {
    for text in [format!("{value:?}"), format!("{value:#?}")] {
        assert_no_window(text.as_bytes(), secrets, what);
    }
}

fn random32(rng: &mut impl Rng) -> [u8; 32] {
    let mut b = [0u8; 32];
    rng.fill_bytes(&mut b);
    b
}

fn named(name: &str, bytes: &[u8]) -> (String, Vec<u8>) {
    (name.to_string(), bytes.to_vec())
}

/// The secrets of an identity: its seed and the SHA-512 expansion
/// (the X25519 scalar is its first half).
fn identity_secrets(seed: [u8; 32]) -> Vec<(String, Vec<u8>)> {
    vec![
        named("identity seed", &seed),
        named("SHA-512(seed)", &Sha512::digest(seed)),
    ]
}

#[test]
fn debug_of_every_secret_holding_type_shows_no_secret_bytes() {
    let seed = 601;
    let mut rng = seeded(seed);
    let id_seed = random32(&mut rng);
    let identity = IdentityKeyPair::from_seed(id_seed);
    assert_eq!(testing::identity_seed(&identity), id_seed);
    assert_debug_clean(&identity, &identity_secrets(id_seed), "IdentityKeyPair");

    let s = random32(&mut rng);
    let kp = KeyPair::from_secret_bytes(s);
    assert_eq!(testing::key_pair_secret(&kp), s);
    assert_debug_clean(&kp, &[named("key pair secret", &s)], "KeyPair");

    let spk_secret = random32(&mut rng);
    let spk = SignedPreKey::new(3, spk_secret, &identity);
    let mut all = identity_secrets(id_seed);
    all.push(named("signed prekey secret", &spk_secret));
    assert_debug_clean(&spk, &all, "SignedPreKey");

    let opk_secret = random32(&mut rng);
    let opk = OneTimePreKey::new(4, opk_secret);
    all.push(named("one-time prekey secret", &opk_secret));
    assert_debug_clean(&opk, &all, "OneTimePreKey");
    let mut store = InMemoryPreKeyStore::new();
    store.add_signed_prekey(spk);
    store.add_one_time_prekey(opk);
    assert_debug_clean(&store, &all, "InMemoryPreKeyStore");

    let k = random32(&mut rng);
    let secret = [named("symmetric key", &k)];
    assert_debug_clean(&ChainKey::from_bytes(k), &secret, "ChainKey");
    assert_debug_clean(&MessageKey::from_bytes(k), &secret, "MessageKey");
    assert_debug_clean(&RootKey::from_bytes(k), &secret, "RootKey");
    assert_debug_clean(&StorageKey::from_bytes(k), &secret, "StorageKey");
    assert_debug_clean(&SharedKey::from_bytes(k), &secret, "SharedKey");
}

fn session_secrets(session: &Session) -> Vec<(String, Vec<u8>)> {
    testing::session_secrets(session)
        .iter()
        .enumerate()
        .map(|(i, s)| named(&format!("session secret {i}"), &s[..]))
        .collect()
}

#[test]
fn debug_of_sessions_with_skipped_keys_shows_no_secret_bytes() {
    let seed = 602;
    let mut p = pair(seed, true);
    let msgs: Vec<_> = (0..5).map(|_| p.alice.encrypt(b"m").unwrap()).collect();
    open(&mut p.bob, &msgs[4], &mut p.rng, "skip four");
    let reply = p.bob.encrypt(b"r").unwrap();
    open(&mut p.alice, &reply, &mut p.rng, "reply");
    assert_eq!(p.bob.skipped_keys_len(), 4, "seed {seed}");
    for (name, s) in [("Alice", &p.alice), ("Bob", &p.bob)] {
        let secrets = session_secrets(s);
        assert!(secrets.len() >= 4, "seed {seed}");
        assert_debug_clean(s, &secrets, &format!("seed {seed}: {name}'s Session"));
    }
}

/// Runs failing operations of every error class with a distinctive
/// plaintext in play and returns the errors.
fn errors_of_every_class(seed: u64, plaintext: &[u8]) -> (Vec<Error>, Vec<(String, Vec<u8>)>) {
    let mut rng = seeded(seed);
    let alice = IdentityKeyPair::generate_with_rng(&mut rng);
    let mut bob = common::responder(&mut rng, true);
    let (mut a, initial) = initiate_with_rng(&alice, &bob.bundle, plaintext, &mut rng).unwrap();
    let mut errors = Vec::new();
    let mut bad = initial.clone();
    let last = bad.len() - 1;
    bad[last] ^= 1;
    errors.extend(respond_with_rng(&bob.identity, &mut bob.store, &bad, &mut rng).err());
    let (mut b, _) = respond_with_rng(&bob.identity, &mut bob.store, &initial, &mut rng).unwrap();
    let m = a.encrypt(plaintext).unwrap();
    errors.extend(b.decrypt_with_rng(&m[..m.len() - 1], &mut rng).err()); // decryption_failed
    errors.extend(b.decrypt_with_rng(&m[..20], &mut rng).err()); // wire
    open(&mut b, &m, &mut rng, "genuine");
    errors.extend(b.decrypt_with_rng(&m, &mut rng).err()); // duplicate
    let mut far = a.encrypt(plaintext).unwrap();
    far[37..41].copy_from_slice(&5000u32.to_be_bytes());
    errors.extend(b.decrypt_with_rng(&far, &mut rng).err()); // ratchet_limit
    let mut low = m.clone();
    low[1..33].fill(0);
    errors.extend(b.decrypt_with_rng(&low, &mut rng).err()); // low_order_key
    errors.extend(respond_with_rng(&bob.identity, &mut bob.store, &initial, &mut rng).err());
    let state = b.to_bytes();
    errors.extend(Session::from_bytes(&state[..state.len() - 1]).err()); // state
    errors.extend(Session::open_state(&StorageKey::from_bytes([9; 32]), &state).err());
    let mut secrets = session_secrets(&a);
    secrets.extend(session_secrets(&b));
    secrets.push(named("plaintext", plaintext));
    (errors, secrets)
}

#[test]
fn error_display_and_debug_show_no_plaintext_or_secret() {
    let seed = 603;
    let plaintext = b"TOP SECRET PLAINTEXT: the eagle lands at noon";
    let (errors, secrets) = errors_of_every_class(seed, plaintext);
    let classes: Vec<ErrorClass> = errors.iter().map(Error::class).collect();
    for class in ErrorClass::ALL {
        assert!(
            classes.contains(&class),
            "seed {seed}: no {class} error produced"
        );
    }
    for e in &errors {
        for text in [e.to_string(), format!("{e:?}"), format!("{e:#?}")] {
            assert_no_window(
                text.as_bytes(),
                &secrets,
                &format!("seed {seed}: error {text}"),
            );
        }
    }
    // A failed authentication says only that decryption failed.
    let failed = errors
        .iter()
        .find(|e| e.class() == ErrorClass::DecryptionFailed)
        .unwrap();
    assert_eq!(failed.to_string(), "decryption failed");
}

#[test]
fn wire_encodings_carry_no_secret_bytes() {
    let seed = 604;
    let mut rng = seeded(seed);
    let alice_seed = random32(&mut rng);
    let bob_seed = random32(&mut rng);
    let (spk_secret, opk_secret) = (random32(&mut rng), random32(&mut rng));
    let alice = IdentityKeyPair::from_seed(alice_seed);
    let bob = IdentityKeyPair::from_seed(bob_seed);
    let spk = SignedPreKey::new(1, spk_secret, &bob);
    let opk = OneTimePreKey::new(2, opk_secret);
    let bundle = PreKeyBundle::new(&bob, &spk, Some(&opk));
    let mut store = InMemoryPreKeyStore::new();
    store.add_signed_prekey(spk);
    store.add_one_time_prekey(opk);
    let (mut a, initial) = initiate_with_rng(&alice, &bundle, b"hi", &mut rng).unwrap();
    let (mut b, _) = respond_with_rng(&bob, &mut store, &initial, &mut rng).unwrap();
    let mut wire = vec![bundle.to_bytes(), initial];
    for _ in 0..3 {
        let m = b.encrypt(b"turn").unwrap();
        open(&mut a, &m, &mut rng, "turn");
        let n = a.encrypt(b"turn").unwrap();
        open(&mut b, &n, &mut rng, "turn");
        wire.extend([m, n]);
    }
    let mut secrets = identity_secrets(alice_seed);
    secrets.extend(identity_secrets(bob_seed));
    secrets.push(named("spk", &spk_secret));
    secrets.push(named("opk", &opk_secret));
    secrets.extend(session_secrets(&a));
    secrets.extend(session_secrets(&b));
    for (i, bytes) in wire.iter().enumerate() {
        // Raw bytes only: wire data is binary, not text.
        for (name, secret) in &secrets {
            for window in secret.windows(8) {
                let hit = bytes.windows(8).any(|w| w == window);
                assert!(!hit, "seed {seed}: wire item {i} shows {name}");
            }
        }
    }
}

/// Autoref specialization: `(&Probe::<T>).is_copy()` resolves to the
/// `T: Copy` impl when it applies, else to the fallback one level of
/// reference further. A compile-time `!Copy` assertion is not expressible
/// on stable Rust without a helper crate, so this runtime probe checks it,
/// with `Copy` types as controls so that the probe itself can fail.
struct Probe<T>(PhantomData<T>);

trait ViaCopy {
    fn is_copy(&self) -> bool {
        true
    }
}
impl<T: Copy> ViaCopy for Probe<T> {}

trait ViaFallback {
    fn is_copy(&self) -> bool {
        false
    }
}
impl<T> ViaFallback for &Probe<T> {}

macro_rules! is_copy {
    ($t:ty) => {
        (&Probe::<$t>(PhantomData)).is_copy()
    };
}

#[test]
fn secret_types_are_not_copy() {
    assert!(is_copy!(sealwire::PublicKey), "control: PublicKey is Copy");
    assert!(is_copy!(sealwire::IdentityPublicKey), "control");
    assert!(is_copy!([u8; 32]), "control");
    let secret_types = [
        ("IdentityKeyPair", is_copy!(IdentityKeyPair)),
        ("KeyPair", is_copy!(KeyPair)),
        ("SignedPreKey", is_copy!(SignedPreKey)),
        ("OneTimePreKey", is_copy!(OneTimePreKey)),
        ("ChainKey", is_copy!(ChainKey)),
        ("MessageKey", is_copy!(MessageKey)),
        ("RootKey", is_copy!(RootKey)),
        ("SharedKey", is_copy!(SharedKey)),
        ("StorageKey", is_copy!(StorageKey)),
        ("Session", is_copy!(Session)),
        ("InMemoryPreKeyStore", is_copy!(InMemoryPreKeyStore)),
    ];
    for (name, copy) in secret_types {
        assert!(!copy, "{name} must not be Copy");
    }
}

#[test]
fn leak_check_catches_every_rendering_it_looks_for() {
    // Control: the checker used above must see a leak in each form.
    let secret = [named(
        "k",
        &(0u8..32).map(|i| i * 7 + 1).collect::<Vec<_>>(),
    )];
    let window = &secret[0].1[10..18];
    for leak in renderings(window) {
        let mut text = b"prefix ".to_vec();
        text.extend_from_slice(&leak);
        let caught = std::panic::catch_unwind(|| assert_no_window(&text, &secret, "control"));
        assert!(
            caught.is_err(),
            "missed {:?}",
            String::from_utf8_lossy(&leak)
        );
    }
    assert_no_window(b"nothing to see here", &secret, "control");
}

/// `Debug` is useful as well as clean: public keys print as their full hex
/// (so a log can name a peer's key), the secret half of a pair as
/// `<redacted>`.
#[test]
fn debug_names_public_keys_in_full_hex_and_redacts_secrets() {
    let hex = |bytes: &[u8]| -> String { bytes.iter().map(|b| format!("{b:02x}")).collect() };
    let pair = KeyPair::from_secret_bytes([7; 32]);
    let public = hex(pair.public().as_bytes());
    assert_eq!(
        format!("{:?}", pair.public()),
        format!("PublicKey({public})")
    );
    assert_eq!(
        format!("{pair:?}"),
        format!("KeyPair {{ public: PublicKey({public}), secret: \"<redacted>\" }}")
    );
    let identity = IdentityKeyPair::from_seed([9; 32]);
    let identity_public = hex(identity.public().as_bytes());
    assert_eq!(
        format!("{:?}", identity.public()),
        format!("IdentityPublicKey({identity_public})")
    );
    assert_eq!(
        format!("{identity:?}"),
        format!(
            "IdentityKeyPair {{ public: IdentityPublicKey({identity_public}), seed: \"<redacted>\" }}"
        )
    );
}
