//! The small model: one party's Double Ratchet over abstract chain names.
//!
//! Ratchet keys are named by their *turn*: the responder's signed prekey is
//! turn 0, the initiator's first ratchet key turn 1, the responder's next
//! key turn 2, and so on (the initiator owns the odd turns, the responder
//! the even ones). A message is named by `(turn, N)`; its chain is derived
//! from the sender's key of that turn and the receiver's key of the turn
//! before. The model follows the profile's receive algorithm (SPEC.md §6)
//! step by step on these names instead of on keys, so it predicts every
//! outcome, including the error class, without any cryptography.

use std::collections::VecDeque;

/// `MAX_SKIP`: at most this many keys skipped in one chain.
pub(crate) const MAX_SKIP: u32 = 1000;
/// The skipped-key store holds at most this many keys.
pub(crate) const MAX_SKIPPED_KEYS: usize = 2000;
/// How many earlier receiving ratchet keys a session remembers.
pub(crate) const MAX_PREVIOUS_RATCHET_KEYS: usize = 16;

/// The ratchet key in a message header, as the model sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum KeyRef {
    /// A key of this turn (one the harness has seen in an honest header or
    /// the signed prekey).
    Turn(u32),
    /// A key nobody holds (a tampered header).
    Foreign,
    /// A low-order point: its X25519 output is all zero.
    LowOrder,
}

/// A ratchet message as the receiver sees it after decoding the header.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Incoming {
    pub(crate) key: KeyRef,
    pub(crate) previous_chain_len: u32,
    pub(crate) message_number: u32,
    /// The bytes are exactly those of an honestly sent message, so the AEAD
    /// verifies if and only if the receiver derives that message's key.
    pub(crate) authentic: bool,
}

/// The error classes the model predicts.
pub(crate) const DUPLICATE: &str = "duplicate";
pub(crate) const RATCHET_LIMIT: &str = "ratchet_limit";
pub(crate) const DECRYPTION_FAILED: &str = "decryption_failed";
pub(crate) const LOW_ORDER_KEY: &str = "low_order_key";
pub(crate) const WIRE: &str = "wire";

/// What a successful receive did besides the plaintext.
#[derive(Clone, Debug)]
pub(crate) struct Accepted {
    /// The party's model afterwards.
    pub(crate) next: ChainModel,
    /// The receive performed a DH ratchet step (so the party consumed the
    /// ratchet private key the runner supplied).
    pub(crate) ratchet_step: bool,
}

/// One party's session state, by chain names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ChainModel {
    /// Turn of the current sending ratchet key (DHs).
    pub(crate) send_turn: u32,
    /// Ns.
    pub(crate) send_n: u32,
    /// PN.
    pub(crate) send_pn: u32,
    /// Turn of the current receiving ratchet key (DHr).
    pub(crate) recv_turn: u32,
    /// Whether a receiving chain CKr exists.
    pub(crate) recv_chain: bool,
    /// Nr.
    pub(crate) recv_n: u32,
    /// Earlier receiving ratchet keys, oldest first.
    pub(crate) previous: VecDeque<u32>,
    /// Skipped message keys `(turn, N)`, oldest first.
    pub(crate) skipped: VecDeque<(u32, u32)>,
}

impl ChainModel {
    /// The initiator right after `initiate`: it sent `(1, 0)` and knows the
    /// signed prekey (turn 0) as DHr, without a receiving chain.
    pub(crate) fn initiator() -> Self {
        Self {
            send_turn: 1,
            send_n: 1,
            send_pn: 0,
            recv_turn: 0,
            recv_chain: false,
            recv_n: 0,
            previous: VecDeque::new(),
            skipped: VecDeque::new(),
        }
    }

    /// The responder right after `respond` decrypted `(1, 0)`.
    pub(crate) fn responder() -> Self {
        Self {
            send_turn: 2,
            send_n: 0,
            send_pn: 0,
            recv_turn: 1,
            recv_chain: true,
            recv_n: 1,
            previous: VecDeque::new(),
            skipped: VecDeque::new(),
        }
    }

    /// The header `(turn, PN, N)` of the next message sent; advances Ns.
    pub(crate) fn send(&mut self) -> (u32, u32, u32) {
        let header = (self.send_turn, self.send_pn, self.send_n);
        self.send_n += 1;
        header
    }

    /// Predicts the outcome of receiving `msg`: the next state, or the error
    /// class. `self` is not changed (a rejected message changes nothing).
    pub(crate) fn receive(&self, msg: &Incoming) -> Result<Accepted, &'static str> {
        let n = msg.message_number;
        // 1. A stored skipped key: used, and deleted only on success.
        if let KeyRef::Turn(turn) = msg.key
            && let Some(index) = self.skipped.iter().position(|&k| k == (turn, n))
        {
            if !msg.authentic {
                return Err(DECRYPTION_FAILED);
            }
            let mut next = self.clone();
            next.skipped.remove(index);
            return Ok(Accepted {
                next,
                ratchet_step: false,
            });
        }

        let mut next = self.clone();
        let mut new_skipped = Vec::new();
        let mut ratchet_step = false;
        // Whether the receiving chain the receiver derives is the sender's.
        let mut right_chain = msg.key == KeyRef::Turn(self.recv_turn) && self.recv_chain;
        if msg.key != KeyRef::Turn(self.recv_turn) {
            if let KeyRef::Turn(turn) = msg.key
                && self.previous.contains(&turn)
            {
                return Err(DUPLICATE);
            }
            // 2. Store the rest of the current chain up to PN, then ratchet.
            next.skip_until(msg.previous_chain_len, &mut new_skipped)?;
            if msg.key == KeyRef::LowOrder {
                return Err(LOW_ORDER_KEY);
            }
            // The chain is the sender's only if the sender answered this
            // receiver's current key (its turn is one more).
            right_chain = msg.key == KeyRef::Turn(self.send_turn + 1);
            if self.recv_chain {
                if next.previous.len() == MAX_PREVIOUS_RATCHET_KEYS {
                    next.previous.pop_front();
                }
                next.previous.push_back(self.recv_turn);
            }
            next.recv_turn = match msg.key {
                KeyRef::Turn(turn) => turn,
                // Never committed: the AEAD fails on a chain nobody has.
                KeyRef::Foreign | KeyRef::LowOrder => u32::MAX,
            };
            next.recv_chain = true;
            next.recv_n = 0;
            next.send_pn = self.send_n;
            next.send_n = 0;
            next.send_turn = next.recv_turn.wrapping_add(1);
            ratchet_step = true;
        }
        if n < next.recv_n {
            return Err(DUPLICATE);
        }
        if n == u32::MAX {
            return Err(RATCHET_LIMIT);
        }
        // 3. Store the keys before N in this chain, then the message key.
        next.skip_until(n, &mut new_skipped)?;
        if !next.recv_chain || !right_chain || !msg.authentic {
            return Err(DECRYPTION_FAILED);
        }
        next.recv_n = n + 1;
        for key in new_skipped {
            if next.skipped.len() == MAX_SKIPPED_KEYS {
                next.skipped.pop_front();
            }
            next.skipped.push_back(key);
        }
        Ok(Accepted { next, ratchet_step })
    }

    /// Records the keys of messages `recv_n .. until` of the current
    /// receiving chain; more than [`MAX_SKIP`] is `ratchet_limit`.
    fn skip_until(&mut self, until: u32, out: &mut Vec<(u32, u32)>) -> Result<(), &'static str> {
        if !self.recv_chain || until <= self.recv_n {
            return Ok(());
        }
        if until - self.recv_n > MAX_SKIP {
            return Err(RATCHET_LIMIT);
        }
        out.extend((self.recv_n..until).map(|n| (self.recv_turn, n)));
        self.recv_n = until;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn honest(turn: u32, pn: u32, n: u32) -> Incoming {
        Incoming {
            key: KeyRef::Turn(turn),
            previous_chain_len: pn,
            message_number: n,
            authentic: true,
        }
    }

    #[test]
    fn in_order_conversation_ratchets_turn_by_turn() {
        let mut alice = ChainModel::initiator();
        let mut bob = ChainModel::responder();
        let (t, pn, n) = alice.send();
        assert_eq!((t, pn, n), (1, 0, 1));
        bob = bob.receive(&honest(t, pn, n)).unwrap().next;
        let (t, pn, n) = bob.send();
        assert_eq!((t, pn, n), (2, 0, 0));
        let step = alice.receive(&honest(t, pn, n)).unwrap();
        assert!(step.ratchet_step);
        alice = step.next;
        assert_eq!(alice.send(), (3, 2, 0));
        assert!(alice.previous.is_empty(), "no receiving chain was retired");
    }

    #[test]
    fn replays_skips_and_limits() {
        let bob = ChainModel::responder();
        assert_eq!(bob.receive(&honest(1, 0, 0)).unwrap_err(), DUPLICATE);
        let later = bob.receive(&honest(1, 0, 5)).unwrap().next;
        assert_eq!(later.skipped.len(), 4);
        assert_eq!(later.receive(&honest(1, 0, 5)).unwrap_err(), DUPLICATE);
        let skipped = later.receive(&honest(1, 0, 3)).unwrap().next;
        assert_eq!(skipped.skipped.len(), 3);
        assert_eq!(
            bob.receive(&honest(1, 0, 1 + MAX_SKIP))
                .unwrap()
                .next
                .skipped
                .len(),
            1000
        );
        assert_eq!(
            bob.receive(&honest(1, 0, 2 + MAX_SKIP)).unwrap_err(),
            RATCHET_LIMIT
        );
        let tampered = Incoming {
            authentic: false,
            ..honest(1, 0, 3)
        };
        assert_eq!(later.receive(&tampered).unwrap_err(), DECRYPTION_FAILED);
        let low = Incoming {
            key: KeyRef::LowOrder,
            ..honest(1, 0, 3)
        };
        assert_eq!(later.receive(&low).unwrap_err(), LOW_ORDER_KEY);
    }

    #[test]
    fn a_stale_key_cannot_open_a_chain_two_turns_ahead() {
        // A copy taken while Bob sends on turn 2 opens turn 3, not turn 5.
        let bob = ChainModel::responder();
        assert!(bob.receive(&honest(3, 1, 0)).is_ok());
        assert_eq!(
            bob.receive(&honest(5, 0, 0)).unwrap_err(),
            DECRYPTION_FAILED
        );
    }
}
