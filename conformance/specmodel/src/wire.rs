//! The byte formats of SPEC.md §4 (bundle), §7 (header, ratchet message)
//! and §8 (initial message): encoding, and decoding with `wire` errors.

use crate::error::{ModelError, ModelResult};
use crate::keys::is_canonical_x25519;
use crate::primitives::TAG_LEN;

/// The protocol version byte (SPEC.md §3).
pub const VERSION: u8 = 0x01;
/// `MAX_PLAINTEXT_LEN` (SPEC.md §3).
pub const MAX_PLAINTEXT_LEN: usize = 1_048_576;
/// The header length.
pub const HEADER_LEN: usize = 41;
/// Header plus tag.
pub const OVERHEAD: usize = HEADER_LEN + TAG_LEN;
/// Bundle length without a one-time prekey.
pub const BUNDLE_LEN_WITHOUT_OPK: usize = 134;
/// Bundle length with a one-time prekey.
pub const BUNDLE_LEN_WITH_OPK: usize = 170;
/// The initial message's prefix with a one-time prekey.
pub const INITIAL_PREFIX_MAX: usize = 74;

/// Reads fields front to back; running out is the caller's `truncated`.
struct Fields<'a> {
    rest: &'a [u8],
}

impl<'a> Fields<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.rest.len() < n {
            return None;
        }
        let (head, tail) = self.rest.split_at(n);
        self.rest = tail;
        Some(head)
    }

    fn key(&mut self) -> Option<[u8; 32]> {
        self.take(32).and_then(|b| b.try_into().ok())
    }

    fn u32be(&mut self) -> Option<u32> {
        self.take(4)
            .and_then(|b| b.try_into().ok())
            .map(u32::from_be_bytes)
    }

    fn byte(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }
}

const TRUNCATED: ModelError = ModelError::Wire("truncated");

fn received_x25519(key: [u8; 32]) -> ModelResult<[u8; 32]> {
    if is_canonical_x25519(&key) {
        Ok(key)
    } else {
        Err(ModelError::Wire("non-canonical X25519 key"))
    }
}

fn flag(value: u8) -> ModelResult<bool> {
    match value {
        0 => Ok(false),
        1 => Ok(true),
        _ => Err(ModelError::Wire("invalid field: opk_flag")),
    }
}

/// The ratchet header: `0x01 || DHs || u32be(PN) || u32be(N)` (§7).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    /// The sender's ratchet public key.
    pub ratchet_key: [u8; 32],
    /// `PN`.
    pub previous_chain_len: u32,
    /// `N`.
    pub message_number: u32,
}

impl Header {
    /// The 41 header bytes.
    pub fn encode(&self) -> [u8; HEADER_LEN] {
        let mut out = [0u8; HEADER_LEN];
        out[0] = VERSION;
        out[1..33].copy_from_slice(&self.ratchet_key);
        out[33..37].copy_from_slice(&self.previous_chain_len.to_be_bytes());
        out[37..41].copy_from_slice(&self.message_number.to_be_bytes());
        out
    }

    /// Decodes exactly 41 bytes.
    pub fn decode(bytes: &[u8]) -> ModelResult<Self> {
        if bytes.len() < HEADER_LEN {
            return Err(TRUNCATED);
        }
        if bytes.len() > HEADER_LEN {
            return Err(ModelError::Wire("trailing bytes"));
        }
        Self::decode_prefix(bytes)
    }

    /// Decodes the first 41 bytes of `bytes` (at least 41).
    fn decode_prefix(bytes: &[u8]) -> ModelResult<Self> {
        let mut r = Fields { rest: bytes };
        if r.byte().ok_or(TRUNCATED)? != VERSION {
            return Err(ModelError::Wire("unsupported version"));
        }
        let ratchet_key = received_x25519(r.key().ok_or(TRUNCATED)?)?;
        let previous_chain_len = r.u32be().ok_or(TRUNCATED)?;
        let message_number = r.u32be().ok_or(TRUNCATED)?;
        Ok(Self {
            ratchet_key,
            previous_chain_len,
            message_number,
        })
    }
}

/// Decodes a ratchet message `header || ciphertext || tag` (§6.4 step 0):
/// returns its header; the body is `&bytes[41..]`.
pub fn decode_ratchet_message(bytes: &[u8]) -> ModelResult<Header> {
    if bytes.len() > MAX_PLAINTEXT_LEN + OVERHEAD {
        return Err(ModelError::Wire("oversized"));
    }
    if bytes.len() < OVERHEAD {
        return Err(TRUNCATED);
    }
    Header::decode_prefix(bytes)
}

/// A prekey bundle's fields (§4), before verification.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bundle {
    /// `Encode(IK_B)`, not yet validated.
    pub identity_key: [u8; 32],
    /// `spk_id`.
    pub signed_prekey_id: u32,
    /// `Encode(SPK_B)`.
    pub signed_prekey: [u8; 32],
    /// The signature over `Encode(SPK_B)`.
    pub signature: [u8; 64],
    /// `(opk_id, Encode(OPK_B))` when offered.
    pub one_time_prekey: Option<(u32, [u8; 32])>,
}

impl Bundle {
    /// The canonical encoding: 134 or 170 bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(BUNDLE_LEN_WITH_OPK);
        out.push(VERSION);
        out.extend_from_slice(&self.identity_key);
        out.extend_from_slice(&self.signed_prekey_id.to_be_bytes());
        out.extend_from_slice(&self.signed_prekey);
        out.extend_from_slice(&self.signature);
        match &self.one_time_prekey {
            None => out.push(0),
            Some((id, key)) => {
                out.push(1);
                out.extend_from_slice(&id.to_be_bytes());
                out.extend_from_slice(key);
            }
        }
        out
    }

    /// Decodes a bundle (`wire` errors only; no verification).
    pub fn decode(bytes: &[u8]) -> ModelResult<Self> {
        if bytes.len() > BUNDLE_LEN_WITH_OPK {
            return Err(ModelError::Wire("oversized"));
        }
        let mut r = Fields { rest: bytes };
        if r.byte().ok_or(TRUNCATED)? != VERSION {
            return Err(ModelError::Wire("unsupported version"));
        }
        let identity_key = r.key().ok_or(TRUNCATED)?;
        let signed_prekey_id = r.u32be().ok_or(TRUNCATED)?;
        let signed_prekey = received_x25519(r.key().ok_or(TRUNCATED)?)?;
        let signature: [u8; 64] = r
            .take(64)
            .and_then(|b| b.try_into().ok())
            .ok_or(TRUNCATED)?;
        let one_time_prekey = if flag(r.byte().ok_or(TRUNCATED)?)? {
            let id = r.u32be().ok_or(TRUNCATED)?;
            Some((id, received_x25519(r.key().ok_or(TRUNCATED)?)?))
        } else {
            None
        };
        if !r.rest.is_empty() {
            return Err(ModelError::Wire("trailing bytes"));
        }
        Ok(Self {
            identity_key,
            signed_prekey_id,
            signed_prekey,
            signature,
            one_time_prekey,
        })
    }
}

/// The initial message (§8).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InitialMessage {
    /// `Encode(IK_A)`, not yet validated.
    pub identity_key: [u8; 32],
    /// `Encode(EK_A)`.
    pub ephemeral_key: [u8; 32],
    /// `spk_id`.
    pub signed_prekey_id: u32,
    /// `opk_id`, when the bundle offered a one-time prekey.
    pub one_time_prekey_id: Option<u32>,
    /// The embedded ratchet message.
    pub message: Vec<u8>,
}

impl InitialMessage {
    /// The encoding: prefix (70 or 74 bytes) then the ratchet message.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(INITIAL_PREFIX_MAX + self.message.len());
        out.push(VERSION);
        out.extend_from_slice(&self.identity_key);
        out.extend_from_slice(&self.ephemeral_key);
        out.extend_from_slice(&self.signed_prekey_id.to_be_bytes());
        match self.one_time_prekey_id {
            None => out.push(0),
            Some(id) => {
                out.push(1);
                out.extend_from_slice(&id.to_be_bytes());
            }
        }
        out.extend_from_slice(&self.message);
        out
    }

    /// Decodes an initial message, including its embedded ratchet message's
    /// step-0 checks.
    pub fn decode(bytes: &[u8]) -> ModelResult<Self> {
        if bytes.len() > INITIAL_PREFIX_MAX + MAX_PLAINTEXT_LEN + OVERHEAD {
            return Err(ModelError::Wire("oversized"));
        }
        let mut r = Fields { rest: bytes };
        if r.byte().ok_or(TRUNCATED)? != VERSION {
            return Err(ModelError::Wire("unsupported version"));
        }
        let identity_key = r.key().ok_or(TRUNCATED)?;
        let ephemeral_key = received_x25519(r.key().ok_or(TRUNCATED)?)?;
        let signed_prekey_id = r.u32be().ok_or(TRUNCATED)?;
        let one_time_prekey_id = if flag(r.byte().ok_or(TRUNCATED)?)? {
            Some(r.u32be().ok_or(TRUNCATED)?)
        } else {
            None
        };
        decode_ratchet_message(r.rest)?;
        Ok(Self {
            identity_key,
            ephemeral_key,
            signed_prekey_id,
            one_time_prekey_id,
            message: r.rest.to_vec(),
        })
    }
}
