//! SPEC.md §1's functions, each a thin call into a primitive crate:
//! `X25519(k, u)`, `HKDF(salt, ikm, info, L)`, `HMAC(key, data)` and
//! `AEAD(key, nonce, aad, pt)`. No primitive is implemented here.

use chacha20poly1305::aead::inout::InOutBuf;
use chacha20poly1305::{AeadInOut, ChaCha20Poly1305, Key, KeyInit, Nonce, Tag};
use hkdf::Hkdf;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::error::{ModelError, ModelResult};
use crate::secret::Secret32;

/// ChaCha20-Poly1305's tag length.
pub const TAG_LEN: usize = 16;

/// `X25519(k, u)` (RFC 7748 §5; clamps `k` itself). The all-zero output is
/// `low_order_key`, checked in constant time (SPEC.md §2).
pub fn x25519(k: &[u8; 32], u: &[u8; 32]) -> ModelResult<Secret32> {
    let out = Secret32::new(x25519_dalek::x25519(*k, *u));
    if bool::from(out.expose().ct_eq(&[0u8; 32])) {
        return Err(ModelError::LowOrderKey);
    }
    Ok(out)
}

/// The X25519 public key of a private key: `X25519(k, 9)`.
pub fn x25519_public(k: &[u8; 32]) -> [u8; 32] {
    x25519_dalek::x25519(*k, x25519_dalek::X25519_BASEPOINT_BYTES)
}

/// `HKDF(salt, ikm, info, L)` with `L = okm.len()` (at most 8160 bytes).
pub fn hkdf(salt: &[u8], ikm: &[u8], info: &[u8], okm: &mut [u8]) {
    // Every length the spec uses (32, 44, 64) is far below 255 * 32.
    if Hkdf::<Sha256>::new(Some(salt), ikm)
        .expand(info, okm)
        .is_err()
    {
        okm.fill(0);
    }
}

/// `HMAC(key, data)`: 32 bytes.
pub fn hmac(key: &[u8], data: &[u8]) -> Secret32 {
    let mut mac = <Hmac<Sha256> as hmac::KeyInit>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC accepts keys of every length"));
    mac.update(data);
    Secret32::new(mac.finalize().into_bytes().into())
}

/// `AEAD(key, nonce, aad, pt)` = `ciphertext || tag`.
pub fn aead_seal(key: &[u8; 32], nonce: &[u8; 12], aad: &[u8], pt: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(pt.len() + TAG_LEN);
    out.extend_from_slice(pt);
    let cipher = ChaCha20Poly1305::new(&Key::from(*key));
    // The only failure is a plaintext over 2^38 bytes; the spec's limit is
    // 1 MiB, and every caller checks it first.
    match cipher.encrypt_inout_detached(&Nonce::from(*nonce), aad, InOutBuf::from(&mut out[..])) {
        Ok(tag) => out.extend_from_slice(&tag),
        Err(_) => out.clear(),
    }
    out
}

/// Opens `ciphertext || tag`: `decryption_failed` when the tag does not
/// verify (or the input is shorter than a tag).
pub fn aead_open(
    key: &[u8; 32],
    nonce: &[u8; 12],
    aad: &[u8],
    body: &[u8],
) -> ModelResult<Zeroizing<Vec<u8>>> {
    if body.len() < TAG_LEN {
        return Err(ModelError::DecryptionFailed);
    }
    let (ct, tag) = body.split_at(body.len() - TAG_LEN);
    let tag = Tag::try_from(tag).map_err(|_| ModelError::DecryptionFailed)?;
    let mut pt = Zeroizing::new(ct.to_vec());
    let cipher = ChaCha20Poly1305::new(&Key::from(*key));
    cipher
        .decrypt_inout_detached(&Nonce::from(*nonce), aad, InOutBuf::from(&mut pt[..]), &tag)
        .map_err(|_| ModelError::DecryptionFailed)?;
    Ok(pt)
}
