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

#[cfg(feature = "ring")]
mod with_ring;

use chacha20poly1305::aead::inout::InOutBuf;
use chacha20poly1305::{AeadInOut, ChaCha20Poly1305, Key, KeyInit, Nonce, Tag};
use zeroize::Zeroizing;

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

/// The ChaCha20-Poly1305 implementation that seals and opens every message
/// of this build: one path per backend, chosen at compile time. Both give
/// the same bytes (RFC 8439); with the `ring` feature both are compiled and
/// the tests compare them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Backend {
    /// RustCrypto `chacha20poly1305`: pure Rust, the default.
    #[cfg_attr(
        all(feature = "ring", not(test)),
        expect(dead_code, reason = "with `ring` only the tests compare against it")
    )]
    RustCrypto,
    /// ring's assembly ChaCha20-Poly1305 (feature `ring`), see [`with_ring`].
    #[cfg(feature = "ring")]
    Ring,
}

/// The backend of this build.
#[cfg(not(feature = "ring"))]
const BACKEND: Backend = Backend::RustCrypto;
/// The backend of this build.
#[cfg(feature = "ring")]
const BACKEND: Backend = Backend::Ring;

/// The one ChaCha20-Poly1305 key schedule of a message: the AEAD key and
/// nonce that `MK` expands to.
struct MessageCipher {
    key: Zeroizing<[u8; kdf::AEAD_KEY_LEN]>,
    nonce: [u8; kdf::NONCE_LEN],
}

impl MessageCipher {
    fn new(mk: &MessageKey) -> Self {
        let (key, mut nonce) = kdf::message_keys(mk);
        if planted!(ConstantNonce) {
            nonce = [0u8; kdf::NONCE_LEN];
        }
        Self { key, nonce }
    }

    /// Encrypts `input` (or `output` in place, when `input` is `None`)
    /// into `output` and returns the tag.
    fn seal(&self, aad: &[u8], input: Option<&[u8]>, output: &mut [u8]) -> Result<Tag, Error> {
        self.seal_with(BACKEND, aad, input, output)
    }

    /// Verifies `tag` over `aad || body`, and only then decrypts `body`.
    fn open(&self, aad: &[u8], body: &mut [u8], tag: &Tag) -> Result<(), Error> {
        let result = self.open_with(BACKEND, aad, body, tag);
        if result.is_err() && planted!(ReleaseBeforeVerify) {
            // Decrypt-then-verify: the plaintext is already in the buffer
            // (sealing the ciphertext again applies the same keystream).
            let _ = self.seal_with(BACKEND, aad, None, body);
        }
        result
    }

    fn seal_with(
        &self,
        backend: Backend,
        aad: &[u8],
        input: Option<&[u8]>,
        output: &mut [u8],
    ) -> Result<Tag, Error> {
        match backend {
            Backend::RustCrypto => {
                let buffer = match input {
                    Some(input) => {
                        InOutBuf::new(input, output).map_err(|_| WireError::Truncated)?
                    }
                    None => InOutBuf::from(output),
                };
                ChaCha20Poly1305::new(&Key::from(*self.key))
                    .encrypt_inout_detached(&Nonce::from(self.nonce), aad, buffer)
                    .map_err(|_| Error::from(LimitError::PlaintextTooLong))
            }
            #[cfg(feature = "ring")]
            Backend::Ring => with_ring::seal(&self.key, self.nonce, aad, input, output),
        }
    }

    fn open_with(
        &self,
        backend: Backend,
        aad: &[u8],
        body: &mut [u8],
        tag: &Tag,
    ) -> Result<(), Error> {
        match backend {
            Backend::RustCrypto => ChaCha20Poly1305::new(&Key::from(*self.key))
                .decrypt_inout_detached(&Nonce::from(self.nonce), aad, InOutBuf::from(body), tag)
                .map_err(|_| Error::DecryptionFailed),
            #[cfg(feature = "ring")]
            Backend::Ring => with_ring::open(&self.key, self.nonce, aad, body, tag),
        }
    }
}

fn aad_for(ad: &AssociatedData, header: &[u8]) -> [u8; AD_LEN + HEADER_LEN] {
    let mut aad = [0u8; AD_LEN + HEADER_LEN];
    aad[..AD_LEN].copy_from_slice(ad);
    aad[AD_LEN..].copy_from_slice(&header[..HEADER_LEN]);
    if planted!(HeaderUnauthenticated) {
        aad[AD_LEN..].fill(0);
    }
    aad
}

/// Seals a message in place.
///
/// `message` must be `header (41) || plaintext || 16 bytes of room`; on
/// return it holds `header || ciphertext || tag`. The header bytes are taken
/// as they are (see [`Header::encode`](crate::Header::encode)).
///
/// SPEC.md §7.
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
    let tag = MessageCipher::new(mk).seal(&aad, None, body)?;
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
    // Encrypt straight from `plaintext` into `out`: no copy of the plaintext.
    let aad = aad_for(ad, header);
    let (body, tag_room) = out[HEADER_LEN..].split_at_mut(plaintext.len());
    let tag = MessageCipher::new(mk).seal(&aad, Some(plaintext), body)?;
    tag_room.copy_from_slice(&tag);
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
///
/// SPEC.md §7.
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
    MessageCipher::new(mk).open(&aad, body, &tag)?;
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

    /// Lengths around every boundary: block (16), the 105-byte AAD's
    /// padding, ChaCha20's 64-byte and 4-block (256-byte) strides, and
    /// larger inputs.
    fn lengths() -> impl Iterator<Item = usize> {
        (0..=300).chain([511, 512, 513, 1024, 4095, 4096, 4097, 5000])
    }

    /// Two backends (or one backend with itself) agree: `a` seals from a
    /// separate input and `b` in place (so both modes are covered when a
    /// pair is checked both ways round), to the same bytes and tag; each
    /// opens the other's output; both reject a flipped tag bit and a
    /// flipped body bit and leave the body as it was.
    fn agree(
        ctx: &str,
        cipher: &MessageCipher,
        aad: &[u8],
        plaintext: &[u8],
        a: Backend,
        b: Backend,
    ) {
        let len = plaintext.len();
        let mut sealed_a = vec![0u8; len];
        let tag_a = cipher
            .seal_with(a, aad, Some(plaintext), &mut sealed_a)
            .unwrap();
        let mut sealed_b = plaintext.to_vec();
        let tag_b = cipher.seal_with(b, aad, None, &mut sealed_b).unwrap();
        assert!(sealed_a == sealed_b, "{ctx}: ciphertexts differ");
        assert_eq!(tag_a, tag_b, "{ctx}");

        let mut opened = sealed_b.clone();
        cipher.open_with(a, aad, &mut opened, &tag_b).unwrap();
        assert!(opened == plaintext, "{ctx}: a opened b's message wrongly");
        let mut opened = sealed_a.clone();
        cipher.open_with(b, aad, &mut opened, &tag_a).unwrap();
        assert!(opened == plaintext, "{ctx}: b opened a's message wrongly");

        let mut bad_tag = tag_a;
        bad_tag[len % 16] ^= 1 << (len % 8);
        for path in [a, b] {
            let mut untouched = sealed_a.clone();
            assert_eq!(
                cipher.open_with(path, aad, &mut untouched, &bad_tag),
                Err(Error::DecryptionFailed),
                "{ctx}"
            );
            assert!(untouched == sealed_a, "{ctx}: rejected body changed");
            if len > 0 {
                let mut flipped = sealed_a.clone();
                flipped[len / 2] ^= 0x80;
                let before = flipped.clone();
                assert_eq!(
                    cipher.open_with(path, aad, &mut flipped, &tag_a),
                    Err(Error::DecryptionFailed),
                    "{ctx}"
                );
                assert!(flipped == before, "{ctx}: rejected body changed");
            }
        }
    }

    fn numbered_cipher(i: usize) -> MessageCipher {
        let mut mk = [0u8; 32];
        mk[..8].copy_from_slice(&(i as u64).to_le_bytes());
        MessageCipher::new(&MessageKey::from_bytes(mk))
    }

    const AADS: [&[u8]; 3] = [&[], &[0x5a; 105], &[0xa5; 16]];

    #[test]
    fn the_backend_seals_in_place_and_in_to_out_alike_and_rejects_tampering() {
        for (i, len) in lengths().enumerate() {
            let cipher = numbered_cipher(i);
            let plaintext: Vec<u8> = (0..len).map(|j| (j * 31 + i) as u8).collect();
            for aad in AADS {
                let ctx = format!("length {len}, aad {}", aad.len());
                agree(&ctx, &cipher, aad, &plaintext, BACKEND, BACKEND);
            }
        }
    }

    #[cfg(feature = "ring")]
    #[test]
    fn ring_and_rustcrypto_backends_agree_byte_for_byte() {
        let (ring, rust_crypto) = (Backend::Ring, Backend::RustCrypto);
        let sizes = lengths().chain([16 * 1024 - 1, 16 * 1024, 16 * 1024 + 1, MAX_PLAINTEXT_LEN]);
        for (i, len) in sizes.enumerate() {
            let cipher = numbered_cipher(i);
            let plaintext: Vec<u8> = (0..len).map(|j| (j * 7 + i) as u8).collect();
            for aad in AADS {
                let ctx = format!("length {len}, aad {}", aad.len());
                agree(&ctx, &cipher, aad, &plaintext, ring, rust_crypto);
                agree(&ctx, &cipher, aad, &plaintext, rust_crypto, ring);
            }
        }
    }

    #[test]
    fn rfc8439_section_2_8_2_aead_vector_on_the_backend() {
        let hex = |s: &str| -> Vec<u8> {
            (0..s.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
                .collect()
        };
        let key: [u8; 32] = hex("808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f")
            .try_into()
            .unwrap();
        let cipher = MessageCipher {
            key: Zeroizing::new(key),
            nonce: hex("070000004041424344454647").try_into().unwrap(),
        };
        let aad = hex("50515253c0c1c2c3c4c5c6c7");
        let plaintext = b"Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.";
        let mut body = vec![0u8; plaintext.len()];
        let tag = cipher.seal(&aad, Some(plaintext), &mut body).unwrap();
        assert_eq!(&body[..16], &hex("d31a8d34648e60db7b86afbc53ef7ec2")[..]);
        assert_eq!(tag.to_vec(), hex("1ae10b594f09e26a7e902ecbd0600691"));
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
