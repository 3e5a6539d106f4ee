//! The checked-in vectors are exactly what the generator makes from its
//! fixed seeds: they cannot drift silently from the reference crate.

use std::path::Path;

use sealwire_vectors::check_all;

#[test]
fn checked_in_vectors_equal_a_fresh_generation() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../vectors");
    if let Err(problems) = check_all(&dir) {
        panic!(
            "{} vector file(s) under {} differ from a fresh generation:\n  {}\n\
             Regenerate them with `cargo run -p sealwire-conformance -- generate`, \
             review the diff and commit it.",
            problems.len(),
            dir.display(),
            problems.join("\n  ")
        );
    }
}

/// The drift check itself can fail: it reports a changed, a missing and an
/// extra file.
#[test]
fn check_all_reports_changed_missing_and_extra_files() {
    let dir = std::env::temp_dir().join(format!("sealwire-vectors-drift-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    sealwire_vectors::write_all(&dir).expect("writes the vectors");
    let changed = dir.join("kdf/kdf_message_keys.json");
    let missing = dir.join("wire/wire_header.json");
    let extra = dir.join("session/session_not_generated.json");
    let text = std::fs::read_to_string(&changed).expect("written");
    std::fs::write(&changed, text.replacen("\"valid\"", "\"invalid\"", 1)).expect("writable");
    std::fs::remove_file(&missing).expect("written");
    std::fs::write(&extra, "{}\n").expect("writable");
    let problems = check_all(&dir).expect_err("three files are wrong");
    assert_eq!(problems.len(), 3, "{problems:?}");
    assert!(
        problems
            .iter()
            .any(|p| p.starts_with("differs: ") && p.contains("kdf_message_keys"))
    );
    assert!(
        problems
            .iter()
            .any(|p| p.starts_with("missing: ") && p.contains("wire_header"))
    );
    assert!(
        problems
            .iter()
            .any(|p| p.starts_with("not generated: ") && p.contains("session_not_generated"))
    );
    std::fs::remove_dir_all(&dir).expect("removes the temporary copy");
}
