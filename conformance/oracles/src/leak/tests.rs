//! Tests of `leak`.

use super::*;

const SECRET: [u8; 16] = [
    0x10, 0x21, 0x32, 0x43, 0x54, 0x65, 0x76, 0x87, 0x98, 0xa9, 0xba, 0xcb, 0xdc, 0xed, 0xfe, 0x0f,
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
