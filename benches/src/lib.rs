//! # Sealwire benchmarks: shared fixtures and the ratio report
//!
//! The criterion benches (`benches/*.rs`, wall time) and the gungraun benches
//! (`benches/gate.rs`, instruction counts) measure the same operations on the
//! same inputs, built here. Every input is deterministic: keys come from a
//! seeded [`ChaCha20Rng`], so two runs measure the same work.
//!
//! [`report`] reads criterion's `estimates.json` files of one run and prints
//! the ratios the project tracks (see `benches/README.md`).

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod report;

use chacha20poly1305::aead::inout::InOutBuf;
use chacha20poly1305::{AeadInOut, ChaCha20Poly1305, Key, KeyInit, Nonce, Tag};
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use sealwire::hazmat::{ChainKey, MessageKey};
use sealwire::{
    AD_LEN, HEADER_LEN, Header, IdentityKeyPair, InMemoryPreKeyStore, OVERHEAD, OneTimePreKey,
    PreKeyBundle, PublicKey, Session, SignedPreKey, TAG_LEN, initiate_with_rng, respond_with_rng,
};

/// The message sizes every seal and open bench runs at: 64 B, 1 KiB,
/// 16 KiB and 1 MiB (the longest plaintext a message may carry).
pub const SIZES: [usize; 4] = [64, 1024, 16 * 1024, 1 << 20];

/// Length of the associated data that ChaCha20-Poly1305 authenticates for
/// every Sealwire message: `AD (64) || header (41)`.
pub const SEALWIRE_AAD_LEN: usize = AD_LEN + HEADER_LEN;

/// A deterministic generator for bench inputs.
pub fn rng(seed: u64) -> ChaCha20Rng {
    ChaCha20Rng::seed_from_u64(seed)
}

/// A plaintext of `len` bytes (a fixed, non-zero pattern).
pub fn plaintext(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8).collect()
}

/// The inputs of the sealing core alone: a message key, the session's
/// associated data and an encoded header.
#[derive(Debug)]
pub struct CoreInputs {
    /// The message key MK.
    pub message_key: MessageKey,
    /// `Encode(IK_A) || Encode(IK_B)`.
    pub ad: [u8; AD_LEN],
    /// An encoded ratchet header.
    pub header: [u8; HEADER_LEN],
}

impl CoreInputs {
    /// Fixed inputs (the values only have to be deterministic).
    ///
    /// Also runs the message-key schedule once, so that its process-wide
    /// one-time setup (the zero-salt HMAC schedule) is never counted in a
    /// one-shot instruction-count bench.
    pub fn new() -> Self {
        let _ = sealwire::hazmat::seal::message_key_material(&MessageKey::from_bytes([0u8; 32]));
        let header = Header {
            ratchet_key: PublicKey::from_bytes([9u8; 32]),
            previous_chain_len: 3,
            message_number: 7,
        };
        Self {
            message_key: MessageKey::from_bytes([0x42; 32]),
            ad: [0x17; AD_LEN],
            header: header.encode(),
        }
    }

    /// `header || plaintext || 16 spare bytes`: what `seal_in_place` takes.
    pub fn unsealed(&self, len: usize) -> Vec<u8> {
        let mut message = vec![0u8; len + OVERHEAD];
        message[..HEADER_LEN].copy_from_slice(&self.header);
        message[HEADER_LEN..HEADER_LEN + len].copy_from_slice(&plaintext(len));
        message
    }

    /// A sealed message of a `len`-byte plaintext: what `open_in_place` takes.
    pub fn sealed(&self, len: usize) -> Vec<u8> {
        let mut message = self.unsealed(len);
        sealwire::hazmat::seal::seal_in_place(&self.message_key, &self.ad, &mut message)
            .expect("the bench sizes are within the plaintext limit");
        message
    }
}

impl Default for CoreInputs {
    fn default() -> Self {
        Self::new()
    }
}

/// The raw AEAD floor: a fresh ChaCha20-Poly1305 key per message (as in a
/// ratchet) and one detached seal of `buffer` in place.
pub fn raw_seal(key: &[u8; 32], nonce: &[u8; 12], aad: &[u8], buffer: &mut [u8]) -> Tag {
    ChaCha20Poly1305::new(&Key::from(*key))
        .encrypt_inout_detached(&Nonce::from(*nonce), aad, InOutBuf::from(buffer))
        .expect("the bench sizes are within the AEAD length limit")
}

/// The raw AEAD floor for opening: verify `tag`, then decrypt in place.
/// Returns whether the tag verified.
pub fn raw_open(
    key: &[u8; 32],
    nonce: &[u8; 12],
    aad: &[u8],
    buffer: &mut [u8],
    tag: &Tag,
) -> bool {
    ChaCha20Poly1305::new(&Key::from(*key))
        .decrypt_inout_detached(&Nonce::from(*nonce), aad, InOutBuf::from(buffer), tag)
        .is_ok()
}

/// The second floor (feature `ring`): ring's ChaCha20-Poly1305, a fresh
/// key per message, sealing in place; returns the tag.
#[cfg(feature = "ring")]
pub fn raw_ring_seal(key: &[u8; 32], nonce: &[u8; 12], aad: &[u8], buffer: &mut [u8]) -> [u8; 16] {
    use ring::aead::{Aad, CHACHA20_POLY1305, LessSafeKey, Nonce, UnboundKey};
    let key = LessSafeKey::new(
        UnboundKey::new(&CHACHA20_POLY1305, key).expect("a 32-byte ChaCha20-Poly1305 key"),
    );
    let tag = key
        .seal_in_place_separate_tag(Nonce::assume_unique_for_key(*nonce), Aad::from(aad), buffer)
        .expect("the bench sizes are within the AEAD length limit");
    let mut out = [0u8; 16];
    out.copy_from_slice(tag.as_ref());
    out
}

/// ring's open (feature `ring`): decrypts in place while it authenticates.
/// Returns whether the tag verified.
#[cfg(feature = "ring")]
pub fn raw_ring_open(
    key: &[u8; 32],
    nonce: &[u8; 12],
    aad: &[u8],
    buffer: &mut [u8],
    tag: &[u8; 16],
) -> bool {
    use ring::aead::{Aad, CHACHA20_POLY1305, LessSafeKey, Nonce, UnboundKey};
    let key = LessSafeKey::new(
        UnboundKey::new(&CHACHA20_POLY1305, key).expect("a 32-byte ChaCha20-Poly1305 key"),
    );
    key.open_in_place_separate_tag(
        Nonce::assume_unique_for_key(*nonce),
        Aad::from(aad),
        ring::aead::Tag::from(*tag),
        buffer,
        0..,
    )
    .is_ok()
}

/// Inputs of the raw AEAD floor: key, nonce and an AAD of Sealwire's length.
#[derive(Debug)]
pub struct RawInputs {
    /// The AEAD key.
    pub key: [u8; 32],
    /// The nonce.
    pub nonce: [u8; 12],
    /// 105 bytes, as long as Sealwire's `AD || header`.
    pub aad: [u8; SEALWIRE_AAD_LEN],
}

impl RawInputs {
    /// Fixed inputs.
    pub const fn new() -> Self {
        Self {
            key: [0x42; 32],
            nonce: [0x24; 12],
            aad: [0x17; SEALWIRE_AAD_LEN],
        }
    }

    /// A sealed `len`-byte plaintext and its tag, under `aad`.
    pub fn sealed(&self, len: usize, aad: &[u8]) -> (Vec<u8>, Tag) {
        let mut body = plaintext(len);
        let tag = raw_seal(&self.key, &self.nonce, aad, &mut body);
        (body, tag)
    }
}

impl Default for RawInputs {
    fn default() -> Self {
        Self::new()
    }
}

/// Alice's and Bob's sessions after X3DH: Alice initiated, Bob accepted
/// her first message. Alice's further messages stay on one sending chain
/// until Bob replies, so Bob receives them without a DH ratchet step.
#[derive(Debug)]
pub struct SessionPair {
    /// The initiator.
    pub alice: Session,
    /// The responder.
    pub bob: Session,
    /// The generator the pair was made with, for later draws.
    pub rng: ChaCha20Rng,
}

impl SessionPair {
    /// A pair made deterministically from `seed` (the handshake also runs
    /// the process-wide one-time setup of the key schedule).
    pub fn new(seed: u64) -> Self {
        let mut rng = rng(seed);
        let alice_id = IdentityKeyPair::generate_with_rng(&mut rng);
        let mut bob_side = Responder::new(&mut rng, true);
        let (alice, initial) = initiate_with_rng(&alice_id, &bob_side.bundle, b"hello", &mut rng)
            .expect("a fresh bundle verifies");
        let (bob, first) =
            respond_with_rng(&bob_side.identity, &mut bob_side.store, &initial, &mut rng)
                .expect("the initial message decrypts");
        assert_eq!(first, b"hello");
        Self { alice, bob, rng }
    }

    /// Alice encrypts `plaintext` into a new message on her current chain.
    pub fn alice_message(&mut self, plaintext: &[u8]) -> Vec<u8> {
        self.alice
            .encrypt(plaintext)
            .expect("the bench sizes are within the plaintext limit")
    }
}

/// The responder's side of X3DH: identity, published bundle and the store
/// of private prekeys.
#[derive(Clone, Debug)]
pub struct Responder {
    /// Bob's identity.
    pub identity: IdentityKeyPair,
    /// The bundle Bob publishes.
    pub bundle: PreKeyBundle,
    /// Bob's private prekeys.
    pub store: InMemoryPreKeyStore,
}

impl Responder {
    /// A responder with a signed prekey and, if `with_one_time_prekey`,
    /// one one-time prekey in the bundle.
    pub fn new(rng: &mut ChaCha20Rng, with_one_time_prekey: bool) -> Self {
        let identity = IdentityKeyPair::generate_with_rng(rng);
        let spk = SignedPreKey::generate_with_rng(1, &identity, rng);
        let opk = OneTimePreKey::generate_with_rng(100, rng);
        let bundle = PreKeyBundle::new(&identity, &spk, with_one_time_prekey.then_some(&opk));
        let mut store = InMemoryPreKeyStore::new();
        store.add_signed_prekey(spk);
        if with_one_time_prekey {
            store.add_one_time_prekey(opk);
        }
        Self {
            identity,
            bundle,
            store,
        }
    }
}

/// A chain key for the chain-step benches.
pub fn chain_key() -> ChainKey {
    ChainKey::from_bytes([0x5c; 32])
}

/// Bob's session, and the message from Alice that needs `skipped` message
/// keys derived and stored before it can be opened (out-of-order delivery).
pub fn out_of_order(seed: u64, skipped: usize) -> (Session, Vec<u8>) {
    let mut pair = SessionPair::new(seed);
    for _ in 0..skipped {
        pair.alice_message(b"lost");
    }
    let late = pair.alice_message(&plaintext(64));
    (pair.bob, late)
}

/// Bob's session, and Alice's reply to Bob's first message: opening it
/// performs a DH ratchet step (two X25519, one key generation, two root
/// KDF steps) before the 64-byte plaintext is opened.
pub fn new_turn(seed: u64) -> (Session, Vec<u8>, ChaCha20Rng) {
    let mut pair = SessionPair::new(seed);
    let from_bob = pair.bob.encrypt(b"reply").expect("small message");
    let opened = pair
        .alice
        .decrypt_with_rng(&from_bob, &mut pair.rng)
        .expect("Bob's reply opens");
    assert_eq!(opened, b"reply");
    // Alice's answer starts her next turn: Bob must ratchet to open it.
    let message = pair.alice_message(&plaintext(64));
    (pair.bob, message, pair.rng)
}

/// A session holding `skipped` stored message keys, for the state benches.
pub fn session_with_skipped_keys(seed: u64, skipped: usize) -> Session {
    let (mut bob, late) = out_of_order(seed, skipped);
    bob.decrypt_with_rng(&late, &mut rng(seed ^ 0xa5a5))
        .expect("the late message opens");
    assert_eq!(bob.skipped_keys_len(), skipped);
    bob
}

/// The length of a sealed message of a `len`-byte plaintext.
pub const fn sealed_len(len: usize) -> usize {
    len + HEADER_LEN + TAG_LEN
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealing_core_fixture_opens_to_its_plaintext() {
        let core = CoreInputs::new();
        let mut sealed = core.sealed(100);
        assert_eq!(sealed.len(), sealed_len(100));
        let opened =
            sealwire::hazmat::seal::open_in_place(&core.message_key, &core.ad, &mut sealed)
                .expect("the fixture opens");
        assert_eq!(opened, plaintext(100).as_slice());
    }

    #[cfg(feature = "ring")]
    #[test]
    fn ring_floor_seals_the_same_bytes_as_the_rustcrypto_floor() {
        let raw = RawInputs::new();
        for size in SIZES {
            let (sealed, tag) = raw.sealed(size, &raw.aad);
            let mut body = plaintext(size);
            let ring_tag = raw_ring_seal(&raw.key, &raw.nonce, &raw.aad, &mut body);
            assert!(body == sealed, "size {size}");
            assert_eq!(ring_tag[..], tag[..], "size {size}");
            assert!(!raw_ring_open(
                &raw.key,
                &raw.nonce,
                &[],
                &mut body.clone(),
                &ring_tag
            ));
            assert!(raw_ring_open(
                &raw.key, &raw.nonce, &raw.aad, &mut body, &ring_tag
            ));
            assert!(body == plaintext(size), "size {size}");
        }
    }

    #[test]
    fn raw_floor_fixture_round_trips_and_rejects_a_wrong_aad() {
        let raw = RawInputs::new();
        let (mut body, tag) = raw.sealed(64, &raw.aad);
        let mut copy = body.clone();
        assert!(!raw_open(&raw.key, &raw.nonce, &[], &mut copy, &tag));
        assert!(raw_open(&raw.key, &raw.nonce, &raw.aad, &mut body, &tag));
        assert_eq!(body, plaintext(64));
    }

    #[test]
    fn out_of_order_fixture_needs_exactly_the_requested_skips() {
        for skipped in [1, 100] {
            let (mut bob, late) = out_of_order(11, skipped);
            let opened = bob.decrypt_with_rng(&late, &mut rng(1)).expect("opens");
            assert_eq!(opened, plaintext(64));
            assert_eq!(bob.skipped_keys_len(), skipped);
        }
    }

    #[test]
    fn new_turn_fixture_ratchets_bob() {
        let (mut bob, message, mut rng) = new_turn(5);
        let before = *bob.ratchet_public_key();
        assert_eq!(
            bob.decrypt_with_rng(&message, &mut rng).unwrap(),
            plaintext(64)
        );
        assert_ne!(*bob.ratchet_public_key(), before);
    }
}
