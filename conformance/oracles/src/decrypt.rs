//! `decrypt`: arbitrary bytes on an established session. Only an authentic
//! message decrypts (to its plaintext); on rejection the session's state
//! (`to_bytes()`) is byte-identical, the in-place buffer is untouched, and
//! no plaintext is released.
//!
//! Input: the first byte is a mode: bit 0 picks the session (Bob's or
//! Alice's), bit 1 whether the rest is the message itself or
//! `(position u16le, xor)` patches applied to one of the fixture's
//! authentic messages (bits 3..5 pick which), bit 2 the in-place API.

use sealwire::{ErrorClass, Session};

use super::fixture::{self, FixtureRng};
use super::{Outcome, Run, Target, patched};

/// Decrypts `message` on `session` with the allocating or the in-place API.
/// Returns the plaintext, or the error with a flag telling whether the
/// in-place buffer was left untouched.
pub(crate) fn decrypt(
    session: &mut Session,
    message: &[u8],
    in_place: bool,
    rng: &mut FixtureRng,
) -> Result<Vec<u8>, (sealwire::Error, bool)> {
    if in_place {
        let mut buffer = message.to_vec();
        let result = match session.decrypt_in_place_with_rng(&mut buffer, rng) {
            Ok(pt) => Ok(pt.to_vec()),
            Err(e) => Err((e, buffer == message)),
        };
        // The buffer holds the plaintext on success: the harness wipes its
        // own copies, so that the freed-memory check sees only the library's.
        zeroize::Zeroize::zeroize(&mut buffer);
        result
    } else {
        session
            .decrypt_with_rng(message, rng)
            .map_err(|e| (e, true))
    }
}

/// Runs the oracle on `data`.
pub(crate) fn run(data: &[u8]) -> Outcome {
    let parties = fixture::parties();
    Run::new(Target::Decrypt).execute(|run| {
        let Some((&mode, rest)) = data.split_first() else {
            return Ok(());
        };
        let (mut session, known) = if mode & 1 == 0 {
            (
                sealwire::Session::from_bytes(&parties.bob_session.to_bytes())
                    .expect("a session restores from its own bytes"),
                &parties.to_bob,
            )
        } else {
            (
                sealwire::Session::from_bytes(&parties.alice_session.to_bytes())
                    .expect("a session restores from its own bytes"),
                &parties.to_alice,
            )
        };
        let message = if mode & 2 == 0 {
            rest.to_vec()
        } else {
            patched(&known[usize::from(mode >> 3) % known.len()].0, rest)
        };
        let in_place = mode & 4 != 0;
        run.scanner.supplied(&message);
        let authentic = known.iter().find(|(m, _)| *m == message).map(|(_, pt)| pt);
        if let Some(pt) = authentic {
            // The library must not leave this plaintext in freed memory (a
            // scratch copy freed unwiped); the harness wipes its own copies.
            super::freed::register("plaintext of the authentic message", pt);
        }
        let before = session.to_bytes();
        let mut rng = FixtureRng::from_seed(fixture::FIXTURE_SEED + 30);
        fixture::register_draws(&mut run.scanner, &rng, 1);

        match decrypt(&mut session, &message, in_place, &mut rng) {
            Ok(plaintext) => {
                let plaintext = zeroize::Zeroizing::new(plaintext);
                let Some(expected) = authentic else {
                    return Err(run.broken(format!(
                        "a forged message of {} bytes decrypted",
                        message.len()
                    )));
                };
                run.ensure(*plaintext == *expected, || {
                    "an authentic message decrypted to another plaintext".into()
                })?;
                fixture::register_session(&mut run.scanner, "session", &session);
                // Exactly once: the same message again is a duplicate and
                // changes nothing.
                let after = session.to_bytes();
                run.spec_received("decrypt", &before, &message, Ok((&plaintext, &after)))?;
                match decrypt(&mut session, &message, in_place, &mut rng) {
                    Ok(_) => return Err(run.broken("a message decrypted twice")),
                    Err((e, untouched)) => {
                        run.error("decrypt (replay)", &e, &[ErrorClass::Duplicate])?;
                        run.ensure(untouched, || "a replay changed the in-place buffer".into())?;
                    }
                }
                run.ensure(session.to_bytes() == after, || {
                    "a rejected replay changed the session".into()
                })?;
            }
            Err((e, untouched)) => {
                run.ensure(authentic.is_none(), || {
                    format!("an authentic message was rejected: {e}")
                })?;
                run.ensure(session.to_bytes() == before, || {
                    format!("the session changed on a rejected message ({e})")
                })?;
                run.ensure(untouched, || {
                    format!("the in-place buffer changed on a rejected message ({e})")
                })?;
                run.spec_received("decrypt", &before, &message, Err(&e))?;
                run.error(
                    "decrypt",
                    &e,
                    &[
                        ErrorClass::Wire,
                        ErrorClass::LowOrderKey,
                        ErrorClass::RatchetLimit,
                        ErrorClass::Duplicate,
                        ErrorClass::DecryptionFailed,
                    ],
                )?;
            }
        }
        run.scanner.check_debug("Debug of Session", &session)?;
        Ok(())
    })
}
