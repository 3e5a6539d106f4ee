//! Prints the ratio table from one criterion run.
//!
//! Usage: `ratio-report [CRITERION_DIR]`; the directory defaults to
//! `$CARGO_TARGET_DIR/criterion` (or `target/criterion`). Exits with 1 when
//! `--check` is given and a tracked target is missed or not measured.

use std::path::PathBuf;
use std::process::ExitCode;

use sealwire_benches::report::{Estimates, render, verdicts};

fn main() -> ExitCode {
    let mut check = false;
    let mut dir = None;
    for arg in std::env::args().skip(1) {
        match arg.as_str() {
            "--check" => check = true,
            "-h" | "--help" => {
                println!("usage: ratio-report [--check] [CRITERION_DIR]");
                return ExitCode::SUCCESS;
            }
            other => dir = Some(PathBuf::from(other)),
        }
    }
    let dir = dir.unwrap_or_else(|| {
        std::env::var_os("CARGO_TARGET_DIR")
            .map_or_else(|| PathBuf::from("target"), PathBuf::from)
            .join("criterion")
    });
    if !dir.is_dir() {
        eprintln!(
            "no criterion output at {}: run the benches first",
            dir.display()
        );
        return ExitCode::FAILURE;
    }
    let est = Estimates::new(dir);
    print!("{}", render(&est));
    if check && verdicts(&est).iter().any(|(_, _, _, met)| !met) {
        eprintln!("ratio-report: at least one target missed or not measured");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
