//! The runner: loads vector files and runs every test, step by step,
//! against an [`Implementation`].
//!
//! Per test: a fresh handle namespace (the names a vector binds map to the
//! handles this implementation returned in this test); every step's listed
//! output fields are compared exactly, except `bundle_create`'s signature,
//! which is verified with strict Ed25519 instead (other implementations may
//! use other nonces). After every expected rejection of `decrypt` the
//! session's exported state must be byte-identical to before (when the
//! implementation has `state`), and after every expected rejection of
//! `respond` the store's one-time prekey ids must be unchanged. A test that
//! needs a capability the implementation lacks is skipped, naming it; an
//! `unsupported` answer to a request inside a capability the implementation
//! announced fails the test (the hello's capabilities are its claim).
//! Once the implementation reports itself broken, the remaining tests fail
//! without being run.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::Value;

use sealwire_adapter::{Capability, Output, Request};
use sealwire_adapter::{Implementation, OpError};
use sealwire_vectors::{Expect, SCHEMA_VERSION, TestCase, VectorFile};

mod load;
pub use load::{LoadedFile, load_file, load_vectors};

/// How a test went.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Every step answered as expected and every oracle held.
    Passed,
    /// Something did not.
    Failed(Failure),
    /// Not run, with the reason: it needs a capability the implementation
    /// did not announce.
    Skipped(String),
}

/// What went wrong in a failed test.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    /// Index of the failing step (from 0), if a step failed.
    pub step: Option<usize>,
    /// The failing step's operation.
    pub op: Option<String>,
    /// What was expected.
    pub expected: String,
    /// What came back.
    pub actual: String,
    /// True if the test was not run because the implementation had broken
    /// in an earlier test.
    pub not_run: bool,
}

/// One test's result.
#[derive(Clone, Debug)]
pub struct TestResult {
    /// The vector file (relative path).
    pub file: String,
    /// Its area.
    pub area: String,
    /// The test's id within the file.
    pub tc_id: u32,
    /// What the test proves.
    pub comment: String,
    /// Its flags.
    pub flags: Vec<String>,
    /// The capabilities it needs (those of its operations, and `x3dh_secret`
    /// if it expects `shared_secret` or `ad`): it counts
    /// towards each of them in the capability verdict.
    pub needs: Vec<Capability>,
    /// How it went.
    pub outcome: Outcome,
}

/// The result of a run.
#[derive(Clone, Debug)]
pub struct RunReport {
    /// The implementation's name.
    pub implementation: String,
    /// Its capabilities.
    pub capabilities: Vec<Capability>,
    /// Every selected test, in file and tcId order.
    pub results: Vec<TestResult>,
    /// Errors outside any test, each making the run fail: vector files
    /// that could not be loaded, or an implementation that could not start.
    pub load_errors: Vec<String>,
    /// Wall time of the run.
    pub duration: Duration,
    /// Capabilities the run must show conformant (`--require`): announced,
    /// and none of their tests skipped.
    pub required: Vec<Capability>,
}

/// How one capability claim fared in a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClaimStatus {
    /// Announced, at least one of its tests passed, none failed or was
    /// skipped.
    Conformant,
    /// Announced and at least one of its tests failed.
    Failed,
    /// Announced, nothing failed, but some of its tests were skipped
    /// (they also need a capability that was not announced).
    Partial,
    /// Announced, but no selected test exercises it.
    NoTests,
    /// Not announced: its tests were skipped.
    NotAnnounced,
}

/// One capability's claim: its status and test counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Claim {
    /// The capability.
    pub capability: Capability,
    /// How it fared.
    pub status: ClaimStatus,
    /// Selected tests needing it that passed.
    pub passed: usize,
    /// ... that failed.
    pub failed: usize,
    /// ... that were skipped.
    pub skipped: usize,
}

impl RunReport {
    /// Every capability's claim, in [`Capability::ALL`] order.
    pub fn claims(&self) -> Vec<Claim> {
        Capability::ALL
            .iter()
            .map(|&capability| {
                let mut claim = Claim {
                    capability,
                    status: ClaimStatus::NoTests,
                    passed: 0,
                    failed: 0,
                    skipped: 0,
                };
                for r in self
                    .results
                    .iter()
                    .filter(|r| r.needs.contains(&capability))
                {
                    match r.outcome {
                        Outcome::Passed => claim.passed += 1,
                        Outcome::Failed(_) => claim.failed += 1,
                        Outcome::Skipped(_) => claim.skipped += 1,
                    }
                }
                claim.status = if !self.capabilities.contains(&capability) {
                    ClaimStatus::NotAnnounced
                } else if claim.failed > 0 {
                    ClaimStatus::Failed
                } else if claim.skipped > 0 {
                    ClaimStatus::Partial
                } else if claim.passed == 0 {
                    ClaimStatus::NoTests
                } else {
                    ClaimStatus::Conformant
                };
                claim
            })
            .collect()
    }

    /// Why each required capability (`--require`) is not shown
    /// conformant; empty when every requirement held.
    pub fn unmet_requirements(&self) -> Vec<String> {
        let claims = self.claims();
        self.required
            .iter()
            .filter_map(|c| {
                let claim = claims.iter().find(|k| k.capability == *c)?;
                let name = c.name();
                match claim.status {
                    ClaimStatus::Conformant => None,
                    ClaimStatus::NotAnnounced => Some(format!(
                        "`{name}` is required but was not announced ({} tests skipped)",
                        claim.skipped
                    )),
                    ClaimStatus::Partial => Some(format!(
                        "`{name}` is required but {} of its tests were skipped",
                        claim.skipped
                    )),
                    ClaimStatus::NoTests => Some(format!(
                        "`{name}` is required but no selected test exercises it"
                    )),
                    ClaimStatus::Failed => Some(format!(
                        "`{name}` is required and {} of its tests failed",
                        claim.failed
                    )),
                }
            })
            .collect()
    }

    /// Counts of (passed, failed, skipped).
    pub fn counts(&self) -> (usize, usize, usize) {
        let mut counts = (0, 0, 0);
        for r in &self.results {
            match r.outcome {
                Outcome::Passed => counts.0 += 1,
                Outcome::Failed(_) => counts.1 += 1,
                Outcome::Skipped(_) => counts.2 += 1,
            }
        }
        counts
    }

    /// True when nothing failed, every file loaded, at least one test
    /// passed, and every required capability is conformant.
    pub fn success(&self) -> bool {
        let (passed, failed, _) = self.counts();
        failed == 0
            && self.load_errors.is_empty()
            && passed > 0
            && self.unmet_requirements().is_empty()
    }
}

/// Options of a run.
#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    /// Select tests: a test runs if any filter is a substring of its file's
    /// path or of one of its flags, or equals its tcId, or is
    /// `<substring of path>#<tcId>`. No filters: every test.
    pub filters: Vec<String>,
    /// Print progress to stderr.
    pub progress: bool,
    /// Capabilities that must come out conformant (see
    /// [`RunReport::required`]).
    pub require: Vec<Capability>,
}

/// True if `test` in `file` is selected by `filters`.
pub(crate) fn selected(filters: &[String], file: &str, test: &TestCase) -> bool {
    if filters.is_empty() {
        return true;
    }
    let id = test.tc_id.to_string();
    filters.iter().any(|f| match f.rsplit_once('#') {
        Some((path, tc_id)) => file.contains(path) && tc_id == id,
        None => {
            file.contains(f.as_str()) || *f == id || test.flags.iter().any(|flag| flag.contains(f))
        }
    })
}

/// The capabilities `test` needs: those of its operations, and
/// `x3dh_secret` if it expects `shared_secret` or `ad`.
pub(crate) fn required_capabilities(test: &TestCase) -> BTreeSet<Capability> {
    let mut needed = BTreeSet::new();
    for step in &test.steps {
        needed.insert(step.request.capability());
        if let (Request::Initiate { .. } | Request::Respond { .. }, Expect::Ok(fields)) =
            (&step.request, &step.expect)
            && (fields.contains_key("shared_secret") || fields.contains_key("ad"))
        {
            needed.insert(Capability::X3dhSecret);
        }
    }
    needed
}

/// Runs every selected test of `files` against `implementation`.
pub fn run(
    implementation: &mut dyn Implementation,
    files: &[LoadedFile],
    options: &RunOptions,
) -> RunReport {
    let start = Instant::now();
    let total: usize = files
        .iter()
        .flat_map(|f| {
            f.file
                .test_groups
                .iter()
                .flat_map(|g| &g.tests)
                .map(|t| (&f.path, t))
        })
        .filter(|(path, t)| selected(&options.filters, path, t))
        .count();
    let mut results = Vec::with_capacity(total);
    let mut broken: Option<String> = None;
    let mut done = 0usize;
    let mut stderr = std::io::stderr();
    for (index, loaded) in files.iter().enumerate() {
        let tests: Vec<&TestCase> = loaded
            .file
            .test_groups
            .iter()
            .flat_map(|g| &g.tests)
            .filter(|t| selected(&options.filters, &loaded.path, t))
            .collect();
        if tests.is_empty() {
            continue;
        }
        if options.progress {
            let _ = writeln!(
                stderr,
                "[{done:>5}/{total}] {} ({} test{}, file {}/{})",
                loaded.path,
                tests.len(),
                if tests.len() == 1 { "" } else { "s" },
                index + 1,
                files.len()
            );
        }
        for test in tests {
            let outcome = match &broken {
                Some(why) => Outcome::Failed(Failure {
                    step: None,
                    op: None,
                    expected: "the test to run".into(),
                    actual: format!("not run: the implementation broke earlier: {why}"),
                    not_run: true,
                }),
                None => {
                    let (outcome, why) = run_test_tracking(implementation, test);
                    broken = why;
                    outcome
                }
            };
            results.push(TestResult {
                file: loaded.path.clone(),
                area: loaded.area.clone(),
                tc_id: test.tc_id,
                comment: test.comment.clone(),
                flags: test.flags.clone(),
                needs: required_capabilities(test).into_iter().collect(),
                outcome,
            });
            done += 1;
        }
    }
    if options.progress {
        let _ = writeln!(stderr, "[{done:>5}/{total}] done");
    }
    RunReport {
        implementation: implementation.name().to_owned(),
        capabilities: implementation.capabilities().iter().copied().collect(),
        results,
        load_errors: Vec::new(),
        duration: start.elapsed(),
        required: options.require.clone(),
    }
}

const BROKEN_PREFIX: &str = "implementation failure: ";

/// The state of one test: names bound so far.
struct TestRun<'a> {
    implementation: &'a mut dyn Implementation,
    names: BTreeMap<String, String>,
    broken: Option<String>,
}

/// Runs one test against `implementation` in a fresh handle namespace, then
/// frees the handles it bound.
pub fn run_test(implementation: &mut dyn Implementation, test: &TestCase) -> Outcome {
    run_test_tracking(implementation, test).0
}

/// [`run_test`], also returning why the implementation broke, if it did.
fn run_test_tracking(
    implementation: &mut dyn Implementation,
    test: &TestCase,
) -> (Outcome, Option<String>) {
    let missing: Vec<&str> = required_capabilities(test)
        .into_iter()
        .filter(|c| !implementation.capabilities().contains(c))
        .map(Capability::name)
        .collect();
    if !missing.is_empty() {
        let why = format!("needs capability `{}`", missing.join("`, `"));
        return (Outcome::Skipped(why), None);
    }
    let mut run = TestRun {
        implementation,
        names: BTreeMap::new(),
        broken: None,
    };
    let mut outcome = Outcome::Passed;
    for (index, step) in test.steps.iter().enumerate() {
        if let Err(stop) = run.step(index, step) {
            outcome = stop;
            break;
        }
    }
    if run.broken.is_none() {
        run.cleanup();
    }
    (outcome, run.broken)
}

impl TestRun<'_> {
    /// Calls the implementation, remembering if it broke.
    fn call(&mut self, request: &Request) -> Result<Output, OpError> {
        let result = self.implementation.call(request);
        if let Err(OpError::Broken(why)) = &result {
            self.broken = Some(why.clone());
        }
        result
    }

    fn has(&self, capability: Capability) -> bool {
        self.implementation.capabilities().contains(&capability)
    }

    fn fail(
        index: usize,
        op: &str,
        expected: impl Into<String>,
        actual: impl Into<String>,
    ) -> Outcome {
        Outcome::Failed(Failure {
            step: Some(index),
            op: Some(op.to_owned()),
            expected: expected.into(),
            actual: actual.into(),
            not_run: false,
        })
    }

    /// Translates the handle names of `request` to this implementation's
    /// handles.
    fn translate(&self, request: &Request) -> Result<Request, String> {
        let mut request = request.clone();
        for name in request.handles_mut() {
            match self.names.get(name.as_str()) {
                Some(handle) => handle.clone_into(name),
                None => {
                    return Err(format!(
                        "vector error: handle name `{name}` was not bound by an earlier step"
                    ));
                }
            }
        }
        Ok(request)
    }

    /// Runs step `index`; `Err` ends the test with that outcome.
    fn step(&mut self, index: usize, step: &sealwire_vectors::Step) -> Result<(), Outcome> {
        let op = step.request.op();
        let request = self
            .translate(&step.request)
            .map_err(|why| Self::fail(index, op, "a valid vector", why))?;
        let rejection_expected = matches!(step.expect, Expect::Error(_));
        let before = if rejection_expected {
            self.snapshot(&request)
                .map_err(|why| Self::fail(index, op, "the before-snapshot to succeed", why))?
        } else {
            None
        };
        let result = self.call(&request);
        match (&step.expect, result) {
            (_, Err(OpError::Broken(why))) => Err(Self::fail(
                index,
                op,
                expectation(&step.expect),
                format!("{BROKEN_PREFIX}{why}"),
            )),
            // Every capability the test needs was announced (else it was
            // skipped): `unsupported` here breaks the claim.
            (_, Err(OpError::Unsupported(why))) => Err(Self::fail(
                index,
                op,
                format!(
                    "{} (`{op}` is in the announced capability `{}`)",
                    expectation(&step.expect),
                    step.request.capability().name()
                ),
                format!("unsupported: {why}"),
            )),
            (Expect::Ok(expected), Ok(actual)) => {
                compare_outputs(&step.request, expected, &actual)
                    .map_err(|(exp, act)| Self::fail(index, op, exp, act))?;
                if let Some(name) = &step.bind {
                    let handle = ["session", "store"]
                        .iter()
                        .find_map(|k| actual.get(*k).and_then(Value::as_str))
                        .ok_or_else(|| {
                            Self::fail(
                                index,
                                op,
                                format!("a `session` or `store` handle to bind as `{name}`"),
                                format!("no handle in {}", show_output(&actual)),
                            )
                        })?;
                    self.names.insert(name.clone(), handle.to_owned());
                }
                Ok(())
            }
            (Expect::Ok(_), Err(OpError::Rejected(class))) => Err(Self::fail(
                index,
                op,
                expectation(&step.expect),
                format!("error `{class}`"),
            )),
            (Expect::Error(class), Ok(actual)) => Err(Self::fail(
                index,
                op,
                format!("error `{class}`"),
                format!("ok {}", show_output(&actual)),
            )),
            (Expect::Error(class), Err(OpError::Rejected(actual))) => {
                if *class != actual {
                    return Err(Self::fail(
                        index,
                        op,
                        format!("error `{class}`"),
                        format!("error `{actual}`"),
                    ));
                }
                if let Some(before) = before {
                    let after = self.snapshot(&request).map_err(|why| {
                        Self::fail(index, op, "the after-snapshot to succeed", why)
                    })?;
                    if after != Some(before.clone()) {
                        return Err(Self::fail(
                            index,
                            op,
                            format!("error `{class}` and {} unchanged", before.what),
                            format!(
                                "error `{class}`, but {} changed: before {}, after {}",
                                before.what,
                                show_value(&before.value),
                                after.map_or_else(|| "nothing".into(), |a| show_value(&a.value))
                            ),
                        ));
                    }
                }
                Ok(())
            }
        }
    }

    /// What must not change when `request` is rejected: the session's
    /// exported state (decrypt, with `state`) or the store's one-time
    /// prekey ids (respond).
    fn snapshot(&mut self, request: &Request) -> Result<Option<Snapshot>, String> {
        let (probe, what, field) = match request {
            Request::Decrypt { session, .. } if self.has(Capability::State) => (
                Request::ExportState {
                    session: session.clone(),
                },
                "the exported session state",
                "state",
            ),
            Request::Respond { store, .. } => (
                Request::PrekeyStoreIds {
                    store: store.clone(),
                },
                "the store's one-time prekey ids",
                "one_time_prekey_ids",
            ),
            _ => return Ok(None),
        };
        match self.call(&probe) {
            Ok(out) => match out.get(field) {
                Some(value) => Ok(Some(Snapshot {
                    what,
                    value: value.clone(),
                })),
                None => Err(format!("`{}` returned no `{field}`", probe.op())),
            },
            Err(OpError::Broken(why)) => Err(format!("{BROKEN_PREFIX}{why}")),
            Err(e) => Err(format!("`{}` failed: {e}", probe.op())),
        }
    }

    /// Frees every handle the test bound; answers are not checked (a
    /// broken implementation shows in the next test).
    fn cleanup(&mut self) {
        if !self.has(Capability::Session) {
            return;
        }
        let handles: BTreeSet<String> = self.names.values().cloned().collect();
        for handle in handles {
            let _ = self.call(&Request::Free { handle });
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
struct Snapshot {
    what: &'static str,
    value: Value,
}

fn expectation(expect: &Expect) -> String {
    match expect {
        Expect::Ok(fields) if fields.is_empty() => "ok".into(),
        Expect::Ok(fields) => format!("ok {}", show_output(fields)),
        Expect::Error(class) => format!("error `{class}`"),
    }
}

/// Compares every expected field; `Err((expected, actual))` describes the
/// first difference.
fn compare_outputs(
    request: &Request,
    expected: &Output,
    actual: &Output,
) -> Result<(), (String, String)> {
    for (name, want) in expected {
        let Some(got) = actual.get(name) else {
            return Err((
                format!("`{name}` = {}", show_value(want)),
                format!("no `{name}` in {}", show_output(actual)),
            ));
        };
        if got == want {
            continue;
        }
        if matches!(request, Request::BundleCreate { .. }) && name == "bundle" {
            compare_bundles(want, got)?;
            continue;
        }
        if let (Some(a), Some(b)) = (want.as_str(), got.as_str())
            && a.len().max(b.len()) > 160
        {
            // Long values: a window around the first difference.
            let at = first_difference_at(a, b);
            return Err((
                format!("`{name}` = {}", window(a, at)),
                format!(
                    "`{name}` = {}{}",
                    window(b, at),
                    first_difference(want, got)
                ),
            ));
        }
        return Err((
            format!("`{name}` = {}", show_value(want)),
            format!(
                "`{name}` = {}{}",
                show_value(got),
                first_difference(want, got)
            ),
        ));
    }
    Ok(())
}

/// Bytes shown either side of a difference in a long hex value.
const WINDOW: usize = 16;

/// `hex` cut to the bytes around byte `at`: `…"<hex>"… (bytes x..y of n)`.
fn window(hex: &str, at: usize) -> String {
    let bytes = hex.len() / 2;
    let from = at.saturating_sub(WINDOW).min(bytes);
    let to = (at + WINDOW).min(bytes);
    let part: String = hex.chars().skip(from * 2).take((to - from) * 2).collect();
    format!(
        "{}\"{part}\"{} (bytes {from}..{to} of {bytes})",
        if from > 0 { "…" } else { "" },
        if to < bytes { "…" } else { "" }
    )
}

/// The byte offset where two hex strings first differ.
fn first_difference_at(a: &str, b: &str) -> usize {
    a.as_bytes()
        .chunks(2)
        .zip(b.as_bytes().chunks(2))
        .position(|(x, y)| x != y)
        .unwrap_or(a.len().min(b.len()) / 2)
}

/// The signature's position in an encoded bundle.
const SIGNATURE: std::ops::Range<usize> = 69..133;

/// A bundle equals the expected one except, possibly, for its signature,
/// which must then verify strictly under the bundle's identity key over its
/// signed prekey.
fn compare_bundles(want: &Value, got: &Value) -> Result<(), (String, String)> {
    let decode = |v: &Value| {
        v.as_str()
            .and_then(|s| sealwire_adapter::hex::decode(s).ok())
    };
    let (Some(want_bytes), Some(got_bytes)) = (decode(want), decode(got)) else {
        return Err((
            format!("`bundle` = {}", show_value(want)),
            format!("`bundle` = {} (not hex)", show_value(got)),
        ));
    };
    let same_outside_signature = want_bytes.len() == got_bytes.len()
        && got_bytes.len() >= SIGNATURE.end
        && want_bytes[..SIGNATURE.start] == got_bytes[..SIGNATURE.start]
        && want_bytes[SIGNATURE.end..] == got_bytes[SIGNATURE.end..];
    if !same_outside_signature {
        return Err((
            format!("`bundle` = {} (the signature may differ)", show_value(want)),
            format!(
                "`bundle` = {}{}",
                show_value(got),
                first_difference(want, got)
            ),
        ));
    }
    let identity: [u8; 32] = got_bytes[1..33].try_into().unwrap_or([0; 32]);
    let signature: [u8; 64] = got_bytes[SIGNATURE].try_into().unwrap_or([0; 64]);
    let signed_prekey = &got_bytes[37..69];
    let valid = ed25519_dalek::VerifyingKey::from_bytes(&identity).is_ok_and(|key| {
        key.verify_strict(
            signed_prekey,
            &ed25519_dalek::Signature::from_bytes(&signature),
        )
        .is_ok()
    });
    if valid {
        Ok(())
    } else {
        Err((
            "`bundle` with a signature (bytes 69..133) that verifies strictly".into(),
            format!(
                "`bundle` = {}: its signature does not verify",
                show_value(got)
            ),
        ))
    }
}

/// A value for a message: long hex strings are cut.
pub(crate) fn show_value(value: &Value) -> String {
    match value {
        Value::String(s) if s.len() > 160 => {
            // By characters: an adapter may return any text, not only hex.
            let head: String = s.chars().take(128).collect();
            format!("\"{head}…\" ({} bytes)", s.len() / 2)
        }
        other => other.to_string(),
    }
}

fn show_output(output: &Output) -> String {
    let mut s = String::from("{");
    for (i, (k, v)) in output.iter().enumerate() {
        if i > 0 {
            s.push_str(", ");
        }
        let _ = write!(s, "{k}: {}", show_value(v));
    }
    s.push('}');
    s
}

/// For two hex strings: where they first differ, in bytes.
fn first_difference(want: &Value, got: &Value) -> String {
    let (Some(a), Some(b)) = (want.as_str(), got.as_str()) else {
        return String::new();
    };
    let at = first_difference_at(a, b);
    format!(
        " (first difference at byte {at}; expected {} bytes, got {})",
        a.len() / 2,
        b.len() / 2
    )
}

#[cfg(test)]
mod tests;
