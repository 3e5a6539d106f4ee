//! ChaCha20-Poly1305 through ring (feature `ring`).
//!
//! ring's x86-64 assembly seals a 64-byte message in a fraction of the
//! time of the portable RustCrypto build and is faster in bulk too
//! (measurements in `benches/README.md`). The bytes are the same
//! (RFC 8439); the tests in `seal.rs` compare the two backends on every
//! length boundary.
//!
//! Two differences from the RustCrypto path are handled here:
//!
//! - ring opens in one pass (it decrypts while it authenticates) and, when
//!   the tag is wrong, overwrites the body with zeros. Sealwire promises
//!   that a rejected message leaves the caller's buffer as it was, so
//!   [`open`] keeps a copy of the ciphertext (public bytes) and puts it back
//!   on failure. No unauthenticated plaintext survives the call.
//! - ring has no in-to-out seal, so a plaintext given separately is first
//!   copied into the output buffer, then sealed there.
//!
//! Residue: ring's key object (a copy of the 32-byte AEAD key) lives on the
//! stack for the duration of one call and ring does not zeroize it; the
//! RustCrypto backend does. SPEC.md, section 13, records this.

use ring::aead::{Aad, CHACHA20_POLY1305, LessSafeKey, Nonce, UnboundKey};

use crate::error::{Error, LimitError, WireError};
use crate::kdf::{AEAD_KEY_LEN, NONCE_LEN};

use super::{TAG_LEN, Tag};

fn key(key: &[u8; AEAD_KEY_LEN], failure: Error) -> Result<LessSafeKey, Error> {
    // ring refuses only keys of the wrong length, which the type rules out.
    UnboundKey::new(&CHACHA20_POLY1305, key)
        .map(LessSafeKey::new)
        .map_err(|_| failure)
}

/// Encrypts `input` (or `output` in place, when `input` is `None`) into
/// `output` and returns the tag.
pub(super) fn seal(
    aead_key: &[u8; AEAD_KEY_LEN],
    nonce: [u8; NONCE_LEN],
    aad: &[u8],
    input: Option<&[u8]>,
    output: &mut [u8],
) -> Result<Tag, Error> {
    if let Some(input) = input {
        if input.len() != output.len() {
            return Err(WireError::Truncated.into());
        }
        output.copy_from_slice(input);
    }
    let too_long = Error::from(LimitError::PlaintextTooLong);
    let tag = key(aead_key, too_long.clone())?
        .seal_in_place_separate_tag(Nonce::assume_unique_for_key(nonce), Aad::from(aad), output)
        .map_err(|_| too_long)?;
    let mut bytes = [0u8; TAG_LEN];
    bytes.copy_from_slice(tag.as_ref());
    Ok(Tag::from(bytes))
}

/// Verifies `tag` over `aad || body` and decrypts `body`; on failure
/// `body` holds the ciphertext it held before.
pub(super) fn open(
    aead_key: &[u8; AEAD_KEY_LEN],
    nonce: [u8; NONCE_LEN],
    aad: &[u8],
    body: &mut [u8],
    tag: &Tag,
) -> Result<(), Error> {
    let key = key(aead_key, Error::DecryptionFailed)?;
    let mut received = [0u8; TAG_LEN];
    received.copy_from_slice(tag.as_slice());
    let ciphertext = body.to_vec();
    let opened = key.open_in_place_separate_tag(
        Nonce::assume_unique_for_key(nonce),
        Aad::from(aad),
        ring::aead::Tag::from(received),
        body,
        0..,
    );
    if opened.is_err() {
        body.copy_from_slice(&ciphertext);
        return Err(Error::DecryptionFailed);
    }
    Ok(())
}
