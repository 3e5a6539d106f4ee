//! Byte strings as lowercase hex in JSON (vectors and the adapter protocol).

use core::fmt;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

/// Bytes that serialize as a lowercase hex string.
#[derive(Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Bytes(pub Vec<u8>);

impl Bytes {
    /// The bytes as a slice.
    pub fn as_slice(&self) -> &[u8] {
        &self.0
    }

    /// Lowercase hex.
    pub fn to_hex(&self) -> String {
        encode(&self.0)
    }

    /// Parses hex (upper or lower case, even length).
    pub fn from_hex(s: &str) -> Result<Self, HexError> {
        decode(s).map(Self)
    }

    /// Exactly `N` bytes, or `None`.
    pub fn to_array<const N: usize>(&self) -> Option<[u8; N]> {
        self.0.as_slice().try_into().ok()
    }
}

impl From<Vec<u8>> for Bytes {
    fn from(v: Vec<u8>) -> Self {
        Self(v)
    }
}

impl From<&[u8]> for Bytes {
    fn from(v: &[u8]) -> Self {
        Self(v.to_vec())
    }
}

impl<const N: usize> From<[u8; N]> for Bytes {
    fn from(v: [u8; N]) -> Self {
        Self(v.to_vec())
    }
}

impl fmt::Debug for Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.len() <= 64 {
            write!(f, "{}", encode(&self.0))
        } else {
            write!(f, "{}..({} bytes)", encode(&self.0[..32]), self.0.len())
        }
    }
}

/// Invalid hex input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HexError {
    /// The string has an odd number of digits.
    OddLength,
    /// A character is not a hex digit.
    InvalidDigit,
}

impl fmt::Display for HexError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::OddLength => f.write_str("hex string has an odd length"),
            Self::InvalidDigit => f.write_str("hex string has a non-hex character"),
        }
    }
}

impl std::error::Error for HexError {}

/// Lowercase hex of `bytes`.
pub fn encode(bytes: &[u8]) -> String {
    hex::encode(bytes)
}

/// Lowercase hex of `bytes` as a JSON string (an output field of the
/// adapter protocol or of a vector).
pub fn to_value(bytes: &[u8]) -> serde_json::Value {
    serde_json::Value::String(encode(bytes))
}

/// Bytes of a hex string.
pub fn decode(s: &str) -> Result<Vec<u8>, HexError> {
    hex::decode(s).map_err(|e| match e {
        hex::FromHexError::OddLength => HexError::OddLength,
        // `InvalidStringLength` only arises when decoding into a fixed-size
        // buffer; every other error is a bad digit.
        _ => HexError::InvalidDigit,
    })
}

impl Serialize for Bytes {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&encode(&self.0))
    }
}

impl<'de> Deserialize<'de> for Bytes {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct HexVisitor;
        impl Visitor<'_> for HexVisitor {
            type Value = Bytes;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a hex string")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Bytes, E> {
                decode(v).map(Bytes).map_err(E::custom)
            }
        }
        deserializer.deserialize_str(HexVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_rejects_bad_input() {
        let b = Bytes(vec![0x00, 0x7f, 0x80, 0xff]);
        assert_eq!(b.to_hex(), "007f80ff");
        assert_eq!(Bytes::from_hex("007F80ff").unwrap(), b);
        assert_eq!(Bytes::from_hex("abc"), Err(HexError::OddLength));
        assert_eq!(Bytes::from_hex("zz"), Err(HexError::InvalidDigit));
        let json = serde_json::to_string(&b).unwrap();
        assert_eq!(json, "\"007f80ff\"");
        assert_eq!(serde_json::from_str::<Bytes>(&json).unwrap(), b);
    }
}
