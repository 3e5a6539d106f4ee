//! Every step recomputed by the independent model of SPEC.md
//! (`sealwire-specmodel`, which shares no code with the implementation):
//! from the state the implementation exported before a step, the model
//! must send the same bytes, accept with the same plaintext and state
//! after, and reject with the same class. Needs the `state` capability.

use sealwire_specmodel::{Checker, ErrorClass, Verdict};

use super::*;

impl World<'_, '_> {
    /// A message `from` sent for `plaintext`, between the exports `before`
    /// and `after`.
    pub(super) fn spec_sent(
        &mut self,
        from: Party,
        states: (&[u8], &[u8]),
        plaintext: &[u8],
        message: &[u8],
    ) -> Result<(), Violation> {
        let verdict = Checker::check_sent_message(states.0, plaintext, message, Some(states.1));
        self.spec_verdict(&verdict, false, || format!("{from:?}'s sent message"))
    }

    /// `bytes` accepted by `to` with `plaintext`, between the exports.
    pub(super) fn spec_accepted(
        &mut self,
        to: Party,
        origin: Origin,
        states: (&[u8], &[u8]),
        bytes: &[u8],
        plaintext: &[u8],
    ) -> Result<(), Violation> {
        let verdict = Checker::check_accepted_message(states.0, bytes, plaintext, states.1);
        self.spec_verdict(&verdict, false, || format!("{origin} accepted by {to:?}"))
    }

    /// `bytes` rejected by `to` with `class`, from the export `before`.
    /// `tolerated`: the class differs from the chain model's under a
    /// documented tolerance, so only the rejection itself is checked.
    pub(super) fn spec_rejected(
        &mut self,
        to: Party,
        origin: Origin,
        before: &[u8],
        bytes: &[u8],
        class: &str,
        tolerated: bool,
    ) -> Result<(), Violation> {
        let Some(class) = ErrorClass::from_name(class) else {
            return Err(self.driver.violation(
                Property::SpecModel,
                format!("{origin} to {to:?} was rejected with `{class}`, not a SPEC.md class"),
            ));
        };
        let verdict = Checker::check_rejected_message(before, bytes, class);
        self.spec_verdict(&verdict, tolerated, || {
            format!("{origin} rejected by {to:?} as `{}`", class.name())
        })
    }

    pub(super) fn spec_verdict(
        &mut self,
        verdict: &Verdict,
        tolerated: bool,
        what: impl FnOnce() -> String,
    ) -> Result<(), Violation> {
        let agrees = match verdict {
            Verdict::Agrees => true,
            Verdict::ClassDiffers { .. } => tolerated,
            _ => false,
        };
        if agrees {
            self.coverage.spec_checks += 1;
            return Ok(());
        }
        Err(self
            .driver
            .violation(Property::SpecModel, format!("{}: {verdict}", what())))
    }
}
