//! The vector file format (schema version 1): a Wycheproof-style envelope
//! around groups of tests, each test a list of operations with expected
//! outcomes.
//!
//! ```json
//! {
//!   "algorithm": "Sealwire v1 session",
//!   "schemaVersion": "1",
//!   "generatorVersion": "0.1.0",
//!   "source": "SPEC.md §7",
//!   "numberOfTests": 1,
//!   "header": ["what the file covers"],
//!   "notes": { "Replay": "a delivered message is delivered again" },
//!   "testGroups": [ { "type": "SessionTest", "comment": "...", "tests": [ {
//!       "tcId": 1, "comment": "one line: what it proves", "flags": ["Replay"],
//!       "steps": [ { "request": { "op": "decrypt", ... }, "bind": null,
//!                    "expect": { "error": "duplicate" } } ],
//!       "result": "invalid", "error": "duplicate" } ] } ]
//! }
//! ```

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use sealwire_adapter::{Output, Request};

/// The schema version this crate reads and writes.
pub const SCHEMA_VERSION: &str = "1";

/// One vector file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VectorFile {
    /// What is tested, e.g. "Sealwire v1 session" or "ChaCha20-Poly1305".
    pub algorithm: String,
    /// [`SCHEMA_VERSION`].
    pub schema_version: String,
    /// Version of the generator that wrote the file.
    pub generator_version: String,
    /// The SPEC.md section, RFC or Wycheproof file the tests come from.
    pub source: String,
    /// Total number of tests in all groups.
    pub number_of_tests: usize,
    /// Free text describing the file.
    pub header: Vec<String>,
    /// The meaning of every flag used in the file.
    pub notes: BTreeMap<String, String>,
    /// The tests, in groups.
    pub test_groups: Vec<TestGroup>,
}

/// A group of tests of one kind.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TestGroup {
    /// The kind of test, e.g. "AeadTest" or "SessionTest".
    #[serde(rename = "type")]
    pub kind: String,
    /// What the group has in common.
    pub comment: String,
    /// The tests.
    pub tests: Vec<TestCase>,
}

/// Whether a test expects its input to be accepted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Every step succeeds.
    Valid,
    /// The test's point is a rejection (with the error class in `error`).
    Invalid,
}

/// One test: steps run in order against one fresh implementation state.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TestCase {
    /// Unique within the file.
    pub tc_id: u32,
    /// One line saying what the test proves.
    pub comment: String,
    /// Flags, each explained in the file's `notes`.
    pub flags: Vec<String>,
    /// The operations.
    pub steps: Vec<Step>,
    /// The expected overall result.
    pub result: Verdict,
    /// The expected error class when `result` is invalid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// One operation with its expected outcome.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Step {
    /// The operation; handle fields hold names bound by earlier steps.
    pub request: Request,
    /// Binds the handle this step returns (`session` or `store`) to a name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bind: Option<String>,
    /// What must come back.
    pub expect: Expect,
}

/// The expected outcome of a step.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub enum Expect {
    /// Success; every listed field must match exactly (unlisted output
    /// fields are not compared). Byte fields are hex strings.
    Ok(Output),
    /// Rejection with this error class; for session operations the
    /// session (or store) must be unchanged afterwards.
    Error(String),
}
