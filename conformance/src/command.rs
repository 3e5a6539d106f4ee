//! The `sealwire-conformance` command line: its subcommands, their options
//! and the usage text (the binary's `main` only calls [`command_line`]).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, CommandFactory, Parser, Subcommand};
use sealwire_adapter::{AdapterConfig, AdapterImplementation, Capability, Implementation};
use sealwire_reference::ReferenceImplementation;

use crate::report;
use crate::runner::{self, RunOptions, RunReport};

/// Exit codes, shown in every command's `--help`.
const EXIT_CODES: &str = "\
Exit status: 0 every selected check passed; 1 a check failed (including a \
broken adapter, an empty selection or an unmet --require); 2 usage or I/O \
error (including an output file that cannot be written, reported before the \
run).";

/// The Sealwire v1 conformance suite.
///
/// Without a subcommand, `run` (its options may be given directly).
#[derive(Debug, Parser)]
#[command(
    name = "sealwire-conformance",
    version,
    propagate_version = true,
    args_conflicts_with_subcommands = true,
    after_help = EXIT_CODES
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    run: RunArgs,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run every vector against an implementation (the default command).
    ///
    /// Prints a per-area table of passed, failed and skipped tests (skipped
    /// ones with their reasons), which capability claims held, and the
    /// closing line `N passed, M failed, K skipped`. A test needing a
    /// capability the implementation did not announce is skipped;
    /// `unsupported` answered inside an announced capability fails the test.
    #[command(after_help = RUN_AFTER_HELP)]
    Run(RunArgs),
    /// Rewrite every vector file from fixed seeds (or check them, --check).
    #[command(after_help = EXIT_CODES)]
    Generate(GenerateArgs),
    /// Serve the built-in reference over the adapter protocol on stdin/stdout.
    ///
    /// An example adapter, and a check of the adapter path:
    /// `run --impl 'sealwire-conformance reference-adapter'`.
    #[command(after_help = EXIT_CODES)]
    ReferenceAdapter,
    /// Run the adversarial-network property model (conformance/PROPERTIES.md).
    ///
    /// Reports the first violated property with its shrunk schedule, and
    /// which capabilities the run exercised.
    #[command(after_help = EXIT_CODES)]
    Props(crate::props::PropsArgs),
    /// Run live conversations between the reference and an adapter.
    ///
    /// Both directions, with out-of-order delivery, drops, replays and
    /// tampering; every step is compared with a reference-only run that uses
    /// the same keys. Without --impl the in-process reference plays both (a
    /// self-check).
    #[command(after_help = EXIT_CODES)]
    Interop(crate::interop::InteropArgs),
    /// The suite's self-test over the planted flaws (needs --features planted-flaws).
    #[command(after_help = EXIT_CODES)]
    Zoo(ZooArgs),
    /// Print a shell completion script to stdout.
    #[command(after_help = EXIT_CODES)]
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
}

const RUN_AFTER_HELP: &str = "\
Filter examples (any match selects; an empty selection fails, exit 1):
  --filter primitives/            every test in files under primitives/
  --filter Rfc7748                tests whose file path or a flag contains Rfc7748
  --filter 7                      every test with tcId 7
  --filter session_in_order.json#3  tcId 3 of that file

CI should use `run --require all`.

Exit status: 0 every selected test passed (and every --require held); 1 a \
test failed, the adapter broke, nothing was selected or a requirement was not \
met; 2 usage or I/O error (an output file that cannot be written is reported \
before the run).";

/// Options of `zoo`.
#[derive(Debug, Args)]
pub(crate) struct ZooArgs {
    /// Only this planted flaw (repeatable; default: all).
    #[arg(long = "flaw", value_name = "NAME")]
    pub(crate) flaws: Vec<String>,
    /// Cases of the bounded property run.
    #[arg(long, value_name = "N")]
    pub(crate) cases: Option<u32>,
    /// Samples of the dudect measurement.
    #[arg(long, value_name = "N")]
    pub(crate) ct_samples: Option<usize>,
    /// The vectors directory.
    #[arg(long, value_name = "DIR")]
    pub(crate) vectors: Option<PathBuf>,
    /// The fuzz seeds' directory (conformance/oracles).
    #[arg(long, value_name = "DIR")]
    pub(crate) fuzz_dir: Option<PathBuf>,
    /// Also write the table as Markdown to this file.
    #[arg(long, value_name = "FILE")]
    pub(crate) markdown: Option<PathBuf>,
}

/// Options of `generate`.
#[derive(Debug, Args)]
struct GenerateArgs {
    /// Write nothing; fail (exit 1) if the checked-in files differ from a
    /// fresh generation.
    #[arg(long)]
    check: bool,
    /// The vectors directory (default: this crate's vectors/).
    #[arg(long, value_name = "DIR")]
    vectors: Option<PathBuf>,
}

/// Runs the command line `args` (without the program name) and gives the
/// exit status: 0 on success, 1 on a failed check, 2 on a usage or I/O
/// error.
pub fn command_line(args: &[String]) -> ExitCode {
    let argv = std::iter::once("sealwire-conformance".to_owned()).chain(args.iter().cloned());
    let cli = match Cli::try_parse_from(argv) {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    let result = match cli.command {
        None => run(cli.run),
        Some(Command::Run(args)) => run(args),
        Some(Command::Generate(args)) => generate(args),
        Some(Command::ReferenceAdapter) => reference_adapter(),
        Some(Command::Interop(args)) => crate::interop::cli(args),
        Some(Command::Props(args)) => crate::props::command(args),
        Some(Command::Completions { shell }) => {
            clap_complete::generate(
                shell,
                &mut Cli::command(),
                "sealwire-conformance",
                &mut std::io::stdout(),
            );
            Ok(ExitCode::SUCCESS)
        }
        #[cfg(feature = "planted-flaws")]
        Some(Command::Zoo(args)) => crate::zoo::cli(args),
        #[cfg(not(feature = "planted-flaws"))]
        Some(Command::Zoo(_)) => Err("the zoo needs the planted flaws: cargo run --release -p \
                      sealwire-conformance --features planted-flaws -- zoo"
            .to_owned()),
    };
    match result {
        Ok(code) => code,
        Err(why) => {
            eprintln!("error: {why}");
            ExitCode::from(2)
        }
    }
}

/// `--require`'s value: `all`, or capability names separated by commas.
#[derive(Clone, Debug)]
pub(crate) struct Require(pub(crate) Vec<Capability>);

impl std::str::FromStr for Require {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        parse_require(text).map(Require)
    }
}

/// All the capabilities of `--require` options.
pub(crate) fn required(list: &[Require]) -> Vec<Capability> {
    let mut out = Vec::new();
    for c in list.iter().flat_map(|r| &r.0) {
        if !out.contains(c) {
            out.push(*c);
        }
    }
    out
}

/// Parses `--timeout`'s value.
pub(crate) fn parse_timeout(text: &str) -> Result<Duration, String> {
    sealwire_adapter::parse_timeout(text)
}

/// Checks that `path` can be written, before a run: creates (or truncates)
/// it.
pub(crate) fn check_writable(path: &Path) -> Result<(), String> {
    std::fs::File::create(path)
        .map(drop)
        .map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// The options of `run`.
#[derive(Debug, Args)]
struct RunArgs {
    /// Run `sh -c '<COMMAND>'` as an adapter (ADAPTER.md) instead of the
    /// built-in reference implementation.
    #[arg(long = "impl", value_name = "COMMAND")]
    implementation: Option<String>,
    /// Only tests whose file path or a flag contains TEXT, whose tcId equals
    /// it, or `<path>#<tcId>`; repeatable (any match selects).
    #[arg(long = "filter", value_name = "TEXT")]
    filters: Vec<String>,
    /// Also write a JUnit XML report.
    #[arg(long, value_name = "FILE")]
    junit: Option<PathBuf>,
    /// Also write a JSON report.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
    /// Per-request timeout for --impl, in seconds.
    #[arg(long, value_name = "SECS", default_value = "10", value_parser = parse_timeout)]
    timeout: Duration,
    /// The vectors directory (default: this crate's vectors/).
    #[arg(long, value_name = "DIR")]
    vectors: Option<PathBuf>,
    /// No progress on stderr.
    #[arg(long, short)]
    quiet: bool,
    /// Fail unless each listed capability (comma-separated, or `all`) was
    /// announced, none of its tests was skipped and all passed (repeatable).
    /// CI should use --require all.
    #[arg(long, value_name = "CAPS|all")]
    require: Vec<Require>,
}

fn default_vectors() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("vectors")
}

/// Parses `--require`'s value: `all`, or capability names separated by
/// commas.
pub(crate) fn parse_require(text: &str) -> Result<Vec<Capability>, String> {
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
                    "unknown capability `{name}`; `all` or a comma-separated list of: {}",
                    names.join(", ")
                )
            })?;
        if !list.contains(&capability) {
            list.push(capability);
        }
    }
    Ok(list)
}

fn run(args: RunArgs) -> Result<ExitCode, String> {
    let vectors = args.vectors.clone().unwrap_or_else(default_vectors);
    if !vectors.is_dir() {
        return Err(format!(
            "vectors directory {} does not exist",
            vectors.display()
        ));
    }
    for path in args.json.iter().chain(&args.junit) {
        check_writable(path)?;
    }
    let (files, load_errors) = runner::load_vectors(&vectors);
    let options = RunOptions {
        filters: args.filters.clone(),
        progress: !args.quiet,
        require: required(&args.require),
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
    if report.results.is_empty() && !args.filters.is_empty() {
        eprintln!(
            "error: the filter{} {} selected no test (run --help shows examples)",
            if args.filters.len() == 1 { "" } else { "s" },
            args.filters
                .iter()
                .map(|f| format!("`{f}`"))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
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

fn generate(args: GenerateArgs) -> Result<ExitCode, String> {
    let check = args.check;
    let vectors = args.vectors.unwrap_or_else(default_vectors);
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

fn reference_adapter() -> Result<ExitCode, String> {
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
