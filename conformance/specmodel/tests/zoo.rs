//! Which of the reference's planted flaws (`sealwire::flaws`, the zoo of
//! `conformance/src/zoo.rs`) the model's differential checks catch on their
//! own. Built only with `--features planted-flaws`:
//!
//! ```sh
//! cargo test -p sealwire-specmodel --features planted-flaws --test zoo -- --nocapture
//! ```
//!
//! For each flaw, switched on for this thread, the checks of
//! `differential.rs` run in order until one fails. Without a flaw all must
//! pass. The flaws listed in `CAUGHT` must be caught; the others are out of
//! the model's reach by design (hygiene, timing, memory: not in the bytes;
//! store bookkeeping and limits the random schedules do not reach) and are
//! left to the suite's other checks.
#![cfg(feature = "planted-flaws")]

#[path = "differential.rs"]
mod differential;

use std::panic::{AssertUnwindSafe, catch_unwind};

use sealwire::flaws::{self, Flaw};

const CAUGHT: [Flaw; 14] = [
    Flaw::MessageKeyReuse,
    Flaw::ConstantNonce,
    Flaw::ReleaseBeforeVerify,
    Flaw::AdvanceOnFailure,
    Flaw::ReplayAccepted,
    Flaw::AdMissingIdentities,
    Flaw::HeaderUnauthenticated,
    Flaw::SignatureNotVerified,
    Flaw::LowOrderAccepted,
    Flaw::MaxSkipNotEnforced,
    Flaw::KeyEscrow,
    Flaw::EphemeralReuse,
    Flaw::RatchetKeyReuse,
    Flaw::RngIgnored,
];

type Check = (&'static str, fn());

const CHECKS: [Check; 4] = [
    (
        "bundles",
        differential::bundles_honest_and_mutated_get_the_same_verdict,
    ),
    (
        "sizes",
        differential::every_size_class_agrees_through_every_encrypt_and_decrypt_api,
    ),
    (
        "conversations",
        differential::conversations_agree_message_by_message,
    ),
    (
        "identities",
        differential::identities_and_their_montgomery_forms_agree,
    ),
];

fn first_failing(flaw: Option<Flaw>) -> Option<&'static str> {
    CHECKS.iter().find_map(|(name, check)| {
        flaws::set(flaw);
        let failed = catch_unwind(AssertUnwindSafe(check)).is_err();
        flaws::set(None);
        failed.then_some(*name)
    })
}

#[test]
fn the_models_checks_catch_the_flaws_in_their_reach() {
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let baseline = first_failing(None);
    let rows: Vec<(Flaw, Option<&str>)> = Flaw::ALL
        .into_iter()
        .map(|f| (f, first_failing(Some(f))))
        .collect();
    std::panic::set_hook(hook);
    assert_eq!(baseline, None, "without a flaw every check must pass");
    for (flaw, caught_by) in &rows {
        println!("{:32} {}", flaw.name(), caught_by.unwrap_or("-"));
    }
    for flaw in CAUGHT {
        let row = rows.iter().find(|(f, _)| *f == flaw).expect("listed");
        assert!(
            row.1.is_some(),
            "{} went through every model check",
            flaw.name()
        );
    }
}
