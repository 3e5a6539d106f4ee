//! Tests of `runner`.

use super::*;
use crate::testing::{Fault, Faulty};
use sealwire_adapter::PreKeySecret;
use sealwire_adapter::hex::Bytes;
use sealwire_reference::ReferenceImplementation;
use sealwire_vectors::{Step, Verdict};

fn key(byte: u8) -> Bytes {
    Bytes(vec![byte; 32])
}

fn step(request: Request, expect: Expect, bind: Option<&str>) -> Step {
    Step {
        request,
        bind: bind.map(str::to_owned),
        expect,
    }
}

fn ok_fields(fields: &[(&str, Value)]) -> Expect {
    Expect::Ok(
        fields
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect(),
    )
}

fn test_case(steps: Vec<Step>) -> TestCase {
    TestCase {
        tc_id: 1,
        comment: "unit".into(),
        flags: vec!["Flag".into()],
        steps,
        result: Verdict::Valid,
        error: None,
    }
}

fn hexv(bytes: &[u8]) -> Value {
    Value::String(sealwire_adapter::hex::encode(bytes))
}

/// Computes a step's output with the reference, for building tests.
fn compute(request: &Request) -> Output {
    ReferenceImplementation::new().call(request).unwrap()
}

fn bundle_request() -> Request {
    Request::BundleCreate {
        identity_seed: key(0x11),
        signed_prekey: PreKeySecret {
            id: 7,
            private_key: key(0x21),
        },
        one_time_prekey: None,
    }
}

/// A conversation: store, initiate, respond, Bob replies, then a
/// tampered copy of the reply is rejected, a replayed initial message is
/// rejected (its one-time prekey is gone), and the genuine reply is
/// accepted.
fn conversation() -> TestCase {
    let mut reference = ReferenceImplementation::new();
    let bundle_request = Request::BundleCreate {
        identity_seed: key(0x11),
        signed_prekey: PreKeySecret {
            id: 7,
            private_key: key(0x21),
        },
        one_time_prekey: Some(PreKeySecret {
            id: 100,
            private_key: key(0x22),
        }),
    };
    let bundle = reference.call(&bundle_request).unwrap()["bundle"].clone();
    let bundle = Bytes::from_hex(bundle.as_str().unwrap()).unwrap();
    let store_request = Request::PrekeyStoreCreate {
        identity_seed: key(0x11),
        signed_prekeys: vec![PreKeySecret {
            id: 7,
            private_key: key(0x21),
        }],
        one_time_prekeys: vec![PreKeySecret {
            id: 100,
            private_key: key(0x22),
        }],
    };
    let store = reference.call(&store_request).unwrap()["store"]
        .as_str()
        .unwrap()
        .to_owned();
    let initiate = Request::Initiate {
        identity_seed: key(1),
        bundle: bundle.clone(),
        ephemeral_private_key: key(2),
        ratchet_private_key: key(3),
        plaintext: Bytes(b"hi".to_vec()),
    };
    let out = reference.call(&initiate).unwrap();
    let initial = out["initial_message"].clone();
    let respond = |store: &str| Request::Respond {
        store: store.into(),
        initial_message: Bytes::from_hex(initial.as_str().unwrap()).unwrap(),
        ratchet_private_key: key(4),
    };
    let bob = reference.call(&respond(&store)).unwrap()["session"]
        .as_str()
        .unwrap()
        .to_owned();
    let encrypt = |session: &str| Request::Encrypt {
        session: session.into(),
        plaintext: Bytes(b"yo".to_vec()),
    };
    let reply = reference.call(&encrypt(&bob)).unwrap()["message"].clone();
    let reply = Bytes::from_hex(reply.as_str().unwrap()).unwrap();
    let mut tampered = reply.clone();
    tampered.0[45] ^= 1;
    let decrypt = |message: Bytes| Request::Decrypt {
        session: "alice".into(),
        message,
        ratchet_private_key: Some(key(5)),
    };
    test_case(vec![
        step(store_request, ok_fields(&[]), Some("store")),
        step(
            initiate,
            ok_fields(&[("initial_message", initial.clone())]),
            Some("alice"),
        ),
        step(
            respond("store"),
            ok_fields(&[("plaintext", hexv(b"hi"))]),
            Some("bob"),
        ),
        step(
            encrypt("bob"),
            ok_fields(&[("message", hexv(&reply.0))]),
            None,
        ),
        step(
            decrypt(tampered),
            Expect::Error("decryption_failed".into()),
            None,
        ),
        step(respond("store"), Expect::Error("handshake".into()), None),
        step(
            decrypt(reply),
            ok_fields(&[("plaintext", hexv(b"yo"))]),
            None,
        ),
    ])
}

#[test]
fn a_conversation_passes_against_the_reference() {
    let mut reference = ReferenceImplementation::new();
    assert_eq!(run_test(&mut reference, &conversation()), Outcome::Passed);
    // Twice in a row on the same implementation: namespaces are fresh.
    assert_eq!(run_test(&mut reference, &conversation()), Outcome::Passed);
}

#[test]
fn a_changed_expected_byte_fails_with_step_op_and_difference() {
    let mut test = conversation();
    let Expect::Ok(fields) = &mut test.steps[3].expect else {
        panic!()
    };
    let message = fields["message"].as_str().unwrap().to_owned();
    let mut bytes = Bytes::from_hex(&message).unwrap();
    bytes.0[50] ^= 0x80;
    fields.insert("message".into(), hexv(&bytes.0));
    match run_test(&mut ReferenceImplementation::new(), &test) {
        Outcome::Failed(f) => {
            assert_eq!(f.step, Some(3));
            assert_eq!(f.op.as_deref(), Some("encrypt"));
            assert!(f.actual.contains("first difference at byte 50"), "{f:?}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn wrong_error_class_and_unexpected_success_fail() {
    let mut test = conversation();
    test.steps[4].expect = Expect::Error("duplicate".into());
    match run_test(&mut ReferenceImplementation::new(), &test) {
        Outcome::Failed(f) => {
            assert_eq!(
                (f.step, f.expected.as_str()),
                (Some(4), "error `duplicate`")
            );
            assert_eq!(f.actual, "error `decryption_failed`");
        }
        other => panic!("{other:?}"),
    }
    let mut test = conversation();
    test.steps[6].expect = Expect::Error("duplicate".into());
    match run_test(&mut ReferenceImplementation::new(), &test) {
        Outcome::Failed(f) => assert!(f.actual.starts_with("ok {plaintext"), "{f:?}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn unbound_handle_names_are_reported_as_vector_errors() {
    let mut test = conversation();
    test.steps[2].bind = None;
    match run_test(&mut ReferenceImplementation::new(), &test) {
        Outcome::Failed(f) => {
            assert_eq!(f.step, Some(3));
            assert!(f.actual.contains("`bob` was not bound"), "{f:?}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn oracle_catches_a_session_changed_by_a_rejected_decrypt() {
    let mut faulty = Faulty::new(Fault::MutateOnRejectedDecrypt);
    match run_test(&mut faulty, &conversation()) {
        Outcome::Failed(f) => {
            assert_eq!(f.step, Some(4));
            assert!(
                f.actual.contains("the exported session state changed"),
                "{f:?}"
            );
        }
        other => panic!("{other:?}"),
    }
    // Without the `state` capability the oracle cannot look.
    let mut blind = Faulty::wrapping(
        ReferenceImplementation::with_capabilities(
            Capability::ALL
                .into_iter()
                .filter(|c| *c != Capability::State),
        ),
        Fault::MutateOnRejectedDecrypt,
    );
    // The mutation (an extra message sent) is invisible to the rest of
    // this conversation: only the oracle could have seen it.
    assert_eq!(run_test(&mut blind, &conversation()), Outcome::Passed);
}

#[test]
fn oracle_catches_prekey_ids_changed_by_a_rejected_respond() {
    // Ids are reported differently from the second call on: the
    // before/after comparison around the rejected respond sees it only
    // if the fault flips between them, so flip on every other call.
    struct Flip {
        inner: ReferenceImplementation,
        calls: usize,
    }
    impl Implementation for Flip {
        fn name(&self) -> &str {
            "flip"
        }
        fn capabilities(&self) -> &BTreeSet<Capability> {
            self.inner.capabilities()
        }
        fn call(&mut self, request: &Request) -> Result<Output, OpError> {
            let mut out = self.inner.call(request)?;
            if matches!(request, Request::PrekeyStoreIds { .. }) {
                self.calls += 1;
                out.insert(
                    "one_time_prekey_ids".into(),
                    serde_json::json!([self.calls]),
                );
            }
            Ok(out)
        }
    }
    let mut flip = Flip {
        inner: ReferenceImplementation::new(),
        calls: 0,
    };
    match run_test(&mut flip, &conversation()) {
        Outcome::Failed(f) => {
            assert_eq!(f.step, Some(5));
            assert!(f.actual.contains("one-time prekey ids changed"), "{f:?}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn bundle_signatures_are_verified_not_compared() {
    let expected = compute(&bundle_request())["bundle"].clone();
    let good = test_case(vec![step(
        bundle_request(),
        ok_fields(&[("bundle", expected.clone())]),
        None,
    )]);
    assert_eq!(
        run_test(&mut ReferenceImplementation::new(), &good),
        Outcome::Passed
    );
    let mut bad = Faulty::new(Fault::BadSignature);
    match run_test(&mut bad, &good) {
        Outcome::Failed(f) => assert!(f.actual.contains("does not verify"), "{f:?}"),
        other => panic!("{other:?}"),
    }
    // An expected bundle whose signature differs (another nonce, here
    // simply garbage): the correct signature returned still passes.
    let mut bytes = Bytes::from_hex(expected.as_str().unwrap()).unwrap();
    bytes.0[70] ^= 0xff;
    let other_nonce = test_case(vec![step(
        bundle_request(),
        ok_fields(&[("bundle", hexv(&bytes.0))]),
        None,
    )]);
    assert_eq!(
        run_test(&mut ReferenceImplementation::new(), &other_nonce),
        Outcome::Passed
    );
    // But any byte outside the signature is compared: here the
    // one-time prekey flag (byte 133).
    bytes.0[133] ^= 1;
    let outside = test_case(vec![step(
        bundle_request(),
        ok_fields(&[("bundle", hexv(&bytes.0))]),
        None,
    )]);
    match run_test(&mut ReferenceImplementation::new(), &outside) {
        Outcome::Failed(f) => {
            assert!(f.actual.contains("first difference at byte 70"), "{f:?}")
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn missing_capabilities_skip_and_name_the_capability() {
    let mut limited =
        ReferenceImplementation::with_capabilities([Capability::Bundle, Capability::Kdf]);
    match run_test(&mut limited, &conversation()) {
        Outcome::Skipped(why) => assert_eq!(why, "needs capability `session`"),
        other => panic!("{other:?}"),
    }
    let mut test = conversation();
    let Expect::Ok(fields) = &mut test.steps[1].expect else {
        panic!()
    };
    fields.insert("shared_secret".into(), hexv(&[0; 32]));
    assert!(required_capabilities(&test).contains(&Capability::X3dhSecret));
    let mut no_secret = ReferenceImplementation::with_capabilities(
        Capability::ALL
            .into_iter()
            .filter(|c| *c != Capability::X3dhSecret),
    );
    match run_test(&mut no_secret, &test) {
        Outcome::Skipped(why) => assert!(why.contains("x3dh_secret"), "{why}"),
        other => panic!("{other:?}"),
    }
}

fn file(tests: Vec<TestCase>) -> LoadedFile {
    let mut notes = BTreeMap::new();
    notes.insert("Flag".to_owned(), "a flag".to_owned());
    LoadedFile {
        path: "session/unit.json".into(),
        area: "session".into(),
        file: VectorFile {
            algorithm: "unit".into(),
            schema_version: SCHEMA_VERSION.into(),
            generator_version: "0".into(),
            source: "unit tests".into(),
            number_of_tests: tests.len(),
            header: vec![],
            notes,
            test_groups: vec![sealwire_vectors::TestGroup {
                kind: "SessionTest".into(),
                comment: "unit".into(),
                tests,
            }],
        },
    }
}

#[test]
fn a_broken_implementation_fails_the_remaining_tests_without_running_them() {
    let tests: Vec<TestCase> = (1..=3)
        .map(|id| TestCase {
            tc_id: id,
            ..conversation()
        })
        .collect();
    // A conversation makes 14 calls (11 steps and oracle probes, 3
    // frees): break at the 4th call of the second test.
    let mut faulty = Faulty::new(Fault::BreakAt(17));
    let report = run(&mut faulty, &[file(tests)], &RunOptions::default());
    let outcomes: Vec<_> = report.results.iter().map(|r| &r.outcome).collect();
    assert_eq!(outcomes[0], &Outcome::Passed);
    match (outcomes[1], outcomes[2]) {
        (Outcome::Failed(a), Outcome::Failed(b)) => {
            assert!(
                !a.not_run && a.actual.contains("stopped on purpose"),
                "{a:?}"
            );
            assert_eq!((a.step, a.op.as_deref()), (Some(3), Some("encrypt")));
            assert!(
                b.not_run && b.actual.contains("stopped on purpose"),
                "{b:?}"
            );
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(report.counts(), (1, 2, 0));
    assert!(!report.success());
}

#[test]
fn long_values_are_cut_on_character_boundaries() {
    let hex = Value::String("ab".repeat(100));
    assert_eq!(
        show_value(&hex),
        format!("\"{}…\" (100 bytes)", "ab".repeat(64))
    );
    let text = Value::String("é".repeat(200));
    assert_eq!(
        show_value(&text),
        format!("\"{}…\" (200 bytes)", "é".repeat(128))
    );
    assert_eq!(show_value(&Value::from(7)), "7");
}

#[test]
fn filters_select_by_path_tcid_and_flag() {
    let t = TestCase {
        tc_id: 12,
        flags: vec!["Replay".into()],
        ..conversation()
    };
    let f = |s: &[&str]| s.iter().map(|x| (*x).to_owned()).collect::<Vec<_>>();
    assert!(selected(&[], "session/a.json", &t));
    assert!(selected(&f(&["session/"]), "session/a.json", &t));
    assert!(selected(&f(&["a.json#12"]), "session/a.json", &t));
    assert!(selected(&f(&["12"]), "session/a.json", &t));
    assert!(selected(&f(&["Repl"]), "session/a.json", &t));
    assert!(!selected(&f(&["1"]), "session/a.json", &t));
    assert!(!selected(&f(&["wire/", "Tamper"]), "session/a.json", &t));
    let report = run(
        &mut ReferenceImplementation::new(),
        &[file(vec![t])],
        &RunOptions {
            filters: f(&["nothing matches this"]),
            progress: false,
            require: Vec::new(),
        },
    );
    assert!(report.results.is_empty());
    assert!(!report.success(), "zero tests run is not a success");
}

#[test]
fn load_rejects_bad_files_with_reasons() {
    let dir = std::env::temp_dir().join(format!("sealwire-runner-load-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("session")).unwrap();
    let good = file(vec![conversation()]);
    let text = serde_json::to_string(&good.file).unwrap();
    std::fs::write(dir.join("session/good.json"), &text).unwrap();
    std::fs::write(
        dir.join("session/unknown_field.json"),
        text.replacen("\"algorithm\"", "\"surprise\":1,\"algorithm\"", 1),
    )
    .unwrap();
    std::fs::write(
        dir.join("session/count.json"),
        text.replacen("\"numberOfTests\":1", "\"numberOfTests\":2", 1),
    )
    .unwrap();
    std::fs::write(
        dir.join("session/flag.json"),
        text.replacen("\"flags\":[\"Flag\"]", "\"flags\":[\"Unexplained\"]", 1),
    )
    .unwrap();
    std::fs::write(dir.join("top.json"), text.replacen("\"1\"", "\"2\"", 1)).unwrap();
    std::fs::write(dir.join("session/notes.txt"), "ignored").unwrap();
    #[cfg(unix)]
    std::os::unix::fs::symlink(&dir, dir.join("session/loop")).unwrap();
    let (files, errors) = load_vectors(&dir);
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(files.len(), 1);
    assert_eq!(
        (files[0].path.as_str(), files[0].area.as_str()),
        ("session/good.json", "session")
    );
    let joined = errors.join("\n");
    // The symlink loop is searched once: no file twice, no error.
    assert_eq!(errors.len(), 4, "{joined}");
    assert!(
        joined.contains(
            "session/unknown_field.json: not a valid vector file: unknown field `surprise`"
        ),
        "{joined}"
    );
    assert!(
        joined.contains("numberOfTests is 2 but the file has 1 tests"),
        "{joined}"
    );
    assert!(
        joined.contains("flag \"Unexplained\" is not explained"),
        "{joined}"
    );
    assert!(
        joined.contains("top.json: schema version \"2\""),
        "{joined}"
    );
}

#[test]
fn a_long_mismatch_shows_a_window_around_the_first_difference() {
    let want = "ab".repeat(200);
    let mut got = want.clone();
    got.replace_range(300..302, "cd");
    let request = Request::Decode {
        structure: sealwire_adapter::Structure::Header,
        bytes: Bytes(Vec::new()),
    };
    let mut expected = sealwire_adapter::Output::new();
    expected.insert("encoded".into(), Value::String(want));
    let mut actual = sealwire_adapter::Output::new();
    actual.insert("encoded".into(), Value::String(got));
    let (exp, act) = super::compare_outputs(&request, &expected, &actual).unwrap_err();
    let around = format!("\"{}cd{}\"", "ab".repeat(16), "ab".repeat(15));
    assert!(act.contains(&around), "{act}");
    assert!(act.contains("(bytes 134..166 of 200)"), "{act}");
    assert!(act.contains("first difference at byte 150"), "{act}");
    assert!(exp.starts_with("`encoded` = …\""), "{exp}");
}
