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

use sealwire::hazmat::KeyPair;
use sealwire::{ErrorClass, STATE_VERSION, Session};

use zeroize::Zeroizing;

use super::decrypt::decrypt;
use super::fixture::{self, FixtureRng};
use super::leak::LeakScanner;
use super::{Outcome, Run, Target, patched};

/// Registers as public (see [`LeakScanner::allow`]) the public fields of
/// a plain state: AD, counters, the sending ratchet public key (derived
/// from DHs), the receiving ratchet key, the earlier
/// ratchet keys and the skipped keys' ratchet keys and numbers. Stops
/// quietly at the first field that does not parse.
fn allow_public_fields(scanner: &mut LeakScanner, state: &[u8]) {
    let mut at = 0usize;
    let mut take = |n: usize| -> Option<&[u8]> {
        let field = state.get(at..at + n)?;
        at += n;
        Some(field)
    };
    let mut walk = || -> Option<()> {
        take(1)?; // version
        scanner.allow(take(64)?); // AD
        take(32)?; // RK
        // DHs private: its public half is public (Debug prints it), and a
        // state may carry secrets equal to it (an input can set RK to it).
        let dhs = Zeroizing::new(<[u8; 32]>::try_from(take(32)?).ok()?);
        scanner.allow(KeyPair::from_secret_bytes(*dhs).public().as_bytes());
        take(32)?; // CKs
        scanner.allow(take(8)?); // Ns, PN
        // A flag other than 0 or 1 ends the walk: what follows would be
        // read out of place (a secret taken for a public field).
        let flag = |byte: &[u8]| matches!(byte[0], 0 | 1).then_some(byte[0] == 1);
        if flag(take(1)?)? {
            scanner.allow(take(32)?); // DHr
        }
        if flag(take(1)?)? {
            take(32)?; // CKr
        }
        scanner.allow(take(4)?); // Nr
        let previous = take(1)?[0];
        for _ in 0..previous {
            scanner.allow(take(32)?);
        }
        let count = u16::from_be_bytes(take(2)?.try_into().ok()?);
        for _ in 0..count {
            scanner.allow(take(36)?); // ratchet key and N
            take(32)?; // MK
        }
        Some(())
    };
    let _ = walk();
}

/// Runs the oracle on `data`.
pub(crate) fn run(data: &[u8]) -> Outcome {
    let parties = fixture::parties();
    Run::new(Target::StateRestore).execute(|run| {
        let Some((&mode, rest)) = data.split_first() else {
            return Ok(());
        };
        run.scanner.input_has_secrets(rest);
        let key = parties.storage_key();
        let restored = match mode % 5 {
            mode @ 0..=2 => {
                // The state holds secrets: wipe this copy when done.
                let state = Zeroizing::new(match mode {
                    0 => rest.to_vec(),
                    1 => patched(&parties.bob_with_skipped.to_bytes(), rest),
                    _ => patched(&parties.alice_session.to_bytes(), rest),
                });
                allow_public_fields(&mut run.scanner, &state);
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
                    patched(&sealed, rest)
                };
                run.scanner.allow(&sealed);
                match Session::open_state(&key, &sealed) {
                    Ok(session) => {
                        allow_public_fields(&mut run.scanner, &session.to_bytes());
                        session
                    }
                    Err(e) => return run.error("Session::open_state", &e, &[ErrorClass::State]),
                }
            }
        };
        fixture::register_session(&mut run.scanner, "restored session", &restored);
        run.scanner.check_debug("Debug of Session", &restored)?;
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
            // The header is public (DHs, PN, N); the fuzzer chose this
            // session's secrets and can make one equal to its counters.
            run.scanner.allow(&message[..sealwire::HEADER_LEN]);
            run.scanner.check_bytes("message", &message)?;
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
            Ok(_) => fixture::register_session(&mut run.scanner, "restored session", &session),
            Err((e, _)) => {
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
    run.scanner.check_bytes("sealed state", &sealed)?;
    match Session::open_state(&key, &sealed) {
        Ok(reopened) => run.ensure(reopened.to_bytes() == session.to_bytes(), || {
            "a sealed state does not reopen to the same session".into()
        })?,
        Err(e) => return Err(run.broken(format!("a freshly sealed state does not open: {e}"))),
    }
    run.scanner.check_debug("Debug of Session", &session)?;
    Ok(())
}
