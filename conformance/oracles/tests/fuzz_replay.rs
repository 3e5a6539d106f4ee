//! Replays every checked-in fuzz seed (`conformance/oracles/seeds/<target>/*`) and every
//! past crash input (`conformance/oracles/regressions/<target>/*`) through the oracle of
//! its target, on stable Rust, as part of `cargo test`.

use std::path::{Path, PathBuf};

use sealwire_oracles::{Target, seeds};

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf()
}

fn inputs(kind: &str, target: Target) -> Vec<PathBuf> {
    let dir = fuzz_dir().join(kind).join(target.name());
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_file() && p.file_name().is_some_and(|n| n != ".gitkeep"))
        .collect();
    files.sort();
    files
}

fn replay(kind: &str) -> usize {
    let mut failures = Vec::new();
    let mut count = 0;
    for target in Target::ALL {
        for path in inputs(kind, target) {
            let data = std::fs::read(&path).expect("readable input");
            count += 1;
            if let Err(violation) = target.run(&data) {
                failures.push(format!("{}: {violation}", path.display()));
            }
        }
    }
    assert!(failures.is_empty(), "violations:\n{}", failures.join("\n"));
    count
}

#[test]
fn every_seed_passes_its_oracle() {
    let count = replay("seeds");
    // Every target has seeds checked in.
    for target in Target::ALL {
        assert!(
            !inputs("seeds", target).is_empty(),
            "no seeds for {} (run the fuzz_seeds example)",
            target.name()
        );
    }
    assert!(count >= seeds::seeds().len());
}

#[test]
fn every_past_crash_input_passes_its_oracle() {
    // Zero inputs is fine here: regressions are added when a crash is fixed.
    replay("regressions");
}

#[test]
fn checked_in_seeds_are_the_generated_ones() {
    for seed in seeds::seeds() {
        let path = fuzz_dir()
            .join("seeds")
            .join(seed.target.name())
            .join(&seed.name);
        let on_disk = std::fs::read(&path)
            .unwrap_or_else(|e| panic!("{}: {e} (run the fuzz_seeds example)", path.display()));
        assert_eq!(
            on_disk,
            seed.data,
            "{} is stale: run `cargo run -p sealwire-oracles --example fuzz_seeds`",
            path.display()
        );
    }
    assert!(seeds::schedules_round_trip());
}
