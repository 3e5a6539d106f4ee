//! The `props` subcommand of `sealwire-conformance`.

use std::process::ExitCode;

use sealwire_adapter::Implementation;
use sealwire_adapter::{AdapterConfig, AdapterImplementation, DEFAULT_TIMEOUT};
use sealwire_model::{CampaignOptions, run_campaign};
use sealwire_reference::ReferenceImplementation;

/// Usage of `props`, for the binary's help text.
pub(crate) const USAGE: &str = "\
props runs the adversarial-network property model (conformance/PROPERTIES.md)
against an implementation and reports the first violated property with its
shrunk schedule. Exit status: 0 if every case passed, 1 on a violation, 2 on
a usage error.

    --impl '<command>'   run `sh -c '<command>'` as an adapter (ADAPTER.md)
                         instead of the built-in reference implementation
    --cases <n>          cases per property (default 64)
    --seed <u64>         the campaign seed (default: random, reported)
    --max-ops <n>        longest schedule (default 48)
    --timeout <secs>     per-request timeout for --impl (default 10)
    --tolerate earlier-chain-replay
                         accept `decryption_failed` or `ratchet_limit` where
                         the model says `duplicate` for a message whose key is
                         gone (earlier chain, or evicted); counted, not hidden
";

/// Runs `props` with its arguments (after the subcommand name).
pub(crate) fn command(args: &[String]) -> Result<ExitCode, String> {
    let mut options = CampaignOptions::default();
    let mut implementation = None;
    let mut timeout = DEFAULT_TIMEOUT;
    if args.iter().any(|a| a == "--help" || a == "-h") {
        print!("sealwire-conformance props [OPTIONS]\n\n{USAGE}");
        return Ok(ExitCode::SUCCESS);
    }
    let mut options_in = crate::cli::OptionParser::new(args);
    while let Some(name) = options_in.next_name() {
        let mut value = || options_in.value(name);
        match name {
            "--impl" => implementation = Some(value()?),
            "--tolerate" => match value()?.as_str() {
                "earlier-chain-replay" => options.tolerance.earlier_chain_replay = true,
                other => return Err(format!("--tolerate: unknown difference `{other}`")),
            },
            "--cases" => options.cases = number(name, &value()?)?,
            "--seed" => options.seed = Some(number(name, &value()?)?),
            "--max-ops" => options.max_ops = number(name, &value()?)?,
            "--timeout" => timeout = sealwire_adapter::parse_timeout(&value()?)?,
            other => return Err(format!("unknown option `{other}` for props")),
        }
    }
    if options.cases == 0 || options.max_ops == 0 {
        return Err("--cases and --max-ops must be at least 1".into());
    }
    let report = match implementation {
        None => run_campaign(&mut ReferenceImplementation::new(), &options),
        Some(command) => {
            let mut config = AdapterConfig::new(command.clone());
            config.timeout = timeout;
            let mut adapter = AdapterImplementation::spawn(config)
                .map_err(|e| format!("the implementation could not be started: {e}"))?;
            eprintln!(
                "props: {} ({} cases per property, schedules of up to {} steps)",
                adapter.name(),
                options.cases,
                options.max_ops
            );
            run_campaign(&mut adapter, &options)
        }
    };
    println!("{report}");
    Ok(if report.failure.is_none() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn number<T: core::str::FromStr>(name: &str, text: &str) -> Result<T, String> {
    text.parse()
        .map_err(|_| format!("{name}: `{text}` is not a valid number"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use sealwire_model::MAX_OPS;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn bad_options_are_usage_errors() {
        assert!(command(&args(&["--cases", "many"])).is_err());
        assert!(command(&args(&["--cases", "0"])).is_err());
        assert!(command(&args(&["--frobnicate"])).is_err());
        assert!(command(&args(&["--seed"])).is_err());
        assert!(command(&args(&["--timeout", "-1"])).is_err());
    }

    #[test]
    fn the_reference_passes_a_small_campaign() {
        let code = command(&args(&["--cases", "2", "--seed", "11", "--max-ops", "8"]));
        assert_eq!(code, Ok(ExitCode::SUCCESS));
    }

    #[test]
    fn max_ops_default_matches_the_usage_text() {
        assert!(USAGE.contains(&format!("(default {MAX_OPS})")));
        assert!(USAGE.contains(&format!("(default {})", CampaignOptions::default().cases)));
    }
}
