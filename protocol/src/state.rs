//! Session persistence: a versioned, documented byte format, and that format
//! sealed under a caller's storage key.
//!
//! ```text
//! state (version 1)
//!   0x01
//!   AD (64) || RK (32) || DHs private key (32) || CKs (32) || u32be(Ns) || u32be(PN)
//!   dhr_flag (0x00 | 0x01) || [DHr (32)]
//!   ckr_flag (0x00 | 0x01) || [CKr (32)] || u32be(Nr)
//!   count (1, at most 16)   || count x earlier receiving ratchet key (32)
//!   u16be(count, at most 2000) || count x (ratchet key (32) || u32be(N) || MK (32))
//!
//! sealed state (version 1)
//!   0x01 || salt (32) || ChaCha20-Poly1305(key, nonce, aad = 0x01 || salt, state)
//!   key || nonce = HKDF(salt = salt, ikm = storage key, info = "Sealwire State v1", L = 44)
//! ```
//!
//! The plain state holds every secret of the session. Applications must
//! store it only sealed ([`Session::seal_state_with_rng`]); the plain form
//! exists for tests, vectors and callers with their own encrypted storage.

use std::collections::VecDeque;

use chacha20poly1305::aead::inout::InOutBuf;
use chacha20poly1305::{AeadInOut, ChaCha20Poly1305, Key, KeyInit, Nonce, Tag};
use rand_core::CryptoRng;
use zeroize::Zeroizing;

use crate::error::{Error, StateError};
use crate::kdf::state_keys;
use crate::keys::{ChainKey, KEY_LEN, KeyPair, MessageKey, PublicKey, RootKey, StorageKey};
use crate::ratchet::{
    MAX_PREVIOUS_RATCHET_KEYS, MAX_SKIPPED_KEYS, Receiving, Sending, Session, SkippedKey,
    SkippedKeys,
};
use crate::seal::{AD_LEN, TAG_LEN};
use crate::wire::Reader;

/// Version byte of the plain state format.
pub const STATE_VERSION: u8 = 0x01;
/// Version byte of the sealed state format.
pub const SEALED_STATE_VERSION: u8 = 0x01;
const SALT_LEN: usize = 32;

fn truncated() -> Error {
    StateError::Truncated.into()
}

fn read_flag(r: &mut Reader<'_>, field: &'static str) -> Result<bool, Error> {
    match r.u8().ok_or_else(truncated)? {
        0 => Ok(false),
        1 => Ok(true),
        _ => Err(StateError::Corrupted(field).into()),
    }
}

fn read_key(r: &mut Reader<'_>) -> Result<Zeroizing<[u8; KEY_LEN]>, Error> {
    Ok(Zeroizing::new(r.array().ok_or_else(truncated)?))
}

impl Session {
    /// Serializes the whole session (see the module documentation). The
    /// result holds secrets and is wiped when dropped.
    ///
    /// SPEC.md §9.1.
    pub fn to_bytes(&self) -> Zeroizing<Vec<u8>> {
        let mut out = Zeroizing::new(Vec::with_capacity(
            300 + self.skipped.len() * 68 + self.previous_ratchet_keys.len() * 32,
        ));
        out.push(STATE_VERSION);
        out.extend_from_slice(&self.ad);
        out.extend_from_slice(&self.root.0);
        out.extend_from_slice(&*self.sending.key_pair.secret_bytes());
        out.extend_from_slice(&self.sending.chain.0);
        out.extend_from_slice(&self.sending.n.to_be_bytes());
        out.extend_from_slice(&self.sending.previous_len.to_be_bytes());
        match self.receiving.ratchet_key.as_ref() {
            Some(key) => {
                out.push(1);
                out.extend_from_slice(key.as_bytes());
            }
            None => out.push(0),
        }
        match self.receiving.chain.as_ref() {
            Some(chain) => {
                out.push(1);
                out.extend_from_slice(&chain.0);
            }
            None => out.push(0),
        }
        out.extend_from_slice(&self.receiving.n.to_be_bytes());
        out.push(self.previous_ratchet_keys.len() as u8);
        for key in &self.previous_ratchet_keys {
            out.extend_from_slice(key.as_bytes());
        }
        out.extend_from_slice(&(self.skipped.len() as u16).to_be_bytes());
        #[cfg(feature = "planted-flaws")]
        if crate::flaws::scratch_state(self.skipped.len()) {
            let mut scratch = Vec::new();
            for entry in self.skipped.iter() {
                scratch.extend_from_slice(entry.ratchet_key.as_bytes());
                scratch.extend_from_slice(&entry.message_number.to_be_bytes());
                scratch.extend_from_slice(&entry.message_key.0);
            }
            out.extend_from_slice(&scratch);
            return out;
        }
        for entry in self.skipped.iter() {
            out.extend_from_slice(entry.ratchet_key.as_bytes());
            out.extend_from_slice(&entry.message_number.to_be_bytes());
            out.extend_from_slice(&entry.message_key.0);
        }
        out
    }

    /// Restores a session from [`Session::to_bytes`] output. Rejects
    /// truncated input, trailing bytes, an unknown version, out-of-range
    /// counts and invalid flags with [`Error::State`].
    ///
    /// SPEC.md §9.1.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, Error> {
        let mut r = Reader::new(bytes);
        match r.u8().ok_or_else(truncated)? {
            STATE_VERSION => {}
            v => return Err(StateError::UnsupportedVersion(v).into()),
        }
        let ad: [u8; AD_LEN] = r.array().ok_or_else(truncated)?;
        let root = RootKey::from_bytes(*read_key(&mut r)?);
        let key_pair = KeyPair::from_secret_bytes(*read_key(&mut r)?);
        let sending_chain = ChainKey::from_bytes(*read_key(&mut r)?);
        let ns = r.u32().ok_or_else(truncated)?;
        let pn = r.u32().ok_or_else(truncated)?;
        let dhr = if read_flag(&mut r, "dhr_flag")? {
            Some(PublicKey::from_bytes(r.array().ok_or_else(truncated)?))
        } else {
            None
        };
        let ckr = if read_flag(&mut r, "ckr_flag")? {
            Some(ChainKey::from_bytes(*read_key(&mut r)?))
        } else {
            None
        };
        if ckr.is_some() && dhr.is_none() {
            return Err(StateError::Corrupted("receiving chain without ratchet key").into());
        }
        let nr = r.u32().ok_or_else(truncated)?;
        let previous_count = usize::from(r.u8().ok_or_else(truncated)?);
        if previous_count > MAX_PREVIOUS_RATCHET_KEYS {
            return Err(StateError::Corrupted("too many earlier ratchet keys").into());
        }
        let mut previous = VecDeque::with_capacity(previous_count);
        for _ in 0..previous_count {
            previous.push_back(PublicKey::from_bytes(r.array().ok_or_else(truncated)?));
        }
        let skipped_count = usize::from(u16::from_be_bytes(r.array().ok_or_else(truncated)?));
        if skipped_count > MAX_SKIPPED_KEYS {
            return Err(StateError::Corrupted("too many skipped keys").into());
        }
        let mut entries = Vec::with_capacity(skipped_count);
        for _ in 0..skipped_count {
            let ratchet_key = PublicKey::from_bytes(r.array().ok_or_else(truncated)?);
            let message_number = r.u32().ok_or_else(truncated)?;
            let message_key = MessageKey::from_bytes(*read_key(&mut r)?);
            entries.push(SkippedKey {
                ratchet_key,
                message_number,
                message_key,
            });
        }
        if !r.is_empty() {
            return Err(StateError::TrailingBytes.into());
        }
        // Sorted, not hashed: a hash set's random keys would make fuzzing
        // runs differ between processes (fuzz/ci.sh relies on repeatable
        // runs).
        let mut ids: Vec<([u8; 32], u32)> = entries
            .iter()
            .map(|e| (*e.ratchet_key.as_bytes(), e.message_number))
            .collect();
        ids.sort_unstable();
        if ids.windows(2).any(|pair| pair[0] == pair[1]) {
            return Err(StateError::Corrupted("duplicate skipped key").into());
        }
        let mut skipped = SkippedKeys::default();
        // Copies the keys in; `entries` wipes its own when dropped.
        skipped.extend_from(&entries);
        Ok(Self {
            ad,
            root,
            sending: Sending {
                key_pair,
                chain: sending_chain,
                n: ns,
                previous_len: pn,
            },
            receiving: Receiving {
                ratchet_key: dhr.into(),
                chain: ckr.into(),
                n: nr,
            },
            previous_ratchet_keys: previous,
            skipped,
        })
    }

    /// Serializes the session and seals it under `storage_key` with a fresh
    /// 32-byte salt from the operating system's generator.
    pub fn seal_state(&self, storage_key: &StorageKey) -> Vec<u8> {
        self.seal_state_with_rng(storage_key, &mut crate::os_rng())
    }

    /// Serializes the session and seals it under `storage_key`. Draws
    /// exactly 32 bytes (the salt) from `rng`.
    ///
    /// SPEC.md §9.2.
    pub fn seal_state_with_rng<R: CryptoRng + ?Sized>(
        &self,
        storage_key: &StorageKey,
        rng: &mut R,
    ) -> Vec<u8> {
        let mut salt = [0u8; SALT_LEN];
        rng.fill_bytes(&mut salt);
        let state = self.to_bytes();
        let mut out = Vec::with_capacity(1 + SALT_LEN + state.len() + TAG_LEN);
        out.push(SEALED_STATE_VERSION);
        out.extend_from_slice(&salt);
        out.extend_from_slice(&state);
        let (aad, body) = out.split_at_mut(1 + SALT_LEN);
        let (key, nonce) = state_keys(&storage_key.0, &salt);
        let cipher = ChaCha20Poly1305::new(&Key::from(*key));
        let tag = cipher
            .encrypt_inout_detached(&Nonce::from(nonce), aad, InOutBuf::from(body))
            .expect("a session state is far below the AEAD length limit");
        out.extend_from_slice(&tag);
        out
    }

    /// Opens a sealed state and restores the session. A wrong key or any
    /// change to the sealed bytes is [`StateError::AuthenticationFailed`].
    ///
    /// SPEC.md §9.2.
    pub fn open_state(storage_key: &StorageKey, sealed: &[u8]) -> Result<Self, Error> {
        let mut r = Reader::new(sealed);
        match r.u8().ok_or_else(truncated)? {
            SEALED_STATE_VERSION => {}
            v => return Err(StateError::UnsupportedVersion(v).into()),
        }
        let salt: [u8; SALT_LEN] = r.array().ok_or_else(truncated)?;
        let rest = r.rest();
        if rest.len() < TAG_LEN {
            return Err(truncated());
        }
        let (body, tag) = rest.split_at(rest.len() - TAG_LEN);
        let tag = Tag::try_from(tag).map_err(|_| truncated())?;
        let mut state = Zeroizing::new(body.to_vec());
        let (key, nonce) = state_keys(&storage_key.0, &salt);
        let cipher = ChaCha20Poly1305::new(&Key::from(*key));
        let aad = &sealed[..1 + SALT_LEN];
        #[cfg(feature = "planted-flaws")]
        if crate::flaws::early_reject_sealed_state(&cipher, &Nonce::from(nonce), aad, body) {
            return Err(StateError::AuthenticationFailed.into());
        }
        cipher
            .decrypt_inout_detached(
                &Nonce::from(nonce),
                aad,
                InOutBuf::from(&mut state[..]),
                &tag,
            )
            .map_err(|_| StateError::AuthenticationFailed)?;
        Self::from_bytes(&state)
    }
}
