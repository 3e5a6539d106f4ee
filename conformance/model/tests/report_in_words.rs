//! A property failure reads in words: the shrunk schedule names who sent,
//! delivered, replayed or tampered with which message, not proptest's raw
//! `Index` selectors. The implementation under test is the reference with
//! one flaw added here: a decryption it rejects as `duplicate` is answered
//! with a plaintext instead (a replay accepted), on the parties' own
//! sessions only (a copy the attacker imported keeps the reference's
//! behaviour, so the fixed compromise schedules pass and a generated
//! schedule with a replay is what fails).

use std::collections::BTreeSet;

use sealwire_adapter::{Capability, Implementation, OpError, Output, Request};
use sealwire_model::{CampaignOptions, Property, run_campaign};
use sealwire_reference::ReferenceImplementation;

/// The reference, but a replayed message "decrypts" again.
struct AcceptsReplays(ReferenceImplementation, BTreeSet<String>);

impl Implementation for AcceptsReplays {
    fn name(&self) -> &str {
        "reference that accepts replays (test flaw)"
    }

    fn capabilities(&self) -> &BTreeSet<Capability> {
        self.0.capabilities()
    }

    fn call(&mut self, request: &Request) -> Result<Output, OpError> {
        let imported = match request {
            Request::Decrypt { session, .. } => self.1.contains(session),
            _ => false,
        };
        let result = self.0.call(request);
        if let (Request::ImportState { .. }, Ok(out)) = (request, &result)
            && let Some(handle) = out.get("session").and_then(|v| v.as_str())
        {
            self.1.insert(handle.to_owned());
        }
        match result {
            Err(OpError::Rejected(class)) if class == "duplicate" && !imported => {
                let mut out = Output::new();
                out.insert("plaintext".into(), serde_json::Value::from(""));
                Ok(out)
            }
            other => other,
        }
    }
}

#[test]
fn a_failure_names_its_steps_and_messages_in_words() {
    let mut imp = AcceptsReplays(ReferenceImplementation::new(), BTreeSet::new());
    let options = CampaignOptions {
        cases: 64,
        seed: Some(7),
        ..CampaignOptions::default()
    };
    let report = run_campaign(&mut imp, &options);
    let failure = report.failure.expect("the accepted replay is found");
    let text = failure.to_string();
    println!("{text}");
    assert_ne!(failure.violation.property, Property::Interface, "{text}");
    assert!(!failure.violation.narration.is_empty(), "{text}");
    assert!(
        !text.contains("Index("),
        "raw selectors in the report:\n{text}"
    );
    assert!(
        text.contains("the attacker delivers message") && text.contains("again (a replay)"),
        "the replay is not named:\n{text}"
    );
    let step = failure.violation.step.expect("a schedule step");
    assert!(
        text.contains(&format!("(violated at step {step})")),
        "{text}"
    );
    // The narration reaches the failing step, and no further.
    let last = failure.violation.narration.last().expect("a step");
    assert!(last.starts_with(&format!("step {step:>3}: ")), "{text}");
}
