//! # sealwire-reference
//!
//! The built-in implementation under test: the `sealwire` crate behind the
//! [`Implementation`] interface, with every capability.
//!
//! The runner supplies every private key and random value. They reach the
//! crate through its `*_with_rng` entry points via a [`ScriptedRng`] that
//! yields exactly the given bytes, in order, so every output is byte-exact.
//!
//! Request fields that cannot be interpreted (a fixed-length field of the
//! wrong length, an out-of-range parameter, an unknown handle) are answered
//! with the error class `wire`, as ADAPTER.md requires of every adapter.
//! [`OpError::Broken`] is reserved for one fault: an operation drew more
//! randomness than the request supplied. The output would then not be
//! determined by the request, so the implementation reports it and refuses
//! every later operation, as the [`Implementation`] contract says.
//!
//! This crate is for the suite's own checks and for the
//! `sealwire-conformance reference-adapter` server ([`serve()`]); it must
//! not hold conformance logic (what to expect is the vectors' and the
//! runner's business) nor depend on any suite crate other than
//! `sealwire-adapter`.
//!
//! [`Implementation`]: sealwire_adapter::Implementation
//! [`OpError::Broken`]: sealwire_adapter::OpError::Broken

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod implementation;
mod rng;
mod serve;

pub use implementation::{MALFORMED_REQUEST, ReferenceImplementation};
pub use rng::ScriptedRng;
pub use serve::serve;
