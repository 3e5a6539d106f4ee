//! The plain forms, the ones applications call without a generator, draw
//! fresh operating-system randomness for every key: no userspace stream
//! seeded once, no fixed or per-process seed, nothing shared by threads or
//! copied into a forked child.
//!
//! Every other test injects randomness (`*_with_rng`), so these are the
//! only tests of the path applications use. Covered forms:
//! `IdentityKeyPair::generate`, `SignedPreKey::generate`,
//! `OneTimePreKey::generate`, `initiate` (EK_A and the first DHs),
//! `respond` (the responder's first ratchet key), `Session::decrypt` (the
//! ratchet key of a new turn) and `Session::seal_state` (the salt).

use std::collections::HashSet;
use std::sync::{Arc, Barrier};

use sealwire::{
    IdentityKeyPair, InMemoryPreKeyStore, OneTimePreKey, PreKeyBundle, Session, SignedPreKey,
    StorageKey, initiate, respond,
};

/// Offset of `EK_A` in an initial message (after the version and `IK_A`).
const EPHEMERAL_KEY_AT: usize = 1 + 32;

/// What the plain forms need, itself made with the plain forms.
struct Fixture {
    alice: IdentityKeyPair,
    bob: IdentityKeyPair,
    bundle: PreKeyBundle,
    store: InMemoryPreKeyStore,
    /// An initial message naming no one-time prekey: respond may take it
    /// again and again (SPEC.md §5.2), drawing a new ratchet key each time.
    initial: Vec<u8>,
    /// Alice's state before Bob's reply, and the reply: each decrypt of it
    /// from that state starts a new turn and draws a ratchet key.
    alice_state: Vec<u8>,
    reply: Vec<u8>,
}

impl Fixture {
    fn new() -> Self {
        let alice = IdentityKeyPair::generate();
        let bob = IdentityKeyPair::generate();
        let spk = SignedPreKey::generate(1, &bob);
        let bundle = PreKeyBundle::new(&bob, &spk, None);
        let mut store = InMemoryPreKeyStore::new();
        store.add_signed_prekey(spk);
        let (alice_session, initial) = initiate(&alice, &bundle, b"hello").expect("initiate");
        let (mut bob_session, _) = respond(&bob, &mut store, &initial).expect("respond");
        let reply = bob_session.encrypt(b"reply").expect("encrypt");
        Self {
            alice,
            bob,
            bundle,
            store,
            initial,
            alice_state: alice_session.to_bytes().to_vec(),
            reply,
        }
    }

    /// One fresh draw of every plain form: `(what, 32 bytes)`.
    fn draw_all(&mut self) -> Vec<(&'static str, [u8; 32])> {
        let identity = IdentityKeyPair::generate();
        let spk = SignedPreKey::generate(2, &self.bob);
        let opk = OneTimePreKey::generate(3);
        let (session, initial) = initiate(&self.alice, &self.bundle, b"hi").expect("initiate");
        let ephemeral: [u8; 32] = initial[EPHEMERAL_KEY_AT..EPHEMERAL_KEY_AT + 32]
            .try_into()
            .expect("32 bytes");
        let (mut responder, _) =
            respond(&self.bob, &mut self.store, &self.initial).expect("respond");
        let responder_key = *responder.ratchet_public_key().as_bytes();
        let mut receiver = Session::from_bytes(&self.alice_state).expect("restore");
        receiver.decrypt(&self.reply).expect("decrypt");
        let sealed = responder
            .encrypt(b"x")
            .map(|_| responder.seal_state(&StorageKey::from_bytes([9; 32])))
            .expect("encrypt");
        let salt: [u8; 32] = sealed[1..33].try_into().expect("salt");
        vec![
            ("identity seed", *identity.seed()),
            ("signed prekey", *spk.public().as_bytes()),
            ("one-time prekey", *opk.public().as_bytes()),
            ("initiate: ephemeral key", ephemeral),
            (
                "initiate: first ratchet key",
                *session.ratchet_public_key().as_bytes(),
            ),
            ("respond: first ratchet key", responder_key),
            (
                "decrypt: new ratchet key",
                *receiver.ratchet_public_key().as_bytes(),
            ),
            ("seal_state: salt", salt),
        ]
    }
}

/// Every value distinct from every other (whatever its kind) and none all
/// zero; returns how many there were.
fn assert_all_distinct(draws: &[(&'static str, [u8; 32])], what: &str) -> usize {
    let mut seen = HashSet::new();
    for (kind, bytes) in draws {
        assert_ne!(bytes, &[0u8; 32], "{what}: {kind} is all zero");
        assert!(
            seen.insert(*bytes),
            "{what}: {kind} repeats an earlier draw"
        );
    }
    seen.len()
}

#[test]
fn every_plain_form_draws_a_fresh_key_on_every_call() {
    let mut fixture = Fixture::new();
    let mut draws = Vec::new();
    for _ in 0..64 {
        draws.extend(fixture.draw_all());
    }
    assert_eq!(assert_all_distinct(&draws, "one thread"), 64 * 8);
}

#[test]
fn the_same_inputs_twice_give_different_keys() {
    let mut fixture = Fixture::new();
    // respond to the very same initial message
    let (a, _) = respond(&fixture.bob, &mut fixture.store, &fixture.initial).expect("respond");
    let (b, _) = respond(&fixture.bob, &mut fixture.store, &fixture.initial).expect("respond");
    assert_ne!(a.ratchet_public_key(), b.ratchet_public_key());
    assert_ne!(a.to_bytes(), b.to_bytes());
    // decrypt the very same message from the very same state
    let mut c = Session::from_bytes(&fixture.alice_state).expect("restore");
    let mut d = Session::from_bytes(&fixture.alice_state).expect("restore");
    assert_eq!(c.decrypt(&fixture.reply), d.decrypt(&fixture.reply));
    assert_ne!(c.ratchet_public_key(), d.ratchet_public_key());
    // seal the very same state under the very same key
    let key = StorageKey::from_bytes([5; 32]);
    let (first, second) = (c.seal_state(&key), c.seal_state(&key));
    assert_ne!(first[1..33], second[1..33], "salts repeat");
    assert_ne!(first, second);
    // initiate twice from the same identity and bundle
    let (e, one) = initiate(&fixture.alice, &fixture.bundle, b"m").expect("initiate");
    let (f, two) = initiate(&fixture.alice, &fixture.bundle, b"m").expect("initiate");
    assert_ne!(one, two);
    assert_ne!(e.ratchet_public_key(), f.ratchet_public_key());
}

#[test]
fn threads_draw_different_keys() {
    const THREADS: usize = 8;
    let start = Arc::new(Barrier::new(THREADS));
    let handles: Vec<_> = (0..THREADS)
        .map(|_| {
            let start = Arc::clone(&start);
            std::thread::spawn(move || {
                let mut fixture = Fixture::new();
                start.wait();
                let mut draws = Vec::new();
                for _ in 0..8 {
                    draws.extend(fixture.draw_all());
                }
                draws
            })
        })
        .collect();
    let draws: Vec<_> = handles
        .into_iter()
        .flat_map(|h| h.join().expect("thread"))
        .collect();
    assert_eq!(assert_all_distinct(&draws, "threads"), THREADS * 8 * 8);
}

/// Where the probe writes its draws (set by the test that runs it).
#[cfg(unix)]
const PROBE_OUT: &str = "SEALWIRE_OS_RNG_PROBE_OUT";
#[cfg(unix)]
const PROBE_ROUNDS: usize = 4;

#[cfg(unix)]
fn write_draws(path: &std::path::Path, draws: &[(&'static str, [u8; 32])]) {
    let text: String = draws
        .iter()
        .map(|(kind, bytes)| {
            let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
            format!("{hex} {kind}\n")
        })
        .collect();
    std::fs::write(path, text).expect("write draws");
}

#[cfg(unix)]
fn read_draws(path: &std::path::Path) -> Vec<[u8; 32]> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .map(|line| {
            let hex = line.split(' ').next().expect("hex");
            let bytes: Vec<u8> = (0..64)
                .step_by(2)
                .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex"))
                .collect();
            bytes.try_into().expect("32 bytes")
        })
        .collect()
}

/// Runs in a process of its own (started by
/// `a_forked_child_and_its_parent_draw_different_keys`, with one test
/// thread): draws once so that any userspace generator would be seeded,
/// forks, and lets the parent and the child draw the same sequence of keys.
#[cfg(unix)]
#[test]
#[ignore = "a probe: run by a_forked_child_and_its_parent_draw_different_keys in its own process"]
fn fork_probe() {
    let out = std::path::PathBuf::from(
        std::env::var_os(PROBE_OUT)
            .expect("run by a_forked_child_and_its_parent_draw_different_keys"),
    );
    let mut fixture = Fixture::new();
    let warm_up = fixture.draw_all();
    write_draws(&out.with_extension("warmup"), &warm_up);
    let draw = |fixture: &mut Fixture| {
        let mut draws = Vec::new();
        for _ in 0..PROBE_ROUNDS {
            draws.extend(fixture.draw_all());
        }
        draws
    };
    match fork::fork().expect("fork") {
        fork::Fork::Child => {
            // Never return into the test harness from the child.
            let done = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                write_draws(&out.with_extension("child"), &draw(&mut fixture));
            }));
            std::process::exit(if done.is_ok() { 0 } else { 1 });
        }
        fork::Fork::Parent(child) => {
            let parent = draw(&mut fixture);
            let status = fork::waitpid(child).expect("waitpid");
            assert_eq!(status, 0, "the forked child failed (wait status {status})");
            write_draws(&out.with_extension("parent"), &parent);
        }
    }
}

#[cfg(unix)]
#[test]
fn a_forked_child_and_its_parent_draw_different_keys() {
    let unique = format!(
        "sealwire-os-rng-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_nanos()
    );
    let base = std::env::temp_dir().join(unique);
    let probe = std::process::Command::new(std::env::current_exe().expect("test binary"))
        .args(["fork_probe", "--exact", "--ignored", "--test-threads=1"])
        .env(PROBE_OUT, &base)
        .output()
        .expect("run the probe");
    assert!(
        probe.status.success(),
        "the fork probe failed: {}\n{}{}",
        probe.status,
        String::from_utf8_lossy(&probe.stdout),
        String::from_utf8_lossy(&probe.stderr)
    );
    let [warm_up, parent, child] = ["warmup", "parent", "child"].map(|ext| {
        let path = base.with_extension(ext);
        let draws = read_draws(&path);
        std::fs::remove_file(&path).expect("remove probe output");
        draws
    });
    let per_round = warm_up.len();
    assert_eq!(per_round, 8, "the probe drew every plain form");
    assert_eq!(parent.len(), PROBE_ROUNDS * per_round);
    assert_eq!(child.len(), PROBE_ROUNDS * per_round);
    // This process draws too: another process must not repeat it either
    // (a fixed or per-boot seed would).
    let mut fixture = Fixture::new();
    let own: Vec<[u8; 32]> = fixture.draw_all().into_iter().map(|(_, b)| b).collect();
    let mut seen = HashSet::new();
    for (origin, draws) in [
        ("the probe before fork", &warm_up),
        ("the forked parent", &parent),
        ("the forked child", &child),
        ("this process", &own),
    ] {
        for bytes in draws {
            assert!(
                seen.insert(*bytes),
                "{origin} repeats a key drawn elsewhere"
            );
        }
    }
}
