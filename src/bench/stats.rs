//! Measurement: HDR histograms, per-second buckets, and the serialisable report.

use std::collections::HashSet;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use super::cold::{ColdStartSample, ColdStartSummary};
use super::convert::{index_to_f64, saturating_u64, saturating_usize, to_f64, to_usize};
use super::options::BenchOptions;

/// Highest latency the histograms track: 1 hour, in microseconds.
const HIST_MAX_US: u64 = 3_600_000_000;
/// Cold-start samples kept in the report (all are counted).
pub(crate) const MAX_COLD_SAMPLES: usize = 10_000;
/// Failed requests a report lists (the first ones): enough to find their logs.
pub(crate) const MAX_FAILED_SAMPLES: usize = 20;

pub(crate) fn new_histogram() -> Histogram<u64> {
    // 3 significant digits, 1 µs .. 1 h: ~200 KiB per histogram.
    Histogram::new_with_bounds(1, HIST_MAX_US, 3).expect("static histogram bounds are valid")
}

/// Transport-level failure classes (no HTTP status).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Failure {
    Timeout,
    Connect,
    Other,
}

/// What happened to one request, as recorded.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Outcome {
    Status(u16),
    /// A status below 400 carrying `x-fc-error-type` (FC reports function errors such as
    /// `InitializationError` or `FunctionTimeoutError` with HTTP 200).
    FunctionError(u16),
    Failed(Failure),
}

/// One second of the run, accumulated.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct SecondAccumulator {
    pub n2xx: u64,
    pub n3xx: u64,
    pub n4xx: u64,
    pub n5xx: u64,
    pub nerr: u64,
    pub lat_n: u64,
    pub lat_sum_us: u64,
    pub lat_min_us: u64,
    pub lat_max_us: u64,
    pub cold: u64,
    pub bytes: u64,
}

impl SecondAccumulator {
    fn merge(&mut self, o: &SecondAccumulator) {
        self.n2xx += o.n2xx;
        self.n3xx += o.n3xx;
        self.n4xx += o.n4xx;
        self.n5xx += o.n5xx;
        self.nerr += o.nerr;
        if o.lat_n > 0 {
            self.lat_min_us = if self.lat_n == 0 {
                o.lat_min_us
            } else {
                self.lat_min_us.min(o.lat_min_us)
            };
            self.lat_max_us = self.lat_max_us.max(o.lat_max_us);
        }
        self.lat_n += o.lat_n;
        self.lat_sum_us += o.lat_sum_us;
        self.cold += o.cold;
        self.bytes += o.bytes;
    }
}

/// Everything one worker measured; merged at the end (no locks on the hot path).
pub(crate) struct WorkerStats {
    pub requests: u64,
    pub all: Histogram<u64>,
    pub warm: Histogram<u64>,
    pub cold: Histogram<u64>,
    pub buckets: Vec<SecondAccumulator>,
    pub status: StatusCounts,
    pub errors: ErrorsByClass,
    pub bytes: u64,
    pub cold_starts: u64,
    pub cold_samples: Vec<ColdStartSample>,
    pub failed_samples: Vec<super::cold::FailedRequest>,
    pub instances: HashSet<String>,
}

impl WorkerStats {
    pub fn new() -> Self {
        WorkerStats {
            requests: 0,
            all: new_histogram(),
            warm: new_histogram(),
            cold: new_histogram(),
            buckets: Vec::new(),
            status: StatusCounts::default(),
            errors: ErrorsByClass::default(),
            bytes: 0,
            cold_starts: 0,
            cold_samples: Vec::new(),
            failed_samples: Vec::new(),
            instances: HashSet::new(),
        }
    }

    /// Record one finished request. `at` is the completion time since the run start;
    /// `latency` is measured from the intended (rate mode) or actual send time.
    pub fn record(
        &mut self,
        at: Duration,
        outcome: Outcome,
        latency: Duration,
        bytes: u64,
        cold: bool,
    ) {
        let sec = to_usize(at.as_secs());
        if self.buckets.len() <= sec {
            self.buckets.resize(sec + 1, SecondAccumulator::default());
        }
        self.requests += 1;
        let b = &mut self.buckets[sec];
        b.bytes += bytes;
        self.bytes += bytes;
        match outcome {
            Outcome::Status(s) | Outcome::FunctionError(s) => {
                if matches!(outcome, Outcome::FunctionError(_)) && s < 400 {
                    self.errors.function += 1;
                }
                match s {
                    200..=299 => {
                        b.n2xx += 1;
                        self.status.s2xx += 1;
                    }
                    300..=399 => {
                        b.n3xx += 1;
                        self.status.s3xx += 1;
                    }
                    400..=499 => {
                        b.n4xx += 1;
                        self.status.s4xx += 1;
                        self.errors.http_4xx += 1;
                    }
                    500..=599 => {
                        b.n5xx += 1;
                        self.status.s5xx += 1;
                        self.errors.http_5xx += 1;
                    }
                    _ => {
                        b.nerr += 1;
                        self.status.other += 1;
                        self.errors.other += 1;
                    }
                }
                let us = u64::try_from(latency.as_micros())
                    .unwrap_or(HIST_MAX_US)
                    .clamp(1, HIST_MAX_US);
                self.all.saturating_record(us);
                if cold {
                    self.cold.saturating_record(us);
                    self.cold_starts += 1;
                    b.cold += 1;
                } else {
                    self.warm.saturating_record(us);
                }
                b.lat_min_us = if b.lat_n == 0 {
                    us
                } else {
                    b.lat_min_us.min(us)
                };
                b.lat_max_us = b.lat_max_us.max(us);
                b.lat_n += 1;
                b.lat_sum_us += us;
            }
            Outcome::Failed(f) => {
                b.nerr += 1;
                match f {
                    Failure::Timeout => self.errors.timeout += 1,
                    Failure::Connect => self.errors.connect += 1,
                    Failure::Other => self.errors.other += 1,
                }
            }
        }
    }

    pub fn merge(&mut self, o: WorkerStats) {
        // Same bounds everywhere, so `add` cannot fail.
        let _ = self.all.add(&o.all);
        let _ = self.warm.add(&o.warm);
        let _ = self.cold.add(&o.cold);
        if self.buckets.len() < o.buckets.len() {
            self.buckets
                .resize(o.buckets.len(), SecondAccumulator::default());
        }
        for (a, b) in self.buckets.iter_mut().zip(o.buckets.iter()) {
            a.merge(b);
        }
        self.requests += o.requests;
        self.status.add(&o.status);
        self.errors.add(&o.errors);
        self.bytes += o.bytes;
        self.cold_starts += o.cold_starts;
        let room = MAX_COLD_SAMPLES.saturating_sub(self.cold_samples.len());
        self.cold_samples
            .extend(o.cold_samples.into_iter().take(room));
        let room = MAX_FAILED_SAMPLES.saturating_sub(self.failed_samples.len());
        self.failed_samples
            .extend(o.failed_samples.into_iter().take(room));
        self.instances.extend(o.instances);
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct StatusCounts {
    #[serde(rename = "2xx")]
    pub s2xx: u64,
    #[serde(rename = "3xx")]
    pub s3xx: u64,
    #[serde(rename = "4xx")]
    pub s4xx: u64,
    #[serde(rename = "5xx")]
    pub s5xx: u64,
    /// Statuses outside 200..=599.
    pub other: u64,
}

impl StatusCounts {
    fn add(&mut self, o: &StatusCounts) {
        self.s2xx += o.s2xx;
        self.s3xx += o.s3xx;
        self.s4xx += o.s4xx;
        self.s5xx += o.s5xx;
        self.other += o.other;
    }
}

/// Errors by class; `BenchReport::errors` is their sum.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ErrorsByClass {
    pub http_4xx: u64,
    pub http_5xx: u64,
    /// No complete response within `timeout`.
    pub timeout: u64,
    /// TCP connect or HTTP handshake failed.
    pub connect: u64,
    /// Connection reset / protocol error mid-request, or a status outside 200..=599.
    pub other: u64,
    /// Status below 400 but `x-fc-error-type` set (FC function errors come with HTTP 200).
    pub function: u64,
}

impl ErrorsByClass {
    #[must_use]
    pub fn total(&self) -> u64 {
        self.http_4xx + self.http_5xx + self.timeout + self.connect + self.other + self.function
    }
    fn add(&mut self, o: &ErrorsByClass) {
        self.http_4xx += o.http_4xx;
        self.http_5xx += o.http_5xx;
        self.timeout += o.timeout;
        self.connect += o.connect;
        self.other += o.other;
        self.function += o.function;
    }
}

/// Latency figures in milliseconds (0 everywhere when `count` is 0).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct LatencyStats {
    pub count: u64,
    pub min: f64,
    pub avg: f64,
    pub p50: f64,
    pub p75: f64,
    pub p90: f64,
    pub p99: f64,
    pub p999: f64,
    pub max: f64,
}

/// Microseconds as milliseconds, rounded to the microsecond.
fn micros_to_ms(us: f64) -> f64 {
    (us / 1000.0 * 1000.0).round() / 1000.0
}

impl LatencyStats {
    pub(crate) fn from_hist(h: &Histogram<u64>) -> Self {
        if h.is_empty() {
            return LatencyStats::default();
        }
        let q = |q: f64| micros_to_ms(to_f64(h.value_at_quantile(q)));
        LatencyStats {
            count: h.len(),
            min: micros_to_ms(to_f64(h.min())),
            avg: micros_to_ms(h.mean()),
            p50: q(0.50),
            p75: q(0.75),
            p90: q(0.90),
            p99: q(0.99),
            p999: q(0.999),
            max: micros_to_ms(to_f64(h.max())),
        }
    }
}

/// One second of the run (`t` = seconds since the start). Rates are per second;
/// latencies in ms, over the responses that completed in that second.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SecondBucket {
    pub t: u64,
    pub rps_2xx: u64,
    pub rps_3xx: u64,
    pub rps_4xx: u64,
    pub rps_5xx: u64,
    /// Timeouts, connect and other transport errors.
    pub rps_err: u64,
    pub lat_min: f64,
    pub lat_avg: f64,
    pub lat_max: f64,
    /// Highest number of requests in flight seen during the second.
    pub concurrency: u64,
    pub cold_starts: u64,
    pub bytes: u64,
}

impl SecondBucket {
    #[must_use]
    pub fn total(&self) -> u64 {
        self.rps_2xx + self.rps_3xx + self.rps_4xx + self.rps_5xx + self.rps_err
    }
}

/// Build the per-second timeline from merged buckets and sampled concurrency.
pub(crate) fn timeline(buckets: &[SecondAccumulator], concurrency: &[u64]) -> Vec<SecondBucket> {
    let n = buckets.len().max(concurrency.len());
    (0..n)
        .map(|i| {
            let b = buckets.get(i).copied().unwrap_or_default();
            let avg = if b.lat_n > 0 {
                to_f64(b.lat_sum_us) / to_f64(b.lat_n)
            } else {
                0.0
            };
            SecondBucket {
                t: i as u64,
                rps_2xx: b.n2xx,
                rps_3xx: b.n3xx,
                rps_4xx: b.n4xx,
                rps_5xx: b.n5xx,
                rps_err: b.nerr,
                lat_min: micros_to_ms(to_f64(b.lat_min_us)),
                lat_avg: micros_to_ms(avg),
                lat_max: micros_to_ms(to_f64(b.lat_max_us)),
                concurrency: concurrency.get(i).copied().unwrap_or(0),
                cold_starts: b.cold,
                bytes: b.bytes,
            }
        })
        .collect()
}

/// The timeline as charted: without a trailing partial second that only holds the
/// requests still in flight at the deadline (it would draw a false drop at the end).
pub(crate) fn chart_timeline(r: &BenchReport) -> &[SecondBucket] {
    let tl = &r.timeline[..];
    match tl.last() {
        Some(last) if tl.len() > 1 && to_f64(last.t) >= r.options.duration.as_secs_f64() => {
            &tl[..tl.len() - 1]
        }
        _ => tl,
    }
}

/// One bar of the latency histogram: responses with `from_ms < latency <= to_ms`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct HistogramBucket {
    pub from_ms: f64,
    pub to_ms: f64,
    pub count: u64,
}

/// Log-spaced buckets (about 4 per doubling, at most ~60) covering min..=max.
pub(crate) fn histogram_buckets(h: &Histogram<u64>) -> Vec<HistogramBucket> {
    if h.is_empty() {
        return Vec::new();
    }
    let lo_us = h.min().max(1);
    let hi_us = h.highest_equivalent(h.max());
    let (lo, hi) = (to_f64(lo_us), to_f64(hi_us));
    let ratio = (hi / lo).max(1.0001);
    let n = saturating_usize((ratio.log2() * 4.0).ceil()).clamp(1, 60);
    let edges: Vec<u64> = (0..=n)
        .map(|i| saturating_u64((lo * ratio.powf(index_to_f64(i) / index_to_f64(n))).round()))
        .collect();
    let mut out = Vec::with_capacity(n);
    let mut prev = h.lowest_equivalent(lo_us).saturating_sub(1);
    for (i, &e) in edges.iter().enumerate().skip(1) {
        let e = if i == n { hi_us } else { e };
        if e <= prev {
            continue;
        }
        let count = h.count_between(prev + 1, e);
        out.push(HistogramBucket {
            from_ms: micros_to_ms(to_f64(prev)),
            to_ms: micros_to_ms(to_f64(e)),
            count,
        });
        prev = h.highest_equivalent(e);
    }
    out
}

/// The result of a run. Top-level keys `requests`, `rps_avg`, `rps_peak`, `errors`
/// (total), `cold_starts`, `latency_ms` and `report` are relied upon by other tools.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct BenchReport {
    pub schema: u32,
    pub url: String,
    pub started_at: String,
    pub finished_at: String,
    pub started_unix_ms: u64,
    /// Seconds used for `rps_avg` (run length, capped at the planned duration).
    pub duration_s: f64,
    pub requests: u64,
    /// Responses with a status below 400 and no `x-fc-error-type`.
    pub successes: u64,
    /// `successes / requests`, 0..=1.
    pub success_rate: f64,
    /// Total errors: 4xx + 5xx + timeouts + connect + other.
    pub errors: u64,
    pub errors_by_class: ErrorsByClass,
    pub status: StatusCounts,
    pub rps_avg: f64,
    pub rps_peak: f64,
    pub concurrency_peak: u64,
    /// Configured ceiling (max virtual users, or connections in rate mode).
    pub concurrency_limit: u64,
    pub bytes_received: u64,
    pub throughput_avg_bps: f64,
    pub throughput_peak_bps: f64,
    pub cold_starts: u64,
    /// Distinct instance ids seen in `x-fc-instance-id` / `x-fcctl-instance-id`.
    pub instances: u64,
    /// True in rate mode: latencies count from the intended send time.
    pub coordinated_omission_corrected: bool,
    pub latency_ms: LatencyStats,
    pub warm_latency_ms: LatencyStats,
    pub cold_latency_ms: LatencyStats,
    pub cold_start: Option<ColdStartSummary>,
    pub cold_start_samples: Vec<ColdStartSample>,
    /// A sample of failed requests (the first, by completion time) with their request ids.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub failed_requests: Vec<super::cold::FailedRequest>,
    pub timeline: Vec<SecondBucket>,
    pub histogram: Vec<HistogramBucket>,
    pub options: BenchOptions,
    /// Path of the HTML report, set by the caller after writing it.
    pub report: Option<String>,
    /// What was measured when the target is the project's function (not a bare `--url`):
    /// set by the caller, so reports of different settings can be told apart.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tested: Option<TestedFunction>,
}

/// The function version a bench ran against.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TestedFunction {
    pub function: String,
    /// The alias the trigger routes to.
    pub alias: String,
    /// The version the alias served when the run started.
    pub version: Option<String>,
    /// The NAS release that version pins.
    pub release_id: Option<String>,
    pub memory_mb: Option<i64>,
    pub cpu: Option<f64>,
    pub instance_concurrency: Option<i64>,
}

pub(crate) const SCHEMA: u32 = 1;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_from_hdr() {
        let mut w = WorkerStats::new();
        for ms in 1..=1000u64 {
            w.record(
                Duration::from_millis(ms),
                Outcome::Status(200),
                Duration::from_millis(ms),
                10,
                false,
            );
        }
        let l = LatencyStats::from_hist(&w.all);
        assert_eq!(l.count, 1000);
        let close = |a: f64, b: f64| (a - b).abs() <= b * 0.001 + 0.001;
        assert!(close(l.min, 1.0), "{l:?}");
        assert!(close(l.p50, 500.0), "{l:?}");
        assert!(close(l.p75, 750.0), "{l:?}");
        assert!(close(l.p90, 900.0), "{l:?}");
        assert!(close(l.p99, 990.0), "{l:?}");
        assert!(close(l.p999, 999.0), "{l:?}");
        assert!(close(l.max, 1000.0), "{l:?}");
        assert!(close(l.avg, 500.5), "{l:?}");
        let hb = histogram_buckets(&w.all);
        assert_eq!(hb.iter().map(|b| b.count).sum::<u64>(), 1000);
        assert!(hb.windows(2).all(|p| p[0].to_ms <= p[1].from_ms + 1e-9));
    }

    #[test]
    fn bucketing_by_completion_second() {
        let mut a = WorkerStats::new();
        let mut b = WorkerStats::new();
        a.record(
            Duration::from_millis(100),
            Outcome::Status(200),
            Duration::from_millis(10),
            5,
            false,
        );
        a.record(
            Duration::from_millis(900),
            Outcome::Status(503),
            Duration::from_millis(30),
            5,
            false,
        );
        b.record(
            Duration::from_millis(999),
            Outcome::Status(404),
            Duration::from_millis(20),
            5,
            true,
        );
        b.record(
            Duration::from_millis(2500),
            Outcome::Failed(Failure::Timeout),
            Duration::from_secs(1),
            0,
            false,
        );
        b.record(
            Duration::from_millis(2700),
            Outcome::FunctionError(200),
            Duration::from_millis(2),
            0,
            false,
        );
        b.record(
            Duration::from_millis(2600),
            Outcome::Status(301),
            Duration::from_millis(2),
            0,
            false,
        );
        a.merge(b);
        let t = timeline(&a.buckets, &[3, 2, 1]);
        assert_eq!(t.len(), 3);
        assert_eq!(
            (t[0].rps_2xx, t[0].rps_4xx, t[0].rps_5xx, t[0].rps_err),
            (1, 1, 1, 0)
        );
        assert_eq!(
            (t[0].lat_min, t[0].lat_avg, t[0].lat_max),
            (10.0, 20.0, 30.0)
        );
        assert_eq!(t[0].cold_starts, 1);
        assert_eq!(t[0].concurrency, 3);
        assert_eq!(t[1].total(), 0);
        assert_eq!((t[2].rps_err, t[2].rps_3xx, t[2].lat_max), (1, 1, 2.0));
        assert_eq!(
            t[2].rps_2xx, 1,
            "function errors keep their HTTP status class"
        );
        assert_eq!(a.errors.function, 1);
        assert_eq!(a.errors.total(), 4);
        assert_eq!(a.cold_starts, 1);
        assert_eq!(LatencyStats::from_hist(&a.cold).count, 1);
        assert_eq!(LatencyStats::from_hist(&a.warm).count, 4);
    }
}
