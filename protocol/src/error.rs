//! The one error type of the crate, split into categories.
//!
//! Every error carries only public facts (lengths, versions, prekey ids):
//! never key bytes or plaintext. A failed authentication says only
//! "decryption failed", whatever the reason inside the AEAD.

use core::fmt;

/// Everything that can go wrong in Sealwire.
///
/// Match on [`Error::class`] for a stable, language-neutral name of the
/// category (the conformance vectors use it).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// Input bytes are not a valid encoding of the expected structure.
    Wire(WireError),
    /// The X3DH handshake cannot go on.
    Handshake(HandshakeError),
    /// An X25519 public key is of low order: the shared secret would be all
    /// zero (or the key is otherwise non-contributory).
    LowOrderKey,
    /// A message would need more than [`MAX_SKIP`](crate::MAX_SKIP) message
    /// keys skipped in one chain, or a counter would overflow.
    RatchetLimit(LimitError),
    /// The message's key was already used, or was evicted from the store.
    Duplicate,
    /// Authentication failed. Deliberately says nothing more.
    DecryptionFailed,
    /// A persisted session state cannot be restored.
    State(StateError),
}

/// Stable names of the error categories, as used by SPEC.md and the
/// conformance vectors.
///
/// SPEC.md §10.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorClass {
    /// `wire`
    Wire,
    /// `handshake`
    Handshake,
    /// `low_order_key`
    LowOrderKey,
    /// `ratchet_limit`
    RatchetLimit,
    /// `duplicate`
    Duplicate,
    /// `decryption_failed`
    DecryptionFailed,
    /// `state`
    State,
}

impl ErrorClass {
    /// The category's stable name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Wire => "wire",
            Self::Handshake => "handshake",
            Self::LowOrderKey => "low_order_key",
            Self::RatchetLimit => "ratchet_limit",
            Self::Duplicate => "duplicate",
            Self::DecryptionFailed => "decryption_failed",
            Self::State => "state",
        }
    }

    /// Every category, in a fixed order.
    pub const ALL: [ErrorClass; 7] = [
        Self::Wire,
        Self::Handshake,
        Self::LowOrderKey,
        Self::RatchetLimit,
        Self::Duplicate,
        Self::DecryptionFailed,
        Self::State,
    ];

    /// Parses a stable name back into its category.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == name)
    }
}

impl fmt::Display for ErrorClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Error {
    /// The category of this error.
    pub const fn class(&self) -> ErrorClass {
        match self {
            Self::Wire(_) => ErrorClass::Wire,
            Self::Handshake(_) => ErrorClass::Handshake,
            Self::LowOrderKey => ErrorClass::LowOrderKey,
            Self::RatchetLimit(_) => ErrorClass::RatchetLimit,
            Self::Duplicate => ErrorClass::Duplicate,
            Self::DecryptionFailed => ErrorClass::DecryptionFailed,
            Self::State(_) => ErrorClass::State,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Wire(e) => write!(f, "malformed input: {e}"),
            Self::Handshake(e) => write!(f, "handshake failed: {e}"),
            Self::LowOrderKey => f.write_str("low-order public key rejected"),
            Self::RatchetLimit(e) => write!(f, "ratchet limit: {e}"),
            Self::Duplicate => {
                f.write_str("duplicate message: its key was already used or evicted")
            }
            Self::DecryptionFailed => f.write_str("decryption failed"),
            Self::State(e) => write!(f, "session state rejected: {e}"),
        }
    }
}

impl core::error::Error for Error {}

/// Why an encoding was rejected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum WireError {
    /// The input ended before the structure did.
    Truncated,
    /// Bytes remain after a complete structure.
    TrailingBytes,
    /// The version byte is not one this implementation speaks.
    UnsupportedVersion(u8),
    /// The input is longer than the format allows.
    Oversized,
    /// A field holds a value the format does not allow (for example a
    /// presence flag other than 0 or 1, or an invalid Ed25519 point).
    InvalidField(&'static str),
}

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Truncated => f.write_str("input is truncated"),
            Self::TrailingBytes => f.write_str("trailing bytes after the structure"),
            Self::UnsupportedVersion(v) => write!(f, "unsupported version {v:#04x}"),
            Self::Oversized => f.write_str("input exceeds the maximum length"),
            Self::InvalidField(field) => write!(f, "invalid value in field `{field}`"),
        }
    }
}

/// Why an X3DH handshake was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum HandshakeError {
    /// The signed prekey's signature does not verify under the identity key.
    BadSignature,
    /// The identity key is not a usable Ed25519 public key (weak or invalid).
    InvalidIdentityKey,
    /// The responder has no signed prekey with this id.
    UnknownSignedPreKey(u32),
    /// The responder has no (longer any) one-time prekey with this id.
    UnknownOneTimePreKey(u32),
}

impl fmt::Display for HandshakeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BadSignature => f.write_str("signed prekey signature does not verify"),
            Self::InvalidIdentityKey => f.write_str("identity key is weak or invalid"),
            Self::UnknownSignedPreKey(id) => write!(f, "unknown signed prekey id {id}"),
            Self::UnknownOneTimePreKey(id) => write!(f, "unknown one-time prekey id {id}"),
        }
    }
}

/// Which ratchet limit was hit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum LimitError {
    /// More than `MAX_SKIP` keys would have to be skipped in one chain.
    TooManySkipped {
        /// How many keys the message would need skipped.
        requested: u64,
    },
    /// The sending counter N would overflow a u32.
    CounterExhausted,
    /// The plaintext is longer than [`MAX_PLAINTEXT_LEN`](crate::MAX_PLAINTEXT_LEN).
    PlaintextTooLong,
}

impl fmt::Display for LimitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooManySkipped { requested } => write!(
                f,
                "{requested} message keys would be skipped (at most {} allowed)",
                crate::MAX_SKIP
            ),
            Self::CounterExhausted => f.write_str("sending counter exhausted"),
            Self::PlaintextTooLong => f.write_str("plaintext exceeds the maximum length"),
        }
    }
}

/// Why a persisted session state was rejected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum StateError {
    /// The state ended early.
    Truncated,
    /// Bytes remain after a complete state.
    TrailingBytes,
    /// The format version is unknown.
    UnsupportedVersion(u8),
    /// A field is out of range or inconsistent with another.
    Corrupted(&'static str),
    /// A sealed state failed authentication: wrong storage key or tampered.
    AuthenticationFailed,
}

impl fmt::Display for StateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Truncated => f.write_str("state is truncated"),
            Self::TrailingBytes => f.write_str("trailing bytes after the state"),
            Self::UnsupportedVersion(v) => write!(f, "unsupported state version {v:#04x}"),
            Self::Corrupted(what) => write!(f, "corrupted state: {what}"),
            Self::AuthenticationFailed => {
                f.write_str("sealed state failed authentication (wrong key or tampered)")
            }
        }
    }
}

impl From<WireError> for Error {
    fn from(e: WireError) -> Self {
        Self::Wire(e)
    }
}

impl From<HandshakeError> for Error {
    fn from(e: HandshakeError) -> Self {
        Self::Handshake(e)
    }
}

impl From<LimitError> for Error {
    fn from(e: LimitError) -> Self {
        Self::RatchetLimit(e)
    }
}

impl From<StateError> for Error {
    fn from(e: StateError) -> Self {
        Self::State(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn class_names_are_stable_and_parse_back() {
        let names: Vec<&str> = ErrorClass::ALL.iter().map(|c| c.as_str()).collect();
        assert_eq!(
            names,
            [
                "wire",
                "handshake",
                "low_order_key",
                "ratchet_limit",
                "duplicate",
                "decryption_failed",
                "state"
            ]
        );
        for class in ErrorClass::ALL {
            assert_eq!(ErrorClass::from_name(class.as_str()), Some(class));
            assert_eq!(class.to_string(), class.as_str());
        }
        assert_eq!(ErrorClass::from_name("Wire"), None);
        assert_eq!(ErrorClass::from_name(""), None);
    }

    #[test]
    fn every_error_maps_to_its_class() {
        let cases = [
            (Error::Wire(WireError::Truncated), ErrorClass::Wire),
            (
                Error::Handshake(HandshakeError::BadSignature),
                ErrorClass::Handshake,
            ),
            (Error::LowOrderKey, ErrorClass::LowOrderKey),
            (
                Error::RatchetLimit(LimitError::CounterExhausted),
                ErrorClass::RatchetLimit,
            ),
            (Error::Duplicate, ErrorClass::Duplicate),
            (Error::DecryptionFailed, ErrorClass::DecryptionFailed),
            (Error::State(StateError::Truncated), ErrorClass::State),
        ];
        for (error, class) in cases {
            assert_eq!(error.class(), class, "{error:?}");
            assert!(!error.to_string().is_empty());
        }
        assert_eq!(Error::DecryptionFailed.to_string(), "decryption failed");
    }

    #[test]
    fn every_detail_is_named_in_the_message() {
        let cases: [(Error, &str); 12] = [
            (
                WireError::Truncated.into(),
                "malformed input: input is truncated",
            ),
            (
                WireError::UnsupportedVersion(2).into(),
                "unsupported version 0x02",
            ),
            (
                WireError::InvalidField("opk_flag").into(),
                "field `opk_flag`",
            ),
            (
                HandshakeError::BadSignature.into(),
                "signature does not verify",
            ),
            (
                HandshakeError::UnknownSignedPreKey(7).into(),
                "signed prekey id 7",
            ),
            (
                HandshakeError::UnknownOneTimePreKey(9).into(),
                "one-time prekey id 9",
            ),
            (
                LimitError::TooManySkipped { requested: 1001 }.into(),
                "1001 message keys would be skipped (at most 1000 allowed)",
            ),
            (LimitError::CounterExhausted.into(), "counter exhausted"),
            (LimitError::PlaintextTooLong.into(), "plaintext exceeds"),
            (StateError::Truncated.into(), "state is truncated"),
            (
                StateError::UnsupportedVersion(9).into(),
                "state version 0x09",
            ),
            (
                StateError::Corrupted("flag").into(),
                "corrupted state: flag",
            ),
        ];
        for (error, expected) in cases {
            let text = error.to_string();
            assert!(text.contains(expected), "{text:?} lacks {expected:?}");
        }
    }
}
