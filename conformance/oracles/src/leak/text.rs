//! How the scanner reads text: hex and decimal number runs, in both cases
//! and alignments.

use super::*;

pub(super) const OTHER: u8 = 0;
pub(super) const DEC: u8 = 1; // 0-9
pub(super) const HEX: u8 = 2; // a-f, A-F
pub(super) const SEP: u8 = 3; // space, comma, newline, tab, CR, brackets
pub(super) const X: u8 = 4; // x, X (a `0x` prefix)

pub(super) const CLASS: [u8; 256] = {
    let mut t = [OTHER; 256];
    let mut c = b'0';
    while c <= b'9' {
        t[c as usize] = DEC;
        c += 1;
    }
    let mut c = b'a';
    while c <= b'f' {
        t[c as usize] = HEX;
        t[(c - 32) as usize] = HEX;
        c += 1;
    }
    t[b' ' as usize] = SEP;
    t[b',' as usize] = SEP;
    t[b'\n' as usize] = SEP;
    t[b'\t' as usize] = SEP;
    t[b'\r' as usize] = SEP;
    t[b'[' as usize] = SEP;
    t[b']' as usize] = SEP;
    t[b'x' as usize] = X;
    t[b'X' as usize] = X;
    t
};

pub(super) const fn hex_value(digit: u8) -> u8 {
    if digit <= b'9' {
        digit - b'0'
    } else {
        (digit | 0x20) - b'a' + 10
    }
}

/// The leak a byte scan found, if any.
pub(super) fn output_leak(place: &str, found: Option<(usize, &str)>) -> Result<(), Leak> {
    match found {
        None => Ok(()),
        Some((offset, secret)) => Err(Leak {
            kind: LeakKind::Output,
            place: place.to_owned(),
            secret: secret.to_owned(),
            at: format!("byte offset {offset}"),
        }),
    }
}

/// The byte that `{:?}` of `b` (decimal) reads as in the hex reading of a
/// list of numbers: `10` is `0x10`. None when its decimal form has three
/// digits (the hex reading stops there).
pub(super) const fn decimal_read_as_hex(b: u8) -> Option<u8> {
    if b < 100 {
        Some(((b / 10) << 4) | (b % 10))
    } else {
        None
    }
}

/// The byte that `{:x?}` of `b` (hex, no prefix) reads as in the decimal
/// reading: `0x10` prints `10`, which is 10. None when a hex digit is a
/// letter (the decimal reading stops there).
pub(super) const fn hex_read_as_decimal(b: u8) -> Option<u8> {
    let (high, low) = (b >> 4, b & 0x0f);
    if high <= 9 && low <= 9 {
        Some(high * 10 + low)
    } else {
        None
    }
}

/// Every maximal run of at least 16 hex digits, decoded at alignment 0 and
/// at alignment 1, with the run's start in the text.
pub(super) fn hex_runs(text: &str) -> Vec<(usize, Vec<u8>)> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let start = i;
        while i < bytes.len() && matches!(CLASS[bytes[i] as usize], DEC | HEX) {
            i += 1;
        }
        if i - start >= 16 {
            let run = &bytes[start..i];
            for align in 0..2 {
                let decoded = run[align..]
                    .chunks_exact(2)
                    .map(|pair| (hex_value(pair[0]) << 4) | hex_value(pair[1]))
                    .collect();
                out.push((start + align, decoded));
            }
        }
        i += 1;
    }
    out
}

/// Every maximal run of at least 8 numbers 0..=255 separated only by
/// spaces, commas, newlines and brackets, read two ways: as decimal numbers
/// (`{:?}` of a byte array; `0x` prefixes allowed) and as hex numbers of at
/// most two digits (`{:x?}` of a byte array, which prints no prefix). One
/// pass over the text builds both.
pub(super) fn number_runs(text: &str) -> Vec<(usize, Vec<u8>)> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    // Index 0: decimal reading, index 1: hex reading.
    let mut runs: [(usize, Vec<u8>); 2] = [(0, Vec::new()), (0, Vec::new())];
    let flush = |run: &mut (usize, Vec<u8>), out: &mut Vec<(usize, Vec<u8>)>| {
        if run.1.len() >= 8 {
            out.push((run.0, core::mem::take(&mut run.1)));
        } else {
            run.1.clear();
        }
    };
    let mut i = 0;
    while i < bytes.len() {
        let class = CLASS[bytes[i] as usize];
        if class == SEP {
            i += 1;
            continue;
        }
        if class == OTHER || class == X {
            flush(&mut runs[0], &mut out);
            flush(&mut runs[1], &mut out);
            i += 1;
            continue;
        }
        // A token of digits, hex digits and x.
        let start = i;
        while i < bytes.len() && matches!(CLASS[bytes[i] as usize], DEC | HEX | X) {
            i += 1;
        }
        let token = &bytes[start..i];
        let prefixed = token.len() > 2 && token[0] == b'0' && CLASS[token[1] as usize] == X;
        let digits = if prefixed { &token[2..] } else { token };
        let all_hex = digits
            .iter()
            .all(|&c| matches!(CLASS[c as usize], DEC | HEX));
        let all_dec = digits.iter().all(|&c| CLASS[c as usize] == DEC);
        let value = |radix: u32| -> Option<u8> {
            let mut v: u32 = 0;
            for &c in digits {
                v = v * radix + u32::from(hex_value(c));
            }
            u8::try_from(v).ok()
        };
        let readings = [
            if prefixed && all_hex && digits.len() <= 2 {
                value(16)
            } else if !prefixed && all_dec && digits.len() <= 3 {
                value(10)
            } else {
                None
            },
            if all_hex && !digits.is_empty() && digits.len() <= 2 {
                value(16)
            } else {
                None
            },
        ];
        for (run, reading) in runs.iter_mut().zip(readings) {
            match reading {
                Some(v) => {
                    if run.1.is_empty() {
                        run.0 = start;
                    }
                    run.1.push(v);
                }
                None => flush(run, &mut out),
            }
        }
    }
    for run in &mut runs {
        flush(run, &mut out);
    }
    out
}
