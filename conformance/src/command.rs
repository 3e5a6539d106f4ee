//! The `sealwire-conformance` command line: its subcommands, their options
//! and the usage text (the binary's `main` only calls [`command_line`]).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use sealwire_adapter::{AdapterConfig, AdapterImplementation, Implementation};
use sealwire_reference::ReferenceImplementation;

use crate::report;
use crate::runner::{self, RunOptions, RunReport};

const USAGE: &str = "\
sealwire-conformance: the Sealwire v1 conformance suite

USAGE:
    sealwire-conformance [run] [OPTIONS]
    sealwire-conformance generate [--check] [--vectors <dir>]
    sealwire-conformance reference-adapter
    sealwire-conformance props [OPTIONS]   (property model; props --help)
    sealwire-conformance interop [--impl '<command>'] [--conversations <n>] [--steps <n>] [--seed <n>]
    sealwire-conformance zoo [--flaw <name>]... [--markdown <file>]   (self-test; needs --features planted-flaws)
    sealwire-conformance help

run (the default) runs every vector against an implementation and prints a
per-area table of passed, failed and skipped tests, which capability claims
held, and the closing line `N passed, M failed, K skipped`. A test needing a
capability the implementation did not announce is skipped; `unsupported`
answered inside an announced capability fails the test. Exit status: 0 if
every selected test passed (and every --require held), 1 on any failure, if
no test was selected or a requirement was not met, 2 on a usage or I/O error.

    --impl '<command>'   run `sh -c '<command>'` as an adapter (ADAPTER.md)
                         instead of the built-in reference implementation
    --filter <text>      only tests whose file path or a flag contains
                         <text>, whose tcId equals it, or <path>#<tcId>;
                         repeatable (any match selects)
    --junit <file>       also write a JUnit XML report
    --json <file>        also write a JSON report
    --timeout <secs>     per-request timeout for --impl (default 10)
    --vectors <dir>      the vectors directory (default: this crate's vectors/)
    --quiet              no progress on stderr
    --require <caps|all> fail unless each listed capability (comma-separated,
                         or `all`) was announced, none of its tests was
                         skipped and all passed; CI should use --require all

generate rewrites every vector file from fixed seeds (removing files it no
longer makes); with --check it writes nothing and fails (exit 1) if the
checked-in files differ from a fresh generation.

reference-adapter serves the built-in reference implementation over the
adapter protocol on stdin/stdout (an example adapter, and a check of the
adapter path: run --impl 'sealwire-conformance reference-adapter').

interop runs random conversations between the reference and an adapter in
both directions (out-of-order delivery, drops, replays, tampering) and
compares every step with a reference-only run; `interop --help` for more.
";

/// Runs the command line `args` (without the program name) and gives the
/// exit status: 0 on success, 1 on a failed check, 2 on a usage or I/O
/// error (printed with the usage text).
pub fn command_line(args: &[String]) -> ExitCode {
    let (command, rest) = match args.first().map(String::as_str) {
        None => ("run", args),
        Some(first) if first.starts_with('-') => ("run", args),
        Some(first) => (first, &args[1..]),
    };
    let result = match command {
        "run" => run(rest),
        "generate" => generate(rest),
        "reference-adapter" => reference_adapter(rest),
        "interop" => crate::interop::cli(rest),
        "props" => crate::props::command(rest),
        #[cfg(feature = "planted-flaws")]
        "zoo" => crate::zoo::cli(rest),
        #[cfg(not(feature = "planted-flaws"))]
        "zoo" => Err("the zoo needs the planted flaws: cargo run --release -p \
                      sealwire-conformance --features planted-flaws -- zoo"
            .to_owned()),
        "help" | "--help" | "-h" => {
            print!("{USAGE}");
            Ok(ExitCode::SUCCESS)
        }
        other => Err(format!("unknown command `{other}`")),
    };
    match result {
        Ok(code) => code,
        Err(why) => {
            eprintln!("error: {why}\n\n{USAGE}");
            ExitCode::from(2)
        }
    }
}

/// The options of `run`.
#[derive(Debug)]
struct RunArgs {
    implementation: Option<String>,
    filters: Vec<String>,
    junit: Option<PathBuf>,
    json: Option<PathBuf>,
    timeout: Duration,
    vectors: PathBuf,
    quiet: bool,
    require: Vec<sealwire_adapter::Capability>,
}

/// Parses `--require`'s value: `all`, or capability names separated by
/// commas.
pub(crate) fn parse_require(text: &str) -> Result<Vec<sealwire_adapter::Capability>, String> {
    use sealwire_adapter::Capability;
    if text.trim() == "all" {
        return Ok(Capability::ALL.to_vec());
    }
    let mut list = Vec::new();
    for name in text.split(',').map(str::trim) {
        let capability = Capability::ALL
            .iter()
            .copied()
            .find(|c| c.name() == name)
            .ok_or_else(|| {
                let names: Vec<&str> = Capability::ALL.iter().map(|c| c.name()).collect();
                format!(
                    "--require: unknown capability `{name}`; `all` or a comma-separated list of: {}",
                    names.join(", ")
                )
            })?;
        if !list.contains(&capability) {
            list.push(capability);
        }
    }
    Ok(list)
}

fn default_vectors() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("vectors")
}

fn parse_run(args: &[String]) -> Result<RunArgs, String> {
    let mut parsed = RunArgs {
        implementation: None,
        filters: Vec::new(),
        junit: None,
        json: None,
        timeout: sealwire_adapter::DEFAULT_TIMEOUT,
        vectors: default_vectors(),
        quiet: false,
        require: Vec::new(),
    };
    let mut options_in = crate::cli::OptionParser::new(args);
    while let Some(name) = options_in.next_name() {
        let mut value = || options_in.value(name);
        match name {
            "--impl" => parsed.implementation = Some(value()?),
            "--filter" => parsed.filters.push(value()?),
            "--junit" => parsed.junit = Some(value()?.into()),
            "--json" => parsed.json = Some(value()?.into()),
            "--vectors" => parsed.vectors = value()?.into(),
            "--timeout" => parsed.timeout = sealwire_adapter::parse_timeout(&value()?)?,
            "--quiet" => parsed.quiet = true,
            "--require" => {
                for c in parse_require(&value()?)? {
                    if !parsed.require.contains(&c) {
                        parsed.require.push(c);
                    }
                }
            }
            other => return Err(format!("unknown option `{other}` for run")),
        }
    }
    Ok(parsed)
}

fn run(args: &[String]) -> Result<ExitCode, String> {
    let args = parse_run(args)?;
    if !args.vectors.is_dir() {
        return Err(format!(
            "vectors directory {} does not exist",
            args.vectors.display()
        ));
    }
    let (files, load_errors) = runner::load_vectors(&args.vectors);
    let options = RunOptions {
        filters: args.filters.clone(),
        progress: !args.quiet,
        require: args.require.clone(),
    };
    let mut report = match &args.implementation {
        None => {
            let mut reference = ReferenceImplementation::new();
            runner::run(&mut reference, &files, &options)
        }
        Some(command) => {
            let mut config = AdapterConfig::new(command.clone());
            config.timeout = args.timeout;
            match AdapterImplementation::spawn(config) {
                Ok(mut adapter) => runner::run(&mut adapter, &files, &options),
                Err(e) => RunReport {
                    implementation: command.clone(),
                    capabilities: Vec::new(),
                    results: Vec::new(),
                    load_errors: vec![format!("the implementation could not be started: {e}")],
                    duration: Duration::ZERO,
                    required: options.require.clone(),
                },
            }
        }
    };
    report.load_errors.splice(0..0, load_errors);
    print!("{}", report::render_text(&report));
    if let Some(path) = &args.json {
        std::fs::write(path, report::render_json(&report))
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }
    if let Some(path) = &args.junit {
        std::fs::write(path, report::render_junit(&report))
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }
    Ok(if report.success() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn generate(args: &[String]) -> Result<ExitCode, String> {
    let mut check = false;
    let mut vectors = default_vectors();
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--check" => check = true,
            "--vectors" => {
                vectors = args.next().ok_or("--vectors needs a value")?.into();
            }
            other => match other.strip_prefix("--vectors=") {
                Some(dir) => vectors = dir.into(),
                None => return Err(format!("unknown option `{other}` for generate")),
            },
        }
    }
    if check {
        return Ok(match sealwire_vectors::check_all(&vectors) {
            Ok(()) => {
                println!("{}: up to date", vectors.display());
                ExitCode::SUCCESS
            }
            Err(problems) => {
                println!(
                    "{}: {} differences from a fresh generation \
                     (run `sealwire-conformance generate`):",
                    vectors.display(),
                    problems.len()
                );
                for p in problems {
                    println!("  {p}");
                }
                ExitCode::FAILURE
            }
        });
    }
    sealwire_vectors::write_all(&vectors)
        .map_err(|e| format!("cannot write the vectors to {}: {e}", vectors.display()))?;
    let (files, errors) = runner::load_vectors(&vectors);
    let tests: usize = files.iter().map(|f| f.file.number_of_tests).sum();
    println!(
        "wrote {} files with {tests} tests to {}",
        files.len(),
        vectors.display()
    );
    if errors.is_empty() {
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!("the written files do not load:\n{}", errors.join("\n"));
        Ok(ExitCode::FAILURE)
    }
}

fn reference_adapter(args: &[String]) -> Result<ExitCode, String> {
    if let Some(extra) = args.first() {
        return Err(format!(
            "reference-adapter takes no arguments (got `{extra}`)"
        ));
    }
    let mut reference = ReferenceImplementation::new();
    let implementation: &mut dyn Implementation = &mut reference;
    let stdin = std::io::stdin().lock();
    let stdout = std::io::stdout().lock();
    match sealwire_reference::serve(implementation, stdin, stdout) {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(e) => {
            eprintln!("reference-adapter: {e}");
            Ok(ExitCode::FAILURE)
        }
    }
}
