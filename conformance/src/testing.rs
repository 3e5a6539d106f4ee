//! Test support shared by the runner's and the interop mode's tests: the
//! reference implementation with one planted misbehaviour, to show that a
//! check catches it (or, for a tolerated difference, counts it).

use std::collections::BTreeSet;

use sealwire_adapter::hex::{self, Bytes};
use sealwire_adapter::{Capability, Implementation, OpError, Output, Request};
use sealwire_reference::ReferenceImplementation;
use serde_json::Value;

/// How [`Faulty`] misbehaves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Fault {
    /// A rejected decrypt still advances the session (sends a message).
    MutateOnRejectedDecrypt,
    /// Bundles are signed with a corrupted signature.
    BadSignature,
    /// Breaks at the n-th call (counting from 0).
    BreakAt(usize),
    /// Flips a bit of every 7th ratchet message it sends.
    CorruptSend,
    /// Reports `decryption_failed` for every duplicate.
    DuplicateAsDecryptionFailed,
    /// Accepts any message it fails to decrypt with an empty plaintext.
    AcceptsForgeries,
}

/// Wraps the reference and misbehaves on purpose, as its [`Fault`] says.
#[derive(Debug)]
pub(crate) struct Faulty {
    inner: ReferenceImplementation,
    fault: Fault,
    /// Calls so far (for `BreakAt`).
    calls: usize,
    /// Messages sent so far (for `CorruptSend`).
    sent: u64,
}

impl Faulty {
    /// The full reference with `fault`.
    pub(crate) fn new(fault: Fault) -> Self {
        Self::wrapping(ReferenceImplementation::new(), fault)
    }

    /// `inner` (e.g. with fewer capabilities) with `fault`.
    pub(crate) fn wrapping(inner: ReferenceImplementation, fault: Fault) -> Self {
        Self {
            inner,
            fault,
            calls: 0,
            sent: 0,
        }
    }
}

impl Implementation for Faulty {
    fn name(&self) -> &str {
        "faulty"
    }

    fn capabilities(&self) -> &BTreeSet<Capability> {
        self.inner.capabilities()
    }

    fn call(&mut self, request: &Request) -> Result<Output, OpError> {
        let call = self.calls;
        self.calls += 1;
        if let Fault::BreakAt(n) = self.fault
            && call >= n
        {
            return Err(OpError::Broken("stopped on purpose".into()));
        }
        let result = self.inner.call(request);
        match (self.fault, request, result) {
            (Fault::MutateOnRejectedDecrypt, Request::Decrypt { session, .. }, Err(e)) => {
                let _ = self.inner.call(&Request::Encrypt {
                    session: session.clone(),
                    plaintext: Bytes::default(),
                });
                Err(e)
            }
            (Fault::BadSignature, Request::BundleCreate { .. }, Ok(mut out)) => {
                let mut bytes = bytes_field(&out, "bundle").expect("a bundle");
                bytes[100] ^= 1;
                out.insert("bundle".into(), hex::to_value(&bytes));
                Ok(out)
            }
            (Fault::CorruptSend, Request::Encrypt { .. }, Ok(mut out)) => {
                let sent = self.sent;
                self.sent += 1;
                if (sent + 1).is_multiple_of(7)
                    && let Some(mut bytes) = bytes_field(&out, "message")
                {
                    let last = bytes.len() - 1;
                    bytes[last] ^= 1;
                    out.insert("message".into(), hex::to_value(&bytes));
                }
                Ok(out)
            }
            (
                Fault::DuplicateAsDecryptionFailed,
                Request::Decrypt { .. },
                Err(OpError::Rejected(class)),
            ) if class == "duplicate" => Err(OpError::Rejected("decryption_failed".into())),
            (Fault::AcceptsForgeries, Request::Decrypt { .. }, Err(OpError::Rejected(_))) => {
                Ok([("plaintext".to_owned(), Value::String(String::new()))]
                    .into_iter()
                    .collect())
            }
            (_, _, result) => result,
        }
    }
}

fn bytes_field(output: &Output, name: &str) -> Option<Vec<u8>> {
    output
        .get(name)
        .and_then(Value::as_str)
        .and_then(|s| hex::decode(s).ok())
}
