//! The runner's own seeded generator: schedules, canary plaintexts and fuzz
//! mutations are drawn from it, so the same seed gives the same inputs for
//! every implementation.

use rand_chacha::ChaCha20Rng;
use rand_core::{Rng, SeedableRng};

/// A ChaCha20 generator with the few draws the runner needs.
#[derive(Debug, Clone)]
pub struct Draw(ChaCha20Rng);

impl Draw {
    /// The generator for `seed` and a purpose (`stream`): independent
    /// streams for schedules, plaintexts, adapter seeds and mutations.
    pub fn new(seed: u64, stream: u64) -> Self {
        let mut key = [0u8; 32];
        key[..8].copy_from_slice(&seed.to_le_bytes());
        key[8..16].copy_from_slice(&stream.to_le_bytes());
        key[16..].copy_from_slice(b"sealwire-bbox v1");
        Self(ChaCha20Rng::from_seed(key))
    }

    /// A uniform number below `n` (0 when `n` is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            return 0;
        }
        // Rejection sampling: no modulo bias.
        let zone = u64::MAX - (u64::MAX % n) - 1;
        loop {
            let v = self.0.next_u64();
            if v <= zone {
                return v % n;
            }
        }
    }

    /// A uniform index below `n`.
    pub fn index(&mut self, n: usize) -> usize {
        self.below(n as u64) as usize
    }

    /// True with probability `num / den`.
    pub fn chance(&mut self, num: u64, den: u64) -> bool {
        self.below(den) < num
    }

    /// `len` random bytes.
    pub fn bytes(&mut self, len: usize) -> Vec<u8> {
        let mut out = vec![0u8; len];
        self.0.fill_bytes(&mut out);
        out
    }

    /// A 32-byte seed (for an adapter's hello).
    pub fn seed(&mut self) -> [u8; 32] {
        let mut out = [0u8; 32];
        self.0.fill_bytes(&mut out);
        out
    }

    /// A raw 64-bit value.
    pub fn u64(&mut self) -> u64 {
        self.0.next_u64()
    }
}
