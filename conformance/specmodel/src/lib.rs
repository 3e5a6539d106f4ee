//! # sealwire-specmodel: an independent model of SPEC.md, for checking only
//!
//! A second, deliberately small implementation of Sealwire v1, written
//! straight from `SPEC.md` (and the binding profile) on the primitive
//! crates alone — x25519-dalek, ed25519-dalek, curve25519-dalek, hkdf,
//! hmac, sha2, chacha20poly1305 — sharing no code with `protocol/src` and
//! not depending on the reference crate `sealwire`. Every function is a
//! pure function over bytes: randomness is never drawn, the caller passes
//! the keys the implementation under check drew.
//!
//! ## What it is for
//!
//! To recompute, independently of the implementation, every value the
//! implementation produces or accepts, so that an alternate acceptance path
//! or a trigger-conditioned deviation shows up as a disagreement
//! ([`Checker`], [`Verdict`]): every sent message equals the model's bytes
//! for the same state and plaintext; every accepted bundle verifies under
//! the model; every opened sealed state re-derives under the given storage
//! key; every accepted message authenticates under the model's message key
//! and leaves the model's state.
//!
//! ## What it must not do
//!
//! It is never used to produce: no application, adapter, vector generator
//! or benchmark may send its messages or store its states. It is not
//! hardened (no constant-time claims beyond the tag and zero checks it
//! inherits from the primitive crates, moves of secrets inside vectors are
//! not wiped), not optimised beyond a per-thread memo of the ratchet's
//! X25519 results (see [`primitives`]; the fuzz oracles repeat the same
//! ladders in every execution), and it does not implement the reference's
//! API. Its secrets ([`Secret32`]) zeroize on drop, are neither `Clone`
//! nor `Copy`, and never appear in `Debug`, `Display` or a [`Verdict`].
//!
//! ## Map to SPEC.md
//!
//! | SPEC.md | here |
//! | --- | --- |
//! | §1 primitives | [`primitives`] |
//! | §2 keys, Montgomery form, validity, low order, canonical | [`keys`] |
//! | §4 bundle, §7 header, §8 initial message | [`wire`] |
//! | §4 verification, §5 X3DH both sides | [`x3dh`] |
//! | §6.1 KDF_RK, KDF_CK, §7 message keys and sealing, §9.2 keys | [`kdf`] |
//! | §6.2 to §6.6 session, sending, receiving | [`session`] |
//! | §9 plain and sealed state | [`state`] |
//! | §10 error classes | [`ModelError`], [`ErrorClass`] |

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod checker;
mod error;
pub mod kdf;
pub mod keys;
pub mod primitives;
mod secret;
pub mod session;
pub mod state;
pub mod wire;
pub mod x3dh;

pub use checker::{Checker, Verdict};
pub use error::{ErrorClass, ModelError, ModelResult};
pub use secret::Secret32;
