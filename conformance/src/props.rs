//! The `props` subcommand of `sealwire-conformance`.

use std::collections::BTreeSet;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, ValueEnum};
use sealwire_adapter::{AdapterConfig, AdapterImplementation, Capability, Implementation};
use sealwire_model::{CampaignOptions, CampaignReport, MAX_OPS, run_campaign};
use sealwire_reference::ReferenceImplementation;

use crate::command::{Require, parse_timeout, required};

/// The capabilities the property model exercises (PROPERTIES.md): without
/// `session` nothing is checked; the others add checks when announced.
pub(crate) const USED: [Capability; 5] = [
    Capability::Session,
    Capability::Bundle,
    Capability::State,
    Capability::SealedState,
    Capability::SkippedCount,
];

/// A documented difference `--tolerate` accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum Tolerate {
    /// Accept `decryption_failed` or `ratchet_limit` where the model says
    /// `duplicate` for a message whose key is gone (earlier chain, or
    /// evicted); counted, not hidden.
    EarlierChainReplay,
}

/// Options of `props`.
#[derive(Debug, Args)]
pub(crate) struct PropsArgs {
    /// Run `sh -c '<COMMAND>'` as an adapter (ADAPTER.md) instead of the
    /// built-in reference implementation.
    #[arg(long = "impl", value_name = "COMMAND")]
    implementation: Option<String>,
    /// Cases per property.
    #[arg(long, value_name = "N", default_value_t = CampaignOptions::default().cases,
          value_parser = clap::value_parser!(u32).range(1..))]
    cases: u32,
    /// The campaign seed (default: random, reported).
    #[arg(long, value_name = "U64")]
    seed: Option<u64>,
    /// Longest schedule.
    #[arg(long, value_name = "N", default_value_t = MAX_OPS,
          value_parser = at_least_one)]
    max_ops: usize,
    /// Per-request timeout for --impl, in seconds.
    #[arg(long, value_name = "SECS", default_value = "10", value_parser = parse_timeout)]
    timeout: Duration,
    /// Accept a documented difference (counted in the report, not hidden).
    #[arg(long, value_name = "DIFFERENCE")]
    tolerate: Vec<Tolerate>,
    /// Fail unless each listed capability (comma-separated, or `all`: every
    /// capability props uses: session, bundle, state, sealed_state,
    /// skipped_count) was announced and exercised (repeatable).
    #[arg(long, value_name = "CAPS|all")]
    require: Vec<Require>,
}

fn at_least_one(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(0) => Err("must be at least 1".into()),
        Ok(n) => Ok(n),
        Err(e) => Err(e.to_string()),
    }
}

/// How props used each capability: `Ok` if exercised, `Err(why not)`.
pub(crate) fn exercised(
    announced: &BTreeSet<Capability>,
    report: &CampaignReport,
) -> Vec<(Capability, Result<(), String>)> {
    let c = &report.coverage;
    USED.iter()
        .map(|&capability| {
            let outcome = if !announced.contains(&capability) {
                Err("not announced".to_owned())
            } else {
                let used = match capability {
                    Capability::Session => c.sent > 0,
                    // The handshake cases run whenever `bundle` is announced.
                    Capability::Bundle => report.cases > 0,
                    Capability::State => c.restarts > 0 || c.state_compared > 0,
                    // Sealed restarts are a kind of restart (needs `state`).
                    Capability::SealedState => {
                        announced.contains(&Capability::State) && c.restarts > 0
                    }
                    Capability::SkippedCount => c.accepted > 0,
                    _ => false,
                };
                if used {
                    Ok(())
                } else {
                    Err("announced but not exercised by this run".to_owned())
                }
            };
            (capability, outcome)
        })
        .collect()
}

/// Runs `props` with its parsed arguments.
pub(crate) fn command(args: PropsArgs) -> Result<ExitCode, String> {
    let mut options = CampaignOptions {
        cases: args.cases,
        seed: args.seed,
        max_ops: args.max_ops,
        ..CampaignOptions::default()
    };
    for t in &args.tolerate {
        match t {
            Tolerate::EarlierChainReplay => options.tolerance.earlier_chain_replay = true,
        }
    }
    let require = required(&args.require);
    let require: Vec<Capability> = if args.require.iter().any(|r| r.0 == Capability::ALL) {
        // `all`: what props uses.
        USED.to_vec()
    } else {
        require
    };
    if let Some(c) = require.iter().find(|c| !USED.contains(c)) {
        return Err(format!(
            "--require: props does not exercise `{}` (it uses session, bundle, state, \
             sealed_state, skipped_count)",
            c.name()
        ));
    }
    let mut reference;
    let mut adapter;
    let implementation: &mut dyn Implementation = match &args.implementation {
        None => {
            reference = ReferenceImplementation::new();
            &mut reference
        }
        Some(command) => {
            // ADAPTER-v2.md §2: the version-2 hello first; an adapter that
            // speaks version 1 only answers `wire`, and is restarted below.
            if let Some(code) = black_box(command, &args)? {
                return Ok(code);
            }
            let mut config = AdapterConfig::new(command.clone());
            config.timeout = args.timeout;
            adapter = match AdapterImplementation::spawn(config) {
                Ok(adapter) => adapter,
                Err(e) => {
                    println!("props: FAIL: the implementation could not be started: {e}");
                    return Ok(ExitCode::FAILURE);
                }
            };
            &mut adapter
        }
    };
    let announced = implementation.capabilities().clone();
    eprintln!(
        "props: {} ({} cases per property, schedules of up to {} steps)",
        implementation.name(),
        options.cases,
        options.max_ops
    );
    if !announced.contains(&Capability::Session) {
        println!(
            "props: {}: FAIL: nothing checked: the implementation does not announce \
             capability `session`, which every property needs",
            implementation.name()
        );
        return Ok(ExitCode::FAILURE);
    }
    let progress = crate::progress::spinner("props: running the property model");
    let report = run_campaign(implementation, &options);
    progress.finish_and_clear();
    println!("{report}");
    let exercised = exercised(&announced, &report);
    let yes: Vec<&str> = exercised
        .iter()
        .filter(|(_, r)| r.is_ok())
        .map(|(c, _)| c.name())
        .collect();
    let no: Vec<String> = exercised
        .iter()
        .filter_map(|(c, r)| r.as_ref().err().map(|why| format!("{} ({why})", c.name())))
        .collect();
    println!(
        "capabilities exercised: {}; not tested: {}",
        if yes.is_empty() {
            "none".to_owned()
        } else {
            yes.join(", ")
        },
        if no.is_empty() {
            "none".to_owned()
        } else {
            no.join(", ")
        }
    );
    let unmet: Vec<String> = require
        .iter()
        .filter_map(|c| {
            let (_, r) = exercised.iter().find(|(k, _)| k == c)?;
            r.as_ref()
                .err()
                .map(|why| format!("`{}` is required: {why}", c.name()))
        })
        .collect();
    for why in &unmet {
        println!("requirement not met (--require): {why}");
    }
    let checked_something = report.coverage.sent > 0;
    if !checked_something && report.failure.is_none() {
        println!("props: FAIL: no message was sent, nothing was checked");
    }
    let ok = report.failure.is_none() && checked_something && unmet.is_empty();
    println!("props: {}", if ok { "PASS" } else { "FAIL" });
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// `props --impl` against a protocol-2 adapter: the black-box property
/// model (PROPERTIES.md, "Black-box mode"), as `sealwire-blackbox props`
/// runs it. `Ok(None)` when the adapter speaks protocol 1 only.
///
/// `--require` is read in protocol 2's terms: `all` asks for every
/// optional capability of ADAPTER-v2.md §4.3 and every property tested;
/// `state` and `skipped_count` name their protocol-2 capabilities; `session`
/// and `bundle` are mandatory operations of protocol 2 (always met);
/// `sealed_state` has no protocol-2 counterpart and is reported unmet.
fn black_box(command: &str, args: &PropsArgs) -> Result<Option<ExitCode>, String> {
    use sealwire_blackbox::client::{Capability as V2, HelloError};
    use sealwire_blackbox::model::{self, RunError};
    let cfg = model::Config {
        command: command.to_owned(),
        cases: u64::from(args.cases),
        seed: args.seed.unwrap_or_else(sealwire_model::random_seed),
        max_ops: args.max_ops,
        timeout: args.timeout,
        tolerate: BTreeSet::new(),
        fixed: true,
        shrink_runs: 150,
    };
    if !args.tolerate.is_empty() {
        // Said before a run: the differences --tolerate names are the
        // byte-exact model's.
        match sealwire_blackbox::client::Client::connect(command, [0; 32], args.timeout) {
            Err(HelloError::Version1) => return Ok(None),
            Ok(probe) => {
                drop(probe.finish());
                return Err(
                    "--tolerate names differences of the byte-exact model; for a \
                            protocol-2 adapter use `sealwire-blackbox props --tolerate` \
                            (`sealwire-blackbox tolerances` lists them)"
                        .into(),
                );
            }
            // Reported by the run below.
            Err(_) => {}
        }
    }
    let progress = crate::progress::spinner("props: running the black-box property model");
    let run = model::run(&cfg);
    progress.finish_and_clear();
    let report = match run {
        Err(RunError::Hello(HelloError::Version1)) => return Ok(None),
        Err(RunError::UnknownTolerance(t)) => return Err(format!("--tolerate: unknown `{t}`")),
        Err(e) => {
            println!("props: FAIL: the implementation could not be started: {e}");
            return Ok(Some(ExitCode::FAILURE));
        }
        Ok(report) => report,
    };
    let every = args.require.iter().any(|r| r.0 == Capability::ALL);
    let mut required = BTreeSet::new();
    let mut unmet = Vec::new();
    let named = if every {
        required.extend(V2::ALL);
        Vec::new()
    } else {
        crate::command::required(&args.require)
    };
    for c in named {
        match c {
            Capability::State => {
                required.insert(V2::State);
            }
            Capability::SkippedCount => {
                required.insert(V2::SkippedCount);
            }
            Capability::SealedState => unmet.push(
                "`sealed_state` is required: protocol 2 has no sealed state (the adapter's \
                 export is opaque bytes)"
                    .to_owned(),
            ),
            _ => {}
        }
    }
    print!("{}", report.render());
    unmet.extend(report.unmet(&required, every));
    let (ok, closing) = report.verdict(&unmet);
    print!("{closing}");
    println!(
        "props: {} (adapter protocol 2, black box)",
        if ok { "PASS" } else { "FAIL" }
    );
    Ok(Some(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Wrapper {
        #[command(flatten)]
        props: PropsArgs,
    }

    fn parse(list: &[&str]) -> Result<PropsArgs, clap::Error> {
        Wrapper::try_parse_from(std::iter::once("props").chain(list.iter().copied()))
            .map(|w| w.props)
    }

    #[test]
    fn bad_options_are_usage_errors() {
        for bad in [
            &["--cases", "many"][..],
            &["--cases", "0"],
            &["--max-ops", "0"],
            &["--frobnicate"],
            &["--seed"],
            &["--timeout", "-1"],
            &["--tolerate", "everything"],
            &["--require", "telepathy"],
        ] {
            let e = parse(bad).expect_err(&format!("{bad:?}"));
            assert_eq!(e.exit_code(), 2, "{bad:?}");
        }
        let e = command(parse(&["--require", "wire"]).unwrap()).unwrap_err();
        assert!(e.contains("does not exercise `wire`"), "{e}");
    }

    #[test]
    fn the_reference_passes_a_small_campaign() {
        let args = parse(&[
            "--cases",
            "2",
            "--seed",
            "11",
            "--max-ops",
            "8",
            "--require",
            "all",
        ])
        .unwrap();
        assert_eq!(command(args), Ok(ExitCode::SUCCESS));
    }

    #[test]
    fn defaults_match_the_model() {
        let args = parse(&[]).unwrap();
        assert_eq!(args.max_ops, MAX_OPS);
        assert_eq!(args.cases, CampaignOptions::default().cases);
    }
}
