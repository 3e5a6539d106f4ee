//! # Sealwire v1: the reference implementation
//!
//! X3DH key agreement and the Double Ratchet over X25519, Ed25519,
//! HKDF/HMAC-SHA256 and ChaCha20-Poly1305, exactly as `SPEC.md` specifies
//! them byte by byte. Other implementations are checked against this crate
//! by the `sealwire-conformance` suite.
//!
//! ```
//! use rand_chacha::ChaCha20Rng;
//! use rand_core::SeedableRng;
//! use sealwire::{
//!     initiate_with_rng, respond_with_rng, IdentityKeyPair, InMemoryPreKeyStore,
//!     OneTimePreKey, PreKeyBundle, SignedPreKey,
//! };
//!
//! let mut rng = ChaCha20Rng::seed_from_u64(7);
//! let alice = IdentityKeyPair::generate_with_rng(&mut rng);
//! let bob = IdentityKeyPair::generate_with_rng(&mut rng);
//!
//! // Bob publishes a bundle and keeps the private prekeys.
//! let spk = SignedPreKey::generate_with_rng(1, &bob, &mut rng);
//! let opk = OneTimePreKey::generate_with_rng(100, &mut rng);
//! let bundle = PreKeyBundle::new(&bob, &spk, Some(&opk));
//! let mut store = InMemoryPreKeyStore::new();
//! store.add_signed_prekey(spk);
//! store.add_one_time_prekey(opk);
//!
//! // Alice starts the session with her first message.
//! let (mut alice_session, initial) =
//!     initiate_with_rng(&alice, &PreKeyBundle::from_bytes(&bundle.to_bytes())?, b"hi Bob", &mut rng)?;
//! let (mut bob_session, first) = respond_with_rng(&bob, &mut store, &initial, &mut rng)?;
//! assert_eq!(first, b"hi Bob");
//! assert_eq!(store.one_time_prekeys_len(), 0);
//!
//! // Then the ratchet: every message has its own key.
//! let reply = bob_session.encrypt(b"hi Alice")?;
//! assert_eq!(reply.len(), b"hi Alice".len() + 57);
//! assert_eq!(alice_session.decrypt_with_rng(&reply, &mut rng)?, b"hi Alice");
//! // A replay is refused and changes nothing.
//! assert_eq!(alice_session.decrypt_with_rng(&reply, &mut rng), Err(sealwire::Error::Duplicate));
//! # Ok::<(), sealwire::Error>(())
//! ```
//!
//! Every function that draws randomness has a `*_with_rng` form taking any
//! [`rand_core::CryptoRng`]; the plain form uses the operating system's
//! generator.
//!
//! ## Cargo features
//!
//! - `ring`: seal and open with ring's ChaCha20-Poly1305 (x86-64 and
//!   AArch64 assembly) instead of RustCrypto's pure-Rust one. Same bytes;
//!   faster in bulk and several times cheaper per message key in portable
//!   builds (`benches/README.md`). Recommended where speed matters; it adds
//!   a C and assembly build (`cc`). SPEC.md, section 13, says what differs.
//! - `test-secrets`, `planted-flaws`: TEST-ONLY, for the conformance suite's
//!   oracles and self-test. Never enable them in a product.
//!
//! ## What is not here
//!
//! The crate root is what an application needs: keys, bundles, X3DH,
//! [`Session`] and its persisted state. Key-level operations (one chain or
//! root step, sealing with a bare message key, keys from raw bytes) live
//! apart in [`hazmat`], whose first paragraph says what their misuse costs.
//!
//! A [`Session`] cannot be cloned: two copies that both encrypt would seal
//! two messages with one key and nonce. Code that needs a copy goes through
//! [`Session::to_bytes`] and [`Session::from_bytes`] and must make sure
//! only one copy is used afterwards.
//!
//! ```compile_fail,E0277
//! fn must_be_clone<T: Clone>() {}
//! must_be_clone::<sealwire::Session>();
//! ```

#![forbid(unsafe_code)]
#![deny(missing_docs)]

/// `planted!(Flaw)`: true when that planted flaw is switched on for this
/// thread. Always `false` without the test-only `planted-flaws` feature.
macro_rules! planted {
    ($flaw:ident) => {{
        #[cfg(feature = "planted-flaws")]
        let on = crate::flaws::is(crate::flaws::Flaw::$flaw);
        #[cfg(not(feature = "planted-flaws"))]
        let on = false;
        on
    }};
}

mod error;
#[cfg(feature = "planted-flaws")]
pub mod flaws;
mod handshake;
mod kdf;
mod keys;
mod ratchet;
mod seal;
mod state;
mod wipe;
mod wire;

#[cfg(feature = "test-secrets")]
pub mod testing;

pub use error::{Error, ErrorClass, HandshakeError, LimitError, StateError, WireError};
pub use handshake::{
    InMemoryPreKeyStore, PreKeyBundle, PreKeyStore, initiate, initiate_with_rng, respond,
    respond_with_rng,
};
pub use kdf::{AEAD_KEY_LEN, LABEL_MESSAGE_KEYS, LABEL_ROOT, LABEL_STATE, LABEL_X3DH, NONCE_LEN};
pub use keys::{
    IdentityKeyPair, IdentityPublicKey, KEY_LEN, OneTimePreKey, PublicKey, SIGNATURE_LEN,
    SignedPreKey, StorageKey,
};
pub use ratchet::{MAX_PREVIOUS_RATCHET_KEYS, MAX_SKIP, MAX_SKIPPED_KEYS, Session};
pub use seal::{AD_LEN, HEADER_LEN, MAX_PLAINTEXT_LEN, OVERHEAD, TAG_LEN};
pub use state::{SEALED_STATE_VERSION, STATE_VERSION};
pub use wire::{
    BUNDLE_LEN_WITH_OPK, BUNDLE_LEN_WITHOUT_OPK, Header, INITIAL_PREFIX_LEN_WITHOUT_OPK,
    InitialMessage, MAX_MESSAGE_LEN, RatchetMessage, VERSION,
};

/// **Hazardous: misuse of anything in this module breaks the protocol's
/// security silently.** Key-level operations, for test suites and
/// benchmarks, not for applications.
///
/// Sealing two messages with one [`MessageKey`](hazmat::MessageKey)
/// reuses a ChaCha20-Poly1305 key and nonce: the XOR of the two plaintexts
/// leaks, and the Poly1305 key is recovered, so both messages can be forged.
/// A chain or root key stepped twice or restored from stale bytes gives
/// the same reuse; a key built from chosen bytes
/// ([`ChainKey::from_bytes`](hazmat::ChainKey::from_bytes) and the like)
/// has none of the secrecy of one derived by the ratchet. [`Session`] does
/// all of this bookkeeping (one key per message, deleted after use, and
/// all-or-nothing receiving); nothing here does any of it. The
/// conformance suite, the fuzz targets and the benches use these functions
/// to check the ratchet's steps one at a time; an application needs only
/// the crate root's API.
pub mod hazmat {
    pub use crate::keys::{ChainKey, KeyPair, MessageKey, RootKey, SharedKey};
    pub use crate::seal::message_key_material;

    use crate::KEY_LEN;

    /// The sealing core: a message key and the session's associated data
    /// seal and open one ratchet message, with no ratchet around it.
    pub mod seal {
        pub use crate::seal::{
            AD_LEN, AssociatedData, HEADER_LEN, MAX_PLAINTEXT_LEN, OVERHEAD, TAG_LEN,
            message_key_material, open, open_in_place, seal, seal_in_place, seal_into,
        };
    }

    /// The chain-key step `KDF_CK`: returns the next chain key and the message
    /// key (profile: next = HMAC(ck, 0x02), MK = HMAC(ck, 0x01)).
    pub fn chain_step(chain_key: &ChainKey) -> (ChainKey, MessageKey) {
        crate::kdf::kdf_ck(chain_key)
    }

    /// The root-key step `KDF_RK`: returns the new root key and chain key.
    pub fn root_step(root_key: &RootKey, dh_output: &[u8; KEY_LEN]) -> (RootKey, ChainKey) {
        crate::kdf::kdf_rk(root_key, dh_output)
    }
}

/// The operating system's generator, as an infallible [`rand_core::CryptoRng`].
///
/// # Panics
/// Panics if the operating system cannot provide randomness: continuing
/// without it would be worse.
#[cfg(not(feature = "planted-flaws"))]
pub(crate) fn os_rng() -> rand_core::UnwrapErr<getrandom::SysRng> {
    rand_core::UnwrapErr(getrandom::SysRng)
}

/// The operating system's generator, or a planted flaw's stand-in for it
/// (in flaws.rs, which cargo-mutants does not mutate).
#[cfg(feature = "planted-flaws")]
pub(crate) use flaws::os_rng;
