//! Key types: identity keys (Ed25519), X25519 key pairs, prekeys, and the
//! symmetric secrets of the ratchet.
//!
//! Every secret type zeroizes on drop, is not `Copy`, and has a `Debug` that
//! prints no key bytes. Public keys are plain values.

use core::fmt;

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use rand_core::CryptoRng;
use subtle::ConstantTimeEq;
use x25519_dalek::StaticSecret;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::error::{Error, HandshakeError};

/// Length of every key in the profile, in bytes.
pub const KEY_LEN: usize = 32;
/// Length of an Ed25519 signature, in bytes.
pub const SIGNATURE_LEN: usize = 64;

/// Declares a 32-byte symmetric secret: zeroized on drop, not `Copy`,
/// compared in constant time, redacted in `Debug`.
macro_rules! secret_32 {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Clone, Zeroize)]
        pub struct $name(pub(crate) [u8; KEY_LEN]);

        impl Drop for $name {
            fn drop(&mut self) {
                if !planted!(NoZeroizeOnDrop) {
                    self.0.zeroize();
                }
            }
        }

        impl ZeroizeOnDrop for $name {}

        impl Default for $name {
            /// All zero: a placeholder, never used as a key.
            fn default() -> Self {
                Self([0u8; KEY_LEN])
            }
        }

        impl $name {
            /// Wraps raw key bytes (for known-answer tests and restored state).
            pub fn from_bytes(bytes: [u8; KEY_LEN]) -> Self {
                Self(bytes)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                if planted!(DebugFingerprint) {
                    return write!(
                        f,
                        concat!(stringify!($name), "(<redacted {:02x}{:02x}{:02x}>)"),
                        self.0[0], self.0[1], self.0[2]
                    );
                }
                if planted!(DebugLeaksSecret) {
                    return write!(f, concat!(stringify!($name), "({:02x?})"), self.0);
                }
                f.write_str(concat!(stringify!($name), "(<redacted>)"))
            }
        }

        impl ConstantTimeEq for $name {
            fn ct_eq(&self, other: &Self) -> subtle::Choice {
                if planted!(NonConstantTimeCompare) {
                    // Early exit at the first differing byte.
                    for (a, b) in self.0.iter().zip(other.0.iter()) {
                        if a != b {
                            return subtle::Choice::from(0);
                        }
                    }
                    return subtle::Choice::from(1);
                }
                self.0.ct_eq(&other.0)
            }
        }

        impl PartialEq for $name {
            fn eq(&self, other: &Self) -> bool {
                self.ct_eq(other).into()
            }
        }

        impl Eq for $name {}
    };
}

secret_32!(
    /// The Double Ratchet root key RK.
    RootKey
);
secret_32!(
    /// A sending or receiving chain key CK.
    ChainKey
);
secret_32!(
    /// A message key MK: used for exactly one message.
    MessageKey
);
secret_32!(
    /// The X3DH shared secret SK, the first root key.
    SharedKey
);
secret_32!(
    /// A caller-provided 32-byte key that seals persisted session states.
    StorageKey
);

/// An X25519 public key (RFC 7748), as its raw 32 bytes.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct PublicKey(pub(crate) [u8; KEY_LEN]);

impl PublicKey {
    /// Wraps raw bytes. No check is made here: low-order keys are rejected
    /// where a key is used (bundle verification, every DH).
    pub const fn from_bytes(bytes: [u8; KEY_LEN]) -> Self {
        Self(bytes)
    }

    /// The raw 32 bytes, `Encode(PK)` in the profile.
    pub const fn as_bytes(&self) -> &[u8; KEY_LEN] {
        &self.0
    }

    /// True when the encoding is canonical: bit 255 is clear and the
    /// little-endian value u is below p = 2^255 - 19. X25519 itself ignores
    /// bit 255 and reduces u mod p (RFC 7748 §5), so a non-canonical key
    /// gives the same shared secret as its canonical twin; Sealwire rejects
    /// such encodings on the wire so that no message is malleable there.
    ///
    /// SPEC.md §2.
    pub fn is_canonical(&self) -> bool {
        let b = &self.0;
        if b[31] & 0x80 != 0 {
            return false;
        }
        // u >= p exactly when u = 2^255 - 19 + k for k in 0..19:
        // bytes 0x7f, 0xff x 30, then the low byte >= 0xed.
        let at_least_p = b[31] == 0x7f && b[1..31].iter().all(|&x| x == 0xff) && b[0] >= 0xed;
        !at_least_p
    }

    /// True when the key is of low order (or otherwise non-contributory):
    /// X25519 with it gives the all-zero output for every private key.
    ///
    /// Checked by one scalar multiplication with a fixed probe scalar: the
    /// clamped scalar is a multiple of the cofactor 8, so the result is zero
    /// exactly when the point lies in the small subgroup (including the
    /// non-canonical encodings of such points).
    ///
    /// SPEC.md §2.
    pub fn is_low_order(&self) -> bool {
        const PROBE: [u8; KEY_LEN] = [0x5a; KEY_LEN];
        let out = Zeroizing::new(x25519_dalek::x25519(PROBE, self.0));
        bool::from(out.ct_eq(&[0u8; KEY_LEN])) && !planted!(LowOrderAccepted)
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey(")?;
        for b in &self.0 {
            write!(f, "{b:02x}")?;
        }
        write!(f, ")")
    }
}

/// An X25519 key pair: the signed prekey, a one-time prekey, an ephemeral
/// key or a ratchet key.
#[derive(Clone)]
pub struct KeyPair {
    secret: StaticSecret,
    public: PublicKey,
}

impl KeyPair {
    /// Builds the key pair from a 32-byte private key (clamped by X25519).
    pub fn from_secret_bytes(secret: [u8; KEY_LEN]) -> Self {
        let mut secret = Zeroizing::new(secret);
        let secret = StaticSecret::from(core::mem::take(&mut *secret));
        let public = PublicKey(x25519_dalek::PublicKey::from(&secret).to_bytes());
        Self { secret, public }
    }

    /// Draws a fresh private key: exactly 32 bytes from `rng`.
    pub fn generate_with_rng<R: CryptoRng + ?Sized>(rng: &mut R) -> Self {
        let mut bytes = Zeroizing::new([0u8; KEY_LEN]);
        rng.fill_bytes(&mut *bytes);
        #[cfg(feature = "planted-flaws")]
        if planted!(RngIgnored) {
            crate::flaws::weak_random(&mut bytes[..]);
        }
        Self::from_secret_bytes(*bytes)
    }

    /// The public half.
    pub const fn public(&self) -> &PublicKey {
        &self.public
    }

    /// X25519 with `their` public key; an all-zero result is an error.
    pub(crate) fn dh(&self, their: &PublicKey) -> Result<Zeroizing<[u8; KEY_LEN]>, Error> {
        dh(&self.secret, their)
    }

    /// The private key bytes, for the persisted state format.
    pub(crate) fn secret_bytes(&self) -> Zeroizing<[u8; KEY_LEN]> {
        Zeroizing::new(self.secret.to_bytes())
    }
}

impl fmt::Debug for KeyPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyPair")
            .field("public", &self.public)
            .field("secret", &"<redacted>")
            .finish()
    }
}

/// X25519(secret, public), rejecting the all-zero output in constant time.
pub(crate) fn dh(
    secret: &StaticSecret,
    their: &PublicKey,
) -> Result<Zeroizing<[u8; KEY_LEN]>, Error> {
    let shared = secret.diffie_hellman(&x25519_dalek::PublicKey::from(their.0));
    let out = Zeroizing::new(shared.to_bytes());
    if bool::from(out.ct_eq(&[0u8; KEY_LEN])) && !planted!(LowOrderAccepted) {
        return Err(Error::LowOrderKey);
    }
    Ok(out)
}

/// An Ed25519 identity public key, validated: a canonical, non-weak point.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct IdentityPublicKey {
    bytes: [u8; KEY_LEN],
    key: VerifyingKey,
}

impl IdentityPublicKey {
    /// Decodes and validates a 32-byte Ed25519 public key. Points that do
    /// not decode, points of small order and points with a torsion
    /// component (not in the prime-order subgroup) are rejected.
    ///
    /// SPEC.md §2.
    pub fn from_bytes(bytes: [u8; KEY_LEN]) -> Result<Self, Error> {
        let key =
            VerifyingKey::from_bytes(&bytes).map_err(|_| HandshakeError::InvalidIdentityKey)?;
        // Small-order points are weak; mixed-order points (a torsion
        // component beside the prime-order one) are never made from a seed,
        // and libsodium and XEdDSA refuse to map them to X25519: refuse them
        // too, so that every implementation agrees (SPEC.md §2).
        if key.is_weak() || !key.to_edwards().is_torsion_free() {
            return Err(HandshakeError::InvalidIdentityKey.into());
        }
        Ok(Self { bytes, key })
    }

    /// The raw 32-byte Ed25519 public key, `Encode(IK)`.
    pub const fn as_bytes(&self) -> &[u8; KEY_LEN] {
        &self.bytes
    }

    /// The key's Montgomery form, used for X3DH's DH with an identity key.
    pub fn to_x25519(&self) -> PublicKey {
        PublicKey(self.key.to_montgomery().to_bytes())
    }

    /// Strict Ed25519 verification (`verify_strict`) of `signature` on `msg`.
    ///
    /// SPEC.md §4.
    pub fn verify(&self, msg: &[u8], signature: &[u8; SIGNATURE_LEN]) -> Result<(), Error> {
        let sig = Signature::from_bytes(signature);
        self.key
            .verify_strict(msg, &sig)
            .map_err(|_| HandshakeError::BadSignature.into())
    }
}

impl fmt::Debug for IdentityPublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "IdentityPublicKey(")?;
        for b in &self.bytes {
            write!(f, "{b:02x}")?;
        }
        write!(f, ")")
    }
}

/// A long-term identity: an Ed25519 key pair made from a 32-byte seed
/// (RFC 8032), with the X25519 private scalar derived from the same seed.
#[derive(Clone)]
pub struct IdentityKeyPair {
    signing: SigningKey,
    dh_secret: StaticSecret,
    public: IdentityPublicKey,
}

impl IdentityKeyPair {
    /// Builds the identity from its 32-byte seed.
    ///
    /// The X25519 private key is the first 32 bytes of SHA-512(seed), which
    /// X25519 clamps as usual (profile: `SigningKey::to_scalar_bytes`).
    pub fn from_seed(seed: [u8; KEY_LEN]) -> Self {
        let mut seed = Zeroizing::new(seed);
        let signing = SigningKey::from_bytes(&seed);
        seed.zeroize();
        let scalar = Zeroizing::new(signing.to_scalar_bytes());
        let dh_secret = StaticSecret::from(*scalar);
        let verifying = signing.verifying_key();
        let public = IdentityPublicKey {
            bytes: verifying.to_bytes(),
            key: verifying,
        };
        Self {
            signing,
            dh_secret,
            public,
        }
    }

    /// Draws a fresh seed: exactly 32 bytes from `rng`.
    pub fn generate_with_rng<R: CryptoRng + ?Sized>(rng: &mut R) -> Self {
        let mut seed = Zeroizing::new([0u8; KEY_LEN]);
        rng.fill_bytes(&mut *seed);
        Self::from_seed(*seed)
    }

    /// Draws a fresh seed from the operating system's generator.
    pub fn generate() -> Self {
        Self::generate_with_rng(&mut crate::os_rng())
    }

    /// The public identity key.
    pub const fn public(&self) -> &IdentityPublicKey {
        &self.public
    }

    /// The 32-byte seed, for storage by the application. Keep it secret.
    pub fn seed(&self) -> Zeroizing<[u8; KEY_LEN]> {
        Zeroizing::new(self.signing.to_bytes())
    }

    /// Ed25519 signature of `msg` (deterministic, RFC 8032).
    pub fn sign(&self, msg: &[u8]) -> [u8; SIGNATURE_LEN] {
        self.signing.sign(msg).to_bytes()
    }

    /// X25519 between the identity's Montgomery scalar and `their` key.
    pub(crate) fn dh(&self, their: &PublicKey) -> Result<Zeroizing<[u8; KEY_LEN]>, Error> {
        dh(&self.dh_secret, their)
    }
}

impl fmt::Debug for IdentityKeyPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IdentityKeyPair")
            .field("public", &self.public)
            .field("seed", &"<redacted>")
            .finish()
    }
}

/// A signed prekey: an X25519 key pair with an id, signed by the identity key.
#[derive(Clone, Debug)]
pub struct SignedPreKey {
    id: u32,
    key_pair: KeyPair,
    signature: [u8; SIGNATURE_LEN],
}

impl SignedPreKey {
    /// Builds the signed prekey `id` from its private key and signs
    /// `Encode(SPK)` with `identity`.
    pub fn new(id: u32, secret: [u8; KEY_LEN], identity: &IdentityKeyPair) -> Self {
        let key_pair = KeyPair::from_secret_bytes(secret);
        let signature = identity.sign(key_pair.public().as_bytes());
        Self {
            id,
            key_pair,
            signature,
        }
    }

    /// Draws the private key (32 bytes) from `rng`.
    pub fn generate_with_rng<R: CryptoRng + ?Sized>(
        id: u32,
        identity: &IdentityKeyPair,
        rng: &mut R,
    ) -> Self {
        let mut secret = Zeroizing::new([0u8; KEY_LEN]);
        rng.fill_bytes(&mut *secret);
        Self::new(id, *secret, identity)
    }

    /// Draws the private key from the operating system's generator.
    pub fn generate(id: u32, identity: &IdentityKeyPair) -> Self {
        Self::generate_with_rng(id, identity, &mut crate::os_rng())
    }

    /// The prekey id.
    pub const fn id(&self) -> u32 {
        self.id
    }

    /// The public key.
    pub const fn public(&self) -> &PublicKey {
        self.key_pair.public()
    }

    /// The Ed25519 signature over `Encode(SPK)`.
    pub const fn signature(&self) -> &[u8; SIGNATURE_LEN] {
        &self.signature
    }

    pub(crate) const fn key_pair(&self) -> &KeyPair {
        &self.key_pair
    }
}

/// A one-time prekey: an X25519 key pair with an id, used at most once.
#[derive(Clone, Debug)]
pub struct OneTimePreKey {
    id: u32,
    key_pair: KeyPair,
}

impl OneTimePreKey {
    /// Builds the one-time prekey `id` from its private key.
    pub fn new(id: u32, secret: [u8; KEY_LEN]) -> Self {
        Self {
            id,
            key_pair: KeyPair::from_secret_bytes(secret),
        }
    }

    /// Draws the private key (32 bytes) from `rng`.
    pub fn generate_with_rng<R: CryptoRng + ?Sized>(id: u32, rng: &mut R) -> Self {
        Self {
            id,
            key_pair: KeyPair::generate_with_rng(rng),
        }
    }

    /// Draws the private key from the operating system's generator.
    pub fn generate(id: u32) -> Self {
        Self::generate_with_rng(id, &mut crate::os_rng())
    }

    /// The prekey id.
    pub const fn id(&self) -> u32 {
        self.id
    }

    /// The public key.
    pub const fn public(&self) -> &PublicKey {
        self.key_pair.public()
    }

    pub(crate) const fn key_pair(&self) -> &KeyPair {
        &self.key_pair
    }
}
