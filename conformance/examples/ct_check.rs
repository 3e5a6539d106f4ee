//! dudect-style constant-time checks of the reference implementation, and
//! of the planted early-exit comparison (which must be detected).
//!
//! ```sh
//! cargo run --release -p sealwire-conformance --features planted-flaws --example ct_check
//! cargo run --release -p sealwire-conformance --features planted-flaws --example ct_check -- --samples 2000000 --repeat 5
//! # the ring build: seal::open, open_in_place and the Session paths then run ring's AEAD
//! cargo run --release -p sealwire-conformance --features planted-flaws,ring --example ct_check
//! ```
//!
//! Exit status 0 when every reference check stays below |t| = 5 and (with
//! `planted-flaws`) the planted comparison is detected. Takes minutes; it
//! is not part of `cargo test`.

use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use sealwire_conformance::ct::{self, BATCH, THRESHOLD};

fn main() {
    let mut samples = 300_000usize;
    let mut repeat = 3usize;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match (arg.as_str(), args.next().and_then(|n| n.parse().ok())) {
            ("--samples", Some(n)) => samples = n,
            ("--repeat", Some(n)) => repeat = n,
            _ => {
                eprintln!("usage: ct_check [--samples N] [--repeat R]");
                std::process::exit(2);
            }
        }
    }
    let mut rng = ChaCha20Rng::seed_from_u64(0x5ea1);
    println!(
        "dudect-style checks: {samples} samples of {BATCH} calls, median |t| of {repeat} runs, \
         leak when |t| >= {THRESHOLD}"
    );
    #[cfg_attr(not(feature = "planted-flaws"), allow(unused_mut))]
    let mut checks = ct::reference_checks(samples, repeat, &mut rng);
    // Every API that checks an authenticator.
    for (name, t) in ct::measure_tag_paths(ct::path_samples(samples), repeat, &mut rng) {
        checks.push(ct::Check {
            name,
            t,
            expect_leak: false,
        });
    }
    #[cfg(feature = "planted-flaws")]
    {
        let t = sealwire::flaws::with(sealwire::flaws::Flaw::NonConstantTimeCompare, || {
            ct::measure(samples, repeat, &mut rng, &mut ct::key_comparison())
        });
        checks.push(ct::Check {
            name: "PLANTED early-exit key comparison (must be detected)",
            t,
            expect_leak: true,
        });
        let (_, mut open_state) = ct::tag_paths()
            .into_iter()
            .find(|(name, _)| name.starts_with("Session::open_state, body"))
            .expect("the open_state path");
        let t = sealwire::flaws::with(sealwire::flaws::Flaw::SealedStateParsedBeforeVerify, || {
            ct::measure(ct::path_samples(samples), repeat, &mut rng, &mut open_state)
        });
        checks.push(ct::Check {
            name: "PLANTED sealed state parsed before its tag (must be detected)",
            t,
            expect_leak: true,
        });
    }
    let mut failed = false;
    for c in &checks {
        let verdict = match (c.ok(), c.expect_leak) {
            (true, false) => "ok: constant time",
            (true, true) => "ok: leak detected",
            (false, false) => "FAIL: timing leak",
            (false, true) => "FAIL: planted leak not detected",
        };
        failed |= !c.ok();
        println!("{:<64} |t| = {:>8.2}  {verdict}", c.name, c.t);
    }
    std::process::exit(i32::from(failed));
}
