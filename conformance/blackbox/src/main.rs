//! `sealwire-blackbox`: the black-box mode's command line (PROPERTIES.md,
//! "Black-box mode"; ADAPTER-v2.md).

use std::collections::BTreeSet;
use std::process::ExitCode;
use std::time::Duration;

use std::path::PathBuf;

use indicatif::{ProgressBar, ProgressStyle};
use sealwire_blackbox::{campaign, fuzz, model, progress};

const USAGE: &str = "usage:
  sealwire-blackbox props --impl '<command>' [--cases N] [--seed S] [--max-ops M] [--timeout SECS] [--tolerate NAME]... [--no-fixed]
  sealwire-blackbox fuzz --impl '<command>' [--runs N] [--seed S] [--out DIR] [--timeout SECS]
  sealwire-blackbox fuzz --impl '<command>' --replay FILE
  sealwire-blackbox campaign --name NAME --impl '<command>' [--cases N] [--runs N] [--seed S] [--tolerate NAME]...
                             (--record FILE | --check FILE) [--fuzz-out DIR]
  sealwire-blackbox findings [--dir conformance/findings] [--out conformance/FINDINGS.md] [--json FILE] [--check]
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
    // A run that checked nothing does not pass.
    let (passed, failed, _) = report.counts();
    Ok(if failed == 0 && passed > 0 {
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
    // A run that sent no input does not pass.
    Ok(if report.failures.is_empty() && report.counts().0 > 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn campaign_cmd(args: &[String]) -> Result<ExitCode, String> {
    let mut cfg = campaign::CampaignConfig {
        name: String::new(),
        command: String::new(),
        cases: 32,
        runs: 1000,
        seed: 1,
        tolerate: BTreeSet::new(),
        timeout: Duration::from_secs(10),
        fuzz_out: std::env::temp_dir().join("sealwire-blackbox-fuzz"),
    };
    let (mut record, mut check): (Option<PathBuf>, Option<PathBuf>) = (None, None);
    let mut i = 0;
    while i < args.len() {
        match args[i].as_str() {
            "--name" => cfg.name = value(args, &mut i, "--name")?,
            "--impl" => cfg.command = value(args, &mut i, "--impl")?,
            "--cases" => cfg.cases = value(args, &mut i, "--cases")?,
            "--runs" => cfg.runs = value(args, &mut i, "--runs")?,
            "--seed" => cfg.seed = value(args, &mut i, "--seed")?,
            "--timeout" => cfg.timeout = Duration::from_secs_f64(value(args, &mut i, "--timeout")?),
            "--tolerate" => {
                cfg.tolerate.insert(value(args, &mut i, "--tolerate")?);
            }
            "--record" => record = Some(value(args, &mut i, "--record")?),
            "--check" => check = Some(value(args, &mut i, "--check")?),
            "--fuzz-out" => cfg.fuzz_out = value(args, &mut i, "--fuzz-out")?,
            other => return Err(format!("unknown argument `{other}`\n{USAGE}")),
        }
        i += 1;
    }
    if cfg.name.is_empty() || cfg.command.is_empty() || record.is_some() == check.is_some() {
        return Err(format!(
            "--name, --impl and one of --record/--check are required\n{USAGE}"
        ));
    }
    let result = campaign::run(&cfg)?;
    let text = serde_json::to_string_pretty(&result).map_err(|e| e.to_string())? + "\n";
    if let Some(path) = record {
        std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))?;
        println!(
            "recorded {} violations in {}",
            campaign::violations(&result).len(),
            path.display()
        );
        return Ok(ExitCode::SUCCESS);
    }
    let path = check.unwrap_or_default();
    let recorded: serde_json::Value = std::fs::read_to_string(&path)
        .map_err(|e| format!("{}: {e}", path.display()))
        .and_then(|t| serde_json::from_str(&t).map_err(|e| format!("{}: {e}", path.display())))?;
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

fn findings_cmd(args: &[String]) -> Result<ExitCode, String> {
    let mut dir = PathBuf::from("conformance/findings");
    let mut out = PathBuf::from("conformance/FINDINGS.md");
    let mut json_out: Option<PathBuf> = None;
    let mut check = false;
    let mut i = 0;
    while i < args.len() {
        match args[i].as_str() {
            "--dir" => dir = value(args, &mut i, "--dir")?,
            "--out" => out = value(args, &mut i, "--out")?,
            "--json" => json_out = Some(value(args, &mut i, "--json")?),
            "--check" => check = true,
            other => return Err(format!("unknown argument `{other}`\n{USAGE}")),
        }
        i += 1;
    }
    let md = campaign::findings_markdown(&dir)?;
    if check {
        let current = std::fs::read_to_string(&out).unwrap_or_default();
        if current != md {
            println!(
                "{} is not what `sealwire-blackbox findings` generates from {}",
                out.display(),
                dir.display()
            );
            return Ok(ExitCode::FAILURE);
        }
        println!("{} is up to date", out.display());
        return Ok(ExitCode::SUCCESS);
    }
    std::fs::write(&out, md).map_err(|e| format!("{}: {e}", out.display()))?;
    if let Some(path) = json_out {
        let table = campaign::findings_json(&dir)?;
        let text = serde_json::to_string_pretty(&table).map_err(|e| e.to_string())? + "\n";
        std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    println!("wrote {}", out.display());
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
    let bar = progress_bar();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("props") => props(&args[1..]),
        Some("fuzz") => fuzz_cmd(&args[1..]),
        Some("campaign") => campaign_cmd(&args[1..]),
        Some("findings") => findings_cmd(&args[1..]),
        Some("tolerances") => {
            for t in model::TOLERANCES {
                println!("{} ({}): {}", t.name, t.property.name(), t.why);
            }
            Ok(ExitCode::SUCCESS)
        }
        _ => Err(USAGE.to_owned()),
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
