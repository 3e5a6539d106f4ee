//! A session pair from seeded keys, for the zoo's in-process checks
//! (`sizes`, `residue`, the zoo's sent-messages check).

use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use sealwire::{
    IdentityKeyPair, InMemoryPreKeyStore, PreKeyBundle, Session, SignedPreKey, initiate_with_rng,
    respond_with_rng,
};

/// Alice's and Bob's sessions after the handshake, and the generator that
/// drew the handshake's keys (for the caller's later draws). The identity
/// and signed-prekey seeds come from `keys_seed`, the handshake's
/// randomness from `handshake_seed`; `spk_id` names the signed prekey and
/// `first` is the initial message's plaintext.
pub(crate) fn session_pair(
    keys_seed: u64,
    handshake_seed: u64,
    spk_id: u32,
    first: &[u8],
) -> Result<(Session, Session, ChaCha20Rng), String> {
    let mut rng = ChaCha20Rng::seed_from_u64(keys_seed);
    let mut seed = || {
        let mut b = [0u8; 32];
        rand_core::Rng::fill_bytes(&mut rng, &mut b);
        b
    };
    let alice = IdentityKeyPair::from_seed(seed());
    let bob = IdentityKeyPair::from_seed(seed());
    let spk = SignedPreKey::new(spk_id, seed(), &bob);
    let bundle = PreKeyBundle::new(&bob, &spk, None);
    let mut store = InMemoryPreKeyStore::new();
    store.add_signed_prekey(spk);
    let mut rng = ChaCha20Rng::seed_from_u64(handshake_seed);
    let (alice_session, initial) = initiate_with_rng(&alice, &bundle, first, &mut rng)
        .map_err(|e| format!("initiate failed: {e}"))?;
    let (bob_session, _) = respond_with_rng(&bob, &mut store, &initial, &mut rng)
        .map_err(|e| format!("respond failed: {e}"))?;
    Ok((alice_session, bob_session, rng))
}
