//! Every size class through every encrypt and decrypt API of the reference
//! (issue 18's "size-dependent paths"): plaintexts at and around each block
//! and buffer boundary, from empty to the 1 MiB maximum.
//!
//! For each size: the three encrypt forms (allocating, `encrypt_into`,
//! `encrypt_in_place`) from the same state give the same message of the
//! right length; four damaged copies (the tag, the middle of the
//! ciphertext, the header's N, one byte short) are rejected by every
//! decrypt form (allocating with the OS generator, allocating with an
//! injected one, in place) with the session unchanged byte for byte and,
//! in place, the buffer unchanged; then the genuine message decrypts to
//! its plaintext. A check that holds only for small messages, as tampering
//! and all-or-nothing tests elsewhere use, fails here.

use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use sealwire::{HEADER_LEN, MAX_PLAINTEXT_LEN, OVERHEAD, Session};

/// Plaintext lengths: every block (16, 64), page (4 KiB) and buffer
/// (16 KiB, 64 KiB, 512 KiB, 1 MiB) boundary, one below and one above.
pub(crate) fn sizes() -> Vec<usize> {
    let mut out = vec![0];
    for boundary in [
        16usize,
        64,
        4096,
        16 << 10,
        64 << 10,
        512 << 10,
        MAX_PLAINTEXT_LEN,
    ] {
        out.extend([boundary - 1, boundary, boundary + 1]);
    }
    out.retain(|&n| n <= MAX_PLAINTEXT_LEN);
    out
}

/// `None` when every size class behaves; otherwise the first deviation.
pub(crate) fn check() -> Option<String> {
    let (mut sender, mut receiver, _) =
        match crate::pair::session_pair(0x5ea1_5123, 0x5ea1_5124, 3, b"sizes") {
            Ok(pair) => pair,
            Err(why) => return Some(why),
        };
    let mut checked = 0usize;
    for (i, len) in sizes().into_iter().enumerate() {
        let plaintext: Vec<u8> = (0..len)
            .map(|j| (j as u8).wrapping_mul(31) ^ 0xa5)
            .collect();
        let message = match encrypt_every_way(&mut sender, &plaintext) {
            Ok(m) => m,
            Err(why) => return Some(format!("{len}-byte plaintext: {why}")),
        };
        for (what, damaged) in damaged_copies(&message) {
            for (form, name) in FORMS.iter().enumerate() {
                if let Err(why) = rejected(&mut receiver, &damaged, form) {
                    return Some(format!("{len}-byte plaintext, {what}, {name}: {why}"));
                }
                checked += 1;
            }
        }
        // The genuine message, through one form per size in turn.
        let form = i % 3;
        match decrypt(&mut receiver, &message, form) {
            Ok(got) if got == plaintext => {}
            Ok(got) => {
                return Some(format!(
                    "{len}-byte plaintext, {}: decrypted to {} other bytes",
                    FORMS[form],
                    got.len()
                ));
            }
            Err(e) => {
                return Some(format!(
                    "{len}-byte plaintext, {}: the genuine message after the damaged ones \
                     was rejected: {e}",
                    FORMS[form]
                ));
            }
        }
    }
    (checked == 0).then(|| "nothing was checked".to_owned())
}

const FORMS: [&str; 3] = ["decrypt", "decrypt_with_rng", "decrypt_in_place_with_rng"];

/// The three encrypt forms from the same state agree; returns the message
/// and leaves `session` advanced by one message.
fn encrypt_every_way(session: &mut Session, plaintext: &[u8]) -> Result<Vec<u8>, String> {
    let state = session.to_bytes();
    let restore = || Session::from_bytes(&state).map_err(|e| format!("state restore: {e}"));
    let allocated = session
        .encrypt(plaintext)
        .map_err(|e| format!("encrypt: {e}"))?;
    if allocated.len() != plaintext.len() + OVERHEAD {
        return Err(format!("encrypt gave {} bytes", allocated.len()));
    }
    let mut into_session = restore()?;
    let mut out = vec![0u8; plaintext.len() + OVERHEAD + 7];
    let n = into_session
        .encrypt_into(plaintext, &mut out)
        .map_err(|e| format!("encrypt_into: {e}"))?;
    if out[..n] != allocated[..] {
        return Err("encrypt_into differs from encrypt".into());
    }
    let mut in_place_session = restore()?;
    let mut buffer = vec![0u8; plaintext.len() + OVERHEAD];
    buffer[HEADER_LEN..HEADER_LEN + plaintext.len()].copy_from_slice(plaintext);
    in_place_session
        .encrypt_in_place(&mut buffer)
        .map_err(|e| format!("encrypt_in_place: {e}"))?;
    if buffer != allocated {
        return Err("encrypt_in_place differs from encrypt".into());
    }
    for (form, other) in [
        ("encrypt_into", &into_session),
        ("encrypt_in_place", &in_place_session),
    ] {
        if other.to_bytes() != session.to_bytes() {
            return Err(format!("the state after {form} differs from encrypt's"));
        }
    }
    Ok(allocated)
}

/// The tag, the middle of the ciphertext, the header's N, one byte short.
fn damaged_copies(message: &[u8]) -> Vec<(&'static str, Vec<u8>)> {
    let flip = |at: usize| {
        let mut m = message.to_vec();
        m[at] ^= 0x40;
        m
    };
    let body = message.len() - OVERHEAD;
    let mut out = vec![
        ("last tag byte flipped", flip(message.len() - 1)),
        ("header N flipped", flip(HEADER_LEN - 1)),
        ("one byte short", message[..message.len() - 1].to_vec()),
    ];
    if body > 0 {
        out.push((
            "middle ciphertext byte flipped",
            flip(HEADER_LEN + body / 2),
        ));
    }
    out
}

fn decrypt(session: &mut Session, message: &[u8], form: usize) -> Result<Vec<u8>, sealwire::Error> {
    let mut rng = ChaCha20Rng::seed_from_u64(0x5ea1_5125);
    match form {
        0 => session.decrypt(message),
        1 => session.decrypt_with_rng(message, &mut rng),
        _ => {
            let mut buffer = message.to_vec();
            session
                .decrypt_in_place_with_rng(&mut buffer, &mut rng)
                .map(|p| p.to_vec())
        }
    }
}

/// The damaged message is rejected, the session is unchanged and (in
/// place) so is the buffer.
fn rejected(session: &mut Session, damaged: &[u8], form: usize) -> Result<(), String> {
    let before = session.to_bytes();
    let mut rng = ChaCha20Rng::seed_from_u64(0x5ea1_5126);
    let result = match form {
        0 => session.decrypt(damaged).map(|p| p.len()),
        1 => session.decrypt_with_rng(damaged, &mut rng).map(|p| p.len()),
        _ => {
            let mut buffer = damaged.to_vec();
            let result = session
                .decrypt_in_place_with_rng(&mut buffer, &mut rng)
                .map(|p| p.len());
            if result.is_err() && buffer != damaged {
                return Err("rejected, but the buffer changed".into());
            }
            result
        }
    };
    match result {
        Ok(n) => Err(format!("accepted ({n} plaintext bytes released)")),
        Err(_) if session.to_bytes() != before => Err("rejected, but the session changed".into()),
        Err(_) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_size_class_behaves_in_the_reference() {
        assert_eq!(super::check(), None);
    }

    #[test]
    fn the_sizes_reach_the_maximum_and_every_boundary() {
        let sizes = super::sizes();
        assert_eq!(sizes.last(), Some(&sealwire::MAX_PLAINTEXT_LEN));
        for b in [16usize, 64, 4096, 65536] {
            assert!(sizes.contains(&(b - 1)) && sizes.contains(&b) && sizes.contains(&(b + 1)));
        }
    }
}
