//! `fcctl bench --sweep`: the same load against several `memory_mb`/`cpu` settings, one row
//! per setting, and the smallest setting that holds a p99 bound.

use std::fmt::Write as _;

use serde::Serialize;

use crate::bench::BenchReport;

/// One `memory_mb`/`cpu` setting, valid for FC3 (docs/cloud-facts.md: memory a multiple of
/// 64 MB in 128–32768, cpu a multiple of 0.05 in 0.05–16, memory GB per vCPU 1–4).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Setting {
    pub memory_mb: u32,
    pub cpu: f64,
}

impl std::fmt::Display for Setting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} MB / {} vCPU", self.memory_mb, self.cpu)
    }
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum SweepError {
    #[error("--sweep `{0}`: write MEMORY_MB:CPU settings separated by commas, e.g. 512:0.5,1024:1")]
    Syntax(String),
    #[error("--sweep {setting}: {rule}")]
    Invalid { setting: String, rule: &'static str },
}

impl crate::exit::Hint for SweepError {
    fn hint(&self) -> Option<std::borrow::Cow<'_, str>> {
        Some(
            "FC3 accepts memory in multiples of 64 MB (128–32768), cpu in multiples of 0.05 (0.05–16), and 1 to 4 GB of memory per vCPU; e.g. --sweep 512:0.35,1024:0.5,1024:1"
                .into(),
        )
    }
}

/// Parses `512:0.5,1024:1` and checks each setting against FC3's rules.
///
/// # Errors
/// A setting that is not `MEMORY_MB:CPU`, or one FC3 would refuse.
pub fn parse_settings(s: &str) -> Result<Vec<Setting>, SweepError> {
    let syntax = || SweepError::Syntax(s.to_string());
    let settings = s
        .split(',')
        .map(|part| {
            let (m, c) = part.trim().split_once(':').ok_or_else(syntax)?;
            let memory_mb: u32 = m.trim().parse().map_err(|_| syntax())?;
            let cpu: f64 = c.trim().parse().map_err(|_| syntax())?;
            let setting = Setting { memory_mb, cpu };
            check(setting).map_err(|rule| SweepError::Invalid {
                setting: setting.to_string(),
                rule,
            })?;
            Ok(setting)
        })
        .collect::<Result<Vec<_>, _>>()?;
    if settings.is_empty() {
        return Err(syntax());
    }
    Ok(settings)
}

/// FC3's rules for a memory/cpu pair.
///
/// # Errors
/// The broken rule when the pair is not valid.
pub fn check(s: Setting) -> Result<(), &'static str> {
    if !(128..=32768).contains(&s.memory_mb) || !s.memory_mb.is_multiple_of(64) {
        return Err("memory must be a multiple of 64 between 128 and 32768 MB");
    }
    let twentieths = s.cpu * 20.0;
    if !(0.05..=16.0).contains(&s.cpu) || (twentieths - twentieths.round()).abs() > 1e-6 {
        return Err("cpu must be a multiple of 0.05 between 0.05 and 16");
    }
    let gb_per_vcpu = f64::from(s.memory_mb) / 1024.0 / s.cpu;
    if !(1.0 - 1e-9..=4.0 + 1e-9).contains(&gb_per_vcpu) {
        return Err("memory (GB) per vCPU must be between 1 and 4");
    }
    Ok(())
}

/// One setting's result.
#[derive(Debug, Clone, Serialize)]
pub struct SweepRow {
    pub memory_mb: u32,
    pub cpu: f64,
    pub requests: u64,
    pub errors: u64,
    pub rps: f64,
    /// Successful requests per second per configured vCPU (what a vCPU-second buys).
    pub rps_per_vcpu: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    /// The highest peak memory of the instances that served the run (emulator only: its
    /// cgroup high-water mark or RSS watchdog), MB.
    pub peak_memory_mb: Option<f64>,
    /// CPU time the instances used during the run, per request (ms).
    pub cpu_ms_per_request: Option<f64>,
    /// Where the run's report.json is.
    pub report: Option<String>,
}

impl SweepRow {
    /// `peak_bytes` and `cpu_ms` are summed over the instances that served the run.
    #[must_use]
    pub fn new(s: Setting, r: &BenchReport, peak_bytes: Option<u64>, cpu_ms: Option<u64>) -> Self {
        let ok = r.successes;
        let secs = r.duration_s.max(1e-9);
        #[allow(clippy::cast_precision_loss)]
        let rps = ok as f64 / secs;
        #[allow(clippy::cast_precision_loss)]
        SweepRow {
            memory_mb: s.memory_mb,
            cpu: s.cpu,
            requests: r.requests,
            errors: r.errors,
            rps,
            rps_per_vcpu: rps / s.cpu,
            p50_ms: r.latency_ms.p50,
            p99_ms: r.latency_ms.p99,
            peak_memory_mb: peak_bytes.map(|b| b as f64 / 1_048_576.0),
            cpu_ms_per_request: cpu_ms
                .filter(|_| r.requests > 0)
                .map(|c| c as f64 / r.requests as f64),
            report: r.report.clone(),
        }
    }

    /// Holds the bound: every request answered and p99 within `p99_ms`.
    #[must_use]
    pub fn holds(&self, p99_ms: f64) -> bool {
        self.errors == 0 && self.requests > 0 && self.p99_ms <= p99_ms
    }
}

/// `--sweep --json`.
#[derive(Debug, Serialize)]
pub struct SweepReport {
    pub url: String,
    /// The load each setting got (`--concurrency`, `--duration`, …).
    pub load: String,
    pub p99_bound_ms: f64,
    pub rows: Vec<SweepRow>,
    /// The smallest setting holding the bound (fewest vCPUs, then least memory).
    pub smallest_holding: Option<SweepRow>,
}

impl SweepReport {
    #[must_use]
    pub fn new(url: String, load: String, p99_bound_ms: f64, rows: Vec<SweepRow>) -> Self {
        let smallest_holding = rows
            .iter()
            .filter(|r| r.holds(p99_bound_ms))
            .min_by(|a, b| a.cpu.total_cmp(&b.cpu).then(a.memory_mb.cmp(&b.memory_mb)))
            .cloned();
        SweepReport {
            url,
            load,
            p99_bound_ms,
            rows,
            smallest_holding,
        }
    }

    /// The table, one row per setting, then the choice.
    #[must_use]
    pub fn render(&self) -> String {
        let mut s = format!(
            "sweep: {} per setting, p99 bound {} ms\n{:>9} {:>5} {:>8} {:>7} {:>9} {:>8} {:>8} {:>9} {:>9} {:>6}\n",
            self.load,
            self.p99_bound_ms,
            "memory_mb",
            "cpu",
            "requests",
            "rps",
            "rps/vCPU",
            "p50 ms",
            "p99 ms",
            "peak MB",
            "cpu ms/r",
            "errors"
        );
        let opt = |v: Option<f64>| v.map_or_else(|| "-".to_string(), |v| format!("{v:.1}"));
        for r in &self.rows {
            let _ = writeln!(
                s,
                "{:>9} {:>5} {:>8} {:>7.1} {:>9.1} {:>8.1} {:>8.1} {:>9} {:>9} {:>6}{}",
                r.memory_mb,
                r.cpu,
                r.requests,
                r.rps,
                r.rps_per_vcpu,
                r.p50_ms,
                r.p99_ms,
                opt(r.peak_memory_mb),
                opt(r.cpu_ms_per_request),
                r.errors,
                if r.holds(self.p99_bound_ms) {
                    ""
                } else {
                    "  ✗"
                }
            );
        }
        match &self.smallest_holding {
            Some(r) => writeln!(
                s,
                "smallest setting holding p99 ≤ {} ms: {} MB / {} vCPU (p99 {:.1} ms, peak memory {} MB)",
                self.p99_bound_ms,
                r.memory_mb,
                r.cpu,
                r.p99_ms,
                opt(r.peak_memory_mb)
            ),
            None => writeln!(
                s,
                "no setting held p99 ≤ {} ms without errors",
                self.p99_bound_ms
            ),
        }
        .ok();
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_follow_fc3_rules() {
        assert_eq!(
            parse_settings("512:0.5, 1024:1").unwrap(),
            vec![
                Setting {
                    memory_mb: 512,
                    cpu: 0.5
                },
                Setting {
                    memory_mb: 1024,
                    cpu: 1.0
                }
            ]
        );
        assert!(parse_settings("512:0.35").is_ok());
        let rule = |s: &str| match parse_settings(s) {
            Err(SweepError::Invalid { rule, .. }) => rule,
            other => panic!("{s}: {other:?}"),
        };
        assert!(rule("500:0.5").contains("multiple of 64"));
        assert!(rule("512:0.33").contains("multiple of 0.05"));
        assert!(rule("256:1").contains("between 1 and 4"));
        assert!(rule("4096:0.5").contains("between 1 and 4"));
        assert_eq!(parse_settings("512"), Err(SweepError::Syntax("512".into())));
    }

    fn row(memory_mb: u32, cpu: f64, p99_ms: f64, errors: u64) -> SweepRow {
        SweepRow {
            memory_mb,
            cpu,
            requests: 100,
            errors,
            rps: 10.0,
            rps_per_vcpu: 10.0 / cpu,
            p50_ms: p99_ms / 2.0,
            p99_ms,
            peak_memory_mb: Some(80.0),
            cpu_ms_per_request: Some(9.0),
            report: None,
        }
    }

    #[test]
    fn the_smallest_setting_holding_the_bound_is_chosen() {
        let r = SweepReport::new(
            "u".into(),
            "c1".into(),
            119.0,
            vec![
                row(1024, 1.0, 20.0, 0),
                row(256, 0.25, 200.0, 0),
                row(512, 0.5, 60.0, 0),
                row(512, 0.35, 90.0, 2),
            ],
        );
        let s = r.smallest_holding.as_ref().unwrap();
        assert_eq!((s.memory_mb, s.cpu), (512, 0.5));
        assert!(r.render().contains("512 MB / 0.5 vCPU"), "{}", r.render());
    }
}
