//! Reading OSS requests: headers, user metadata, bodies, Content-MD5, Range, XML bodies.

use crate::api_error::ApiError;
use axum::body::Body;
use base64::Engine as _;
use http::HeaderMap;
use http::request::Parts;
use http_body_util::BodyExt as _;
use md5::{Digest as _, Md5};
use std::collections::BTreeMap;

/// Largest object (and part) body accepted.
pub const MAX_OBJECT: usize = 5 * 1024 * 1024 * 1024;
/// Largest XML request body (CompleteMultipartUpload, DeleteMultipleObjects).
pub const MAX_XML_BODY: usize = 16 * 1024 * 1024;

/// A path-style request: `/<bucket>/<key>` (both percent-decoded) plus its query.
pub struct OssRequest {
    pub parts: Parts,
    pub bucket: String,
    pub key: String,
    pub query: Vec<(String, String)>,
}

impl OssRequest {
    pub fn new(parts: Parts) -> OssRequest {
        let query = crate::sign::parse_query(parts.uri.query().unwrap_or(""));
        let path = percent_encoding::percent_decode_str(parts.uri.path())
            .decode_utf8_lossy()
            .into_owned();
        let trimmed = path.trim_start_matches('/');
        let (bucket, key) = match trimmed.split_once('/') {
            Some((b, k)) => (b.to_string(), k.to_string()),
            None => (trimmed.to_string(), String::new()),
        };
        OssRequest {
            parts,
            bucket,
            key,
            query,
        }
    }

    /// The resource OSS signatures cover: `/bucket/key`, `/bucket/` or `/`.
    pub fn resource(&self) -> String {
        if self.bucket.is_empty() {
            "/".to_string()
        } else {
            format!("/{}/{}", self.bucket, self.key)
        }
    }

    pub fn has(&self, name: &str) -> bool {
        self.query.iter().any(|(a, _)| a == name)
    }

    /// A query parameter's value, `""` when absent.
    pub fn param(&self, name: &str) -> String {
        self.query
            .iter()
            .find(|(a, _)| a == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        header(&self.parts.headers, name)
    }
}

pub fn header<'a>(h: &'a HeaderMap, n: &str) -> Option<&'a str> {
    h.get(n).and_then(|v| v.to_str().ok())
}

pub fn user_meta(h: &HeaderMap) -> BTreeMap<String, String> {
    h.iter()
        .filter(|(k, _)| k.as_str().starts_with("x-oss-meta-"))
        .map(|(k, v)| {
            (
                k.as_str().to_string(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect()
}

pub async fn collect(body: Body, limit: usize) -> Result<bytes::Bytes, ApiError> {
    http_body_util::Limited::new(body, limit)
        .collect()
        .await
        .map(|c| c.to_bytes())
        .map_err(|e| ApiError::new(400, "EntityTooLarge", e.to_string()))
}

pub fn check_md5(h: &HeaderMap, data: &[u8]) -> Result<(), ApiError> {
    if let Some(m) = header(h, "content-md5") {
        let got = base64::engine::general_purpose::STANDARD.encode(Md5::digest(data));
        if got != m.trim() {
            return Err(ApiError::new(
                400,
                "InvalidDigest",
                "The Content-MD5 you specified did not match what we received.",
            ));
        }
    }
    Ok(())
}

/// Parses a single `bytes=` range. None = ignore (serve whole object), Some(Err) = 416.
pub fn parse_range(r: &str, size: u64) -> Option<Result<(u64, u64), ()>> {
    let spec = r.trim().strip_prefix("bytes=")?;
    if spec.contains(',') {
        return None;
    }
    let (a, b) = spec.split_once('-')?;
    if a.is_empty() {
        let n: u64 = b.parse().ok()?;
        if n == 0 || size == 0 {
            return Some(Err(()));
        }
        let n = n.min(size);
        return Some(Ok((size - n, size - 1)));
    }
    let a: u64 = a.parse().ok()?;
    if a >= size {
        return Some(Err(()));
    }
    let b: u64 = if b.is_empty() {
        size - 1
    } else {
        b.parse::<u64>().ok()?.min(size - 1)
    };
    if b < a {
        return None;
    }
    Some(Ok((a, b)))
}

/// Extracts the text of every `<tag>` element in order (tiny XML subset, enough for OSS bodies).
pub fn xml_values(xml: &str, tag: &str) -> Vec<String> {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    let mut out = Vec::new();
    let mut rest = xml;
    while let Some(i) = rest.find(&open) {
        let after = &rest[i + open.len()..];
        let Some(j) = after.find(&close) else { break };
        out.push(
            after[..j]
                .replace("&quot;", "\"")
                .replace("&lt;", "<")
                .replace("&gt;", ">")
                .replace("&apos;", "'")
                .replace("&amp;", "&"),
        );
        rest = &after[j + close.len()..];
    }
    out
}

#[cfg(test)]
#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn ranges() {
        assert_eq!(parse_range("bytes=0-9", 100), Some(Ok((0, 9))));
        assert_eq!(parse_range("bytes=90-", 100), Some(Ok((90, 99))));
        assert_eq!(parse_range("bytes=-10", 100), Some(Ok((90, 99))));
        assert_eq!(parse_range("bytes=100-", 100), Some(Err(())));
        assert_eq!(parse_range("bytes=5-200", 100), Some(Ok((5, 99))));
    }
}
