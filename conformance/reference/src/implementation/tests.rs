//! Tests of the reference implementation: every operation against published
//! vectors or the crate itself, and how bad requests are answered.

use super::*;
use rand_core::TryRng as _;

fn b(hex: &str) -> Bytes {
    Bytes::from_hex(hex).unwrap()
}

fn key(byte: u8) -> Bytes {
    Bytes(vec![byte; 32])
}

fn ok(imp: &mut ReferenceImplementation, request: Request) -> Output {
    match imp.call(&request) {
        Ok(out) => out,
        Err(e) => panic!("{} failed: {e}", request.op()),
    }
}

fn field(out: &Output, name: &str) -> Bytes {
    match out.get(name) {
        Some(Value::String(s)) => Bytes::from_hex(s).unwrap(),
        other => panic!("field {name}: {other:?}"),
    }
}

fn handle(out: &Output, name: &str) -> String {
    match out.get(name) {
        Some(Value::String(s)) => s.clone(),
        other => panic!("field {name}: {other:?}"),
    }
}

#[test]
fn scripted_rng_yields_script_then_records_overdraw() {
    let mut rng = ScriptedRng::new([&[1u8, 2][..], &[3u8][..]]);
    let mut out = [0u8; 2];
    rng.try_fill_bytes(&mut out).unwrap();
    assert_eq!(out, [1, 2]);
    assert_eq!(rng.remaining(), 1);
    assert!(rng.check("x").is_ok());
    let mut out = [0u8; 5];
    rng.try_fill_bytes(&mut out).unwrap();
    assert_eq!(out[0], 3);
    assert_eq!(rng.overdrawn(), 4);
    assert_eq!(rng.remaining(), 0);
    match rng.check("decrypt") {
        Err(OpError::Broken(why)) => assert!(why.contains("4 more"), "{why}"),
        other => panic!("{other:?}"),
    }
    // The fallback is fixed: two generators overdraw identically.
    let mut a = ScriptedRng::new([]);
    let mut c = ScriptedRng::new([]);
    assert_eq!(a.try_next_u64().unwrap(), c.try_next_u64().unwrap());
    assert!(!format!("{a:?}").contains("fallback"));
}

#[test]
fn x25519_matches_rfc7748_section_5_2() {
    let mut imp = ReferenceImplementation::new();
    let out = ok(
        &mut imp,
        Request::X25519 {
            private_key: b("a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4"),
            public_key: b("e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c"),
        },
    );
    assert_eq!(
        field(&out, "shared").to_hex(),
        "c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552"
    );
}

#[test]
fn aead_seal_and_open_match_rfc8439_section_2_8_2() {
    let mut imp = ReferenceImplementation::new();
    let plaintext = Bytes(b"Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.".to_vec());
    let key = b("808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f");
    let nonce = b("070000004041424344454647");
    let aad = b("50515253c0c1c2c3c4c5c6c7");
    let out = ok(
        &mut imp,
        Request::AeadSeal {
            key: key.clone(),
            nonce: nonce.clone(),
            aad: aad.clone(),
            plaintext: plaintext.clone(),
        },
    );
    let ciphertext = field(&out, "ciphertext");
    assert_eq!(
        sealwire_adapter::hex::encode(&ciphertext.0[ciphertext.0.len() - 16..]),
        "1ae10b594f09e26a7e902ecbd0600691"
    );
    let out = ok(
        &mut imp,
        Request::AeadOpen {
            key: key.clone(),
            nonce: nonce.clone(),
            aad: aad.clone(),
            ciphertext: ciphertext.clone(),
        },
    );
    assert_eq!(field(&out, "plaintext"), plaintext);
    let mut tampered = ciphertext;
    tampered.0[0] ^= 1;
    for ct in [tampered, Bytes(vec![0; 15])] {
        assert_eq!(
            imp.call(&Request::AeadOpen {
                key: key.clone(),
                nonce: nonce.clone(),
                aad: aad.clone(),
                ciphertext: ct,
            }),
            Err(OpError::Rejected("decryption_failed".into()))
        );
    }
}

#[test]
fn hkdf_and_hmac_match_rfc5869_and_rfc4231() {
    let mut imp = ReferenceImplementation::new();
    let out = ok(
        &mut imp,
        Request::HkdfSha256 {
            salt: b("000102030405060708090a0b0c"),
            ikm: Bytes(vec![0x0b; 22]),
            info: b("f0f1f2f3f4f5f6f7f8f9"),
            length: 42,
        },
    );
    assert_eq!(
        field(&out, "okm").to_hex(),
        "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865"
    );
    for length in [255 * 32 + 1, usize::MAX] {
        assert_eq!(
            imp.call(&Request::HkdfSha256 {
                salt: Bytes::default(),
                ikm: Bytes::default(),
                info: Bytes::default(),
                length,
            }),
            Err(OpError::Rejected("wire".into()))
        );
    }
    let out = ok(
        &mut imp,
        Request::HkdfSha256 {
            salt: Bytes::default(),
            ikm: Bytes::default(),
            info: Bytes::default(),
            length: 255 * 32,
        },
    );
    assert_eq!(field(&out, "okm").0.len(), 255 * 32);
    let out = ok(
        &mut imp,
        Request::HmacSha256 {
            key: Bytes(vec![0x0b; 20]),
            message: Bytes(b"Hi There".to_vec()),
        },
    );
    assert_eq!(
        field(&out, "mac").to_hex(),
        "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"
    );
}

#[test]
fn ed25519_verify_is_strict_and_total() {
    let mut imp = ReferenceImplementation::new();
    // RFC 8032 section 7.1, test 1.
    let public_key = b("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a");
    let signature = b(
        "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
    );
    let verify = |imp: &mut ReferenceImplementation, pk: &Bytes, sig: &Bytes| {
        let out = ok(
            imp,
            Request::Ed25519Verify {
                public_key: pk.clone(),
                message: Bytes::default(),
                signature: sig.clone(),
            },
        );
        out.get("valid").cloned()
    };
    assert_eq!(
        verify(&mut imp, &public_key, &signature),
        Some(Value::Bool(true))
    );
    let mut bad = signature.clone();
    bad.0[63] ^= 0x10;
    assert_eq!(
        verify(&mut imp, &public_key, &bad),
        Some(Value::Bool(false))
    );
    let short = Bytes(signature.0[..63].to_vec());
    assert_eq!(
        verify(&mut imp, &public_key, &short),
        Some(Value::Bool(false))
    );
}

#[test]
fn malformed_requests_are_wire_errors_and_unknown_handles_too() {
    let mut imp = ReferenceImplementation::new();
    let wire = Err(OpError::Rejected("wire".into()));
    assert_eq!(
        imp.call(&Request::X25519 {
            private_key: key(1),
            public_key: Bytes(vec![9; 31]),
        }),
        wire
    );
    assert_eq!(
        imp.call(&Request::KdfCk {
            chain_key: Bytes(vec![1; 33])
        }),
        wire
    );
    assert_eq!(
        imp.call(&Request::Encrypt {
            session: "nope".into(),
            plaintext: Bytes::default()
        }),
        wire
    );
    assert_eq!(
        imp.call(&Request::Free {
            handle: "nope".into()
        }),
        wire
    );
    // Still usable afterwards.
    ok(&mut imp, Request::IdentityPublic { seed: key(3) });
}

struct Conversation {
    imp: ReferenceImplementation,
    store: String,
    alice: String,
    bob: String,
    initial: Bytes,
}

fn conversation(capabilities: &[Capability]) -> Conversation {
    let mut imp = ReferenceImplementation::with_capabilities(capabilities.iter().copied());
    let spk = PreKeySecret {
        id: 7,
        private_key: key(0x21),
    };
    let opk = PreKeySecret {
        id: 100,
        private_key: key(0x22),
    };
    let bundle = field(
        &ok(
            &mut imp,
            Request::BundleCreate {
                identity_seed: key(0x11),
                signed_prekey: spk.clone(),
                one_time_prekey: Some(opk.clone()),
            },
        ),
        "bundle",
    );
    assert_eq!(bundle.0.len(), sealwire::BUNDLE_LEN_WITH_OPK);
    ok(
        &mut imp,
        Request::BundleVerify {
            bundle: bundle.clone(),
        },
    );
    let store = handle(
        &ok(
            &mut imp,
            Request::PrekeyStoreCreate {
                identity_seed: key(0x11),
                signed_prekeys: vec![spk],
                one_time_prekeys: vec![
                    opk,
                    PreKeySecret {
                        id: 101,
                        private_key: key(0x23),
                    },
                ],
            },
        ),
        "store",
    );
    let out = ok(
        &mut imp,
        Request::Initiate {
            identity_seed: key(0x01),
            bundle,
            ephemeral_private_key: key(0x02),
            ratchet_private_key: key(0x03),
            plaintext: Bytes(b"hi Bob".to_vec()),
        },
    );
    let alice = handle(&out, "session");
    let initial = field(&out, "initial_message");
    let alice_secret = out.get("shared_secret").cloned();
    let out = ok(
        &mut imp,
        Request::Respond {
            store: store.clone(),
            initial_message: initial.clone(),
            ratchet_private_key: key(0x31),
        },
    );
    assert_eq!(field(&out, "plaintext").0, b"hi Bob");
    assert_eq!(out.get("shared_secret").cloned(), alice_secret);
    let bob = handle(&out, "session");
    Conversation {
        imp,
        store,
        alice,
        bob,
        initial,
    }
}

#[test]
fn conversation_is_deterministic_and_exposes_matching_x3dh_secrets() {
    let mut c = conversation(&Capability::ALL);
    let mut d = conversation(&Capability::ALL);
    assert_eq!(c.initial, d.initial);
    let ids = ok(
        &mut c.imp,
        Request::PrekeyStoreIds {
            store: c.store.clone(),
        },
    );
    assert_eq!(
        ids.get("one_time_prekey_ids"),
        Some(&serde_json::json!([101]))
    );
    // Bob answers: a new ratchet turn for Alice.
    let reply = |conv: &mut Conversation| {
        let m = field(
            &ok(
                &mut conv.imp,
                Request::Encrypt {
                    session: conv.bob.clone(),
                    plaintext: Bytes(b"hi Alice".to_vec()),
                },
            ),
            "message",
        );
        let pt = ok(
            &mut conv.imp,
            Request::Decrypt {
                session: conv.alice.clone(),
                message: m.clone(),
                ratchet_private_key: Some(key(0x04)),
            },
        );
        assert_eq!(field(&pt, "plaintext").0, b"hi Alice");
        m
    };
    assert_eq!(reply(&mut c), reply(&mut d));
}

#[test]
fn without_x3dh_secret_capability_no_secrets_are_returned() {
    let mut imp =
        ReferenceImplementation::with_capabilities([Capability::Bundle, Capability::Session]);
    let bundle = field(
        &ok(
            &mut imp,
            Request::BundleCreate {
                identity_seed: key(0x11),
                signed_prekey: PreKeySecret {
                    id: 1,
                    private_key: key(0x21),
                },
                one_time_prekey: None,
            },
        ),
        "bundle",
    );
    let out = ok(
        &mut imp,
        Request::Initiate {
            identity_seed: key(0x01),
            bundle,
            ephemeral_private_key: key(0x02),
            ratchet_private_key: key(0x03),
            plaintext: Bytes::default(),
        },
    );
    assert!(out.contains_key("initial_message"));
    assert!(!out.contains_key("shared_secret") && !out.contains_key("ad"));
    assert!(matches!(
        imp.call(&Request::ExportState {
            session: handle(&out, "session")
        }),
        Err(OpError::Unsupported(_))
    ));
}

#[test]
fn rejected_decrypt_and_respond_leave_state_unchanged() {
    let mut c = conversation(&Capability::ALL);
    let message = field(
        &ok(
            &mut c.imp,
            Request::Encrypt {
                session: c.alice.clone(),
                plaintext: Bytes(b"second".to_vec()),
            },
        ),
        "message",
    );
    let export = |c: &mut Conversation| {
        field(
            &ok(
                &mut c.imp,
                Request::ExportState {
                    session: c.bob.clone(),
                },
            ),
            "state",
        )
    };
    let before = export(&mut c);
    let mut tampered = message.clone();
    let last = tampered.0.len() - 1;
    tampered.0[last] ^= 1;
    assert_eq!(
        c.imp.call(&Request::Decrypt {
            session: c.bob.clone(),
            message: tampered,
            ratchet_private_key: None,
        }),
        Err(OpError::Rejected("decryption_failed".into()))
    );
    assert_eq!(export(&mut c), before);
    ok(
        &mut c.imp,
        Request::Decrypt {
            session: c.bob.clone(),
            message: message.clone(),
            ratchet_private_key: None,
        },
    );
    assert_eq!(
        c.imp.call(&Request::Decrypt {
            session: c.bob.clone(),
            message,
            ratchet_private_key: None,
        }),
        Err(OpError::Rejected("duplicate".into()))
    );
    // The one-time prekey is gone: replaying the initial message fails.
    assert_eq!(
        c.imp.call(&Request::Respond {
            store: c.store.clone(),
            initial_message: c.initial.clone(),
            ratchet_private_key: key(0x31),
        }),
        Err(OpError::Rejected("handshake".into()))
    );
}

#[test]
fn state_round_trips_plain_and_sealed() {
    let mut c = conversation(&Capability::ALL);
    let state = field(
        &ok(
            &mut c.imp,
            Request::ExportState {
                session: c.bob.clone(),
            },
        ),
        "state",
    );
    let copy = handle(
        &ok(
            &mut c.imp,
            Request::ImportState {
                state: state.clone(),
            },
        ),
        "session",
    );
    let again = field(
        &ok(&mut c.imp, Request::ExportState { session: copy }),
        "state",
    );
    assert_eq!(again, state);
    let sealed = field(
        &ok(
            &mut c.imp,
            Request::SealState {
                session: c.bob.clone(),
                storage_key: key(0x41),
                salt: key(0x42),
            },
        ),
        "sealed_state",
    );
    assert_eq!(&sealed.0[1..33], &[0x42; 32]);
    let opened = handle(
        &ok(
            &mut c.imp,
            Request::OpenState {
                storage_key: key(0x41),
                sealed_state: sealed.clone(),
            },
        ),
        "session",
    );
    let count = ok(&mut c.imp, Request::SkippedCount { session: opened });
    assert_eq!(count.get("count"), Some(&Value::from(0)));
    assert_eq!(
        c.imp.call(&Request::OpenState {
            storage_key: key(0x40),
            sealed_state: sealed,
        }),
        Err(OpError::Rejected("state".into()))
    );
    let mut truncated = state;
    truncated.0.pop();
    assert_eq!(
        c.imp.call(&Request::ImportState { state: truncated }),
        Err(OpError::Rejected("state".into()))
    );
    ok(
        &mut c.imp,
        Request::Free {
            handle: c.bob.clone(),
        },
    );
    assert_eq!(
        c.imp.call(&Request::ExportState { session: c.bob }),
        Err(OpError::Rejected("wire".into()))
    );
}

#[test]
fn a_new_turn_without_a_scripted_key_breaks_the_implementation() {
    let mut c = conversation(&Capability::ALL);
    let reply = field(
        &ok(
            &mut c.imp,
            Request::Encrypt {
                session: c.bob.clone(),
                plaintext: Bytes(b"x".to_vec()),
            },
        ),
        "message",
    );
    let result = c.imp.call(&Request::Decrypt {
        session: c.alice.clone(),
        message: reply,
        ratchet_private_key: None,
    });
    match result {
        Err(OpError::Broken(why)) => assert!(why.contains("rng exhausted"), "{why}"),
        other => panic!("{other:?}"),
    }
    // Broken is permanent, as the trait says.
    assert!(matches!(
        c.imp.call(&Request::IdentityPublic { seed: key(1) }),
        Err(OpError::Broken(_))
    ));
}

#[test]
fn decode_reencodes_and_rejects() {
    let mut c = conversation(&Capability::ALL);
    let out = ok(
        &mut c.imp,
        Request::Decode {
            structure: Structure::InitialMessage,
            bytes: c.initial.clone(),
        },
    );
    assert_eq!(field(&out, "encoded"), c.initial);
    let header = Bytes(c.initial.0[74..74 + 41].to_vec());
    let out = ok(
        &mut c.imp,
        Request::Decode {
            structure: Structure::Header,
            bytes: header.clone(),
        },
    );
    assert_eq!(field(&out, "encoded"), header);
    assert_eq!(
        c.imp.call(&Request::Decode {
            structure: Structure::Bundle,
            bytes: Bytes(vec![1; 10]),
        }),
        Err(OpError::Rejected("wire".into()))
    );
}
