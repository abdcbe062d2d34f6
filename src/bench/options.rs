//! What a run is asked to do: the request, the load mode and the bounds.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::convert::{index_to_f64, saturating_usize};
use super::error::BenchError;
use super::format::human_duration;

/// Hard ceilings that no option can lift: every run is bounded.
pub const MAX_CONNECTIONS: usize = 10_000;
pub const MAX_DURATION: Duration = Duration::from_hours(24);

/// What each request sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum RequestKind {
    /// `GET <url>`: the upload page.
    #[default]
    GetPage,
    /// `POST <url>` multipart/form-data, field `file` (seed compatible), images round-robin.
    PostImage,
    /// `POST <url>/classify` with the raw image as the body, images round-robin.
    Classify,
}

impl RequestKind {
    /// How the summary and the HTML report name the request.
    #[must_use]
    pub fn label(self) -> &'static str {
        match self {
            RequestKind::GetPage => "GET page",
            RequestKind::PostImage => "POST image (multipart `file`)",
            RequestKind::Classify => "POST /classify (raw image)",
        }
    }
}

/// How load is generated.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Mode {
    /// Open loop: requests are scheduled at a fixed rate whatever the latency; latency is
    /// measured from the intended send time (coordinated-omission corrected).
    Rate { rps: f64 },
    /// Closed loop: `n` virtual users, each sending its next request when the previous
    /// one completed.
    Concurrency { n: usize },
    /// Closed loop with an automatic ramp, like the seed's pressure test: start at `from`
    /// users, add `step_pct` % of `to` every `step_duration`, never above `to`.
    /// `5..50, 20 %` gives 5, 15, 25, 35, 45, 50.
    Ramp {
        from: usize,
        to: usize,
        step_pct: f64,
        #[serde(with = "secs_f64")]
        step_duration: Duration,
    },
}

impl Default for Mode {
    fn default() -> Self {
        Mode::Concurrency { n: 8 }
    }
}

impl Mode {
    /// The concurrency levels of a ramp, first to last (`[n]` for a fixed concurrency,
    /// empty for rate mode).
    #[must_use]
    pub fn levels(&self) -> Vec<usize> {
        match *self {
            Mode::Rate { .. } => Vec::new(),
            Mode::Concurrency { n } => vec![n],
            Mode::Ramp {
                from, to, step_pct, ..
            } => ramp_levels(from, to, step_pct),
        }
    }

    /// Target concurrency `elapsed` into the run (0 in rate mode).
    #[must_use]
    pub fn concurrency_at(&self, elapsed: Duration) -> usize {
        match *self {
            Mode::Rate { .. } => 0,
            Mode::Concurrency { n } => n,
            Mode::Ramp { step_duration, .. } => {
                let levels = self.levels();
                let step = if step_duration.is_zero() {
                    levels.len()
                } else {
                    saturating_usize(elapsed.as_secs_f64() / step_duration.as_secs_f64())
                };
                levels[step.min(levels.len() - 1)]
            }
        }
    }

    /// Highest concurrency the mode reaches (0 in rate mode).
    #[must_use]
    pub fn max_concurrency(&self) -> usize {
        self.levels().into_iter().max().unwrap_or(0)
    }

    /// A short human description ("concurrency 8", "ramp 5→50 +20 %/60s", "rate 500/s").
    #[must_use]
    pub fn describe(&self) -> String {
        match *self {
            Mode::Rate { rps } => format!("rate {rps}/s (open loop)"),
            Mode::Concurrency { n } => format!("concurrency {n} (closed loop)"),
            Mode::Ramp {
                from,
                to,
                step_pct,
                step_duration,
            } => format!(
                "concurrency, auto-ramp {from}→{to}, +{step_pct} % of max per step, {} per step",
                human_duration(step_duration)
            ),
        }
    }
}

/// Ramp levels: `from`, then `+ round(to * step_pct / 100)` (at least 1) until `to`.
#[must_use]
pub fn ramp_levels(from: usize, to: usize, step_pct: f64) -> Vec<usize> {
    let from = from.max(1);
    let to = to.max(from);
    let step = saturating_usize((index_to_f64(to) * step_pct / 100.0).round()).max(1);
    let mut levels = vec![from];
    let mut c = from;
    while c < to {
        c = (c + step).min(to);
        levels.push(c);
    }
    levels
}

/// Everything a run needs. `BenchOptions::new(url)` gives safe defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct BenchOptions {
    /// Target base URL, `http://host:port/path`. Only loopback hosts unless `allow_remote`.
    pub url: String,
    pub request: RequestKind,
    /// Images sent round-robin by `PostImage` and `Classify`.
    pub images: Vec<PathBuf>,
    pub mode: Mode,
    /// Stop issuing requests after this long.
    #[serde(with = "secs_f64")]
    pub duration: Duration,
    /// Stop issuing requests after this many.
    pub max_requests: u64,
    /// Per-request timeout (connect + response + body).
    #[serde(with = "secs_f64")]
    pub timeout: Duration,
    /// `Host` header to send (custom domains routed by Host), instead of the URL's authority.
    pub host_header: Option<String>,
    /// Allow a target that is not on this machine (the user's own endpoint).
    pub allow_remote: bool,
    /// Rate mode only: connections (= maximum requests in flight). Default: rps/10,
    /// clamped to 16..=512.
    pub connections: Option<usize>,
    /// Closed-loop modes only: never more than this many requests per second in total
    /// (the seed's "RPS cap 2 000"). Latency still counts from the actual send.
    pub rps_cap: Option<f64>,
}

impl Default for BenchOptions {
    fn default() -> Self {
        BenchOptions {
            url: "http://127.0.0.1:9000/".to_string(),
            request: RequestKind::GetPage,
            images: Vec::new(),
            mode: Mode::default(),
            duration: Duration::from_secs(10),
            max_requests: 1_000_000,
            timeout: Duration::from_mins(1),
            host_header: None,
            allow_remote: false,
            connections: None,
            rps_cap: None,
        }
    }
}

impl BenchOptions {
    pub fn new(url: impl Into<String>) -> Self {
        BenchOptions {
            url: url.into(),
            ..Default::default()
        }
    }

    /// Number of worker tasks (= connections) the run uses.
    #[must_use]
    pub fn workers(&self) -> usize {
        match self.mode {
            Mode::Rate { rps } => self
                .connections
                .unwrap_or_else(|| saturating_usize((rps / 10.0).ceil()).clamp(16, 512)),
            _ => self.mode.max_concurrency(),
        }
    }

    pub(super) fn validate(&self) -> Result<(), BenchError> {
        let bad = |m: String| Err(BenchError::InvalidOptions(m));
        match self.mode {
            Mode::Rate { rps } if !(rps > 0.0 && rps.is_finite()) => {
                return bad(format!(
                    "rate must be a positive number of requests per second, got {rps}"
                ));
            }
            Mode::Concurrency { n: 0 } => return bad("concurrency must be at least 1".into()),
            Mode::Ramp {
                from, to, step_pct, ..
            } if from == 0 || to < from || step_pct.is_nan() || step_pct <= 0.0 => {
                return bad(format!(
                    "ramp needs 1 <= from <= to and a positive step, got {from}..{to} +{step_pct} %"
                ));
            }
            _ => {}
        }
        if let Some(cap) = self.rps_cap
            && (cap.is_nan() || cap <= 0.0 || cap.is_infinite())
        {
            return bad(format!("the RPS cap must be a positive number, got {cap}"));
        }
        let w = self.workers();
        if w == 0 || w > MAX_CONNECTIONS {
            return bad(format!(
                "{w} connections requested; the limit is 1..={MAX_CONNECTIONS}"
            ));
        }
        if self.duration.is_zero() || self.duration > MAX_DURATION {
            return bad("duration must be between 1 ms and 24 h".into());
        }
        if self.max_requests == 0 {
            return bad("max requests must be at least 1".into());
        }
        if self.timeout.is_zero() {
            return bad("timeout must be positive".into());
        }
        if self.request != RequestKind::GetPage && self.images.is_empty() {
            return bad("this request kind sends images: pass at least one --image file".into());
        }
        Ok(())
    }
}

/// Serde helper: `Duration` as fractional seconds.
pub(crate) mod secs_f64 {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(d.as_secs_f64())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let v = f64::deserialize(d)?;
        Duration::try_from_secs_f64(v).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ramp_like_the_seed() {
        assert_eq!(ramp_levels(5, 50, 20.0), vec![5, 15, 25, 35, 45, 50]);
        let m = Mode::Ramp {
            from: 5,
            to: 50,
            step_pct: 20.0,
            step_duration: Duration::from_mins(1),
        };
        assert_eq!(m.concurrency_at(Duration::ZERO), 5);
        assert_eq!(m.concurrency_at(Duration::from_secs(59)), 5);
        assert_eq!(m.concurrency_at(Duration::from_mins(1)), 15);
        assert_eq!(m.concurrency_at(Duration::from_secs(299)), 45);
        assert_eq!(m.concurrency_at(Duration::from_mins(5)), 50);
        assert_eq!(m.concurrency_at(Duration::from_secs(10_000)), 50);
        assert_eq!(m.max_concurrency(), 50);
        // degenerate inputs stay sane
        assert_eq!(ramp_levels(3, 3, 20.0), vec![3]);
        assert_eq!(ramp_levels(1, 4, 1.0), vec![1, 2, 3, 4]);
    }

    #[test]
    fn options_roundtrip_and_validate() {
        let mut o = BenchOptions::new("http://127.0.0.1:1/");
        o.mode = Mode::Ramp {
            from: 5,
            to: 50,
            step_pct: 20.0,
            step_duration: Duration::from_secs(30),
        };
        let j = serde_json::to_string(&o).unwrap();
        let back: BenchOptions = serde_json::from_str(&j).unwrap();
        assert_eq!(back, o);
        assert!(o.validate().is_ok());
        o.request = RequestKind::Classify;
        assert!(o.validate().is_err(), "classify without images");
        let mut r = BenchOptions::new("http://127.0.0.1:1/");
        r.mode = Mode::Rate { rps: 0.0 };
        assert!(r.validate().is_err());
        r.mode = Mode::Rate { rps: 20_000.0 };
        assert_eq!(r.workers(), 512);
    }
}
