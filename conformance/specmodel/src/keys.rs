//! SPEC.md §2: identity keys and their Montgomery form, identity-key
//! validity, canonical and low-order X25519 keys, the prekey signature.

use curve25519_dalek::edwards::CompressedEdwardsY;
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use sha2::{Digest, Sha512};
use zeroize::Zeroizing;

use crate::error::{ModelError, ModelResult};
use crate::primitives::{x25519, x25519_public};
use crate::secret::Secret32;

/// A clamped probe scalar for the low-order test of §2 ("a fixed clamped
/// scalar k"). Deliberately not the reference's `0x5a*32`: any clamped
/// scalar must give the same verdict, and a different one checks that.
const LOW_ORDER_PROBE: [u8; 32] = {
    let mut k = [0x3c_u8; 32];
    k[0] &= 0xf8;
    k[31] = (k[31] & 0x7f) | 0x40;
    k
};

/// True when `key` is a canonical X25519 encoding: bit 255 clear and
/// `u < p = 2^255 - 19` (SPEC.md §2, "Canonical X25519 keys on the wire").
pub fn is_canonical_x25519(key: &[u8; 32]) -> bool {
    if key[31] & 0x80 != 0 {
        return false;
    }
    below_p(key)
}

/// `value < 2^255 - 19` for a little-endian value with bit 255 clear.
fn below_p(value: &[u8; 32]) -> bool {
    // p = 0x7fff...ffed, little-endian: ed ff .. ff 7f. Compare from the top.
    let mut p = [0xff_u8; 32];
    p[0] = 0xed;
    p[31] = 0x7f;
    for i in (0..32).rev() {
        if value[i] != p[i] {
            return value[i] < p[i];
        }
    }
    false
}

/// True when the X25519 key is of low order: `X25519(k, PK)` is all zero
/// for the fixed clamped probe scalar (SPEC.md §2).
pub fn is_low_order_x25519(key: &[u8; 32]) -> bool {
    x25519(&LOW_ORDER_PROBE, key).is_err()
}

/// An identity key pair made from its seed (RFC 8032 §5.1.5), with both
/// forms of SPEC.md §2.
pub struct IdentityModel {
    seed: Secret32,
    /// `Encode(IK)`: the raw Ed25519 public key.
    pub public: [u8; 32],
    /// The Montgomery private key: the first 32 bytes of `SHA-512(seed)`.
    montgomery_private: Secret32,
    /// The Montgomery public key, `X25519(montgomery_private, 9)`.
    pub montgomery_public: [u8; 32],
}

impl IdentityModel {
    /// The identity of `seed`.
    pub fn from_seed(seed: &[u8; 32]) -> Self {
        let public = SigningKey::from_bytes(seed).verifying_key().to_bytes();
        let mut digest: Zeroizing<[u8; 64]> = Zeroizing::new(Sha512::digest(seed).into());
        let mut first = Zeroizing::new([0u8; 32]);
        first.copy_from_slice(&digest[..32]);
        zeroize::Zeroize::zeroize(&mut *digest);
        let montgomery_private = Secret32::new(*first);
        // [a]B on Edwards maps to [a]9 on Montgomery: the public form
        // computed from the scalar, independently of the point map.
        let montgomery_public = x25519_public(montgomery_private.expose());
        Self {
            seed: Secret32::new(*seed),
            public,
            montgomery_private,
            montgomery_public,
        }
    }

    /// The Montgomery private key (SPEC.md §2), for DH1 / DH2.
    pub(crate) fn montgomery_private(&self) -> &[u8; 32] {
        self.montgomery_private.expose()
    }

    /// `Ed25519-Sign(IK, msg)`.
    pub fn sign(&self, msg: &[u8]) -> [u8; 64] {
        SigningKey::from_bytes(self.seed.expose())
            .sign(msg)
            .to_bytes()
    }
}

impl core::fmt::Debug for IdentityModel {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("IdentityModel")
            .field("public", &self.public)
            .finish_non_exhaustive()
    }
}

/// Validates a received `IK` (SPEC.md §2): it decodes as an Ed25519 point
/// with a canonical `y` (RFC 8032 §5.1.3), is not of small order and has no
/// torsion component. Returns its Montgomery form. Failures are `handshake`.
pub fn validate_identity_key(key: &[u8; 32]) -> ModelResult<[u8; 32]> {
    let mut y = *key;
    y[31] &= 0x7f;
    if !below_p(&y) {
        return Err(ModelError::Handshake("identity key: y is not below p"));
    }
    let point = CompressedEdwardsY(*key)
        .decompress()
        .ok_or(ModelError::Handshake("identity key: not a curve point"))?;
    if point.is_small_order() {
        return Err(ModelError::Handshake("identity key: small order"));
    }
    if !point.is_torsion_free() {
        return Err(ModelError::Handshake("identity key: torsion component"));
    }
    // u = (1 + y) / (1 - y) mod p
    Ok(point.to_montgomery().to_bytes())
}

/// Strict Ed25519 verification (RFC 8032 §5.1.7 with the checks of
/// SPEC.md §2): `handshake` when it fails.
pub fn verify_signature(identity_key: &[u8; 32], msg: &[u8], sig: &[u8; 64]) -> ModelResult<()> {
    let key = VerifyingKey::from_bytes(identity_key)
        .map_err(|_| ModelError::Handshake("identity key: not a curve point"))?;
    key.verify_strict(msg, &Signature::from_bytes(sig))
        .map_err(|_| ModelError::Handshake("signed prekey signature does not verify"))
}
