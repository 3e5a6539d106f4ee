//! The attacker's copies of a party's state: forward secrecy and
//! post-compromise security, and what a copy can still decrypt.

use std::collections::HashSet;

use super::super::model::{self, ChainModel, DUPLICATE, RATCHET_LIMIT};
use super::super::schedule::Party;
use super::super::{Property, Violation};
use super::{HEADER_LEN, World, split_header};
use sealwire_adapter::Request;
use sealwire_adapter::hex::Bytes;

/// The attacker's copy of a party's state.
pub(super) struct Copy {
    pub(super) victim: Party,
    pub(super) state: Vec<u8>,
    pub(super) model: ChainModel,
    /// Messages the victim had decrypted when the copy was taken.
    pub(super) received: HashSet<usize>,
    /// Post-compromise attempts made automatically so far.
    pub(super) healed_attempts: u32,
}

/// Automatic post-compromise attempts per copy (on the first messages
/// after the round trip that the victim accepts).
const HEALED_ATTEMPTS: u32 = 2;

impl World<'_, '_> {
    /// The attacker copies the victim's state; the copy must not open what
    /// the victim already received (checked now on the latest eight).
    pub(super) fn compromise(&mut self, victim: Party) -> Result<(), Violation> {
        let session = self.sides[victim.index()].session.clone();
        let state = self.driver.export(&session)?;
        let side = &self.sides[victim.index()];
        let recent: Vec<usize> = side.received.iter().rev().take(8).copied().collect();
        self.copies.push(Copy {
            victim,
            state,
            model: side.model.clone(),
            received: side.received.iter().copied().collect(),
            healed_attempts: 0,
        });
        let index = self.copies.len() - 1;
        for id in recent {
            self.attack(index, id)?;
        }
        Ok(())
    }

    /// The attacker opens a fresh import of copy `index` and tries message
    /// `id` (sent to the victim) with it.
    pub(super) fn attack(&mut self, index: usize, id: usize) -> Result<(), Violation> {
        let prediction = self.predict(&self.copies[index].model, &self.sent[id].bytes);
        let out = self.driver.expect_ok(
            Property::Persistence,
            Request::ImportState {
                state: Bytes(self.copies[index].state.clone()),
            },
        )?;
        let handle = self.driver.handle(&out, "session")?;
        let result = self.driver.call(Request::Decrypt {
            session: handle.clone(),
            message: Bytes(self.sent[id].bytes.clone()),
            ratchet_private_key: Some(Bytes::from(self.keys.next())),
        })?;
        self.driver.free(&handle)?;
        let copy = &self.copies[index];
        let sent = &self.sent[id];
        // A DH round trip after the copy: the victim's next key (turn + 2)
        // answered by the peer (turn + 3).
        let healed = sent.turn >= copy.model.send_turn + 3;
        if copy.received.contains(&id) {
            self.coverage.forward_secrecy_checks += 1;
        }
        if healed {
            self.coverage.post_compromise_checks += 1;
        }
        if result.is_ok() {
            self.coverage.copy_decryptions += 1;
        }
        let what = format!(
            "copy {index} of {:?} (taken while it sent on turn {}) on message {id} (turn {})",
            copy.victim, copy.model.send_turn, sent.turn
        );
        match (prediction, result) {
            (_, Ok(_)) if copy.received.contains(&id) => Err(self.driver.violation(
                Property::ForwardSecrecy,
                format!("{what}, which the victim had already received, decrypted"),
            )),
            (_, Ok(_)) if healed => Err(self.driver.violation(
                Property::PostCompromise,
                format!("{what}, sent after a full DH round trip, decrypted"),
            )),
            (Ok(_), Ok(out)) => {
                if self.driver.bytes(&out, "plaintext")? != sent.plaintext {
                    return Err(self
                        .driver
                        .violation(Property::Model, format!("{what} gave a wrong plaintext")));
                }
                Ok(())
            }
            (Err(expected), Err(class)) if class == expected => Ok(()),
            (Err(expected), Err(class))
                if self.tolerated(
                    &copy.model,
                    |id| copy.received.contains(&id),
                    &sent.bytes,
                    expected,
                    &class,
                ) =>
            {
                self.coverage.tolerated += 1;
                Ok(())
            }
            (prediction, result) => Err(self.driver.violation(
                Property::Model,
                format!(
                    "{what}: expected {:?}, got {:?}",
                    prediction.map(drop),
                    result.map(drop)
                ),
            )),
        }
    }

    /// Whether `class` instead of the model's `expected` is a tolerated
    /// difference: `duplicate` predicted for a message whose key is gone
    /// from an earlier chain, or evicted before it was used.
    /// `model` is the receiver's; `used` tells whether the receiver (or,
    /// for a copy, the victim before the copy) decrypted the message.
    pub(super) fn tolerated(
        &self,
        model: &ChainModel,
        used: impl Fn(usize) -> bool,
        bytes: &[u8],
        expected: &str,
        class: &str,
    ) -> bool {
        if !self.tolerance.earlier_chain_replay
            || expected != DUPLICATE
            || !matches!(class, model::DECRYPTION_FAILED | RATCHET_LIMIT)
            || bytes.len() < HEADER_LEN
        {
            return false;
        }
        let (_, key, _, _) = split_header(bytes);
        let Some(&turn) = self.turn_of_key.get(&key) else {
            return false;
        };
        let earlier_chain = turn != model.recv_turn;
        let evicted = self.by_bytes.get(bytes).is_some_and(|&id| !used(id));
        earlier_chain || evicted
    }

    /// Post-compromise security at every step: the first messages a victim
    /// accepts after a full round trip that followed a copy are tried with
    /// that copy.
    pub(super) fn attack_after_healing(
        &mut self,
        victim: Party,
        id: usize,
    ) -> Result<(), Violation> {
        for index in 0..self.copies.len() {
            let copy = &self.copies[index];
            if copy.victim == victim
                && copy.healed_attempts < HEALED_ATTEMPTS
                && self.sent[id].turn >= copy.model.send_turn + 3
            {
                self.copies[index].healed_attempts += 1;
                self.attack(index, id)?;
            }
        }
        Ok(())
    }
}
