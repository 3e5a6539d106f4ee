//! Lowercase hex, as adapter protocol v2 writes byte strings (§1), through
//! the `hex` crate. The protocol allows lowercase digits only, so decoding
//! refuses uppercase ones, which `hex` alone would accept.

/// Lowercase hex of `bytes`.
pub fn encode(bytes: &[u8]) -> String {
    hex::encode(bytes)
}

/// The bytes of a lowercase hex string of even length, or `None`.
pub fn decode(text: &str) -> Option<Vec<u8>> {
    if text.bytes().any(|c| c.is_ascii_uppercase()) {
        return None;
    }
    hex::decode(text).ok()
}

#[cfg(test)]
mod tests {
    #[test]
    fn round_trip_and_rejections() {
        let bytes = [0u8, 1, 0xab, 0xff];
        assert_eq!(super::encode(&bytes), "0001abff");
        assert_eq!(super::decode("0001abff").as_deref(), Some(&bytes[..]));
        assert_eq!(super::decode("").as_deref(), Some(&[][..]));
        for bad in ["0", "0G", "AB", "aB", "0 ", "zz"] {
            assert_eq!(super::decode(bad), None, "{bad}");
        }
    }
}
