//! The ratio report: reads criterion's estimates of one run and prints
//! Sealwire's times as ratios to the raw AEAD floor and to the peers.
//!
//! Criterion writes `<criterion dir>/<group>/<function>/<size>/new/estimates.json`;
//! the median's point estimate (nanoseconds) is the figure used. Ratios from
//! one run are what the project tracks: absolute times on shared machines
//! move by up to 25% between identical runs, ratios far less.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::SIZES;

/// One measured function of one group, as criterion names it on disk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bench {
    /// The criterion group (`seal`, `open`, `peers_seal`, `peers_open`).
    pub group: &'static str,
    /// The function within the group.
    pub function: &'static str,
}

/// Full ratchet message seal: chain step, key schedule, AEAD.
pub const RATCHET_SEAL: Bench = Bench {
    group: "seal",
    function: "ratchet_message",
};
/// The sealing core alone (key schedule and AEAD, no chain step).
pub const CORE_SEAL: Bench = Bench {
    group: "seal",
    function: "sealing_core",
};
/// Raw ChaCha20-Poly1305 with Sealwire's 105-byte AAD.
pub const RAW_SEAL_AAD: Bench = Bench {
    group: "seal",
    function: "raw_aead_aad105",
};
/// Raw ChaCha20-Poly1305 without AAD.
pub const RAW_SEAL_NO_AAD: Bench = Bench {
    group: "seal",
    function: "raw_aead_no_aad",
};
/// Raw ring ChaCha20-Poly1305 with the 105-byte AAD (feature `ring` only):
/// the floor of Sealwire's ring backend.
pub const RAW_RING_SEAL_AAD: Bench = Bench {
    group: "seal",
    function: "raw_ring_aad105",
};
/// snow's transport write (Noise_XX_25519_ChaChaPoly_SHA256).
pub const SNOW_WRITE: Bench = Bench {
    group: "peers_seal",
    function: "snow_write",
};
/// vodozemac's Olm encrypt.
pub const OLM_ENCRYPT: Bench = Bench {
    group: "peers_seal",
    function: "vodozemac_encrypt",
};
/// Full ratchet message open.
pub const RATCHET_OPEN: Bench = Bench {
    group: "open",
    function: "ratchet_message",
};
/// The opening core alone.
pub const CORE_OPEN: Bench = Bench {
    group: "open",
    function: "sealing_core",
};
/// Raw open with Sealwire's 105-byte AAD.
pub const RAW_OPEN_AAD: Bench = Bench {
    group: "open",
    function: "raw_aead_aad105",
};
/// Raw open without AAD.
pub const RAW_OPEN_NO_AAD: Bench = Bench {
    group: "open",
    function: "raw_aead_no_aad",
};
/// Raw ring open with the 105-byte AAD (feature `ring` only).
pub const RAW_RING_OPEN_AAD: Bench = Bench {
    group: "open",
    function: "raw_ring_aad105",
};
/// snow's transport read.
pub const SNOW_READ: Bench = Bench {
    group: "peers_open",
    function: "snow_read",
};
/// vodozemac's Olm decrypt.
pub const OLM_DECRYPT: Bench = Bench {
    group: "peers_open",
    function: "vodozemac_decrypt",
};

/// The estimates of one criterion run, read from its output directory.
#[derive(Debug, Clone)]
pub struct Estimates {
    root: PathBuf,
}

impl Estimates {
    /// Reads from `root` (criterion's directory, `$CARGO_TARGET_DIR/criterion`).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// The directory read from.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The median time of `bench` at `size`, in nanoseconds, if measured.
    pub fn median_ns(&self, bench: Bench, size: usize) -> Option<f64> {
        let path = self
            .root
            .join(bench.group)
            .join(bench.function)
            .join(size.to_string())
            .join("new")
            .join("estimates.json");
        let text = std::fs::read_to_string(path).ok()?;
        median_from_json(&text)
    }

    /// `numerator / denominator` at `size`, when both were measured.
    pub fn ratio(&self, numerator: Bench, denominator: Bench, size: usize) -> Option<f64> {
        let n = self.median_ns(numerator, size)?;
        let d = self.median_ns(denominator, size)?;
        (d > 0.0).then_some(n / d)
    }
}

/// The median point estimate of a criterion `estimates.json`, in ns.
pub fn median_from_json(text: &str) -> Option<f64> {
    let value: serde_json::Value = serde_json::from_str(text).ok()?;
    value.get("median")?.get("point_estimate")?.as_f64()
}

/// A target the project tracks: a ratio that must stay at or below `limit`.
#[derive(Clone, Copy, Debug)]
pub struct Target {
    /// What is measured.
    pub numerator: Bench,
    /// What it is compared with.
    pub denominator: Bench,
    /// The sizes the target applies to.
    pub sizes: &'static [usize],
    /// The largest acceptable ratio.
    pub limit: f64,
    /// How the target reads in the report.
    pub label: &'static str,
}

/// The targets of issue 6, as ratios measured in one run. (The ratio to
/// ring's own ChaCha20-Poly1305, in `ring` builds, is a column of the table,
/// not a target: see `benches/README.md`.)
pub const TARGETS: [Target; 3] = [
    Target {
        numerator: RATCHET_SEAL,
        denominator: RAW_SEAL_AAD,
        sizes: &[16 * 1024, 1 << 20],
        limit: 1.10,
        label: "ratchet seal / raw AEAD (105 B AAD), >= 16 KiB",
    },
    Target {
        numerator: RATCHET_SEAL,
        denominator: SNOW_WRITE,
        sizes: &[64],
        limit: 1.0,
        label: "ratchet seal / snow write, 64 B",
    },
    Target {
        numerator: RATCHET_SEAL,
        denominator: OLM_ENCRYPT,
        sizes: &SIZES,
        limit: 0.2,
        label: "ratchet seal / vodozemac encrypt, every size",
    },
];

fn size_label(size: usize) -> String {
    match size {
        s if s >= 1 << 20 && s % (1 << 20) == 0 => format!("{} MiB", s >> 20),
        s if s >= 1024 && s % 1024 == 0 => format!("{} KiB", s >> 10),
        s => format!("{s} B"),
    }
}

fn cell(value: Option<f64>, precision: usize) -> String {
    value.map_or_else(|| "-".to_owned(), |v| format!("{v:.precision$}"))
}

fn time_cell(ns: Option<f64>) -> String {
    match ns {
        None => "-".to_owned(),
        Some(ns) if ns >= 1e6 => format!("{:.2} ms", ns / 1e6),
        Some(ns) if ns >= 1e3 => format!("{:.2} µs", ns / 1e3),
        Some(ns) => format!("{ns:.0} ns"),
    }
}

fn direction_table(out: &mut String, est: &Estimates, title: &str, benches: [Bench; 7]) {
    let [ratchet, core, raw_aad, raw_none, raw_ring, snow, olm] = benches;
    let _ = writeln!(out, "\n{title}\n");
    let _ = writeln!(
        out,
        "| size | sealwire | raw AEAD (105 B AAD) | sealwire / raw | sealwire / raw (no AAD) | core / raw | sealwire / raw ring | sealwire / snow | sealwire / vodozemac |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|---|---|---|");
    for size in SIZES {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            size_label(size),
            time_cell(est.median_ns(ratchet, size)),
            time_cell(est.median_ns(raw_aad, size)),
            cell(est.ratio(ratchet, raw_aad, size), 2),
            cell(est.ratio(ratchet, raw_none, size), 2),
            cell(est.ratio(core, raw_aad, size), 2),
            cell(est.ratio(ratchet, raw_ring, size), 2),
            cell(est.ratio(ratchet, snow, size), 2),
            cell(est.ratio(ratchet, olm, size), 3),
        );
    }
}

/// The verdict of every target: `(label, size, ratio, met)`; `ratio` is
/// `None` when a side was not measured in this run.
pub fn verdicts(est: &Estimates) -> Vec<(&'static str, usize, Option<f64>, bool)> {
    let mut out = Vec::new();
    for target in TARGETS {
        for &size in target.sizes {
            let ratio = est.ratio(target.numerator, target.denominator, size);
            out.push((
                target.label,
                size,
                ratio,
                ratio.is_some_and(|r| r <= target.limit),
            ));
        }
    }
    out
}

/// The whole report as Markdown: seal and open tables, then the targets.
pub fn render(est: &Estimates) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# Sealwire ratios (median times of one criterion run in {})",
        est.root().display()
    );
    direction_table(
        &mut out,
        est,
        "## Seal (sealwire = Session::encrypt_into: chain step + key schedule + AEAD)",
        [
            RATCHET_SEAL,
            CORE_SEAL,
            RAW_SEAL_AAD,
            RAW_SEAL_NO_AAD,
            RAW_RING_SEAL_AAD,
            SNOW_WRITE,
            OLM_ENCRYPT,
        ],
    );
    direction_table(
        &mut out,
        est,
        "## Open (sealwire = Session::decrypt_in_place_with_rng on its current chain)",
        [
            RATCHET_OPEN,
            CORE_OPEN,
            RAW_OPEN_AAD,
            RAW_OPEN_NO_AAD,
            RAW_RING_OPEN_AAD,
            SNOW_READ,
            OLM_DECRYPT,
        ],
    );
    let _ = writeln!(out, "\n## Targets\n");
    let verdicts = verdicts(est);
    for target in TARGETS {
        if !verdicts.iter().any(|(label, ..)| *label == target.label) {
            let _ = writeln!(
                out,
                "- {}: not applicable (floor not measured)",
                target.label
            );
            continue;
        }
        let _ = writeln!(out, "- {} <= {:.2}:", target.label, target.limit);
        for &(label, size, ratio, met) in &verdicts {
            if label != target.label {
                continue;
            }
            let verdict = match (ratio, met) {
                (None, _) => "not measured",
                (Some(_), true) => "met",
                (Some(_), false) => "MISSED",
            };
            let _ = writeln!(
                out,
                "  - {}: {} ({verdict})",
                size_label(size),
                cell(ratio, 3)
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_estimate(root: &Path, bench: Bench, size: usize, median: f64) {
        let dir = root
            .join(bench.group)
            .join(bench.function)
            .join(size.to_string())
            .join("new");
        std::fs::create_dir_all(&dir).unwrap();
        let json = format!(
            r#"{{"mean":{{"point_estimate":{}}},"median":{{"point_estimate":{median},"standard_error":1.0}}}}"#,
            median * 2.0
        );
        std::fs::write(dir.join("estimates.json"), json).unwrap();
    }

    #[test]
    fn median_is_read_not_mean() {
        let text = r#"{"mean":{"point_estimate":9.5},"median":{"point_estimate":4.25}}"#;
        assert_eq!(median_from_json(text), Some(4.25));
        assert_eq!(median_from_json("{}"), None);
        assert_eq!(median_from_json("not json"), None);
    }

    #[test]
    fn ratios_and_verdicts_come_from_the_files() {
        let root = std::env::temp_dir().join(format!("sealwire-report-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        write_estimate(&root, RATCHET_SEAL, 16 * 1024, 105.0);
        write_estimate(&root, RAW_SEAL_AAD, 16 * 1024, 100.0);
        write_estimate(&root, RATCHET_SEAL, 1 << 20, 120.0);
        write_estimate(&root, RAW_SEAL_AAD, 1 << 20, 100.0);
        let est = Estimates::new(&root);
        let ratio = est.ratio(RATCHET_SEAL, RAW_SEAL_AAD, 16 * 1024).unwrap();
        assert!((ratio - 1.05).abs() < 1e-12);
        let v = verdicts(&est);
        let floor: Vec<_> = v.iter().filter(|(l, ..)| *l == TARGETS[0].label).collect();
        assert_eq!(floor.len(), 2);
        assert!(floor[0].3, "1.05 <= 1.10 is met");
        assert!(!floor[1].3, "1.20 > 1.10 is missed");
        // Peers were not measured: no ratio, and the target is not met.
        assert!(
            v.iter()
                .filter(|(l, ..)| *l == TARGETS[2].label)
                .all(|(_, _, r, met)| r.is_none() && !met)
        );
        let text = render(&est);
        assert!(
            text.contains("| 16 KiB | 105 ns | 100 ns | 1.05 |"),
            "{text}"
        );
        assert!(text.contains("1 MiB: 1.200 (MISSED)"), "{text}");
        assert!(
            text.contains("| 16 KiB | 105 ns | 100 ns | 1.05 | - | - | - | - | - |"),
            "{text}"
        );

        // The ring floor, once measured, is a column of the table.
        write_estimate(&root, RAW_RING_SEAL_AAD, 16 * 1024, 50.0);
        let text = render(&est);
        assert!(
            text.contains("| 16 KiB | 105 ns | 100 ns | 1.05 | - | - | 2.10 | - | - |"),
            "{text}"
        );
        std::fs::remove_dir_all(&root).unwrap();
    }
}
