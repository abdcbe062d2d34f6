//! Alibaba Cloud wire protocol: ACS3 signing, FC3 client, OSS client, retries.
//!
//! | module | what |
//! |---|---|
//! | [`sign`] | ACS3-HMAC-SHA256 (FC3 OpenAPI + HTTP triggers with `authType: function`), pure functions |
//! | [`fc`] | [`fc::FcClient`]: typed FC3 client; one signed, retried code path ([`fc::FcClient::send`]) for every endpoint |
//! | [`http`] | what FC and OSS share: the TLS-ready client, endpoint parsing, error bodies, request ids |
//! | [`fc_models`] | serde models of the FC3 API (camelCase, `None` skipped, unknown fields ignored) |
//! | [`error`] | [`Error`] / [`ApiError`] with HTTP status, `Code`, message, `RequestId` and a remediation hint |
//! | [`retry`] | [`RetryPolicy`]: exponential backoff + full jitter + total deadline, idempotency classes |
//! | [`rpc`] | [`rpc::RpcClient`]: RPC-style OpenAPIs (`POST /`, parameters in the query, ACS3-signed); typed on top: [`vpc`], [`ecs`] (security groups), [`nas_api`], [`ram`] (the function's role, FC's service-linked role) |
//! | [`sls`] | [`sls::SlsClient`]: Log Service (projects, logstores, indexes, GetLogs, project tags) with SLS's own `LOG` signature |
//! | [`oss`] | [`oss::ObjectStore`] trait + [`oss::OssClient`]; V1 signing, resumable multipart and XML in its submodules |
//!
//! Logging (`tracing`, target `fcctl::aliyun`): one `debug` event per HTTP call (method, path,
//! status, latency, request id, attempt) and a `trace` event with the headers, where
//! `Authorization`, security tokens and secrets are redacted.

pub mod ecs;
pub mod error;
pub mod fc;
pub mod fc_models;
pub mod http;
pub mod nas_api;
pub mod oss;
pub mod ram;
pub mod retry;
pub mod rpc;
pub mod sign;
pub mod sls;
#[cfg(test)]
pub(crate) mod testutil;
pub mod vpc;

pub use error::{ApiError, Error, Result};
pub use fc::{CallRecord, ClientOptions, FcClient, default_endpoint};
pub use retry::{Idempotency, RetryPolicy};

/// An Alibaba Cloud access key (long-term `LTAI…` or temporary STS `STS.…` + token).
///
/// `Debug` never prints the secret or the token.
#[derive(Clone, PartialEq, Eq)]
pub struct AccessKey {
    pub id: String,
    pub secret: String,
    pub security_token: Option<String>,
}

impl AccessKey {
    /// A long-term key (no STS token).
    pub fn new(id: impl Into<String>, secret: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            secret: secret.into(),
            security_token: None,
        }
    }

    pub fn with_security_token(mut self, token: impl Into<String>) -> Self {
        let t = token.into();
        self.security_token = (!t.is_empty()).then_some(t);
        self
    }
}

impl std::fmt::Debug for AccessKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessKey")
            .field("id", &self.id)
            .field("secret", &"<redacted>")
            .field(
                "security_token",
                &self.security_token.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

/// Headers whose values are never logged.
pub(crate) fn is_sensitive_header(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    n == "authorization"
        || n.contains("security-token")
        || n.contains("secret")
        || n == "x-fc-access-key-secret"
        || n == "cookie"
        || n == "set-cookie"
}

/// Render headers for a `trace` log line with sensitive values redacted.
pub(crate) fn redact_headers<'a>(headers: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    headers
        .into_iter()
        .map(|(k, v)| {
            if is_sensitive_header(k) {
                format!("{k}: <redacted>")
            } else {
                format!("{k}: {v}")
            }
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// A canonical request (one `name:value` line per signed header) for a `trace` log line, with
/// the values of sensitive headers (the STS token) redacted.
pub(crate) fn redact_canonical_request(text: &str) -> String {
    text.lines()
        .map(|line| match line.split_once(':') {
            Some((name, _)) if is_sensitive_header(name) => format!("{name}:<redacted>"),
            _ => line.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_request_log_hides_the_sts_token() {
        let canonical = "POST\n/2023-03-30/functions\n\ncontent-type:application/json\n\
                         x-acs-security-token:CAIS-secret-token\n\ncontent-type;x-acs-security-token\nabc";
        let shown = redact_canonical_request(canonical);
        assert!(!shown.contains("CAIS-secret-token"), "{shown}");
        assert!(shown.contains("x-acs-security-token:<redacted>"));
        assert!(shown.contains("content-type:application/json"));
        assert!(shown.starts_with("POST\n/2023-03-30/functions"));
    }

    #[test]
    fn debug_redacts_secret_and_token() {
        let k = AccessKey::new("LTAIid", "topsecret").with_security_token("tok123");
        let d = format!("{k:?}");
        assert!(d.contains("LTAIid"));
        assert!(!d.contains("topsecret"));
        assert!(!d.contains("tok123"));
    }

    #[test]
    fn redacts_sensitive_headers() {
        let s = redact_headers([
            ("Authorization", "ACS3-HMAC-SHA256 Credential=x"),
            ("x-acs-security-token", "tok"),
            ("x-oss-security-token", "tok"),
            ("host", "h"),
        ]);
        assert!(!s.contains("Credential"));
        assert!(!s.contains("tok;") && !s.ends_with("tok"));
        assert!(s.contains("host: h"));
    }
}
