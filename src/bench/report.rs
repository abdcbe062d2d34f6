//! The report files: `report.html` and `report.json` in a per-run directory, and reading
//! a saved `report.json` back for `compare`.

use std::io;
use std::path::{Path, PathBuf};

use super::error::BenchError;
use super::format::compact_utc;
use super::html::render_html;
use super::stats::BenchReport;
use crate::fsutil::read_capped;

/// A day-long run's report (one timeline bucket a second, capped samples) is well under this.
pub const MAX_REPORT_BYTES: u64 = 64 << 20;

/// `20261126T035437Z`: the directory name for a report under `target/fcctl/bench/`.
#[must_use]
pub fn report_dir_name(r: &BenchReport) -> String {
    compact_utc(r.started_unix_ms)
}

/// Write `report.html` and `report.json` into `dir` (created), set `r.report` to the
/// HTML path, and return it. The JSON is the same object `--json` prints.
///
/// # Errors
///
/// Any I/O error creating `dir` or writing either file.
pub fn save_report(r: &mut BenchReport, dir: &Path) -> io::Result<PathBuf> {
    let html = dir.join("report.html");
    write_html_report(r, &html)?;
    r.report = Some(html.display().to_string());
    let json = serde_json::to_string_pretty(r).map_err(io::Error::other)?;
    std::fs::write(dir.join("report.json"), json + "\n")?;
    Ok(html)
}

/// Write the HTML report to `path` (parent directories are created).
///
/// # Errors
///
/// Any I/O error creating the directory or writing the file.
pub fn write_html_report(r: &BenchReport, path: &Path) -> io::Result<()> {
    if let Some(dir) = path.parent()
        && !dir.as_os_str().is_empty()
    {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(path, render_html(r))
}

impl BenchReport {
    /// Read a report written with `serde_json` (for `fcctl bench compare`).
    ///
    /// # Errors
    ///
    /// The file is not a regular file, is over [`MAX_REPORT_BYTES`], cannot be read, or is
    /// not a report.
    pub fn from_json_file(path: &Path) -> Result<BenchReport, BenchError> {
        let bytes =
            read_capped(path, MAX_REPORT_BYTES, "bench report").map_err(BenchError::ReportFile)?;
        serde_json::from_slice(&bytes).map_err(|source| BenchError::NotAReport {
            path: path.to_path_buf(),
            source,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::fixtures::sample_report;

    #[test]
    fn json_has_the_keys_other_tools_rely_on() {
        let mut r = sample_report();
        r.report = Some("target/fcctl/bench/20190922T221552Z/report.html".into());
        let v = serde_json::to_value(&r).unwrap();
        let o = v.as_object().unwrap();
        for k in [
            "requests",
            "rps_avg",
            "rps_peak",
            "errors",
            "cold_starts",
            "latency_ms",
            "report",
        ] {
            assert!(o.contains_key(k), "missing {k}");
        }
        assert!(v["errors"].is_u64(), "errors must be a number");
        assert!(v["errors_by_class"]["http_5xx"].is_u64());
        for k in ["min", "avg", "p50", "p75", "p90", "p99", "max"] {
            assert!(v["latency_ms"][k].is_number(), "latency_ms.{k}");
        }
        assert_eq!(
            v["report"],
            "target/fcctl/bench/20190922T221552Z/report.html"
        );
        assert_eq!(report_dir_name(&r), "20190922T221552Z");
        let dir = std::env::temp_dir().join(format!("fcctl-bench-save-{}", std::process::id()));
        let mut saved = r.clone();
        let html = save_report(&mut saved, &dir).unwrap();
        assert_eq!(saved.report.as_deref(), Some(html.to_str().unwrap()));
        let back = BenchReport::from_json_file(&dir.join("report.json")).unwrap();
        assert_eq!(back, saved);
        std::fs::remove_dir_all(&dir).ok();
        assert!(v["timeline"][0]["rps_2xx"].is_u64());
        let back: BenchReport = serde_json::from_value(v).unwrap();
        assert_eq!(back, r);
    }
}
