//! `sealwire-conformance`: runs the Sealwire v1 conformance vectors against
//! an implementation (the built-in reference by default, or any program
//! speaking the adapter protocol of ADAPTER.md), and the suite's other
//! commands (`sealwire-conformance help`).

use std::process::ExitCode;

// The self-test build (`--features planted-flaws`) scans every freed heap
// block for registered secrets, so the zoo's fuzz-oracle check sees
// secrets left in freed memory. A default build keeps the system allocator.
#[cfg(feature = "planted-flaws")]
#[global_allocator]
static ALLOC: sealwire_oracles::freed::ScanAlloc = sealwire_oracles::freed::ScanAlloc::new();

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    sealwire_conformance::command_line(&args)
}
