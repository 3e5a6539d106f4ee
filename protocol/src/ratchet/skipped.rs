//! The skipped-message-key store: keys of messages not yet received, kept
//! for out-of-order delivery, bounded, evicting the oldest first.

use std::collections::VecDeque;

use crate::keys::{MessageKey, PublicKey};

/// The store holds at most this many keys; the oldest are evicted first.
pub const MAX_SKIPPED_KEYS: usize = 2000;

/// One stored key: the ratchet key of its chain, its index N, and MK.
#[derive(Clone, Debug)]
pub(crate) struct SkippedKey {
    pub(crate) ratchet_key: PublicKey,
    pub(crate) message_number: u32,
    pub(crate) message_key: MessageKey,
}

/// Skipped message keys in insertion order (oldest at the front).
#[derive(Clone, Debug, Default)]
pub(crate) struct SkippedKeys {
    entries: VecDeque<SkippedKey>,
}

impl SkippedKeys {
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// Where the key for `(ratchet_key, message_number)` is stored, if it is.
    pub(crate) fn position(&self, ratchet_key: &PublicKey, message_number: u32) -> Option<usize> {
        self.entries
            .iter()
            .position(|e| e.message_number == message_number && e.ratchet_key == *ratchet_key)
    }

    pub(crate) fn get(&self, index: usize) -> Option<&SkippedKey> {
        self.entries.get(index)
    }

    /// Deletes the entry at `index` (a used key); dropping it zeroizes MK.
    pub(crate) fn remove(&mut self, index: usize) {
        self.entries.remove(index);
    }

    /// Appends keys, newest last, evicting from the front past the cap.
    pub(crate) fn extend(&mut self, keys: impl IntoIterator<Item = SkippedKey>) {
        for key in keys {
            if self.entries.len() == MAX_SKIPPED_KEYS {
                self.entries.pop_front();
            }
            self.entries.push_back(key);
        }
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = &SkippedKey> {
        self.entries.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(n: u32) -> SkippedKey {
        SkippedKey {
            ratchet_key: PublicKey::from_bytes([1; 32]),
            message_number: n,
            message_key: MessageKey::from_bytes([n as u8; 32]),
        }
    }

    #[test]
    fn evicts_oldest_first_at_the_cap() {
        let mut store = SkippedKeys::default();
        store.extend((0..MAX_SKIPPED_KEYS as u32 + 5).map(key));
        assert_eq!(store.len(), MAX_SKIPPED_KEYS);
        let rk = PublicKey::from_bytes([1; 32]);
        for n in 0..5 {
            assert_eq!(store.position(&rk, n), None, "key {n} should be evicted");
        }
        assert_eq!(store.position(&rk, 5), Some(0));
        let last = MAX_SKIPPED_KEYS as u32 + 4;
        assert_eq!(store.position(&rk, last), Some(MAX_SKIPPED_KEYS - 1));
        store.remove(0);
        assert_eq!(store.position(&rk, 5), None);
        assert_eq!(store.len(), MAX_SKIPPED_KEYS - 1);
    }
}
