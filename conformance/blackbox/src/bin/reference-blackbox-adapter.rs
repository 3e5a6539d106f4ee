//! The reference implementation (crate `sealwire`) as a black-box adapter
//! (conformance/ADAPTER-v2.md): opaque encodings are Sealwire's own bytes
//! (SPEC.md §4, §7, §8), states are `Session::to_bytes` (§9.1), every random
//! value comes from a ChaCha20 generator seeded with the hello's seed, and
//! errors are the fine classes of SPEC.md §10.
//!
//! ```sh
//! cargo run --release -p sealwire-blackbox -- props --impl target/release/reference-blackbox-adapter
//! ```

use std::collections::{BTreeMap, HashSet};
use std::io::{self, BufRead, Write};

use rand_chacha::ChaCha20Rng;
use rand_core::{Rng, SeedableRng};
use sealwire::{
    Error, HEADER_LEN, INITIAL_PREFIX_LEN_WITHOUT_OPK, IdentityKeyPair, InMemoryPreKeyStore,
    KEY_LEN, MAX_PLAINTEXT_LEN, MAX_SKIP, MAX_SKIPPED_KEYS, OVERHEAD, OneTimePreKey, PreKeyBundle,
    PreKeyStore, Session, SignedPreKey, TAG_LEN, initiate_with_rng, respond_with_rng, testing,
};
use sealwire_blackbox::hex;
use serde_json::{Map, Value, json};
use zeroize::Zeroizing;

/// A party: its identity, one signed prekey, its one-time prekeys.
struct Party {
    identity: IdentityKeyPair,
    signed: SignedPreKey,
    signed_secret: Zeroizing<[u8; KEY_LEN]>,
    store: InMemoryPreKeyStore,
    /// Every one-time prekey id with its secret (consumed ones stay here;
    /// the store says which remain).
    one_time: BTreeMap<u32, Zeroizing<[u8; KEY_LEN]>>,
    /// Ids already named in a published bundle.
    handed_out: HashSet<u32>,
}

impl Party {
    fn unused(&self) -> Vec<u32> {
        self.one_time
            .keys()
            .copied()
            .filter(|id| self.store.one_time_prekey(*id).is_some())
            .collect()
    }
}

/// TEST-ONLY planted flaws for the model's self-test
/// (`tests/selftest.rs`), chosen with the environment variable
/// `SEALWIRE_BLACKBOX_PLANT`; none is active without it.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Plant {
    None,
    /// A rejected message that decrypted before returns its old plaintext.
    ReplayCache,
    /// Every plaintext encrypted is logged to stderr.
    LogPlaintext,
    /// A rejected decrypt advances the session's sending chain.
    TouchOnReject,
    /// A rejected first message burns a one-time prekey.
    BurnPrekeyOnReject,
    /// The hello's seed is mixed with the clock (while `seedable: true`).
    IgnoreSeed,
    /// A message with one byte appended decrypts as the message without
    /// it (an accepted re-encoding: the authentic plaintext is released).
    IgnoreTrailingByte,
    /// A rejected message with one byte appended releases a made-up
    /// plaintext (a forgery).
    ForgeOnTrailingByte,
    /// A replay is answered `decryption_failed`, not `duplicate` (a fine
    /// adapter whose classes are not SPEC.md's).
    DuplicateAsDecryptionFailed,
}

struct Adapter {
    plant: Plant,
    cache: BTreeMap<Vec<u8>, Vec<u8>>,
    rng: Option<ChaCha20Rng>,
    parties: BTreeMap<String, Party>,
    sessions: BTreeMap<String, Session>,
    next_handle: u64,
    /// First messages this adapter produced (for `layout`: the transport,
    /// not the bytes, tells first and ratchet messages apart, SPEC.md §8).
    firsts: HashSet<Vec<u8>>,
}

enum Reply {
    Ok(Value),
    Error(&'static str),
    Unsupported(String),
}

fn fail(error: &Error, op: &str) -> Reply {
    // Error text goes to stderr (ADAPTER-v2.md §3); SPEC.md §10 keeps key
    // material and plaintext out of it, and the runner scans it.
    eprintln!("reference-blackbox-adapter: {op}: {error}");
    Reply::Error(error.class().as_str())
}

fn wire(op: &str, why: &str) -> Reply {
    eprintln!("reference-blackbox-adapter: {op}: {why}");
    Reply::Error("wire")
}

fn hello() -> Value {
    json!({
        "name": format!("sealwire {} (reference, black box)", env!("CARGO_PKG_VERSION")),
        "protocol": 2,
        "library": {"name": "sealwire", "version": env!("CARGO_PKG_VERSION"), "licence": "Apache-2.0 OR MIT", "family": "sealwire"},
        "errors": "fine",
        "seedable": true,
        "limits": {
            "max_forward_jump": MAX_SKIP,
            "skipped_keys": {"cap": MAX_SKIPPED_KEYS, "scope": "session"},
            "old_chains": null,
            "max_plaintext": MAX_PLAINTEXT_LEN,
        },
        "overhead": {
            "first": [INITIAL_PREFIX_LEN_WITHOUT_OPK + OVERHEAD, INITIAL_PREFIX_LEN_WITHOUT_OPK + 4 + OVERHEAD],
            "message": [OVERHEAD, OVERHEAD],
        },
        "capabilities": ["state", "skipped_count", "secrets", "layout"],
    })
}

fn field(name: &str, offset: usize, length: usize) -> Value {
    json!({"name": name, "offset": offset, "length": length, "authenticated": true})
}

/// SPEC.md §7's header layout, then body and tag, starting at `at`.
fn ratchet_fields(fields: &mut Vec<Value>, at: usize, len: usize) {
    fields.push(field("version", at, 1));
    fields.push(field("ratchet_key", at + 1, 32));
    fields.push(field("previous_chain_length", at + 33, 4));
    fields.push(field("counter", at + 37, 4));
    fields.push(field(
        "ciphertext",
        at + HEADER_LEN,
        len - at - HEADER_LEN - TAG_LEN,
    ));
    fields.push(field("tag", len - TAG_LEN, TAG_LEN));
}

impl Adapter {
    fn handle(&mut self, prefix: &str) -> String {
        self.next_handle += 1;
        format!("{prefix}{}", self.next_handle)
    }

    fn secret(&mut self) -> Zeroizing<[u8; KEY_LEN]> {
        let mut s = Zeroizing::new([0u8; KEY_LEN]);
        if let Some(rng) = self.rng.as_mut() {
            rng.fill_bytes(&mut s[..]);
        }
        s
    }

    fn dispatch(&mut self, op: &str, req: &Map<String, Value>) -> Reply {
        if op == "hello" {
            let seed = req
                .get("seed")
                .and_then(Value::as_str)
                .and_then(hex::decode);
            let Some(Ok(seed)) = seed.map(<[u8; 32]>::try_from) else {
                return wire(op, "hello without a 32-byte seed");
            };
            if req.get("protocol").and_then(Value::as_u64) != Some(2) {
                return wire(op, "only protocol 2 is spoken here");
            }
            let mut seed = seed;
            if self.plant == Plant::IgnoreSeed {
                let nanos = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_nanos());
                seed[..16].copy_from_slice(&nanos.to_le_bytes());
            }
            self.rng = Some(ChaCha20Rng::from_seed(seed));
            return Reply::Ok(hello());
        }
        if self.rng.is_none() {
            return wire(op, "no hello yet");
        }
        let text = |k: &str| req.get(k).and_then(Value::as_str);
        let bytes = |k: &str| text(k).and_then(hex::decode);
        match op {
            "create_party" => {
                let Some(n) = req
                    .get("one_time_prekeys")
                    .and_then(Value::as_u64)
                    .filter(|n| *n <= 100)
                else {
                    return wire(op, "one_time_prekeys must be 0 ..= 100");
                };
                let seed = self.secret();
                let identity = IdentityKeyPair::from_seed(*seed);
                let signed_secret = self.secret();
                let signed = SignedPreKey::new(1, *signed_secret, &identity);
                let mut store = InMemoryPreKeyStore::new();
                store.add_signed_prekey(signed.clone());
                let mut one_time = BTreeMap::new();
                for id in 0..n as u32 {
                    let secret = self.secret();
                    store.add_one_time_prekey(OneTimePreKey::new(100 + id, *secret));
                    one_time.insert(100 + id, secret);
                }
                let party = Party {
                    identity,
                    signed,
                    signed_secret,
                    store,
                    one_time,
                    handed_out: HashSet::new(),
                };
                let h = self.handle("p");
                self.parties.insert(h.clone(), party);
                Reply::Ok(json!({ "party": h }))
            }
            "publish_bundle" => {
                let (Some(party), Some(with)) = (
                    text("party").and_then(|p| self.parties.get_mut(p)),
                    req.get("one_time_prekey").and_then(Value::as_bool),
                ) else {
                    return wire(op, "unknown party or missing flag");
                };
                let opk = if with {
                    let unused = party.unused();
                    let Some(&id) = unused
                        .iter()
                        .find(|id| !party.handed_out.contains(id))
                        .or(unused.first())
                    else {
                        return Reply::Unsupported("no unused one-time prekey left".into());
                    };
                    party.handed_out.insert(id);
                    Some(OneTimePreKey::new(id, *party.one_time[&id]))
                } else {
                    None
                };
                let bundle = PreKeyBundle::new(&party.identity, &party.signed, opk.as_ref());
                Reply::Ok(json!({
                    "bundle": hex::encode(&bundle.to_bytes()),
                    "one_time_prekey_id": opk.map(|k| k.id().to_string()),
                }))
            }
            "unused_prekeys" => match text("party").and_then(|p| self.parties.get(p)) {
                Some(party) => {
                    let mut ids: Vec<String> = party.unused().iter().map(u32::to_string).collect();
                    ids.sort();
                    Reply::Ok(json!({ "ids": ids }))
                }
                None => wire(op, "unknown party"),
            },
            "initiate" => {
                let (Some(p), Some(bundle), Some(plaintext)) =
                    (text("party"), bytes("bundle"), bytes("plaintext"))
                else {
                    return wire(op, "missing or bad fields");
                };
                let bundle = match PreKeyBundle::from_bytes(&bundle) {
                    Ok(b) => b,
                    Err(e) => return fail(&e, op),
                };
                let (Some(party), Some(rng)) = (self.parties.get(p), self.rng.as_mut()) else {
                    return wire(op, "unknown party");
                };
                let result = initiate_with_rng(&party.identity, &bundle, &plaintext, rng);
                match result {
                    Ok((session, message)) => {
                        let h = self.handle("s");
                        self.sessions.insert(h.clone(), session);
                        self.firsts.insert(message.clone());
                        Reply::Ok(json!({ "session": h, "message": hex::encode(&message) }))
                    }
                    Err(e) => fail(&e, op),
                }
            }
            "respond" => {
                let (Some(p), Some(message)) = (text("party"), bytes("message")) else {
                    return wire(op, "missing or bad fields");
                };
                let (Some(party), Some(rng)) = (self.parties.get_mut(p), self.rng.as_mut()) else {
                    return wire(op, "unknown party");
                };
                let result = respond_with_rng(&party.identity, &mut party.store, &message, rng);
                match result {
                    Ok((session, plaintext)) => {
                        let h = self.handle("s");
                        self.sessions.insert(h.clone(), session);
                        Reply::Ok(json!({ "session": h, "plaintext": hex::encode(&plaintext) }))
                    }
                    Err(e) => {
                        if self.plant == Plant::BurnPrekeyOnReject
                            && let Some(party) = self.parties.get_mut(p)
                            && let Some(&id) = party.unused().first()
                        {
                            party.store.remove_one_time_prekey(id);
                        }
                        fail(&e, op)
                    }
                }
            }
            "encrypt" => {
                let (Some(session), Some(plaintext)) = (
                    text("session").and_then(|s| self.sessions.get_mut(s)),
                    bytes("plaintext"),
                ) else {
                    return wire(op, "unknown session or bad plaintext");
                };
                if self.plant == Plant::LogPlaintext {
                    eprintln!("planted flaw: encrypting {}", hex::encode(&plaintext));
                }
                match session.encrypt(&plaintext) {
                    Ok(m) => Reply::Ok(json!({ "message": hex::encode(&m) })),
                    Err(e) => fail(&e, op),
                }
            }
            "decrypt" => {
                let Some(message) = bytes("message") else {
                    return wire(op, "bad message");
                };
                let result = match (
                    text("session").and_then(|s| self.sessions.get_mut(s)),
                    self.rng.as_mut(),
                ) {
                    (Some(session), Some(rng)) => Some(session.decrypt_with_rng(&message, rng)),
                    _ => None,
                };
                match result {
                    Some(Ok(p)) => {
                        if self.plant == Plant::ReplayCache {
                            self.cache.insert(message, p.clone());
                        }
                        Reply::Ok(json!({ "plaintext": hex::encode(&p) }))
                    }
                    Some(Err(e)) => {
                        if matches!(
                            self.plant,
                            Plant::IgnoreTrailingByte | Plant::ForgeOnTrailingByte
                        ) && message.len() > 1
                            && let (Some(session), Some(rng)) = (
                                text("session").and_then(|s| self.sessions.get_mut(s)),
                                self.rng.as_mut(),
                            )
                            && let Ok(p) =
                                session.decrypt_with_rng(&message[..message.len() - 1], rng)
                        {
                            let released = if self.plant == Plant::ForgeOnTrailingByte {
                                b"forged".to_vec()
                            } else {
                                p
                            };
                            return Reply::Ok(json!({ "plaintext": hex::encode(&released) }));
                        }
                        if self.plant == Plant::ReplayCache
                            && let Some(p) = self.cache.get(&message)
                        {
                            return Reply::Ok(json!({ "plaintext": hex::encode(p) }));
                        }
                        if self.plant == Plant::TouchOnReject
                            && let Some(session) =
                                text("session").and_then(|s| self.sessions.get_mut(s))
                        {
                            let _ = session.encrypt(b"planted");
                        }
                        if self.plant == Plant::DuplicateAsDecryptionFailed
                            && e.class() == sealwire::ErrorClass::Duplicate
                        {
                            return Reply::Error("decryption_failed");
                        }
                        fail(&e, op)
                    }
                    None => wire(op, "unknown session"),
                }
            }
            "export_state" => match text("session").and_then(|s| self.sessions.get(s)) {
                Some(session) => Reply::Ok(json!({ "state": hex::encode(&session.to_bytes()) })),
                None => wire(op, "unknown session"),
            },
            "import_state" => {
                let (Some(_), Some(state)) = (
                    text("party").and_then(|p| self.parties.get(p)),
                    bytes("state"),
                ) else {
                    return wire(op, "unknown party or bad state");
                };
                match Session::from_bytes(&state) {
                    Ok(session) => {
                        let h = self.handle("s");
                        self.sessions.insert(h.clone(), session);
                        Reply::Ok(json!({ "session": h }))
                    }
                    Err(e) => fail(&e, op),
                }
            }
            "free" => {
                let h = text("handle").unwrap_or_default();
                if self.sessions.remove(h).is_some() || self.parties.remove(h).is_some() {
                    Reply::Ok(json!({}))
                } else {
                    wire(op, "unknown handle")
                }
            }
            "skipped_count" => match text("session").and_then(|s| self.sessions.get(s)) {
                Some(session) => Reply::Ok(json!({ "count": session.skipped_keys_len() })),
                None => wire(op, "unknown session"),
            },
            "secrets" => {
                let h = text("handle").unwrap_or_default();
                let list: Vec<String> = if let Some(session) = self.sessions.get(h) {
                    testing::session_secrets(session)
                        .iter()
                        .map(|s| hex::encode(&s[..]))
                        .collect()
                } else if let Some(party) = self.parties.get(h) {
                    let mut list = vec![
                        hex::encode(&testing::identity_seed(&party.identity)),
                        hex::encode(&party.signed_secret[..]),
                    ];
                    list.extend(party.one_time.values().map(|s| hex::encode(&s[..])));
                    list
                } else {
                    return wire(op, "unknown handle");
                };
                Reply::Ok(json!({ "secrets": list }))
            }
            "layout" => {
                let Some(m) = bytes("message") else {
                    return wire(op, "bad message");
                };
                let first = self.firsts.contains(&m);
                let prefix = if first {
                    match m.get(INITIAL_PREFIX_LEN_WITHOUT_OPK - 1) {
                        Some(0) => INITIAL_PREFIX_LEN_WITHOUT_OPK,
                        Some(1) => INITIAL_PREFIX_LEN_WITHOUT_OPK + 4,
                        _ => return wire(op, "not a first message"),
                    }
                } else {
                    0
                };
                if m.len() < prefix + OVERHEAD {
                    return wire(op, "too short");
                }
                let mut fields = Vec::new();
                if first {
                    fields.push(field("version", 0, 1));
                    fields.push(field("identity_key", 1, 32));
                    fields.push(field("base_key", 33, 32));
                    fields.push(field("signed_prekey_id", 65, 4));
                    fields.push(field("one_time_prekey_flag", 69, 1));
                    if prefix > INITIAL_PREFIX_LEN_WITHOUT_OPK {
                        fields.push(field("one_time_prekey_id", 70, 4));
                    }
                }
                ratchet_fields(&mut fields, prefix, m.len());
                let counter = u32::from_be_bytes([
                    m[prefix + 37],
                    m[prefix + 38],
                    m[prefix + 39],
                    m[prefix + 40],
                ]);
                Reply::Ok(json!({
                    "kind": if first { "first" } else { "message" },
                    "ratchet_key": hex::encode(&m[prefix + 1..prefix + 33]),
                    "counter": counter,
                    "fields": fields,
                }))
            }
            _ => Reply::Unsupported(format!("unknown operation `{op}`")),
        }
    }
}

fn main() {
    let plant = match std::env::var("SEALWIRE_BLACKBOX_PLANT").as_deref() {
        Ok("replay-cache") => Plant::ReplayCache,
        Ok("log-plaintext") => Plant::LogPlaintext,
        Ok("touch-on-reject") => Plant::TouchOnReject,
        Ok("burn-prekey-on-reject") => Plant::BurnPrekeyOnReject,
        Ok("ignore-seed") => Plant::IgnoreSeed,
        Ok("ignore-trailing-byte") => Plant::IgnoreTrailingByte,
        Ok("forge-on-trailing-byte") => Plant::ForgeOnTrailingByte,
        Ok("duplicate-as-decryption-failed") => Plant::DuplicateAsDecryptionFailed,
        _ => Plant::None,
    };
    let mut adapter = Adapter {
        plant,
        cache: BTreeMap::new(),
        rng: None,
        parties: BTreeMap::new(),
        sessions: BTreeMap::new(),
        next_handle: 0,
        firsts: HashSet::new(),
    };
    let stdin = io::stdin();
    let mut stdout = io::stdout().lock();
    for line in stdin.lock().lines() {
        let Ok(line) = line else { break };
        let (id, reply) = match serde_json::from_str::<Value>(&line) {
            Ok(Value::Object(req)) => {
                let id = req.get("id").cloned().unwrap_or(Value::Null);
                let op = req
                    .get("op")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned();
                (id, adapter.dispatch(&op, &req))
            }
            _ => (Value::Null, wire("request", "not a JSON object")),
        };
        let response = match reply {
            Reply::Ok(ok) => json!({ "id": id, "ok": ok }),
            Reply::Error(class) => json!({ "id": id, "error": class }),
            Reply::Unsupported(why) => json!({ "id": id, "unsupported": why }),
        };
        if writeln!(stdout, "{response}")
            .and_then(|()| stdout.flush())
            .is_err()
        {
            break;
        }
    }
}
