//! The main job end to end: every checked-in vector passes against the
//! reference implementation, in process and over the adapter protocol
//! (`sealwire-conformance reference-adapter`), with nothing skipped and at
//! least 1,000 tests in the six areas of the issue.

use std::path::Path;

use sealwire_adapter::{AdapterConfig, AdapterImplementation};
use sealwire_conformance::{LoadedFile, RunOptions, RunReport, load_vectors, run};
use sealwire_conformance::{by_area, render_text};
use sealwire_reference::ReferenceImplementation;

const AREAS: [&str; 6] = ["primitives", "kdf", "handshake", "session", "wire", "state"];

fn vectors() -> Vec<LoadedFile> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("vectors");
    let (files, errors) = load_vectors(&dir);
    assert!(
        errors.is_empty(),
        "vector files that do not load:\n{}",
        errors.join("\n")
    );
    files
}

fn check(report: &RunReport) {
    let text = render_text(report);
    assert!(report.success(), "{text}");
    let (passed, failed, skipped) = report.counts();
    assert_eq!((failed, skipped), (0, 0), "{text}");
    assert!(passed >= 1000, "only {passed} tests ran:\n{text}");
    let areas = by_area(report);
    for area in AREAS {
        assert!(
            areas.get(area).is_some_and(|c| c.passed > 0),
            "no tests in area `{area}`:\n{text}"
        );
    }
}

#[test]
fn all_checked_in_vectors_pass_against_the_reference() {
    let report = run(
        &mut ReferenceImplementation::new(),
        &vectors(),
        &RunOptions::default(),
    );
    check(&report);
}

#[test]
fn all_checked_in_vectors_pass_over_the_adapter_protocol() {
    let command = format!(
        "{} reference-adapter",
        env!("CARGO_BIN_EXE_sealwire-conformance")
    );
    let mut adapter = match AdapterImplementation::spawn(AdapterConfig::new(command)) {
        Ok(adapter) => adapter,
        Err(e) => panic!("the reference adapter did not start: {e}"),
    };
    let report = run(&mut adapter, &vectors(), &RunOptions::default());
    check(&report);
}
