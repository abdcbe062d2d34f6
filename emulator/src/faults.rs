//! Fault injection, configured per run: API errors, latency and dropped connections on the
//! FC, OSS and RPC (VPC, ECS, NAS, RAM) APIs, crashed instances on invocations, and actions
//! denied as if the caller's RAM policy lacked them.

use crate::api_error::{Api, ApiError};
use crate::error::Error;
use axum::body::Body;
use axum::response::Response;
use http::HeaderValue;
use serde::{Deserialize, Serialize};
use std::str::FromStr;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Faults {
    /// Probability that an FC/OSS API call fails (half 429 throttling, half 503).
    pub error_rate: f64,
    /// Added latency on every FC/OSS API call (ms).
    pub latency_ms: u64,
    /// Probability that an FC/OSS API call's connection is dropped mid-response.
    pub drop_rate: f64,
    /// Probability that a proxied invocation finds its instance crashed (killed).
    pub crash_rate: f64,
    /// Actions answered with 403 `Forbidden.RAM`, as for a RAM user whose policy lacks them:
    /// `product:Action` (`nas:CreateFileSystem`), `product:*`, or a bare `Action` (any
    /// product). Matched without regard to case, like RAM's action names.
    #[serde(default)]
    pub deny: Vec<String>,
}

impl FromStr for Faults {
    type Err = Error;
    /// Parses `error_rate=0.1,latency_ms=20,drop_rate=0.01,crash_rate=0.001` (any subset) and
    /// `deny=nas:CreateFileSystem,vpc:CreateVpc` (or `;` between them): the entries after
    /// `deny=` that hold no `=` are more denied actions.
    fn from_str(s: &str) -> Result<Self, Error> {
        let mut f = Faults::default();
        let mut in_deny = false;
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let Some((k, v)) = part.split_once('=') else {
                if in_deny {
                    f.deny.push(denied_action(part)?);
                    continue;
                }
                return Err(Error::Config(format!(
                    "fault spec `{part}`: expected key=value"
                )));
            };
            in_deny = k.trim() == "deny";
            let bad = |e: &dyn std::fmt::Display| {
                Error::Config(format!("fault spec `{part}`: invalid value: {e}"))
            };
            let rate = |v: &str| -> Result<f64, Error> {
                let x: f64 = v.parse().map_err(|e| bad(&e))?;
                if !(0.0..=1.0).contains(&x) {
                    return Err(bad(&"rate must be within 0..=1"));
                }
                Ok(x)
            };
            match k.trim() {
                "error_rate" => f.error_rate = rate(v)?,
                "drop_rate" => f.drop_rate = rate(v)?,
                "crash_rate" => f.crash_rate = rate(v)?,
                "latency_ms" => f.latency_ms = v.parse().map_err(|e| bad(&e))?,
                "deny" => {
                    let listed: Vec<&str> = v
                        .split(';')
                        .map(str::trim)
                        .filter(|a| !a.is_empty())
                        .collect();
                    if listed.is_empty() {
                        denied_action(v)?;
                    }
                    for a in listed {
                        f.deny.push(denied_action(a)?);
                    }
                }
                other => {
                    return Err(Error::Config(format!(
                        "unknown fault `{other}` (known: error_rate, latency_ms, drop_rate, crash_rate, deny)"
                    )));
                }
            }
        }
        Ok(f)
    }
}

/// One `deny` entry, checked: `product:Action`, `product:*` or `Action`.
fn denied_action(entry: &str) -> Result<String, Error> {
    let entry = entry.trim();
    let word = |w: &str| !w.is_empty() && w.chars().all(|c| c.is_ascii_alphanumeric());
    let ok = match entry.split_once(':') {
        Some((product, action)) => word(product) && (action == "*" || word(action)),
        None => word(entry),
    };
    if ok {
        Ok(entry.to_string())
    } else {
        Err(Error::Config(format!(
            "fault spec deny `{entry}`: expected product:Action (nas:CreateFileSystem), product:* or Action"
        )))
    }
}

impl Faults {
    /// Whether `product` (`vpc`, `nas`, …) must refuse `action` as not allowed by RAM.
    pub fn denies(&self, product: &str, action: &str) -> bool {
        self.deny.iter().any(|d| match d.split_once(':') {
            Some((p, a)) => {
                p.eq_ignore_ascii_case(product) && (a == "*" || a.eq_ignore_ascii_case(action))
            }
            None => d.eq_ignore_ascii_case(action),
        })
    }

    /// Applies the API faults to one call of `api`; returns the response to send instead
    /// when the call must fail.
    pub async fn inject(&self, api: Api, request_id: &str) -> Option<Response> {
        if self.latency_ms > 0 {
            tokio::time::sleep(std::time::Duration::from_millis(self.latency_ms)).await;
        }
        if self.drop_rate > 0.0 && rand::random::<f64>() < self.drop_rate {
            // Headers go out, then the body stream fails: hyper aborts the connection.
            let mut r = Response::new(Body::new(DropBody));
            r.headers_mut()
                .insert("content-length", HeaderValue::from_static("1024"));
            return Some(r);
        }
        if self.error_rate > 0.0 && rand::random::<f64>() < self.error_rate {
            let throttle = rand::random::<bool>();
            return Some(injected_error(api, throttle).to_response(api, request_id));
        }
        None
    }

    /// Whether a proxied invocation should find its instance crashed.
    pub fn crash_now(&self) -> bool {
        self.crash_rate > 0.0 && rand::random::<f64>() < self.crash_rate
    }
}

fn injected_error(api: Api, throttle: bool) -> ApiError {
    match (api, throttle) {
        // SLS error codes page: 503 ServerBusy, 500 InternalServerError.
        (Api::Sls, true) => ApiError::new(503, "ServerBusy", "injected fault"),
        (Api::Sls, false) => ApiError::new(500, "InternalServerError", "injected fault"),
        (Api::Oss, true) => ApiError::new(429, "TooManyRequests", "injected fault"),
        (Api::Oss, false) => ApiError::new(503, "ServiceUnavailable", "injected fault"),
        // The OpenAPI gateway's flow control answers 400 `Throttling.User`.
        (Api::Rpc, true) => ApiError::new(
            400,
            "Throttling.User",
            "Request was denied due to user flow control. (injected fault)",
        ),
        (_, true) => ApiError::new(
            429,
            "ResourceExhausted",
            "Request was throttled (injected fault)",
        ),
        (_, false) => ApiError::new(
            503,
            "ServiceUnavailable",
            "The service is temporarily unavailable (injected fault)",
        ),
    }
}

/// A response body that fails immediately: the connection is aborted mid-response.
struct DropBody;

impl http_body::Body for DropBody {
    type Data = bytes::Bytes;
    type Error = std::io::Error;
    fn poll_frame(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<bytes::Bytes>, std::io::Error>>> {
        std::task::Poll::Ready(Some(Err(std::io::Error::new(
            std::io::ErrorKind::ConnectionAborted,
            "injected connection drop",
        ))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn faults_parse() {
        let f: Faults = "error_rate=0.1,latency_ms=20,drop_rate=0.01"
            .parse()
            .unwrap();
        assert_eq!(f.error_rate, 0.1);
        assert_eq!(f.latency_ms, 20);
        assert_eq!(f.drop_rate, 0.01);
        assert!("bogus=1".parse::<Faults>().is_err());
        assert!("error_rate=2".parse::<Faults>().is_err());
        let f: Faults = "deny=sls:CreateProject;DeleteVpc".parse().unwrap();
        assert!(f.denies("sls", "CreateProject"));
        assert!(!f.denies("sls", "GetProject"));
        assert!(!f.denies("nas", "CreateProject"));
        assert!(f.denies("vpc", "DeleteVpc"));
        assert!("deny=".parse::<Faults>().is_err());
    }

    #[test]
    fn deny_lists_actions_after_deny() {
        let f: Faults = "deny=nas:CreateFileSystem,vpc:*,DeleteRole,error_rate=0.5"
            .parse()
            .unwrap();
        assert_eq!(f.error_rate, 0.5);
        assert_eq!(f.deny, ["nas:CreateFileSystem", "vpc:*", "DeleteRole"]);
        assert!(f.denies("nas", "CreateFileSystem"));
        assert!(
            f.denies("NAS", "createfilesystem"),
            "RAM actions ignore case"
        );
        assert!(!f.denies("nas", "DeleteFileSystem"));
        assert!(!f.denies("ecs", "CreateFileSystem"), "product-qualified");
        assert!(f.denies("vpc", "CreateVSwitch"), "product:* denies all");
        assert!(f.denies("ram", "DeleteRole"), "bare action: any product");
        assert!(!Faults::default().denies("vpc", "CreateVpc"));
        // Outside a deny list a bare word is still an error.
        assert!("error_rate=0.1,CreateVpc".parse::<Faults>().is_err());
        assert!("deny=nas:Create-FS".parse::<Faults>().is_err());
        assert!("deny=".parse::<Faults>().is_err());
    }
}
