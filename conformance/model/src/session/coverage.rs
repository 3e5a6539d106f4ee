//! What a case exercised, and the documented differences it tolerates.

use std::collections::BTreeMap;

/// Documented differences of an implementation that the model accepts
/// (counted in [`Coverage::tolerated`]) instead of reporting them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tolerance {
    /// `earlier-chain-replay`: a message whose key is gone (used in an
    /// earlier chain, or evicted before use) may be `decryption_failed` or
    /// `ratchet_limit` instead of `duplicate`, as SPEC.md §6.5 itself allows
    /// for chains older than the last 16. The state must still be unchanged.
    pub earlier_chain_replay: bool,
}

/// What a case exercised: evidence that the checks ran, not only passed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Coverage {
    /// Messages encrypted (the initial message included).
    pub sent: u64,
    /// Decryptions that succeeded at an honest party.
    pub accepted: u64,
    /// Rejections at an honest party, by error class.
    pub rejected: BTreeMap<String, u64>,
    /// Rejections after which the exported state was compared.
    pub state_compared: u64,
    /// Restarts from a persisted state.
    pub restarts: u64,
    /// Attempts with a copy on a message the victim had already received.
    pub forward_secrecy_checks: u64,
    /// Attempts with a copy on a message sent after a full round trip.
    pub post_compromise_checks: u64,
    /// Attempts with a copy that succeeded (as the model predicted).
    pub copy_decryptions: u64,
    /// Largest skipped-key store seen.
    pub max_skipped: u64,
    /// Rejections with another class than the model's, accepted under a
    /// [`Tolerance`].
    pub tolerated: u64,
    /// Sends, acceptances and rejections the independent spec model
    /// recomputed from the exported state and agreed with.
    pub spec_checks: u64,
}

impl Coverage {
    /// Adds another case's coverage.
    pub fn add(&mut self, other: &Self) {
        self.sent += other.sent;
        self.accepted += other.accepted;
        for (class, n) in &other.rejected {
            *self.rejected.entry(class.clone()).or_default() += n;
        }
        self.state_compared += other.state_compared;
        self.restarts += other.restarts;
        self.forward_secrecy_checks += other.forward_secrecy_checks;
        self.post_compromise_checks += other.post_compromise_checks;
        self.copy_decryptions += other.copy_decryptions;
        self.max_skipped = self.max_skipped.max(other.max_skipped);
        self.tolerated += other.tolerated;
        self.spec_checks += other.spec_checks;
    }
}
