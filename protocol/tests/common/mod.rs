//! Helpers shared by the integration tests: seeded and scripted generators,
//! a ready-made Alice/Bob pair, state snapshots and the low-order points.
//!
//! Every test binary uses only part of this module.
#![allow(dead_code)]

use core::convert::Infallible;

use rand_chacha::ChaCha20Rng;
use rand_core::{SeedableRng, TryCryptoRng, TryRng};
use sealwire::{
    Error, IdentityKeyPair, InMemoryPreKeyStore, OneTimePreKey, PreKeyBundle, Session,
    SignedPreKey, initiate_with_rng, respond_with_rng,
};

/// The seeded generator of a test. The seed goes into every assertion message.
pub(crate) fn seeded(seed: u64) -> ChaCha20Rng {
    planted_flaw_from_env();
    ChaCha20Rng::seed_from_u64(seed)
}

/// Suite self-test only: in a build with the test-only `planted-flaws`
/// feature, switches on, for the calling test's thread, the flaw named by
/// `SEALWIRE_PLANTED_FLAW` (none when unset), so that the whole suite can be
/// run against each planted defect. Without the feature it does nothing.
pub(crate) fn planted_flaw_from_env() {
    #[cfg(feature = "planted-flaws")]
    sealwire::flaws::set_from_env();
}

/// A generator that hands out exactly the bytes it was given, in order, and
/// panics when a caller draws more than scripted (a test bug: the API
/// promises how many bytes each call draws).
#[derive(Debug, Default)]
pub(crate) struct ScriptedRng {
    bytes: Vec<u8>,
    pos: usize,
}

impl ScriptedRng {
    pub(crate) fn new(chunks: &[&[u8]]) -> Self {
        Self {
            bytes: chunks.concat(),
            pos: 0,
        }
    }

    /// Bytes scripted but not drawn.
    pub(crate) fn remaining(&self) -> usize {
        self.bytes.len() - self.pos
    }
}

impl TryRng for ScriptedRng {
    type Error = Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        let mut b = [0u8; 4];
        self.try_fill_bytes(&mut b)?;
        Ok(u32::from_le_bytes(b))
    }

    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        let mut b = [0u8; 8];
        self.try_fill_bytes(&mut b)?;
        Ok(u64::from_le_bytes(b))
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        let end = self.pos + dst.len();
        assert!(
            end <= self.bytes.len(),
            "scripted generator exhausted: {} bytes asked, {} left",
            dst.len(),
            self.remaining()
        );
        dst.copy_from_slice(&self.bytes[self.pos..end]);
        self.pos = end;
        Ok(())
    }
}

impl TryCryptoRng for ScriptedRng {}

/// Bob's published material and private store.
#[derive(Debug)]
pub(crate) struct Responder {
    pub(crate) identity: IdentityKeyPair,
    pub(crate) store: InMemoryPreKeyStore,
    pub(crate) bundle: PreKeyBundle,
}

/// Bob with signed prekey id 7 and, optionally, one-time prekey id 100.
pub(crate) fn responder(rng: &mut ChaCha20Rng, with_opk: bool) -> Responder {
    let identity = IdentityKeyPair::generate_with_rng(rng);
    let spk = SignedPreKey::generate_with_rng(7, &identity, rng);
    let opk = OneTimePreKey::generate_with_rng(100, rng);
    let bundle = PreKeyBundle::new(&identity, &spk, with_opk.then_some(&opk));
    let mut store = InMemoryPreKeyStore::new();
    store.add_signed_prekey(spk);
    if with_opk {
        store.add_one_time_prekey(opk);
    }
    Responder {
        identity,
        store,
        bundle,
    }
}

/// Two sessions after a completed handshake, with the generator that made them.
#[derive(Debug)]
pub(crate) struct Pair {
    pub(crate) seed: u64,
    pub(crate) rng: ChaCha20Rng,
    pub(crate) alice: Session,
    pub(crate) bob: Session,
    pub(crate) bob_store: InMemoryPreKeyStore,
}

/// Runs the handshake; Bob has decrypted Alice's first message (N = 0 of her
/// first chain) and neither has sent anything else.
pub(crate) fn pair(seed: u64, with_opk: bool) -> Pair {
    let mut rng = seeded(seed);
    let alice_identity = IdentityKeyPair::generate_with_rng(&mut rng);
    let mut bob = responder(&mut rng, with_opk);
    let (alice, initial) = initiate_with_rng(&alice_identity, &bob.bundle, b"first", &mut rng)
        .unwrap_or_else(|e| panic!("seed {seed}: initiate failed: {e}"));
    let (bob_session, first) = respond_with_rng(&bob.identity, &mut bob.store, &initial, &mut rng)
        .unwrap_or_else(|e| panic!("seed {seed}: respond failed: {e}"));
    assert_eq!(first, b"first", "seed {seed}");
    Pair {
        seed,
        rng,
        alice,
        bob: bob_session,
        bob_store: bob.store,
    }
}

/// The serialized state: the "byte-identical" of the all-or-nothing rule.
pub(crate) fn snapshot(session: &Session) -> Vec<u8> {
    session.to_bytes().to_vec()
}

/// Decrypts and panics with `ctx` on failure.
pub(crate) fn open(session: &mut Session, msg: &[u8], rng: &mut ChaCha20Rng, ctx: &str) -> Vec<u8> {
    session
        .decrypt_with_rng(msg, rng)
        .unwrap_or_else(|e| panic!("{ctx}: genuine message rejected: {e} ({})", e.class()))
}

/// Asserts that `msg` is rejected with error class `class` and that the
/// session's serialized state is byte-identical afterwards.
pub(crate) fn assert_rejected(
    session: &mut Session,
    msg: &[u8],
    rng: &mut ChaCha20Rng,
    class: &str,
    ctx: &str,
) -> Error {
    let before = snapshot(session);
    let err = match session.decrypt_with_rng(msg, rng) {
        Ok(pt) => panic!("{ctx}: accepted, plaintext {} bytes", pt.len()),
        Err(e) => e,
    };
    assert_eq!(err.class().as_str(), class, "{ctx}: wrong error {err:?}");
    assert!(snapshot(session) == before, "{ctx}: state changed");
    err
}

/// Decodes lowercase hex (test vectors).
pub(crate) fn hex(s: &str) -> Vec<u8> {
    let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    assert!(s.len().is_multiple_of(2), "odd hex length");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex digit"))
        .collect()
}

pub(crate) fn hex32(s: &str) -> [u8; 32] {
    hex(s).try_into().expect("32 bytes of hex")
}

/// True when `key` is a canonical X25519 encoding (bit 255 clear and the
/// little-endian value below p = 2^255 - 19), computed here independently:
/// Sealwire rejects other encodings on the wire (`wire` class).
pub(crate) fn is_canonical_x25519(key: &[u8; 32]) -> bool {
    // Compare u with p from the most significant byte down.
    let mut p = [0xffu8; 32];
    p[0] = 0xed;
    p[31] = 0x7f;
    for i in (0..32).rev() {
        if key[i] != p[i] {
            return key[i] < p[i];
        }
    }
    false // u == p
}

/// Low-order X25519 public keys. Source: D. J. Bernstein, "How do I validate
/// Curve25519 public keys?" (https://cr.yp.to/ecdh.html#validate), the same
/// list libsodium rejects in `has_small_order`: 0, 1, the two points of
/// order 8, p - 1, p and p + 1 (p = 2^255 - 19). Each is also used with the
/// top bit set, which RFC 7748 §5 says X25519 must ignore. The flag says
/// whether the encoding is canonical (see [`is_canonical_x25519`]).
pub(crate) fn low_order_points() -> Vec<(String, [u8; 32], bool)> {
    let base = [
        (
            "0",
            "0000000000000000000000000000000000000000000000000000000000000000",
        ),
        (
            "1",
            "0100000000000000000000000000000000000000000000000000000000000000",
        ),
        (
            "order 8 (e0eb..)",
            "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
        ),
        (
            "order 8 (5f9c..)",
            "5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157",
        ),
        (
            "p-1",
            "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
        ),
        (
            "p",
            "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
        ),
        (
            "p+1",
            "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
        ),
    ];
    let mut out = Vec::new();
    for (name, h) in base {
        let point = hex32(h);
        out.push((name.to_string(), point, is_canonical_x25519(&point)));
        let mut top = point;
        top[31] |= 0x80;
        out.push((format!("{name} with top bit set"), top, false));
    }
    out
}
