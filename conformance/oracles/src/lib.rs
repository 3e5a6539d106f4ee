//! # sealwire-oracles
//!
//! Oracles: the checks behind every fuzz target, as library code.
//!
//! Each oracle takes arbitrary bytes and either returns `Ok(())` or a
//! [`Violation`]: a property of SPEC.md or of the crate's contract that the
//! reference implementation broke on that input. The fuzz targets in
//! `fuzz/` are three-line wrappers ([`fuzz_one`]); `cargo test` replays every
//! checked-in seed and past crash input through the same functions
//! (`conformance/oracles/tests/fuzz_replay.rs`).
//!
//! | target | oracle |
//! | --- | --- |
//! | `decode_wire` | `wire`: decode-then-encode gives the same bytes, for every wire structure |
//! | `bundle` | `bundle`: parse and verify never panic; verification errors are typed |
//! | `respond` | `respond`: the responder on arbitrary initial messages; store unchanged on error |
//! | `decrypt` | `decrypt`: arbitrary bytes on an established session; state byte-identical on rejection |
//! | `conversation` | [`conversation`]: a scheduled conversation; every authentic message decrypts exactly once |
//! | `state_restore` | `state`: restoring state from arbitrary bytes; accepted state re-serializes identically |
//! | `differential_seal` | `differential`: the seal paths agree with each other and with a plain recomputation |
//!
//! The oracles that send, receive, verify, open or seal also check each
//! such value against the independent model of SPEC.md
//! (`sealwire-specmodel`, module `spec`).
//!
//! Every oracle also runs the leak oracle ([`LeakScanner`]) over everything it
//! produced, and — when the scanning allocator is installed and enabled —
//! the freed-memory check ([`freed`]).
//!
//! The seeds, dictionaries, libFuzzer options and past crash inputs the
//! targets read live beside this crate (`seeds/<target>/`,
//! `dict/<target>.dict`, `options/<target>.options`,
//! `regressions/<target>/`); the `fuzz_seeds` example rewrites the first
//! three. This crate is what `fuzz/` links: it must stay small to build and
//! must not depend on the adapter protocol, the vectors, the property model
//! or their JSON and proptest dependencies (`cargo tree -p sealwire-oracles`
//! shows none of them).

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod bundle;
pub mod conversation;
mod decrypt;
mod differential;
pub mod fixture;
pub mod freed;
mod leak;
mod respond;
pub mod seeds;
mod spec;
mod state;
mod target;
mod wire;

pub use leak::{Leak, LeakKind, LeakScanner};
pub use target::{Outcome, Target, Violation, fuzz_one};
pub(crate) use target::{Run, patched};
