//! The model's one secret container: 32 bytes that zeroize on drop, are
//! neither `Clone` nor `Copy`, compare in constant time and print as
//! `Secret32(<redacted>)`.

use core::fmt;

use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop};

/// A 32-byte secret (a key, a chain key, a seed, a DH output).
///
/// Not `Clone`, not `Copy`:
///
/// ```compile_fail
/// let a = sealwire_specmodel::Secret32::new([1; 32]);
/// let b = a.clone();
/// ```
///
/// ```compile_fail
/// fn copy<T: Copy>() {}
/// copy::<sealwire_specmodel::Secret32>();
/// ```
pub struct Secret32([u8; 32]);

impl Secret32 {
    /// Takes ownership of `bytes`; the caller should wipe its own copy.
    pub const fn new(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// Copies a secret out of a slice of exactly 32 bytes.
    pub fn from_slice(bytes: &[u8]) -> Option<Self> {
        let array: [u8; 32] = bytes.try_into().ok()?;
        Some(Self(array))
    }

    /// The secret bytes, borrowed.
    pub const fn expose(&self) -> &[u8; 32] {
        &self.0
    }

    /// An explicit second copy, for the places where the spec itself keeps
    /// one secret in two roles (the responder's signed prekey becomes its
    /// first ratchet key). Named so that every copy is visible in review.
    pub(crate) fn duplicate(&self) -> Self {
        Self(self.0)
    }
}

impl Drop for Secret32 {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl ZeroizeOnDrop for Secret32 {}

impl PartialEq for Secret32 {
    fn eq(&self, other: &Self) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

impl Eq for Secret32 {}

impl fmt::Debug for Secret32 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret32(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_is_the_same_for_every_secret() {
        let a = format!("{:?}", Secret32::new([0x00; 32]));
        let b = format!("{:?}", Secret32::new([0xa7; 32]));
        assert_eq!(a, b);
        assert_eq!(a, "Secret32(<redacted>)");
    }

    #[test]
    fn equality_is_by_value() {
        assert_eq!(Secret32::new([3; 32]), Secret32::new([3; 32]));
        assert_ne!(Secret32::new([3; 32]), Secret32::new([4; 32]));
    }
}
