//! The client of adapter protocol v2 (ADAPTER-v2.md): the hello, checked
//! member by member into a typed [`Hello`], and one typed method per
//! operation. Every response line is kept in [`Client::transcript`] for the
//! leak scan.

use std::collections::BTreeSet;
use std::fmt;
use std::time::Duration;

use serde_json::{Map, Value, json};

use crate::hex;
use crate::transport::{Outcome, Transport, TransportError};

/// How fine the adapter's error classes are (§2 `errors`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Granularity {
    /// The classes of ADAPTER.md §3, exactly.
    Fine,
    /// `rejected`, and `duplicate` where the library reports a replay.
    Coarse,
}

/// The protocol family (§2 `library.family`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    /// Signal's X3DH/PQXDH and Double Ratchet.
    Signal,
    /// Olm (Matrix).
    Olm,
    /// OMEMO (XMPP).
    Omemo,
    /// Sealwire v1.
    Sealwire,
    /// Anything else.
    Other,
}

/// What is under test (§2 `library`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Library {
    /// Its name.
    pub name: String,
    /// Its version.
    pub version: String,
    /// Its licence.
    pub licence: String,
    /// Its family.
    pub family: Family,
}

/// Where one skipped-key store applies (§2 `limits.skipped_keys.scope`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// One store per session.
    Session,
    /// One store per receiving chain.
    Chain,
    /// One store per party.
    Party,
}

/// The skipped-key store (§2 `limits.skipped_keys`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SkippedKeys {
    /// No skipped keys: a message after a later one of its chain is rejected.
    None,
    /// A store of at most `cap` keys (`None`: no cap) per `scope`.
    Store {
        /// The cap.
        cap: Option<u64>,
        /// Its scope.
        scope: Scope,
    },
}

/// The declared limits (§2 `limits`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// The largest forward jump in one step (`None`: no limit).
    pub max_forward_jump: Option<u64>,
    /// The skipped-key store.
    pub skipped_keys: SkippedKeys,
    /// How many earlier receiving chains still decrypt late messages.
    pub old_chains: Option<u64>,
    /// The largest plaintext, in bytes.
    pub max_plaintext: Option<u64>,
}

/// An optional capability (§4.3; `state` announces export and import).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Capability {
    /// `export_state` and `import_state`.
    State,
    /// `skipped_count`.
    SkippedCount,
    /// `secrets`.
    Secrets,
    /// `layout`.
    Layout,
}

impl Capability {
    /// Every optional capability, in the order of ADAPTER-v2.md §4.3.
    pub const ALL: [Self; 4] = [Self::State, Self::SkippedCount, Self::Secrets, Self::Layout];

    /// Its name in the hello.
    pub const fn name(self) -> &'static str {
        match self {
            Self::State => "state",
            Self::SkippedCount => "skipped_count",
            Self::Secrets => "secrets",
            Self::Layout => "layout",
        }
    }

    /// The capability of a hello name, or `None`.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.name() == name)
    }
}

/// A checked version-2 hello.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hello {
    /// Shown in reports.
    pub name: String,
    /// What is under test.
    pub library: Library,
    /// Error granularity.
    pub errors: Granularity,
    /// Whether every random value comes from the hello's seed.
    pub seedable: bool,
    /// Declared limits.
    pub limits: Limits,
    /// `[min, max]` of `len(message) − len(plaintext)` for first messages.
    pub overhead_first: (u64, u64),
    /// The same for every other message.
    pub overhead_message: (u64, u64),
    /// Announced capabilities.
    pub capabilities: BTreeSet<Capability>,
}

impl Hello {
    /// True when `capability` was announced.
    pub fn has(&self, capability: Capability) -> bool {
        self.capabilities.contains(&capability)
    }
}

/// Why the hello failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HelloError {
    /// The adapter answered `error: wire`, or a hello of protocol version
    /// 1: it speaks version 1 only.
    Version1,
    /// It answered another error or `unsupported`.
    Refused(String),
    /// A member is missing.
    Missing(String),
    /// A member has the wrong type or an out-of-range value.
    Invalid {
        /// The member (dotted path).
        member: String,
        /// What was wrong.
        why: String,
    },
    /// A member, or a capability, the protocol does not define.
    Unknown(String),
    /// The transport failed.
    Transport(TransportError),
}

impl fmt::Display for HelloError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Version1 => write!(
                f,
                "the adapter speaks protocol version 1 only (the byte-exact mode: `sealwire-conformance props --impl`)"
            ),
            Self::Refused(why) => write!(f, "the adapter refused the hello: {why}"),
            Self::Missing(m) => write!(f, "bad hello: member `{m}` missing"),
            Self::Invalid { member, why } => write!(f, "bad hello: `{member}` {why}"),
            Self::Unknown(m) => write!(f, "bad hello: unknown {m}"),
            Self::Transport(e) => write!(f, "hello: {e}"),
        }
    }
}

impl std::error::Error for HelloError {}

/// Parses and checks the `ok` object of a hello (ADAPTER-v2.md §2).
pub fn parse_hello(ok: &Map<String, Value>) -> Result<Hello, HelloError> {
    const MEMBERS: [&str; 8] = [
        "name",
        "protocol",
        "library",
        "errors",
        "seedable",
        "limits",
        "overhead",
        "capabilities",
    ];
    for key in ok.keys() {
        if !MEMBERS.contains(&key.as_str()) {
            return Err(HelloError::Unknown(format!("member `{key}`")));
        }
    }
    let name = string(ok, "name", "name")?;
    if name.is_empty() {
        return Err(invalid("name", "is empty"));
    }
    match get(ok, "protocol", "protocol")?.as_u64() {
        Some(2) => {}
        // A version-1 adapter that answers a hello of another version
        // with its own rather than `wire`.
        Some(1) => return Err(HelloError::Version1),
        _ => return Err(invalid("protocol", "must be 2")),
    }
    let library = object(ok, "library", "library")?;
    only(
        library,
        "library",
        &["name", "version", "licence", "family"],
    )?;
    let family = match string(library, "family", "library.family")?.as_str() {
        "signal" => Family::Signal,
        "olm" => Family::Olm,
        "omemo" => Family::Omemo,
        "sealwire" => Family::Sealwire,
        "other" => Family::Other,
        _ => {
            return Err(invalid(
                "library.family",
                "must be signal, olm, omemo, sealwire or other",
            ));
        }
    };
    let library = Library {
        name: string(library, "name", "library.name")?,
        version: string(library, "version", "library.version")?,
        licence: string(library, "licence", "library.licence")?,
        family,
    };
    let errors = match string(ok, "errors", "errors")?.as_str() {
        "fine" => Granularity::Fine,
        "coarse" => Granularity::Coarse,
        _ => return Err(invalid("errors", "must be \"fine\" or \"coarse\"")),
    };
    let seedable = get(ok, "seedable", "seedable")?
        .as_bool()
        .ok_or_else(|| invalid("seedable", "must be a boolean"))?;
    let limits = object(ok, "limits", "limits")?;
    only(
        limits,
        "limits",
        &[
            "max_forward_jump",
            "skipped_keys",
            "old_chains",
            "max_plaintext",
        ],
    )?;
    let skipped_keys = match get(limits, "skipped_keys", "limits.skipped_keys")? {
        Value::String(s) if s == "none" => SkippedKeys::None,
        Value::Object(store) => {
            only(store, "limits.skipped_keys", &["cap", "scope"])?;
            let scope = match string(store, "scope", "limits.skipped_keys.scope")?.as_str() {
                "session" => Scope::Session,
                "chain" => Scope::Chain,
                "party" => Scope::Party,
                _ => {
                    return Err(invalid(
                        "limits.skipped_keys.scope",
                        "must be session, chain or party",
                    ));
                }
            };
            SkippedKeys::Store {
                cap: count_or_null(store, "cap", "limits.skipped_keys.cap")?,
                scope,
            }
        }
        _ => {
            return Err(invalid(
                "limits.skipped_keys",
                "must be an object or \"none\"",
            ));
        }
    };
    let limits = Limits {
        max_forward_jump: count_or_null(limits, "max_forward_jump", "limits.max_forward_jump")?,
        skipped_keys,
        old_chains: count_or_null(limits, "old_chains", "limits.old_chains")?,
        max_plaintext: count_or_null(limits, "max_plaintext", "limits.max_plaintext")?,
    };
    let overhead = object(ok, "overhead", "overhead")?;
    only(overhead, "overhead", &["first", "message"])?;
    let range = |member: &str| -> Result<(u64, u64), HelloError> {
        let path = format!("overhead.{member}");
        let value = get(overhead, member, &path)?;
        match value.as_array().map(Vec::as_slice) {
            Some([lo, hi]) => match (lo.as_u64(), hi.as_u64()) {
                (Some(lo), Some(hi)) if lo <= hi => Ok((lo, hi)),
                _ => Err(invalid(&path, "must be [min, max] with 0 <= min <= max")),
            },
            _ => Err(invalid(&path, "must be an array [min, max]")),
        }
    };
    let overhead_first = range("first")?;
    let overhead_message = range("message")?;
    let mut capabilities = BTreeSet::new();
    let Value::Array(names) = get(ok, "capabilities", "capabilities")? else {
        return Err(invalid("capabilities", "must be an array"));
    };
    for entry in names {
        let name = entry
            .as_str()
            .ok_or_else(|| invalid("capabilities", "must hold strings"))?;
        let capability = Capability::from_name(name)
            .ok_or_else(|| HelloError::Unknown(format!("capability `{name}`")))?;
        if !capabilities.insert(capability) {
            return Err(invalid("capabilities", &format!("names `{name}` twice")));
        }
    }
    Ok(Hello {
        name,
        library,
        errors,
        seedable,
        limits,
        overhead_first,
        overhead_message,
        capabilities,
    })
}

fn invalid(member: &str, why: &str) -> HelloError {
    HelloError::Invalid {
        member: member.to_owned(),
        why: why.to_owned(),
    }
}

fn get<'a>(map: &'a Map<String, Value>, key: &str, path: &str) -> Result<&'a Value, HelloError> {
    map.get(key)
        .ok_or_else(|| HelloError::Missing(path.to_owned()))
}

fn string(map: &Map<String, Value>, key: &str, path: &str) -> Result<String, HelloError> {
    get(map, key, path)?
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| invalid(path, "must be a string"))
}

fn object<'a>(
    map: &'a Map<String, Value>,
    key: &str,
    path: &str,
) -> Result<&'a Map<String, Value>, HelloError> {
    get(map, key, path)?
        .as_object()
        .ok_or_else(|| invalid(path, "must be an object"))
}

fn count_or_null(
    map: &Map<String, Value>,
    key: &str,
    path: &str,
) -> Result<Option<u64>, HelloError> {
    match get(map, key, path)? {
        Value::Null => Ok(None),
        v => v
            .as_u64()
            .map(Some)
            .ok_or_else(|| invalid(path, "must be a non-negative integer or null")),
    }
}

fn only(map: &Map<String, Value>, path: &str, allowed: &[&str]) -> Result<(), HelloError> {
    for key in map.keys() {
        if !allowed.contains(&key.as_str()) {
            return Err(HelloError::Unknown(format!("member `{path}.{key}`")));
        }
    }
    for key in allowed {
        if !map.contains_key(*key) {
            return Err(HelloError::Missing(format!("{path}.{key}")));
        }
    }
    Ok(())
}

/// An error class an adapter answered (ADAPTER-v2.md §3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ErrorClass {
    /// `wire`.
    Wire,
    /// `handshake`.
    Handshake,
    /// `low_order_key`.
    LowOrderKey,
    /// `ratchet_limit`.
    RatchetLimit,
    /// `duplicate`.
    Duplicate,
    /// `decryption_failed`.
    DecryptionFailed,
    /// `state`.
    State,
    /// `rejected` (coarse adapters only).
    Rejected,
}

impl ErrorClass {
    /// Its name on the wire.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Wire => "wire",
            Self::Handshake => "handshake",
            Self::LowOrderKey => "low_order_key",
            Self::RatchetLimit => "ratchet_limit",
            Self::Duplicate => "duplicate",
            Self::DecryptionFailed => "decryption_failed",
            Self::State => "state",
            Self::Rejected => "rejected",
        }
    }

    /// The class named `name` if an adapter of granularity `g` may answer it.
    pub fn parse(name: &str, g: Granularity) -> Option<Self> {
        let class = [
            Self::Wire,
            Self::Handshake,
            Self::LowOrderKey,
            Self::RatchetLimit,
            Self::Duplicate,
            Self::DecryptionFailed,
            Self::State,
            Self::Rejected,
        ]
        .into_iter()
        .find(|c| c.name() == name)?;
        let allowed = match g {
            Granularity::Fine => class != Self::Rejected,
            Granularity::Coarse => matches!(class, Self::Rejected | Self::Duplicate),
        };
        allowed.then_some(class)
    }
}

/// Why an operation did not succeed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OpError {
    /// The implementation rejected the input with this class.
    Rejected(ErrorClass),
    /// The adapter cannot do this; why.
    Unsupported(String),
    /// The answer breaks the protocol (a class outside the adapter's
    /// granularity, a missing or malformed output).
    Interface(String),
    /// The adapter crashed, hung or wrote garbage.
    Transport(TransportError),
}

impl fmt::Display for OpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Rejected(c) => write!(f, "rejected ({})", c.name()),
            Self::Unsupported(why) => write!(f, "unsupported: {why}"),
            Self::Interface(why) => write!(f, "protocol violation: {why}"),
            Self::Transport(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for OpError {}

impl OpError {
    /// True for a rejection (any class).
    pub const fn is_rejection(&self) -> bool {
        matches!(self, Self::Rejected(_))
    }
}

/// What the leak scan may look for in a response.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scan {
    /// Secrets and plaintexts.
    Everything,
    /// Plaintexts only (exported states hold secrets by definition).
    PlaintextsOnly,
    /// Nothing (the `secrets` answer).
    Nothing,
}

/// One response line, for the leak scan.
#[derive(Clone, Debug)]
pub struct Exchange {
    /// The operation.
    pub op: &'static str,
    /// The response line; a returned plaintext is removed from it (it is
    /// legitimately there, and the model checks it is the right one).
    pub line: String,
    /// What may be searched for in it.
    pub scan: Scan,
}

/// A bundle (§4.1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bundle {
    /// The adapter's encoding.
    pub bytes: Vec<u8>,
    /// The one-time prekey it names.
    pub one_time_prekey: Option<String>,
}

/// One field of a message layout (§4.3).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Field {
    /// Its name.
    pub name: String,
    /// Byte offset.
    pub offset: usize,
    /// Length in bytes.
    pub length: usize,
    /// Whether the library authenticates it.
    pub authenticated: bool,
}

/// A message layout (§4.3).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Layout {
    /// A first message.
    pub first: bool,
    /// The sender's current ratchet public key.
    pub ratchet_key: Vec<u8>,
    /// The message counter, if the format has one.
    pub counter: Option<u64>,
    /// The fields.
    pub fields: Vec<Field>,
}

/// A connected, hello-checked version-2 adapter.
#[derive(Debug)]
pub struct Client {
    transport: Transport,
    /// The checked hello.
    pub hello: Hello,
    timeout: Duration,
    /// Every response so far (the leak scan reads them).
    pub transcript: Vec<Exchange>,
}

/// The default per-request timeout (§1).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
const HELLO_TIMEOUT: Duration = Duration::from_secs(30);

impl Client {
    /// Starts `command` and exchanges the hello with `seed`.
    pub fn connect(command: &str, seed: [u8; 32], timeout: Duration) -> Result<Self, HelloError> {
        let mut transport = Transport::spawn(command).map_err(HelloError::Transport)?;
        let mut fields = Map::new();
        fields.insert("protocol".into(), json!(2));
        fields.insert("seed".into(), json!(hex::encode(&seed)));
        let response = transport
            .call("hello", fields, HELLO_TIMEOUT)
            .map_err(HelloError::Transport)?;
        let hello = match response.outcome {
            Outcome::Ok(ok) => parse_hello(&ok)?,
            Outcome::Error(class) if class == "wire" => return Err(HelloError::Version1),
            Outcome::Error(class) => return Err(HelloError::Refused(format!("error {class}"))),
            Outcome::Unsupported(why) => return Err(HelloError::Refused(why)),
        };
        Ok(Self {
            transport,
            hello,
            timeout,
            transcript: vec![Exchange {
                op: "hello",
                line: response.line,
                scan: Scan::Everything,
            }],
        })
    }

    /// The command the adapter runs.
    pub fn command(&self) -> &str {
        self.transport.command()
    }

    /// Requests answered so far.
    pub const fn calls(&self) -> u64 {
        self.transport.calls()
    }

    /// Takes the stderr kept so far, leaving it empty (see
    /// [`Transport::take_stderr`]).
    pub fn take_stderr(&self) -> (Vec<u8>, usize) {
        self.transport.take_stderr()
    }

    /// The last stderr lines, for failure reports.
    pub fn stderr_tail(&self) -> String {
        self.transport.stderr_tail(20)
    }

    /// Closes the adapter; returns its whole stderr and the bytes dropped
    /// beyond the stored limit.
    pub fn finish(self) -> (Vec<Exchange>, Vec<u8>, usize) {
        let transcript = self.transcript;
        let (stderr, dropped) = self.transport.finish();
        (transcript, stderr, dropped)
    }

    fn call(
        &mut self,
        op: &'static str,
        fields: Value,
        scan: Scan,
        returned_plaintext: bool,
    ) -> Result<Map<String, Value>, OpError> {
        let Value::Object(fields) = fields else {
            return Err(OpError::Interface("internal: fields not an object".into()));
        };
        let response = self
            .transport
            .call(op, fields, self.timeout)
            .map_err(OpError::Transport)?;
        let mut line = response.line;
        let result = match response.outcome {
            Outcome::Ok(ok) => {
                if returned_plaintext && ok.contains_key("plaintext") {
                    let mut stripped = ok.clone();
                    stripped.insert("plaintext".into(), Value::from("<returned plaintext>"));
                    line = Value::Object(stripped).to_string();
                }
                Ok(ok)
            }
            Outcome::Error(class) => match ErrorClass::parse(&class, self.hello.errors) {
                Some(c) => Err(OpError::Rejected(c)),
                None => Err(OpError::Interface(format!(
                    "error class `{class}` is not one a {} adapter may answer to `{op}`",
                    match self.hello.errors {
                        Granularity::Fine => "fine",
                        Granularity::Coarse => "coarse",
                    }
                ))),
            },
            Outcome::Unsupported(why) => Err(OpError::Unsupported(why)),
        };
        self.transcript.push(Exchange { op, line, scan });
        result
    }

    /// `create_party`.
    pub fn create_party(&mut self, one_time_prekeys: u32) -> Result<String, OpError> {
        let ok = self.call(
            "create_party",
            json!({ "one_time_prekeys": one_time_prekeys }),
            Scan::Everything,
            false,
        )?;
        out_string(&ok, "party")
    }

    /// `publish_bundle`.
    pub fn publish_bundle(
        &mut self,
        party: &str,
        one_time_prekey: bool,
    ) -> Result<Bundle, OpError> {
        let ok = self.call(
            "publish_bundle",
            json!({ "party": party, "one_time_prekey": one_time_prekey }),
            Scan::Everything,
            false,
        )?;
        let id = match ok.get("one_time_prekey_id") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(_) => {
                return Err(OpError::Interface(
                    "`one_time_prekey_id` not a string".into(),
                ));
            }
        };
        if one_time_prekey && id.is_none() {
            return Err(OpError::Interface(
                "a bundle with a one-time prekey must name its id".into(),
            ));
        }
        Ok(Bundle {
            bytes: out_hex(&ok, "bundle")?,
            one_time_prekey: id,
        })
    }

    /// `unused_prekeys`, sorted.
    pub fn unused_prekeys(&mut self, party: &str) -> Result<Vec<String>, OpError> {
        let ok = self.call(
            "unused_prekeys",
            json!({ "party": party }),
            Scan::Everything,
            false,
        )?;
        let Some(Value::Array(ids)) = ok.get("ids") else {
            return Err(OpError::Interface("`ids` missing or not an array".into()));
        };
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            out.push(
                id.as_str()
                    .ok_or_else(|| OpError::Interface("`ids` must hold strings".into()))?
                    .to_owned(),
            );
        }
        out.sort();
        Ok(out)
    }

    /// `initiate`: the session and the first message.
    pub fn initiate(
        &mut self,
        party: &str,
        bundle: &[u8],
        plaintext: &[u8],
    ) -> Result<(String, Vec<u8>), OpError> {
        let ok = self.call(
            "initiate",
            json!({ "party": party, "bundle": hex::encode(bundle), "plaintext": hex::encode(plaintext) }),
            Scan::Everything,
            false,
        )?;
        Ok((out_string(&ok, "session")?, out_hex(&ok, "message")?))
    }

    /// `respond`: the session and the plaintext.
    pub fn respond(&mut self, party: &str, message: &[u8]) -> Result<(String, Vec<u8>), OpError> {
        let ok = self.call(
            "respond",
            json!({ "party": party, "message": hex::encode(message) }),
            Scan::Everything,
            true,
        )?;
        Ok((out_string(&ok, "session")?, out_hex(&ok, "plaintext")?))
    }

    /// `encrypt`.
    pub fn encrypt(&mut self, session: &str, plaintext: &[u8]) -> Result<Vec<u8>, OpError> {
        let ok = self.call(
            "encrypt",
            json!({ "session": session, "plaintext": hex::encode(plaintext) }),
            Scan::Everything,
            false,
        )?;
        out_hex(&ok, "message")
    }

    /// `decrypt`.
    pub fn decrypt(&mut self, session: &str, message: &[u8]) -> Result<Vec<u8>, OpError> {
        let ok = self.call(
            "decrypt",
            json!({ "session": session, "message": hex::encode(message) }),
            Scan::Everything,
            true,
        )?;
        out_hex(&ok, "plaintext")
    }

    /// `export_state`.
    pub fn export_state(&mut self, session: &str) -> Result<Vec<u8>, OpError> {
        let ok = self.call(
            "export_state",
            json!({ "session": session }),
            Scan::PlaintextsOnly,
            false,
        )?;
        out_hex(&ok, "state")
    }

    /// `import_state`.
    pub fn import_state(&mut self, party: &str, state: &[u8]) -> Result<String, OpError> {
        let ok = self.call(
            "import_state",
            json!({ "party": party, "state": hex::encode(state) }),
            Scan::Everything,
            false,
        )?;
        out_string(&ok, "session")
    }

    /// `free`.
    pub fn free(&mut self, handle: &str) -> Result<(), OpError> {
        self.call("free", json!({ "handle": handle }), Scan::Everything, false)
            .map(drop)
    }

    /// `skipped_count`.
    pub fn skipped_count(&mut self, session: &str) -> Result<u64, OpError> {
        let ok = self.call(
            "skipped_count",
            json!({ "session": session }),
            Scan::Everything,
            false,
        )?;
        ok.get("count")
            .and_then(Value::as_u64)
            .ok_or_else(|| OpError::Interface("`count` missing or not a count".into()))
    }

    /// `secrets`.
    pub fn secrets(&mut self, handle: &str) -> Result<Vec<Vec<u8>>, OpError> {
        let ok = self.call("secrets", json!({ "handle": handle }), Scan::Nothing, false)?;
        let Some(Value::Array(items)) = ok.get("secrets") else {
            return Err(OpError::Interface(
                "`secrets` missing or not an array".into(),
            ));
        };
        items
            .iter()
            .map(|v| {
                v.as_str()
                    .and_then(hex::decode)
                    .ok_or_else(|| OpError::Interface("`secrets` must hold lowercase hex".into()))
            })
            .collect()
    }

    /// `layout` of a message this adapter produced.
    pub fn layout(&mut self, message: &[u8]) -> Result<Layout, OpError> {
        let ok = self.call(
            "layout",
            json!({ "message": hex::encode(message) }),
            Scan::Everything,
            false,
        )?;
        let first = match ok.get("kind").and_then(Value::as_str) {
            Some("first") => true,
            Some("message") => false,
            _ => {
                return Err(OpError::Interface(
                    "`kind` must be \"first\" or \"message\"".into(),
                ));
            }
        };
        let counter = match ok.get("counter") {
            None | Some(Value::Null) => None,
            Some(v) => Some(
                v.as_u64()
                    .ok_or_else(|| OpError::Interface("`counter` not a count".into()))?,
            ),
        };
        let Some(Value::Array(items)) = ok.get("fields") else {
            return Err(OpError::Interface("`fields` missing".into()));
        };
        let mut fields = Vec::new();
        for item in items {
            let bad = || OpError::Interface(format!("bad layout field {item}"));
            let name = item.get("name").and_then(Value::as_str).ok_or_else(bad)?;
            let offset = item.get("offset").and_then(Value::as_u64).ok_or_else(bad)?;
            let length = item.get("length").and_then(Value::as_u64).ok_or_else(bad)?;
            let authenticated = item
                .get("authenticated")
                .and_then(Value::as_bool)
                .ok_or_else(bad)?;
            let (offset, length) = (offset as usize, length as usize);
            if offset
                .checked_add(length)
                .is_none_or(|end| end > message.len())
            {
                return Err(OpError::Interface(format!(
                    "layout field `{name}` ends past the message"
                )));
            }
            fields.push(Field {
                name: name.to_owned(),
                offset,
                length,
                authenticated,
            });
        }
        Ok(Layout {
            first,
            ratchet_key: out_hex(&ok, "ratchet_key")?,
            counter,
            fields,
        })
    }
}

fn out_string(ok: &Map<String, Value>, key: &str) -> Result<String, OpError> {
    ok.get(key)
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| OpError::Interface(format!("`{key}` missing or not a string")))
}

fn out_hex(ok: &Map<String, Value>, key: &str) -> Result<Vec<u8>, OpError> {
    ok.get(key)
        .and_then(Value::as_str)
        .and_then(hex::decode)
        .ok_or_else(|| OpError::Interface(format!("`{key}` missing or not lowercase hex")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn good() -> Value {
        json!({
            "name":"x","protocol":2,
            "library":{"name":"l","version":"1","licence":"MIT","family":"olm"},
            "errors":"coarse","seedable":false,
            "limits":{"max_forward_jump":2000,"skipped_keys":{"cap":40,"scope":"chain"},"old_chains":4,"max_plaintext":null},
            "overhead":{"first":[1,2],"message":[3,4]},
            "capabilities":["state","layout"]
        })
    }

    fn parse(v: &Value) -> Result<Hello, HelloError> {
        parse_hello(v.as_object().expect("object"))
    }

    #[test]
    fn a_good_hello_parses_into_its_typed_form() {
        let hello = parse(&good()).expect("good");
        assert_eq!(hello.library.family, Family::Olm);
        assert_eq!(hello.errors, Granularity::Coarse);
        assert_eq!(
            hello.limits.skipped_keys,
            SkippedKeys::Store {
                cap: Some(40),
                scope: Scope::Chain
            }
        );
        assert_eq!(hello.overhead_message, (3, 4));
        assert!(hello.has(Capability::Layout) && !hello.has(Capability::Secrets));
    }

    #[test]
    fn every_member_is_checked() {
        // Each edit breaks one member; each must give its own typed error.
        type Edit = Box<dyn Fn(&mut Value)>;
        let edits: Vec<(&str, Edit)> = vec![
            ("name", Box::new(|v| v["name"] = json!(""))),
            (
                "name",
                Box::new(|v| drop(v.as_object_mut().map(|o| o.remove("name")))),
            ),
            ("protocol", Box::new(|v| v["protocol"] = json!(3))),
            (
                "library.family",
                Box::new(|v| v["library"]["family"] = json!("tls")),
            ),
            (
                "library.licence",
                Box::new(|v| drop(v["library"].as_object_mut().map(|o| o.remove("licence")))),
            ),
            (
                "library.extra",
                Box::new(|v| v["library"]["extra"] = json!(1)),
            ),
            ("errors", Box::new(|v| v["errors"] = json!("medium"))),
            ("seedable", Box::new(|v| v["seedable"] = json!("yes"))),
            (
                "limits.max_forward_jump",
                Box::new(|v| v["limits"]["max_forward_jump"] = json!(-1)),
            ),
            (
                "limits.skipped_keys",
                Box::new(|v| v["limits"]["skipped_keys"] = json!("some")),
            ),
            (
                "limits.skipped_keys.scope",
                Box::new(|v| v["limits"]["skipped_keys"]["scope"] = json!("world")),
            ),
            (
                "limits.skipped_keys.cap",
                Box::new(|v| v["limits"]["skipped_keys"]["cap"] = json!("40")),
            ),
            (
                "limits.old_chains",
                Box::new(|v| v["limits"]["old_chains"] = json!(1.5)),
            ),
            (
                "limits.max_plaintext",
                Box::new(|v| {
                    drop(
                        v["limits"]
                            .as_object_mut()
                            .map(|o| o.remove("max_plaintext")),
                    )
                }),
            ),
            (
                "overhead.first",
                Box::new(|v| v["overhead"]["first"] = json!([5, 1])),
            ),
            (
                "overhead.message",
                Box::new(|v| v["overhead"]["message"] = json!([5])),
            ),
            (
                "telepathy",
                Box::new(|v| v["capabilities"] = json!(["telepathy"])),
            ),
            (
                "capabilities",
                Box::new(|v| v["capabilities"] = json!(["state", "state"])),
            ),
            ("member", Box::new(|v| v["colour"] = json!("blue"))),
        ];
        for (member, edit) in edits {
            let mut v = good();
            edit(&mut v);
            let err = parse(&v).expect_err(member);
            assert!(
                err.to_string()
                    .contains(member.split('.').next_back().unwrap_or(member)),
                "{member}: {err}"
            );
        }
    }

    #[test]
    fn error_classes_follow_the_granularity() {
        assert_eq!(
            ErrorClass::parse("rejected", Granularity::Coarse),
            Some(ErrorClass::Rejected)
        );
        assert_eq!(
            ErrorClass::parse("duplicate", Granularity::Coarse),
            Some(ErrorClass::Duplicate)
        );
        assert_eq!(ErrorClass::parse("wire", Granularity::Coarse), None);
        assert_eq!(ErrorClass::parse("rejected", Granularity::Fine), None);
        assert_eq!(
            ErrorClass::parse("decryption_failed", Granularity::Fine),
            Some(ErrorClass::DecryptionFailed)
        );
        assert_eq!(ErrorClass::parse("nonsense", Granularity::Fine), None);
    }

    #[test]
    fn a_version_1_adapter_is_told_apart() {
        let err = Client::connect(
            r#"read -r l; echo '{"id":0,"error":"wire"}'; cat >/dev/null"#,
            [0; 32],
            DEFAULT_TIMEOUT,
        )
        .expect_err("v1");
        assert_eq!(err, HelloError::Version1);
        let err = Client::connect(
            r#"read -r l; echo '{"id":0,"ok":{"name":"v1","protocol":1,"capabilities":["kdf"]}}'; cat >/dev/null"#,
            [0; 32],
            DEFAULT_TIMEOUT,
        )
        .expect_err("a version-1 hello");
        assert_eq!(err, HelloError::Version1);
    }
}
