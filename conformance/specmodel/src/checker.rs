//! Verdicts on what an implementation produced or accepted, recomputed by
//! the model from the implementation's own inputs (states in SPEC.md §9.1
//! form, messages, bundles). Meant for the fuzz oracles, the property model
//! and the vector runner: see the crate README for which hook goes where.
//!
//! Each check takes only bytes, so it works on any implementation that can
//! export its state. A verdict never carries secret bytes: only the name of
//! the output that differs and where.

use zeroize::Zeroizing;

use crate::error::{ErrorClass, ModelError};
use crate::session::ModelSession;
use crate::state::open_state;
use crate::wire::Bundle;
use crate::x3dh::verify_bundle;

/// The outcome of one check.
#[must_use]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// The model computes exactly what the implementation produced, and
    /// accepts or rejects exactly what it did.
    Agrees,
    /// The model computes other bytes for `output`; `first_difference` is
    /// the first differing offset (or the shorter length).
    Differs {
        /// Which output: `message`, `plaintext`, `state after`, ...
        output: &'static str,
        /// Byte offset of the first difference.
        first_difference: usize,
    },
    /// The implementation accepted or produced this, the model rejects it.
    ModelRejects(ModelError),
    /// The implementation rejected this, the model accepts it.
    ModelAccepts,
    /// Both reject, with different SPEC.md §10 classes.
    ClassDiffers {
        /// The model's class.
        model: ErrorClass,
        /// The implementation's class.
        implementation: ErrorClass,
    },
    /// The check's own inputs are unusable (for example the state before
    /// does not restore under the model): nothing was checked.
    Unusable(ModelError),
}

/// A verdict in words (it carries no secret bytes).
impl core::fmt::Display for Verdict {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Verdict::Agrees => f.write_str("the independent spec model agrees"),
            Verdict::Differs {
                output,
                first_difference,
            } => write!(
                f,
                "the independent spec model computes another {output} (first difference at \
                 byte {first_difference})"
            ),
            Verdict::ModelRejects(e) => write!(f, "the independent spec model rejects it ({e})"),
            Verdict::ModelAccepts => f.write_str("the independent spec model accepts it"),
            Verdict::ClassDiffers {
                model,
                implementation,
            } => write!(
                f,
                "the class is `{}`, the independent spec model's is `{}`",
                implementation.name(),
                model.name()
            ),
            Verdict::Unusable(e) => write!(
                f,
                "the independent spec model cannot restore the exported state before the step \
                 ({e})"
            ),
        }
    }
}

impl Verdict {
    /// True for [`Verdict::Agrees`] only.
    pub const fn agrees(&self) -> bool {
        matches!(self, Self::Agrees)
    }
}

fn compare(output: &'static str, model: &[u8], implementation: &[u8]) -> Verdict {
    if model == implementation {
        return Verdict::Agrees;
    }
    let first_difference = model
        .iter()
        .zip(implementation)
        .position(|(a, b)| a != b)
        .unwrap_or(model.len().min(implementation.len()));
    Verdict::Differs {
        output,
        first_difference,
    }
}

fn restore(state: &[u8]) -> Result<ModelSession, Verdict> {
    ModelSession::decode(state).map_err(Verdict::Unusable)
}

/// The DHs private key of a §9.1 state (bytes 97..129).
fn sending_private(state: &[u8]) -> Option<Zeroizing<[u8; 32]>> {
    let bytes: [u8; 32] = state.get(1 + 64 + 32..1 + 64 + 64)?.try_into().ok()?;
    Some(Zeroizing::new(bytes))
}

/// The checks, as associated functions (the type holds nothing).
#[derive(Debug)]
pub struct Checker;

impl Checker {
    /// A sent message: from `state_before` (§9.1) and `plaintext`, the
    /// model's §6.3 message must equal `message` byte for byte, and, when
    /// given, the model's state afterwards must equal `state_after`.
    pub fn check_sent_message(
        state_before: &[u8],
        plaintext: &[u8],
        message: &[u8],
        state_after: Option<&[u8]>,
    ) -> Verdict {
        let mut session = match restore(state_before) {
            Ok(session) => session,
            Err(verdict) => return verdict,
        };
        let expected = match session.encrypt(plaintext) {
            Ok(expected) => expected,
            Err(e) => return Verdict::ModelRejects(e),
        };
        let verdict = compare("message", &expected, message);
        if !verdict.agrees() {
            return verdict;
        }
        check_state_after(&session, state_after)
    }

    /// An accepted ratchet message: from `state_before`, the model's §6.4
    /// receive must accept `message`, give `plaintext`, and leave exactly
    /// `state_after`. The new ratchet private key of a new turn, if the
    /// message starts one, is taken from `state_after` (its DHs).
    pub fn check_accepted_message(
        state_before: &[u8],
        message: &[u8],
        plaintext: &[u8],
        state_after: &[u8],
    ) -> Verdict {
        let mut session = match restore(state_before) {
            Ok(session) => session,
            Err(verdict) => return verdict,
        };
        let Some(next_private) = sending_private(state_after) else {
            return Verdict::Unusable(ModelError::State("state after is truncated"));
        };
        let received = match session.decrypt(message, Some(&next_private)) {
            Ok(received) => received,
            Err(e) => return Verdict::ModelRejects(e),
        };
        let verdict = compare("plaintext", &received.plaintext, plaintext);
        if !verdict.agrees() {
            return verdict;
        }
        check_state_after(&session, Some(state_after))
    }

    /// A rejected ratchet message: the model must reject it from
    /// `state_before` with the same class. (That the implementation's state
    /// is unchanged is the caller's byte comparison.)
    pub fn check_rejected_message(
        state_before: &[u8],
        message: &[u8],
        implementation: ErrorClass,
    ) -> Verdict {
        let mut session = match restore(state_before) {
            Ok(session) => session,
            Err(verdict) => return verdict,
        };
        // Any key serves for a new turn: a rejection never depends on it.
        match session.decrypt(message, Some(&[0x11; 32])) {
            Ok(_) => Verdict::ModelAccepts,
            Err(e) => same_class(e, implementation),
        }
    }

    /// An accepted bundle: it must decode and verify under the model (§4).
    pub fn check_bundle_accepted(bundle: &[u8]) -> Verdict {
        match Bundle::decode(bundle).and_then(|b| verify_bundle(&b)) {
            Ok(_) => Verdict::Agrees,
            Err(e) => Verdict::ModelRejects(e),
        }
    }

    /// A rejected bundle: the model must reject it with the same class.
    pub fn check_bundle_rejected(bundle: &[u8], implementation: ErrorClass) -> Verdict {
        match Bundle::decode(bundle).and_then(|b| verify_bundle(&b)) {
            Ok(_) => Verdict::ModelAccepts,
            Err(e) => same_class(e, implementation),
        }
    }

    /// An opened sealed state: `sealed` must open under `storage_key` by the
    /// model's §9.2 derivation, and its plain state must restore and equal
    /// `state` (the implementation's export of the session it opened).
    pub fn check_opened_state(storage_key: &[u8; 32], sealed: &[u8], state: &[u8]) -> Verdict {
        let plain = match open_state(storage_key, sealed) {
            Ok(plain) => plain,
            Err(e) => return Verdict::ModelRejects(e),
        };
        if let Err(e) = ModelSession::decode(&plain) {
            return Verdict::ModelRejects(e);
        }
        compare("state", &plain, state)
    }

    /// A sealed state the implementation produced with `salt`: must equal
    /// the model's §9.2 sealing of `state`.
    pub fn check_sealed_state(
        storage_key: &[u8; 32],
        salt: &[u8; 32],
        state: &[u8],
        sealed: &[u8],
    ) -> Verdict {
        compare(
            "sealed state",
            &crate::state::seal_state(storage_key, salt, state),
            sealed,
        )
    }
}

fn same_class(model: ModelError, implementation: ErrorClass) -> Verdict {
    match model.class() {
        Some(class) if class == implementation => Verdict::Agrees,
        Some(class) => Verdict::ClassDiffers {
            model: class,
            implementation,
        },
        None => Verdict::Unusable(model),
    }
}

fn check_state_after(session: &ModelSession, state_after: Option<&[u8]>) -> Verdict {
    let Some(state_after) = state_after else {
        return Verdict::Agrees;
    };
    match session.encode() {
        Ok(expected) => compare("state after", &expected, state_after),
        Err(e) => Verdict::Unusable(e),
    }
}
