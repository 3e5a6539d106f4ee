//! The key schedule: SK (SPEC.md §5.1), `KDF_RK` and `KDF_CK` (§6.1), the
//! message keys and sealing (§7), the sealed-state keys (§9.2).

use zeroize::Zeroizing;

use crate::error::{ModelError, ModelResult};
use crate::primitives::{aead_open, aead_seal, hkdf, hmac};
use crate::secret::Secret32;
use crate::wire::{HEADER_LEN, MAX_PLAINTEXT_LEN, OVERHEAD};

/// ASCII `Sealwire X3DH v1`.
pub const INFO_X3DH: &[u8] = b"Sealwire X3DH v1";
/// ASCII `Sealwire Root v1`.
pub const INFO_ROOT: &[u8] = b"Sealwire Root v1";
/// ASCII `Sealwire MessageKeys v1`.
pub const INFO_MESSAGE_KEYS: &[u8] = b"Sealwire MessageKeys v1";
/// ASCII `Sealwire State v1`.
pub const INFO_STATE: &[u8] = b"Sealwire State v1";

/// `SK = HKDF(0x00*32, 0xFF*32 || DH1 || DH2 || DH3 [|| DH4], "Sealwire X3DH v1", 32)`.
pub fn x3dh_secret(dh_outputs: &[&Secret32]) -> Secret32 {
    let mut ikm = Zeroizing::new(vec![0xff_u8; 32]);
    for dh in dh_outputs {
        ikm.extend_from_slice(dh.expose());
    }
    let mut sk = Zeroizing::new([0u8; 32]);
    hkdf(&[0u8; 32], &ikm, INFO_X3DH, &mut sk[..]);
    Secret32::new(*sk)
}

/// `KDF_RK(rk, dh_out)`: `(new root key, chain key)`.
pub fn kdf_rk(root_key: &[u8; 32], dh_output: &[u8; 32]) -> (Secret32, Secret32) {
    let mut okm = Zeroizing::new([0u8; 64]);
    hkdf(root_key, dh_output, INFO_ROOT, &mut okm[..]);
    (
        Secret32::from_slice(&okm[..32]).unwrap_or_else(|| unreachable!()),
        Secret32::from_slice(&okm[32..]).unwrap_or_else(|| unreachable!()),
    )
}

/// `KDF_CK(ck)`: `(next chain key = HMAC(ck, 0x02), MK = HMAC(ck, 0x01))`.
pub fn kdf_ck(chain_key: &[u8; 32]) -> (Secret32, Secret32) {
    (hmac(chain_key, &[0x02]), hmac(chain_key, &[0x01]))
}

/// `key || nonce = HKDF(0x00*32, MK, "Sealwire MessageKeys v1", 44)`.
pub fn message_keys(message_key: &[u8; 32]) -> (Secret32, [u8; 12]) {
    expand_key_nonce(&[0u8; 32], message_key, INFO_MESSAGE_KEYS)
}

/// `key || nonce = HKDF(salt, storage_key, "Sealwire State v1", 44)`.
pub fn state_keys(storage_key: &[u8; 32], salt: &[u8; 32]) -> (Secret32, [u8; 12]) {
    expand_key_nonce(salt, storage_key, INFO_STATE)
}

fn expand_key_nonce(salt: &[u8], ikm: &[u8], info: &[u8]) -> (Secret32, [u8; 12]) {
    let mut okm = Zeroizing::new([0u8; 44]);
    hkdf(salt, ikm, info, &mut okm[..]);
    let key = Secret32::from_slice(&okm[..32]).unwrap_or_else(|| unreachable!());
    let mut nonce = [0u8; 12];
    nonce.copy_from_slice(&okm[32..]);
    (key, nonce)
}

/// `aad = AD || header` (105 bytes).
fn aad(ad: &[u8; 64], header: &[u8]) -> Vec<u8> {
    let mut aad = Vec::with_capacity(64 + HEADER_LEN);
    aad.extend_from_slice(ad);
    aad.extend_from_slice(header);
    aad
}

/// `message = header || AEAD(key, nonce, AD || header, plaintext)` (§7).
/// A plaintext over `MAX_PLAINTEXT_LEN` is `ratchet_limit`.
pub fn seal_message(
    message_key: &[u8; 32],
    ad: &[u8; 64],
    header: &[u8; HEADER_LEN],
    plaintext: &[u8],
) -> ModelResult<Vec<u8>> {
    if plaintext.len() > MAX_PLAINTEXT_LEN {
        return Err(ModelError::RatchetLimit("plaintext too long"));
    }
    let (key, nonce) = message_keys(message_key);
    let mut message = Vec::with_capacity(plaintext.len() + OVERHEAD);
    message.extend_from_slice(header);
    message.extend_from_slice(&aead_seal(
        key.expose(),
        &nonce,
        &aad(ad, header),
        plaintext,
    ));
    Ok(message)
}

/// Opens `header || ciphertext || tag` with `MK` (the sealing core: the
/// header is authenticated, not interpreted). Shorter than 57 bytes or
/// longer than `MAX_PLAINTEXT_LEN + 57` is `wire`; a bad tag is
/// `decryption_failed`.
pub fn open_message(
    message_key: &[u8; 32],
    ad: &[u8; 64],
    message: &[u8],
) -> ModelResult<Zeroizing<Vec<u8>>> {
    if message.len() < OVERHEAD {
        return Err(ModelError::Wire("truncated"));
    }
    if message.len() > MAX_PLAINTEXT_LEN + OVERHEAD {
        return Err(ModelError::Wire("oversized"));
    }
    let (header, body) = message.split_at(HEADER_LEN);
    let (key, nonce) = message_keys(message_key);
    aead_open(key.expose(), &nonce, &aad(ad, header), body)
}
