//! The plain forms' randomness (issue 18's "OS-randomness path"): every
//! other check injects a generator, so without this one a plain form that
//! draws from a userspace stream seeded once would pass everything.
//!
//! `IdentityKeyPair::generate` (the form applications call) is drawn in this
//! process, in a forked child and its parent after the fork, and on two
//! threads; every key must differ from every other. A stream seeded once
//! per process gives the child its parent's keys. (The crate's own test,
//! `protocol/tests/os_randomness.rs`, covers every plain form in a
//! probe process; this is the zoo's in-process version for one form.)

use std::collections::HashSet;
use std::io::{Read, Write};

use sealwire::IdentityKeyPair;

/// Keys drawn per place.
const DRAWS: usize = 4;

fn draw() -> Vec<[u8; 32]> {
    (0..DRAWS)
        .map(|_| *IdentityKeyPair::generate().public().as_bytes())
        .collect()
}

/// `None` when every key drawn anywhere is new; otherwise where a key
/// repeated.
pub(crate) fn check() -> Option<String> {
    // Draw once first, so that a generator seeded on first use is seeded
    // before the fork.
    let mut places: Vec<(&str, Vec<[u8; 32]>)> = vec![("this process, before the fork", draw())];
    let (mut reader, mut writer) = match std::io::pipe() {
        Ok(p) => p,
        Err(e) => return Some(format!("pipe: {e}")),
    };
    match fork::fork() {
        Ok(fork::Fork::Child) => {
            // The child only draws, writes and exits: it never returns into
            // the zoo.
            drop(reader);
            let bytes: Vec<u8> = draw().concat();
            let ok = writer.write_all(&bytes).is_ok();
            std::process::exit(if ok { 0 } else { 1 });
        }
        Ok(fork::Fork::Parent(child)) => {
            drop(writer);
            places.push(("the forked parent", draw()));
            let mut bytes = Vec::new();
            let read = reader.read_to_end(&mut bytes);
            match fork::waitpid(child) {
                Ok(0) => {}
                Ok(status) => return Some(format!("the forked child failed (status {status})")),
                Err(e) => return Some(format!("waitpid: {e}")),
            }
            if let Err(e) = read {
                return Some(format!("reading the child's keys: {e}"));
            }
            if bytes.len() != DRAWS * 32 {
                return Some(format!("the child sent {} bytes of keys", bytes.len()));
            }
            let keys = bytes
                .chunks_exact(32)
                .map(|c| c.try_into().unwrap_or([0; 32]))
                .collect();
            places.push(("the forked child", keys));
        }
        Err(e) => return Some(format!("fork: {e}")),
    }
    let threads: Vec<_> = (0..2).map(|_| std::thread::spawn(draw)).collect();
    for thread in threads {
        match thread.join() {
            Ok(keys) => places.push(("a thread", keys)),
            Err(_) => return Some("a drawing thread panicked".into()),
        }
    }
    let mut seen = HashSet::new();
    for (place, keys) in &places {
        for key in keys {
            if !seen.insert(*key) {
                return Some(format!(
                    "{place} drew an identity key already drawn elsewhere \
                     (IdentityKeyPair::generate, the operating-system path)"
                ));
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_reference_draws_fresh_keys_everywhere() {
        assert_eq!(super::check(), None);
    }
}
