//! RPC-style Alibaba Cloud OpenAPIs (VPC, ECS, NAS): one generic, signed, retried call.
//!
//! The official SDK core (`alibabacloud_tea_openapi` `Client.do_request`, the default
//! "signature V3" path of `call_api`) sends every RPC action as `POST /` with the
//! parameters in the query string, an empty body, and the action and version in the
//! `x-acs-action` / `x-acs-version` headers; the request is signed with ACS3-HMAC-SHA256
//! exactly like an FC3 (ROA) call, over the sorted query. Lists become `Tag.1.Key`,
//! `Tag.1.Value`, … (`Utils.query` flattening, 1-based). See docs/cloud-facts.md.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use reqwest::Method;
use serde::de::DeserializeOwned;

use super::error::{Error, Result};
use super::retry::{self, Idempotency};
use super::{AccessKey, ClientOptions, http, redact_headers, sign};

/// A resource tag (`Tag.N.Key` / `Tag.N.Value` on the wire).
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Tag {
    pub key: String,
    pub value: String,
}

impl Tag {
    pub fn new(key: impl Into<String>, value: impl Into<String>) -> Self {
        Self {
            key: key.into(),
            value: value.into(),
        }
    }

    /// The tag fcctl puts on everything it creates for `app`: `fcctl:app=<app>`.
    pub fn app(app: &str) -> Self {
        Self::new(APP_TAG_KEY, app)
    }
}

/// Key of the tag that marks what fcctl created, so a re-run finds it from the cloud's state.
pub const APP_TAG_KEY: &str = "fcctl:app";

/// One RPC action call: the action name and its (decoded) query parameters.
#[derive(Debug, Clone)]
pub struct RpcRequest {
    pub action: &'static str,
    pub query: Vec<(String, String)>,
    pub idempotency: Idempotency,
}

impl RpcRequest {
    /// A read (`Describe*`), safe to repeat.
    pub fn read(action: &'static str) -> Self {
        Self::new(action, Idempotency::Idempotent)
    }

    pub fn new(action: &'static str, idempotency: Idempotency) -> Self {
        Self {
            action,
            query: Vec::new(),
            idempotency,
        }
    }

    pub fn param(mut self, key: &str, value: impl ToString) -> Self {
        self.query.push((key.to_string(), value.to_string()));
        self
    }

    /// Adds the parameter only when there is a value (the SDK drops unset fields).
    pub fn opt<V: ToString>(self, key: &str, value: Option<V>) -> Self {
        match value {
            Some(v) => self.param(key, v),
            None => self,
        }
    }

    /// `Tag.1.Key`, `Tag.1.Value`, `Tag.2.Key`, … (1-based, the SDK's list flattening).
    pub fn tags(mut self, tags: &[Tag]) -> Self {
        for (i, t) in tags.iter().enumerate() {
            let n = i + 1;
            self.query.push((format!("Tag.{n}.Key"), t.key.clone()));
            self.query.push((format!("Tag.{n}.Value"), t.value.clone()));
        }
        self
    }

    /// `ClientToken`: the given one, else a fresh random one. It is fixed for all attempts of
    /// this request, which is what makes a retried Create safe (the service answers the
    /// first creation's result instead of creating a second resource).
    pub fn client_token(self, token: Option<&str>) -> Self {
        let t = token.map_or_else(sign::new_nonce, str::to_string);
        self.param("ClientToken", t)
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// Reads by the naming convention every RPC product follows.
fn is_read(action: &str) -> bool {
    ["Describe", "Get", "List"]
        .iter()
        .any(|p| action.starts_with(p))
}

/// A client for one RPC-style product (its endpoint and API version).
#[derive(Clone)]
pub struct RpcClient {
    inner: Arc<Inner>,
}

struct Inner {
    product: &'static str,
    version: &'static str,
    region: String,
    http: reqwest::Client,
    base: String,
    host: String,
    key: AccessKey,
    opts: ClientOptions,
    /// Attempts of actions that change state (everything but `Describe*`/`Get*`/`List*`).
    writes: AtomicU64,
}

impl std::fmt::Debug for RpcClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RpcClient")
            .field("product", &self.inner.product)
            .field("endpoint", &self.inner.base)
            .field("key", &self.inner.key)
            .finish()
    }
}

impl RpcClient {
    /// `endpoint`: `vpc.cn-hangzhou.aliyuncs.com` (https assumed) or `http://127.0.0.1:PORT`.
    pub fn new(
        product: &'static str,
        version: &'static str,
        endpoint: &str,
        region: &str,
        key: AccessKey,
        opts: ClientOptions,
    ) -> Result<Self> {
        let (base, host) = http::parse_endpoint(endpoint)?;
        if key.id.is_empty() || key.secret.is_empty() {
            return Err(Error::Invalid(
                "empty AccessKey id or secret (set ALIBABA_CLOUD_ACCESS_KEY_ID / ALIBABA_CLOUD_ACCESS_KEY_SECRET)".into(),
            ));
        }
        let http = http::client_builder()
            .connect_timeout(opts.connect_timeout)
            .timeout(opts.timeout)
            .user_agent(opts.user_agent.clone())
            .build()
            .map_err(|e| Error::Invalid(format!("cannot build the HTTP client: {e}")))?;
        Ok(Self {
            inner: Arc::new(Inner {
                product,
                version,
                region: region.to_string(),
                http,
                base,
                host,
                key,
                opts,
                writes: AtomicU64::new(0),
            }),
        })
    }

    pub fn endpoint(&self) -> &str {
        &self.inner.base
    }

    /// State-changing attempts so far: a converged `up` leaves this at 0 for every product.
    pub fn write_count(&self) -> u64 {
        self.inner.writes.load(Ordering::Relaxed)
    }

    pub fn region(&self) -> &str {
        &self.inner.region
    }

    /// Sends `req` (retried per its idempotency) and decodes the JSON answer.
    pub async fn call<T: DeserializeOwned>(&self, req: &RpcRequest) -> Result<T> {
        let (status, request_id, body) = retry::run(
            &self.inner.opts.retry,
            req.idempotency,
            req.action,
            |attempt| self.attempt(req, attempt),
        )
        .await?;
        serde_json::from_slice(&body).map_err(|e| Error::Decode {
            action: req.action.to_string(),
            status,
            request_id,
            detail: e.to_string(),
        })
    }

    async fn attempt(
        &self,
        req: &RpcRequest,
        attempt: u32,
    ) -> Result<(u16, Option<String>, Vec<u8>)> {
        let inner = &*self.inner;
        let date = sign::format_acs_date(time::OffsetDateTime::now_utc());
        let nonce = sign::new_nonce();
        let (url, headers) = signed_request(
            &inner.base,
            &inner.host,
            inner.version,
            req,
            &date,
            &nonce,
            &inner.opts.user_agent,
            &inner.key,
            &[],
        );
        let hm = http::header_map(headers.iter().map(|(k, v)| (k, v)))?;
        tracing::trace!(
            target: "fcctl::aliyun",
            action = req.action,
            attempt,
            request_headers = %redact_headers(headers.iter().map(|(k, v)| (k.as_str(), v.as_str()))),
            "rpc request"
        );
        if !is_read(req.action) {
            inner.writes.fetch_add(1, Ordering::Relaxed);
        }
        let started = Instant::now();
        let resp = inner
            .http
            .request(Method::POST, &url)
            .headers(hm)
            .send()
            .await
            .map_err(|e| Error::Transport {
                action: req.action.to_string(),
                method: "POST".into(),
                url: url.clone(),
                source: e,
            })?;
        let status = resp.status().as_u16();
        let request_id = http::request_id_from(resp.headers());
        let body = resp.bytes().await.map_err(|e| Error::Transport {
            action: req.action.to_string(),
            method: "POST".into(),
            url: url.clone(),
            source: e,
        })?;
        tracing::debug!(
            target: "fcctl::aliyun",
            product = inner.product,
            action = req.action,
            status,
            latency_ms = started.elapsed().as_millis() as u64,
            request_id = request_id.as_deref().unwrap_or("-"),
            attempt,
            "rpc call"
        );
        if status >= 400 {
            let e = http::api_error(
                status,
                &body,
                req.action,
                &Method::POST,
                "/".into(),
                request_id,
            );
            return Err(e.into());
        }
        Ok((status, request_id, body.to_vec()))
    }
}

/// The URL and the full header list (Authorization included) of one attempt, given its date
/// and nonce: `POST /?<canonical query>`, empty body, every header signed (as the SDK does).
/// `extra` is for tests that reproduce the SDK's own extra header (`x-acs-credentials-provider`).
#[allow(clippy::too_many_arguments)]
pub(crate) fn signed_request(
    base: &str,
    host: &str,
    version: &str,
    req: &RpcRequest,
    date: &str,
    nonce: &str,
    user_agent: &str,
    key: &AccessKey,
    extra: &[(String, String)],
) -> (String, Vec<(String, String)>) {
    let hashed = sign::EMPTY_SHA256;
    let mut headers = sign::request_headers(
        host, req.action, date, nonce, hashed, None, user_agent, key, extra,
    );
    // request_headers fills in FC's version; an RPC product names its own.
    for (k, v) in headers.iter_mut() {
        if k == "x-acs-version" {
            *v = version.to_string();
        }
    }
    let signed = sign::sign(
        &sign::SignInput {
            method: "POST",
            path: "/",
            query: &req.query,
            headers: &headers,
            hashed_payload: hashed,
        },
        &key.id,
        &key.secret,
    );
    let url = if signed.canonical_query.is_empty() {
        format!("{base}/")
    } else {
        format!("{base}/?{}", signed.canonical_query)
    };
    headers.push(("authorization".into(), signed.authorization));
    (url, headers)
}

/// `<product>.<region>.aliyuncs.com`, except where the SDK's endpoint map names another host
/// for a public region (VPC and ECS in cn-hangzhou).
pub fn default_endpoint(product: &str, region: &str) -> String {
    match (product, region) {
        ("vpc", "cn-hangzhou") => "vpc.aliyuncs.com".into(),
        ("ecs", "cn-hangzhou") => "ecs-cn-hangzhou.aliyuncs.com".into(),
        _ => format!("{product}.{region}.aliyuncs.com"),
    }
}

/// Deletes answer `*NotFound` when the resource is already gone (e.g. a retried delete whose
/// first attempt succeeded): `Ok(false)` then, so a re-run of a teardown finishes the job.
pub(crate) fn deleted(r: Result<serde::de::IgnoredAny>) -> Result<bool> {
    match r {
        Ok(_) => Ok(true),
        Err(e) if e.is_not_found() => Ok(false),
        Err(e) => Err(e),
    }
}

/// Follows `PageNumber`/`PageSize` paging until `total` items are collected or a page is empty.
pub(crate) async fn all_pages<T, F, Fut>(page_size: u32, mut page: F) -> Result<Vec<T>>
where
    F: FnMut(u32, u32) -> Fut,
    Fut: std::future::Future<Output = Result<(Vec<T>, u64)>>,
{
    let mut out = Vec::new();
    let mut number = 1;
    loop {
        let (items, total) = page(number, page_size).await?;
        let got = items.len();
        out.extend(items);
        if got == 0 || out.len() as u64 >= total {
            return Ok(out);
        }
        number += 1;
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::aliyun::testutil::{Received, Reply, TestServer};

    pub(crate) fn key() -> AccessKey {
        AccessKey::new("LTAIrpc", "rpcsecret")
    }

    pub(crate) fn fast_opts() -> ClientOptions {
        ClientOptions {
            retry: crate::aliyun::RetryPolicy {
                max_attempts: 3,
                initial_delay: std::time::Duration::from_millis(1),
                max_delay: std::time::Duration::from_millis(2),
                deadline: std::time::Duration::from_secs(5),
            },
            ..ClientOptions::default()
        }
    }

    /// Every request the server saw carries a valid ACS3 signature over what was sent.
    pub(crate) fn assert_signed(r: &Received, version: &str, action: &str) {
        assert_eq!(r.method, "POST");
        assert_eq!(r.path(), "/");
        assert!(
            r.body.is_empty(),
            "RPC parameters go in the query, not the body"
        );
        assert_eq!(r.header("x-acs-action"), Some(action));
        assert_eq!(r.header("x-acs-version"), Some(version));
        assert_eq!(r.header("x-acs-content-sha256"), Some(sign::EMPTY_SHA256));
        let auth = r.header("authorization").expect("authorization");
        let signed_names = auth
            .split("SignedHeaders=")
            .nth(1)
            .and_then(|s| s.split(',').next())
            .unwrap();
        let headers: Vec<(String, String)> = signed_names
            .split(';')
            .map(|n| (n.to_string(), r.header(n).unwrap_or_default().to_string()))
            .collect();
        let got = sign::sign(
            &sign::SignInput {
                method: "POST",
                path: "/",
                query: &r.query_pairs(),
                headers: &headers,
                hashed_payload: sign::EMPTY_SHA256,
            },
            &key().id,
            &key().secret,
        );
        assert_eq!(
            got.authorization, auth,
            "{action}: signature over what was sent"
        );
        for h in [
            "host",
            "x-acs-date",
            "x-acs-signature-nonce",
            "x-acs-action",
        ] {
            assert!(signed_names.split(';').any(|n| n == h), "{h} is signed");
        }
    }

    /// The official SDKs (VPC, ECS, NAS; `docs/sdk-vectors/rpc_acs3.py`, run now) and fcctl
    /// build the same query and headers and so the same `Authorization`, long-term and STS keys.
    #[test]
    fn signature_matches_the_official_sdks() {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/sdk-vectors/rpc_acs3.py");
        let venv = concat!(env!("CARGO_MANIFEST_DIR"), "/.venv/bin/python");
        let python = if std::path::Path::new(venv).exists() {
            venv
        } else {
            "python3"
        };
        let out = std::process::Command::new(python)
            .arg(script)
            .output()
            .unwrap_or_else(|e| panic!("{python}: {e} (scripts/setup creates .venv)"));
        assert!(
            out.status.success(),
            "{script}: {} (pip install -r requirements-dev.txt)",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let s = |x: &serde_json::Value| x.as_str().unwrap().to_string();
        let reqs = v["requests"].as_array().unwrap();
        assert_eq!(reqs.len(), 8);
        for r in reqs {
            let sent = r["headers"].as_object().unwrap();
            let action = s(&sent["x-acs-action"]);
            assert_eq!(s(&r["method"]), "POST", "{action}");
            assert_eq!(s(&r["pathname"]), "/", "{action}");
            assert_eq!(s(&r["body"]), "", "{action}");
            let mut key = AccessKey::new(s(&v["access_key_id"]), s(&v["access_key_secret"]));
            if r["sts"].as_bool().unwrap() {
                key = key.with_security_token(s(&v["security_token"]));
            }
            let mut req = RpcRequest::read("X");
            req.action = Box::leak(action.clone().into_boxed_str());
            req.query = r["query"]
                .as_object()
                .unwrap()
                .iter()
                .map(|(k, v)| (k.clone(), s(v)))
                .collect();
            let extra = vec![(
                "x-acs-credentials-provider".to_string(),
                s(&sent["x-acs-credentials-provider"]),
            )];
            let (url, headers) = signed_request(
                "https://h",
                &s(&sent["host"]),
                r["version"].as_str().unwrap(),
                &req,
                &s(&v["date"]),
                &s(&v["nonce"]),
                &s(&v["user_agent"]),
                &key,
                &extra,
            );
            let mut mine: Vec<(String, String)> = headers.clone();
            let mut theirs: Vec<(String, String)> = sent
                .iter()
                .map(|(k, v)| (k.to_ascii_lowercase(), s(v)))
                .collect();
            mine.sort();
            theirs.sort();
            assert_eq!(mine, theirs, "{action} sts={}: headers", r["sts"]);
            let q = url.split_once('?').unwrap().1;
            assert_eq!(
                q,
                sign::canonical_query(&req.query),
                "{action}: the wire query is the canonical one"
            );
        }
    }

    #[test]
    fn tags_flatten_one_based() {
        let r = RpcRequest::read("X").tags(&[Tag::app("cat-dog"), Tag::new("k2", "v 2")]);
        assert_eq!(r.get("Tag.1.Key"), Some("fcctl:app"));
        assert_eq!(r.get("Tag.1.Value"), Some("cat-dog"));
        assert_eq!(r.get("Tag.2.Key"), Some("k2"));
        assert_eq!(r.get("Tag.2.Value"), Some("v 2"));
        assert_eq!(r.get("Tag.0.Key"), None);
    }

    #[test]
    fn default_endpoints_follow_the_sdk_maps() {
        assert_eq!(
            default_endpoint("vpc", "cn-shenzhen"),
            "vpc.cn-shenzhen.aliyuncs.com"
        );
        assert_eq!(default_endpoint("vpc", "cn-hangzhou"), "vpc.aliyuncs.com");
        assert_eq!(
            default_endpoint("ecs", "cn-hangzhou"),
            "ecs-cn-hangzhou.aliyuncs.com"
        );
        assert_eq!(
            default_endpoint("nas", "cn-hangzhou"),
            "nas.cn-hangzhou.aliyuncs.com"
        );
    }

    #[tokio::test]
    async fn rpc_error_body_becomes_api_error_and_5xx_is_retried() {
        let srv = TestServer::start(|_, n| {
            if n == 0 {
                Reply::json(503, r#"{"RequestId":"R0","Code":"ServiceUnavailable","Message":"busy"}"#)
            } else {
                Reply::json(
                    400,
                    r#"{"RequestId":"R1","HostId":"vpc.aliyuncs.com","Code":"InvalidVpcName.Malformed","Message":"bad name","Recommend":"https://api.aliyun.com/troubleshoot?q=x"}"#,
                )
            }
        })
        .await;
        let c = RpcClient::new(
            "vpc",
            "2016-04-28",
            &srv.base,
            "cn-hangzhou",
            key(),
            fast_opts(),
        )
        .unwrap();
        let err = c
            .call::<serde_json::Value>(&RpcRequest::read("DescribeVpcs"))
            .await
            .unwrap_err();
        let api = err.api().expect("api error");
        assert_eq!(api.status, 400);
        assert_eq!(api.code, "InvalidVpcName.Malformed");
        assert_eq!(api.message, "bad name");
        assert_eq!(api.request_id.as_deref(), Some("R1"));
        assert_eq!(api.action, "DescribeVpcs");
        assert_eq!(srv.requests().len(), 2, "503 retried once, 400 not");
        for r in srv.requests() {
            assert_signed(&r, "2016-04-28", "DescribeVpcs");
        }
    }

    #[tokio::test]
    async fn not_idempotent_call_is_not_retried_on_5xx() {
        let srv = TestServer::start(|_, _| Reply::json(500, r#"{"Code":"InternalError"}"#)).await;
        let c = RpcClient::new(
            "nas",
            "2017-06-26",
            &srv.base,
            "cn-hangzhou",
            key(),
            fast_opts(),
        )
        .unwrap();
        let req = RpcRequest::new("CreateMountTarget", Idempotency::NotIdempotent);
        assert!(c.call::<serde_json::Value>(&req).await.is_err());
        assert_eq!(srv.requests().len(), 1);
    }

    #[tokio::test]
    async fn client_token_is_the_same_on_every_attempt() {
        let srv = TestServer::start(|_, n| {
            if n == 0 {
                Reply::json(500, r#"{"Code":"InternalError"}"#)
            } else {
                Reply::json(200, r#"{"RequestId":"R","VpcId":"vpc-1"}"#)
            }
        })
        .await;
        let c = RpcClient::new(
            "vpc",
            "2016-04-28",
            &srv.base,
            "cn-hangzhou",
            key(),
            fast_opts(),
        )
        .unwrap();
        let req = RpcRequest::new("CreateVpc", Idempotency::Idempotent).client_token(None);
        let _: serde_json::Value = c.call(&req).await.unwrap();
        let tokens: Vec<String> = srv
            .requests()
            .iter()
            .map(|r| r.query("ClientToken").unwrap())
            .collect();
        assert_eq!(tokens.len(), 2);
        assert_eq!(tokens[0], tokens[1]);
        let nonces: Vec<_> = srv
            .requests()
            .iter()
            .map(|r| r.header("x-acs-signature-nonce").unwrap().to_string())
            .collect();
        assert_ne!(nonces[0], nonces[1], "each attempt is signed afresh");
    }
}
