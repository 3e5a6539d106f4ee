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

use super::freed;

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

fn slot_of(window: u64, mask: usize) -> usize {
    (window.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32) as usize & mask
}

impl WindowSet {
    fn get(&self, window: u64) -> Option<u32> {
        let h = window.wrapping_mul(0xD6E8_FEB8_6659_FD93) >> 48;
        if self.len == 0 || (self.bloom[(h >> 6) as usize] >> (h & 63)) & 1 == 0 {
            return None;
        }
        let mask = self.slots.len() - 1;
        let mut slot = slot_of(window, mask);
        loop {
            match self.slots[slot] {
                0 => return None,
                v if v == window => return Some(self.ids[slot]),
                _ => slot = (slot + 1) & mask,
            }
        }
    }

    fn insert(&mut self, window: u64, id: u32) {
        if window == 0 || self.get(window).is_some() {
            return;
        }
        if (self.len + 1) * 2 > self.slots.len() {
            self.grow();
        }
        let mask = self.slots.len() - 1;
        let mut slot = slot_of(window, mask);
        while self.slots[slot] != 0 {
            slot = (slot + 1) & mask;
        }
        self.slots[slot] = window;
        self.ids[slot] = id;
        self.len += 1;
        let h = window.wrapping_mul(0xD6E8_FEB8_6659_FD93) >> 48;
        self.bloom[(h >> 6) as usize] |= 1 << (h & 63);
    }

    fn grow(&mut self) {
        let new_len = (self.slots.len() * 2).max(256);
        let mut bigger = WindowSet {
            slots: vec![0; new_len],
            ids: vec![0; new_len],
            len: 0,
            bloom: vec![0; 1024],
        };
        for (&w, &id) in self.slots.iter().zip(&self.ids) {
            if w != 0 {
                bigger.insert(w, id);
            }
        }
        // The old tables are wiped by `Drop` when replaced.
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
        for i in 0..=bytes.len() - 8 {
            let window = &bytes[i..i + 8];
            if window.iter().all(|&b| b == window[0]) {
                continue;
            }
            self.windows.insert(window_at(bytes, i), id);
        }
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
        self.secret_input.windows(8).any(|w| w == window)
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
            .any(|bytes| bytes.windows(8).any(|w| *w == window))
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
        if bytes.len() < 8 {
            return None;
        }
        (0..=bytes.len() - 8).find_map(|i| {
            let label = self.find(window_at(bytes, i))?;
            let window = &bytes[i..i + 8];
            let dismissed =
                self.input_holds(window) && (self.overlaps_allowed(bytes, i) || public(window));
            (!dismissed).then_some((i, label))
        })
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
    /// `conformance/tests/leak_oracle.rs` checks both forms of every public
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

// Character classes for the text scans, looked up in one table (fuzz
// builds instrument every comparison, so fewer branches is faster).
const OTHER: u8 = 0;
const DEC: u8 = 1; // 0-9
const HEX: u8 = 2; // a-f, A-F
const SEP: u8 = 3; // space, comma, newline, tab, CR, brackets
const X: u8 = 4; // x, X (a `0x` prefix)

const CLASS: [u8; 256] = {
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

const fn hex_value(digit: u8) -> u8 {
    if digit <= b'9' {
        digit - b'0'
    } else {
        (digit | 0x20) - b'a' + 10
    }
}

/// The leak a byte scan found, if any.
fn output_leak(place: &str, found: Option<(usize, &str)>) -> Result<(), Leak> {
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
const fn decimal_read_as_hex(b: u8) -> Option<u8> {
    if b < 100 {
        Some(((b / 10) << 4) | (b % 10))
    } else {
        None
    }
}

/// The byte that `{:x?}` of `b` (hex, no prefix) reads as in the decimal
/// reading: `0x10` prints `10`, which is 10. None when a hex digit is a
/// letter (the decimal reading stops there).
const fn hex_read_as_decimal(b: u8) -> Option<u8> {
    let (high, low) = (b >> 4, b & 0x0f);
    if high <= 9 && low <= 9 {
        Some(high * 10 + low)
    } else {
        None
    }
}

/// Every maximal run of at least 16 hex digits, decoded at alignment 0 and
/// at alignment 1, with the run's start in the text.
fn hex_runs(text: &str) -> Vec<(usize, Vec<u8>)> {
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
fn number_runs(text: &str) -> Vec<(usize, Vec<u8>)> {
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

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: [u8; 16] = [
        0x10, 0x21, 0x32, 0x43, 0x54, 0x65, 0x76, 0x87, 0x98, 0xa9, 0xba, 0xcb, 0xdc, 0xed, 0xfe,
        0x0f,
    ];

    fn scanner() -> LeakScanner {
        let mut s = LeakScanner::new();
        s.add_plaintext("test secret", &SECRET);
        s
    }

    #[test]
    fn finds_every_window_in_bytes_and_nothing_in_clean_bytes() {
        let s = scanner();
        for start in 0..=SECRET.len() - 8 {
            let mut out = vec![0xee; 5];
            out.extend_from_slice(&SECRET[start..start + 8]);
            out.push(1);
            let leak = s.check_bytes("out", &out).unwrap_err();
            assert_eq!(leak.secret, "test secret");
            assert_eq!(leak.at, "byte offset 5");
        }
        // Seven bytes of it are not a leak.
        assert!(s.check_bytes("out", &SECRET[..7]).is_ok());
        assert!(s.check_bytes("out", &[0u8; 64]).is_ok());
    }

    #[test]
    fn finds_hex_in_both_cases_and_alignments_and_number_lists() {
        let s = scanner();
        let lower: String = SECRET[3..11].iter().map(|b| format!("{b:02x}")).collect();
        let upper = lower.to_uppercase();
        for text in [
            format!("key={lower}"),
            format!("key=7{upper}"),
            format!("Key({:?})", &SECRET[..8]),
            format!("{:#?}", &SECRET[2..12]),
            format!("{:02x?}", &SECRET[..9]),
        ] {
            assert!(
                s.check_text(LeakKind::Debug, "t", &text).is_err(),
                "missed: {text}"
            );
        }
        assert!(
            s.check_text(
                LeakKind::Debug,
                "t",
                "Key(<redacted>) [1, 2, 3, 4, 5, 6, 7, 8, 9]"
            )
            .is_ok()
        );
    }

    /// A scanner whose secret `chosen` shows in `text` until `public` is
    /// allowed.
    fn allowed_hides(public: &[u8], chosen: &[u8], text: &str) -> LeakScanner {
        let mut s = LeakScanner::new();
        s.add_plaintext("chosen secret", chosen);
        assert!(s.check_text(LeakKind::Debug, "t", text).is_err(), "{text}");
        s.allow(public);
        assert!(s.check_text(LeakKind::Debug, "t", text).is_ok(), "{text}");
        s
    }

    #[test]
    fn misreadings_of_allowed_bytes_are_allowed() {
        // The hex reading of public bytes' decimal list.
        let public: Vec<u8> = (10..20).collect();
        let misread: Vec<u8> = public.iter().map(|&b| (b / 10) << 4 | (b % 10)).collect();
        allowed_hides(&public, &misread, &format!("Ad({public:?})"));
        // The decimal reading of public bytes' hex list.
        let public: Vec<u8> = (0x10..0x1a).collect();
        let misread: Vec<u8> = public.iter().map(|&b| (b >> 4) * 10 + (b & 15)).collect();
        allowed_hides(&public, &misread, &format!("Ad({public:x?})"));
        // The hex of public bytes decoded a nibble off.
        let public: Vec<u8> = (0x31..0x3b).collect();
        let shifted: Vec<u8> = public.windows(2).map(|w| w[0] << 4 | w[1] >> 4).collect();
        let hex: String = public.iter().map(|b| format!("{b:02x}")).collect();
        let mut s = allowed_hides(&public, &shifted, &format!("Key({hex})"));
        // The secret's own windows are still found in that text.
        s.add_plaintext("secret", &SECRET);
        let text = format!("Ad({public:x?}) Key({SECRET:?})");
        assert!(s.check_text(LeakKind::Debug, "t", &text).is_err());
    }

    #[test]
    fn printable_secret_from_the_input_is_not_found_in_raw_text() {
        let text = "Session { ad: AssociatedData([1, 2]) }";
        let chosen = &text.as_bytes()[..16];
        let mut s = LeakScanner::new();
        s.add_plaintext("chosen secret", chosen);
        // Not from the input: found.
        assert!(s.check_text(LeakKind::Debug, "t", text).is_err());
        // From the input: the fuzzer copied the label into it.
        s.input_has_secrets(chosen);
        assert!(s.check_text(LeakKind::Debug, "t", text).is_ok());
        // A secret from the input with a control character, printed raw,
        // is found.
        let raw = [0x01, b'A', 0x02, b'B', 0x03, b'C', 0x04, b'D'];
        s.add_plaintext("raw secret", &raw);
        s.input_has_secrets(&raw);
        let text = format!("k={}", core::str::from_utf8(&raw).unwrap());
        assert!(s.check_text(LeakKind::Debug, "t", &text).is_err());
    }

    #[test]
    fn chosen_secret_straddling_public_bytes_is_not_a_leak() {
        let header = [7u8, 1, 2, 3, 4, 5, 6, 7, 8, 9];
        let mut out = header.to_vec();
        out.extend_from_slice(&SECRET);
        // A chosen secret equal to the header's last 7 bytes and one more.
        let chosen = out[3..11].to_vec();
        let mut s = LeakScanner::new();
        s.add_plaintext("chosen", &chosen);
        s.allow(&header);
        assert!(
            s.check_bytes("out", &out).is_err(),
            "not from the input yet"
        );
        s.input_has_secrets(&chosen);
        assert!(s.check_bytes("out", &out).is_ok());
        // A chosen secret printed whole after the header is still found,
        // by its windows that do not overlap the header.
        s.add_plaintext("secret", &SECRET);
        s.input_has_secrets(&[&chosen[..], &SECRET[..]].concat());
        let leak = s.check_bytes("out", &out).unwrap_err();
        assert_eq!(
            (leak.secret.as_str(), leak.at.as_str()),
            ("secret", "byte offset 10")
        );
        // Output computed without the input's secrets ignores them.
        assert!(s.check_bytes_ignoring_input("out", &out).is_ok());
    }

    #[test]
    fn uniform_windows_are_not_registered() {
        let mut s = LeakScanner::new();
        s.add_plaintext("zeros", &[0u8; 32]);
        assert!(s.check_bytes("out", &[0u8; 64]).is_ok());
        assert_eq!(s.len(), 1);
    }
}
