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
/// The longest per-request timeout `--timeout` accepts: one day.
const MAX_TIMEOUT_SECS: f64 = 86_400.0;

/// Parses the `--timeout <secs>` option of the subcommands that drive an
/// adapter: a number of seconds in (0, 86400], fractions allowed.
pub fn parse_timeout(text: &str) -> Result<Duration, String> {
    let secs: f64 = text
        .parse()
        .map_err(|_| format!("--timeout: `{text}` is not a number of seconds"))?;
    if !(secs > 0.0 && secs <= MAX_TIMEOUT_SECS) {
        return Err(format!("--timeout: {secs} is not in (0, 86400]"));
    }
    Ok(Duration::from_secs_f64(secs))
}
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
mod tests;
