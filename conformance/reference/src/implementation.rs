//! [`ReferenceImplementation`]: every request of the adapter protocol
//! answered by the `sealwire` crate.

use core::fmt;
use std::collections::{BTreeMap, BTreeSet};

use chacha20poly1305::aead::inout::InOutBuf;
use chacha20poly1305::{AeadInOut, ChaCha20Poly1305, Key, KeyInit, Nonce, Tag};
use ed25519_dalek::{Signature, VerifyingKey};
use hkdf::Hkdf;
use hmac::{Hmac, Mac};
use sealwire::hazmat::{ChainKey, KeyPair, MessageKey, RootKey};
use sealwire::{
    Header, IdentityKeyPair, InMemoryPreKeyStore, InitialMessage, OneTimePreKey, PreKeyBundle,
    PreKeyStore, PublicKey, RatchetMessage, Session, SignedPreKey, StorageKey, testing,
};
use serde_json::Value;
use sha2::Sha256;
use zeroize::Zeroizing;

use sealwire_adapter::hex::{Bytes, to_value as hex};
use sealwire_adapter::{Capability, Output, PreKeySecret, Request, Structure};
use sealwire_adapter::{Implementation, OpError};

use crate::rng::ScriptedRng;

/// The error class of a request that cannot be interpreted.
pub const MALFORMED_REQUEST: &str = "wire";

/// A responder's prekey store with its identity.
struct Store {
    identity: IdentityKeyPair,
    prekeys: InMemoryPreKeyStore,
    one_time_ids: BTreeSet<u32>,
}

impl Store {
    fn remaining_ids(&self) -> Vec<u32> {
        self.one_time_ids
            .iter()
            .copied()
            .filter(|id| self.prekeys.one_time_prekey(*id).is_some())
            .collect()
    }
}

/// The `sealwire` crate as an [`Implementation`], with every capability.
pub struct ReferenceImplementation {
    capabilities: BTreeSet<Capability>,
    sessions: BTreeMap<String, Session>,
    stores: BTreeMap<String, Store>,
    next_handle: u64,
    broken: Option<String>,
}

impl fmt::Debug for ReferenceImplementation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReferenceImplementation")
            .field("sessions", &self.sessions.len())
            .field("stores", &self.stores.len())
            .field("broken", &self.broken)
            .finish_non_exhaustive()
    }
}

impl Default for ReferenceImplementation {
    fn default() -> Self {
        Self::new()
    }
}

type Outcome = Result<Output, OpError>;

fn rejected(e: sealwire::Error) -> OpError {
    OpError::Rejected(e.class().as_str().to_owned())
}

fn malformed() -> OpError {
    OpError::Rejected(MALFORMED_REQUEST.to_owned())
}

fn fixed<const N: usize>(bytes: &Bytes) -> Result<[u8; N], OpError> {
    bytes.to_array::<N>().ok_or_else(malformed)
}

fn secret<const N: usize>(bytes: &Bytes) -> Result<Zeroizing<[u8; N]>, OpError> {
    fixed::<N>(bytes).map(Zeroizing::new)
}

fn output<const N: usize>(fields: [(&str, Value); N]) -> Output {
    fields
        .into_iter()
        .map(|(name, value)| (name.to_owned(), value))
        .collect()
}

fn signed_prekey(spk: &PreKeySecret, identity: &IdentityKeyPair) -> Result<SignedPreKey, OpError> {
    Ok(SignedPreKey::new(
        spk.id,
        *secret::<32>(&spk.private_key)?,
        identity,
    ))
}

fn one_time_prekey(opk: &PreKeySecret) -> Result<OneTimePreKey, OpError> {
    Ok(OneTimePreKey::new(opk.id, *secret::<32>(&opk.private_key)?))
}

impl ReferenceImplementation {
    /// A fresh implementation with no sessions or stores.
    pub fn new() -> Self {
        Self {
            capabilities: Capability::ALL.into_iter().collect(),
            sessions: BTreeMap::new(),
            stores: BTreeMap::new(),
            next_handle: 0,
            broken: None,
        }
    }

    /// The same implementation advertising only `capabilities` (to test how
    /// a runner treats an implementation that lacks some). Requests needing
    /// another capability are answered as unsupported.
    pub fn with_capabilities(capabilities: impl IntoIterator<Item = Capability>) -> Self {
        Self {
            capabilities: capabilities.into_iter().collect(),
            ..Self::new()
        }
    }

    fn handle(&mut self, prefix: &str) -> String {
        self.next_handle += 1;
        format!("{prefix}{}", self.next_handle)
    }

    fn add_session(&mut self, session: Session) -> String {
        let handle = self.handle("session-");
        self.sessions.insert(handle.clone(), session);
        handle
    }

    fn session(&mut self, handle: &str) -> Result<&mut Session, OpError> {
        self.sessions.get_mut(handle).ok_or_else(malformed)
    }

    fn store(&mut self, handle: &str) -> Result<&mut Store, OpError> {
        self.stores.get_mut(handle).ok_or_else(malformed)
    }

    fn dispatch(&mut self, request: &Request) -> Outcome {
        match request {
            Request::X25519 {
                private_key,
                public_key,
            } => {
                let shared = Zeroizing::new(x25519_dalek::x25519(
                    *secret::<32>(private_key)?,
                    fixed::<32>(public_key)?,
                ));
                Ok(output([("shared", hex(&*shared))]))
            }
            Request::Ed25519Verify {
                public_key,
                message,
                signature,
            } => Ok(output([(
                "valid",
                Value::Bool(ed25519_verify(public_key, message, signature)),
            )])),
            Request::HkdfSha256 {
                salt,
                ikm,
                info,
                length,
            } => {
                // RFC 5869: at most 255 blocks. Checked before allocating,
                // so that no length in a request can exhaust memory.
                if *length > 255 * 32 {
                    return Err(malformed());
                }
                let mut okm = Zeroizing::new(vec![0u8; *length]);
                Hkdf::<Sha256>::new(Some(salt.as_slice()), ikm.as_slice())
                    .expand(info.as_slice(), &mut okm)
                    .map_err(|_| malformed())?;
                Ok(output([("okm", hex(&okm))]))
            }
            Request::HmacSha256 { key, message } => {
                let mut mac = <Hmac<Sha256> as hmac::KeyInit>::new_from_slice(key.as_slice())
                    .map_err(|_| malformed())?;
                mac.update(message.as_slice());
                Ok(output([("mac", hex(&mac.finalize().into_bytes()))]))
            }
            Request::AeadSeal {
                key,
                nonce,
                aad,
                plaintext,
            } => {
                let cipher = ChaCha20Poly1305::new(&Key::from(*secret::<32>(key)?));
                let nonce = Nonce::from(fixed::<12>(nonce)?);
                let mut buffer = plaintext.0.clone();
                let tag = cipher
                    .encrypt_inout_detached(&nonce, aad.as_slice(), InOutBuf::from(&mut buffer[..]))
                    .map_err(|_| malformed())?;
                buffer.extend_from_slice(&tag);
                Ok(output([("ciphertext", hex(&buffer))]))
            }
            Request::AeadOpen {
                key,
                nonce,
                aad,
                ciphertext,
            } => {
                let cipher = ChaCha20Poly1305::new(&Key::from(*secret::<32>(key)?));
                let nonce = Nonce::from(fixed::<12>(nonce)?);
                let failed = || OpError::Rejected("decryption_failed".to_owned());
                let body_len = ciphertext.0.len().checked_sub(16).ok_or_else(failed)?;
                let (body, tag) = ciphertext.0.split_at(body_len);
                let tag = Tag::try_from(tag).map_err(|_| failed())?;
                let mut buffer = Zeroizing::new(body.to_vec());
                cipher
                    .decrypt_inout_detached(
                        &nonce,
                        aad.as_slice(),
                        InOutBuf::from(&mut buffer[..]),
                        &tag,
                    )
                    .map_err(|_| failed())?;
                Ok(output([("plaintext", hex(&buffer))]))
            }
            Request::KdfRk {
                root_key,
                dh_output,
            } => {
                let root = RootKey::from_bytes(*secret::<32>(root_key)?);
                let (root, chain) = sealwire::hazmat::root_step(&root, &*secret::<32>(dh_output)?);
                Ok(output([
                    ("root_key", hex(&testing::root_key_bytes(&root))),
                    ("chain_key", hex(&testing::chain_key_bytes(&chain))),
                ]))
            }
            Request::KdfCk { chain_key } => {
                let chain = ChainKey::from_bytes(*secret::<32>(chain_key)?);
                let (chain, message) = sealwire::hazmat::chain_step(&chain);
                Ok(output([
                    ("chain_key", hex(&testing::chain_key_bytes(&chain))),
                    ("message_key", hex(&testing::message_key_bytes(&message))),
                ]))
            }
            Request::MessageKeys { message_key } => {
                let mk = MessageKey::from_bytes(*secret::<32>(message_key)?);
                let (key, nonce) = sealwire::hazmat::seal::message_key_material(&mk);
                Ok(output([("key", hex(&*key)), ("nonce", hex(&nonce))]))
            }
            Request::Seal {
                message_key,
                ad,
                header,
                plaintext,
            } => {
                let mk = MessageKey::from_bytes(*secret::<32>(message_key)?);
                let message = sealwire::hazmat::seal::seal(
                    &mk,
                    &fixed::<64>(ad)?,
                    &fixed::<41>(header)?,
                    plaintext.as_slice(),
                )
                .map_err(rejected)?;
                Ok(output([("message", hex(&message))]))
            }
            Request::Open {
                message_key,
                ad,
                message,
            } => {
                let mk = MessageKey::from_bytes(*secret::<32>(message_key)?);
                let plaintext = Zeroizing::new(
                    sealwire::hazmat::seal::open(&mk, &fixed::<64>(ad)?, message.as_slice())
                        .map_err(rejected)?,
                );
                Ok(output([("plaintext", hex(&plaintext))]))
            }
            Request::IdentityPublic { seed } => {
                let identity = IdentityKeyPair::from_seed(*secret::<32>(seed)?);
                let public = identity.public();
                Ok(output([
                    ("public_key", hex(public.as_bytes())),
                    ("x25519_public_key", hex(public.to_x25519().as_bytes())),
                ]))
            }
            Request::BundleCreate {
                identity_seed,
                signed_prekey: spk,
                one_time_prekey: opk,
            } => {
                let identity = IdentityKeyPair::from_seed(*secret::<32>(identity_seed)?);
                let spk = signed_prekey(spk, &identity)?;
                let opk = opk.as_ref().map(one_time_prekey).transpose()?;
                let bundle = PreKeyBundle::new(&identity, &spk, opk.as_ref());
                Ok(output([("bundle", hex(&bundle.to_bytes()))]))
            }
            Request::BundleVerify { bundle } => {
                PreKeyBundle::from_bytes(bundle.as_slice())
                    .and_then(|b| b.verify())
                    .map_err(rejected)?;
                Ok(Output::new())
            }
            Request::Decode { structure, bytes } => {
                let bytes = bytes.as_slice();
                let encoded = match structure {
                    Structure::Header => Header::decode(bytes).map(|h| h.encode().to_vec()),
                    Structure::RatchetMessage => RatchetMessage::decode(bytes).map(|m| m.encode()),
                    Structure::InitialMessage => InitialMessage::decode(bytes).map(|m| m.encode()),
                    Structure::Bundle => PreKeyBundle::from_bytes(bytes).map(|b| b.to_bytes()),
                }
                .map_err(rejected)?;
                Ok(output([("encoded", hex(&encoded))]))
            }
            Request::PrekeyStoreCreate {
                identity_seed,
                signed_prekeys,
                one_time_prekeys,
            } => {
                let identity = IdentityKeyPair::from_seed(*secret::<32>(identity_seed)?);
                let mut prekeys = InMemoryPreKeyStore::new();
                for spk in signed_prekeys {
                    prekeys.add_signed_prekey(signed_prekey(spk, &identity)?);
                }
                let mut one_time_ids = BTreeSet::new();
                for opk in one_time_prekeys {
                    prekeys.add_one_time_prekey(one_time_prekey(opk)?);
                    one_time_ids.insert(opk.id);
                }
                let handle = self.handle("store-");
                self.stores.insert(
                    handle.clone(),
                    Store {
                        identity,
                        prekeys,
                        one_time_ids,
                    },
                );
                Ok(output([("store", Value::String(handle))]))
            }
            Request::PrekeyStoreIds { store } => {
                let ids = self.store(store)?.remaining_ids();
                Ok(output([(
                    "one_time_prekey_ids",
                    Value::Array(ids.into_iter().map(Value::from).collect()),
                )]))
            }
            Request::Initiate {
                identity_seed,
                bundle,
                ephemeral_private_key,
                ratchet_private_key,
                plaintext,
            } => self.initiate(
                identity_seed,
                bundle,
                ephemeral_private_key,
                ratchet_private_key,
                plaintext,
            ),
            Request::Respond {
                store,
                initial_message,
                ratchet_private_key,
            } => self.respond(store, initial_message, ratchet_private_key),
            Request::Encrypt { session, plaintext } => {
                let message = self
                    .session(session)?
                    .encrypt(plaintext.as_slice())
                    .map_err(rejected)?;
                Ok(output([("message", hex(&message))]))
            }
            Request::Decrypt {
                session,
                message,
                ratchet_private_key,
            } => {
                let key = ratchet_private_key.as_ref().map(secret::<32>).transpose()?;
                let mut rng = ScriptedRng::new(key.as_ref().map(|k| &k[..]));
                let session = self.session(session)?;
                let result = session.decrypt_with_rng(message.as_slice(), &mut rng);
                // A rejected message changes nothing, whatever was drawn; an
                // accepted one must not depend on unscripted randomness.
                let plaintext = Zeroizing::new(result.map_err(rejected)?);
                rng.check("decrypt (a new ratchet turn needs ratchet_private_key)")?;
                Ok(output([("plaintext", hex(&plaintext))]))
            }
            Request::ExportState { session } => {
                let state = self.session(session)?.to_bytes();
                Ok(output([("state", hex(&state))]))
            }
            Request::ImportState { state } => {
                let session = Session::from_bytes(state.as_slice()).map_err(rejected)?;
                let handle = self.add_session(session);
                Ok(output([("session", Value::String(handle))]))
            }
            Request::SealState {
                session,
                storage_key,
                salt,
            } => {
                let key = StorageKey::from_bytes(*secret::<32>(storage_key)?);
                let salt = fixed::<32>(salt)?;
                let mut rng = ScriptedRng::new([&salt[..]]);
                let sealed = self.session(session)?.seal_state_with_rng(&key, &mut rng);
                rng.check("seal_state")?;
                Ok(output([("sealed_state", hex(&sealed))]))
            }
            Request::OpenState {
                storage_key,
                sealed_state,
            } => {
                let key = StorageKey::from_bytes(*secret::<32>(storage_key)?);
                let session =
                    Session::open_state(&key, sealed_state.as_slice()).map_err(rejected)?;
                let handle = self.add_session(session);
                Ok(output([("session", Value::String(handle))]))
            }
            Request::SkippedCount { session } => {
                let count = self.session(session)?.skipped_keys_len();
                Ok(output([("count", Value::from(count))]))
            }
            Request::Free { handle } => {
                if self.sessions.remove(handle).is_some() || self.stores.remove(handle).is_some() {
                    Ok(Output::new())
                } else {
                    Err(malformed())
                }
            }
        }
    }

    fn initiate(
        &mut self,
        identity_seed: &Bytes,
        bundle: &Bytes,
        ephemeral_private_key: &Bytes,
        ratchet_private_key: &Bytes,
        plaintext: &Bytes,
    ) -> Outcome {
        let identity = IdentityKeyPair::from_seed(*secret::<32>(identity_seed)?);
        let ephemeral = secret::<32>(ephemeral_private_key)?;
        let ratchet = secret::<32>(ratchet_private_key)?;
        let bundle = PreKeyBundle::from_bytes(bundle.as_slice()).map_err(rejected)?;
        let mut rng = ScriptedRng::new([&ephemeral[..], &ratchet[..]]);
        let (session, initial) =
            sealwire::initiate_with_rng(&identity, &bundle, plaintext.as_slice(), &mut rng)
                .map_err(rejected)?;
        rng.check("initiate")?;
        let (sk, ad) =
            testing::x3dh_initiator(&identity, &bundle, &KeyPair::from_secret_bytes(*ephemeral))
                .map_err(|e| {
                    OpError::Broken(format!(
                        "initiate succeeded but recomputing its X3DH secret failed: {e}"
                    ))
                })?;
        let sk = Zeroizing::new(sk);
        let handle = self.add_session(session);
        Ok(output([
            ("session", Value::String(handle)),
            ("initial_message", hex(&initial)),
            ("shared_secret", hex(&*sk)),
            ("ad", hex(&ad)),
        ]))
    }

    fn respond(
        &mut self,
        store: &str,
        initial_message: &Bytes,
        ratchet_private_key: &Bytes,
    ) -> Outcome {
        let ratchet = secret::<32>(ratchet_private_key)?;
        let store = self.store(store)?;
        // The X3DH secrets are computed before the store loses the
        // one-time prekey; they are reported only if `respond` succeeds.
        let secrets = x3dh_responder_secrets(store, initial_message.as_slice());
        let mut rng = ScriptedRng::new([&ratchet[..]]);
        let (session, plaintext) = sealwire::respond_with_rng(
            &store.identity,
            &mut store.prekeys,
            initial_message.as_slice(),
            &mut rng,
        )
        .map_err(rejected)?;
        let plaintext = Zeroizing::new(plaintext);
        rng.check("respond")?;
        let (sk, ad) = secrets.map_err(|e| {
            OpError::Broken(format!(
                "respond succeeded but recomputing its X3DH secret failed: {e}"
            ))
        })?;
        let handle = self.add_session(session);
        Ok(output([
            ("session", Value::String(handle)),
            ("plaintext", hex(&plaintext)),
            ("shared_secret", hex(&*sk)),
            ("ad", hex(&ad)),
        ]))
    }
}

/// `(SK, AD)` of the responder for `initial_message`, from the store's keys.
fn x3dh_responder_secrets(
    store: &Store,
    initial_message: &[u8],
) -> Result<(Zeroizing<[u8; 32]>, [u8; 64]), sealwire::Error> {
    let initial = InitialMessage::decode(initial_message)?;
    let spk = store
        .prekeys
        .signed_prekey(initial.signed_prekey_id)
        .ok_or(sealwire::HandshakeError::UnknownSignedPreKey(
            initial.signed_prekey_id,
        ))?;
    let opk = match initial.one_time_prekey_id {
        Some(id) => Some(
            store
                .prekeys
                .one_time_prekey(id)
                .ok_or(sealwire::HandshakeError::UnknownOneTimePreKey(id))?,
        ),
        None => None,
    };
    let ephemeral: PublicKey = initial.ephemeral_key;
    let (sk, ad) =
        testing::x3dh_responder(&store.identity, &initial.identity_key, &ephemeral, spk, opk)?;
    Ok((Zeroizing::new(sk), ad))
}

/// Strict Ed25519 verification; a public key or signature of the wrong
/// length, or one that does not decode, does not verify.
fn ed25519_verify(public_key: &Bytes, message: &Bytes, signature: &Bytes) -> bool {
    let (Some(public_key), Some(signature)) =
        (public_key.to_array::<32>(), signature.to_array::<64>())
    else {
        return false;
    };
    let Ok(key) = VerifyingKey::from_bytes(&public_key) else {
        return false;
    };
    key.verify_strict(message.as_slice(), &Signature::from_bytes(&signature))
        .is_ok()
}

impl Implementation for ReferenceImplementation {
    fn name(&self) -> &str {
        "sealwire (reference)"
    }

    fn capabilities(&self) -> &BTreeSet<Capability> {
        &self.capabilities
    }

    fn call(&mut self, request: &Request) -> Result<Output, OpError> {
        sealwire_adapter::admit(self.broken.as_ref(), &self.capabilities, request)?;
        let mut result = self.dispatch(request);
        if let Ok(out) = &mut result
            && matches!(request, Request::Initiate { .. } | Request::Respond { .. })
            && !self.capabilities.contains(&Capability::X3dhSecret)
        {
            out.remove("shared_secret");
            out.remove("ad");
        }
        if let Err(OpError::Broken(why)) = &result {
            self.broken = Some(why.clone());
        }
        result
    }
}

#[cfg(test)]
mod tests;
