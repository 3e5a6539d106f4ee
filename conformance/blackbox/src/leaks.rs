//! Leak checks in black-box mode (ADAPTER-v2.md §6): every canary plaintext
//! the runner sent and every secret the adapter's `secrets` op returned, as
//! 8-byte windows, searched in every response, every error and the
//! adapter's whole stderr, in the renderings the suite's leak scanner knows
//! (raw bytes, hex at both alignments, lists of decimal or hex numbers) and
//! in base64 (standard and URL-safe alphabets, every alignment) and in
//! Node's `util.inspect` rendering of a `Buffer` (`<Buffer 90 4c …>`:
//! space-separated hex pairs, which the scanner's number lists only read
//! between brackets).
//!
//! This is the only module that names the byte-exact suite's scanner.

use base64::Engine;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use sealwire_oracles::{Leak, LeakKind, LeakScanner};

use crate::client::{Exchange, Scan};

/// What was found where.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Found {
    /// The label of the canary or secret (never its bytes).
    pub what: String,
    /// Where: "response to `decrypt` (exchange 12)", "stderr", ….
    pub place: String,
    /// The rendering and offset.
    pub at: String,
}

impl std::fmt::Display for Found {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} found in {} ({})", self.what, self.place, self.at)
    }
}

/// The canaries and secrets of one adapter run.
#[derive(Debug, Default)]
pub struct LeakCheck {
    /// Canaries only: scanned in exported states too.
    plaintexts: LeakScanner,
    /// Canaries and secrets.
    everything: LeakScanner,
    canaries: usize,
    secrets: usize,
}

fn engine(alphabet: &alphabet::Alphabet) -> GeneralPurpose {
    GeneralPurpose::new(
        alphabet,
        GeneralPurposeConfig::new()
            .with_decode_padding_mode(DecodePaddingMode::Indifferent)
            .with_decode_allow_trailing_bits(true),
    )
}

impl LeakCheck {
    /// Nothing registered yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers a canary plaintext (shorter than 8 bytes: not searchable,
    /// not counted).
    pub fn add_canary(&mut self, label: String, bytes: &[u8]) {
        if bytes.len() >= 8 {
            self.canaries += 1;
            self.plaintexts.add_plaintext(label.clone(), bytes);
            self.everything.add_plaintext(label, bytes);
        }
    }

    /// Registers a secret the adapter reported.
    pub fn add_secret(&mut self, label: String, bytes: &[u8]) {
        if bytes.len() >= 8 {
            self.secrets += 1;
            self.everything.add_secret(label, bytes);
        }
    }

    /// How many canaries and secrets are registered.
    pub const fn counts(&self) -> (usize, usize) {
        (self.canaries, self.secrets)
    }

    /// Every leak in `transcript` and `stderr` (the first per place).
    pub fn scan(&self, transcript: &[Exchange], stderr: &[u8]) -> Vec<Found> {
        let mut found = Vec::new();
        for (i, exchange) in transcript.iter().enumerate() {
            let scanner = match exchange.scan {
                Scan::Everything => &self.everything,
                Scan::PlaintextsOnly => &self.plaintexts,
                Scan::Nothing => continue,
            };
            let place = format!("the answer to `{}` (exchange {i})", exchange.op);
            if let Some(f) = scan_text(scanner, &place, &exchange.line) {
                found.push(f);
            }
        }
        if let Err(leak) = self.everything.check_bytes("stderr", stderr) {
            found.push(from_leak(&leak));
        } else if let Some(f) =
            scan_text(&self.everything, "stderr", &String::from_utf8_lossy(stderr))
        {
            found.push(f);
        }
        found
    }
}

fn from_leak(leak: &Leak) -> Found {
    Found {
        what: leak.secret.clone(),
        place: leak.place.clone(),
        at: leak.at.clone(),
    }
}

fn scan_text(scanner: &LeakScanner, place: &str, text: &str) -> Option<Found> {
    if let Err(leak) = scanner.check_text(LeakKind::Output, place, text) {
        return Some(from_leak(&leak));
    }
    for (start, bytes) in node_buffers(text) {
        if let Err(leak) = scanner.check_bytes(place, &bytes) {
            return Some(Found {
                what: leak.secret,
                place: place.to_owned(),
                at: format!("Node <Buffer …> at text byte {start} ({})", leak.at),
            });
        }
    }
    for (start, run) in base64_runs(text) {
        for (name, alphabet) in [
            ("base64", &alphabet::STANDARD),
            ("base64url", &alphabet::URL_SAFE),
        ] {
            let engine = engine(alphabet);
            for skip in 0..4.min(run.len()) {
                let mut part = &run[skip..];
                // Whole groups only: a lone trailing character never decodes.
                if part.len() % 4 == 1 {
                    part = &part[..part.len() - 1];
                }
                let Ok(bytes) = engine.decode(part) else {
                    continue;
                };
                if let Err(leak) = scanner.check_bytes(place, &bytes) {
                    return Some(Found {
                        what: leak.secret,
                        place: place.to_owned(),
                        at: format!("{name} at text byte {} ({})", start + skip, leak.at),
                    });
                }
            }
        }
    }
    None
}

/// The bytes of every `<Buffer xx xx …>` (Node's `util.inspect` of a
/// `Buffer` or `Uint8Array`-backed buffer, as `console.log` prints it) and
/// where each starts. The pairs are read up to the first token that is not
/// two hex digits (Node ends a long one with `… N more bytes>`).
fn node_buffers(text: &str) -> Vec<(usize, Vec<u8>)> {
    const TAG: &str = "<Buffer";
    let mut out = Vec::new();
    for (start, _) in text.match_indices(TAG) {
        let mut bytes = Vec::new();
        for token in text[start + TAG.len()..].split(' ').skip(1) {
            let pair = token.strip_suffix('>').unwrap_or(token);
            let Some(&[byte]) = crate::hex::decode(pair).as_deref() else {
                break;
            };
            bytes.push(byte);
            if pair.len() != token.len() {
                break;
            }
        }
        if bytes.len() >= 8 {
            out.push((start, bytes));
        }
    }
    out
}

/// Maximal runs of at least 12 base64 characters (either alphabet), with
/// padding stripped, and where each starts.
fn base64_runs(text: &str) -> Vec<(usize, &str)> {
    let is_b64 = |c: u8| c.is_ascii_alphanumeric() || matches!(c, b'+' | b'/' | b'-' | b'_');
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let start = i;
        while i < bytes.len() && is_b64(bytes[i]) {
            i += 1;
        }
        if i - start >= 12 {
            out.push((start, &text[start..i]));
        }
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exchange(line: &str, scan: Scan) -> Exchange {
        Exchange {
            op: "decrypt",
            line: line.to_owned(),
            scan,
        }
    }

    /// SW-2026-003: Node's `console.info` of a session object prints its
    /// keys as `<Buffer 90 4c …>`, with no bracket anywhere in the line.
    #[test]
    fn node_buffer_rendering_is_found() {
        let secret: Vec<u8> = (0u8..32).map(|i| i.wrapping_mul(37) ^ 0x5c).collect();
        let mut check = LeakCheck::new();
        check.add_secret("root key".into(), &secret);
        let pairs = |b: &[u8]| {
            b.iter()
                .map(|x| format!("{x:02x}"))
                .collect::<Vec<_>>()
                .join(" ")
        };
        let whole = format!(
            "Closing session: {{\n  currentRatchet: {{\n    rootKey: <Buffer {}>,\n  }}\n}}",
            pairs(&secret)
        );
        assert!(!whole.contains('['));
        // The other renderings alone do not find it (the reason for this one).
        assert!(
            check
                .everything
                .check_text(LeakKind::Output, "stderr", &whole)
                .is_ok()
        );
        let found = check.scan(&[], whole.as_bytes());
        assert_eq!(found.len(), 1, "{whole}");
        assert_eq!(found[0].what, "root key");
        assert!(found[0].at.starts_with("Node <Buffer"), "{}", found[0].at);
        // A long buffer ends with `... N more bytes>`; a window inside the
        // shown part is still found, in an answer as in stderr.
        let long = format!("<Buffer {} ... 18 more bytes>", pairs(&secret[4..14]));
        assert_eq!(
            check.scan(&[exchange(&long, Scan::Everything)], b"").len(),
            1
        );
        // Fewer than 8 shown bytes, other bytes, or a broken pair: clean.
        for clean in [
            format!("<Buffer {}>", pairs(&secret[..7])),
            format!(
                "<Buffer {}>",
                pairs(&[0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99])
            ),
            format!(
                "<Buffer {} 7 {}>",
                pairs(&secret[..4]),
                pairs(&secret[5..12])
            ),
        ] {
            assert!(check.scan(&[], clean.as_bytes()).is_empty(), "{clean}");
        }
    }

    #[test]
    fn canaries_and_secrets_are_found_in_every_rendering() {
        let canary = *b"\x91\x02\xe3\x14\xa5\x36\xc7\x58\x09\xfa";
        let secret = [
            0x5au8, 0x13, 0x77, 0xc4, 0x02, 0x9e, 0x61, 0xd8, 0x3f, 0x10, 0xaa, 0x42,
        ];
        let mut check = LeakCheck::new();
        check.add_canary("canary 1".into(), &canary);
        check.add_secret("secret 1".into(), &secret);
        let b64 = base64::engine::general_purpose::STANDARD.encode(secret);
        let b64url = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(canary);
        let hex = crate::hex::encode(&secret);
        let decimal = format!("{:?}", canary);
        for (text, what) in [
            (format!("key={b64}"), "secret 1"),
            (format!("k {b64url} end"), "canary 1"),
            (format!("{{\"x\":\"{hex}\"}}"), "secret 1"),
            (format!("bytes {decimal}"), "canary 1"),
        ] {
            let found = check.scan(&[exchange(&text, Scan::Everything)], b"");
            assert_eq!(found.len(), 1, "{text}");
            assert_eq!(found[0].what, what, "{text}");
            let found = check.scan(&[], text.as_bytes());
            assert_eq!(found.len(), 1, "stderr: {text}");
            assert_eq!(found[0].place, "stderr");
        }
        // An exported state may hold secrets, not canaries; `secrets`
        // answers are not scanned.
        let line = format!("{{\"state\":\"{hex}\"}}");
        assert!(
            check
                .scan(&[exchange(&line, Scan::PlaintextsOnly)], b"")
                .is_empty()
        );
        assert!(
            check
                .scan(&[exchange(&line, Scan::Nothing)], b"")
                .is_empty()
        );
        let line = format!("{{\"state\":\"{}\"}}", crate::hex::encode(&canary));
        assert_eq!(
            check
                .scan(&[exchange(&line, Scan::PlaintextsOnly)], b"")
                .len(),
            1
        );
        // Unrelated text is clean.
        assert!(
            check
                .scan(
                    &[exchange("{\"ok\":{}}", Scan::Everything)],
                    b"all good here 0123456789abcdef"
                )
                .is_empty()
        );
    }
}
