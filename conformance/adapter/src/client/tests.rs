//! Tests of the adapter client: every way an adapter can misbehave.

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

#[test]
fn timeouts_parse_in_seconds_within_one_day() {
    assert_eq!(parse_timeout("10"), Ok(Duration::from_secs(10)));
    assert_eq!(parse_timeout("0.25"), Ok(Duration::from_millis(250)));
    assert_eq!(parse_timeout("86400"), Ok(Duration::from_secs(86_400)));
    assert_eq!(
        parse_timeout("soon"),
        Err("--timeout: `soon` is not a number of seconds".to_owned())
    );
    for out_of_range in ["0", "-1", "86400.5", "NaN", "inf"] {
        let error = parse_timeout(out_of_range).unwrap_err();
        assert!(
            error.ends_with("is not in (0, 86400]"),
            "{out_of_range}: {error}"
        );
    }
}
