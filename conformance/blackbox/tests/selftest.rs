//! The model's self-test: every property holds against the reference
//! black-box adapter, and each planted flaw (the adapter's test-only
//! `SEALWIRE_BLACKBOX_PLANT`) is found as a violation of the property it
//! breaks, with a shrunk schedule and the seed.

use std::collections::BTreeSet;
use std::time::Duration;

use sealwire_blackbox::model::{self, Property, Verdict};

fn config(command: String, cases: u64) -> model::Config {
    model::Config {
        command,
        cases,
        seed: 11,
        max_ops: 32,
        timeout: Duration::from_secs(20),
        tolerate: BTreeSet::new(),
        fixed: true,
        shrink_runs: 40,
    }
}

fn adapter(plant: Option<&str>) -> String {
    let bin = env!("CARGO_BIN_EXE_reference-blackbox-adapter");
    match plant {
        Some(p) => format!("exec env SEALWIRE_BLACKBOX_PLANT={p} '{bin}'"),
        None => format!("exec '{bin}'"),
    }
}

#[test]
fn every_property_holds_against_the_reference() {
    let report = model::run(&config(adapter(None), 12)).expect("run");
    let text = report.render();
    for p in Property::ALL {
        assert!(
            matches!(report.verdicts[&p], Verdict::Held { checks } if checks > 0),
            "{}: {text}",
            p.name()
        );
    }
    assert!(text.ends_with("14 passed, 0 failed, 0 skipped\n"), "{text}");
}

#[test]
fn each_planted_flaw_is_found_by_its_property() {
    // A cache of old plaintexts answers replays and stolen copies alike:
    // whichever check meets it first reports it.
    for (plant, properties) in [
        (
            "replay-cache",
            &[Property::Rejection, Property::ForwardSecrecy][..],
        ),
        ("log-plaintext", &[Property::NoLeak]),
        ("touch-on-reject", &[Property::StateUnchanged]),
        ("burn-prekey-on-reject", &[Property::PrekeyUnchanged]),
        ("ignore-seed", &[Property::Interface]),
        ("duplicate-as-decryption-failed", &[Property::ErrorClasses]),
    ] {
        let report = model::run(&config(adapter(Some(plant)), 4)).expect("run");
        let text = report.render();
        let Some(Verdict::Violated(f)) = properties
            .iter()
            .map(|p| &report.verdicts[p])
            .find(|v| matches!(v, Verdict::Violated(_)))
        else {
            panic!("{plant}: none of {properties:?} violated:\n{text}");
        };
        assert!(
            f.reproduce.contains("--seed 11"),
            "{plant}: {}",
            f.reproduce
        );
        let (_, failed, _) = report.counts();
        assert!(failed >= 1 && text.contains(" failed, "), "{text}");
    }
}

#[test]
fn the_fuzzer_finds_a_planted_flaw_and_its_file_replays_it() {
    use sealwire_blackbox::fuzz;
    let out =
        std::env::temp_dir().join(format!("sealwire-blackbox-selftest-{}", std::process::id()));
    let clean = fuzz::run(&fuzz::FuzzConfig {
        command: adapter(None),
        runs: 300,
        seed: 5,
        timeout: Duration::from_secs(20),
        out: out.clone(),
    })
    .expect("run");
    assert!(
        clean.failures.is_empty() && clean.inputs > 250,
        "{}",
        clean.render()
    );
    let cfg = fuzz::FuzzConfig {
        command: adapter(Some("touch-on-reject")),
        runs: 50,
        seed: 5,
        timeout: Duration::from_secs(20),
        out: out.clone(),
    };
    let report = fuzz::run(&cfg).expect("run");
    let (f, path) = report.failures.first().expect("a failure");
    assert_eq!(f.property, "state_unchanged", "{}", report.render());
    assert!(!f.recipe.mutations.is_empty());
    let (_, again) = fuzz::replay(&cfg.command, path, cfg.timeout).expect("replay");
    assert_eq!(again.map(|v| v.property), Some(Property::StateUnchanged));
    // The clean adapter rejects the same input and stays unchanged.
    let (_, clean) = fuzz::replay(&adapter(None), path, cfg.timeout).expect("replay");
    assert_eq!(clean, None);
    let _ = std::fs::remove_dir_all(out);
}

#[test]
fn the_in_process_harness_checks_each_input_with_the_fuzzers_oracle() {
    use sealwire_blackbox::fuzz::{Harness, Mutation, recipe_from_bytes};
    // The encoding: target byte, then (operation, 4-byte position, 1-byte
    // operand) per mutation.
    let flip = [1u8, 0, 7, 0, 0, 0, 3];
    let decoded = recipe_from_bytes(&flip);
    assert_eq!(decoded.target, 1);
    assert_eq!(decoded.mutations, vec![Mutation::Flip { at: 7, bit: 3 }]);

    let mut clean = Harness::record(&adapter(None), 5).expect("record");
    assert!(clean.name().contains("reference"), "{}", clean.name());
    // No mutation: an authentic message, skipped. A flip of every target:
    // rejected, state unchanged, nothing leaked.
    clean.check(&[]).expect("authentic");
    for target in 0..6u8 {
        let mut input = flip;
        input[0] = target;
        clean.check(&input).expect("a flipped message is rejected");
    }
    // A truncation to nothing, then bytes of the input: a whole message
    // made by the fuzzer.
    let mut whole = vec![2u8, 4, 0, 0, 0, 0, 0, 3, 0, 0, 0, 0, 40];
    whole.extend((0..40u8).map(|i| i.wrapping_mul(29)));
    clean.check(&whole).expect("a made-up message is rejected");

    let mut flawed = Harness::record(&adapter(Some("touch-on-reject")), 5).expect("record");
    let mut input = flip;
    input[0] = 1;
    let err = flawed.check(&input).expect_err("the planted flaw");
    assert!(err.starts_with("state_unchanged"), "{err}");
    assert!(err.contains("recipe: {\"target\":1"), "{err}");

    // A known finding is stepped over only where it is exactly that
    // finding: a byte appended to Alice's same-chain message (target 2),
    // accepted as the message itself, is a re-encoding; the same input
    // releasing a made-up plaintext is a forgery and fails.
    use sealwire_blackbox::fuzz::KnownFinding;
    let extend = [2u8, 5, 0, 0, 0, 0, 1, 0x5a];
    assert_eq!(
        recipe_from_bytes(&extend).mutations,
        vec![Mutation::Extend { bytes: "5a".into() }]
    );
    let known = [KnownFinding::AcceptedReencoding];
    let mut lax = Harness::record(&adapter(Some("ignore-trailing-byte")), 5).expect("record");
    let err = lax.check(&extend).expect_err("without the known finding");
    assert!(err.starts_with("rejection (accepted)"), "{err}");
    let mut lax = Harness::record(&adapter(Some("ignore-trailing-byte")), 5).expect("record");
    let shown = lax
        .check_with_known(&extend, &known)
        .expect("a known re-encoding");
    assert!(shown.is_some_and(|s| s.starts_with("rejection (accepted)")));
    assert_eq!(lax.stepped_over(), 1);
    // Recorded afresh: the same input shows it again, and the other checks
    // go on (a flip is still rejected with the state unchanged).
    assert!(
        lax.check_with_known(&extend, &known)
            .expect("again")
            .is_some()
    );
    lax.check_with_known(&input, &known)
        .expect("a flip is rejected");
    assert_eq!(lax.stepped_over(), 2);
    let mut forger = Harness::record(&adapter(Some("forge-on-trailing-byte")), 5).expect("record");
    let err = forger
        .check_with_known(&extend, &known)
        .expect_err("a forged plaintext is never a known re-encoding");
    assert!(err.starts_with("rejection (accepted)"), "{err}");

    // Leaks are scanned from the recording on: a library that logs its
    // plaintexts fails before any input.
    let err = Harness::record(&adapter(Some("log-plaintext")), 5).expect_err("leak");
    assert!(err.contains("no_leak"), "{err}");
}
