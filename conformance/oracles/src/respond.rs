//! `respond`: the responder on arbitrary initial messages. Only an
//! authentic initial message is accepted (with its plaintext, and its
//! one-time prekey then deleted); anything else is a typed error and leaves
//! the prekey store exactly as it was.
//!
//! Input: the first byte picks the mode, the rest is either the initial
//! message itself (modes 0 and 3; mode 3 with a store whose one-time prekey
//! 100 is already used) or `(position u16le, xor)` patches applied to the
//! fixture's initial message with (mode 1) or without (mode 2) a one-time
//! prekey.

use sealwire::{ErrorClass, PreKeyStore};

use super::fixture::{self, FixtureRng};
use super::{Outcome, Run, Target, patched};

/// Runs the oracle on `data`.
pub(crate) fn run(data: &[u8]) -> Outcome {
    let parties = fixture::parties();
    Run::new(Target::Respond).execute(|run| {
        let Some((&mode, rest)) = data.split_first() else {
            return Ok(());
        };
        let mode = mode % 4;
        let bytes = match mode {
            1 => patched(&parties.initial, rest),
            2 => patched(&parties.initial_without_opk, rest),
            _ => rest.to_vec(),
        };
        run.scanner.supplied(&bytes);
        let mut store = parties.store.clone();
        if mode == 3 {
            store.remove_one_time_prekey(100);
        }
        let before = format!("{store:?}");
        run.scanner
            .check_debug("Debug of InMemoryPreKeyStore", &store)?;
        let mut rng = FixtureRng::from_seed(fixture::FIXTURE_SEED + 20);
        fixture::register_draws(&mut run.scanner, &rng, 1);

        match sealwire::respond_with_rng(&parties.bob, &mut store, &bytes, &mut rng) {
            Ok((session, plaintext)) => {
                fixture::register_session(&mut run.scanner, "Bob's session", &session);
                let expected = if bytes == parties.initial && mode != 3 {
                    Some(100)
                } else if bytes == parties.initial_without_opk {
                    None
                } else {
                    return Err(run.broken(format!(
                        "a forged initial message was accepted ({} bytes)",
                        bytes.len()
                    )));
                };
                run.ensure(plaintext == parties.initial_plaintext, || {
                    "the first plaintext differs from what was sent".into()
                })?;
                if let Some(id) = expected {
                    run.ensure(store.one_time_prekey(id).is_none(), || {
                        "the used one-time prekey was not deleted".into()
                    })?;
                }
                run.ensure(store.one_time_prekey(101).is_some(), || {
                    "an unused one-time prekey was deleted".into()
                })?;
                run.scanner.check_debug("Debug of Session", &session)?;
            }
            Err(e) => {
                run.ensure(format!("{store:?}") == before, || {
                    format!("the prekey store changed on a rejected initial message ({e})")
                })?;
                run.ensure(!(bytes == parties.initial && mode != 3), || {
                    format!("the authentic initial message was rejected: {e}")
                })?;
                run.ensure(bytes != parties.initial_without_opk, || {
                    format!("the authentic initial message was rejected: {e}")
                })?;
                run.error(
                    "respond",
                    &e,
                    &[
                        ErrorClass::Wire,
                        ErrorClass::Handshake,
                        ErrorClass::LowOrderKey,
                        ErrorClass::RatchetLimit,
                        ErrorClass::DecryptionFailed,
                    ],
                )?;
            }
        }
        run.scanner
            .check_debug("Debug of InMemoryPreKeyStore", &store)?;
        Ok(())
    })
}
