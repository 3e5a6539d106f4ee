//! Alice and Bob: a handshake and a few ratchet turns, printed step by step.
//!
//! `cargo run -p sealwire --example alice_and_bob`

use sealwire::{
    IdentityKeyPair, InMemoryPreKeyStore, OneTimePreKey, PreKeyBundle, SignedPreKey, initiate,
    respond,
};

fn main() -> Result<(), sealwire::Error> {
    let alice = IdentityKeyPair::generate();
    let bob = IdentityKeyPair::generate();
    let spk = SignedPreKey::generate(1, &bob);
    let opk = OneTimePreKey::generate(1);
    let bundle = PreKeyBundle::new(&bob, &spk, Some(&opk));
    let mut store = InMemoryPreKeyStore::new();
    store.add_signed_prekey(spk);
    store.add_one_time_prekey(opk);
    println!("bob publishes a {}-byte bundle", bundle.to_bytes().len());

    let (mut a, initial) = initiate(
        &alice,
        &PreKeyBundle::from_bytes(&bundle.to_bytes())?,
        b"hello Bob",
    )?;
    println!("alice -> bob: initial message, {} bytes", initial.len());
    let (mut b, first) = respond(&bob, &mut store, &initial)?;
    println!("bob reads: {}", String::from_utf8_lossy(&first));

    for turn in 0..3 {
        let m = b.encrypt(format!("bob, turn {turn}").as_bytes())?;
        println!(
            "bob -> alice: {} bytes; alice reads: {}",
            m.len(),
            String::from_utf8_lossy(&a.decrypt(&m)?)
        );
        let m = a.encrypt(format!("alice, turn {turn}").as_bytes())?;
        println!(
            "alice -> bob: {} bytes; bob reads: {}",
            m.len(),
            String::from_utf8_lossy(&b.decrypt(&m)?)
        );
    }
    let m = a.encrypt(b"once only")?;
    b.decrypt(&m)?;
    match b.decrypt(&m) {
        Err(e) => println!("replay rejected: {e}"),
        Ok(_) => unreachable!("a replay must never decrypt"),
    }
    Ok(())
}
