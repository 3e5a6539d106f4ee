//! The `sealwire-conformance` binary end to end, on the hand-written
//! fixtures in `tests/fixtures/vectors/` (published RFC values and
//! hand-derivable store tests): exit codes, the table, failure details,
//! filters, the JSON and JUnit reports, and external adapters (a Python
//! adapter over the standard library, a crashing one, and the built-in
//! `reference-adapter`).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_sealwire-conformance");

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/vectors")
}

/// A scratch directory, removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(tag: &str) -> Self {
        let dir =
            std::env::temp_dir().join(format!("sealwire-cli-test-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn run(args: &[&str]) -> (i32, String, String) {
    let Output {
        status,
        stdout,
        stderr,
    } = Command::new(BIN).args(args).output().unwrap();
    (
        status.code().unwrap_or(-1),
        String::from_utf8(stdout).unwrap(),
        String::from_utf8(stderr).unwrap(),
    )
}

fn fixtures_arg() -> String {
    fixtures().display().to_string()
}

#[test]
fn reference_passes_the_fixtures_and_writes_reports() {
    let scratch = Scratch::new("reports");
    let json = scratch.path("report.json");
    let junit = scratch.path("report.xml");
    let (code, out, err) = run(&[
        "run",
        "--vectors",
        &fixtures_arg(),
        "--json",
        json.to_str().unwrap(),
        "--junit",
        junit.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(
        out.contains("Sealwire conformance: sealwire (reference)"),
        "{out}"
    );
    assert!(
        out.contains("primitives        7        0        0"),
        "{out}"
    );
    assert!(
        out.contains("session           2        0        0"),
        "{out}"
    );
    assert!(out.contains("PASS: 9 tests in"), "{out}");
    assert!(
        out.trim_end().ends_with("9 passed, 0 failed, 0 skipped"),
        "{out}"
    );
    // Progress goes to stderr.
    assert!(
        err.contains("primitives/rfc_fixture.json (7 tests"),
        "{err}"
    );
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(
        report["summary"],
        serde_json::json!({"passed": 9, "failed": 0, "skipped": 0})
    );
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(
        xml.contains("tests=\"9\" failures=\"0\" errors=\"0\""),
        "{xml}"
    );
    assert_eq!(xml.matches("<testcase ").count(), 9);
}

#[test]
fn a_wrong_expected_value_fails_with_file_tcid_step_and_values() {
    let scratch = Scratch::new("mutated");
    let dir = scratch.path("vectors/primitives");
    std::fs::create_dir_all(&dir).unwrap();
    let original = std::fs::read_to_string(fixtures().join("primitives/rfc_fixture.json")).unwrap();
    // RFC 4231 case 2's MAC with its last byte changed.
    let mutated = original.replace(
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3844",
    );
    assert_ne!(mutated, original);
    std::fs::write(dir.join("rfc_fixture.json"), mutated).unwrap();
    let vectors = scratch.path("vectors");
    let (code, out, _) = run(&["--vectors", vectors.to_str().unwrap(), "--quiet"]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains(
            "FAILED primitives/rfc_fixture.json tcId 4: RFC 4231 test case 2 (key shorter than the block)"
        ),
        "{out}"
    );
    assert!(out.contains("step 0 (`hmac_sha256`)"), "{out}");
    assert!(out.contains("expected: `mac` = \"5bdcc146"), "{out}");
    assert!(out.contains("first difference at byte 31"), "{out}");
    assert!(
        out.contains("primitives        6        1        0"),
        "{out}"
    );
    assert!(out.contains("FAIL: 7 tests in"), "{out}");
    assert!(
        out.trim_end().ends_with("6 passed, 1 failed, 0 skipped"),
        "{out}"
    );
}

#[test]
fn filters_select_and_an_empty_selection_fails() {
    let (code, out, _) = run(&[
        "--vectors",
        &fixtures_arg(),
        "--filter",
        "Rfc7748",
        "--quiet",
    ]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("PASS: 2 tests in"), "{out}");
    let (code, out, _) = run(&[
        "--vectors",
        &fixtures_arg(),
        "--filter",
        "store_fixture.json#2",
        "--filter=rfc_fixture.json#5",
        "--quiet",
    ]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("PASS: 2 tests in"), "{out}");
    let (code, out, _) = run(&[
        "--vectors",
        &fixtures_arg(),
        "--filter",
        "NoSuchThing",
        "--quiet",
    ]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("FAIL (no test selected)"), "{out}");
    assert!(
        out.trim_end().ends_with("0 passed, 0 failed, 0 skipped"),
        "{out}"
    );
}

#[test]
fn usage_errors_exit_2_and_name_the_argument() {
    for (args, named) in [
        (&["run", "--bogus"][..], "--bogus"),
        (&["run", "--timeout", "soon"], "--timeout"),
        (&["run", "--timeout", "0"], "--timeout"),
        (&["run", "--impl"], "--impl"),
        (&["frobnicate"], "frobnicate"),
        (&["run", "--require", "kdf,telepathy"], "telepathy"),
        (&["props", "--cases", "0"], "--cases"),
        (&["interop", "--conversations", "none"], "--conversations"),
        (
            &["run", "--vectors", "/nonexistent/sealwire-vectors"],
            "/nonexistent",
        ),
        (
            &["run", "--json", "/nonexistent-dir/report.json"],
            "/nonexistent-dir",
        ),
    ] {
        let (code, out, err) = run(args);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(
            err.contains("error:") && err.contains(named),
            "{args:?}: {err}"
        );
        // Reported before the run: nothing ran.
        assert!(!out.contains("PASS"), "{args:?}: {out}");
    }
}

#[test]
fn every_subcommand_has_help_and_version() {
    for sub in [
        &[][..],
        &["run"],
        &["generate"],
        &["reference-adapter"],
        &["props"],
        &["interop"],
        &["zoo"],
        &["completions"],
    ] {
        for flag in ["--help", "-h"] {
            let (code, out, _) = run(&[sub, &[flag]].concat());
            assert_eq!(code, 0, "{sub:?} {flag}");
            assert!(
                out.contains("Usage: sealwire-conformance"),
                "{sub:?}: {out}"
            );
            assert!(out.contains("Exit status: 0"), "{sub:?}: {out}");
        }
        let (code, out, _) = run(&[sub, &["--version"]].concat());
        assert_eq!(code, 0, "{sub:?} --version");
        assert!(
            out.starts_with(&format!(
                "sealwire-conformance{}",
                if sub.is_empty() { "" } else { "-" }
            )) && out.trim_end().ends_with(env!("CARGO_PKG_VERSION")),
            "{sub:?}: {out}"
        );
    }
    let (code, out, _) = run(&["run", "--help"]);
    assert_eq!(code, 0);
    assert!(
        out.contains("--require") && out.contains("--filter Rfc7748"),
        "{out}"
    );
    let (code, out, _) = run(&["completions", "bash"]);
    assert_eq!(code, 0);
    assert!(
        out.contains("sealwire-conformance") && out.contains("--require"),
        "{out}"
    );
}

#[test]
fn an_empty_filter_selection_says_so() {
    let (code, _, err) = run(&[
        "--vectors",
        &fixtures_arg(),
        "--filter",
        "NoSuchThing",
        "--quiet",
    ]);
    assert_eq!(code, 1);
    assert!(
        err.contains("the filter `NoSuchThing` selected no test"),
        "{err}"
    );
}

/// A Python adapter with only the standard library: HMAC-SHA256 and
/// HKDF-SHA256 (RFC 5869, written out); everything else unsupported.
const PY_ADAPTER: &str = r#"import hashlib, hmac, json, sys

def hkdf(salt, ikm, info, length):
    prk = hmac.new(salt or b"\0" * 32, ikm, hashlib.sha256).digest()
    okm, t, i = b"", b"", 1
    while len(okm) < length:
        t = hmac.new(prk, t + info + bytes([i]), hashlib.sha256).digest()
        okm, i = okm + t, i + 1
    return okm[:length]

def handle(req):
    op = req["op"]
    if op == "hello":
        return {"ok": {"name": "stdlib-python", "protocol": 1, "capabilities": ["primitives", "bundle"]}}
    h = lambda k: bytes.fromhex(req[k])
    if op == "hmac_sha256":
        return {"ok": {"mac": hmac.new(h("key"), h("message"), hashlib.sha256).hexdigest()}}
    if op == "hkdf_sha256":
        return {"ok": {"okm": hkdf(h("salt"), h("ikm"), h("info"), req["length"]).hex()}}
    return {"unsupported": "the standard library has no " + op}

for line in sys.stdin:
    req = json.loads(line)
    resp = handle(req)
    resp["id"] = req["id"]
    sys.stdout.write(json.dumps(resp) + "\n")
    sys.stdout.flush()
"#;

#[test]
fn unsupported_inside_an_announced_capability_fails() {
    let scratch = Scratch::new("python");
    let script = scratch.path("adapter.py");
    std::fs::write(&script, PY_ADAPTER).unwrap();
    let json = scratch.path("report.json");
    let command = format!("python3 {}", script.display());
    let (code, out, err) = run(&[
        "--vectors",
        &fixtures_arg(),
        "--impl",
        &command,
        "--json",
        json.to_str().unwrap(),
    ]);
    // It announces `primitives` but answers `unsupported` to x25519.
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(out.contains("Sealwire conformance: stdlib-python"), "{out}");
    assert!(
        out.contains("primitives        3        4        0"),
        "{out}"
    );
    // `session` was not announced: its tests are skipped, with the reason.
    assert!(
        out.contains("session           0        0        2"),
        "{out}"
    );
    assert!(out.contains("needs capability `session`"), "{out}");
    assert!(
        out.contains("(`x25519` is in the announced capability `primitives`)"),
        "{out}"
    );
    assert!(
        out.contains("actual:   unsupported: the standard library has no x25519"),
        "{out}"
    );
    assert!(
        out.contains("failed: primitives (4 failed)") && out.contains("session (not announced)"),
        "{out}"
    );
    assert!(
        out.trim_end().ends_with("3 passed, 4 failed, 2 skipped"),
        "{out}"
    );
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(
        report["capabilities"],
        serde_json::json!(["primitives", "bundle"])
    );
    assert_eq!(report["success"], serde_json::json!(false));
}

/// Implements only HMAC-SHA256 and announces only `primitives`: on a
/// selection of HMAC tests it passes, but it cannot pass `--require`.
const HMAC_ONLY: &str = r#"import hashlib, hmac, json, sys
for line in sys.stdin:
    req = json.loads(line)
    if req["op"] == "hello":
        resp = {"ok": {"name": "hmac-only", "protocol": 1, "capabilities": ["primitives"]}}
    elif req["op"] == "hmac_sha256":
        mac = hmac.new(bytes.fromhex(req["key"]), bytes.fromhex(req["message"]), hashlib.sha256)
        resp = {"ok": {"mac": mac.hexdigest()}}
    else:
        resp = {"unsupported": "only hmac_sha256"}
    resp["id"] = req["id"]
    sys.stdout.write(json.dumps(resp) + "\n")
    sys.stdout.flush()
"#;

#[test]
fn a_partial_adapter_cannot_pass_with_require() {
    let scratch = Scratch::new("partial");
    let script = scratch.path("adapter.py");
    std::fs::write(&script, HMAC_ONLY).unwrap();
    let command = format!("python3 {}", script.display());
    let base = ["--vectors", &fixtures_arg(), "--impl", &command, "--quiet"];
    // Only the HMAC test of the fixtures: everything selected passes.
    let hmac_only = [&base[..], &["--filter", "rfc_fixture.json#4"]].concat();
    let (code, out, _) = run(&hmac_only);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("conformant: primitives"), "{out}");
    // The same run with --require all: the other capabilities were not
    // announced.
    let (code, out, _) = run(&[&hmac_only[..], &["--require", "all"]].concat());
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("`session` is required but was not announced"),
        "{out}"
    );
    assert!(out.contains("FAIL: 1 tests"), "{out}");
    // --require primitives alone holds.
    let (code, out, _) = run(&[&hmac_only[..], &["--require", "primitives"]].concat());
    assert_eq!(code, 0, "{out}");
    // A required capability with skipped tests fails.
    let (code, out, _) = run(&[
        &base[..],
        &["--filter", "store_fixture", "--require", "session"],
    ]
    .concat());
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("`session` is required but was not announced (2 tests skipped)"),
        "{out}"
    );
    // An unknown capability is a usage error naming it.
    let (code, _, err) = run(&[&base[..], &["--require", "kdf,telepathy"]].concat());
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("telepathy"), "{err}");
}

#[test]
fn an_adapter_answering_unsupported_everywhere_fails() {
    let scratch = Scratch::new("unsupported");
    let script = scratch.path("adapter.py");
    std::fs::write(
        &script,
        r#"import json, sys
CAPS = ["primitives", "kdf", "bundle", "session", "x3dh_secret", "wire", "state", "sealed_state", "skipped_count"]
for line in sys.stdin:
    req = json.loads(line)
    if req["op"] == "hello":
        resp = {"ok": {"name": "unsupported-everywhere", "protocol": 1, "capabilities": CAPS}}
    else:
        resp = {"unsupported": "not implemented"}
    resp["id"] = req["id"]
    sys.stdout.write(json.dumps(resp) + "\n")
    sys.stdout.flush()
"#,
    )
    .unwrap();
    let command = format!("python3 {}", script.display());
    let (code, out, _) = run(&["--vectors", &fixtures_arg(), "--impl", &command, "--quiet"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("capabilities conformant: none;"), "{out}");
    assert!(
        out.trim_end().ends_with("0 passed, 9 failed, 0 skipped"),
        "{out}"
    );
}

#[test]
fn a_crashing_adapter_fails_the_run_with_its_exit_status() {
    let (code, out, _) = run(&[
        "--vectors",
        &fixtures_arg(),
        "--impl",
        "echo 'adapter: cannot load libsealwire.so' >&2; exit 9",
        "--quiet",
    ]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("the implementation could not be started"),
        "{out}"
    );
    assert!(out.contains("exit status: 9"), "{out}");
    assert!(out.contains("cannot load libsealwire.so"), "{out}");
    assert!(out.contains("FAIL"), "{out}");
}

#[test]
fn the_reference_adapter_over_stdio_matches_the_in_process_run() {
    let command = format!("{BIN} reference-adapter");
    let (code, out, err) = run(&["--vectors", &fixtures_arg(), "--impl", &command, "--quiet"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(
        out.contains("Sealwire conformance: sealwire (reference)"),
        "{out}"
    );
    assert!(
        out.contains("primitives        7        0        0"),
        "{out}"
    );
    assert!(
        out.contains("session           2        0        0"),
        "{out}"
    );
}

/// Colours only where asked: clap colours its errors when forced
/// (`CLICOLOR_FORCE`, as a terminal would get) and never under `NO_COLOR`
/// (https://no-color.org), which wins; without either, a pipe gets none.
#[test]
fn colours_honour_no_color() {
    let stderr = |env: &[(&str, &str)]| {
        let mut command = Command::new(BIN);
        command
            .arg("--no-such-flag")
            .env_remove("NO_COLOR")
            .env_remove("CLICOLOR_FORCE");
        for (k, v) in env {
            command.env(k, v);
        }
        let out = command.output().expect("runs");
        assert_eq!(out.status.code(), Some(2));
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    assert!(stderr(&[("CLICOLOR_FORCE", "1")]).contains('\x1b'));
    assert!(!stderr(&[("CLICOLOR_FORCE", "1"), ("NO_COLOR", "1")]).contains('\x1b'));
    assert!(!stderr(&[]).contains('\x1b'));
}

/// The reference black-box adapter (crate `sealwire-blackbox`), built here
/// if this test run did not build it (`cargo test -p sealwire-conformance`).
fn blackbox_adapter() -> std::path::PathBuf {
    let dir = Path::new(BIN).parent().expect("the binary's directory");
    let path = dir.join("reference-blackbox-adapter");
    if !path.exists() {
        let profile = if dir.ends_with("release") {
            "release"
        } else {
            "dev"
        };
        let status = Command::new(env!("CARGO"))
            .args(["build", "--profile", profile, "-p", "sealwire-blackbox"])
            .args(["--bin", "reference-blackbox-adapter"])
            .status()
            .expect("cargo runs");
        assert!(
            status.success(),
            "building reference-blackbox-adapter failed"
        );
    }
    path
}

/// ADAPTER-v2.md §2: `props --impl` sends the version-2 hello first; a
/// protocol-2 adapter gets the black-box model, a protocol-1 adapter (it
/// answers `wire`) is restarted and gets the byte-exact model.
#[test]
fn props_serves_both_adapter_protocols() {
    let v2 = format!("'{}'", blackbox_adapter().display());
    let small = ["--cases", "2", "--max-ops", "8", "--seed", "3"];
    let (code, out, err) =
        run(&[&["props", "--impl", &v2, "--require", "all"][..], &small].concat());
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("black-box property model against sealwire"),
        "{out}"
    );
    assert!(out.contains("14 passed, 0 failed, 0 skipped"), "{out}");
    assert!(
        out.ends_with("props: PASS (adapter protocol 2, black box)\n"),
        "{out}"
    );
    // Protocol 2 has no sealed state: requiring it is said and fails.
    let (code, out, _) = run(&[
        &["props", "--impl", &v2, "--require", "sealed_state"][..],
        &small,
    ]
    .concat());
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("`sealed_state` is required: protocol 2 has no sealed state"),
        "{out}"
    );
    // --tolerate is the byte-exact model's: a usage error, before any run.
    let (code, out, err) = run(&[
        &["props", "--impl", &v2, "--tolerate", "earlier-chain-replay"][..],
        &small,
    ]
    .concat());
    assert_eq!(code, 2, "{out}{err}");
    assert!(err.contains("sealwire-blackbox props --tolerate"), "{err}");
    assert!(out.is_empty(), "{out}");
    // A protocol-1 adapter: the byte-exact model, unchanged.
    let v1 = format!("'{BIN}' reference-adapter");
    let (code, out, err) =
        run(&[&["props", "--impl", &v1, "--require", "all"][..], &small].concat());
    assert_eq!(code, 0, "{out}{err}");
    assert!(!out.contains("black-box"), "{out}");
    assert!(out.ends_with("props: PASS\n"), "{out}");
}
