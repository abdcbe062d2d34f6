//! What FC and OSS share on the wire: the HTTP client, endpoint parsing, request ids, error
//! bodies (JSON from FC, XML from OSS) and header maps.

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};

use super::error::{ApiError, Error, Result};

/// A `reqwest` client builder with TLS ready: rustls with the ring provider, installed as the
/// process default on first use (reqwest is built without a provider of its own, so a client
/// built any other way would have no TLS).
pub fn client_builder() -> reqwest::ClientBuilder {
    static INSTALL: std::sync::Once = std::sync::Once::new();
    INSTALL.call_once(|| {
        // Err means another provider is already the default, which serves as well.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
    reqwest::Client::builder()
}

/// Request id from the response headers (`x-fc-request-id`, `x-acs-request-id`, `x-oss-request-id`).
pub(crate) fn request_id_from(h: &HeaderMap) -> Option<String> {
    ["x-fc-request-id", "x-acs-request-id", "x-oss-request-id"]
        .iter()
        .find_map(|n| h.get(*n).and_then(|v| v.to_str().ok()).map(String::from))
}

/// Parse an error body: JSON `{"Code","Message","RequestId"}` (any case of the first letter,
/// FC2's `errorCode`/`errorMessage` too) or XML `<Error><Code>…</Code>…`.
pub(crate) fn parse_error_body(status: u16, body: &[u8]) -> ApiError {
    let mut e = ApiError {
        action: String::new(),
        method: String::new(),
        path: String::new(),
        status,
        code: format!("HTTP{status}"),
        message: snippet(body),
        request_id: None,
    };
    if let Ok(serde_json::Value::Object(m)) = serde_json::from_slice::<serde_json::Value>(body) {
        let get = |keys: &[&str]| {
            keys.iter()
                .find_map(|k| m.get(*k).and_then(|v| v.as_str()).map(String::from))
        };
        if let Some(c) = get(&["Code", "code", "errorCode", "ErrorCode"]) {
            e.code = c;
        }
        e.message =
            get(&["Message", "message", "errorMessage", "ErrorMessage"]).unwrap_or_default();
        e.request_id = get(&["RequestId", "requestId", "requestID"]);
    } else {
        let text = String::from_utf8_lossy(body);
        if text.contains("<Error") {
            if let Some(c) = xml_tag(&text, "Code") {
                e.code = c;
            }
            e.message = xml_tag(&text, "Message").unwrap_or_default();
            e.request_id = xml_tag(&text, "RequestId");
        }
    }
    e
}

fn xml_tag(text: &str, tag: &str) -> Option<String> {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    let start = text.find(&open)? + open.len();
    let end = text[start..].find(&close)? + start;
    Some(text[start..end].trim().to_string())
}

/// Split an endpoint into (`scheme://host[:port]`, host header value).
pub(crate) fn parse_endpoint(endpoint: &str) -> Result<(String, String)> {
    let e = endpoint.trim().trim_end_matches('/');
    let with_scheme = if e.contains("://") {
        e.to_string()
    } else {
        format!("https://{e}")
    };
    let url = reqwest::Url::parse(&with_scheme)
        .map_err(|err| Error::Invalid(format!("endpoint {endpoint:?}: {err}")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(Error::Invalid(format!(
            "endpoint {endpoint:?}: scheme must be http or https"
        )));
    }
    if url.path() != "/" && !url.path().is_empty() || url.query().is_some() {
        return Err(Error::Invalid(format!(
            "endpoint {endpoint:?} must not have a path or query (use e.g. http://127.0.0.1:9000)"
        )));
    }
    let host_name = url
        .host_str()
        .ok_or_else(|| Error::Invalid(format!("endpoint {endpoint:?} has no host")))?;
    let host = match url.port() {
        Some(p) => format!("{host_name}:{p}"),
        None => host_name.to_string(),
    };
    Ok((format!("{}://{host}", url.scheme()), host))
}

/// The first 200 characters of a body, for error messages.
pub(crate) fn snippet(body: &[u8]) -> String {
    let s = String::from_utf8_lossy(body);
    s.chars().take(200).collect()
}

/// The typed error of a failed call: the parsed body, with the call's identity and the
/// header request id when the body has none.
pub(crate) fn api_error(
    status: u16,
    body: &[u8],
    action: &str,
    method: &reqwest::Method,
    path: String,
    header_request_id: Option<String>,
) -> ApiError {
    let mut e = parse_error_body(status, body);
    e.action = action.into();
    e.method = method.to_string();
    e.path = path;
    if e.request_id.is_none() {
        e.request_id = header_request_id;
    }
    e
}

pub(crate) fn header_map<'a>(
    headers: impl IntoIterator<Item = (&'a String, &'a String)>,
) -> Result<HeaderMap> {
    let mut hm = HeaderMap::new();
    for (k, v) in headers {
        let name = HeaderName::from_bytes(k.as_bytes())
            .map_err(|e| Error::Invalid(format!("header name {k}: {e}")))?;
        let value = HeaderValue::from_str(v)
            .map_err(|e| Error::Invalid(format!("header {k} value: {e}")))?;
        hm.append(name, value);
    }
    Ok(hm)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_a_client_with_tls() {
        let client = client_builder().https_only(true).build();
        assert!(client.is_ok(), "{client:?}");
    }

    #[test]
    fn parses_endpoints() {
        assert_eq!(
            parse_endpoint("http://127.0.0.1:8080/").unwrap(),
            (
                "http://127.0.0.1:8080".to_string(),
                "127.0.0.1:8080".to_string()
            )
        );
        assert_eq!(
            parse_endpoint("fcv3.cn-hangzhou.aliyuncs.com").unwrap().1,
            "fcv3.cn-hangzhou.aliyuncs.com"
        );
        assert_eq!(
            parse_endpoint("https://h.example:443").unwrap().1,
            "h.example"
        );
        assert!(parse_endpoint("http://h/x").is_err());
        assert!(parse_endpoint("ftp://h").is_err());
    }

    #[test]
    fn error_bodies() {
        let e = parse_error_body(
            404,
            br#"{"Code":"FunctionNotFound","Message":"function not found","RequestId":"1-64e7"}"#,
        );
        assert_eq!(
            (e.code.as_str(), e.message.as_str(), e.request_id.as_deref()),
            ("FunctionNotFound", "function not found", Some("1-64e7"))
        );
        let e = parse_error_body(403, b"<?xml version=\"1.0\"?><Error><Code>SignatureDoesNotMatch</Code><Message>bad</Message><RequestId>R1</RequestId></Error>");
        assert_eq!(
            (e.code.as_str(), e.request_id.as_deref()),
            ("SignatureDoesNotMatch", Some("R1"))
        );
        let e = parse_error_body(502, b"Bad gateway");
        assert_eq!(e.code, "HTTP502");
    }
}
