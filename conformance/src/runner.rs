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
//! needs a capability the implementation lacks is skipped, naming it.
//! Once the implementation reports itself broken, the remaining tests fail
//! without being run.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::implementation::{Implementation, OpError};
use crate::protocol::{Capability, Output, Request};
use crate::schema::{Expect, SCHEMA_VERSION, TestCase, VectorFile};

/// A vector file and where it came from.
#[derive(Clone, Debug)]
pub struct LoadedFile {
    /// Path relative to the vectors directory, with `/` separators.
    pub path: String,
    /// The area: the first directory under the vectors directory.
    pub area: String,
    /// The parsed file.
    pub file: VectorFile,
}

/// Loads every `*.json` file under `dir` (recursively, in path order).
/// Returns the files that parsed and one message per file that did not.
pub fn load_vectors(dir: &Path) -> (Vec<LoadedFile>, Vec<String>) {
    let mut paths = Vec::new();
    let mut errors = Vec::new();
    collect_json(dir, &mut BTreeSet::new(), &mut paths, &mut errors);
    paths.sort();
    let mut files = Vec::new();
    for path in paths {
        let rel = relative(dir, &path);
        match load_file(&path) {
            Ok(file) => {
                let area = match rel.split_once('/') {
                    Some((area, _)) => area.to_owned(),
                    None => "(top level)".to_owned(),
                };
                files.push(LoadedFile {
                    path: rel,
                    area,
                    file,
                });
            }
            Err(why) => errors.push(format!("{rel}: {why}")),
        }
    }
    (files, errors)
}

/// Collects `*.json` under `dir`. Each directory is searched once, by its
/// canonical path, so a symlink loop cannot make the search endless.
fn collect_json(
    dir: &Path,
    visited: &mut BTreeSet<PathBuf>,
    out: &mut Vec<PathBuf>,
    errors: &mut Vec<String>,
) {
    match std::fs::canonicalize(dir) {
        Ok(canonical) => {
            if !visited.insert(canonical) {
                return;
            }
        }
        Err(e) => {
            errors.push(format!("{}: {e}", dir.display()));
            return;
        }
    }
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) => {
            errors.push(format!("{}: cannot read directory: {e}", dir.display()));
            return;
        }
    };
    for entry in entries {
        match entry {
            Ok(entry) => {
                let path = entry.path();
                if path.is_dir() {
                    collect_json(&path, visited, out, errors);
                } else if path.extension().is_some_and(|e| e == "json") {
                    out.push(path);
                }
            }
            Err(e) => errors.push(format!("{}: {e}", dir.display())),
        }
    }
}

fn relative(dir: &Path, path: &Path) -> String {
    let rel = path.strip_prefix(dir).unwrap_or(path);
    rel.components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("/")
}

/// Reads and checks one vector file: it parses (unknown fields rejected),
/// has schema version [`SCHEMA_VERSION`], a correct `numberOfTests`, unique
/// tcIds, and every flag explained in `notes`.
pub fn load_file(path: &Path) -> Result<VectorFile, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read: {e}"))?;
    let file: VectorFile =
        serde_json::from_str(&text).map_err(|e| format!("not a valid vector file: {e}"))?;
    if file.schema_version != SCHEMA_VERSION {
        return Err(format!(
            "schema version {:?}, this runner reads {SCHEMA_VERSION:?}",
            file.schema_version
        ));
    }
    let count: usize = file.test_groups.iter().map(|g| g.tests.len()).sum();
    if count != file.number_of_tests {
        return Err(format!(
            "numberOfTests is {} but the file has {count} tests",
            file.number_of_tests
        ));
    }
    let mut ids = BTreeSet::new();
    for test in file.test_groups.iter().flat_map(|g| &g.tests) {
        if !ids.insert(test.tc_id) {
            return Err(format!("tcId {} appears twice", test.tc_id));
        }
        if test.steps.is_empty() {
            return Err(format!("tcId {} has no steps", test.tc_id));
        }
        if let Some(flag) = test.flags.iter().find(|f| !file.notes.contains_key(*f)) {
            return Err(format!(
                "tcId {}: flag {flag:?} is not explained in notes",
                test.tc_id
            ));
        }
    }
    Ok(file)
}

/// How a test went.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Every step answered as expected and every oracle held.
    Passed,
    /// Something did not.
    Failed(Failure),
    /// Not run to the end, with the reason (a missing capability, or the
    /// implementation answered `unsupported`).
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
}

impl RunReport {
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

    /// True when nothing failed, every file loaded, and at least one test
    /// ran.
    pub fn success(&self) -> bool {
        let (passed, failed, _) = self.counts();
        failed == 0 && self.load_errors.is_empty() && passed > 0
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
}

/// True if `test` in `file` is selected by `filters`.
pub fn selected(filters: &[String], file: &str, test: &TestCase) -> bool {
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
pub fn required_capabilities(test: &TestCase) -> BTreeSet<Capability> {
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
    fn step(&mut self, index: usize, step: &crate::schema::Step) -> Result<(), Outcome> {
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
            (_, Err(OpError::Unsupported(why))) => Err(Outcome::Skipped(format!(
                "the implementation answered unsupported at step {index} (`{op}`): {why}"
            ))),
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

/// The signature's position in an encoded bundle.
const SIGNATURE: std::ops::Range<usize> = 69..133;

/// A bundle equals the expected one except, possibly, for its signature,
/// which must then verify strictly under the bundle's identity key over its
/// signed prekey.
fn compare_bundles(want: &Value, got: &Value) -> Result<(), (String, String)> {
    let decode = |v: &Value| v.as_str().and_then(|s| crate::hex::decode(s).ok());
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
pub fn show_value(value: &Value) -> String {
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
    let at = a
        .as_bytes()
        .chunks(2)
        .zip(b.as_bytes().chunks(2))
        .position(|(x, y)| x != y)
        .unwrap_or(a.len().min(b.len()) / 2);
    format!(
        " (first difference at byte {at}; expected {} bytes, got {})",
        a.len() / 2,
        b.len() / 2
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hex::Bytes;
    use crate::protocol::PreKeySecret;
    use crate::reference::ReferenceImplementation;
    use crate::schema::{Step, Verdict};

    fn key(byte: u8) -> Bytes {
        Bytes(vec![byte; 32])
    }

    fn step(request: Request, expect: Expect, bind: Option<&str>) -> Step {
        Step {
            request,
            bind: bind.map(str::to_owned),
            expect,
        }
    }

    fn ok_fields(fields: &[(&str, Value)]) -> Expect {
        Expect::Ok(
            fields
                .iter()
                .map(|(k, v)| ((*k).to_owned(), v.clone()))
                .collect(),
        )
    }

    fn test_case(steps: Vec<Step>) -> TestCase {
        TestCase {
            tc_id: 1,
            comment: "unit".into(),
            flags: vec!["Flag".into()],
            steps,
            result: Verdict::Valid,
            error: None,
        }
    }

    fn hexv(bytes: &[u8]) -> Value {
        Value::String(crate::hex::encode(bytes))
    }

    /// Computes a step's output with the reference, for building tests.
    fn compute(request: &Request) -> Output {
        ReferenceImplementation::new().call(request).unwrap()
    }

    fn bundle_request() -> Request {
        Request::BundleCreate {
            identity_seed: key(0x11),
            signed_prekey: PreKeySecret {
                id: 7,
                private_key: key(0x21),
            },
            one_time_prekey: None,
        }
    }

    /// A conversation: store, initiate, respond, Bob replies, then a
    /// tampered copy of the reply is rejected, a replayed initial message is
    /// rejected (its one-time prekey is gone), and the genuine reply is
    /// accepted.
    fn conversation() -> TestCase {
        let mut reference = ReferenceImplementation::new();
        let bundle_request = Request::BundleCreate {
            identity_seed: key(0x11),
            signed_prekey: PreKeySecret {
                id: 7,
                private_key: key(0x21),
            },
            one_time_prekey: Some(PreKeySecret {
                id: 100,
                private_key: key(0x22),
            }),
        };
        let bundle = reference.call(&bundle_request).unwrap()["bundle"].clone();
        let bundle = Bytes::from_hex(bundle.as_str().unwrap()).unwrap();
        let store_request = Request::PrekeyStoreCreate {
            identity_seed: key(0x11),
            signed_prekeys: vec![PreKeySecret {
                id: 7,
                private_key: key(0x21),
            }],
            one_time_prekeys: vec![PreKeySecret {
                id: 100,
                private_key: key(0x22),
            }],
        };
        let store = reference.call(&store_request).unwrap()["store"]
            .as_str()
            .unwrap()
            .to_owned();
        let initiate = Request::Initiate {
            identity_seed: key(1),
            bundle: bundle.clone(),
            ephemeral_private_key: key(2),
            ratchet_private_key: key(3),
            plaintext: Bytes(b"hi".to_vec()),
        };
        let out = reference.call(&initiate).unwrap();
        let initial = out["initial_message"].clone();
        let respond = |store: &str| Request::Respond {
            store: store.into(),
            initial_message: Bytes::from_hex(initial.as_str().unwrap()).unwrap(),
            ratchet_private_key: key(4),
        };
        let bob = reference.call(&respond(&store)).unwrap()["session"]
            .as_str()
            .unwrap()
            .to_owned();
        let encrypt = |session: &str| Request::Encrypt {
            session: session.into(),
            plaintext: Bytes(b"yo".to_vec()),
        };
        let reply = reference.call(&encrypt(&bob)).unwrap()["message"].clone();
        let reply = Bytes::from_hex(reply.as_str().unwrap()).unwrap();
        let mut tampered = reply.clone();
        tampered.0[45] ^= 1;
        let decrypt = |message: Bytes| Request::Decrypt {
            session: "alice".into(),
            message,
            ratchet_private_key: Some(key(5)),
        };
        test_case(vec![
            step(store_request, ok_fields(&[]), Some("store")),
            step(
                initiate,
                ok_fields(&[("initial_message", initial.clone())]),
                Some("alice"),
            ),
            step(
                respond("store"),
                ok_fields(&[("plaintext", hexv(b"hi"))]),
                Some("bob"),
            ),
            step(
                encrypt("bob"),
                ok_fields(&[("message", hexv(&reply.0))]),
                None,
            ),
            step(
                decrypt(tampered),
                Expect::Error("decryption_failed".into()),
                None,
            ),
            step(respond("store"), Expect::Error("handshake".into()), None),
            step(
                decrypt(reply),
                ok_fields(&[("plaintext", hexv(b"yo"))]),
                None,
            ),
        ])
    }

    #[test]
    fn a_conversation_passes_against_the_reference() {
        let mut reference = ReferenceImplementation::new();
        assert_eq!(run_test(&mut reference, &conversation()), Outcome::Passed);
        // Twice in a row on the same implementation: namespaces are fresh.
        assert_eq!(run_test(&mut reference, &conversation()), Outcome::Passed);
    }

    #[test]
    fn a_changed_expected_byte_fails_with_step_op_and_difference() {
        let mut test = conversation();
        let Expect::Ok(fields) = &mut test.steps[3].expect else {
            panic!()
        };
        let message = fields["message"].as_str().unwrap().to_owned();
        let mut bytes = Bytes::from_hex(&message).unwrap();
        bytes.0[50] ^= 0x80;
        fields.insert("message".into(), hexv(&bytes.0));
        match run_test(&mut ReferenceImplementation::new(), &test) {
            Outcome::Failed(f) => {
                assert_eq!(f.step, Some(3));
                assert_eq!(f.op.as_deref(), Some("encrypt"));
                assert!(f.actual.contains("first difference at byte 50"), "{f:?}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn wrong_error_class_and_unexpected_success_fail() {
        let mut test = conversation();
        test.steps[4].expect = Expect::Error("duplicate".into());
        match run_test(&mut ReferenceImplementation::new(), &test) {
            Outcome::Failed(f) => {
                assert_eq!(
                    (f.step, f.expected.as_str()),
                    (Some(4), "error `duplicate`")
                );
                assert_eq!(f.actual, "error `decryption_failed`");
            }
            other => panic!("{other:?}"),
        }
        let mut test = conversation();
        test.steps[6].expect = Expect::Error("duplicate".into());
        match run_test(&mut ReferenceImplementation::new(), &test) {
            Outcome::Failed(f) => assert!(f.actual.starts_with("ok {plaintext"), "{f:?}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn unbound_handle_names_are_reported_as_vector_errors() {
        let mut test = conversation();
        test.steps[2].bind = None;
        match run_test(&mut ReferenceImplementation::new(), &test) {
            Outcome::Failed(f) => {
                assert_eq!(f.step, Some(3));
                assert!(f.actual.contains("`bob` was not bound"), "{f:?}");
            }
            other => panic!("{other:?}"),
        }
    }

    /// Wraps the reference and misbehaves on purpose.
    struct Faulty {
        inner: ReferenceImplementation,
        fault: Fault,
    }

    enum Fault {
        /// A rejected decrypt still advances the session (sends a message).
        MutateOnRejectedDecrypt,
        /// Bundles are signed with a corrupted signature.
        BadSignature,
        /// Breaks at the n-th call.
        BreakAt(usize),
    }

    impl Implementation for Faulty {
        fn name(&self) -> &str {
            "faulty"
        }
        fn capabilities(&self) -> &BTreeSet<Capability> {
            self.inner.capabilities()
        }
        fn call(&mut self, request: &Request) -> Result<Output, OpError> {
            if let Fault::BreakAt(n) = &mut self.fault {
                if *n == 0 {
                    return Err(OpError::Broken("stopped on purpose".into()));
                }
                *n -= 1;
            }
            let result = self.inner.call(request);
            match (&self.fault, request, &result) {
                (Fault::MutateOnRejectedDecrypt, Request::Decrypt { session, .. }, Err(_)) => {
                    let _ = self.inner.call(&Request::Encrypt {
                        session: session.clone(),
                        plaintext: Bytes::default(),
                    });
                }
                (Fault::BadSignature, Request::BundleCreate { .. }, Ok(out)) => {
                    let mut bytes = Bytes::from_hex(out["bundle"].as_str().unwrap()).unwrap();
                    bytes.0[100] ^= 1;
                    let mut out = out.clone();
                    out.insert("bundle".into(), hexv(&bytes.0));
                    return Ok(out);
                }
                _ => {}
            }
            result
        }
    }

    #[test]
    fn oracle_catches_a_session_changed_by_a_rejected_decrypt() {
        let mut faulty = Faulty {
            inner: ReferenceImplementation::new(),
            fault: Fault::MutateOnRejectedDecrypt,
        };
        match run_test(&mut faulty, &conversation()) {
            Outcome::Failed(f) => {
                assert_eq!(f.step, Some(4));
                assert!(
                    f.actual.contains("the exported session state changed"),
                    "{f:?}"
                );
            }
            other => panic!("{other:?}"),
        }
        // Without the `state` capability the oracle cannot look.
        let mut blind = Faulty {
            inner: ReferenceImplementation::with_capabilities(
                Capability::ALL
                    .into_iter()
                    .filter(|c| *c != Capability::State),
            ),
            fault: Fault::MutateOnRejectedDecrypt,
        };
        // The mutation (an extra message sent) is invisible to the rest of
        // this conversation: only the oracle could have seen it.
        assert_eq!(run_test(&mut blind, &conversation()), Outcome::Passed);
    }

    #[test]
    fn oracle_catches_prekey_ids_changed_by_a_rejected_respond() {
        // Ids are reported differently from the second call on: the
        // before/after comparison around the rejected respond sees it only
        // if the fault flips between them, so flip on every other call.
        struct Flip {
            inner: ReferenceImplementation,
            calls: usize,
        }
        impl Implementation for Flip {
            fn name(&self) -> &str {
                "flip"
            }
            fn capabilities(&self) -> &BTreeSet<Capability> {
                self.inner.capabilities()
            }
            fn call(&mut self, request: &Request) -> Result<Output, OpError> {
                let mut out = self.inner.call(request)?;
                if matches!(request, Request::PrekeyStoreIds { .. }) {
                    self.calls += 1;
                    out.insert(
                        "one_time_prekey_ids".into(),
                        serde_json::json!([self.calls]),
                    );
                }
                Ok(out)
            }
        }
        let mut flip = Flip {
            inner: ReferenceImplementation::new(),
            calls: 0,
        };
        match run_test(&mut flip, &conversation()) {
            Outcome::Failed(f) => {
                assert_eq!(f.step, Some(5));
                assert!(f.actual.contains("one-time prekey ids changed"), "{f:?}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn bundle_signatures_are_verified_not_compared() {
        let expected = compute(&bundle_request())["bundle"].clone();
        let good = test_case(vec![step(
            bundle_request(),
            ok_fields(&[("bundle", expected.clone())]),
            None,
        )]);
        assert_eq!(
            run_test(&mut ReferenceImplementation::new(), &good),
            Outcome::Passed
        );
        let mut bad = Faulty {
            inner: ReferenceImplementation::new(),
            fault: Fault::BadSignature,
        };
        match run_test(&mut bad, &good) {
            Outcome::Failed(f) => assert!(f.actual.contains("does not verify"), "{f:?}"),
            other => panic!("{other:?}"),
        }
        // An expected bundle whose signature differs (another nonce, here
        // simply garbage): the correct signature returned still passes.
        let mut bytes = Bytes::from_hex(expected.as_str().unwrap()).unwrap();
        bytes.0[70] ^= 0xff;
        let other_nonce = test_case(vec![step(
            bundle_request(),
            ok_fields(&[("bundle", hexv(&bytes.0))]),
            None,
        )]);
        assert_eq!(
            run_test(&mut ReferenceImplementation::new(), &other_nonce),
            Outcome::Passed
        );
        // But any byte outside the signature is compared: here the
        // one-time prekey flag (byte 133).
        bytes.0[133] ^= 1;
        let outside = test_case(vec![step(
            bundle_request(),
            ok_fields(&[("bundle", hexv(&bytes.0))]),
            None,
        )]);
        match run_test(&mut ReferenceImplementation::new(), &outside) {
            Outcome::Failed(f) => {
                assert!(f.actual.contains("first difference at byte 70"), "{f:?}")
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn missing_capabilities_skip_and_name_the_capability() {
        let mut limited =
            ReferenceImplementation::with_capabilities([Capability::Bundle, Capability::Kdf]);
        match run_test(&mut limited, &conversation()) {
            Outcome::Skipped(why) => assert_eq!(why, "needs capability `session`"),
            other => panic!("{other:?}"),
        }
        let mut test = conversation();
        let Expect::Ok(fields) = &mut test.steps[1].expect else {
            panic!()
        };
        fields.insert("shared_secret".into(), hexv(&[0; 32]));
        assert!(required_capabilities(&test).contains(&Capability::X3dhSecret));
        let mut no_secret = ReferenceImplementation::with_capabilities(
            Capability::ALL
                .into_iter()
                .filter(|c| *c != Capability::X3dhSecret),
        );
        match run_test(&mut no_secret, &test) {
            Outcome::Skipped(why) => assert!(why.contains("x3dh_secret"), "{why}"),
            other => panic!("{other:?}"),
        }
    }

    fn file(tests: Vec<TestCase>) -> LoadedFile {
        let mut notes = BTreeMap::new();
        notes.insert("Flag".to_owned(), "a flag".to_owned());
        LoadedFile {
            path: "session/unit.json".into(),
            area: "session".into(),
            file: VectorFile {
                algorithm: "unit".into(),
                schema_version: SCHEMA_VERSION.into(),
                generator_version: "0".into(),
                source: "unit tests".into(),
                number_of_tests: tests.len(),
                header: vec![],
                notes,
                test_groups: vec![crate::schema::TestGroup {
                    kind: "SessionTest".into(),
                    comment: "unit".into(),
                    tests,
                }],
            },
        }
    }

    #[test]
    fn a_broken_implementation_fails_the_remaining_tests_without_running_them() {
        let tests: Vec<TestCase> = (1..=3)
            .map(|id| TestCase {
                tc_id: id,
                ..conversation()
            })
            .collect();
        let mut faulty = Faulty {
            inner: ReferenceImplementation::new(),
            // A conversation makes 14 calls (11 steps and oracle probes, 3
            // frees): break at the 4th call of the second test.
            fault: Fault::BreakAt(17),
        };
        let report = run(&mut faulty, &[file(tests)], &RunOptions::default());
        let outcomes: Vec<_> = report.results.iter().map(|r| &r.outcome).collect();
        assert_eq!(outcomes[0], &Outcome::Passed);
        match (outcomes[1], outcomes[2]) {
            (Outcome::Failed(a), Outcome::Failed(b)) => {
                assert!(
                    !a.not_run && a.actual.contains("stopped on purpose"),
                    "{a:?}"
                );
                assert_eq!((a.step, a.op.as_deref()), (Some(3), Some("encrypt")));
                assert!(
                    b.not_run && b.actual.contains("stopped on purpose"),
                    "{b:?}"
                );
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(report.counts(), (1, 2, 0));
        assert!(!report.success());
    }

    #[test]
    fn long_values_are_cut_on_character_boundaries() {
        let hex = Value::String("ab".repeat(100));
        assert_eq!(
            show_value(&hex),
            format!("\"{}…\" (100 bytes)", "ab".repeat(64))
        );
        let text = Value::String("é".repeat(200));
        assert_eq!(
            show_value(&text),
            format!("\"{}…\" (200 bytes)", "é".repeat(128))
        );
        assert_eq!(show_value(&Value::from(7)), "7");
    }

    #[test]
    fn filters_select_by_path_tcid_and_flag() {
        let t = TestCase {
            tc_id: 12,
            flags: vec!["Replay".into()],
            ..conversation()
        };
        let f = |s: &[&str]| s.iter().map(|x| (*x).to_owned()).collect::<Vec<_>>();
        assert!(selected(&[], "session/a.json", &t));
        assert!(selected(&f(&["session/"]), "session/a.json", &t));
        assert!(selected(&f(&["a.json#12"]), "session/a.json", &t));
        assert!(selected(&f(&["12"]), "session/a.json", &t));
        assert!(selected(&f(&["Repl"]), "session/a.json", &t));
        assert!(!selected(&f(&["1"]), "session/a.json", &t));
        assert!(!selected(&f(&["wire/", "Tamper"]), "session/a.json", &t));
        let report = run(
            &mut ReferenceImplementation::new(),
            &[file(vec![t])],
            &RunOptions {
                filters: f(&["nothing matches this"]),
                progress: false,
            },
        );
        assert!(report.results.is_empty());
        assert!(!report.success(), "zero tests run is not a success");
    }

    #[test]
    fn load_rejects_bad_files_with_reasons() {
        let dir = std::env::temp_dir().join(format!("sealwire-runner-load-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("session")).unwrap();
        let good = file(vec![conversation()]);
        let text = serde_json::to_string(&good.file).unwrap();
        std::fs::write(dir.join("session/good.json"), &text).unwrap();
        std::fs::write(
            dir.join("session/unknown_field.json"),
            text.replacen("\"algorithm\"", "\"surprise\":1,\"algorithm\"", 1),
        )
        .unwrap();
        std::fs::write(
            dir.join("session/count.json"),
            text.replacen("\"numberOfTests\":1", "\"numberOfTests\":2", 1),
        )
        .unwrap();
        std::fs::write(
            dir.join("session/flag.json"),
            text.replacen("\"flags\":[\"Flag\"]", "\"flags\":[\"Unexplained\"]", 1),
        )
        .unwrap();
        std::fs::write(dir.join("top.json"), text.replacen("\"1\"", "\"2\"", 1)).unwrap();
        std::fs::write(dir.join("session/notes.txt"), "ignored").unwrap();
        #[cfg(unix)]
        std::os::unix::fs::symlink(&dir, dir.join("session/loop")).unwrap();
        let (files, errors) = load_vectors(&dir);
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(files.len(), 1);
        assert_eq!(
            (files[0].path.as_str(), files[0].area.as_str()),
            ("session/good.json", "session")
        );
        let joined = errors.join("\n");
        // The symlink loop is searched once: no file twice, no error.
        assert_eq!(errors.len(), 4, "{joined}");
        assert!(
            joined.contains(
                "session/unknown_field.json: not a valid vector file: unknown field `surprise`"
            ),
            "{joined}"
        );
        assert!(
            joined.contains("numberOfTests is 2 but the file has 1 tests"),
            "{joined}"
        );
        assert!(
            joined.contains("flag \"Unexplained\" is not explained"),
            "{joined}"
        );
        assert!(
            joined.contains("top.json: schema version \"2\""),
            "{joined}"
        );
    }
}
