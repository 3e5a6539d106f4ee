//! `sealwire-blackbox`: the black-box mode's command line (PROPERTIES.md,
//! "Black-box mode"; ADAPTER-v2.md).

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, CommandFactory, Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use sealwire_blackbox::client::Capability;
use sealwire_blackbox::{campaign, fuzz, model, progress};

const EXIT_CODES: &str = "\
Exit status: 0 every selected check passed; 1 a check failed (a violated \
property, a broken adapter, a run that checked nothing, an unmet --require, \
a campaign that differs from its record, a stale FINDINGS.md); 2 usage or \
I/O error (including an output file that cannot be written, reported \
before the run).";

/// The black-box mode of the Sealwire suite: the adversarial property
/// model, the leak checks and the message fuzzer against any Double Ratchet
/// implementation served by a protocol-2 adapter (conformance/ADAPTER-v2.md).
#[derive(Debug, Parser)]
#[command(
    name = "sealwire-blackbox",
    version,
    propagate_version = true,
    after_help = EXIT_CODES
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the black-box property model (the fixed checks, then random
    /// schedules) and print a verdict per property.
    #[command(after_help = PROPS_AFTER_HELP)]
    Props(PropsArgs),
    /// Run the message fuzzer: mutated messages into recorded
    /// conversations; failures are minimised and written to --out.
    #[command(after_help = EXIT_CODES)]
    Fuzz(FuzzArgs),
    /// Run the model and the fuzzer with fixed seeds, then record the
    /// result or check it against the record.
    #[command(after_help = EXIT_CODES)]
    Campaign(CampaignArgs),
    /// Generate FINDINGS.md (and its JSON table) from the recorded
    /// campaigns, or check that it is up to date.
    #[command(after_help = EXIT_CODES)]
    Findings(FindingsArgs),
    /// List the documented tolerances `--tolerate` accepts.
    #[command(after_help = EXIT_CODES)]
    Tolerances,
    /// Print a shell completion script to stdout.
    #[command(after_help = EXIT_CODES)]
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
}

const PROPS_AFTER_HELP: &str = "\
--require (what CI should use): `--require all` fails the run unless every \
optional capability (state, skipped_count, secrets, layout) was announced \
and every property was tested; `--require state,layout` asks that of the \
listed capabilities and the properties that need them.

Exit status: 0 every property tested held and the requirements were met; \
1 a property was violated, the adapter broke, nothing was checked or a \
requirement was not met; 2 usage or I/O error.";

/// The options every command that talks to an adapter shares.
#[derive(Debug, Args)]
struct AdapterArgs {
    /// Run `sh -c '<COMMAND>'` as a protocol-2 adapter (ADAPTER-v2.md).
    #[arg(long = "impl", value_name = "COMMAND")]
    implementation: String,
    /// The run's seed (the same seed gives every implementation the same
    /// schedules and inputs).
    #[arg(long, value_name = "U64", default_value_t = 1)]
    seed: u64,
    /// Per-request timeout, in seconds.
    #[arg(long, value_name = "SECS", default_value = "10", value_parser = sealwire_adapter::parse_timeout)]
    timeout: Duration,
}

#[derive(Debug, Args)]
struct PropsArgs {
    #[command(flatten)]
    adapter: AdapterArgs,
    /// Random cases after the fixed checks (0: the fixed checks only).
    #[arg(long, value_name = "N", default_value_t = 64)]
    cases: u64,
    /// Longest schedule.
    #[arg(long, value_name = "N", default_value_t = 48,
          value_parser = clap::value_parser!(u64).range(1..))]
    max_ops: u64,
    /// Accept a documented tolerance (`sealwire-blackbox tolerances`):
    /// counted in the report, not hidden.
    #[arg(long, value_name = "NAME")]
    tolerate: Vec<String>,
    /// Skip the fixed checks (tamper sweep, store pressure).
    #[arg(long)]
    no_fixed: bool,
    /// Fail unless each listed capability (comma-separated) was announced
    /// and its properties tested; `all`: every capability and every
    /// property (repeatable).
    #[arg(long, value_name = "CAPS|all", value_delimiter = ',', value_parser = parse_require)]
    require: Vec<Require>,
}

/// One `--require` value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Require {
    All,
    One(Capability),
}

fn parse_require(text: &str) -> Result<Require, String> {
    if text == "all" {
        return Ok(Require::All);
    }
    Capability::from_name(text)
        .map(Require::One)
        .ok_or_else(|| {
            format!(
                "unknown capability `{text}` (known: all, {})",
                Capability::ALL.map(Capability::name).join(", ")
            )
        })
}

#[derive(Debug, Args)]
struct FuzzArgs {
    #[command(flatten)]
    adapter: AdapterArgs,
    /// Inputs to send.
    #[arg(long, value_name = "N", default_value_t = 1000)]
    runs: u64,
    /// Where minimised failures are written.
    #[arg(long, value_name = "DIR", default_value = "fuzz-failures")]
    out: PathBuf,
    /// Replay one failure file instead of fuzzing.
    #[arg(long, value_name = "FILE")]
    replay: Option<PathBuf>,
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("mode").required(true).args(["record", "check"])))]
struct CampaignArgs {
    /// The campaign's name (shown in reports and FINDINGS.md).
    #[arg(long, value_name = "NAME")]
    name: String,
    #[command(flatten)]
    adapter: AdapterArgs,
    /// Random model cases.
    #[arg(long, value_name = "N", default_value_t = 32)]
    cases: u64,
    /// Fuzz inputs.
    #[arg(long, value_name = "N", default_value_t = 1000)]
    runs: u64,
    /// Accept a documented tolerance (`sealwire-blackbox tolerances`).
    #[arg(long, value_name = "NAME")]
    tolerate: Vec<String>,
    /// Write the result to FILE.
    #[arg(long, value_name = "FILE")]
    record: Option<PathBuf>,
    /// Compare the result with FILE: fails on any difference in violations.
    #[arg(long, value_name = "FILE")]
    check: Option<PathBuf>,
    /// Where the fuzzer's failure files go (default: a temporary directory).
    #[arg(long, value_name = "DIR")]
    fuzz_out: Option<PathBuf>,
}

#[derive(Debug, Args)]
struct FindingsArgs {
    /// The recorded campaigns and reports.
    #[arg(long, value_name = "DIR", default_value = "conformance/findings")]
    dir: PathBuf,
    /// The Markdown table to write (or check).
    #[arg(long, value_name = "FILE", default_value = "conformance/FINDINGS.md")]
    out: PathBuf,
    /// Also write the table as JSON to FILE.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
    /// Check that --out is what would be generated; write nothing.
    #[arg(long, conflicts_with = "json")]
    check: bool,
}

/// Fails (exit 2) before a run if `path` cannot be written.
fn check_writable(path: &std::path::Path) -> Result<(), String> {
    std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)
        .map(drop)
        .map_err(|e| format!("cannot write {}: {e}", path.display()))
}

fn props(args: PropsArgs) -> Result<ExitCode, String> {
    let cfg = model::Config {
        command: args.adapter.implementation,
        cases: args.cases,
        seed: args.adapter.seed,
        max_ops: usize::try_from(args.max_ops).map_err(|e| format!("--max-ops: {e}"))?,
        timeout: args.adapter.timeout,
        tolerate: args.tolerate.into_iter().collect(),
        fixed: !args.no_fixed,
        shrink_runs: 150,
    };
    let every = args.require.contains(&Require::All);
    let required: BTreeSet<Capability> = if every {
        Capability::ALL.into_iter().collect()
    } else {
        args.require
            .iter()
            .filter_map(|r| match r {
                Require::One(c) => Some(*c),
                Require::All => None,
            })
            .collect()
    };
    let report = match model::run(&cfg) {
        Ok(report) => report,
        Err(model::RunError::UnknownTolerance(name)) => {
            return Err(model::RunError::UnknownTolerance(name).to_string());
        }
        Err(e) => {
            println!("props: FAIL: the implementation could not be started: {e}");
            return Ok(ExitCode::FAILURE);
        }
    };
    print!("{}", report.render());
    // A run that checked nothing does not pass.
    let (ok, closing) = report.verdict(&report.unmet(&required, every));
    print!("{closing}");
    println!("props: {}", if ok { "PASS" } else { "FAIL" });
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn fuzz_cmd(args: FuzzArgs) -> Result<ExitCode, String> {
    let cfg = fuzz::FuzzConfig {
        command: args.adapter.implementation,
        runs: args.runs,
        seed: args.adapter.seed,
        timeout: args.adapter.timeout,
        out: args.out,
    };
    if let Some(file) = args.replay {
        let (f, v) = fuzz::replay(&cfg.command, &file, cfg.timeout)?;
        return Ok(match v {
            Some(v) => {
                println!("reproduced: {} violated: {}", v.property.name(), v.what);
                println!("(recorded: {} violated: {})", f.property, f.what);
                ExitCode::FAILURE
            }
            None => {
                println!("not reproduced: the input was rejected and nothing changed");
                ExitCode::SUCCESS
            }
        });
    }
    std::fs::create_dir_all(&cfg.out).map_err(|e| format!("{}: {e}", cfg.out.display()))?;
    let report = fuzz::run(&cfg).map_err(|e| e.to_string())?;
    print!("{}", report.render());
    // A run that sent no input does not pass.
    Ok(if report.failures.is_empty() && report.counts().0 > 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn campaign_cmd(args: CampaignArgs) -> Result<ExitCode, String> {
    let cfg = campaign::CampaignConfig {
        name: args.name,
        command: args.adapter.implementation,
        cases: args.cases,
        runs: args.runs,
        seed: args.adapter.seed,
        tolerate: args.tolerate.into_iter().collect(),
        timeout: args.adapter.timeout,
        fuzz_out: args
            .fuzz_out
            .unwrap_or_else(|| std::env::temp_dir().join("sealwire-blackbox-fuzz")),
    };
    if let Some(path) = &args.record {
        check_writable(path)?;
    }
    let recorded: Option<serde_json::Value> = match &args.check {
        None => None,
        Some(path) => Some(
            std::fs::read_to_string(path)
                .map_err(|e| format!("{}: {e}", path.display()))
                .and_then(|t| {
                    serde_json::from_str(&t).map_err(|e| format!("{}: {e}", path.display()))
                })?,
        ),
    };
    let result = campaign::run(&cfg)?;
    if let Some(path) = args.record {
        let text = serde_json::to_string_pretty(&result).map_err(|e| e.to_string())? + "\n";
        std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))?;
        println!(
            "recorded {} violations in {}",
            campaign::violations(&result).len(),
            path.display()
        );
        return Ok(ExitCode::SUCCESS);
    }
    let recorded = recorded.unwrap_or_default();
    let diff = campaign::compare(&recorded, &result);
    let n = &result["numbers"];
    println!(
        "campaign {}: {} cases, {} fuzz inputs, {} requests, {} s; violations: {:?}",
        cfg.name,
        n["model_cases"],
        n["fuzz_inputs"],
        n["model_requests"].as_u64().unwrap_or(0) + n["fuzz_requests"].as_u64().unwrap_or(0),
        n["seconds"],
        campaign::violations(&result)
    );
    if diff.is_empty() {
        println!(
            "campaign {}: the violations are exactly the recorded ones",
            cfg.name
        );
        Ok(ExitCode::SUCCESS)
    } else {
        for d in &diff {
            println!("campaign {}: {d}", cfg.name);
        }
        Ok(ExitCode::FAILURE)
    }
}

fn findings_cmd(args: FindingsArgs) -> Result<ExitCode, String> {
    let md = campaign::findings_markdown(&args.dir)?;
    if args.check {
        let current = std::fs::read_to_string(&args.out).unwrap_or_default();
        if current != md {
            println!(
                "{} is not what `sealwire-blackbox findings` generates from {}",
                args.out.display(),
                args.dir.display()
            );
            return Ok(ExitCode::FAILURE);
        }
        println!("{} is up to date", args.out.display());
        return Ok(ExitCode::SUCCESS);
    }
    std::fs::write(&args.out, md).map_err(|e| format!("{}: {e}", args.out.display()))?;
    if let Some(path) = args.json {
        let table = campaign::findings_json(&args.dir)?;
        let text = serde_json::to_string_pretty(&table).map_err(|e| e.to_string())? + "\n";
        std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    println!("wrote {}", args.out.display());
    Ok(ExitCode::SUCCESS)
}

/// A progress bar on stderr for the model's cases and the fuzzer's inputs
/// (indicatif draws nothing when stderr is not a terminal, as in CI).
fn progress_bar() -> ProgressBar {
    let bar = ProgressBar::new(0);
    if let Ok(style) = ProgressStyle::with_template("{msg:>5} [{bar:40}] {pos}/{len} {elapsed}") {
        bar.set_style(style);
    }
    let b = bar.clone();
    progress::set(Some(Box::new(move |what, done, total| {
        if b.message() != what {
            b.reset();
            b.set_message(what.to_owned());
        }
        b.set_length(total);
        b.set_position(done);
    })));
    bar
}

fn main() -> ExitCode {
    // Usage errors exit 2, --help and --version 0 (clap's convention).
    let cli = Cli::parse();
    let bar = progress_bar();
    let result = match cli.command {
        Command::Props(args) => props(args),
        Command::Fuzz(args) => fuzz_cmd(args),
        Command::Campaign(args) => campaign_cmd(args),
        Command::Findings(args) => findings_cmd(args),
        Command::Tolerances => {
            for t in model::TOLERANCES {
                println!("{} ({}): {}", t.name, t.property.name(), t.why);
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Completions { shell } => {
            clap_complete::generate(
                shell,
                &mut Cli::command(),
                "sealwire-blackbox",
                &mut std::io::stdout(),
            );
            Ok(ExitCode::SUCCESS)
        }
    };
    progress::set(None);
    bar.finish_and_clear();
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("sealwire-blackbox: {e}");
            ExitCode::from(2)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn require_parses_names_and_all_and_rejects_others() {
        let cli = Cli::try_parse_from([
            "sealwire-blackbox",
            "props",
            "--impl",
            "x",
            "--require",
            "state,layout",
            "--require",
            "all",
        ])
        .expect("parses");
        let Command::Props(p) = cli.command else {
            panic!("props expected, got {:?}", cli.command)
        };
        assert_eq!(
            p.require,
            [
                Require::One(Capability::State),
                Require::One(Capability::Layout),
                Require::All
            ]
        );
        let err = Cli::try_parse_from([
            "sealwire-blackbox",
            "props",
            "--impl",
            "x",
            "--require",
            "sesion",
        ])
        .expect_err("unknown capability");
        assert!(
            err.to_string().contains("unknown capability `sesion`"),
            "{err}"
        );
    }

    #[test]
    fn campaign_needs_exactly_one_of_record_and_check() {
        let base = [
            "sealwire-blackbox",
            "campaign",
            "--name",
            "n",
            "--impl",
            "x",
        ];
        assert!(Cli::try_parse_from(base).is_err());
        let both = [&base[..], &["--record", "a", "--check", "b"]].concat();
        assert!(Cli::try_parse_from(both).is_err());
        let one = [&base[..], &["--check", "b"]].concat();
        assert!(Cli::try_parse_from(one).is_ok());
    }
}
