//! Calls into the implementation under test, with every answer turned into
//! either an outcome the model can judge or a [`Violation`].

use std::collections::BTreeSet;

use rand_chacha::ChaCha20Rng;
use rand_core::{Rng, SeedableRng};

use super::{Property, Violation};
use sealwire_adapter::hex::Bytes;
use sealwire_adapter::{Capability, Output, Request};
use sealwire_adapter::{Implementation, OpError};

/// Every private key and salt the runner supplies, drawn from the case seed.
pub(crate) struct KeySource(ChaCha20Rng);

impl KeySource {
    pub(crate) fn new(seed: u64) -> Self {
        Self(ChaCha20Rng::seed_from_u64(seed))
    }

    pub(crate) fn next(&mut self) -> [u8; 32] {
        let mut key = [0u8; 32];
        self.0.fill_bytes(&mut key);
        key
    }
}

/// The keys of a case's two parties, drawn from its seed in a fixed order:
/// Alice's identity seed, Bob's identity seed, Bob's signed prekey, Bob's
/// one-time prekey (used only when the case offers one).
pub(crate) struct Parties {
    pub(crate) alice_seed: [u8; 32],
    pub(crate) bob_seed: [u8; 32],
    pub(crate) spk_secret: [u8; 32],
    pub(crate) opk_secret: [u8; 32],
    pub(crate) bob: sealwire::IdentityKeyPair,
    pub(crate) spk: sealwire::SignedPreKey,
    pub(crate) opk: Option<sealwire::OneTimePreKey>,
}

impl Parties {
    pub(crate) fn draw(keys: &mut KeySource, with_one_time_prekey: bool) -> Self {
        let alice_seed = keys.next();
        let bob_seed = keys.next();
        let spk_secret = keys.next();
        let opk_secret = keys.next();
        let bob = sealwire::IdentityKeyPair::from_seed(bob_seed);
        let spk = sealwire::SignedPreKey::new(super::session::SIGNED_PREKEY_ID, spk_secret, &bob);
        let opk = with_one_time_prekey
            .then(|| sealwire::OneTimePreKey::new(super::session::ONE_TIME_PREKEY_ID, opk_secret));
        Self {
            alice_seed,
            bob_seed,
            spk_secret,
            opk_secret,
            bob,
            spk,
            opk,
        }
    }
}

/// The implementation under test, the step being run, and every handle it
/// returned (freed at the end of the case, whatever happened).
pub(crate) struct Driver<'a> {
    imp: &'a mut dyn Implementation,
    capabilities: BTreeSet<Capability>,
    handles: Vec<String>,
    /// The schedule step being run (`None` during the handshake).
    pub(crate) step: Option<usize>,
}

impl<'a> Driver<'a> {
    pub(crate) fn new(imp: &'a mut dyn Implementation) -> Self {
        let capabilities = imp.capabilities().clone();
        Self {
            imp,
            capabilities,
            handles: Vec::new(),
            step: None,
        }
    }

    pub(crate) fn has(&self, capability: Capability) -> bool {
        self.capabilities.contains(&capability)
    }

    pub(crate) fn violation(&self, property: Property, detail: impl Into<String>) -> Violation {
        Violation {
            property,
            step: self.step,
            detail: detail.into(),
            narration: Vec::new(),
        }
    }

    /// Runs one operation: `Ok(Ok(output))`, `Ok(Err(error class))`, or a
    /// violation when the implementation is broken or refuses an operation
    /// of a capability it claims.
    pub(crate) fn call(&mut self, request: Request) -> Result<Result<Output, String>, Violation> {
        match self.imp.call(&request) {
            Ok(output) => Ok(Ok(output)),
            Err(OpError::Rejected(class)) => Ok(Err(class)),
            Err(e @ (OpError::Unsupported(_) | OpError::Broken(_))) => Err(self.violation(
                Property::Interface,
                format!("`{}` failed: {e}", request.op()),
            )),
        }
    }

    /// Runs an operation that must succeed.
    pub(crate) fn expect_ok(
        &mut self,
        property: Property,
        request: Request,
    ) -> Result<Output, Violation> {
        let op = request.op();
        self.call(request)?.map_err(|class| {
            self.violation(property, format!("`{op}` was rejected with `{class}`"))
        })
    }

    /// The handle in `field` of `output`, remembered for freeing.
    pub(crate) fn handle(&mut self, output: &Output, field: &str) -> Result<String, Violation> {
        let handle = output
            .get(field)
            .and_then(|v| v.as_str())
            .ok_or_else(|| self.missing(field))?
            .to_owned();
        self.handles.push(handle.clone());
        Ok(handle)
    }

    /// Frees a handle now.
    pub(crate) fn free(&mut self, handle: &str) -> Result<(), Violation> {
        self.handles.retain(|h| h != handle);
        self.expect_ok(
            Property::Interface,
            Request::Free {
                handle: handle.to_owned(),
            },
        )
        .map(drop)
    }

    /// Frees every handle still open; errors are ignored (the case is over).
    pub(crate) fn free_all(&mut self) {
        for handle in std::mem::take(&mut self.handles) {
            let _ = self.imp.call(&Request::Free { handle });
        }
    }

    pub(crate) fn bytes(&self, output: &Output, field: &str) -> Result<Vec<u8>, Violation> {
        output
            .get(field)
            .and_then(|v| v.as_str())
            .and_then(|s| Bytes::from_hex(s).ok())
            .map(|b| b.0)
            .ok_or_else(|| self.missing(field))
    }

    pub(crate) fn number(&self, output: &Output, field: &str) -> Result<u64, Violation> {
        output
            .get(field)
            .and_then(|v| v.as_u64())
            .ok_or_else(|| self.missing(field))
    }

    fn missing(&self, field: &str) -> Violation {
        self.violation(
            Property::Interface,
            format!("output lacks a well-formed `{field}` field"),
        )
    }

    /// The exported state of a session (capability `state`).
    pub(crate) fn export(&mut self, session: &str) -> Result<Vec<u8>, Violation> {
        let out = self.expect_ok(
            Property::Interface,
            Request::ExportState {
                session: session.to_owned(),
            },
        )?;
        self.bytes(&out, "state")
    }
}

/// Low-order X25519 points (and non-canonical encodings of them): the
/// all-zero output of X25519 with any private key.
pub(crate) const LOW_ORDER_POINTS: [[u8; 32]; 7] = [
    [0; 32],
    {
        let mut p = [0; 32];
        p[0] = 1;
        p
    },
    [
        0xe0, 0xeb, 0x7a, 0x7c, 0x3b, 0x41, 0xb8, 0xae, 0x16, 0x56, 0xe3, 0xfa, 0xf1, 0x9f, 0xc4,
        0x6a, 0xda, 0x09, 0x8d, 0xeb, 0x9c, 0x32, 0xb1, 0xfd, 0x86, 0x62, 0x05, 0x16, 0x5f, 0x49,
        0xb8, 0x00,
    ],
    [
        0x5f, 0x9c, 0x95, 0xbc, 0xa3, 0x50, 0x8c, 0x24, 0xb1, 0xd0, 0xb1, 0x55, 0x9c, 0x83, 0xef,
        0x5b, 0x04, 0x44, 0x5c, 0xc4, 0x58, 0x1c, 0x8e, 0x86, 0xd8, 0x22, 0x4e, 0xdd, 0xd0, 0x9f,
        0x11, 0x57,
    ],
    field_element(0xec),
    field_element(0xed),
    field_element(0xee),
];

/// Whether an X25519 public key is canonically encoded (SPEC.md: bit 255
/// clear and u < p = 2^255 - 19); a received key that is not is `wire`.
/// The independent model's rule (`sealwire-specmodel`), shared with the
/// black-box model.
pub(crate) use sealwire_specmodel::keys::is_canonical_x25519 as is_canonical;

/// The error class of a low-order key on the wire: non-canonical encodings
/// are refused while decoding, canonical ones by the DH check.
pub(crate) fn low_order_class(key: &[u8; 32]) -> &'static str {
    if is_canonical(key) {
        "low_order_key"
    } else {
        "wire"
    }
}

/// `p - 1`, `p` and `p + 1` for the low byte 0xec, 0xed, 0xee.
const fn field_element(low: u8) -> [u8; 32] {
    let mut p = [0xff; 32];
    p[0] = low;
    p[31] = 0x7f;
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn low_order_points_are_low_order() {
        for p in LOW_ORDER_POINTS {
            assert!(
                sealwire::PublicKey::from_bytes(p).is_low_order(),
                "{p:02x?}"
            );
        }
    }

    #[test]
    fn canonical_encodings_agree_with_the_reference() {
        let mut keys = LOW_ORDER_POINTS.to_vec();
        keys.push([0xff; 32]);
        keys.push(field_element(0xeb));
        keys.push(KeySource::new(1).next());
        for key in keys {
            assert_eq!(
                is_canonical(&key),
                sealwire::PublicKey::from_bytes(key).is_canonical(),
                "{key:02x?}"
            );
        }
        assert!(!is_canonical(&field_element(0xed)));
        assert!(is_canonical(&field_element(0xec)));
    }

    #[test]
    fn key_source_replays_from_its_seed() {
        let (mut a, mut b) = (KeySource::new(9), KeySource::new(9));
        assert_eq!(a.next(), b.next());
        assert_ne!(a.next(), KeySource::new(10).next());
    }
}
