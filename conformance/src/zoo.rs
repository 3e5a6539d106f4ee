//! The suite's self-test: a zoo of planted flaws and backdoors
//! (`sealwire::flaws`, behind the test-only `planted-flaws` feature), each
//! of which some check of the suite must catch.
//!
//! For every flaw, switched on for this thread only, the checks run in this
//! order until one fails:
//! 1. `vectors`: every conformance vector against the in-process reference
//!    implementation (with the runner's state-unchanged oracles);
//! 2. `fuzz oracles`: every checked-in fuzz seed through its oracle (round
//!    trips, all-or-nothing, the leak scanner over every output and `Debug`
//!    text, and the freed-memory check when the scanning allocator is the
//!    process's global allocator);
//! 3. `properties`: a bounded run of the adversarial-network model;
//! 4. `constant time`: a dudect measurement of secret key comparison;
//! 5. `specmodel sent messages`: a conversation whose plaintexts include
//!    trigger-shaped ones (magic prefixes, block and page sizes), every sent
//!    message and state after checked against the independent model
//!    (`sealwire_specmodel::Checker::check_sent_message`);
//! 6. `specmodel bundles`: honest and signature-corrupted bundles over
//!    reserved, extreme and seeded signed-prekey ids, the reference's verdict
//!    checked against the model's (`check_bundle_accepted`/`_rejected`);
//! 7. `debug differential`: the `Debug` text of secret types must be the same
//!    for two different secrets of the same shape (not a window scan);
//! 8. `size classes`: plaintexts around every block and buffer boundary up
//!    to 1 MiB through every encrypt and decrypt form, damaged copies
//!    rejected with state and buffer unchanged (`crate::sizes`);
//! 9. `store residue`: the freed-memory scan over skipped-key stores of
//!    every size up to the cap and past it, with removals at the front, in
//!    the middle and at the end and a state round trip (`crate::residue`);
//! 10. `os randomness`: identity keys drawn without an injected generator
//!     before a fork, in the forked parent and child, and on two threads
//!     all differ (`crate::osrandom`);
//! 11. `constant time, every path`: dudect on every API that checks an
//!     authenticator (`seal::open`, `open_in_place`, `Session::decrypt`,
//!     `decrypt_in_place`, `Session::open_state`), tag wrong in its first
//!     versus its last byte (`crate::ct::tag_paths`).
//!
//! With no flaw every check must pass (the baseline); otherwise the zoo is
//! void and says so.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use sealwire::flaws::{self, Flaw};

use crate::ct;
use crate::runner::{self, LoadedFile, Outcome, RunOptions};
use sealwire_model::{CampaignOptions, run_campaign};
use sealwire_oracles::Target;
use sealwire_reference::ReferenceImplementation;
use sealwire_specmodel::{Checker, ErrorClass};

/// Where the zoo finds its inputs, and how hard it looks.
#[derive(Clone, Debug)]
pub(crate) struct ZooOptions {
    /// `conformance/vectors`.
    pub vectors_dir: PathBuf,
    /// `conformance/oracles` (the fuzz seeds under `seeds/<target>/`).
    pub fuzz_dir: PathBuf,
    /// Cases of the bounded property run.
    pub property_cases: u32,
    /// The property run's fixed seed.
    pub property_seed: u64,
    /// Samples of the dudect key-comparison measurement.
    pub ct_samples: usize,
}

impl ZooOptions {
    /// The repository's own inputs, relative to this crate.
    pub(crate) fn for_repository() -> Self {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        Self {
            vectors_dir: root.join("vectors"),
            fuzz_dir: root.join("oracles"),
            property_cases: 24,
            property_seed: 0x5ea1_2001,
            ct_samples: 100_000,
        }
    }
}

/// One row of the zoo table.
#[derive(Clone, Debug)]
pub(crate) struct Row {
    /// The flaw (`None`: the baseline, no flaw).
    pub flaw: Option<Flaw>,
    /// The check that caught it and what it saw; `None`: nothing failed.
    pub caught_by: Option<(&'static str, String)>,
    /// From switching the flaw on to the first failing check (or the end).
    pub elapsed: Duration,
}

impl Row {
    /// True when the row is as it must be: the baseline passes every check,
    /// every flaw is caught.
    pub(crate) fn as_expected(&self) -> bool {
        self.flaw.is_some() == self.caught_by.is_some()
    }
}

/// The inputs, loaded once.
#[derive(Debug)]
pub(crate) struct Zoo {
    options: ZooOptions,
    vectors: Vec<LoadedFile>,
    seeds: Vec<(Target, PathBuf, Vec<u8>)>,
}

impl Zoo {
    /// Loads the vectors and the fuzz seeds.
    pub(crate) fn load(options: ZooOptions) -> Result<Self, String> {
        let (vectors, errors) = runner::load_vectors(&options.vectors_dir);
        if !errors.is_empty() {
            return Err(format!(
                "vector files failed to load: {}",
                errors.join("; ")
            ));
        }
        if vectors.is_empty() {
            return Err(format!(
                "no vectors under {}",
                options.vectors_dir.display()
            ));
        }
        let mut seeds = Vec::new();
        for target in Target::ALL {
            let dir = options.fuzz_dir.join("seeds").join(target.name());
            let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
                .map_err(|e| format!("{}: {e}", dir.display()))?
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.is_file())
                .collect();
            paths.sort();
            for path in paths {
                let data = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
                seeds.push((target, path, data));
            }
        }
        Ok(Self {
            options,
            vectors,
            seeds,
        })
    }

    /// How many vector tests and fuzz seeds the zoo runs per flaw.
    pub(crate) fn size(&self) -> (usize, usize) {
        let tests = self
            .vectors
            .iter()
            .map(|f| {
                f.file
                    .test_groups
                    .iter()
                    .map(|g| g.tests.len())
                    .sum::<usize>()
            })
            .sum();
        (tests, self.seeds.len())
    }

    /// Runs the baseline and then every flaw in `list`; `progress` is called
    /// with each row as it is done.
    pub(crate) fn run(&self, list: &[Flaw], mut progress: impl FnMut(&Row)) -> Vec<Row> {
        let mut rows = Vec::with_capacity(list.len() + 1);
        for flaw in std::iter::once(None).chain(list.iter().copied().map(Some)) {
            let row = self.row(flaw);
            progress(&row);
            rows.push(row);
        }
        rows
    }

    fn row(&self, flaw: Option<Flaw>) -> Row {
        let start = Instant::now();
        flaws::set(flaw);
        let caught_by = self.first_failing_check(flaw.is_none());
        flaws::set(None);
        Row {
            flaw,
            caught_by,
            elapsed: start.elapsed(),
        }
    }

    fn first_failing_check(&self, baseline: bool) -> Option<(&'static str, String)> {
        type Check<'a> = (&'static str, Box<dyn Fn() -> Option<String> + 'a>);
        let checks: [Check<'_>; 11] = [
            ("vectors", Box::new(|| self.vectors_check())),
            ("fuzz oracles", Box::new(|| self.oracles_check())),
            ("properties", Box::new(|| self.properties_check())),
            ("constant time", Box::new(|| self.ct_check(baseline))),
            ("specmodel sent messages", Box::new(sent_messages_check)),
            ("specmodel bundles", Box::new(bundles_check)),
            ("debug differential", Box::new(debug_differential_check)),
            ("size classes", Box::new(crate::sizes::check)),
            ("store residue", Box::new(crate::residue::check)),
            ("os randomness", Box::new(crate::osrandom::check)),
            (
                "constant time, every path",
                Box::new(|| self.ct_paths_check(baseline)),
            ),
        ];
        for (name, check) in checks {
            // A planted flaw may make the implementation panic: that is a
            // catch too (the panic message is recorded).
            let result = catch_unwind(AssertUnwindSafe(check)).unwrap_or_else(|panic| {
                let message = panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                    .unwrap_or_else(|| "panic".to_owned());
                Some(format!("panicked: {message}"))
            });
            if let Some(detail) = result {
                return Some((name, detail));
            }
        }
        None
    }

    fn vectors_check(&self) -> Option<String> {
        let mut imp = ReferenceImplementation::new();
        let report = runner::run(&mut imp, &self.vectors, &RunOptions::default());
        let failed: Vec<_> = report
            .results
            .iter()
            .filter(|r| matches!(r.outcome, Outcome::Failed(_)))
            .collect();
        let first = failed.first()?;
        let what = match &first.outcome {
            Outcome::Failed(f) => format!(
                "{}: expected {}, got {}",
                f.op.as_deref().unwrap_or("test"),
                shorten(&f.expected),
                shorten(&f.actual)
            ),
            _ => String::new(),
        };
        Some(format!(
            "{} of {} tests failed; first {}#{} ({}): {what}",
            failed.len(),
            report.results.len(),
            first.file,
            first.tc_id,
            first.comment
        ))
    }

    fn oracles_check(&self) -> Option<String> {
        sealwire_oracles::freed::set_enabled(true);
        let mut failures = 0usize;
        let mut first = None;
        for (target, path, data) in &self.seeds {
            if let Err(violation) = target.run(data) {
                failures += 1;
                first.get_or_insert_with(|| {
                    let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
                    format!(
                        "{}/{}: {}",
                        target.name(),
                        name.unwrap_or_default(),
                        shorten(&violation.to_string())
                    )
                });
            }
        }
        first.map(|f| format!("{failures} of {} seeds; first {f}", self.seeds.len()))
    }

    fn properties_check(&self) -> Option<String> {
        let mut imp = ReferenceImplementation::new();
        let options = CampaignOptions {
            cases: self.options.property_cases,
            seed: Some(self.options.property_seed),
            ..CampaignOptions::default()
        };
        let report = run_campaign(&mut imp, &options);
        report.failure.map(|f| shorten(&f.violation.to_string()))
    }

    fn ct_check(&self, baseline: bool) -> Option<String> {
        let mut rng = ChaCha20Rng::seed_from_u64(0x5ea1);
        let mut target = ct::key_comparison();
        let samples = self.options.ct_samples;
        let t = ct::measure(samples, if baseline { 3 } else { 1 }, &mut rng, &mut target);
        timing_catch("secret key comparison", baseline, t, || {
            ct::measure(samples, 3, &mut rng, &mut target)
        })
    }

    /// dudect over every authenticator-checking path (`ct::path_samples`
    /// of the key comparison's samples each); the first path caught (see
    /// [`timing_catch`]).
    fn ct_paths_check(&self, baseline: bool) -> Option<String> {
        let mut rng = ChaCha20Rng::seed_from_u64(0x5ea2);
        let samples = ct::path_samples(self.options.ct_samples);
        let repeat = if baseline { 3 } else { 1 };
        ct::tag_paths().into_iter().find_map(|(name, mut path)| {
            let t = ct::measure_path(&mut path, samples, repeat, &mut rng);
            timing_catch(name, baseline, t, || {
                ct::measure_path(&mut path, samples, 3, &mut rng)
            })
        })
    }
}

/// What a dudect check of `what` reports, given its first |t|: nothing
/// below the threshold. The baseline's `t` is already the median of three
/// runs (one noisy run on a shared machine must not void the zoo). A
/// flaw's row measures once and confirms a |t| at or above the threshold
/// with the median of three more (`remeasure`): a burst of load must not
/// name a timing check as the catch of a flaw that changes no timing.
fn timing_catch(
    what: &str,
    baseline: bool,
    t: f64,
    remeasure: impl FnOnce() -> f64,
) -> Option<String> {
    if t < ct::THRESHOLD {
        return None;
    }
    if baseline {
        return Some(format!("{what}: |t| = {t:.1}"));
    }
    let confirmed = remeasure();
    (confirmed >= ct::THRESHOLD)
        .then(|| format!("{what}: |t| = {t:.1}, confirmed by a median of three: {confirmed:.1}"))
}

/// The model's class for the reference's error class name.
fn model_class(name: &str) -> Option<ErrorClass> {
    ErrorClass::from_name(name)
}

/// Plaintexts a random schedule would not produce: 4-byte magic-like
/// prefixes (every 4-byte prefix the zoo can name without knowing a flaw:
/// all of one byte, ASCII tags, the high-bit forms) and sizes at block and
/// page boundaries.
fn trigger_plaintexts() -> Vec<Vec<u8>> {
    let mut out: Vec<Vec<u8>> = Vec::new();
    for len in [0usize, 1, 15, 16, 17, 63, 64, 65, 4095, 4096, 4097] {
        out.push(vec![0x5a; len]);
    }
    // Four-byte prefixes: `0x00..=0xff` repeated, and `<b> S W !`-style
    // tags with every first byte (the shape of a backdoor's trigger).
    for b in 0..=255u8 {
        out.push([b, b, b, b, b'x'].to_vec());
        out.push([b, b'S', b'W', b'!', b'x'].to_vec());
    }
    out
}

/// Sends every trigger plaintext (each followed by an ordinary one) from a
/// fresh reference session and checks each message, and the state after
/// it, against the model.
fn sent_messages_check() -> Option<String> {
    let (mut alice_session, mut bob_session, _) =
        match crate::pair::session_pair(0x5ea1_5e27, 0x5ea1_5e28, 7, b"hello") {
            Ok(pair) => pair,
            Err(why) => return Some(why),
        };
    let mut checked = 0usize;
    for (i, pt) in trigger_plaintexts().iter().enumerate() {
        let session = if i % 2 == 0 {
            &mut alice_session
        } else {
            &mut bob_session
        };
        for pt in [pt.as_slice(), b"after"] {
            let before = session.to_bytes().to_vec();
            let message = match session.encrypt(pt) {
                Ok(m) => m,
                Err(e) => return Some(format!("encrypt of {} bytes failed: {e}", pt.len())),
            };
            let after = session.to_bytes().to_vec();
            let verdict = Checker::check_sent_message(&before, pt, &message, Some(&after));
            if !verdict.agrees() {
                let prefix: Vec<u8> = pt.iter().copied().take(4).collect();
                return Some(format!(
                    "plaintext of {} bytes starting {prefix:02x?}: {verdict:?}",
                    pt.len()
                ));
            }
            checked += 1;
        }
    }
    (checked == 0).then(|| "no message was checked".to_owned())
}

/// Honest and signature-corrupted bundles over reserved, extreme and
/// seeded signed-prekey ids: the reference's verdict must be the model's.
fn bundles_check() -> Option<String> {
    use sealwire::{IdentityKeyPair, PreKeyBundle, SignedPreKey};
    // `0x01 || IK || u32be(id) || SPK || sig || ...`: the signature's offset.
    const SIG_AT: usize = 1 + 32 + 4 + 32;
    let mut rng = ChaCha20Rng::seed_from_u64(0x5ea1_b0d1);
    let mut ids = vec![
        0,
        1,
        0x7fff_ffff,
        0x8000_0000,
        0xffff_fffe,
        0xffff_ffff,
        0xffff_0000,
        0x0000_ffff,
    ];
    for _ in 0..24 {
        ids.push(rand_core::Rng::next_u32(&mut rng));
    }
    let mut seed = [0u8; 32];
    rand_core::Rng::fill_bytes(&mut rng, &mut seed);
    let bob = IdentityKeyPair::from_seed(seed);
    let mut checked = 0usize;
    for id in ids {
        rand_core::Rng::fill_bytes(&mut rng, &mut seed);
        let honest = PreKeyBundle::new(&bob, &SignedPreKey::new(id, seed, &bob), None).to_bytes();
        let mut corrupted = honest.clone();
        corrupted[SIG_AT + (id as usize % 64)] ^= 0x01;
        for (what, bytes) in [("honest", honest), ("corrupted", corrupted)] {
            let verdict = match PreKeyBundle::from_bytes(&bytes).and_then(|b| b.verify()) {
                Ok(_) => Checker::check_bundle_accepted(&bytes),
                Err(e) => match model_class(e.class().as_str()) {
                    Some(class) => Checker::check_bundle_rejected(&bytes, class),
                    None => return Some(format!("unknown error class {}", e.class().as_str())),
                },
            };
            if !verdict.agrees() {
                return Some(format!(
                    "{what} bundle, signed-prekey id {id:#010x}: {verdict:?}"
                ));
            }
            checked += 1;
        }
    }
    (checked == 0).then(|| "no bundle was checked".to_owned())
}

/// `Debug` of a secret type is the same for two different secrets of the
/// same shape: a differential check that a 3-byte fingerprint fails.
fn debug_differential_check() -> Option<String> {
    use sealwire::StorageKey;
    let pairs = [([0x00u8; 32], [0xffu8; 32]), ([0x11; 32], [0x12; 32])];
    for (a, b) in pairs {
        let (da, db) = (
            format!("{:?}", StorageKey::from_bytes(a)),
            format!("{:?}", StorageKey::from_bytes(b)),
        );
        if da != db {
            return Some(format!(
                "StorageKey's Debug depends on the key: {} bytes vs {} bytes of text",
                da.len(),
                db.len()
            ));
        }
    }
    None
}

fn shorten(text: &str) -> String {
    const MAX: usize = 160;
    let one_line = text.replace('\n', " ");
    if one_line.chars().count() <= MAX {
        return one_line;
    }
    let cut: String = one_line.chars().take(MAX).collect();
    format!("{cut}...")
}

/// The zoo table as Markdown.
pub(crate) fn render(rows: &[Row]) -> String {
    let mut out = String::from("| flaw | caught by | time to catch | what failed |\n");
    out.push_str("| --- | --- | --- | --- |\n");
    for row in rows {
        let name = row.flaw.map_or("(none: baseline)", Flaw::name);
        let (check, detail) = match &row.caught_by {
            Some((check, detail)) => (*check, detail.replace('|', "\\|")),
            None if row.flaw.is_none() => ("every check passes", String::new()),
            None => ("NOT CAUGHT", String::new()),
        };
        out.push_str(&format!(
            "| {name} | {check} | {:.2} s | {detail} |\n",
            row.elapsed.as_secs_f64()
        ));
    }
    out
}

/// `sealwire-conformance zoo [--flaw NAME]... [--cases N] [--ct-samples N]
/// [--markdown FILE]`: runs the zoo and prints the table. Exit status 0
/// when the baseline passes every check and every flaw is caught.
pub(crate) fn cli(args: crate::command::ZooArgs) -> Result<std::process::ExitCode, String> {
    let mut options = ZooOptions::for_repository();
    let mut list = Vec::new();
    for name in &args.flaws {
        list.push(Flaw::from_name(name).ok_or_else(|| {
            let names: Vec<_> = Flaw::ALL.iter().map(|f| f.name()).collect();
            format!(
                "--flaw: unknown flaw `{name}`; one of: {}",
                names.join(", ")
            )
        })?);
    }
    if let Some(cases) = args.cases {
        options.property_cases = cases;
    }
    if let Some(samples) = args.ct_samples {
        options.ct_samples = samples;
    }
    if let Some(dir) = args.vectors {
        options.vectors_dir = dir;
    }
    if let Some(dir) = args.fuzz_dir {
        options.fuzz_dir = dir;
    }
    let markdown = args.markdown;
    if let Some(path) = &markdown {
        crate::command::check_writable(path)?;
    }
    if list.is_empty() {
        list = Flaw::ALL.to_vec();
    }
    let zoo = Zoo::load(options)?;
    let (tests, seeds) = zoo.size();
    eprintln!(
        "zoo: {} flaws; per flaw {tests} vector tests, {seeds} fuzz seeds, a property run, a \
         dudect measurement, the specmodel, debug-differential, size-class, store-residue and \
         os-randomness checks and dudect on every authenticator-checking path, until one check \
         fails",
        list.len()
    );
    // A planted flaw may panic inside a check; the zoo records it, so keep
    // the default hook from printing every panic.
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let rows = zoo.run(&list, |row| {
        let name = row.flaw.map_or("(baseline)", Flaw::name);
        let verdict = match (&row.caught_by, row.flaw) {
            (Some((check, _)), Some(_)) => format!("caught by {check}"),
            (None, None) => "every check passes".to_owned(),
            (Some((check, detail)), None) => format!("BASELINE FAILS in {check}: {detail}"),
            (None, Some(_)) => "NOT CAUGHT".to_owned(),
        };
        eprintln!(
            "  {name:<32} {verdict} ({:.2} s)",
            row.elapsed.as_secs_f64()
        );
    });
    std::panic::set_hook(hook);
    let table = render(&rows);
    println!("{table}");
    if let Some(path) = markdown {
        std::fs::write(&path, &table).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    let ok = rows.iter().all(Row::as_expected);
    Ok(if ok {
        std::process::ExitCode::SUCCESS
    } else {
        std::process::ExitCode::FAILURE
    })
}
