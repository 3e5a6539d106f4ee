//! Secret residue along the skipped-key store's operations and the state
//! sizes the fuzz seeds never reach (issue 18's "residue" bullet), under
//! the freed-memory scan (the zoo binary's global allocator).
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
