//! The generated input: a seed for every private key, and a schedule of
//! operations by Alice, Bob and the attacker who owns the network.
//!
//! Operations refer to messages and copies through [`Index`] selectors, so
//! a schedule stays meaningful while proptest shrinks it: an operation whose
//! target does not exist (nothing in flight, no copy yet) does nothing.

use core::fmt;

use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::Index;

/// One of the two honest parties.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Party {
    /// The initiator.
    Alice,
    /// The responder.
    Bob,
}

impl Party {
    /// The other party.
    pub const fn peer(self) -> Self {
        match self {
            Self::Alice => Self::Bob,
            Self::Bob => Self::Alice,
        }
    }

    pub(crate) const fn index(self) -> usize {
        match self {
            Self::Alice => 0,
            Self::Bob => 1,
        }
    }
}

/// A plaintext, described compactly so that schedules print readably.
#[derive(Clone, Debug)]
pub enum Plain {
    /// The empty plaintext.
    Empty,
    /// One of a few fixed short texts: equal plaintexts recur often.
    Common(u8),
    /// Arbitrary short bytes.
    Bytes(Vec<u8>),
    /// A large plaintext of `len` bytes (up to 64 KiB), byte i = fill + i.
    Large {
        /// Length in bytes.
        len: u32,
        /// First byte.
        fill: u8,
    },
}

const COMMON: [&[u8]; 3] = [b"hi", b"same text, new key", b"\x00"];

impl Plain {
    /// The plaintext in words: `empty`, `"hi"`, `5 bytes`, `4096 bytes`.
    pub fn describe(&self) -> String {
        match self {
            Self::Empty => "empty".into(),
            Self::Common(_) => format!("{:?}", String::from_utf8_lossy(&self.bytes())),
            Self::Bytes(b) => format!("{} bytes", b.len()),
            Self::Large { len, .. } => format!("{len} bytes"),
        }
    }

    /// The bytes.
    pub fn bytes(&self) -> Vec<u8> {
        match self {
            Self::Empty => Vec::new(),
            Self::Common(i) => COMMON[usize::from(*i) % COMMON.len()].to_vec(),
            Self::Bytes(b) => b.clone(),
            Self::Large { len, fill } => (0..*len).map(|i| fill.wrapping_add(i as u8)).collect(),
        }
    }
}

/// How the attacker damages a message before delivering it.
#[derive(Clone, Debug)]
pub enum Tamper {
    /// Flips one bit anywhere (header, ciphertext or tag).
    FlipBit(Index),
    /// Cuts the message to a shorter length (possibly empty).
    Truncate(Index),
    /// Appends bytes.
    Extend(Vec<u8>),
    /// Replaces the header's ratchet key with a low-order point.
    LowOrderKey(Index),
}

/// One step of a schedule.
#[derive(Clone, Debug)]
pub enum Op {
    /// `from` encrypts a plaintext; the message goes in flight.
    Send {
        /// The sender.
        from: Party,
        /// What is sent.
        plaintext: Plain,
    },
    /// `from` encrypts and the network delivers at once (a conversation
    /// turn: drives the DH ratchet forward).
    Converse {
        /// The sender.
        from: Party,
        /// What is sent.
        plaintext: Plain,
    },
    /// `from` encrypts `count` empty messages; the network drops all but the
    /// first and the last (drives MAX_SKIP and the store's eviction).
    Burst {
        /// The sender.
        from: Party,
        /// How many messages.
        count: u16,
    },
    /// The network delivers any in-flight message (reordering).
    Deliver(Index),
    /// The network delivers the oldest in-flight message.
    DeliverOldest,
    /// The network drops an in-flight message.
    Drop(Index),
    /// The attacker delivers an already delivered message again.
    Replay(Index),
    /// The attacker delivers a damaged copy of any message sent so far.
    Tamper(Index, Tamper),
    /// The attacker delivers a message back to its own sender.
    Reflect(Index),
    /// A party persists its state and restarts from it (plain or sealed).
    Restart {
        /// Who restarts.
        party: Party,
        /// Through `seal_state`/`open_state` rather than the plain format.
        sealed: bool,
    },
    /// The attacker copies a party's whole state.
    Compromise(Party),
    /// The attacker tries one of its copies on any message ever sent to the
    /// copied party.
    AttackerDecrypt {
        /// Which copy.
        copy: Index,
        /// Which message (among those sent to the victim); `None`: the
        /// latest.
        message: Option<Index>,
    },
}

/// One generated test case.
#[derive(Clone, Debug)]
pub struct Case {
    /// Every private key the runner supplies is drawn from this seed.
    pub seed: u64,
    /// Whether Bob's bundle offers a one-time prekey.
    pub one_time_prekey: bool,
    /// The initial message's plaintext.
    pub first: Plain,
    /// The schedule, run after the handshake (the initiator delivers the
    /// initial message reliably, so it always arrives first).
    pub ops: Vec<Op>,
}

impl fmt::Display for Case {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "seed {:#018x}, one-time prekey: {}, initial plaintext {:?}",
            self.seed, self.one_time_prekey, self.first
        )?;
        for (i, op) in self.ops.iter().enumerate() {
            writeln!(f, "  step {i:>3}: {op:?}")?;
        }
        writeln!(
            f,
            "  step {:>3}: (the network delivers everything still in flight)",
            self.ops.len()
        )
    }
}

fn party() -> impl Strategy<Value = Party> {
    prop_oneof![Just(Party::Alice), Just(Party::Bob)]
}

/// Plaintexts: mostly short, sometimes empty or repeated, rarely large.
pub fn plain() -> impl Strategy<Value = Plain> {
    prop_oneof![
        2 => Just(Plain::Empty),
        3 => (0u8..3).prop_map(Plain::Common),
        6 => vec(any::<u8>(), 1..48).prop_map(Plain::Bytes),
        1 => (1024u32..=65_536, any::<u8>()).prop_map(|(len, fill)| Plain::Large { len, fill }),
    ]
}

fn tamper() -> impl Strategy<Value = Tamper> {
    prop_oneof![
        4 => any::<Index>().prop_map(Tamper::FlipBit),
        2 => any::<Index>().prop_map(Tamper::Truncate),
        1 => vec(any::<u8>(), 1..24).prop_map(Tamper::Extend),
        1 => any::<Index>().prop_map(Tamper::LowOrderKey),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        10 => (party(), plain()).prop_map(|(from, plaintext)| Op::Send { from, plaintext }),
        6 => (party(), plain()).prop_map(|(from, plaintext)| Op::Converse { from, plaintext }),
        1 => (party(), prop_oneof![4 => 2..=40u16, 1 => 990..=1010u16])
            .prop_map(|(from, count)| Op::Burst { from, count }),
        8 => any::<Index>().prop_map(Op::Deliver),
        4 => Just(Op::DeliverOldest),
        2 => any::<Index>().prop_map(Op::Drop),
        2 => any::<Index>().prop_map(Op::Replay),
        4 => (any::<Index>(), tamper()).prop_map(|(i, t)| Op::Tamper(i, t)),
        1 => any::<Index>().prop_map(Op::Reflect),
        1 => (party(), any::<bool>()).prop_map(|(party, sealed)| Op::Restart { party, sealed }),
        1 => party().prop_map(Op::Compromise),
        4 => (any::<Index>(), proptest::option::of(any::<Index>()))
            .prop_map(|(copy, message)| Op::AttackerDecrypt { copy, message }),
    ]
}

/// Cases with schedules of up to `max_ops` operations.
pub fn case(max_ops: usize) -> impl Strategy<Value = Case> {
    (
        any::<u64>(),
        any::<bool>(),
        plain(),
        vec(op(), 1..=max_ops.max(1)),
    )
        .prop_map(|(seed, one_time_prekey, first, ops)| Case {
            seed,
            one_time_prekey,
            first,
            ops,
        })
}
