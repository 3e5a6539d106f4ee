//! The black-box message fuzzer (`fuzz --impl '<cmd>' --runs N --seed S`).
//!
//! A fixed conversation is recorded first (a first message not yet
//! answered, a delivered first message, a new-turn and a same-chain message
//! not yet delivered, a reply of the responder, a delivered reply). Each run
//! then draws a [`Recipe`] from the seed and the run's number: a target
//! message and one to four mutations (bit flips, byte edits, deletions,
//! insertions, truncations, extensions, splices from another recorded
//! message; with a layout, field-targeted values: low-order points in key
//! fields, counter edges in counter fields). The mutated bytes go to the
//! target's receiver. Oracle: the adapter neither crashes nor hangs, every
//! non-authentic input is rejected, the receiver's exported state (and, for
//! first messages, the unused one-time prekeys) is unchanged, and at the
//! end the authentic messages still decrypt and nothing leaked.
//!
//! Same seed and count give the same recipes; the bytes they produce are
//! the same too when the adapter is seedable.
//!
//! **In process** ([`Harness`]): for a library written in Rust, a cargo-fuzz
//! target serves its adapter inside the fuzzing process
//! ([`crate::transport::register_in_process`]), records the same
//! conversation once, and turns each libFuzzer input into a recipe
//! ([`recipe_from_bytes`]) checked by the same oracle, with the leak scan
//! of every input's answers and log; coverage then guides the mutations
//! through the library's parser and ratchet. A failure is minimised (each
//! mutation dropped while the input still fails the same way) and written
//! as JSON; `fuzz --impl ... --replay FILE` records the conversation again
//! and applies the recipe. `conformance/blackbox/fuzz/` ships such a target
//! over vodozemac; [`Harness::check_with_known`] lets a target step over a
//! finding already recorded against its library ([`KnownFinding`]).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use arbitrary::Unstructured;
use serde::{Deserialize, Serialize};

use crate::client::{DEFAULT_TIMEOUT, HelloError};
use crate::hex;
use crate::model::{self, Config, LOW_ORDER, Party, Property, Step, Violation, World, interface};
use crate::rng::Draw;

/// One mutation. Positions are taken modulo the current length.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mutation {
    /// Flip one bit.
    Flip {
        /// Byte.
        at: u32,
        /// Bit.
        bit: u8,
    },
    /// Set a byte.
    Set {
        /// Byte.
        at: u32,
        /// Value.
        value: u8,
    },
    /// Delete `len` bytes.
    Delete {
        /// Start.
        at: u32,
        /// Length.
        len: u16,
    },
    /// Insert bytes.
    Insert {
        /// Where.
        at: u32,
        /// What (hex).
        bytes: String,
    },
    /// Keep a prefix.
    Truncate {
        /// Kept length (modulo the length).
        keep: u32,
    },
    /// Append bytes.
    Extend {
        /// What (hex).
        bytes: String,
    },
    /// Overwrite a range with bytes of another recorded message.
    Splice {
        /// The other message (index into the recorded targets).
        from: u8,
        /// Source offset.
        src: u32,
        /// Destination offset.
        at: u32,
        /// Length.
        len: u16,
    },
    /// Overwrite 32 bytes (a key field with a layout, else anywhere) with a
    /// low-order point.
    LowOrder {
        /// The field (index among key-sized fields) or offset selector.
        field: u16,
        /// Which point.
        point: u8,
    },
    /// Write a counter edge value into the counter field (layout only).
    Counter {
        /// Which edge: 0, 1, 0x7f, 0x80, all 0xff, 0xffffffff − 1, current ± 1.
        edge: u8,
    },
}

/// What one fuzz input is: a recorded target and its mutations.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recipe {
    /// Index into [`TARGETS`].
    pub target: usize,
    /// Applied in order.
    pub mutations: Vec<Mutation>,
}

/// The recorded messages mutated, by name.
pub const TARGETS: [&str; 6] = [
    "an unanswered first message (to Bob's respond)",
    "the delivered first message (to Bob's session)",
    "Alice's undelivered new-turn message",
    "Alice's undelivered same-chain message",
    "Bob's undelivered reply (new turn)",
    "Bob's delivered reply",
];

/// A failure file: everything `--replay` needs.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct FailureFile {
    /// The adapter command.
    pub command: String,
    /// The run's seed (the conversation's adapter seed derives from it).
    pub seed: u64,
    /// The run number.
    pub run: u64,
    /// The minimised recipe.
    pub recipe: Recipe,
    /// The property violated.
    pub property: String,
    /// What happened.
    pub what: String,
    /// The input's bytes when found (hex): equal on replay for a seedable
    /// adapter.
    pub input: String,
}

/// A fuzz campaign's configuration.
#[derive(Clone, Debug)]
pub struct FuzzConfig {
    /// The adapter command.
    pub command: String,
    /// Inputs.
    pub runs: u64,
    /// Seed.
    pub seed: u64,
    /// Per-request timeout.
    pub timeout: Duration,
    /// Where failure files go.
    pub out: PathBuf,
}

/// What a campaign found.
#[derive(Debug, Default)]
pub struct FuzzReport {
    /// Inputs sent.
    pub inputs: u64,
    /// Inputs skipped (the mutations gave back an authentic message).
    pub skipped: u64,
    /// Checks that failed: inputs, the recording of the conversation and
    /// the final check after the inputs (one failure file per kind:
    /// `failures`).
    pub failed: u64,
    /// The inputs among them.
    pub failed_inputs: u64,
    /// Failures, minimised, with the file each was written to.
    pub failures: Vec<(FailureFile, PathBuf)>,
    /// Requests answered.
    pub calls: u64,
    /// Wall time.
    pub seconds: f64,
    /// The adapter's name.
    pub name: String,
}

impl FuzzReport {
    /// The report in words.
    pub fn render(&self) -> String {
        let mut out = format!(
            "black-box fuzzer against {}: {} inputs ({} skipped as authentic), {} requests, {:.1} s\n",
            self.name, self.inputs, self.skipped, self.calls, self.seconds
        );
        for (f, path) in &self.failures {
            out.push_str(&format!(
                "  FAILED {} (run {}): {}\n         recipe: {} {}\n         written to {}\n",
                f.property,
                f.run,
                f.what,
                TARGETS[f.recipe.target],
                serde_json::to_string(&f.recipe.mutations).unwrap_or_default(),
                path.display()
            ));
        }
        out.push_str(&format!(
            "{} inputs, {} failures\n",
            self.inputs,
            self.failures.len()
        ));
        let (passed, failed, skipped) = self.counts();
        out.push_str(&format!(
            "{passed} passed, {failed} failed, {skipped} skipped\n"
        ));
        out
    }

    /// `(passed, failed, skipped)`: inputs rejected with the state
    /// unchanged and nothing leaked, failed checks, inputs skipped as
    /// authentic.
    pub fn counts(&self) -> (u64, u64, u64) {
        (
            self.inputs.saturating_sub(self.failed_inputs),
            self.failed,
            self.skipped,
        )
    }
}

struct Recorded<'a> {
    w: World<'a>,
    /// Per target: bytes, receiver, first (respond).
    targets: Vec<(Vec<u8>, Party, bool)>,
    /// Field layouts per target: (name, offset, length).
    fields: Vec<Vec<(String, usize, usize)>>,
    authentic: Vec<Vec<u8>>,
}

fn model_config(cfg: &FuzzConfig) -> Config {
    Config {
        command: cfg.command.clone(),
        cases: 0,
        seed: cfg.seed,
        max_ops: 0,
        timeout: cfg.timeout,
        tolerate: Default::default(),
        fixed: false,
        shrink_runs: 0,
    }
}

fn record(mcfg: &Config, seed: u64) -> Result<Result<Recorded<'_>, Violation>, HelloError> {
    let mut w = World::connect(
        mcfg,
        model::adapter_seed(seed, 7_000_000),
        Draw::new(seed, 7),
    )?;
    let r = (|| -> Result<Vec<(Vec<u8>, Party, bool)>, Violation> {
        w.start(true)?;
        let m1 = w.send(Party::Bob, None)?;
        w.deliver(m1)?;
        let a1 = w.send(Party::Alice, None)?;
        let a2 = w.send(Party::Alice, None)?;
        let b2 = w.send(Party::Bob, None)?;
        let (first2, _) = w.unanswered_first()?;
        // Bob's reply b2 is the only message in flight to Alice; Alice's
        // a1, a2 to Bob: they stay undelivered until the end.
        Ok(vec![
            (first2, Party::Bob, true),
            (w.msgs[0].bytes.clone(), Party::Bob, false),
            (w.msgs[a1].bytes.clone(), Party::Bob, false),
            (w.msgs[a2].bytes.clone(), Party::Bob, false),
            (w.msgs[b2].bytes.clone(), Party::Alice, false),
            (w.msgs[m1].bytes.clone(), Party::Alice, false),
        ])
    })();
    let targets = match r {
        Ok(t) => t,
        Err(v) => return Ok(Err(v)),
    };
    let mut fields = Vec::new();
    for (bytes, _, _) in &targets {
        let f = if w.layout {
            match w.c.layout(bytes) {
                Ok(l) => l
                    .fields
                    .into_iter()
                    .map(|f| (f.name, f.offset, f.length))
                    .collect(),
                Err(e) => return Ok(Err(interface("layout", &e))),
            }
        } else {
            Vec::new()
        };
        fields.push(f);
    }
    let authentic = w
        .msgs
        .iter()
        .map(|m| m.bytes.clone())
        .chain(std::iter::once(targets[0].0.clone()))
        .collect();
    Ok(Ok(Recorded {
        w,
        targets,
        fields,
        authentic,
    }))
}

/// The recipe of run `run`.
pub fn recipe(seed: u64, run: u64) -> Recipe {
    let mut d = Draw::new(seed, 6_000_000u64.wrapping_add(run));
    let target = d.index(TARGETS.len());
    let many = if d.chance(2, 3) { 1 } else { 4 };
    let n = 1 + d.index(many);
    let mutations = (0..n)
        .map(|_| {
            let at = d.u64() as u32;
            match d.below(100) {
                0..=39 => Mutation::Flip {
                    at,
                    bit: d.below(8) as u8,
                },
                40..=51 => Mutation::Set {
                    at,
                    value: [0x00, 0xff, 0x7f, 0x80, 0x01, d.below(256) as u8][d.index(6)],
                },
                52..=57 => Mutation::Delete {
                    at,
                    len: 1 + d.below(16) as u16,
                },
                58..=63 => {
                    let n = 1 + d.index(16);
                    Mutation::Insert {
                        at,
                        bytes: hex::encode(&d.bytes(n)),
                    }
                }
                64..=69 => Mutation::Truncate { keep: at },
                70..=74 => {
                    let n = 1 + d.index(40);
                    Mutation::Extend {
                        bytes: hex::encode(&d.bytes(n)),
                    }
                }
                75..=82 => Mutation::Splice {
                    from: d.below(TARGETS.len() as u64) as u8,
                    src: d.u64() as u32,
                    at,
                    len: 1 + d.below(48) as u16,
                },
                83..=91 => Mutation::LowOrder {
                    field: d.below(1 << 16) as u16,
                    point: d.below(LOW_ORDER.len() as u64) as u8,
                },
                _ => Mutation::Counter {
                    edge: d.below(8) as u8,
                },
            }
        })
        .collect();
    Recipe { target, mutations }
}

fn apply(r: &Recorded<'_>, recipe: &Recipe) -> Vec<u8> {
    let mut b = r.targets[recipe.target].0.clone();
    let fields = &r.fields[recipe.target];
    for m in &recipe.mutations {
        let len = b.len().max(1);
        match m {
            Mutation::Flip { at, bit } => {
                if !b.is_empty() {
                    b[*at as usize % len] ^= 1 << (bit % 8);
                }
            }
            Mutation::Set { at, value } => {
                if !b.is_empty() {
                    b[*at as usize % len] = *value;
                }
            }
            Mutation::Delete { at, len: n } => {
                let start = *at as usize % len;
                let end = (start + *n as usize).min(b.len());
                if start < end {
                    b.drain(start..end);
                }
            }
            Mutation::Insert { at, bytes } => {
                let at = *at as usize % (b.len() + 1);
                let ins = hex::decode(bytes).unwrap_or_default();
                b.splice(at..at, ins);
            }
            Mutation::Truncate { keep } => b.truncate(*keep as usize % len),
            Mutation::Extend { bytes } => b.extend(hex::decode(bytes).unwrap_or_default()),
            Mutation::Splice {
                from,
                src,
                at,
                len: n,
            } => {
                let other = &r.targets[*from as usize % r.targets.len()].0;
                if other.is_empty() || b.is_empty() {
                    continue;
                }
                let s = *src as usize % other.len();
                let d = *at as usize % b.len();
                let n = (*n as usize).min(other.len() - s).min(b.len() - d);
                b[d..d + n].copy_from_slice(&other[s..s + n]);
            }
            Mutation::LowOrder { field, point } => {
                let keys: Vec<usize> = fields.iter().filter(|f| f.2 == 32).map(|f| f.1).collect();
                let at = if keys.is_empty() {
                    if b.len() < 32 {
                        continue;
                    }
                    *field as usize % (b.len() - 31)
                } else {
                    keys[*field as usize % keys.len()]
                };
                if at + 32 <= b.len() {
                    b[at..at + 32].copy_from_slice(&LOW_ORDER[*point as usize % LOW_ORDER.len()]);
                }
            }
            Mutation::Counter { edge } => {
                let Some(&(_, at, n)) = fields.iter().find(|f| f.0 == "counter") else {
                    continue;
                };
                if at + n > b.len() || n == 0 {
                    continue;
                }
                let current = b[at..at + n].to_vec();
                let value: Vec<u8> = match edge % 8 {
                    0 => vec![0; n],
                    1 => {
                        let mut v = vec![0; n];
                        v[n - 1] = 1;
                        v
                    }
                    2 => vec![0x7f; n],
                    3 => vec![0x80; n],
                    4 => vec![0xff; n],
                    5 => {
                        let mut v = vec![0xff; n];
                        v[n - 1] = 0xfe;
                        v
                    }
                    6 => {
                        let mut v = current;
                        v[n - 1] = v[n - 1].wrapping_add(1);
                        v
                    }
                    _ => {
                        let mut v = current;
                        v[n - 1] = v[n - 1].wrapping_sub(1);
                        v
                    }
                };
                b[at..at + n].copy_from_slice(&value);
            }
        }
    }
    b
}

/// One input against a recorded conversation: `Ok(None)` when rejected as
/// it must be, `Ok(Some(bytes))` unused (authentic), `Err` a violation.
fn try_input(r: &mut Recorded<'_>, recipe: &Recipe) -> Result<bool, (Violation, Vec<u8>)> {
    let bytes = apply(r, recipe);
    if r.authentic.contains(&bytes) {
        return Ok(false);
    }
    let (_, to, first) = r.targets[recipe.target].clone();
    let what = format!(
        "{} mutated by {}",
        TARGETS[recipe.target],
        serde_json::to_string(&recipe.mutations).unwrap_or_default()
    );
    let result: Step = r.w.must_reject(to, &bytes, &what, first);
    result.map(|()| true).map_err(|v| (v, bytes))
}

/// Replays one recipe on a fresh recording: the violation, if it fails.
fn replay_one(mcfg: &Config, seed: u64, recipe: &Recipe) -> Option<Violation> {
    let mut r = match record(mcfg, seed) {
        Ok(Ok(r)) => r,
        Ok(Err(v)) => return Some(v),
        Err(e) => {
            return Some(model::violation(
                Property::Interface,
                "hello",
                e.to_string(),
            ));
        }
    };
    let v = try_input(&mut r, recipe).err().map(|(v, _)| v);
    drop(r.w.c.finish());
    v
}

fn minimise(mcfg: &Config, seed: u64, mut recipe: Recipe, property: Property) -> Recipe {
    let mut i = 0;
    while i < recipe.mutations.len() && recipe.mutations.len() > 1 {
        let mut candidate = recipe.clone();
        candidate.mutations.remove(i);
        if replay_one(mcfg, seed, &candidate).is_some_and(|v| v.property == property) {
            recipe = candidate;
        } else {
            i += 1;
        }
    }
    recipe
}

fn write_failure(dir: &Path, f: &FailureFile) -> PathBuf {
    let name: String = f
        .command
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    let name: String = name
        .chars()
        .rev()
        .take(40)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    let path = dir.join(format!("fuzz-{name}-seed{}-run{}.json", f.seed, f.run));
    let _ = std::fs::create_dir_all(dir);
    if let Ok(text) = serde_json::to_string_pretty(f) {
        let _ = std::fs::write(&path, text + "\n");
    }
    path
}

/// Runs the fuzzer.
pub fn run(cfg: &FuzzConfig) -> Result<FuzzReport, HelloError> {
    let start = Instant::now();
    let mcfg = model_config(cfg);
    let mut report = FuzzReport::default();
    let mut seen_kinds: Vec<(Property, &'static str, usize)> = Vec::new();
    let mut rec = None;
    let mut run = 0;
    while run < cfg.runs {
        if rec.is_none() {
            match record(&mcfg, cfg.seed)? {
                Ok(r) => {
                    report.name = r.w.c.hello.name.clone();
                    rec = Some(r);
                }
                Err(v) => {
                    let f = FailureFile {
                        command: cfg.command.clone(),
                        seed: cfg.seed,
                        run,
                        recipe: Recipe {
                            target: 0,
                            mutations: Vec::new(),
                        },
                        property: v.property.name().into(),
                        what: format!("recording the conversation failed: {}", v.what),
                        input: String::new(),
                    };
                    let path = write_failure(&cfg.out, &f);
                    report.failures.push((f, path));
                    report.failed += 1;
                    break;
                }
            }
        }
        let Some(r) = rec.as_mut() else { break };
        crate::progress::tick("fuzz", run, cfg.runs);
        let recipe = recipe(cfg.seed, run);
        match try_input(r, &recipe) {
            Ok(true) => report.inputs += 1,
            Ok(false) => report.skipped += 1,
            Err((v, bytes)) => {
                report.inputs += 1;
                report.failed += 1;
                report.failed_inputs += 1;
                // A rejection that changed the state: the state from before
                // is imported in place of the changed session when the
                // adapter can (exactly, or not at all), instead of a new
                // process recording the conversation again (a library that
                // changes its state on most rejections, such as the
                // JavaScript forks over a live store, SW-2026-001, would
                // otherwise cost one recording per input).
                let restored = v.property == Property::StateUnchanged && r.w.restore_after_change();
                if !restored {
                    report.calls += r.w.c.calls();
                    if let Some(old) = rec.take() {
                        drop(old.w.c.finish());
                    }
                }
                // One failure file per (property, kind, target): the rest
                // are the same finding again.
                let key = (v.property, v.kind, recipe.target);
                if !seen_kinds.contains(&key) {
                    seen_kinds.push(key);
                    let small = minimise(&mcfg, cfg.seed, recipe.clone(), v.property);
                    let f = FailureFile {
                        command: cfg.command.clone(),
                        seed: cfg.seed,
                        run,
                        recipe: small,
                        property: v.property.name().into(),
                        what: v.what.clone(),
                        input: hex::encode(&bytes),
                    };
                    let path = write_failure(&cfg.out, &f);
                    report.failures.push((f, path));
                }
                if v.property == Property::Interface {
                    // A crash or hang: continue on a fresh adapter.
                }
            }
        }
        run += 1;
    }
    if let Some(r) = rec {
        // The authentic messages still decrypt; nothing leaked.
        let calls_before = r.w.c.calls();
        let (_, v, calls) = r.w.finish();
        report.calls += calls.max(calls_before);
        if let Some(v) = v {
            let f = FailureFile {
                command: cfg.command.clone(),
                seed: cfg.seed,
                run: cfg.runs,
                recipe: Recipe {
                    target: 0,
                    mutations: Vec::new(),
                },
                property: v.property.name().into(),
                what: format!("after the inputs: {}", v.what),
                input: String::new(),
            };
            let path = write_failure(&cfg.out, &f);
            report.failures.push((f, path));
            report.failed += 1;
        }
    }
    report.seconds = start.elapsed().as_secs_f64();
    Ok(report)
}

/// `--replay FILE`: records the conversation again and applies the file's
/// recipe. Returns the violation if it still fails.
pub fn replay(
    command: &str,
    file: &Path,
    timeout: Duration,
) -> Result<(FailureFile, Option<Violation>), String> {
    let text = std::fs::read_to_string(file).map_err(|e| format!("{}: {e}", file.display()))?;
    let f: FailureFile =
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", file.display()))?;
    let cfg = FuzzConfig {
        command: command.to_owned(),
        runs: 0,
        seed: f.seed,
        timeout,
        out: PathBuf::new(),
    };
    let v = replay_one(&model_config(&cfg), f.seed, &f.recipe);
    Ok((f, v))
}

/// The recipe a coverage-guided fuzzer's input stands for: the first byte
/// picks the target, then each mutation is an operation byte and its
/// operands, read with [`arbitrary::Unstructured`] (missing bytes read as
/// zero), at most 16 mutations. Every recipe [`recipe`] draws has such an
/// encoding, and `Truncate { keep: 0 }` followed by `Insert` replaces the
/// whole message with bytes of the input.
pub fn recipe_from_bytes(data: &[u8]) -> Recipe {
    let mut u = Unstructured::new(data);
    let target = u.choose_index(TARGETS.len()).unwrap_or(0);
    let mut mutations = Vec::new();
    while !u.is_empty() && mutations.len() < 16 {
        let op: u8 = u.int_in_range(0..=8).unwrap_or(0);
        let at: u32 = u.arbitrary().unwrap_or(0);
        let small: u8 = u.arbitrary().unwrap_or(0);
        let bytes = |u: &mut Unstructured<'_>| {
            let n = usize::from(small);
            hex::encode(u.bytes(n.min(u.len())).unwrap_or_default())
        };
        mutations.push(match op {
            0 => Mutation::Flip { at, bit: small % 8 },
            1 => Mutation::Set { at, value: small },
            2 => Mutation::Delete {
                at,
                len: u16::from(small) + 1,
            },
            3 => Mutation::Insert {
                at,
                bytes: bytes(&mut u),
            },
            4 => Mutation::Truncate { keep: at },
            5 => Mutation::Extend {
                bytes: bytes(&mut u),
            },
            6 => Mutation::Splice {
                from: small,
                src: u.arbitrary().unwrap_or(0),
                at,
                len: u.arbitrary().unwrap_or(0),
            },
            7 => Mutation::LowOrder {
                field: (at & 0xffff) as u16,
                point: small,
            },
            _ => Mutation::Counter { edge: small },
        });
    }
    Recipe { target, mutations }
}

/// One recorded conversation against an adapter, checked input after input
/// by the fuzzer's oracle: what an in-process cargo-fuzz target drives
/// (module docs). Each input's answers and log are scanned for leaks and
/// then dropped, so memory stays flat over a night.
pub struct Harness {
    rec: Recorded<'static>,
    inputs: u64,
    stepped_over: u64,
}

/// A finding already recorded against a library that a coverage-guided
/// target steps over ([`Harness::check_with_known`]), so that a night of
/// fuzzing goes on checking everything else instead of stopping at the
/// first input that shows it again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum KnownFinding {
    /// The library accepted a byte-different copy of an authentic message
    /// and released exactly the plaintext of an authentic message of the
    /// conversation: a re-encoding it authenticates (vodozemac computes its
    /// MAC over a re-encoding of the parsed fields). An accepted message
    /// that releases any other plaintext is a forgery and still fails, as
    /// does every other property.
    AcceptedReencoding,
}

impl KnownFinding {
    fn covers(self, v: &Violation) -> bool {
        match self {
            Self::AcceptedReencoding => {
                v.property == Property::Rejection
                    && v.kind == "accepted"
                    && v.replays_authentic_plaintext
            }
        }
    }
}

impl std::fmt::Debug for Harness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Harness")
            .field("command", &self.rec.w.cfg.command)
            .field("inputs", &self.inputs)
            .finish_non_exhaustive()
    }
}

impl Harness {
    /// Connects to `command` (for a library in this process,
    /// `in-process:<name>`), records the conversation of `seed` and scans
    /// what the recording produced. The model's configuration lives as long
    /// as the process (one harness per fuzzing process).
    pub fn record(command: &str, seed: u64) -> Result<Self, String> {
        let cfg: &'static Config = Box::leak(Box::new(model_config(&FuzzConfig {
            command: command.to_owned(),
            runs: 0,
            seed,
            timeout: DEFAULT_TIMEOUT,
            out: PathBuf::new(),
        })));
        let mut rec = match record(cfg, seed) {
            Ok(Ok(rec)) => rec,
            Ok(Err(v)) => return Err(format!("recording the conversation: {}", describe(&v))),
            Err(e) => return Err(format!("{command}: {e}")),
        };
        rec.w
            .scan_new_output()
            .map_err(|v| format!("recording the conversation: {}", describe(&v)))?;
        Ok(Self {
            rec,
            inputs: 0,
            stepped_over: 0,
        })
    }

    /// How many inputs showed a known finding again
    /// ([`Harness::check_with_known`]).
    pub fn stepped_over(&self) -> u64 {
        self.stepped_over
    }

    /// The adapter's name, from its hello.
    pub fn name(&self) -> &str {
        &self.rec.w.c.hello.name
    }

    /// Checks one input ([`recipe_from_bytes`]): `Err` says which property
    /// failed, how, and the recipe and bytes that did it.
    pub fn check(&mut self, data: &[u8]) -> Result<(), String> {
        self.check_with_known(data, &[]).map(drop)
    }

    /// [`Harness::check`], except that an input whose only violation is
    /// one of the `known` findings is not a failure: `Ok(Some(what))` says
    /// what it showed, and the conversation is recorded afresh (the
    /// library's sessions took the message in). What the adapter wrote
    /// while doing it is still scanned for leaks.
    pub fn check_with_known(
        &mut self,
        data: &[u8],
        known: &[KnownFinding],
    ) -> Result<Option<String>, String> {
        let recipe = recipe_from_bytes(data);
        self.inputs += 1;
        let verdict = match try_input(&mut self.rec, &recipe) {
            Ok(_) => self.rec.w.scan_new_output().map_err(|v| (v, Vec::new())),
            Err(failure) => Err(failure),
        };
        let fail = |v: &Violation, bytes: &[u8]| {
            format!(
                "{}\nrecipe: {}\ninput bytes: {}",
                describe(v),
                serde_json::to_string(&recipe).unwrap_or_default(),
                hex::encode(bytes)
            )
        };
        match verdict {
            Ok(()) => Ok(None),
            Err((v, bytes)) if known.iter().any(|k| k.covers(&v)) => {
                self.rec
                    .w
                    .scan_new_output()
                    .map_err(|leak| fail(&leak, &bytes))?;
                self.stepped_over += 1;
                let cfg = self.rec.w.cfg;
                let fresh = match record(cfg, cfg.seed) {
                    Ok(Ok(rec)) => rec,
                    Ok(Err(again)) => {
                        return Err(format!("recording afresh: {}", describe(&again)));
                    }
                    Err(e) => return Err(format!("{}: {e}", cfg.command)),
                };
                let old = std::mem::replace(&mut self.rec, fresh);
                drop(old.w.c.finish());
                self.rec
                    .w
                    .scan_new_output()
                    .map_err(|leak| format!("recording afresh: {}", describe(&leak)))?;
                Ok(Some(describe(&v)))
            }
            Err((v, bytes)) => Err(fail(&v, &bytes)),
        }
    }
}

fn describe(v: &Violation) -> String {
    format!("{} ({}): {}", v.property.name(), v.kind, v.what)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recipes_are_a_function_of_seed_and_run() {
        assert_eq!(recipe(3, 9), recipe(3, 9));
        assert_ne!(
            (0..8).map(|i| recipe(3, i)).collect::<Vec<_>>(),
            (0..8).map(|i| recipe(4, i)).collect::<Vec<_>>()
        );
    }
}
