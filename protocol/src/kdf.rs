//! The profile's key derivation functions: X3DH's SK, KDF_RK, KDF_CK and the
//! message-key expansion, with their labels.

use hkdf::Hkdf;
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

/// X3DH: `SK = HKDF(salt = 0x00*32, ikm = 0xFF*32 || DH1 || DH2 || DH3 [|| DH4],
/// info = "Sealwire X3DH v1", L = 32)`.
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
/// The HMAC key schedule of `ck` is computed once and shared by both outputs.
pub(crate) fn kdf_ck(ck: &ChainKey) -> (ChainKey, MessageKey) {
    let keyed = <HmacSha256 as KeyInit>::new_from_slice(&ck.0).expect("HMAC takes any key length");
    let mut for_message = keyed.clone();
    let mut for_chain = keyed;
    for_message.update(&[0x01]);
    for_chain.update(&[0x02]);
    let mut mk = MessageKey([0u8; KEY_LEN]);
    let mut next = ChainKey([0u8; KEY_LEN]);
    mk.0.copy_from_slice(&for_message.finalize().into_bytes());
    next.0.copy_from_slice(&for_chain.finalize().into_bytes());
    (next, mk)
}

/// `key || nonce = HKDF(salt = 0x00*32, ikm = MK, info = "Sealwire MessageKeys v1", L = 44)`.
pub(crate) fn message_keys(mk: &MessageKey) -> (Zeroizing<[u8; AEAD_KEY_LEN]>, [u8; NONCE_LEN]) {
    let mut okm = Zeroizing::new([0u8; AEAD_KEY_LEN + NONCE_LEN]);
    expand_into(&[0u8; KEY_LEN], &mk.0, LABEL_MESSAGE_KEYS, &mut okm[..]);
    split_key_nonce(&okm)
}

/// The key and nonce that seal a persisted state:
/// `HKDF(salt = salt, ikm = storage_key, info = "Sealwire State v1", L = 44)`.
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

    #[test]
    fn kdf_ck_outputs_are_hmac_with_constants() {
        let ck = ChainKey([7u8; 32]);
        let (next, mk) = kdf_ck(&ck);
        let mut h1 = <HmacSha256 as KeyInit>::new_from_slice(&[7u8; 32]).unwrap();
        h1.update(&[1]);
        let mut h2 = <HmacSha256 as KeyInit>::new_from_slice(&[7u8; 32]).unwrap();
        h2.update(&[2]);
        assert_eq!(mk.0[..], h1.finalize().into_bytes()[..]);
        assert_eq!(next.0[..], h2.finalize().into_bytes()[..]);
        assert_ne!(next.0, mk.0);
    }
}
