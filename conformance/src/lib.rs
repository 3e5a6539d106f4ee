//! # sealwire-conformance
//!
//! Conformance vectors for Sealwire v1, the generator that rebuilds them
//! from fixed seeds, and the runner that checks any implementation against
//! them, in process or over the JSON-lines adapter protocol
//! (`conformance/ADAPTER.md`).

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod adapter;
pub mod cli;
pub mod ct;
pub mod generate;
pub mod hex;
pub mod implementation;
pub mod interop;
pub mod oracle;
pub mod properties;
pub mod protocol;
pub mod reference;
pub mod report;
pub mod runner;
pub mod schema;
pub mod serve;
#[cfg(feature = "planted-flaws")]
pub mod zoo;
