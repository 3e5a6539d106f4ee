//! Delivery to a party checked against the model, restarts from persisted
//! state, and the checks that run after every step.

use super::*;
use sealwire_specmodel::Checker;

impl World<'_, '_> {
    /// Delivers `bytes` to `to` and checks the outcome against the model.
    pub(super) fn deliver(
        &mut self,
        to: Party,
        bytes: &[u8],
        origin: Origin,
    ) -> Result<(), Violation> {
        let prediction = self.predict(&self.sides[to.index()].model, bytes);
        let session = self.sides[to.index()].session.clone();
        let before = match self.driver.has(Capability::State) {
            true => Some(self.driver.export(&session)?),
            false => None,
        };
        let ratchet_key = self.keys.next();
        let result = self.driver.call(Request::Decrypt {
            session: session.clone(),
            message: Bytes(bytes.to_vec()),
            ratchet_private_key: Some(Bytes::from(ratchet_key)),
        })?;
        match (prediction, result) {
            (Ok(accepted), Ok(out)) => {
                // The model accepts only authentic messages.
                let Some(&id) = self.by_bytes.get(bytes) else {
                    return Err(self.driver.violation(
                        Property::Model,
                        format!("{origin} to {to:?}: the model accepted unknown bytes"),
                    ));
                };
                let plaintext = self.driver.bytes(&out, "plaintext")?;
                let sent = &mut self.sent[id];
                sent.accepted += 1;
                if plaintext != sent.plaintext || sent.accepted > 1 {
                    let detail = format!(
                        "{origin} to {to:?}: decryption number {} gave {} bytes, sent were {}",
                        sent.accepted,
                        plaintext.len(),
                        sent.plaintext.len()
                    );
                    return Err(self.driver.violation(Property::Delivery, detail));
                }
                if accepted.ratchet_step {
                    self.register_key(accepted.next.send_turn, public_key(&ratchet_key))?;
                }
                if let Some(before) = &before {
                    let after = self.driver.export(&session)?;
                    self.spec_accepted(to, origin, (before, &after), bytes, &plaintext)?;
                }
                self.coverage.accepted += 1;
                let side = &mut self.sides[to.index()];
                side.model = accepted.next;
                side.received.push(id);
                self.attack_after_healing(to, id)
            }
            (Err(expected), Err(class)) => {
                if let Origin::Honest(id) = origin {
                    self.sent[id]
                        .rejection
                        .get_or_insert_with(|| expected.to_owned());
                }
                *self.coverage.rejected.entry(class.clone()).or_default() += 1;
                let model = &self.sides[to.index()].model;
                let used = |id: usize| self.sent[id].accepted > 0;
                let tolerated =
                    class != expected && self.tolerated(model, used, bytes, expected, &class);
                if tolerated {
                    self.coverage.tolerated += 1;
                } else if class != expected {
                    return Err(self.driver.violation(
                        Property::Model,
                        format!(
                            "{origin} to {to:?} was rejected with `{class}`, expected `{expected}`"
                        ),
                    ));
                }
                if let Some(before) = before {
                    self.spec_rejected(to, origin, &before, bytes, &class, tolerated)?;
                    self.coverage.state_compared += 1;
                    if self.driver.export(&session)? != before {
                        return Err(self.driver.violation(
                            Property::StateUnchanged,
                            format!(
                                "{origin} to {to:?} was rejected (`{class}`) but the state changed"
                            ),
                        ));
                    }
                }
                Ok(())
            }
            (Err(expected), Ok(_)) => {
                let property = match origin {
                    Origin::Honest(_) => Property::Model,
                    Origin::Replay(_) | Origin::Tampered(_) | Origin::Reflected(_) => {
                        Property::Rejection
                    }
                };
                Err(self.driver.violation(
                    property,
                    format!("{origin} to {to:?} released a plaintext; expected `{expected}`"),
                ))
            }
            (Ok(_), Err(class)) => Err(self.driver.violation(
                Property::Delivery,
                format!("{origin} to {to:?}: authentic message rejected with `{class}`"),
            )),
        }
    }

    /// Persists a party's state and restarts it from there.
    pub(super) fn restart(&mut self, party: Party, sealed: bool) -> Result<(), Violation> {
        let old = self.sides[party.index()].session.clone();
        let state = self.driver.export(&old)?;
        let out = if sealed && self.driver.has(Capability::SealedState) {
            let storage_key = self.keys.next();
            let salt = self.keys.next();
            let out = self.driver.expect_ok(
                Property::Persistence,
                Request::SealState {
                    session: old.clone(),
                    storage_key: Bytes::from(storage_key),
                    salt: Bytes::from(salt),
                },
            )?;
            let sealed_state = self.driver.bytes(&out, "sealed_state")?;
            let verdict = Checker::check_sealed_state(&storage_key, &salt, &state, &sealed_state);
            self.spec_verdict(&verdict, false, || format!("{party:?}'s sealed state"))?;
            let mut wrong_key = storage_key;
            wrong_key[0] ^= 1;
            match self.driver.call(Request::OpenState {
                storage_key: Bytes::from(wrong_key),
                sealed_state: Bytes(sealed_state.clone()),
            })? {
                Err(class) if class == "state" => {}
                other => {
                    return Err(self.driver.violation(
                        Property::Persistence,
                        format!("a sealed state opened under a wrong key gave {other:?}"),
                    ));
                }
            }
            let out = self.driver.expect_ok(
                Property::Persistence,
                Request::OpenState {
                    storage_key: Bytes::from(storage_key),
                    sealed_state: Bytes(sealed_state.clone()),
                },
            )?;
            // The opened state must be what the model opens (the export
            // of the new session is compared with `state` below).
            let verdict = Checker::check_opened_state(&storage_key, &sealed_state, &state);
            self.spec_verdict(&verdict, false, || {
                format!("{party:?}'s opened sealed state")
            })?;
            out
        } else {
            self.driver.expect_ok(
                Property::Persistence,
                Request::ImportState {
                    state: Bytes(state.clone()),
                },
            )?
        };
        let new = self.driver.handle(&out, "session")?;
        if self.driver.export(&new)? != state {
            return Err(self.driver.violation(
                Property::Persistence,
                format!("{party:?}'s restored session exports a different state"),
            ));
        }
        self.driver.free(&old)?;
        self.sides[party.index()].session = new;
        self.coverage.restarts += 1;
        Ok(())
    }

    pub(super) fn check_skipped_stores(&mut self) -> Result<(), Violation> {
        if !self.driver.has(Capability::SkippedCount) {
            return Ok(());
        }
        for party in [Party::Alice, Party::Bob] {
            let out = self.driver.expect_ok(
                Property::Interface,
                Request::SkippedCount {
                    session: self.sides[party.index()].session.clone(),
                },
            )?;
            let count = self.driver.number(&out, "count")?;
            let expected = self.sides[party.index()].model.skipped.len();
            self.coverage.max_skipped = self.coverage.max_skipped.max(count);
            if count > MAX_SKIPPED_KEYS as u64 {
                return Err(self.driver.violation(
                    Property::SkippedBound,
                    format!("{party:?} stores {count} skipped keys"),
                ));
            }
            if count != expected as u64 {
                return Err(self.driver.violation(
                    Property::Model,
                    format!("{party:?} stores {count} skipped keys, the model {expected}"),
                ));
            }
        }
        Ok(())
    }

    /// Every delivered message decrypted exactly once, unless the limits
    /// legitimately refused it (more than MAX_SKIP skipped, or its key
    /// evicted from a full store).
    pub(super) fn check_exactly_once(&self) -> Result<(), Violation> {
        for (id, sent) in self.sent.iter().enumerate() {
            let legitimately_refused = sent.accepted == 0
                && matches!(sent.rejection.as_deref(), Some(RATCHET_LIMIT | DUPLICATE));
            if sent.delivered && sent.accepted != 1 && !legitimately_refused {
                return Err(self.driver.violation(
                    Property::Delivery,
                    format!(
                        "message {id} from {:?} was delivered and decrypted {} times (first rejection: {:?})",
                        sent.from, sent.accepted, sent.rejection
                    ),
                ));
            }
        }
        Ok(())
    }
}
