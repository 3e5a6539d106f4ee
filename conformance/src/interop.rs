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

use crate::hex::Bytes;
use crate::implementation::{Implementation, OpError};
use crate::protocol::{Capability, Output, PreKeySecret, Request};
use crate::reference::ReferenceImplementation;

/// A documented difference between an implementation and SPEC.md that the
/// interop mode tolerates (and counts).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KnownDifference {
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
pub const EARLIER_CHAIN_REPLAY: KnownDifference = KnownDifference {
    id: "earlier-chain-replay",
    description: "a message under an earlier receiving chain's ratchet key whose message key is \
                  gone is rejected as `decryption_failed` (or `ratchet_limit` when its counters \
                  exceed the skip limit) instead of `duplicate`",
};

/// Every difference the interop mode tolerates.
pub const KNOWN_DIFFERENCES: [KnownDifference; 1] = [EARLIER_CHAIN_REPLAY];

/// What to run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InteropOptions {
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
pub struct Divergence {
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
pub struct InteropReport {
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
    pub fn passed(&self) -> bool {
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

/// Fields holding handles: implementation-specific, never compared.
const HANDLE_FIELDS: [&str; 2] = ["session", "store"];

/// The bytes of an encoded bundle that hold the signature.
const BUNDLE_SIGNATURE: core::ops::Range<usize> = 69..133;

/// `text` cut to at most `max` bytes (at a character boundary), marked.
fn shorten(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}... ({} bytes)", &text[..end], text.len())
}

fn summary(outcome: &Outcome) -> String {
    match outcome {
        Ok(output) => {
            let shown: BTreeMap<&String, &Value> = output
                .iter()
                .filter(|(k, _)| !HANDLE_FIELDS.contains(&k.as_str()))
                .collect();
            let text = serde_json::to_string(&shown).unwrap_or_else(|_| "<unprintable>".into());
            format!("ok {}", shorten(&text, 400))
        }
        Err(OpError::Rejected(class)) => format!("error `{class}`"),
        Err(e) => e.to_string(),
    }
}

fn comparable(output: &Output) -> BTreeMap<&String, &Value> {
    output
        .iter()
        .filter(|(k, _)| !HANDLE_FIELDS.contains(&k.as_str()))
        .collect()
}

fn same(a: &Outcome, b: &Outcome) -> bool {
    match (a, b) {
        (Ok(a), Ok(b)) => comparable(a) == comparable(b),
        (Err(OpError::Rejected(a)), Err(OpError::Rejected(b))) => a == b,
        _ => false,
    }
}

fn bytes_field(output: &Output, name: &str) -> Option<Vec<u8>> {
    output
        .get(name)
        .and_then(Value::as_str)
        .and_then(|s| crate::hex::decode(s).ok())
}

fn handle_field(output: &Output, name: &str) -> Option<String> {
    output.get(name).and_then(Value::as_str).map(str::to_owned)
}

/// What the driver knows about one party's receiving side, from the
/// messages it accepted: every ratchet key it accepted a message under, and
/// the current one (the last key that started a new turn).
#[derive(Default)]
struct Receiver {
    accepted_keys: BTreeSet<[u8; 32]>,
    current: Option<[u8; 32]>,
}

impl Receiver {
    fn accepted(&mut self, message: &[u8]) {
        if let Some(key) = ratchet_key(message)
            && self.accepted_keys.insert(key)
        {
            // A message under a key never seen before can only be accepted
            // through a DH ratchet step: that key is now the current one.
            self.current = Some(key);
        }
    }

    fn is_earlier_chain(&self, message: &[u8]) -> bool {
        ratchet_key(message)
            .is_some_and(|key| self.accepted_keys.contains(&key) && self.current != Some(key))
    }
}

fn ratchet_key(message: &[u8]) -> Option<[u8; 32]> {
    message.get(1..33).and_then(|k| k.try_into().ok())
}

/// One message of the conversation.
struct Message {
    from: usize,
    bytes: Vec<u8>,
    delivered: bool,
    lost: bool,
}

/// One world: an initiator (index 0) and a responder (index 1).
struct World<'a> {
    parties: [&'a mut dyn Implementation; 2],
    sessions: [Option<String>; 2],
    store: Option<String>,
    extra: Vec<(usize, String)>,
}

impl World<'_> {
    fn call(&mut self, party: usize, request: &Request) -> Outcome {
        self.parties[party].call(request)
    }

    fn session(&self, party: usize) -> String {
        self.sessions[party].clone().unwrap_or_default()
    }

    /// Frees every handle of this conversation; failures are ignored (the
    /// conversation is over, and a broken implementation is reported by the
    /// next call anyway).
    fn free_all(&mut self) {
        let mut handles: Vec<(usize, String)> = std::mem::take(&mut self.extra);
        for (party, session) in self.sessions.iter_mut().enumerate() {
            if let Some(handle) = session.take() {
                handles.push((party, handle));
            }
        }
        if let Some(store) = self.store.take() {
            handles.push((1, store));
        }
        for (party, handle) in handles {
            let _ = self.parties[party].call(&Request::Free { handle });
        }
    }
}

/// Why a conversation stopped early.
enum Stop {
    Diverged(Box<Divergence>),
    Broken(String),
}

struct Conversation<'r, 'm> {
    index: u32,
    seed: u64,
    under_test_side: usize,
    rng: ChaCha20Rng,
    r: World<'r>,
    m: World<'m>,
    step: u32,
    messages: Vec<Message>,
    receivers: [Receiver; 2],
    compare_counts: bool,
    report: InteropReport,
}

impl Conversation<'_, '_> {
    fn key(&mut self) -> Bytes {
        let mut k = [0u8; 32];
        self.rng.fill_bytes(&mut k);
        Bytes::from(k)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.rng.next_u64() % n as u64) as usize
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.rng.next_u64() % 100 < percent
    }

    fn divergence(
        &self,
        action: String,
        request: Option<&Request>,
        reference: &Outcome,
        under_test: &Outcome,
    ) -> Stop {
        let request = request
            .and_then(|r| serde_json::to_string(r).ok())
            .map(|text| shorten(&text, 600))
            .unwrap_or_default();
        Stop::Diverged(Box::new(Divergence {
            conversation: self.index,
            seed: self.seed,
            under_test_role: if self.under_test_side == 0 {
                "initiator"
            } else {
                "responder"
            },
            step: self.step,
            action,
            request,
            reference: summary(reference),
            under_test: summary(under_test),
        }))
    }

    fn check_broken(outcome: &Outcome) -> Result<(), Stop> {
        match outcome {
            Err(OpError::Broken(why)) => Err(Stop::Broken(why.clone())),
            _ => Ok(()),
        }
    }

    /// Runs `make(world)` for `party` in both worlds and compares. Returns
    /// both outcomes when they agree (exactly or by a known difference
    /// `tolerated` allows).
    fn both(
        &mut self,
        action: &'static str,
        party: usize,
        make: impl Fn(&World<'_>) -> Request,
        tolerated: impl Fn(&Outcome, &Outcome) -> Option<&'static str>,
    ) -> Result<(Outcome, Outcome), Stop> {
        self.step += 1;
        let request_r = make(&self.r);
        let request_m = make(&self.m);
        let reference = self.r.call(party, &request_r);
        Self::check_broken(&reference)?;
        let under_test = self.m.call(party, &request_m);
        Self::check_broken(&under_test)?;
        *self.report.actions.entry(action).or_default() += 1;
        if same(&reference, &under_test) {
            self.report.agreed += 1;
            return Ok((reference, under_test));
        }
        if let Some(id) = tolerated(&reference, &under_test) {
            *self.report.known_differences.entry(id).or_default() += 1;
            return Ok((reference, under_test));
        }
        Err(self.divergence(
            format!("{action} (`{}` by the {})", request_m.op(), role(party)),
            Some(&request_m),
            &reference,
            &under_test,
        ))
    }

    fn handshake(&mut self) -> Result<(), Stop> {
        let alice_seed = self.key();
        let bob_seed = self.key();
        let spk = PreKeySecret {
            id: self.rng.next_u32(),
            private_key: self.key(),
        };
        let opk = if self.chance(70) {
            Some(PreKeySecret {
                id: self.rng.next_u32(),
                private_key: self.key(),
            })
        } else {
            None
        };
        let decoy = PreKeySecret {
            id: spk.id.wrapping_add(1),
            private_key: self.key(),
        };

        // Bob's prekey store.
        let store_request = Request::PrekeyStoreCreate {
            identity_seed: bob_seed.clone(),
            signed_prekeys: vec![spk.clone(), decoy],
            one_time_prekeys: opk.iter().cloned().collect(),
        };
        let (r, m) = self.both("handshake", 1, |_| store_request.clone(), no_tolerance)?;
        self.r.store = r.ok().and_then(|o| handle_field(&o, "store"));
        self.m.store = m.ok().and_then(|o| handle_field(&o, "store"));

        // Bob's bundle: equal bytes except the signature, which the
        // reference verifies.
        let bundle_request = Request::BundleCreate {
            identity_seed: bob_seed,
            signed_prekey: spk,
            one_time_prekey: opk,
        };
        self.step += 1;
        let bundle_r = self.r.call(1, &bundle_request);
        Self::check_broken(&bundle_r)?;
        let bundle_m = self.m.call(1, &bundle_request);
        Self::check_broken(&bundle_m)?;
        *self.report.actions.entry("handshake").or_default() += 1;
        let (Some(bytes_r), Some(bytes_m)) = (
            bundle_r
                .as_ref()
                .ok()
                .and_then(|o| bytes_field(o, "bundle")),
            bundle_m
                .as_ref()
                .ok()
                .and_then(|o| bytes_field(o, "bundle")),
        ) else {
            return Err(self.divergence(
                "bundle_create".into(),
                Some(&bundle_request),
                &bundle_r,
                &bundle_m,
            ));
        };
        let unsigned = |b: &[u8]| {
            let mut b = b.to_vec();
            if b.len() >= BUNDLE_SIGNATURE.end {
                b[BUNDLE_SIGNATURE].fill(0);
            }
            b
        };
        if unsigned(&bytes_r) != unsigned(&bytes_m) {
            return Err(self.divergence(
                "bundle_create (bytes other than the signature)".into(),
                Some(&bundle_request),
                &bundle_r,
                &bundle_m,
            ));
        }
        self.report.agreed += 1;
        let mut verifier = ReferenceImplementation::new();
        let verified = verifier.call(&Request::BundleVerify {
            bundle: Bytes(bytes_m.clone()),
        });
        self.step += 1;
        *self.report.actions.entry("handshake").or_default() += 1;
        if verified.is_err() {
            return Err(self.divergence(
                "bundle_verify by the reference of the world-M bundle".into(),
                None,
                &Ok(Output::new()),
                &verified,
            ));
        }
        self.report.agreed += 1;

        // Alice initiates, each world with its own bundle.
        let (ek, rk, plaintext) = (self.key(), self.key(), self.plaintext());
        let initiate = |bundle: &[u8]| Request::Initiate {
            identity_seed: alice_seed.clone(),
            bundle: Bytes(bundle.to_vec()),
            ephemeral_private_key: ek.clone(),
            ratchet_private_key: rk.clone(),
            plaintext: plaintext.clone(),
        };
        self.step += 1;
        let init_r = self.r.call(0, &initiate(&bytes_r));
        Self::check_broken(&init_r)?;
        let init_m = self.m.call(0, &initiate(&bytes_m));
        Self::check_broken(&init_m)?;
        *self.report.actions.entry("handshake").or_default() += 1;
        if !same(&init_r, &init_m) {
            return Err(self.divergence(
                "initiate".into(),
                Some(&initiate(&bytes_m)),
                &init_r,
                &init_m,
            ));
        }
        self.report.agreed += 1;
        self.r.sessions[0] = init_r
            .as_ref()
            .ok()
            .and_then(|o| handle_field(o, "session"));
        self.m.sessions[0] = init_m
            .as_ref()
            .ok()
            .and_then(|o| handle_field(o, "session"));
        let Some(initial) = init_m
            .as_ref()
            .ok()
            .and_then(|o| bytes_field(o, "initial_message"))
        else {
            // Both worlds rejected the bundle the same way: nothing to talk about.
            return Ok(());
        };

        // Tampered initial messages: rejected alike, nothing consumed.
        while self.chance(30) {
            let tampered = self.tamper(&initial);
            let rk = self.key();
            let (r, m) = self.both(
                "tampered initial",
                1,
                |w| Request::Respond {
                    store: w.store.clone().unwrap_or_default(),
                    initial_message: Bytes(tampered.clone()),
                    ratchet_private_key: rk.clone(),
                },
                no_tolerance,
            )?;
            self.keep_extra(1, &r, &m);
        }
        let rk = self.key();
        let respond = |w: &World<'_>| Request::Respond {
            store: w.store.clone().unwrap_or_default(),
            initial_message: Bytes(initial.clone()),
            ratchet_private_key: rk.clone(),
        };
        let (r, m) = self.both("handshake", 1, respond, no_tolerance)?;
        self.r.sessions[1] = r.ok().and_then(|o| handle_field(&o, "session"));
        self.m.sessions[1] = m.ok().and_then(|o| handle_field(&o, "session"));
        if self.r.sessions[1].is_some() {
            self.receivers[1]
                .accepted(&initial[initial.len() - self.first_message_len(&initial)..]);
        }
        self.compare_ids()?;

        // A replayed initial message: refused once the one-time prekey is
        // gone, or a second independent session without one.
        if self.chance(30) {
            let rk = self.key();
            let (r, m) = self.both(
                "replayed initial",
                1,
                |w| Request::Respond {
                    store: w.store.clone().unwrap_or_default(),
                    initial_message: Bytes(initial.clone()),
                    ratchet_private_key: rk.clone(),
                },
                no_tolerance,
            )?;
            self.keep_extra(1, &r, &m);
            self.compare_ids()?;
        }
        Ok(())
    }

    /// The length of the ratchet message inside an initial message.
    fn first_message_len(&self, initial: &[u8]) -> usize {
        let prefix = if initial.get(69) == Some(&1) { 74 } else { 70 };
        initial.len().saturating_sub(prefix)
    }

    /// Records sessions created by unexpected successes so they are freed.
    fn keep_extra(&mut self, party: usize, r: &Outcome, m: &Outcome) {
        if let Some(h) = r.as_ref().ok().and_then(|o| handle_field(o, "session")) {
            self.r.extra.push((party, h));
        }
        if let Some(h) = m.as_ref().ok().and_then(|o| handle_field(o, "session")) {
            self.m.extra.push((party, h));
        }
    }

    fn compare_ids(&mut self) -> Result<(), Stop> {
        if self.r.store.is_none() {
            return Ok(());
        }
        self.both(
            "prekey ids",
            1,
            |w| Request::PrekeyStoreIds {
                store: w.store.clone().unwrap_or_default(),
            },
            no_tolerance,
        )
        .map(|_| ())
    }

    fn plaintext(&mut self) -> Bytes {
        let len = self.below(49);
        let mut text = vec![0u8; len];
        self.rng.fill_bytes(&mut text);
        Bytes(text)
    }

    fn tamper(&mut self, message: &[u8]) -> Vec<u8> {
        let mut out = message.to_vec();
        match self.below(10) {
            0 => {
                let keep = self.below(out.len().max(1));
                out.truncate(keep);
            }
            1 => {
                let extra = 1 + self.below(4);
                for _ in 0..extra {
                    out.push((self.rng.next_u32() & 0xff) as u8);
                }
            }
            _ => {
                if !out.is_empty() {
                    let at = self.below(out.len());
                    out[at] ^= 1 << self.below(8);
                }
            }
        }
        out
    }

    fn conversation_step(&mut self) -> Result<(), Stop> {
        let in_flight: Vec<usize> = (0..self.messages.len())
            .filter(|&i| !self.messages[i].delivered && !self.messages[i].lost)
            .collect();
        let delivered: Vec<usize> = (0..self.messages.len())
            .filter(|&i| self.messages[i].delivered)
            .collect();
        let roll = self.below(100);
        match roll {
            0..30 => self.send(),
            30..65 if !in_flight.is_empty() => {
                let i = in_flight[self.below(in_flight.len())];
                self.deliver(i)
            }
            65..73 if !delivered.is_empty() => {
                let i = delivered[self.below(delivered.len())];
                let bytes = self.messages[i].bytes.clone();
                let from = self.messages[i].from;
                self.receive("replay", 1 - from, bytes).map(|_| ())
            }
            73..85 if !self.messages.is_empty() => {
                let i = self.below(self.messages.len());
                let original = self.messages[i].bytes.clone();
                let bytes = self.tamper(&original);
                let from = self.messages[i].from;
                self.receive("tamper", 1 - from, bytes).map(|_| ())
            }
            85..87 => {
                // A burst: many messages in a row, so later deliveries skip
                // long stretches of a chain.
                let party = self.below(2);
                let n = 20 + self.below(131);
                for _ in 0..n {
                    self.send_from(party, "burst send")?;
                }
                Ok(())
            }
            87..90 if !in_flight.is_empty() => {
                let i = in_flight[self.below(in_flight.len())];
                self.messages[i].lost = true;
                Ok(())
            }
            90..100 if self.compare_counts => {
                let party = self.below(2);
                self.both(
                    "skipped_count",
                    party,
                    |w| Request::SkippedCount {
                        session: w.session(party),
                    },
                    no_tolerance,
                )
                .map(|_| ())
            }
            _ => self.send(),
        }
    }

    fn send(&mut self) -> Result<(), Stop> {
        let party = self.below(2);
        self.send_from(party, "send")
    }

    fn send_from(&mut self, party: usize, action: &'static str) -> Result<(), Stop> {
        let plaintext = self.plaintext();
        let (r, _) = self.both(
            action,
            party,
            |w| Request::Encrypt {
                session: w.session(party),
                plaintext: plaintext.clone(),
            },
            no_tolerance,
        )?;
        if let Some(bytes) = r.ok().and_then(|o| bytes_field(&o, "message")) {
            self.messages.push(Message {
                from: party,
                bytes,
                delivered: false,
                lost: false,
            });
        }
        Ok(())
    }

    fn deliver(&mut self, index: usize) -> Result<(), Stop> {
        let bytes = self.messages[index].bytes.clone();
        let to = 1 - self.messages[index].from;
        let accepted = self.receive("deliver", to, bytes)?;
        // Delivered, or rejected alike in both worlds: never retried.
        if accepted {
            self.messages[index].delivered = true;
        } else {
            self.messages[index].lost = true;
        }
        Ok(())
    }

    /// Decrypts `bytes` at `to` in both worlds; true if both accepted it.
    fn receive(&mut self, action: &'static str, to: usize, bytes: Vec<u8>) -> Result<bool, Stop> {
        let ratchet_key = self.key();
        let earlier_chain = self.receivers[to].is_earlier_chain(&bytes);
        let (r, m) = self.both(
            action,
            to,
            |w| Request::Decrypt {
                session: w.session(to),
                message: Bytes(bytes.clone()),
                ratchet_private_key: Some(ratchet_key.clone()),
            },
            |reference, under_test| {
                let rejected =
                    |o: &Outcome, class: &str| matches!(o, Err(OpError::Rejected(c)) if c == class);
                (earlier_chain
                    && rejected(reference, "duplicate")
                    && (rejected(under_test, "decryption_failed")
                        || rejected(under_test, "ratchet_limit")))
                .then_some(EARLIER_CHAIN_REPLAY.id)
            },
        )?;
        let accepted = r.is_ok() && m.is_ok();
        if accepted {
            self.receivers[to].accepted(&bytes);
        }
        Ok(accepted)
    }
}

fn no_tolerance(_: &Outcome, _: &Outcome) -> Option<&'static str> {
    None
}

fn role(party: usize) -> &'static str {
    if party == 0 { "initiator" } else { "responder" }
}

/// Runs `options.conversations` conversations between the reference and
/// `under_test` (see the module documentation).
pub fn run(under_test: &mut dyn Implementation, options: &InteropOptions) -> InteropReport {
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
    for index in 0..options.conversations {
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
    report
}

/// Usage of the `interop` subcommand.
pub const USAGE: &str = "\
sealwire-conformance interop [--impl '<command>'] [OPTIONS]

Runs random conversations between the built-in reference and an adapter
(ADAPTER.md), in both directions, with out-of-order delivery, drops, replays
and tampering, and compares every step with a reference-only run that uses
the same keys. Without --impl the in-process reference plays both (a
self-check). Exit status: 0 if no conversation diverged, 1 otherwise, 2 on a
usage error.

    --impl '<command>'     run `sh -c '<command>'` as the adapter
    --conversations <n>    number of conversations (default 20)
    --steps <n>            random actions per conversation (default 200)
    --seed <n>             master seed (default 1); conversation i uses seed + i
    --timeout <secs>       per-request timeout for --impl (default 10)
";

/// The `interop` subcommand: parses `args`, runs, prints the report.
pub fn cli(args: &[String]) -> Result<std::process::ExitCode, String> {
    let mut options = InteropOptions::default();
    let mut command: Option<String> = None;
    let mut timeout = crate::adapter::DEFAULT_TIMEOUT;
    let mut options_in = crate::cli::OptionParser::new(args);
    while let Some(name) = options_in.next_name() {
        let mut value = || options_in.value(name);
        let number = |text: String| {
            text.parse::<u64>()
                .map_err(|_| format!("{name}: `{text}` is not a non-negative integer"))
        };
        match name {
            "--impl" => command = Some(value()?),
            "--conversations" => {
                options.conversations =
                    u32::try_from(number(value()?)?).map_err(|_| format!("{name}: too large"))?;
            }
            "--steps" => {
                options.steps =
                    u32::try_from(number(value()?)?).map_err(|_| format!("{name}: too large"))?;
            }
            "--seed" => options.seed = number(value()?)?,
            "--timeout" => {
                let text = value()?;
                let secs: f64 = text
                    .parse()
                    .map_err(|_| format!("--timeout: `{text}` is not a number of seconds"))?;
                if !(secs > 0.0 && secs <= 86_400.0) {
                    return Err(format!("--timeout: {secs} is not in (0, 86400]"));
                }
                timeout = core::time::Duration::from_secs_f64(secs);
            }
            "--help" | "-h" => {
                print!("{USAGE}");
                return Ok(std::process::ExitCode::SUCCESS);
            }
            other => return Err(format!("unknown option `{other}` for interop")),
        }
    }
    if options.conversations == 0 {
        return Err("--conversations must be at least 1".into());
    }
    let report = match command {
        None => run(&mut ReferenceImplementation::new(), &options),
        Some(command) => {
            let mut config = crate::adapter::AdapterConfig::new(command.clone());
            config.timeout = timeout;
            match crate::adapter::AdapterImplementation::spawn(config) {
                Ok(mut adapter) => run(&mut adapter, &options),
                Err(e) => InteropReport {
                    implementation: command,
                    broken: Some(format!("the implementation could not be started: {e}")),
                    ..InteropReport::default()
                },
            }
        }
    };
    print!("{report}");
    Ok(if report.passed() {
        std::process::ExitCode::SUCCESS
    } else {
        std::process::ExitCode::FAILURE
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The reference against itself: every step agrees exactly.
    #[test]
    fn reference_interoperates_with_itself() {
        let mut under_test = ReferenceImplementation::new();
        let options = InteropOptions {
            conversations: 6,
            steps: 120,
            seed: 42,
        };
        let report = run(&mut under_test, &options);
        assert!(report.passed(), "seed {}: {report}", options.seed);
        assert_eq!(report.completed, 6, "{report}");
        assert!(report.known_differences.is_empty(), "{report}");
        for action in ["send", "deliver", "replay", "tamper", "handshake"] {
            assert!(
                report.actions.get(action).copied().unwrap_or(0) > 0,
                "seed {}: no `{action}` step ran: {report}",
                options.seed
            );
        }
    }

    /// Wraps the reference and changes one kind of answer.
    struct Faulty {
        inner: ReferenceImplementation,
        fault: Fault,
        calls: u64,
    }

    #[derive(Clone, Copy, PartialEq, Eq, Debug)]
    enum Fault {
        /// Flips a bit of every 7th ratchet message it sends.
        CorruptSend,
        /// Reports `decryption_failed` for every duplicate.
        DuplicateAsDecryptionFailed,
        /// Accepts any message it fails to decrypt with an empty plaintext.
        AcceptsForgeries,
    }

    impl Implementation for Faulty {
        fn name(&self) -> &str {
            "faulty"
        }

        fn capabilities(&self) -> &BTreeSet<Capability> {
            self.inner.capabilities()
        }

        fn call(&mut self, request: &Request) -> Result<Output, OpError> {
            let result = self.inner.call(request);
            match (self.fault, request, result) {
                (Fault::CorruptSend, Request::Encrypt { .. }, Ok(mut out)) => {
                    self.calls += 1;
                    if self.calls.is_multiple_of(7)
                        && let Some(mut bytes) = bytes_field(&out, "message")
                    {
                        let last = bytes.len() - 1;
                        bytes[last] ^= 1;
                        out.insert("message".into(), Value::String(crate::hex::encode(&bytes)));
                    }
                    Ok(out)
                }
                (
                    Fault::DuplicateAsDecryptionFailed,
                    Request::Decrypt { .. },
                    Err(OpError::Rejected(c)),
                ) if c == "duplicate" => Err(OpError::Rejected("decryption_failed".into())),
                (Fault::AcceptsForgeries, Request::Decrypt { .. }, Err(OpError::Rejected(_))) => {
                    Ok([("plaintext".to_owned(), Value::String(String::new()))]
                        .into_iter()
                        .collect())
                }
                (_, _, result) => result,
            }
        }
    }

    fn run_faulty(fault: Fault, conversations: u32) -> InteropReport {
        let mut under_test = Faulty {
            inner: ReferenceImplementation::new(),
            fault,
            calls: 0,
        };
        run(
            &mut under_test,
            &InteropOptions {
                conversations,
                steps: 150,
                seed: 7,
            },
        )
    }

    #[test]
    fn corrupted_messages_are_caught() {
        let report = run_faulty(Fault::CorruptSend, 4);
        assert!(!report.passed(), "{report}");
        assert!(
            report
                .divergences
                .iter()
                .any(|d| d.action.starts_with("send")),
            "{report}"
        );
    }

    #[test]
    fn accepted_forgeries_are_caught() {
        let report = run_faulty(Fault::AcceptsForgeries, 4);
        assert!(!report.passed(), "{report}");
    }

    /// Reporting every duplicate as `decryption_failed` is tolerated only
    /// for messages of an earlier chain: in the current chain it diverges.
    #[test]
    fn known_difference_is_tolerated_only_where_it_applies() {
        let report = run_faulty(Fault::DuplicateAsDecryptionFailed, 40);
        assert!(!report.passed(), "{report}");
        assert!(
            report
                .divergences
                .iter()
                .any(|d| d.reference == "error `duplicate`"
                    && d.under_test == "error `decryption_failed`"),
            "{report}"
        );
        assert!(
            report
                .known_differences
                .contains_key(EARLIER_CHAIN_REPLAY.id),
            "{report}"
        );
    }
}
