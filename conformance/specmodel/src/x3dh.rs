//! SPEC.md §4 (bundle verification) and §5 (X3DH, both sides).

use crate::error::{ModelError, ModelResult};
use crate::kdf::x3dh_secret;
use crate::keys::{IdentityModel, is_low_order_x25519, validate_identity_key, verify_signature};
use crate::primitives::{x25519, x25519_public};
use crate::secret::Secret32;
use crate::wire::Bundle;

/// The bundle `identity` publishes for these prekeys (SPEC.md §4).
pub fn make_bundle(
    identity: &IdentityModel,
    signed_prekey: (u32, &[u8; 32]),
    one_time_prekey: Option<(u32, &[u8; 32])>,
) -> Bundle {
    let spk = x25519_public(signed_prekey.1);
    Bundle {
        identity_key: identity.public,
        signed_prekey_id: signed_prekey.0,
        signed_prekey: spk,
        signature: identity.sign(&spk),
        one_time_prekey: one_time_prekey.map(|(id, private)| (id, x25519_public(private))),
    }
}

/// Verifies a decoded bundle in SPEC.md §4's order; returns `IK_B`'s
/// Montgomery form.
pub fn verify_bundle(bundle: &Bundle) -> ModelResult<[u8; 32]> {
    // 1. IK_B is a valid, non-small-order Ed25519 key
    let identity_x25519 = validate_identity_key(&bundle.identity_key)?;
    // 2. sig verifies strictly under IK_B over Encode(SPK_B)
    verify_signature(
        &bundle.identity_key,
        &bundle.signed_prekey,
        &bundle.signature,
    )?;
    // 3. SPK_B is not of low order
    if is_low_order_x25519(&bundle.signed_prekey) {
        return Err(ModelError::LowOrderKey);
    }
    // 4. OPK_B, if present, is not of low order
    if let Some((_, opk)) = &bundle.one_time_prekey
        && is_low_order_x25519(opk)
    {
        return Err(ModelError::LowOrderKey);
    }
    Ok(identity_x25519)
}

/// `AD = Encode(IK_A) || Encode(IK_B)`.
pub fn associated_data(initiator: &[u8; 32], responder: &[u8; 32]) -> [u8; 64] {
    let mut ad = [0u8; 64];
    ad[..32].copy_from_slice(initiator);
    ad[32..].copy_from_slice(responder);
    ad
}

/// X3DH for the initiator (§5.1 step 3) on a bundle: verifies it first,
/// then returns `(SK, AD)`.
pub fn initiator_secret(
    identity: &IdentityModel,
    bundle: &Bundle,
    ephemeral_private: &[u8; 32],
) -> ModelResult<(Secret32, [u8; 64])> {
    let ik_b = verify_bundle(bundle)?;
    // DH1 = X25519(IK_A, SPK_B); DH2 = X25519(EK_A, IK_B);
    // DH3 = X25519(EK_A, SPK_B); DH4 = X25519(EK_A, OPK_B)
    let dh1 = x25519(identity.montgomery_private(), &bundle.signed_prekey)?;
    let dh2 = x25519(ephemeral_private, &ik_b)?;
    let dh3 = x25519(ephemeral_private, &bundle.signed_prekey)?;
    let sk = match &bundle.one_time_prekey {
        Some((_, opk)) => {
            let dh4 = x25519(ephemeral_private, opk)?;
            x3dh_secret(&[&dh1, &dh2, &dh3, &dh4])
        }
        None => x3dh_secret(&[&dh1, &dh2, &dh3]),
    };
    Ok((sk, associated_data(&identity.public, &bundle.identity_key)))
}

/// X3DH for the responder (§5.2 steps 2 and 4): validates `IK_A`, then
/// returns `(SK, AD)`.
pub fn responder_secret(
    identity: &IdentityModel,
    initiator_identity: &[u8; 32],
    ephemeral_public: &[u8; 32],
    signed_prekey_private: &[u8; 32],
    one_time_prekey_private: Option<&[u8; 32]>,
) -> ModelResult<(Secret32, [u8; 64])> {
    let ik_a = validate_identity_key(initiator_identity)?;
    // DH1 = X25519(SPK_B, IK_A); DH2 = X25519(IK_B, EK_A);
    // DH3 = X25519(SPK_B, EK_A); DH4 = X25519(OPK_B, EK_A)
    let dh1 = x25519(signed_prekey_private, &ik_a)?;
    let dh2 = x25519(identity.montgomery_private(), ephemeral_public)?;
    let dh3 = x25519(signed_prekey_private, ephemeral_public)?;
    let sk = match one_time_prekey_private {
        Some(opk) => {
            let dh4 = x25519(opk, ephemeral_public)?;
            x3dh_secret(&[&dh1, &dh2, &dh3, &dh4])
        }
        None => x3dh_secret(&[&dh1, &dh2, &dh3]),
    };
    Ok((sk, associated_data(initiator_identity, &identity.public)))
}
