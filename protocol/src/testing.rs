//! TEST-ONLY access to secret bytes, behind the `test-secrets` feature.
//!
//! The conformance oracles use this to learn every secret in play, so that
//! they can scan outputs (messages, encodings, error and `Debug` text, freed
//! memory) for it. A default build contains none of this module; never
//! enable the feature in production.

use zeroize::Zeroizing;

use crate::keys::{ChainKey, IdentityKeyPair, KEY_LEN, KeyPair, MessageKey, RootKey, SharedKey};
use crate::ratchet::Session;

/// The raw bytes of a symmetric ratchet secret.
pub fn chain_key_bytes(key: &ChainKey) -> [u8; KEY_LEN] {
    key.0
}

/// The raw bytes of a message key.
pub fn message_key_bytes(key: &MessageKey) -> [u8; KEY_LEN] {
    key.0
}

/// The raw bytes of a root key.
pub fn root_key_bytes(key: &RootKey) -> [u8; KEY_LEN] {
    key.0
}

/// The raw bytes of an X3DH shared secret.
pub fn shared_key_bytes(key: &SharedKey) -> [u8; KEY_LEN] {
    key.0
}

/// The private key of an X25519 key pair.
pub fn key_pair_secret(key_pair: &KeyPair) -> [u8; KEY_LEN] {
    *key_pair.secret_bytes()
}

/// The seed of an identity.
pub fn identity_seed(identity: &IdentityKeyPair) -> [u8; KEY_LEN] {
    *identity.seed()
}

/// The AEAD key and nonce that a message key expands to.
pub fn message_aead_key(key: &MessageKey) -> ([u8; KEY_LEN], [u8; 12]) {
    let (k, n) = crate::kdf::message_keys(key);
    (*k, n)
}

/// Every secret a session holds right now: RK, DHs private, CKs, CKr, the
/// next message keys of both chains, and every stored skipped key.
pub fn session_secrets(session: &Session) -> Vec<Zeroizing<[u8; KEY_LEN]>> {
    let mut out = vec![
        Zeroizing::new(session.root.0),
        session.sending.key_pair.secret_bytes(),
        Zeroizing::new(session.sending.chain.0),
    ];
    let (_, next_send) = crate::kdf::kdf_ck(&session.sending.chain);
    out.push(Zeroizing::new(next_send.0));
    if let Some(chain) = session.receiving.chain.as_ref() {
        out.push(Zeroizing::new(chain.0));
        let (_, next_recv) = crate::kdf::kdf_ck(chain);
        out.push(Zeroizing::new(next_recv.0));
    }
    for entry in session.skipped.iter() {
        out.push(Zeroizing::new(entry.message_key.0));
    }
    out
}

/// X3DH as the initiator with an explicit ephemeral key: `(SK, AD)`.
/// The bundle is verified first.
pub fn x3dh_initiator(
    identity: &IdentityKeyPair,
    bundle: &crate::PreKeyBundle,
    ephemeral: &KeyPair,
) -> Result<([u8; KEY_LEN], [u8; crate::AD_LEN]), crate::Error> {
    let their = bundle.verify()?;
    let (sk, ad) = crate::handshake::initiator_secret(identity, &their, bundle, ephemeral)?;
    Ok((sk.0, ad))
}

/// X3DH as the responder: `(SK, AD)`.
pub fn x3dh_responder(
    identity: &IdentityKeyPair,
    initiator_identity: &[u8; KEY_LEN],
    ephemeral_key: &crate::PublicKey,
    signed_prekey: &crate::SignedPreKey,
    one_time_prekey: Option<&crate::OneTimePreKey>,
) -> Result<([u8; KEY_LEN], [u8; crate::AD_LEN]), crate::Error> {
    let their = crate::IdentityPublicKey::from_bytes(*initiator_identity)?;
    let (sk, ad) = crate::handshake::responder_secret(
        identity,
        &their,
        ephemeral_key,
        signed_prekey,
        one_time_prekey,
    )?;
    Ok((sk.0, ad))
}
