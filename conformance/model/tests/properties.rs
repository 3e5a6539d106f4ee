//! The adversarial-network model (`sealwire_model`) run
//! in process against the reference implementation.
//!
//! Default case counts keep a debug `cargo test` short. Overnight:
//! `SEALWIRE_PROPTEST_CASES=20000 cargo test --release -p sealwire-model --test properties`.
//! `SEALWIRE_PROPTEST_SEED=<u64>` changes (or replays) the run's seed; a
//! failing case is persisted in `conformance/proptest-regressions/` and
//! replayed first by every later run.

use std::sync::Mutex;

use proptest::test_runner::{
    Config, FileFailurePersistence, RngAlgorithm, RngSeed, TestCaseError, TestRunner,
};
use sealwire_adapter::{Capability, Implementation, OpError, Output, Request};
use sealwire_model::Property;
use sealwire_model::{
    CampaignOptions, Case, Coverage, HandshakeCase, MAX_OPS, case, check_case, check_handshake,
    compromise_and_max_skip, handshake_case, store_eviction,
};
use sealwire_reference::ReferenceImplementation;
use std::collections::BTreeSet;

/// Cases per test unless `SEALWIRE_PROPTEST_CASES` says otherwise.
const SESSION_CASES: u32 = 192;
const HANDSHAKE_CASES: u32 = 128;
/// The seed of the default (CI) run; `SEALWIRE_PROPTEST_SEED` overrides it.
const DEFAULT_SEED: u64 = 0x5ea1_0001;

const SESSION_REGRESSIONS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/proptest-regressions/properties_sessions.txt"
);
const HANDSHAKE_REGRESSIONS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/proptest-regressions/properties_handshake.txt"
);

fn runner(cases: u32, regressions: &'static str) -> (TestRunner, u64) {
    let options = CampaignOptions::from_env(cases, Some(DEFAULT_SEED));
    let seed = options.seed.unwrap_or(DEFAULT_SEED);
    let config = Config {
        cases: options.cases,
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(regressions))),
        rng_algorithm: RngAlgorithm::ChaCha,
        rng_seed: RngSeed::Fixed(seed),
        max_shrink_iters: 4096,
        ..Config::default()
    };
    (TestRunner::new(config), seed)
}

#[test]
fn sessions_on_an_adversarial_network_keep_every_property() {
    let (mut runner, seed) = runner(SESSION_CASES, SESSION_REGRESSIONS);
    let total = Mutex::new(Coverage::default());
    let result = runner.run(&case(MAX_OPS), |case: Case| {
        let mut imp = ReferenceImplementation::new();
        let coverage = check_case(&mut imp, &case)
            .map_err(|v| TestCaseError::fail(format!("{v}\nshrunk case:\n{case}")))?;
        total.lock().unwrap().add(&coverage);
        Ok(())
    });
    if let Err(e) = result {
        panic!("run seed {seed} (SEALWIRE_PROPTEST_SEED={seed} replays it): {e}");
    }
    // The run exercised what it claims to check.
    let total = total.into_inner().unwrap();
    println!("coverage: {total:?}");
    for class in ["duplicate", "decryption_failed", "wire"] {
        assert!(
            total.rejected.get(class).copied().unwrap_or(0) > 0,
            "no `{class}` rejection: {total:?}"
        );
    }
    assert!(total.state_compared > 0 && total.restarts > 0, "{total:?}");
    assert!(
        total.forward_secrecy_checks > 0 && total.post_compromise_checks > 0,
        "{total:?}"
    );
    assert!(
        total.copy_decryptions > 0,
        "no copy ever decrypted: {total:?}"
    );
    // The independent spec model recomputed every send, every acceptance
    // and every rejection compared for state (the reference has `state`).
    assert!(total.spec_checks > total.accepted, "{total:?}");
}

/// The reference with every ratchet message's last byte (its tag) flipped
/// as it leaves: a sent message no SPEC.md computation gives.
struct FlipsTags(ReferenceImplementation);

impl Implementation for FlipsTags {
    fn name(&self) -> &str {
        self.0.name()
    }
    fn capabilities(&self) -> &BTreeSet<Capability> {
        self.0.capabilities()
    }
    fn call(&mut self, request: &Request) -> Result<Output, OpError> {
        let mut out = self.0.call(request)?;
        if matches!(request, Request::Encrypt { .. })
            && let Some(message) = out.get("message").and_then(|m| m.as_str())
        {
            let mut bytes = hex::decode(message).expect("the reference's hex");
            *bytes.last_mut().expect("a message") ^= 1;
            out.insert("message".into(), hex::encode(bytes).into());
        }
        Ok(out)
    }
}

#[test]
fn a_message_the_spec_model_would_not_send_is_caught_where_it_is_sent() {
    let case = compromise_and_max_skip();
    let v = check_case(&mut FlipsTags(ReferenceImplementation::new()), &case)
        .expect_err("a flipped tag must be found");
    assert_eq!(v.property, Property::SpecModel, "{v}");
    assert!(
        v.detail.contains("sent message") && v.detail.contains("another message"),
        "{v}"
    );
}

#[test]
fn bad_bundles_and_forged_initial_messages_never_produce_a_session() {
    let (mut runner, seed) = runner(HANDSHAKE_CASES, HANDSHAKE_REGRESSIONS);
    let result = runner.run(&handshake_case(), |case: HandshakeCase| {
        let mut imp = ReferenceImplementation::new();
        check_handshake(&mut imp, &case)
            .map_err(|v| TestCaseError::fail(format!("{v}\nshrunk case:\n{case}")))
    });
    if let Err(e) = result {
        panic!("run seed {seed} (SEALWIRE_PROPTEST_SEED={seed} replays it): {e}");
    }
}

/// A compromise healed by a DH round trip, then exactly MAX_SKIP skipped
/// keys (accepted) and MAX_SKIP + 1 (`ratchet_limit`).
#[test]
fn fixed_schedule_through_a_compromise_and_max_skip() {
    let case = compromise_and_max_skip();
    let mut imp = ReferenceImplementation::new();
    let coverage = check_case(&mut imp, &case).unwrap_or_else(|v| panic!("{v}\n{case}"));
    // One requested attempt, and two automatic ones on the first turn-5
    // messages Bob accepts.
    assert_eq!(coverage.post_compromise_checks, 3, "{coverage:?}");
    assert_eq!(
        coverage.forward_secrecy_checks, 1,
        "the initial message: {coverage:?}"
    );
    assert_eq!(
        coverage.copy_decryptions, 1,
        "turn 3 opens with the copy: {coverage:?}"
    );
    assert_eq!(coverage.max_skipped, 1000, "{coverage:?}");
    assert_eq!(
        coverage.rejected.get("ratchet_limit"),
        Some(&1),
        "{coverage:?}"
    );
    assert_eq!(coverage.rejected.get("duplicate"), Some(&1), "{coverage:?}");
}

/// Three chains of 1000 skipped keys each fill the store to its cap of
/// 2000; the oldest key is evicted and its message is then a `duplicate`.
#[test]
fn fixed_schedule_fills_the_skipped_key_store_and_evicts_the_oldest() {
    let case = store_eviction();
    let mut imp = ReferenceImplementation::new();
    let coverage = check_case(&mut imp, &case).unwrap_or_else(|v| panic!("{v}\n{case}"));
    assert_eq!(coverage.max_skipped, 2000, "{coverage:?}");
    assert_eq!(coverage.rejected.get("duplicate"), Some(&1), "{coverage:?}");
    assert_eq!(coverage.rejected.len(), 1, "{coverage:?}");
    assert_eq!(coverage.restarts, 1, "{coverage:?}");
}
