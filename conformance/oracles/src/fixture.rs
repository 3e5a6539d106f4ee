//! Deterministic protocol material shared by the oracles: two parties, a
//! bundle, an established pair of sessions and a few authentic messages,
//! all from fixed seeds, with a [`LeakScanner`] that knows every secret in
//! it. Built once per process ([`parties`]) so that fuzz targets only clone.

use std::convert::Infallible;
use std::sync::OnceLock;

use rand_chacha::ChaCha20Rng;
use rand_core::{SeedableRng, TryCryptoRng, TryRng};
use sealwire::hazmat::{KeyPair, MessageKey};
use sealwire::{
    IdentityKeyPair, InMemoryPreKeyStore, OneTimePreKey, PreKeyBundle, Session, SignedPreKey,
    StorageKey, testing,
};
use zeroize::Zeroizing;

use super::freed;
use super::leak::LeakScanner;

/// A seeded ChaCha20 generator whose next outputs can be looked at before
/// the library draws them, so that the oracles know (and register) every
/// ephemeral and ratchet private key before it exists.
#[derive(Clone, Debug)]
pub struct FixtureRng {
    inner: ChaCha20Rng,
}

impl FixtureRng {
    /// The generator for `seed`.
    pub fn from_seed(seed: u64) -> Self {
        Self {
            inner: ChaCha20Rng::seed_from_u64(seed),
        }
    }

    /// The next `n` 32-byte draws, without drawing them.
    pub fn peek_keys(&self, n: usize) -> Vec<Zeroizing<[u8; 32]>> {
        let mut ahead = self.inner.clone();
        (0..n)
            .map(|_| {
                let mut k = Zeroizing::new([0u8; 32]);
                ahead.fill_bytes(&mut *k);
                k
            })
            .collect()
    }

    /// Draws 32 bytes.
    pub fn key(&mut self) -> [u8; 32] {
        let mut k = [0u8; 32];
        self.inner.fill_bytes(&mut k);
        k
    }
}

impl TryRng for FixtureRng {
    type Error = Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        self.inner.try_next_u32()
    }

    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        self.inner.try_next_u64()
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        self.inner.try_fill_bytes(dst)
    }
}

impl TryCryptoRng for FixtureRng {}

use rand_core::Rng as _;

/// Registers every secret `session` holds right now (RK, DHs private, CKs,
/// CKr, the next message keys, skipped keys) and the AEAD keys the message
/// keys expand to, labelled `"<party>: <what>"`.
pub fn register_session(scanner: &mut LeakScanner, party: &str, session: &Session) {
    let secrets = freed::paused(|| testing::session_secrets(session));
    let has_receiving_chain = secrets.len() >= 6 && secrets.len() - 6 == session.skipped_keys_len();
    for (i, secret) in secrets.iter().enumerate() {
        let what = match (i, has_receiving_chain) {
            (0, _) => "root key",
            (1, _) => "ratchet private key",
            (2, _) => "sending chain key",
            (3, _) => "next sending message key",
            (4, true) => "receiving chain key",
            (5, true) => "next receiving message key",
            _ => "skipped message key",
        };
        // Most of a session's secrets do not change from one call to the
        // next (RK, DHs): register only new ones.
        if scanner.knows_prefix(&secret[..]) {
            continue;
        }
        scanner.add_secret(format!("{party}: {what}"), &secret[..]);
        if what.ends_with("message key") {
            let (aead_key, _nonce) =
                freed::paused(|| testing::message_aead_key(&MessageKey::from_bytes(**secret)));
            scanner.add_secret(format!("{party}: AEAD key of the {what}"), &aead_key);
        }
    }
    freed::paused(move || drop(secrets));
}

/// Registers the next `n` draws of `rng` (future ephemeral/ratchet keys).
pub fn register_draws(scanner: &mut LeakScanner, rng: &FixtureRng, n: usize) {
    let keys = freed::paused(|| rng.peek_keys(n));
    for key in &keys {
        scanner.add_secret("private key drawn from the generator", &key[..]);
    }
    // Iterating by value would free the vector's block holding bit copies
    // of the keys (moved out, wiped only where they were moved to).
    freed::paused(move || drop(keys));
}

/// A plaintext of `len` bytes that looks random, fixed by `id`: the leak
/// oracle needs plaintexts that cannot occur in outputs by chance.
pub fn plaintext(id: u64, len: usize) -> Vec<u8> {
    let mut rng = ChaCha20Rng::seed_from_u64(0x5ea1_0000_0000_0000 ^ id);
    let mut out = vec![0u8; len];
    rng.fill_bytes(&mut out);
    out
}

/// The fixed protocol material. See the module documentation.
#[derive(Debug)]
pub struct Parties {
    /// Alice, the initiator.
    pub alice: IdentityKeyPair,
    /// Bob, the responder.
    pub bob: IdentityKeyPair,
    /// Bob's signed prekey (id 1).
    pub signed_prekey: SignedPreKey,
    /// Bob's one-time prekey (id 100), used by the initial message.
    pub one_time_prekey: OneTimePreKey,
    /// Bob's bundle with the one-time prekey, encoded.
    pub bundle: Vec<u8>,
    /// Bob's bundle without a one-time prekey, encoded.
    pub bundle_without_opk: Vec<u8>,
    /// Bob's prekey store before he responds: the signed prekey and the
    /// one-time prekeys 100 and 101.
    pub store: InMemoryPreKeyStore,
    /// Alice's initial message (uses OPK 100).
    pub initial: Vec<u8>,
    /// Its plaintext.
    pub initial_plaintext: Vec<u8>,
    /// An initial message to the bundle without a one-time prekey.
    pub initial_without_opk: Vec<u8>,
    /// Alice's session after sending [`Parties::to_bob`].
    pub alice_session: Session,
    /// Bob's session after responding and sending [`Parties::to_alice`].
    pub bob_session: Session,
    /// Authentic messages Alice -> Bob (N = 1, 2, 3 of her first chain),
    /// with their plaintexts: each decrypts once on `bob_session`.
    pub to_bob: Vec<(Vec<u8>, Vec<u8>)>,
    /// Authentic messages Bob -> Alice (N = 0, 1 of his first chain).
    pub to_alice: Vec<(Vec<u8>, Vec<u8>)>,
    /// The storage key of the sealed states.
    pub storage_key: [u8; 32],
    /// `bob_session` after receiving `to_bob[2]` only: one skipped key.
    pub bob_with_skipped: Session,
    /// Every secret and plaintext above.
    pub scanner: LeakScanner,
}

/// The seed of every fixture draw.
pub const FIXTURE_SEED: u64 = 0x5ea1_5eed;

fn build() -> Parties {
    let mut scanner = LeakScanner::new();
    let mut keys = FixtureRng::from_seed(FIXTURE_SEED);
    let alice_seed = Zeroizing::new(keys.key());
    let bob_seed = Zeroizing::new(keys.key());
    let spk_secret = Zeroizing::new(keys.key());
    let opk_secret = Zeroizing::new(keys.key());
    let opk2_secret = Zeroizing::new(keys.key());
    let storage_key = keys.key();
    for (label, s) in [
        ("Alice's identity seed", &*alice_seed),
        ("Bob's identity seed", &*bob_seed),
        ("signed prekey private", &*spk_secret),
        ("one-time prekey private", &*opk_secret),
        ("one-time prekey private", &*opk2_secret),
        ("storage key", &storage_key),
    ] {
        scanner.add_secret(label, s);
    }
    let alice = IdentityKeyPair::from_seed(*alice_seed);
    let bob = IdentityKeyPair::from_seed(*bob_seed);
    let signed_prekey = SignedPreKey::new(1, *spk_secret, &bob);
    let one_time_prekey = OneTimePreKey::new(100, *opk_secret);
    let bundle = PreKeyBundle::new(&bob, &signed_prekey, Some(&one_time_prekey));
    let bundle_without = PreKeyBundle::new(&bob, &signed_prekey, None);
    let mut store = InMemoryPreKeyStore::new();
    store.add_signed_prekey(signed_prekey.clone());
    store.add_one_time_prekey(one_time_prekey.clone());
    store.add_one_time_prekey(OneTimePreKey::new(101, *opk2_secret));

    let mut rng = FixtureRng::from_seed(FIXTURE_SEED + 1);
    register_draws(&mut scanner, &rng, 2);
    let ephemeral = KeyPair::from_secret_bytes(*rng.peek_keys(1)[0]);
    let (sk, _ad) =
        testing::x3dh_initiator(&alice, &bundle, &ephemeral).expect("the fixture bundle verifies");
    scanner.add_secret("X3DH shared secret SK", &sk);
    let initial_plaintext = plaintext(1, 24);
    scanner.add_plaintext("plaintext", &initial_plaintext);
    let (mut alice_session, initial) =
        sealwire::initiate_with_rng(&alice, &bundle, &initial_plaintext, &mut rng)
            .expect("the fixture handshake works");
    register_session(&mut scanner, "Alice's session", &alice_session);

    let mut other_rng = FixtureRng::from_seed(FIXTURE_SEED + 2);
    register_draws(&mut scanner, &other_rng, 2);
    let (_other, initial_without_opk) =
        sealwire::initiate_with_rng(&alice, &bundle_without, &initial_plaintext, &mut other_rng)
            .expect("the fixture handshake works");

    let mut to_bob = Vec::new();
    for n in 1..=3u64 {
        register_session(&mut scanner, "Alice's session", &alice_session);
        let pt = plaintext(10 + n, 16 + n as usize);
        scanner.add_plaintext("plaintext", &pt);
        let msg = alice_session.encrypt(&pt).expect("encrypt");
        to_bob.push((msg, pt));
    }

    let mut bob_rng = FixtureRng::from_seed(FIXTURE_SEED + 3);
    register_draws(&mut scanner, &bob_rng, 1);
    let mut bob_store = store.clone();
    let (mut bob_session, first) =
        sealwire::respond_with_rng(&bob, &mut bob_store, &initial, &mut bob_rng)
            .expect("the fixture response works");
    assert_eq!(first, initial_plaintext, "fixture: first plaintext");
    let mut to_alice = Vec::new();
    for n in 0..2u64 {
        register_session(&mut scanner, "Bob's session", &bob_session);
        let pt = plaintext(20 + n, 20 + n as usize);
        scanner.add_plaintext("plaintext", &pt);
        let msg = bob_session.encrypt(&pt).expect("encrypt");
        to_alice.push((msg, pt));
    }
    register_session(&mut scanner, "Bob's session", &bob_session);

    let mut bob_with_skipped = sealwire::Session::from_bytes(&bob_session.to_bytes())
        .expect("a session restores from its own bytes");
    let pt = bob_with_skipped
        .decrypt_with_rng(&to_bob[1].0, &mut FixtureRng::from_seed(FIXTURE_SEED + 4))
        .expect("out-of-order delivery");
    assert_eq!(pt, to_bob[1].1, "fixture: out-of-order plaintext");
    register_session(&mut scanner, "Bob's session", &bob_with_skipped);

    Parties {
        alice,
        bob,
        signed_prekey,
        one_time_prekey,
        bundle: bundle.to_bytes(),
        bundle_without_opk: bundle_without.to_bytes(),
        store,
        initial,
        initial_plaintext,
        initial_without_opk,
        alice_session,
        bob_session,
        to_bob,
        to_alice,
        storage_key,
        bob_with_skipped,
        scanner,
    }
}

/// The fixed material, built on first use.
pub fn parties() -> &'static Parties {
    static PARTIES: OnceLock<Parties> = OnceLock::new();
    PARTIES.get_or_init(build)
}

impl Parties {
    /// The storage key as the library's type.
    pub fn storage_key(&self) -> StorageKey {
        StorageKey::from_bytes(self.storage_key)
    }
}
