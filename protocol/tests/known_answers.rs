//! Known answers: every KDF chain, the sealing and a full X3DH plus the
//! first ratchet messages, recomputed here from the raw primitives exactly
//! as `shared/design/profile.md` writes them, and compared byte for byte
//! with what `sealwire` produces. Published vectors anchor the primitives.

mod common;

use chacha20poly1305::aead::inout::InOutBuf;
use chacha20poly1305::{AeadInOut, ChaCha20Poly1305, Key, Nonce};
use common::{ScriptedRng, hex, hex32};
use ed25519_dalek::SigningKey;
use hkdf::Hkdf;
use hmac::{Hmac, KeyInit, Mac};
use sealwire::hazmat::{ChainKey, KeyPair, MessageKey, RootKey};
use sealwire::testing;
use sealwire::{
    IdentityKeyPair, InMemoryPreKeyStore, OneTimePreKey, PreKeyBundle, Session, SignedPreKey,
    StorageKey, initiate_with_rng, respond_with_rng,
};
use sha2::{Digest, Sha256, Sha512};

/// A fixed, patterned 32-byte input.
fn fixed(tag: u8) -> [u8; 32] {
    core::array::from_fn(|i| {
        tag.wrapping_mul(29)
            .wrapping_add((i as u8).wrapping_mul(13))
    })
}

fn hkdf(salt: &[u8], ikm: &[u8], info: &str, len: usize) -> Vec<u8> {
    let mut okm = vec![0u8; len];
    Hkdf::<Sha256>::new(Some(salt), ikm)
        .expand(info.as_bytes(), &mut okm)
        .unwrap();
    okm
}

fn hmac(key: &[u8], data: &[u8]) -> [u8; 32] {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key).unwrap();
    mac.update(data);
    mac.finalize().into_bytes().into()
}

fn chacha_seal(key: &[u8], nonce: &[u8], aad: &[u8], plaintext: &[u8]) -> Vec<u8> {
    let cipher = ChaCha20Poly1305::new(&Key::try_from(key).unwrap());
    let mut buf = plaintext.to_vec();
    let tag = cipher
        .encrypt_inout_detached(
            &Nonce::try_from(nonce).unwrap(),
            aad,
            InOutBuf::from(&mut buf[..]),
        )
        .unwrap();
    buf.extend_from_slice(&tag);
    buf
}

fn x25519_public(secret: [u8; 32]) -> [u8; 32] {
    x25519_dalek::x25519(secret, x25519_dalek::X25519_BASEPOINT_BYTES)
}

#[test]
fn rfc8439_section_2_8_2_chacha20_poly1305_vector() {
    common::planted_flaw_from_env();
    // RFC 8439 §2.8.2 "Example and Test Vector for AEAD_CHACHA20_POLY1305".
    let key = hex("808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f");
    let nonce = hex("070000004041424344454647");
    let aad = hex("50515253c0c1c2c3c4c5c6c7");
    let plaintext = b"Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.";
    let expected = hex(
        "d31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d6
         3dbea45e8ca9671282fafb69da92728b1a71de0a9e060b2905d6a5b67ecd3b36
         92ddbd7f2d778b8c9803aee328091b58fab324e4fad675945585808b4831d7bc
         3ff4def08e4b7a9de576d26586cec64b6116
         1ae10b594f09e26a7e902ecbd0600691",
    );
    assert_eq!(chacha_seal(&key, &nonce, &aad, plaintext), expected);
}

#[test]
fn rfc7748_section_6_1_x25519_vector() {
    common::planted_flaw_from_env();
    // RFC 7748 §6.1 "Curve25519" Diffie-Hellman example.
    let a = hex32("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a");
    let a_pub = hex32("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a");
    let b = hex32("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb");
    let b_pub = hex32("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f");
    let shared = hex32("4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742");
    assert_eq!(x25519_public(a), a_pub);
    assert_eq!(x25519_public(b), b_pub);
    assert_eq!(x25519_dalek::x25519(a, b_pub), shared);
    assert_eq!(x25519_dalek::x25519(b, a_pub), shared);
    // The same through sealwire's key pair type.
    assert_eq!(KeyPair::from_secret_bytes(a).public().as_bytes(), &a_pub);
}

#[test]
fn labels_are_the_profiles() {
    common::planted_flaw_from_env();
    assert_eq!(sealwire::LABEL_X3DH, b"Sealwire X3DH v1");
    assert_eq!(sealwire::LABEL_ROOT, b"Sealwire Root v1");
    assert_eq!(sealwire::LABEL_MESSAGE_KEYS, b"Sealwire MessageKeys v1");
    assert_eq!(sealwire::LABEL_STATE, b"Sealwire State v1");
}

#[test]
fn chain_step_is_hmac_with_constants_01_and_02_along_a_chain() {
    common::planted_flaw_from_env();
    let mut ck = fixed(1);
    for step in 0..5 {
        let (next, mk) = sealwire::hazmat::chain_step(&ChainKey::from_bytes(ck));
        assert_eq!(
            testing::message_key_bytes(&mk),
            hmac(&ck, &[0x01]),
            "step {step}"
        );
        assert_eq!(
            testing::chain_key_bytes(&next),
            hmac(&ck, &[0x02]),
            "step {step}"
        );
        ck = hmac(&ck, &[0x02]);
    }
}

#[test]
fn root_step_is_hkdf_with_the_root_key_as_salt() {
    common::planted_flaw_from_env();
    let (rk, dh) = (fixed(2), fixed(3));
    let okm = hkdf(&rk, &dh, "Sealwire Root v1", 64);
    let (root, chain) = sealwire::hazmat::root_step(&RootKey::from_bytes(rk), &dh);
    assert_eq!(testing::root_key_bytes(&root)[..], okm[..32]);
    assert_eq!(testing::chain_key_bytes(&chain)[..], okm[32..]);
}

#[test]
fn message_key_material_and_seal_match_the_profile() {
    common::planted_flaw_from_env();
    let mk_bytes = fixed(4);
    let mk = MessageKey::from_bytes(mk_bytes);
    let okm = hkdf(&[0u8; 32], &mk_bytes, "Sealwire MessageKeys v1", 44);
    let (key, nonce) = sealwire::hazmat::seal::message_key_material(&mk);
    assert_eq!(key[..], okm[..32]);
    assert_eq!(nonce[..], okm[32..]);

    let ad: [u8; 64] = [fixed(5), fixed(6)].concat().try_into().unwrap();
    let mut header = [0u8; 41];
    header[0] = 0x01;
    header[1..33].copy_from_slice(&fixed(7));
    header[33..37].copy_from_slice(&3u32.to_be_bytes());
    header[37..41].copy_from_slice(&9u32.to_be_bytes());
    for plaintext in [&b""[..], b"known answer", &[0xa5; 300]] {
        let sealed = sealwire::hazmat::seal::seal(&mk, &ad, &header, plaintext).unwrap();
        let aad = [&ad[..], &header[..]].concat();
        let body = chacha_seal(&okm[..32], &okm[32..], &aad, plaintext);
        assert_eq!(
            sealed,
            [&header[..], &body].concat(),
            "{} bytes",
            plaintext.len()
        );
    }
}

/// The profile's X3DH and first ratchet messages, recomputed by hand.
fn x3dh_and_first_messages(with_opk: bool) {
    let ctx = format!("with_opk = {with_opk}");
    let (seed_a, seed_b) = (fixed(10), fixed(11));
    let (spk_secret, opk_secret) = (fixed(12), fixed(13));
    let (ek, dhs_a, dhs_b, dhs_a2) = (fixed(14), fixed(15), fixed(16), fixed(17));

    // Identity keys: Ed25519 public keys; X25519 scalar = SHA-512(seed)[..32];
    // Montgomery public key = the birational map of the Ed25519 point.
    let ik_a = SigningKey::from_bytes(&seed_a).verifying_key();
    let ik_b = SigningKey::from_bytes(&seed_b).verifying_key();
    let scalar_a: [u8; 32] = Sha512::digest(seed_a)[..32].try_into().unwrap();
    let scalar_b: [u8; 32] = Sha512::digest(seed_b)[..32].try_into().unwrap();
    let mont_b = ik_b.to_montgomery().to_bytes();
    assert_eq!(
        x25519_public(scalar_b),
        mont_b,
        "{ctx}: the map agrees with X25519"
    );
    let (spk_pub, opk_pub) = (x25519_public(spk_secret), x25519_public(opk_secret));

    let mut ikm = vec![0xffu8; 32];
    ikm.extend_from_slice(&x25519_dalek::x25519(scalar_a, spk_pub)); // DH1
    ikm.extend_from_slice(&x25519_dalek::x25519(ek, mont_b)); // DH2
    ikm.extend_from_slice(&x25519_dalek::x25519(ek, spk_pub)); // DH3
    if with_opk {
        ikm.extend_from_slice(&x25519_dalek::x25519(ek, opk_pub)); // DH4
    }
    let sk = hkdf(&[0u8; 32], &ikm, "Sealwire X3DH v1", 32);
    let ad = [ik_a.to_bytes(), ik_b.to_bytes()].concat();

    let alice = IdentityKeyPair::from_seed(seed_a);
    let bob = IdentityKeyPair::from_seed(seed_b);
    let spk = SignedPreKey::new(7, spk_secret, &bob);
    let opk = OneTimePreKey::new(100, opk_secret);
    let bundle = PreKeyBundle::new(&bob, &spk, with_opk.then_some(&opk));
    let (sk_i, ad_i) =
        testing::x3dh_initiator(&alice, &bundle, &KeyPair::from_secret_bytes(ek)).unwrap();
    assert_eq!(
        (&sk_i[..], &ad_i[..]),
        (&sk[..], &ad[..]),
        "{ctx}: initiator"
    );
    let (sk_r, ad_r) = testing::x3dh_responder(
        &bob,
        &ik_a.to_bytes(),
        &sealwire::PublicKey::from_bytes(x25519_public(ek)),
        &spk,
        with_opk.then_some(&opk),
    )
    .unwrap();
    assert_eq!(
        (&sk_r[..], &ad_r[..]),
        (&sk[..], &ad[..]),
        "{ctx}: responder"
    );

    // A ratchet message from a chain key, by hand.
    let message = |ck: &[u8], dhs_pub: [u8; 32], pn: u32, n: u32, pt: &[u8]| {
        let mk = hmac(ck, &[0x01]);
        let okm = hkdf(&[0u8; 32], &mk, "Sealwire MessageKeys v1", 44);
        let header = [&[0x01][..], &dhs_pub, &pn.to_be_bytes(), &n.to_be_bytes()].concat();
        let body = chacha_seal(&okm[..32], &okm[32..], &[&ad[..], &header].concat(), pt);
        [header, body].concat()
    };

    // Alice: RK, CKs = KDF_RK(SK, DH(DHs, SPK_B)); first message N = 0.
    let okm = hkdf(
        &sk,
        &x25519_dalek::x25519(dhs_a, spk_pub),
        "Sealwire Root v1",
        64,
    );
    let (rk1, ck_a) = (okm[..32].to_vec(), okm[32..].to_vec());
    let mut prefix = vec![0x01];
    prefix.extend_from_slice(&ik_a.to_bytes());
    prefix.extend_from_slice(&x25519_public(ek));
    prefix.extend_from_slice(&7u32.to_be_bytes());
    if with_opk {
        prefix.push(0x01);
        prefix.extend_from_slice(&100u32.to_be_bytes());
    } else {
        prefix.push(0x00);
    }
    let expected_initial = [prefix, message(&ck_a, x25519_public(dhs_a), 0, 0, b"hello")].concat();
    let mut script = ScriptedRng::new(&[&ek, &dhs_a]);
    let (mut a, initial) = initiate_with_rng(&alice, &bundle, b"hello", &mut script).unwrap();
    assert_eq!(initial, expected_initial, "{ctx}: initial message");
    let ck_a1 = hmac(&ck_a, &[0x02]);
    let second = a.encrypt(b"second").unwrap();
    assert_eq!(
        second,
        message(&ck_a1, x25519_public(dhs_a), 0, 1, b"second"),
        "{ctx}"
    );

    // Bob: the receiving step gives RK1 again; then DHs_B and
    // RK2, CKs = KDF_RK(RK1, DH(DHs_B, DHs_A)).
    let mut store = InMemoryPreKeyStore::new();
    store.add_signed_prekey(spk.clone());
    store.add_one_time_prekey(opk.clone());
    let mut script = ScriptedRng::new(&[&dhs_b]);
    let (mut b, first) = respond_with_rng(&bob, &mut store, &initial, &mut script).unwrap();
    assert_eq!(first, b"hello");
    let dh = x25519_dalek::x25519(dhs_b, x25519_public(dhs_a));
    let okm = hkdf(&rk1, &dh, "Sealwire Root v1", 64);
    let (rk2, ck_b) = (okm[..32].to_vec(), okm[32..].to_vec());
    let reply = b.encrypt(b"reply").unwrap();
    assert_eq!(
        reply,
        message(&ck_b, x25519_public(dhs_b), 0, 0, b"reply"),
        "{ctx}: reply"
    );

    // Alice's next turn: PN = 2, RK3, CKs = KDF_RK(RK2, DH(DHs_A2, DHs_B)).
    let mut script = ScriptedRng::new(&[&dhs_a2]);
    assert_eq!(a.decrypt_with_rng(&reply, &mut script).unwrap(), b"reply");
    let dh = x25519_dalek::x25519(dhs_a2, x25519_public(dhs_b));
    let okm = hkdf(&rk2, &dh, "Sealwire Root v1", 64);
    let turn = a.encrypt(b"turn").unwrap();
    assert_eq!(
        turn,
        message(&okm[32..], x25519_public(dhs_a2), 2, 0, b"turn"),
        "{ctx}"
    );
    assert_eq!(b.decrypt_with_rng(&second, &mut script).unwrap(), b"second");
}

#[test]
fn x3dh_and_first_ratchet_messages_with_one_time_prekey_match_the_profile() {
    common::planted_flaw_from_env();
    x3dh_and_first_messages(true);
}

#[test]
fn x3dh_and_first_ratchet_messages_without_one_time_prekey_match_the_profile() {
    common::planted_flaw_from_env();
    x3dh_and_first_messages(false);
}

#[test]
fn sealed_state_is_chacha20_poly1305_under_the_state_label() {
    common::planted_flaw_from_env();
    let p = common::pair(501, true);
    let storage = fixed(20);
    let salt = fixed(21);
    let mut script = ScriptedRng::new(&[&salt]);
    let sealed = p
        .bob
        .seal_state_with_rng(&StorageKey::from_bytes(storage), &mut script);
    let okm = hkdf(&salt, &storage, "Sealwire State v1", 44);
    let aad = [&[0x01][..], &salt].concat();
    let body = chacha_seal(&okm[..32], &okm[32..], &aad, &p.bob.to_bytes());
    assert_eq!(sealed, [aad, body].concat(), "seed 501");
    let opened = Session::open_state(&StorageKey::from_bytes(storage), &sealed).unwrap();
    assert!(opened.to_bytes() == p.bob.to_bytes(), "seed 501");
}
