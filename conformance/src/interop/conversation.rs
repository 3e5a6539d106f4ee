//! One conversation in both worlds, step by step: the schedule, the
//! comparison of every outcome and the known differences it tolerates.

use super::*;

/// Fields holding handles: implementation-specific, never compared.
pub(super) const HANDLE_FIELDS: [&str; 2] = ["session", "store"];

/// The bytes of an encoded bundle that hold the signature.
pub(super) const BUNDLE_SIGNATURE: core::ops::Range<usize> = 69..133;

/// `text` cut to at most `max` bytes (at a character boundary), marked.
pub(super) fn shorten(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}... ({} bytes)", &text[..end], text.len())
}

pub(super) fn summary(outcome: &Outcome) -> String {
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

pub(super) fn comparable(output: &Output) -> BTreeMap<&String, &Value> {
    output
        .iter()
        .filter(|(k, _)| !HANDLE_FIELDS.contains(&k.as_str()))
        .collect()
}

pub(super) fn same(a: &Outcome, b: &Outcome) -> bool {
    match (a, b) {
        (Ok(a), Ok(b)) => comparable(a) == comparable(b),
        (Err(OpError::Rejected(a)), Err(OpError::Rejected(b))) => a == b,
        _ => false,
    }
}

pub(super) fn bytes_field(output: &Output, name: &str) -> Option<Vec<u8>> {
    output
        .get(name)
        .and_then(Value::as_str)
        .and_then(|s| sealwire_adapter::hex::decode(s).ok())
}

pub(super) fn handle_field(output: &Output, name: &str) -> Option<String> {
    output.get(name).and_then(Value::as_str).map(str::to_owned)
}

/// What the driver knows about one party's receiving side, from the
/// messages it accepted: every ratchet key it accepted a message under, and
/// the current one (the last key that started a new turn).
#[derive(Default)]
pub(super) struct Receiver {
    pub(super) accepted_keys: BTreeSet<[u8; 32]>,
    pub(super) current: Option<[u8; 32]>,
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

pub(super) fn ratchet_key(message: &[u8]) -> Option<[u8; 32]> {
    message.get(1..33).and_then(|k| k.try_into().ok())
}

/// One message of the conversation.
pub(super) struct Message {
    pub(super) from: usize,
    pub(super) bytes: Vec<u8>,
    pub(super) delivered: bool,
    pub(super) lost: bool,
}

/// One world: an initiator (index 0) and a responder (index 1).
pub(super) struct World<'a> {
    pub(super) parties: [&'a mut dyn Implementation; 2],
    pub(super) sessions: [Option<String>; 2],
    pub(super) store: Option<String>,
    pub(super) extra: Vec<(usize, String)>,
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
    pub(super) fn free_all(&mut self) {
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
pub(super) enum Stop {
    Diverged(Box<Divergence>),
    Broken(String),
}

pub(super) struct Conversation<'r, 'm> {
    pub(super) index: u32,
    pub(super) seed: u64,
    pub(super) under_test_side: usize,
    pub(super) rng: ChaCha20Rng,
    pub(super) r: World<'r>,
    pub(super) m: World<'m>,
    pub(super) step: u32,
    pub(super) messages: Vec<Message>,
    pub(super) receivers: [Receiver; 2],
    pub(super) compare_counts: bool,
    pub(super) report: InteropReport,
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

    pub(super) fn handshake(&mut self) -> Result<(), Stop> {
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

    pub(super) fn conversation_step(&mut self) -> Result<(), Stop> {
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

pub(super) fn no_tolerance(_: &Outcome, _: &Outcome) -> Option<&'static str> {
    None
}

pub(super) fn role(party: usize) -> &'static str {
    if party == 0 { "initiator" } else { "responder" }
}
