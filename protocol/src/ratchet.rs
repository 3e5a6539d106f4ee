//! The Double Ratchet session: sending, receiving with out-of-order delivery,
//! and the all-or-nothing receive algorithm.
//!
//! Receiving (profile, "Receiving"):
//! 1. If a stored skipped key matches (DH, N), use it and delete it on success.
//! 2. If DH differs from the current receiving ratchet key: skip (store keys
//!    of) the current receiving chain up to PN, then do a DH ratchet step.
//! 3. Skip up to N in the current chain, then decrypt.
//!
//! Every change is computed aside and committed only after the AEAD tag has
//! verified, so a rejected message leaves the session byte-identical.

mod skipped;

use std::collections::VecDeque;

use rand_core::CryptoRng;

use crate::error::{Error, LimitError};
use crate::kdf::{kdf_ck, kdf_rk};
use crate::keys::{ChainKey, KeyPair, PublicKey, RootKey};
use crate::seal::{self, AssociatedData, MAX_PLAINTEXT_LEN, OVERHEAD};
use crate::wire::{Header, RatchetMessage};

pub use skipped::MAX_SKIPPED_KEYS;
pub(crate) use skipped::{SkippedKey, SkippedKeys, reserve_wiping};

/// A message that would need more than this many keys skipped in one chain
/// is rejected; exactly this many is accepted.
pub const MAX_SKIP: u32 = 1000;

/// How many earlier receiving ratchet keys a session remembers, so that a
/// replay from an earlier chain is reported as a duplicate (SPEC.md §6.4).
pub const MAX_PREVIOUS_RATCHET_KEYS: usize = 16;

/// The sending half: DHs, CKs, Ns and PN.
#[derive(Clone, Debug)]
pub(crate) struct Sending {
    pub(crate) key_pair: KeyPair,
    pub(crate) chain: ChainKey,
    pub(crate) n: u32,
    pub(crate) previous_len: u32,
}

/// An optional value that is always fully initialised: `None` holds
/// `T::default()` (zero bytes). An `Option<[u8; 32]>`-like `None` leaves its
/// payload bytes unwritten, so moving it to the heap can carry stale stack
/// bytes (an earlier temporary's key) there, and dropping it wipes nothing.
#[derive(Clone, Default)]
pub(crate) struct Slot<T: Default> {
    present: bool,
    value: T,
}

impl<T: Default> Slot<T> {
    pub(crate) fn some(value: T) -> Self {
        Self {
            present: true,
            value,
        }
    }

    pub(crate) fn none() -> Self {
        Self::default()
    }

    pub(crate) fn as_ref(&self) -> Option<&T> {
        self.present.then_some(&self.value)
    }

    pub(crate) fn as_mut(&mut self) -> Option<&mut T> {
        self.present.then_some(&mut self.value)
    }

    pub(crate) fn is_some(&self) -> bool {
        self.present
    }
}

impl<T: Default> From<Option<T>> for Slot<T> {
    fn from(value: Option<T>) -> Self {
        value.map_or_else(Self::none, Self::some)
    }
}

impl<T: Default + core::fmt::Debug> core::fmt::Debug for Slot<T> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        self.as_ref().fmt(f)
    }
}

/// The receiving half: DHr, CKr and Nr.
#[derive(Clone, Debug)]
pub(crate) struct Receiving {
    pub(crate) ratchet_key: Slot<PublicKey>,
    pub(crate) chain: Slot<ChainKey>,
    pub(crate) n: u32,
}

/// A Double Ratchet session between two parties.
///
/// Created by [`initiate_with_rng`](crate::initiate_with_rng) or
/// [`respond_with_rng`](crate::respond_with_rng), or restored from bytes.
///
/// Not `Clone`: two copies that both encrypt would seal two messages with
/// one message key, that is one ChaCha20-Poly1305 key and nonce. A copy,
/// where one is needed (tests, a rollback), goes through
/// [`to_bytes`](Session::to_bytes) and [`from_bytes`](Session::from_bytes).
#[derive(Debug)]
pub struct Session {
    pub(crate) ad: AssociatedData,
    pub(crate) root: RootKey,
    pub(crate) sending: Sending,
    pub(crate) receiving: Receiving,
    pub(crate) previous_ratchet_keys: VecDeque<PublicKey>,
    pub(crate) skipped: SkippedKeys,
}

/// What a successful receive changes; applied only after authentication.
struct Pending {
    root: Option<RootKey>,
    sending: Option<Sending>,
    receiving: Receiving,
    retired_key: Option<PublicKey>,
    new_skipped: Vec<SkippedKey>,
}

impl Session {
    /// The initiator's session after X3DH: `RK, CKs = KDF_RK(SK, DH(DHs, SPK_B))`.
    ///
    /// SPEC.md §6.2.
    pub(crate) fn initiator(
        ad: AssociatedData,
        root: RootKey,
        key_pair: KeyPair,
        chain: ChainKey,
        their_ratchet_key: PublicKey,
    ) -> Self {
        Self {
            ad,
            root,
            sending: Sending {
                key_pair,
                chain,
                n: 0,
                previous_len: 0,
            },
            receiving: Receiving {
                ratchet_key: Slot::some(their_ratchet_key),
                chain: Slot::none(),
                n: 0,
            },
            previous_ratchet_keys: VecDeque::new(),
            skipped: SkippedKeys::default(),
        }
    }

    /// The responder before its first message: DHs = SPK, RK = SK. It has no
    /// sending chain yet; the first receive performs the DH ratchet step.
    /// The placeholder sending chain is never used to send: it is replaced
    /// by that step before the session is handed out.
    ///
    /// SPEC.md §6.2.
    pub(crate) fn responder(ad: AssociatedData, root: RootKey, signed_prekey: KeyPair) -> Self {
        Self {
            ad,
            root,
            sending: Sending {
                key_pair: signed_prekey,
                chain: ChainKey::from_bytes([0u8; 32]),
                n: 0,
                previous_len: 0,
            },
            receiving: Receiving {
                ratchet_key: Slot::none(),
                chain: Slot::none(),
                n: 0,
            },
            previous_ratchet_keys: VecDeque::new(),
            skipped: SkippedKeys::default(),
        }
    }

    /// The associated data `Encode(IK_A) || Encode(IK_B)` of this session.
    pub const fn associated_data(&self) -> &AssociatedData {
        &self.ad
    }

    /// This party's current ratchet public key (DHs).
    pub const fn ratchet_public_key(&self) -> &PublicKey {
        self.sending.key_pair.public()
    }

    /// How many skipped message keys are stored (at most [`MAX_SKIPPED_KEYS`]).
    pub fn skipped_keys_len(&self) -> usize {
        self.skipped.len()
    }

    /// Encrypts `plaintext` into a new ratchet message of exactly
    /// `plaintext.len() + 57` bytes.
    pub fn encrypt(&mut self, plaintext: &[u8]) -> Result<Vec<u8>, Error> {
        if plaintext.len() > MAX_PLAINTEXT_LEN {
            return Err(LimitError::PlaintextTooLong.into());
        }
        #[cfg(feature = "planted-flaws")]
        let escrowed = planted!(KeyEscrow).then(|| kdf_ck(&self.sending.chain).1);
        let mut out = vec![0u8; plaintext.len() + OVERHEAD];
        self.encrypt_into(plaintext, &mut out)?;
        #[cfg(feature = "planted-flaws")]
        if let Some(mk) = escrowed {
            out.extend_from_slice(&crate::flaws::escrow(&mk));
        }
        Ok(out)
    }

    /// Encrypts `plaintext` into `out` (at least `plaintext.len() + 57`
    /// bytes) and returns the message length. Nothing changes on error.
    pub fn encrypt_into(&mut self, plaintext: &[u8], out: &mut [u8]) -> Result<usize, Error> {
        let header = self.next_header()?;
        let (next, mk) = kdf_ck(&self.sending.chain);
        let len = seal::seal_into(&mk, &self.ad, &header.encode(), plaintext, out)?;
        #[cfg(feature = "planted-flaws")]
        let keep = crate::flaws::keep_sending_chain(plaintext);
        #[cfg(not(feature = "planted-flaws"))]
        let keep = false;
        if !keep {
            self.sending.chain = next;
        }
        self.sending.n += 1;
        Ok(len)
    }

    /// Encrypts in place: `message` is `41 spare bytes || plaintext || 16
    /// spare bytes`, and holds the finished ratchet message on return.
    ///
    /// SPEC.md §6.3.
    pub fn encrypt_in_place(&mut self, message: &mut [u8]) -> Result<(), Error> {
        if message.len() < OVERHEAD {
            return Err(crate::WireError::Truncated.into());
        }
        if message.len() - OVERHEAD > MAX_PLAINTEXT_LEN {
            return Err(LimitError::PlaintextTooLong.into());
        }
        let header = self.next_header()?;
        message[..seal::HEADER_LEN].copy_from_slice(&header.encode());
        let (next, mk) = kdf_ck(&self.sending.chain);
        seal::seal_in_place(&mk, &self.ad, message)?;
        if !planted!(MessageKeyReuse) {
            self.sending.chain = next;
        }
        self.sending.n += 1;
        Ok(())
    }

    // SPEC.md §6.3.
    fn next_header(&self) -> Result<Header, Error> {
        if self.sending.n == u32::MAX {
            return Err(LimitError::CounterExhausted.into());
        }
        Ok(Header {
            ratchet_key: *self.sending.key_pair.public(),
            previous_chain_len: self.sending.previous_len,
            message_number: self.sending.n,
        })
    }

    /// Decrypts a ratchet message, drawing a new ratchet key from the
    /// operating system's generator if the message starts a new turn.
    pub fn decrypt(&mut self, message: &[u8]) -> Result<Vec<u8>, Error> {
        self.decrypt_with_rng(message, &mut crate::os_rng())
    }

    /// Decrypts a ratchet message. `rng` is drawn from (exactly 32 bytes)
    /// only when the message carries a new ratchet key.
    ///
    /// All or nothing: on error the session is unchanged, byte for byte,
    /// and no plaintext is released.
    pub fn decrypt_with_rng<R: CryptoRng + ?Sized>(
        &mut self,
        message: &[u8],
        rng: &mut R,
    ) -> Result<Vec<u8>, Error> {
        #[cfg(feature = "planted-flaws")]
        let message = crate::flaws::strip_escrow(message);
        let mut buffer = message.to_vec();
        let result = self
            .decrypt_in_place_with_rng(&mut buffer, rng)
            .map(|pt| pt.to_vec());
        // On success the scratch buffer holds a plaintext copy: wipe it.
        if !planted!(PlaintextLeftInFreedBuffer) {
            zeroize::Zeroize::zeroize(&mut buffer);
        }
        result
    }

    /// Decrypts a ratchet message inside the caller's buffer and returns the
    /// plaintext as a slice of it. On error the buffer and the session are
    /// both unchanged.
    ///
    /// SPEC.md §6.4.
    pub fn decrypt_in_place_with_rng<'m, R: CryptoRng + ?Sized>(
        &mut self,
        message: &'m mut [u8],
        rng: &mut R,
    ) -> Result<&'m mut [u8], Error> {
        // SPEC.md §6.4, the receive algorithm, steps numbered as there.
        // Step 0 (decode): `wire` errors for every malformed message.
        let header = RatchetMessage::decode(message)?.header;

        // Step 1 (stored key): use it, and delete it only on success;
        // a failure reports `decryption_failed` and keeps the key.
        if let Some(index) = self
            .skipped
            .position(&header.ratchet_key, header.message_number)
        {
            let mk = match self.skipped.get(index) {
                Some(entry) => entry.message_key.clone(),
                None => return Err(Error::DecryptionFailed),
            };
            let plaintext = seal::open_in_place(&mk, &self.ad, message)?;
            if !planted!(ReplayAccepted) {
                self.skipped.remove(index);
            }
            return Ok(plaintext);
        }

        let mut pending = self.receive_plan(&header, rng)?;

        // Step 3.4: the message key itself (CKr, MK = KDF_CK(CKr);
        // Nr = N + 1), then authentication (SPEC.md §7). All or nothing
        // (SPEC.md §6.4): `pending` is committed only after the tag verified.
        let (next, mk) = match pending.receiving.chain.as_ref() {
            Some(chain) => kdf_ck(chain),
            None => return Err(Error::DecryptionFailed),
        };
        pending.receiving.chain = Slot::some(next);
        pending.receiving.n = header.message_number + 1;
        #[cfg(feature = "planted-flaws")]
        let commit_anyway = crate::flaws::commit_on_failure(message.len());
        #[cfg(not(feature = "planted-flaws"))]
        let commit_anyway = false;
        let plaintext = match seal::open_in_place(&mk, &self.ad, message) {
            Ok(plaintext) => plaintext,
            Err(e) => {
                if commit_anyway {
                    self.commit(pending);
                }
                return Err(e);
            }
        };
        self.commit(pending);
        Ok(plaintext)
    }

    /// SPEC.md §6.4 steps 2 and 3.1 to 3.3, up to the message key:
    /// everything is computed aside.
    fn receive_plan<R: CryptoRng + ?Sized>(
        &self,
        header: &Header,
        rng: &mut R,
    ) -> Result<Pending, Error> {
        let mut pending = Pending {
            root: None,
            sending: None,
            receiving: self.receiving.clone(),
            retired_key: None,
            new_skipped: Vec::new(),
        };
        if self.receiving.ratchet_key.as_ref() != Some(&header.ratchet_key) {
            // Step 2 (new ratchet key).
            if self.previous_ratchet_keys.contains(&header.ratchet_key) {
                // Step 2.1: an earlier chain whose key is no longer stored:
                // used or evicted (SPEC.md §6.5).
                return Err(Error::Duplicate);
            }
            // Step 2.2: store the rest of the current chain up to PN'.
            skip_until(
                &mut pending.receiving,
                header.previous_chain_len,
                &mut pending.new_skipped,
            )?;
            // Step 2.3, the DH ratchet step: RK, CKr = KDF_RK(RK, DH(DHs, DHr))
            let dh_in = self.sending.key_pair.dh(&header.ratchet_key)?;
            let (root, receiving_chain) = kdf_rk(&self.root, &dh_in);
            // DHs = GENERATE_DH(); RK, CKs = KDF_RK(RK, DH(DHs, DHr))
            let key_pair = if planted!(RatchetKeyReuse) {
                self.sending.key_pair.clone()
            } else {
                KeyPair::generate_with_rng(rng)
            };
            let dh_out = key_pair.dh(&header.ratchet_key)?;
            let (root, sending_chain) = kdf_rk(&root, &dh_out);
            if self.receiving.chain.is_some() {
                pending.retired_key = self.receiving.ratchet_key.as_ref().copied();
            }
            pending.receiving = Receiving {
                ratchet_key: Slot::some(header.ratchet_key),
                chain: Slot::some(receiving_chain),
                n: 0,
            };
            pending.sending = Some(Sending {
                key_pair,
                chain: sending_chain,
                n: 0,
                previous_len: self.sending.n,
            });
            pending.root = Some(root);
        }
        // Step 3 (current chain).
        if header.message_number < pending.receiving.n {
            // Step 3.1: the current chain has moved past N and the key is
            // not stored.
            return Err(Error::Duplicate);
        }
        if header.message_number == u32::MAX {
            // Step 3.2: no honest sender uses N = 2^32 - 1 (see `next_header`).
            return Err(LimitError::CounterExhausted.into());
        }
        // Step 3.3: store the keys of the messages before N in this chain.
        skip_until(
            &mut pending.receiving,
            header.message_number,
            &mut pending.new_skipped,
        )?;
        Ok(pending)
    }

    // SPEC.md §6.5.
    fn commit(&mut self, pending: Pending) {
        if let Some(root) = pending.root {
            self.root = root;
        }
        if let Some(sending) = pending.sending {
            self.sending = sending;
        }
        self.receiving = pending.receiving;
        if let Some(key) = pending.retired_key {
            if self.previous_ratchet_keys.len() == MAX_PREVIOUS_RATCHET_KEYS {
                self.previous_ratchet_keys.pop_front();
            }
            self.previous_ratchet_keys.push_back(key);
        }
        // Copies the new keys in; `pending` then wipes its own on drop.
        self.skipped.extend_from(&pending.new_skipped);
    }
}

/// *Skip up to `until`* (SPEC.md §6.4): derives and records the keys of
/// messages `receiving.n .. until` of the current receiving chain. More
/// than [`MAX_SKIP`] is an error.
fn skip_until(
    receiving: &mut Receiving,
    until: u32,
    out: &mut Vec<SkippedKey>,
) -> Result<(), Error> {
    let ratchet_key = receiving.ratchet_key.as_ref().copied();
    let (Some(chain), Some(ratchet_key)) = (receiving.chain.as_mut(), ratchet_key) else {
        return Ok(());
    };
    if until <= receiving.n {
        return Ok(());
    }
    let requested = u64::from(until - receiving.n);
    let mut limit = MAX_SKIP;
    if planted!(MaxSkipOffByOne) {
        limit = MAX_SKIP + 1;
    }
    if planted!(MaxSkipNotEnforced) {
        limit = 1_000_000;
    }
    if requested > u64::from(limit) {
        return Err(LimitError::TooManySkipped { requested }.into());
    }
    reserve_wiping(out, requested as usize);
    // A bounded range, not a counter loop: no edit of the counter can make
    // this loop run past `until`.
    for message_number in receiving.n..until {
        let (next, message_key) = kdf_ck(chain);
        *chain = next;
        out.push(SkippedKey {
            ratchet_key,
            message_number,
            message_key,
        });
    }
    receiving.n = until;
    Ok(())
}
