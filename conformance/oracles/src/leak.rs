//! The leak oracle: no output may contain any 8-byte window of a secret or
//! of a plaintext the harness sent.
//!
//! A [`LeakScanner`] is told every secret in play (identity seeds, prekey
//! privates, ephemeral and ratchet privates, SK, root, chain and message
//! keys, AEAD keys — learned only through `sealwire::testing`) and every
//! plaintext sent. It then checks outputs:
//!
//! * bytes ([`LeakScanner::check_bytes`]): every 8-byte window of the output;
//! * text ([`LeakScanner::check_text`]): the raw text, every run of hex
//!   digits decoded at both alignments (so `0a1b...` and `0A1B...` are
//!   caught), and every run of small numbers separated only by spaces,
//!   commas and brackets, read as bytes (decimal `[10, 27, ...]` and
//!   `0x0a, 0x1b` forms, as `Debug` prints byte arrays);
//! * [`LeakScanner::check_debug`]: `{:?}` and `{:#?}` of a value;
//! * [`LeakScanner::check_error`]: `Display` and `Debug` of an error.
//!
//! Windows made of one repeated byte are not registered: they match zero
//! padding and counters everywhere. The scanner's own tables hold secret
//! windows, so they are wiped when dropped or grown (the freed-memory check
//! would otherwise find the oracle itself).

use core::fmt;
use std::borrow::Cow;

use zeroize::Zeroize;

use sealwire_freed_scan::uninstrumented;

use super::freed;

mod text;
use text::{decimal_read_as_hex, hex_read_as_decimal, hex_runs, number_runs, output_leak};

/// Which check found the leak.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LeakKind {
    /// Output bytes (messages, encodings, sealed state).
    Output,
    /// `Debug` text of a value.
    Debug,
    /// `Display` or `Debug` text of an error.
    ErrorText,
    /// A heap block freed with a secret in it.
    FreedMemory,
}

/// A secret (or plaintext) found where it must not be.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Leak {
    /// Which check fired.
    pub kind: LeakKind,
    /// What was being checked (for example "message 3" or "Debug of Session").
    pub place: String,
    /// The label of the secret found (never its bytes).
    pub secret: String,
    /// Where in the checked output (byte offset, or a description).
    pub at: String,
}

impl fmt::Display for Leak {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:?} leak: `{}` found in {} ({})",
            self.kind, self.secret, self.place, self.at
        )
    }
}

/// An open-addressing set of 8-byte windows with the index of the secret
/// each came from. Wiped on drop and when it grows.
#[derive(Clone, Default)]
struct WindowSet {
    slots: Vec<u64>,
    ids: Vec<u32>,
    len: usize,
    /// A 65,536-bit filter of the windows' hashes: most lookups of absent
    /// windows end here with one test (fuzz targets are instrumented, so
    /// every comparison costs a callback).
    bloom: Vec<u64>,
}

impl fmt::Debug for WindowSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "WindowSet({} windows)", self.len)
    }
}

impl Drop for WindowSet {
    fn drop(&mut self) {
        self.slots.zeroize();
        self.ids.zeroize();
        // Dense filters are mostly one bits, which can equal a low-entropy
        // key the fuzzer chose: wipe them too.
        self.bloom.zeroize();
    }
}

impl WindowSet {
    fn get(&self, window: u64) -> Option<u32> {
        let h = uninstrumented::filter_bit(window);
        if self.len == 0 || (self.bloom[(h >> 6) as usize] >> (h & 63)) & 1 == 0 {
            return None;
        }
        uninstrumented::probe(&self.slots, window)
            .ok()
            .map(|slot| self.ids[slot])
    }

    /// Inserts every window of `bytes` that is not one byte repeated.
    fn insert_all(&mut self, bytes: &[u8], id: u32) {
        let windows = bytes.len().saturating_sub(7);
        while (self.len + windows + 1) * 2 > self.slots.len() {
            self.grow();
        }
        let added = uninstrumented::insert_windows(
            &mut self.slots,
            &mut self.ids,
            &mut self.bloom,
            bytes,
            id,
        );
        self.len += added;
    }

    fn grow(&mut self) {
        let new_len = (self.slots.len() * 2).max(256);
        let mut bigger = WindowSet {
            slots: vec![0; new_len],
            ids: vec![0; new_len],
            len: 0,
            bloom: std::mem::take(&mut self.bloom),
        };
        if bigger.bloom.is_empty() {
            bigger.bloom = vec![0; 1024];
        }
        bigger.len =
            uninstrumented::rehash(&self.slots, &self.ids, &mut bigger.slots, &mut bigger.ids);
        // The old tables are wiped by `Drop` when replaced (the filter,
        // which depends on the windows only, moves over as it is).
        *self = bigger;
    }
}

fn window_at(bytes: &[u8], i: usize) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&bytes[i..i + 8]);
    u64::from_le_bytes(w)
}

/// Scans outputs for secrets and plaintexts. See the module documentation.
#[derive(Debug, Default)]
pub struct LeakScanner {
    base: Option<&'static LeakScanner>,
    windows: WindowSet,
    /// Byte strings that are public in this run (they came from the input).
    allowed: Vec<Vec<u8>>,
    labels: Vec<Cow<'static, str>>,
    /// The fuzz input, when it carries secrets (a state to restore, keys
    /// for the sealing core): its windows are not registered with the
    /// freed-memory check.
    secret_input: Vec<u8>,
    /// Per label: a secret (true) or a plaintext (false).
    is_secret: Vec<bool>,
    secret_count: usize,
}

impl LeakScanner {
    /// An empty scanner.
    pub fn new() -> Self {
        Self::default()
    }

    /// A scanner that also knows everything `base` knows (the fixed
    /// material shared by every run of a fuzz target), without copying it.
    pub fn with_base(base: &'static LeakScanner) -> Self {
        Self {
            base: Some(base),
            ..Self::default()
        }
    }

    fn label_id(&mut self, label: Cow<'static, str>, secret: bool) -> u32 {
        self.labels.push(label);
        self.is_secret.push(secret);
        (self.labels.len() - 1) as u32
    }

    /// Registers a secret: a key, a seed, a chain or message key. Its
    /// windows are also registered with the freed-memory check when that
    /// is watching (see [`freed`]).
    pub fn add_secret(&mut self, label: impl Into<Cow<'static, str>>, bytes: &[u8]) {
        let label = label.into();
        if self.secret_input.is_empty() {
            freed::register(&label, bytes);
        } else {
            // Windows the fuzzer supplied are also in libFuzzer's own
            // copies of the input, which it frees: not the library's leak.
            for window in bytes.windows(8) {
                if !self.input_holds(window) {
                    freed::register(&label, window);
                }
            }
        }
        self.add(label, bytes, true);
    }

    /// Registers a plaintext the harness sent. Plaintexts are checked in
    /// outputs but not in freed memory (the caller owns returned
    /// plaintext buffers).
    pub fn add_plaintext(&mut self, label: impl Into<Cow<'static, str>>, bytes: &[u8]) {
        self.add(label.into(), bytes, false);
    }

    fn add(&mut self, label: Cow<'static, str>, bytes: &[u8], secret: bool) {
        if bytes.len() < 8 {
            return;
        }
        let id = self.label_id(label, secret);
        self.secret_count += 1;
        self.windows.insert_all(bytes, id);
    }

    /// Calls `f` with every registered window of a secret (not of a
    /// plaintext), base included.
    pub(crate) fn for_each_secret_window(&self, f: &mut dyn FnMut(&str, &[u8; 8])) {
        if let Some(base) = self.base {
            base.for_each_secret_window(f);
        }
        for (&w, &id) in self.windows.slots.iter().zip(&self.windows.ids) {
            if w != 0 && self.is_secret[id as usize] {
                f(&self.labels[id as usize], &w.to_le_bytes());
            }
        }
    }

    /// How many secrets and plaintexts are registered (base included).
    pub fn len(&self) -> usize {
        self.secret_count + self.base.map_or(0, LeakScanner::len)
    }

    /// True when nothing is registered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Declares every window of `bytes` public for this scanner: outputs
    /// that echo the fuzzer's input (a decoded structure's `Debug`, a
    /// restored state's public fields) are not leaks even when the input
    /// happens to contain a secret's window (libFuzzer learns compared
    /// values, so it can put them there). A real leak of such a window is
    /// then missed; the price of having no false alarms.
    ///
    /// The text scan reads text several ways, so a rendering of public
    /// bytes also reads as other bytes: `{:?}` read as hex numbers (`10`
    /// reads as `0x10`), `{:x?}` read as decimal (`0x10` prints `10`, read
    /// as 10), and hex digits decoded at the odd alignment. Those
    /// misreadings are as public as the bytes and are allowed with them.
    /// (CI and local fuzz runs set a restored key to the hex reading of the
    /// state's associated data, and to its public key's hex decoded a
    /// nibble off.) They are computed directly into buffers of their final
    /// size: formatting and re-reading would free blocks holding the
    /// bytes, which may be a secret when a corrupted state is misparsed,
    /// and the freed-memory check would find the oracle itself.
    pub fn allow(&mut self, bytes: &[u8]) {
        if bytes.len() < 8 {
            return;
        }
        self.allowed.push(bytes.to_vec());
        for misread in [decimal_read_as_hex, hex_read_as_decimal] {
            for part in bytes.split(|&b| misread(b).is_none()) {
                if part.len() >= 8 {
                    let mut reading = Vec::with_capacity(part.len());
                    reading.extend(part.iter().filter_map(|&b| misread(b)));
                    self.allowed.push(reading);
                }
            }
        }
        let mut shifted = Vec::with_capacity(bytes.len() - 1);
        shifted.extend(bytes.windows(2).map(|w| (w[0] << 4) | (w[1] >> 4)));
        self.allowed.push(shifted);
    }

    /// Declares that the fuzz input itself carries secrets (see the field
    /// `secret_input`).
    pub fn input_has_secrets(&mut self, input: &[u8]) {
        self.secret_input = input.to_vec();
    }

    /// True when the fuzz input (see [`input_has_secrets`](Self::input_has_secrets))
    /// contains `window`: bytes the fuzzer chose.
    fn input_holds(&self, window: &[u8]) -> bool {
        <&[u8; 8]>::try_from(window)
            .is_ok_and(|window| uninstrumented::contains_window(&self.secret_input, window))
    }

    /// True when this scanner has secrets or plaintexts of its own (not
    /// only its base's).
    pub fn has_own(&self) -> bool {
        self.secret_count > 0
    }

    fn is_allowed(&self, window: u64) -> bool {
        let window = window.to_le_bytes();
        self.allowed
            .iter()
            .any(|bytes| uninstrumented::contains_window(bytes, &window))
    }

    fn find_registered(&self, window: u64) -> Option<&str> {
        if let Some(base) = self.base
            && let Some(label) = base.find_registered(window)
        {
            return Some(label);
        }
        self.windows
            .get(window)
            .map(|id| &*self.labels[id as usize])
    }

    fn find(&self, window: u64) -> Option<&str> {
        // Allowed strings are searched only on a hit, which is rare.
        self.find_registered(window)
            .filter(|_| !self.is_allowed(window))
    }

    fn scan(&self, bytes: &[u8]) -> Option<(usize, &str)> {
        self.scan_where(bytes, |_| false)
    }

    /// The first registered window in `bytes`, except where the fuzz input
    /// supplied the window (a secret the fuzzer chose) and either public
    /// bytes overlap it in `bytes` or `public(window)` holds. libFuzzer
    /// copies compared values into its input, so it can set a chosen
    /// secret to any bytes it sees compared, public ones included: a
    /// header's counters and the first ciphertext byte after them, say (a
    /// local fuzz run did). Windows wholly inside a leaked secret do not
    /// overlap public bytes, so a leak of 8 bytes or more is still found.
    fn scan_where(&self, bytes: &[u8], public: impl Fn(&[u8]) -> bool) -> Option<(usize, &str)> {
        // The per-byte filter test runs outside coverage instrumentation
        // (`sealwire_freed_scan::uninstrumented`); only its candidates,
        // rare, take the exact lookup here.
        let own: &[u64] = &self.windows.bloom;
        let filters: [&[u64]; 2] = match self.base {
            Some(base) => [&base.windows.bloom, own],
            None => [own, &[]],
        };
        let mut from = 0;
        while let Some(i) = uninstrumented::first_candidate(&filters, bytes, from) {
            from = i + 1;
            let Some(label) = self.find(window_at(bytes, i)) else {
                continue;
            };
            let window = &bytes[i..i + 8];
            let dismissed =
                self.input_holds(window) && (self.overlaps_allowed(bytes, i) || public(window));
            if !dismissed {
                return Some((i, label));
            }
        }
        None
    }

    /// True when an allowed string occurs in `bytes` overlapping the
    /// window at `i` (allowed strings are 8 bytes or more, so one of their
    /// windows then starts within 7 bytes of `i`).
    fn overlaps_allowed(&self, bytes: &[u8], i: usize) -> bool {
        let last = (i + 7).min(bytes.len() - 8);
        (i.saturating_sub(7)..=last).any(|j| j != i && self.is_allowed(window_at(bytes, j)))
    }

    /// [`scan`](Self::scan) of text as bytes, except that a window of
    /// printable ASCII that the fuzz input supplied is not a leak there:
    /// `Debug` and error texts are printable ASCII (labels, field names,
    /// numbers), and a fuzzer that chose a secret can copy any of that text
    /// into it. A real secret printed raw is random bytes, with a
    /// non-printable byte in some window all but surely; a secret the
    /// fuzzer made printable and a library printed raw is the price.
    fn scan_raw_text(&self, text: &[u8]) -> Option<(usize, &str)> {
        self.scan_where(text, |window| {
            window
                .iter()
                .all(|&c| c == b'\n' || (0x20..0x7f).contains(&c))
        })
    }

    /// Checks output bytes that were computed without the fuzz input's
    /// secrets (the fixture sessions' messages in a run whose input also
    /// carries keys): a window the input supplied is not a leak there, the
    /// fuzzer having copied it from that output.
    pub fn check_bytes_ignoring_input(&self, place: &str, bytes: &[u8]) -> Result<(), Leak> {
        output_leak(place, self.scan_where(bytes, |_| true))
    }

    /// Checks output bytes.
    pub fn check_bytes(&self, place: &str, bytes: &[u8]) -> Result<(), Leak> {
        output_leak(place, self.scan(bytes))
    }

    /// Checks text in every encoding a secret could take in it (see the
    /// module documentation). `kind` says which check this is.
    pub fn check_text(&self, kind: LeakKind, place: &str, text: &str) -> Result<(), Leak> {
        let leak = |secret: &str, at: String| Leak {
            kind,
            place: place.to_owned(),
            secret: secret.to_owned(),
            at,
        };
        if let Some((offset, secret)) = self.scan_raw_text(text.as_bytes()) {
            return Err(leak(secret, format!("raw text at byte {offset}")));
        }
        for (start, bytes) in hex_runs(text) {
            if let Some((offset, secret)) = self.scan(&bytes) {
                return Err(leak(
                    secret,
                    format!("hex digits at text byte {start} (+{offset} decoded)"),
                ));
            }
        }
        // Byte arrays and vectors print between brackets.
        if !text.contains('[') {
            return Ok(());
        }
        for (start, bytes) in number_runs(text) {
            if let Some((offset, secret)) = self.scan(&bytes) {
                return Err(leak(
                    secret,
                    format!("list of numbers at text byte {start} (element {offset})"),
                ));
            }
        }
        Ok(())
    }

    /// Checks `{:?}` of `value` only: for the fuzz targets' hot paths on
    /// types whose alternate form prints the same fields (derived `Debug`);
    /// `conformance/oracles/tests/leak_oracle.rs` checks both forms of every public
    /// type.
    pub fn check_debug_compact<T: fmt::Debug + ?Sized>(
        &self,
        place: &str,
        value: &T,
    ) -> Result<(), Leak> {
        self.check_text(LeakKind::Debug, place, &format!("{value:?}"))
    }

    /// True when the first 8-byte window of `bytes` is registered here
    /// (not in the base): a 32-byte secret seen before.
    pub(crate) fn knows_prefix(&self, bytes: &[u8]) -> bool {
        bytes.len() >= 8 && self.windows.get(window_at(bytes, 0)).is_some()
    }

    /// Checks `{:?}` and `{:#?}` of `value`.
    pub fn check_debug<T: fmt::Debug + ?Sized>(&self, place: &str, value: &T) -> Result<(), Leak> {
        self.check_text(LeakKind::Debug, place, &format!("{value:?}"))?;
        self.check_text(LeakKind::Debug, place, &format!("{value:#?}"))
    }

    /// Checks `Display`, `{:?}` and `{:#?}` of an error.
    pub fn check_error<E: fmt::Display + fmt::Debug + ?Sized>(
        &self,
        place: &str,
        error: &E,
    ) -> Result<(), Leak> {
        self.check_text(LeakKind::ErrorText, place, &error.to_string())?;
        self.check_text(LeakKind::ErrorText, place, &format!("{error:?}"))?;
        self.check_text(LeakKind::ErrorText, place, &format!("{error:#?}"))
    }
}

#[cfg(test)]
mod tests;
