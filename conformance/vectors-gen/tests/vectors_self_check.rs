//! Every checked-in vector file is well formed (schema round trip, counts,
//! ids, flags, verdicts, naming) and there are at least 1,000 tests.
//! That every test passes on the reference implementation is checked by
//! `run_reference.rs`, through the runner.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

use sealwire_vectors::{Expect, SCHEMA_VERSION, TestCase, VectorFile, Verdict};

fn vector_files() -> Vec<(PathBuf, String)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../vectors");
    let mut out = Vec::new();
    for area in fs::read_dir(&dir).expect("conformance/vectors exists") {
        let area = area.expect("readable").path();
        if !area.is_dir() {
            continue;
        }
        for file in fs::read_dir(&area).expect("readable") {
            let path = file.expect("readable").path();
            if path.extension().is_some_and(|e| e == "json") {
                let text = fs::read_to_string(&path).expect("readable");
                out.push((
                    path.strip_prefix(&dir).expect("under dir").to_path_buf(),
                    text,
                ));
            }
        }
    }
    out.sort();
    out
}

fn parse(path: &Path, text: &str) -> VectorFile {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{}: not schema 1: {e}", path.display()))
}

#[test]
fn files_are_well_formed_and_hold_at_least_1000_tests() {
    let files = vector_files();
    assert!(!files.is_empty(), "no vector files");
    let mut per_area: BTreeMap<String, usize> = BTreeMap::new();
    for (path, text) in &files {
        let file = parse(path, text);
        let p = path.display();
        let mut again = serde_json::to_string_pretty(&file).expect("serializes");
        again.push('\n');
        assert!(&again == text, "{p}: schema round trip changes the file");
        assert_eq!(file.schema_version, SCHEMA_VERSION, "{p}");
        let area = path.parent().expect("area dir").display().to_string();
        let name = path
            .file_name()
            .expect("name")
            .to_string_lossy()
            .to_string();
        assert!(
            name.starts_with(&format!("{area}_")),
            "{p}: not named <area>_<condition>.json"
        );
        let tests: Vec<&TestCase> = file.test_groups.iter().flat_map(|g| &g.tests).collect();
        assert_eq!(file.number_of_tests, tests.len(), "{p}: numberOfTests");
        let ids: Vec<u32> = tests.iter().map(|t| t.tc_id).collect();
        assert_eq!(
            ids,
            (1..=tests.len() as u32).collect::<Vec<_>>(),
            "{p}: tcIds"
        );
        let mut used = BTreeSet::new();
        for t in &tests {
            assert!(
                !t.comment.is_empty() && !t.comment.contains('\n'),
                "{p} tcId {}",
                t.tc_id
            );
            assert!(!t.steps.is_empty(), "{p} tcId {}: no steps", t.tc_id);
            used.extend(t.flags.iter().cloned());
            let errors: Vec<&String> = t
                .steps
                .iter()
                .filter_map(|s| match &s.expect {
                    Expect::Error(c) => Some(c),
                    Expect::Ok(_) => None,
                })
                .collect();
            match t.result {
                Verdict::Valid => {
                    assert!(
                        errors.is_empty() && t.error.is_none(),
                        "{p} tcId {}",
                        t.tc_id
                    )
                }
                Verdict::Invalid => {
                    let class = t.error.as_ref().expect("invalid tests name their class");
                    assert!(
                        errors.contains(&class),
                        "{p} tcId {}: no step fails with {class}",
                        t.tc_id
                    );
                }
            }
        }
        let noted: BTreeSet<String> = file.notes.keys().cloned().collect();
        assert_eq!(used, noted, "{p}: flags used vs explained");
        *per_area.entry(area).or_default() += tests.len();
    }
    let total: usize = per_area.values().sum();
    println!("tests per area: {per_area:?}, total {total}");
    assert!(total >= 1000, "only {total} tests: {per_area:?}");
}
