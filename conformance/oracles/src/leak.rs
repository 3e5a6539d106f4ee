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
//! * [`LeakScanner::check_debug`]: `{:?}` and `{:#?}` of a value (the
//!   second only where it is more than std's pretty layout of the first);
//! * [`LeakScanner::check_error`]: `Display` and `Debug` of an error.
//!
//! Secrets are told apart by where they came from, per 8-byte window. A
//! window the library drew from the oracle's generator or derived, and
//! which the fuzz input does not contain, is a leak wherever it shows. A
//! window that occurs in bytes the fuzzer supplied ([`LeakScanner::supplied`]:
//! a key in a state to restore, the differential target's message key, or
//! any bytes it copied from a comparison) is *tainted*: an output that
//! echoes the input can show it without any fault of the library, so it is
//! checked only where it cannot be an echo, in ciphertext that the library
//! sealed in this run ([`LeakScanner::check_sealed`]). Whether a tainted
//! secret shows in a rendering is checked differentially instead (the
//! `state_restore` and `differential_seal` targets render the same value
//! with other secret bytes and require the same text). So no rule depends
//! on which readings of which public bytes the fuzzer may hit: a false
//! alarm needs a 64-bit coincidence.
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
use text::{hex_runs, number_runs, output_leak};

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
        // In place: the tables keep their lengths for the pool.
        self.slots[..].zeroize();
        self.ids[..].zeroize();
        // Dense filters are mostly one bits, which can equal a low-entropy
        // key the fuzzer chose: wipe them too.
        self.bloom[..].zeroize();
        Pool::give(self);
    }
}

/// Wiped tables of dropped window sets, kept for the next sets of the same
/// thread. A fuzz target builds and drops its scanner once per execution:
/// allocating fresh zeroed pages for the tables, growing them step by step
/// and freeing them (each free scanned by the freed-memory check) took a
/// tenth to a fifth of the targets' time. A table taken from here is all
/// zero, as a new one would be.
struct Pool {
    /// `(slots, ids)` pairs, each `ids.len() == slots.len()`.
    tables: Vec<(Vec<u64>, Vec<u32>)>,
    blooms: Vec<Vec<u64>>,
}

impl Pool {
    /// At most this many tables and filters are kept (the smallest table
    /// goes first); a run of a fuzz target has two to four sets.
    const KEEP: usize = 8;

    /// Keeps the wiped tables of `set` (leaving it with none).
    fn give(set: &mut WindowSet) {
        let (slots, ids, bloom) = (
            core::mem::take(&mut set.slots),
            core::mem::take(&mut set.ids),
            core::mem::take(&mut set.bloom),
        );
        // During thread teardown the tables are simply freed (wiped).
        let _ = POOL.try_with(|pool| {
            let Ok(mut pool) = pool.try_borrow_mut() else {
                return;
            };
            if !slots.is_empty() {
                pool.tables.push((slots, ids));
                if pool.tables.len() > Self::KEEP {
                    pool.tables
                        .sort_by_key(|(slots, _)| core::cmp::Reverse(slots.len()));
                    pool.tables.truncate(Self::KEEP);
                }
            }
            if !bloom.is_empty() && pool.blooms.len() < Self::KEEP {
                pool.blooms.push(bloom);
            }
        });
    }

    /// The smallest kept table of at least `len` slots, or a new one.
    fn table(len: usize) -> (Vec<u64>, Vec<u32>) {
        POOL.try_with(|pool| {
            let mut pool = pool.try_borrow_mut().ok()?;
            let best = (0..pool.tables.len())
                .filter(|&i| pool.tables[i].0.len() >= len)
                .min_by_key(|&i| pool.tables[i].0.len())?;
            Some(pool.tables.swap_remove(best))
        })
        .ok()
        .flatten()
        .unwrap_or_else(|| (vec![0; len], vec![0; len]))
    }

    /// A kept (wiped) filter, or a new one.
    fn bloom() -> Vec<u64> {
        POOL.try_with(|pool| pool.try_borrow_mut().ok()?.blooms.pop())
            .ok()
            .flatten()
            .unwrap_or_else(|| vec![0; 1024])
    }
}

impl Drop for LeakScanner {
    fn drop(&mut self) {
        if self.base.is_some() {
            let size = self.windows.slots.len();
            let _ = LAST_WINDOWS_LEN.try_with(|last| last.set(size));
        }
    }
}

thread_local! {
    /// The size of the secrets table of this thread's last scanner with a
    /// base (see [`LeakScanner::with_base`]).
    static LAST_WINDOWS_LEN: core::cell::Cell<usize> = const { core::cell::Cell::new(0) };
    static POOL: core::cell::RefCell<Pool> = const {
        core::cell::RefCell::new(Pool {
            tables: Vec::new(),
            blooms: Vec::new(),
        })
    };
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
        let needed = (self.len + windows + 1) * 2;
        if needed > self.slots.len() {
            self.grow(needed);
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

    /// Moves the set into a table of at least `needed` slots (a power of
    /// two, at least 256; a kept one when there is one, see [`Pool`]).
    fn grow(&mut self, needed: usize) {
        let (slots, ids) = Pool::table(needed.next_power_of_two().max(256));
        let mut bigger = WindowSet {
            slots,
            ids,
            len: 0,
            bloom: std::mem::take(&mut self.bloom),
        };
        if bigger.bloom.is_empty() {
            bigger.bloom = Pool::bloom();
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
    /// The 8-byte windows of the byte strings the fuzzer supplied in this
    /// run: the input, and the parts of a patched structure that its
    /// patches changed (see [`supplied`](Self::supplied)). A set, so that
    /// the taint test of a window is one lookup, not a pass over the input
    /// (it runs for every window of every secret registered). Windows of
    /// one repeated byte are left out, as everywhere: they are never
    /// registered, here or in the freed-memory check.
    supplied: WindowSet,
    labels: Vec<Cow<'static, str>>,
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
    ///
    /// Its table of secrets and plaintexts starts at the size the last such
    /// scanner of this thread ended with (one run of a fuzz target is much
    /// like the one before), so that a run does not grow it step by step,
    /// rehashing each time. (The supplied set is sized by its one input.)
    pub fn with_base(base: &'static LeakScanner) -> Self {
        let mut scanner = Self::default();
        scanner.base = Some(base);
        let windows = LAST_WINDOWS_LEN.with(core::cell::Cell::get);
        if windows > 0 {
            scanner.windows.grow(windows);
        }
        scanner
    }

    fn label_id(&mut self, label: Cow<'static, str>, secret: bool) -> u32 {
        self.labels.push(label);
        self.is_secret.push(secret);
        (self.labels.len() - 1) as u32
    }

    /// Registers a secret: a key, a seed, a chain or message key. Its
    /// windows are also registered with the freed-memory check when that
    /// is watching (see [`freed`]), except the windows the fuzzer supplied
    /// (declare those first): they are also in libFuzzer's own copies of
    /// the input, which it frees, and in the harness's.
    pub fn add_secret(&mut self, label: impl Into<Cow<'static, str>>, bytes: &[u8]) {
        let label = label.into();
        if self.supplied.len == 0 {
            freed::register(&label, bytes);
        } else {
            for window in bytes.windows(8) {
                if !self.is_supplied(window) {
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

    /// Declares `bytes` supplied by the fuzzer (the input, or a structure
    /// taken whole from it). A registered window that occurs in supplied
    /// bytes is *tainted*: the fuzzer can know it (it chose it, or learned
    /// it from a comparison and copied it), so it is a leak only where it
    /// cannot be an echo of the input, in [`check_sealed`](Self::check_sealed).
    /// Every other registered window, one the library drew from the
    /// oracle's generator or derived, is a leak wherever it shows, in any
    /// reading of any output.
    pub fn supplied(&mut self, bytes: &[u8]) {
        self.supplied.insert_all(bytes, 0);
    }

    /// Declares supplied the windows of `patched` that its patches changed
    /// from `original` (the fixture's structure, whose other windows are
    /// the library's and stay untainted): each maximal run of changed
    /// bytes with the 7 bytes either side, so every window that overlaps a
    /// changed byte.
    pub fn supplied_patch(&mut self, original: &[u8], patched: &[u8]) {
        let changed = |i: usize| original.get(i) != patched.get(i);
        let mut i = 0;
        while i < patched.len() {
            if !changed(i) {
                i += 1;
                continue;
            }
            let start = i;
            while i < patched.len() && changed(i) {
                i += 1;
            }
            let from = start.saturating_sub(7);
            let to = (i + 7).min(patched.len());
            self.supplied(&patched[from..to]);
        }
    }

    /// True when the supplied bytes contain `window` (never for a window
    /// of one repeated byte, which nothing registers).
    fn is_supplied(&self, window: &[u8]) -> bool {
        <[u8; 8]>::try_from(window)
            .is_ok_and(|window| self.supplied.get(u64::from_le_bytes(window)).is_some())
    }

    /// True when this scanner has secrets or plaintexts of its own (not
    /// only its base's).
    pub fn has_own(&self) -> bool {
        self.secret_count > 0
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

    /// The first registered window in `bytes`; a tainted one (see
    /// [`supplied`](Self::supplied)) only when `sealed`.
    fn scan(&self, bytes: &[u8], sealed: bool) -> Option<(usize, &str)> {
        // The per-byte filter test runs outside coverage instrumentation
        // (`sealwire_freed_scan::uninstrumented`); only its candidates,
        // rare, take the exact lookup and the taint test here.
        let own: &[u64] = &self.windows.bloom;
        let filters: [&[u64]; 2] = match self.base {
            Some(base) => [&base.windows.bloom, own],
            None => [own, &[]],
        };
        let mut from = 0;
        while let Some(i) = uninstrumented::first_candidate(&filters, bytes, from) {
            from = i + 1;
            let Some(label) = self.find_registered(window_at(bytes, i)) else {
                continue;
            };
            if sealed || !self.is_supplied(&bytes[i..i + 8]) {
                return Some((i, label));
            }
        }
        None
    }

    /// Checks output bytes that may carry input (a header's public fields,
    /// a structure that re-encodes what was decoded): tainted windows are
    /// not leaks here.
    pub fn check_bytes(&self, place: &str, bytes: &[u8]) -> Result<(), Leak> {
        output_leak(place, self.scan(bytes, false))
    }

    /// Checks bytes that an AEAD produced in this run under a key the
    /// library derived, from a nonce or salt the input does not fix
    /// together with the plaintext: a message's body and tag, a sealed
    /// state. No window of them can be an echo (the fuzzer would have to
    /// choose a plaintext equal to a secret xor a key stream that depends
    /// on what it chose), so every registered window counts, tainted ones
    /// included: a key the fuzzer supplied must not show in its own
    /// ciphertext.
    pub fn check_sealed(&self, place: &str, bytes: &[u8]) -> Result<(), Leak> {
        output_leak(place, self.scan(bytes, true))
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
        if let Some((offset, secret)) = self.scan(text.as_bytes(), false) {
            return Err(leak(secret, format!("raw text at byte {offset}")));
        }
        for (start, bytes) in hex_runs(text) {
            if let Some((offset, secret)) = self.scan(&bytes, false) {
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
            if let Some((offset, secret)) = self.scan(&bytes, false) {
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
        self.check_both_forms(LeakKind::Debug, place, value)
    }

    /// `{:?}` of `value`, then `{:#?}` unless it is `{:?}` in std's pretty
    /// layout and nothing more ([`uninstrumented::same_layout`], fed as the
    /// formatter writes): then it shows nothing the first did not, and
    /// scanning it again, the longest text the targets make, was a fifth of
    /// `decode_wire`'s time. A hand-written `Debug` whose alternate form
    /// prints other text is scanned in both forms.
    fn check_both_forms<T: fmt::Debug + ?Sized>(
        &self,
        kind: LeakKind,
        place: &str,
        value: &T,
    ) -> Result<(), Leak> {
        let compact = format!("{value:?}");
        self.check_text(kind, place, &compact)?;
        // The alternate form is compared as it is written, not kept: a
        // formatter stops at the first piece that is more than layout.
        let mut layout = LayoutMatch {
            compact: compact.as_bytes(),
            layout: uninstrumented::Layout::default(),
        };
        if fmt::write(&mut layout, format_args!("{value:#?}")).is_ok()
            && uninstrumented::layout_end(&mut layout.layout, layout.compact)
        {
            return Ok(());
        }
        self.check_text(kind, place, &format!("{value:#?}"))
    }

    /// Checks `Display`, `{:?}` and `{:#?}` of an error.
    pub fn check_error<E: fmt::Display + fmt::Debug + ?Sized>(
        &self,
        place: &str,
        error: &E,
    ) -> Result<(), Leak> {
        self.check_text(LeakKind::ErrorText, place, &error.to_string())?;
        self.check_both_forms(LeakKind::ErrorText, place, error)
    }
}

/// A `fmt::Write` that matches what is written against a compact
/// rendering ([`uninstrumented::layout_feed`]) and fails at the first
/// mismatch.
struct LayoutMatch<'a> {
    compact: &'a [u8],
    layout: uninstrumented::Layout,
}

impl fmt::Write for LayoutMatch<'_> {
    fn write_str(&mut self, piece: &str) -> fmt::Result {
        if uninstrumented::layout_feed(&mut self.layout, self.compact, piece.as_bytes()) {
            Ok(())
        } else {
            Err(fmt::Error)
        }
    }
}

#[cfg(test)]
mod tests;
