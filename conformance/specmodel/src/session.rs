//! The Double Ratchet session of SPEC.md §6: initialisation after X3DH
//! (§5, §6.2), sending (§6.3) and the receive algorithm (§6.4 to §6.6).
//!
//! Randomness is never drawn here: the caller passes the private keys the
//! implementation under check drew, so every output is determined.

use zeroize::Zeroizing;

use crate::error::{ModelError, ModelResult};
use crate::kdf::{kdf_ck, kdf_rk, open_message, seal_message};
use crate::keys::IdentityModel;
use crate::primitives::{x25519, x25519_public, x25519_ratchet, x25519_ratchet_public};
use crate::secret::Secret32;
use crate::wire::{Bundle, Header, InitialMessage, MAX_PLAINTEXT_LEN, decode_ratchet_message};
use crate::x3dh::{initiator_secret, responder_secret};

/// `MAX_SKIP`.
pub const MAX_SKIP: u32 = 1000;
/// `MAX_SKIPPED_KEYS`.
pub const MAX_SKIPPED_KEYS: usize = 2000;
/// `MAX_PREVIOUS_RATCHET_KEYS`.
pub const MAX_PREVIOUS_RATCHET_KEYS: usize = 16;

/// One skipped-key entry `(ratchet public key, N, MK)` (§6.6).
pub(crate) struct SkippedEntry {
    pub(crate) ratchet_key: [u8; 32],
    pub(crate) message_number: u32,
    pub(crate) message_key: Secret32,
}

/// A session's state, field by field as SPEC.md §6.2 lists it.
pub struct ModelSession {
    pub(crate) ad: [u8; 64],
    pub(crate) root_key: Secret32,
    pub(crate) sending_private: Secret32,
    /// `None` only for a responder that has not received yet.
    pub(crate) sending_chain: Option<Secret32>,
    pub(crate) ns: u32,
    pub(crate) pn: u32,
    pub(crate) receiving_key: Option<[u8; 32]>,
    pub(crate) receiving_chain: Option<Secret32>,
    pub(crate) nr: u32,
    /// Oldest first.
    pub(crate) previous_ratchet_keys: Vec<[u8; 32]>,
    /// Insertion order, oldest first.
    pub(crate) skipped: Vec<SkippedEntry>,
}

impl core::fmt::Debug for ModelSession {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ModelSession")
            .field("ns", &self.ns)
            .field("pn", &self.pn)
            .field("nr", &self.nr)
            .field("previous_ratchet_keys", &self.previous_ratchet_keys.len())
            .field("skipped", &self.skipped.len())
            .finish_non_exhaustive()
    }
}

/// What [`initiate`] computes.
#[derive(Debug)]
pub struct Initiated {
    /// The initiator's session after the first message.
    pub session: ModelSession,
    /// The encoded initial message (§8).
    pub initial_message: Vec<u8>,
    /// The X3DH secret SK.
    pub shared_secret: Secret32,
    /// `AD`.
    pub ad: [u8; 64],
}

/// What [`respond`] computes.
#[derive(Debug)]
pub struct Responded {
    /// The responder's session after the first message.
    pub session: ModelSession,
    /// The first message's plaintext.
    pub plaintext: Zeroizing<Vec<u8>>,
    /// The X3DH secret SK.
    pub shared_secret: Secret32,
    /// `AD`.
    pub ad: [u8; 64],
    /// The one-time prekey to delete now (§5.2 step 6).
    pub consumed_one_time_prekey: Option<u32>,
}

/// The responder's private prekeys, by id, as a lookup for [`respond`].
pub trait PrekeySecrets {
    /// The signed prekey's private key.
    fn signed_prekey(&self, id: u32) -> Option<&[u8; 32]>;
    /// The one-time prekey's private key, if not yet used.
    fn one_time_prekey(&self, id: u32) -> Option<&[u8; 32]>;
}

/// §5.1: the initiator. The bundle is decoded and verified first; then
/// `EK_A` and the first `DHs` (as drawn by the implementation) are used.
pub fn initiate(
    identity: &IdentityModel,
    bundle: &[u8],
    ephemeral_private: &[u8; 32],
    ratchet_private: &[u8; 32],
    plaintext: &[u8],
) -> ModelResult<Initiated> {
    let bundle = Bundle::decode(bundle)?;
    let (sk, ad) = initiator_secret(identity, &bundle, ephemeral_private)?;
    // RK, CKs = KDF_RK(SK, X25519(DHs, SPK_B)); DHr = SPK_B
    let dh = x25519(ratchet_private, &bundle.signed_prekey)?;
    let (root_key, sending_chain) = kdf_rk(sk.expose(), dh.expose());
    let mut session = ModelSession {
        ad,
        root_key,
        sending_private: Secret32::new(*ratchet_private),
        sending_chain: Some(sending_chain),
        ns: 0,
        pn: 0,
        receiving_key: Some(bundle.signed_prekey),
        receiving_chain: None,
        nr: 0,
        previous_ratchet_keys: Vec::new(),
        skipped: Vec::new(),
    };
    let message = session.encrypt(plaintext)?;
    let initial = InitialMessage {
        identity_key: identity.public,
        ephemeral_key: x25519_public(ephemeral_private),
        signed_prekey_id: bundle.signed_prekey_id,
        one_time_prekey_id: bundle.one_time_prekey.map(|(id, _)| id),
        message,
    };
    Ok(Initiated {
        session,
        initial_message: initial.encode(),
        shared_secret: sk,
        ad,
    })
}

/// §5.2: the responder. `ratchet_private` is B's first sending ratchet key
/// (drawn during the first decrypt).
pub fn respond(
    identity: &IdentityModel,
    prekeys: &dyn PrekeySecrets,
    initial_message: &[u8],
    ratchet_private: &[u8; 32],
) -> ModelResult<Responded> {
    let initial = InitialMessage::decode(initial_message)?;
    crate::keys::validate_identity_key(&initial.identity_key)?;
    let spk = prekeys
        .signed_prekey(initial.signed_prekey_id)
        .ok_or(ModelError::Handshake("unknown signed prekey"))?;
    let opk = match initial.one_time_prekey_id {
        Some(id) => Some(
            prekeys
                .one_time_prekey(id)
                .ok_or(ModelError::Handshake("unknown one-time prekey"))?,
        ),
        None => None,
    };
    let (sk, ad) = responder_secret(
        identity,
        &initial.identity_key,
        &initial.ephemeral_key,
        spk,
        opk,
    )?;
    // DHs = SPK_B, RK = SK, no DHr, no CKr
    let mut session = ModelSession {
        ad,
        root_key: sk.duplicate(),
        sending_private: Secret32::new(*spk),
        sending_chain: None,
        ns: 0,
        pn: 0,
        receiving_key: None,
        receiving_chain: None,
        nr: 0,
        previous_ratchet_keys: Vec::new(),
        skipped: Vec::new(),
    };
    let received = session.decrypt(&initial.message, Some(ratchet_private))?;
    Ok(Responded {
        session,
        plaintext: received.plaintext,
        shared_secret: sk,
        ad,
        consumed_one_time_prekey: initial.one_time_prekey_id,
    })
}

/// A decrypted message and whether it started a new ratchet turn (and so
/// used the ratchet private key passed in).
#[derive(Debug)]
pub struct Received {
    /// The plaintext.
    pub plaintext: Zeroizing<Vec<u8>>,
    /// True when a DH ratchet step (§6.4 step 2.3) was taken.
    pub ratchet_step: bool,
}

/// The receiving chain being worked on aside (§6.4, "all or nothing").
struct Chain {
    key: Option<[u8; 32]>,
    chain: Option<Secret32>,
    n: u32,
}

/// *Skip up to `until`* on `chain`, appending the keys to `out`.
fn skip(chain: &mut Chain, until: u32, out: &mut Vec<SkippedEntry>) -> ModelResult<()> {
    let (Some(key), Some(ck)) = (chain.key, chain.chain.as_mut()) else {
        return Ok(());
    };
    if until <= chain.n {
        return Ok(());
    }
    if until - chain.n > MAX_SKIP {
        return Err(ModelError::RatchetLimit("too many skipped"));
    }
    while chain.n < until {
        let (next, mk) = kdf_ck(ck.expose());
        *ck = next;
        out.push(SkippedEntry {
            ratchet_key: key,
            message_number: chain.n,
            message_key: mk,
        });
        chain.n += 1;
    }
    Ok(())
}

impl ModelSession {
    /// `Encode(DHs.public)`.
    pub fn sending_public(&self) -> [u8; 32] {
        x25519_ratchet_public(self.sending_private.expose())
    }

    /// `AD`.
    pub const fn ad(&self) -> &[u8; 64] {
        &self.ad
    }

    /// How many skipped keys are stored.
    pub fn skipped_len(&self) -> usize {
        self.skipped.len()
    }

    /// §6.3: the next message for `plaintext`. Nothing changes on error.
    pub fn encrypt(&mut self, plaintext: &[u8]) -> ModelResult<Vec<u8>> {
        if self.ns == u32::MAX {
            return Err(ModelError::RatchetLimit("counter exhausted"));
        }
        if plaintext.len() > MAX_PLAINTEXT_LEN {
            return Err(ModelError::RatchetLimit("plaintext too long"));
        }
        let Some(ck) = self.sending_chain.as_ref() else {
            return Err(ModelError::Misuse("the responder cannot send yet"));
        };
        let header = Header {
            ratchet_key: self.sending_public(),
            previous_chain_len: self.pn,
            message_number: self.ns,
        }
        .encode();
        let (next, mk) = kdf_ck(ck.expose());
        let message = seal_message(mk.expose(), &self.ad, &header, plaintext)?;
        self.sending_chain = Some(next);
        self.ns += 1;
        Ok(message)
    }

    /// §6.4: receives `message`. `next_ratchet_private` is the private key
    /// of the new sending ratchet key the implementation drew, needed only
    /// when the message starts a new ratchet turn. All or nothing: on error
    /// the session is unchanged.
    pub fn decrypt(
        &mut self,
        message: &[u8],
        next_ratchet_private: Option<&[u8; 32]>,
    ) -> ModelResult<Received> {
        // 0. Decode.
        let header = decode_ratchet_message(message)?;
        let (dh, pn, n) = (
            header.ratchet_key,
            header.previous_chain_len,
            header.message_number,
        );

        // 1. Stored key: delete on success, keep on failure.
        if let Some(index) = self
            .skipped
            .iter()
            .position(|e| e.ratchet_key == dh && e.message_number == n)
        {
            let plaintext =
                open_message(self.skipped[index].message_key.expose(), &self.ad, message)
                    .map_err(|_| ModelError::DecryptionFailed)?;
            self.skipped.remove(index);
            return Ok(Received {
                plaintext,
                ratchet_step: false,
            });
        }

        // Everything below is computed aside and committed after the tag.
        let mut chain = Chain {
            key: self.receiving_key,
            chain: self.receiving_chain.as_ref().map(Secret32::duplicate),
            n: self.nr,
        };
        let mut new_skipped = Vec::new();
        // (RK after the receiving step, the new DHs private key.)
        let mut step: Option<(Secret32, Secret32)> = None;
        let mut retired = None;

        // 2. New ratchet key.
        if self.receiving_key != Some(dh) {
            if self.previous_ratchet_keys.contains(&dh) {
                return Err(ModelError::Duplicate);
            }
            skip(&mut chain, pn, &mut new_skipped)?;
            let Some(next_private) = next_ratchet_private else {
                return Err(ModelError::Misuse(
                    "a new ratchet turn needs the next ratchet private key",
                ));
            };
            // RK, CKr = KDF_RK(RK, X25519(DHs, DHr))
            let dh_in = x25519_ratchet(self.sending_private.expose(), &dh)?;
            let (root, receiving_chain) = kdf_rk(self.root_key.expose(), dh_in.expose());
            if self.receiving_chain.is_some() {
                retired = self.receiving_key;
            }
            chain = Chain {
                key: Some(dh),
                chain: Some(receiving_chain),
                n: 0,
            };
            step = Some((root, Secret32::new(*next_private)));
        }

        // 3. Current chain.
        if n < chain.n {
            return Err(ModelError::Duplicate);
        }
        if n == u32::MAX {
            return Err(ModelError::RatchetLimit("N = 2^32 - 1"));
        }
        skip(&mut chain, n, &mut new_skipped)?;
        let Some(ck) = chain.chain.as_ref() else {
            return Err(ModelError::DecryptionFailed);
        };
        let (next, mk) = kdf_ck(ck.expose());
        let plaintext = open_message(mk.expose(), &self.ad, message)?;

        // DHs = new; RK, CKs = KDF_RK(RK, X25519(DHs, DHr)). Computed after
        // the tag, which does not depend on it, so that a rejected message
        // costs one ladder, not two. The outcome is the same as computing
        // it before. A clamped scalar is a multiple of 8 below 2^255, and
        // the large prime orders of the curve's and the twist's subgroups
        // are odd and above 2^252, so no clamped scalar is a multiple of
        // one: X25519(k, u) is all zero exactly when `u` is of low order,
        // whatever `k`, and DH_in above has already checked that.
        let step = match step {
            Some((root, private)) => {
                let dh_out = x25519_ratchet(private.expose(), &dh)?;
                let (root, sending_chain) = kdf_rk(root.expose(), dh_out.expose());
                Some((root, private, sending_chain))
            }
            None => None,
        };

        // Commit.
        let ratchet_step = step.is_some();
        if let Some((root, private, sending_chain)) = step {
            self.pn = self.ns;
            self.ns = 0;
            self.root_key = root;
            self.sending_private = private;
            self.sending_chain = Some(sending_chain);
        }
        self.receiving_key = chain.key;
        self.receiving_chain = Some(next);
        self.nr = n + 1;
        if let Some(old) = retired {
            if self.previous_ratchet_keys.len() == MAX_PREVIOUS_RATCHET_KEYS {
                self.previous_ratchet_keys.remove(0);
            }
            self.previous_ratchet_keys.push(old);
        }
        for entry in new_skipped {
            if self.skipped.len() == MAX_SKIPPED_KEYS {
                self.skipped.remove(0);
            }
            self.skipped.push(entry);
        }
        Ok(Received {
            plaintext,
            ratchet_step,
        })
    }
}
