//! The fuzz oracles' hooks into the independent model of SPEC.md
//! (`sealwire-specmodel`, which shares no code with `protocol/src`): every
//! message a session sends is recomputed from its state before, every
//! accepted message is received by the model from the same state (same
//! plaintext, same state after), every rejected one is rejected by the
//! model with the same class, every accepted bundle verifies under the
//! model and every rejected one is rejected alike, and every opened or
//! sealed state re-derives under its storage key. A disagreement is a
//! violation of the target that saw it.

use sealwire_specmodel::{Checker, ErrorClass, Verdict};

use super::{Outcome, Run, freed};

/// The model's class of a reference error.
fn class(error: &sealwire::Error) -> ErrorClass {
    ErrorClass::from_name(error.class().as_str()).expect("both name SPEC.md §10's classes")
}

impl Run {
    /// `Ok` when the model agrees with `check`'s verdict; otherwise a
    /// violation naming `what`. The model runs with the freed-memory scan
    /// paused: it is the oracle's own computation (it keeps key material
    /// in plain buffers), not the library's behaviour under test.
    fn spec(&self, what: &str, check: impl FnOnce() -> Verdict) -> Outcome {
        let verdict = freed::paused(check);
        self.ensure(verdict.agrees(), || format!("{what}: {verdict}"))
    }

    /// A message the session sent from `before` (its state bytes).
    pub(crate) fn spec_sent(
        &self,
        what: &str,
        before: &[u8],
        plaintext: &[u8],
        message: &[u8],
        after: &[u8],
    ) -> Outcome {
        self.spec(what, || {
            Checker::check_sent_message(before, plaintext, message, Some(after))
        })
    }

    /// A message the session received from `before`: accepted with
    /// `plaintext` and state `after`, or rejected with an error.
    pub(crate) fn spec_received(
        &self,
        what: &str,
        before: &[u8],
        message: &[u8],
        result: Result<(&[u8], &[u8]), &sealwire::Error>,
    ) -> Outcome {
        self.spec(what, || match result {
            Ok((plaintext, after)) => {
                Checker::check_accepted_message(before, message, plaintext, after)
            }
            Err(error) => Checker::check_rejected_message(before, message, class(error)),
        })
    }

    /// A bundle the reference accepted (`Ok`) or rejected.
    pub(crate) fn spec_bundle(
        &self,
        what: &str,
        bundle: &[u8],
        result: Result<(), &sealwire::Error>,
    ) -> Outcome {
        self.spec(what, || match result {
            Ok(()) => Checker::check_bundle_accepted(bundle),
            Err(error) => Checker::check_bundle_rejected(bundle, class(error)),
        })
    }

    /// A sealed state the reference opened to the session whose state
    /// bytes are `state`.
    pub(crate) fn spec_opened(
        &self,
        what: &str,
        storage_key: &[u8; 32],
        sealed: &[u8],
        state: &[u8],
    ) -> Outcome {
        self.spec(what, || {
            Checker::check_opened_state(storage_key, sealed, state)
        })
    }

    /// A state the reference sealed: its salt is read from the output
    /// (SPEC.md §9.2: version, salt, body, tag), the rest must follow.
    pub(crate) fn spec_sealed(
        &self,
        what: &str,
        storage_key: &[u8; 32],
        state: &[u8],
        sealed: &[u8],
    ) -> Outcome {
        let Some(salt) = sealed.get(1..33).and_then(|s| <[u8; 32]>::try_from(s).ok()) else {
            return Err(self.broken(format!("{what}: a sealed state of {} bytes", sealed.len())));
        };
        self.spec(what, || {
            Checker::check_sealed_state(storage_key, &salt, state, sealed)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Target, fixture};
    use super::*;

    #[test]
    fn the_hooks_fail_on_bytes_the_model_would_not_produce() {
        let parties = fixture::parties();
        let run = Run::new(Target::Conversation);
        let mut session = sealwire::Session::from_bytes(&parties.alice_session.to_bytes())
            .expect("the fixture state restores");
        let before = session.to_bytes();
        let message = session
            .encrypt(b"a plaintext for the model")
            .expect("encrypt");
        let after = session.to_bytes();
        run.spec_sent(
            "sent",
            &before,
            b"a plaintext for the model",
            &message,
            &after,
        )
        .expect("the model agrees with an honest send");
        let mut flipped = message.clone();
        *flipped.last_mut().expect("a message") ^= 1;
        let failure = run
            .spec_sent(
                "sent",
                &before,
                b"a plaintext for the model",
                &flipped,
                &after,
            )
            .expect_err("a flipped tag is not the model's message");
        assert!(failure.to_string().contains("another message"), "{failure}");
        // A state after that did not advance.
        assert!(
            run.spec_sent(
                "sent",
                &before,
                b"a plaintext for the model",
                &message,
                &before
            )
            .is_err()
        );
        // A bundle with a flipped signature byte, claimed accepted.
        let mut bundle = parties.bundle.clone();
        bundle[40] ^= 1;
        assert!(run.spec_bundle("bundle", &parties.bundle, Ok(())).is_ok());
        assert!(run.spec_bundle("bundle", &bundle, Ok(())).is_err());
        // A sealed state under another key.
        let key = parties.storage_key();
        let mut salt_rng = fixture::FixtureRng::from_seed(7);
        let sealed = session.seal_state_with_rng(&key, &mut salt_rng);
        run.spec_sealed("sealed", &parties.storage_key, &after, &sealed)
            .expect("the model seals alike");
        assert!(
            run.spec_sealed("sealed", &[0u8; 32], &after, &sealed)
                .is_err()
        );
        assert!(
            run.spec_opened("opened", &parties.storage_key, &sealed, &before)
                .is_err()
        );
    }
}
