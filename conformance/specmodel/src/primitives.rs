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
    nonzero(x25519_dalek::x25519(*k, *u))
}

fn nonzero(out: [u8; 32]) -> ModelResult<Secret32> {
    let out = Secret32::new(out);
    if bool::from(out.expose().ct_eq(&[0u8; 32])) {
        return Err(ModelError::LowOrderKey);
    }
    Ok(out)
}

/// The X25519 public key of a private key: `X25519(k, 9)`.
pub fn x25519_public(k: &[u8; 32]) -> [u8; 32] {
    x25519_dalek::x25519(*k, x25519_dalek::X25519_BASEPOINT_BYTES)
}

/// [`x25519`] through the per-thread memo (below): for the ratchet's DHs,
/// which the fuzz oracles repeat in every execution.
pub fn x25519_ratchet(k: &[u8; 32], u: &[u8; 32]) -> ModelResult<Secret32> {
    nonzero(memo::x25519(k, u))
}

/// [`x25519_public`] through the per-thread memo: for a session's sending
/// key, whose public half every message of a chain carries.
pub fn x25519_ratchet_public(k: &[u8; 32]) -> [u8; 32] {
    memo::x25519(k, &x25519_dalek::X25519_BASEPOINT_BYTES)
}

/// The one optimisation of the model: a per-thread memo of `X25519(k, u)`
/// for the ratchet ([`x25519_ratchet`], [`x25519_ratchet_public`]).
///
/// The fuzz oracles check every message against the model, and most of
/// those checks repeat a ladder the model already ran: the same sending
/// key's public half for every message of a chain, the same fixture turns
/// in every execution. The function is pure, so a hit returns what the
/// same call into x25519-dalek returned for the same `(k, u)`, compared in
/// full: the model's answers are unchanged, and it still shares no code
/// with the reference.
///
/// Not for X3DH and key validation, whose keys come from the fuzz input:
/// there a hit depends on which inputs ran before, and so does how often
/// the (instrumented) ladder runs, which libFuzzer counts as coverage; the
/// `bundle` target's walks went to costlier inputs (fuzz/README.md,
/// "Speed").
///
/// A direct-mapped table of 128 entries in thread-local storage (no heap
/// block to be freed with a key in it); an entry is overwritten by the
/// next pair that maps to its slot, and every entry is wiped when the
/// thread ends. During thread teardown the memo is skipped.
mod memo {
    use core::cell::RefCell;

    use zeroize::Zeroize;

    const SLOTS: usize = 128;

    struct Entry {
        k: [u8; 32],
        u: [u8; 32],
        out: [u8; 32],
        used: bool,
    }

    struct Memo([Entry; SLOTS]);

    impl Drop for Memo {
        fn drop(&mut self) {
            for entry in &mut self.0 {
                entry.k.zeroize();
                entry.out.zeroize();
            }
        }
    }

    thread_local! {
        static MEMO: RefCell<Memo> = const {
            RefCell::new(Memo(
                [const {
                    Entry {
                        k: [0; 32],
                        u: [0; 32],
                        out: [0; 32],
                        used: false,
                    }
                }; SLOTS],
            ))
        };
    }

    fn slot(k: &[u8; 32], u: &[u8; 32]) -> usize {
        let mix =
            u16::from_le_bytes([k[0], k[1]]) ^ u16::from_le_bytes([u[0], u[1]]).rotate_left(7);
        usize::from(mix) % SLOTS
    }

    /// `x25519_dalek::x25519(k, u)`, from the memo when this thread has
    /// computed it for the same pair before.
    pub(super) fn x25519(k: &[u8; 32], u: &[u8; 32]) -> [u8; 32] {
        let memoised = MEMO.try_with(|memo| {
            let Ok(mut memo) = memo.try_borrow_mut() else {
                return x25519_dalek::x25519(*k, *u);
            };
            let entry = &mut memo.0[slot(k, u)];
            if entry.used && entry.k == *k && entry.u == *u {
                return entry.out;
            }
            let out = x25519_dalek::x25519(*k, *u);
            entry.k = *k;
            entry.u = *u;
            entry.out = out;
            entry.used = true;
            out
        });
        memoised.unwrap_or_else(|_| x25519_dalek::x25519(*k, *u))
    }

    #[cfg(test)]
    mod tests {
        use super::{SLOTS, slot, x25519};

        /// Hits, misses and evictions all give x25519-dalek's answer: pairs
        /// that share a slot alternate, each pair is asked several times.
        #[test]
        fn memo_answers_as_the_library_does() {
            let pairs: Vec<([u8; 32], [u8; 32])> = (0u8..=255)
                .map(|i| {
                    let mut k = [i.wrapping_mul(37); 32];
                    k[31] = i;
                    let mut u = [9u8; 32];
                    u[0] = i.wrapping_mul(11);
                    u[31] &= 0x7f;
                    (k, u)
                })
                .collect();
            let mut shared = std::collections::HashMap::<usize, usize>::new();
            for (k, u) in &pairs {
                *shared.entry(slot(k, u)).or_default() += 1;
            }
            assert!(
                shared.values().any(|&n| n > 1) && pairs.len() > SLOTS,
                "the test must evict"
            );
            for round in 0..3 {
                for (k, u) in pairs.iter().chain(pairs.iter().rev()) {
                    assert_eq!(x25519(k, u), x25519_dalek::x25519(*k, *u), "round {round}");
                }
            }
        }
    }
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
