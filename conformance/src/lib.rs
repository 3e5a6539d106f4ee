//! # sealwire-conformance
//!
//! The conformance runner of Sealwire v1 and the `sealwire-conformance`
//! command line: it loads the vectors (`conformance/vectors/`, format of
//! `sealwire-vectors`), runs them against an implementation behind
//! `sealwire_adapter::Implementation` (the built-in reference or an adapter
//! process) with the state-unchanged oracles, and reports per area as text,
//! JSON and JUnit ([`run`], [`render_text`]). Its other commands drive the
//! other crates: `props` (the property model of `sealwire-model`),
//! `interop` (live conversations between the reference and an adapter),
//! `generate` (`sealwire-vectors`), `reference-adapter`
//! (`sealwire-reference`), the dudect constant-time checks ([`ct`]) and the
//! zoo (the suite's self-test over the planted flaws, feature
//! `planted-flaws`). This crate is the top of the suite: nothing else
//! depends on it, and it must not implement the protocol, the vector
//! format, the model or the oracles itself.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod command;
pub mod ct;
mod interop;
#[cfg(all(unix, any(test, feature = "planted-flaws")))]
mod osrandom;
#[cfg(any(test, feature = "planted-flaws"))]
mod pair;
mod progress;
mod props;
mod report;
#[cfg(feature = "planted-flaws")]
mod residue;
mod runner;
#[cfg(any(test, feature = "planted-flaws"))]
mod sizes;
#[cfg(test)]
mod testing;
#[cfg(feature = "planted-flaws")]
mod zoo;

pub use command::command_line;
pub use report::{
    Counts, by_area, describe_failure, render_claims, render_json, render_junit, render_text,
};
pub use runner::{
    Claim, ClaimStatus, Failure, LoadedFile, Outcome, RunOptions, RunReport, TestResult, load_file,
    load_vectors, run, run_test,
};
