//! Typed errors for FC3 / OSS calls, with remediation hints for the common codes.

use std::fmt;

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// An error answer from the service: HTTP status ≥ 400 with a JSON (`{"Code","Message","RequestId"}`)
/// or XML (`<Error><Code>…`) body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// API action (`GetFunction`) or OSS operation (`PutObject`).
    pub action: String,
    pub method: String,
    pub path: String,
    pub status: u16,
    /// Service error code, e.g. `FunctionNotFound`; `HTTP<status>` when the body had none.
    pub code: String,
    pub message: String,
    /// `RequestId` from the body, else `x-fc-request-id` / `x-acs-request-id` / `x-oss-request-id`.
    pub request_id: Option<String>,
}

impl ApiError {
    /// `*NotFound` / `*NotExist` (SLS) codes or HTTP 404.
    pub fn is_not_found(&self) -> bool {
        self.status == 404
            || self.code.ends_with("NotFound")
            || self.code.ends_with("NotExist")
            || self.code.starts_with("EntityNotExist")
            || self.code == "NoSuchKey"
    }

    /// `*AlreadyExists` / `*Exist(s)` codes (409): create of an existing resource; SLS's
    /// `ProjectNotExist` ends in `Exist` too and is not one.
    pub fn is_already_exists(&self) -> bool {
        (self.code.ends_with("AlreadyExists")
            || self.code.ends_with("Exist")
            || self.code.ends_with("Exists")
            || self.code.starts_with("EntityAlreadyExists"))
            && !self.code.ends_with("NotExist")
    }

    /// HTTP 429 or a `Throttling*` code: the request was rejected before being processed.
    pub fn is_throttling(&self) -> bool {
        self.status == 429
            || self.code.starts_with("Throttling")
            || self.code == "TooManyRequests"
            || self.code == "ResourceThrottled"
    }

    /// Transient server-side conditions worth retrying (throttling, 5xx, concurrent update).
    pub fn is_transient(&self) -> bool {
        self.is_throttling()
            || self.status >= 500
            || self.code == "ConcurrentUpdateError"
            || self.code == "ServiceUnavailable"
    }
}

impl ApiError {
    /// `HTTP 503 ServiceUnavailable`, or just `HTTP 413` when the body named no code (the
    /// `HTTP<status>` placeholder would only repeat the status).
    pub fn status_and_code(&self) -> String {
        if self.code == format!("HTTP{}", self.status) || self.code.is_empty() {
            format!("HTTP {}", self.status)
        } else {
            format!("HTTP {} {}", self.status, self.code)
        }
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} failed: {}", self.action, self.status_and_code())?;
        if !self.message.is_empty() {
            write!(f, ": {}", self.message)?;
        }
        if let Some(id) = &self.request_id {
            write!(f, " (request id {id})")?;
        }
        Ok(())
    }
}

impl std::error::Error for ApiError {}

impl crate::exit::Hint for ApiError {
    /// Remediation for common codes (None when nothing useful can be said).
    fn hint(&self) -> Option<std::borrow::Cow<'_, str>> {
        hint_for(self.status, &self.code).map(std::borrow::Cow::Borrowed)
    }
}

impl crate::exit::Hint for Error {
    /// Service code hints, or network hints for transport failures.
    fn hint(&self) -> Option<std::borrow::Cow<'_, str>> {
        match self {
            Error::Api(e) => e.hint(),
            Error::RetriesExhausted { last, .. } => last.hint(),
            Error::Transport { source, .. } => {
                transport_hint_str(source).map(std::borrow::Cow::Borrowed)
            }
            _ => None,
        }
    }
}

/// Every failure of the client layer.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The service answered with an error status.
    #[error("{0}")]
    Api(Box<ApiError>),
    /// No (complete) HTTP answer: connect failure, reset, timeout, TLS.
    #[error("{action} {method} {url}: {}", chain(.source))]
    Transport {
        action: String,
        method: String,
        url: String,
        #[source]
        source: reqwest::Error,
    },
    /// The retry budget (attempts or total deadline) ran out; `last` is the final failure.
    #[error("{last}\n  (gave up after {attempts} attempt(s) in {elapsed_ms} ms)")]
    RetriesExhausted {
        attempts: u32,
        elapsed_ms: u128,
        last: Box<Error>,
    },
    /// A 2xx answer whose body could not be decoded.
    #[error("{action}: cannot decode the response (HTTP {status}, request id {}): {detail}", .request_id.as_deref().unwrap_or("-"))]
    Decode {
        action: String,
        status: u16,
        request_id: Option<String>,
        detail: String,
    },
    /// Bad endpoint URL or other invalid client input.
    #[error("invalid input: {0}")]
    Invalid(String),
    /// Local file I/O (OSS uploads, resume state).
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
}

impl From<ApiError> for Error {
    fn from(e: ApiError) -> Self {
        Error::Api(Box::new(e))
    }
}

impl Error {
    /// The service error, looking through [`Error::RetriesExhausted`].
    pub fn api(&self) -> Option<&ApiError> {
        match self {
            Error::Api(e) => Some(e),
            Error::RetriesExhausted { last, .. } => last.api(),
            _ => None,
        }
    }

    pub fn code(&self) -> Option<&str> {
        self.api().map(|e| e.code.as_str())
    }

    pub fn request_id(&self) -> Option<&str> {
        self.api().and_then(|e| e.request_id.as_deref())
    }

    /// HTTP status of the failing call, if there was an answer.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Decode { status, .. } => Some(*status),
            _ => self.api().map(|e| e.status),
        }
    }

    pub fn is_not_found(&self) -> bool {
        self.api().is_some_and(ApiError::is_not_found)
    }

    pub fn is_already_exists(&self) -> bool {
        self.api().is_some_and(ApiError::is_already_exists)
    }

    pub fn is_throttling(&self) -> bool {
        self.api().is_some_and(ApiError::is_throttling)
    }

    /// A few words for a progress line: `HTTP 503 ServiceUnavailable`, `connection refused`.
    pub fn short_reason(&self) -> String {
        match self {
            Error::Api(e) => e.status_and_code(),
            Error::RetriesExhausted { last, .. } => last.short_reason(),
            Error::Transport { source, .. } if source.is_timeout() => "timed out".into(),
            Error::Transport { source, .. } if source.is_connect() => {
                let text = chain(source);
                if text.contains("refused") {
                    "connection refused".into()
                } else {
                    "cannot connect".into()
                }
            }
            Error::Transport { .. } => "connection broken".into(),
            Error::Decode { status, .. } => format!("HTTP {status}, undecodable body"),
            Error::Invalid(_) | Error::Io { .. } => "local error".into(),
        }
    }

    /// No (complete) answer came, even after retries: the endpoint is unreachable.
    pub fn is_unreachable(&self) -> bool {
        match self {
            Error::Transport { .. } => true,
            Error::RetriesExhausted { last, .. } => last.is_unreachable(),
            _ => false,
        }
    }

    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io {
            context: context.into(),
            source,
        }
    }
}

/// Full `source()` chain of an error, `: `-separated (reqwest hides the cause in `Display`).
fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let cs = c.to_string();
        if !s.contains(&cs) {
            s.push_str(": ");
            s.push_str(&cs);
        }
        cur = c.source();
    }
    s
}

fn transport_hint_str(e: &reqwest::Error) -> Option<&'static str> {
    if e.is_timeout() {
        Some("the request timed out: check the network/proxy, or raise the request timeout")
    } else if e.is_connect() {
        Some(
            "cannot connect to the endpoint: check the region/endpoint (FCCTL_FC_ENDPOINT), DNS, proxy settings, or start the local emulator",
        )
    } else {
        None
    }
}

/// Remediation hint for an error code (FC3 and OSS codes).
pub fn hint_for(status: u16, code: &str) -> Option<&'static str> {
    let c = code;
    let hint = match c {
        "SignatureNotMatch" | "SignatureDoesNotMatch" | "IncompleteSignature" => {
            "the request signature was rejected: check the AccessKey id/secret pair and the machine clock (must be within 15 minutes of real time; run `date -u`)"
        }
        "InvalidTimeStamp"
        | "RequestTimeTooSkewed"
        | "InvalidTimeStamp.Expired"
        | "RequestTimeExpired" => {
            "the request time is rejected: sync the machine clock (NTP); it must be within 15 minutes of real time"
        }
        "SignatureNonceUsed" => "nonce reused: retry the command",
        "DomainNameNotResolved" => {
            "FC accepts a custom domain only once it resolves to the account's FC endpoint: create a CNAME record from the domain to the endpoint the message names (<account>.<region>.fc.aliyuncs.com), wait for it to propagate, and run again; with the local emulator, `fcctl local dns add <domain>`"
        }
        "InvalidAccessKeyId" | "InvalidAccessKeyID" | "InvalidAccessKeyId.NotFound" => {
            "the AccessKey id is unknown or disabled: check ALIBABA_CLOUD_ACCESS_KEY_ID (or the profile in ~/.aliyun/config.json) and that the key is enabled in the RAM console"
        }
        "InvalidSecurityToken.Expired"
        | "SecurityTokenExpired"
        | "InvalidSecurityToken"
        | "InvalidSecurityToken.Malformed"
        | "InvalidSecurityToken.MismatchWithAccessKey" => {
            "the STS security token is invalid or expired: obtain fresh temporary credentials (ALIBABA_CLOUD_SECURITY_TOKEN must match the STS AccessKey id)"
        }
        "AccessDenied"
        | "Forbidden"
        | "Forbidden.RAM"
        | "NoPermission"
        | "Forbidden.NoPermission" => {
            "the RAM identity lacks permission: attach AliyunFCFullAccess (or the specific fc:<Action> / oss:<Action> policy) to the RAM user or role, or ask the account owner"
        }
        "ServiceNotEnabled"
        | "ServiceNotActivated"
        | "ServiceNotOpen"
        | "FCNotActivated"
        | "AccountNotActivated"
        | "Forbidden.ServiceNotOpen"
        | "ServiceDisabled"
        | "UserNotActivated" => {
            "Function Compute (or OSS) is not activated for this account/region: activate it in the console, then retry"
        }
        "InvalidArgument"
        | "InvalidParameter"
        | "MissingParameter"
        | "MissingRequiredHeader"
        | "ValidationError"
        | "InvalidBucketName"
        | "InvalidObjectName" => {
            "the service rejected a parameter: read the message above, fix the value in fcctl.yaml (or the flag), and retry"
        }
        "EntityTooLarge" | "EntityTooSmall" => {
            "payload size out of range: inline code must be ≤ 100 MB base64 (use an OSS code location), sync invoke payload ≤ 32 MB"
        }
        "Unauthorized" => {
            "SLS refused the credentials or the RAM identity lacks the log:<Action> the message names: check the AccessKey, and attach AliyunLogFullAccess (or that action) to the RAM user or role"
        }
        "ConcurrentUpdateError" => {
            "another update to the same resource is in progress: wait a few seconds and retry"
        }
        "ResourceExhausted" | "ResourceThrottled" => {
            "the instance/concurrency quota is exhausted: lower provisioned instances or request a higher quota in Quota Center"
        }
        "AdditionalVersionContainsMajorVersion" => {
            "canary weights must not include the alias's main version"
        }
        "NoSuchBucket" => {
            "the OSS bucket does not exist in this region: create it (fcctl creates it with ensure_bucket) or fix the bucket name/region"
        }
        _ => {
            if c.starts_with("Throttling") || c == "TooManyRequests" || status == 429 {
                "the API is throttling requests: fcctl retries with backoff; if it persists, reduce parallelism or retry later"
            } else if c.starts_with("LimitExceeded")
                || c.starts_with("QuotaExceeded")
                || c.contains("Quota")
            {
                "a quota or resource-count limit was reached: delete unused resources (old versions, triggers) or request a higher quota in Quota Center"
            } else if c.ends_with("NotFound") || c == "NoSuchKey" || status == 404 {
                "the resource does not exist (yet): check the name/region/qualifier, or run `fcctl deploy` first"
            } else if c.ends_with("AlreadyExists")
                || c.ends_with("Exist")
                || c.ends_with("Exists")
                || status == 409
            {
                "the resource already exists or conflicts: use update instead of create (fcctl deploy does create-or-update), or choose another name"
            } else if c.starts_with("Forbidden") || status == 403 {
                "access denied: check RAM permissions for this action and that the credentials belong to the right account"
            } else if c.starts_with("CA") && status == 412 {
                "the custom runtime failed to start: make sure /code/bootstrap exists, is executable (zip mode 755), listens on 0.0.0.0:$FC_CUSTOM_LISTEN_PORT"
            } else if status >= 500 {
                "server-side error: fcctl retried; retry later and quote the request id if you contact support"
            } else {
                return None;
            }
        }
    };
    Some(hint)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exit::Hint as _;

    fn api(status: u16, code: &str) -> ApiError {
        ApiError {
            action: "GetFunction".into(),
            method: "GET".into(),
            path: "/2023-03-30/functions/x".into(),
            status,
            code: code.into(),
            message: "m".into(),
            request_id: Some("1-abc".into()),
        }
    }

    #[test]
    fn hints_for_common_codes() {
        assert!(
            api(403, "SignatureNotMatch")
                .hint()
                .unwrap()
                .contains("clock")
        );
        assert!(
            api(403, "InvalidAccessKeyId")
                .hint()
                .unwrap()
                .contains("AccessKey id")
        );
        assert!(api(403, "AccessDenied").hint().unwrap().contains("RAM"));
        assert!(
            api(404, "FunctionNotFound")
                .hint()
                .unwrap()
                .contains("does not exist")
        );
        assert!(
            api(409, "FunctionAlreadyExists")
                .hint()
                .unwrap()
                .contains("already exists")
        );
        assert!(
            api(429, "ThrottlingException")
                .hint()
                .unwrap()
                .contains("throttl")
        );
        assert!(
            api(400, "InvalidArgument")
                .hint()
                .unwrap()
                .contains("parameter")
        );
        assert!(api(400, "LimitExceeded").hint().unwrap().contains("quota"));
        assert!(
            api(403, "ServiceNotEnabled")
                .hint()
                .unwrap()
                .contains("activate")
        );
        assert_eq!(api(400, "Weird").hint(), None);
    }

    #[test]
    fn display_has_code_message_request_id_and_the_hint_is_apart() {
        let e: Error = api(403, "SignatureNotMatch").into();
        let s = e.to_string();
        assert!(s.contains("SignatureNotMatch"), "{s}");
        assert!(s.contains("1-abc"), "{s}");
        assert!(
            !s.contains("hint"),
            "the edge prints hints after the message: {s}"
        );
        assert!(e.hint().is_some());
        assert!(s.contains("HTTP 403"), "{s}");
    }

    #[test]
    fn a_status_without_a_code_is_printed_once() {
        let e = crate::aliyun::http::parse_error_body(413, b"payload too large");
        let e = ApiError {
            action: "InvokeFunction".into(),
            ..e
        };
        assert_eq!(
            e.to_string(),
            "InvokeFunction failed: HTTP 413: payload too large"
        );
        let e: Error = ApiError {
            message: String::new(),
            ..e
        }
        .into();
        assert_eq!(e.to_string(), "InvokeFunction failed: HTTP 413");
        assert_eq!(e.short_reason(), "HTTP 413");
        assert_eq!(
            Error::from(api(503, "ServiceUnavailable")).short_reason(),
            "HTTP 503 ServiceUnavailable"
        );
    }

    #[test]
    fn classification() {
        assert!(api(404, "FunctionNotFound").is_not_found());
        assert!(api(409, "AliasAlreadyExists").is_already_exists());
        assert!(api(400, "ProvisionConfigExist").is_already_exists());
        assert!(api(400, "ProjectAlreadyExist").is_already_exists());
        assert!(!api(404, "ProjectNotExist").is_already_exists());
        assert!(api(400, "LogStoreNotExist").is_not_found());
        assert!(api(409, "EntityAlreadyExists.Role").is_already_exists());
        assert!(api(400, "EntityNotExist.Role.Policy").is_not_found());
        assert!(api(429, "X").is_throttling());
        assert!(api(400, "Throttling.User").is_throttling());
        assert!(api(503, "ServiceUnavailable").is_transient());
        assert!(!api(400, "InvalidArgument").is_transient());
    }
}
