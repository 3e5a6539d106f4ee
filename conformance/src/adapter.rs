//! An external implementation behind [`Implementation`]: a child process
//! speaking the JSON-lines adapter protocol (`conformance/ADAPTER.md`).
//!
//! The runner must survive any adapter. Every read happens on a separate
//! thread and reaches the runner through a channel with a deadline, so an
//! adapter that hangs costs one timeout; writes happen on another thread,
//! so an adapter that stops reading cannot block the runner either. Lines
//! are capped in length, so a flooding adapter is cut off. Malformed JSON,
//! a wrong id, a response that is not exactly one of `ok`, `error` and
//! `unsupported`, and an exit or crash all become [`OpError::Broken`] with
//! a message naming the request, the exit status and the last lines the
//! adapter wrote to stderr. After the first such failure the adapter is
//! killed and every later call fails at once with the same message.
//! Dropping the implementation closes the adapter's stdin, gives it a
//! moment to exit and then kills its whole process group.

use core::fmt;
use core::time::Duration;
use std::collections::{BTreeSet, VecDeque};
use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender, SyncSender};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Instant;

use serde_json::{Map, Value};

use crate::implementation::{Implementation, OpError};
use crate::protocol::{ADAPTER_PROTOCOL_VERSION, Capability, Output, Request};

/// Default time an adapter has to answer one request.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// Default time an adapter has to start and answer the hello.
pub const DEFAULT_HELLO_TIMEOUT: Duration = Duration::from_secs(30);
/// Default longest line accepted from an adapter: 64 MiB.
pub const DEFAULT_MAX_LINE: usize = 64 << 20;
/// How many of the adapter's last stderr lines a failure report quotes.
const STDERR_TAIL_LINES: usize = 20;
/// Longest stderr line kept (longer ones are cut).
const STDERR_LINE_CHARS: usize = 400;
/// How long a closed adapter may take to exit before it is killed.
const EXIT_GRACE: Duration = Duration::from_millis(500);

/// How to start and drive an adapter.
#[derive(Clone, Debug)]
pub struct AdapterConfig {
    /// Run as `sh -c '<command>'`.
    pub command: String,
    /// Time allowed for each response.
    pub timeout: Duration,
    /// Time allowed for startup and the hello response.
    pub hello_timeout: Duration,
    /// Longest response line accepted, in bytes.
    pub max_line: usize,
}

impl AdapterConfig {
    /// The defaults for `command`.
    pub fn new(command: impl Into<String>) -> Self {
        Self {
            command: command.into(),
            timeout: DEFAULT_TIMEOUT,
            hello_timeout: DEFAULT_HELLO_TIMEOUT,
            max_line: DEFAULT_MAX_LINE,
        }
    }
}

/// What the stdout reader thread reports.
enum StdoutEvent {
    Line(String),
    TooLong,
    NotUtf8,
    Eof,
    ReadError(String),
}

/// The last lines of the adapter's stderr.
type StderrTail = Arc<Mutex<VecDeque<String>>>;

/// An adapter process behind [`Implementation`].
pub struct AdapterImplementation {
    config: AdapterConfig,
    name: String,
    capabilities: BTreeSet<Capability>,
    child: Child,
    requests: Option<Sender<Vec<u8>>>,
    responses: Receiver<StdoutEvent>,
    stderr_tail: StderrTail,
    stderr_done: Receiver<()>,
    next_id: u64,
    broken: Option<String>,
    stopped: Option<Option<ExitStatus>>,
}

impl fmt::Debug for AdapterImplementation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AdapterImplementation")
            .field("command", &self.config.command)
            .field("name", &self.name)
            .field("capabilities", &self.capabilities)
            .field("pid", &self.child.id())
            .field("broken", &self.broken)
            .finish_non_exhaustive()
    }
}

impl AdapterImplementation {
    /// Starts the adapter and exchanges the hello. Fails with
    /// [`OpError::Broken`] if it cannot start, does not answer in time, or
    /// answers with anything but a valid hello of protocol version
    /// [`ADAPTER_PROTOCOL_VERSION`].
    pub fn spawn(config: AdapterConfig) -> Result<Self, OpError> {
        let mut command = Command::new("sh");
        command
            .arg("-c")
            .arg(&config.command)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        #[cfg(unix)]
        {
            use std::os::unix::process::CommandExt;
            // Its own process group, so that everything it starts can be
            // killed with it.
            command.process_group(0);
        }
        let mut child = command.spawn().map_err(|e| {
            OpError::Broken(format!(
                "adapter `{}` could not be started: {e}",
                config.command
            ))
        })?;
        let (Some(stdin), Some(stdout), Some(stderr)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            kill_group(&mut child);
            return Err(OpError::Broken(format!(
                "adapter `{}`: its standard streams could not be captured",
                config.command
            )));
        };

        let (request_tx, request_rx) = mpsc::channel::<Vec<u8>>();
        let (response_tx, response_rx) = mpsc::sync_channel::<StdoutEvent>(4);
        let (stderr_done_tx, stderr_done_rx) = mpsc::channel::<()>();
        let stderr_tail: StderrTail = Arc::default();
        let max_line = config.max_line;
        let spawned = thread::Builder::new()
            .name("adapter-stdin".into())
            .spawn(move || write_requests(stdin, &request_rx))
            .and_then(|_| {
                thread::Builder::new()
                    .name("adapter-stdout".into())
                    .spawn(move || read_responses(stdout, max_line, &response_tx))
            })
            .and_then(|_| {
                let tail = Arc::clone(&stderr_tail);
                thread::Builder::new()
                    .name("adapter-stderr".into())
                    .spawn(move || {
                        drain_stderr(stderr, &tail);
                        let _ = stderr_done_tx.send(());
                    })
            });
        if let Err(e) = spawned {
            kill_group(&mut child);
            return Err(OpError::Broken(format!(
                "adapter `{}`: could not start its I/O threads: {e}",
                config.command
            )));
        }

        let mut adapter = Self {
            config,
            name: String::new(),
            capabilities: BTreeSet::new(),
            child,
            requests: Some(request_tx),
            responses: response_rx,
            stderr_tail,
            stderr_done: stderr_done_rx,
            next_id: 1,
            broken: None,
            stopped: None,
        };
        adapter.hello()?;
        Ok(adapter)
    }

    /// The command the adapter was started with.
    pub fn command(&self) -> &str {
        &self.config.command
    }

    fn hello(&mut self) -> Result<(), OpError> {
        let mut line = Map::new();
        line.insert("id".into(), Value::from(0));
        line.insert("op".into(), Value::from("hello"));
        line.insert("protocol".into(), Value::from(ADAPTER_PROTOCOL_VERSION));
        let timeout = self.config.hello_timeout;
        let reply = self.exchange(0, "hello", &Value::Object(line), timeout)?;
        let fields = match reply {
            Reply::Ok(fields) => fields,
            Reply::Error(class) => {
                return Err(self.fail(format!("hello was answered with error `{class}`")));
            }
            Reply::Unsupported(why) => {
                return Err(self.fail(format!("hello was answered with unsupported: {why}")));
            }
        };
        match parse_hello(&fields) {
            Ok((name, capabilities)) => {
                self.name = name;
                self.capabilities = capabilities;
                Ok(())
            }
            Err(why) => Err(self.fail(format!("bad hello: {why}"))),
        }
    }

    /// Sends one line and waits for its response.
    fn exchange(
        &mut self,
        id: u64,
        op: &str,
        line: &Value,
        timeout: Duration,
    ) -> Result<Reply, OpError> {
        if let Some(why) = &self.broken {
            return Err(OpError::Broken(why.clone()));
        }
        let mut bytes = match serde_json::to_vec(line) {
            Ok(bytes) => bytes,
            Err(e) => return Err(self.fail(format!("request {id} (`{op}`) not encodable: {e}"))),
        };
        bytes.push(b'\n');
        let sent = self
            .requests
            .as_ref()
            .is_some_and(|requests| requests.send(bytes).is_ok());
        if !sent {
            return Err(self.fail(format!(
                "request {id} (`{op}`) could not be sent: stdin is closed"
            )));
        }
        let event = match self.responses.recv_timeout(timeout) {
            Ok(event) => event,
            Err(RecvTimeoutError::Timeout) => {
                return Err(self.fail(format!(
                    "no response to request {id} (`{op}`) within {}",
                    seconds(timeout)
                )));
            }
            Err(RecvTimeoutError::Disconnected) => StdoutEvent::Eof,
        };
        let line = match event {
            StdoutEvent::Line(line) => line,
            StdoutEvent::TooLong => {
                return Err(self.fail(format!(
                    "response to request {id} (`{op}`) is longer than {} bytes (flooding?)",
                    self.config.max_line
                )));
            }
            StdoutEvent::NotUtf8 => {
                return Err(self.fail(format!("response to request {id} (`{op}`) is not UTF-8")));
            }
            StdoutEvent::ReadError(e) => {
                return Err(self.fail(format!(
                    "reading the response to request {id} (`{op}`) failed: {e}"
                )));
            }
            StdoutEvent::Eof => {
                return Err(self.fail(format!(
                    "adapter closed its stdout instead of answering request {id} (`{op}`)"
                )));
            }
        };
        parse_response(&line, id).map_err(|why| {
            self.fail(format!(
                "bad response to request {id} (`{op}`): {why}; the line was: {}",
                excerpt(&line)
            ))
        })
    }

    /// Marks the adapter broken, stops it, and returns the full report.
    fn fail(&mut self, what: String) -> OpError {
        let status = self.stop();
        let mut message = format!("adapter `{}`: {what}", self.config.command);
        match status {
            Some(status) => message.push_str(&format!("; it exited ({status})")),
            None => message.push_str("; it was killed"),
        }
        // The stderr reader ends when the process group is gone; give it a
        // moment so that the report has the last words.
        let _ = self.stderr_done.recv_timeout(EXIT_GRACE);
        let tail = self
            .stderr_tail
            .lock()
            .map(|tail| tail.iter().cloned().collect::<Vec<_>>())
            .unwrap_or_default();
        if tail.is_empty() {
            message.push_str("; stderr was empty");
        } else {
            message.push_str("; last stderr lines:");
            for line in tail {
                message.push_str("\n    ");
                message.push_str(&line);
            }
        }
        self.broken = Some(message.clone());
        OpError::Broken(message)
    }

    /// Closes stdin, waits briefly for the adapter to exit on its own, then
    /// kills its process group. Returns the exit status if it exited by
    /// itself.
    fn stop(&mut self) -> Option<ExitStatus> {
        if let Some(status) = self.stopped {
            return status;
        }
        self.requests = None;
        let deadline = Instant::now() + EXIT_GRACE;
        let status = loop {
            match self.child.try_wait() {
                Ok(Some(status)) => break Some(status),
                Ok(None) if Instant::now() < deadline => thread::sleep(Duration::from_millis(5)),
                _ => break None,
            }
        };
        kill_group(&mut self.child);
        self.stopped = Some(status);
        status
    }
}

impl Drop for AdapterImplementation {
    fn drop(&mut self) {
        self.stop();
    }
}

impl Implementation for AdapterImplementation {
    fn name(&self) -> &str {
        &self.name
    }

    fn capabilities(&self) -> &BTreeSet<Capability> {
        &self.capabilities
    }

    fn call(&mut self, request: &Request) -> Result<Output, OpError> {
        crate::implementation::admit(self.broken.as_ref(), &self.capabilities, request)?;
        let id = self.next_id;
        self.next_id += 1;
        let mut line = match serde_json::to_value(request) {
            Ok(Value::Object(map)) => map,
            Ok(_) | Err(_) => {
                return Err(self.fail(format!(
                    "request {id} (`{}`) does not encode as a JSON object",
                    request.op()
                )));
            }
        };
        line.insert("id".into(), Value::from(id));
        let timeout = self.config.timeout;
        match self.exchange(id, request.op(), &Value::Object(line), timeout)? {
            Reply::Ok(fields) => Ok(fields),
            Reply::Error(class) => Err(OpError::Rejected(class)),
            Reply::Unsupported(why) => Err(OpError::Unsupported(why)),
        }
    }
}

/// A well-formed response.
#[derive(Debug, PartialEq)]
enum Reply {
    Ok(Output),
    Error(String),
    Unsupported(String),
}

/// Checks a response line: a JSON object with the expected `id` and exactly
/// one of `ok` (an object), `error` (a string) or `unsupported` (a string),
/// and nothing else.
fn parse_response(line: &str, expected_id: u64) -> Result<Reply, String> {
    let value: Value = serde_json::from_str(line).map_err(|e| format!("malformed JSON ({e})"))?;
    let Value::Object(mut object) = value else {
        return Err("not a JSON object".into());
    };
    match object.remove("id") {
        Some(Value::Number(n)) if n.as_u64() == Some(expected_id) => {}
        Some(other) => return Err(format!("wrong id {other} (expected {expected_id})")),
        None => return Err(format!("no `id` (expected {expected_id})")),
    }
    let ok = object.remove("ok");
    let error = object.remove("error");
    let unsupported = object.remove("unsupported");
    if let Some(extra) = object.keys().next() {
        return Err(format!("unexpected member `{extra}`"));
    }
    match (ok, error, unsupported) {
        (Some(Value::Object(fields)), None, None) => Ok(Reply::Ok(fields.into_iter().collect())),
        (Some(_), None, None) => Err("`ok` is not an object".into()),
        (None, Some(Value::String(class)), None) => Ok(Reply::Error(class)),
        (None, Some(_), None) => Err("`error` is not a string".into()),
        (None, None, Some(Value::String(why))) => Ok(Reply::Unsupported(why)),
        (None, None, Some(_)) => Err("`unsupported` is not a string".into()),
        (None, None, None) => Err("none of `ok`, `error`, `unsupported`".into()),
        _ => Err("more than one of `ok`, `error`, `unsupported`".into()),
    }
}

/// Checks the hello's `ok` fields: `name`, `protocol`, `capabilities`.
fn parse_hello(fields: &Output) -> Result<(String, BTreeSet<Capability>), String> {
    if let Some(extra) = fields
        .keys()
        .find(|k| !matches!(k.as_str(), "name" | "protocol" | "capabilities"))
    {
        return Err(format!("unexpected field `{extra}`"));
    }
    let name = match fields.get("name") {
        Some(Value::String(name)) if !name.trim().is_empty() => name.clone(),
        Some(_) => return Err("`name` is not a non-empty string".into()),
        None => return Err("no `name`".into()),
    };
    match fields.get("protocol") {
        Some(Value::Number(n)) if n.as_u64() == Some(u64::from(ADAPTER_PROTOCOL_VERSION)) => {}
        Some(other) => {
            return Err(format!(
                "protocol version {other}, but this runner speaks version {ADAPTER_PROTOCOL_VERSION}"
            ));
        }
        None => return Err("no `protocol`".into()),
    }
    let Some(Value::Array(list)) = fields.get("capabilities") else {
        return Err("`capabilities` is missing or not an array".into());
    };
    let mut capabilities = BTreeSet::new();
    for entry in list {
        let capability = Capability::ALL
            .into_iter()
            .find(|c| entry.as_str() == Some(c.name()))
            .ok_or_else(|| format!("unknown capability {entry}"))?;
        capabilities.insert(capability);
    }
    Ok((name, capabilities))
}

/// The stdin thread: writes request lines until the channel closes or a
/// write fails; dropping `stdin` then closes the adapter's input.
fn write_requests(mut stdin: ChildStdin, requests: &Receiver<Vec<u8>>) {
    for line in requests {
        if stdin.write_all(&line).and_then(|()| stdin.flush()).is_err() {
            return;
        }
    }
}

/// The stdout thread: splits the output into lines of at most `max_line`
/// bytes and forwards them; stops at the first problem.
fn read_responses(stdout: impl Read, max_line: usize, events: &SyncSender<StdoutEvent>) {
    let mut reader = BufReader::with_capacity(64 * 1024, stdout);
    let mut line = Vec::new();
    loop {
        let chunk = match reader.fill_buf() {
            Ok(chunk) => chunk,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                let _ = events.send(StdoutEvent::ReadError(e.to_string()));
                return;
            }
        };
        if chunk.is_empty() {
            if !line.is_empty() && events.send(line_event(&mut line)).is_err() {
                return;
            }
            let _ = events.send(StdoutEvent::Eof);
            return;
        }
        let (take, complete) = match chunk.iter().position(|&b| b == b'\n') {
            Some(i) => (i, true),
            None => (chunk.len(), false),
        };
        if line.len() + take > max_line {
            let _ = events.send(StdoutEvent::TooLong);
            return;
        }
        line.extend_from_slice(&chunk[..take]);
        reader.consume(take + usize::from(complete));
        if complete && events.send(line_event(&mut line)).is_err() {
            return;
        }
    }
}

fn line_event(line: &mut Vec<u8>) -> StdoutEvent {
    let mut bytes = core::mem::take(line);
    if bytes.last() == Some(&b'\r') {
        bytes.pop();
    }
    match String::from_utf8(bytes) {
        Ok(text) => StdoutEvent::Line(text),
        Err(_) => StdoutEvent::NotUtf8,
    }
}

/// The stderr thread: keeps the last lines (each cut to a bounded length)
/// and drains everything else, so a chatty adapter never blocks.
fn drain_stderr(stderr: impl Read, tail: &StderrTail) {
    let mut reader = BufReader::new(stderr);
    let mut current = Vec::new();
    loop {
        let chunk = match reader.fill_buf() {
            Ok(chunk) => chunk,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        };
        if chunk.is_empty() {
            break;
        }
        let (take, complete) = match chunk.iter().position(|&b| b == b'\n') {
            Some(i) => (i, true),
            None => (chunk.len(), false),
        };
        let room = (STDERR_LINE_CHARS * 4).saturating_sub(current.len());
        current.extend_from_slice(&chunk[..take.min(room)]);
        reader.consume(take + usize::from(complete));
        if complete {
            push_tail(tail, &mut current);
        }
    }
    if !current.is_empty() {
        push_tail(tail, &mut current);
    }
}

fn push_tail(tail: &StderrTail, current: &mut Vec<u8>) {
    let text = String::from_utf8_lossy(current);
    let mut line: String = text.trim_end().chars().take(STDERR_LINE_CHARS).collect();
    if text.trim_end().chars().count() > STDERR_LINE_CHARS {
        line.push_str(" [...]");
    }
    current.clear();
    if let Ok(mut tail) = tail.lock() {
        if tail.len() == STDERR_TAIL_LINES {
            tail.pop_front();
        }
        tail.push_back(line);
    }
}

/// Kills the adapter's process group (it was started as its leader), then
/// the adapter itself, and reaps it.
fn kill_group(child: &mut Child) {
    #[cfg(unix)]
    {
        // Even if the adapter itself has exited, what it started may still
        // run in its group. `kill` is a shell builtin: no binary needed.
        let _ = Command::new("sh")
            .arg("-c")
            .arg(format!("kill -s KILL -- -{} 2>/dev/null", child.id()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
    let _ = child.kill();
    let _ = child.wait();
}

fn seconds(d: Duration) -> String {
    format!("{:.1} s", d.as_secs_f64())
}

/// The start of a line, for error messages.
fn excerpt(line: &str) -> String {
    const MAX: usize = 200;
    if line.chars().count() <= MAX {
        line.to_owned()
    } else {
        let head: String = line.chars().take(MAX).collect();
        format!("{head}... ({} bytes)", line.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hex::Bytes;

    /// A temporary directory for fake adapters, removed on drop.
    struct TempDir(std::path::PathBuf);

    impl TempDir {
        fn new(tag: &str) -> Self {
            let dir = std::env::temp_dir().join(format!(
                "sealwire-adapter-test-{tag}-{}",
                std::process::id()
            ));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).unwrap();
            Self(dir)
        }

        fn script(&self, name: &str, body: &str) -> String {
            let path = self.0.join(name);
            std::fs::write(&path, body).unwrap();
            format!("python3 {}", path.display())
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    /// A Python adapter: says hello, then answers request `n` (1-based) with
    /// `behaviour(n, request)` (Python source of a function body that
    /// returns the response object or does something worse).
    fn fake(hello: &str, behaviour: &str) -> String {
        format!(
            r#"import json, sys, time
def hello(req):
{hello}
def answer(n, req):
{behaviour}
def main():
    n = 0
    for line in sys.stdin:
        req = json.loads(line)
        if req.get("op") == "hello":
            resp = hello(req)
        else:
            n += 1
            resp = answer(n, req)
        if resp is not None:
            sys.stdout.write(json.dumps(resp) + "\n")
            sys.stdout.flush()
main()
"#
        )
    }

    const GOOD_HELLO: &str = r#"    return {"id": req["id"], "ok": {"name": "fake", "protocol": 1, "capabilities": ["primitives", "kdf"]}}"#;

    fn config(command: String) -> AdapterConfig {
        AdapterConfig::new(command)
    }

    fn request() -> Request {
        Request::KdfCk {
            chain_key: Bytes(vec![7; 32]),
        }
    }

    fn broken(result: Result<Output, OpError>) -> String {
        match result {
            Err(OpError::Broken(why)) => why,
            other => panic!("expected Broken, got {other:?}"),
        }
    }

    fn spawn_err(config: AdapterConfig) -> String {
        match AdapterImplementation::spawn(config) {
            Err(OpError::Broken(why)) => why,
            Err(other) => panic!("expected Broken, got {other:?}"),
            Ok(adapter) => panic!("expected the hello to fail: {adapter:?}"),
        }
    }

    #[test]
    fn good_adapter_sees_framed_requests_and_its_answers_come_back() {
        let dir = TempDir::new("good");
        let cmd = dir.script(
            "good.py",
            &fake(
                GOOD_HELLO,
                r#"    if req["op"] == "aead_open":
        return {"id": req["id"], "error": "decryption_failed"}
    if req["op"] == "kdf_rk":
        return {"id": req["id"], "unsupported": "not today"}
    return {"id": req["id"], "ok": {"echo": req, "n": n}}"#,
            ),
        );
        let mut adapter = AdapterImplementation::spawn(config(cmd)).unwrap();
        assert_eq!(adapter.name(), "fake");
        assert_eq!(
            adapter.capabilities().iter().copied().collect::<Vec<_>>(),
            vec![Capability::Primitives, Capability::Kdf]
        );
        let out = adapter.call(&request()).unwrap();
        let mut expected = serde_json::to_value(request()).unwrap();
        expected["id"] = Value::from(1);
        assert_eq!(out.get("echo"), Some(&expected));
        let out = adapter.call(&request()).unwrap();
        assert_eq!(out.get("n"), Some(&Value::from(2)));
        let open = Request::AeadOpen {
            key: Bytes(vec![0; 32]),
            nonce: Bytes(vec![0; 12]),
            aad: Bytes::default(),
            ciphertext: Bytes(vec![0; 16]),
        };
        assert_eq!(
            adapter.call(&open),
            Err(OpError::Rejected("decryption_failed".into()))
        );
        let rk = Request::KdfRk {
            root_key: Bytes(vec![0; 32]),
            dh_output: Bytes(vec![0; 32]),
        };
        assert_eq!(
            adapter.call(&rk),
            Err(OpError::Unsupported("not today".into()))
        );
        // A capability it did not announce is not even sent.
        let unsupported = adapter.call(&Request::Free { handle: "x".into() });
        assert!(matches!(unsupported, Err(OpError::Unsupported(_))));
        // Still in sync: the next id is 5.
        let out = adapter.call(&request()).unwrap();
        assert_eq!(out["echo"]["id"], Value::from(5));
    }

    #[test]
    fn crash_reports_exit_status_and_stderr() {
        let dir = TempDir::new("crash");
        let cmd = dir.script(
            "crash.py",
            &fake(
                GOOD_HELLO,
                "    sys.stderr.write('about to fail\\nboom: out of cheese\\n')\n    sys.stderr.flush()\n    sys.exit(3)",
            ),
        );
        let mut adapter = AdapterImplementation::spawn(config(cmd)).unwrap();
        let why = broken(adapter.call(&request()));
        assert!(why.contains("closed its stdout"), "{why}");
        assert!(why.contains("exit status: 3"), "{why}");
        assert!(why.contains("boom: out of cheese"), "{why}");
        assert!(why.contains("about to fail"), "{why}");
        // Broken for good, with the same message.
        assert_eq!(broken(adapter.call(&request())), why);
    }

    #[test]
    fn crash_before_hello_and_missing_command_are_reported() {
        let why = spawn_err(config("echo nope >&2; exit 7".into()));
        assert!(why.contains("hello"), "{why}");
        assert!(why.contains("exit status: 7"), "{why}");
        assert!(why.contains("nope"), "{why}");
        let why = spawn_err(config("/nonexistent/sealwire-adapter".into()));
        assert!(why.contains("exit status: 127"), "{why}");
    }

    #[test]
    fn hang_times_out_and_the_adapter_is_killed() {
        let dir = TempDir::new("hang");
        let pid_file = dir.0.join("pid");
        let cmd = dir.script(
            "hang.py",
            &fake(
                GOOD_HELLO,
                &format!(
                    "    open({:?}, 'w').write(str(__import__('os').getpid()))\n    time.sleep(3600)",
                    pid_file.display().to_string()
                ),
            ),
        );
        let mut cfg = config(cmd);
        cfg.timeout = Duration::from_millis(300);
        let mut adapter = AdapterImplementation::spawn(cfg).unwrap();
        let why = broken(adapter.call(&request()));
        assert!(
            why.contains("no response to request 1 (`kdf_ck`) within 0.3 s"),
            "{why}"
        );
        assert!(why.contains("killed"), "{why}");
        // The Python process (a grandchild of the runner, under `sh`) is
        // gone too: its whole process group was killed.
        let pid = std::fs::read_to_string(&pid_file).unwrap();
        let stat = std::path::PathBuf::from(format!("/proc/{pid}/stat"));
        let mut state = String::new();
        for _ in 0..1000 {
            state = std::fs::read_to_string(&stat).unwrap_or_default();
            // Gone, or a zombie waiting for init to reap it.
            if state.is_empty() || state.contains(") Z") {
                break;
            }
            thread::sleep(Duration::from_millis(10));
        }
        assert!(
            state.is_empty() || state.contains(") Z"),
            "still running: {state}"
        );
    }

    #[test]
    fn adapter_that_never_reads_stdin_cannot_block_the_runner() {
        let dir = TempDir::new("deaf");
        let cmd = dir.script("deaf.py", &fake(GOOD_HELLO, "    time.sleep(3600)"));
        let mut cfg = config(cmd);
        cfg.timeout = Duration::from_millis(300);
        let mut adapter = AdapterImplementation::spawn(cfg).unwrap();
        // 8 MiB of JSON: far more than a pipe buffer holds.
        let big = Request::HmacSha256 {
            key: Bytes(vec![1; 32]),
            message: Bytes(vec![2; 4 << 20]),
        };
        let why = broken(adapter.call(&big));
        assert!(why.contains("no response"), "{why}");
    }

    #[test]
    fn malformed_json_is_reported_with_the_line() {
        let dir = TempDir::new("malformed");
        let cmd = dir.script(
            "malformed.py",
            &fake(
                GOOD_HELLO,
                "    sys.stdout.write('{\"id\": 1, \"ok\": {\\n')\n    sys.stdout.flush()\n    return None",
            ),
        );
        let mut adapter = AdapterImplementation::spawn(config(cmd)).unwrap();
        let why = broken(adapter.call(&request()));
        assert!(why.contains("malformed JSON"), "{why}");
        assert!(why.contains("the line was: {\"id\": 1, \"ok\": {"), "{why}");
    }

    #[test]
    fn wrong_id_is_reported() {
        let dir = TempDir::new("wrongid");
        let cmd = dir.script(
            "wrongid.py",
            &fake(
                GOOD_HELLO,
                "    return {\"id\": req[\"id\"] + 1, \"ok\": {}}",
            ),
        );
        let mut adapter = AdapterImplementation::spawn(config(cmd)).unwrap();
        let why = broken(adapter.call(&request()));
        assert!(why.contains("wrong id 2 (expected 1)"), "{why}");
    }

    #[test]
    fn responses_must_have_exactly_one_outcome() {
        for (body, needle) in [
            (
                "{\"id\": 1, \"ok\": {}, \"error\": \"wire\"}",
                "more than one of",
            ),
            ("{\"id\": 1}", "none of"),
            ("{\"id\": 1, \"ok\": \"yes\"}", "`ok` is not an object"),
            ("{\"id\": 1, \"error\": 3}", "`error` is not a string"),
            (
                "{\"id\": 1, \"ok\": {}, \"extra\": 1}",
                "unexpected member `extra`",
            ),
            ("{\"ok\": {}}", "no `id`"),
            ("[1]", "not a JSON object"),
            ("", "malformed JSON"),
        ] {
            match parse_response(body, 1) {
                Err(why) => assert!(why.contains(needle), "{body}: {why}"),
                Ok(reply) => panic!("{body} accepted as {reply:?}"),
            }
        }
        assert_eq!(
            parse_response("{\"id\": 1, \"error\": \"duplicate\"}", 1),
            Ok(Reply::Error("duplicate".into()))
        );
        // And end to end, through a real process.
        let dir = TempDir::new("both");
        let cmd = dir.script(
            "both.py",
            &fake(
                GOOD_HELLO,
                "    return {\"id\": req[\"id\"], \"ok\": {}, \"error\": \"wire\"}",
            ),
        );
        let mut adapter = AdapterImplementation::spawn(config(cmd)).unwrap();
        let why = broken(adapter.call(&request()));
        assert!(why.contains("more than one of"), "{why}");
    }

    #[test]
    fn flood_without_newline_is_cut_off() {
        let dir = TempDir::new("flood");
        let cmd = dir.script(
            "flood.py",
            &fake(
                GOOD_HELLO,
                "    while True:\n        sys.stdout.write('x' * 65536)",
            ),
        );
        let mut cfg = config(cmd);
        cfg.max_line = 1 << 20;
        let mut adapter = AdapterImplementation::spawn(cfg).unwrap();
        let why = broken(adapter.call(&request()));
        assert!(why.contains("longer than 1048576 bytes"), "{why}");
    }

    #[test]
    fn chatty_stderr_does_not_block_and_long_lines_are_cut() {
        let dir = TempDir::new("chatty");
        let cmd = dir.script(
            "chatty.py",
            &fake(
                GOOD_HELLO,
                "    sys.stderr.write(('log line ' * 100 + '\\n') * 20000)\n    sys.stderr.write('y' * 100000)\n    sys.stderr.flush()\n    if n == 2: sys.exit(1)\n    return {\"id\": req[\"id\"], \"ok\": {}}",
            ),
        );
        let mut adapter = AdapterImplementation::spawn(config(cmd)).unwrap();
        assert_eq!(adapter.call(&request()), Ok(Output::new()));
        let why = broken(adapter.call(&request()));
        assert!(why.contains("exit status: 1"), "{why}");
        assert!(why.contains("[...]"), "{why}");
        assert!(
            why.len() < 20 * (STDERR_LINE_CHARS + 16) + 1000,
            "{}",
            why.len()
        );
    }

    #[test]
    fn bad_hellos_are_rejected() {
        let dir = TempDir::new("hello");
        for (i, (hello, needle)) in [
            (
                r#"    return {"id": 0, "ok": {"name": "x", "protocol": 2, "capabilities": []}}"#,
                "protocol version 2, but this runner speaks version 1",
            ),
            (
                r#"    return {"id": 0, "ok": {"name": "x", "protocol": 1, "capabilities": ["teleport"]}}"#,
                "unknown capability \"teleport\"",
            ),
            (
                r#"    return {"id": 0, "ok": {"protocol": 1, "capabilities": []}}"#,
                "no `name`",
            ),
            (
                r#"    return {"id": 0, "ok": {"name": "x", "protocol": 1}}"#,
                "`capabilities` is missing",
            ),
            (
                r#"    return {"id": 5, "ok": {"name": "x", "protocol": 1, "capabilities": []}}"#,
                "wrong id 5 (expected 0)",
            ),
            (r#"    return {"id": 0, "error": "wire"}"#, "answered with error"),
            (r#"    return None"#, "no response to request 0 (`hello`)"),
        ]
        .into_iter()
        .enumerate()
        {
            let cmd = dir.script(&format!("hello{i}.py"), &fake(hello, "    return None"));
            let mut cfg = config(cmd);
            cfg.hello_timeout = if hello.contains("None") {
                Duration::from_millis(500)
            } else {
                DEFAULT_HELLO_TIMEOUT
            };
            let why = spawn_err(cfg);
            assert!(why.contains(needle), "{hello}: {why}");
        }
    }

    #[test]
    fn line_reader_handles_crlf_partial_lines_and_bad_utf8() {
        let (tx, rx) = mpsc::sync_channel(16);
        read_responses(&b"one\r\ntwo\n\xff\nlast"[..], 100, &tx);
        let events: Vec<String> = rx
            .try_iter()
            .map(|e| match e {
                StdoutEvent::Line(l) => format!("line:{l}"),
                StdoutEvent::NotUtf8 => "not-utf8".into(),
                StdoutEvent::TooLong => "too-long".into(),
                StdoutEvent::Eof => "eof".into(),
                StdoutEvent::ReadError(e) => format!("error:{e}"),
            })
            .collect();
        assert_eq!(
            events,
            ["line:one", "line:two", "not-utf8", "line:last", "eof"]
        );
        let (tx, rx) = mpsc::sync_channel(16);
        read_responses(&b"0123456789\n"[..], 10, &tx);
        assert!(matches!(rx.try_iter().next(), Some(StdoutEvent::Line(_))));
        let (tx, rx) = mpsc::sync_channel(16);
        read_responses(&b"0123456789a\n"[..], 10, &tx);
        assert!(matches!(rx.try_iter().next(), Some(StdoutEvent::TooLong)));
    }
}
