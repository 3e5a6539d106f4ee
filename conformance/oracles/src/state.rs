//! `state_restore`: restoring a session from arbitrary bytes never panics;
//! rejected input is a `state` error; an accepted state serializes back to
//! exactly the input, its `Debug` shows none of its secrets, and the
//! restored session works (encrypts, rejects what it must, unchanged on
//! rejection, and survives a sealed round trip).
//!
//! Input: the first byte picks the mode. 0: the rest is a plain state.
//! 1 and 2: `(position u16le, xor)` patches applied to the plain state of
//! the fixture's Bob (with a skipped key) or Alice. 3: the rest is a sealed
//! state opened with the fixture's storage key. 4: patches applied to the
//! sealed state of the fixture's Bob.

use sealwire::{ErrorClass, STATE_VERSION, Session};

use zeroize::Zeroizing;

use super::decrypt::decrypt;
use super::fixture::{self, FixtureRng};
#[cfg(doc)]
use super::leak::LeakScanner;
use super::{Outcome, Run, Target, freed, patched};

/// The rendering of a session may not depend on its secret keys: `{:?}`
/// and `{:#?}` of `session` equal those of the same state with every
/// secret key byte changed. A differential check, for the keys the fuzzer
/// supplied (which the window scan leaves to ciphertexts, see
/// [`LeakScanner::supplied`]); it also catches a fingerprint shorter than
/// the scan's 8-byte window.
fn rendering_ignores_secrets(run: &mut Run, session: &Session) -> Outcome {
    let state = session.to_bytes();
    // The model's decoder and encoder keep keys in plain buffers: paused.
    let twin = match freed::paused(|| sealwire_specmodel::state::with_other_secret_keys(&state)) {
        Ok(twin) => twin,
        Err(e) => {
            return Err(run.broken(format!(
                "the independent spec model does not decode an accepted state: {e}"
            )));
        }
    };
    let twin = match Session::from_bytes(&twin) {
        Ok(twin) => twin,
        Err(e) => {
            return Err(run.broken(format!(
                "a state accepted with some key bytes is rejected with others: {e}"
            )));
        }
    };
    run.ensure(format!("{session:?}") == format!("{twin:?}"), || {
        "Debug of a Session depends on its secret keys".into()
    })?;
    run.ensure(format!("{session:#?}") == format!("{twin:#?}"), || {
        "{:#?} of a Session depends on its secret keys".into()
    })
}

/// Runs the oracle on `data`.
pub(crate) fn run(data: &[u8]) -> Outcome {
    let parties = fixture::parties();
    Run::new(Target::StateRestore).execute(|run| {
        let Some((&mode, rest)) = data.split_first() else {
            return Ok(());
        };
        // The input's keys are tainted: see `LeakScanner::supplied`.
        run.scanner.supplied(rest);
        let key = parties.storage_key();
        let restored = match mode % 5 {
            mode @ 0..=2 => {
                // The state holds secrets: wipe this copy when done.
                let state = Zeroizing::new(if mode == 0 {
                    rest.to_vec()
                } else {
                    let original = if mode == 1 {
                        parties.bob_with_skipped.to_bytes()
                    } else {
                        parties.alice_session.to_bytes()
                    };
                    let state = patched(&original, rest);
                    run.scanner.supplied_patch(&original, &state);
                    state
                });
                match Session::from_bytes(&state) {
                    Ok(session) => {
                        run.ensure(*session.to_bytes() == *state, || {
                            "an accepted state does not serialize back to the same bytes".into()
                        })?;
                        run.ensure(state.first() == Some(&STATE_VERSION), || {
                            "a state with another version byte was accepted".into()
                        })?;
                        session
                    }
                    Err(e) => return run.error("Session::from_bytes", &e, &[ErrorClass::State]),
                }
            }
            mode => {
                let sealed = if mode == 3 {
                    rest.to_vec()
                } else {
                    let mut salt_rng = FixtureRng::from_seed(fixture::FIXTURE_SEED + 40);
                    let sealed = parties
                        .bob_with_skipped
                        .seal_state_with_rng(&key, &mut salt_rng);
                    let patched = patched(&sealed, rest);
                    run.scanner.supplied_patch(&sealed, &patched);
                    patched
                };
                match Session::open_state(&key, &sealed) {
                    Ok(session) => {
                        let state = session.to_bytes();
                        run.spec_opened(
                            "Session::open_state",
                            &parties.storage_key,
                            &sealed,
                            &state,
                        )?;
                        session
                    }
                    Err(e) => return run.error("Session::open_state", &e, &[ErrorClass::State]),
                }
            }
        };
        fixture::register_session(&mut run.scanner, "restored session", &restored);
        run.scanner.check_debug("Debug of Session", &restored)?;
        rendering_ignores_secrets(run, &restored)?;
        exercise(run, restored)
    })
}

/// Uses a restored session: every operation either works or fails with a
/// typed error that leaves the session unchanged.
fn exercise(run: &mut Run, mut session: Session) -> Outcome {
    let parties = fixture::parties();
    let pt = fixture::plaintext(40, 19);
    run.scanner.add_plaintext("plaintext", &pt);
    let before = session.to_bytes();
    match session.encrypt(&pt) {
        Ok(message) => {
            run.ensure(message.len() == pt.len() + sealwire::OVERHEAD, || {
                "a ratchet message of the wrong length".into()
            })?;
            // The header carries the state's public fields (DHs's public
            // half, PN, N), which the fuzzer can copy into a key it chose;
            // the body and tag are sealed under a key derived from the
            // state, from the harness's plaintext, and nothing compares
            // them, so the fuzzer never sees them: every key counts there.
            let (header, body) = message.split_at(sealwire::HEADER_LEN);
            run.scanner.check_bytes("message header", header)?;
            run.scanner.check_sealed("message body", body)?;
            run.spec_sent("encrypt", &before, &pt, &message, &session.to_bytes())?;
        }
        Err(e) => {
            run.ensure(session.to_bytes() == before, || {
                format!("encrypt failed ({e}) and changed the session")
            })?;
            run.error("encrypt", &e, &[ErrorClass::RatchetLimit])?;
        }
    }
    let mut rng = FixtureRng::from_seed(fixture::FIXTURE_SEED + 41);
    // At most one ratchet step per message.
    fixture::register_draws(&mut run.scanner, &rng, 5);
    for (message, _) in parties.to_bob.iter().chain(&parties.to_alice) {
        let before = session.to_bytes();
        match decrypt(&mut session, message, false, &mut rng) {
            Ok(plaintext) => {
                let plaintext = Zeroizing::new(plaintext);
                let after = session.to_bytes();
                run.spec_received("decrypt", &before, message, Ok((&plaintext, &after)))?;
                fixture::register_session(&mut run.scanner, "restored session", &session);
            }
            Err((e, _)) => {
                run.spec_received("decrypt", &before, message, Err(&e))?;
                run.ensure(session.to_bytes() == before, || {
                    format!("a rejected message changed the restored session ({e})")
                })?;
                run.scanner
                    .check_error("decrypt on a restored session", &e)?;
            }
        }
    }
    let mut salt_rng = FixtureRng::from_seed(fixture::FIXTURE_SEED + 42);
    let key = parties.storage_key();
    let sealed = session.seal_state_with_rng(&key, &mut salt_rng);
    // Sealed under the fixture's storage key and a drawn salt; nothing
    // compares the sealed bytes, so no key the fuzzer chose can be an echo
    // in them.
    run.scanner.check_sealed("sealed state", &sealed)?;
    run.spec_sealed(
        "seal_state",
        &parties.storage_key,
        &session.to_bytes(),
        &sealed,
    )?;
    match Session::open_state(&key, &sealed) {
        Ok(reopened) => run.ensure(reopened.to_bytes() == session.to_bytes(), || {
            "a sealed state does not reopen to the same session".into()
        })?,
        Err(e) => return Err(run.broken(format!("a freshly sealed state does not open: {e}"))),
    }
    run.scanner.check_debug("Debug of Session", &session)?;
    rendering_ignores_secrets(run, &session)
}
