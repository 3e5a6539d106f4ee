//! Poly1305 (RFC 8439, 2.5) for the AEAD construction of RFC 8439, 2.8,
//! on three 44/44/42-bit limbs with 64 x 64 -> 128-bit products.
//!
//! The sealing core uses it for short messages in builds without AVX2
//! enabled at compile time: there the `poly1305` crate's runtime-detected
//! AVX2 backend pays a fixed cost of about a microsecond per key (its key
//! setup and finalisation are not compiled for AVX2), several times the
//! whole cost of a short message here. Long messages, and builds with AVX2
//! enabled, use the `chacha20poly1305` crate, which is faster in bulk.
//!
//! Everything runs in constant time: no branch or index depends on the key
//! or the data, and the final reduction selects with masks.

use zeroize::{Zeroize, ZeroizeOnDrop};

const MASK44: u64 = (1 << 44) - 1;
const MASK42: u64 = (1 << 42) - 1;

/// The 2^128 bit of every block: all AEAD input is padded to full blocks.
const HIBIT: u64 = 1 << 40;

/// The Poly1305 state of one message: the clamped key `r`, the final pad
/// `s`, and the accumulator `h`.
#[derive(Zeroize, ZeroizeOnDrop)]
pub(super) struct Poly1305 {
    r: [u64; 3],
    /// `r1 * 20`, `r2 * 20`: 2^130 = 5 (mod p) folded into the limb shifts.
    r_times_20: [u64; 2],
    h: [u64; 3],
    pad: [u64; 2],
}

fn le64(bytes: &[u8]) -> u64 {
    let mut word = [0u8; 8];
    word.copy_from_slice(&bytes[..8]);
    u64::from_le_bytes(word)
}

impl Poly1305 {
    /// The state for the one-time key `r || s` (r is clamped here).
    pub(super) fn new(key: &[u8; 32]) -> Self {
        let (t0, t1) = (le64(&key[0..8]), le64(&key[8..16]));
        // r &= 0x0ffffffc0ffffffc0ffffffc0fffffff, split into 44/44/42 bits.
        let r0 = t0 & 0x0ffc_0fff_ffff;
        let r1 = ((t0 >> 44) | (t1 << 20)) & 0x0fff_ffc0_ffff;
        let r2 = (t1 >> 24) & 0x000f_ffff_fc0f;
        Self {
            r: [r0, r1, r2],
            r_times_20: [r1 * 20, r2 * 20],
            h: [0; 3],
            pad: [le64(&key[16..24]), le64(&key[24..32])],
        }
    }

    /// `h = (h + block + hibit) * r mod 2^130 - 5`, partially reduced;
    /// `hibit` is [`HIBIT`] (2^128) for every block the AEAD absorbs.
    fn block(&mut self, block: &[u8], hibit: u64) {
        let (t0, t1) = (le64(&block[0..8]), le64(&block[8..16]));
        let [r0, r1, r2] = self.r;
        let [s1, s2] = self.r_times_20;
        let h0 = self.h[0] + (t0 & MASK44);
        let h1 = self.h[1] + (((t0 >> 44) | (t1 << 20)) & MASK44);
        let h2 = self.h[2] + (((t1 >> 24) & MASK42) | hibit);

        let wide = |a: u64, b: u64| u128::from(a) * u128::from(b);
        let d0 = wide(h0, r0) + wide(h1, s2) + wide(h2, s1);
        let mut d1 = wide(h0, r1) + wide(h1, r0) + wide(h2, s2);
        let mut d2 = wide(h0, r2) + wide(h1, r1) + wide(h2, r0);

        let h0 = (d0 as u64) & MASK44;
        d1 += d0 >> 44;
        let h1 = (d1 as u64) & MASK44;
        d2 += d1 >> 44;
        let h2 = (d2 as u64) & MASK42;
        let carry = (d2 >> 42) as u64;
        let h0 = h0 + carry * 5;
        self.h = [h0 & MASK44, h1 + (h0 >> 44), h2];
    }

    /// Absorbs `data` zero-padded to a multiple of 16 bytes (RFC 8439, 2.8).
    pub(super) fn update_padded(&mut self, data: &[u8]) {
        let mut blocks = data.chunks_exact(16);
        for block in &mut blocks {
            self.block(block, HIBIT);
        }
        let rest = blocks.remainder();
        if !rest.is_empty() {
            let mut last = [0u8; 16];
            last[..rest.len()].copy_from_slice(rest);
            self.block(&last, HIBIT);
            last.zeroize();
        }
    }

    /// The AEAD's length block, then the tag `(h mod p) + s mod 2^128`.
    pub(super) fn finalize(mut self, aad_len: usize, text_len: usize) -> [u8; 16] {
        let mut lengths = [0u8; 16];
        lengths[..8].copy_from_slice(&(aad_len as u64).to_le_bytes());
        lengths[8..].copy_from_slice(&(text_len as u64).to_le_bytes());
        self.block(&lengths, HIBIT);
        self.tag()
    }

    /// The tag `(h mod p) + s mod 2^128`.
    fn tag(&self) -> [u8; 16] {
        // Fully carry h.
        let [mut h0, mut h1, mut h2] = self.h;
        for _ in 0..2 {
            h1 += h0 >> 44;
            h0 &= MASK44;
            h2 += h1 >> 44;
            h1 &= MASK44;
            h0 += (h2 >> 42) * 5;
            h2 &= MASK42;
        }
        h1 += h0 >> 44;
        h0 &= MASK44;

        // g = h + 5 - 2^130 = h - p; use g when it is not negative.
        let mut g0 = h0 + 5;
        let mut g1 = h1 + (g0 >> 44);
        g0 &= MASK44;
        let g2 = (h2 + (g1 >> 44)).wrapping_sub(1 << 42);
        g1 &= MASK44;
        let use_g = (g2 >> 63).wrapping_sub(1);
        let h0 = (h0 & !use_g) | (g0 & use_g);
        let h1 = (h1 & !use_g) | (g1 & use_g);
        let h2 = (h2 & !use_g) | (g2 & use_g & MASK42);

        // h + s mod 2^128.
        let [s0, s1] = self.pad;
        let h0 = h0 + (s0 & MASK44);
        let h1 = h1 + (((s0 >> 44) | (s1 << 20)) & MASK44) + (h0 >> 44);
        let h2 = h2 + ((s1 >> 24) & MASK42) + (h1 >> 44);
        let (h0, h1, h2) = (h0 & MASK44, h1 & MASK44, h2 & MASK42);
        let low = h0 | (h1 << 44);
        let high = (h1 >> 20) | (h2 << 24);
        let mut tag = [0u8; 16];
        tag[..8].copy_from_slice(&low.to_le_bytes());
        tag[8..].copy_from_slice(&high.to_le_bytes());
        tag
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// Plain Poly1305 (RFC 8439, 2.5.1): the last partial block gets a 0x01
    /// byte and no 2^128 bit.
    fn poly1305(key: &[u8; 32], msg: &[u8]) -> [u8; 16] {
        let mut p = Poly1305::new(key);
        let mut blocks = msg.chunks_exact(16);
        for block in &mut blocks {
            p.block(block, HIBIT);
        }
        let rest = blocks.remainder();
        if !rest.is_empty() {
            let mut last = [0u8; 16];
            last[..rest.len()].copy_from_slice(rest);
            last[rest.len()] = 0x01;
            p.block(&last, 0);
        }
        p.tag()
    }

    /// The same MAC from RustCrypto's `poly1305` crate (an independent
    /// implementation, radix 2^26 or AVX2).
    fn independent(key: &[u8; 32], msg: &[u8]) -> [u8; 16] {
        use ::poly1305::universal_hash::KeyInit;
        let tag = ::poly1305::Poly1305::new(&(*key).into()).compute_unpadded(msg);
        tag.into()
    }

    fn key_with_r(r: u128, s: u128) -> [u8; 32] {
        let mut key = [0u8; 32];
        key[..16].copy_from_slice(&r.to_le_bytes());
        key[16..].copy_from_slice(&s.to_le_bytes());
        key
    }

    /// Inputs that drive the accumulator into the rare carries of the final
    /// reduction, which random inputs reach with probability about 2^-40:
    /// - r = 1 and three all-ones blocks: the sum passes 2^130 with the low
    ///   88 bits almost all ones, so the state `block` leaves has its middle
    ///   limb at 2^44 (a carry into the top limb in `tag`);
    /// - r = 2^27 and one all-ones block: the product folds back 5 * c with
    ///   c about 2^26, so the middle limb is 2^44 and the top limb all ones
    ///   (a carry out of the top limb, folded back into the low one);
    /// - values of `h` just below, at and above p = 2^130 - 5, and s near
    ///   2^128, for the final subtraction and the wrap of `+ s`.
    #[test]
    fn extreme_accumulators_match_an_independent_poly1305() {
        let ones = [0xffu8; 16];
        let mut messages: Vec<Vec<u8>> = (1..=6).map(|n| ones.repeat(n)).collect();
        for tail in [0u8, 1, 2, 3, 4, 5, 6, 0xfa, 0xfb, 0xfc] {
            let mut m = ones.repeat(2);
            m.extend_from_slice(&[tail; 16]);
            messages.push(m);
            let mut m = ones.repeat(3);
            m[47] = tail;
            messages.push(m);
        }
        let rs = [
            1u128,
            2,
            3,
            5,
            1 << 27,
            (1 << 27) - 1,
            1 << 26,
            0x0fff_fffc_0fff_fffc_0fff_fffc_0fff_ffff,
        ];
        let ss = [0u128, 1, 5, u128::MAX, u128::MAX - 4, 1 << 127];
        let mut checked = 0;
        for &r in &rs {
            for &s in &ss {
                let key = key_with_r(r, s);
                for msg in &messages {
                    assert_eq!(
                        poly1305(&key, msg),
                        independent(&key, msg),
                        "r {r:#x}, s {s:#x}, message {msg:02x?}"
                    );
                    checked += 1;
                }
            }
        }
        assert_eq!(checked, rs.len() * ss.len() * messages.len());
    }

    /// `(h mod p + s) mod 2^128` for the accumulator `h0 + h1 2^44 + h2 2^88`,
    /// the slow and obvious way: the value as `hi 2^128 + lo`, folded with
    /// 2^130 = 5 (mod p) until below 2^130, then one conditional subtraction.
    fn reference_tag(h: [u64; 3], s: u128) -> [u8; 16] {
        let (lo, carry) = (u128::from(h[0]) + (u128::from(h[1]) << 44))
            .overflowing_add(u128::from(h[2] & ((1 << 40) - 1)) << 88);
        let mut hi = u128::from(h[2] >> 40) + u128::from(carry);
        let mut lo = lo;
        while hi > 3 {
            let (sum, carry) = lo.overflowing_add(5 * (hi >> 2));
            hi = (hi & 3) + u128::from(carry);
            lo = sum;
        }
        // p = 3 2^128 + (2^128 - 5)
        if hi == 3 && lo >= u128::MAX - 4 {
            lo = lo.wrapping_add(5);
        }
        lo.wrapping_add(s).to_le_bytes()
    }

    /// `tag` is right for every accumulator `block` can leave (h0 < 2^44,
    /// h1 < 2^44 + 2^7, h2 < 2^42), on a grid of limb values at and around
    /// every carry and at p: states that random inputs reach with
    /// probability far below 2^-40, such as a carry out of h1 into a full
    /// h2 whose fold pushes h0 past 2^44 again.
    #[test]
    fn tag_reduces_every_accumulator_block_can_leave() {
        let low = [
            0,
            1,
            4,
            5,
            6,
            MASK42,
            MASK44 - 6,
            MASK44 - 5,
            MASK44 - 4,
            MASK44 - 1,
            MASK44,
        ];
        let mid = [
            0,
            1,
            5,
            MASK44 - 5,
            MASK44 - 1,
            MASK44,
            MASK44 + 1,
            MASK44 + 2,
            MASK44 + 127,
        ];
        let top = [0, 1, MASK42 - 1, MASK42];
        let pads = [
            (0u64, 0u64),
            (u64::MAX, u64::MAX),
            (5, 0),
            (u64::MAX - 4, u64::MAX),
        ];
        for h0 in low {
            for h1 in mid {
                for h2 in top {
                    for (s0, s1) in pads {
                        let state = Poly1305 {
                            r: [0; 3],
                            r_times_20: [0; 2],
                            h: [h0, h1, h2],
                            pad: [s0, s1],
                        };
                        let s = u128::from(s0) | (u128::from(s1) << 64);
                        assert_eq!(
                            state.tag(),
                            reference_tag([h0, h1, h2], s),
                            "h = [{h0:#x}, {h1:#x}, {h2:#x}], s = {s:#x}"
                        );
                    }
                }
            }
        }
    }

    /// Random keys and messages of every length up to 4 blocks and then
    /// some, against the independent implementation.
    #[test]
    fn random_inputs_match_an_independent_poly1305() {
        let mut state = 0x5ea1_0000_u64;
        let mut next = || {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1);
            (state >> 24) as u8
        };
        for len in (0..=80).chain([255, 256, 1000]) {
            for _ in 0..8 {
                let key: [u8; 32] = core::array::from_fn(|_| next());
                let msg: Vec<u8> = (0..len).map(|_| next()).collect();
                assert_eq!(
                    poly1305(&key, &msg),
                    independent(&key, &msg),
                    "length {len}"
                );
            }
        }
    }

    #[test]
    fn rfc8439_section_2_5_2() {
        let key: [u8; 32] = hex("85d6be7857556d337f4452fe42d506a80103808afb0db2fd4abff6af4149f51b")
            .try_into()
            .unwrap();
        let tag = poly1305(&key, b"Cryptographic Forum Research Group");
        assert_eq!(tag.to_vec(), hex("a8061dc1305136c6c22b8baf0c0127a9"));
    }

    #[test]
    fn rfc8439_appendix_a_3_vectors() {
        // Test vectors #1 (all zero), #5 and #6 (h reaching 2^130 - 5 and
        // wrapping), #7 and #11 (carries through every limb).
        let ones = [0xffu8; 16];
        let mut two = [0u8; 32];
        two[0] = 2;
        let mut r_one_s_ones = [0u8; 32];
        r_one_s_ones[0] = 2;
        r_one_s_ones[16..].fill(0xff);
        let mut one = [0u8; 32];
        one[0] = 1;
        let cases: [(&[u8; 32], Vec<u8>, &str); 4] = [
            (
                &[0u8; 32],
                vec![0u8; 64],
                "00000000000000000000000000000000",
            ),
            (&two, ones.to_vec(), "03000000000000000000000000000000"),
            (
                &r_one_s_ones,
                {
                    let mut m = vec![0u8; 16];
                    m[0] = 2;
                    m
                },
                "03000000000000000000000000000000",
            ),
            (
                &one,
                [
                    ones.to_vec(),
                    hex("f0ffffffffffffffffffffffffffffff"),
                    hex("11000000000000000000000000000000"),
                ]
                .concat(),
                "05000000000000000000000000000000",
            ),
        ];
        for (i, (key, msg, expected)) in cases.iter().enumerate() {
            assert_eq!(poly1305(key, msg).to_vec(), hex(expected), "case {i}");
        }
    }
}
