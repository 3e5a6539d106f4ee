//! # sealwire-vectors
//!
//! The conformance vectors' format and their generator. [`VectorFile`] and
//! the types under it are the schema (version [`SCHEMA_VERSION`]) of the
//! JSON files in `conformance/vectors/<area>/`, read strictly by the runner;
//! [`write_all`] rebuilds every file from fixed seeds, with every expected
//! output computed by the `sealwire` crate and the RustCrypto primitives and
//! every published vector (RFCs, Wycheproof) checked against those
//! primitives first; [`check_all`] fails when the checked-in files differ
//! from a fresh generation. It must not run an implementation under test or
//! judge one (that is the runner's), and nothing in a vector may be
//! hand-written but published values with their source.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod generate;
mod schema;

pub use generate::{GENERATOR_VERSION, check_all, generate_all, render, write_all};
pub use schema::{Expect, SCHEMA_VERSION, Step, TestCase, TestGroup, VectorFile, Verdict};
