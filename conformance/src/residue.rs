//! Secret residue along the key stores' operations and the state sizes
//! and shapes the fuzz seeds never reach (issue 18's "residue" bullet),
//! under the freed-memory scan (the zoo binary's global allocator).
//!
//! Prekey stores ([`prekey_stores`]): stores of 1 to 100 one-time prekeys,
//! one removed at every position (the first, second, middle and last two of
//! the larger ones), a prekey added after the removal and a second one
//! removed, and for each size a `respond` that consumes the middle one.
//! States with many remembered chains ([`remembered_chains`]): 20 changes
//! of sender, one message skipped in each chain, so the 16 previous
//! ratchet keys and skipped keys of several chains are held, then a state
//! round trip.
//!
//! For each store size (empty, one key, a few, around 1,024, the 2,000-key
//! cap and past it, so the oldest are evicted): Bob skips that many keys,
//! uses a stored key at the front, in the middle and at the end, his state
//! goes through `to_bytes` and `from_bytes`, and everything is dropped.
//! Bob's chain keys and his newest stored keys (the freed-memory registry
//! holds 32,768 windows, so not all 2,000) are registered as secrets; any
//! of them found in a freed heap block is residue.

use sealwire::Session;
use sealwire::testing::session_secrets;
use sealwire_oracles::LeakScanner;
use sealwire_oracles::freed;

/// Stored-key counts: each side of the 1,024 and 2,000 boundaries.
const SIZES: [usize; 7] = [0, 1, 9, 1024, 1025, 2000, 2040];
/// How many of the newest stored keys are registered per size.
const NEWEST: usize = 150;

/// `None` when nothing was left in freed memory; otherwise what was.
pub(crate) fn check() -> Option<String> {
    freed::set_enabled(true);
    if !freed::is_active() {
        return Some("the freed-memory scan is not active in this build: nothing checked".into());
    }
    if let Some(residue) = prekey_stores() {
        return Some(residue);
    }
    if let Some(residue) = remembered_chains() {
        return Some(residue);
    }
    let mut scanner = LeakScanner::new();
    let watch = freed::Watch::begin(&scanner);
    for (phase, &size) in SIZES.iter().enumerate() {
        freed::phase(phase as u32);
        if let Err(why) = one_size(size, &mut scanner) {
            return Some(format!("{size} stored keys: {why}"));
        }
    }
    watch.finish().err().map(|leak| {
        let size = leak
            .place
            .rsplit(' ')
            .next()
            .and_then(|n| n.parse::<usize>().ok())
            .and_then(|i| SIZES.get(i));
        format!(
            "{leak} (store size {})",
            size.map_or("?".to_owned(), ToString::to_string)
        )
    })
}

fn one_size(size: usize, scanner: &mut LeakScanner) -> Result<(), String> {
    let (mut alice_session, mut bob_session, mut rng) =
        crate::pair::session_pair(0x5ea1_2e51 ^ size as u64, 0x5ea1_2e52, 5, b"residue")?;
    let mut messages = Vec::with_capacity(size + 1);
    for i in 0..=size {
        let m = alice_session
            .encrypt(&(i as u32).to_be_bytes())
            .map_err(|e| format!("encrypt: {e}"))?;
        messages.push(m);
    }
    // Bob receives every 1,000th message (a jump may skip at most
    // MAX_SKIP keys) and the last: every other key goes to the store,
    // which keeps the newest MAX_SKIPPED_KEYS.
    let delivered: Vec<usize> = (1..)
        .map(|k| k * sealwire::MAX_SKIP as usize)
        .take_while(|&i| i < size)
        .chain([size])
        .collect();
    for &i in &delivered {
        bob_session
            .decrypt_with_rng(&messages[i], &mut rng)
            .map_err(|e| format!("message {i}: {e}"))?;
    }
    let skipped: Vec<usize> = (0..size).filter(|i| !delivered.contains(i)).collect();
    let stored = &skipped[skipped.len().saturating_sub(sealwire::MAX_SKIPPED_KEYS)..];
    if bob_session.skipped_keys_len() != stored.len() {
        return Err(format!(
            "{} keys stored, expected {}",
            bob_session.skipped_keys_len(),
            stored.len()
        ));
    }
    register(scanner, &bob_session);
    // Use a stored key at the front, in the middle and at the end.
    let mut used = Vec::new();
    if let (Some(&first), Some(&last)) = (stored.first(), stored.last()) {
        for at in [first, stored[stored.len() / 2], last] {
            if !used.contains(&at) {
                used.push(at);
            }
        }
    }
    for &at in &used {
        bob_session
            .decrypt_with_rng(&messages[at], &mut rng)
            .map_err(|e| format!("stored key {at}: {e}"))?;
    }
    let state = bob_session.to_bytes();
    let restored = Session::from_bytes(&state).map_err(|e| format!("from_bytes: {e}"))?;
    if restored.to_bytes() != state {
        return Err("the restored state serializes differently".into());
    }
    let expected = stored.len() - used.len();
    if restored.skipped_keys_len() != expected {
        return Err(format!(
            "{} keys stored after the round trip, expected {expected}",
            restored.skipped_keys_len()
        ));
    }
    Ok(())
}

/// Registers Bob's root and chain keys, ratchet private key and newest
/// stored keys (the scan's own allocations paused).
fn register(scanner: &mut LeakScanner, bob: &Session) {
    freed::paused(|| {
        let secrets = session_secrets(bob);
        // Root, DHs, CKs, next sending key, CKr, next receiving key.
        let fixed = secrets.len().min(6);
        for s in &secrets[..fixed] {
            scanner.add_secret("Bob's session key", &s[..]);
        }
        let stored = &secrets[fixed..];
        for s in &stored[stored.len().saturating_sub(NEWEST)..] {
            scanner.add_secret("one of Bob's newest stored message keys", &s[..]);
        }
    });
}

/// One-time prekey counts of [`prekey_stores`].
const PREKEY_STORE_SIZES: [usize; 6] = [1, 2, 3, 8, 33, 100];

/// The removal positions for a store of `size`: every one up to 8, else
/// the first two, the middle and the last two.
fn removal_positions(size: usize) -> Vec<usize> {
    if size <= 8 {
        return (0..size).collect();
    }
    let mut at = vec![0, 1, size / 2, size - 2, size - 1];
    at.dedup();
    at
}

/// The freed-memory scan over prekey stores: see the module documentation.
fn prekey_stores() -> Option<String> {
    use sealwire::{
        IdentityKeyPair, InMemoryPreKeyStore, OneTimePreKey, PreKeyBundle, PreKeyStore,
        SignedPreKey,
    };
    let mut scanner = LeakScanner::new();
    let mut rng = <rand_chacha::ChaCha20Rng as rand_core::SeedableRng>::seed_from_u64(0x0_9e4e);
    let mut draw = || {
        let mut b = [0u8; 32];
        rand_core::Rng::fill_bytes(&mut rng, &mut b);
        b
    };
    let alice = IdentityKeyPair::from_seed(draw());
    let bob = IdentityKeyPair::from_seed(draw());
    let spk_secret = draw();
    let watch = freed::Watch::begin(&scanner);
    freed::paused(|| scanner.add_secret("signed prekey", &spk_secret));
    let mut phase = 0u32;
    for size in PREKEY_STORE_SIZES {
        // The harness's own copies: wiped when dropped, drawn and dropped
        // with the scan paused.
        let secrets: zeroize::Zeroizing<Vec<[u8; 32]>> = freed::paused(|| {
            let secrets = zeroize::Zeroizing::new((0..=size).map(|_| draw()).collect::<Vec<_>>());
            for s in secrets.iter() {
                scanner.add_secret(format!("one-time prekey of a store of {size}"), s);
            }
            secrets
        });
        let fill = |store: &mut InMemoryPreKeyStore| {
            store.add_signed_prekey(SignedPreKey::new(1, spk_secret, &bob));
            for (id, s) in secrets[..size].iter().enumerate() {
                store.add_one_time_prekey(OneTimePreKey::new(id as u32, *s));
            }
        };
        for at in removal_positions(size) {
            phase += 1;
            freed::phase(phase);
            let mut store = InMemoryPreKeyStore::new();
            fill(&mut store);
            store.remove_one_time_prekey(at as u32);
            store.add_one_time_prekey(OneTimePreKey::new(size as u32, secrets[size]));
            store.remove_one_time_prekey(((at + 1) % size) as u32);
            let left = store.one_time_prekeys_len();
            let expected = if size == 1 { 1 } else { size - 1 };
            if left != expected {
                return Some(format!(
                    "a store of {size} after two removals holds {left}, expected {expected}"
                ));
            }
            drop(store);
        }
        // The handshake's own removal: respond consumes the middle prekey.
        phase += 1;
        freed::phase(phase);
        let mut store = InMemoryPreKeyStore::new();
        fill(&mut store);
        let middle = OneTimePreKey::new((size / 2) as u32, secrets[size / 2]);
        let bundle =
            PreKeyBundle::new(&bob, &SignedPreKey::new(1, spk_secret, &bob), Some(&middle));
        let mut handshake_rng =
            <rand_chacha::ChaCha20Rng as rand_core::SeedableRng>::seed_from_u64(size as u64);
        let result = sealwire::initiate_with_rng(&alice, &bundle, b"residue", &mut handshake_rng)
            .and_then(|(a, initial)| {
                sealwire::respond_with_rng(&bob, &mut store, &initial, &mut handshake_rng)
                    .map(|(b, _)| (a, b))
            });
        let Ok((alice_session, bob_session)) = result else {
            return Some(format!("the handshake with a store of {size} failed"));
        };
        register(&mut scanner, &alice_session);
        register(&mut scanner, &bob_session);
        if store.one_time_prekey((size / 2) as u32).is_some() {
            return Some(format!("respond left the used prekey in a store of {size}"));
        }
        drop((alice_session, bob_session, store, middle, bundle));
        freed::paused(move || drop(secrets));
    }
    watch
        .finish()
        .err()
        .map(|leak| format!("prekey stores: {leak}"))
}

/// Changes of sender in [`remembered_chains`] (more than the 16 previous
/// ratchet keys a state remembers).
const TURNS: usize = 20;

/// The freed-memory scan over a state with many remembered chains: see
/// the module documentation.
fn remembered_chains() -> Option<String> {
    let mut scanner = LeakScanner::new();
    let watch = freed::Watch::begin(&scanner);
    let outcome = (|| {
        let (mut alice, mut bob, mut rng) =
            crate::pair::session_pair(0x5ea1_c4a1, 0x5ea1_c4a2, 3, b"chains")?;
        for turn in 0..TURNS {
            freed::phase(turn as u32);
            let (from, to) = if turn % 2 == 0 {
                (&mut bob, &mut alice)
            } else {
                (&mut alice, &mut bob)
            };
            // Two messages: the first is never delivered (its key is
            // stored when the second is), the second is.
            from.encrypt(b"skipped")
                .map_err(|e| format!("encrypt: {e}"))?;
            let delivered = from
                .encrypt(b"delivered")
                .map_err(|e| format!("encrypt: {e}"))?;
            to.decrypt_with_rng(&delivered, &mut rng)
                .map_err(|e| format!("turn {turn}: {e}"))?;
            register(&mut scanner, to);
        }
        let state = bob.to_bytes();
        let restored = Session::from_bytes(&state).map_err(|e| format!("from_bytes: {e}"))?;
        if restored.to_bytes() != state {
            return Err("the restored state serializes differently".into());
        }
        if bob.skipped_keys_len() < TURNS / 2 {
            return Err(format!("{} stored keys", bob.skipped_keys_len()));
        }
        drop((alice, bob, restored));
        Ok::<(), String>(())
    })();
    if let Err(why) = outcome {
        return Some(format!("remembered chains: {why}"));
    }
    watch
        .finish()
        .err()
        .map(|leak| format!("remembered chains: {leak}"))
}
