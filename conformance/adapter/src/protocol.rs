//! The operations every implementation under test is driven through: in
//! process for the reference implementation, and as JSON lines over stdio
//! for an external one (see `conformance/ADAPTER.md`).
//!
//! The runner supplies every private key and every random value, so every
//! output is byte-exact. Sessions and prekey stores live inside the
//! implementation and are named by opaque string handles it returns.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::hex::Bytes;

/// Version of the adapter protocol described in ADAPTER.md.
pub const ADAPTER_PROTOCOL_VERSION: u32 = 1;

/// What an implementation can do. A vector that needs a capability the
/// implementation lacks is reported as skipped, never as passed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Capability {
    /// Raw primitives: `x25519`, `ed25519_verify`, `hkdf_sha256`,
    /// `hmac_sha256`, `aead_seal`, `aead_open`.
    Primitives,
    /// The profile's KDFs and sealing core: `kdf_rk`, `kdf_ck`,
    /// `message_keys`, `seal`, `open`.
    Kdf,
    /// Identity keys and bundles: `identity_public`, `bundle_create`,
    /// `bundle_verify`.
    Bundle,
    /// X3DH and sessions: `prekey_store_create`, `prekey_store_ids`,
    /// `initiate`, `respond`, `encrypt`, `decrypt`, `free`.
    Session,
    /// `initiate` and `respond` also return `shared_secret` (SK) and `ad`.
    X3dhSecret,
    /// `decode` of every wire structure with re-encoding.
    Wire,
    /// SPEC.md's persisted state format: `export_state`, `import_state`.
    State,
    /// Sealed persisted state: `seal_state`, `open_state`.
    SealedState,
    /// `skipped_count`: the size of a session's skipped-key store.
    SkippedCount,
}

impl Capability {
    /// Every capability, in a fixed order.
    pub const ALL: [Capability; 9] = [
        Self::Primitives,
        Self::Kdf,
        Self::Bundle,
        Self::Session,
        Self::X3dhSecret,
        Self::Wire,
        Self::State,
        Self::SealedState,
        Self::SkippedCount,
    ];

    /// The snake_case name used on the wire and in reports.
    pub fn name(self) -> &'static str {
        match self {
            Self::Primitives => "primitives",
            Self::Kdf => "kdf",
            Self::Bundle => "bundle",
            Self::Session => "session",
            Self::X3dhSecret => "x3dh_secret",
            Self::Wire => "wire",
            Self::State => "state",
            Self::SealedState => "sealed_state",
            Self::SkippedCount => "skipped_count",
        }
    }
}

/// A prekey given to a prekey store: its id and X25519 private key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PreKeySecret {
    /// The prekey id.
    pub id: u32,
    /// The 32-byte X25519 private key.
    pub private_key: Bytes,
}

/// Which wire structure `decode` parses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Structure {
    /// The 41-byte ratchet header.
    Header,
    /// `header || ciphertext || tag`.
    RatchetMessage,
    /// The initial message.
    InitialMessage,
    /// The prekey bundle.
    Bundle,
}

/// One operation. Serialized with its name under `"op"`, fields beside it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
pub enum Request {
    /// X25519(private_key, public_key) -> `{shared}`. An all-zero result is
    /// returned as is (the primitive does not check it).
    X25519 {
        /// 32 bytes.
        private_key: Bytes,
        /// 32 bytes.
        public_key: Bytes,
    },
    /// Ed25519 strict verification -> `{valid: bool}`.
    Ed25519Verify {
        /// 32 bytes.
        public_key: Bytes,
        /// Any length.
        message: Bytes,
        /// 64 bytes.
        signature: Bytes,
    },
    /// HKDF-SHA256 -> `{okm}`.
    HkdfSha256 {
        /// The salt (may be empty).
        salt: Bytes,
        /// Input key material.
        ikm: Bytes,
        /// Context.
        info: Bytes,
        /// Output length in bytes.
        length: usize,
    },
    /// HMAC-SHA256 -> `{mac}` (32 bytes).
    HmacSha256 {
        /// The key.
        key: Bytes,
        /// The message.
        message: Bytes,
    },
    /// ChaCha20-Poly1305 seal -> `{ciphertext}` (ciphertext || tag).
    AeadSeal {
        /// 32 bytes.
        key: Bytes,
        /// 12 bytes.
        nonce: Bytes,
        /// Associated data.
        aad: Bytes,
        /// Plaintext.
        plaintext: Bytes,
    },
    /// ChaCha20-Poly1305 open -> `{plaintext}`, or `decryption_failed`.
    AeadOpen {
        /// 32 bytes.
        key: Bytes,
        /// 12 bytes.
        nonce: Bytes,
        /// Associated data.
        aad: Bytes,
        /// ciphertext || tag.
        ciphertext: Bytes,
    },
    /// `KDF_RK` -> `{root_key, chain_key}`.
    KdfRk {
        /// 32 bytes.
        root_key: Bytes,
        /// 32 bytes.
        dh_output: Bytes,
    },
    /// `KDF_CK` -> `{chain_key, message_key}`.
    KdfCk {
        /// 32 bytes.
        chain_key: Bytes,
    },
    /// Message-key expansion -> `{key, nonce}`.
    MessageKeys {
        /// 32 bytes.
        message_key: Bytes,
    },
    /// The sealing core -> `{message}` = header || ciphertext || tag.
    Seal {
        /// 32 bytes.
        message_key: Bytes,
        /// 64 bytes.
        ad: Bytes,
        /// 41 bytes, used as given.
        header: Bytes,
        /// Plaintext.
        plaintext: Bytes,
    },
    /// The sealing core, opening -> `{plaintext}`.
    Open {
        /// 32 bytes.
        message_key: Bytes,
        /// 64 bytes.
        ad: Bytes,
        /// header || ciphertext || tag.
        message: Bytes,
    },
    /// Identity key from its seed -> `{public_key, x25519_public_key}`.
    IdentityPublic {
        /// 32-byte Ed25519 seed.
        seed: Bytes,
    },
    /// Builds and encodes a bundle -> `{bundle}`. The signature may use any
    /// valid Ed25519 nonce: the runner verifies it rather than comparing.
    BundleCreate {
        /// Identity seed.
        identity_seed: Bytes,
        /// Signed prekey.
        signed_prekey: PreKeySecret,
        /// Optional one-time prekey.
        one_time_prekey: Option<PreKeySecret>,
    },
    /// Decodes and verifies a bundle -> `{}`, or an error class.
    BundleVerify {
        /// The encoded bundle.
        bundle: Bytes,
    },
    /// Decodes a wire structure and encodes it again -> `{encoded}`.
    Decode {
        /// Which structure.
        structure: Structure,
        /// Input bytes.
        bytes: Bytes,
    },
    /// A responder's prekey store -> `{store}` (a handle).
    PrekeyStoreCreate {
        /// The responder's identity seed.
        identity_seed: Bytes,
        /// Signed prekeys by id.
        signed_prekeys: Vec<PreKeySecret>,
        /// One-time prekeys by id.
        one_time_prekeys: Vec<PreKeySecret>,
    },
    /// The one-time prekey ids still in a store -> `{one_time_prekey_ids}`
    /// (ascending).
    PrekeyStoreIds {
        /// Store handle.
        store: String,
    },
    /// X3DH initiator -> `{session, initial_message}` (plus
    /// `{shared_secret, ad}` with `x3dh_secret`).
    Initiate {
        /// Initiator's identity seed.
        identity_seed: Bytes,
        /// The responder's encoded bundle.
        bundle: Bytes,
        /// EK_A's private key.
        ephemeral_private_key: Bytes,
        /// The first ratchet key DHs's private key.
        ratchet_private_key: Bytes,
        /// The first message's plaintext.
        plaintext: Bytes,
    },
    /// X3DH responder -> `{session, plaintext}` (plus `{shared_secret, ad}`
    /// with `x3dh_secret`). On error the store is unchanged.
    Respond {
        /// Store handle (it holds the responder's identity too).
        store: String,
        /// The encoded initial message.
        initial_message: Bytes,
        /// Private key of the responder's first new ratchet key.
        ratchet_private_key: Bytes,
    },
    /// Encrypts with a session -> `{message}`.
    Encrypt {
        /// Session handle.
        session: String,
        /// Plaintext.
        plaintext: Bytes,
    },
    /// Decrypts with a session -> `{plaintext}`. `ratchet_private_key` is
    /// used only if the message starts a new ratchet turn.
    Decrypt {
        /// Session handle.
        session: String,
        /// The ratchet message.
        message: Bytes,
        /// Private key for the new sending ratchet key, if one is needed.
        ratchet_private_key: Option<Bytes>,
    },
    /// The session's persisted state (SPEC.md format) -> `{state}`.
    ExportState {
        /// Session handle.
        session: String,
    },
    /// Restores a session -> `{session}`.
    ImportState {
        /// The persisted state.
        state: Bytes,
    },
    /// Seals the session's state -> `{sealed_state}`.
    SealState {
        /// Session handle.
        session: String,
        /// 32-byte storage key.
        storage_key: Bytes,
        /// 32-byte salt (the random value of the sealed format).
        salt: Bytes,
    },
    /// Opens a sealed state -> `{session}`.
    OpenState {
        /// 32-byte storage key.
        storage_key: Bytes,
        /// The sealed state.
        sealed_state: Bytes,
    },
    /// Size of the skipped-key store -> `{count}`.
    SkippedCount {
        /// Session handle.
        session: String,
    },
    /// Forgets a session or store handle -> `{}`.
    Free {
        /// The handle.
        handle: String,
    },
}

impl Request {
    /// The operation's name, as sent under `"op"`.
    pub fn op(&self) -> &'static str {
        match self {
            Self::X25519 { .. } => "x25519",
            Self::Ed25519Verify { .. } => "ed25519_verify",
            Self::HkdfSha256 { .. } => "hkdf_sha256",
            Self::HmacSha256 { .. } => "hmac_sha256",
            Self::AeadSeal { .. } => "aead_seal",
            Self::AeadOpen { .. } => "aead_open",
            Self::KdfRk { .. } => "kdf_rk",
            Self::KdfCk { .. } => "kdf_ck",
            Self::MessageKeys { .. } => "message_keys",
            Self::Seal { .. } => "seal",
            Self::Open { .. } => "open",
            Self::IdentityPublic { .. } => "identity_public",
            Self::BundleCreate { .. } => "bundle_create",
            Self::BundleVerify { .. } => "bundle_verify",
            Self::Decode { .. } => "decode",
            Self::PrekeyStoreCreate { .. } => "prekey_store_create",
            Self::PrekeyStoreIds { .. } => "prekey_store_ids",
            Self::Initiate { .. } => "initiate",
            Self::Respond { .. } => "respond",
            Self::Encrypt { .. } => "encrypt",
            Self::Decrypt { .. } => "decrypt",
            Self::ExportState { .. } => "export_state",
            Self::ImportState { .. } => "import_state",
            Self::SealState { .. } => "seal_state",
            Self::OpenState { .. } => "open_state",
            Self::SkippedCount { .. } => "skipped_count",
            Self::Free { .. } => "free",
        }
    }

    /// The capability an implementation needs to serve this operation.
    pub fn capability(&self) -> Capability {
        match self {
            Self::X25519 { .. }
            | Self::Ed25519Verify { .. }
            | Self::HkdfSha256 { .. }
            | Self::HmacSha256 { .. }
            | Self::AeadSeal { .. }
            | Self::AeadOpen { .. } => Capability::Primitives,
            Self::KdfRk { .. }
            | Self::KdfCk { .. }
            | Self::MessageKeys { .. }
            | Self::Seal { .. }
            | Self::Open { .. } => Capability::Kdf,
            Self::IdentityPublic { .. } | Self::BundleCreate { .. } | Self::BundleVerify { .. } => {
                Capability::Bundle
            }
            Self::Decode { .. } => Capability::Wire,
            Self::PrekeyStoreCreate { .. }
            | Self::PrekeyStoreIds { .. }
            | Self::Initiate { .. }
            | Self::Respond { .. }
            | Self::Encrypt { .. }
            | Self::Decrypt { .. }
            | Self::Free { .. } => Capability::Session,
            Self::ExportState { .. } | Self::ImportState { .. } => Capability::State,
            Self::SealState { .. } | Self::OpenState { .. } => Capability::SealedState,
            Self::SkippedCount { .. } => Capability::SkippedCount,
        }
    }

    /// The handle fields of this request (sessions and stores), so that a
    /// runner can map the names used in vectors to an implementation's
    /// handles.
    pub fn handles_mut(&mut self) -> Vec<&mut String> {
        match self {
            Self::PrekeyStoreIds { store } | Self::Respond { store, .. } => vec![store],
            Self::Encrypt { session, .. }
            | Self::Decrypt { session, .. }
            | Self::ExportState { session }
            | Self::SealState { session, .. }
            | Self::SkippedCount { session } => vec![session],
            Self::Free { handle } => vec![handle],
            _ => Vec::new(),
        }
    }
}

/// A successful operation's output: named fields (hex strings for bytes,
/// numbers, booleans, arrays of numbers).
pub type Output = BTreeMap<String, serde_json::Value>;
