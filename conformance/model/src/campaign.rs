//! The properties, their violations and the campaign that runs generated
//! and fixed cases through an implementation.
use core::cell::RefCell;
use core::fmt;

use proptest::strategy::Strategy;
use proptest::test_runner::{
    Config, FileFailurePersistence, RngAlgorithm, RngSeed, TestCaseError, TestError, TestRunner,
};

use sealwire_adapter::Implementation;

use crate::handshake::{self, HandshakeCase, handshake_case};
use crate::schedule::{Case, case};
use crate::session::{self, Coverage, Tolerance};

/// The environment variable that sets the number of cases per property
/// test (for overnight runs, e.g. `SEALWIRE_PROPTEST_CASES=100000`).
pub const CASES_VARIABLE: &str = "SEALWIRE_PROPTEST_CASES";
/// The environment variable that sets the proptest seed (a `u64`); without
/// it the tests use a fixed seed and the campaign a random one.
pub const SEED_VARIABLE: &str = "SEALWIRE_PROPTEST_SEED";
/// Longest schedule generated.
pub const MAX_OPS: usize = 48;

/// A checked property.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Property {
    /// Every authentic message delivered decrypts exactly once, to its
    /// plaintext (unless MAX_SKIP or the store's eviction refuse it).
    Delivery,
    /// Replayed, tampered, truncated, extended and reflected messages are
    /// rejected and release no plaintext.
    Rejection,
    /// A rejected message or initial message leaves the state byte-identical.
    StateUnchanged,
    /// Equal plaintexts give different ciphertexts (no ciphertext repeats).
    FreshCiphertext,
    /// A ratchet message is exactly plaintext + 57 bytes.
    Length,
    /// A copy of a party's state cannot decrypt what that party had
    /// already received.
    ForwardSecrecy,
    /// A copy of a party's state cannot decrypt messages sent after a full
    /// DH ratchet round trip that followed the copy.
    PostCompromise,
    /// The skipped-key store never holds more than 2000 keys.
    SkippedBound,
    /// Bad bundles (signature, low-order keys) and forged initial messages
    /// never produce a session.
    Handshake,
    /// A persisted (plain or sealed) state restores the same session.
    Persistence,
    /// The outcome (header, error class, store size) the model predicts.
    Model,
    /// With the `state` capability: every message sent, every message
    /// accepted and every rejection agrees with the independent model of
    /// SPEC.md (`sealwire-specmodel`), recomputed from the exported state
    /// before the step: the same bytes, plaintext, state after and class.
    SpecModel,
    /// The implementation answered outside the interface (crashed,
    /// refused a claimed capability, malformed output).
    Interface,
}

impl Property {
    /// Stable name, as in PROPERTIES.md.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Delivery => "delivery",
            Self::Rejection => "rejection",
            Self::StateUnchanged => "state_unchanged",
            Self::FreshCiphertext => "fresh_ciphertext",
            Self::Length => "length",
            Self::ForwardSecrecy => "forward_secrecy",
            Self::PostCompromise => "post_compromise",
            Self::SkippedBound => "skipped_bound",
            Self::Handshake => "handshake",
            Self::Persistence => "persistence",
            Self::Model => "model",
            Self::SpecModel => "spec_model",
            Self::Interface => "interface",
        }
    }
}

impl fmt::Display for Property {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A violated property, at a step of the schedule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    /// Which property.
    pub property: Property,
    /// The schedule step (`None`: during the handshake; the schedule's
    /// length: while delivering what was left in flight).
    pub step: Option<usize>,
    /// What happened.
    pub detail: String,
    /// What each schedule step did up to the violation, in words, with the
    /// messages it picked resolved (empty for the handshake property).
    pub narration: Vec<String>,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.step {
            Some(step) => write!(f, "[{}] at step {step}: {}", self.property, self.detail),
            None => write!(
                f,
                "[{}] during the handshake: {}",
                self.property, self.detail
            ),
        }
    }
}

impl std::error::Error for Violation {}

/// Runs one session case against `imp`, checking every property.
pub fn check_case(imp: &mut dyn Implementation, case: &Case) -> Result<Coverage, Violation> {
    session::run(imp, case, Tolerance::default())
}

/// [`check_case`], accepting the documented differences in `tolerance`.
pub fn check_case_tolerating(
    imp: &mut dyn Implementation,
    case: &Case,
    tolerance: Tolerance,
) -> Result<Coverage, Violation> {
    session::run(imp, case, tolerance)
}

/// Runs one handshake case against `imp`.
pub fn check_handshake(
    imp: &mut dyn Implementation,
    case: &HandshakeCase,
) -> Result<(), Violation> {
    handshake::run(imp, case)
}

/// How a campaign runs.
#[derive(Clone, Debug)]
pub struct CampaignOptions {
    /// Cases per property test.
    pub cases: u32,
    /// The proptest seed; `None` picks one at random (it is reported).
    pub seed: Option<u64>,
    /// Longest schedule.
    pub max_ops: usize,
    /// Where failing cases are persisted (proptest's regression file), if
    /// anywhere.
    pub regressions: Option<&'static str>,
    /// Documented differences accepted rather than reported.
    pub tolerance: Tolerance,
}

impl Default for CampaignOptions {
    fn default() -> Self {
        Self {
            cases: 64,
            seed: None,
            max_ops: MAX_OPS,
            regressions: None,
            tolerance: Tolerance::default(),
        }
    }
}

impl CampaignOptions {
    /// `cases` unless [`CASES_VARIABLE`] says otherwise; the seed from
    /// [`SEED_VARIABLE`], else `default_seed`.
    pub fn from_env(cases: u32, default_seed: Option<u64>) -> Self {
        let cases = std::env::var(CASES_VARIABLE)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(cases);
        let seed = std::env::var(SEED_VARIABLE)
            .ok()
            .and_then(|v| v.parse().ok())
            .or(default_seed);
        Self {
            cases,
            seed,
            ..Self::default()
        }
    }
}

/// The first violated property of a campaign, with its shrunk input.
#[derive(Clone, Debug)]
pub struct Failure {
    /// Which test: `sessions` or `handshake`.
    pub test: &'static str,
    /// The violation of the shrunk case.
    pub violation: Violation,
    /// The shrunk case, printed (seed and schedule).
    pub case: String,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{} property violated: {}", self.test, self.violation)?;
        let narration = &self.violation.narration;
        if narration.is_empty() {
            return write!(f, "shrunk case:\n{}", self.case);
        }
        // The case's first line (seed, prekey, first plaintext), then the
        // steps in words; the raw selectors stay in `case`.
        writeln!(f, "shrunk case: {}", self.case.lines().next().unwrap_or(""))?;
        writeln!(
            f,
            "  the handshake: Alice initiates, Bob responds (message 0)"
        )?;
        for line in narration {
            writeln!(f, "  {line}")?;
        }
        if let Some(step) = self.violation.step {
            writeln!(f, "  (violated at step {step})")?;
        }
        Ok(())
    }
}

/// What a campaign found.
#[derive(Clone, Debug)]
pub struct CampaignReport {
    /// The proptest seed used ([`SEED_VARIABLE`] or `--seed` replays it).
    pub seed: u64,
    /// Cases run per test.
    pub cases: u32,
    /// What the passing session cases exercised.
    pub coverage: Coverage,
    /// The first violation, if any.
    pub failure: Option<Failure>,
}

impl fmt::Display for CampaignReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.failure {
            None => {
                let c = &self.coverage;
                writeln!(
                    f,
                    "props: {} session and {} handshake cases passed (seed {})",
                    self.cases, self.cases, self.seed
                )?;
                write!(
                    f,
                    "  {} messages sent, {} decrypted; rejected {:?}; {} states compared after \
                     a rejection; {} restarts; copies: {} forward-secrecy and {} \
                     post-compromise attempts, {} predicted decryptions; largest \
                     skipped-key store {}; {} tolerated differences; {} steps recomputed by \
                     the independent spec model",
                    c.sent,
                    c.accepted,
                    c.rejected,
                    c.state_compared,
                    c.restarts,
                    c.forward_secrecy_checks,
                    c.post_compromise_checks,
                    c.copy_decryptions,
                    c.max_skipped,
                    c.tolerated,
                    c.spec_checks
                )
            }
            Some(failure) => write!(
                f,
                "props: FAILED (seed {}; rerun with --seed {} or {}={})\n{failure}",
                self.seed, self.seed, SEED_VARIABLE, self.seed
            ),
        }
    }
}

/// Runs the session model and the handshake property, `options.cases`
/// cases each, against `imp`, and reports the first violation with its
/// shrunk case.
pub fn run_campaign(imp: &mut dyn Implementation, options: &CampaignOptions) -> CampaignReport {
    let seed = options.seed.unwrap_or_else(random_seed);
    let mut coverage = Coverage::default();
    // The fixed schedules first: they reach the limits.
    for (name, case) in crate::fixed::fixed_cases() {
        match check_case_tolerating(imp, &case, options.tolerance) {
            Ok(covered) => coverage.add(&covered),
            Err(violation) => {
                return CampaignReport {
                    seed,
                    cases: options.cases,
                    coverage,
                    failure: Some(Failure {
                        test: name,
                        violation,
                        case: case.to_string(),
                    }),
                };
            }
        }
    }
    let imp = RefCell::new(imp);
    let coverage = RefCell::new(coverage);
    let sessions = run_one(
        "sessions",
        options,
        seed,
        &case(options.max_ops),
        |case| {
            let covered = check_case_tolerating(*imp.borrow_mut(), case, options.tolerance)?;
            coverage.borrow_mut().add(&covered);
            Ok(())
        },
        |case| case.to_string(),
    );
    let failure = match sessions {
        Some(failure) => Some(failure),
        None => run_one(
            "handshake",
            options,
            seed,
            &handshake_case(),
            |case| check_handshake(*imp.borrow_mut(), case),
            |case| case.to_string(),
        ),
    };
    CampaignReport {
        seed,
        cases: options.cases,
        coverage: coverage.into_inner(),
        failure,
    }
}

fn run_one<S: Strategy>(
    test: &'static str,
    options: &CampaignOptions,
    seed: u64,
    strategy: &S,
    check: impl Fn(&S::Value) -> Result<(), Violation>,
    show: impl Fn(&S::Value) -> String,
) -> Option<Failure> {
    let config = Config {
        cases: options.cases,
        failure_persistence: options
            .regressions
            .map(|path| Box::new(FileFailurePersistence::Direct(path)) as _),
        rng_algorithm: RngAlgorithm::ChaCha,
        rng_seed: RngSeed::Fixed(seed),
        // Shrinking re-runs whole schedules: bound it.
        max_shrink_iters: 2048,
        ..Config::default()
    };
    let mut runner = TestRunner::new(config);
    // Once the implementation is broken (crashed, hung), every later case
    // would fail the same way: stop shrinking and keep the case that broke it.
    let broken = core::cell::Cell::new(false);
    let outcome = runner.run(strategy, |value| {
        if broken.get() {
            return Ok(());
        }
        check(&value).map_err(|violation| {
            if violation.property == Property::Interface {
                broken.set(true);
            }
            TestCaseError::fail(violation.to_string())
        })
    });
    match outcome {
        Ok(()) => None,
        Err(TestError::Fail(_, value)) => {
            let violation = check(&value).err().unwrap_or_else(|| Violation {
                property: Property::Interface,
                step: None,
                detail: "the failure did not reproduce on the shrunk case".into(),
                narration: Vec::new(),
            });
            Some(Failure {
                test,
                violation,
                case: show(&value),
            })
        }
        Err(TestError::Abort(why)) => Some(Failure {
            test,
            violation: Violation {
                property: Property::Interface,
                step: None,
                detail: format!("proptest aborted: {why}"),
                narration: Vec::new(),
            },
            case: String::new(),
        }),
    }
}

/// A seed for a run whose seed was not given (reported with the run, so
/// any failure can be replayed); not a secret.
pub fn random_seed() -> u64 {
    use std::hash::{BuildHasher, RandomState};
    RandomState::new().hash_one(std::time::SystemTime::now())
}
