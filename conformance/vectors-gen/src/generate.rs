//! The generator: rebuilds every vector file from fixed seeds.
//!
//! Every key is derived from a labelled seed (`SHA-256("sealwire-vectors/" ||
//! label)`), every expected output is computed here with the reference crate
//! `sealwire` and the RustCrypto primitives, and published vectors (RFCs,
//! Wycheproof) are checked against those primitives before they are written.
//! Nothing is hand-written but the published values, each with its source.
//!
//! [`write_all`] writes the files (pretty JSON, fixed key order, trailing
//! newline); [`check_all`] compares the checked-in files with a fresh
//! generation so that they cannot drift silently.

use std::collections::BTreeSet;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use sealwire::ErrorClass;
use serde_json::Value;

use crate::schema::{Expect, SCHEMA_VERSION, Step, TestCase, TestGroup, VectorFile, Verdict};
use sealwire_adapter::hex::Bytes;
use sealwire_adapter::{Output, Request};

mod handshake;
mod kdf;
mod party;
mod primitives;
mod session;
mod state;
mod wire;

/// Version of this generator, written into every file.
pub const GENERATOR_VERSION: &str = env!("CARGO_PKG_VERSION");

/// Every vector file, with its path relative to the vectors directory
/// (e.g. `session/session_out_of_order.json`), in a fixed order.
pub fn generate_all() -> Vec<(PathBuf, VectorFile)> {
    let mut out = Vec::new();
    out.extend(primitives::files());
    out.extend(kdf::files());
    out.extend(handshake::files());
    out.extend(session::files());
    out.extend(wire::files());
    out.extend(state::files());
    out
}

/// The file's bytes as written: pretty JSON with the schema's fixed key
/// order and a trailing newline.
pub fn render(file: &VectorFile) -> String {
    let mut text = serde_json::to_string_pretty(file).expect("vector files always serialize");
    text.push('\n');
    text
}

/// Writes every vector file under `dir` (creating area directories) and
/// removes `.json` files under `dir` that the generator no longer makes.
pub fn write_all(dir: &Path) -> io::Result<()> {
    let files = generate_all();
    let wanted: BTreeSet<PathBuf> = files.iter().map(|(p, _)| p.clone()).collect();
    for (rel, file) in &files {
        let path = dir.join(rel);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent)?;
        }
        fs::write(&path, render(file))?;
    }
    for extra in json_files(dir)? {
        if !wanted.contains(&extra) {
            fs::remove_file(dir.join(&extra))?;
        }
    }
    Ok(())
}

/// Compares the files under `dir` with a fresh generation. Returns one line
/// per file that differs, is missing, or is not made by the generator.
pub fn check_all(dir: &Path) -> Result<(), Vec<String>> {
    let files = generate_all();
    let mut problems = Vec::new();
    let mut wanted = BTreeSet::new();
    for (rel, file) in &files {
        wanted.insert(rel.clone());
        let path = dir.join(rel);
        match fs::read_to_string(&path) {
            Ok(on_disk) if on_disk == render(file) => {}
            Ok(_) => problems.push(format!("differs: {}", rel.display())),
            Err(e) => problems.push(format!("missing: {} ({e})", rel.display())),
        }
    }
    match json_files(dir) {
        Ok(present) => {
            for extra in present.difference(&wanted) {
                problems.push(format!("not generated: {}", extra.display()));
            }
        }
        Err(e) => problems.push(format!("cannot list {}: {e}", dir.display())),
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems)
    }
}

/// Every `.json` file under `dir`, relative to it.
fn json_files(dir: &Path) -> io::Result<BTreeSet<PathBuf>> {
    let mut out = BTreeSet::new();
    if !dir.exists() {
        return Ok(out);
    }
    let mut pending = vec![dir.to_path_buf()];
    while let Some(current) = pending.pop() {
        for entry in fs::read_dir(&current)? {
            let path = entry?.path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|e| e == "json") {
                let rel = path
                    .strip_prefix(dir)
                    .map_err(|e| io::Error::other(e.to_string()))?;
                out.insert(rel.to_path_buf());
            }
        }
    }
    Ok(out)
}

// ---------------------------------------------------------------------------
// Shared building blocks of the area generators.

/// `SHA-256("sealwire-vectors/" || label)`: the seed of every fixed key.
pub(crate) fn seed(label: &str) -> [u8; 32] {
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    h.update(b"sealwire-vectors/");
    h.update(label.as_bytes());
    h.finalize().into()
}

/// `len` deterministic bytes for `label` (a ChaCha20 stream seeded with
/// [`seed`]).
pub(crate) fn seeded_bytes(label: &str, len: usize) -> Vec<u8> {
    use rand_chacha::ChaCha20Rng;
    use rand_core::{Rng, SeedableRng};
    let mut rng = ChaCha20Rng::from_seed(seed(label));
    let mut out = vec![0u8; len];
    rng.fill_bytes(&mut out);
    out
}

/// Lowercase hex as a JSON value.
pub(crate) use sealwire_adapter::hex::to_value as hexv;

/// Bytes for a request field.
pub(crate) fn b(bytes: &[u8]) -> Bytes {
    Bytes(bytes.to_vec())
}

/// Decodes a published hex constant (panics on a typo: generator bug).
pub(crate) fn unhex(s: &str) -> Vec<u8> {
    sealwire_adapter::hex::decode(s).unwrap_or_else(|e| panic!("bad hex constant {s:?}: {e}"))
}

/// Like [`unhex`], exactly 32 bytes.
pub(crate) fn unhex32(s: &str) -> [u8; 32] {
    unhex(s).try_into().expect("a 32-byte hex constant")
}

/// A step that must succeed with exactly these fields.
pub(crate) fn ok(request: Request, fields: &[(&str, Value)]) -> Step {
    let out: Output = fields
        .iter()
        .map(|(k, v)| ((*k).to_string(), v.clone()))
        .collect();
    Step {
        request,
        bind: None,
        expect: Expect::Ok(out),
    }
}

/// A step that must succeed and whose returned handle is bound to `name`.
pub(crate) fn ok_bind(request: Request, name: &str, fields: &[(&str, Value)]) -> Step {
    let mut step = ok(request, fields);
    step.bind = Some(name.to_string());
    step
}

/// A step that must fail with `class`.
pub(crate) fn err(request: Request, class: ErrorClass) -> Step {
    Step {
        request,
        bind: None,
        expect: Expect::Error(class.as_str().to_string()),
    }
}

/// Builds one vector file: tests get consecutive `tcId`s from 1, every
/// flag used must be explained in `notes`, and every test's verdict must
/// agree with its steps.
#[derive(Debug)]
pub(crate) struct FileBuilder {
    path: String,
    file: VectorFile,
    next_id: u32,
}

impl FileBuilder {
    /// A new file at `path` (e.g. `kdf/kdf_root_chain.json`).
    pub(crate) fn new(path: &str, algorithm: &str, source: &str, header: &[&str]) -> Self {
        Self {
            path: path.to_string(),
            file: VectorFile {
                algorithm: algorithm.to_string(),
                schema_version: SCHEMA_VERSION.to_string(),
                generator_version: GENERATOR_VERSION.to_string(),
                source: source.to_string(),
                number_of_tests: 0,
                header: header.iter().map(|s| (*s).to_string()).collect(),
                notes: Default::default(),
                test_groups: Vec::new(),
            },
            next_id: 1,
        }
    }

    /// Explains a flag.
    pub(crate) fn note(&mut self, flag: &str, meaning: &str) -> &mut Self {
        self.file
            .notes
            .insert(flag.to_string(), meaning.to_string());
        self
    }

    /// Starts a new group; later tests go into it.
    pub(crate) fn group(&mut self, kind: &str, comment: &str) -> &mut Self {
        self.file.test_groups.push(TestGroup {
            kind: kind.to_string(),
            comment: comment.to_string(),
            tests: Vec::new(),
        });
        self
    }

    /// Adds a test whose every step succeeds.
    pub(crate) fn valid(&mut self, comment: &str, flags: &[&str], steps: Vec<Step>) {
        self.push(comment, flags, steps, None);
    }

    /// Adds a test whose point is a rejection with `class`.
    pub(crate) fn invalid(
        &mut self,
        comment: &str,
        flags: &[&str],
        class: ErrorClass,
        steps: Vec<Step>,
    ) {
        self.push(comment, flags, steps, Some(class));
    }

    fn push(&mut self, comment: &str, flags: &[&str], steps: Vec<Step>, class: Option<ErrorClass>) {
        let id = self.next_id;
        assert!(!steps.is_empty(), "{} tcId {id}: no steps", self.path);
        assert!(
            !comment.contains('\n'),
            "{} tcId {id}: comment must be one line",
            self.path
        );
        let errors: Vec<&str> = steps
            .iter()
            .filter_map(|s| match &s.expect {
                Expect::Error(c) => Some(c.as_str()),
                Expect::Ok(_) => None,
            })
            .collect();
        match class {
            None => assert!(
                errors.is_empty(),
                "{} tcId {id}: a valid test has a rejected step",
                self.path
            ),
            Some(class) => assert!(
                errors.contains(&class.as_str()),
                "{} tcId {id}: an invalid test needs a step rejected with {class}",
                self.path
            ),
        }
        let group = self
            .file
            .test_groups
            .last_mut()
            .unwrap_or_else(|| panic!("{}: test before any group", self.path));
        group.tests.push(TestCase {
            tc_id: id,
            comment: comment.to_string(),
            flags: flags.iter().map(|s| (*s).to_string()).collect(),
            steps,
            result: if class.is_some() {
                Verdict::Invalid
            } else {
                Verdict::Valid
            },
            error: class.map(|c| c.as_str().to_string()),
        });
        self.next_id += 1;
    }

    /// Finishes the file: counts the tests and checks that every flag used
    /// is explained and every explained flag is used.
    pub(crate) fn finish(mut self) -> (PathBuf, VectorFile) {
        let mut used = BTreeSet::new();
        for group in &self.file.test_groups {
            assert!(!group.tests.is_empty(), "{}: empty group", self.path);
            for test in &group.tests {
                used.extend(test.flags.iter().cloned());
            }
        }
        let noted: BTreeSet<String> = self.file.notes.keys().cloned().collect();
        assert_eq!(
            used, noted,
            "{}: flags used and flags explained differ",
            self.path
        );
        self.file.number_of_tests = self.file.test_groups.iter().map(|g| g.tests.len()).sum();
        (PathBuf::from(self.path), self.file)
    }
}

/// A generator that hands out exactly the bytes scripted, in order: the
/// private keys a vector supplies. Drawing more than scripted is a
/// generator bug and panics.
#[derive(Debug, Default)]
pub(crate) struct Scripted {
    bytes: Vec<u8>,
    pos: usize,
}

impl Scripted {
    pub(crate) fn new(chunks: &[&[u8]]) -> Self {
        Self {
            bytes: chunks.concat(),
            pos: 0,
        }
    }

    /// How many bytes were drawn.
    pub(crate) fn drawn(&self) -> usize {
        self.pos
    }
}

impl rand_core::TryRng for Scripted {
    type Error = core::convert::Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        rand_core::utils::next_word_via_fill(self)
    }

    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        rand_core::utils::next_word_via_fill(self)
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
        let end = self.pos + dst.len();
        assert!(
            end <= self.bytes.len(),
            "scripted generator exhausted: the protocol drew more than the vector supplies"
        );
        dst.copy_from_slice(&self.bytes[self.pos..end]);
        self.pos = end;
        Ok(())
    }
}

impl rand_core::TryCryptoRng for Scripted {}
