//! Area `session`: deterministic Double Ratchet conversations with every
//! message's bytes.

use std::path::PathBuf;

use sealwire::{ErrorClass, MAX_SKIP, MAX_SKIPPED_KEYS};

use super::FileBuilder;
use super::party::{Convo, Setup};
use crate::schema::VectorFile;

mod rejections;
use rejections::{counter_exhausted, duplicates, plaintext_sizes, tampering};

pub(super) fn files() -> Vec<(PathBuf, VectorFile)> {
    vec![
        in_order(),
        out_of_order(),
        skip_limits(),
        eviction(),
        duplicates(),
        tampering(),
        plaintext_sizes(),
        counter_exhausted(),
    ]
}

const SOURCE: &str = "SPEC.md §6.3 (Sending), §6.4 (Receiving)";

fn pt(who: &str, i: usize) -> Vec<u8> {
    format!("{who} #{i}").into_bytes()
}

fn start(label: &str) -> Convo {
    Convo::start(label, &Setup::default())
}

/// (name, turns of (sender, messages), with a one-time prekey)
type Pattern = (&'static str, Vec<(&'static str, usize)>, bool);

fn in_order() -> (PathBuf, VectorFile) {
    let mut f = FileBuilder::new(
        "session/session_in_order.json",
        "Sealwire v1 session",
        SOURCE,
        &[
            "Conversations delivered in order, after a fixed handshake. Every encrypt",
            "expects the exact message bytes, every decrypt the exact plaintext; each",
            "decrypt that starts a new ratchet turn is given the private key of the",
            "receiver's next ratchet key.",
        ],
    );
    f.note(
        "InOrder",
        "every message is delivered once, in the order sent",
    )
    .note("WithoutOpk", "the handshake used no one-time prekey");
    f.group("SessionTest", "in-order conversations of several shapes");
    // Each pattern: who sends how many in each turn (the other side reads
    // each message as it is sent).
    let patterns: Vec<Pattern> = vec![
        ("one reply from Bob", vec![("bob", 1)], true),
        (
            "ten alternating single messages",
            (0..10)
                .map(|i| (if i % 2 == 0 { "bob" } else { "alice" }, 1))
                .collect(),
            true,
        ),
        (
            "ten alternating single messages, no one-time prekey",
            (0..10)
                .map(|i| (if i % 2 == 0 { "bob" } else { "alice" }, 1))
                .collect(),
            false,
        ),
        (
            "bursts of 3, 5, 1 and 2 messages",
            vec![("bob", 3), ("alice", 5), ("bob", 1), ("alice", 2)],
            true,
        ),
        (
            "Alice sends 20 more in her first chain before Bob answers",
            vec![("alice", 20), ("bob", 1)],
            true,
        ),
        (
            "Bob sends 10 in a row, then Alice 10",
            vec![("bob", 10), ("alice", 10)],
            true,
        ),
        (
            "thirty alternating turns of two messages",
            (0..30)
                .map(|i| (if i % 2 == 0 { "bob" } else { "alice" }, 2))
                .collect(),
            true,
        ),
    ];
    for (i, (name, turns, with_opk)) in patterns.into_iter().enumerate() {
        let setup = Setup {
            with_opk,
            ..Setup::default()
        };
        let mut c = Convo::start(&format!("session/in-order-{i}"), &setup);
        let mut n = 0;
        for (from, count) in turns {
            let to = if from == "alice" { "bob" } else { "alice" };
            for _ in 0..count {
                let m = c.send(from, &pt(from, n));
                n += 1;
                c.recv(to, &m);
            }
        }
        c.count("alice");
        c.count("bob");
        let flags: &[&str] = if with_opk {
            &["InOrder"]
        } else {
            &["InOrder", "WithoutOpk"]
        };
        f.valid(&format!("in order: {name}"), flags, c.into_steps());
    }
    f.finish()
}

/// All orders of `0..n`.
fn permutations(n: usize) -> Vec<Vec<usize>> {
    if n == 0 {
        return vec![Vec::new()];
    }
    let mut out = Vec::new();
    for p in permutations(n - 1) {
        for pos in 0..=p.len() {
            let mut q = p.clone();
            q.insert(pos, n - 1);
            out.push(q);
        }
    }
    out.sort();
    out
}

fn order_name(order: &[usize], names: &[&str]) -> String {
    order
        .iter()
        .map(|&i| names[i])
        .collect::<Vec<_>>()
        .join(", ")
}

fn out_of_order() -> (PathBuf, VectorFile) {
    let mut f = FileBuilder::new(
        "session/session_out_of_order.json",
        "Sealwire v1 session",
        SOURCE,
        &[
            "Messages delivered out of order, within a chain and across ratchet turns:",
            "the receiver stores the keys of skipped messages (skipped_count shows how",
            "many) and decrypts late messages with them, each exactly once.",
        ],
    );
    f.note(
        "InChain",
        "the messages reordered belong to one sending chain",
    )
    .note(
        "AcrossTurns",
        "the messages reordered span a DH ratchet step (PN is used)",
    )
    .note(
        "SkippedCount",
        "skipped_count is checked after each delivery",
    );
    f.group("SessionTest", "four messages of one chain in every order");
    let names = ["a1", "a2", "a3", "a4"];
    for (k, order) in permutations(4).into_iter().enumerate() {
        let mut c = start(&format!("session/ooo-chain-{k}"));
        let msgs: Vec<Vec<u8>> = (0..4)
            .map(|i| c.send("alice", &pt("alice", i + 1)))
            .collect();
        for &i in &order {
            c.recv("bob", &msgs[i]);
            c.count("bob");
        }
        let reply = c.send("bob", b"all four arrived");
        c.recv("alice", &reply);
        f.valid(
            &format!(
                "Alice's a1..a4 of one chain delivered as {}",
                order_name(&order, &names)
            ),
            &["InChain", "SkippedCount"],
            c.into_steps(),
        );
    }
    f.group(
        "SessionTest",
        "messages from two of Alice's chains in every order",
    );
    let names = [
        "a2 (chain 1)",
        "a3 (chain 1)",
        "c0 (chain 2)",
        "c1 (chain 2)",
    ];
    for (k, order) in permutations(4).into_iter().enumerate() {
        let mut c = start(&format!("session/ooo-turns-{k}"));
        let a1 = c.send("alice", b"a1");
        let a2 = c.send("alice", b"a2");
        let a3 = c.send("alice", b"a3");
        c.recv("bob", &a1);
        let b0 = c.send("bob", b"b0");
        c.recv("alice", &b0);
        let c0 = c.send("alice", b"c0");
        let c1 = c.send("alice", b"c1");
        let msgs = [a2, a3, c0, c1];
        for &i in &order {
            c.recv("bob", &msgs[i]);
            c.count("bob");
        }
        let reply = c.send("bob", b"done");
        c.recv("alice", &reply);
        f.valid(
            &format!(
                "a2, a3 (before a ratchet turn) and c0, c1 (after it) delivered as {}",
                order_name(&order, &names)
            ),
            &["AcrossTurns", "SkippedCount"],
            c.into_steps(),
        );
    }
    f.group(
        "SessionTest",
        "Bob's first replies reach Alice out of order",
    );
    let names = ["b0", "b1", "b2"];
    for (k, order) in permutations(3).into_iter().enumerate() {
        let mut c = start(&format!("session/ooo-bob-{k}"));
        let msgs: Vec<Vec<u8>> = (0..3).map(|i| c.send("bob", &pt("bob", i))).collect();
        for &i in &order {
            c.recv("alice", &msgs[i]);
            c.count("alice");
        }
        let reply = c.send("alice", b"got them");
        c.recv("bob", &reply);
        f.valid(
            &format!(
                "Bob's b0..b2 (a new ratchet turn for Alice) delivered as {}",
                order_name(&order, &names)
            ),
            &["AcrossTurns", "SkippedCount"],
            c.into_steps(),
        );
    }
    f.group(
        "SessionTest",
        "several turns, everything delayed until the end",
    );
    for k in 0..6usize {
        let mut c = start(&format!("session/ooo-late-{k}"));
        let mut late = Vec::new();
        // Alice sends a few per turn; Bob reads only the first of each turn
        // and answers, so Alice ratchets every turn.
        for turn in 0..4usize {
            let count = 2 + (turn + k) % 3;
            let mut sent = Vec::new();
            for i in 0..count {
                sent.push(c.send("alice", &pt("alice", turn * 10 + i)));
            }
            c.recv("bob", &sent[count - 1]);
            late.extend(sent[..count - 1].iter().cloned());
            let reply = c.send("bob", &pt("bob", turn));
            c.recv("alice", &reply);
        }
        c.count("bob");
        // Deliver the late ones, newest first on even k, oldest first otherwise.
        if k % 2 == 0 {
            late.reverse();
        }
        for m in &late {
            c.recv("bob", m);
        }
        c.count("bob");
        f.valid(
            &format!(
                "four turns where Bob reads only the last message of each; the {} earlier ones arrive at the end, {}",
                late.len(),
                if k % 2 == 0 { "newest first" } else { "oldest first" }
            ),
            &["AcrossTurns", "SkippedCount"],
            c.into_steps(),
        );
    }
    f.finish()
}

fn skip_limits() -> (PathBuf, VectorFile) {
    let mut f = FileBuilder::new(
        "session/session_skip_limits.json",
        "Sealwire v1 session",
        "SPEC.md §6.4 (Receiving): MAX_SKIP, §3 (Constants)",
        &[
            "MAX_SKIP = 1000: a message that needs more than 1000 keys skipped in one",
            "chain, in the current chain (N) or in the previous one at a ratchet step",
            "(PN), is rejected with ratchet_limit and changes nothing; exactly 1000 is",
            "accepted. The limit is per chain: 1000 in each of two chains is accepted.",
            "The sender's messages are made by the generator and only the receiver's",
            "steps are recorded.",
        ],
    );
    f.note(
        "InChain",
        "the skip happens in the current receiving chain (N)",
    )
    .note(
        "AtRatchetStep",
        "the skip happens in the previous chain, up to PN, before a DH ratchet step",
    )
    .note("Boundary", "exactly MAX_SKIP = 1000 keys are skipped")
    .note("OverLimit", "MAX_SKIP + 1 = 1001 keys would be skipped");
    let max = MAX_SKIP as usize;
    f.group("SessionTest", "skips in the current chain (N)");
    for (skip, ok) in [(max, true), (max + 1, false)] {
        let mut c = start(&format!("session/skip-chain-{skip}"));
        let msgs: Vec<Vec<u8>> = (1..=skip + 1)
            .map(|i| c.send_hidden("alice", &pt("alice", i)))
            .collect();
        let far = &msgs[skip];
        if ok {
            c.recv("bob", far);
            assert_eq!(c.count("bob"), skip);
            c.recv("bob", &msgs[0]);
            c.recv("bob", &msgs[skip - 1]);
            c.count("bob");
            f.valid(
                &format!("N = {} after N = 0: exactly {skip} keys skipped in the chain is accepted, and skipped messages then decrypt", skip + 1),
                &["InChain", "Boundary"],
                c.into_steps(),
            );
        } else {
            c.recv_err("bob", far, ErrorClass::RatchetLimit);
            c.count("bob");
            c.recv("bob", &msgs[0]);
            c.count("bob");
            f.invalid(
                &format!("N = {} after N = 0: {skip} keys to skip is rejected, the session unchanged (N = 1 then decrypts)", skip + 1),
                &["InChain", "OverLimit"],
                ErrorClass::RatchetLimit,
                c.into_steps(),
            );
        }
    }
    f.group(
        "SessionTest",
        "skips in the previous chain at a ratchet step (PN)",
    );
    for (skip, ok) in [(max, true), (max + 1, false)] {
        let mut c = start(&format!("session/skip-pn-{skip}"));
        // Bob has read N = 0; Alice sends N = 1..=skip in her first chain.
        let chain1: Vec<Vec<u8>> = (1..=skip)
            .map(|i| c.send_hidden("alice", &pt("alice", i)))
            .collect();
        let b0 = c.send("bob", b"b0");
        c.recv_hidden("alice", &b0);
        let c0 = c.send_hidden("alice", b"c0 with PN past the limit?");
        if ok {
            c.recv("bob", &c0);
            assert_eq!(c.count("bob"), skip);
            c.recv("bob", &chain1[0]);
            c.recv("bob", &chain1[skip - 1]);
            c.count("bob");
            f.valid(
                &format!("a new ratchet key with PN = {}: exactly {skip} keys of the previous chain skipped is accepted", skip + 1),
                &["AtRatchetStep", "Boundary"],
                c.into_steps(),
            );
        } else {
            c.recv_err("bob", &c0, ErrorClass::RatchetLimit);
            c.count("bob");
            c.recv("bob", &chain1[0]);
            c.count("bob");
            f.invalid(
                &format!("a new ratchet key with PN = {}: {skip} keys of the previous chain to skip is rejected, nothing changes", skip + 1),
                &["AtRatchetStep", "OverLimit"],
                ErrorClass::RatchetLimit,
                c.into_steps(),
            );
        }
    }
    f.group("SessionTest", "the limit is per chain");
    for (pn_skip, n_skip, ok) in [
        (600, 600, true),
        (max, max, true),
        (10, max + 1, false),
        (max + 1, 10, false),
    ] {
        let mut c = start(&format!("session/skip-both-{pn_skip}-{n_skip}"));
        let chain1: Vec<Vec<u8>> = (1..=pn_skip)
            .map(|i| c.send_hidden("alice", &pt("alice", i)))
            .collect();
        let b0 = c.send("bob", b"b0");
        c.recv_hidden("alice", &b0);
        let chain2: Vec<Vec<u8>> = (0..=n_skip)
            .map(|i| c.send_hidden("alice", &pt("alice-2", i)))
            .collect();
        let last = &chain2[n_skip];
        let comment = format!(
            "a new ratchet key with PN = {} and N = {n_skip}: {pn_skip} keys skipped in the previous chain and {n_skip} in the new one",
            pn_skip + 1
        );
        if ok {
            c.recv("bob", last);
            assert_eq!(c.count("bob"), pn_skip + n_skip);
            c.recv("bob", &chain1[pn_skip - 1]);
            c.recv("bob", &chain2[0]);
            c.count("bob");
            let flags: &[&str] = if pn_skip == max {
                &["AtRatchetStep", "InChain", "Boundary"]
            } else {
                &["AtRatchetStep", "InChain"]
            };
            f.valid(&format!("{comment} is accepted"), flags, c.into_steps());
        } else {
            c.recv_err("bob", last, ErrorClass::RatchetLimit);
            c.count("bob");
            c.recv("bob", &chain1[0]);
            f.invalid(
                &format!("{comment} is rejected: one chain is over the limit"),
                &["AtRatchetStep", "InChain", "OverLimit"],
                ErrorClass::RatchetLimit,
                c.into_steps(),
            );
        }
    }
    f.finish()
}

/// Bob holds `first` skipped keys of Alice's chain 1, then `second` of
/// chain 2; Alice's later chains are returned for more.
struct Filled {
    c: Convo,
    chain1: Vec<Vec<u8>>,
    chain2: Vec<Vec<u8>>,
}

fn filled(label: &str, first: usize, second: usize) -> Filled {
    let mut c = start(label);
    // Chain 1: N = 1..=first+1; Bob reads the last one.
    let chain1: Vec<Vec<u8>> = (1..=first + 1)
        .map(|i| c.send_hidden("alice", &pt("alice", i)))
        .collect();
    c.recv("bob", &chain1[first]);
    let b0 = c.send("bob", b"b0");
    c.recv_hidden("alice", &b0);
    let chain2: Vec<Vec<u8>> = (0..=second)
        .map(|i| c.send_hidden("alice", &pt("alice-2", i)))
        .collect();
    c.recv("bob", &chain2[second]);
    Filled { c, chain1, chain2 }
}

fn eviction() -> (PathBuf, VectorFile) {
    let mut f = FileBuilder::new(
        "session/session_eviction.json",
        "Sealwire v1 session",
        "SPEC.md §6.6 (Skipped-key store)",
        &[
            "The skipped-key store holds at most 2000 keys; past that the oldest are",
            "evicted first. A message whose key was evicted is rejected as duplicate.",
            "Bob fills the store with 1000 keys from each of two of Alice's chains.",
        ],
    );
    f.note("Full", "the store holds exactly 2000 keys")
        .note("Evicted", "keys were evicted to make room")
        .note("SkippedCount", "skipped_count is checked");
    let cap = MAX_SKIPPED_KEYS;
    let half = cap / 2;
    f.group("SessionTest", "a full store keeps every key");
    {
        let mut s = filled("session/evict-full", half, half);
        assert_eq!(s.c.count("bob"), cap);
        s.c.recv("bob", &s.chain1[0]);
        s.c.recv("bob", &s.chain2[0]);
        s.c.recv("bob", &s.chain1[half - 1]);
        s.c.count("bob");
        f.valid(
            "1000 keys from each of two chains: the store holds exactly 2000, the oldest and newest still decrypt",
            &["Full", "SkippedCount"],
            s.c.into_steps(),
        );
    }
    for evicted in [1usize, 5, 1000] {
        let Filled {
            mut c,
            chain1,
            chain2,
        } = filled(&format!("session/evict-{evicted}"), half, half);
        let b1 = c.send("bob", b"b1");
        c.recv_hidden("alice", &b1);
        let chain3: Vec<Vec<u8>> = (0..=evicted)
            .map(|i| c.send_hidden("alice", &pt("alice-3", i)))
            .collect();
        c.recv("bob", &chain3[evicted]);
        assert_eq!(c.count("bob"), cap);
        f.group(
            "SessionTest",
            &format!("{evicted} more key(s) evict the {evicted} oldest"),
        );
        // The oldest stored key was chain 1's N = 1.
        c.recv_err("bob", &chain1[0], ErrorClass::Duplicate);
        c.count("bob");
        let survivor = if evicted < half {
            &chain1[evicted]
        } else {
            &chain2[evicted - half]
        };
        c.recv("bob", survivor);
        c.recv("bob", &chain3[0]);
        c.count("bob");
        f.invalid(
            &format!(
                "{evicted} new skipped key(s) in a full store evict the oldest: chain 1's N = 1 is then a duplicate, the next-oldest key and the new ones decrypt"
            ),
            &["Full", "Evicted", "SkippedCount"],
            ErrorClass::Duplicate,
            c.into_steps(),
        );
    }
    f.finish()
}
