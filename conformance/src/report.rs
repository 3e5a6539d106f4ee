//! Reports of a run: the per-area table and failure list for the console,
//! and JSON and JUnit XML files for CI.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde_json::{Value, json};

use crate::runner::{ClaimStatus, Failure, Outcome, RunReport, TestResult};

/// Passed, failed and skipped counts of one area.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// Tests that passed.
    pub passed: usize,
    /// Tests that failed (including those not run after a breakdown).
    pub failed: usize,
    /// Tests that were skipped.
    pub skipped: usize,
}

impl Counts {
    fn add(&mut self, outcome: &Outcome) {
        match outcome {
            Outcome::Passed => self.passed += 1,
            Outcome::Failed(_) => self.failed += 1,
            Outcome::Skipped(_) => self.skipped += 1,
        }
    }
}

/// Counts per area, in area order.
pub fn by_area(report: &RunReport) -> BTreeMap<String, Counts> {
    let mut areas: BTreeMap<String, Counts> = BTreeMap::new();
    for r in &report.results {
        areas.entry(r.area.clone()).or_default().add(&r.outcome);
    }
    areas
}

/// Skip reasons per area with their counts.
fn skip_reasons(report: &RunReport) -> BTreeMap<(String, String), usize> {
    let mut reasons = BTreeMap::new();
    for r in &report.results {
        if let Outcome::Skipped(why) = &r.outcome {
            *reasons.entry((r.area.clone(), why.clone())).or_insert(0) += 1;
        }
    }
    reasons
}

fn describe_step(f: &Failure) -> String {
    match (f.step, &f.op) {
        (Some(step), Some(op)) => format!("step {step} (`{op}`)"),
        (Some(step), None) => format!("step {step}"),
        _ => "the test".into(),
    }
}

/// One failure, in the form shown on the console and in JUnit.
pub fn describe_failure(r: &TestResult, f: &Failure) -> String {
    format!(
        "{} tcId {}: {}\n  {}\n    expected: {}\n    actual:   {}",
        r.file,
        r.tc_id,
        r.comment,
        describe_step(f),
        f.expected,
        f.actual.replace('\n', "\n              ")
    )
}

/// The console report: the implementation, the per-area table, skip
/// reasons, every failure with file, tcId, comment, step, operation,
/// expected and actual, load errors, and the verdict.
pub fn render_text(report: &RunReport) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "Sealwire conformance: {}", report.implementation);
    let caps: Vec<&str> = report.capabilities.iter().map(|c| c.name()).collect();
    let _ = writeln!(out, "capabilities: {}", caps.join(", "));
    let _ = writeln!(out);
    let areas = by_area(report);
    let width = areas.keys().map(String::len).max().unwrap_or(0).max(5);
    let _ = writeln!(
        out,
        "{:<width$}  {:>7}  {:>7}  {:>7}",
        "area", "passed", "failed", "skipped"
    );
    let mut total = Counts::default();
    for (area, c) in &areas {
        let _ = writeln!(
            out,
            "{area:<width$}  {:>7}  {:>7}  {:>7}",
            c.passed, c.failed, c.skipped
        );
        total.passed += c.passed;
        total.failed += c.failed;
        total.skipped += c.skipped;
    }
    let _ = writeln!(
        out,
        "{:<width$}  {:>7}  {:>7}  {:>7}",
        "total", total.passed, total.failed, total.skipped
    );

    let reasons = skip_reasons(report);
    if !reasons.is_empty() {
        let _ = writeln!(out, "\nskipped:");
        for ((area, why), n) in &reasons {
            let _ = writeln!(out, "  {area:<width$}  {n:>5}  {why}");
        }
    }

    let mut not_run = 0usize;
    let mut not_run_reason = None;
    let mut header = false;
    for r in &report.results {
        if let Outcome::Failed(f) = &r.outcome {
            if f.not_run {
                not_run += 1;
                not_run_reason.get_or_insert_with(|| f.actual.clone());
                continue;
            }
            if !header {
                let _ = writeln!(out, "\nfailures:");
                header = true;
            }
            let _ = writeln!(out, "FAILED {}", describe_failure(r, f));
        }
    }
    if let Some(why) = not_run_reason {
        let _ = writeln!(out, "\n{not_run} more tests failed without running ({why})");
    }
    if !report.load_errors.is_empty() {
        let _ = writeln!(out, "\nerrors:");
        for e in &report.load_errors {
            let _ = writeln!(out, "  {e}");
        }
    }
    let unmet = report.unmet_requirements();
    if !unmet.is_empty() {
        let _ = writeln!(out, "\nrequirements not met (--require):");
        for why in &unmet {
            let _ = writeln!(out, "  {why}");
        }
    }
    let _ = writeln!(out, "\n{}", render_claims(report));
    let verdict = if report.success() {
        "PASS"
    } else if report.results.is_empty() {
        "FAIL (no test selected)"
    } else {
        "FAIL"
    };
    let (passed, failed, skipped) = report.counts();
    let _ = writeln!(
        out,
        "{verdict}: {} tests in {:.2} s",
        report.results.len(),
        report.duration.as_secs_f64()
    );
    let _ = writeln!(out, "{passed} passed, {failed} failed, {skipped} skipped");
    out
}

/// Which capability claims held: `conformant: kdf, session; failed: …;
/// partly tested: …; not tested: state (not announced), …`.
pub fn render_claims(report: &RunReport) -> String {
    let mut groups: [(&str, Vec<String>); 4] = [
        ("conformant", Vec::new()),
        ("failed", Vec::new()),
        ("partly tested", Vec::new()),
        ("not tested", Vec::new()),
    ];
    for claim in report.claims() {
        let name = claim.capability.name();
        let (group, entry) = match claim.status {
            ClaimStatus::Conformant => (0, name.to_owned()),
            ClaimStatus::Failed => (1, format!("{name} ({} failed)", claim.failed)),
            ClaimStatus::Partial => (2, format!("{name} ({} skipped)", claim.skipped)),
            ClaimStatus::NoTests => (3, format!("{name} (no selected test)")),
            ClaimStatus::NotAnnounced => (3, format!("{name} (not announced)")),
        };
        groups[group].1.push(entry);
    }
    let parts: Vec<String> = groups
        .iter()
        .map(|(label, names)| {
            if names.is_empty() {
                format!("{label}: none")
            } else {
                format!("{label}: {}", names.join(", "))
            }
        })
        .collect();
    format!("capabilities {}", parts.join("; "))
}

/// The JSON report.
pub fn render_json(report: &RunReport) -> String {
    let (passed, failed, skipped) = report.counts();
    let areas: serde_json::Map<String, Value> = by_area(report)
        .into_iter()
        .map(|(area, c)| {
            (
                area,
                json!({"passed": c.passed, "failed": c.failed, "skipped": c.skipped}),
            )
        })
        .collect();
    let results: Vec<Value> = report
        .results
        .iter()
        .map(|r| {
            let mut entry = json!({
                "file": r.file,
                "area": r.area,
                "tcId": r.tc_id,
                "comment": r.comment,
                "flags": r.flags,
            });
            match &r.outcome {
                Outcome::Passed => entry["outcome"] = json!("passed"),
                Outcome::Skipped(why) => {
                    entry["outcome"] = json!("skipped");
                    entry["reason"] = json!(why);
                }
                Outcome::Failed(f) => {
                    entry["outcome"] = json!("failed");
                    entry["step"] = json!(f.step);
                    entry["op"] = json!(f.op);
                    entry["expected"] = json!(f.expected);
                    entry["actual"] = json!(f.actual);
                    entry["notRun"] = json!(f.not_run);
                }
            }
            entry
        })
        .collect();
    let value = json!({
        "implementation": report.implementation,
        "capabilities": report.capabilities.iter().map(|c| c.name()).collect::<Vec<_>>(),
        "success": report.success(),
        "required": report.required.iter().map(|c| c.name()).collect::<Vec<_>>(),
        "unmetRequirements": report.unmet_requirements(),
        "claims": report.claims().iter().map(|c| json!({
            "capability": c.capability.name(),
            "status": match c.status {
                ClaimStatus::Conformant => "conformant",
                ClaimStatus::Failed => "failed",
                ClaimStatus::Partial => "partly tested",
                ClaimStatus::NoTests => "no selected test",
                ClaimStatus::NotAnnounced => "not announced",
            },
            "passed": c.passed, "failed": c.failed, "skipped": c.skipped,
        })).collect::<Vec<_>>(),
        "durationSeconds": report.duration.as_secs_f64(),
        "summary": {"passed": passed, "failed": failed, "skipped": skipped},
        "areas": areas,
        "loadErrors": report.load_errors,
        "results": results,
    });
    let mut text =
        serde_json::to_string_pretty(&value).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"));
    text.push('\n');
    text
}

/// The JUnit XML report (through `quick-junit`): one test suite per area,
/// one test case per test (class name: the file; name: `tcId N: comment`),
/// and a `load` suite with one failing case per vector file that could not
/// be loaded.
pub fn render_junit(report: &RunReport) -> String {
    use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};
    let mut junit = Report::new(format!("sealwire-conformance: {}", report.implementation));
    junit.set_time(report.duration);
    let mut by_area: BTreeMap<&str, Vec<&TestResult>> = BTreeMap::new();
    for r in &report.results {
        by_area.entry(&r.area).or_default().push(r);
    }
    for (area, results) in by_area {
        let mut suite = TestSuite::new(area);
        for r in results {
            let status = match &r.outcome {
                Outcome::Passed => TestCaseStatus::success(),
                Outcome::Skipped(why) => {
                    let mut status = TestCaseStatus::skipped();
                    status.set_message(why.as_str());
                    status
                }
                Outcome::Failed(f) => {
                    let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
                    status.set_message(format!(
                        "{}: expected {}, got {}",
                        describe_step(f),
                        f.expected,
                        f.actual
                    ));
                    status.set_description(describe_failure(r, f));
                    status
                }
            };
            let mut case = TestCase::new(format!("tcId {}: {}", r.tc_id, r.comment), status);
            case.set_classname(r.file.trim_end_matches(".json").replace('/', "."));
            suite.add_test_case(case);
        }
        junit.add_test_suite(suite);
    }
    if !report.load_errors.is_empty() {
        let mut suite = TestSuite::new("load");
        for e in &report.load_errors {
            let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
            status.set_message(e.as_str());
            let mut case = TestCase::new(e.split(':').next().unwrap_or(e), status);
            case.set_classname("load");
            suite.add_test_case(case);
        }
        junit.add_test_suite(suite);
    }
    junit.to_string().unwrap_or_else(|e| {
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!-- the JUnit report could not be serialized: {} -->\n",
            e.to_string().replace("--", "- -")
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::time::Duration;
    use sealwire_adapter::Capability;

    fn result(area: &str, tc_id: u32, outcome: Outcome) -> TestResult {
        TestResult {
            file: format!("{area}/{area}_file.json"),
            area: area.into(),
            tc_id,
            comment: format!("test <{tc_id}> & \"more\""),
            flags: vec!["Flag".into()],
            needs: match area {
                "kdf" => vec![Capability::Kdf],
                "session" => vec![Capability::Session],
                _ => vec![Capability::State],
            },
            outcome,
        }
    }

    fn failure(not_run: bool) -> Outcome {
        Outcome::Failed(Failure {
            step: Some(2),
            op: Some("decrypt".into()),
            expected: "error `duplicate`".into(),
            actual: "ok {plaintext: \"00\"}".into(),
            not_run,
        })
    }

    fn report() -> RunReport {
        RunReport {
            implementation: "unit <impl>".into(),
            capabilities: vec![Capability::Kdf, Capability::Session],
            results: vec![
                result("kdf", 1, Outcome::Passed),
                result("kdf", 2, Outcome::Passed),
                result("session", 1, failure(false)),
                result("session", 2, failure(true)),
                result(
                    "state",
                    1,
                    Outcome::Skipped("needs capability `state`".into()),
                ),
            ],
            load_errors: vec!["wire/bad.json: not a valid vector file".into()],
            duration: Duration::from_millis(1500),
            required: Vec::new(),
        }
    }

    #[test]
    fn text_report_has_the_table_skips_failures_and_verdict() {
        let text = render_text(&report());
        assert!(
            text.contains("area      passed   failed  skipped"),
            "{text}"
        );
        assert!(
            text.contains("kdf            2        0        0"),
            "{text}"
        );
        assert!(
            text.contains("session        0        2        0"),
            "{text}"
        );
        assert!(
            text.contains("state          0        0        1"),
            "{text}"
        );
        assert!(
            text.contains("total          2        2        1"),
            "{text}"
        );
        assert!(
            text.contains("state        1  needs capability `state`"),
            "{text}"
        );
        assert!(
            text.contains("FAILED session/session_file.json tcId 1: test <1>"),
            "{text}"
        );
        assert!(text.contains("step 2 (`decrypt`)"), "{text}");
        assert!(text.contains("expected: error `duplicate`"), "{text}");
        assert!(
            text.contains("1 more tests failed without running"),
            "{text}"
        );
        assert!(!text.contains("tcId 2: test <2>"), "{text}");
        assert!(text.contains("wire/bad.json"), "{text}");
        assert!(text.contains("FAIL: 5 tests in 1.50 s"), "{text}");
        assert!(
            text.contains(
                "capabilities conformant: kdf; failed: session (2 failed); partly tested: none; \
                 not tested: primitives (not announced), bundle (not announced), \
                 x3dh_secret (not announced), wire (not announced), state (not announced), \
                 sealed_state (not announced), skipped_count (not announced)"
            ),
            "{text}"
        );
        assert!(
            text.trim_end().ends_with("2 passed, 2 failed, 1 skipped"),
            "{text}"
        );
    }

    #[test]
    fn required_capabilities_decide_the_verdict() {
        let mut report = report();
        report.results.retain(|r| r.area == "kdf");
        report.load_errors.clear();
        assert!(report.success());
        report.required = vec![Capability::Kdf];
        assert!(report.success(), "{:?}", report.unmet_requirements());
        report.required = vec![Capability::Kdf, Capability::Session];
        // Session is announced but no selected test exercises it.
        assert!(!report.success());
        report.required = vec![Capability::State];
        assert_eq!(
            report.unmet_requirements(),
            ["`state` is required but was not announced (0 tests skipped)"]
        );
        let text = render_text(&report);
        assert!(text.contains("requirements not met (--require):"), "{text}");
        assert!(text.contains("FAIL: 2 tests"), "{text}");
    }

    #[test]
    fn json_report_round_trips_the_counts_and_details() {
        let value: Value = serde_json::from_str(&render_json(&report())).unwrap();
        assert_eq!(
            value["summary"],
            json!({"passed": 2, "failed": 2, "skipped": 1})
        );
        assert_eq!(value["success"], json!(false));
        assert_eq!(value["areas"]["state"]["skipped"], json!(1));
        assert_eq!(value["results"][2]["step"], json!(2));
        assert_eq!(value["results"][2]["op"], json!("decrypt"));
        assert_eq!(
            value["results"][4]["reason"],
            json!("needs capability `state`")
        );
        assert_eq!(
            value["loadErrors"][0],
            json!("wire/bad.json: not a valid vector file")
        );
    }

    #[test]
    fn junit_report_is_escaped_and_counts_match() {
        let xml = render_junit(&report());
        assert!(
            xml.contains("tests=\"6\" failures=\"3\" errors=\"0\""),
            "{xml}"
        );
        assert!(
            xml.contains("name=\"tcId 1: test &lt;1&gt; &amp; &quot;more&quot;\""),
            "{xml}"
        );
        assert!(
            xml.contains(
                "<testsuite name=\"session\" tests=\"2\" disabled=\"0\" errors=\"0\" failures=\"2\">"
            ),
            "{xml}"
        );
        assert!(
            xml.contains("<skipped message=\"needs capability `state`\"/>"),
            "{xml}"
        );
        assert!(xml.contains("classname=\"session.session_file\""), "{xml}");
        assert!(
            xml.contains("<testsuite name=\"load\" tests=\"1\""),
            "{xml}"
        );
        assert!(!xml.contains("<1>"), "{xml}");
        assert_eq!(xml.matches("<skipped ").count(), 1);
        assert_eq!(xml.matches("<failure ").count(), 3);
        assert_eq!(xml.matches("<testcase ").count(), 6);
        assert_eq!(xml.matches("<testsuite ").count(), 4);
        assert_eq!(xml.matches("</testsuite>").count(), 4);
        assert!(xml.ends_with("</testsuites>\n"));
    }
}
