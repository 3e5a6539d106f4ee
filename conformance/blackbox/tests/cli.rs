//! The `sealwire-blackbox` command line: `--help` and `--version` on every
//! subcommand, exit codes (0 pass, 1 a check failed, 2 usage or I/O), and
//! `--require` against an adapter that announces only part of the
//! optional capabilities.

use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_sealwire-blackbox");
const ADAPTER: &str = env!("CARGO_BIN_EXE_reference-blackbox-adapter");

/// Runs the command line; `(exit code, stdout, stderr)`.
fn run(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(BIN).args(args).output().expect("runs");
    (
        out.status.code().expect("exited"),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The reference adapter with its hello's capabilities cut to `state`
/// (sed rewrites the first line it writes).
fn partial_adapter() -> String {
    format!("'{ADAPTER}' | sed -u '1s/\"capabilities\":\\[[^]]*\\]/\"capabilities\":[\"state\"]/'")
}

#[test]
fn help_and_version_on_every_subcommand() {
    let subcommands = [
        "props",
        "fuzz",
        "campaign",
        "findings",
        "tolerances",
        "completions",
    ];
    for sub in [&[][..], &["props"][..]] {
        let (code, out, _) = run(&[sub, &["--version"]].concat());
        assert_eq!(code, 0, "{sub:?} --version");
        assert!(out.starts_with("sealwire-blackbox"), "{out}");
    }
    for sub in subcommands {
        for flag in ["--help", "-h"] {
            let (code, out, err) = run(&[sub, flag]);
            assert_eq!(code, 0, "{sub} {flag}: {err}");
            assert!(
                out.contains("Usage: sealwire-blackbox"),
                "{sub} {flag}: {out}"
            );
        }
        let (code, out, _) = run(&[sub, "--version"]);
        assert_eq!(code, 0, "{sub} --version");
        assert!(
            out.starts_with(&format!("sealwire-blackbox-{sub} ")),
            "{sub}: {out}"
        );
    }
}

#[test]
fn usage_errors_exit_2_and_name_the_argument() {
    for (args, named) in [
        (&["props"][..], "--impl"),
        (
            &["props", "--impl", "x", "--require", "sesion"][..],
            "sesion",
        ),
        (&["props", "--impl", "x", "--timeout", "0"][..], "--timeout"),
        (&["props", "--impl", "x", "--max-ops", "0"][..], "--max-ops"),
        (&["campaign", "--name", "n", "--impl", "x"][..], "--record"),
        (&["frobnicate"][..], "frobnicate"),
    ] {
        let (code, _, err) = run(args);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(err.contains(named), "{args:?}: {err}");
        assert!(err.lines().count() < 8, "{args:?} dumped the usage: {err}");
    }
}

#[test]
fn an_unwritable_record_fails_before_the_run() {
    let dir = std::env::temp_dir().join(format!("sealwire-blackbox-cli-{}", std::process::id()));
    let record = dir.join("no-such-dir").join("r.json");
    let impl_cmd = format!("'{ADAPTER}'");
    let record_arg = record.display().to_string();
    let args = [
        "campaign",
        "--name",
        "n",
        "--impl",
        &impl_cmd,
        "--record",
        &record_arg,
    ];
    let (code, out, err) = run(&args);
    assert_eq!(code, 2, "{out}{err}");
    assert!(err.contains("cannot write"), "{err}");
    assert!(out.is_empty(), "the run started: {out}");
}

#[test]
fn a_broken_adapter_fails_with_1() {
    let (code, out, _) = run(&["props", "--impl", "exit 3", "--cases", "1"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("props: FAIL"), "{out}");
}

#[test]
fn require_fails_a_partial_adapter_and_passes_what_it_announced() {
    let cmd = partial_adapter();
    let base = ["props", "--impl", &cmd, "--cases", "2", "--max-ops", "16"];
    // Without --require the announced part passes, the rest is "not tested".
    let (code, out, _) = run(&base);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("not tested fresh_ratchet_keys"), "{out}");
    assert!(out.contains("needs the `layout` capability"), "{out}");
    assert!(out.ends_with("props: PASS\n"), "{out}");
    // What it announced is met.
    let (code, out, _) = run(&[&base[..], &["--require", "state"]].concat());
    assert_eq!(code, 0, "{out}");
    // `all` and an unannounced capability fail, each saying why.
    let (code, out, _) = run(&[&base[..], &["--require", "all"]].concat());
    assert_eq!(code, 1, "{out}");
    for missing in ["skipped_count", "secrets", "layout"] {
        assert!(
            out.contains(&format!("`{missing}` is required: not announced")),
            "{missing}: {out}"
        );
    }
    assert!(out.ends_with("props: FAIL\n"), "{out}");
    let (code, out, _) = run(&[&base[..], &["--require", "state,layout"]].concat());
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("`layout` is required: not announced"), "{out}");
    assert!(!out.contains("`state` is required"), "{out}");
}

#[test]
fn completions_are_generated() {
    let (code, out, _) = run(&["completions", "bash"]);
    assert_eq!(code, 0);
    assert!(out.contains("sealwire-blackbox"), "{out}");
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
