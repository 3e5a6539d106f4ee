//! `conversation`: Alice and Bob exchange messages over a hostile network
//! driven by a schedule derived from the input with `arbitrary`: sends in
//! either direction, deliveries in any order, drops, duplicates, reorders,
//! tampering, and persist/restore of either party (plain or sealed state).
//!
//! At most [`MAX_OPS`] operations and [`MAX_TURNS`] changes of sender are
//! taken from one input.
//!
//! The fuzzer chooses every field the session API takes: the plaintexts of
//! [`Op::SendChosen`] (their first bytes and their length, any length up to
//! the 1 MiB maximum, within [`CHOSEN_BUDGET`] bytes per run; most values
//! above the maximum give short lengths, [`chosen_len`]), and the
//! storage key and salt of [`Op::PersistChosen`]. Every message sent is
//! compared byte for byte with the independent model of SPEC.md
//! (`sealwire-specmodel`) from the state before it, every accepted or
//! rejected message is received by the model too, and every sealed state
//! re-derives under its storage key: a deviation that needs a rare
//! plaintext prefix, length or key shape shows as soon as the fuzzer
//! reaches it (comparison tracing passes 4-byte magic values).
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

/// The plaintext bytes that [`Op::SendChosen`] may send in one run, in all:
/// one message of the maximum size and some. Past it, a chosen length is
/// taken modulo 4,096 (keeps a run of 64 large sends from taking seconds).
pub const CHOSEN_BUDGET: usize = sealwire::MAX_PLAINTEXT_LEN + 64 * 1024;

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
    /// One party encrypts a plaintext the fuzzer chose: `head` then `fill`
    /// repeated, of the length that [`chosen_len`] makes of `len` (see
    /// also [`CHOSEN_BUDGET`]).
    SendChosen {
        /// Bob sends (else Alice).
        from_bob: bool,
        /// The plaintext length: exact up to
        /// [`MAX_PLAINTEXT_LEN`](sealwire::MAX_PLAINTEXT_LEN), a size class
        /// above it ([`chosen_len`]).
        len: u32,
        /// The plaintext's first bytes (as many as its length).
        head: [u8; 8],
        /// The byte after them.
        fill: u8,
    },
    /// A party saves its state sealed under a storage key and with a salt
    /// the fuzzer chose, and is restored from it.
    PersistChosen {
        /// Bob (else Alice).
        bob: bool,
        /// The storage key.
        key: [u8; 32],
        /// The salt the generator gives the seal.
        salt: [u8; 32],
    },
}

/// The plaintext length of [`Op::SendChosen`]'s `len`: the value itself up
/// to [`MAX_PLAINTEXT_LEN`](sealwire::MAX_PLAINTEXT_LEN), so that every
/// length is reachable and a length the library compares with (a limit, a
/// size class) reaches the input as it is through comparison tracing.
/// Above it, where nearly every value a mutation makes lies, a size class:
/// `b = (len >> 27) % 17`, and the low `b` bits of `len`, a length below
/// 2^b (at most 64 KiB - 1). Taking those values modulo the maximum
/// instead made half a megabyte the average chosen plaintext, and the
/// campaign spent its time in ChaCha20 over fill bytes (fuzz/README.md,
/// "Speed").
pub fn chosen_len(len: u32) -> usize {
    let len = len as usize;
    if len <= sealwire::MAX_PLAINTEXT_LEN {
        return len;
    }
    let class = (len >> 27) % 17;
    len & ((1 << class) - 1)
}

/// The plaintext of [`Op::SendChosen`]; `budget` is what is left of
/// [`CHOSEN_BUDGET`], reduced by the length taken.
fn chosen_plaintext(len: u32, head: &[u8; 8], fill: u8, budget: &mut usize) -> Vec<u8> {
    let mut len = chosen_len(len);
    if len > *budget {
        len %= 4096;
    }
    *budget = budget.saturating_sub(len);
    let mut pt = vec![fill; len];
    let n = len.min(head.len());
    pt[..n].copy_from_slice(&head[..n]);
    pt
}

/// A generator that gives the fuzzer's salt (then zeros): the seal draws
/// its 32-byte salt from it.
struct ChosenSalt([u8; 32], usize);

impl rand_core::TryRng for ChosenSalt {
    type Error = core::convert::Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        rand_core::utils::next_word_via_fill(self)
    }

    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        rand_core::utils::next_word_via_fill(self)
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
        for b in dst {
            *b = self.0.get(self.1).copied().unwrap_or(0);
            self.1 += 1;
        }
        Ok(())
    }
}

impl rand_core::TryCryptoRng for ChosenSalt {}

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
        let mut budget = CHOSEN_BUDGET;

        for (index, op) in ops.iter().enumerate() {
            super::freed::phase(index as u32 + 1);
            match *op {
                Op::Send { from_bob, len } => {
                    let pt = fixture::plaintext(1000 + sent.len() as u64, usize::from(len));
                    // The harness drew it: a leak wherever it shows.
                    run.scanner.add_plaintext("plaintext", &pt);
                    let (from_bob, party) =
                        sender(from_bob, &mut last_sender, &mut turns, &mut alice, &mut bob);
                    send(run, index, party, from_bob, pt, &mut flights, &mut sent)?;
                }
                Op::SendChosen {
                    from_bob,
                    len,
                    head,
                    fill,
                } => {
                    // Not registered: the fuzzer knows it, and the fixed
                    // sessions give one key stream per position, which it
                    // can learn from a comparison and copy into the next
                    // plaintext. The model's byte-exact recomputation of
                    // the message leaves no room for a leak of it instead.
                    let pt = chosen_plaintext(len, &head, fill, &mut budget);
                    let (from_bob, party) =
                        sender(from_bob, &mut last_sender, &mut turns, &mut alice, &mut bob);
                    send(run, index, party, from_bob, pt, &mut flights, &mut sent)?;
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
                    if sealed {
                        let key = parties.storage_key;
                        persist_sealed(run, index, party, &key, &mut salt_rng, &mut outputs)?;
                    } else {
                        let state = party.session.to_bytes();
                        let restored = Session::from_bytes(&state)
                            .map_err(|e| run.broken(format!("op {index}: restore failed: {e}")))?;
                        run.ensure(restored.to_bytes() == state, || {
                            format!("op {index}: the restored state differs from the saved one")
                        })?;
                        party.session = restored;
                    }
                }
                Op::PersistChosen {
                    bob: is_bob,
                    key,
                    salt,
                } => {
                    // The key is the fuzzer's (tainted): it must not show in
                    // the sealed body, which no input can echo.
                    run.scanner.supplied(&key);
                    run.scanner.supplied(&salt);
                    run.scanner.add_secret("chosen storage key", &key);
                    let party = if is_bob { &mut bob } else { &mut alice };
                    let mut salt = ChosenSalt(salt, 0);
                    persist_sealed(run, index, party, &key, &mut salt, &mut outputs)?;
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
            // Version and salt (the fuzzer may choose the salt), then the
            // body and tag, sealed in this run (SPEC.md §9.2).
            let (head, body) = output.split_at(output.len().min(33));
            run.scanner
                .check_bytes(&format!("sealed state {i}"), head)?;
            run.scanner
                .check_sealed(&format!("sealed state {i} (body and tag)"), body)?;
        }
        run.scanner
            .check_debug_compact("Debug of Alice's Session", &alice.session)?;
        run.scanner
            .check_debug_compact("Debug of Bob's Session", &bob.session)?;
        Ok(())
    })
}

/// The party that sends next: `from_bob` unless that would change the
/// sender more than [`MAX_TURNS`] times.
fn sender<'a>(
    from_bob: bool,
    last_sender: &mut Option<bool>,
    turns: &mut usize,
    alice: &'a mut Party,
    bob: &'a mut Party,
) -> (bool, &'a mut Party) {
    let from_bob = match *last_sender {
        Some(last) if last != from_bob && *turns >= MAX_TURNS => last,
        Some(last) if last != from_bob => {
            *turns += 1;
            from_bob
        }
        _ => from_bob,
    };
    *last_sender = Some(from_bob);
    (from_bob, if from_bob { bob } else { alice })
}

/// `party` encrypts `pt` (the plain form, as applications call it); the
/// message must be the model's for the state before, and goes in flight.
fn send(
    run: &mut Run,
    index: usize,
    party: &mut Party,
    from_bob: bool,
    pt: Vec<u8>,
    flights: &mut Vec<Flight>,
    sent: &mut Vec<Sent>,
) -> Outcome {
    fixture::register_session(&mut run.scanner, "sender", &party.session);
    let before = party.session.to_bytes();
    let message = party
        .session
        .encrypt(&pt)
        .map_err(|e| run.broken(format!("op {index}: encrypt failed: {e}")))?;
    run.spec_sent(
        &format!("op {index}: encrypt of {} bytes", pt.len()),
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
    Ok(())
}

/// `party` seals its state under `key` with a salt from `salt_rng`, and is
/// restored from the sealed bytes: the model must seal alike and open them
/// to the same state, and the restored state must serialize to the saved.
fn persist_sealed<R: rand_core::CryptoRng>(
    run: &mut Run,
    index: usize,
    party: &mut Party,
    key: &[u8; 32],
    salt_rng: &mut R,
    outputs: &mut Vec<Vec<u8>>,
) -> Outcome {
    let state = party.session.to_bytes();
    let storage_key = sealwire::StorageKey::from_bytes(*key);
    let blob = party.session.seal_state_with_rng(&storage_key, salt_rng);
    run.spec_sealed(&format!("op {index}: seal_state"), key, &state, &blob)?;
    let restored = Session::open_state(&storage_key, &blob)
        .map_err(|e| run.broken(format!("op {index}: restore failed: {e}")))?;
    let restored_bytes = restored.to_bytes();
    run.ensure(restored_bytes == state, || {
        format!("op {index}: the restored state differs from the saved one")
    })?;
    run.spec_opened(
        &format!("op {index}: open_state"),
        key,
        &blob,
        &restored_bytes,
    )?;
    outputs.push(blob);
    party.session = restored;
    Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chosen_plaintext_is_its_head_then_its_fill_within_the_budget() {
        let head = *b"\x7fSW!abcd";
        let mut budget = CHOSEN_BUDGET;
        assert_eq!(chosen_plaintext(3, &head, 9, &mut budget), b"\x7fSW");
        let pt = chosen_plaintext(12, &head, 9, &mut budget);
        assert_eq!(pt, b"\x7fSW!abcd\x09\x09\x09\x09");
        assert_eq!(budget, CHOSEN_BUDGET - 15);
        // Every length up to the maximum as it is; above it, size classes.
        let max = sealwire::MAX_PLAINTEXT_LEN as u32;
        assert_eq!(
            chosen_plaintext(max, &head, 0, &mut budget).len(),
            max as usize
        );
        assert_eq!(chosen_len(max + 1), 0, "class 0");
        assert_eq!(
            chosen_len((3 << 27) | 0x07ff_fff8),
            0,
            "class 3, low bits 0"
        );
        assert_eq!(chosen_len((3 << 27) | 5), 5, "class 3");
        assert_eq!(
            chosen_len((16 << 27) | 0xffff),
            0xffff,
            "class 16, the largest"
        );
        assert_eq!(
            chosen_len((20 << 27) | 0x1234),
            0x1234 & 7,
            "class 20 % 17 = 3"
        );
        assert!(
            (max + 1..=u32::MAX)
                .step_by(9973)
                .all(|len| chosen_len(len) < 1 << 16)
        );
        // Past the budget, lengths fall below 4,096.
        let large = chosen_plaintext(max - 1, &head, 0, &mut budget);
        assert_eq!(large.len(), (max as usize - 1) % 4096);
    }

    #[test]
    fn a_chosen_salt_is_the_sealed_states_salt() {
        let parties = fixture::parties();
        let salt: [u8; 32] = core::array::from_fn(|i| i as u8 ^ 0x5c);
        let sealed = parties
            .alice_session
            .seal_state_with_rng(&parties.storage_key(), &mut ChosenSalt(salt, 0));
        assert_eq!(sealed[1..33], salt);
    }

    #[test]
    fn chosen_sends_of_every_size_class_and_a_chosen_storage_key_pass() {
        let ops = [
            Op::SendChosen {
                from_bob: false,
                len: sealwire::MAX_PLAINTEXT_LEN as u32,
                head: *b"largest!",
                fill: 1,
            },
            Op::SendChosen {
                from_bob: true,
                len: 4097,
                head: [0x7f; 8],
                fill: 2,
            },
            Op::Deliver {
                pick: 1,
                in_place: true,
            },
            Op::PersistChosen {
                bob: true,
                key: core::array::from_fn(|i| i as u8 + 1),
                salt: [0xee; 32],
            },
            Op::Tamper {
                pick: 0,
                at: 0xfff0,
                xor: 4,
            },
        ];
        run_schedule(&ops).expect("the reference passes");
    }

    /// With the planted flaw on, the oracle fails the schedule that carries
    /// its trigger (what `fuzz/magic-campaign.sh` times the fuzzer to find).
    #[cfg(feature = "planted-flaws")]
    #[test]
    fn a_chosen_magic_prefix_shows_a_flaw_that_needs_it() {
        use sealwire::flaws::{self, Flaw};
        let send = |head| Op::SendChosen {
            from_bob: false,
            len: 40,
            head,
            fill: 0,
        };
        let magic: [u8; 8] = *b"\x7fSW!\0\0\0\0";
        let mut other = magic;
        other[3] ^= 1;
        flaws::with(Flaw::MagicPlaintextNoAdvance, || {
            run_schedule(&[send(other), send(other)]).expect("dormant without its trigger");
            let violation =
                run_schedule(&[send(magic), send(other)]).expect_err("the trigger shows the flaw");
            assert!(violation.to_string().contains("encrypt"), "{violation}");
        });
    }
}
