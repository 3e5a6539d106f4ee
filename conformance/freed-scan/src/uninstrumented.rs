//! Hot loops of the leak oracle (`sealwire-oracles`) kept out of libFuzzer's
//! coverage instrumentation.
//!
//! cargo-fuzz compiles every crate with LLVM's SanitizerCoverage pass
//! (`-Cpasses=sancov-module` plus `-sanitizer-coverage-trace-compares`), so
//! every comparison in the oracle's per-byte scanning loops called back into
//! libFuzzer: most of a fuzz target's time went there, and the oracle's own
//! branches counted as coverage. SanitizerCoverage skips every function whose
//! symbol starts with `__sanitizer_` (LLVM
//! `ModuleSanitizerCoverage::instrumentFunction`: "Don't instrument
//! `__sanitizer_*` callbacks"), and rustc runs the pass after its
//! optimisation pipeline, so what is inlined into such a function is not
//! instrumented either. The functions here therefore carry exported names
//! with that prefix (`#[unsafe(export_name)]`, the reason they live in this
//! crate, the one that may use `unsafe` attributes) and are never inlined
//! into their (instrumented) callers. They hold no secret state: they read
//! the slices they are given and return offsets or decoded bytes.
//!
//! The names are unique to this crate (`__sanitizer_sealwire_*`), so they
//! cannot collide with the sanitizer runtimes.

/// The multiplier of the window filters' hash (must match the filter's
/// builder in `sealwire-oracles`).
pub const FILTER_HASH: u64 = 0xD6E8_FEB8_6659_FD93;

/// The bit a window sets in a 65,536-bit filter (`filter.len() == 1024`).
#[inline(always)]
pub fn filter_bit(window: u64) -> u64 {
    window.wrapping_mul(FILTER_HASH) >> 48
}

/// The first offset `i >= from` at which the 8-byte window of `bytes`
/// (little-endian) has its bit set in any of `filters` (each of 1,024 words,
/// or empty for an empty set): the candidates an exact lookup then checks.
#[inline(never)]
#[unsafe(export_name = "__sanitizer_sealwire_first_candidate")]
pub fn first_candidate(filters: &[&[u64]], bytes: &[u8], from: usize) -> Option<usize> {
    if bytes.len() < 8 {
        return None;
    }
    for i in from..=bytes.len() - 8 {
        let mut w = [0u8; 8];
        w.copy_from_slice(&bytes[i..i + 8]);
        let h = filter_bit(u64::from_le_bytes(w));
        for filter in filters {
            if filter.len() == 1024 && (filter[(h >> 6) as usize] >> (h & 63)) & 1 == 1 {
                return Some(i);
            }
        }
    }
    None
}

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

#[inline(always)]
const fn hex_value(digit: u8) -> u8 {
    if digit <= b'9' {
        digit - b'0'
    } else {
        (digit | 0x20) - b'a' + 10
    }
}

/// Every maximal run of at least 16 hex digits in `text`, decoded at
/// alignment 0 and at alignment 1, with the run's start in the text.
#[inline(never)]
#[unsafe(export_name = "__sanitizer_sealwire_hex_runs")]
pub fn hex_runs(text: &[u8]) -> Vec<(usize, Vec<u8>)> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < text.len() {
        let start = i;
        while i < text.len() && matches!(CLASS[text[i] as usize], DEC | HEX) {
            i += 1;
        }
        if i - start >= 16 {
            let run = &text[start..i];
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

#[inline(always)]
fn flush(run: &mut (usize, Vec<u8>), out: &mut Vec<(usize, Vec<u8>)>) {
    if run.1.len() >= 8 {
        out.push((run.0, core::mem::take(&mut run.1)));
    } else {
        run.1.clear();
    }
}

#[inline(always)]
fn value(digits: &[u8], radix: u32) -> Option<u8> {
    let mut v: u32 = 0;
    for &c in digits {
        v = v * radix + u32::from(hex_value(c));
    }
    u8::try_from(v).ok()
}

/// Every maximal run of at least 8 numbers 0..=255 in `text` separated only
/// by spaces, commas, newlines and brackets, read two ways: as decimal
/// numbers (`{:?}` of a byte array; `0x` prefixes allowed) and as hex
/// numbers of at most two digits (`{:x?}` of a byte array, which prints no
/// prefix). One pass over the text builds both.
#[inline(never)]
#[unsafe(export_name = "__sanitizer_sealwire_number_runs")]
pub fn number_runs(text: &[u8]) -> Vec<(usize, Vec<u8>)> {
    let mut out = Vec::new();
    // Index 0: decimal reading, index 1: hex reading.
    let mut runs: [(usize, Vec<u8>); 2] = [(0, Vec::new()), (0, Vec::new())];
    let mut i = 0;
    while i < text.len() {
        let class = CLASS[text[i] as usize];
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
        while i < text.len() && matches!(CLASS[text[i] as usize], DEC | HEX | X) {
            i += 1;
        }
        let token = &text[start..i];
        let prefixed = token.len() > 2 && token[0] == b'0' && CLASS[token[1] as usize] == X;
        let digits = if prefixed { &token[2..] } else { token };
        let all_hex = digits
            .iter()
            .all(|&c| matches!(CLASS[c as usize], DEC | HEX));
        let all_dec = digits.iter().all(|&c| CLASS[c as usize] == DEC);
        let readings = [
            if prefixed && all_hex && digits.len() <= 2 {
                value(digits, 16)
            } else if !prefixed && all_dec && digits.len() <= 3 {
                value(digits, 10)
            } else {
                None
            },
            if all_hex && !digits.is_empty() && digits.len() <= 2 {
                value(digits, 16)
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

/// True when `pretty` is `compact` laid out by std's pretty printer and
/// nothing else: the two are equal once, in `pretty`, every newline with
/// the spaces after it and every comma before a closing `]`, `}` or `)`
/// (after such a newline) are dropped, and, in `compact`, every space after
/// a comma or an opening `{` and before a closing `}`. That is how `{:#?}`
/// of a derived `Debug` differs from `{:?}` (std's `DebugStruct`,
/// `DebugTuple`, `DebugList`, `DebugMap` and its indenting `PadAdapter`).
///
/// When it holds, `pretty` shows nothing that `compact` does not: its hex
/// digit runs and number lists are those of `compact` or pieces of them,
/// and its other 8-byte windows differ from `compact`'s only where std put
/// layout. The leak oracle then scans `compact` alone; any other pair (a
/// hand-written `Debug` whose alternate form prints more or other text)
/// is scanned in both forms.
pub fn same_layout(compact: &[u8], pretty: &[u8]) -> bool {
    let mut layout = Layout::default();
    layout_feed(&mut layout, compact, pretty) && layout_end(&mut layout, compact)
}

/// [`same_layout`] fed `pretty` piece by piece, as a formatter writes it:
/// [`layout_feed`] with every piece, then [`layout_end`]. So the alternate
/// form need not be kept (or even finished: a `Formatter` stops at the
/// first piece that does not match).
#[derive(Clone, Copy, Debug, Default)]
pub struct Layout {
    /// Where in `compact` the next byte of `pretty` must match.
    at: usize,
    /// Inside layout: after a newline, skipping spaces.
    in_layout: bool,
    /// A comma of `pretty` not matched yet: dropped if layout and a closing
    /// bracket follow, else matched before what follows.
    comma: bool,
    /// A newline came after that comma.
    comma_then_newline: bool,
}

/// Feeds the next piece of `pretty`; false as soon as it cannot match.
#[inline(never)]
#[unsafe(export_name = "__sanitizer_sealwire_layout_feed")]
pub fn layout_feed(layout: &mut Layout, compact: &[u8], piece: &[u8]) -> bool {
    for &byte in piece {
        if byte == b'\n' {
            layout.in_layout = true;
            layout.comma_then_newline |= layout.comma;
            continue;
        }
        if layout.in_layout && byte == b' ' {
            continue;
        }
        layout.in_layout = false;
        if layout.comma {
            layout.comma = false;
            let dropped = layout.comma_then_newline && matches!(byte, b']' | b'}' | b')');
            layout.comma_then_newline = false;
            if !dropped && !match_next(layout, compact, b',') {
                return false;
            }
        }
        if byte == b',' {
            layout.comma = true;
            continue;
        }
        if !match_next(layout, compact, byte) {
            return false;
        }
    }
    true
}

/// After the last piece: true when `pretty` matched all of `compact`.
#[inline(never)]
#[unsafe(export_name = "__sanitizer_sealwire_layout_end")]
pub fn layout_end(layout: &mut Layout, compact: &[u8]) -> bool {
    if layout.comma && !match_next(layout, compact, b',') {
        return false;
    }
    layout.comma = false;
    skip_compact_spaces(layout, compact);
    layout.at == compact.len()
}

/// In `compact`, the spaces std puts after `,` and `{` and before `}`.
#[inline(always)]
fn skip_compact_spaces(layout: &mut Layout, compact: &[u8]) {
    let mut i = layout.at;
    while i < compact.len()
        && compact[i] == b' '
        && i > 0
        && (matches!(compact[i - 1], b',' | b'{') || compact.get(i + 1) == Some(&b'}'))
    {
        i += 1;
    }
    layout.at = i;
}

#[inline(always)]
fn match_next(layout: &mut Layout, compact: &[u8], byte: u8) -> bool {
    skip_compact_spaces(layout, compact);
    if compact.get(layout.at) == Some(&byte) {
        layout.at += 1;
        true
    } else {
        false
    }
}

/// The multiplier of the window sets' slot hash.
pub const SLOT_HASH: u64 = 0x9E37_79B9_7F4A_7C15;

/// Linear probing in an open-addressing table of 8-byte windows (`slots`,
/// a power of two long, 0 marking an empty slot, never full): `Ok(slot)`
/// where `window` is, or `Err(slot)`, the empty slot where it would go.
/// The oracle's window sets probe here on every secret registered and every
/// candidate window looked up, so the probing loop's comparisons are kept
/// out of the coverage callbacks.
#[inline(never)]
#[unsafe(export_name = "__sanitizer_sealwire_probe")]
pub fn probe(slots: &[u64], window: u64) -> Result<usize, usize> {
    let mask = slots.len() - 1;
    let mut slot = (window.wrapping_mul(SLOT_HASH) >> 32) as usize & mask;
    loop {
        match slots[slot] {
            0 => return Err(slot),
            v if v == window => return Ok(slot),
            _ => slot = (slot + 1) & mask,
        }
    }
}

/// Moves every window of `old_slots` (with its id in `old_ids`) into the
/// empty, larger table `slots`/`ids` (see [`probe`]); returns how many.
/// The per-slot loop of a window set's growth, kept out of the coverage
/// callbacks like the probing.
#[inline(never)]
#[unsafe(export_name = "__sanitizer_sealwire_rehash")]
pub fn rehash(old_slots: &[u64], old_ids: &[u32], slots: &mut [u64], ids: &mut [u32]) -> usize {
    let mut moved = 0;
    for (&window, &id) in old_slots.iter().zip(old_ids) {
        if window == 0 {
            continue;
        }
        if let Err(slot) = probe(slots, window) {
            slots[slot] = window;
            ids[slot] = id;
            moved += 1;
        }
    }
    moved
}

/// Inserts every 8-byte window of `bytes` (little-endian) that is not one
/// byte repeated into the table `slots`/`ids` (see [`probe`]) with `id`,
/// setting each one's bit in the 65,536-bit `filter` (see
/// [`filter_bit`]); returns how many were new. The caller makes room first:
/// the table must keep an empty slot after every insertion (it is at most
/// half full after `bytes.len()` more). Allocates nothing, so no copy of a
/// window is ever freed.
#[inline(never)]
#[unsafe(export_name = "__sanitizer_sealwire_insert_windows")]
pub fn insert_windows(
    slots: &mut [u64],
    ids: &mut [u32],
    filter: &mut [u64],
    bytes: &[u8],
    id: u32,
) -> usize {
    if bytes.len() < 8 {
        return 0;
    }
    let mut added = 0;
    for w in bytes.windows(8) {
        if w.iter().all(|&b| b == w[0]) {
            continue;
        }
        let mut le = [0u8; 8];
        le.copy_from_slice(w);
        let window = u64::from_le_bytes(le);
        if let Err(slot) = probe(slots, window) {
            slots[slot] = window;
            ids[slot] = id;
            added += 1;
            let bit = filter_bit(window);
            filter[(bit >> 6) as usize] |= 1 << (bit & 63);
        }
    }
    added
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    #[allow(dead_code)] // Read by `Debug` only.
    struct Inner {
        key: [u8; 4],
        name: &'static str,
    }

    #[derive(Debug)]
    #[allow(dead_code)] // Read by `Debug` only.
    struct Outer {
        version: u8,
        inner: Inner,
        list: Vec<Inner>,
        empty: Vec<u8>,
        maybe: Option<(u32, bool)>,
        unit: (),
        tagged: Tagged,
    }

    #[derive(Debug)]
    #[allow(dead_code)] // Read by `Debug` only.
    enum Tagged {
        Tuple(u8, [u16; 2]),
    }

    /// Prints more in its alternate form, as a hand-written `Debug` may.
    struct Sneaky;

    impl core::fmt::Debug for Sneaky {
        fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
            if f.alternate() {
                f.write_str("Sneaky { k: 0011223344556677 }")
            } else {
                f.write_str("Sneaky { k: .. }")
            }
        }
    }

    #[test]
    fn std_pretty_layout_is_recognised_and_anything_else_is_not() {
        let value = Outer {
            version: 1,
            inner: Inner {
                key: [0, 10, 200, 255],
                name: "a,b {c}\n",
            },
            list: vec![
                Inner {
                    key: [1; 4],
                    name: "",
                },
                Inner {
                    key: [2; 4],
                    name: "}",
                },
            ],
            empty: Vec::new(),
            maybe: Some((7, true)),
            unit: (),
            tagged: Tagged::Tuple(3, [4, 5]),
        };
        let (compact, pretty) = (format!("{value:?}"), format!("{value:#?}"));
        assert_ne!(compact, pretty);
        assert!(
            same_layout(compact.as_bytes(), pretty.as_bytes()),
            "{pretty}"
        );
        let (sneaky, sneaky_pretty) = (format!("{:?}", Sneaky), format!("{:#?}", Sneaky));
        assert!(!same_layout(sneaky.as_bytes(), sneaky_pretty.as_bytes()));
        // Any change of a byte that is not layout is seen.
        for (at, &byte) in pretty.as_bytes().iter().enumerate() {
            if byte == b'\n' || byte == b' ' || byte == b',' {
                continue;
            }
            let mut changed = pretty.clone().into_bytes();
            changed[at] ^= 0x01;
            assert!(!same_layout(compact.as_bytes(), &changed), "byte {at}");
        }
        // Layout added where std puts none, or text added at the end.
        assert!(!same_layout(b"[1, 2]", b"[1,\n    2\n    3]"));
        assert!(!same_layout(b"[1, 2]", b"[\n    1,\n    2,\n]x"));
        assert!(!same_layout(b"ab cd", b"ab\n    cd"));
        assert!(same_layout(b"[1, 2]", b"[\n    1,\n    2,\n]"));
        assert!(
            !same_layout(b"[1, 2]", b"[\n    1,\n    2,]"),
            "a comma std does not drop"
        );
        assert!(!same_layout(b"[1, 2]", b"[\n    1,\n    2,\n"), "cut short");
        assert!(same_layout(b"A { a: 1 }", b"A {\n    a: 1,\n}"));
        assert!(same_layout(b"", b""));
        // Fed in pieces of every size, as a formatter writes: the same.
        for size in [1, 2, 3, 5, 8, 64] {
            let mut layout = Layout::default();
            assert!(
                pretty.as_bytes().chunks(size).all(|piece| layout_feed(
                    &mut layout,
                    compact.as_bytes(),
                    piece
                )) && layout_end(&mut layout, compact.as_bytes()),
                "pieces of {size}"
            );
        }
        // Conservative inside strings: a ", " in a string's text is not
        // layout, so such a pair is scanned in both forms.
        let quoted = Inner {
            key: [0; 4],
            name: "a, b",
        };
        let (compact, pretty) = (format!("{quoted:?}"), format!("{quoted:#?}"));
        assert!(!same_layout(compact.as_bytes(), pretty.as_bytes()));
    }

    #[test]
    fn probe_finds_what_rehash_moved_and_the_empty_slot_of_the_rest() {
        let (mut slots, mut ids) = (vec![0u64; 8], vec![0u32; 8]);
        for (id, window) in [3u64, 11, 19, 0x0102_0304_0506_0708]
            .into_iter()
            .enumerate()
        {
            let Err(slot) = probe(&slots, window) else {
                panic!("{window} found in an empty table");
            };
            slots[slot] = window;
            ids[slot] = id as u32;
        }
        let (mut big, mut big_ids) = (vec![0u64; 32], vec![0u32; 32]);
        assert_eq!(rehash(&slots, &ids, &mut big, &mut big_ids), 4);
        for (id, window) in [3u64, 11, 19, 0x0102_0304_0506_0708]
            .into_iter()
            .enumerate()
        {
            let Ok(slot) = probe(&big, window) else {
                panic!("{window} lost by the rehash");
            };
            assert_eq!(big_ids[slot], id as u32);
        }
        let mut filter = vec![0u64; 1024];
        let bytes = [1u8, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 9, 9, 9, 9, 9, 9];
        // The windows at offsets 0 to 7 are new; those at 8 and 9 are one
        // byte repeated and are not taken.
        assert_eq!(
            insert_windows(&mut big, &mut big_ids, &mut filter, &bytes, 7),
            8
        );
        assert_eq!(
            insert_windows(&mut big, &mut big_ids, &mut filter, &bytes, 8),
            0
        );
        let window = u64::from_le_bytes([1, 2, 3, 4, 5, 6, 7, 8]);
        let Ok(slot) = probe(&big, window) else {
            panic!("an inserted window is missing");
        };
        assert_eq!(big_ids[slot], 7);
        let bit = filter_bit(window);
        assert_eq!((filter[(bit >> 6) as usize] >> (bit & 63)) & 1, 1);
        assert!(probe(&big, u64::from_le_bytes([9; 8])).is_err());
        let Err(empty) = probe(&big, 42) else {
            panic!("42 was never inserted");
        };
        assert_eq!(big[empty], 0);
    }
}
