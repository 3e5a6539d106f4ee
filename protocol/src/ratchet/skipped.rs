//! The skipped-message-key store: keys of messages not yet received, kept
//! for out-of-order delivery, bounded, evicting the oldest first.
//!
//! Secret hygiene: a `Vec` that reallocates, or an element moved out of it,
//! leaves a byte copy of the key in memory that is freed or reused without
//! being wiped. So this module never lets a container of keys reallocate on
//! its own ([`reserve_wiping`] copies into a new buffer and wipes the old
//! one), never moves a key out of a container, and wipes a key in place
//! before its slot is given up.

use zeroize::Zeroize;

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

pub(crate) use crate::wipe::reserve_wiping;

/// Skipped message keys in insertion order (oldest first).
///
/// SPEC.md §6.6.
#[derive(Clone, Debug, Default)]
pub(crate) struct SkippedKeys {
    entries: Vec<SkippedKey>,
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

    /// Deletes the entries `0..count` (wiped in place first), keeping order.
    fn remove_front(&mut self, count: usize) {
        let count = count.min(self.entries.len());
        for entry in &mut self.entries[..count] {
            entry.message_key.zeroize();
        }
        // An in-place permutation: no key is copied out of the buffer.
        self.entries.rotate_left(count);
        let keep = self.entries.len() - count;
        self.entries.truncate(keep);
    }

    /// Deletes the entry at `index` (a used key), wiping it first.
    pub(crate) fn remove(&mut self, index: usize) {
        if index >= self.entries.len() {
            return;
        }
        self.entries[index].message_key.zeroize();
        self.entries[index..].rotate_left(1);
        self.entries.truncate(self.entries.len() - 1);
    }

    /// Appends copies of `keys`, newest last, evicting the oldest entries
    /// past [`MAX_SKIPPED_KEYS`]. The caller's keys stay where they are (and
    /// are wiped when the caller drops them).
    pub(crate) fn extend_from(&mut self, keys: &[SkippedKey]) {
        if !planted!(StoreUnbounded) {
            let keys_kept = &keys[keys.len().saturating_sub(MAX_SKIPPED_KEYS)..];
            let overflow = (self.entries.len() + keys_kept.len()).saturating_sub(MAX_SKIPPED_KEYS);
            self.remove_front(overflow);
            reserve_wiping(&mut self.entries, keys_kept.len());
            self.entries.extend(keys_kept.iter().cloned());
            return;
        }
        reserve_wiping(&mut self.entries, keys.len());
        self.entries.extend(keys.iter().cloned());
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
        let batch: Vec<_> = (0..MAX_SKIPPED_KEYS as u32 + 5).map(key).collect();
        store.extend_from(&batch[..10]);
        store.extend_from(&batch[10..]);
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
        assert_eq!(store.position(&rk, 6), Some(0));
        assert_eq!(store.len(), MAX_SKIPPED_KEYS - 1);
    }

    #[test]
    fn remove_keeps_insertion_order() {
        let mut store = SkippedKeys::default();
        let batch: Vec<_> = (0..5).map(key).collect();
        store.extend_from(&batch);
        store.remove(2);
        let order: Vec<u32> = store.iter().map(|e| e.message_number).collect();
        assert_eq!(order, vec![0, 1, 3, 4]);
        store.remove(10);
        assert_eq!(store.len(), 4);
    }

    #[test]
    fn a_batch_larger_than_the_cap_keeps_its_newest_keys() {
        let mut store = SkippedKeys::default();
        store.extend_from(&[key(100_000)]);
        let batch: Vec<_> = (0..MAX_SKIPPED_KEYS as u32 + 1).map(key).collect();
        store.extend_from(&batch);
        assert_eq!(store.len(), MAX_SKIPPED_KEYS);
        let first = store.iter().next().map(|e| e.message_number);
        assert_eq!(first, Some(1));
    }

    #[test]
    fn reserve_wiping_keeps_contents() {
        let mut keys = Vec::with_capacity(1);
        keys.push(key(1));
        reserve_wiping(&mut keys, 10);
        assert!(keys.capacity() >= 11);
        assert_eq!(keys.len(), 1);
        assert_eq!(keys[0].message_number, 1);
    }
}
