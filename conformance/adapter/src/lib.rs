//! # sealwire-adapter
//!
//! The v1 adapter protocol of the Sealwire conformance suite
//! (`conformance/ADAPTER.md`) and the one interface everything else is
//! written against: the [`Request`]s every implementation is driven
//! through, their [`Output`]s and [`Capability`]s, the [`Implementation`]
//! trait with its [`admit`] gate, the client that drives an external
//! implementation as a child process speaking JSON lines
//! ([`AdapterImplementation`]), the `--timeout` option's parser and the hex
//! helpers of the JSON encoding ([`hex`]). It knows nothing about Sealwire's
//! cryptography and must not depend on the `sealwire` crate, the vectors or
//! any other suite crate: the reference implementation, the runner, the
//! property model and the black-box checks all build on it, never the other
//! way round.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod client;
pub mod hex;
mod implementation;
mod protocol;

pub use client::{
    AdapterConfig, AdapterImplementation, DEFAULT_HELLO_TIMEOUT, DEFAULT_MAX_LINE, DEFAULT_TIMEOUT,
    parse_timeout,
};
pub use implementation::{Implementation, OpError, admit};
pub use protocol::{
    ADAPTER_PROTOCOL_VERSION, Capability, Output, PreKeySecret, Request, Structure,
};
