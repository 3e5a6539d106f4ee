//! The model reproduces every checked-in vector of the areas it models
//! (`conformance/vectors/**.json`): every step of every test, outputs
//! compared exactly, rejections by SPEC.md §10 class, and a rejected
//! session step must leave the model's session byte-identical.
//!
//! Only raw-primitive operations (`x25519`, `ed25519_verify`, `hkdf_sha256`,
//! `hmac_sha256`, `aead_seal`, `aead_open`) are not modelled: they test the
//! primitive crates, not SPEC.md. A test with any of them is counted as
//! skipped, and the counts of checked and skipped tests are asserted.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use sealwire_specmodel::keys::{IdentityModel, validate_identity_key, verify_signature};
use sealwire_specmodel::session::{self, ModelSession, PrekeySecrets};
use sealwire_specmodel::wire::{Bundle, Header, InitialMessage, decode_ratchet_message};
use sealwire_specmodel::{ModelError, Secret32, kdf, state, x3dh};
use serde_json::Value;

const PRIMITIVE_OPS: [&str; 6] = [
    "x25519",
    "ed25519_verify",
    "hkdf_sha256",
    "hmac_sha256",
    "aead_seal",
    "aead_open",
];

/// Tests checked per area: every test of the five SPEC.md areas, and the
/// primitives area's bundle tests (low-order prekeys in bundles).
const EXPECTED_CHECKED: [(&str, usize); 6] = [
    ("handshake", 423),
    ("kdf", 127),
    ("primitives", 14),
    ("session", 553),
    ("state", 523),
    ("wire", 728),
];

fn hex(s: &str) -> Vec<u8> {
    assert!(s.len().is_multiple_of(2), "odd hex length");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex digit"))
        .collect()
}

fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn field<'v>(request: &'v Value, name: &str) -> &'v Value {
    request
        .get(name)
        .unwrap_or_else(|| panic!("request lacks `{name}`"))
}

fn bytes(request: &Value, name: &str) -> Vec<u8> {
    hex(field(request, name).as_str().expect("hex string"))
}

fn array<const N: usize>(request: &Value, name: &str) -> [u8; N] {
    bytes(request, name)
        .try_into()
        .unwrap_or_else(|_| panic!("`{name}` is not {N} bytes"))
}

fn secret(request: &Value, name: &str) -> Secret32 {
    Secret32::new(array::<32>(request, name))
}

fn handle(request: &Value, name: &str) -> String {
    field(request, name).as_str().expect("handle").to_owned()
}

struct Store {
    identity: IdentityModel,
    signed: BTreeMap<u32, Secret32>,
    one_time: BTreeMap<u32, Secret32>,
}

impl PrekeySecrets for Store {
    fn signed_prekey(&self, id: u32) -> Option<&[u8; 32]> {
        self.signed.get(&id).map(Secret32::expose)
    }
    fn one_time_prekey(&self, id: u32) -> Option<&[u8; 32]> {
        self.one_time.get(&id).map(Secret32::expose)
    }
}

fn prekeys(request: &Value, name: &str) -> Vec<(u32, Secret32)> {
    field(request, name)
        .as_array()
        .expect("prekey list")
        .iter()
        .map(|k| {
            (
                u32::try_from(k["id"].as_u64().expect("id")).expect("u32 id"),
                secret(k, "private_key"),
            )
        })
        .collect()
}

#[derive(Default)]
struct Runner {
    stores: HashMap<String, Store>,
    sessions: HashMap<String, ModelSession>,
}

type Out = BTreeMap<&'static str, Value>;

fn out<const N: usize>(fields: [(&'static str, Value); N]) -> Out {
    fields.into_iter().collect()
}

fn hv(bytes: &[u8]) -> Value {
    Value::String(to_hex(bytes))
}

/// A step's outcome: outputs, or a rejection.
type Outcome = Result<Out, ModelError>;

impl Runner {
    fn session(&mut self, request: &Value) -> &mut ModelSession {
        let name = handle(request, "session");
        self.sessions
            .get_mut(&name)
            .unwrap_or_else(|| panic!("no session `{name}`"))
    }

    /// The model's state of the session or store a step works on, to check
    /// that a rejection changes nothing.
    fn snapshot(&self, request: &Value) -> Option<Vec<u8>> {
        if let Some(name) = request.get("session").and_then(Value::as_str) {
            return self
                .sessions
                .get(name)
                .map(|s| s.encode().expect("encodable session").to_vec());
        }
        if let Some(name) = request.get("store").and_then(Value::as_str) {
            let store = self.stores.get(name)?;
            let mut ids: Vec<u8> = Vec::new();
            for id in store.one_time.keys() {
                ids.extend_from_slice(&id.to_be_bytes());
            }
            return Some(ids);
        }
        None
    }

    fn run(&mut self, request: &Value, bind: Option<&str>) -> Outcome {
        let op = field(request, "op").as_str().expect("op");
        match op {
            "kdf_rk" => {
                let (rk, ck) = kdf::kdf_rk(
                    secret(request, "root_key").expose(),
                    secret(request, "dh_output").expose(),
                );
                Ok(out([
                    ("root_key", hv(rk.expose())),
                    ("chain_key", hv(ck.expose())),
                ]))
            }
            "kdf_ck" => {
                let (ck, mk) = kdf::kdf_ck(secret(request, "chain_key").expose());
                Ok(out([
                    ("chain_key", hv(ck.expose())),
                    ("message_key", hv(mk.expose())),
                ]))
            }
            "message_keys" => {
                let (key, nonce) = kdf::message_keys(secret(request, "message_key").expose());
                Ok(out([("key", hv(key.expose())), ("nonce", hv(&nonce))]))
            }
            "seal" => {
                let message = kdf::seal_message(
                    secret(request, "message_key").expose(),
                    &array::<64>(request, "ad"),
                    &array::<41>(request, "header"),
                    &bytes(request, "plaintext"),
                )?;
                Ok(out([("message", hv(&message))]))
            }
            "open" => {
                let plaintext = kdf::open_message(
                    secret(request, "message_key").expose(),
                    &array::<64>(request, "ad"),
                    &bytes(request, "message"),
                )?;
                Ok(out([("plaintext", hv(&plaintext))]))
            }
            "identity_public" => {
                let identity = IdentityModel::from_seed(secret(request, "seed").expose());
                // The two ways to the Montgomery form must agree: the
                // scalar's X25519 public key and the map of the point.
                let mapped =
                    validate_identity_key(&identity.public).expect("a seed's key is valid");
                assert_eq!(
                    mapped, identity.montgomery_public,
                    "Montgomery forms differ"
                );
                Ok(out([
                    ("public_key", hv(&identity.public)),
                    ("x25519_public_key", hv(&identity.montgomery_public)),
                ]))
            }
            "bundle_create" => {
                let identity = IdentityModel::from_seed(secret(request, "identity_seed").expose());
                let spk = field(request, "signed_prekey");
                let spk = (
                    u32::try_from(spk["id"].as_u64().expect("id")).expect("u32"),
                    secret(spk, "private_key"),
                );
                let opk = match field(request, "one_time_prekey") {
                    Value::Null => None,
                    opk => Some((
                        u32::try_from(opk["id"].as_u64().expect("id")).expect("u32"),
                        secret(opk, "private_key"),
                    )),
                };
                let bundle = x3dh::make_bundle(
                    &identity,
                    (spk.0, spk.1.expose()),
                    opk.as_ref().map(|(id, k)| (*id, k.expose())),
                );
                Ok(out([("bundle", hv(&bundle.encode()))]))
            }
            "bundle_verify" => {
                let bundle = Bundle::decode(&bytes(request, "bundle"))?;
                x3dh::verify_bundle(&bundle)?;
                Ok(Out::new())
            }
            "decode" => {
                let input = bytes(request, "bytes");
                let encoded = match field(request, "structure").as_str().expect("structure") {
                    "header" => Header::decode(&input)?.encode().to_vec(),
                    "ratchet_message" => {
                        let header = decode_ratchet_message(&input)?;
                        let mut encoded = header.encode().to_vec();
                        encoded.extend_from_slice(&input[41..]);
                        encoded
                    }
                    "initial_message" => InitialMessage::decode(&input)?.encode(),
                    "bundle" => Bundle::decode(&input)?.encode(),
                    other => panic!("unknown structure {other}"),
                };
                Ok(out([("encoded", hv(&encoded))]))
            }
            "prekey_store_create" => {
                let identity = IdentityModel::from_seed(secret(request, "identity_seed").expose());
                let store = Store {
                    identity,
                    signed: prekeys(request, "signed_prekeys").into_iter().collect(),
                    one_time: prekeys(request, "one_time_prekeys").into_iter().collect(),
                };
                self.stores.insert(bind.expect("bind").to_owned(), store);
                Ok(Out::new())
            }
            "prekey_store_ids" => {
                let store = &self.stores[&handle(request, "store")];
                let ids: Vec<Value> = store.one_time.keys().map(|&id| Value::from(id)).collect();
                Ok(out([("one_time_prekey_ids", Value::Array(ids))]))
            }
            "initiate" => {
                let identity = IdentityModel::from_seed(secret(request, "identity_seed").expose());
                let initiated = session::initiate(
                    &identity,
                    &bytes(request, "bundle"),
                    secret(request, "ephemeral_private_key").expose(),
                    secret(request, "ratchet_private_key").expose(),
                    &bytes(request, "plaintext"),
                )?;
                self.sessions
                    .insert(bind.expect("bind").to_owned(), initiated.session);
                Ok(out([
                    ("initial_message", hv(&initiated.initial_message)),
                    ("shared_secret", hv(initiated.shared_secret.expose())),
                    ("ad", hv(&initiated.ad)),
                ]))
            }
            "respond" => {
                let name = handle(request, "store");
                let store = &self.stores[&name];
                let responded = session::respond(
                    &store.identity,
                    store,
                    &bytes(request, "initial_message"),
                    secret(request, "ratchet_private_key").expose(),
                )?;
                if let Some(id) = responded.consumed_one_time_prekey {
                    self.stores
                        .get_mut(&name)
                        .expect("store")
                        .one_time
                        .remove(&id);
                }
                self.sessions
                    .insert(bind.expect("bind").to_owned(), responded.session);
                Ok(out([
                    ("plaintext", hv(&responded.plaintext)),
                    ("shared_secret", hv(responded.shared_secret.expose())),
                    ("ad", hv(&responded.ad)),
                ]))
            }
            "encrypt" => {
                let plaintext = bytes(request, "plaintext");
                let message = self.session(request).encrypt(&plaintext)?;
                Ok(out([("message", hv(&message))]))
            }
            "decrypt" => {
                let message = bytes(request, "message");
                let key = match field(request, "ratchet_private_key") {
                    Value::Null => None,
                    _ => Some(secret(request, "ratchet_private_key")),
                };
                let received = self
                    .session(request)
                    .decrypt(&message, key.as_ref().map(Secret32::expose))?;
                // A key given for a message that starts no turn is unused
                // (the reference's adapter allows it); one missing for a new
                // turn is the model's `Misuse`, a failure.
                Ok(out([("plaintext", hv(&received.plaintext))]))
            }
            "export_state" => {
                let state = self.session(request).encode()?;
                Ok(out([("state", hv(&state))]))
            }
            "import_state" => {
                let session = ModelSession::decode(&bytes(request, "state"))?;
                // Serializing a restored state gives the same bytes (§9.1).
                assert_eq!(
                    session.encode().expect("encodable").to_vec(),
                    bytes(request, "state")
                );
                if let Some(name) = bind {
                    self.sessions.insert(name.to_owned(), session);
                }
                Ok(Out::new())
            }
            "seal_state" => {
                let key = secret(request, "storage_key");
                let salt = array::<32>(request, "salt");
                let plain = self.session(request).encode()?;
                let sealed = state::seal_state(key.expose(), &salt, &plain);
                Ok(out([("sealed_state", hv(&sealed))]))
            }
            "open_state" => {
                let key = secret(request, "storage_key");
                let plain = state::open_state(key.expose(), &bytes(request, "sealed_state"))?;
                let session = ModelSession::decode(&plain)?;
                if let Some(name) = bind {
                    self.sessions.insert(name.to_owned(), session);
                }
                Ok(Out::new())
            }
            "skipped_count" => {
                let count = self.session(request).skipped_len();
                Ok(out([("count", Value::from(count))]))
            }
            "free" => {
                let name = handle(request, "handle");
                let found =
                    self.sessions.remove(&name).is_some() || self.stores.remove(&name).is_some();
                assert!(found, "free of an unknown handle `{name}`");
                Ok(Out::new())
            }
            other => panic!("operation `{other}` is not modelled"),
        }
    }
}

/// Runs one test; returns the first disagreement.
fn run_test(test: &Value) -> Result<usize, String> {
    let mut runner = Runner::default();
    let steps = test["steps"].as_array().expect("steps");
    for (index, step) in steps.iter().enumerate() {
        let request = &step["request"];
        let op = request["op"].as_str().expect("op");
        let bind = step.get("bind").and_then(Value::as_str);
        let before = runner.snapshot(request);
        let outcome = runner.run(request, bind);
        let fail = |what: String| Err(format!("step {index} (`{op}`): {what}"));
        match (&step["expect"], outcome) {
            (expect, Ok(outputs)) if expect.get("ok").is_some() => {
                let expected = expect["ok"].as_object().expect("ok object");
                for (name, value) in expected {
                    if op == "bundle_create" && name == "bundle" {
                        // Signatures are verified, never compared (§2).
                        let want = hex(value.as_str().expect("hex"));
                        let got = hex(outputs["bundle"].as_str().expect("hex"));
                        let (Ok(want_bundle), Ok(got_bundle)) =
                            (Bundle::decode(&want), Bundle::decode(&got))
                        else {
                            return fail("bundle does not decode".into());
                        };
                        let same_but_signature = Bundle {
                            signature: want_bundle.signature,
                            ..got_bundle
                        } == want_bundle;
                        if !same_but_signature
                            || x3dh::verify_bundle(&want_bundle).is_err()
                            || verify_signature(
                                &want_bundle.identity_key,
                                &want_bundle.signed_prekey,
                                &want_bundle.signature,
                            )
                            .is_err()
                        {
                            return fail("bundle differs beyond its signature".into());
                        }
                        continue;
                    }
                    match outputs.get(name.as_str()) {
                        Some(got) if got == value => {}
                        Some(got) => {
                            return fail(format!("`{name}`: expected {value}, model {got}"));
                        }
                        None => return fail(format!("the model has no output `{name}`")),
                    }
                }
            }
            (expect, Err(error)) if expect.get("ok").is_some() => {
                return fail(format!("expected success, the model rejects: {error}"));
            }
            (expect, Ok(_)) => {
                return fail(format!(
                    "expected error {}, the model accepts",
                    expect["error"]
                ));
            }
            (expect, Err(error)) => {
                let want = expect["error"].as_str().expect("error class");
                if error.class_name() != want {
                    return fail(format!("expected error {want}, the model: {error}"));
                }
                if runner.snapshot(request) != before {
                    return fail("a rejected step changed the model's session or store".into());
                }
            }
        }
    }
    Ok(steps.len())
}

fn vector_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("vectors directory") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            vector_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "json") {
            out.push(path);
        }
    }
}

#[test]
fn the_model_reproduces_every_vector_of_the_areas_it_models() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../vectors");
    let mut files = Vec::new();
    vector_files(&root, &mut files);
    files.sort();
    assert!(
        !files.is_empty(),
        "no vector files under {}",
        root.display()
    );

    let mut checked: BTreeMap<String, usize> = BTreeMap::new();
    let mut skipped: BTreeMap<String, usize> = BTreeMap::new();
    let mut steps_checked = 0usize;
    let mut failures = Vec::new();
    for path in &files {
        let area = path
            .parent()
            .and_then(Path::file_name)
            .and_then(|n| n.to_str())
            .expect("area directory")
            .to_owned();
        let file: Value =
            serde_json::from_str(&std::fs::read_to_string(path).expect("read")).expect("json");
        let name = path
            .strip_prefix(&root)
            .expect("under root")
            .display()
            .to_string();
        let mut in_file = 0;
        for group in file["testGroups"].as_array().expect("testGroups") {
            for test in group["tests"].as_array().expect("tests") {
                in_file += 1;
                let primitive =
                    test["steps"].as_array().expect("steps").iter().any(|s| {
                        PRIMITIVE_OPS.contains(&s["request"]["op"].as_str().unwrap_or(""))
                    });
                if primitive {
                    *skipped.entry(area.clone()).or_default() += 1;
                    continue;
                }
                match run_test(test) {
                    Ok(steps) => {
                        steps_checked += steps;
                        *checked.entry(area.clone()).or_default() += 1;
                    }
                    Err(why) => failures.push(format!("{name} tcId {}: {why}", test["tcId"])),
                }
            }
        }
        assert_eq!(
            Some(in_file),
            file["numberOfTests"].as_u64().map(|n| n as usize),
            "{name}: numberOfTests"
        );
    }
    eprintln!(
        "checked per area: {checked:?}; skipped (raw primitives) per area: {skipped:?}; {steps_checked} steps"
    );
    assert!(
        failures.is_empty(),
        "{} test(s) disagree with the model:\n{}",
        failures.len(),
        failures
            .iter()
            .take(40)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
    let expected: BTreeMap<String, usize> = EXPECTED_CHECKED
        .iter()
        .map(|(area, n)| ((*area).to_owned(), *n))
        .collect();
    assert_eq!(checked, expected, "tests checked per area");
}
