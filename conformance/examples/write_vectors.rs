//! Rewrites every vector file under `conformance/vectors/` from fixed seeds.
//!
//! `cargo run -p sealwire-conformance --example write_vectors [DIR]`
//! (the `generate` subcommand of the binary does the same).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

fn main() -> ExitCode {
    let dir = std::env::args_os()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("vectors"));
    let started = Instant::now();
    match sealwire_conformance::generate::write_all(&dir) {
        Ok(()) => {
            println!(
                "wrote the vectors to {} in {:.2?}",
                dir.display(),
                started.elapsed()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("cannot write the vectors to {}: {e}", dir.display());
            ExitCode::FAILURE
        }
    }
}
