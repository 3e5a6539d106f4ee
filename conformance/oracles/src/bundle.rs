//! `bundle`: prekey bundles are parsed and verified without panicking;
//! a rejected bundle gets a typed error (`wire` when parsing, `handshake` or
//! `low_order_key` when verifying); an accepted one round-trips, and an
//! initiator can start a session with it.
//!
//! Input: the first byte picks the mode, the rest is either the bundle
//! itself (mode 0) or `(position u16le, xor)` patches applied to the
//! fixture's bundle with (mode 1) or without (mode 2) a one-time prekey.

use sealwire::{ErrorClass, InitialMessage, PreKeyBundle};

use super::fixture::{self, FixtureRng};
use super::{Outcome, Run, Target, patched};

/// Runs the oracle on `data`.
pub(crate) fn run(data: &[u8]) -> Outcome {
    let parties = fixture::parties();
    Run::new(Target::Bundle).execute(|run| {
        let Some((&mode, rest)) = data.split_first() else {
            return Ok(());
        };
        let bytes = match mode % 3 {
            0 => rest.to_vec(),
            1 => patched(&parties.bundle, rest),
            _ => patched(&parties.bundle_without_opk, rest),
        };
        run.scanner.supplied(&bytes);
        let bundle = match PreKeyBundle::from_bytes(&bytes) {
            Ok(bundle) => bundle,
            Err(e) => {
                run.spec_bundle("PreKeyBundle::from_bytes", &bytes, Err(&e))?;
                return run.error("PreKeyBundle::from_bytes", &e, &[ErrorClass::Wire]);
            }
        };
        run.ensure(bundle.to_bytes() == bytes, || {
            "PreKeyBundle: decode then encode changed the bytes".into()
        })?;
        run.scanner.check_debug("Debug of PreKeyBundle", &bundle)?;
        let genuine = bytes == parties.bundle || bytes == parties.bundle_without_opk;
        let identity = match bundle.verify() {
            Ok(identity) => identity,
            Err(e) => {
                run.ensure(!genuine, || format!("the fixture's own bundle fails: {e}"))?;
                run.spec_bundle("PreKeyBundle::verify", &bytes, Err(&e))?;
                return run.error(
                    "PreKeyBundle::verify",
                    &e,
                    &[ErrorClass::Handshake, ErrorClass::LowOrderKey],
                );
            }
        };
        run.spec_bundle("PreKeyBundle::verify", &bytes, Ok(()))?;
        run.ensure(identity.as_bytes() == bundle.identity_key(), || {
            "verify returned another identity key than the bundle's".into()
        })?;
        run.scanner
            .check_debug("Debug of IdentityPublicKey", &identity)?;

        // A verified bundle is usable: the initiator starts a session.
        let mut rng = FixtureRng::from_seed(fixture::FIXTURE_SEED + 10);
        fixture::register_draws(&mut run.scanner, &rng, 2);
        let pt = fixture::plaintext(30, 12);
        run.scanner.add_plaintext("plaintext", &pt);
        match sealwire::initiate_with_rng(&parties.alice, &bundle, &pt, &mut rng) {
            Ok((session, initial)) => {
                fixture::register_session(&mut run.scanner, "Alice's session", &session);
                run.ensure(InitialMessage::decode(&initial).is_ok(), || {
                    "initiate produced an initial message that does not decode".into()
                })?;
                run.scanner.check_bytes("initial message", &initial)?;
                run.scanner.check_debug("Debug of Session", &session)?;
            }
            Err(e) => run.error("initiate", &e, &[ErrorClass::LowOrderKey])?,
        }
        Ok(())
    })
}
