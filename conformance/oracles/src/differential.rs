//! `differential_seal`: code paths that must agree do.
//!
//! * `seal::seal`, `seal::seal_into` and `seal::seal_in_place` give the same
//!   bytes, and so does a plain recomputation with the primitives
//!   themselves (HKDF-SHA256 for the message keys, ChaCha20-Poly1305 with
//!   `aad = AD || header`); `seal::open` and `seal::open_in_place` invert it.
//! * `chain_step` and `root_step` equal HMAC-SHA256 and HKDF-SHA256
//!   computed directly.
//! * `Session::encrypt`, `encrypt_into` and `encrypt_in_place` each give
//!   the message and the next state of a plain recomputation of the sending
//!   chain from the session's state: `MK = HMAC(CKs, 0x01)`,
//!   `CKs' = HMAC(CKs, 0x02)`, header from DHs, PN, Ns (and the model's,
//!   `sealwire-specmodel`). Send `i` of the input takes path `i % 3`, so the
//!   schedule decides which path meets which state; three sessions per
//!   party in lock step, each restored from bytes (an X25519 base-point
//!   multiplication per restore), cost a third of the target's time and
//!   checked nothing that the comparison of each path with the same
//!   recomputation does not.

use arbitrary::{Arbitrary, Unstructured};
use chacha20poly1305::aead::inout::InOutBuf;
use chacha20poly1305::{AeadInOut, ChaCha20Poly1305, Key, KeyInit, Nonce};
use hkdf::Hkdf;
use hmac::{Hmac, Mac};
use sealwire::hazmat::{ChainKey, MessageKey, RootKey, seal};
use sealwire::{AD_LEN, HEADER_LEN, LABEL_MESSAGE_KEYS, LABEL_ROOT, OVERHEAD, Session, testing};
use sha2::Sha256;

use super::fixture;
use super::{Outcome, Run, Target};

/// The structured input.
#[derive(Arbitrary, Debug)]
pub(crate) struct Input {
    /// A message key for the sealing core.
    pub message_key: [u8; 32],
    /// Associated data.
    pub ad: [u8; AD_LEN],
    /// A header (any bytes: the core takes it as it is).
    pub header: [u8; HEADER_LEN],
    /// A chain key for `chain_step`.
    pub chain_key: [u8; 32],
    /// A root key and a DH output for `root_step`.
    pub root_key: [u8; 32],
    /// The DH output.
    pub dh_output: [u8; 32],
    /// Session sends: (Bob sends, plaintext length).
    pub sends: Vec<(bool, u8)>,
    /// The sealing core's plaintext.
    pub plaintext: Vec<u8>,
}

fn hmac(key: &[u8], byte: u8) -> [u8; 32] {
    let mut mac = <Hmac<Sha256> as hmac::KeyInit>::new_from_slice(key).expect("any key length");
    mac.update(&[byte]);
    mac.finalize().into_bytes().into()
}

/// `header || ChaCha20-Poly1305(key, nonce, AD || header, plaintext)` with
/// `key || nonce = HKDF(0x00*32, MK, "Sealwire MessageKeys v1", 44)`,
/// computed with the primitives directly.
pub(crate) fn plain_seal(
    mk: &[u8; 32],
    ad: &[u8; AD_LEN],
    header: &[u8],
    plaintext: &[u8],
) -> Vec<u8> {
    let mut okm = [0u8; 44];
    Hkdf::<Sha256>::new(Some(&[0u8; 32]), mk)
        .expand(LABEL_MESSAGE_KEYS, &mut okm)
        .expect("44 bytes");
    let mut aad = ad.to_vec();
    aad.extend_from_slice(header);
    let mut out = header.to_vec();
    out.extend_from_slice(plaintext);
    let key: [u8; 32] = okm[..32].try_into().expect("32 bytes");
    let nonce: [u8; 12] = okm[32..].try_into().expect("12 bytes");
    let cipher = ChaCha20Poly1305::new(&Key::from(key));
    let tag = cipher
        .encrypt_inout_detached(
            &Nonce::from(nonce),
            &aad,
            InOutBuf::from(&mut out[header.len()..]),
        )
        .expect("short plaintext");
    out.extend_from_slice(&tag);
    out
}

/// Runs the oracle on `data`.
pub(crate) fn run(data: &[u8]) -> Outcome {
    let Ok(input) = Input::arbitrary_take_rest(Unstructured::new(data)) else {
        return Ok(());
    };
    run_input(&input, data)
}

/// Runs the oracle on a structured input decoded from `raw` (whose bytes
/// carry the input's keys, tainted; see [`LeakScanner::supplied`]).
///
/// [`LeakScanner::supplied`]: super::leak::LeakScanner::supplied
pub(crate) fn run_input(input: &Input, raw: &[u8]) -> Outcome {
    let parties = fixture::parties();
    Run::new(Target::DifferentialSeal).execute(|run| {
        // The fuzzer chose these keys: they are tainted secrets of this run
        // (see `LeakScanner::supplied`). The AEAD key is the library's
        // derivation and counts everywhere.
        run.scanner.supplied(raw);
        run.scanner
            .add_secret("message key (input)", &input.message_key);
        key_renderings_ignore_their_bytes(run, input)?;
        let mk = MessageKey::from_bytes(input.message_key);
        let (aead_key, _) = testing::message_aead_key(&mk);
        run.scanner.add_secret("AEAD key", &aead_key);
        let pt = &input.plaintext;
        run.scanner.add_plaintext("plaintext (input)", pt);

        let allocated = seal::seal(&mk, &input.ad, &input.header, pt)
            .map_err(|e| run.broken(format!("seal failed: {e}")))?;
        let mut into = vec![0u8; pt.len() + OVERHEAD + 3];
        let written = seal::seal_into(&mk, &input.ad, &input.header, pt, &mut into)
            .map_err(|e| run.broken(format!("seal_into failed: {e}")))?;
        let mut in_place = input.header.to_vec();
        in_place.extend_from_slice(pt);
        in_place.extend_from_slice(&[0u8; 16]);
        seal::seal_in_place(&mk, &input.ad, &mut in_place)
            .map_err(|e| run.broken(format!("seal_in_place failed: {e}")))?;
        let plain = plain_seal(&input.message_key, &input.ad, &input.header, pt);
        run.ensure(allocated == plain, || {
            "seal differs from the plain recomputation".into()
        })?;
        run.ensure(
            written == plain.len() && into[..written] == plain[..],
            || "seal_into differs from seal".into(),
        )?;
        run.ensure(in_place == plain, || {
            "seal_in_place differs from seal".into()
        })?;
        // The input's own key is not searched in its ciphertext here: the
        // fuzzer chooses that plaintext too and may set it to the key xor
        // the key stream (libFuzzer copies compared bytes into its input,
        // and this target compares ciphertexts). The ciphertext equals the
        // plain recomputation above, which leaves no room for a leak.
        run.scanner
            .check_bytes("sealed body", &allocated[HEADER_LEN..])?;
        match seal::open(&mk, &input.ad, &allocated) {
            Ok(opened) => run.ensure(opened == *pt, || "open(seal(p)) != p".into())?,
            Err(e) => return Err(run.broken(format!("open failed on a sealed message: {e}"))),
        }
        let mut opened = allocated.clone();
        match seal::open_in_place(&mk, &input.ad, &mut opened) {
            Ok(body) => run.ensure(body == &pt[..], || "open_in_place(seal(p)) != p".into())?,
            Err(e) => return Err(run.broken(format!("open_in_place failed: {e}"))),
        }

        // The KDF steps against HMAC and HKDF directly.
        let (next, message) = sealwire::hazmat::chain_step(&ChainKey::from_bytes(input.chain_key));
        let mk_bytes = testing::message_key_bytes(&message);
        let ck_bytes = testing::chain_key_bytes(&next);
        run.ensure(
            mk_bytes == hmac(&input.chain_key, 1) && ck_bytes == hmac(&input.chain_key, 2),
            || "chain_step differs from HMAC(ck, 0x01) / HMAC(ck, 0x02)".into(),
        )?;
        let (root, chain) =
            sealwire::hazmat::root_step(&RootKey::from_bytes(input.root_key), &input.dh_output);
        let mut okm = [0u8; 64];
        Hkdf::<Sha256>::new(Some(&input.root_key), &input.dh_output)
            .expand(LABEL_ROOT, &mut okm)
            .expect("64 bytes");
        run.ensure(
            testing::root_key_bytes(&root)[..] == okm[..32]
                && testing::chain_key_bytes(&chain)[..] == okm[32..],
            || "root_step differs from HKDF(rk, dh, \"Sealwire Root v1\", 64)".into(),
        )?;

        // The session's three encrypt paths against the plain chain. A
        // party's session is restored when it first sends.
        let (mut alice, mut bob) = (None, None);
        for (i, &(from_bob, len)) in input.sends.iter().take(16).enumerate() {
            let (slot, fixture_session) = if from_bob {
                (&mut bob, &parties.bob_session)
            } else {
                (&mut alice, &parties.alice_session)
            };
            let session = slot.get_or_insert_with(|| {
                Session::from_bytes(&fixture_session.to_bytes())
                    .expect("a session restores from its own bytes")
            });
            fixture::register_session(&mut run.scanner, "sender", session);
            let pt = fixture::plaintext(2000 + i as u64, usize::from(len));
            run.scanner.add_plaintext("plaintext", &pt);
            encrypt_path_agrees(run, i, Path::ALL[i % 3], session, &pt)?;
        }
        Ok(())
    })
}

/// `Debug` of the key types made from the input's key bytes equals `Debug`
/// of the same types made from other bytes: a differential check for keys
/// the fuzzer chose (the window scan leaves tainted keys to ciphertexts),
/// which also catches a fingerprint shorter than its 8-byte window.
fn key_renderings_ignore_their_bytes(run: &mut Run, input: &Input) -> Outcome {
    let other = |key: &[u8; 32]| key.map(|b| b ^ 0xa5);
    let renderings = |mk: [u8; 32], ck: [u8; 32], rk: [u8; 32]| {
        let (mk, ck, rk) = (
            MessageKey::from_bytes(mk),
            ChainKey::from_bytes(ck),
            RootKey::from_bytes(rk),
        );
        [
            format!("{mk:?}"),
            format!("{mk:#?}"),
            format!("{ck:?}"),
            format!("{ck:#?}"),
            format!("{rk:?}"),
            format!("{rk:#?}"),
        ]
    };
    let given = renderings(input.message_key, input.chain_key, input.root_key);
    let changed = renderings(
        other(&input.message_key),
        other(&input.chain_key),
        other(&input.root_key),
    );
    run.ensure(given == changed, || {
        "Debug of a MessageKey, ChainKey or RootKey depends on its bytes".into()
    })
}

/// `Session`'s three encrypt paths.
#[derive(Clone, Copy, Debug)]
enum Path {
    Encrypt,
    EncryptInto,
    EncryptInPlace,
}

impl Path {
    const ALL: [Path; 3] = [Path::Encrypt, Path::EncryptInto, Path::EncryptInPlace];

    fn encrypt(self, session: &mut Session, pt: &[u8]) -> Result<Vec<u8>, sealwire::Error> {
        match self {
            Path::Encrypt => session.encrypt(pt),
            Path::EncryptInto => {
                // Exactly the size needed; a length written other than it
                // shows as a message that differs.
                let mut out = vec![0u8; pt.len() + OVERHEAD];
                let n = session.encrypt_into(pt, &mut out)?;
                out.truncate(n);
                Ok(out)
            }
            Path::EncryptInPlace => {
                let mut buffer = vec![0u8; HEADER_LEN];
                buffer.extend_from_slice(pt);
                buffer.extend_from_slice(&[0u8; 16]);
                session.encrypt_in_place(&mut buffer)?;
                Ok(buffer)
            }
        }
    }
}

fn encrypt_path_agrees(
    run: &mut Run,
    i: usize,
    path: Path,
    session: &mut Session,
    pt: &[u8],
) -> Outcome {
    // Plain recomputation from the state format (SPEC.md §8):
    // 0x01 || AD (64) || RK (32) || DHs (32) || CKs (32) || Ns || PN || ...
    let state = session.to_bytes();
    let cks: [u8; 32] = state[129..161].try_into().expect("state has CKs");
    let ns = u32::from_be_bytes(state[161..165].try_into().expect("Ns"));
    let pn = u32::from_be_bytes(state[165..169].try_into().expect("PN"));
    let mut header = vec![sealwire::VERSION];
    header.extend_from_slice(session.ratchet_public_key().as_bytes());
    header.extend_from_slice(&pn.to_be_bytes());
    header.extend_from_slice(&ns.to_be_bytes());
    let expected = plain_seal(&hmac(&cks, 1), session.associated_data(), &header, pt);

    let message = path
        .encrypt(session, pt)
        .map_err(|e| run.broken(format!("send {i}: {path:?} failed: {e}")))?;
    run.ensure(message == expected, || {
        format!("send {i}: {path:?} differs from the plain recomputation of the chain")
    })?;
    let after = session.to_bytes();
    run.spec_sent(&format!("send {i}: {path:?}"), &state, pt, &message, &after)?;
    let mut expected_after = zeroize::Zeroizing::new(state.to_vec());
    expected_after[129..161].copy_from_slice(&hmac(&cks, 2));
    expected_after[161..165].copy_from_slice(&(ns + 1).to_be_bytes());
    run.ensure(*after == *expected_after, || {
        format!("send {i}: the state after {path:?} is not CKs' = HMAC(CKs, 0x02), Ns + 1")
    })?;
    // The fuzzer may set the input's keys to any bytes of this message (a
    // local run set the message key to its header's counters and first
    // ciphertext byte): those are tainted, the session's own secrets count.
    run.scanner.check_bytes(&format!("message {i}"), &message)?;
    Ok(())
}
