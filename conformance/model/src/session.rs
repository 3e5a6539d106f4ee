//! Runs one [`Case`]: the handshake, the schedule, then delivery of
//! everything still in flight, checking every property at every step.

mod attacker;
mod coverage;
mod delivery;
mod spec;

use attacker::Copy;
pub use coverage::{Coverage, Tolerance};

use core::fmt;
use std::collections::{HashMap, HashSet};

use sealwire::hazmat::KeyPair;
use sealwire::{PreKeyBundle, PublicKey};

use super::driver::{Driver, KeySource, LOW_ORDER_POINTS, Parties, is_canonical};
use super::model::{
    self, Accepted, ChainModel, DUPLICATE, Incoming, KeyRef, MAX_SKIPPED_KEYS, RATCHET_LIMIT,
};
use super::schedule::{Case, Op, Party, Tamper};
use super::{Property, Violation};
use sealwire_adapter::Implementation;
use sealwire_adapter::hex::Bytes;
use sealwire_adapter::{Capability, PreKeySecret, Request};

/// `header || ciphertext || tag` overhead of a ratchet message.
const OVERHEAD: usize = 57;
const HEADER_LEN: usize = 41;
/// Longest ratchet message: a 1 MiB plaintext plus the overhead.
const MAX_MESSAGE_LEN: usize = (1 << 20) + OVERHEAD;
/// The initial message's X3DH prefix without (with) a one-time prekey id.
pub(crate) const INITIAL_PREFIX_LEN: usize = 70;
pub(crate) const SIGNED_PREKEY_ID: u32 = 1;
pub(crate) const ONE_TIME_PREKEY_ID: u32 = 100;

/// Runs `case` against `imp`; frees every handle it created.
pub(crate) fn run(
    imp: &mut dyn Implementation,
    case: &Case,
    tolerance: Tolerance,
) -> Result<Coverage, Violation> {
    let mut driver = Driver::new(imp);
    let result = World::start(&mut driver, case).and_then(|mut world| {
        world.tolerance = tolerance;
        match world.run(&case.ops) {
            Ok(()) => Ok(world.coverage),
            Err(mut violation) => {
                violation.narration = std::mem::take(&mut world.log);
                Err(violation)
            }
        }
    });
    driver.free_all();
    result
}

/// A message sent by an honest party.
struct Sent {
    from: Party,
    bytes: Vec<u8>,
    plaintext: Vec<u8>,
    turn: u32,
    /// How often it decrypted at its recipient.
    accepted: u32,
    /// Whether the network delivered it (honestly) at least once.
    delivered: bool,
    /// Why its first honest delivery was rejected (the model's class), if it was.
    rejection: Option<String>,
}

/// An honest party: its session handle, its model and what it received.
struct Side {
    session: String,
    model: ChainModel,
    received: Vec<usize>,
}

/// How a delivered message came about.
#[derive(Clone, Copy, Debug)]
enum Origin {
    Honest(usize),
    Replay(usize),
    Tampered(usize),
    Reflected(usize),
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Honest(id) => write!(f, "message {id}"),
            Self::Replay(id) => write!(f, "replayed message {id}"),
            Self::Tampered(id) => write!(f, "tampered copy of message {id}"),
            Self::Reflected(id) => write!(f, "message {id} reflected to its sender"),
        }
    }
}

struct World<'d, 'i> {
    driver: &'d mut Driver<'i>,
    keys: KeySource,
    sides: [Side; 2],
    sent: Vec<Sent>,
    in_flight: Vec<usize>,
    delivered: Vec<usize>,
    /// Every honest message, for authenticity and freshness checks.
    by_bytes: HashMap<Vec<u8>, usize>,
    bodies: HashSet<Vec<u8>>,
    /// Honest ratchet keys by turn, and back.
    key_of_turn: HashMap<u32, [u8; 32]>,
    turn_of_key: HashMap<[u8; 32], u32>,
    copies: Vec<Copy>,
    coverage: Coverage,
    tolerance: Tolerance,
    /// What each step did, in words (`note`).
    log: Vec<String>,
}

fn public_key(private: &[u8; 32]) -> [u8; 32] {
    *KeyPair::from_secret_bytes(*private).public().as_bytes()
}

fn secret(id: u32, key: &[u8; 32]) -> PreKeySecret {
    PreKeySecret {
        id,
        private_key: Bytes::from(*key),
    }
}

impl<'d, 'i> World<'d, 'i> {
    /// X3DH; the initial message is delivered first and reliably.
    fn start(driver: &'d mut Driver<'i>, case: &Case) -> Result<Self, Violation> {
        let mut keys = KeySource::new(case.seed);
        let Parties {
            alice_seed,
            bob_seed,
            spk_secret,
            opk_secret,
            bob,
            spk,
            opk,
        } = Parties::draw(&mut keys, case.one_time_prekey);
        let bundle = PreKeyBundle::new(&bob, &spk, opk.as_ref()).to_bytes();

        let out = driver.expect_ok(
            Property::Handshake,
            Request::PrekeyStoreCreate {
                identity_seed: Bytes::from(bob_seed),
                signed_prekeys: vec![secret(SIGNED_PREKEY_ID, &spk_secret)],
                one_time_prekeys: opk
                    .iter()
                    .map(|_| secret(ONE_TIME_PREKEY_ID, &opk_secret))
                    .collect(),
            },
        )?;
        let store = driver.handle(&out, "store")?;
        let first = case.first.bytes();
        let alice_ratchet = {
            let ephemeral = keys.next();
            let ratchet = keys.next();
            let out = driver.expect_ok(
                Property::Handshake,
                Request::Initiate {
                    identity_seed: Bytes::from(alice_seed),
                    bundle: Bytes(bundle),
                    ephemeral_private_key: Bytes::from(ephemeral),
                    ratchet_private_key: Bytes::from(ratchet),
                    plaintext: Bytes(first.clone()),
                },
            )?;
            let session = driver.handle(&out, "session")?;
            let initial = driver.bytes(&out, "initial_message")?;
            if initial.get(33..65) != Some(&public_key(&ephemeral)[..]) {
                return Err(driver.violation(
                    Property::Model,
                    "the initial message does not carry the ephemeral key the runner supplied",
                ));
            }
            (session, initial, public_key(&ratchet))
        };
        let (alice_session, initial, alice_key) = alice_ratchet;
        let bob_ratchet = keys.next();
        let out = driver.expect_ok(
            Property::Handshake,
            Request::Respond {
                store: store.clone(),
                initial_message: Bytes(initial.clone()),
                ratchet_private_key: Bytes::from(bob_ratchet),
            },
        )?;
        let bob_session = driver.handle(&out, "session")?;
        if driver.bytes(&out, "plaintext")? != first {
            return Err(driver.violation(
                Property::Delivery,
                "the initial message decrypted to a different plaintext",
            ));
        }
        driver.free(&store)?;

        let prefix = INITIAL_PREFIX_LEN + if case.one_time_prekey { 4 } else { 0 };
        if initial.len() != prefix + first.len() + OVERHEAD {
            return Err(driver.violation(
                Property::Length,
                format!(
                    "initial message of {} bytes for a {}-byte plaintext (expected {})",
                    initial.len(),
                    first.len(),
                    prefix + first.len() + OVERHEAD
                ),
            ));
        }
        let embedded = initial[prefix..].to_vec();
        let mut world = Self {
            driver,
            keys,
            sides: [
                Side {
                    session: alice_session,
                    model: ChainModel::initiator(),
                    received: Vec::new(),
                },
                Side {
                    session: bob_session,
                    model: ChainModel::responder(),
                    received: vec![0],
                },
            ],
            sent: Vec::new(),
            in_flight: Vec::new(),
            delivered: vec![0],
            by_bytes: HashMap::new(),
            bodies: HashSet::new(),
            key_of_turn: HashMap::new(),
            turn_of_key: HashMap::new(),
            copies: Vec::new(),
            coverage: Coverage::default(),
            tolerance: Tolerance::default(),
            log: Vec::new(),
        };
        world.register_key(0, *spk.public().as_bytes())?;
        world.register_key(1, alice_key)?;
        world.register_key(2, public_key(&bob_ratchet))?;
        // The first ratchet message, embedded in the initial message.
        world.record_sent(Party::Alice, embedded, first, (1, 0, 0))?;
        world.sent[0].accepted = 1;
        world.sent[0].delivered = true;
        Ok(world)
    }

    fn run(&mut self, ops: &[Op]) -> Result<(), Violation> {
        for (step, op) in ops.iter().enumerate() {
            self.driver.step = Some(step);
            self.apply(op)?;
            self.check_skipped_stores()?;
        }
        // Finally everything still in flight arrives, in order.
        self.driver.step = Some(ops.len());
        if !self.in_flight.is_empty() {
            let left: Vec<String> = self.in_flight.iter().map(|&id| self.message(id)).collect();
            self.note(format!(
                "the network delivers everything still in flight, in order: {}",
                left.join(", ")
            ));
        }
        while !self.in_flight.is_empty() {
            let id = self.in_flight.remove(0);
            self.deliver_honestly(id)?;
        }
        self.check_skipped_stores()?;
        self.check_exactly_once()
    }

    /// Adds what a step does, in words, to the run's narration (the
    /// report of a violation prints it instead of the raw selectors).
    fn note(&mut self, text: String) {
        let step = self.driver.step.unwrap_or(0);
        self.log.push(format!("step {step:>3}: {text}"));
    }

    /// `message N (Alice to Bob)`.
    fn message(&self, id: usize) -> String {
        let from = self.sent[id].from;
        format!("message {id} ({from:?} to {:?})", from.peer())
    }

    fn apply(&mut self, op: &Op) -> Result<(), Violation> {
        match op {
            Op::Send { from, plaintext } => {
                let id = self.sent.len();
                self.note(format!(
                    "{from:?} sends message {id} ({}); it goes in flight",
                    plaintext.describe()
                ));
                self.send(*from, plaintext.bytes()).map(drop)
            }
            Op::Converse { from, plaintext } => {
                let id = self.sent.len();
                self.note(format!(
                    "{from:?} sends message {id} ({}) and {:?} receives it at once",
                    plaintext.describe(),
                    from.peer()
                ));
                let id = self.send(*from, plaintext.bytes())?;
                self.in_flight.retain(|&m| m != id);
                self.deliver_honestly(id)
            }
            Op::Burst { from, count } => {
                let first = self.sent.len();
                let last = first + usize::from(*count).saturating_sub(1);
                self.note(match count {
                    0 => format!("{from:?} sends a burst of no messages"),
                    1 | 2 => format!(
                        "{from:?} sends {count} empty message(s), {first}..={last}; all go in flight"
                    ),
                    _ => format!(
                        "{from:?} sends {count} empty messages, {first}..={last}; the network \
                         drops all but {first} and {last}"
                    ),
                });
                for i in 0..*count {
                    let id = self.send(*from, Vec::new())?;
                    if i != 0 && i + 1 != *count {
                        self.in_flight.retain(|&m| m != id);
                    }
                }
                Ok(())
            }
            Op::Deliver(pick) if !self.in_flight.is_empty() => {
                let at = pick.index(self.in_flight.len());
                let id = self.in_flight.remove(at);
                let older = self.in_flight.iter().filter(|&&m| m < id).count();
                self.note(format!(
                    "the network delivers {}{}",
                    self.message(id),
                    if older == 0 {
                        String::new()
                    } else {
                        format!(", ahead of {older} older message(s) in flight")
                    }
                ));
                self.deliver_honestly(id)
            }
            Op::DeliverOldest if !self.in_flight.is_empty() => {
                let id = self.in_flight.remove(0);
                self.note(format!(
                    "the network delivers the oldest in flight, {}",
                    self.message(id)
                ));
                self.deliver_honestly(id)
            }
            Op::Drop(pick) if !self.in_flight.is_empty() => {
                let id = self.in_flight.remove(pick.index(self.in_flight.len()));
                self.note(format!("the network drops {}", self.message(id)));
                Ok(())
            }
            Op::Replay(pick) => {
                let id = self.delivered[pick.index(self.delivered.len())];
                let to = self.sent[id].from.peer();
                self.note(format!(
                    "the attacker delivers {} again (a replay)",
                    self.message(id)
                ));
                let bytes = self.sent[id].bytes.clone();
                self.deliver(to, &bytes, Origin::Replay(id))
            }
            Op::Tamper(pick, how) => {
                let id = pick.index(self.sent.len());
                let (bytes, what) = tamper(&self.sent[id].bytes, how);
                self.note(format!(
                    "the attacker delivers {} with {what}",
                    self.message(id)
                ));
                let to = self.sent[id].from.peer();
                self.deliver(to, &bytes, Origin::Tampered(id))
            }
            Op::Reflect(pick) => {
                let id = pick.index(self.sent.len());
                let from = self.sent[id].from;
                self.note(format!(
                    "the attacker reflects {} back to {from:?}",
                    self.message(id)
                ));
                let bytes = self.sent[id].bytes.clone();
                self.deliver(from, &bytes, Origin::Reflected(id))
            }
            Op::Restart { party, sealed } if self.driver.has(Capability::State) => {
                self.note(format!(
                    "{party:?} saves the session ({}) and restarts from it",
                    if *sealed {
                        "sealed: seal_state, open_state"
                    } else {
                        "export_state, import_state"
                    }
                ));
                self.restart(*party, *sealed)
            }
            Op::Compromise(victim) if self.driver.has(Capability::State) => {
                let copy = self.copies.len();
                self.note(format!(
                    "the attacker copies {victim:?}'s whole session state (copy {copy})"
                ));
                self.compromise(*victim)
            }
            Op::AttackerDecrypt { copy, message } if !self.copies.is_empty() => {
                let copy = copy.index(self.copies.len());
                let victim = self.copies[copy].victim;
                let targets: Vec<usize> = (0..self.sent.len())
                    .filter(|&id| self.sent[id].from == victim.peer())
                    .collect();
                if targets.is_empty() {
                    self.note(format!(
                        "the attacker would try copy {copy} of {victim:?}'s state, but nothing \
                         was sent to {victim:?} (nothing happens)"
                    ));
                    return Ok(());
                }
                let target = match message {
                    Some(pick) => targets[pick.index(targets.len())],
                    None => targets[targets.len() - 1],
                };
                self.note(format!(
                    "the attacker tries copy {copy} of {victim:?}'s state on {}",
                    self.message(target)
                ));
                self.attack(copy, target)
            }
            // Nothing to act on (yet): the step does nothing.
            Op::Deliver(_) | Op::DeliverOldest | Op::Drop(_) => {
                self.note("the network has nothing in flight (nothing happens)".into());
                Ok(())
            }
            Op::Restart { party, .. } => {
                self.note(format!(
                    "{party:?} would restart, but the implementation has no `state` \
                     capability (nothing happens)"
                ));
                Ok(())
            }
            Op::Compromise(victim) => {
                self.note(format!(
                    "the attacker would copy {victim:?}'s state, but the implementation \
                     has no `state` capability (nothing happens)"
                ));
                Ok(())
            }
            Op::AttackerDecrypt { .. } => {
                self.note("the attacker has no copy of a state yet (nothing happens)".into());
                Ok(())
            }
        }
    }

    fn register_key(&mut self, turn: u32, key: [u8; 32]) -> Result<(), Violation> {
        if let Some(&other) = self.turn_of_key.get(&key)
            && other != turn
        {
            return Err(self.driver.violation(
                Property::Model,
                format!("turn {turn} reuses the ratchet key of turn {other}"),
            ));
        }
        self.key_of_turn.insert(turn, key);
        self.turn_of_key.insert(key, turn);
        Ok(())
    }

    /// Encrypts with `from`'s session and checks the message.
    fn send(&mut self, from: Party, plaintext: Vec<u8>) -> Result<usize, Violation> {
        let session = self.sides[from.index()].session.clone();
        let before = match self.driver.has(Capability::State) {
            true => Some(self.driver.export(&session)?),
            false => None,
        };
        let out = self.driver.expect_ok(
            Property::Delivery,
            Request::Encrypt {
                session: session.clone(),
                plaintext: Bytes(plaintext.clone()),
            },
        )?;
        let message = self.driver.bytes(&out, "message")?;
        if let Some(before) = before {
            let after = self.driver.export(&session)?;
            self.spec_sent(from, (&before, &after), &plaintext, &message)?;
        }
        let header = self.sides[from.index()].model.send();
        let id = self.record_sent(from, message, plaintext, header)?;
        self.in_flight.push(id);
        Ok(id)
    }

    /// Checks an honest message's length, header and freshness, and records it.
    fn record_sent(
        &mut self,
        from: Party,
        bytes: Vec<u8>,
        plaintext: Vec<u8>,
        (turn, pn, n): (u32, u32, u32),
    ) -> Result<usize, Violation> {
        if bytes.len() != plaintext.len() + OVERHEAD {
            return Err(self.driver.violation(
                Property::Length,
                format!(
                    "{from:?} sent {} bytes for a {}-byte plaintext",
                    bytes.len(),
                    plaintext.len()
                ),
            ));
        }
        let expected_key = self.key_of_turn.get(&turn).copied();
        let (version, key, header_pn, header_n) = split_header(&bytes);
        if version != 1 || Some(key) != expected_key || header_pn != pn || header_n != n {
            return Err(self.driver.violation(
                Property::Model,
                format!(
                    "{from:?}'s header is (version {version}, PN {header_pn}, N {header_n}, \
                     key of turn {:?}); the model expects (1, {pn}, {n}, turn {turn} with the \
                     ratchet key the runner supplied)",
                    self.turn_of_key.get(&key)
                ),
            ));
        }
        if !self.bodies.insert(bytes[HEADER_LEN..].to_vec()) {
            return Err(self.driver.violation(
                Property::FreshCiphertext,
                format!(
                    "{from:?}'s message (turn {turn}, N {n}) repeats an earlier ciphertext and tag"
                ),
            ));
        }
        let id = self.sent.len();
        self.coverage.sent += 1;
        self.by_bytes.insert(bytes.clone(), id);
        self.sent.push(Sent {
            from,
            bytes,
            plaintext,
            turn,
            accepted: 0,
            delivered: false,
            rejection: None,
        });
        Ok(id)
    }

    fn deliver_honestly(&mut self, id: usize) -> Result<(), Violation> {
        if !self.sent[id].delivered {
            self.sent[id].delivered = true;
            self.delivered.push(id);
        }
        let bytes = self.sent[id].bytes.clone();
        self.deliver(self.sent[id].from.peer(), &bytes, Origin::Honest(id))
    }

    /// What the model says `to` does with `bytes`.
    fn predict(&self, model: &ChainModel, bytes: &[u8]) -> Result<Accepted, &'static str> {
        if bytes.len() > MAX_MESSAGE_LEN || bytes.len() < OVERHEAD || bytes[0] != 1 {
            return Err(model::WIRE);
        }
        let (_, key, pn, n) = split_header(bytes);
        if !is_canonical(&key) {
            return Err(model::WIRE);
        }
        let key = match self.turn_of_key.get(&key) {
            Some(&turn) => KeyRef::Turn(turn),
            None if PublicKey::from_bytes(key).is_low_order() => KeyRef::LowOrder,
            None => KeyRef::Foreign,
        };
        model.receive(&Incoming {
            key,
            previous_chain_len: pn,
            message_number: n,
            authentic: self.by_bytes.contains_key(bytes),
        })
    }
}

/// `(version, DHs, PN, N)` of a message at least 41 bytes long.
fn split_header(bytes: &[u8]) -> (u8, [u8; 32], u32, u32) {
    let mut key = [0u8; 32];
    key.copy_from_slice(&bytes[1..33]);
    let pn = u32::from_be_bytes([bytes[33], bytes[34], bytes[35], bytes[36]]);
    let n = u32::from_be_bytes([bytes[37], bytes[38], bytes[39], bytes[40]]);
    (bytes[0], key, pn, n)
}

/// The damaged copy of `bytes`.
/// The damaged copy, and what was done to it in words.
fn tamper(bytes: &[u8], how: &Tamper) -> (Vec<u8>, String) {
    let mut out = bytes.to_vec();
    let what = match how {
        Tamper::FlipBit(bit) => {
            let bit = bit.index(out.len() * 8);
            out[bit / 8] ^= 1 << (bit % 8);
            format!(
                "bit {} of byte {} ({}) flipped",
                bit % 8,
                bit / 8,
                region(bit / 8, out.len())
            )
        }
        Tamper::Truncate(len) => {
            out.truncate(len.index(out.len()));
            format!("only its first {} of {} bytes", out.len(), bytes.len())
        }
        Tamper::Extend(extra) => {
            out.extend_from_slice(extra);
            format!("{} bytes appended", extra.len())
        }
        Tamper::LowOrderKey(which) => {
            let k = which.index(LOW_ORDER_POINTS.len());
            out[1..33].copy_from_slice(&LOW_ORDER_POINTS[k]);
            format!("its header's ratchet key replaced by low-order point {k}")
        }
    };
    (out, what)
}

/// Which part of a ratchet message byte `at` (of `len`) is in.
fn region(at: usize, len: usize) -> &'static str {
    match at {
        0 => "the version",
        1..=32 => "the header's ratchet key",
        33..=40 => "the header's PN and N",
        _ if at + 16 >= len => "the tag",
        _ => "the ciphertext",
    }
}
