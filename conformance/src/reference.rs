//! The built-in implementation under test: the `sealwire` crate behind the
//! [`Implementation`] interface, with every capability.
//!
//! The runner supplies every private key and random value. They reach the
//! crate through its `*_with_rng` entry points via a [`ScriptedRng`] that
//! yields exactly the given bytes, in order, so every output is byte-exact.
//!
//! Request fields that cannot be interpreted (a fixed-length field of the
//! wrong length, an out-of-range parameter, an unknown handle) are answered
//! with the error class `wire`, as ADAPTER.md requires of every adapter.
//! [`OpError::Broken`] is reserved for one fault: an operation drew more
//! randomness than the request supplied. The output would then not be
//! determined by the request, so the implementation reports it and refuses
//! every later operation, as the [`Implementation`] contract says.

use core::convert::Infallible;
use core::fmt;
use std::collections::{BTreeMap, BTreeSet};

use chacha20poly1305::aead::inout::InOutBuf;
use chacha20poly1305::{AeadInOut, ChaCha20Poly1305, Key, KeyInit, Nonce, Tag};
use ed25519_dalek::{Signature, VerifyingKey};
use hkdf::Hkdf;
use hmac::{Hmac, Mac};
use rand_chacha::ChaCha20Rng;
use rand_core::{SeedableRng, TryCryptoRng, TryRng};
use sealwire::hazmat::{ChainKey, KeyPair, MessageKey, RootKey};
use sealwire::{
    Header, IdentityKeyPair, InMemoryPreKeyStore, InitialMessage, OneTimePreKey, PreKeyBundle,
    PreKeyStore, PublicKey, RatchetMessage, Session, SignedPreKey, StorageKey, testing,
};
use serde_json::Value;
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::hex::Bytes;
use crate::implementation::{Implementation, OpError};
use crate::protocol::{Capability, Output, PreKeySecret, Request, Structure};

/// The error class of a request that cannot be interpreted.
pub const MALFORMED_REQUEST: &str = "wire";

/// A random generator that yields scripted bytes, in order.
///
/// When an operation asks for more than was scripted, the rest comes from a
/// ChaCha20 generator with a fixed seed (so nothing panics and the run stays
/// reproducible) and the shortfall is recorded: check [`ScriptedRng::overdrawn`]
/// after the operation and report it instead of trusting the output.
pub struct ScriptedRng {
    script: Zeroizing<Vec<u8>>,
    position: usize,
    overdrawn: usize,
    fallback: ChaCha20Rng,
}

impl ScriptedRng {
    /// A generator that yields `chunks` concatenated, in order.
    pub fn new<'a>(chunks: impl IntoIterator<Item = &'a [u8]>) -> Self {
        let mut script = Zeroizing::new(Vec::new());
        for chunk in chunks {
            script.extend_from_slice(chunk);
        }
        Self {
            script,
            position: 0,
            overdrawn: 0,
            fallback: ChaCha20Rng::from_seed([0x5c; 32]),
        }
    }

    /// How many bytes were drawn beyond the script (0 if it sufficed).
    pub fn overdrawn(&self) -> usize {
        self.overdrawn
    }

    /// How many scripted bytes have not been drawn.
    pub fn remaining(&self) -> usize {
        self.script.len() - self.position
    }

    /// `Err(Broken)` naming `what` if the script was overdrawn.
    pub fn check(&self, what: &str) -> Result<(), OpError> {
        if self.overdrawn == 0 {
            Ok(())
        } else {
            Err(OpError::Broken(format!(
                "rng exhausted: {what} drew {} more random bytes than the request supplied",
                self.overdrawn
            )))
        }
    }
}

impl fmt::Debug for ScriptedRng {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScriptedRng")
            .field("scripted", &self.script.len())
            .field("position", &self.position)
            .field("overdrawn", &self.overdrawn)
            .finish_non_exhaustive()
    }
}

impl TryRng for ScriptedRng {
    type Error = Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        let mut bytes = [0u8; 4];
        self.try_fill_bytes(&mut bytes)?;
        Ok(u32::from_le_bytes(bytes))
    }

    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        let mut bytes = [0u8; 8];
        self.try_fill_bytes(&mut bytes)?;
        Ok(u64::from_le_bytes(bytes))
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        let available = &self.script[self.position..];
        let n = available.len().min(dst.len());
        dst[..n].copy_from_slice(&available[..n]);
        self.position += n;
        let rest = &mut dst[n..];
        if !rest.is_empty() {
            self.overdrawn += rest.len();
            self.fallback.try_fill_bytes(rest)?;
        }
        Ok(())
    }
}

impl TryCryptoRng for ScriptedRng {}

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

fn hex(bytes: &[u8]) -> Value {
    Value::String(crate::hex::encode(bytes))
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
        crate::implementation::admit(self.broken.as_ref(), &self.capabilities, request)?;
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
mod tests {
    use super::*;

    fn b(hex: &str) -> Bytes {
        Bytes::from_hex(hex).unwrap()
    }

    fn key(byte: u8) -> Bytes {
        Bytes(vec![byte; 32])
    }

    fn ok(imp: &mut ReferenceImplementation, request: Request) -> Output {
        match imp.call(&request) {
            Ok(out) => out,
            Err(e) => panic!("{} failed: {e}", request.op()),
        }
    }

    fn field(out: &Output, name: &str) -> Bytes {
        match out.get(name) {
            Some(Value::String(s)) => Bytes::from_hex(s).unwrap(),
            other => panic!("field {name}: {other:?}"),
        }
    }

    fn handle(out: &Output, name: &str) -> String {
        match out.get(name) {
            Some(Value::String(s)) => s.clone(),
            other => panic!("field {name}: {other:?}"),
        }
    }

    #[test]
    fn scripted_rng_yields_script_then_records_overdraw() {
        let mut rng = ScriptedRng::new([&[1u8, 2][..], &[3u8][..]]);
        let mut out = [0u8; 2];
        rng.try_fill_bytes(&mut out).unwrap();
        assert_eq!(out, [1, 2]);
        assert_eq!(rng.remaining(), 1);
        assert!(rng.check("x").is_ok());
        let mut out = [0u8; 5];
        rng.try_fill_bytes(&mut out).unwrap();
        assert_eq!(out[0], 3);
        assert_eq!(rng.overdrawn(), 4);
        assert_eq!(rng.remaining(), 0);
        match rng.check("decrypt") {
            Err(OpError::Broken(why)) => assert!(why.contains("4 more"), "{why}"),
            other => panic!("{other:?}"),
        }
        // The fallback is fixed: two generators overdraw identically.
        let mut a = ScriptedRng::new([]);
        let mut c = ScriptedRng::new([]);
        assert_eq!(a.try_next_u64().unwrap(), c.try_next_u64().unwrap());
        assert!(!format!("{a:?}").contains("fallback"));
    }

    #[test]
    fn x25519_matches_rfc7748_section_5_2() {
        let mut imp = ReferenceImplementation::new();
        let out = ok(
            &mut imp,
            Request::X25519 {
                private_key: b("a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4"),
                public_key: b("e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c"),
            },
        );
        assert_eq!(
            field(&out, "shared").to_hex(),
            "c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552"
        );
    }

    #[test]
    fn aead_seal_and_open_match_rfc8439_section_2_8_2() {
        let mut imp = ReferenceImplementation::new();
        let plaintext = Bytes(b"Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.".to_vec());
        let key = b("808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f");
        let nonce = b("070000004041424344454647");
        let aad = b("50515253c0c1c2c3c4c5c6c7");
        let out = ok(
            &mut imp,
            Request::AeadSeal {
                key: key.clone(),
                nonce: nonce.clone(),
                aad: aad.clone(),
                plaintext: plaintext.clone(),
            },
        );
        let ciphertext = field(&out, "ciphertext");
        assert_eq!(
            crate::hex::encode(&ciphertext.0[ciphertext.0.len() - 16..]),
            "1ae10b594f09e26a7e902ecbd0600691"
        );
        let out = ok(
            &mut imp,
            Request::AeadOpen {
                key: key.clone(),
                nonce: nonce.clone(),
                aad: aad.clone(),
                ciphertext: ciphertext.clone(),
            },
        );
        assert_eq!(field(&out, "plaintext"), plaintext);
        let mut tampered = ciphertext;
        tampered.0[0] ^= 1;
        for ct in [tampered, Bytes(vec![0; 15])] {
            assert_eq!(
                imp.call(&Request::AeadOpen {
                    key: key.clone(),
                    nonce: nonce.clone(),
                    aad: aad.clone(),
                    ciphertext: ct,
                }),
                Err(OpError::Rejected("decryption_failed".into()))
            );
        }
    }

    #[test]
    fn hkdf_and_hmac_match_rfc5869_and_rfc4231() {
        let mut imp = ReferenceImplementation::new();
        let out = ok(
            &mut imp,
            Request::HkdfSha256 {
                salt: b("000102030405060708090a0b0c"),
                ikm: Bytes(vec![0x0b; 22]),
                info: b("f0f1f2f3f4f5f6f7f8f9"),
                length: 42,
            },
        );
        assert_eq!(
            field(&out, "okm").to_hex(),
            "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865"
        );
        for length in [255 * 32 + 1, usize::MAX] {
            assert_eq!(
                imp.call(&Request::HkdfSha256 {
                    salt: Bytes::default(),
                    ikm: Bytes::default(),
                    info: Bytes::default(),
                    length,
                }),
                Err(OpError::Rejected("wire".into()))
            );
        }
        let out = ok(
            &mut imp,
            Request::HkdfSha256 {
                salt: Bytes::default(),
                ikm: Bytes::default(),
                info: Bytes::default(),
                length: 255 * 32,
            },
        );
        assert_eq!(field(&out, "okm").0.len(), 255 * 32);
        let out = ok(
            &mut imp,
            Request::HmacSha256 {
                key: Bytes(vec![0x0b; 20]),
                message: Bytes(b"Hi There".to_vec()),
            },
        );
        assert_eq!(
            field(&out, "mac").to_hex(),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"
        );
    }

    #[test]
    fn ed25519_verify_is_strict_and_total() {
        let mut imp = ReferenceImplementation::new();
        // RFC 8032 section 7.1, test 1.
        let public_key = b("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a");
        let signature = b(
            "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
        );
        let verify = |imp: &mut ReferenceImplementation, pk: &Bytes, sig: &Bytes| {
            let out = ok(
                imp,
                Request::Ed25519Verify {
                    public_key: pk.clone(),
                    message: Bytes::default(),
                    signature: sig.clone(),
                },
            );
            out.get("valid").cloned()
        };
        assert_eq!(
            verify(&mut imp, &public_key, &signature),
            Some(Value::Bool(true))
        );
        let mut bad = signature.clone();
        bad.0[63] ^= 0x10;
        assert_eq!(
            verify(&mut imp, &public_key, &bad),
            Some(Value::Bool(false))
        );
        let short = Bytes(signature.0[..63].to_vec());
        assert_eq!(
            verify(&mut imp, &public_key, &short),
            Some(Value::Bool(false))
        );
    }

    #[test]
    fn malformed_requests_are_wire_errors_and_unknown_handles_too() {
        let mut imp = ReferenceImplementation::new();
        let wire = Err(OpError::Rejected("wire".into()));
        assert_eq!(
            imp.call(&Request::X25519 {
                private_key: key(1),
                public_key: Bytes(vec![9; 31]),
            }),
            wire
        );
        assert_eq!(
            imp.call(&Request::KdfCk {
                chain_key: Bytes(vec![1; 33])
            }),
            wire
        );
        assert_eq!(
            imp.call(&Request::Encrypt {
                session: "nope".into(),
                plaintext: Bytes::default()
            }),
            wire
        );
        assert_eq!(
            imp.call(&Request::Free {
                handle: "nope".into()
            }),
            wire
        );
        // Still usable afterwards.
        ok(&mut imp, Request::IdentityPublic { seed: key(3) });
    }

    struct Conversation {
        imp: ReferenceImplementation,
        store: String,
        alice: String,
        bob: String,
        initial: Bytes,
    }

    fn conversation(capabilities: &[Capability]) -> Conversation {
        let mut imp = ReferenceImplementation::with_capabilities(capabilities.iter().copied());
        let spk = PreKeySecret {
            id: 7,
            private_key: key(0x21),
        };
        let opk = PreKeySecret {
            id: 100,
            private_key: key(0x22),
        };
        let bundle = field(
            &ok(
                &mut imp,
                Request::BundleCreate {
                    identity_seed: key(0x11),
                    signed_prekey: spk.clone(),
                    one_time_prekey: Some(opk.clone()),
                },
            ),
            "bundle",
        );
        assert_eq!(bundle.0.len(), sealwire::BUNDLE_LEN_WITH_OPK);
        ok(
            &mut imp,
            Request::BundleVerify {
                bundle: bundle.clone(),
            },
        );
        let store = handle(
            &ok(
                &mut imp,
                Request::PrekeyStoreCreate {
                    identity_seed: key(0x11),
                    signed_prekeys: vec![spk],
                    one_time_prekeys: vec![
                        opk,
                        PreKeySecret {
                            id: 101,
                            private_key: key(0x23),
                        },
                    ],
                },
            ),
            "store",
        );
        let out = ok(
            &mut imp,
            Request::Initiate {
                identity_seed: key(0x01),
                bundle,
                ephemeral_private_key: key(0x02),
                ratchet_private_key: key(0x03),
                plaintext: Bytes(b"hi Bob".to_vec()),
            },
        );
        let alice = handle(&out, "session");
        let initial = field(&out, "initial_message");
        let alice_secret = out.get("shared_secret").cloned();
        let out = ok(
            &mut imp,
            Request::Respond {
                store: store.clone(),
                initial_message: initial.clone(),
                ratchet_private_key: key(0x31),
            },
        );
        assert_eq!(field(&out, "plaintext").0, b"hi Bob");
        assert_eq!(out.get("shared_secret").cloned(), alice_secret);
        let bob = handle(&out, "session");
        Conversation {
            imp,
            store,
            alice,
            bob,
            initial,
        }
    }

    #[test]
    fn conversation_is_deterministic_and_exposes_matching_x3dh_secrets() {
        let mut c = conversation(&Capability::ALL);
        let mut d = conversation(&Capability::ALL);
        assert_eq!(c.initial, d.initial);
        let ids = ok(
            &mut c.imp,
            Request::PrekeyStoreIds {
                store: c.store.clone(),
            },
        );
        assert_eq!(
            ids.get("one_time_prekey_ids"),
            Some(&serde_json::json!([101]))
        );
        // Bob answers: a new ratchet turn for Alice.
        let reply = |conv: &mut Conversation| {
            let m = field(
                &ok(
                    &mut conv.imp,
                    Request::Encrypt {
                        session: conv.bob.clone(),
                        plaintext: Bytes(b"hi Alice".to_vec()),
                    },
                ),
                "message",
            );
            let pt = ok(
                &mut conv.imp,
                Request::Decrypt {
                    session: conv.alice.clone(),
                    message: m.clone(),
                    ratchet_private_key: Some(key(0x04)),
                },
            );
            assert_eq!(field(&pt, "plaintext").0, b"hi Alice");
            m
        };
        assert_eq!(reply(&mut c), reply(&mut d));
    }

    #[test]
    fn without_x3dh_secret_capability_no_secrets_are_returned() {
        let mut imp =
            ReferenceImplementation::with_capabilities([Capability::Bundle, Capability::Session]);
        let bundle = field(
            &ok(
                &mut imp,
                Request::BundleCreate {
                    identity_seed: key(0x11),
                    signed_prekey: PreKeySecret {
                        id: 1,
                        private_key: key(0x21),
                    },
                    one_time_prekey: None,
                },
            ),
            "bundle",
        );
        let out = ok(
            &mut imp,
            Request::Initiate {
                identity_seed: key(0x01),
                bundle,
                ephemeral_private_key: key(0x02),
                ratchet_private_key: key(0x03),
                plaintext: Bytes::default(),
            },
        );
        assert!(out.contains_key("initial_message"));
        assert!(!out.contains_key("shared_secret") && !out.contains_key("ad"));
        assert!(matches!(
            imp.call(&Request::ExportState {
                session: handle(&out, "session")
            }),
            Err(OpError::Unsupported(_))
        ));
    }

    #[test]
    fn rejected_decrypt_and_respond_leave_state_unchanged() {
        let mut c = conversation(&Capability::ALL);
        let message = field(
            &ok(
                &mut c.imp,
                Request::Encrypt {
                    session: c.alice.clone(),
                    plaintext: Bytes(b"second".to_vec()),
                },
            ),
            "message",
        );
        let export = |c: &mut Conversation| {
            field(
                &ok(
                    &mut c.imp,
                    Request::ExportState {
                        session: c.bob.clone(),
                    },
                ),
                "state",
            )
        };
        let before = export(&mut c);
        let mut tampered = message.clone();
        let last = tampered.0.len() - 1;
        tampered.0[last] ^= 1;
        assert_eq!(
            c.imp.call(&Request::Decrypt {
                session: c.bob.clone(),
                message: tampered,
                ratchet_private_key: None,
            }),
            Err(OpError::Rejected("decryption_failed".into()))
        );
        assert_eq!(export(&mut c), before);
        ok(
            &mut c.imp,
            Request::Decrypt {
                session: c.bob.clone(),
                message: message.clone(),
                ratchet_private_key: None,
            },
        );
        assert_eq!(
            c.imp.call(&Request::Decrypt {
                session: c.bob.clone(),
                message,
                ratchet_private_key: None,
            }),
            Err(OpError::Rejected("duplicate".into()))
        );
        // The one-time prekey is gone: replaying the initial message fails.
        assert_eq!(
            c.imp.call(&Request::Respond {
                store: c.store.clone(),
                initial_message: c.initial.clone(),
                ratchet_private_key: key(0x31),
            }),
            Err(OpError::Rejected("handshake".into()))
        );
    }

    #[test]
    fn state_round_trips_plain_and_sealed() {
        let mut c = conversation(&Capability::ALL);
        let state = field(
            &ok(
                &mut c.imp,
                Request::ExportState {
                    session: c.bob.clone(),
                },
            ),
            "state",
        );
        let copy = handle(
            &ok(
                &mut c.imp,
                Request::ImportState {
                    state: state.clone(),
                },
            ),
            "session",
        );
        let again = field(
            &ok(&mut c.imp, Request::ExportState { session: copy }),
            "state",
        );
        assert_eq!(again, state);
        let sealed = field(
            &ok(
                &mut c.imp,
                Request::SealState {
                    session: c.bob.clone(),
                    storage_key: key(0x41),
                    salt: key(0x42),
                },
            ),
            "sealed_state",
        );
        assert_eq!(&sealed.0[1..33], &[0x42; 32]);
        let opened = handle(
            &ok(
                &mut c.imp,
                Request::OpenState {
                    storage_key: key(0x41),
                    sealed_state: sealed.clone(),
                },
            ),
            "session",
        );
        let count = ok(&mut c.imp, Request::SkippedCount { session: opened });
        assert_eq!(count.get("count"), Some(&Value::from(0)));
        assert_eq!(
            c.imp.call(&Request::OpenState {
                storage_key: key(0x40),
                sealed_state: sealed,
            }),
            Err(OpError::Rejected("state".into()))
        );
        let mut truncated = state;
        truncated.0.pop();
        assert_eq!(
            c.imp.call(&Request::ImportState { state: truncated }),
            Err(OpError::Rejected("state".into()))
        );
        ok(
            &mut c.imp,
            Request::Free {
                handle: c.bob.clone(),
            },
        );
        assert_eq!(
            c.imp.call(&Request::ExportState { session: c.bob }),
            Err(OpError::Rejected("wire".into()))
        );
    }

    #[test]
    fn a_new_turn_without_a_scripted_key_breaks_the_implementation() {
        let mut c = conversation(&Capability::ALL);
        let reply = field(
            &ok(
                &mut c.imp,
                Request::Encrypt {
                    session: c.bob.clone(),
                    plaintext: Bytes(b"x".to_vec()),
                },
            ),
            "message",
        );
        let result = c.imp.call(&Request::Decrypt {
            session: c.alice.clone(),
            message: reply,
            ratchet_private_key: None,
        });
        match result {
            Err(OpError::Broken(why)) => assert!(why.contains("rng exhausted"), "{why}"),
            other => panic!("{other:?}"),
        }
        // Broken is permanent, as the trait says.
        assert!(matches!(
            c.imp.call(&Request::IdentityPublic { seed: key(1) }),
            Err(OpError::Broken(_))
        ));
    }

    #[test]
    fn decode_reencodes_and_rejects() {
        let mut c = conversation(&Capability::ALL);
        let out = ok(
            &mut c.imp,
            Request::Decode {
                structure: Structure::InitialMessage,
                bytes: c.initial.clone(),
            },
        );
        assert_eq!(field(&out, "encoded"), c.initial);
        let header = Bytes(c.initial.0[74..74 + 41].to_vec());
        let out = ok(
            &mut c.imp,
            Request::Decode {
                structure: Structure::Header,
                bytes: header.clone(),
            },
        );
        assert_eq!(field(&out, "encoded"), header);
        assert_eq!(
            c.imp.call(&Request::Decode {
                structure: Structure::Bundle,
                bytes: Bytes(vec![1; 10]),
            }),
            Err(OpError::Rejected("wire".into()))
        );
    }
}
