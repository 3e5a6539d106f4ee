//! The profile's key derivation functions: X3DH's SK, KDF_RK, KDF_CK, the
//! message-key expansion and the state key, with their labels.
//!
//! Every one is a call into the `hmac` and `hkdf` crates (RFC 2104,
//! RFC 5869) over the `sha2` crate's SHA-256; nothing here computes a hash
//! itself. Two key schedules are reused instead of recomputed: KDF_CK keys
//! one `Hmac<Sha256>` with the chain key and clones it for both outputs, and
//! the message-key expansion clones an `Hmac<Sha256>` keyed once per process
//! with the all-zero salt for its HKDF-Extract, then expands with
//! `Hkdf::from_prk`. Both compute the same function as the plain calls; the
//! tests check them against `Hkdf::new` and a freshly keyed HMAC byte for
//! byte.

use std::sync::LazyLock;

use hkdf::Hkdf;
use hmac::digest::FixedOutput;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use zeroize::Zeroizing;

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

type HmacSha256 = Hmac<Sha256>;

/// HMAC-SHA256 keyed with a 32-byte key (the `hmac` crate's key schedule).
fn keyed(key: &[u8; KEY_LEN]) -> HmacSha256 {
    <HmacSha256 as KeyInit>::new_from_slice(key).expect("HMAC takes keys of every length")
}

/// HMAC-SHA256 keyed with the all-zero salt of the message-key expansion's
/// HKDF-Extract: the salt is public and fixed, so its key schedule is
/// computed once per process and cloned for every message key.
static ZERO_SALT: LazyLock<HmacSha256> = LazyLock::new(|| keyed(&[0u8; KEY_LEN]));

/// `out = HMAC(K, message)` for an HMAC already keyed with `K`.
fn mac_into(mut mac: HmacSha256, message: &[u8], out: &mut [u8; KEY_LEN]) {
    mac.update(message);
    mac.finalize_into(out.into());
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
    let mut okm = Zeroizing::new([0u8; 2 * KEY_LEN]);
    expand_into(&rk.0, dh_out, LABEL_ROOT, &mut okm[..]);
    let mut root = RootKey([0u8; KEY_LEN]);
    let mut chain = ChainKey([0u8; KEY_LEN]);
    root.0.copy_from_slice(&okm[..KEY_LEN]);
    chain.0.copy_from_slice(&okm[KEY_LEN..]);
    (root, chain)
}

/// `KDF_CK(ck)`: next chain key = `HMAC(ck, 0x02)`, message key = `HMAC(ck, 0x01)`.
///
/// The HMAC key schedule of `ck` is computed once and cloned for both outputs.
///
/// SPEC.md §6.1.
pub(crate) fn kdf_ck(ck: &ChainKey) -> (ChainKey, MessageKey) {
    let mac = keyed(&ck.0);
    let mut mk = MessageKey([0u8; KEY_LEN]);
    let mut next = ChainKey([0u8; KEY_LEN]);
    mac_into(mac.clone(), &[0x01], &mut mk.0);
    mac_into(mac, &[0x02], &mut next.0);
    (next, mk)
}

/// `key || nonce = HKDF(salt = 0x00*32, ikm = MK, info = "Sealwire MessageKeys v1", L = 44)`.
///
/// SPEC.md §7.
pub(crate) fn message_keys(mk: &MessageKey) -> (Zeroizing<[u8; AEAD_KEY_LEN]>, [u8; NONCE_LEN]) {
    // HKDF-Extract with the zero salt's schedule: PRK = HMAC(0x00*32, MK).
    let mut prk = Zeroizing::new([0u8; KEY_LEN]);
    mac_into(ZERO_SALT.clone(), &mk.0, &mut prk);
    // HKDF-Expand from that PRK.
    let mut okm = Zeroizing::new([0u8; AEAD_KEY_LEN + NONCE_LEN]);
    Hkdf::<Sha256>::from_prk(&prk[..])
        .expect("a 32-byte PRK is SHA-256's output length")
        .expand(LABEL_MESSAGE_KEYS, &mut okm[..])
        .expect("44 bytes is at most 255 * 32");
    split_key_nonce(&okm)
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
        ikm.extend_from_slice(&d);
        expand_into(&[0u8; 32], &ikm, LABEL_X3DH, &mut expected);
        assert_eq!(four.0, expected);
    }

    /// HMAC-SHA256 keyed afresh for one message.
    fn fresh_hmac(key: &[u8], msg: &[u8]) -> [u8; 32] {
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
        for (i, key) in inputs(16, 3).iter().enumerate() {
            let (next, mk) = kdf_ck(&ChainKey(*key));
            assert_eq!(mk.0, fresh_hmac(key, &[1]), "input {i}");
            assert_eq!(next.0, fresh_hmac(key, &[2]), "input {i}");
            assert_ne!(next.0, mk.0);
        }
    }

    /// The reused schedules (the cloned zero-salt HMAC and `from_prk`)
    /// compute exactly what `Hkdf::new` computes.
    #[test]
    fn reused_key_schedules_match_plain_hkdf() {
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
            // The state key: salt given, L = 44.
            let salt = [!(i as u8); 32];
            let mut okm = [0u8; 44];
            expand_into(&salt, ikm, LABEL_STATE, &mut okm);
            let (key, nonce) = state_keys(ikm, &salt);
            assert_eq!(key[..], okm[..32], "input {i}");
            assert_eq!(nonce[..], okm[32..], "input {i}");
        }
    }

    #[test]
    fn zero_salt_schedule_is_the_all_zero_key() {
        let mut out = [0u8; 32];
        mac_into(ZERO_SALT.clone(), b"abc", &mut out);
        assert_eq!(out, fresh_hmac(&[0u8; 32], b"abc"));
    }
}
