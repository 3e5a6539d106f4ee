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
