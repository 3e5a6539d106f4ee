//! The black-box property model (PROPERTIES.md, "Black-box mode"): Alice,
//! Bob and an attacker who owns the network, driven through adapter
//! protocol v2. The implementation's bytes are opaque; the model predicts
//! behaviour only: which deliveries must succeed (within the limits the
//! hello declares), which inputs must be rejected, what a stolen state must
//! not decrypt.
//!
//! A run is: two fixed checks (the exhaustive tamper sweep and the
//! skipped-store pressure schedule), then `cases` random schedules, each
//! drawn from the run's seed alone (the same seed gives the same schedule
//! for every implementation), each in a fresh adapter process. A failing
//! schedule is shrunk by removing operations while it still fails the same
//! property, and printed in words with the seed that replays it.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fmt;
use std::time::{Duration, Instant};

use crate::client::{
    Capability, Client, ErrorClass, Granularity, HelloError, OpError, Scope, SkippedKeys,
};
use crate::leaks::LeakCheck;
use crate::rng::Draw;

/// A property of the black-box model.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Property {
    /// Every authentic message delivered once decrypts, exactly once, to its
    /// plaintext (unless a declared limit allows its loss).
    Delivery,
    /// Replays, reflections, truncations, extensions, bit flips and
    /// low-order keys are rejected and release no plaintext.
    Rejection,
    /// `export_state` is byte-identical after every rejection.
    StateUnchanged,
    /// A rejected first message consumes no one-time prekey.
    PrekeyUnchanged,
    /// No two messages are equal or share their last 16 bytes.
    FreshCiphertext,
    /// An imported state exports the same bytes and goes on working.
    Persistence,
    /// A copy of a party's state decrypts none of the messages it had received.
    ForwardSecrecy,
    /// A copy decrypts nothing the peer sent after healing.
    PostCompromise,
    /// No ratchet key serves two turns or two sessions (with `layout`).
    FreshRatchetKeys,
    /// The skipped-key store stays within the declared cap (2,000 without one).
    SkippedBound,
    /// `len(message) − len(plaintext)` within the declared range.
    Overhead,
    /// No canary or secret in any response, error or stderr.
    NoLeak,
    /// An adapter with `errors: fine` names the class SPEC.md gives a
    /// rejection whose class the spec fixes independently of the wire
    /// format (a replay, a reflection, a low-order ratchet key, an empty
    /// message).
    ErrorClasses,
    /// The adapter answers within the protocol.
    Interface,
}

impl Property {
    /// Every property, in report order.
    pub const ALL: [Self; 14] = [
        Self::Delivery,
        Self::Rejection,
        Self::StateUnchanged,
        Self::PrekeyUnchanged,
        Self::FreshCiphertext,
        Self::Persistence,
        Self::ForwardSecrecy,
        Self::PostCompromise,
        Self::FreshRatchetKeys,
        Self::SkippedBound,
        Self::Overhead,
        Self::NoLeak,
        Self::ErrorClasses,
        Self::Interface,
    ];

    /// Its name in reports and JSON.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Delivery => "delivery",
            Self::Rejection => "rejection",
            Self::StateUnchanged => "state_unchanged",
            Self::PrekeyUnchanged => "prekey_unchanged",
            Self::FreshCiphertext => "fresh_ciphertext",
            Self::Persistence => "persistence",
            Self::ForwardSecrecy => "forward_secrecy",
            Self::PostCompromise => "post_compromise",
            Self::FreshRatchetKeys => "fresh_ratchet_keys",
            Self::SkippedBound => "skipped_bound",
            Self::Overhead => "overhead",
            Self::NoLeak => "no_leak",
            Self::ErrorClasses => "error_classes",
            Self::Interface => "interface",
        }
    }

    /// The property named `name`.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.name() == name)
    }

    /// The capability without which it cannot be checked.
    pub const fn needs(self) -> Option<Capability> {
        match self {
            Self::StateUnchanged
            | Self::Persistence
            | Self::ForwardSecrecy
            | Self::PostCompromise => Some(Capability::State),
            Self::FreshRatchetKeys => Some(Capability::Layout),
            Self::SkippedBound => Some(Capability::SkippedCount),
            _ => None,
        }
    }
}

/// A documented benign deviation (`--tolerate NAME`): matching violations
/// are counted, not reported. PROPERTIES.md justifies each.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tolerance {
    /// Its name on the command line.
    pub name: &'static str,
    /// The property it relaxes.
    pub property: Property,
    /// Which violations of it are tolerated (matched against the
    /// violation's `kind`).
    pub kind: &'static str,
    /// Why it is benign.
    pub why: &'static str,
}

/// SPEC.md's class for a received ratchet key that is the low-order point
/// `point`: `low_order_key` for a canonical encoding (below p = 2^255 − 19,
/// §2 "Low-order X25519 keys"), `wire` for a non-canonical one (p, p + 1:
/// §2 "Canonical X25519 keys on the wire").
pub fn low_order_class(point: &[u8; 32]) -> ErrorClass {
    // The independent model's canonical-encoding rule, as the white-box
    // model (sealwire-model) uses it.
    if sealwire_specmodel::keys::is_canonical_x25519(point) {
        ErrorClass::LowOrderKey
    } else {
        ErrorClass::Wire
    }
}

/// SPEC.md §6.5's `MAX_PREVIOUS_RATCHET_KEYS`: how many replaced receiving
/// ratchet keys a session remembers, so that a replay under one of them is
/// `duplicate` ([`Property::ErrorClasses`]).
pub const EARLIER_RATCHET_KEYS: usize = 16;

/// SPEC.md §6.4's `MAX_SKIP`: a conversation of fewer messages than this
/// cannot make one skip pass the limit.
pub const SKIP_LIMIT: usize = 1000;

/// Every tolerance the model knows.
pub const TOLERANCES: [Tolerance; 1] = [Tolerance {
    name: "late-message-after-store-eviction",
    property: Property::Delivery,
    kind: "late-lost",
    why: "a message that arrives after later messages of its chain may be lost when the \
              implementation keeps fewer skipped keys than the model's estimate of its store; \
              losing a delayed message is availability, not confidentiality or integrity",
}];

/// One of the two honest parties.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Party {
    /// The initiator.
    Alice,
    /// The responder.
    Bob,
}

impl Party {
    const fn peer(self) -> Self {
        match self {
            Self::Alice => Self::Bob,
            Self::Bob => Self::Alice,
        }
    }

    const fn i(self) -> usize {
        match self {
            Self::Alice => 0,
            Self::Bob => 1,
        }
    }
}

impl fmt::Display for Party {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Alice => "Alice",
            Self::Bob => "Bob",
        })
    }
}

/// How the attacker damages a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Damage {
    /// Flip bit `bit` of byte `at % len`.
    Flip {
        /// Byte selector.
        at: u32,
        /// Bit 0..8.
        bit: u8,
    },
    /// Keep `keep % len` bytes.
    Truncate {
        /// Length selector.
        keep: u32,
    },
    /// Append `n` bytes.
    Extend {
        /// How many.
        n: u8,
    },
    /// Replace the ratchet key (from `layout`) with a low-order point.
    LowOrder {
        /// Which point of [`LOW_ORDER`].
        point: u8,
    },
}

/// One operation of a schedule. Selectors (`u16`) index whatever exists
/// when the step runs (modulo its length): a schedule stays meaningful
/// while it is shrunk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// A party encrypts a canary; the message goes in flight.
    Send(Party),
    /// Send and deliver at once (drives the DH ratchet).
    Converse(Party),
    /// `n` messages at once, all but the first and last dropped.
    Burst(Party, u16),
    /// Deliver a message in flight (any order).
    Deliver(u16),
    /// Deliver the oldest message in flight.
    DeliverOldest,
    /// Drop a message in flight.
    Drop(u16),
    /// Deliver an already delivered message again.
    Replay(u16),
    /// Deliver a damaged copy of any sent message.
    Tamper(u16, Damage),
    /// Deliver a message back to its sender.
    Reflect(u16),
    /// Export a party's state and continue from an import of it.
    Restart(Party),
    /// The attacker copies a party's whole state.
    Compromise(Party),
    /// A copy tries every message sent to its victim since, up to one.
    AttackerDecrypt(u16, u16),
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::Send(p) => write!(f, "{p} sends a message"),
            Self::Converse(p) => write!(f, "{p} sends a message, delivered at once"),
            Self::Burst(p, n) => write!(
                f,
                "{p} sends {n} messages; all but the first and last are dropped"
            ),
            Self::Deliver(i) => write!(f, "the network delivers in-flight message #{i} (modulo)"),
            Self::DeliverOldest => write!(f, "the network delivers the oldest message in flight"),
            Self::Drop(i) => write!(f, "the network drops in-flight message #{i} (modulo)"),
            Self::Replay(i) => write!(f, "the attacker replays delivered message #{i} (modulo)"),
            Self::Tamper(i, d) => write!(
                f,
                "the attacker delivers sent message #{i} (modulo) damaged: {d:?}"
            ),
            Self::Reflect(i) => write!(
                f,
                "the attacker reflects sent message #{i} (modulo) to its sender"
            ),
            Self::Restart(p) => write!(f, "{p} restarts from an exported state"),
            Self::Compromise(p) => write!(f, "the attacker copies {p}'s state"),
            Self::AttackerDecrypt(c, m) => write!(
                f,
                "copy #{c} (modulo) tries the victim's messages up to #{m} (modulo)"
            ),
        }
    }
}

/// The X25519 low-order points (RFC 7748 §5 and Bernstein's list): the
/// encodings of 0, 1, the two points of order 8, and p − 1, p, p + 1.
pub const LOW_ORDER: [[u8; 32]; 7] = {
    let mut t = [[0u8; 32]; 7];
    t[1][0] = 1;
    t[2] = [
        0xe0, 0xeb, 0x7a, 0x7c, 0x3b, 0x41, 0xb8, 0xae, 0x16, 0x56, 0xe3, 0xfa, 0xf1, 0x9f, 0xc4,
        0x6a, 0xda, 0x09, 0x8d, 0xeb, 0x9c, 0x32, 0xb1, 0xfd, 0x86, 0x62, 0x05, 0x16, 0x5f, 0x49,
        0xb8, 0x00,
    ];
    t[3] = [
        0x5f, 0x9c, 0x95, 0xbc, 0xa3, 0x50, 0x8c, 0x24, 0xb1, 0xd0, 0xb1, 0x55, 0x9c, 0x83, 0xef,
        0x5b, 0x04, 0x44, 0x5c, 0xc4, 0x58, 0x1c, 0x8e, 0x86, 0xd8, 0x22, 0x4e, 0xdd, 0xd0, 0x9f,
        0x11, 0x57,
    ];
    let mut i = 4;
    while i < 7 {
        let mut k = 0;
        while k < 31 {
            t[i][k] = 0xff;
            k += 1;
        }
        t[i][31] = 0x7f;
        i += 1;
    }
    t[4][0] = 0xec; // p − 1
    t[5][0] = 0xed; // p
    t[6][0] = 0xee; // p + 1
    t
};

/// Generates the schedule of case `case` of a run with `seed`: a function of
/// the seed alone.
pub fn schedule(seed: u64, case: u64, max_ops: usize) -> Vec<Op> {
    let mut d = Draw::new(seed, 1_000u64.wrapping_add(case));
    let len = 4 + d.index(max_ops.saturating_sub(3).max(1));
    let party = |d: &mut Draw| {
        if d.chance(1, 2) {
            Party::Alice
        } else {
            Party::Bob
        }
    };
    let sel = |d: &mut Draw| d.below(1 << 16) as u16;
    (0..len)
        .map(|_| match d.below(100) {
            0..=17 => Op::Send(party(&mut d)),
            18..=37 => Op::Converse(party(&mut d)),
            38..=39 => Op::Burst(party(&mut d), 2 + d.below(60) as u16),
            40..=51 => Op::Deliver(sel(&mut d)),
            52..=55 => Op::DeliverOldest,
            56..=60 => Op::Drop(sel(&mut d)),
            61..=65 => Op::Replay(sel(&mut d)),
            66..=76 => Op::Tamper(
                sel(&mut d),
                match d.below(4) {
                    0 | 1 => Damage::Flip {
                        at: d.u64() as u32,
                        bit: d.below(8) as u8,
                    },
                    2 if d.chance(1, 2) => Damage::Truncate {
                        keep: d.u64() as u32,
                    },
                    2 => Damage::Extend {
                        n: 1 + d.below(32) as u8,
                    },
                    _ => Damage::LowOrder {
                        point: d.below(LOW_ORDER.len() as u64) as u8,
                    },
                },
            ),
            77..=80 => Op::Reflect(sel(&mut d)),
            81..=86 => Op::Restart(party(&mut d)),
            87..=91 => Op::Compromise(party(&mut d)),
            _ => Op::AttackerDecrypt(sel(&mut d), sel(&mut d)),
        })
        .collect()
}

/// A violation, in words.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    /// The property.
    pub property: Property,
    /// A short machine-readable kind (what `--tolerate` matches).
    pub kind: &'static str,
    /// What happened, naming operations and messages.
    pub what: String,
    /// For an accepted tampered message: the plaintext it released is the
    /// plaintext of an authentic message of the same conversation (a
    /// byte-different re-encoding or replay of it), not a forged one.
    /// The plaintext itself is not kept (it is a leak-scan canary).
    pub replays_authentic_plaintext: bool,
}

#[derive(Clone, Debug)]
pub(crate) struct Msg {
    pub(crate) from: Party,
    pub(crate) plaintext: Vec<u8>,
    pub(crate) bytes: Vec<u8>,
    pub(crate) first: bool,
    /// Not of the first kind, as far as the runner can tell (the layout
    /// says so, or without one: not an initiator's message before any
    /// reply).
    pub(crate) ordinary: bool,
    pub(crate) turn: u32,
    pub(crate) counter: u32,
    pub(crate) delivered: bool,
    pub(crate) lost: bool,
    pub(crate) ratchet_key: Option<Vec<u8>>,
}

impl Msg {
    pub(crate) fn name(&self, id: usize) -> String {
        format!(
            "{}'s message #{id} (turn {}, counter {}{})",
            self.from,
            self.turn,
            self.counter,
            if self.first {
                ", the first message"
            } else {
                ""
            }
        )
    }
}

#[derive(Clone, Debug, Default)]
struct Side {
    cur_turn: u32,
    next_turn: u32,
    last_peer_turn: u32,
    counter: u32,
    /// Messages this side accepted, in order.
    accepted: Vec<usize>,
    /// Per peer turn: the highest counter accepted.
    hi: BTreeMap<u32, u32>,
    /// The model's skipped keys: per peer turn, counters.
    skipped: BTreeMap<u32, BTreeSet<u32>>,
    /// Scopes (turn, or `u32::MAX` for the session) whose store overflowed.
    overflowed: BTreeSet<u32>,
}

struct Copy {
    victim: Party,
    state: Vec<u8>,
    /// Messages the victim had accepted when copied.
    received: BTreeSet<usize>,
    /// Messages sent when copied.
    sent_before: usize,
    /// The victim's newest turn whose key the copy may hold.
    known_turn: u32,
}

/// Counters of one run.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    /// Checks performed, per property.
    pub checks: BTreeMap<Property, u64>,
    /// Violations tolerated, per tolerance name.
    pub tolerated: BTreeMap<&'static str, u64>,
    /// Authentic messages lost within the declared limits.
    pub lost_within_limits: u64,
}

impl Tally {
    fn check(&mut self, p: Property) {
        *self.checks.entry(p).or_default() += 1;
    }

    fn merge(&mut self, other: &Self) {
        for (p, n) in &other.checks {
            *self.checks.entry(*p).or_default() += n;
        }
        for (t, n) in &other.tolerated {
            *self.tolerated.entry(t).or_default() += n;
        }
        self.lost_within_limits += other.lost_within_limits;
    }
}

/// What one run of the model needs.
#[derive(Clone, Debug)]
pub struct Config {
    /// The adapter command.
    pub command: String,
    /// Random cases.
    pub cases: u64,
    /// The run's seed.
    pub seed: u64,
    /// The longest schedule.
    pub max_ops: usize,
    /// Per-request timeout.
    pub timeout: Duration,
    /// Tolerance names.
    pub tolerate: BTreeSet<String>,
    /// Run the fixed checks (sweep, store pressure) first.
    pub fixed: bool,
    /// At most this many re-runs while shrinking a failure.
    pub shrink_runs: usize,
}

/// A violation with what reproduces it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    /// The violation.
    pub violation: Violation,
    /// Which check: "tamper sweep", "store pressure", or "case N".
    pub check: String,
    /// The shrunk schedule in words (empty for the fixed checks).
    pub schedule: Vec<String>,
    /// The step of the schedule (1-based) where it failed, if any.
    pub step: Option<usize>,
    /// The command line that reproduces it.
    pub reproduce: String,
}

/// A property's verdict.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Checked at least once and never violated.
    Held {
        /// How many checks.
        checks: u64,
    },
    /// Violated.
    Violated(Box<Failure>),
    /// Not checked; why.
    NotTested(String),
}

/// The result of a `props` run.
#[derive(Debug)]
pub struct Report {
    /// The adapter's name.
    pub name: String,
    /// Verdicts.
    pub verdicts: BTreeMap<Property, Verdict>,
    /// Further failures of properties already violated, from other checks.
    pub also: Vec<Failure>,
    /// Counters.
    pub tally: Tally,
    /// Cases run (random schedules).
    pub cases: u64,
    /// Requests answered.
    pub calls: u64,
    /// Wall time.
    pub seconds: f64,
    /// The run's seed.
    pub seed: u64,
    /// The capabilities the adapter announced in its hello.
    pub capabilities: BTreeSet<Capability>,
}

impl Report {
    /// The closing lines of a `props` run after [`Report::render`]: each
    /// unmet requirement, a run that tested nothing, and whether the run
    /// passes (no violation, something tested, every requirement met).
    pub fn verdict(&self, unmet: &[String]) -> (bool, String) {
        let mut out = String::new();
        for why in unmet {
            out.push_str(&format!("requirement not met (--require): {why}\n"));
        }
        let (passed, failed, _) = self.counts();
        if passed == 0 && failed == 0 {
            out.push_str("props: FAIL: no property was tested\n");
        }
        (failed == 0 && passed > 0 && unmet.is_empty(), out)
    }

    /// What `--require` asked and this run did not give, in words (empty:
    /// every requirement met). Each capability in `required` must have
    /// been announced, and every property that needs it must have been
    /// tested (held or violated, not "not tested"); with `every_property`
    /// no property at all may be left untested.
    pub fn unmet(&self, required: &BTreeSet<Capability>, every_property: bool) -> Vec<String> {
        let mut out: Vec<String> = required
            .iter()
            .filter(|c| !self.capabilities.contains(c))
            .map(|c| format!("`{}` is required: not announced", c.name()))
            .collect();
        for (p, v) in &self.verdicts {
            let Verdict::NotTested(why) = v else { continue };
            let needed = p.needs().filter(|c| required.contains(c));
            if let Some(c) = needed {
                if self.capabilities.contains(&c) {
                    out.push(format!(
                        "`{}` is required: property {} was not tested: {why}",
                        c.name(),
                        p.name()
                    ));
                }
            } else if every_property {
                out.push(format!(
                    "every property is required (--require all): {} was not tested: {why}",
                    p.name()
                ));
            }
        }
        out
    }

    /// `(passed, failed, skipped)`.
    pub fn counts(&self) -> (usize, usize, usize) {
        let mut c = (0, 0, 0);
        for v in self.verdicts.values() {
            match v {
                Verdict::Held { .. } => c.0 += 1,
                Verdict::Violated(_) => c.1 += 1,
                Verdict::NotTested(_) => c.2 += 1,
            }
        }
        c
    }

    /// The human-readable report, ending with `N passed, M failed, K skipped`.
    pub fn render(&self) -> String {
        let mut out = format!(
            "black-box property model against {} (seed {}, {} cases, {} requests, {:.1} s)\n",
            self.name, self.seed, self.cases, self.calls, self.seconds
        );
        for (p, v) in &self.verdicts {
            match v {
                Verdict::Held { checks } => {
                    out.push_str(&format!("  held       {:<20} {checks} checks\n", p.name()));
                }
                Verdict::NotTested(why) => {
                    out.push_str(&format!("  not tested {:<20} {why}\n", p.name()));
                }
                Verdict::Violated(f) => {
                    out.push_str(&format!(
                        "  VIOLATED   {:<20} {} ({})\n",
                        p.name(),
                        f.violation.what,
                        f.check
                    ));
                    if let Some(step) = f.step {
                        out.push_str(&format!("             at step {step} of:\n"));
                    }
                    for (i, op) in f.schedule.iter().enumerate() {
                        out.push_str(&format!("             {:>3}. {op}\n", i + 1));
                    }
                    out.push_str(&format!("             reproduce: {}\n", f.reproduce));
                }
            }
        }
        for f in &self.also {
            out.push_str(&format!(
                "  also       {:<20} {} ({})\n",
                f.violation.property.name(),
                f.violation.what,
                f.check
            ));
        }
        for (t, n) in &self.tally.tolerated {
            out.push_str(&format!("  tolerated  {t}: {n} times\n"));
        }
        if self.tally.lost_within_limits > 0 {
            out.push_str(&format!(
                "  note: {} authentic messages lost within the declared limits\n",
                self.tally.lost_within_limits
            ));
        }
        let (p, f, s) = self.counts();
        out.push_str(&format!("{p} passed, {f} failed, {s} skipped\n"));
        out
    }
}

/// Why a run could not happen at all.
#[derive(Debug)]
pub enum RunError {
    /// The hello failed.
    Hello(HelloError),
    /// An unknown `--tolerate` name.
    UnknownTolerance(String),
}

impl fmt::Display for RunError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Hello(e) => write!(f, "{e}"),
            Self::UnknownTolerance(n) => write!(
                f,
                "unknown tolerance `{n}` (known: {})",
                TOLERANCES.map(|t| t.name).join(", ")
            ),
        }
    }
}

impl std::error::Error for RunError {}

/// The adapter seed of a case: drawn from the run's seed.
pub fn adapter_seed(seed: u64, case: u64) -> [u8; 32] {
    Draw::new(seed, 2_000_000u64.wrapping_add(case)).seed()
}

pub(crate) struct World<'a> {
    pub(crate) c: Client,
    pub(crate) cfg: &'a Config,
    pub(crate) parties: [String; 2],
    pub(crate) sessions: [String; 2],
    pub(crate) msgs: Vec<Msg>,
    pub(crate) in_flight: Vec<usize>,
    sides: [Side; 2],
    copies: Vec<Copy>,
    pub(crate) leaks: LeakCheck,
    pub(crate) plain: Draw,
    pub(crate) tally: Tally,
    pub(crate) seen: HashSet<Vec<u8>>,
    pub(crate) seen_tails: HashSet<Vec<u8>>,
    pub(crate) keys: HashMap<Vec<u8>, (Party, u32)>,
    pub(crate) otk: bool,
    pub(crate) state: bool,
    pub(crate) layout: bool,
    pub(crate) secrets: bool,
    pub(crate) skipped_count: bool,
    /// `errors: fine`: rejections are checked against SPEC.md's classes
    /// where the spec fixes them ([`Property::ErrorClasses`]).
    pub(crate) fine: bool,
    /// The one-time prekeys Bob had before the first message.
    pub(crate) unused_before: Vec<String>,
    /// Plaintexts of authentic messages that are not in `msgs` (the
    /// unanswered first messages).
    pub(crate) other_plaintexts: Vec<Vec<u8>>,
    /// The receiver and its exported state before the last non-first
    /// `must_reject` (for [`World::restore_after_change`]).
    pub(crate) last_before: Option<(Party, Vec<u8>)>,
}

pub(crate) type Step = Result<(), Violation>;

/// The fresh_ciphertext check of one message: `Some("repeat")` when it is
/// byte-identical to an earlier one, `Some("repeat-tail")` when it is an
/// `ordinary` message (not of the first kind, as far as the runner can
/// tell) whose last 16 bytes, where ordinary Double Ratchet formats put the
/// authentication tag, end an earlier ordinary message. First-kind messages
/// are checked whole only: a first message may end with fields that every
/// first message of the session repeats until the responder answers (a
/// PQXDH `PreKeySignalMessage` ends with its Kyber ciphertext).
pub(crate) fn freshness(
    seen: &mut HashSet<Vec<u8>>,
    seen_tails: &mut HashSet<Vec<u8>>,
    bytes: &[u8],
    ordinary: bool,
) -> Option<&'static str> {
    if !seen.insert(bytes.to_vec()) {
        return Some("repeat");
    }
    if ordinary && bytes.len() >= 16 && !seen_tails.insert(bytes[bytes.len() - 16..].to_vec()) {
        return Some("repeat-tail");
    }
    None
}

pub(crate) fn violation(property: Property, kind: &'static str, what: String) -> Violation {
    Violation {
        property,
        kind,
        what,
        replays_authentic_plaintext: false,
    }
}

pub(crate) fn interface(op: &str, e: &OpError) -> Violation {
    violation(
        Property::Interface,
        "interface",
        format!("`{op}` failed: {e}"),
    )
}

impl<'a> World<'a> {
    pub(crate) fn connect(
        cfg: &'a Config,
        seed: [u8; 32],
        plain: Draw,
    ) -> Result<Self, HelloError> {
        let c = Client::connect(&cfg.command, seed, cfg.timeout)?;
        let h = c.hello.clone();
        Ok(Self {
            c,
            cfg,
            parties: Default::default(),
            sessions: Default::default(),
            msgs: Vec::new(),
            in_flight: Vec::new(),
            sides: Default::default(),
            copies: Vec::new(),
            leaks: LeakCheck::new(),
            plain,
            tally: Tally::default(),
            seen: HashSet::new(),
            seen_tails: HashSet::new(),
            keys: HashMap::new(),
            otk: false,
            state: h.has(Capability::State),
            layout: h.has(Capability::Layout),
            secrets: h.has(Capability::Secrets),
            skipped_count: h.has(Capability::SkippedCount),
            fine: h.errors == Granularity::Fine,
            unused_before: Vec::new(),
            other_plaintexts: Vec::new(),
            last_before: None,
        })
    }

    fn tolerated(&mut self, v: Violation) -> Step {
        for t in TOLERANCES {
            if t.property == v.property && t.kind == v.kind && self.cfg.tolerate.contains(t.name) {
                *self.tally.tolerated.entry(t.name).or_default() += 1;
                return Ok(());
            }
        }
        Err(v)
    }

    pub(crate) fn canary(&mut self, label: String) -> Vec<u8> {
        let len = 8 + self.plain.index(41);
        let bytes = self.plain.bytes(len);
        self.leaks.add_canary(label, &bytes);
        bytes
    }

    fn learn_secrets(&mut self, handle: &str, label: &str) -> Step {
        if !self.secrets {
            return Ok(());
        }
        let list = self
            .c
            .secrets(handle)
            .map_err(|e| interface("secrets", &e))?;
        for (i, s) in list.iter().enumerate() {
            self.leaks.add_secret(format!("{label} secret {i}"), s);
        }
        Ok(())
    }

    fn export(&mut self, p: Party) -> Result<Option<Vec<u8>>, Violation> {
        if !self.state {
            return Ok(None);
        }
        let s = self.sessions[p.i()].clone();
        match self.c.export_state(&s) {
            Ok(b) => Ok(Some(b)),
            Err(OpError::Unsupported(_)) => {
                self.state = false;
                Ok(None)
            }
            Err(e) => Err(interface("export_state", &e)),
        }
    }

    /// Setup: two parties, Bob's bundle, Alice's first message delivered.
    pub(crate) fn start(&mut self, otk: bool) -> Step {
        for p in [Party::Alice, Party::Bob] {
            let h = self
                .c
                .create_party(2)
                .map_err(|e| interface("create_party", &e))?;
            self.learn_secrets(&h, &format!("{p}'s party"))?;
            self.parties[p.i()] = h;
        }
        let bob = self.parties[1].clone();
        let bundle = match self.c.publish_bundle(&bob, otk) {
            Ok(b) => b,
            Err(OpError::Unsupported(_)) if !otk => self
                .c
                .publish_bundle(&bob, true)
                .map_err(|e| interface("publish_bundle", &e))?,
            Err(e) => return Err(interface("publish_bundle", &e)),
        };
        self.otk = bundle.one_time_prekey.is_some();
        self.unused_before = self
            .c
            .unused_prekeys(&bob)
            .map_err(|e| interface("unused_prekeys", &e))?;
        let pt = self.canary("Alice's first plaintext".into());
        let alice = self.parties[0].clone();
        let (session, first) = self
            .c
            .initiate(&alice, &bundle.bytes, &pt)
            .map_err(|e| interface("initiate", &e))?;
        self.sessions[0] = session.clone();
        self.sides[0].cur_turn = 1;
        self.sides[0].next_turn = 1;
        self.record(Party::Alice, pt, first, true)?;
        self.learn_secrets(&session, "Alice's session")?;
        // The first message is delivered first and reliably.
        self.in_flight.clear();
        self.deliver(0)
    }

    /// A first message from a new initiator to Bob's next bundle (with a
    /// one-time prekey), not delivered: its bytes and plaintext.
    pub(crate) fn unanswered_first(&mut self) -> Result<(Vec<u8>, Vec<u8>), Violation> {
        let bob = self.parties[1].clone();
        let bundle = self
            .c
            .publish_bundle(&bob, true)
            .map_err(|e| interface("publish_bundle", &e))?;
        let initiator = self
            .c
            .create_party(0)
            .map_err(|e| interface("create_party", &e))?;
        let pt = self.canary("an unanswered first plaintext".into());
        let (_, first) = self
            .c
            .initiate(&initiator, &bundle.bytes, &pt)
            .map_err(|e| interface("initiate", &e))?;
        self.other_plaintexts.push(pt.clone());
        Ok((first, pt))
    }

    fn record(&mut self, from: Party, plaintext: Vec<u8>, bytes: Vec<u8>, first: bool) -> Step {
        let side = &mut self.sides[from.i()];
        if side.next_turn > side.cur_turn {
            side.cur_turn = side.next_turn;
            side.counter = 0;
        }
        let (turn, counter) = (side.cur_turn, side.counter);
        side.counter += 1;
        let id = self.msgs.len();
        let mut msg = Msg {
            from,
            plaintext,
            bytes,
            first,
            ordinary: false,
            turn,
            counter,
            delivered: false,
            lost: false,
            ratchet_key: None,
        };
        // layout: kind (for fresh_ciphertext and overhead)
        let mut is_first_kind = if first { Some(true) } else { None };
        let layout = if self.layout {
            let l = self
                .c
                .layout(&msg.bytes)
                .map_err(|e| interface("layout", &e))?;
            is_first_kind = Some(l.first);
            Some(l)
        } else {
            None
        };
        // Without a layout, an initiator's message before any reply may be
        // of either kind (Signal and Olm repeat their first message).
        let maybe_first = from == Party::Alice && self.sides[0].accepted.is_empty();
        let ordinary = match is_first_kind {
            Some(kind) => !kind,
            None => !maybe_first,
        };
        msg.ordinary = ordinary;
        // fresh_ciphertext
        self.tally.check(Property::FreshCiphertext);
        if let Some(kind) = freshness(&mut self.seen, &mut self.seen_tails, &msg.bytes, ordinary) {
            let what = match kind {
                "repeat" => format!("{} is byte-identical to an earlier message", msg.name(id)),
                _ => format!(
                    "{} ends with the same 16 bytes as an earlier message",
                    msg.name(id)
                ),
            };
            return Err(violation(Property::FreshCiphertext, kind, what));
        }
        // layout: ratchet key
        if let Some(l) = layout {
            self.tally.check(Property::FreshRatchetKeys);
            match self.keys.get(&l.ratchet_key) {
                Some(&(p, t)) if (p, t) != (from, turn) => {
                    return Err(violation(
                        Property::FreshRatchetKeys,
                        "reuse",
                        format!(
                            "{} carries the ratchet key {p} used in turn {t}",
                            msg.name(id)
                        ),
                    ));
                }
                _ => {}
            }
            self.keys.insert(l.ratchet_key.clone(), (from, turn));
            msg.ratchet_key = Some(l.ratchet_key);
        }
        // overhead
        self.tally.check(Property::Overhead);
        let over = msg.bytes.len() as i64 - msg.plaintext.len() as i64;
        let h = &self.c.hello;
        let (lo, hi) = match is_first_kind {
            Some(true) => h.overhead_first,
            Some(false) => h.overhead_message,
            None if maybe_first => (
                h.overhead_first.0.min(h.overhead_message.0),
                h.overhead_first.1.max(h.overhead_message.1),
            ),
            None => h.overhead_message,
        };
        if over < lo as i64 || over > hi as i64 {
            return Err(violation(
                Property::Overhead,
                "range",
                format!(
                    "{} is {} bytes for a {}-byte plaintext: overhead {over}, declared [{lo}, {hi}]",
                    msg.name(id),
                    msg.bytes.len(),
                    msg.plaintext.len()
                ),
            ));
        }
        self.leaks
            .add_canary(format!("plaintext of message #{id}"), &msg.plaintext);
        self.msgs.push(msg);
        self.in_flight.push(id);
        Ok(())
    }

    pub(crate) fn send(
        &mut self,
        from: Party,
        plaintext: Option<Vec<u8>>,
    ) -> Result<usize, Violation> {
        let pt = match plaintext {
            Some(p) => p,
            None => self.canary(format!("{from}'s plaintext")),
        };
        let s = self.sessions[from.i()].clone();
        let bytes = self
            .c
            .encrypt(&s, &pt)
            .map_err(|e| interface("encrypt", &e))?;
        self.record(from, pt, bytes, false)?;
        self.learn_secrets(&s, &format!("{from}'s session"))?;
        Ok(self.msgs.len() - 1)
    }

    /// Whether the declared limits allow losing `id` if delivered now.
    fn may_lose(&self, id: usize) -> Option<String> {
        let m = &self.msgs[id];
        let r = &self.sides[m.from.peer().i()];
        let limits = self.c.hello.limits;
        let late_in_chain = r.hi.get(&m.turn).is_some_and(|&hi| m.counter < hi);
        let older_chain = m.turn < r.last_peer_turn;
        if late_in_chain || older_chain {
            match limits.skipped_keys {
                SkippedKeys::None => return Some("the adapter declares no skipped keys".into()),
                SkippedKeys::Store { scope, .. } => {
                    let bucket = if scope == Scope::Chain {
                        m.turn
                    } else {
                        u32::MAX
                    };
                    if r.overflowed.contains(&bucket) {
                        return Some("the skipped-key store overflowed its declared cap".into());
                    }
                }
            }
            if older_chain {
                let newer = r.hi.keys().filter(|&&t| t > m.turn).count() as u64;
                if limits.old_chains.is_some_and(|k| newer > k) {
                    return Some(format!("its chain is {newer} chains old"));
                }
            }
            return None;
        }
        // A forward jump: keys derived in one step.
        let mut jump = 0u64;
        if m.turn > r.last_peer_turn && r.last_peer_turn > 0 {
            let old = r.last_peer_turn;
            let hi = r.hi.get(&old).copied();
            jump += self
                .msgs
                .iter()
                .filter(|x| x.from == m.from && x.turn == old && hi.is_none_or(|h| x.counter > h))
                .count() as u64;
        }
        jump += u64::from(m.counter) - r.hi.get(&m.turn).map_or(0, |h| u64::from(*h) + 1);
        if limits.max_forward_jump.is_some_and(|l| jump > l) {
            return Some(format!("it needs {jump} keys in one step"));
        }
        None
    }

    fn accept(&mut self, id: usize) {
        let m = self.msgs[id].clone();
        let limits = self.c.hello.limits;
        let peer_msgs: Vec<(u32, u32, bool)> = self
            .msgs
            .iter()
            .filter(|x| x.from == m.from)
            .map(|x| (x.turn, x.counter, x.delivered))
            .collect();
        let r = &mut self.sides[m.from.peer().i()];
        if m.turn > r.last_peer_turn {
            let old = r.last_peer_turn;
            if old > 0 {
                let hi = r.hi.get(&old).copied();
                for &(t, n, d) in &peer_msgs {
                    if t == old && !d && hi.is_none_or(|h| n > h) {
                        r.skipped.entry(old).or_default().insert(n);
                    }
                }
            }
            r.last_peer_turn = m.turn;
            r.next_turn = m.turn + 1;
        }
        let hi = r.hi.get(&m.turn).copied();
        if hi.is_none_or(|h| m.counter > h) {
            let from = hi.map_or(0, |h| h + 1);
            for n in from..m.counter {
                if !peer_msgs
                    .iter()
                    .any(|&(t, c, d)| t == m.turn && c == n && d)
                {
                    r.skipped.entry(m.turn).or_default().insert(n);
                }
            }
            r.hi.insert(m.turn, m.counter);
        } else if let Some(set) = r.skipped.get_mut(&m.turn) {
            set.remove(&m.counter);
        }
        if let SkippedKeys::Store {
            cap: Some(cap),
            scope,
        } = limits.skipped_keys
        {
            if scope == Scope::Chain {
                for (t, set) in &r.skipped {
                    if set.len() as u64 > cap {
                        r.overflowed.insert(*t);
                    }
                }
            } else if r.skipped.values().map(BTreeSet::len).sum::<usize>() as u64 > cap {
                r.overflowed.insert(u32::MAX);
            }
        }
        r.accepted.push(id);
        self.msgs[id].delivered = true;
    }

    /// Delivers authentic message `id` (first time) to its receiver.
    pub(crate) fn deliver(&mut self, id: usize) -> Step {
        self.in_flight.retain(|&x| x != id);
        let m = self.msgs[id].clone();
        let to = m.from.peer();
        let may_lose = self.may_lose(id);
        let result = if m.first && to == Party::Bob && self.sessions[1].is_empty() {
            let bob = self.parties[1].clone();
            match self.c.respond(&bob, &m.bytes) {
                Ok((session, pt)) => {
                    self.sessions[1] = session.clone();
                    self.learn_secrets(&session, "Bob's session")?;
                    Ok(pt)
                }
                Err(e) => Err(e),
            }
        } else {
            let before = self.export(to)?;
            let s = self.sessions[to.i()].clone();
            match self.c.decrypt(&s, &m.bytes) {
                Ok(pt) => Ok(pt),
                Err(e) => {
                    self.check_unchanged(
                        to,
                        before.as_deref(),
                        &format!("{to} rejected {}", m.name(id)),
                    )?;
                    Err(e)
                }
            }
        };
        self.tally.check(Property::Delivery);
        match result {
            Ok(pt) if pt == m.plaintext => {
                self.accept(id);
                let s = self.sessions[to.i()].clone();
                self.learn_secrets(&s, &format!("{to}'s session"))?;
                self.check_skipped(to)
            }
            Ok(_) => Err(violation(
                Property::Delivery,
                "wrong-plaintext",
                format!("{to} decrypted {} to a different plaintext", m.name(id)),
            )),
            Err(OpError::Rejected(class)) => {
                if let Some(why) = may_lose {
                    self.tally.lost_within_limits += 1;
                    self.msgs[id].lost = true;
                    let _ = why;
                    Ok(())
                } else {
                    let late = self.sides[to.i()]
                        .hi
                        .get(&m.turn)
                        .is_some_and(|&h| m.counter < h)
                        || m.turn < self.sides[to.i()].last_peer_turn;
                    self.msgs[id].lost = true;
                    self.tolerated(violation(
                        Property::Delivery,
                        if late { "late-lost" } else { "rejected" },
                        format!(
                            "{to} rejected {} ({}) at its first delivery, within the declared limits",
                            m.name(id),
                            class.name()
                        ),
                    ))
                }
            }
            Err(e) => Err(interface(if m.first { "respond" } else { "decrypt" }, &e)),
        }
    }

    fn check_unchanged(&mut self, p: Party, before: Option<&[u8]>, what: &str) -> Step {
        let Some(before) = before else { return Ok(()) };
        let after = self.export(p)?;
        self.tally.check(Property::StateUnchanged);
        if after.as_deref() != Some(before) {
            return Err(violation(
                Property::StateUnchanged,
                "changed",
                format!("{what}, and {p}'s exported state changed"),
            ));
        }
        Ok(())
    }

    fn check_skipped(&mut self, p: Party) -> Step {
        if !self.skipped_count {
            return Ok(());
        }
        let s = self.sessions[p.i()].clone();
        let count = self
            .c
            .skipped_count(&s)
            .map_err(|e| interface("skipped_count", &e))?;
        self.tally.check(Property::SkippedBound);
        let limits = self.c.hello.limits;
        let chains = self.sides[p.i()].hi.len() as u64;
        let (bound, why) = match limits.skipped_keys {
            SkippedKeys::None => (0, "the adapter declares no skipped keys".to_owned()),
            SkippedKeys::Store {
                cap: Some(cap),
                scope: Scope::Chain,
            } => {
                let n = limits
                    .old_chains
                    .map_or(chains, |k| (k + 1).min(chains.max(1)));
                (cap * n, format!("{cap} per chain × {n} chains"))
            }
            SkippedKeys::Store { cap: Some(cap), .. } => (cap, format!("the declared cap {cap}")),
            SkippedKeys::Store { cap: None, .. } => {
                (2000, "2,000 (the adapter declares no cap)".to_owned())
            }
        };
        if count > bound {
            return Err(violation(
                Property::SkippedBound,
                "over",
                format!("{p}'s session stores {count} skipped keys, over {why}"),
            ));
        }
        Ok(())
    }

    /// Delivers bytes that must be rejected.
    pub(crate) fn must_reject(&mut self, to: Party, bytes: &[u8], what: &str, first: bool) -> Step {
        self.must_reject_as(to, bytes, what, first, None)
    }

    /// [`World::must_reject`], and with `errors: fine` the rejection's
    /// class must be `expect` where that is given (an empty input: always
    /// `wire`).
    pub(crate) fn must_reject_as(
        &mut self,
        to: Party,
        bytes: &[u8],
        what: &str,
        first: bool,
        expect: Option<ErrorClass>,
    ) -> Step {
        let expect = if bytes.is_empty() {
            Some(ErrorClass::Wire)
        } else {
            expect
        };
        if first {
            let bob = self.parties[1].clone();
            let before = self
                .c
                .unused_prekeys(&bob)
                .map_err(|e| interface("unused_prekeys", &e))?;
            let r = self.c.respond(&bob, bytes);
            self.tally.check(Property::Rejection);
            let class = match r {
                Ok((session, released)) => {
                    let _ = self.c.free(&session);
                    let mut v = violation(
                        Property::Rejection,
                        "accepted",
                        format!("Bob's party accepted {what} as a first message"),
                    );
                    v.replays_authentic_plaintext = self.is_authentic_plaintext(&released);
                    return self.tolerated(v);
                }
                Err(OpError::Rejected(class)) => class,
                Err(e) => return Err(interface("respond", &e)),
            };
            let after = self
                .c
                .unused_prekeys(&bob)
                .map_err(|e| interface("unused_prekeys", &e))?;
            self.tally.check(Property::PrekeyUnchanged);
            if after != before {
                return Err(violation(
                    Property::PrekeyUnchanged,
                    "consumed",
                    format!("rejecting {what} changed Bob's unused one-time prekeys"),
                ));
            }
            return self.check_class(Party::Bob, what, class, expect);
        }
        if self.sessions[to.i()].is_empty() {
            return Ok(());
        }
        let before = self.export(to)?;
        self.last_before = before.clone().map(|b| (to, b));
        let s = self.sessions[to.i()].clone();
        let r = self.c.decrypt(&s, bytes);
        self.tally.check(Property::Rejection);
        match r {
            Ok(released) => {
                let mut v = violation(
                    Property::Rejection,
                    "accepted",
                    format!("{to} accepted {what} and released a plaintext"),
                );
                v.replays_authentic_plaintext = self.is_authentic_plaintext(&released);
                Err(v)
            }
            Err(OpError::Rejected(class)) => {
                self.check_unchanged(to, before.as_deref(), &format!("{to} rejected {what}"))?;
                self.check_class(to, what, class, expect)
            }
            Err(e) => Err(interface("decrypt", &e)),
        }
    }

    /// With `errors: fine`: the class `to` answered for `what` is `expect`.
    fn check_class(
        &mut self,
        to: Party,
        what: &str,
        class: ErrorClass,
        expect: Option<ErrorClass>,
    ) -> Step {
        let Some(expect) = expect.filter(|_| self.fine) else {
            return Ok(());
        };
        self.tally.check(Property::ErrorClasses);
        if class == expect {
            return Ok(());
        }
        Err(violation(
            Property::ErrorClasses,
            "class",
            format!(
                "{to} rejected {what} as `{}`; SPEC.md's class for it is `{}`",
                class.name(),
                expect.name()
            ),
        ))
    }

    /// SPEC.md's class for a replay of accepted message `id` to its
    /// receiver: `duplicate` while its ratchet key is the receiver's
    /// current one (N below Nr, §6.4 step 3.1) or one of the last
    /// [`EARLIER_RATCHET_KEYS`] it replaced (§6.5); older, the spec fixes no
    /// single class (authentication or the skip limit fails). None for a
    /// message that may be of the first kind.
    fn replay_class(&self, id: usize) -> Option<ErrorClass> {
        let m = &self.msgs[id];
        if m.first || !m.ordinary {
            return None;
        }
        let receiver = &self.sides[m.from.peer().i()];
        let later: BTreeSet<u32> = receiver
            .accepted
            .iter()
            .map(|&x| self.msgs[x].turn)
            .filter(|&t| t > m.turn)
            .collect();
        (later.len() <= EARLIER_RATCHET_KEYS).then_some(ErrorClass::Duplicate)
    }

    /// SPEC.md's class for an ordinary message `id` whose ratchet key is
    /// not one its receiver knows (reflected to its sender: `decryption_failed`;
    /// with a low-order key: `low_order_key`), when no skip in §6.4 step
    /// 2.2 can pass the limit (fewer messages in all than [`SKIP_LIMIT`]).
    fn new_key_class(&self, id: usize, class: ErrorClass) -> Option<ErrorClass> {
        let m = &self.msgs[id];
        (!m.first && m.ordinary && self.msgs.len() < SKIP_LIMIT).then_some(class)
    }

    /// Whether `plaintext` is that of an authentic message of this
    /// conversation.
    fn is_authentic_plaintext(&self, plaintext: &[u8]) -> bool {
        self.msgs.iter().any(|m| m.plaintext == plaintext)
            || self.other_plaintexts.iter().any(|p| p == plaintext)
    }

    /// After a rejection that changed the receiver's exported state (a
    /// `state_unchanged` violation of the last `must_reject`): imports the
    /// state from before the rejection into a new session handle, which
    /// replaces the changed one. True only when the new handle exports
    /// exactly that state, so the conversation can go on as if the
    /// rejected input had never arrived; false (nothing to restore, no
    /// `state` capability, or an inexact import) leaves the world to be
    /// recorded again.
    pub(crate) fn restore_after_change(&mut self) -> bool {
        let Some((p, before)) = self.last_before.take() else {
            return false;
        };
        let party = self.parties[p.i()].clone();
        let Ok(handle) = self.c.import_state(&party, &before) else {
            return false;
        };
        let old = std::mem::replace(&mut self.sessions[p.i()], handle);
        if self.c.free(&old).is_err() {
            return false;
        }
        matches!(self.export(p), Ok(Some(now)) if now == before)
    }

    fn damaged(&self, id: usize, d: Damage) -> Option<Vec<u8>> {
        let m = &self.msgs[id];
        let mut b = m.bytes.clone();
        if b.is_empty() {
            return None;
        }
        match d {
            Damage::Flip { at, bit } => {
                let i = at as usize % b.len();
                b[i] ^= 1 << (bit % 8);
            }
            Damage::Truncate { keep } => b.truncate(keep as usize % b.len()),
            Damage::Extend { n } => b.extend((0..n).map(|i| i.wrapping_mul(37) ^ 0xa5)),
            Damage::LowOrder { point } => {
                let key = m.ratchet_key.as_ref()?;
                let at = b.windows(key.len()).position(|w| w == key.as_slice())?;
                b[at..at + 32].copy_from_slice(&LOW_ORDER[point as usize % LOW_ORDER.len()]);
            }
        }
        (b != m.bytes).then_some(b)
    }

    fn compromise(&mut self, victim: Party) -> Step {
        let Some(state) = self.export(victim)? else {
            return Ok(());
        };
        let side = &self.sides[victim.i()];
        let received: BTreeSet<usize> = side.accepted.iter().copied().collect();
        let known_turn = side.cur_turn.max(side.next_turn);
        let recent: Vec<usize> = side.accepted.iter().rev().take(8).copied().collect();
        self.copies.push(Copy {
            victim,
            state: state.clone(),
            received,
            sent_before: self.msgs.len(),
            known_turn,
        });
        // Forward secrecy at once: the latest received messages.
        let party = self.parties[victim.i()].clone();
        for id in recent {
            let copy = self
                .c
                .import_state(&party, &state)
                .map_err(|e| interface("import_state", &e))?;
            let bytes = self.msgs[id].bytes.clone();
            let r = self.c.decrypt(&copy, &bytes);
            let _ = self.c.free(&copy);
            self.tally.check(Property::ForwardSecrecy);
            if r.is_ok() {
                return Err(violation(
                    Property::ForwardSecrecy,
                    "decrypted",
                    format!(
                        "a copy of {victim}'s state decrypted {}, which {victim} had already received",
                        self.msgs[id].name(id)
                    ),
                ));
            }
        }
        Ok(())
    }

    fn attacker_decrypt(&mut self, c: u16, target: u16) -> Step {
        if self.copies.is_empty() {
            return Ok(());
        }
        let copy_index = c as usize % self.copies.len();
        let (victim, state, sent_before, known_turn, received) = {
            let k = &self.copies[copy_index];
            (
                k.victim,
                k.state.clone(),
                k.sent_before,
                k.known_turn,
                k.received.clone(),
            )
        };
        let peer = victim.peer();
        let to_victim: Vec<usize> = (0..self.msgs.len())
            .filter(|&i| self.msgs[i].from == peer)
            .collect();
        if to_victim.is_empty() {
            return Ok(());
        }
        let t = if target == u16::MAX {
            to_victim[to_victim.len() - 1]
        } else {
            to_victim[target as usize % to_victim.len()]
        };
        // The attacker feeds the copy every message of the peer sent after
        // the copy, in order, up to the target (at most 40 of them).
        let mut feed: Vec<usize> = to_victim
            .iter()
            .copied()
            .filter(|&i| i >= sent_before && i <= t)
            .collect();
        if feed.len() > 40 {
            feed.drain(..feed.len() - 40);
        }
        if t < sent_before {
            feed = vec![t];
        }
        // Healing: the peer's turn answering the victim's first key drawn
        // after the copy; without a layout, one more round trip.
        let heal = known_turn + if self.layout { 3 } else { 5 };
        let party = self.parties[victim.i()].clone();
        let copy = self
            .c
            .import_state(&party, &state)
            .map_err(|e| interface("import_state", &e))?;
        for id in feed {
            let m = self.msgs[id].clone();
            let r = self.c.decrypt(&copy, &m.bytes);
            let fs = received.contains(&id);
            let pcs = m.turn >= heal && !m.first;
            if fs {
                self.tally.check(Property::ForwardSecrecy);
            }
            if pcs {
                self.tally.check(Property::PostCompromise);
            }
            if r.is_ok() && (fs || pcs) {
                let _ = self.c.free(&copy);
                return Err(if fs {
                    violation(
                        Property::ForwardSecrecy,
                        "decrypted",
                        format!(
                            "copy #{copy_index} of {victim}'s state decrypted {}, received before the copy",
                            m.name(id)
                        ),
                    )
                } else {
                    violation(
                        Property::PostCompromise,
                        "decrypted",
                        format!(
                            "copy #{copy_index} of {victim}'s state (victim's keys known up to turn {known_turn}) decrypted {}, sent after healing",
                            m.name(id)
                        ),
                    )
                });
            }
        }
        let _ = self.c.free(&copy);
        Ok(())
    }

    fn restart(&mut self, p: Party) -> Step {
        let Some(state) = self.export(p)? else {
            return Ok(());
        };
        let party = self.parties[p.i()].clone();
        let new = self
            .c
            .import_state(&party, &state)
            .map_err(|e| interface("import_state", &e))?;
        let old = std::mem::replace(&mut self.sessions[p.i()], new);
        let again = self.export(p)?;
        self.tally.check(Property::Persistence);
        if again.as_deref() != Some(&state[..]) {
            return Err(violation(
                Property::Persistence,
                "differs",
                format!("{p}'s imported state exports different bytes"),
            ));
        }
        self.c.free(&old).map_err(|e| interface("free", &e))
    }

    fn step(&mut self, op: Op) -> Step {
        match op {
            Op::Send(p) => self.send(p, None).map(drop),
            Op::Converse(p) => {
                let id = self.send(p, None)?;
                self.deliver(id)
            }
            Op::Burst(p, n) => {
                let n = n.max(2) as usize;
                let mut ids = Vec::with_capacity(n);
                for _ in 0..n {
                    ids.push(self.send(p, Some(Vec::new()))?);
                }
                for &id in &ids[1..n - 1] {
                    self.in_flight.retain(|&x| x != id);
                    self.msgs[id].lost = true;
                }
                Ok(())
            }
            Op::Deliver(i) => match self.in_flight.len() {
                0 => Ok(()),
                len => self.deliver(self.in_flight[i as usize % len]),
            },
            Op::DeliverOldest => match self.in_flight.first() {
                Some(&id) => self.deliver(id),
                None => Ok(()),
            },
            Op::Drop(i) => {
                if !self.in_flight.is_empty() {
                    let id = self.in_flight.remove(i as usize % self.in_flight.len());
                    self.msgs[id].lost = true;
                }
                Ok(())
            }
            Op::Replay(i) => {
                let done: Vec<usize> = (0..self.msgs.len())
                    .filter(|&x| self.msgs[x].delivered)
                    .collect();
                if done.is_empty() {
                    return Ok(());
                }
                let id = done[i as usize % done.len()];
                let m = self.msgs[id].clone();
                let what = format!("a replayed copy of {}", m.name(id));
                if m.first && self.otk {
                    // Replayed as a new first message (X3DH cannot refuse
                    // that without a one-time prekey, §4.2), and into the
                    // session.
                    self.must_reject(Party::Bob, &m.bytes, &what, true)?;
                }
                let expect = self.replay_class(id);
                self.must_reject_as(m.from.peer(), &m.bytes, &what, false, expect)
            }
            Op::Tamper(i, d) => {
                if self.msgs.is_empty() {
                    return Ok(());
                }
                let id = i as usize % self.msgs.len();
                let Some(bytes) = self.damaged(id, d) else {
                    return Ok(());
                };
                let m = self.msgs[id].clone();
                let what = format!("{} damaged ({d:?})", m.name(id));
                if m.first && !m.delivered {
                    return Ok(());
                }
                if m.first {
                    self.must_reject(Party::Bob, &bytes, &what, true)?;
                }
                let expect = match d {
                    Damage::LowOrder { point } => self.new_key_class(
                        id,
                        low_order_class(&LOW_ORDER[point as usize % LOW_ORDER.len()]),
                    ),
                    _ => None,
                };
                self.must_reject_as(m.from.peer(), &bytes, &what, false, expect)
            }
            Op::Reflect(i) => {
                if self.msgs.is_empty() {
                    return Ok(());
                }
                let id = i as usize % self.msgs.len();
                let m = self.msgs[id].clone();
                let expect = self.new_key_class(id, ErrorClass::DecryptionFailed);
                self.must_reject_as(
                    m.from,
                    &m.bytes,
                    &format!("{} reflected to its sender", m.name(id)),
                    false,
                    expect,
                )
            }
            Op::Restart(p) => self.restart(p),
            Op::Compromise(p) => self.compromise(p),
            Op::AttackerDecrypt(c, m) => self.attacker_decrypt(c, m),
        }
    }

    /// Scans what the adapter answered and logged since the last call
    /// (then forgets it): the in-process fuzzer checks every input's output
    /// at once and keeps nothing across millions of inputs.
    pub(crate) fn scan_new_output(&mut self) -> Step {
        let transcript = std::mem::take(&mut self.c.transcript);
        let (stderr, dropped) = self.c.take_stderr();
        self.tally.check(Property::NoLeak);
        if let Some(f) = self.leaks.scan(&transcript, &stderr).first() {
            return Err(violation(Property::NoLeak, "leak", f.to_string()));
        }
        if dropped > 0 {
            return Err(violation(
                Property::Interface,
                "stderr-flood",
                format!("the adapter wrote more stderr than kept ({dropped} bytes not scanned)"),
            ));
        }
        Ok(())
    }

    pub(crate) fn finish(mut self) -> (Tally, Option<Violation>, u64) {
        let mut end = Ok(());
        // Every copy tries the latest messages sent to its victim.
        for c in 0..self.copies.len() {
            if end.is_ok() {
                end = self.attacker_decrypt(c as u16, u16::MAX);
            }
        }
        while end.is_ok() && !self.in_flight.is_empty() {
            let id = self.in_flight[0];
            end = self.deliver(id);
        }
        let calls = self.c.calls();
        let (transcript, stderr, dropped) = self.c.finish();
        let mut tally = self.tally;
        if let Err(v) = end {
            return (tally, Some(v), calls);
        }
        tally.check(Property::NoLeak);
        let found = self.leaks.scan(&transcript, &stderr);
        if let Some(f) = found.first() {
            return (
                tally,
                Some(violation(Property::NoLeak, "leak", f.to_string())),
                calls,
            );
        }
        if dropped > 0 {
            return (
                tally,
                Some(violation(
                    Property::Interface,
                    "stderr-flood",
                    format!(
                        "the adapter wrote more stderr than kept ({dropped} bytes not scanned)"
                    ),
                )),
                calls,
            );
        }
        (tally, None, calls)
    }
}

/// The result of one schedule.
struct CaseRun {
    tally: Tally,
    violation: Option<(Violation, Option<usize>)>,
    calls: u64,
    keys: Vec<(Vec<u8>, Party, u32)>,
    /// Every message sent, in order (the seedability check compares them).
    sent: Vec<Vec<u8>>,
}

fn run_schedule(cfg: &Config, seed: u64, case: u64, ops: &[Op]) -> Result<CaseRun, HelloError> {
    let plain = Draw::new(seed, 3_000_000u64.wrapping_add(case));
    let mut w = World::connect(cfg, adapter_seed(seed, case), plain)?;
    let otk = Draw::new(seed, 4_000_000u64.wrapping_add(case)).chance(3, 4);
    let mut failed = w.start(otk).err().map(|v| (v, None));
    if failed.is_none() {
        for (i, op) in ops.iter().enumerate() {
            if let Err(v) = w.step(*op) {
                failed = Some((v, Some(i + 1)));
                break;
            }
        }
    }
    let keys: Vec<(Vec<u8>, Party, u32)> = w
        .keys
        .iter()
        .map(|(k, (p, t))| (k.clone(), *p, *t))
        .collect();
    let sent: Vec<Vec<u8>> = w.msgs.iter().map(|m| m.bytes.clone()).collect();
    if let Some(v) = failed {
        let calls = w.c.calls();
        return Ok(CaseRun {
            tally: w.tally,
            violation: Some(v),
            calls,
            keys,
            sent,
        });
    }
    let (tally, v, calls) = w.finish();
    Ok(CaseRun {
        tally,
        violation: v.map(|v| (v, None)),
        calls,
        keys,
        sent,
    })
}

/// Shrinks `ops` while the schedule still fails `property`.
fn shrink(
    cfg: &Config,
    seed: u64,
    case: u64,
    mut ops: Vec<Op>,
    property: Property,
) -> (Vec<Op>, Violation, Option<usize>, u64) {
    let mut runs = 0;
    let mut calls = 0;
    let mut best: Option<(Violation, Option<usize>)> = None;
    let mut chunk = ops.len().div_ceil(2).max(1);
    let deadline = Instant::now() + Duration::from_secs(60);
    let still_fails =
        |ops: &[Op], runs: &mut usize, calls: &mut u64| -> Option<(Violation, Option<usize>)> {
            *runs += 1;
            let r = run_schedule(cfg, seed, case, ops).ok()?;
            *calls += r.calls;
            r.violation.filter(|(v, _)| v.property == property)
        };
    if let Some(v) = still_fails(&ops, &mut runs, &mut calls) {
        best = Some(v);
    }
    while chunk >= 1 && runs < cfg.shrink_runs && Instant::now() < deadline {
        let mut i = 0;
        let mut progressed = false;
        while i < ops.len() && runs < cfg.shrink_runs && Instant::now() < deadline {
            let mut candidate = ops.clone();
            candidate.drain(i..(i + chunk).min(ops.len()));
            if let Some(v) = still_fails(&candidate, &mut runs, &mut calls) {
                ops = candidate;
                best = Some(v);
                progressed = true;
            } else {
                i += chunk;
            }
        }
        if !progressed {
            if chunk == 1 {
                break;
            }
            chunk /= 2;
        }
    }
    // Smaller bursts.
    for i in 0..ops.len() {
        while let Op::Burst(p, n) = ops[i] {
            if n <= 2 || runs >= cfg.shrink_runs || Instant::now() >= deadline {
                break;
            }
            let mut candidate = ops.clone();
            candidate[i] = Op::Burst(p, n / 2);
            match still_fails(&candidate, &mut runs, &mut calls) {
                Some(v) => {
                    ops = candidate;
                    best = Some(v);
                }
                None => break,
            }
        }
    }
    let (v, step) = best.unwrap_or((
        violation(
            property,
            "unreproduced",
            "the failure did not reproduce while shrinking (a non-seedable implementation?)".into(),
        ),
        None,
    ));
    (ops, v, step, calls)
}

pub(crate) fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// The three messages the tamper sweep damages, each in its own adapter.
const SWEEP_TARGETS: [&str; 3] = [
    "a first message",
    "Alice's new-turn message",
    "Alice's same-chain message",
];

/// A sweep target: its name, bytes, whether a first message, its ratchet key.
type SweepTarget = (&'static str, Vec<u8>, bool, Option<Vec<u8>>);

/// The exhaustive tamper sweep: every bit flip of every byte, every
/// truncation and a few extensions of a first message, a new-turn message
/// and a same-chain message (and low-order ratchet keys with a layout).
fn sweep(
    cfg: &Config,
    seed: u64,
    only: usize,
) -> Result<(Tally, Option<Violation>, u64), HelloError> {
    let mut w = World::connect(
        cfg,
        adapter_seed(seed, u64::MAX - 10 - only as u64),
        Draw::new(seed, 5),
    )?;
    let r = (|| -> Step {
        // A first message that is not delivered yet: every damaged copy
        // goes to Bob's `respond`, then the authentic one must work.
        w.start(true)?;
        // Alice ← Bob (new turn of Bob), then Alice's new turn: two messages.
        let b = w.send(Party::Bob, None)?;
        w.deliver(b)?;
        let new_turn = w.send(Party::Alice, None)?;
        let same_chain = w.send(Party::Alice, None)?;
        // A second first message to a fresh bundle, for the respond sweep.
        let (first2, pt) = w.unanswered_first()?;
        let targets: [SweepTarget; 3] = [
            ("a first message", first2.clone(), true, None),
            (
                "Alice's new-turn message",
                w.msgs[new_turn].bytes.clone(),
                false,
                w.msgs[new_turn].ratchet_key.clone(),
            ),
            (
                "Alice's same-chain message",
                w.msgs[same_chain].bytes.clone(),
                false,
                w.msgs[same_chain].ratchet_key.clone(),
            ),
        ];
        for (name, bytes, first, key) in targets.into_iter().skip(only).take(1) {
            let mut variants: Vec<(String, Vec<u8>, Option<ErrorClass>)> = Vec::new();
            for i in 0..bytes.len() {
                for bit in 0..8 {
                    let mut b = bytes.clone();
                    b[i] ^= 1 << bit;
                    variants.push((
                        format!("{name} with bit {bit} of byte {i} flipped"),
                        b,
                        None,
                    ));
                }
            }
            for keep in 0..bytes.len() {
                variants.push((
                    format!("{name} truncated to {keep} bytes"),
                    bytes[..keep].to_vec(),
                    None,
                ));
            }
            for n in [1usize, 16, 64] {
                let mut b = bytes.clone();
                b.extend((0..n).map(|i| (i as u8).wrapping_mul(37) ^ 0x5a));
                variants.push((format!("{name} extended by {n} bytes"), b, None));
            }
            if let Some(key) = key
                && let Some(at) = bytes.windows(key.len()).position(|x| x == key.as_slice())
            {
                for (j, point) in LOW_ORDER.iter().enumerate() {
                    let mut b = bytes.clone();
                    b[at..at + 32].copy_from_slice(point);
                    // An ordinary message of a conversation of four.
                    variants.push((
                        format!("{name} with low-order point {j} as its ratchet key"),
                        b,
                        (!first).then_some(low_order_class(point)),
                    ));
                }
            }
            for (what, b, expect) in variants {
                w.must_reject_as(Party::Bob, &b, &what, first, expect)?;
            }
        }
        // The authentic ones still work after all that.
        if only > 0 {
            w.deliver(same_chain)?;
            return w.deliver(new_turn);
        }
        let bob = w.parties[1].clone();
        w.tally.check(Property::Delivery);
        match w.c.respond(&bob, &first2) {
            Ok((_, p)) if p == pt => {}
            Ok(_) => {
                return Err(violation(
                    Property::Delivery,
                    "wrong-plaintext",
                    "the second first message decrypted wrongly after the sweep".into(),
                ));
            }
            Err(e) => {
                return Err(violation(
                    Property::Delivery,
                    "rejected",
                    format!(
                        "the authentic second first message was refused after its damaged copies: {e}"
                    ),
                ));
            }
        }
        Ok(())
    })();
    let calls = w.c.calls();
    match r {
        Err(v) => Ok((w.tally, Some(v), calls)),
        Ok(()) => {
            let (t, v, calls) = w.finish();
            Ok((t, v, calls))
        }
    }
}

/// The store-pressure schedule: bursts that leave many skipped keys, chain
/// after chain, so an uncapped store passes 2,000.
pub fn pressure_schedule(hello_jump: Option<u64>) -> Vec<Op> {
    let burst = hello_jump.map_or(1100, |j| j.min(1100)) as u16;
    let mut ops = Vec::new();
    for _ in 0..3 {
        ops.push(Op::Burst(Party::Alice, burst));
        ops.push(Op::DeliverOldest);
        ops.push(Op::DeliverOldest);
        ops.push(Op::Converse(Party::Bob));
    }
    ops
}

/// The healing schedule: a copy of Bob's state, then three full round
/// trips; every copy then tries everything Alice sent since.
pub fn healing_schedule() -> Vec<Op> {
    let mut ops = vec![
        Op::Converse(Party::Bob),
        Op::Converse(Party::Alice),
        Op::Compromise(Party::Bob),
    ];
    for _ in 0..4 {
        ops.push(Op::Converse(Party::Bob));
        ops.push(Op::Send(Party::Alice));
        ops.push(Op::Converse(Party::Alice));
    }
    ops.push(Op::Replay(0));
    ops.push(Op::Replay(u16::MAX));
    ops.push(Op::Reflect(1));
    ops.push(Op::Compromise(Party::Alice));
    ops.push(Op::Converse(Party::Bob));
    ops.push(Op::Converse(Party::Alice));
    ops.push(Op::Converse(Party::Bob));
    ops.push(Op::Converse(Party::Alice));
    ops.push(Op::Converse(Party::Bob));
    ops
}

/// Runs the model.
pub fn run(cfg: &Config) -> Result<Report, RunError> {
    for t in &cfg.tolerate {
        if !TOLERANCES.iter().any(|k| k.name == t) {
            return Err(RunError::UnknownTolerance(t.clone()));
        }
    }
    let start = Instant::now();
    let probe = Client::connect(
        &cfg.command,
        adapter_seed(cfg.seed, u64::MAX - 1),
        cfg.timeout,
    )
    .map_err(RunError::Hello)?;
    let hello = probe.hello.clone();
    drop(probe.finish());
    let mut tally = Tally::default();
    let mut calls = 0;
    let mut failures: BTreeMap<Property, Failure> = BTreeMap::new();
    // The first failure of each property is its verdict; later ones from
    // other checks are kept too (at most 12), reported but not compared.
    let also = std::cell::RefCell::new(Vec::<Failure>::new());
    let record = |failures: &mut BTreeMap<Property, Failure>, f: Failure| {
        if let Some(first) = failures.get(&f.violation.property) {
            let mut also = also.borrow_mut();
            if first.check != f.check && also.len() < 12 {
                also.push(f);
            }
        } else {
            failures.insert(f.violation.property, f);
        }
    };
    let reproduce = |extra: &str| {
        let mut s = format!(
            "sealwire-blackbox props --impl {} --seed {} {extra}",
            quote(&cfg.command),
            cfg.seed
        );
        for t in &cfg.tolerate {
            s.push_str(&format!(" --tolerate {t}"));
        }
        s
    };
    let hello_error = |e: HelloError| Failure {
        violation: violation(Property::Interface, "hello", e.to_string()),
        check: "start".into(),
        schedule: Vec::new(),
        step: None,
        reproduce: reproduce(""),
    };
    if cfg.fixed {
        for (only, name) in SWEEP_TARGETS.iter().enumerate() {
            match sweep(cfg, cfg.seed, only) {
                Ok((t, v, c)) => {
                    tally.merge(&t);
                    calls += c;
                    if let Some(v) = v {
                        record(
                            &mut failures,
                            Failure {
                                violation: v,
                                check: format!("tamper sweep of {name}"),
                                schedule: Vec::new(),
                                step: None,
                                reproduce: reproduce("--cases 0"),
                            },
                        );
                    }
                }
                Err(e) => record(&mut failures, hello_error(e)),
            }
        }
        let fixed = [
            (
                "store pressure",
                pressure_schedule(hello.limits.max_forward_jump),
                u64::MAX - 2,
            ),
            ("healing", healing_schedule(), u64::MAX - 3),
        ];
        for (name, ops, case) in fixed {
            match run_schedule(cfg, cfg.seed, case, &ops) {
                Ok(r) => {
                    tally.merge(&r.tally);
                    calls += r.calls;
                    if let Some((v, step)) = r.violation {
                        // Shrunk like a random case (the full fixed schedule
                        // is what `--cases 0` replays).
                        let (shrunk, v2, step2, c) =
                            shrink(cfg, cfg.seed, case, ops.clone(), v.property);
                        calls += c;
                        let (ops, v, step) = if v2.kind == "unreproduced" {
                            (ops, v, step)
                        } else {
                            (shrunk, v2, step2)
                        };
                        record(
                            &mut failures,
                            Failure {
                                violation: v,
                                check: format!("{name} (shrunk)"),
                                schedule: ops.iter().map(ToString::to_string).collect(),
                                step,
                                reproduce: reproduce("--cases 0"),
                            },
                        );
                    }
                }
                Err(e) => record(&mut failures, hello_error(e)),
            }
        }
    }
    // Ratchet keys across sessions (cases): key → (case, party, turn).
    let mut all_keys: HashMap<Vec<u8>, (u64, Party, u32)> = HashMap::new();
    let mut cases = 0;
    for case in 0..cfg.cases {
        crate::progress::tick("model", case, cfg.cases);
        let ops = schedule(cfg.seed, case, cfg.max_ops);
        let r = match run_schedule(cfg, cfg.seed, case, &ops) {
            Ok(r) => r,
            Err(e) => {
                record(&mut failures, hello_error(e));
                break;
            }
        };
        cases += 1;
        if case == 0 && hello.seedable && r.violation.is_none() {
            // A seedable adapter must give the same bytes for the same
            // requests: run the first case again and compare.
            tally.check(Property::Interface);
            if let Ok(again) = run_schedule(cfg, cfg.seed, case, &ops) {
                calls += again.calls;
                if again.sent != r.sent {
                    record(
                        &mut failures,
                        Failure {
                            violation: violation(
                                Property::Interface,
                                "not-seedable",
                                "the adapter declares `seedable: true`, but case 0 run twice with the same seed gave different messages".into(),
                            ),
                            check: "seedability".into(),
                            schedule: Vec::new(),
                            step: None,
                            reproduce: reproduce("--cases 1"),
                        },
                    );
                }
            }
        }
        tally.merge(&r.tally);
        calls += r.calls;
        for (key, p, t) in r.keys {
            match all_keys.get(&key) {
                Some(&(c, q, u)) if c != case => {
                    record(
                        &mut failures,
                        Failure {
                            violation: violation(
                                Property::FreshRatchetKeys,
                                "two-sessions",
                                format!(
                                    "the ratchet key of {p}'s turn {t} in case {case} was also {q}'s key in turn {u} of case {c}: two sessions share a ratchet key"
                                ),
                            ),
                            check: format!("cases {c} and {case}"),
                            schedule: Vec::new(),
                            step: None,
                            reproduce: reproduce(&format!("--cases {}", case + 1)),
                        },
                    );
                }
                _ => {
                    all_keys.insert(key, (case, p, t));
                }
            }
        }
        if let Some((v, _)) = r.violation {
            if failures.contains_key(&v.property) {
                continue;
            }
            let (shrunk, v, step, c) = shrink(cfg, cfg.seed, case, ops, v.property);
            calls += c;
            record(
                &mut failures,
                Failure {
                    violation: v,
                    check: format!("case {case}"),
                    schedule: shrunk.iter().map(ToString::to_string).collect(),
                    step,
                    reproduce: reproduce(&format!(
                        "--cases {} --max-ops {}",
                        case + 1,
                        cfg.max_ops
                    )),
                },
            );
        }
    }
    // Every answered request was checked against the protocol.
    *tally.checks.entry(Property::Interface).or_default() += calls;
    let mut verdicts = BTreeMap::new();
    for p in Property::ALL {
        let v = if let Some(f) = failures.remove(&p) {
            Verdict::Violated(Box::new(f))
        } else if let Some(cap) = p.needs().filter(|c| !hello.has(*c)) {
            Verdict::NotTested(format!("needs the `{}` capability", cap.name()))
        } else if p == Property::ErrorClasses && hello.errors == Granularity::Coarse {
            Verdict::NotTested("the adapter declares coarse error classes".into())
        } else {
            match tally.checks.get(&p).copied().unwrap_or(0) {
                0 => Verdict::NotTested("no check of it ran (no schedule reached it)".into()),
                n => Verdict::Held { checks: n },
            }
        };
        verdicts.insert(p, v);
    }
    Ok(Report {
        name: hello.name,
        also: also.into_inner(),
        verdicts,
        tally,
        cases,
        calls,
        seconds: start.elapsed().as_secs_f64(),
        seed: cfg.seed,
        capabilities: hello.capabilities,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A report whose verdicts are `held` except those named `not tested`.
    fn report(capabilities: &[Capability], not_tested: &[Property]) -> Report {
        Report {
            name: "t".into(),
            verdicts: Property::ALL
                .into_iter()
                .map(|p| {
                    let v = if not_tested.contains(&p) {
                        Verdict::NotTested("no check of it ran".into())
                    } else {
                        Verdict::Held { checks: 1 }
                    };
                    (p, v)
                })
                .collect(),
            also: Vec::new(),
            tally: Tally::default(),
            cases: 1,
            calls: 1,
            seconds: 0.0,
            seed: 0,
            capabilities: capabilities.iter().copied().collect(),
        }
    }

    #[test]
    fn require_names_each_unmet_capability_and_untested_property() {
        let every: BTreeSet<Capability> = Capability::ALL.into_iter().collect();
        let state: BTreeSet<Capability> = [Capability::State].into_iter().collect();
        let full = report(&Capability::ALL, &[]);
        assert!(full.unmet(&every, true).is_empty());
        // Announced, but a property needing it was never reached.
        let unreached = report(&Capability::ALL, &[Property::Persistence]);
        assert_eq!(
            unreached.unmet(&state, false),
            ["`state` is required: property persistence was not tested: no check of it ran"]
        );
        assert!(unreached.unmet(&BTreeSet::new(), false).is_empty());
        // A property needing no capability counts only under `all`.
        let no_leak = report(&Capability::ALL, &[Property::NoLeak]);
        assert!(no_leak.unmet(&state, false).is_empty());
        assert_eq!(
            no_leak.unmet(&every, true),
            [
                "every property is required (--require all): no_leak was not tested: no check of it ran"
            ]
        );
        // Not announced: said once, for the capability.
        let partial = report(&[Capability::State], &[Property::FreshRatchetKeys]);
        assert_eq!(
            partial.unmet(&[Capability::Layout].into_iter().collect(), false),
            ["`layout` is required: not announced"]
        );
    }

    #[test]
    fn first_messages_that_repeat_a_trailing_field_are_fresh() {
        // Three PQXDH-like first messages: distinct bodies, the same
        // 20-byte trailing field (a Kyber ciphertext repeated until the
        // responder answers).
        let (mut seen, mut tails) = (HashSet::new(), HashSet::new());
        let first = |i: u8| {
            let mut m = vec![0x33, i, i.wrapping_mul(7), 0x40];
            m.extend([0xab; 20]);
            m
        };
        for i in 0..3 {
            assert_eq!(freshness(&mut seen, &mut tails, &first(i), false), None);
        }
        // A first message sent twice is still a repeat.
        assert_eq!(
            freshness(&mut seen, &mut tails, &first(1), false),
            Some("repeat")
        );
        // Ordinary messages: a repeated tag is flagged.
        let msg = |i: u8| {
            let mut m = vec![0x44, i];
            m.extend([0xcd; 16]);
            m
        };
        assert_eq!(freshness(&mut seen, &mut tails, &msg(0), true), None);
        assert_eq!(
            freshness(&mut seen, &mut tails, &msg(1), true),
            Some("repeat-tail")
        );
        // A message shorter than a tag is checked whole only.
        assert_eq!(freshness(&mut seen, &mut tails, &[1, 2, 3], true), None);
    }

    #[test]
    fn schedules_are_a_function_of_the_seed() {
        assert_eq!(schedule(7, 3, 40), schedule(7, 3, 40));
        assert_ne!(schedule(7, 3, 40), schedule(8, 3, 40));
        assert!(schedule(7, 3, 40).len() <= 40);
    }

    #[test]
    fn only_the_canonical_low_order_points_are_low_order_key_errors() {
        let classes: Vec<ErrorClass> = LOW_ORDER.iter().map(low_order_class).collect();
        // 0, 1, the two of order 8 and p − 1 are canonical; p and p + 1 are not.
        assert_eq!(
            classes,
            [
                ErrorClass::LowOrderKey,
                ErrorClass::LowOrderKey,
                ErrorClass::LowOrderKey,
                ErrorClass::LowOrderKey,
                ErrorClass::LowOrderKey,
                ErrorClass::Wire,
                ErrorClass::Wire,
            ]
        );
        let mut high = LOW_ORDER[1];
        high[31] |= 0x80;
        assert_eq!(low_order_class(&high), ErrorClass::Wire);
    }

    #[test]
    fn low_order_points_are_the_known_ones() {
        // p − 1, p, p + 1 end in 0x7f and start ec, ed, ee.
        assert_eq!(LOW_ORDER[5][0], 0xed);
        assert_eq!(LOW_ORDER[5][31], 0x7f);
        assert_eq!(LOW_ORDER[0], [0; 32]);
    }
}
