//! SPEC.md and the code point at each other, and neither points at nothing:
//!
//! - every `SPEC.md §x.y` cited in the workspace's Rust sources names a
//!   section SPEC.md has;
//! - every SPEC.md section with a rule (an "Implemented in" line) names at
//!   least one test in its "Covered by" line, and every file it names
//!   exists;
//! - every function or type an "Implemented in" line names is defined in the
//!   file it is listed under, and the code cites that section.
//!
//! Files are read relative to this crate's directory (`conformance/`).

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::iter::Peekable;
use std::path::{Path, PathBuf};
use std::str::Lines;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn spec() -> String {
    fs::read_to_string(root().join("SPEC.md")).expect("SPEC.md is readable")
}

/// The section numbers of SPEC.md's headings: `## 6. Double Ratchet` gives
/// `6`, `### 6.4 Receiving` gives `6.4`.
fn sections(spec: &str) -> BTreeSet<String> {
    spec.lines()
        .filter_map(|line| {
            line.strip_prefix("## ")
                .or_else(|| line.strip_prefix("### "))
        })
        .filter_map(|title| title.split_whitespace().next())
        .map(|number| number.trim_end_matches('.').to_owned())
        .filter(|number| number.chars().next().is_some_and(|c| c.is_ascii_digit()))
        .collect()
}

/// One rule block of SPEC.md: the top-level section it sits in, and the
/// text of its "Implemented in" and "Covered by" paragraphs.
#[derive(Debug, Default)]
struct Rule {
    section: String,
    implemented_in: String,
    covered_by: String,
}

/// `first` and the lines after it up to a blank line or the next
/// "Implemented in:" or "Covered by:" line (left in `lines`).
fn paragraph_after(lines: &mut Peekable<Lines<'_>>, first: &str) -> String {
    let mut text = first.to_owned();
    while let Some(line) = lines.next_if(|line| {
        !line.trim().is_empty()
            && !line.starts_with("Implemented in:")
            && !line.starts_with("Covered by:")
    }) {
        text.push(' ');
        text.push_str(line);
    }
    text
}

fn rules(spec: &str) -> Vec<Rule> {
    let mut out = Vec::new();
    let mut section = String::new();
    let mut current: Option<Rule> = None;
    let mut lines = spec.lines().peekable();
    while let Some(line) = lines.next() {
        if let Some(title) = line.strip_prefix("## ") {
            if let Some(rule) = current.take() {
                out.push(rule);
            }
            section = title
                .split_whitespace()
                .next()
                .unwrap_or_default()
                .trim_end_matches('.')
                .to_owned();
        } else if let Some(rest) = line.strip_prefix("Implemented in:") {
            if let Some(rule) = current.take() {
                out.push(rule);
            }
            current = Some(Rule {
                section: section.clone(),
                implemented_in: paragraph_after(&mut lines, rest),
                covered_by: String::new(),
            });
        } else if let Some(rest) = line.strip_prefix("Covered by:") {
            let text = paragraph_after(&mut lines, rest);
            match current.as_mut() {
                Some(rule) if rule.covered_by.is_empty() => rule.covered_by = text,
                _ => out.push(Rule {
                    section: section.clone(),
                    implemented_in: String::new(),
                    covered_by: text,
                }),
            }
        }
    }
    out.extend(current);
    out
}

/// The backticked words of `text`.
fn ticked(text: &str) -> Vec<String> {
    text.split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect()
}

/// "Implemented in" text as file -> the names listed after it.
fn implementations(text: &str) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut file = None;
    for word in ticked(text) {
        if word.contains('/') {
            out.entry(word.clone()).or_default();
            file = Some(word);
        } else if let Some(file) = &file {
            out.get_mut(file).expect("entry made").push(word);
        }
    }
    out
}

/// Every `.rs` file under `dir`, skipping build output.
fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name();
        if path.is_dir() {
            if name != "target" && name != ".git" {
                rust_files(&path, out);
            }
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Every `SPEC.md §x.y` (and `§x.y` right after such a citation, as in
/// `SPEC.md §2 (Keys), §4 (...)`) in the workspace's Rust sources, with the
/// file that cites it.
fn citations() -> Vec<(String, PathBuf)> {
    let mut files = Vec::new();
    for dir in ["protocol", "conformance", "benches", "fuzz"] {
        rust_files(&root().join(dir), &mut files);
    }
    let mut out = Vec::new();
    for file in files {
        let text = fs::read_to_string(&file).expect("readable source");
        for (at, _) in text.match_indices("SPEC.md §") {
            // The citation and the rest of its line.
            let line = text[at..].lines().next().unwrap_or_default();
            for part in line.split('§').skip(1) {
                let number: String = part
                    .chars()
                    .take_while(|c| c.is_ascii_digit() || *c == '.')
                    .collect();
                let number = number.trim_end_matches('.').to_owned();
                if !number.is_empty() {
                    out.push((number, file.clone()));
                }
            }
        }
    }
    out
}

#[test]
fn the_code_cites_only_sections_spec_md_has() {
    let known = sections(&spec());
    assert!(known.contains("6.4") && known.contains("14.1"), "{known:?}");
    let cited = citations();
    assert!(cited.len() > 40, "only {} citations found", cited.len());
    let missing: Vec<String> = cited
        .iter()
        .filter(|(number, _)| !known.contains(number))
        .map(|(number, file)| format!("{}: §{number}", file.display()))
        .collect();
    assert!(
        missing.is_empty(),
        "SPEC.md has no such section:\n{}",
        missing.join("\n")
    );
}

#[test]
fn every_rule_names_tests_and_its_implementation_and_they_exist() {
    let spec = spec();
    let rules = rules(&spec);
    let with_rules: BTreeSet<&str> = rules.iter().map(|r| r.section.as_str()).collect();
    for section in ["2", "4", "5", "6", "7", "8", "9", "10"] {
        assert!(
            with_rules.contains(section),
            "§{section} states no rule: {with_rules:?}"
        );
    }
    let cited: BTreeSet<String> = citations()
        .into_iter()
        .filter(|(_, file)| file.starts_with(root().join("protocol/src")))
        .map(|(number, _)| number)
        .collect();
    let mut problems = Vec::new();
    for rule in &rules {
        let section = &rule.section;
        let tests: Vec<String> = ticked(&rule.covered_by)
            .into_iter()
            .filter(|w| w.contains('/'))
            .collect();
        if tests.is_empty() {
            problems.push(format!("§{section}: the rule names no test"));
        }
        for test in &tests {
            if !root().join(test.trim_end_matches('/')).exists() {
                problems.push(format!(
                    "§{section}: covered by `{test}`, which does not exist"
                ));
            }
        }
        let implementations = implementations(&rule.implemented_in);
        if implementations.is_empty() {
            problems.push(format!("§{section}: the rule names no implementation"));
        }
        for (file, names) in &implementations {
            let Ok(text) = fs::read_to_string(root().join(file)) else {
                problems.push(format!(
                    "§{section}: implemented in `{file}`, which does not exist"
                ));
                continue;
            };
            for name in names {
                let defined = ["fn ", "struct ", "enum ", "impl ", "trait "]
                    .iter()
                    .any(|kind| text.contains(&format!("{kind}{name}")));
                if !defined {
                    problems.push(format!("§{section}: `{name}` is not defined in `{file}`"));
                }
            }
        }
        let cites_it = cited
            .iter()
            .any(|c| c == section || c.starts_with(&format!("{section}.")));
        if !cites_it {
            problems.push(format!(
                "§{section}: no `SPEC.md §{section}` citation in protocol/src"
            ));
        }
    }
    assert!(
        problems.is_empty(),
        "SPEC.md <-> code:\n{}",
        problems.join("\n")
    );
}

/// The receive algorithm's steps are numbered in the code as in §6.4.
#[test]
fn the_receive_steps_are_numbered_in_the_code_as_in_spec_6_4() {
    let code = fs::read_to_string(root().join("protocol/src/ratchet.rs")).expect("readable");
    for step in [
        "Step 0", "Step 1", "Step 2", "Step 2.1", "Step 2.2", "Step 2.3", "Step 3", "Step 3.1",
        "Step 3.2", "Step 3.3", "Step 3.4",
    ] {
        assert!(
            [" ", ":", ","]
                .iter()
                .any(|end| code.contains(&format!("// {step}{end}"))),
            "protocol/src/ratchet.rs does not mark SPEC.md §6.4 {step}"
        );
    }
}

/// The checks above can fail: they see a missing section, a rule without a
/// test and an undefined function.
#[test]
fn the_checks_catch_what_they_look_for() {
    let spec = "## 2. Keys\n\nImplemented in: `protocol/src/keys.rs` (`no_such_fn`).\n\n\
                Covered by: nothing.\n\n## 3. Constants\n";
    assert_eq!(
        sections(spec),
        BTreeSet::from(["2".to_owned(), "3".to_owned()])
    );
    let rules = rules(spec);
    assert_eq!(rules.len(), 1);
    assert_eq!(rules[0].section, "2");
    assert!(ticked(&rules[0].covered_by).is_empty());
    let implementations = implementations(&rules[0].implemented_in);
    let text = fs::read_to_string(root().join("protocol/src/keys.rs")).expect("readable");
    assert_eq!(implementations["protocol/src/keys.rs"], ["no_such_fn"]);
    assert!(!text.contains("fn no_such_fn"));
}
