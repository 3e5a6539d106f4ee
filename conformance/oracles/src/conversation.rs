//! `conversation`: Alice and Bob exchange messages over a hostile network
//! driven by a schedule derived from the input with `arbitrary`: sends in
//! either direction, deliveries in any order, drops, duplicates, reorders,
//! tampering, and persist/restore of either party (plain or sealed state).
//!
//! At most [`MAX_OPS`] operations and [`MAX_TURNS`] changes of sender are
//! taken from one input.
//!
//! Checked: every authentic message that is delivered decrypts exactly once,
//! to its plaintext (at the end, every authentic message not dropped is
//! delivered); a replay is `duplicate` while its chain is remembered (the
//! current receiving chain and the 16 before it) and `decryption_failed`
//! after; a tampered message is rejected; every rejection leaves the
//! receiver byte-identical; a restored state serializes to the bytes it was
//! restored from; and no message, sealed state, error or `Debug` output
//! contains any secret in play or any plaintext sent.

use arbitrary::{Arbitrary, Unstructured};
use sealwire::{ErrorClass, MAX_PREVIOUS_RATCHET_KEYS, Session};

use super::decrypt::decrypt;
use super::fixture::{self, FixtureRng};
use super::{Outcome, Run, Target};

/// At most this many operations are taken from one input (keeps every run
/// far below the skip limits and fast enough to fuzz).
pub const MAX_OPS: usize = 64;

/// At most this many changes of sender per schedule: each new turn costs
/// a DH ratchet step (three X25519 operations) at the receiver, which
/// dominates the run time. Later sends keep the current sender.
pub const MAX_TURNS: usize = 6;

/// One step of the schedule.
#[derive(Arbitrary, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// One party encrypts a new message of `len` bytes.
    Send {
        /// Bob sends (else Alice).
        from_bob: bool,
        /// Plaintext length.
        len: u8,
    },
    /// The network delivers one message in flight.
    Deliver {
        /// Which (modulo the number in flight).
        pick: u8,
        /// Use the in-place decryption API.
        in_place: bool,
    },
    /// The network loses one message in flight.
    Drop {
        /// Which.
        pick: u8,
    },
    /// The network delivers a copy of a message later again.
    Duplicate {
        /// Which.
        pick: u8,
    },
    /// The network swaps two messages in flight.
    Reorder {
        /// First.
        a: u8,
        /// Second.
        b: u8,
    },
    /// An attacker changes one byte of a message in flight (a tampered
    /// copy is added; the original stays in flight).
    Tamper {
        /// Which.
        pick: u8,
        /// Where (modulo the length).
        at: u16,
        /// The xor mask (0 is taken as 1).
        xor: u8,
    },
    /// A party saves its state and is restored from it.
    PersistRestore {
        /// Bob (else Alice).
        bob: bool,
        /// Through the sealed form (else the plain form).
        sealed: bool,
    },
}

/// Decodes the schedule from fuzz input.
pub fn schedule(data: &[u8]) -> Vec<Op> {
    let mut u = Unstructured::new(data);
    let mut ops = Vec::new();
    while ops.len() < MAX_OPS && !u.is_empty() {
        match Op::arbitrary(&mut u) {
            Ok(op) => ops.push(op),
            Err(_) => break,
        }
    }
    ops
}

struct Party {
    session: Session,
    rng: FixtureRng,
    /// The ratchet keys of the receiving chains, oldest first.
    chains: Vec<[u8; 32]>,
}

#[derive(Clone)]
struct Flight {
    to_bob: bool,
    bytes: Vec<u8>,
    /// The authentic message this is (None: tampered).
    id: Option<usize>,
}

struct Sent {
    plaintext: Vec<u8>,
    message: Vec<u8>,
    to_bob: bool,
    delivered: u32,
    dropped: bool,
}

fn ratchet_key(message: &[u8]) -> Option<[u8; 32]> {
    message.get(1..33)?.try_into().ok()
}

/// Runs the oracle on `data`.
pub fn run(data: &[u8]) -> Outcome {
    let ops = schedule(data);
    run_schedule(&ops)
}

/// Runs the oracle on a schedule.
pub fn run_schedule(ops: &[Op]) -> Outcome {
    let parties = fixture::parties();
    Run::new(Target::Conversation).execute(|run| {
        let bob_first_chain = ratchet_key(
            &sealwire::InitialMessage::decode(&parties.initial)
                .map_err(|e| run.broken(format!("fixture: {e}")))?
                .message,
        )
        .ok_or_else(|| run.broken("fixture: short initial message"))?;
        let mut alice = Party {
            session: sealwire::Session::from_bytes(&parties.alice_session.to_bytes())
                .expect("a session restores from its own bytes"),
            rng: FixtureRng::from_seed(fixture::FIXTURE_SEED + 50),
            chains: Vec::new(),
        };
        let mut bob = Party {
            session: sealwire::Session::from_bytes(&parties.bob_session.to_bytes())
                .expect("a session restores from its own bytes"),
            rng: FixtureRng::from_seed(fixture::FIXTURE_SEED + 51),
            chains: vec![bob_first_chain],
        };
        // Every ratchet step draws one key: register enough of them.
        let steps = MAX_TURNS + 2;
        fixture::register_draws(&mut run.scanner, &alice.rng, steps);
        fixture::register_draws(&mut run.scanner, &bob.rng, steps);
        let mut salt_rng = FixtureRng::from_seed(fixture::FIXTURE_SEED + 52);
        let mut flights: Vec<Flight> = Vec::new();
        let mut sent: Vec<Sent> = Vec::new();
        let mut outputs: Vec<Vec<u8>> = Vec::new();
        let mut turns = 0;
        let mut last_sender: Option<bool> = None;

        for (index, op) in ops.iter().enumerate() {
            super::freed::phase(index as u32 + 1);
            match *op {
                Op::Send { from_bob, len } => {
                    let from_bob = match last_sender {
                        Some(last) if last != from_bob && turns >= MAX_TURNS => last,
                        Some(last) if last != from_bob => {
                            turns += 1;
                            from_bob
                        }
                        _ => from_bob,
                    };
                    last_sender = Some(from_bob);
                    let party = if from_bob { &mut bob } else { &mut alice };
                    fixture::register_session(&mut run.scanner, "sender", &party.session);
                    let pt = fixture::plaintext(1000 + sent.len() as u64, usize::from(len));
                    run.scanner.add_plaintext("plaintext", &pt);
                    let before = party.session.to_bytes();
                    let message = party
                        .session
                        .encrypt(&pt)
                        .map_err(|e| run.broken(format!("op {index}: encrypt failed: {e}")))?;
                    run.spec_sent(
                        &format!("op {index}: encrypt"),
                        &before,
                        &pt,
                        &message,
                        &party.session.to_bytes(),
                    )?;
                    flights.push(Flight {
                        to_bob: !from_bob,
                        bytes: message.clone(),
                        id: Some(sent.len()),
                    });
                    sent.push(Sent {
                        plaintext: pt,
                        message,
                        to_bob: !from_bob,
                        delivered: 0,
                        dropped: false,
                    });
                }
                Op::Deliver { pick, in_place } => {
                    if flights.is_empty() {
                        continue;
                    }
                    let flight = flights.remove(usize::from(pick) % flights.len());
                    deliver(
                        run, index, &mut alice, &mut bob, &mut sent, &flight, in_place,
                    )?;
                }
                Op::Drop { pick } => {
                    if flights.is_empty() {
                        continue;
                    }
                    let flight = flights.remove(usize::from(pick) % flights.len());
                    if let Some(id) = flight.id
                        && !flights.iter().any(|f| f.id == Some(id))
                    {
                        sent[id].dropped = true;
                    }
                }
                Op::Duplicate { pick } => {
                    if sent.is_empty() {
                        continue;
                    }
                    // A copy of authentic message `id`, delivered or not.
                    let id = usize::from(pick) % sent.len();
                    flights.push(Flight {
                        to_bob: sent[id].to_bob,
                        bytes: sent[id].message.clone(),
                        id: Some(id),
                    });
                    sent[id].dropped = false;
                }
                Op::Reorder { a, b } => {
                    if !flights.is_empty() {
                        let n = flights.len();
                        flights.swap(usize::from(a) % n, usize::from(b) % n);
                    }
                }
                Op::Tamper { pick, at, xor } => {
                    if flights.is_empty() {
                        continue;
                    }
                    let mut copy = flights[usize::from(pick) % flights.len()].clone();
                    let at = usize::from(at) % copy.bytes.len();
                    copy.bytes[at] ^= xor.max(1);
                    // Tampering a tampered copy can restore an authentic
                    // message byte for byte: then it is that message again.
                    copy.id = sent.iter().position(|s| s.message == copy.bytes);
                    flights.push(copy);
                }
                Op::PersistRestore {
                    bob: is_bob,
                    sealed,
                } => {
                    let party = if is_bob { &mut bob } else { &mut alice };
                    let state = party.session.to_bytes();
                    let restored = if sealed {
                        let key = parties.storage_key();
                        let blob = party.session.seal_state_with_rng(&key, &mut salt_rng);
                        outputs.push(blob.clone());
                        Session::open_state(&key, &blob)
                    } else {
                        Session::from_bytes(&state)
                    }
                    .map_err(|e| run.broken(format!("op {index}: restore failed: {e}")))?;
                    run.ensure(restored.to_bytes() == state, || {
                        format!("op {index}: the restored state differs from the saved one")
                    })?;
                    party.session = restored;
                }
            }
        }
        // The network finally delivers everything still in flight.
        super::freed::phase(0);
        for (index, flight) in core::mem::take(&mut flights).iter().enumerate() {
            deliver(
                run,
                ops.len() + index,
                &mut alice,
                &mut bob,
                &mut sent,
                flight,
                false,
            )?;
        }
        for (id, s) in sent.iter().enumerate() {
            run.ensure(s.dropped || s.delivered == 1, || {
                format!(
                    "message {id} was decrypted {} times (not dropped)",
                    s.delivered
                )
            })?;
        }
        // Leaks: every output against every secret seen in the whole run.
        fixture::register_session(&mut run.scanner, "Alice's session", &alice.session);
        fixture::register_session(&mut run.scanner, "Bob's session", &bob.session);
        for (i, s) in sent.iter().enumerate() {
            run.scanner
                .check_bytes(&format!("message {i}"), &s.message)?;
        }
        for (i, output) in outputs.iter().enumerate() {
            run.scanner
                .check_bytes(&format!("sealed state {i}"), output)?;
        }
        run.scanner
            .check_debug_compact("Debug of Alice's Session", &alice.session)?;
        run.scanner
            .check_debug_compact("Debug of Bob's Session", &bob.session)?;
        Ok(())
    })
}

fn deliver(
    run: &mut Run,
    index: usize,
    alice: &mut Party,
    bob: &mut Party,
    sent: &mut [Sent],
    flight: &Flight,
    in_place: bool,
) -> Outcome {
    let party = if flight.to_bob { bob } else { alice };
    let before = party.session.to_bytes();
    let key = ratchet_key(&flight.bytes);
    let result = decrypt(&mut party.session, &flight.bytes, in_place, &mut party.rng);
    let accepted = result.is_ok();
    let what = format!("op {index}: decrypt");
    match &result {
        Ok(plaintext) => run.spec_received(
            &what,
            &before,
            &flight.bytes,
            Ok((plaintext, &party.session.to_bytes())),
        )?,
        Err((e, _)) => run.spec_received(&what, &before, &flight.bytes, Err(e))?,
    }
    match (flight.id, result) {
        (Some(id), Ok(plaintext)) => {
            run.ensure(sent[id].delivered == 0, || {
                format!("op {index}: message {id} decrypted a second time")
            })?;
            run.ensure(plaintext == sent[id].plaintext, || {
                format!("op {index}: message {id} decrypted to another plaintext")
            })?;
            sent[id].delivered += 1;
            if let Some(key) = key
                && !party.chains.contains(&key)
            {
                party.chains.push(key);
            }
            fixture::register_session(&mut run.scanner, "receiver", &party.session);
        }
        (Some(id), Err((e, untouched))) => {
            run.ensure(sent[id].delivered > 0, || {
                format!("op {index}: authentic message {id} rejected: {e}")
            })?;
            let remembered = key.is_some_and(|key| {
                party
                    .chains
                    .iter()
                    .rev()
                    .take(MAX_PREVIOUS_RATCHET_KEYS + 1)
                    .any(|k| *k == key)
            });
            let expected = if remembered {
                ErrorClass::Duplicate
            } else {
                ErrorClass::DecryptionFailed
            };
            run.error(&format!("op {index}: replay of {id}"), &e, &[expected])?;
            run.ensure(untouched, || {
                format!("op {index}: a rejected replay changed the in-place buffer")
            })?;
        }
        (None, Ok(_)) => {
            return Err(run.broken(format!("op {index}: a tampered message decrypted")));
        }
        (None, Err((e, untouched))) => {
            run.scanner
                .check_error(&format!("op {index}: tampered"), &e)?;
            run.ensure(untouched, || {
                format!("op {index}: a rejected message changed the in-place buffer")
            })?;
        }
    }
    run.ensure(accepted || party.session.to_bytes() == before, || {
        format!("op {index}: a rejected message changed the receiver's state")
    })
}
