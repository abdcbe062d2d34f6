//! Object storage for artefacts / NAS blobs: the [`ObjectStore`] trait and [`OssClient`].
//!
//! Why not a crate: OpenDAL's OSS writer does multipart (and works against a path-style
//! endpoint) but cannot resume an upload started by an earlier process: every writer starts
//! a new multipart upload. fcctl needs "completed parts are not re-sent after a restart",
//! so this module speaks the OSS REST API directly (V1 HMAC-SHA1 signing, checked against the
//! `oss2` vectors in `../shared/vectors/`), reusing the FC client's retry/error machinery.
//!
//! Addressing: virtual-host style (`https://<bucket>.oss-<region>.aliyuncs.com/<key>`) for
//! real OSS; path style (`http://127.0.0.1:PORT/<bucket>/<key>`) when [`OssConfig::path_style`]
//! (default for IP / localhost endpoints, i.e. the local emulator). STS: `x-oss-security-token`.
//!
//! Resumable multipart ([`ObjectStore::put_multipart`]): the upload id is saved in a small
//! JSON file in [`MultipartOptions::resume_dir`] (keyed by bucket+key, guarded by file size,
//! mtime and part size). A later run calls ListParts and skips every part whose size and
//! ETag (= MD5 of the local bytes) match; only missing parts are uploaded, then
//! CompleteMultipartUpload. A stale/foreign upload id (`NoSuchUpload`) starts afresh.

use std::future::Future;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use base64::Engine;
use hmac::{Hmac, Mac};
use md5::{Digest, Md5};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use reqwest::Method;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use serde::{Deserialize, Serialize};
use sha1::Sha1;
use tokio::io::{AsyncReadExt, AsyncSeekExt};

use super::error::{Error, Result};
use super::fc::{parse_endpoint, parse_error_body, request_id_from};
use super::retry::{self, Idempotency, RetryPolicy};
use super::{AccessKey, redact_headers};

/// Boxed future returned by [`ObjectStore`] methods (keeps the trait object-safe).
pub type BoxFut<'a, T> = Pin<Box<dyn Future<Output = Result<T>> + Send + 'a>>;

/// Object metadata from HEAD / List.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ObjectMeta {
    pub key: String,
    pub size: u64,
    /// ETag without quotes (MD5 hex for simple uploads, `<md5>-<n>` for multipart).
    pub etag: String,
    pub last_modified: Option<String>,
    /// `x-oss-hash-crc64ecma` (HEAD only).
    pub crc64: Option<String>,
}

/// Multipart upload knobs.
#[derive(Debug, Clone)]
pub struct MultipartOptions {
    /// Part size in bytes (OSS: ≥ 100 KiB except the last part; ≤ 10000 parts).
    pub part_size: u64,
    /// Parts uploaded in parallel.
    pub concurrency: usize,
    /// Where resume state is kept (e.g. `target/fcctl/uploads`); None = not resumable.
    pub resume_dir: Option<PathBuf>,
    /// Extra headers for InitiateMultipartUpload (e.g. `x-oss-meta-sha256`).
    pub headers: Vec<(String, String)>,
}

impl Default for MultipartOptions {
    fn default() -> Self {
        Self {
            part_size: 8 * 1024 * 1024,
            concurrency: 4,
            resume_dir: None,
            headers: Vec::new(),
        }
    }
}

/// What a multipart upload did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UploadReport {
    pub upload_id: String,
    pub parts_total: u32,
    /// Parts found complete on the server from an earlier run and not re-sent.
    pub parts_skipped: u32,
    pub bytes_sent: u64,
    pub etag: String,
}

/// A small object-store interface; fcctl code depends on this, not on OSS details.
pub trait ObjectStore: Send + Sync {
    /// PutObject from memory (Content-MD5 checked by the server).
    fn put<'a>(&'a self, key: &'a str, body: Vec<u8>) -> BoxFut<'a, String>;
    /// Upload a local file with multipart upload, resumable across process restarts.
    fn put_multipart<'a>(
        &'a self,
        key: &'a str,
        file: &'a Path,
        opts: &'a MultipartOptions,
    ) -> BoxFut<'a, UploadReport>;
    /// HeadObject: None when the object does not exist.
    fn head<'a>(&'a self, key: &'a str) -> BoxFut<'a, Option<ObjectMeta>>;
    /// Whether the object exists.
    fn exists<'a>(&'a self, key: &'a str) -> BoxFut<'a, bool> {
        Box::pin(async move { Ok(self.head(key).await?.is_some()) })
    }
    /// GetObject, optionally a byte range (`start..end`, end exclusive).
    fn get<'a>(&'a self, key: &'a str, range: Option<Range<u64>>) -> BoxFut<'a, Vec<u8>>;
    /// ListObjectsV2 over all pages.
    fn list<'a>(&'a self, prefix: &'a str) -> BoxFut<'a, Vec<ObjectMeta>>;
    /// DeleteObject (absent objects are fine).
    fn delete<'a>(&'a self, key: &'a str) -> BoxFut<'a, ()>;
    /// DeleteMultipleObjects in batches of 1000.
    fn delete_many<'a>(&'a self, keys: &'a [String]) -> BoxFut<'a, ()>;
    /// GetBucketInfo, and PutBucket when it does not exist.
    fn ensure_bucket<'a>(&'a self) -> BoxFut<'a, ()>;
}

/// OSS connection settings.
#[derive(Debug, Clone)]
pub struct OssConfig {
    /// `https://oss-cn-shenzhen.aliyuncs.com` (or `-internal`), or `http://127.0.0.1:PORT`.
    pub endpoint: String,
    pub bucket: String,
    /// Path-style addressing; None = automatic (path style for IP addresses / localhost).
    pub path_style: Option<bool>,
    /// Per-request timeout.
    pub timeout: Duration,
    pub retry: RetryPolicy,
}

impl OssConfig {
    pub fn new(endpoint: &str, bucket: &str) -> Self {
        Self {
            endpoint: endpoint.into(),
            bucket: bucket.into(),
            path_style: None,
            timeout: Duration::from_secs(120),
            retry: RetryPolicy::default(),
        }
    }
}

/// Default public OSS endpoint of a region (`https://oss-<region>.aliyuncs.com`).
pub fn default_oss_endpoint(region: &str, internal: bool) -> String {
    if internal {
        format!("https://oss-{region}-internal.aliyuncs.com")
    } else {
        format!("https://oss-{region}.aliyuncs.com")
    }
}

/// OSS REST client (V1 signatures). Cheap to clone.
#[derive(Clone)]
pub struct OssClient {
    inner: Arc<OssInner>,
}

struct OssInner {
    http: reqwest::Client,
    /// `scheme://host[:port]` requests go to (bucket host for virtual-host style).
    base: String,
    bucket: String,
    path_style: bool,
    key: AccessKey,
    cfg: OssConfig,
    calls: AtomicU64,
}

impl std::fmt::Debug for OssClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OssClient")
            .field("base", &self.inner.base)
            .field("bucket", &self.inner.bucket)
            .field("key", &self.inner.key)
            .finish()
    }
}

const KEY_PATH: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~')
    .remove(b'/');
const QUERY_VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// Query keys that are part of the V1 canonical resource (oss2 `_subresource_key_set`).
const SUBRESOURCES: &[&str] = &[
    "acl",
    "uploadId",
    "uploads",
    "partNumber",
    "group",
    "link",
    "delete",
    "website",
    "location",
    "objectInfo",
    "objectMeta",
    "response-content-type",
    "response-content-language",
    "response-expires",
    "response-cache-control",
    "response-content-disposition",
    "response-content-encoding",
    "logging",
    "cors",
    "lifecycle",
    "restore",
    "qos",
    "referer",
    "stat",
    "bucketInfo",
    "append",
    "position",
    "security-token",
    "live",
    "comp",
    "status",
    "vod",
    "startTime",
    "endTime",
    "x-oss-process",
    "symlink",
    "callback",
    "callback-var",
    "tagging",
    "encryption",
    "versions",
    "versioning",
    "versionId",
    "policy",
    "requestPayment",
    "x-oss-traffic-limit",
    "qosInfo",
    "asyncFetch",
    "x-oss-request-payer",
    "sequential",
    "inventory",
    "inventoryId",
    "continuation-token",
    "worm",
    "wormId",
    "wormExtend",
    "replication",
    "replicationLocation",
    "replicationProgress",
    "transferAcceleration",
    "cname",
    "metaQuery",
    "resourceGroup",
    "style",
    "styleName",
    "x-oss-async-process",
    "regionList",
];

/// OSS V1 string-to-sign. `resource` is `/<bucket>/<raw key>` (`/<bucket>/` for bucket
/// operations); `headers` are all request headers (only Content-MD5, Content-Type, Date and
/// `x-oss-*` are used; `x-oss-date` is not special-cased by fcctl, which always sends `Date`).
pub fn oss_v1_string_to_sign(
    method: &str,
    headers: &[(String, String)],
    resource: &str,
    query: &[(String, String)],
) -> String {
    let get = |n: &str| {
        headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(n))
            .map(|(_, v)| v.as_str())
            .unwrap_or("")
    };
    let mut s = format!(
        "{method}\n{}\n{}\n{}\n",
        get("content-md5"),
        get("content-type"),
        get("date")
    );
    let mut oss: Vec<(String, String)> = headers
        .iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), v.trim().to_string()))
        .filter(|(k, _)| k.starts_with("x-oss-"))
        .collect();
    oss.sort();
    for (k, v) in &oss {
        s.push_str(&format!("{k}:{v}\n"));
    }
    s.push_str(resource);
    let mut subs: Vec<&(String, String)> = query
        .iter()
        .filter(|(k, _)| SUBRESOURCES.contains(&k.as_str()))
        .collect();
    subs.sort();
    if !subs.is_empty() {
        let parts: Vec<String> = subs
            .iter()
            .map(|(k, v)| {
                if v.is_empty() {
                    k.clone()
                } else {
                    format!("{k}={v}")
                }
            })
            .collect();
        s.push('?');
        s.push_str(&parts.join("&"));
    }
    s
}

/// base64(HMAC-SHA1(secret, string_to_sign)).
pub fn oss_v1_signature(secret: &str, string_to_sign: &str) -> String {
    let mut mac = Hmac::<Sha1>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(string_to_sign.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

fn md5_b64(data: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(Md5::digest(data))
}

fn md5_hex(data: &[u8]) -> String {
    hex::encode(Md5::digest(data))
}

/// One OSS REST call.
struct OssReq<'a> {
    op: &'static str,
    method: Method,
    /// Raw object key ("" for bucket operations).
    key: &'a str,
    query: Vec<(String, String)>,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    idem: Idempotency,
}

struct OssResp {
    status: u16,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl OssClient {
    pub fn new(cfg: OssConfig, key: AccessKey) -> Result<Self> {
        let (base, host) = parse_endpoint(&cfg.endpoint)?;
        let host_only = host.split(':').next().unwrap_or_default();
        let looks_local = host_only == "localhost" || host_only.parse::<std::net::IpAddr>().is_ok();
        let path_style = cfg.path_style.unwrap_or(looks_local);
        if cfg.bucket.is_empty() {
            return Err(Error::Invalid("empty OSS bucket name".into()));
        }
        let base = if path_style {
            base
        } else {
            let scheme = base.split("://").next().unwrap_or("https");
            format!("{scheme}://{}.{host}", cfg.bucket)
        };
        let http = super::http::client_builder()
            .connect_timeout(Duration::from_secs(10))
            .user_agent(format!("fcctl/{}", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| Error::Invalid(format!("cannot build the HTTP client: {e}")))?;
        Ok(Self {
            inner: Arc::new(OssInner {
                http,
                base,
                bucket: cfg.bucket.clone(),
                path_style,
                key,
                cfg,
                calls: AtomicU64::new(0),
            }),
        })
    }

    pub fn bucket(&self) -> &str {
        &self.inner.bucket
    }

    /// Number of HTTP attempts made so far.
    pub fn call_count(&self) -> u64 {
        self.inner.calls.load(Ordering::Relaxed)
    }

    fn url(&self, key: &str, query: &[(String, String)]) -> String {
        let i = &self.inner;
        let mut url = if i.path_style {
            format!(
                "{}/{}/{}",
                i.base,
                i.bucket,
                utf8_percent_encode(key, KEY_PATH)
            )
        } else {
            format!("{}/{}", i.base, utf8_percent_encode(key, KEY_PATH))
        };
        if !query.is_empty() {
            let q: Vec<String> = query
                .iter()
                .map(|(k, v)| {
                    if v.is_empty() {
                        k.clone()
                    } else {
                        format!("{k}={}", utf8_percent_encode(v, QUERY_VALUE))
                    }
                })
                .collect();
            url.push('?');
            url.push_str(&q.join("&"));
        }
        url
    }

    async fn call(&self, req: &OssReq<'_>) -> Result<OssResp> {
        retry::run(&self.inner.cfg.retry, req.idem, req.op, |attempt| {
            self.attempt(req, attempt)
        })
        .await
    }

    async fn attempt(&self, req: &OssReq<'_>, attempt: u32) -> Result<OssResp> {
        let i = &*self.inner;
        let mut headers = req.headers.clone();
        headers.push(("date".into(), httpdate::fmt_http_date(SystemTime::now())));
        if let Some(t) = i.key.security_token.as_deref().filter(|t| !t.is_empty()) {
            headers.push(("x-oss-security-token".into(), t.into()));
        }
        let resource = format!("/{}/{}", i.bucket, req.key);
        let sts = oss_v1_string_to_sign(req.method.as_str(), &headers, &resource, &req.query);
        let auth = format!("OSS {}:{}", i.key.id, oss_v1_signature(&i.key.secret, &sts));
        headers.push(("authorization".into(), auth));
        let mut hm = HeaderMap::new();
        for (k, v) in &headers {
            let name = HeaderName::from_bytes(k.as_bytes())
                .map_err(|e| Error::Invalid(format!("header name {k}: {e}")))?;
            let value = HeaderValue::from_str(v)
                .map_err(|e| Error::Invalid(format!("header {k} value: {e}")))?;
            hm.append(name, value);
        }
        let url = self.url(req.key, &req.query);
        tracing::trace!(
            target: "fcctl::aliyun",
            op = req.op,
            attempt,
            url = %url,
            request_headers = %redact_headers(headers.iter().map(|(k, v)| (k.as_str(), v.as_str()))),
            "oss request"
        );
        let started = Instant::now();
        i.calls.fetch_add(1, Ordering::Relaxed);
        let transport = |e: reqwest::Error| Error::Transport {
            action: req.op.to_string(),
            method: req.method.to_string(),
            url: url.clone(),
            source: e,
        };
        let resp = i
            .http
            .request(req.method.clone(), &url)
            .headers(hm)
            .body(req.body.clone())
            .timeout(i.cfg.timeout)
            .send()
            .await;
        let resp = match resp {
            Ok(r) => r,
            Err(e) => {
                tracing::debug!(target: "fcctl::aliyun", op = req.op, method = %req.method, key = req.key, status = -1, latency_ms = started.elapsed().as_millis() as u64, attempt, "oss call");
                return Err(transport(e));
            }
        };
        let status = resp.status().as_u16();
        let rh = resp.headers().clone();
        let body = resp.bytes().await.map_err(transport)?.to_vec();
        let rid = request_id_from(&rh);
        tracing::debug!(
            target: "fcctl::aliyun",
            op = req.op,
            method = %req.method,
            key = req.key,
            status,
            latency_ms = started.elapsed().as_millis() as u64,
            request_id = rid.as_deref().unwrap_or("-"),
            attempt,
            "oss call"
        );
        if status >= 400 {
            let mut e = parse_error_body(status, &body);
            e.action = req.op.into();
            e.method = req.method.to_string();
            e.path = resource;
            if e.request_id.is_none() {
                e.request_id = rid;
            }
            if e.code == "HTTP404" {
                e.code = if req.key.is_empty() {
                    "NoSuchBucket"
                } else {
                    "NoSuchKey"
                }
                .into();
            }
            return Err(e.into());
        }
        Ok(OssResp {
            status,
            headers: rh,
            body,
        })
    }

    fn req<'a>(&self, op: &'static str, method: Method, key: &'a str) -> OssReq<'a> {
        let idem = if method == Method::POST {
            Idempotency::CreateLike
        } else {
            Idempotency::Idempotent
        };
        OssReq {
            op,
            method,
            key,
            query: Vec::new(),
            headers: Vec::new(),
            body: Vec::new(),
            idem,
        }
    }

    async fn put_object(&self, key: &str, body: Vec<u8>) -> Result<String> {
        let mut r = self.req("PutObject", Method::PUT, key);
        r.headers.push(("content-md5".into(), md5_b64(&body)));
        r.headers
            .push(("content-type".into(), "application/octet-stream".into()));
        r.body = body;
        let resp = self.call(&r).await?;
        Ok(etag(&resp.headers))
    }

    async fn initiate(&self, key: &str, extra: &[(String, String)]) -> Result<String> {
        let mut r = self.req("InitiateMultipartUpload", Method::POST, key);
        r.query.push(("uploads".into(), String::new()));
        r.headers
            .push(("content-type".into(), "application/octet-stream".into()));
        r.headers.extend(extra.iter().cloned());
        let resp = self.call(&r).await?;
        let x: InitiateResult = xml(&resp, "InitiateMultipartUpload")?;
        Ok(x.upload_id)
    }

    async fn upload_part(
        &self,
        key: &str,
        upload_id: &str,
        n: u32,
        data: Vec<u8>,
    ) -> Result<String> {
        let mut r = self.req("UploadPart", Method::PUT, key);
        r.query.push(("partNumber".into(), n.to_string()));
        r.query.push(("uploadId".into(), upload_id.into()));
        r.headers.push(("content-md5".into(), md5_b64(&data)));
        r.body = data;
        let resp = self.call(&r).await?;
        Ok(etag(&resp.headers))
    }

    /// ListParts (all pages): part number → (size, etag without quotes).
    async fn list_parts(&self, key: &str, upload_id: &str) -> Result<Vec<(u32, u64, String)>> {
        let mut out = Vec::new();
        let mut marker = String::new();
        loop {
            let mut r = self.req("ListParts", Method::GET, key);
            r.query.push(("uploadId".into(), upload_id.into()));
            if !marker.is_empty() {
                r.query.push(("part-number-marker".into(), marker.clone()));
            }
            let resp = self.call(&r).await?;
            let x: ListPartsResult = xml(&resp, "ListParts")?;
            for p in x.parts {
                out.push((p.part_number, p.size, p.etag.trim_matches('"').to_string()));
            }
            match (x.is_truncated, x.next_part_number_marker) {
                (Some(true), Some(m)) if !m.is_empty() && m != marker => marker = m,
                _ => return Ok(out),
            }
        }
    }

    async fn complete(
        &self,
        key: &str,
        upload_id: &str,
        parts: &[(u32, String)],
    ) -> Result<String> {
        let mut body = String::from("<CompleteMultipartUpload>");
        for (n, e) in parts {
            body.push_str(&format!(
                "<Part><PartNumber>{n}</PartNumber><ETag>\"{e}\"</ETag></Part>"
            ));
        }
        body.push_str("</CompleteMultipartUpload>");
        let mut r = self.req("CompleteMultipartUpload", Method::POST, key);
        r.query.push(("uploadId".into(), upload_id.into()));
        r.headers
            .push(("content-type".into(), "application/xml".into()));
        r.body = body.into_bytes();
        // Completing twice fails with NoSuchUpload; a lost answer is checked with HEAD by the caller.
        r.idem = Idempotency::NotIdempotent;
        let resp = self.call(&r).await?;
        let from_body =
            quick_xml::de::from_str::<CompleteResult>(&String::from_utf8_lossy(&resp.body))
                .ok()
                .map(|c| c.etag.trim_matches('"').to_string());
        Ok(from_body.unwrap_or_else(|| etag(&resp.headers)))
    }

    /// AbortMultipartUpload (used when a resume state is unusable).
    pub async fn abort_multipart(&self, key: &str, upload_id: &str) -> Result<()> {
        let mut r = self.req("AbortMultipartUpload", Method::DELETE, key);
        r.query.push(("uploadId".into(), upload_id.into()));
        match self.call(&r).await {
            Err(e) if e.is_not_found() || e.code() == Some("NoSuchUpload") => Ok(()),
            other => other.map(|_| ()),
        }
    }

    async fn do_put_multipart(
        &self,
        key: &str,
        file: &Path,
        opts: &MultipartOptions,
    ) -> Result<UploadReport> {
        let meta = tokio::fs::metadata(file)
            .await
            .map_err(|e| Error::io(format!("stat {}", file.display()), e))?;
        let size = meta.len();
        let mtime = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok())
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
        let min_part = (size.div_ceil(10_000)).max(100 * 1024);
        let part_size = opts.part_size.max(min_part);
        let parts_total = size.div_ceil(part_size).max(1) as u32;
        let state_path = opts.resume_dir.as_ref().map(|d| {
            let id =
                md5_hex(format!("{}\n{}\n{}", self.inner.base, self.inner.bucket, key).as_bytes());
            d.join(format!("{id}.json"))
        });
        let fingerprint = ResumeState {
            bucket: self.inner.bucket.clone(),
            key: key.into(),
            file: file.display().to_string(),
            size,
            mtime_ns: mtime,
            part_size,
            upload_id: String::new(),
        };
        // Resume an earlier upload when the state matches this file.
        let mut done: std::collections::BTreeMap<u32, String> = Default::default();
        let mut upload_id = None;
        if let Some(sp) = &state_path
            && let Ok(text) = tokio::fs::read_to_string(sp).await
            && let Ok(st) = serde_json::from_str::<ResumeState>(&text)
        {
            if st.same_source(&fingerprint) {
                match self.list_parts(key, &st.upload_id).await {
                    Ok(parts) => {
                        for (n, psize, et) in parts {
                            if n == 0 || n > parts_total {
                                continue;
                            }
                            let expect = part_len(size, part_size, n);
                            if psize != expect {
                                continue;
                            }
                            let data = read_part(file, part_size, n, expect).await?;
                            if md5_hex(&data).eq_ignore_ascii_case(&et) {
                                done.insert(n, et);
                            }
                        }
                        upload_id = Some(st.upload_id.clone());
                    }
                    Err(e) if e.code() == Some("NoSuchUpload") || e.is_not_found() => {}
                    Err(e) => return Err(e),
                }
            } else {
                let _ = self.abort_multipart(&st.key, &st.upload_id).await;
            }
        }
        let upload_id = match upload_id {
            Some(id) => id,
            None => {
                let id = self.initiate(key, &opts.headers).await?;
                if let Some(sp) = &state_path {
                    let st = ResumeState {
                        upload_id: id.clone(),
                        ..fingerprint.clone()
                    };
                    write_state(sp, &st).await?;
                }
                id
            }
        };
        let parts_skipped = done.len() as u32;
        tracing::debug!(target: "fcctl::aliyun", key, upload_id = %upload_id, parts_total, parts_skipped, "multipart upload");
        // Upload the missing parts, `concurrency` at a time.
        let mut bytes_sent = 0u64;
        let mut set = tokio::task::JoinSet::new();
        let todo: Vec<u32> = (1..=parts_total)
            .filter(|n| !done.contains_key(n))
            .collect();
        let mut it = todo.into_iter();
        let conc = opts.concurrency.max(1);
        loop {
            while set.len() < conc {
                let Some(n) = it.next() else { break };
                let this = self.clone();
                let key = key.to_string();
                let uid = upload_id.clone();
                let path = file.to_path_buf();
                let len = part_len(size, part_size, n);
                set.spawn(async move {
                    let data = read_part(&path, part_size, n, len).await?;
                    let e = this.upload_part(&key, &uid, n, data).await?;
                    Ok::<_, Error>((n, e, len))
                });
            }
            match set.join_next().await {
                None => break,
                Some(joined) => {
                    let (n, e, len) = joined
                        .map_err(|e| Error::Invalid(format!("upload task failed: {e}")))??;
                    bytes_sent += len;
                    done.insert(n, e);
                }
            }
        }
        let parts: Vec<(u32, String)> = done.into_iter().collect();
        // Complete is not blindly retried: after a lost answer, HEAD tells whether it landed
        // (our size and a multipart ETag `…-<parts>`); if not, the upload id is still valid and
        // completing again is safe.
        let mut attempt = 0;
        let etag = loop {
            attempt += 1;
            let err = match self.complete(key, &upload_id, &parts).await {
                Ok(e) => break e,
                Err(err) => err,
            };
            let landed = match self.head_object(key).await {
                Ok(Some(m))
                    if m.size == size
                        && (err.code() == Some("NoSuchUpload")
                            || m.etag.ends_with(&format!("-{}", parts.len()))) =>
                {
                    Some(m.etag)
                }
                _ => None,
            };
            if let Some(e) = landed {
                break e;
            }
            let transient = err.status().is_none_or(|s| s == 429 || s >= 500);
            if !transient || attempt >= 4 {
                return Err(err);
            }
            tokio::time::sleep(std::time::Duration::from_millis(200 * attempt)).await;
        };
        if let Some(sp) = &state_path {
            let _ = tokio::fs::remove_file(sp).await;
        }
        Ok(UploadReport {
            upload_id,
            parts_total,
            parts_skipped,
            bytes_sent,
            etag,
        })
    }

    async fn head_object(&self, key: &str) -> Result<Option<ObjectMeta>> {
        let r = self.req("HeadObject", Method::HEAD, key);
        match self.call(&r).await {
            Ok(resp) => {
                let h = |n: &str| {
                    resp.headers
                        .get(n)
                        .and_then(|v| v.to_str().ok())
                        .map(String::from)
                };
                Ok(Some(ObjectMeta {
                    key: key.into(),
                    size: h("content-length")
                        .and_then(|v| v.parse().ok())
                        .unwrap_or(0),
                    etag: etag(&resp.headers),
                    last_modified: h("last-modified"),
                    crc64: h("x-oss-hash-crc64ecma"),
                }))
            }
            Err(e) if e.status() == Some(404) => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn get_object(&self, key: &str, range: Option<Range<u64>>) -> Result<Vec<u8>> {
        let mut r = self.req("GetObject", Method::GET, key);
        if let Some(rg) = &range {
            if rg.end <= rg.start {
                return Ok(Vec::new());
            }
            r.headers
                .push(("range".into(), format!("bytes={}-{}", rg.start, rg.end - 1)));
        }
        let resp = self.call(&r).await?;
        if let Some(rg) = range
            && resp.status == 200
        {
            // Server ignored the range (OSS does for invalid ranges): slice locally.
            let start = (rg.start as usize).min(resp.body.len());
            let end = (rg.end as usize).min(resp.body.len());
            return Ok(resp.body[start..end].to_vec());
        }
        Ok(resp.body)
    }

    async fn list_objects(&self, prefix: &str) -> Result<Vec<ObjectMeta>> {
        let mut out = Vec::new();
        let mut token = String::new();
        loop {
            let mut r = self.req("ListObjectsV2", Method::GET, "");
            r.query.push(("list-type".into(), "2".into()));
            r.query.push(("max-keys".into(), "1000".into()));
            if !prefix.is_empty() {
                r.query.push(("prefix".into(), prefix.into()));
            }
            if !token.is_empty() {
                r.query.push(("continuation-token".into(), token.clone()));
            }
            let resp = self.call(&r).await?;
            let x: ListBucketResult = xml(&resp, "ListObjectsV2")?;
            for c in x.contents {
                out.push(ObjectMeta {
                    key: c.key,
                    size: c.size,
                    etag: c.etag.trim_matches('"').to_string(),
                    last_modified: c.last_modified,
                    crc64: None,
                });
            }
            match (x.is_truncated, x.next_continuation_token) {
                (Some(true), Some(t)) if !t.is_empty() && t != token => token = t,
                _ => return Ok(out),
            }
        }
    }

    async fn delete_object(&self, key: &str) -> Result<()> {
        let r = self.req("DeleteObject", Method::DELETE, key);
        match self.call(&r).await {
            Err(e) if e.status() == Some(404) && e.code() != Some("NoSuchBucket") => Ok(()),
            other => other.map(|_| ()),
        }
    }

    async fn delete_objects(&self, keys: &[String]) -> Result<()> {
        for chunk in keys.chunks(1000) {
            let mut body = String::from(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Delete><Quiet>true</Quiet>",
            );
            for k in chunk {
                body.push_str(&format!("<Object><Key>{}</Key></Object>", xml_escape(k)));
            }
            body.push_str("</Delete>");
            let mut r = self.req("DeleteMultipleObjects", Method::POST, "");
            r.query.push(("delete".into(), String::new()));
            r.headers
                .push(("content-md5".into(), md5_b64(body.as_bytes())));
            r.headers
                .push(("content-type".into(), "application/xml".into()));
            r.body = body.into_bytes();
            r.idem = Idempotency::Idempotent;
            self.call(&r).await?;
        }
        Ok(())
    }

    async fn ensure(&self) -> Result<()> {
        let mut r = self.req("GetBucketInfo", Method::GET, "");
        r.query.push(("bucketInfo".into(), String::new()));
        match self.call(&r).await {
            Ok(_) => Ok(()),
            Err(e) if e.code() == Some("NoSuchBucket") || e.status() == Some(404) => {
                let mut p = self.req("PutBucket", Method::PUT, "");
                p.headers.push(("x-oss-acl".into(), "private".into()));
                match self.call(&p).await {
                    Err(e) if e.code() == Some("BucketAlreadyExists") => Err(e),
                    other => other.map(|_| ()),
                }
            }
            Err(e) => Err(e),
        }
    }
}

impl ObjectStore for OssClient {
    fn put<'a>(&'a self, key: &'a str, body: Vec<u8>) -> BoxFut<'a, String> {
        Box::pin(self.put_object(key, body))
    }
    fn put_multipart<'a>(
        &'a self,
        key: &'a str,
        file: &'a Path,
        opts: &'a MultipartOptions,
    ) -> BoxFut<'a, UploadReport> {
        Box::pin(self.do_put_multipart(key, file, opts))
    }
    fn head<'a>(&'a self, key: &'a str) -> BoxFut<'a, Option<ObjectMeta>> {
        Box::pin(self.head_object(key))
    }
    fn get<'a>(&'a self, key: &'a str, range: Option<Range<u64>>) -> BoxFut<'a, Vec<u8>> {
        Box::pin(self.get_object(key, range))
    }
    fn list<'a>(&'a self, prefix: &'a str) -> BoxFut<'a, Vec<ObjectMeta>> {
        Box::pin(self.list_objects(prefix))
    }
    fn delete<'a>(&'a self, key: &'a str) -> BoxFut<'a, ()> {
        Box::pin(self.delete_object(key))
    }
    fn delete_many<'a>(&'a self, keys: &'a [String]) -> BoxFut<'a, ()> {
        Box::pin(self.delete_objects(keys))
    }
    fn ensure_bucket<'a>(&'a self) -> BoxFut<'a, ()> {
        Box::pin(self.ensure())
    }
}

fn part_len(size: u64, part_size: u64, n: u32) -> u64 {
    let start = (n as u64 - 1) * part_size;
    part_size.min(size.saturating_sub(start))
}

async fn read_part(path: &Path, part_size: u64, n: u32, len: u64) -> Result<Vec<u8>> {
    let ctx = || format!("read part {n} of {}", path.display());
    let mut f = tokio::fs::File::open(path)
        .await
        .map_err(|e| Error::io(ctx(), e))?;
    f.seek(std::io::SeekFrom::Start((n as u64 - 1) * part_size))
        .await
        .map_err(|e| Error::io(ctx(), e))?;
    let mut buf = vec![0u8; len as usize];
    f.read_exact(&mut buf)
        .await
        .map_err(|e| Error::io(ctx(), e))?;
    Ok(buf)
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct ResumeState {
    bucket: String,
    key: String,
    file: String,
    size: u64,
    mtime_ns: u64,
    part_size: u64,
    upload_id: String,
}

impl ResumeState {
    fn same_source(&self, o: &ResumeState) -> bool {
        self.bucket == o.bucket
            && self.key == o.key
            && self.size == o.size
            && self.mtime_ns == o.mtime_ns
            && self.part_size == o.part_size
            && !self.upload_id.is_empty()
    }
}

async fn write_state(path: &Path, st: &ResumeState) -> Result<()> {
    if let Some(dir) = path.parent() {
        tokio::fs::create_dir_all(dir)
            .await
            .map_err(|e| Error::io(format!("create {}", dir.display()), e))?;
    }
    let tmp = path.with_extension("json.tmp");
    let text = serde_json::to_vec_pretty(st).expect("state serialises");
    tokio::fs::write(&tmp, text)
        .await
        .map_err(|e| Error::io(format!("write {}", tmp.display()), e))?;
    tokio::fs::rename(&tmp, path)
        .await
        .map_err(|e| Error::io(format!("rename {}", path.display()), e))
}

fn etag(h: &HeaderMap) -> String {
    h.get("etag")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .trim_matches('"')
        .to_string()
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&apos;")
}

fn xml<T: serde::de::DeserializeOwned>(resp: &OssResp, op: &str) -> Result<T> {
    let text = String::from_utf8_lossy(&resp.body);
    quick_xml::de::from_str(&text).map_err(|e| Error::Decode {
        action: op.into(),
        status: resp.status,
        request_id: request_id_from(&resp.headers),
        detail: format!(
            "{e}; body starts with {:?}",
            text.chars().take(200).collect::<String>()
        ),
    })
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct InitiateResult {
    upload_id: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct CompleteResult {
    #[serde(rename = "ETag")]
    etag: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ListPartsResult {
    #[serde(default)]
    is_truncated: Option<bool>,
    #[serde(default)]
    next_part_number_marker: Option<String>,
    #[serde(default, rename = "Part")]
    parts: Vec<PartXml>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct PartXml {
    part_number: u32,
    #[serde(rename = "ETag")]
    etag: String,
    size: u64,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ListBucketResult {
    #[serde(default)]
    is_truncated: Option<bool>,
    #[serde(default)]
    next_continuation_token: Option<String>,
    #[serde(default)]
    contents: Vec<ContentsXml>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ContentsXml {
    key: String,
    #[serde(default)]
    size: u64,
    #[serde(default, rename = "ETag")]
    etag: String,
    #[serde(default)]
    last_modified: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aliyun::testutil::{Received, Reply, TestServer};
    use crate::exit::Hint as _;
    use serde_json::Value;
    use std::collections::BTreeMap;
    use std::sync::Mutex;

    #[test]
    fn v1_vectors_pass() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../shared/vectors/vectors.json"
        );
        let v: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let mut n = 0;
        for vec in v["oss"].as_array().unwrap() {
            let inp = &vec["inputs"];
            if inp["auth_version"].as_i64() != Some(1) {
                continue;
            }
            let name = vec["name"].as_str().unwrap();
            let headers: Vec<(String, String)> = vec["request_headers_sent"]
                .as_object()
                .unwrap()
                .iter()
                .filter(|(k, _)| !k.eq_ignore_ascii_case("authorization"))
                .filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_string())))
                .collect();
            let query: Vec<(String, String)> = inp["params"]
                .as_object()
                .unwrap()
                .iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_string()))
                .collect();
            let resource = format!(
                "/{}/{}",
                inp["bucket"].as_str().unwrap(),
                inp["key"].as_str().unwrap()
            );
            let sts =
                oss_v1_string_to_sign(inp["method"].as_str().unwrap(), &headers, &resource, &query);
            let out = &vec["outputs"];
            assert_eq!(sts, out["string_to_sign"].as_str().unwrap(), "{name}");
            // Secrets of gen_vectors.py (the OSS inputs don't repeat them).
            let auth = out["authorization"].as_str().unwrap();
            let (id, secret) = if auth.starts_with("OSS STS.") {
                ("STS.NUfcctlTempKeyId", "StsTempSecretForFcctlVectors42")
            } else {
                ("LTAI5tFcctlTestKeyId01", "FcctlTestSecret0123456789abcdef")
            };
            let sig = oss_v1_signature(secret, &sts);
            assert_eq!(sig, out["signature"].as_str().unwrap(), "{name}");
            assert_eq!(format!("OSS {id}:{sig}"), auth, "{name}");
            n += 1;
        }
        assert_eq!(n, 4);
    }

    /// In-memory path-style OSS that verifies V1 signatures.
    #[derive(Default)]
    struct Fake {
        objects: BTreeMap<String, Vec<u8>>,
        uploads: BTreeMap<String, BTreeMap<u32, Vec<u8>>>,
        part_puts: Vec<u32>,
        fail_part: Option<u32>,
        bucket_exists: bool,
        next_id: u32,
    }

    fn xml_reply(status: u16, body: String) -> Reply {
        Reply::Respond {
            status,
            headers: vec![
                ("content-type".into(), "application/xml".into()),
                ("x-oss-request-id".into(), "oss-rid".into()),
            ],
            body: body.into_bytes(),
        }
    }

    fn err(status: u16, code: &str) -> Reply {
        xml_reply(
            status,
            format!(
                "<Error><Code>{code}</Code><Message>m</Message><RequestId>rid-{code}</RequestId></Error>"
            ),
        )
    }

    fn handle(f: &mut Fake, r: &Received, secret: &str) -> Reply {
        let path = percent_encoding::percent_decode_str(r.path())
            .decode_utf8_lossy()
            .into_owned();
        let trimmed = path.trim_start_matches('/');
        let (bucket, key) = trimmed.split_once('/').unwrap_or((trimmed, ""));
        let q = r.query_pairs();
        let has = |k: &str| q.iter().any(|(a, _)| a == k);
        let qv = |k: &str| {
            q.iter()
                .find(|(a, _)| a == k)
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        };
        // signature
        let sts = oss_v1_string_to_sign(&r.method, &r.headers, &format!("/{bucket}/{key}"), &q);
        let want = format!("OSS test-ak:{}", oss_v1_signature(secret, &sts));
        if r.header("authorization") != Some(want.as_str()) {
            return err(403, "SignatureDoesNotMatch");
        }
        if let Some(md5) = r.header("content-md5")
            && md5 != md5_b64(&r.body)
        {
            return err(400, "InvalidDigest");
        }
        match (r.method.as_str(), key.is_empty()) {
            ("GET", true) if has("bucketInfo") => {
                if f.bucket_exists {
                    xml_reply(200, "<BucketInfo/>".into())
                } else {
                    err(404, "NoSuchBucket")
                }
            }
            ("PUT", true) => {
                f.bucket_exists = true;
                xml_reply(200, String::new())
            }
            ("GET", true) => {
                let prefix = qv("prefix");
                let mut s = String::from("<ListBucketResult><IsTruncated>false</IsTruncated>");
                for (k, v) in f.objects.iter().filter(|(k, _)| k.starts_with(&prefix)) {
                    s.push_str(&format!(
                        "<Contents><Key>{k}</Key><ETag>\"{}\"</ETag><Size>{}</Size></Contents>",
                        md5_hex(v).to_uppercase(),
                        v.len()
                    ));
                }
                s.push_str("</ListBucketResult>");
                xml_reply(200, s)
            }
            ("POST", true) if has("delete") => {
                let text = String::from_utf8_lossy(&r.body).into_owned();
                for part in text.split("<Key>").skip(1) {
                    let k = part.split("</Key>").next().unwrap();
                    f.objects.remove(k);
                }
                xml_reply(200, "<DeleteResult/>".into())
            }
            ("POST", false) if has("uploads") => {
                f.next_id += 1;
                let id = format!("UP{}", f.next_id);
                f.uploads.insert(id.clone(), BTreeMap::new());
                xml_reply(
                    200,
                    format!(
                        "<InitiateMultipartUploadResult><Bucket>{bucket}</Bucket><Key>{key}</Key><UploadId>{id}</UploadId></InitiateMultipartUploadResult>"
                    ),
                )
            }
            ("PUT", false) if has("uploadId") => {
                let n: u32 = qv("partNumber").parse().unwrap();
                if f.fail_part == Some(n) {
                    return err(400, "InvalidArgument");
                }
                let Some(up) = f.uploads.get_mut(&qv("uploadId")) else {
                    return err(404, "NoSuchUpload");
                };
                up.insert(n, r.body.clone());
                f.part_puts.push(n);
                Reply::Respond {
                    status: 200,
                    headers: vec![(
                        "etag".into(),
                        format!("\"{}\"", md5_hex(&r.body).to_uppercase()),
                    )],
                    body: Vec::new(),
                }
            }
            ("GET", false) if has("uploadId") => {
                let Some(up) = f.uploads.get(&qv("uploadId")) else {
                    return err(404, "NoSuchUpload");
                };
                let mut s = String::from("<ListPartsResult><IsTruncated>false</IsTruncated>");
                for (n, d) in up {
                    s.push_str(&format!(
                        "<Part><PartNumber>{n}</PartNumber><ETag>\"{}\"</ETag><Size>{}</Size></Part>",
                        md5_hex(d).to_uppercase(),
                        d.len()
                    ));
                }
                s.push_str("</ListPartsResult>");
                xml_reply(200, s)
            }
            ("POST", false) if has("uploadId") => {
                let Some(up) = f.uploads.remove(&qv("uploadId")) else {
                    return err(404, "NoSuchUpload");
                };
                let data: Vec<u8> = up.values().flatten().copied().collect();
                f.objects.insert(key.to_string(), data);
                xml_reply(200, "<CompleteMultipartUploadResult><ETag>\"ABC-3\"</ETag></CompleteMultipartUploadResult>".into())
            }
            ("DELETE", false) if has("uploadId") => {
                f.uploads.remove(&qv("uploadId"));
                Reply::Respond {
                    status: 204,
                    headers: vec![],
                    body: vec![],
                }
            }
            ("PUT", false) => {
                f.objects.insert(key.to_string(), r.body.clone());
                Reply::Respond {
                    status: 200,
                    headers: vec![(
                        "etag".into(),
                        format!("\"{}\"", md5_hex(&r.body).to_uppercase()),
                    )],
                    body: Vec::new(),
                }
            }
            ("HEAD", false) | ("GET", false) => match f.objects.get(key) {
                None => {
                    if r.method == "HEAD" {
                        Reply::Respond {
                            status: 404,
                            headers: vec![],
                            body: vec![],
                        }
                    } else {
                        err(404, "NoSuchKey")
                    }
                }
                Some(d) => {
                    let (status, body) =
                        match r.header("range").and_then(|v| v.strip_prefix("bytes=")) {
                            Some(rg) => {
                                let (a, b) = rg.split_once('-').unwrap();
                                let (a, b): (usize, usize) =
                                    (a.parse().unwrap(), b.parse().unwrap());
                                (206, d[a..=b.min(d.len() - 1)].to_vec())
                            }
                            None => (200, d.clone()),
                        };
                    let mut headers =
                        vec![("etag".into(), format!("\"{}\"", md5_hex(d).to_uppercase()))];
                    if r.method == "HEAD" {
                        headers.push(("content-length".into(), d.len().to_string()));
                    }
                    Reply::Respond {
                        status,
                        headers,
                        body: if r.method == "HEAD" { Vec::new() } else { body },
                    }
                }
            },
            ("DELETE", false) => {
                f.objects.remove(key);
                Reply::Respond {
                    status: 204,
                    headers: vec![],
                    body: vec![],
                }
            }
            _ => err(400, "NotImplemented"),
        }
    }

    async fn fake() -> (TestServer, Arc<Mutex<Fake>>) {
        let state: Arc<Mutex<Fake>> = Arc::default();
        let s2 = state.clone();
        let srv =
            TestServer::start(move |r, _| handle(&mut s2.lock().unwrap(), r, "test-secret")).await;
        (srv, state)
    }

    fn client(base: &str) -> OssClient {
        let mut cfg = OssConfig::new(base, "fcctl-artifacts");
        cfg.retry = RetryPolicy {
            max_attempts: 2,
            initial_delay: Duration::from_millis(5),
            max_delay: Duration::from_millis(10),
            deadline: Duration::from_secs(5),
        };
        OssClient::new(cfg, AccessKey::new("test-ak", "test-secret")).unwrap()
    }

    #[tokio::test]
    async fn multipart_resumes_without_resending_completed_parts() {
        let (srv, state) = fake().await;
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("model.onnx");
        let data: Vec<u8> = (0..(5 * 100 * 1024 + 777))
            .map(|i| (i * 31 % 251) as u8)
            .collect();
        std::fs::write(&file, &data).unwrap();
        let opts = MultipartOptions {
            part_size: 100 * 1024,
            concurrency: 1,
            resume_dir: Some(dir.path().join("resume")),
            headers: vec![],
        };
        state.lock().unwrap().fail_part = Some(3);
        // "Process 1": parts 1 and 2 succeed, part 3 fails permanently.
        let err = client(&srv.base)
            .put_multipart("blobs/abc", &file, &opts)
            .await
            .unwrap_err();
        assert_eq!(err.code(), Some("InvalidArgument"));
        assert_eq!(state.lock().unwrap().part_puts, vec![1, 2]);
        // "Process 2": a fresh client resumes; parts 1 and 2 are not re-sent.
        state.lock().unwrap().fail_part = None;
        let rep = client(&srv.base)
            .put_multipart("blobs/abc", &file, &opts)
            .await
            .unwrap();
        assert_eq!(rep.parts_total, 6);
        assert_eq!(rep.parts_skipped, 2);
        assert_eq!(rep.upload_id, "UP1");
        assert_eq!(state.lock().unwrap().part_puts, vec![1, 2, 3, 4, 5, 6]);
        assert_eq!(state.lock().unwrap().objects["blobs/abc"], data);
        // The resume state is removed after completion.
        assert_eq!(
            std::fs::read_dir(dir.path().join("resume"))
                .unwrap()
                .count(),
            0
        );
        // All requests were path-style.
        assert!(
            srv.requests()
                .iter()
                .all(|r| r.path().starts_with("/fcctl-artifacts/"))
        );
    }

    #[tokio::test]
    async fn object_operations_roundtrip() {
        let (srv, state) = fake().await;
        let c = client(&srv.base);
        c.ensure_bucket().await.unwrap();
        assert!(state.lock().unwrap().bucket_exists);
        c.ensure_bucket().await.unwrap();
        let store: &dyn ObjectStore = &c;
        let etag = store
            .put("releases/r1/model.yaml", b"hello world".to_vec())
            .await
            .unwrap();
        assert_eq!(etag, md5_hex(b"hello world").to_uppercase());
        store
            .put("releases/r1/big model.bin", vec![7u8; 10])
            .await
            .unwrap();
        store.put("other/x", vec![1]).await.unwrap();
        assert!(store.exists("releases/r1/model.yaml").await.unwrap());
        assert!(!store.exists("nope").await.unwrap());
        assert_eq!(
            store
                .head("releases/r1/model.yaml")
                .await
                .unwrap()
                .unwrap()
                .size,
            11
        );
        assert_eq!(
            store
                .get("releases/r1/model.yaml", Some(6..11))
                .await
                .unwrap(),
            b"world"
        );
        assert_eq!(
            store.get("releases/r1/model.yaml", None).await.unwrap(),
            b"hello world"
        );
        let listed: Vec<String> = store
            .list("releases/")
            .await
            .unwrap()
            .into_iter()
            .map(|m| m.key)
            .collect();
        assert_eq!(
            listed,
            vec!["releases/r1/big model.bin", "releases/r1/model.yaml"]
        );
        store.delete_many(&listed).await.unwrap();
        store.delete("other/x").await.unwrap();
        store.delete("other/x").await.unwrap();
        assert!(store.list("").await.unwrap().is_empty());
        let e = store.get("missing", None).await.unwrap_err();
        assert_eq!(e.code(), Some("NoSuchKey"));
        assert_eq!(e.request_id(), Some("rid-NoSuchKey"));
    }

    #[tokio::test]
    async fn sts_token_header_is_sent_and_signed() {
        let (srv, _) = fake().await;
        let mut cfg = OssConfig::new(&srv.base, "b");
        cfg.retry = RetryPolicy::none();
        let c = OssClient::new(
            cfg,
            AccessKey::new("test-ak", "test-secret").with_security_token("tok"),
        )
        .unwrap();
        c.put("k", vec![1]).await.unwrap();
        assert_eq!(
            srv.requests()[0].header("x-oss-security-token"),
            Some("tok")
        );
        let c2 = OssClient::new(
            OssConfig::new(&srv.base, "b"),
            AccessKey::new("test-ak", "wrong"),
        )
        .unwrap();
        let e = c2.put("k", vec![1]).await.unwrap_err();
        assert_eq!(e.status(), Some(403));
        assert!(e.hint().unwrap().contains("clock"));
    }

    #[test]
    fn virtual_host_addressing_for_real_oss() {
        let c = OssClient::new(
            OssConfig::new(
                &default_oss_endpoint("cn-shenzhen", false),
                "fcctl-artifacts",
            ),
            AccessKey::new("a", "b"),
        )
        .unwrap();
        assert_eq!(
            c.url(
                "models/big model.bin",
                &[
                    ("partNumber".into(), "1".into()),
                    ("uploadId".into(), "X".into())
                ]
            ),
            "https://fcctl-artifacts.oss-cn-shenzhen.aliyuncs.com/models/big%20model.bin?partNumber=1&uploadId=X"
        );
        let local = OssClient::new(
            OssConfig::new("http://127.0.0.1:9", "bk"),
            AccessKey::new("a", "b"),
        )
        .unwrap();
        assert_eq!(
            local.url("a/b", &[("uploads".into(), String::new())]),
            "http://127.0.0.1:9/bk/a/b?uploads"
        );
    }
}
