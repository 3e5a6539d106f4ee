//! SPEC.md §9: the plain state's bytes and the sealed state.

use zeroize::Zeroizing;

use crate::error::{ModelError, ModelResult};
use crate::kdf::state_keys;
use crate::primitives::{TAG_LEN, aead_open, aead_seal};
use crate::secret::Secret32;
use crate::session::{MAX_PREVIOUS_RATCHET_KEYS, MAX_SKIPPED_KEYS, ModelSession, SkippedEntry};

/// The plain and sealed state's version byte.
pub const STATE_VERSION: u8 = 0x01;
/// `0x01 || salt` plus a tag: the shortest sealed state.
pub const SEALED_MIN_LEN: usize = 1 + 32 + TAG_LEN;

const TRUNCATED: ModelError = ModelError::State("truncated");

struct Fields<'a> {
    rest: &'a [u8],
}

impl<'a> Fields<'a> {
    fn take(&mut self, n: usize) -> ModelResult<&'a [u8]> {
        if self.rest.len() < n {
            return Err(TRUNCATED);
        }
        let (head, tail) = self.rest.split_at(n);
        self.rest = tail;
        Ok(head)
    }

    fn key(&mut self) -> ModelResult<[u8; 32]> {
        self.take(32)?.try_into().map_err(|_| TRUNCATED)
    }

    fn secret(&mut self) -> ModelResult<Secret32> {
        Secret32::from_slice(self.take(32)?).ok_or(TRUNCATED)
    }

    fn u32be(&mut self) -> ModelResult<u32> {
        Ok(u32::from_be_bytes(
            self.take(4)?.try_into().map_err(|_| TRUNCATED)?,
        ))
    }

    fn byte(&mut self) -> ModelResult<u8> {
        Ok(self.take(1)?[0])
    }

    fn flag(&mut self) -> ModelResult<bool> {
        match self.byte()? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(ModelError::State("invalid flag")),
        }
    }
}

impl ModelSession {
    /// §9.1: the plain state. A responder that has not received yet has no
    /// state in this format (`Misuse`).
    pub fn encode(&self) -> ModelResult<Zeroizing<Vec<u8>>> {
        let Some(cks) = self.sending_chain.as_ref() else {
            return Err(ModelError::Misuse("a responder before its first message"));
        };
        let mut out = Zeroizing::new(Vec::with_capacity(
            250 + 32 * self.previous_ratchet_keys.len() + 68 * self.skipped.len(),
        ));
        out.push(STATE_VERSION);
        out.extend_from_slice(&self.ad);
        out.extend_from_slice(self.root_key.expose());
        out.extend_from_slice(self.sending_private.expose());
        out.extend_from_slice(cks.expose());
        out.extend_from_slice(&self.ns.to_be_bytes());
        out.extend_from_slice(&self.pn.to_be_bytes());
        match &self.receiving_key {
            Some(key) => {
                out.push(1);
                out.extend_from_slice(key);
            }
            None => out.push(0),
        }
        match &self.receiving_chain {
            Some(ck) => {
                out.push(1);
                out.extend_from_slice(ck.expose());
            }
            None => out.push(0),
        }
        out.extend_from_slice(&self.nr.to_be_bytes());
        // At most 16 and 2000 by construction and by decoding.
        out.push(self.previous_ratchet_keys.len() as u8);
        for key in &self.previous_ratchet_keys {
            out.extend_from_slice(key);
        }
        out.extend_from_slice(&(self.skipped.len() as u16).to_be_bytes());
        for entry in &self.skipped {
            out.extend_from_slice(&entry.ratchet_key);
            out.extend_from_slice(&entry.message_number.to_be_bytes());
            out.extend_from_slice(entry.message_key.expose());
        }
        Ok(out)
    }

    /// §9.1: restores a plain state; every rejection is `state`.
    pub fn decode(bytes: &[u8]) -> ModelResult<Self> {
        let mut r = Fields { rest: bytes };
        if r.byte()? != STATE_VERSION {
            return Err(ModelError::State("unknown version"));
        }
        let ad: [u8; 64] = r.take(64)?.try_into().map_err(|_| TRUNCATED)?;
        let root_key = r.secret()?;
        let sending_private = r.secret()?;
        let sending_chain = r.secret()?;
        let ns = r.u32be()?;
        let pn = r.u32be()?;
        let receiving_key = if r.flag()? { Some(r.key()?) } else { None };
        let receiving_chain = if r.flag()? { Some(r.secret()?) } else { None };
        if receiving_chain.is_some() && receiving_key.is_none() {
            return Err(ModelError::State("CKr without DHr"));
        }
        let nr = r.u32be()?;
        let previous_count = usize::from(r.byte()?);
        if previous_count > MAX_PREVIOUS_RATCHET_KEYS {
            return Err(ModelError::State("more than 16 earlier ratchet keys"));
        }
        let mut previous_ratchet_keys = Vec::with_capacity(previous_count);
        for _ in 0..previous_count {
            previous_ratchet_keys.push(r.key()?);
        }
        let skipped_count = usize::from(u16::from_be_bytes(
            r.take(2)?.try_into().map_err(|_| TRUNCATED)?,
        ));
        if skipped_count > MAX_SKIPPED_KEYS {
            return Err(ModelError::State("more than 2000 skipped keys"));
        }
        let mut skipped: Vec<SkippedEntry> = Vec::with_capacity(skipped_count);
        for _ in 0..skipped_count {
            let ratchet_key = r.key()?;
            let message_number = r.u32be()?;
            let message_key = r.secret()?;
            skipped.push(SkippedEntry {
                ratchet_key,
                message_number,
                message_key,
            });
        }
        if !r.rest.is_empty() {
            return Err(ModelError::State("trailing bytes"));
        }
        let mut ids: Vec<([u8; 32], u32)> = skipped
            .iter()
            .map(|e| (e.ratchet_key, e.message_number))
            .collect();
        ids.sort_unstable();
        if ids.windows(2).any(|w| w[0] == w[1]) {
            return Err(ModelError::State(
                "two skipped entries with the same (key, N)",
            ));
        }
        Ok(Self {
            ad,
            root_key,
            sending_private,
            sending_chain: Some(sending_chain),
            ns,
            pn,
            receiving_key,
            receiving_chain,
            nr,
            previous_ratchet_keys,
            skipped,
        })
    }
}

/// The same plain state with every secret key whose bytes no rendering
/// may show changed (each byte xor 0xa5): RK, CKs, CKr and every skipped
/// message key. DHs is kept: its public half is printed by right. For
/// differential checks of renderings (the fuzz oracles render a session
/// and its twin and require the same text).
pub fn with_other_secret_keys(state: &[u8]) -> ModelResult<Zeroizing<Vec<u8>>> {
    let mut session = ModelSession::decode(state)?;
    let other = |key: &Secret32| Secret32::new(key.expose().map(|b| b ^ 0xa5));
    session.root_key = other(&session.root_key);
    session.sending_chain = session.sending_chain.as_ref().map(other);
    session.receiving_chain = session.receiving_chain.as_ref().map(other);
    for entry in &mut session.skipped {
        entry.message_key = other(&entry.message_key);
    }
    session.encode()
}

/// §9.2: `0x01 || salt || AEAD(key, nonce, 0x01 || salt, state)`.
pub fn seal_state(storage_key: &[u8; 32], salt: &[u8; 32], state: &[u8]) -> Vec<u8> {
    let (key, nonce) = state_keys(storage_key, salt);
    let mut aad = [0u8; 33];
    aad[0] = STATE_VERSION;
    aad[1..].copy_from_slice(salt);
    let mut out = aad.to_vec();
    out.extend_from_slice(&aead_seal(key.expose(), &nonce, &aad, state));
    out
}

/// §9.2: opens a sealed state, returning the plain state bytes (not yet
/// restored: see [`ModelSession::decode`]). Every rejection is `state`.
pub fn open_state(storage_key: &[u8; 32], sealed: &[u8]) -> ModelResult<Zeroizing<Vec<u8>>> {
    if sealed.len() < SEALED_MIN_LEN {
        return Err(TRUNCATED);
    }
    if sealed[0] != STATE_VERSION {
        return Err(ModelError::State("unknown version"));
    }
    let aad = &sealed[..33];
    let salt: [u8; 32] = sealed[1..33].try_into().map_err(|_| TRUNCATED)?;
    let (key, nonce) = state_keys(storage_key, &salt);
    aead_open(key.expose(), &nonce, aad, &sealed[33..])
        .map_err(|_| ModelError::State("authentication failed"))
}
