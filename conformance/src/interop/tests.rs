//! Tests of `interop`.

use super::*;
use crate::testing::{Fault, Faulty};

/// The reference against itself: every step agrees exactly.
#[test]
fn reference_interoperates_with_itself() {
    let mut under_test = ReferenceImplementation::new();
    let options = InteropOptions {
        conversations: 6,
        steps: 120,
        seed: 42,
    };
    let report = run(&mut under_test, &options);
    assert!(report.passed(), "seed {}: {report}", options.seed);
    assert_eq!(report.completed, 6, "{report}");
    assert!(report.known_differences.is_empty(), "{report}");
    for action in ["send", "deliver", "replay", "tamper", "handshake"] {
        assert!(
            report.actions.get(action).copied().unwrap_or(0) > 0,
            "seed {}: no `{action}` step ran: {report}",
            options.seed
        );
    }
}

fn run_faulty(fault: Fault, conversations: u32) -> InteropReport {
    let mut under_test = Faulty::new(fault);
    run(
        &mut under_test,
        &InteropOptions {
            conversations,
            steps: 150,
            seed: 7,
        },
    )
}

#[test]
fn corrupted_messages_are_caught() {
    let report = run_faulty(Fault::CorruptSend, 4);
    assert!(!report.passed(), "{report}");
    assert!(
        report
            .divergences
            .iter()
            .any(|d| d.action.starts_with("send")),
        "{report}"
    );
}

#[test]
fn accepted_forgeries_are_caught() {
    let report = run_faulty(Fault::AcceptsForgeries, 4);
    assert!(!report.passed(), "{report}");
}

/// Reporting every duplicate as `decryption_failed` is tolerated only
/// for messages of an earlier chain: in the current chain it diverges.
#[test]
fn known_difference_is_tolerated_only_where_it_applies() {
    let report = run_faulty(Fault::DuplicateAsDecryptionFailed, 40);
    assert!(!report.passed(), "{report}");
    assert!(
        report
            .divergences
            .iter()
            .any(|d| d.reference == "error `duplicate`"
                && d.under_test == "error `decryption_failed`"),
        "{report}"
    );
    assert!(
        report
            .known_differences
            .contains_key(EARLIER_CHAIN_REPLAY.id),
        "{report}"
    );
}
