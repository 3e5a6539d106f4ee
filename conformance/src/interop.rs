//! Live interoperation: random conversations between the reference
//! implementation and an implementation under test, compared step by step.
//!
//! Every conversation runs twice with the same keys and the same schedule:
//!
//! * world R: reference initiator and reference responder;
//! * world M: the implementation under test on one side and the reference on
//!   the other. Conversations with an even seed put the implementation under
//!   test on the initiator's side, odd ones on the responder's, so both
//!   directions are covered.
//!
//! The runner supplies every private key, so both worlds must produce the
//! same bytes and the same outcome at every step: bundles (except the
//! signature, which may use a random nonce and is checked by verifying it
//! with the reference), initial messages, X3DH secrets, every ratchet
//! message, every plaintext, every error class and the skipped-key counts.
//! Handles are implementation-specific and never compared. The schedule
//! sends in both directions (sometimes in bursts of 20 to 150 messages),
//! delivers out of order, drops messages, replays delivered ones and tampers
//! with messages (bit flips, truncation, extension), including tampered and
//! replayed initial messages.
//!
//! A known behaviour difference (see [`KNOWN_DIFFERENCES`]) is counted and
//! reported, not failed. Any other disagreement ends that conversation (the
//! two worlds may have diverged) and is reported with the conversation's
//! seed, so it can be replayed with `--seed`.

use core::fmt;
use std::collections::{BTreeMap, BTreeSet};

use rand_chacha::ChaCha20Rng;
use rand_core::{Rng, SeedableRng};
use serde_json::Value;

use sealwire_adapter::hex::Bytes;
use sealwire_adapter::{Capability, Output, PreKeySecret, Request};
use sealwire_adapter::{Implementation, OpError};
use sealwire_reference::ReferenceImplementation;

/// A documented difference between an implementation and SPEC.md that the
/// interop mode tolerates (and counts).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct KnownDifference {
    /// Stable identifier, as used in `conformance/adapters/*/DIFFERENCES.md`
    /// and SPEC.md §14.
    pub id: &'static str,
    /// What differs.
    pub description: &'static str,
}

/// A message under a ratchet key of an earlier receiving chain whose key
/// is gone (a replay, or a copy with a tampered body or counters): SPEC.md
/// §6.5 reports `duplicate` because the session remembers its last 16
/// replaced receiving ratchet keys. An implementation without that memory
/// treats the old key as a new turn, on a scratch copy: it fails
/// authentication (`decryption_failed`) or, when the header's PN or N asks
/// for more than 1000 skipped keys, the skip limit (`ratchet_limit`) -- what
/// SPEC.md §6.5 itself does for chains older than the last 16. Both reject
/// the message and leave the session unchanged.
pub(crate) const EARLIER_CHAIN_REPLAY: KnownDifference = KnownDifference {
    id: "earlier-chain-replay",
    description: "a message under an earlier receiving chain's ratchet key whose message key is \
                  gone is rejected as `decryption_failed` (or `ratchet_limit` when its counters \
                  exceed the skip limit) instead of `duplicate`",
};

/// Every difference the interop mode tolerates.
pub(crate) const KNOWN_DIFFERENCES: [KnownDifference; 1] = [EARLIER_CHAIN_REPLAY];

/// What to run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct InteropOptions {
    /// Number of conversations.
    pub conversations: u32,
    /// Random actions per conversation after the handshake.
    pub steps: u32,
    /// Master seed; conversation `i` uses `seed + i`, and the seed's
    /// parity chooses the side of the implementation under test.
    pub seed: u64,
}

impl Default for InteropOptions {
    fn default() -> Self {
        Self {
            conversations: 20,
            steps: 200,
            seed: 1,
        }
    }
}

/// A disagreement between the two worlds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Divergence {
    /// Conversation index.
    pub conversation: u32,
    /// Its seed (`--seed <seed> --conversations 1` replays it alone).
    pub seed: u64,
    /// Which side the implementation under test played.
    pub under_test_role: &'static str,
    /// Step number within the conversation (handshake steps included).
    pub step: u32,
    /// The action and operation.
    pub action: String,
    /// The request sent to the world with the implementation under test
    /// (JSON, long values shortened).
    pub request: String,
    /// The reference's outcome (world R).
    pub reference: String,
    /// The outcome with the implementation under test (world M).
    pub under_test: String,
}

impl fmt::Display for Divergence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "conversation {} (seed {}, implementation under test as {}), step {}: {}\n    \
             request:    {}\n    reference:  {}\n    under test: {}",
            self.conversation,
            self.seed,
            self.under_test_role,
            self.step,
            self.action,
            self.request,
            self.reference,
            self.under_test
        )
    }
}

/// The result of an interop run.
#[derive(Clone, Debug, Default)]
pub(crate) struct InteropReport {
    /// The implementation under test, as it named itself.
    pub implementation: String,
    /// Conversations started.
    pub conversations: u32,
    /// Conversations that ran to the end without a divergence.
    pub completed: u32,
    /// Compared steps, by action.
    pub actions: BTreeMap<&'static str, u64>,
    /// Steps whose outcomes agreed exactly.
    pub agreed: u64,
    /// Steps that differed in a known, tolerated way, by difference id.
    pub known_differences: BTreeMap<&'static str, u64>,
    /// Disagreements (at most one per conversation).
    pub divergences: Vec<Divergence>,
    /// Set when an implementation broke (crashed, hung, violated the
    /// protocol); the run stops there.
    pub broken: Option<String>,
    /// Set when the implementation under test cannot run conversations.
    pub not_applicable: Option<String>,
}

impl InteropReport {
    /// True when at least one conversation ran and nothing diverged or broke.
    pub(crate) fn passed(&self) -> bool {
        self.not_applicable.is_none()
            && self.broken.is_none()
            && self.divergences.is_empty()
            && self.completed > 0
    }
}

impl fmt::Display for InteropReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "interop: {}", self.implementation)?;
        if let Some(why) = &self.not_applicable {
            return writeln!(f, "  not applicable: {why}");
        }
        let compared: u64 = self.actions.values().sum();
        writeln!(
            f,
            "  conversations: {} started, {} completed; {} steps compared, {} agreed exactly",
            self.conversations, self.completed, compared, self.agreed
        )?;
        let actions: Vec<String> = self
            .actions
            .iter()
            .map(|(action, n)| format!("{action} {n}"))
            .collect();
        writeln!(f, "  steps by action: {}", actions.join(", "))?;
        for difference in KNOWN_DIFFERENCES {
            if let Some(n) = self.known_differences.get(difference.id) {
                writeln!(
                    f,
                    "  known difference `{}` ({n} times): {}",
                    difference.id, difference.description
                )?;
            }
        }
        for divergence in &self.divergences {
            writeln!(f, "  DIVERGENCE {divergence}")?;
        }
        if let Some(why) = &self.broken {
            writeln!(f, "  BROKEN: {why}")?;
        }
        writeln!(
            f,
            "  result: {}",
            if self.passed() { "PASS" } else { "FAIL" }
        )
    }
}

type Outcome = Result<Output, OpError>;

mod conversation;

use conversation::{Conversation, Receiver, Stop, World};

/// Runs `options.conversations` conversations between the reference and
/// `under_test` (see the module documentation).
pub(crate) fn run(under_test: &mut dyn Implementation, options: &InteropOptions) -> InteropReport {
    let mut report = InteropReport {
        implementation: under_test.name().to_owned(),
        ..InteropReport::default()
    };
    let needed = [Capability::Bundle, Capability::Session];
    let missing: Vec<&str> = needed
        .iter()
        .filter(|c| !under_test.capabilities().contains(c))
        .map(|c| c.name())
        .collect();
    if !missing.is_empty() {
        report.not_applicable = Some(format!(
            "the implementation lacks capability {}",
            missing.join(", ")
        ));
        return report;
    }
    let compare_counts = under_test
        .capabilities()
        .contains(&Capability::SkippedCount);

    let mut reference_m = ReferenceImplementation::new();
    let progress = crate::progress::bar(u64::from(options.conversations), "interop: conversations");
    for index in 0..options.conversations {
        progress.inc(1);
        let seed = options.seed.wrapping_add(u64::from(index));
        let under_test_side = (seed % 2) as usize;
        let mut alice_r = ReferenceImplementation::new();
        let mut bob_r = ReferenceImplementation::new();
        let parties_m: [&mut dyn Implementation; 2] = if under_test_side == 0 {
            [&mut *under_test, &mut reference_m]
        } else {
            [&mut reference_m, &mut *under_test]
        };
        let mut conversation = Conversation {
            index,
            seed,
            under_test_side,
            rng: ChaCha20Rng::seed_from_u64(seed),
            r: World {
                parties: [&mut alice_r, &mut bob_r],
                sessions: [None, None],
                store: None,
                extra: Vec::new(),
            },
            m: World {
                parties: parties_m,
                sessions: [None, None],
                store: None,
                extra: Vec::new(),
            },
            step: 0,
            messages: Vec::new(),
            receivers: [Receiver::default(), Receiver::default()],
            compare_counts,
            report: std::mem::take(&mut report),
        };
        let mut outcome = conversation.handshake();
        if outcome.is_ok() && conversation.r.sessions.iter().all(Option::is_some) {
            for _ in 0..options.steps {
                outcome = conversation.conversation_step();
                if outcome.is_err() {
                    break;
                }
            }
        }
        conversation.r.free_all();
        conversation.m.free_all();
        report = std::mem::take(&mut conversation.report);
        report.conversations += 1;
        match outcome {
            Ok(()) => report.completed += 1,
            Err(Stop::Diverged(d)) => report.divergences.push(*d),
            Err(Stop::Broken(why)) => {
                report.broken = Some(why);
                break;
            }
        }
    }
    progress.finish_and_clear();
    report
}

/// Options of `interop`.
#[derive(Debug, clap::Args)]
pub(crate) struct InteropArgs {
    /// Run `sh -c '<COMMAND>'` as the adapter (without it, the in-process
    /// reference plays both sides: a self-check).
    #[arg(long = "impl", value_name = "COMMAND")]
    implementation: Option<String>,
    /// Number of conversations.
    #[arg(long, value_name = "N", default_value_t = InteropOptions::default().conversations,
          value_parser = clap::value_parser!(u32).range(1..))]
    conversations: u32,
    /// Random actions per conversation.
    #[arg(long, value_name = "N", default_value_t = InteropOptions::default().steps)]
    steps: u32,
    /// Master seed; conversation i uses seed + i.
    #[arg(long, value_name = "N", default_value_t = InteropOptions::default().seed)]
    seed: u64,
    /// Per-request timeout for --impl, in seconds.
    #[arg(long, value_name = "SECS", default_value = "10",
          value_parser = crate::command::parse_timeout)]
    timeout: std::time::Duration,
    /// Fail unless each listed capability (comma-separated, or `all`: every
    /// capability interop uses: bundle, session, skipped_count) was
    /// announced (repeatable).
    #[arg(long, value_name = "CAPS|all")]
    require: Vec<crate::command::Require>,
}

/// The capabilities interop uses: `bundle` and `session` to converse at
/// all, `skipped_count` to compare store sizes too.
const USED: [Capability; 3] = [
    Capability::Bundle,
    Capability::Session,
    Capability::SkippedCount,
];

/// The `interop` subcommand: runs with `args`, prints the report.
pub(crate) fn cli(args: InteropArgs) -> Result<std::process::ExitCode, String> {
    let options = InteropOptions {
        conversations: args.conversations,
        steps: args.steps,
        seed: args.seed,
    };
    let command = args.implementation;
    let timeout = args.timeout;
    let require: Vec<Capability> = if args.require.iter().any(|r| r.0 == Capability::ALL) {
        USED.to_vec()
    } else {
        crate::command::required(&args.require)
    };
    if let Some(c) = require.iter().find(|c| !USED.contains(c)) {
        return Err(format!(
            "--require: interop does not exercise `{}` (it uses bundle, session, skipped_count)",
            c.name()
        ));
    }
    let report = match command {
        None => {
            let reference = ReferenceImplementation::new();
            let announced = reference.capabilities().clone();
            (
                run(&mut ReferenceImplementation::new(), &options),
                announced,
            )
        }
        Some(command) => {
            let mut config = sealwire_adapter::AdapterConfig::new(command.clone());
            config.timeout = timeout;
            match sealwire_adapter::AdapterImplementation::spawn(config) {
                Ok(mut adapter) => {
                    let announced = adapter.capabilities().clone();
                    (run(&mut adapter, &options), announced)
                }
                Err(e) => (
                    InteropReport {
                        implementation: command,
                        broken: Some(format!("the implementation could not be started: {e}")),
                        ..InteropReport::default()
                    },
                    Default::default(),
                ),
            }
        }
    };
    let (report, announced) = report;
    print!("{report}");
    let unmet: Vec<&Capability> = require.iter().filter(|c| !announced.contains(c)).collect();
    for c in &unmet {
        println!(
            "requirement not met (--require): `{}` was not announced",
            c.name()
        );
    }
    let ok = report.passed() && unmet.is_empty();
    if !unmet.is_empty() {
        println!("  result with --require: FAIL");
    }
    Ok(if ok {
        std::process::ExitCode::SUCCESS
    } else {
        std::process::ExitCode::FAILURE
    })
}

#[cfg(test)]
mod tests;
