//! The sealing core: message key -> AEAD key and nonce -> ChaCha20-Poly1305
//! with `aad = AD || header`.
//!
//! ```text
//! key || nonce = HKDF(salt = 0x00*32, ikm = MK, info = "Sealwire MessageKeys v1", L = 44)
//! aad          = AD (64) || header (41)
//! body         = ChaCha20-Poly1305(key, nonce, aad, plaintext) = ciphertext || tag (16)
//! message      = header || body
//! ```
//!
//! Both directions work inside the caller's buffer: [`seal_in_place`] takes
//! `header || plaintext || 16 spare bytes` and leaves the finished message
//! there; [`open_in_place`] verifies the tag first and only then decrypts the
//! ciphertext where it lies. On any failure the buffer is left untouched, so
//! no unauthenticated plaintext is ever written.

use chacha20poly1305::aead::inout::InOutBuf;
use chacha20poly1305::{AeadInOut, ChaCha20Poly1305, Key, KeyInit, Nonce, Tag};

use crate::error::{Error, LimitError, WireError};
use crate::kdf;
use crate::keys::MessageKey;

/// Length of the associated data AD = Encode(IK_A) || Encode(IK_B).
pub const AD_LEN: usize = 64;
/// Length of a ratchet message header.
pub const HEADER_LEN: usize = 41;
/// Length of the Poly1305 tag.
pub const TAG_LEN: usize = 16;
/// A ratchet message is exactly this many bytes longer than its plaintext.
pub const OVERHEAD: usize = HEADER_LEN + TAG_LEN;
/// The longest plaintext one message may carry: 1 MiB.
pub const MAX_PLAINTEXT_LEN: usize = 1 << 20;

/// The associated data of a session: `Encode(IK_A) || Encode(IK_B)`,
/// initiator first.
pub type AssociatedData = [u8; AD_LEN];

/// The AEAD key and nonce of a message key:
/// `key || nonce = HKDF(0x00*32, MK, "Sealwire MessageKeys v1", 44)`.
pub fn message_key_material(
    mk: &MessageKey,
) -> (
    zeroize::Zeroizing<[u8; kdf::AEAD_KEY_LEN]>,
    [u8; kdf::NONCE_LEN],
) {
    kdf::message_keys(mk)
}

fn cipher_for(mk: &MessageKey) -> (ChaCha20Poly1305, Nonce) {
    let (key, nonce) = kdf::message_keys(mk);
    let cipher = ChaCha20Poly1305::new(&Key::from(*key));
    (cipher, Nonce::from(nonce))
}

fn aad_for(ad: &AssociatedData, header: &[u8]) -> [u8; AD_LEN + HEADER_LEN] {
    let mut aad = [0u8; AD_LEN + HEADER_LEN];
    aad[..AD_LEN].copy_from_slice(ad);
    aad[AD_LEN..].copy_from_slice(&header[..HEADER_LEN]);
    aad
}

/// Seals a message in place.
///
/// `message` must be `header (41) || plaintext || 16 bytes of room`; on
/// return it holds `header || ciphertext || tag`. The header bytes are taken
/// as they are (see [`Header::encode`](crate::Header::encode)).
pub fn seal_in_place(
    mk: &MessageKey,
    ad: &AssociatedData,
    message: &mut [u8],
) -> Result<(), Error> {
    if message.len() < OVERHEAD {
        return Err(WireError::Truncated.into());
    }
    if message.len() - OVERHEAD > MAX_PLAINTEXT_LEN {
        return Err(LimitError::PlaintextTooLong.into());
    }
    let (header, rest) = message.split_at_mut(HEADER_LEN);
    let aad = aad_for(ad, header);
    let body_len = rest.len() - TAG_LEN;
    let (body, tag_room) = rest.split_at_mut(body_len);
    let (cipher, nonce) = cipher_for(mk);
    let tag = cipher
        .encrypt_inout_detached(&nonce, &aad, InOutBuf::from(body))
        .map_err(|_| Error::from(LimitError::PlaintextTooLong))?;
    tag_room.copy_from_slice(&tag);
    Ok(())
}

/// Seals `plaintext` after `header` into `out`, which must hold at least
/// `plaintext.len() + OVERHEAD` bytes; returns how many bytes were written.
pub fn seal_into(
    mk: &MessageKey,
    ad: &AssociatedData,
    header: &[u8; HEADER_LEN],
    plaintext: &[u8],
    out: &mut [u8],
) -> Result<usize, Error> {
    let len = plaintext
        .len()
        .checked_add(OVERHEAD)
        .ok_or(LimitError::PlaintextTooLong)?;
    if plaintext.len() > MAX_PLAINTEXT_LEN {
        return Err(LimitError::PlaintextTooLong.into());
    }
    let out = out
        .get_mut(..len)
        .ok_or(Error::Wire(WireError::Truncated))?;
    out[..HEADER_LEN].copy_from_slice(header);
    out[HEADER_LEN..len - TAG_LEN].copy_from_slice(plaintext);
    seal_in_place(mk, ad, out)?;
    Ok(len)
}

/// Seals `plaintext` into a new buffer: `header || ciphertext || tag`.
pub fn seal(
    mk: &MessageKey,
    ad: &AssociatedData,
    header: &[u8; HEADER_LEN],
    plaintext: &[u8],
) -> Result<Vec<u8>, Error> {
    if plaintext.len() > MAX_PLAINTEXT_LEN {
        return Err(LimitError::PlaintextTooLong.into());
    }
    let mut out = vec![0u8; plaintext.len() + OVERHEAD];
    seal_into(mk, ad, header, plaintext, &mut out)?;
    Ok(out)
}

/// Opens `header || ciphertext || tag` in place.
///
/// The tag is verified before anything is decrypted; on success the
/// ciphertext is replaced by the plaintext, which is returned as a slice of
/// `message`. On failure `message` is unchanged and the error says only
/// "decryption failed".
pub fn open_in_place<'m>(
    mk: &MessageKey,
    ad: &AssociatedData,
    message: &'m mut [u8],
) -> Result<&'m mut [u8], Error> {
    if message.len() < OVERHEAD {
        return Err(WireError::Truncated.into());
    }
    if message.len() - OVERHEAD > MAX_PLAINTEXT_LEN {
        return Err(WireError::Oversized.into());
    }
    let (header, rest) = message.split_at_mut(HEADER_LEN);
    let aad = aad_for(ad, header);
    let body_len = rest.len() - TAG_LEN;
    let (body, tag) = rest.split_at_mut(body_len);
    let tag = Tag::try_from(&tag[..]).map_err(|_| Error::DecryptionFailed)?;
    let (cipher, nonce) = cipher_for(mk);
    cipher
        .decrypt_inout_detached(&nonce, &aad, InOutBuf::from(&mut body[..]), &tag)
        .map_err(|_| Error::DecryptionFailed)?;
    Ok(body)
}

/// Opens a message into a new plaintext buffer, leaving `message` as it is.
pub fn open(mk: &MessageKey, ad: &AssociatedData, message: &[u8]) -> Result<Vec<u8>, Error> {
    let mut scratch = message.to_vec();
    let result = open_in_place(mk, ad, &mut scratch).map(|pt| pt.to_vec());
    // The scratch copy holds plaintext on success: wipe it before freeing.
    zeroize::Zeroize::zeroize(&mut scratch);
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header() -> [u8; HEADER_LEN] {
        let mut h = [0u8; HEADER_LEN];
        h[0] = 1;
        h[1..33].fill(9);
        h
    }

    #[test]
    fn in_place_and_allocating_seal_agree_and_open() {
        let mk = MessageKey::from_bytes([3u8; 32]);
        let ad = [4u8; AD_LEN];
        let pt = b"attack at dawn";
        let sealed = seal(&mk, &ad, &header(), pt).unwrap();
        assert_eq!(sealed.len(), pt.len() + OVERHEAD);
        let mut buf = vec![0u8; pt.len() + OVERHEAD];
        buf[..HEADER_LEN].copy_from_slice(&header());
        buf[HEADER_LEN..HEADER_LEN + pt.len()].copy_from_slice(pt);
        seal_in_place(&mk, &ad, &mut buf).unwrap();
        assert_eq!(buf, sealed);
        assert_eq!(open(&mk, &ad, &sealed).unwrap(), pt);
    }

    #[test]
    fn failed_open_leaves_buffer_untouched() {
        let mk = MessageKey::from_bytes([3u8; 32]);
        let ad = [4u8; AD_LEN];
        let mut sealed = seal(&mk, &ad, &header(), b"hello world").unwrap();
        let last = sealed.len() - 1;
        sealed[last] ^= 1;
        let before = sealed.clone();
        assert_eq!(
            open_in_place(&mk, &ad, &mut sealed).unwrap_err(),
            Error::DecryptionFailed
        );
        assert_eq!(sealed, before);
        let other_ad = [5u8; AD_LEN];
        sealed[last] ^= 1;
        assert_eq!(
            open(&mk, &other_ad, &sealed).unwrap_err(),
            Error::DecryptionFailed
        );
    }

    #[test]
    fn short_and_oversized_buffers_are_typed_errors() {
        let mk = MessageKey::from_bytes([3u8; 32]);
        let ad = [4u8; AD_LEN];
        let mut short = [0u8; OVERHEAD - 1];
        assert_eq!(
            open_in_place(&mk, &ad, &mut short).unwrap_err(),
            Error::Wire(WireError::Truncated)
        );
        let mut out = [0u8; OVERHEAD + 3];
        assert_eq!(
            seal_into(&mk, &ad, &header(), b"four", &mut out).unwrap_err(),
            Error::Wire(WireError::Truncated)
        );
        let big = vec![0u8; MAX_PLAINTEXT_LEN + 1];
        assert_eq!(
            seal(&mk, &ad, &header(), &big).unwrap_err().class(),
            crate::ErrorClass::RatchetLimit
        );
    }
}
