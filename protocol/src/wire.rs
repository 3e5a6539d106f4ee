//! Wire formats: ratchet header and message, initial message, prekey bundle.
//!
//! Every decoder reads exactly one structure from exactly the bytes it is
//! given: truncated input, trailing bytes, an unknown version or an
//! oversized message are typed [`WireError`]s. Decoding never panics.
//!
//! ```text
//! header          = 0x01 || DHs (32) || u32be(PN) || u32be(N)                 41 bytes
//! ratchet message = header || ciphertext || tag (16)                  57 + plaintext
//! initial message = 0x01 || IK_A (32) || EK_A (32) || u32be(spk_id)
//!                   || opk_flag (0x00 | 0x01) || [u32be(opk_id)] || ratchet message
//! bundle          = 0x01 || IK_B (32) || u32be(spk_id) || SPK_B (32) || sig (64)
//!                   || opk_flag (0x00 | 0x01) || [u32be(opk_id) || OPK_B (32)]
//! ```

use crate::error::{Error, WireError};
use crate::keys::{KEY_LEN, PublicKey, SIGNATURE_LEN};
use crate::seal::{HEADER_LEN, MAX_PLAINTEXT_LEN, OVERHEAD};

/// The only protocol version: the first byte of every structure.
pub const VERSION: u8 = 0x01;

/// Length of an encoded bundle without a one-time prekey.
pub const BUNDLE_LEN_WITHOUT_OPK: usize = 1 + KEY_LEN + 4 + KEY_LEN + SIGNATURE_LEN + 1;
/// Length of an encoded bundle with a one-time prekey.
pub const BUNDLE_LEN_WITH_OPK: usize = BUNDLE_LEN_WITHOUT_OPK + 4 + KEY_LEN;
/// Length of the X3DH prefix of an initial message without a one-time prekey.
pub const INITIAL_PREFIX_LEN_WITHOUT_OPK: usize = 1 + KEY_LEN + KEY_LEN + 4 + 1;
/// The longest ratchet message: the longest plaintext plus 57 bytes.
pub const MAX_MESSAGE_LEN: usize = MAX_PLAINTEXT_LEN + OVERHEAD;

/// Reads fixed-size fields from a byte slice; every read is checked.
#[derive(Debug)]
pub(crate) struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    pub(crate) const fn new(bytes: &'a [u8]) -> Self {
        Self { bytes }
    }

    pub(crate) fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.bytes.len() < n {
            return None;
        }
        let (head, tail) = self.bytes.split_at(n);
        self.bytes = tail;
        Some(head)
    }

    pub(crate) fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Some(out)
    }

    pub(crate) fn u8(&mut self) -> Option<u8> {
        Some(self.take(1)?[0])
    }

    pub(crate) fn u32(&mut self) -> Option<u32> {
        Some(u32::from_be_bytes(self.array()?))
    }

    pub(crate) fn rest(&mut self) -> &'a [u8] {
        core::mem::take(&mut self.bytes)
    }

    pub(crate) const fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }
}

fn truncated() -> Error {
    WireError::Truncated.into()
}

fn read_version(r: &mut Reader<'_>) -> Result<(), Error> {
    match r.u8().ok_or_else(truncated)? {
        VERSION => Ok(()),
        v => Err(WireError::UnsupportedVersion(v).into()),
    }
}

/// Reads a received X25519 public key; non-canonical encodings (bit 255 set,
/// or u >= p) are rejected.
fn read_public_key(r: &mut Reader<'_>, field: &'static str) -> Result<PublicKey, Error> {
    let key = PublicKey::from_bytes(r.array().ok_or_else(truncated)?);
    if !key.is_canonical() {
        return Err(WireError::InvalidField(field).into());
    }
    Ok(key)
}

fn read_flag(r: &mut Reader<'_>, field: &'static str) -> Result<bool, Error> {
    match r.u8().ok_or_else(truncated)? {
        0 => Ok(false),
        1 => Ok(true),
        _ => Err(WireError::InvalidField(field).into()),
    }
}

/// The header of a ratchet message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    /// DHs: the sender's current ratchet public key.
    pub ratchet_key: PublicKey,
    /// PN: the length of the sender's previous sending chain.
    pub previous_chain_len: u32,
    /// N: the message's number in the current sending chain, from 0.
    pub message_number: u32,
}

impl Header {
    /// `0x01 || DHs || u32be(PN) || u32be(N)`.
    ///
    /// SPEC.md §7.
    pub fn encode(&self) -> [u8; HEADER_LEN] {
        let mut out = [0u8; HEADER_LEN];
        out[0] = VERSION;
        out[1..33].copy_from_slice(self.ratchet_key.as_bytes());
        out[33..37].copy_from_slice(&self.previous_chain_len.to_be_bytes());
        out[37..41].copy_from_slice(&self.message_number.to_be_bytes());
        out
    }

    /// Decodes exactly 41 bytes.
    pub fn decode(bytes: &[u8]) -> Result<Self, Error> {
        let mut r = Reader::new(bytes);
        let header = Self::read(&mut r)?;
        if !r.is_empty() {
            return Err(WireError::TrailingBytes.into());
        }
        Ok(header)
    }

    fn read(r: &mut Reader<'_>) -> Result<Self, Error> {
        read_version(r)?;
        let ratchet_key = read_public_key(r, "ratchet_key")?;
        let previous_chain_len = r.u32().ok_or_else(truncated)?;
        let message_number = r.u32().ok_or_else(truncated)?;
        Ok(Self {
            ratchet_key,
            previous_chain_len,
            message_number,
        })
    }
}

/// A ratchet message split into its header and its AEAD body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RatchetMessage<'a> {
    /// The decoded header.
    pub header: Header,
    /// `ciphertext || tag`: at least 16 bytes.
    pub body: &'a [u8],
}

impl<'a> RatchetMessage<'a> {
    /// Splits `header || ciphertext || tag`; rejects anything shorter than
    /// 57 bytes or longer than [`MAX_MESSAGE_LEN`].
    pub fn decode(bytes: &'a [u8]) -> Result<Self, Error> {
        if bytes.len() > MAX_MESSAGE_LEN {
            return Err(WireError::Oversized.into());
        }
        let mut r = Reader::new(bytes);
        let header = Header::read(&mut r)?;
        let body = r.rest();
        if body.len() < OVERHEAD - HEADER_LEN {
            return Err(truncated());
        }
        Ok(Self { header, body })
    }

    /// `header || body`.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(HEADER_LEN + self.body.len());
        out.extend_from_slice(&self.header.encode());
        out.extend_from_slice(self.body);
        out
    }
}

/// The first message from initiator to responder: what the responder needs
/// to run X3DH, then the first ratchet message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InitialMessage {
    /// `Encode(IK_A)`: the initiator's Ed25519 identity key (raw bytes,
    /// validated by the responder).
    pub identity_key: [u8; KEY_LEN],
    /// EK_A: the initiator's ephemeral X25519 key.
    pub ephemeral_key: PublicKey,
    /// Which of the responder's signed prekeys was used.
    pub signed_prekey_id: u32,
    /// Which one-time prekey was used, if the bundle offered one.
    pub one_time_prekey_id: Option<u32>,
    /// The first ratchet message (`header || ciphertext || tag`).
    pub message: Vec<u8>,
}

// SPEC.md §8.
impl InitialMessage {
    /// Encodes the structure (see the module documentation).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(INITIAL_PREFIX_LEN_WITHOUT_OPK + 4 + self.message.len());
        out.push(VERSION);
        out.extend_from_slice(&self.identity_key);
        out.extend_from_slice(self.ephemeral_key.as_bytes());
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

    /// Decodes an initial message; the embedded ratchet message is checked
    /// as [`RatchetMessage::decode`] does.
    pub fn decode(bytes: &[u8]) -> Result<Self, Error> {
        if bytes.len() > MAX_MESSAGE_LEN + INITIAL_PREFIX_LEN_WITHOUT_OPK + 4 {
            return Err(WireError::Oversized.into());
        }
        let mut r = Reader::new(bytes);
        read_version(&mut r)?;
        let identity_key = r.array().ok_or_else(truncated)?;
        let ephemeral_key = read_public_key(&mut r, "ephemeral_key")?;
        let signed_prekey_id = r.u32().ok_or_else(truncated)?;
        let one_time_prekey_id = if read_flag(&mut r, "opk_flag")? {
            Some(r.u32().ok_or_else(truncated)?)
        } else {
            None
        };
        let message = r.rest();
        RatchetMessage::decode(message)?;
        Ok(Self {
            identity_key,
            ephemeral_key,
            signed_prekey_id,
            one_time_prekey_id,
            message: message.to_vec(),
        })
    }
}

/// The fields of an encoded prekey bundle, before verification.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct BundleFields {
    pub(crate) identity_key: [u8; KEY_LEN],
    pub(crate) signed_prekey_id: u32,
    pub(crate) signed_prekey: PublicKey,
    pub(crate) signature: [u8; SIGNATURE_LEN],
    pub(crate) one_time_prekey: Option<(u32, PublicKey)>,
}

impl BundleFields {
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(BUNDLE_LEN_WITH_OPK);
        out.push(VERSION);
        out.extend_from_slice(&self.identity_key);
        out.extend_from_slice(&self.signed_prekey_id.to_be_bytes());
        out.extend_from_slice(self.signed_prekey.as_bytes());
        out.extend_from_slice(&self.signature);
        match &self.one_time_prekey {
            None => out.push(0),
            Some((id, key)) => {
                out.push(1);
                out.extend_from_slice(&id.to_be_bytes());
                out.extend_from_slice(key.as_bytes());
            }
        }
        out
    }

    pub(crate) fn decode(bytes: &[u8]) -> Result<Self, Error> {
        if bytes.len() > BUNDLE_LEN_WITH_OPK {
            return Err(WireError::Oversized.into());
        }
        let mut r = Reader::new(bytes);
        read_version(&mut r)?;
        let identity_key = r.array().ok_or_else(truncated)?;
        let signed_prekey_id = r.u32().ok_or_else(truncated)?;
        let signed_prekey = read_public_key(&mut r, "signed_prekey")?;
        let signature = r.array().ok_or_else(truncated)?;
        let one_time_prekey = if read_flag(&mut r, "opk_flag")? {
            let id = r.u32().ok_or_else(truncated)?;
            Some((id, read_public_key(&mut r, "one_time_prekey")?))
        } else {
            None
        };
        if !r.is_empty() {
            return Err(WireError::TrailingBytes.into());
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

#[cfg(test)]
mod tests {
    use super::*;

    fn header() -> Header {
        Header {
            ratchet_key: PublicKey::from_bytes([7; 32]),
            previous_chain_len: 0x0102_0304,
            message_number: 0xa0b0_c0d0,
        }
    }

    #[test]
    fn header_round_trips_and_is_41_bytes_big_endian() {
        let bytes = header().encode();
        assert_eq!(bytes.len(), 41);
        assert_eq!(bytes[0], 1);
        assert_eq!(&bytes[33..37], &[1, 2, 3, 4]);
        assert_eq!(&bytes[37..41], &[0xa0, 0xb0, 0xc0, 0xd0]);
        assert_eq!(Header::decode(&bytes).unwrap(), header());
    }

    #[test]
    fn header_rejects_every_truncation_extension_and_version() {
        let bytes = header().encode();
        for len in 0..bytes.len() {
            assert_eq!(
                Header::decode(&bytes[..len]),
                Err(Error::Wire(WireError::Truncated)),
                "len {len}"
            );
        }
        let mut long = bytes.to_vec();
        long.push(0);
        assert_eq!(
            Header::decode(&long),
            Err(Error::Wire(WireError::TrailingBytes))
        );
        let mut v2 = bytes;
        v2[0] = 2;
        assert_eq!(
            Header::decode(&v2),
            Err(Error::Wire(WireError::UnsupportedVersion(2)))
        );
    }

    #[test]
    fn ratchet_message_bounds() {
        let mut bytes = header().encode().to_vec();
        bytes.extend_from_slice(&[0u8; 15]);
        assert_eq!(
            RatchetMessage::decode(&bytes),
            Err(Error::Wire(WireError::Truncated))
        );
        bytes.push(0);
        let msg = RatchetMessage::decode(&bytes).unwrap();
        assert_eq!(msg.encode(), bytes);
        let huge = vec![1u8; MAX_MESSAGE_LEN + 1];
        assert_eq!(
            RatchetMessage::decode(&huge),
            Err(Error::Wire(WireError::Oversized))
        );
    }

    #[test]
    fn non_canonical_x25519_keys_are_rejected_on_the_wire() {
        let mut p = [0xffu8; 32];
        p[0] = 0xed;
        p[31] = 0x7f;
        let mut below_p = p;
        below_p[0] = 0xec;
        let mut top_bit = [0u8; 32];
        top_bit[31] = 0x80;
        assert!(PublicKey::from_bytes(below_p).is_canonical());
        assert!(PublicKey::from_bytes([0u8; 32]).is_canonical());
        assert!(!PublicKey::from_bytes(p).is_canonical());
        assert!(!PublicKey::from_bytes(top_bit).is_canonical());
        let mut p_plus_18 = p;
        p_plus_18[0] = 0xff;
        assert!(!PublicKey::from_bytes(p_plus_18).is_canonical());
        for bad in [p, top_bit] {
            let mut bytes = header().encode();
            bytes[1..33].copy_from_slice(&bad);
            assert_eq!(
                Header::decode(&bytes),
                Err(Error::Wire(WireError::InvalidField("ratchet_key")))
            );
        }
    }

    #[test]
    fn bundle_flag_must_be_zero_or_one() {
        let fields = BundleFields {
            identity_key: [1; 32],
            signed_prekey_id: 5,
            signed_prekey: PublicKey::from_bytes([2; 32]),
            signature: [3; 64],
            one_time_prekey: Some((6, PublicKey::from_bytes([4; 32]))),
        };
        let mut bytes = fields.encode();
        assert_eq!(bytes.len(), BUNDLE_LEN_WITH_OPK);
        assert_eq!(BundleFields::decode(&bytes).unwrap(), fields);
        bytes[BUNDLE_LEN_WITHOUT_OPK - 1] = 2;
        assert_eq!(
            BundleFields::decode(&bytes),
            Err(Error::Wire(WireError::InvalidField("opk_flag")))
        );
    }
}
