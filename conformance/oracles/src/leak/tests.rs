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

#[test]
fn a_supplied_secret_is_found_only_in_sealed_bytes() {
    // A key the fuzzer chose, equal to the hex reading of an AD's decimal
    // list (a CI run once did this), and to the counters of a header.
    let ad: Vec<u8> = (10..20).collect();
    let chosen: Vec<u8> = ad.iter().map(|&b| ((b / 10) << 4) | (b % 10)).collect();
    let mut s = LeakScanner::new();
    s.supplied(&chosen);
    s.add_secret("chosen key", &chosen);
    let text = format!("Ad({ad:?}) Key({chosen:?})");
    assert!(s.check_text(LeakKind::Debug, "t", &text).is_ok());
    assert!(s.check_bytes("header", &chosen).is_ok());
    // In bytes the library sealed it is a leak.
    let mut sealed = vec![0x42; 3];
    sealed.extend_from_slice(&chosen);
    let leak = s.check_sealed("body", &sealed).unwrap_err();
    assert_eq!(
        (leak.secret.as_str(), leak.at.as_str()),
        ("chosen key", "byte offset 3")
    );
}

#[test]
fn a_library_secret_is_found_in_every_reading_beside_supplied_bytes() {
    let mut s = scanner();
    s.supplied(&[7u8; 40]);
    s.supplied(b"Session { ad: AssociatedData([1, 2]) }");
    let hex: String = SECRET.iter().map(|b| format!("{b:02X}")).collect();
    for text in [
        format!("Session {{ ad: {:?}, key: {SECRET:?} }}", [7u8; 40]),
        format!("key=0{hex}"),
        format!("{:#x?}", &SECRET[4..14]),
    ] {
        assert!(
            s.check_text(LeakKind::Debug, "t", &text).is_err(),
            "missed: {text}"
        );
    }
    assert!(
        s.check_bytes("out", &[&[7u8; 9][..], &SECRET].concat())
            .is_err()
    );
}

#[test]
fn a_library_window_the_fuzzer_copied_is_an_echo_except_where_sealed() {
    // The fuzzer learned 8 bytes of a library secret from a comparison
    // and put them in its input; a decoded structure's Debug echoes them.
    let mut s = scanner();
    s.supplied(&[&[1u8, 2, 3][..], &SECRET[2..10], &[4u8]].concat());
    let echo = format!("Header({:?})", &SECRET[2..10]);
    assert!(s.check_text(LeakKind::Debug, "t", &echo).is_ok());
    // Its other windows are still the library's.
    let leak = s.check_bytes("out", &SECRET[3..11]).unwrap_err();
    assert_eq!(leak.at, "byte offset 0");
    assert!(s.check_sealed("body", &SECRET[2..10]).is_err());
}

#[test]
fn a_patch_taints_only_the_windows_it_changes() {
    let original: Vec<u8> = (0..32u8).map(|i| i.wrapping_mul(37) ^ 0x5c).collect();
    let mut patched = original.clone();
    patched[20] ^= 0xff;
    let mut s = LeakScanner::new();
    s.supplied_patch(&original, &patched);
    s.add_secret("patched state's key", &patched);
    for start in 0..=patched.len() - 8 {
        let window = &patched[start..start + 8];
        let tainted = (13..=20).contains(&start);
        assert_eq!(
            s.check_bytes("out", window).is_ok(),
            tainted,
            "window at {start}"
        );
        assert!(s.check_sealed("body", window).is_err());
    }
    // No patch, nothing supplied.
    let mut s = LeakScanner::new();
    s.supplied_patch(&original, &original);
    s.add_plaintext("state", &original);
    assert!(s.check_bytes("out", &original[13..21]).is_err());
}

#[test]
fn uniform_windows_are_not_registered() {
    let mut s = LeakScanner::new();
    s.add_plaintext("zeros", &[0u8; 32]);
    assert!(s.check_bytes("out", &[0u8; 64]).is_ok());
    assert_eq!(s.len(), 1);
}

#[test]
fn a_set_built_on_kept_tables_knows_only_its_own_windows() {
    let old: Vec<u8> = (0..3000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let new: Vec<u8> = (0..200u8).map(|b| b.wrapping_mul(7) ^ 0x5a).collect();
    let mut first = WindowSet::default();
    first.insert_all(&old, 3);
    let (table, filter) = (first.slots.len(), first.bloom.len());
    assert!(first.get(window_at(&old, 100)) == Some(3));
    drop(first);
    // The next set of this thread takes the wiped table and filter back.
    let mut second = WindowSet::default();
    second.insert_all(&new, 4);
    second.insert_all(&old[..600], 5);
    assert_eq!(second.bloom.len(), filter);
    assert!(second.slots.len() >= 256 && second.slots.len() <= table);
    assert_eq!(second.get(window_at(&new, 10)), Some(4));
    assert_eq!(second.get(window_at(&old, 10)), Some(5));
    let mut stale = 0;
    for i in 600..old.len() - 8 {
        let window = window_at(&old, i);
        if old[..600].windows(8).all(|w| w != &old[i..i + 8]) {
            assert_eq!(
                second.get(window),
                None,
                "a window of the dropped set at {i}"
            );
            stale += 1;
        }
    }
    assert!(stale > 1000, "{stale} windows of the dropped set looked up");
    assert_eq!(
        second.len,
        new.windows(8)
            .chain(old[..600].windows(8))
            .collect::<std::collections::HashSet<_>>()
            .len()
    );
}

/// A `Debug` that shows a key only in its alternate form.
struct AlternateShows([u8; 32]);

impl fmt::Debug for AlternateShows {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if f.alternate() {
            let hex: String = self.0.iter().map(|b| format!("{b:02x}")).collect();
            write!(f, "AlternateShows {{\n    key: {hex},\n}}")
        } else {
            f.write_str("AlternateShows { key: <redacted> }")
        }
    }
}

#[test]
fn a_secret_shown_only_in_the_alternate_form_is_found() {
    let key: [u8; 32] = core::array::from_fn(|i| (i as u8).wrapping_mul(29) ^ 0x6b);
    let mut s = scanner();
    s.add_secret("key", &key);
    let leak = s
        .check_debug("Debug of AlternateShows", &AlternateShows(key))
        .expect_err("the alternate form shows the key");
    assert_eq!((leak.kind, leak.secret.as_str()), (LeakKind::Debug, "key"));
    // A derived `Debug` of the same bytes is found in the compact form.
    #[derive(Debug)]
    #[allow(dead_code)] // Read by `Debug` only.
    struct Derived([u8; 32]);
    assert!(s.check_debug("Debug of Derived", &Derived(key)).is_err());
}
