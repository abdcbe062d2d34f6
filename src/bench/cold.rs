//! Cold starts: detection from response headers, samples and phase summaries.
//!
//! Headers read (all optional):
//! - `x-fcctl-cold-start: true` — set by the local emulator when the request started an
//!   instance; phases in `x-fcctl-instance-start-ms` (process start until listening) and
//!   `x-fcctl-initialize-ms` (the `/initialize` call, i.e. model load).
//! - `x-fcctl-model-load: true` — set by the function when this request paid the model
//!   load; duration in `x-fcctl-model-load-ms`.
//! - `x-fc-instance-id` / `x-fcctl-instance-id` — which instance answered.

use serde::{Deserialize, Serialize};

use super::convert::{index_to_f64, saturating_usize};

/// One request that paid a cold start (or one `--cold` probe).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ColdStartSample {
    /// Seconds since the run start when the response completed.
    pub t_s: f64,
    pub status: u16,
    /// Whether the headers marked this response as a cold start.
    pub cold: bool,
    pub instance_id: Option<String>,
    /// Instance start (process spawn until it listens), from `x-fcctl-instance-start-ms`.
    pub instance_start_ms: Option<f64>,
    /// `/initialize` duration, from `x-fcctl-initialize-ms`.
    pub initialize_ms: Option<f64>,
    /// Model load paid inside the request, from `x-fcctl-model-load-ms`.
    pub model_load_ms: Option<f64>,
    /// Client-side time to the response headers (first byte).
    pub first_byte_ms: f64,
    /// Client-side time to the end of the body.
    pub total_ms: f64,
}

/// One failed request (4xx/5xx or a function error), with the id its logs carry.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct FailedRequest {
    /// Seconds since the run start when the response completed.
    pub t_s: f64,
    pub status: u16,
    /// `x-fc-error-type` was set (the function failed; FC answered 200).
    pub function_error: bool,
    pub request_id: Option<String>,
    pub instance_id: Option<String>,
    /// The command that shows the request's log lines.
    pub logs: Option<String>,
}

impl FailedRequest {
    pub(crate) fn new(t_s: f64, status: u16, info: &HeaderInfo) -> Self {
        FailedRequest {
            t_s,
            status,
            function_error: info.fc_error,
            request_id: info.request_id.clone(),
            instance_id: info.instance_id.clone(),
            logs: info
                .request_id
                .as_ref()
                .map(|r| format!("fcctl logs --request-id {r}")),
        }
    }
}

/// p50/p90/max of one phase over the samples that reported it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PhaseStats {
    pub count: u64,
    pub p50: f64,
    pub p90: f64,
    pub max: f64,
}

impl PhaseStats {
    /// Nearest-rank percentiles over exact values.
    pub fn of(values: impl IntoIterator<Item = f64>) -> PhaseStats {
        let mut v: Vec<f64> = values.into_iter().filter(|x| x.is_finite()).collect();
        if v.is_empty() {
            return PhaseStats::default();
        }
        v.sort_by(f64::total_cmp);
        let rank =
            |q: f64| v[saturating_usize((q * index_to_f64(v.len())).ceil()).clamp(1, v.len()) - 1];
        PhaseStats {
            count: v.len() as u64,
            p50: rank(0.5),
            p90: rank(0.9),
            max: v[v.len() - 1],
        }
    }
}

/// Cold-start phases: instance start → `/initialize` done → first byte.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ColdStartSummary {
    pub count: u64,
    pub instance_start_ms: PhaseStats,
    pub initialize_ms: PhaseStats,
    pub model_load_ms: PhaseStats,
    pub first_byte_ms: PhaseStats,
    pub total_ms: PhaseStats,
}

/// Summarise the samples marked `cold` (all samples if none is marked, as for probes
/// against a server that sets no headers). `None` when there is nothing to summarise.
#[must_use]
pub fn summarize_cold(samples: &[ColdStartSample]) -> Option<ColdStartSummary> {
    let marked: Vec<&ColdStartSample> = samples.iter().filter(|s| s.cold).collect();
    let set: Vec<&ColdStartSample> = if marked.is_empty() {
        samples.iter().collect()
    } else {
        marked
    };
    if set.is_empty() {
        return None;
    }
    Some(ColdStartSummary {
        count: set.len() as u64,
        instance_start_ms: PhaseStats::of(set.iter().filter_map(|s| s.instance_start_ms)),
        initialize_ms: PhaseStats::of(set.iter().filter_map(|s| s.initialize_ms)),
        model_load_ms: PhaseStats::of(set.iter().filter_map(|s| s.model_load_ms)),
        first_byte_ms: PhaseStats::of(set.iter().map(|s| s.first_byte_ms)),
        total_ms: PhaseStats::of(set.iter().map(|s| s.total_ms)),
    })
}

fn truthy(v: &[u8]) -> bool {
    let v = v.trim_ascii();
    v.eq_ignore_ascii_case(b"true") || v == b"1" || v.eq_ignore_ascii_case(b"yes")
}

fn number(v: &[u8]) -> Option<f64> {
    std::str::from_utf8(v)
        .ok()?
        .trim()
        .parse()
        .ok()
        .filter(|x: &f64| x.is_finite())
}

/// The cold-start related response headers, collected while the head is parsed.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct HeaderInfo {
    pub cold_start: bool,
    pub model_load: bool,
    pub instance_id: Option<String>,
    pub instance_start_ms: Option<f64>,
    pub initialize_ms: Option<f64>,
    pub model_load_ms: Option<f64>,
    /// `x-fc-error-type` was present (function error reported with HTTP 200).
    pub fc_error: bool,
    /// `x-fc-request-id`: what `fcctl logs --request-id` finds a failed request by.
    pub request_id: Option<String>,
}

impl HeaderInfo {
    /// Look at one header (name in any case). Only the instance id allocates.
    pub fn observe(&mut self, name: &[u8], value: &[u8]) {
        if name.len() < 15 || !name[..4].eq_ignore_ascii_case(b"x-fc") {
            return;
        }
        let is = |n: &str| name.eq_ignore_ascii_case(n.as_bytes());
        if is("x-fc-error-type") {
            self.fc_error = true;
        } else if is("x-fc-request-id") {
            self.request_id = std::str::from_utf8(value)
                .ok()
                .map(|v| v.trim().to_string());
        } else if is("x-fcctl-cold-start") {
            self.cold_start = truthy(value);
        } else if is("x-fcctl-model-load") {
            self.model_load = truthy(value);
        } else if is("x-fc-instance-id")
            || (is("x-fcctl-instance-id") && self.instance_id.is_none())
        {
            self.instance_id = std::str::from_utf8(value)
                .ok()
                .map(|v| v.trim().to_string());
        } else if is("x-fcctl-instance-start-ms") {
            self.instance_start_ms = number(value);
        } else if is("x-fcctl-initialize-ms") {
            self.initialize_ms = number(value);
        } else if is("x-fcctl-model-load-ms") {
            self.model_load_ms = number(value);
        }
    }

    /// Did this response pay a cold start (new instance, or model load in the request)?
    pub fn cold(&self) -> bool {
        self.cold_start || self.model_load
    }

    pub fn instance_id_str(&self) -> Option<&str> {
        self.instance_id.as_deref()
    }

    /// A sample (client timings filled in by the caller).
    pub fn into_sample(self, status: u16) -> ColdStartSample {
        ColdStartSample {
            status,
            cold: self.cold(),
            instance_id: self.instance_id,
            instance_start_ms: self.instance_start_ms,
            initialize_ms: self.initialize_ms,
            model_load_ms: self.model_load_ms,
            ..Default::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[allow(clippy::float_cmp)] // exact: nearest-rank percentiles return input values unchanged
    #[test]
    fn headers_and_summary() {
        let mut h = HeaderInfo::default();
        assert!(!h.cold());
        h.observe(b"X-Fcctl-Model-Load", b"TRUE");
        h.observe(b"x-fcctl-model-load-ms", b"812.5");
        h.observe(b"x-fcctl-instance-id", b"i-2");
        h.observe(b"content-type", b"text/html");
        assert!(!h.fc_error);
        h.observe(b"X-Fc-Error-Type", b"InitializationError");
        assert!(h.fc_error);
        assert!(h.cold());
        let s = h.clone().into_sample(200);
        assert_eq!(
            (s.cold, s.model_load_ms, s.instance_id.as_deref()),
            (true, Some(812.5), Some("i-2"))
        );
        h.observe(b"x-fc-instance-id", b"c-1");
        assert_eq!(h.instance_id_str(), Some("c-1"));
        h.observe(b"x-fcctl-instance-id", b"i-3");
        assert_eq!(h.instance_id_str(), Some("c-1"), "x-fc-instance-id wins");
        let mut e = HeaderInfo::default();
        e.observe(b"x-fcctl-cold-start", b"false");
        e.observe(b"x-fcctl-instance-start-ms", b"nan");
        assert!(!e.cold() && e.instance_start_ms.is_none());

        let samples: Vec<ColdStartSample> = (1..=10)
            .map(|i| ColdStartSample {
                cold: true,
                instance_start_ms: Some(f64::from(i) * 10.0),
                initialize_ms: Some(f64::from(i) * 100.0),
                first_byte_ms: f64::from(i) * 1000.0,
                total_ms: f64::from(i) * 1001.0,
                ..Default::default()
            })
            .chain(std::iter::once(ColdStartSample {
                cold: false,
                first_byte_ms: 1.0,
                ..Default::default()
            }))
            .collect();
        let sum = summarize_cold(&samples).unwrap();
        assert_eq!(sum.count, 10);
        assert_eq!(
            sum.instance_start_ms,
            PhaseStats {
                count: 10,
                p50: 50.0,
                p90: 90.0,
                max: 100.0
            }
        );
        assert_eq!(sum.initialize_ms.p90, 900.0);
        assert_eq!(sum.first_byte_ms.max, 10_000.0);
        assert_eq!(sum.model_load_ms.count, 0);
        assert!(summarize_cold(&[]).is_none());
    }
}
