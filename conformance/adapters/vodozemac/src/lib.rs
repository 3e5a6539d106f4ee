//! Sealwire black-box adapter (conformance/ADAPTER-v2.md) over vodozemac's
//! Olm: one JSON request per line in, one response per line out,
//! diagnostics on a log stream. See README.md for what is wrapped, the
//! declared limits and where they come from.
//!
//! [`serve`] is the whole adapter. The binary (`src/main.rs`) runs it on
//! stdin, stdout and stderr; the in-process fuzz target
//! (`fuzz/fuzz_targets/blackbox_vodozemac.rs`) runs it on pipes inside the
//! fuzzing process, so that libFuzzer's coverage sees vodozemac's code.

use std::collections::BTreeMap;
use std::io::{BufRead, Write};

use serde_json::{Map, Value, json};
use vodozemac::Curve25519PublicKey;
use vodozemac::olm::{Account, OlmMessage, Session, SessionConfig, SessionPickle};

const VODOZEMAC_VERSION: &str = "0.11.1";

fn hex(bytes: &[u8]) -> String {
    hex::encode(bytes)
}

/// Lower-case hex only (ADAPTER-v2.md §1): `hex::decode` alone also takes
/// upper case.
fn unhex(text: &str) -> Option<Vec<u8>> {
    if text.bytes().any(|c| c.is_ascii_uppercase()) {
        return None;
    }
    hex::decode(text).ok()
}

/// The opaque message: one byte of Olm message type (0 pre-key, 1 normal,
/// as Matrix's `type` field carries it), then vodozemac's bytes.
fn encode(message: &OlmMessage) -> Vec<u8> {
    let (kind, body) = message.to_parts();
    let mut out = vec![kind as u8];
    out.extend_from_slice(&body);
    out
}

fn decode(bytes: &[u8]) -> Option<OlmMessage> {
    let (&kind, body) = bytes.split_first()?;
    OlmMessage::from_parts(kind as usize, body).ok()
}

/// 32-byte values under these pickle members are private key material.
const SECRET_MEMBERS: [&str; 6] = [
    "secret_key",
    "root_key",
    "chain_key",
    "key",
    "ed25519_key",
    "diffie_hellman_key",
];

/// Collects every 32-byte array of numbers below a secret member name.
fn secrets_in(value: &Value, secret: bool, out: &mut Vec<String>) {
    match value {
        Value::Array(items) if secret && items.len() == 32 && items.iter().all(Value::is_u64) => {
            let bytes: Vec<u8> = items
                .iter()
                .filter_map(Value::as_u64)
                .map(|b| b as u8)
                .collect();
            out.push(hex(&bytes));
        }
        Value::Array(items) => items.iter().for_each(|v| secrets_in(v, secret, out)),
        Value::Object(map) => {
            for (k, v) in map {
                secrets_in(v, secret || SECRET_MEMBERS.contains(&k.as_str()), out);
            }
        }
        _ => {}
    }
}

struct Party {
    account: Account,
}

struct Adapter {
    parties: BTreeMap<String, Party>,
    sessions: BTreeMap<String, Session>,
    next: u64,
}

enum Reply {
    Ok(Value),
    /// Rejected, with the log line that says why (the library's error text;
    /// the runner scans the log for leaks).
    Rejected(String),
    Unsupported(String),
}

fn rejected(op: &str, why: impl std::fmt::Display) -> Reply {
    Reply::Rejected(format!("vodozemac-adapter: {op}: {why}"))
}

fn hello() -> Value {
    json!({
        "name": format!("vodozemac {VODOZEMAC_VERSION} (Olm)"),
        "protocol": 2,
        "library": {"name": "vodozemac", "version": VODOZEMAC_VERSION, "licence": "Apache-2.0", "family": "olm"},
        "errors": "coarse",
        "seedable": false,
        "limits": {
            "max_forward_jump": 2000,
            "skipped_keys": {"cap": 40, "scope": "chain"},
            "old_chains": 4,
            "max_plaintext": null,
        },
        "overhead": {"first": [150, 190], "message": [45, 80]},
        "capabilities": ["state", "secrets", "layout"],
    })
}

/// Reads a protobuf varint at `at`; returns (value, length).
fn varint(bytes: &[u8], at: usize) -> Option<(u64, usize)> {
    let mut value = 0u64;
    for i in 0..10 {
        let b = *bytes.get(at + i)?;
        value |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return Some((value, i + 1));
        }
    }
    None
}

/// The fields of an Olm message body (version byte, protobuf pairs, MAC)
/// starting at `at` and ending at `end`, `mac` bytes of MAC at its end
/// (0 for a pre-key message's outer layer).
fn olm_fields(
    bytes: &[u8],
    at: usize,
    end: usize,
    pre_key: bool,
    fields: &mut Vec<Value>,
) -> Option<()> {
    let field = |name: &str, offset: usize, length: usize, authenticated: bool| json!({"name": name, "offset": offset, "length": length, "authenticated": authenticated});
    // Olm v1 MACs (8 bytes, truncated) cover version and payload of the
    // inner message; a pre-key message's outer fields are bound only when
    // they create a session (3DH), not when an existing session decrypts.
    let (mac, authenticated) = if pre_key { (0, false) } else { (8, true) };
    fields.push(field("version", at, 1, authenticated));
    let mut i = at + 1;
    let body_end = end.checked_sub(mac)?;
    while i < body_end {
        let (tag, n) = varint(bytes, i)?;
        let name = match (pre_key, tag >> 3) {
            (false, 1) => "ratchet_key",
            (false, 2) => "counter",
            (false, 4) => "ciphertext",
            (true, 1) => "one_time_key",
            (true, 2) => "base_key",
            (true, 3) => "identity_key",
            (true, 4) => "message",
            _ => "unknown",
        };
        fields.push(field(&format!("{name}_tag"), i, n, authenticated));
        i += n;
        match tag & 7 {
            0 => {
                let (_, n) = varint(bytes, i)?;
                fields.push(field(name, i, n, authenticated));
                i += n;
            }
            2 => {
                let (len, n) = varint(bytes, i)?;
                fields.push(field(&format!("{name}_length"), i, n, authenticated));
                i += n;
                let len = len as usize;
                if name == "message" {
                    olm_fields(bytes, i, i + len, false, fields)?;
                } else {
                    fields.push(field(name, i, len, authenticated));
                }
                i += len;
            }
            _ => return None,
        }
    }
    if mac > 0 {
        fields.push(field("mac", body_end, mac, true));
    }
    Some(())
}

impl Adapter {
    fn handle(&mut self, prefix: &str) -> String {
        self.next += 1;
        format!("{prefix}{}", self.next)
    }

    fn dispatch(&mut self, op: &str, req: &Map<String, Value>) -> Reply {
        let text = |k: &str| req.get(k).and_then(Value::as_str);
        let bytes = |k: &str| text(k).and_then(unhex);
        match op {
            "hello" => {
                if req.get("protocol").and_then(Value::as_u64) != Some(2) {
                    return rejected(op, "only protocol 2");
                }
                // vodozemac draws from the operating system's generator
                // and takes no injected one: the seed is not used
                // (`seedable: false`).
                Reply::Ok(hello())
            }
            "create_party" => {
                let Some(n) = req
                    .get("one_time_prekeys")
                    .and_then(Value::as_u64)
                    .filter(|n| *n <= 100)
                else {
                    return rejected(op, "one_time_prekeys must be 0 ..= 100");
                };
                let mut account = Account::new();
                account.generate_one_time_keys(n as usize);
                // A fallback key serves bundles without a one-time key
                // (Matrix's fallback keys): Olm cannot start without one.
                account.generate_fallback_key();
                let h = self.handle("p");
                self.parties.insert(h.clone(), Party { account });
                Reply::Ok(json!({ "party": h }))
            }
            "publish_bundle" => {
                let (Some(party), Some(with)) = (
                    text("party").and_then(|p| self.parties.get(p)),
                    req.get("one_time_prekey").and_then(Value::as_bool),
                ) else {
                    return rejected(op, "unknown party or missing flag");
                };
                let key = if with {
                    // Keys are never marked published, so `one_time_keys`
                    // lists exactly those still stored (unused).
                    let mut keys: Vec<Curve25519PublicKey> =
                        party.account.one_time_keys().into_values().collect();
                    keys.sort_by_key(|k| *k.as_bytes());
                    match keys.first() {
                        Some(k) => *k,
                        None => return Reply::Unsupported("no unused one-time key left".into()),
                    }
                } else {
                    match party.account.fallback_key().into_values().next() {
                        Some(k) => k,
                        None => return Reply::Unsupported("no fallback key".into()),
                    }
                };
                let mut bundle = party.account.curve25519_key().as_bytes().to_vec();
                bundle.push(u8::from(with));
                bundle.extend_from_slice(key.as_bytes());
                Reply::Ok(json!({
                    "bundle": hex(&bundle),
                    "one_time_prekey_id": if with { Value::from(hex(key.as_bytes())) } else { Value::Null },
                }))
            }
            "unused_prekeys" => match text("party").and_then(|p| self.parties.get(p)) {
                Some(party) => {
                    let mut ids: Vec<String> = party
                        .account
                        .one_time_keys()
                        .values()
                        .map(|k| hex(k.as_bytes()))
                        .collect();
                    ids.sort();
                    Reply::Ok(json!({ "ids": ids }))
                }
                None => rejected(op, "unknown party"),
            },
            "initiate" => {
                let (Some(party), Some(bundle), Some(plaintext)) = (
                    text("party").and_then(|p| self.parties.get(p)),
                    bytes("bundle"),
                    bytes("plaintext"),
                ) else {
                    return rejected(op, "missing or bad fields");
                };
                if bundle.len() != 65 || bundle[32] > 1 {
                    return rejected(op, "bundle must be 65 bytes");
                }
                let (Ok(identity), Ok(key)) = (
                    Curve25519PublicKey::from_slice(&bundle[..32]),
                    Curve25519PublicKey::from_slice(&bundle[33..]),
                ) else {
                    return rejected(op, "bad key in bundle");
                };
                let mut session = match party.account.create_outbound_session(
                    SessionConfig::version_1(),
                    identity,
                    key,
                ) {
                    Ok(s) => s,
                    Err(e) => return rejected(op, e),
                };
                let message = match session.encrypt(&plaintext) {
                    Ok(m) => m,
                    Err(e) => return rejected(op, e),
                };
                let h = self.handle("s");
                self.sessions.insert(h.clone(), session);
                Reply::Ok(json!({ "session": h, "message": hex(&encode(&message)) }))
            }
            "respond" => {
                let (Some(p), Some(message)) = (text("party"), bytes("message")) else {
                    return rejected(op, "missing or bad fields");
                };
                let Some(party) = self.parties.get_mut(p) else {
                    return rejected(op, "unknown party");
                };
                let Some(OlmMessage::PreKey(pre_key)) = decode(&message) else {
                    return rejected(op, "not a pre-key message");
                };
                // Matrix takes the sender's identity key from the event
                // that carries the message; here it is the one the message
                // itself names.
                let identity = pre_key.identity_key();
                match party.account.create_inbound_session(
                    SessionConfig::version_1(),
                    identity,
                    &pre_key,
                ) {
                    Ok(result) => {
                        let h = self.handle("s");
                        self.sessions.insert(h.clone(), result.session);
                        Reply::Ok(json!({ "session": h, "plaintext": hex(&result.plaintext) }))
                    }
                    Err(e) => rejected(op, e),
                }
            }
            "encrypt" => {
                let (Some(session), Some(plaintext)) = (
                    text("session").and_then(|s| self.sessions.get_mut(s)),
                    bytes("plaintext"),
                ) else {
                    return rejected(op, "unknown session or bad plaintext");
                };
                match session.encrypt(&plaintext) {
                    Ok(m) => Reply::Ok(json!({ "message": hex(&encode(&m)) })),
                    Err(e) => rejected(op, e),
                }
            }
            "decrypt" => {
                let (Some(session), Some(message)) = (
                    text("session").and_then(|s| self.sessions.get_mut(s)),
                    bytes("message"),
                ) else {
                    return rejected(op, "unknown session or bad message");
                };
                let Some(message) = decode(&message) else {
                    return rejected(op, "not an Olm message");
                };
                match session.decrypt(&message) {
                    Ok(p) => Reply::Ok(json!({ "plaintext": hex(&p) })),
                    Err(e) => rejected(op, e),
                }
            }
            "export_state" => match text("session").and_then(|s| self.sessions.get(s)) {
                // The unencrypted pickle, as JSON: deterministic (an
                // encrypted pickle would be too, but adds nothing here).
                Some(session) => match serde_json::to_vec(&session.pickle()) {
                    Ok(state) => Reply::Ok(json!({ "state": hex(&state) })),
                    Err(e) => rejected(op, e),
                },
                None => rejected(op, "unknown session"),
            },
            "import_state" => {
                let (Some(_), Some(state)) = (
                    text("party").and_then(|p| self.parties.get(p)),
                    bytes("state"),
                ) else {
                    return rejected(op, "unknown party or bad state");
                };
                match serde_json::from_slice::<SessionPickle>(&state) {
                    Ok(pickle) => {
                        let h = self.handle("s");
                        self.sessions
                            .insert(h.clone(), Session::from_pickle(pickle));
                        Reply::Ok(json!({ "session": h }))
                    }
                    Err(e) => rejected(op, e),
                }
            }
            "free" => {
                let h = text("handle").unwrap_or_default();
                if self.sessions.remove(h).is_some() || self.parties.remove(h).is_some() {
                    Reply::Ok(json!({}))
                } else {
                    rejected(op, "unknown handle")
                }
            }
            "secrets" => {
                let h = text("handle").unwrap_or_default();
                let pickle = if let Some(s) = self.sessions.get(h) {
                    serde_json::to_value(s.pickle())
                } else if let Some(p) = self.parties.get(h) {
                    serde_json::to_value(p.account.pickle())
                } else {
                    return rejected(op, "unknown handle");
                };
                let mut list = Vec::new();
                match pickle {
                    Ok(v) => secrets_in(&v, false, &mut list),
                    Err(e) => return rejected(op, e),
                }
                Reply::Ok(json!({ "secrets": list }))
            }
            "layout" => {
                let Some(bytes) = bytes("message") else {
                    return rejected(op, "bad message");
                };
                let Some(message) = decode(&bytes) else {
                    return rejected(op, "not an Olm message");
                };
                let (first, inner) = match &message {
                    OlmMessage::PreKey(m) => (true, m.message().clone()),
                    OlmMessage::Normal(m) => (false, m.clone()),
                };
                let mut fields = vec![
                    json!({"name": "message_type", "offset": 0, "length": 1, "authenticated": false}),
                ];
                if olm_fields(&bytes, 1, bytes.len(), first, &mut fields).is_none() {
                    return rejected(op, "cannot lay out");
                }
                Reply::Ok(json!({
                    "kind": if first { "first" } else { "message" },
                    "ratchet_key": hex(inner.ratchet_key().as_bytes()),
                    "counter": inner.chain_index(),
                    "fields": fields,
                }))
            }
            _ => Reply::Unsupported(format!("unknown operation `{op}`")),
        }
    }
}

/// Serves adapter protocol 2 until `input` ends: one request per line in,
/// one response per line on `output`, the reason of every rejection on
/// `log`. Returns when `input` ends or `output` is closed.
pub fn serve(input: impl BufRead, mut output: impl Write, mut log: impl Write) {
    let mut adapter = Adapter {
        parties: BTreeMap::new(),
        sessions: BTreeMap::new(),
        next: 0,
    };
    for line in input.lines() {
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
            _ => (Value::Null, rejected("request", "not a JSON object")),
        };
        let response = match reply {
            Reply::Ok(ok) => json!({ "id": id, "ok": ok }),
            Reply::Rejected(why) => {
                let _ = writeln!(log, "{why}").and_then(|()| log.flush());
                json!({ "id": id, "error": "rejected" })
            }
            Reply::Unsupported(why) => json!({ "id": id, "unsupported": why }),
        };
        if writeln!(output, "{response}")
            .and_then(|()| output.flush())
            .is_err()
        {
            break;
        }
    }
}
