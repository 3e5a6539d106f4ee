//! The child-process transport of adapter protocol v2 (ADAPTER-v2.md §1):
//! `sh -c '<command>'` in a process group of its own, one JSON request per
//! line on its stdin, one JSON response per line on its stdout, a timeout
//! per request, and the adapter's **whole** stderr kept for the leak scan.
//! Dropping a [`Transport`] closes stdin, gives the adapter a moment to
//! exit, then kills its process group.
//!
//! Everything protocol-specific (what a hello must say, what a response
//! means) is in [`crate::client`]; this module only moves lines.
//!
//! **In process.** A Rust library's adapter can also be served inside the
//! suite's own process (an in-process fuzz target, where libFuzzer's
//! coverage must see the library's code): [`register_in_process`] names a
//! [`ServeFn`], and the command `in-process:<name>` then runs it on a thread
//! over three pipes that stand for stdin, stdout and stderr. Everything
//! else (framing, timeouts, the whole log kept for the leak scan) is the
//! same as for a child process; a timed-out in-process adapter cannot be
//! killed, so the transport is then dead and the thread is left behind.

use std::fmt;
use std::io::{BufRead, BufReader, Read, Write};
use std::io::{PipeReader, PipeWriter};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, SyncSender, channel, sync_channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::{Map, Value};

/// How long a closed adapter may take to exit before it is killed.
const EXIT_GRACE: Duration = Duration::from_millis(500);
/// The longest response line accepted (ADAPTER.md §1).
const MAX_LINE: usize = 64 << 20;
/// stderr kept beyond this is counted but not stored; the leak verdict then
/// says that part was not scanned.
const MAX_STDERR: usize = 256 << 20;

/// Why a call failed: the adapter is then unusable (every later call fails
/// with the same error).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TransportError {
    /// The command could not be started.
    Spawn(String),
    /// No response within the timeout; the adapter was killed.
    Timeout {
        /// The operation that was pending.
        op: String,
        /// The timeout, in milliseconds.
        millis: u128,
    },
    /// stdout ended (the adapter exited or crashed) while a request was pending.
    Exited {
        /// The operation that was pending.
        op: String,
        /// The exit status, if it exited.
        status: String,
    },
    /// A response that is not one JSON object on one line with the right id
    /// and exactly one outcome.
    Malformed {
        /// The operation that was pending.
        op: String,
        /// What was wrong, with an excerpt of the line.
        why: String,
    },
    /// An earlier failure made the adapter unusable.
    Dead(String),
}

impl fmt::Display for TransportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Spawn(why) => write!(f, "cannot start the adapter: {why}"),
            Self::Timeout { op, millis } => {
                write!(
                    f,
                    "no answer to `{op}` within {millis} ms; the adapter was killed"
                )
            }
            Self::Exited { op, status } => {
                write!(
                    f,
                    "the adapter's stdout ended while `{op}` was pending ({status})"
                )
            }
            Self::Malformed { op, why } => write!(f, "malformed answer to `{op}`: {why}"),
            Self::Dead(why) => write!(f, "adapter unusable after an earlier failure: {why}"),
        }
    }
}

impl std::error::Error for TransportError {}

/// One response: its outcome and the raw line (the leak scan reads it).
#[derive(Clone, Debug, PartialEq)]
pub struct Response {
    /// The outcome.
    pub outcome: Outcome,
    /// The line exactly as the adapter wrote it (without the newline).
    pub line: String,
}

/// The one outcome a response carries (ADAPTER.md §1, "Responses").
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    /// `ok`: the outputs.
    Ok(Map<String, Value>),
    /// `error`: an error class (checked by [`crate::client`]).
    Error(String),
    /// `unsupported`: why.
    Unsupported(String),
}

enum StdoutEvent {
    Line(String),
    Bad(String),
    End,
}

/// An adapter served in this process: it reads requests from the first
/// pipe until it ends, writes responses to the second and its log (what a
/// child writes to stderr) to the third.
pub type ServeFn = fn(BufReader<PipeReader>, PipeWriter, PipeWriter);

/// The command prefix that names a registered in-process adapter.
pub const IN_PROCESS: &str = "in-process:";

static IN_PROCESS_ADAPTERS: Mutex<Vec<(String, ServeFn)>> = Mutex::new(Vec::new());

/// Registers `serve` as the adapter that the command `in-process:<name>`
/// runs (replacing an earlier registration of `name`).
pub fn register_in_process(name: &str, serve: ServeFn) {
    let mut adapters = IN_PROCESS_ADAPTERS
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    adapters.retain(|(n, _)| n != name);
    adapters.push((name.to_owned(), serve));
}

fn in_process_adapter(name: &str) -> Option<ServeFn> {
    IN_PROCESS_ADAPTERS
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .iter()
        .find(|(n, _)| n == name)
        .map(|&(_, serve)| serve)
}

/// A running adapter.
pub struct Transport {
    command: String,
    /// `None` for an in-process adapter.
    child: Option<Child>,
    requests: Option<Sender<Vec<u8>>>,
    responses: Receiver<StdoutEvent>,
    stderr: Arc<Mutex<Stderr>>,
    threads: Vec<JoinHandle<()>>,
    next_id: u64,
    dead: Option<TransportError>,
    calls: u64,
}

#[derive(Default)]
struct Stderr {
    bytes: Vec<u8>,
    dropped: usize,
}

impl fmt::Debug for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Transport")
            .field("command", &self.command)
            .field("next_id", &self.next_id)
            .finish_non_exhaustive()
    }
}

impl Transport {
    /// Starts `command` with `sh -c` in a process group of its own.
    /// `in-process:<name>` runs the adapter registered under `name` (see
    /// [`register_in_process`]) on a thread instead.
    pub fn spawn(command: &str) -> Result<Self, TransportError> {
        if let Some(name) = command.strip_prefix(IN_PROCESS) {
            return Self::in_process(command, name);
        }
        let mut cmd = Command::new("sh");
        cmd.arg("-c")
            .arg(command)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        {
            use std::os::unix::process::CommandExt;
            // Its own group: a timeout kills the shell and everything it
            // started (`sh -c 'python3 …'`), not only the shell.
            cmd.process_group(0);
        }
        let mut child = cmd
            .spawn()
            .map_err(|e| TransportError::Spawn(format!("`sh -c {command:?}`: {e}")))?;
        let (Some(stdin), Some(stdout), Some(stderr_pipe)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            kill_group(&mut child);
            return Err(TransportError::Spawn("pipes not available".into()));
        };
        Ok(Self::framed(
            command,
            Some(child),
            stdin,
            stdout,
            stderr_pipe,
            Vec::new(),
        ))
    }

    fn in_process(command: &str, name: &str) -> Result<Self, TransportError> {
        let serve = in_process_adapter(name).ok_or_else(|| {
            TransportError::Spawn(format!("no in-process adapter registered as `{name}`"))
        })?;
        let pipe = |what: &str| {
            std::io::pipe().map_err(|e| TransportError::Spawn(format!("{what} pipe: {e}")))
        };
        let (stdin_r, stdin_w) = pipe("request")?;
        let (stdout_r, stdout_w) = pipe("response")?;
        let (stderr_r, stderr_w) = pipe("log")?;
        let adapter = std::thread::Builder::new()
            .name(format!("adapter {name}"))
            .spawn(move || serve(BufReader::new(stdin_r), stdout_w, stderr_w))
            .map_err(|e| TransportError::Spawn(format!("adapter thread: {e}")))?;
        Ok(Self::framed(
            command,
            None,
            stdin_w,
            stdout_r,
            stderr_r,
            vec![adapter],
        ))
    }

    /// The framing threads over an adapter's three streams.
    fn framed(
        command: &str,
        child: Option<Child>,
        stdin: impl Write + Send + 'static,
        stdout: impl Read + Send + 'static,
        stderr_pipe: impl Read + Send + 'static,
        mut threads: Vec<JoinHandle<()>>,
    ) -> Self {
        let (req_tx, req_rx) = channel::<Vec<u8>>();
        let (ev_tx, ev_rx) = sync_channel::<StdoutEvent>(16);
        let stderr = Arc::new(Mutex::new(Stderr::default()));
        threads.push(std::thread::spawn(move || write_requests(stdin, &req_rx)));
        threads.push(std::thread::spawn(move || read_responses(stdout, &ev_tx)));
        let sink = Arc::clone(&stderr);
        threads.push(std::thread::spawn(move || drain_stderr(stderr_pipe, &sink)));
        Self {
            command: command.to_owned(),
            child,
            requests: Some(req_tx),
            responses: ev_rx,
            stderr,
            threads,
            next_id: 0,
            dead: None,
            calls: 0,
        }
    }

    /// The command this adapter was started with.
    pub fn command(&self) -> &str {
        &self.command
    }

    /// How many requests were answered.
    pub const fn calls(&self) -> u64 {
        self.calls
    }

    /// Sends `op` with `fields` (the next id is added) and waits up to
    /// `timeout` for its response.
    pub fn call(
        &mut self,
        op: &str,
        fields: Map<String, Value>,
        timeout: Duration,
    ) -> Result<Response, TransportError> {
        if let Some(dead) = &self.dead {
            return Err(TransportError::Dead(dead.to_string()));
        }
        let id = self.next_id;
        self.next_id += 1;
        let mut request = Map::new();
        request.insert("id".into(), Value::from(id));
        request.insert("op".into(), Value::from(op));
        request.extend(fields);
        let mut line = serde_json::to_vec(&Value::Object(request)).unwrap_or_default();
        line.push(b'\n');
        let sent = self
            .requests
            .as_ref()
            .is_some_and(|tx| tx.send(line).is_ok());
        let result = if sent {
            self.wait(op, id, timeout)
        } else {
            Err(TransportError::Exited {
                op: op.to_owned(),
                status: self.status(),
            })
        };
        match result {
            Ok(response) => {
                self.calls += 1;
                Ok(response)
            }
            Err(e) => {
                self.kill();
                self.dead = Some(e.clone());
                Err(e)
            }
        }
    }

    fn wait(&mut self, op: &str, id: u64, timeout: Duration) -> Result<Response, TransportError> {
        let deadline = Instant::now() + timeout;
        let event = match self
            .responses
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
        {
            Ok(event) => event,
            Err(RecvTimeoutError::Timeout) => {
                return Err(TransportError::Timeout {
                    op: op.to_owned(),
                    millis: timeout.as_millis(),
                });
            }
            Err(RecvTimeoutError::Disconnected) => StdoutEvent::End,
        };
        let malformed = |why: String| TransportError::Malformed {
            op: op.to_owned(),
            why,
        };
        match event {
            StdoutEvent::End => Err(TransportError::Exited {
                op: op.to_owned(),
                status: self.status(),
            }),
            StdoutEvent::Bad(why) => Err(malformed(why)),
            StdoutEvent::Line(line) => {
                let outcome = parse_response(&line, id)
                    .map_err(|why| malformed(format!("{why}: {}", excerpt(&line))))?;
                Ok(Response { outcome, line })
            }
        }
    }

    fn status(&mut self) -> String {
        let Some(child) = self.child.as_mut() else {
            return "in-process adapter returned".into();
        };
        // Give an exiting adapter a moment so the status is known.
        let until = Instant::now() + Duration::from_millis(200);
        loop {
            match child.try_wait() {
                Ok(Some(status)) => return status.to_string(),
                Ok(None) if Instant::now() < until => {
                    std::thread::sleep(Duration::from_millis(10));
                }
                _ => return "still running".into(),
            }
        }
    }

    /// Everything the adapter wrote to stderr so far, and how many bytes
    /// beyond the stored limit were discarded.
    pub fn stderr(&self) -> (Vec<u8>, usize) {
        let guard = self.stderr.lock().unwrap_or_else(|p| p.into_inner());
        (guard.bytes.clone(), guard.dropped)
    }

    /// The last `lines` lines of stderr (for failure reports).
    pub fn stderr_tail(&self, lines: usize) -> String {
        let (bytes, _) = self.stderr();
        let text = String::from_utf8_lossy(&bytes);
        let all: Vec<&str> = text.lines().collect();
        let from = all.len().saturating_sub(lines);
        all[from..]
            .iter()
            .map(|l| l.chars().take(400).collect::<String>())
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Takes the stderr kept so far (the bytes and the count dropped),
    /// leaving it empty: a long in-process fuzz run scans each input's log
    /// once and keeps nothing.
    pub fn take_stderr(&self) -> (Vec<u8>, usize) {
        let mut guard = self.stderr.lock().unwrap_or_else(|p| p.into_inner());
        let taken = std::mem::take(&mut *guard);
        (taken.bytes, taken.dropped)
    }

    /// Closes stdin, waits for the adapter to exit (at most
    /// half a second), kills its group, and returns its whole stderr once
    /// the pipe is drained.
    pub fn finish(mut self) -> (Vec<u8>, usize) {
        self.stop();
        // A dead in-process adapter may still be stuck in the library: its
        // threads get the same grace as a child, and those that do not end
        // in it are left behind rather than joined.
        if self.child.is_none() && self.dead.is_some() {
            let until = Instant::now() + EXIT_GRACE;
            while Instant::now() < until && !self.threads.iter().all(|t| t.is_finished()) {
                std::thread::sleep(Duration::from_millis(5));
            }
        }
        for thread in self.threads.drain(..) {
            if self.child.is_some() || self.dead.is_none() || thread.is_finished() {
                let _ = thread.join();
            }
        }
        self.stderr()
    }

    fn stop(&mut self) {
        self.requests = None;
        let Some(child) = self.child.as_mut() else {
            return;
        };
        let until = Instant::now() + EXIT_GRACE;
        while Instant::now() < until {
            if let Ok(Some(_)) = child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        self.kill();
    }

    fn kill(&mut self) {
        if let Some(child) = self.child.as_mut() {
            kill_group(child);
        }
    }
}

impl Drop for Transport {
    fn drop(&mut self) {
        self.stop();
    }
}

fn parse_response(line: &str, expected_id: u64) -> Result<Outcome, String> {
    let value: Value = serde_json::from_str(line).map_err(|e| format!("not JSON ({e})"))?;
    let Value::Object(mut object) = value else {
        return Err("not a JSON object".into());
    };
    match object.remove("id") {
        Some(Value::Number(n)) if n.as_u64() == Some(expected_id) => {}
        Some(other) => return Err(format!("id {other}, expected {expected_id}")),
        None => return Err("no `id`".into()),
    }
    if object.len() != 1 {
        return Err(format!(
            "must have exactly one of `ok`, `error`, `unsupported`; has {:?}",
            object.keys().collect::<Vec<_>>()
        ));
    }
    match object.into_iter().next() {
        Some((key, Value::Object(ok))) if key == "ok" => Ok(Outcome::Ok(ok)),
        Some((key, Value::String(class))) if key == "error" => Ok(Outcome::Error(class)),
        Some((key, Value::String(why))) if key == "unsupported" => Ok(Outcome::Unsupported(why)),
        Some((key, _)) => Err(format!("member `{key}` unknown or of the wrong type")),
        None => Err("empty response".into()),
    }
}

fn write_requests(mut stdin: impl Write, requests: &Receiver<Vec<u8>>) {
    while let Ok(line) = requests.recv() {
        if stdin.write_all(&line).and_then(|()| stdin.flush()).is_err() {
            return;
        }
    }
}

fn read_responses(stdout: impl Read, events: &SyncSender<StdoutEvent>) {
    let mut reader = BufReader::new(stdout);
    loop {
        let mut line = Vec::new();
        let mut limited = (&mut reader).take(MAX_LINE as u64 + 1);
        match limited.read_until(b'\n', &mut line) {
            Ok(0) | Err(_) => {
                let _ = events.send(StdoutEvent::End);
                return;
            }
            Ok(_) => {}
        }
        let event = if line.len() > MAX_LINE {
            StdoutEvent::Bad(format!("a response line longer than {MAX_LINE} bytes"))
        } else {
            if line.last() == Some(&b'\n') {
                line.pop();
            }
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            match String::from_utf8(line) {
                Ok(text) => StdoutEvent::Line(text),
                Err(_) => StdoutEvent::Bad("output that is not UTF-8".into()),
            }
        };
        let bad = matches!(event, StdoutEvent::Bad(_));
        if events.send(event).is_err() || bad {
            return;
        }
    }
}

fn drain_stderr(mut stderr: impl Read, sink: &Mutex<Stderr>) {
    let mut buf = [0u8; 8192];
    loop {
        match stderr.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                let mut guard = sink.lock().unwrap_or_else(|p| p.into_inner());
                let room = MAX_STDERR.saturating_sub(guard.bytes.len()).min(n);
                guard.bytes.extend_from_slice(&buf[..room]);
                guard.dropped += n - room;
            }
        }
    }
}

fn kill_group(child: &mut Child) {
    // The group id is the child's pid (`process_group(0)`); `kill` is a
    // shell builtin, so no binary is needed.
    let _ = Command::new("sh")
        .arg("-c")
        .arg(format!("kill -s KILL -- -{} 2>/dev/null", child.id()))
        .status();
    let _ = child.kill();
    let _ = child.wait();
}

fn excerpt(line: &str) -> String {
    let mut out: String = line.chars().take(200).collect();
    if out.len() < line.len() {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(t: &mut Transport, op: &str) -> Result<Response, TransportError> {
        t.call(op, Map::new(), Duration::from_secs(5))
    }

    #[test]
    fn lines_go_out_and_answers_come_back_with_the_whole_stderr() {
        let script = r#"i=0; while read -r line; do echo "log $line" >&2; echo "{\"id\":$i,\"ok\":{\"n\":$i}}"; i=$((i+1)); done"#;
        let mut t = Transport::spawn(script).expect("spawn");
        for n in 0..3 {
            let r = call(&mut t, "ping").expect("answer");
            let Outcome::Ok(ok) = r.outcome else {
                panic!("{r:?}")
            };
            assert_eq!(ok["n"], n);
        }
        let (stderr, dropped) = t.finish();
        let text = String::from_utf8(stderr).expect("utf-8");
        assert_eq!(dropped, 0);
        assert_eq!(text.lines().count(), 3, "{text}");
        assert!(text.contains(r#""op":"ping""#), "{text}");
    }

    #[test]
    fn wrong_id_two_outcomes_and_crashes_are_typed_errors() {
        let mut t = Transport::spawn(r#"read -r l; echo '{"id":5,"ok":{}}'"#).expect("spawn");
        assert!(matches!(
            call(&mut t, "x"),
            Err(TransportError::Malformed { .. })
        ));
        assert!(matches!(call(&mut t, "x"), Err(TransportError::Dead(_))));
        let mut t = Transport::spawn(r#"read -r l; echo '{"id":0,"ok":{},"error":"wire"}'"#)
            .expect("spawn");
        assert!(matches!(
            call(&mut t, "x"),
            Err(TransportError::Malformed { .. })
        ));
        let mut t = Transport::spawn("read -r l; exit 3").expect("spawn");
        let err = call(&mut t, "x").expect_err("exited");
        assert!(matches!(err, TransportError::Exited { .. }), "{err}");
    }

    fn echo(input: BufReader<PipeReader>, mut output: PipeWriter, mut log: PipeWriter) {
        for (i, line) in input.lines().enumerate() {
            let Ok(line) = line else { return };
            let _ = writeln!(log, "log {line}");
            if line.contains("quit") {
                return;
            }
            let _ = writeln!(output, "{{\"id\":{i},\"ok\":{{\"n\":{i}}}}}");
        }
    }

    #[test]
    fn an_in_process_adapter_is_framed_like_a_child() {
        register_in_process("echo", echo);
        let mut t = Transport::spawn("in-process:echo").expect("spawn");
        for n in 0..3 {
            let r = call(&mut t, "ping").expect("answer");
            assert_eq!(
                r.outcome,
                Outcome::Ok(serde_json::from_str(&format!("{{\"n\":{n}}}")).expect("json"))
            );
        }
        // The log is drained by its own thread: wait for the three lines.
        let mut taken = Vec::new();
        let until = Instant::now() + Duration::from_secs(10);
        while String::from_utf8_lossy(&taken).lines().count() < 3 && Instant::now() < until {
            taken.extend(t.take_stderr().0);
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(String::from_utf8_lossy(&taken).lines().count(), 3);
        let _ = call(&mut t, "ping");
        let err = call(&mut t, "quit").expect_err("returned");
        assert!(matches!(err, TransportError::Exited { .. }), "{err}");
        let (stderr, dropped) = t.finish();
        assert_eq!(dropped, 0);
        // Taken lines are gone; the two after them are kept.
        assert_eq!(String::from_utf8_lossy(&stderr).lines().count(), 2);
        let err = Transport::spawn("in-process:nothing-registered").expect_err("unknown");
        assert!(err.to_string().contains("nothing-registered"), "{err}");
    }

    #[test]
    fn a_hang_times_out_and_the_group_is_killed() {
        let mut t = Transport::spawn("sleep 30").expect("spawn");
        let start = Instant::now();
        let err = t
            .call("x", Map::new(), Duration::from_millis(300))
            .expect_err("timeout");
        assert!(matches!(err, TransportError::Timeout { .. }), "{err}");
        assert!(start.elapsed() < Duration::from_secs(5));
    }
}
