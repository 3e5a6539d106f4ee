//! The fuzz targets, what an oracle returns, and the run every oracle
//! shares (its leak scanner and freed-memory watch).

use core::fmt;

use crate::leak::{Leak, LeakScanner};
use crate::{bundle, conversation, decrypt, differential, fixture, freed, respond, state, wire};

/// A broken property.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Violation {
    /// A secret or plaintext where it must not be.
    Leak(Leak),
    /// Any other property (round trip, typed errors, all-or-nothing, ...).
    Broken {
        /// The oracle that found it.
        target: &'static str,
        /// What went wrong.
        what: String,
    },
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Leak(leak) => write!(f, "{leak}"),
            Self::Broken { target, what } => write!(f, "{target}: {what}"),
        }
    }
}

impl std::error::Error for Violation {}

impl From<Leak> for Violation {
    fn from(leak: Leak) -> Self {
        Self::Leak(leak)
    }
}

/// What an oracle returns.
pub type Outcome = Result<(), Violation>;

/// The fuzz targets, one per oracle.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Target {
    /// `decode_wire`: decode-then-encode gives the same bytes, for every wire
    /// structure.
    DecodeWire,
    /// `bundle`: parse and verify never panic; verification errors are typed.
    Bundle,
    /// `respond`: the responder on arbitrary initial messages; the store is
    /// unchanged on error.
    Respond,
    /// `decrypt`: arbitrary bytes on an established session; the state is
    /// byte-identical on rejection.
    Decrypt,
    /// [`conversation::run`]
    Conversation,
    /// `state_restore`: restoring state from arbitrary bytes; an accepted
    /// state re-serializes identically.
    StateRestore,
    /// `differential_seal`: the seal paths agree with each other and with a
    /// plain recomputation.
    DifferentialSeal,
}

impl Target {
    /// Every target.
    pub const ALL: [Target; 7] = [
        Self::DecodeWire,
        Self::Bundle,
        Self::Respond,
        Self::Decrypt,
        Self::Conversation,
        Self::StateRestore,
        Self::DifferentialSeal,
    ];

    /// The target's name: its `fuzz/fuzz_targets/<name>.rs`,
    /// `conformance/oracles/seeds/<name>/`.
    pub const fn name(self) -> &'static str {
        match self {
            Self::DecodeWire => "decode_wire",
            Self::Bundle => "bundle",
            Self::Respond => "respond",
            Self::Decrypt => "decrypt",
            Self::Conversation => "conversation",
            Self::StateRestore => "state_restore",
            Self::DifferentialSeal => "differential_seal",
        }
    }

    /// The target called `name`.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.name() == name)
    }

    /// Runs the target's oracle on `data`.
    pub fn run(self, data: &[u8]) -> Outcome {
        match self {
            Self::DecodeWire => wire::run(data),
            Self::Bundle => bundle::run(data),
            Self::Respond => respond::run(data),
            Self::Decrypt => decrypt::run(data),
            Self::Conversation => conversation::run(data),
            Self::StateRestore => state::run(data),
            Self::DifferentialSeal => differential::run(data),
        }
    }
}

/// The body of every fuzz target: runs the oracle and panics on a violation
/// (which libFuzzer records as a crash, with the input).
///
/// # Panics
/// When the oracle finds a violation.
pub fn fuzz_one(target: Target, data: &[u8]) {
    #[cfg(feature = "planted-flaws")]
    {
        // The flaw named by SEALWIRE_PLANTED_FLAW, switched on once in
        // each thread that fuzzes (the selector is per thread).
        thread_local!(static FLAW: () = {
            sealwire::flaws::set_from_env();
        });
        FLAW.with(|()| ());
    }
    // Decided from the environment once, before the fixture's secrets
    // exist (see `freed::never_scans`).
    static DECIDED: std::sync::Once = std::sync::Once::new();
    DECIDED.call_once(freed::never_scans);
    if let Err(violation) = target.run(data) {
        panic!("{} oracle: {violation}", target.name());
    }
}

/// One oracle run: a leak scanner that knows the fixture's secrets, and
/// the freed-memory watch.
#[derive(Debug)]
pub(crate) struct Run {
    pub(crate) target: Target,
    pub(crate) scanner: LeakScanner,
    watch: Option<freed::Watch>,
}

impl Run {
    pub(crate) fn new(target: Target) -> Self {
        let base = &fixture::parties().scanner;
        let scanner = LeakScanner::with_base(base);
        let watch = Some(freed::Watch::begin(&scanner));
        Self {
            target,
            scanner,
            watch,
        }
    }

    /// Runs `body`, then ends the freed-memory watch once everything the
    /// body created has been dropped.
    pub(crate) fn execute(mut self, body: impl FnOnce(&mut Run) -> Outcome) -> Outcome {
        let outcome = body(&mut self);
        let freed = match self.watch.take() {
            Some(watch) => watch.finish(),
            None => Ok(()),
        };
        outcome?;
        freed?;
        Ok(())
    }

    pub(crate) fn broken(&self, what: impl Into<String>) -> Violation {
        Violation::Broken {
            target: self.target.name(),
            what: what.into(),
        }
    }

    /// `Err(broken(what))` unless `ok`.
    pub(crate) fn ensure(&self, ok: bool, what: impl FnOnce() -> String) -> Outcome {
        if ok { Ok(()) } else { Err(self.broken(what())) }
    }

    /// Checks an error: its class is one of `allowed`, and its text leaks
    /// nothing.
    pub(crate) fn error(
        &self,
        place: &str,
        error: &sealwire::Error,
        allowed: &[sealwire::ErrorClass],
    ) -> Outcome {
        self.ensure(allowed.contains(&error.class()), || {
            format!(
                "{place}: unexpected error class `{}` ({error})",
                error.class()
            )
        })?;
        // An error's text is a function of its value: once a value's text
        // has passed against the fixture's secrets, it passes again, so
        // runs without secrets of their own skip the formatting.
        thread_local! {
            static CLEAN_ERRORS: core::cell::RefCell<Vec<sealwire::Error>> =
                const { core::cell::RefCell::new(Vec::new()) };
        }
        let own = self.scanner.has_own();
        // Moved to the front when found: a target meets a few errors most
        // of the time, and the comparisons are instrumented. (Where a value
        // is found depended on the inputs before in any order; after the
        // first executions every loop length has been seen.)
        let clean = |c: &mut Vec<sealwire::Error>| match c.iter().position(|e| e == error) {
            Some(i) => {
                c[..=i].rotate_right(1);
                true
            }
            None => false,
        };
        if !own && CLEAN_ERRORS.with(|c| clean(&mut c.borrow_mut())) {
            return Ok(());
        }
        self.scanner.check_error(place, error)?;
        if !own {
            CLEAN_ERRORS.with(|c| {
                let mut c = c.borrow_mut();
                if c.len() < 256 {
                    c.push(error.clone());
                }
            });
        }
        Ok(())
    }
}

/// Applies `patches` to `base`: each pair of bytes `(position, xor)` xors
/// `base[position % len]` with `xor`. Lets the fuzzer start from valid
/// protocol material and change it a few bytes at a time.
pub(crate) fn patched(base: &[u8], patches: &[u8]) -> Vec<u8> {
    let mut out = base.to_vec();
    if out.is_empty() {
        return out;
    }
    let len = out.len();
    for pair in patches.chunks_exact(3) {
        let at = usize::from(u16::from_le_bytes([pair[0], pair[1]])) % len;
        out[at] ^= pair[2];
    }
    out
}
