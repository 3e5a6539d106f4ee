//! The checked-in vectors are exactly what the generator makes from its
//! fixed seeds: they cannot drift silently from the reference crate.

use std::path::Path;

use sealwire_conformance::generate::check_all;

#[test]
fn checked_in_vectors_equal_a_fresh_generation() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("vectors");
    if let Err(problems) = check_all(&dir) {
        panic!(
            "{} vector file(s) under {} differ from a fresh generation:\n  {}\n\
             Regenerate them with `cargo run -p sealwire-conformance -- generate` \
             (or `cargo run -p sealwire-conformance --example write_vectors`), \
             review the diff and commit it.",
            problems.len(),
            dir.display(),
            problems.join("\n  ")
        );
    }
}
