//! The model's errors: one variant per error class of SPEC.md §10, each with
//! a short public reason, plus [`ModelError::Misuse`] for inputs the model's
//! caller got wrong (never a protocol outcome).

use core::fmt;

/// The error classes of SPEC.md §10, by their stable names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
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
    /// Every class, in SPEC.md §10's order.
    pub const ALL: [Self; 7] = [
        Self::Wire,
        Self::Handshake,
        Self::LowOrderKey,
        Self::RatchetLimit,
        Self::Duplicate,
        Self::DecryptionFailed,
        Self::State,
    ];

    /// The class with this stable name, if any.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.name() == name)
    }

    /// The class's stable name (SPEC.md §10).
    pub const fn name(self) -> &'static str {
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
}

/// Why the model rejected an input. Reasons are fixed public strings:
/// never key bytes, never plaintext.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ModelError {
    /// `wire`: an encoding is malformed (SPEC.md §2, §4, §7, §8).
    Wire(&'static str),
    /// `handshake`: a bad identity key, signature or prekey id (§4, §5).
    Handshake(&'static str),
    /// `low_order_key`: a low-order prekey or an all-zero X25519 output.
    LowOrderKey,
    /// `ratchet_limit`: a skip, counter or length limit (§6.3, §6.4).
    RatchetLimit(&'static str),
    /// `duplicate`: the message's key was used or evicted (§6.4, §6.5).
    Duplicate,
    /// `decryption_failed`: the AEAD tag does not verify (§7).
    DecryptionFailed,
    /// `state`: a persisted or sealed state cannot be restored (§9).
    State(&'static str),
    /// Not a protocol outcome: the model was called with inputs that do
    /// not fit together (for example no ratchet key for a new turn).
    Misuse(&'static str),
}

impl ModelError {
    /// The SPEC.md §10 class, or `None` for [`ModelError::Misuse`].
    pub const fn class(&self) -> Option<ErrorClass> {
        match self {
            Self::Wire(_) => Some(ErrorClass::Wire),
            Self::Handshake(_) => Some(ErrorClass::Handshake),
            Self::LowOrderKey => Some(ErrorClass::LowOrderKey),
            Self::RatchetLimit(_) => Some(ErrorClass::RatchetLimit),
            Self::Duplicate => Some(ErrorClass::Duplicate),
            Self::DecryptionFailed => Some(ErrorClass::DecryptionFailed),
            Self::State(_) => Some(ErrorClass::State),
            Self::Misuse(_) => None,
        }
    }

    /// The class name, or `model_misuse`.
    pub const fn class_name(&self) -> &'static str {
        match self.class() {
            Some(class) => class.name(),
            None => "model_misuse",
        }
    }
}

impl fmt::Display for ModelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Wire(why)
            | Self::Handshake(why)
            | Self::RatchetLimit(why)
            | Self::State(why)
            | Self::Misuse(why) => write!(f, "{}: {why}", self.class_name()),
            Self::LowOrderKey | Self::Duplicate | Self::DecryptionFailed => {
                f.write_str(self.class_name())
            }
        }
    }
}

impl core::error::Error for ModelError {}

/// Shorthand for the model's results.
pub type ModelResult<T> = Result<T, ModelError>;
