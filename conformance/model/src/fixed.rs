//! Fixed schedules through the limits that generated schedules reach only
//! rarely. Every campaign runs them before its generated cases, and the
//! tests check what they exercised.

use proptest::arbitrary::any;
use proptest::sample::Index;
use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::TestRunner;

use super::schedule::{Case, Op, Party, Plain};

/// An index that selects position `at` of a list of `len`.
pub(crate) fn index(at: usize, len: usize) -> Index {
    let mut runner = TestRunner::deterministic();
    loop {
        // Generating an `Index` cannot fail (its strategy rejects nothing).
        if let Ok(tree) = any::<Index>().new_tree(&mut runner) {
            let candidate = tree.current();
            if candidate.index(len) == at {
                return candidate;
            }
        }
    }
}

/// A compromise healed by a DH round trip, then exactly MAX_SKIP skipped
/// keys (accepted) and MAX_SKIP + 1 (`ratchet_limit`).
pub fn compromise_and_max_skip() -> Case {
    let send = |from| Op::Send {
        from,
        plaintext: Plain::Common(1),
    };
    Case {
        seed: 7,
        one_time_prekey: true,
        first: Plain::Empty,
        ops: vec![
            // Bob's copy is taken while he sends on turn 2.
            Op::Compromise(Party::Bob),
            send(Party::Bob), // turn 2
            Op::DeliverOldest,
            send(Party::Alice), // turn 3
            Op::DeliverOldest,
            send(Party::Bob), // turn 4
            Op::DeliverOldest,
            send(Party::Alice), // turn 5: after the round trip
            // Messages from Alice: 0 (initial), turn 3, turn 5 (the latest).
            Op::AttackerDecrypt {
                copy: index(0, 1),
                message: None,
            },
            Op::AttackerDecrypt {
                copy: index(0, 1),
                message: Some(index(1, 3)),
            },
            // Turn 5, N = 1..=1002, the first and the last kept.
            Op::Burst {
                from: Party::Alice,
                count: 1002,
            },
            Op::DeliverOldest, // N = 0
            Op::DeliverOldest, // N = 1
            Op::DeliverOldest, // N = 1002: exactly 1000 skipped
            Op::Burst {
                from: Party::Alice,
                count: 1003,
            },
            // Delivered at the end: N = 1003, then N = 2005 (1001 skipped).
            Op::Replay(index(0, 1)),
        ],
    }
}

/// Three chains of 1000 skipped keys each fill the store to its cap of
/// 2000; the oldest key is evicted and its message is then a `duplicate`.
pub fn store_eviction() -> Case {
    let converse = |from| Op::Converse {
        from,
        plaintext: Plain::Empty,
    };
    let burst = |count| Op::Burst {
        from: Party::Alice,
        count,
    };
    Case {
        seed: 8,
        one_time_prekey: false,
        first: Plain::Common(0),
        ops: vec![
            burst(1001),              // turn 1, N = 1..=1001; N = 1 and 1001 kept
            Op::Deliver(index(1, 2)), // N = 1001: 1000 keys skipped
            converse(Party::Bob),     // turn 2
            burst(1001),              // turn 3, N = 0..=1000
            Op::Deliver(index(2, 3)), // N = 1000: 1000 more, the store is full
            converse(Party::Bob),     // turn 4
            burst(2),                 // turn 5, N = 0 and 1
            Op::Deliver(index(3, 4)), // N = 1: one more key evicts (1, 1)
            // Delivered at the end: (1, 1) is a duplicate, (3, 0) and
            // (5, 0) decrypt from the store.
            Op::Restart {
                party: Party::Bob,
                sealed: true,
            },
        ],
    }
}

/// Every fixed schedule, by name.
pub fn fixed_cases() -> Vec<(&'static str, Case)> {
    vec![
        ("compromise_and_max_skip", compromise_and_max_skip()),
        ("store_eviction", store_eviction()),
    ]
}
