//! `sealwire-blackbox`: the black-box mode's command line (PROPERTIES.md,
//! "Black-box mode"; ADAPTER-v2.md).

use std::collections::BTreeSet;
use std::process::ExitCode;
use std::time::Duration;

use std::path::PathBuf;

use sealwire_blackbox::{fuzz, model};

const USAGE: &str = "usage:
  sealwire-blackbox props --impl '<command>' [--cases N] [--seed S] [--max-ops M] [--timeout SECS] [--tolerate NAME]... [--no-fixed]
  sealwire-blackbox fuzz --impl '<command>' [--runs N] [--seed S] [--out DIR] [--timeout SECS]
  sealwire-blackbox fuzz --impl '<command>' --replay FILE
  sealwire-blackbox tolerances";

fn value<T: std::str::FromStr>(args: &[String], i: &mut usize, flag: &str) -> Result<T, String> {
    *i += 1;
    args.get(*i)
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| format!("{flag} needs a valid value"))
}

fn props(args: &[String]) -> Result<ExitCode, String> {
    let mut cfg = model::Config {
        command: String::new(),
        cases: 64,
        seed: 1,
        max_ops: 48,
        timeout: Duration::from_secs(10),
        tolerate: BTreeSet::new(),
        fixed: true,
        shrink_runs: 150,
    };
    let mut i = 0;
    while i < args.len() {
        match args[i].as_str() {
            "--impl" => cfg.command = value(args, &mut i, "--impl")?,
            "--cases" => cfg.cases = value(args, &mut i, "--cases")?,
            "--seed" => cfg.seed = value(args, &mut i, "--seed")?,
            "--max-ops" => cfg.max_ops = value(args, &mut i, "--max-ops")?,
            "--timeout" => cfg.timeout = Duration::from_secs_f64(value(args, &mut i, "--timeout")?),
            "--tolerate" => {
                cfg.tolerate.insert(value(args, &mut i, "--tolerate")?);
            }
            "--no-fixed" => cfg.fixed = false,
            other => return Err(format!("unknown argument `{other}`\n{USAGE}")),
        }
        i += 1;
    }
    if cfg.command.is_empty() {
        return Err(format!("--impl is required\n{USAGE}"));
    }
    let report = model::run(&cfg).map_err(|e| e.to_string())?;
    print!("{}", report.render());
    let (_, failed, _) = report.counts();
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn fuzz_cmd(args: &[String]) -> Result<ExitCode, String> {
    let mut cfg = fuzz::FuzzConfig {
        command: String::new(),
        runs: 1000,
        seed: 1,
        timeout: Duration::from_secs(10),
        out: PathBuf::from("fuzz-failures"),
    };
    let mut replay: Option<PathBuf> = None;
    let mut i = 0;
    while i < args.len() {
        match args[i].as_str() {
            "--impl" => cfg.command = value(args, &mut i, "--impl")?,
            "--runs" => cfg.runs = value(args, &mut i, "--runs")?,
            "--seed" => cfg.seed = value(args, &mut i, "--seed")?,
            "--out" => cfg.out = value(args, &mut i, "--out")?,
            "--timeout" => cfg.timeout = Duration::from_secs_f64(value(args, &mut i, "--timeout")?),
            "--replay" => replay = Some(value(args, &mut i, "--replay")?),
            other => return Err(format!("unknown argument `{other}`\n{USAGE}")),
        }
        i += 1;
    }
    if cfg.command.is_empty() {
        return Err(format!("--impl is required\n{USAGE}"));
    }
    if let Some(file) = replay {
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
    let report = fuzz::run(&cfg).map_err(|e| e.to_string())?;
    print!("{}", report.render());
    Ok(if report.failures.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("props") => props(&args[1..]),
        Some("fuzz") => fuzz_cmd(&args[1..]),
        Some("tolerances") => {
            for t in model::TOLERANCES {
                println!("{} ({}): {}", t.name, t.property.name(), t.why);
            }
            Ok(ExitCode::SUCCESS)
        }
        _ => Err(USAGE.to_owned()),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("sealwire-blackbox: {e}");
            ExitCode::from(2)
        }
    }
}
