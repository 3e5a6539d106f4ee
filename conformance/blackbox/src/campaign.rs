//! Campaigns: the model and the fuzzer with fixed seeds against one
//! adapter, written as JSON (`conformance/findings/<name>.json`) and
//! compared with the recorded file both ways: a new violation or a vanished
//! one fails. [`findings_markdown`] writes `conformance/FINDINGS.md` from
//! the recorded files (implementations × properties), so it is generated,
//! not hand-kept; each implementation's analysis of its violations (the
//! library's code path, who can exploit it) is read from
//! `conformance/findings/<name>.notes.md` and included.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::fuzz::{self, FuzzConfig, TARGETS};
use crate::model::{self, Config, Property, Verdict, quote};

/// A campaign's settings.
#[derive(Clone, Debug)]
pub struct CampaignConfig {
    /// Short name of the implementation (file names, table rows).
    pub name: String,
    /// The adapter command.
    pub command: String,
    /// Random cases of the model.
    pub cases: u64,
    /// Fuzz inputs.
    pub runs: u64,
    /// The seed of both.
    pub seed: u64,
    /// Tolerances for the model.
    pub tolerate: BTreeSet<String>,
    /// Per-request timeout.
    pub timeout: Duration,
    /// Where fuzz failure files go.
    pub fuzz_out: PathBuf,
}

/// Runs the campaign; returns its JSON.
pub fn run(cfg: &CampaignConfig) -> Result<Value, String> {
    let start = Instant::now();
    let mcfg = Config {
        command: cfg.command.clone(),
        cases: cfg.cases,
        seed: cfg.seed,
        max_ops: 48,
        timeout: cfg.timeout,
        tolerate: cfg.tolerate.clone(),
        fixed: true,
        shrink_runs: 120,
    };
    let report = model::run(&mcfg).map_err(|e| e.to_string())?;
    eprint!("{}", report.render());
    let fcfg = FuzzConfig {
        command: cfg.command.clone(),
        runs: cfg.runs,
        seed: cfg.seed,
        timeout: cfg.timeout,
        out: cfg.fuzz_out.clone(),
    };
    let fz = fuzz::run(&fcfg).map_err(|e| e.to_string())?;
    eprint!("{}", fz.render());
    let mut properties = serde_json::Map::new();
    for (p, v) in &report.verdicts {
        let entry = match v {
            Verdict::Held { checks } => json!({"verdict": "held", "checks": checks}),
            Verdict::NotTested(why) => json!({"verdict": "not-tested", "why": why}),
            Verdict::Violated(f) => json!({
                "verdict": "violated",
                "kind": f.violation.kind,
                "what": f.violation.what,
                "check": f.check,
                "step": f.step,
                "schedule": f.schedule,
                "reproduce": f.reproduce,
            }),
        };
        properties.insert(p.name().into(), entry);
    }
    let failures: Vec<Value> = fz
        .failures
        .iter()
        .map(|(f, path)| {
            json!({
                "property": f.property,
                "target": TARGETS[f.recipe.target],
                "recipe": f.recipe,
                "what": f.what,
                "file": path.file_name().map(|n| n.to_string_lossy().into_owned()),
                "reproduce": format!(
                    "sealwire-blackbox fuzz --impl {} --runs {} --seed {}   (or --replay <file>)",
                    quote(&cfg.command), cfg.runs, cfg.seed
                ),
            })
        })
        .collect();
    let also: Vec<Value> = report
        .also
        .iter()
        .map(|f| json!({"property": f.violation.property.name(), "what": f.violation.what, "check": f.check}))
        .collect();
    let tolerated: BTreeMap<&str, u64> = report.tally.tolerated.clone().into_iter().collect();
    Ok(json!({
        "implementation": cfg.name,
        "adapter": report.name,
        "command": cfg.command,
        "seed": cfg.seed,
        "cases": cfg.cases,
        "fuzz_runs": cfg.runs,
        "tolerate": cfg.tolerate,
        "numbers": {
            "model_cases": report.cases,
            "model_requests": report.calls,
            "model_checks": report.tally.checks.values().sum::<u64>(),
            "fuzz_inputs": fz.inputs,
            "fuzz_requests": fz.calls,
            "seconds": (start.elapsed().as_secs_f64() * 10.0).round() / 10.0,
        },
        "tolerated": tolerated,
        "lost_within_limits": report.tally.lost_within_limits,
        "properties": properties,
        "also": also,
        "fuzz": {"failures": failures},
    }))
}

/// The violations a campaign result names: `model:<property>` and
/// `fuzz:<property>:<target>`.
pub fn violations(result: &Value) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    if let Some(props) = result["properties"].as_object() {
        for (name, v) in props {
            if v["verdict"] == "violated" {
                out.insert(format!("model:{name}"));
            }
        }
    }
    if let Some(list) = result["fuzz"]["failures"].as_array() {
        for f in list {
            out.insert(format!(
                "fuzz:{}:{}",
                f["property"].as_str().unwrap_or("?"),
                f["target"].as_str().unwrap_or("?")
            ));
        }
    }
    out
}

/// Compares a fresh result with the recorded one: the differences, in
/// words (empty when the violations are the same).
pub fn compare(recorded: &Value, fresh: &Value) -> Vec<String> {
    let (old, new) = (violations(recorded), violations(fresh));
    let mut out = Vec::new();
    for v in new.difference(&old) {
        out.push(format!("new violation: {v}"));
    }
    for v in old.difference(&new) {
        out.push(format!("recorded violation vanished: {v}"));
    }
    for key in ["seed", "cases", "fuzz_runs"] {
        if recorded[key] != fresh[key] {
            out.push(format!(
                "`{key}` differs from the recorded campaign ({} recorded, {} now)",
                recorded[key], fresh[key]
            ));
        }
    }
    out
}

fn verdict_cell(v: &Value) -> String {
    match v["verdict"].as_str() {
        Some("held") => "held".into(),
        Some("violated") => "**violated**".into(),
        Some("not-tested") => match v["why"].as_str() {
            Some(why) if !why.is_empty() => format!("not tested ({why})"),
            _ => "not tested".into(),
        },
        _ => "?".into(),
    }
}

/// `FINDINGS.md` from every `*.json` campaign result in `dir`.
pub fn findings_markdown(dir: &Path) -> Result<String, String> {
    let mut results: Vec<(String, Value)> = Vec::new();
    let entries = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut paths: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    paths.sort();
    for p in paths {
        let text = std::fs::read_to_string(&p).map_err(|e| format!("{}: {e}", p.display()))?;
        let v: Value = serde_json::from_str(&text).map_err(|e| format!("{}: {e}", p.display()))?;
        if v.get("properties").is_none() {
            continue;
        }
        let name = v["implementation"].as_str().unwrap_or("?").to_owned();
        results.push((name, v));
    }
    let mut md = String::from(
        "# Findings of the black-box campaigns\n\n\
         Generated by `sealwire-blackbox findings` from the recorded campaign results in\n\
         `conformance/findings/*.json` (do not edit by hand; re-record a campaign with\n\
         `conformance/blackbox/ci.sh --record` and regenerate). Each implementation's analysis of\n\
         its violations is `conformance/findings/<name>.notes.md`, included below. CI runs every\n\
         campaign with the recorded seeds and fails when a violation appears or disappears.\n\
         Properties: `conformance/PROPERTIES.md`, section \"Black-box mode\".\n\n",
    );
    md.push_str("| property |");
    for (name, _) in &results {
        let _ = write!(md, " {name} |");
    }
    md.push_str("\n|---|");
    for _ in &results {
        md.push_str("---|");
    }
    md.push('\n');
    for p in Property::ALL {
        let _ = write!(md, "| `{}` |", p.name());
        for (_, v) in &results {
            let _ = write!(md, " {} |", verdict_cell(&v["properties"][p.name()]));
        }
        md.push('\n');
    }
    md.push_str("| fuzzer |");
    for (_, v) in &results {
        let n = v["fuzz"]["failures"].as_array().map_or(0, Vec::len);
        let _ = write!(
            md,
            " {} |",
            if n == 0 {
                "no failure".to_owned()
            } else {
                format!("**{n} failing input kinds**")
            }
        );
    }
    md.push_str("\n\n");
    for (name, v) in &results {
        let _ = writeln!(md, "## {name}\n");
        let n = &v["numbers"];
        let _ = writeln!(
            md,
            "Adapter: {}. Command: `{}`. Seed {}, {} random cases ({} requests, {} checks), \
             {} fuzz inputs ({} requests); {} s for the campaign when recorded.\n",
            v["adapter"].as_str().unwrap_or("?"),
            v["command"].as_str().unwrap_or("?"),
            v["seed"],
            n["model_cases"],
            n["model_requests"],
            n["model_checks"],
            n["fuzz_inputs"],
            n["fuzz_requests"],
            n["seconds"],
        );
        if let Some(t) = v["tolerate"].as_array().filter(|t| !t.is_empty()) {
            let names: Vec<&str> = t.iter().filter_map(Value::as_str).collect();
            let _ = writeln!(
                md,
                "Tolerated deviations: {} (counts: {}).\n",
                names.join(", "),
                v["tolerated"]
            );
        }
        if let Some(props) = v["properties"].as_object() {
            for (p, r) in props {
                match r["verdict"].as_str() {
                    Some("violated") => {
                        let _ = writeln!(
                            md,
                            "- **`{p}` violated** ({}): {}",
                            r["check"].as_str().unwrap_or(""),
                            r["what"].as_str().unwrap_or("")
                        );
                        if let Some(s) = r["schedule"].as_array().filter(|s| !s.is_empty()) {
                            md.push_str("  Shrunk schedule:\n");
                            for (i, op) in s.iter().enumerate() {
                                let _ = writeln!(md, "  {}. {}", i + 1, op.as_str().unwrap_or(""));
                            }
                        }
                        let _ = writeln!(
                            md,
                            "  Reproduce: `{}`",
                            r["reproduce"].as_str().unwrap_or("")
                        );
                    }
                    Some("not-tested") => {
                        let _ = writeln!(
                            md,
                            "- `{p}` not tested: {}",
                            r["why"].as_str().unwrap_or("")
                        );
                    }
                    _ => {}
                }
            }
        }
        if let Some(list) = v["also"].as_array() {
            for f in list {
                let _ = writeln!(
                    md,
                    "- also `{}` violated ({}): {}",
                    f["property"].as_str().unwrap_or(""),
                    f["check"].as_str().unwrap_or(""),
                    f["what"].as_str().unwrap_or("")
                );
            }
        }
        if let Some(list) = v["fuzz"]["failures"].as_array() {
            for f in list {
                let _ = writeln!(
                    md,
                    "- **fuzzer: `{}` violated** on {}: {}\n  Reproduce: `{}`",
                    f["property"].as_str().unwrap_or(""),
                    f["target"].as_str().unwrap_or(""),
                    f["what"].as_str().unwrap_or(""),
                    f["reproduce"].as_str().unwrap_or("")
                );
            }
        }
        md.push('\n');
        let notes = dir.join(format!("{name}.notes.md"));
        if let Ok(text) = std::fs::read_to_string(&notes) {
            md.push_str(&text);
            if !text.ends_with('\n') {
                md.push('\n');
            }
            md.push('\n');
        }
    }
    Ok(md)
}

/// The implementations × properties table as JSON (for dashboards).
pub fn findings_json(dir: &Path) -> Result<Value, String> {
    let mut table = serde_json::Map::new();
    let entries = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut paths: Vec<PathBuf> = entries.filter_map(Result::ok).map(|e| e.path()).collect();
    paths.sort();
    for p in paths
        .iter()
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
    {
        let Ok(v) = std::fs::read_to_string(p)
            .map_err(|e| e.to_string())
            .and_then(|t| serde_json::from_str::<Value>(&t).map_err(|e| e.to_string()))
        else {
            continue;
        };
        let Some(props) = v["properties"].as_object() else {
            continue;
        };
        let row: serde_json::Map<String, Value> = props
            .iter()
            .map(|(k, r)| (k.clone(), r["verdict"].clone()))
            .collect();
        let why: serde_json::Map<String, Value> = props
            .iter()
            .filter_map(|(k, r)| Some((k.clone(), r.get("why")?.clone())))
            .collect();
        table.insert(v["implementation"].as_str().unwrap_or("?").into(), json!({"properties": row, "not_tested_why": why, "fuzz_failures": v["fuzz"]["failures"].as_array().map_or(0, Vec::len)}));
    }
    Ok(Value::Object(table))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_not_tested_cell_gives_its_reason() {
        let why = "needs the `skipped_count` capability";
        assert_eq!(
            verdict_cell(&json!({"verdict": "not-tested", "why": why})),
            format!("not tested ({why})")
        );
        assert_eq!(
            verdict_cell(&json!({"verdict": "not-tested"})),
            "not tested"
        );
        assert_eq!(
            verdict_cell(&json!({"verdict": "violated"})),
            "**violated**"
        );
    }

    #[test]
    fn comparison_fails_both_ways() {
        let a = json!({"seed":1,"cases":2,"fuzz_runs":3,"properties":{"rejection":{"verdict":"violated"},"delivery":{"verdict":"held"}},"fuzz":{"failures":[]}});
        let b = json!({"seed":1,"cases":2,"fuzz_runs":3,"properties":{"rejection":{"verdict":"held"},"delivery":{"verdict":"violated"}},"fuzz":{"failures":[{"property":"rejection","target":"t"}]}});
        assert!(compare(&a, &a).is_empty());
        let d = compare(&a, &b);
        assert!(
            d.contains(&"new violation: model:delivery".to_owned()),
            "{d:?}"
        );
        assert!(
            d.contains(&"new violation: fuzz:rejection:t".to_owned()),
            "{d:?}"
        );
        assert!(
            d.contains(&"recorded violation vanished: model:rejection".to_owned()),
            "{d:?}"
        );
    }
}
