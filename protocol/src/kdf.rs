//! The profile's key derivation functions: X3DH's SK, KDF_RK, KDF_CK and the
//! message-key expansion, with their labels.
//!
//! The per-message functions (KDF_CK, the message-key expansion) and KDF_RK
//! run HMAC-SHA256 directly on SHA-256's compression function with each key
//! schedule computed once ([`HmacKey`]): the HMAC keyed with the all-zero
//! salt is computed once per process, and one PRK schedule serves both
//! expand blocks. That is 15 compressions per message key instead of 17,
//! without the generic buffering of the `hmac`/`hkdf` crates. X3DH and the
//! state key (variable-length input, rare) use the `hkdf` crate; tests check
//! the fast path against it byte for byte.

use std::sync::LazyLock;

use hkdf::Hkdf;
use sha2::Sha256;
use sha2::block_api::compress256;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::keys::{ChainKey, KEY_LEN, MessageKey, RootKey, SharedKey};

/// HKDF info of the X3DH shared secret.
pub const LABEL_X3DH: &[u8] = b"Sealwire X3DH v1";
/// HKDF info of the root KDF.
pub const LABEL_ROOT: &[u8] = b"Sealwire Root v1";
/// HKDF info of the message-key expansion into AEAD key and nonce.
pub const LABEL_MESSAGE_KEYS: &[u8] = b"Sealwire MessageKeys v1";
/// HKDF info of the key that seals a persisted session state.
pub const LABEL_STATE: &[u8] = b"Sealwire State v1";

/// Length of the ChaCha20-Poly1305 key, in bytes.
pub const AEAD_KEY_LEN: usize = 32;
/// Length of the ChaCha20-Poly1305 nonce, in bytes.
pub const NONCE_LEN: usize = 12;

/// SHA-256's block length in bytes.
const BLOCK_LEN: usize = 64;
/// SHA-256's output length in bytes.
const DIGEST_LEN: usize = 32;
/// The longest message [`HmacKey::mac_into`] takes: two blocks less the
/// padding byte and the 8-byte length.
const MAX_MAC_INPUT: usize = 2 * BLOCK_LEN - 9;

/// SHA-256's initial hash value H(0) (FIPS 180-4, 5.3.3).
const SHA256_IV: [u32; 8] = [
    0x6a09_e667,
    0xbb67_ae85,
    0x3c6e_f372,
    0xa54f_f53a,
    0x510e_527f,
    0x9b05_688c,
    0x1f83_d9ab,
    0x5be0_cd19,
];

/// An HMAC-SHA256 key schedule (RFC 2104): the SHA-256 states after
/// absorbing `K ^ ipad` and `K ^ opad`. Computing it costs two compressions;
/// each MAC of a message of at most 55 bytes then costs two more (at most
/// 119 bytes: three).
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
struct HmacKey {
    inner: [u32; 8],
    outer: [u32; 8],
}

/// HKDF-Extract with the all-zero salt (the message-key expansion): the
/// salt is public and fixed, so its schedule is computed once.
static ZERO_SALT: LazyLock<HmacKey> = LazyLock::new(|| HmacKey::new(&[0u8; KEY_LEN]));

impl HmacKey {
    /// The schedule of a 32-byte key (shorter than a block: zero-padded).
    fn new(key: &[u8; KEY_LEN]) -> Self {
        let mut block = Zeroizing::new([[0x36u8; BLOCK_LEN]]);
        for (b, k) in block[0].iter_mut().zip(key) {
            *b ^= k;
        }
        let mut inner = SHA256_IV;
        compress256(&mut inner, &block[..]);
        // K ^ opad = (K ^ ipad) ^ (ipad ^ opad)
        for b in block[0].iter_mut() {
            *b ^= 0x36 ^ 0x5c;
        }
        let mut outer = SHA256_IV;
        compress256(&mut outer, &block[..]);
        Self { inner, outer }
    }

    /// `out = HMAC(K, parts[0] || parts[1] || ...)`; the parts total at
    /// most [`MAX_MAC_INPUT`] bytes (every caller passes fixed lengths).
    fn mac_into(&self, parts: &[&[u8]], out: &mut [u8; DIGEST_LEN]) {
        // Inner hash: the message after the key block, padded (FIPS 180-4, 5.1.1).
        // Only the bytes that held secrets are wiped below (a second block
        // that was never used holds none): wiping costs a volatile write
        // per byte, a noticeable share of a short MAC.
        let mut blocks = [[0u8; BLOCK_LEN]; 2];
        let flat = blocks.as_flattened_mut();
        let mut len = 0;
        for part in parts {
            flat[len..len + part.len()].copy_from_slice(part);
            len += part.len();
        }
        debug_assert!(len <= MAX_MAC_INPUT);
        let used = if len + 9 <= BLOCK_LEN { 1 } else { 2 };
        flat[len] = 0x80;
        let bits = ((BLOCK_LEN + len) as u64) * 8;
        flat[used * BLOCK_LEN - 8..used * BLOCK_LEN].copy_from_slice(&bits.to_be_bytes());
        let mut inner = Zeroizing::new(self.inner);
        compress256(&mut inner, &blocks[..used]);
        blocks[..used].as_flattened_mut().zeroize();

        // Outer hash: the inner digest after the opad block, padded.
        let mut outer_block = [[0u8; BLOCK_LEN]];
        write_digest(&inner, &mut outer_block[0][..DIGEST_LEN]);
        outer_block[0][DIGEST_LEN] = 0x80;
        let bits = ((BLOCK_LEN + DIGEST_LEN) as u64) * 8;
        outer_block[0][BLOCK_LEN - 8..].copy_from_slice(&bits.to_be_bytes());
        let mut outer = Zeroizing::new(self.outer);
        compress256(&mut outer, &outer_block[..]);
        outer_block[0][..DIGEST_LEN].zeroize();
        write_digest(&outer, out);
    }
}

/// A SHA-256 state as its big-endian digest bytes.
fn write_digest(state: &[u32; 8], out: &mut [u8]) {
    for (chunk, word) in out.chunks_exact_mut(4).zip(state) {
        chunk.copy_from_slice(&word.to_be_bytes());
    }
}

/// HKDF-SHA256 (RFC 5869) for a 32-byte IKM and an output of at most two
/// blocks: `T(1) = HMAC(PRK, info || 0x01)`, `T(2) = HMAC(PRK, T(1) || info || 0x02)`.
/// `info` is at most 32 bytes here, so every HMAC input fits [`MAX_MAC_INPUT`].
fn hkdf_two_blocks(
    salt: &HmacKey,
    ikm: &[u8; KEY_LEN],
    info: &[u8],
    t1: &mut [u8; DIGEST_LEN],
    t2: &mut [u8; DIGEST_LEN],
) {
    debug_assert!(info.len() <= 32);
    // HKDF-Extract: PRK = HMAC(salt, IKM)
    let mut prk = Zeroizing::new([0u8; DIGEST_LEN]);
    salt.mac_into(&[ikm], &mut prk);
    // HKDF-Expand: one PRK schedule for both blocks.
    let prk = HmacKey::new(&prk);
    prk.mac_into(&[info, &[0x01]], t1);
    prk.mac_into(&[&t1[..], info, &[0x02]], t2);
}

/// X3DH: `SK = HKDF(salt = 0x00*32, ikm = 0xFF*32 || DH1 || DH2 || DH3 [|| DH4],
/// info = "Sealwire X3DH v1", L = 32)`.
///
/// SPEC.md §5.1.
pub(crate) fn x3dh_shared_key(dhs: &[&[u8; KEY_LEN]]) -> SharedKey {
    let mut ikm = Zeroizing::new([0u8; KEY_LEN * 5]);
    ikm[..KEY_LEN].fill(0xff);
    let mut len = KEY_LEN;
    for dh in dhs.iter().take(4) {
        ikm[len..len + KEY_LEN].copy_from_slice(&dh[..]);
        len += KEY_LEN;
    }
    let mut sk = SharedKey([0u8; KEY_LEN]);
    expand_into(&[0u8; KEY_LEN], &ikm[..len], LABEL_X3DH, &mut sk.0);
    sk
}

/// `KDF_RK(rk, dh_out) = HKDF(salt = rk, ikm = dh_out, info = "Sealwire Root v1", L = 64)`:
/// the new root key is bytes 0..32, the new chain key bytes 32..64.
///
/// SPEC.md §6.1.
pub(crate) fn kdf_rk(rk: &RootKey, dh_out: &[u8; KEY_LEN]) -> (RootKey, ChainKey) {
    let mut root = RootKey([0u8; KEY_LEN]);
    let mut chain = ChainKey([0u8; KEY_LEN]);
    hkdf_two_blocks(
        &HmacKey::new(&rk.0),
        dh_out,
        LABEL_ROOT,
        &mut root.0,
        &mut chain.0,
    );
    (root, chain)
}

/// `KDF_CK(ck)`: next chain key = `HMAC(ck, 0x02)`, message key = `HMAC(ck, 0x01)`.
///
/// The HMAC key schedule of `ck` is computed once and shared by both outputs.
///
/// SPEC.md §6.1.
pub(crate) fn kdf_ck(ck: &ChainKey) -> (ChainKey, MessageKey) {
    let keyed = HmacKey::new(&ck.0);
    let mut mk = MessageKey([0u8; KEY_LEN]);
    let mut next = ChainKey([0u8; KEY_LEN]);
    keyed.mac_into(&[&[0x01]], &mut mk.0);
    keyed.mac_into(&[&[0x02]], &mut next.0);
    (next, mk)
}

/// `key || nonce = HKDF(salt = 0x00*32, ikm = MK, info = "Sealwire MessageKeys v1", L = 44)`.
///
/// SPEC.md §7.
pub(crate) fn message_keys(mk: &MessageKey) -> (Zeroizing<[u8; AEAD_KEY_LEN]>, [u8; NONCE_LEN]) {
    // key = T(1); nonce = the first 12 bytes of T(2).
    let mut key = Zeroizing::new([0u8; AEAD_KEY_LEN]);
    let mut t2 = Zeroizing::new([0u8; DIGEST_LEN]);
    hkdf_two_blocks(&ZERO_SALT, &mk.0, LABEL_MESSAGE_KEYS, &mut key, &mut t2);
    let mut nonce = [0u8; NONCE_LEN];
    nonce.copy_from_slice(&t2[..NONCE_LEN]);
    (key, nonce)
}

/// The key and nonce that seal a persisted state:
/// `HKDF(salt = salt, ikm = storage_key, info = "Sealwire State v1", L = 44)`.
///
/// SPEC.md §9.2.
pub(crate) fn state_keys(
    storage_key: &[u8; KEY_LEN],
    salt: &[u8; KEY_LEN],
) -> (Zeroizing<[u8; AEAD_KEY_LEN]>, [u8; NONCE_LEN]) {
    let mut okm = Zeroizing::new([0u8; AEAD_KEY_LEN + NONCE_LEN]);
    expand_into(salt, storage_key, LABEL_STATE, &mut okm[..]);
    split_key_nonce(&okm)
}

fn split_key_nonce(
    okm: &[u8; AEAD_KEY_LEN + NONCE_LEN],
) -> (Zeroizing<[u8; AEAD_KEY_LEN]>, [u8; NONCE_LEN]) {
    let mut key = Zeroizing::new([0u8; AEAD_KEY_LEN]);
    let mut nonce = [0u8; NONCE_LEN];
    key.copy_from_slice(&okm[..AEAD_KEY_LEN]);
    nonce.copy_from_slice(&okm[AEAD_KEY_LEN..]);
    (key, nonce)
}

/// HKDF-SHA256 extract-then-expand into `okm` (at most 255 * 32 bytes).
fn expand_into(salt: &[u8], ikm: &[u8], info: &[u8], okm: &mut [u8]) {
    Hkdf::<Sha256>::new(Some(salt), ikm)
        .expand(info, okm)
        .expect("every output length used here is at most 64 bytes");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn x3dh_ikm_is_prefixed_with_ff_and_takes_three_or_four_dhs() {
        let a = [1u8; 32];
        let b = [2u8; 32];
        let c = [3u8; 32];
        let d = [4u8; 32];
        let three = x3dh_shared_key(&[&a, &b, &c]);
        let four = x3dh_shared_key(&[&a, &b, &c, &d]);
        assert_ne!(three, four);
        // Recompute by hand: HKDF over the explicit ikm.
        let mut ikm = vec![0xffu8; 32];
        ikm.extend_from_slice(&a);
        ikm.extend_from_slice(&b);
        ikm.extend_from_slice(&c);
        let mut expected = [0u8; 32];
        expand_into(&[0u8; 32], &ikm, LABEL_X3DH, &mut expected);
        assert_eq!(three.0, expected);
    }

    use hmac::{Hmac, KeyInit, Mac};

    type HmacSha256 = Hmac<Sha256>;

    /// HMAC-SHA256 by the `hmac` crate: the reference for the fast path.
    fn reference_hmac(key: &[u8], msg: &[u8]) -> [u8; 32] {
        let mut mac = <HmacSha256 as KeyInit>::new_from_slice(key).unwrap();
        mac.update(msg);
        mac.finalize().into_bytes().into()
    }

    /// Deterministic, distinct 32-byte inputs (a simple LCG: no secrets here).
    fn inputs(count: usize, seed: u64) -> Vec<[u8; 32]> {
        let mut x = seed;
        (0..count)
            .map(|_| {
                let mut out = [0u8; 32];
                for b in &mut out {
                    x = x
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    *b = (x >> 56) as u8;
                }
                out
            })
            .collect()
    }

    #[test]
    fn kdf_ck_outputs_are_hmac_with_constants() {
        let ck = ChainKey([7u8; 32]);
        let (next, mk) = kdf_ck(&ck);
        assert_eq!(mk.0, reference_hmac(&[7u8; 32], &[1]));
        assert_eq!(next.0, reference_hmac(&[7u8; 32], &[2]));
        assert_ne!(next.0, mk.0);
    }

    #[test]
    fn fast_hmac_matches_the_hmac_crate_at_every_input_length() {
        // Every length up to the limit, across the one/two-block boundary
        // (55/56 bytes) and at both ends.
        for (i, key) in inputs(4, 1).iter().enumerate() {
            let fast = HmacKey::new(key);
            // mac_into's whole documented range (MAX_MAC_INPUT), and at
            // least every length two SHA-256 blocks can carry after the key
            // block (less the 0x80 byte and the 8-byte length), which its
            // debug assertion must allow: a wrong constant fails either way.
            for len in 0..=MAX_MAC_INPUT.max(2 * BLOCK_LEN - 9) {
                let msg: Vec<u8> = (0..len).map(|j| (j * 7 + i) as u8).collect();
                let mut out = [0u8; 32];
                // Split the message into two parts to exercise concatenation.
                let (a, b) = msg.split_at(len / 3);
                fast.mac_into(&[a, b], &mut out);
                assert_eq!(out, reference_hmac(key, &msg), "key {i}, length {len}");
            }
        }
    }

    #[test]
    fn fast_hkdf_paths_match_the_hkdf_crate() {
        for (i, ikm) in inputs(64, 2).iter().enumerate() {
            // Message keys: salt 0x00*32, L = 44.
            let mut okm = [0u8; 44];
            expand_into(&[0u8; 32], ikm, LABEL_MESSAGE_KEYS, &mut okm);
            let (key, nonce) = message_keys(&MessageKey(*ikm));
            assert_eq!(key[..], okm[..32], "input {i}");
            assert_eq!(nonce[..], okm[32..], "input {i}");
            // KDF_RK: salt = RK, L = 64.
            let rk = [i as u8; 32];
            let mut okm = [0u8; 64];
            expand_into(&rk, ikm, LABEL_ROOT, &mut okm);
            let (root, chain) = kdf_rk(&RootKey(rk), ikm);
            assert_eq!(root.0[..], okm[..32], "input {i}");
            assert_eq!(chain.0[..], okm[32..], "input {i}");
        }
    }

    #[test]
    fn zero_salt_schedule_is_the_all_zero_key() {
        let mut out = [0u8; 32];
        ZERO_SALT.mac_into(&[b"abc"], &mut out);
        assert_eq!(out, reference_hmac(&[0u8; 32], b"abc"));
    }
}
