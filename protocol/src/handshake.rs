//! X3DH: prekey bundles, the initiator and the responder.
//!
//! ```text
//! DH1 = X25519(IK_A, SPK_B)    DH2 = X25519(EK_A, IK_B)
//! DH3 = X25519(EK_A, SPK_B)    DH4 = X25519(EK_A, OPK_B)   (only with an OPK)
//! SK  = HKDF(0x00*32, 0xFF*32 || DH1 || DH2 || DH3 [|| DH4], "Sealwire X3DH v1", 32)
//! AD  = Encode(IK_A) || Encode(IK_B)
//! ```
//!
//! The responder looks prekeys up through the [`PreKeyStore`] trait and
//! deletes the one-time prekey only after the first message has decrypted.

use rand_core::CryptoRng;

use crate::error::{Error, HandshakeError};
use crate::kdf::{kdf_rk, x3dh_shared_key};
use crate::keys::{
    IdentityKeyPair, IdentityPublicKey, KEY_LEN, KeyPair, OneTimePreKey, PublicKey, RootKey,
    SIGNATURE_LEN, SharedKey, SignedPreKey,
};
use crate::ratchet::Session;
use crate::seal::{AD_LEN, AssociatedData};
use crate::wipe::{push_wiping, remove_wiping};
use crate::wire::{BundleFields, InitialMessage};

/// A prekey bundle as published by the responder: identity key, signed
/// prekey with its id and signature, and at most one one-time prekey.
///
/// Encoding (version 1): see [`PreKeyBundle::to_bytes`] and SPEC.md §4.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PreKeyBundle {
    fields: BundleFields,
}

impl PreKeyBundle {
    /// Builds the bundle that `identity` publishes for `signed_prekey` and,
    /// optionally, one one-time prekey.
    pub fn new(
        identity: &IdentityKeyPair,
        signed_prekey: &SignedPreKey,
        one_time_prekey: Option<&OneTimePreKey>,
    ) -> Self {
        Self::from_parts(
            *identity.public().as_bytes(),
            signed_prekey.id(),
            *signed_prekey.public(),
            *signed_prekey.signature(),
            one_time_prekey.map(|k| (k.id(), *k.public())),
        )
    }

    /// Assembles a bundle from raw parts, without any check (use
    /// [`PreKeyBundle::verify`]).
    pub fn from_parts(
        identity_key: [u8; KEY_LEN],
        signed_prekey_id: u32,
        signed_prekey: PublicKey,
        signature: [u8; SIGNATURE_LEN],
        one_time_prekey: Option<(u32, PublicKey)>,
    ) -> Self {
        Self {
            fields: BundleFields {
                identity_key,
                signed_prekey_id,
                signed_prekey,
                signature,
                one_time_prekey,
            },
        }
    }

    /// The canonical encoding:
    /// `0x01 || IK || u32be(spk_id) || SPK || sig || 0x00` or
    /// `... || 0x01 || u32be(opk_id) || OPK` (134 or 170 bytes).
    ///
    /// SPEC.md §4.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.fields.encode()
    }

    /// Decodes a bundle; rejects truncated, oversized, trailing-byte and
    /// unknown-version input. Decoding does not verify: call
    /// [`PreKeyBundle::verify`].
    ///
    /// SPEC.md §4.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, Error> {
        Ok(Self {
            fields: BundleFields::decode(bytes)?,
        })
    }

    /// The raw identity key bytes.
    pub const fn identity_key(&self) -> &[u8; KEY_LEN] {
        &self.fields.identity_key
    }

    /// The signed prekey's id.
    pub const fn signed_prekey_id(&self) -> u32 {
        self.fields.signed_prekey_id
    }

    /// The signed prekey.
    pub const fn signed_prekey(&self) -> &PublicKey {
        &self.fields.signed_prekey
    }

    /// The signature over `Encode(SPK)`.
    pub const fn signature(&self) -> &[u8; SIGNATURE_LEN] {
        &self.fields.signature
    }

    /// The one-time prekey offered, with its id.
    pub const fn one_time_prekey(&self) -> Option<&(u32, PublicKey)> {
        self.fields.one_time_prekey.as_ref()
    }

    /// Verifies the bundle, in this order: the identity key is a valid,
    /// non-weak Ed25519 key; the signature over `Encode(SPK)` verifies
    /// strictly; neither the signed nor the one-time prekey is of low order.
    ///
    /// SPEC.md §4.
    pub fn verify(&self) -> Result<IdentityPublicKey, Error> {
        let identity = IdentityPublicKey::from_bytes(self.fields.identity_key)?;
        #[cfg(feature = "planted-flaws")]
        let skip = crate::flaws::skip_signature(self.fields.signed_prekey_id);
        #[cfg(not(feature = "planted-flaws"))]
        let skip = false;
        if !skip {
            identity.verify(self.fields.signed_prekey.as_bytes(), &self.fields.signature)?;
        }
        if self.fields.signed_prekey.is_low_order() {
            return Err(Error::LowOrderKey);
        }
        if let Some((_, opk)) = &self.fields.one_time_prekey
            && opk.is_low_order()
        {
            return Err(Error::LowOrderKey);
        }
        Ok(identity)
    }
}

/// How the responder finds its prekeys by id, and deletes a used one-time
/// prekey.
pub trait PreKeyStore {
    /// The signed prekey with this id, if the responder still has it.
    fn signed_prekey(&self, id: u32) -> Option<&SignedPreKey>;
    /// The one-time prekey with this id, if it has not been used.
    fn one_time_prekey(&self, id: u32) -> Option<&OneTimePreKey>;
    /// Deletes a one-time prekey. Called only after the first message that
    /// used it has decrypted.
    fn remove_one_time_prekey(&mut self, id: u32);
}

/// A [`PreKeyStore`] held in memory.
#[derive(Clone, Debug, Default)]
pub struct InMemoryPreKeyStore {
    signed: Vec<SignedPreKey>,
    one_time: Vec<OneTimePreKey>,
}

impl InMemoryPreKeyStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or replaces, by id) a signed prekey.
    pub fn add_signed_prekey(&mut self, key: SignedPreKey) {
        if let Some(index) = self.signed.iter().position(|k| k.id() == key.id()) {
            // Replacing drops the old key where it lies (wiping it).
            self.signed[index] = key;
            return;
        }
        push_wiping(&mut self.signed, key);
    }

    /// Adds (or replaces, by id) a one-time prekey.
    pub fn add_one_time_prekey(&mut self, key: OneTimePreKey) {
        if let Some(index) = self.one_time.iter().position(|k| k.id() == key.id()) {
            self.one_time[index] = key;
            return;
        }
        push_wiping(&mut self.one_time, key);
    }

    /// How many one-time prekeys remain.
    pub fn one_time_prekeys_len(&self) -> usize {
        self.one_time.len()
    }
}

impl PreKeyStore for InMemoryPreKeyStore {
    fn signed_prekey(&self, id: u32) -> Option<&SignedPreKey> {
        self.signed.iter().find(|k| k.id() == id)
    }

    fn one_time_prekey(&self, id: u32) -> Option<&OneTimePreKey> {
        self.one_time.iter().find(|k| k.id() == id)
    }

    fn remove_one_time_prekey(&mut self, id: u32) {
        if let Some(index) = self.one_time.iter().position(|k| k.id() == id) {
            remove_wiping(
                &mut self.one_time,
                index,
                OneTimePreKey::new(0, [0u8; KEY_LEN]),
            );
        }
    }
}

// SPEC.md §5.1.
fn associated_data(initiator: &[u8; KEY_LEN], responder: &[u8; KEY_LEN]) -> AssociatedData {
    let mut ad = [0u8; AD_LEN];
    if planted!(AdMissingIdentities) {
        return ad;
    }
    ad[..KEY_LEN].copy_from_slice(initiator);
    ad[KEY_LEN..].copy_from_slice(responder);
    ad
}

/// X3DH, initiator side, on a verified bundle: returns SK and AD.
pub(crate) fn initiator_secret(
    identity: &IdentityKeyPair,
    their_identity: &IdentityPublicKey,
    bundle: &PreKeyBundle,
    ephemeral: &KeyPair,
) -> Result<(SharedKey, AssociatedData), Error> {
    let spk = bundle.signed_prekey();
    // X3DH: DH1 = DH(IK_A, SPK_B), DH2 = DH(EK_A, IK_B), DH3 = DH(EK_A, SPK_B),
    // DH4 = DH(EK_A, OPK_B)
    let dh1 = identity.dh(spk)?;
    let dh2 = ephemeral.dh(&their_identity.to_x25519())?;
    let dh3 = ephemeral.dh(spk)?;
    let dh4 = match bundle.one_time_prekey() {
        Some((_, opk)) => Some(ephemeral.dh(opk)?),
        None => None,
    };
    let sk = match &dh4 {
        Some(dh4) => x3dh_shared_key(&[&dh1, &dh2, &dh3, dh4]),
        None => x3dh_shared_key(&[&dh1, &dh2, &dh3]),
    };
    let ad = associated_data(identity.public().as_bytes(), their_identity.as_bytes());
    Ok((sk, ad))
}

/// X3DH, responder side: returns SK and AD.
pub(crate) fn responder_secret(
    identity: &IdentityKeyPair,
    their_identity: &IdentityPublicKey,
    ephemeral_key: &PublicKey,
    signed_prekey: &SignedPreKey,
    one_time_prekey: Option<&OneTimePreKey>,
) -> Result<(SharedKey, AssociatedData), Error> {
    let ek = ephemeral_key;
    // X3DH, responder side: DH1 = DH(SPK_B, IK_A), DH2 = DH(IK_B, EK_A),
    // DH3 = DH(SPK_B, EK_A), DH4 = DH(OPK_B, EK_A)
    let dh1 = signed_prekey.key_pair().dh(&their_identity.to_x25519())?;
    let dh2 = identity.dh(ek)?;
    let dh3 = signed_prekey.key_pair().dh(ek)?;
    let dh4 = match one_time_prekey {
        Some(opk) => Some(opk.key_pair().dh(ek)?),
        None => None,
    };
    let sk = match &dh4 {
        Some(dh4) => x3dh_shared_key(&[&dh1, &dh2, &dh3, dh4]),
        None => x3dh_shared_key(&[&dh1, &dh2, &dh3]),
    };
    let ad = associated_data(their_identity.as_bytes(), identity.public().as_bytes());
    Ok((sk, ad))
}

/// Starts a session with the owner of `bundle` and encrypts the first
/// message, using the operating system's generator.
pub fn initiate(
    identity: &IdentityKeyPair,
    bundle: &PreKeyBundle,
    plaintext: &[u8],
) -> Result<(Session, Vec<u8>), Error> {
    initiate_with_rng(identity, bundle, plaintext, &mut crate::os_rng())
}

/// Starts a session with the owner of `bundle` and encrypts `plaintext` as
/// the first message. Returns the session and the encoded initial message.
///
/// Draws exactly 64 bytes from `rng`: the ephemeral key EK_A first, then
/// the first ratchet key DHs. The bundle is verified first
/// ([`PreKeyBundle::verify`]); nothing is drawn if it fails.
///
/// SPEC.md §5.1.
pub fn initiate_with_rng<R: CryptoRng + ?Sized>(
    identity: &IdentityKeyPair,
    bundle: &PreKeyBundle,
    plaintext: &[u8],
    rng: &mut R,
) -> Result<(Session, Vec<u8>), Error> {
    let their_identity = bundle.verify()?;
    let spk = bundle.signed_prekey();
    let mut ephemeral = KeyPair::generate_with_rng(rng);
    if planted!(EphemeralReuse) {
        ephemeral = KeyPair::from_secret_bytes([0x42; KEY_LEN]);
    }
    let ratchet = KeyPair::generate_with_rng(rng);
    let (sk, ad) = initiator_secret(identity, &their_identity, bundle, &ephemeral)?;

    // Double Ratchet: RK, CKs = KDF_RK(SK, DH(DHs, SPK_B)); DHr = SPK_B
    let first_dh = ratchet.dh(spk)?;
    let (root, chain) = kdf_rk(&RootKey::from_bytes(sk.0), &first_dh);
    let mut session = Session::initiator(ad, root, ratchet, chain, *spk);
    let message = session.encrypt(plaintext)?;
    let initial = InitialMessage {
        identity_key: *identity.public().as_bytes(),
        ephemeral_key: *ephemeral.public(),
        signed_prekey_id: bundle.signed_prekey_id(),
        one_time_prekey_id: bundle.one_time_prekey().map(|(id, _)| *id),
        message,
    };
    Ok((session, initial.encode()))
}

/// Accepts an initial message with the operating system's generator.
pub fn respond<S: PreKeyStore + ?Sized>(
    identity: &IdentityKeyPair,
    store: &mut S,
    initial_message: &[u8],
) -> Result<(Session, Vec<u8>), Error> {
    respond_with_rng(identity, store, initial_message, &mut crate::os_rng())
}

/// Accepts an initial message: runs X3DH as the responder, decrypts the
/// first message and returns the session and its plaintext.
///
/// The one-time prekey it names is deleted from `store` only after the
/// message has decrypted; on any error `store` is unchanged. Draws exactly
/// 32 bytes from `rng` (the responder's first sending ratchet key), and only
/// once all X3DH checks have passed.
///
/// SPEC.md §5.2.
pub fn respond_with_rng<S: PreKeyStore + ?Sized, R: CryptoRng + ?Sized>(
    identity: &IdentityKeyPair,
    store: &mut S,
    initial_message: &[u8],
    rng: &mut R,
) -> Result<(Session, Vec<u8>), Error> {
    let initial = InitialMessage::decode(initial_message)?;
    let their_identity = IdentityPublicKey::from_bytes(initial.identity_key)?;
    let spk = store.signed_prekey(initial.signed_prekey_id).ok_or(
        HandshakeError::UnknownSignedPreKey(initial.signed_prekey_id),
    )?;
    let opk = match initial.one_time_prekey_id {
        Some(id) => Some(
            store
                .one_time_prekey(id)
                .ok_or(HandshakeError::UnknownOneTimePreKey(id))?,
        ),
        None => None,
    };
    let (sk, ad) = responder_secret(identity, &their_identity, &initial.ephemeral_key, spk, opk)?;

    // Double Ratchet: DHs = SPK_B, RK = SK; the first receive ratchets.
    let mut session = Session::responder(ad, RootKey::from_bytes(sk.0), spk.key_pair().clone());
    let plaintext = session.decrypt_with_rng(&initial.message, rng)?;
    if let Some(id) = initial.one_time_prekey_id
        && !planted!(OneTimePreKeyReused)
    {
        store.remove_one_time_prekey(id);
    }
    Ok((session, plaintext))
}
