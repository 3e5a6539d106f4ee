//! dudect-style constant-time checks (Reparaz, Balasch, Verbauwhede, "Dude,
//! is my code constant time?", DATE 2017): for each operation, two classes
//! of secret inputs are timed in random interleaved order (inputs prepared
//! outside the timed region), and Welch's t-test compares the two timing
//! distributions, also after cropping at several upper percentiles. |t| at
//! or above 5 means the classes are distinguishable: the operation leaks
//! through timing. The median of several runs is reported, because a burst
//! of load from other processes on a shared machine can inflate one run.
//!
//! Run by `cargo run --release -p sealwire-conformance --features
//! planted-flaws --example ct_check` (minutes; never inside `cargo test`),
//! and by the zoo for the planted non-constant-time comparison.

use std::hint::black_box;
use std::time::Instant;

use rand_chacha::ChaCha20Rng;
use rand_core::{Rng, SeedableRng};
use sealwire::hazmat::{ChainKey, MessageKey, seal};
use sealwire::{
    IdentityKeyPair, InMemoryPreKeyStore, PreKeyBundle, SignedPreKey, initiate_with_rng,
    respond_with_rng,
};
use subtle::ConstantTimeEq;

/// |t| at or above this is a leak (dudect's threshold).
pub const THRESHOLD: f64 = 5.0;
/// Calls timed together per sample, to rise above the clock's resolution.
pub const BATCH: usize = 16;

/// Online mean and variance (Welford), per class.
#[derive(Clone, Copy, Debug, Default)]
struct Moments {
    n: f64,
    mean: f64,
    m2: f64,
}

impl Moments {
    fn push(&mut self, x: f64) {
        self.n += 1.0;
        let d = x - self.mean;
        self.mean += d / self.n;
        self.m2 += d * (x - self.mean);
    }

    fn variance(&self) -> f64 {
        if self.n < 2.0 {
            0.0
        } else {
            self.m2 / (self.n - 1.0)
        }
    }
}

/// Welch's t statistic between two classes.
fn welch_t(a: &Moments, b: &Moments) -> f64 {
    let denom = (a.variance() / a.n + b.variance() / b.n).sqrt();
    if denom == 0.0 {
        0.0
    } else {
        (a.mean - b.mean) / denom
    }
}

/// An operation under test: `prepare` sets up the input of a class (not
/// timed), `run` is timed.
pub trait Target {
    /// Sets up the input of one class (left: `true`); not timed.
    fn prepare(&mut self, class: bool);
    /// The timed operation.
    fn run(&mut self);
}

/// Runs `measure_once` `repeat` times and returns the median |t|: a burst
/// of load from other processes on a shared machine can inflate one run.
pub fn measure(
    samples: usize,
    repeat: usize,
    rng: &mut ChaCha20Rng,
    target: &mut impl Target,
) -> f64 {
    let mut ts: Vec<f64> = (0..repeat.max(1))
        .map(|_| measure_once(samples, rng, target))
        .collect();
    ts.sort_by(f64::total_cmp);
    ts[ts.len() / 2]
}

/// Times `samples` batches, class chosen at random for each (inputs
/// prepared outside the timed region), and returns the largest |t| over the
/// uncropped data and the data cropped at several percentiles of the pooled
/// distribution.
fn measure_once(samples: usize, rng: &mut ChaCha20Rng, target: &mut impl Target) -> f64 {
    let mut timings: Vec<(bool, f64)> = Vec::with_capacity(samples);
    // Warm up caches and branch predictors.
    for i in 0..1000 {
        target.prepare(i % 2 == 0);
        target.run();
    }
    for _ in 0..samples {
        let class = rng.next_u32() & 1 == 1;
        target.prepare(class);
        let start = Instant::now();
        for _ in 0..BATCH {
            target.run();
        }
        timings.push((class, start.elapsed().as_nanos() as f64));
    }
    let mut sorted: Vec<f64> = timings.iter().map(|t| t.1).collect();
    sorted.sort_by(f64::total_cmp);
    let mut worst: f64 = 0.0;
    for pct in [1.0, 0.99, 0.95, 0.9, 0.75, 0.5] {
        let idx = ((sorted.len() as f64 * pct) as usize).min(sorted.len() - 1);
        let cut = sorted[idx];
        let (mut left, mut right) = (Moments::default(), Moments::default());
        for &(class, t) in &timings {
            if t <= cut {
                if class { left.push(t) } else { right.push(t) }
            }
        }
        worst = worst.max(welch_t(&left, &right).abs());
    }
    worst
}

/// One check's outcome.
#[derive(Clone, Debug)]
pub struct Check {
    /// What was measured.
    pub name: &'static str,
    /// The median |t|.
    pub t: f64,
    /// Whether a leak is expected (the planted flaw) or not (the reference).
    pub expect_leak: bool,
}

impl Check {
    /// True when the verdict is the expected one.
    pub fn ok(&self) -> bool {
        (self.t >= THRESHOLD) == self.expect_leak
    }
}

/// Left: equal keys (every byte compared). Right: keys differing in their
/// first byte (an early-exit comparison stops at once).
#[derive(Debug)]
pub struct KeyComparison {
    key: ChainKey,
    equal: ChainKey,
    differs: ChainKey,
    class: bool,
}

impl Target for KeyComparison {
    fn prepare(&mut self, class: bool) {
        self.class = class;
    }
    fn run(&mut self) {
        let other = if self.class {
            &self.equal
        } else {
            &self.differs
        };
        black_box(black_box(&self.key).ct_eq(black_box(other)));
    }
}

/// Chain-key comparison: equal keys versus keys differing in byte 0.
pub fn key_comparison() -> KeyComparison {
    let mut differs = [0x5c; 32];
    differs[0] ^= 1;
    KeyComparison {
        key: ChainKey::from_bytes([0x5c; 32]),
        equal: ChainKey::from_bytes([0x5c; 32]),
        differs: ChainKey::from_bytes(differs),
        class: false,
    }
}

/// A genuine message and one buffer: each class flips one byte of it before
/// timing (so memory placement, which is public, is the same for both).
#[derive(Debug)]
struct Tamper {
    genuine: Vec<u8>,
    scratch: Vec<u8>,
    left_byte: usize,
    right_byte: usize,
}

impl Tamper {
    fn new(genuine: Vec<u8>, left_byte: usize, right_byte: usize) -> Self {
        let scratch = genuine.clone();
        Self {
            genuine,
            scratch,
            left_byte,
            right_byte,
        }
    }

    fn prepare(&mut self, class: bool) {
        self.scratch.copy_from_slice(&self.genuine);
        let i = if class {
            self.left_byte
        } else {
            self.right_byte
        };
        self.scratch[i] ^= 1;
    }
}

/// Tag verification: the tag is wrong in its first byte or in its last
/// (a failed open leaves the buffer as it was, so one preparation serves a
/// whole batch).
#[derive(Debug)]
pub struct TagVerification {
    mk: MessageKey,
    ad: [u8; 64],
    tamper: Tamper,
}

impl Target for TagVerification {
    fn prepare(&mut self, class: bool) {
        self.tamper.prepare(class);
    }
    fn run(&mut self) {
        let _ = black_box(seal::open_in_place(
            &self.mk,
            &self.ad,
            black_box(&mut self.tamper.scratch),
        ));
    }
}

/// Tag verification of the sealing core: bad first versus last tag byte.
pub fn tag_verification() -> TagVerification {
    let (mk, ad, sealed) = timing_sealed();
    let n = sealed.len();
    TagVerification {
        mk,
        ad,
        tamper: Tamper::new(sealed, n - 16, n - 1),
    }
}

/// The sealing core's input for timing: a fixed message key and AD, and
/// 64 bytes sealed under them.
fn timing_sealed() -> (MessageKey, [u8; 64], Vec<u8>) {
    let mk = MessageKey::from_bytes([7; 32]);
    let ad = [1u8; 64];
    let mut header = [0u8; 41];
    header[0] = 1;
    let sealed = seal::seal(&mk, &ad, &header, &[0x42; 64]).expect("seal");
    (mk, ad, sealed)
}

/// A session rejecting a message tampered in its first ciphertext byte
/// versus one tampered in its tag: both must fail alike (and a failure
/// changes nothing, so the session stays the same across the run).
#[derive(Debug)]
pub struct DecryptionFailure {
    session: sealwire::Session,
    rng: ChaCha20Rng,
    tamper: Tamper,
}

impl Target for DecryptionFailure {
    fn prepare(&mut self, class: bool) {
        self.tamper.prepare(class);
    }
    fn run(&mut self) {
        let _ = black_box(
            self.session
                .decrypt_in_place_with_rng(black_box(&mut self.tamper.scratch), &mut self.rng),
        );
    }
}

/// A session rejecting a tampered message: ciphertext versus tag tampered.
pub fn decryption_failure() -> DecryptionFailure {
    let (session, message, rng) = timing_session();
    let n = message.len();
    DecryptionFailure {
        session,
        rng,
        tamper: Tamper::new(message, 41, n - 1),
    }
}

/// The timed operation of a [`TamperedPath`].
type PathOp = Box<dyn FnMut(&mut [u8])>;

/// Any operation on a tampered copy of a genuine byte string: left and
/// right flip different bytes of it (outside the timed region).
pub struct TamperedPath {
    tamper: Tamper,
    op: PathOp,
    /// How many times slower a call is than a session decryption: the
    /// path is measured with that many times fewer samples (see
    /// [`measure_tag_paths`]).
    cost: usize,
}

impl core::fmt::Debug for TamperedPath {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("TamperedPath")
            .field("len", &self.tamper.genuine.len())
            .finish_non_exhaustive()
    }
}

impl Target for TamperedPath {
    fn prepare(&mut self, class: bool) {
        self.tamper.prepare(class);
    }
    fn run(&mut self) {
        (self.op)(black_box(&mut self.tamper.scratch));
    }
}

/// A handshake set up for timing: Bob, his store (a signed prekey, no
/// one-time prekey, so a rejected initial message changes nothing), the
/// generator, Alice's session and her initial message with a 64-byte
/// plaintext.
struct TimingHandshake {
    bob: IdentityKeyPair,
    store: InMemoryPreKeyStore,
    rng: ChaCha20Rng,
    alice: sealwire::Session,
    initial: Vec<u8>,
}

fn timing_handshake() -> TimingHandshake {
    let mut rng = ChaCha20Rng::seed_from_u64(1);
    let alice = IdentityKeyPair::generate_with_rng(&mut rng);
    let bob = IdentityKeyPair::generate_with_rng(&mut rng);
    let spk = SignedPreKey::generate_with_rng(1, &bob, &mut rng);
    let bundle = PreKeyBundle::new(&bob, &spk, None);
    let mut store = InMemoryPreKeyStore::new();
    store.add_signed_prekey(spk);
    let (alice, initial) =
        initiate_with_rng(&alice, &bundle, &[0x42; 64], &mut rng).expect("handshake set-up");
    TimingHandshake {
        bob,
        store,
        rng,
        alice,
        initial,
    }
}

/// A session set up for timing (Alice sent one 64-byte message to Bob).
fn timing_session() -> (sealwire::Session, Vec<u8>, ChaCha20Rng) {
    let TimingHandshake {
        bob,
        mut store,
        mut rng,
        alice: mut a,
        initial,
    } = timing_handshake();
    let (session, _) = respond_with_rng(&bob, &mut store, &initial, &mut rng).expect("respond");
    let message = a.encrypt(&[0x42; 64]).expect("encrypt");
    (session, message, rng)
}

/// Every API that checks an authenticator, each on a genuine input whose
/// tag is wrong in its first byte (left) or in its last (right): an
/// early-exit comparison anywhere on the path shows as a difference. The
/// names say which API; all of them must be constant time.
pub fn tag_paths() -> Vec<(&'static str, TamperedPath)> {
    let (mk, ad, sealed) = timing_sealed();
    let n = sealed.len();
    let (session, message, rng) = timing_session();
    let m = message.len();
    let mut paths: Vec<(&'static str, TamperedPath)> = Vec::new();
    {
        let (mk, _, _) = timing_sealed();
        paths.push((
            "seal::open (allocating), bad tag first vs last byte",
            TamperedPath {
                tamper: Tamper::new(sealed.clone(), n - 16, n - 1),
                op: Box::new(move |b| drop(black_box(seal::open(&mk, &ad, b)))),
                cost: 1,
            },
        ));
    }
    paths.push((
        "seal::open_in_place, bad tag first vs last byte",
        TamperedPath {
            tamper: Tamper::new(sealed, n - 16, n - 1),
            op: Box::new(move |b| drop(black_box(seal::open_in_place(&mk, &ad, b)))),
            cost: 1,
        },
    ));
    {
        let (mut session, mut rng) = (from_copy(&session), rng.clone());
        paths.push((
            "Session::decrypt (allocating), bad tag first vs last byte",
            TamperedPath {
                tamper: Tamper::new(message.clone(), m - 16, m - 1),
                op: Box::new(move |b| drop(black_box(session.decrypt_with_rng(b, &mut rng)))),
                cost: 1,
            },
        ));
    }
    {
        let (mut session, mut rng) = (from_copy(&session), rng);
        paths.push((
            "Session::decrypt_in_place, bad tag first vs last byte",
            TamperedPath {
                tamper: Tamper::new(message, m - 16, m - 1),
                op: Box::new(move |b| {
                    drop(black_box(session.decrypt_in_place_with_rng(b, &mut rng)));
                }),
                cost: 1,
            },
        ));
    }
    let key = sealwire::StorageKey::from_bytes([9; 32]);
    let mut salt_rng = ChaCha20Rng::seed_from_u64(2);
    let sealed_state = session.seal_state_with_rng(&key, &mut salt_rng);
    let s = sealed_state.len();
    let open = move |b: &mut [u8]| drop(black_box(sealwire::Session::open_state(&key, b)));
    paths.push((
        "Session::open_state, bad tag first vs last byte",
        TamperedPath {
            tamper: Tamper::new(sealed_state.clone(), s - 16, s - 1),
            op: Box::new(open.clone()),
            cost: 1,
        },
    ));
    // The body's first byte (the state's version once decrypted) versus the
    // tag's last: the same tag check either way, unless the path looks at
    // the unauthenticated plaintext first.
    paths.push((
        "Session::open_state, body's first byte vs tag's last byte bad",
        TamperedPath {
            tamper: Tamper::new(sealed_state, SEALED_BODY, s - 1),
            op: Box::new(open),
            cost: 1,
        },
    ));
    // The responder: the X3DH agreements (X25519) come before the initial
    // message's tag is checked, so a call costs tens of session
    // decryptions; measured with a tenth of the samples, it shows a
    // difference the size of a parse or a key derivation, not one of a
    // 16-byte compare (`ct_check --samples` for more).
    let TimingHandshake {
        bob,
        mut store,
        mut rng,
        initial,
        ..
    } = timing_handshake();
    let i = initial.len();
    paths.push((
        "respond, bad initial-message tag first vs last byte",
        TamperedPath {
            tamper: Tamper::new(initial, i - 16, i - 1),
            op: Box::new(move |b| drop(black_box(respond_with_rng(&bob, &mut store, b, &mut rng)))),
            cost: 10,
        },
    ));
    paths
}

/// Where a sealed state's body starts: after its version byte and 32-byte
/// salt (SPEC.md §9.2).
const SEALED_BODY: usize = 1 + 32;

/// A copy of a session through its state bytes (`Session` is not `Clone`).
fn from_copy(session: &sealwire::Session) -> sealwire::Session {
    sealwire::Session::from_bytes(&session.to_bytes())
        .expect("a session restores from its own bytes")
}

/// Samples per authenticator path for a run of `samples` key-comparison
/// samples: a twentieth (each call costs microseconds, not nanoseconds),
/// at least 1,000.
pub fn path_samples(samples: usize) -> usize {
    (samples / 20).max(1000)
}

/// dudect over every path of [`tag_paths`]: `(name, median |t|)` each,
/// `samples` per path divided by the path's cost (at least 200).
pub fn measure_tag_paths(
    samples: usize,
    repeat: usize,
    rng: &mut ChaCha20Rng,
) -> Vec<(&'static str, f64)> {
    tag_paths()
        .into_iter()
        .map(|(name, mut path)| (name, measure_path(&mut path, samples, repeat, rng)))
        .collect()
}

/// dudect over one path of [`tag_paths`]: `samples` divided by the path's
/// cost (at least 200), median |t| of `repeat` runs.
pub fn measure_path(
    path: &mut TamperedPath,
    samples: usize,
    repeat: usize,
    rng: &mut ChaCha20Rng,
) -> f64 {
    let samples = samples.div_ceil(path.cost).max(200);
    measure(samples, repeat, rng, path)
}

/// The reference implementation's checks: key comparison, tag verification
/// and session decryption failure, each expected constant time.
pub fn reference_checks(samples: usize, repeat: usize, rng: &mut ChaCha20Rng) -> Vec<Check> {
    vec![
        Check {
            name: "chain key comparison (subtle ct_eq)",
            t: measure(samples, repeat, rng, &mut key_comparison()),
            expect_leak: false,
        },
        Check {
            name: "tag verification (open_in_place, bad tag first vs last byte)",
            t: measure(samples / 4, repeat, rng, &mut tag_verification()),
            expect_leak: false,
        },
        Check {
            name: "session decryption failure (ciphertext vs tag tampered)",
            t: measure(samples / 8, repeat, rng, &mut decryption_failure()),
            expect_leak: false,
        },
    ]
}
