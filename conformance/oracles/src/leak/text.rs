//! How the scanner reads text: hex and decimal number runs, in both cases
//! and alignments.

use super::*;
use sealwire_freed_scan::uninstrumented;

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
/// at alignment 1, with the run's start in the text (the loop runs outside
/// coverage instrumentation: `sealwire_freed_scan::uninstrumented`).
pub(super) fn hex_runs(text: &str) -> Vec<(usize, Vec<u8>)> {
    uninstrumented::hex_runs(text.as_bytes())
}

/// Every maximal run of at least 8 numbers 0..=255 separated only by
/// spaces, commas, newlines and brackets, read as decimal (`{:?}`, `0x`
/// prefixes allowed) and as hex numbers of at most two digits (`{:x?}`);
/// uninstrumented like [`hex_runs`].
pub(super) fn number_runs(text: &str) -> Vec<(usize, Vec<u8>)> {
    uninstrumented::number_runs(text.as_bytes())
}
