//! Object storage for artefacts / NAS blobs: the [`ObjectStore`] trait and [`OssClient`].
//!
//! Why not a crate: OpenDAL's OSS writer does multipart (and works against a path-style
//! endpoint) but cannot resume an upload started by an earlier process: every writer starts
//! a new multipart upload. fcctl needs "completed parts are not re-sent after a restart",
//! so this module speaks the OSS REST API directly (V1 HMAC-SHA1 signing, `sign.rs`),
//! reusing the FC client's retry/error machinery. Resumable multipart: `multipart.rs`; XML bodies: `xml.rs`.
//!
//! Addressing: virtual-host style (`https://<bucket>.oss-<region>.aliyuncs.com/<key>`) for
//! real OSS; path style (`http://127.0.0.1:PORT/<bucket>/<key>`) when [`OssConfig::path_style`]
//! (default for IP / localhost endpoints, i.e. the local emulator). STS: `x-oss-security-token`.

mod lifecycle;
mod multipart;
pub mod sign;
mod xml;

use std::future::Future;
use std::ops::Range;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use reqwest::Method;
use reqwest::header::HeaderMap;

pub use lifecycle::LifecycleRule;
pub use multipart::{IncompleteUpload, MultipartOptions, UploadReport};
pub use sign::{oss_v1_signature, oss_v1_string_to_sign};

use super::error::{Error, Result};
use super::http::{self, parse_endpoint, request_id_from};
use super::retry::{self, Idempotency, RetryPolicy};
use super::{AccessKey, redact_headers};
use sign::md5_b64;

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

#[derive(Debug, Clone)]
pub struct OssConfig {
    /// `https://oss-cn-shenzhen.aliyuncs.com` (or `-internal`), or `http://127.0.0.1:PORT`.
    pub endpoint: String,
    pub bucket: String,
    /// Region id without the `oss-` prefix (`cn-shenzhen`): part of every V4 signature.
    pub region: String,
    pub signature: SignatureVersion,
    /// Path-style addressing; None = automatic (path style for IP addresses / localhost).
    pub path_style: Option<bool>,
    pub timeout: Duration,
    pub retry: RetryPolicy,
}

/// How requests are signed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SignatureVersion {
    /// `OSS4-HMAC-SHA256`: what new accounts and new buckets require.
    #[default]
    V4,
    /// HMAC-SHA1, for old buckets of old accounts (`oss.signature: v1`).
    V1,
}

impl OssConfig {
    pub fn new(endpoint: &str, bucket: &str, region: &str) -> Self {
        Self {
            endpoint: endpoint.into(),
            bucket: bucket.into(),
            region: region.into(),
            signature: SignatureVersion::V4,
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
        if cfg.signature == SignatureVersion::V4 && cfg.region.is_empty() {
            return Err(Error::Invalid(
                "OSS V4 signatures need the region (e.g. cn-shenzhen)".into(),
            ));
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

    /// How this client signs (presigned URLs follow it).
    pub fn signature(&self) -> SignatureVersion {
        self.inner.cfg.signature
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
        let (headers, resource) = self.signed_headers(req);
        let hm = http::header_map(headers.iter().map(|(k, v)| (k, v)))?;
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
            let mut e = http::api_error(status, &body, req.op, &req.method, resource, rid);
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

    /// The request's headers with a fresh `Date`, the STS token and the V1 signature, and the
    /// canonical resource they were signed for.
    fn signed_headers(&self, req: &OssReq<'_>) -> (Vec<(String, String)>, String) {
        let i = &*self.inner;
        let mut headers = req.headers.clone();
        let now = SystemTime::now();
        if let Some(t) = i.key.security_token.as_deref().filter(|t| !t.is_empty()) {
            headers.push(("x-oss-security-token".into(), t.into()));
        }
        let resource = format!("/{}/{}", i.bucket, req.key);
        let auth = match i.cfg.signature {
            SignatureVersion::V4 => {
                let date_time = sign::oss_v4_date_time(now);
                headers.push(("x-oss-date".into(), date_time.clone()));
                headers.push(("x-oss-content-sha256".into(), sign::UNSIGNED_PAYLOAD.into()));
                let canonical = sign::oss_v4_canonical_request(
                    req.method.as_str(),
                    &i.bucket,
                    req.key,
                    &req.query,
                    &headers,
                );
                let signature =
                    sign::oss_v4_signature(&i.key.secret, &date_time, &i.cfg.region, &canonical);
                let scope = sign::oss_v4_scope(&date_time, &i.cfg.region);
                sign::oss_v4_authorization(&i.key.id, &scope, &signature)
            }
            SignatureVersion::V1 => {
                headers.push(("date".into(), httpdate::fmt_http_date(now)));
                let sts =
                    oss_v1_string_to_sign(req.method.as_str(), &headers, &resource, &req.query);
                format!("OSS {}:{}", i.key.id, oss_v1_signature(&i.key.secret, &sts))
            }
        };
        headers.push(("authorization".into(), auth));
        (headers, resource)
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
            let x: xml::ListBucketResult = xml::decode(&resp, "ListObjectsV2")?;
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
            let body = xml::delete_body(chunk);
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

    /// DeleteBucket; a bucket that does not exist is already deleted. OSS refuses a bucket
    /// with objects or incomplete multipart uploads (`BucketNotEmpty`, 409).
    pub async fn delete_bucket(&self) -> Result<()> {
        let r = self.req("DeleteBucket", Method::DELETE, "");
        match self.call(&r).await {
            Err(e) if e.code() == Some("NoSuchBucket") => Ok(()),
            other => other.map(|_| ()),
        }
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

fn etag(h: &HeaderMap) -> String {
    h.get("etag")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .trim_matches('"')
        .to_string()
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::exit::Hint as _;
    use sign::md5_hex;

    /// The local emulator (OSS with V1 signature checks, on 127.0.0.1); keep the TempDir
    /// alive while it runs.
    pub(super) async fn emulator(
        keys: Vec<emulator::AccessKey>,
    ) -> (emulator::Emulator, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let mut cfg = emulator::Config {
            data_dir: dir.path().join("emu"),
            ..Default::default()
        };
        if !keys.is_empty() {
            cfg.keys = keys;
        }
        (emulator::Emulator::start(cfg).await.unwrap(), dir)
    }

    pub(super) fn default_key(info: &emulator::Info) -> AccessKey {
        AccessKey::new(&info.access_key_id, &info.access_key_secret)
    }

    pub(super) fn client(endpoint: &str, bucket: &str, key: AccessKey) -> OssClient {
        let mut cfg = OssConfig::new(endpoint, bucket, emulator::DEFAULT_REGION);
        cfg.retry = RetryPolicy {
            max_attempts: 2,
            initial_delay: Duration::from_millis(5),
            max_delay: Duration::from_millis(10),
            deadline: Duration::from_secs(5),
        };
        OssClient::new(cfg, key).unwrap()
    }

    #[tokio::test]
    async fn object_operations_roundtrip() {
        let (emu, _dir) = emulator(vec![]).await;
        let info = emu.info().clone();
        let c = client(&info.oss_endpoint, "fcctl-artifacts", default_key(&info));
        c.ensure_bucket().await.unwrap();
        assert_eq!(
            c.call_count(),
            2,
            "GetBucketInfo found nothing, PutBucket created it"
        );
        c.ensure_bucket().await.unwrap();
        assert_eq!(c.call_count(), 3, "GetBucketInfo found it");
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
        assert!(e.request_id().is_some(), "{e}");
        emu.shutdown().await;
    }

    /// The emulator wants the token of an STS key and checks the signature over the
    /// `x-oss-*` headers, so a pass means the token was sent and signed.
    #[tokio::test]
    async fn sts_token_header_is_sent_and_signed() {
        let sts = emulator::AccessKey {
            id: "STS.test-ak".into(),
            secret: "test-secret".into(),
            security_token: Some("tok".into()),
        };
        let (emu, _dir) = emulator(vec![sts]).await;
        let endpoint = emu.info().oss_endpoint.clone();
        let with_token = AccessKey::new("STS.test-ak", "test-secret").with_security_token("tok");
        let mut cfg = OssConfig::new(&endpoint, "fcctl-sts", emulator::DEFAULT_REGION);
        cfg.retry = RetryPolicy::none();
        let c = OssClient::new(cfg, with_token).unwrap();
        c.ensure_bucket().await.unwrap();
        c.put("k", vec![1]).await.unwrap();
        let without = OssClient::new(
            OssConfig::new(&endpoint, "fcctl-sts", emulator::DEFAULT_REGION),
            AccessKey::new("STS.test-ak", "test-secret"),
        )
        .unwrap();
        let e = without.put("k", vec![1]).await.unwrap_err();
        assert_eq!(e.status(), Some(403), "{e}");
        let c2 = OssClient::new(
            OssConfig::new(&endpoint, "fcctl-sts", emulator::DEFAULT_REGION),
            AccessKey::new("STS.test-ak", "wrong").with_security_token("tok"),
        )
        .unwrap();
        let e = c2.put("k", vec![1]).await.unwrap_err();
        assert_eq!(e.status(), Some(403));
        assert!(e.hint().unwrap().contains("clock"), "{e}");
        emu.shutdown().await;
    }

    #[test]
    fn virtual_host_addressing_for_real_oss() {
        let c = OssClient::new(
            OssConfig::new(
                &default_oss_endpoint("cn-shenzhen", false),
                "fcctl-artifacts",
                "cn-shenzhen",
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
            OssConfig::new("http://127.0.0.1:9", "bk", "cn-shenzhen"),
            AccessKey::new("a", "b"),
        )
        .unwrap();
        assert_eq!(
            local.url("a/b", &[("uploads".into(), String::new())]),
            "http://127.0.0.1:9/bk/a/b?uploads"
        );
    }
}
