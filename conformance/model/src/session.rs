//! Runs one [`Case`]: the handshake, the schedule, then delivery of
//! everything still in flight, checking every property at every step.

mod attacker;
mod coverage;
mod delivery;

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
        world.run(&case.ops)?;
        Ok(world.coverage)
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
        while !self.in_flight.is_empty() {
            let id = self.in_flight.remove(0);
            self.deliver_honestly(id)?;
        }
        self.check_skipped_stores()?;
        self.check_exactly_once()
    }

    fn apply(&mut self, op: &Op) -> Result<(), Violation> {
        match op {
            Op::Send { from, plaintext } => self.send(*from, plaintext.bytes()).map(drop),
            Op::Converse { from, plaintext } => {
                let id = self.send(*from, plaintext.bytes())?;
                self.in_flight.retain(|&m| m != id);
                self.deliver_honestly(id)
            }
            Op::Burst { from, count } => {
                for i in 0..*count {
                    let id = self.send(*from, Vec::new())?;
                    if i != 0 && i + 1 != *count {
                        self.in_flight.retain(|&m| m != id);
                    }
                }
                Ok(())
            }
            Op::Deliver(pick) if !self.in_flight.is_empty() => {
                let id = self.in_flight.remove(pick.index(self.in_flight.len()));
                self.deliver_honestly(id)
            }
            Op::DeliverOldest if !self.in_flight.is_empty() => {
                let id = self.in_flight.remove(0);
                self.deliver_honestly(id)
            }
            Op::Drop(pick) if !self.in_flight.is_empty() => {
                self.in_flight.remove(pick.index(self.in_flight.len()));
                Ok(())
            }
            Op::Replay(pick) => {
                let id = self.delivered[pick.index(self.delivered.len())];
                let to = self.sent[id].from.peer();
                let bytes = self.sent[id].bytes.clone();
                self.deliver(to, &bytes, Origin::Replay(id))
            }
            Op::Tamper(pick, how) => {
                let id = pick.index(self.sent.len());
                let bytes = tamper(&self.sent[id].bytes, how);
                let to = self.sent[id].from.peer();
                self.deliver(to, &bytes, Origin::Tampered(id))
            }
            Op::Reflect(pick) => {
                let id = pick.index(self.sent.len());
                let bytes = self.sent[id].bytes.clone();
                self.deliver(self.sent[id].from, &bytes, Origin::Reflected(id))
            }
            Op::Restart { party, sealed } if self.driver.has(Capability::State) => {
                self.restart(*party, *sealed)
            }
            Op::Compromise(victim) if self.driver.has(Capability::State) => {
                self.compromise(*victim)
            }
            Op::AttackerDecrypt { copy, message } if !self.copies.is_empty() => {
                let copy = copy.index(self.copies.len());
                let victim = self.copies[copy].victim;
                let targets: Vec<usize> = (0..self.sent.len())
                    .filter(|&id| self.sent[id].from == victim.peer())
                    .collect();
                if targets.is_empty() {
                    return Ok(());
                }
                let target = match message {
                    Some(pick) => targets[pick.index(targets.len())],
                    None => targets[targets.len() - 1],
                };
                self.attack(copy, target)
            }
            // Nothing to act on (yet): the step does nothing.
            _ => Ok(()),
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
        let out = self.driver.expect_ok(
            Property::Delivery,
            Request::Encrypt {
                session: self.sides[from.index()].session.clone(),
                plaintext: Bytes(plaintext.clone()),
            },
        )?;
        let message = self.driver.bytes(&out, "message")?;
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
fn tamper(bytes: &[u8], how: &Tamper) -> Vec<u8> {
    let mut out = bytes.to_vec();
    match how {
        Tamper::FlipBit(bit) => {
            let bit = bit.index(out.len() * 8);
            out[bit / 8] ^= 1 << (bit % 8);
        }
        Tamper::Truncate(len) => out.truncate(len.index(out.len())),
        Tamper::Extend(extra) => out.extend_from_slice(extra),
        Tamper::LowOrderKey(which) => {
            out[1..33].copy_from_slice(&LOW_ORDER_POINTS[which.index(LOW_ORDER_POINTS.len())]);
        }
    }
    out
}
