//! vodozemac's Olm, served in this process through its protocol-2 adapter
//! (`conformance/adapters/vodozemac`), fuzzed with coverage guidance: each
//! input is a recipe of mutations of one message of a recorded
//! conversation (`sealwire_blackbox::fuzz::recipe_from_bytes`), checked by
//! the black-box fuzzer's oracle (rejection, no plaintext on rejection,
//! state unchanged, no one-time prekey consumed, no leak in any answer or
//! log line, no crash or hang).
//!
//! Build it with `--no-cfg-fuzzing` (run.sh does): under `cfg(fuzzing)`
//! vodozemac 0.11.1 skips its MAC and signature checks, and every tampered
//! message would be "accepted". One recorded finding is stepped over
//! (`KnownFinding::AcceptedReencoding`, conformance/findings/vodozemac.notes.md):
//! vodozemac authenticates a re-encoding of the parsed fields, so some
//! byte-different copies of an authentic message are accepted and release
//! that message's plaintext. Any other accepted message fails.

#![no_main]

use std::io::{BufReader, PipeReader, PipeWriter};
use std::sync::{Mutex, OnceLock};

use libfuzzer_sys::fuzz_target;
use sealwire_blackbox::fuzz::{Harness, KnownFinding};
use sealwire_blackbox::transport::register_in_process;

fn serve(input: BufReader<PipeReader>, output: PipeWriter, log: PipeWriter) {
    sealwire_vodozemac_adapter::serve(input, output, log);
}

const KNOWN: &[KnownFinding] = &[KnownFinding::AcceptedReencoding];

static HARNESS: OnceLock<Mutex<Harness>> = OnceLock::new();

fn harness() -> &'static Mutex<Harness> {
    HARNESS.get_or_init(|| {
        register_in_process("vodozemac", serve);
        // The model's seed (the conversation's plaintexts and operations;
        // vodozemac draws its own keys).
        let seed = std::env::var("SEALWIRE_BLACKBOX_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(1);
        eprintln!("vodozemac_in_process: model seed {seed} (SEALWIRE_BLACKBOX_SEED)");
        match Harness::record("in-process:vodozemac", seed) {
            Ok(h) => Mutex::new(h),
            Err(e) => panic!("vodozemac_in_process: {e}"),
        }
    })
}

fuzz_target!(|data: &[u8]| {
    let mut h = harness().lock().unwrap_or_else(|p| p.into_inner());
    match h.check_with_known(data, KNOWN) {
        Ok(None) => {}
        Ok(Some(what)) => {
            let n = h.stepped_over();
            if n.is_power_of_two() {
                eprintln!(
                    "vodozemac_in_process: a known finding again ({n} inputs so far): {what}"
                );
            }
        }
        Err(e) => panic!("vodozemac_in_process: {e}"),
    }
});
