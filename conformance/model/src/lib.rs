//! # sealwire-model
//!
//! Property tests: Alice, Bob and an attacker who owns the network.
//!
//! A generated [`Case`] is a seed (every private key and salt the runner
//! supplies is drawn from it, so a case replays exactly) and a schedule of
//! operations: send, deliver, drop, replay, reorder, tamper, reflect,
//! persist and restart, compromise (the attacker copies a party's state) and
//! attacker decryption with such a copy. A small model
//! (the private `model` module: the receive algorithm over chain *names*)
//! predicts the outcome of every step, error class included, and the
//! properties of `conformance/PROPERTIES.md` are checked at every step.
//!
//! Everything goes through the [`Implementation`] interface, so the same
//! model runs in process against the reference and black-box against any
//! adapter ([`run_campaign`], the `props` subcommand).
//!
//! This crate is the model and its properties only: it reaches an
//! implementation through [`sealwire_adapter::Implementation`] alone and
//! must not depend on the reference implementation, the vectors or the
//! runner (its own tests use the reference as a dev-dependency).
//!
//! [`Implementation`]: sealwire_adapter::Implementation

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod campaign;
mod driver;
mod fixed;
mod handshake;
mod model;
mod schedule;
mod session;

pub use campaign::{
    CASES_VARIABLE, CampaignOptions, CampaignReport, Failure, MAX_OPS, Property, SEED_VARIABLE,
    Violation, check_case, check_case_tolerating, check_handshake, random_seed, run_campaign,
};
pub use fixed::{compromise_and_max_skip, fixed_cases, store_eviction};
pub use handshake::{BundleFault, HandshakeCase, InitialFault, handshake_case};
pub use schedule::{Case, Op, Party, Plain, Tamper, case, plain};
pub use session::{Coverage, Tolerance};
