//! # sealwire-blackbox
//!
//! The black-box mode of the Sealwire suite (`conformance/ADAPTER-v2.md`):
//! the implementation under test draws its own randomness and speaks its own
//! wire format; messages, bundles and states are opaque bytes, and the suite
//! checks behaviour only.
//!
//! - [`transport`]: the child process, line-framed JSON, timeouts, stderr;
//! - [`client`]: the version-2 hello and typed operations;
//! - [`model`]: the black-box property model (`props`);
//! - [`leaks`]: canaries and secrets searched in every output and stderr;
//! - [`fuzz`]: the message fuzzer (`fuzz`);
//! - [`campaign`]: fixed-seed campaigns, recorded findings and FINDINGS.md;
//! - [`progress`]: a hook through which a front end shows a run's progress.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod campaign;
pub mod client;
pub mod fuzz;
pub mod hex;
pub mod leaks;
pub mod model;
pub mod progress;
pub mod rng;
pub mod transport;
