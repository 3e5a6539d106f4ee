//! `sealwire-reference-adapter`: the reference implementation served over
//! the adapter protocol on stdin/stdout (`conformance/ADAPTER.md`), the same
//! server as `sealwire-conformance reference-adapter`, without the suite.

use std::process::ExitCode;

use sealwire_reference::{ReferenceImplementation, serve};

fn main() -> ExitCode {
    if let Some(extra) = std::env::args().nth(1) {
        eprintln!("sealwire-reference-adapter takes no arguments (got `{extra}`)");
        return ExitCode::from(2);
    }
    let stdin = std::io::stdin().lock();
    let stdout = std::io::stdout().lock();
    match serve(&mut ReferenceImplementation::new(), stdin, stdout) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("sealwire-reference-adapter: {e}");
            ExitCode::FAILURE
        }
    }
}
