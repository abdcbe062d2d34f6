//! SLS (Simple Log Service) client: projects, logstores, indexes, GetLogs, project tags.
//!
//! SLS is neither ACS3 nor OSS: every request names its project in the `Host` header
//! (`<project>.<region>.log.aliyuncs.com`) and is signed with the SLS signature the official
//! `aliyun-log-python-sdk` sends by default (`AuthV1`, docs/cloud-facts.md "SLS"):
//!
//! ```text
//! Authorization: LOG <AccessKeyId>:base64(hmac-sha1(secret,
//!     VERB \n CONTENT-MD5 \n CONTENT-TYPE \n DATE \n
//!     (lower-case x-log-* / x-acs-* headers sorted, `name:value\n` each; not x-log-meta-*)
//!     resource [? sorted `key=value` joined by `&`, values not encoded]))
//! ```
//!
//! `Content-MD5` is the upper-case hex MD5 of the body (only with a body). Errors are JSON
//! `{"errorCode","errorMessage"}` with the request id in `x-log-requestid`.
//!
//! An endpoint given as an IP address or `localhost` (the emulator) is reached directly with
//! the project only in the `Host` header, as the SDK does for a raw IP endpoint.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use base64::Engine as _;
use hmac::{Hmac, Mac};
use md5::{Digest as _, Md5};
use reqwest::Method;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::error::{Error, Result};
use super::retry::{self, Idempotency};
use super::rpc::Tag;
use super::{AccessKey, ClientOptions, http, redact_headers};

/// The SLS API version the SDK sends in `x-log-apiversion`.
pub const API_VERSION: &str = "0.6.0";

/// `<region>.log.aliyuncs.com` (the SDK's public endpoint; the project goes in front).
pub fn default_endpoint(region: &str) -> String {
    format!("{region}.log.aliyuncs.com")
}

/// The string SLS signs (see the module doc). `headers` are (name, value) pairs in any case;
/// `params` are the decoded query parameters.
pub fn string_to_sign(
    method: &str,
    resource: &str,
    params: &[(String, String)],
    headers: &[(String, String)],
) -> String {
    let get = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map_or("", |(_, v)| v.as_str())
    };
    let mut s = format!(
        "{method}\n{}\n{}\n{}\n",
        get("content-md5"),
        get("content-type"),
        get("date")
    );
    let mut signed: Vec<(String, &str)> = headers
        .iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), v.as_str()))
        .filter(|(k, _)| is_signed_header(k))
        .collect();
    signed.sort();
    for (k, v) in signed {
        s.push_str(&format!("{k}:{v}\n"));
    }
    s.push_str(resource);
    if !params.is_empty() {
        let mut p: Vec<&(String, String)> = params.iter().collect();
        p.sort();
        let q: Vec<String> = p.iter().map(|(k, v)| format!("{k}={v}")).collect();
        s.push('?');
        s.push_str(&q.join("&"));
    }
    s
}

fn is_signed_header(lower: &str) -> bool {
    lower.starts_with("x-acs-")
        || (lower.starts_with("x-log-") && !lower.starts_with("x-log-meta-"))
}

/// `base64(hmac-sha1(secret, string_to_sign))`.
pub fn signature(secret: &str, string_to_sign: &str) -> String {
    let mut m =
        Hmac::<sha1::Sha1>::new_from_slice(secret.as_bytes()).expect("hmac accepts any key length");
    m.update(string_to_sign.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(m.finalize().into_bytes())
}

/// Upper-case hex MD5, SLS's `Content-MD5`.
pub fn content_md5(body: &[u8]) -> String {
    hex::encode_upper(Md5::digest(body))
}

/// The headers of one signed request (Authorization included), given its date.
/// `extra` are the request's own headers (`content-type`, `x-log-bodyrawsize`, …).
#[allow(clippy::too_many_arguments)]
pub(crate) fn signed_headers(
    method: &str,
    resource: &str,
    params: &[(String, String)],
    host: &str,
    body: &[u8],
    extra: &[(String, String)],
    date: &str,
    key: &AccessKey,
) -> Vec<(String, String)> {
    let mut h: Vec<(String, String)> = extra.to_vec();
    let mut put = |k: &str, v: String| h.push((k.to_string(), v));
    put("host", host.to_string());
    put("x-log-apiversion", API_VERSION.into());
    put("x-log-signaturemethod", "hmac-sha1".into());
    put("date", date.to_string());
    if body.is_empty() {
        if !extra.iter().any(|(k, _)| k == "x-log-bodyrawsize") {
            put("x-log-bodyrawsize", "0".into());
        }
    } else {
        put("content-md5", content_md5(body));
    }
    if let Some(t) = &key.security_token {
        put("x-acs-security-token", t.clone());
    }
    let sts = string_to_sign(method, resource, params, &h);
    let auth = format!("LOG {}:{}", key.id, signature(&key.secret, &sts));
    h.push(("authorization".into(), auth));
    // Not signed: the SDK adds it after signing for proxies that drop `Date`.
    h.push(("x-log-date".into(), date.to_string()));
    h
}

/// RFC 1123 date in GMT, as SLS wants it in `Date`.
pub(crate) fn http_date(t: std::time::SystemTime) -> String {
    httpdate::fmt_http_date(t)
}

// ---- models (field names from aliyun-log-python-sdk and the SLS API reference) ----

/// A project (`GetProject`, `ListProject`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Project {
    pub project_name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub region: String,
    #[serde(default, deserialize_with = "lenient_string")]
    pub owner: String,
    #[serde(default)]
    pub status: String,
    #[serde(default, deserialize_with = "lenient_string")]
    pub create_time: String,
    #[serde(default, deserialize_with = "lenient_string")]
    pub last_modify_time: String,
}

/// SLS prints some numbers (owner, times) as strings and others as numbers.
fn lenient_string<'de, D: serde::Deserializer<'de>>(d: D) -> std::result::Result<String, D::Error> {
    Ok(match serde_json::Value::deserialize(d)? {
        serde_json::Value::String(s) => s,
        serde_json::Value::Null => String::new(),
        v => v.to_string(),
    })
}

/// `CreateLogStore` body (the SDK's keys, `enable_tracking` in snake case as it sends it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LogStore {
    pub logstore_name: String,
    /// Days logs are kept.
    pub ttl: u32,
    pub shard_count: u32,
    #[serde(default)]
    pub auto_split: bool,
    #[serde(default)]
    pub max_split_shard: u32,
    /// Adds the receive time and client IP to each log.
    #[serde(default)]
    pub append_meta: bool,
    #[serde(rename = "enable_tracking", default)]
    pub enable_tracking: bool,
}

impl LogStore {
    /// One shard, no automatic split: fcctl's logs are a trickle.
    pub fn new(name: impl Into<String>, ttl_days: u32) -> Self {
        Self {
            logstore_name: name.into(),
            ttl: ttl_days,
            shard_count: 1,
            auto_split: false,
            max_split_shard: 0,
            append_meta: true,
            enable_tracking: false,
        }
    }
}

/// A logstore's index (`CreateIndex`/`GetIndex`): full text (`line`) and per-key (`keys`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<IndexLine>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub keys: BTreeMap<String, IndexKey>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IndexLine {
    pub token: Vec<String>,
    #[serde(default)]
    pub case_sensitive: bool,
    #[serde(default)]
    pub chn: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IndexKey {
    /// `text`, `long`, `double` or `json`.
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub token: Vec<String>,
    #[serde(default)]
    pub case_sensitive: bool,
    /// Enables analytics (SQL) on the key.
    #[serde(rename = "doc_value", default)]
    pub doc_value: bool,
}

/// The console's default token set for full-text and text keys.
pub const DEFAULT_TOKENS: &[&str] = &[
    ",", " ", "'", "\"", ";", "=", "(", ")", "[", "]", "{", "}", "?", "@", "&", "<", ">", "/", ":",
    "\n", "\t", "\r",
];

impl IndexConfig {
    /// Full text plus the given keys as text keys with analytics.
    pub fn full_text_with_keys(keys: &[&str]) -> Self {
        let token: Vec<String> = DEFAULT_TOKENS.iter().map(|s| s.to_string()).collect();
        Self {
            line: Some(IndexLine {
                token: token.clone(),
                case_sensitive: false,
                chn: false,
            }),
            keys: keys
                .iter()
                .map(|k| {
                    (
                        k.to_string(),
                        IndexKey {
                            kind: "text".into(),
                            token: token.clone(),
                            case_sensitive: false,
                            doc_value: true,
                        },
                    )
                })
                .collect(),
        }
    }
}

/// A GetLogs query: `[from, to)` in Unix seconds, an SLS search query (`*` = everything).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GetLogs {
    pub from: i64,
    pub to: i64,
    pub query: String,
    pub topic: Option<String>,
    /// Rows to return (SLS: at most 100 per call).
    pub line: u32,
    pub offset: u64,
    /// Newest first.
    pub reverse: bool,
}

/// The most rows one GetLogs call returns (SLS's `line` limit).
pub const MAX_LINES: u32 = 100;

/// One log as GetLogs returns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEntry {
    /// Unix seconds (`__time__`).
    pub time: i64,
    pub source: String,
    pub topic: String,
    /// Every other key (the log's contents and `__tag__:*`).
    pub contents: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GetLogsResponse {
    /// `x-log-progress` is `Complete`; an `Incomplete` answer must be asked again.
    pub complete: bool,
    /// `x-log-count`.
    pub count: u64,
    pub logs: Vec<LogEntry>,
}

/// One (resource, tag) pair of `ListTagResources`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TagResource {
    pub resource_id: String,
    pub resource_type: String,
    pub tag_key: String,
    pub tag_value: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TagPage {
    #[serde(default)]
    next_token: String,
    #[serde(default)]
    tag_resources: Vec<TagResource>,
}

#[derive(Deserialize)]
struct ProjectPage {
    #[serde(default)]
    total: u64,
    #[serde(default)]
    projects: Vec<Project>,
}

#[derive(Deserialize)]
struct LogStorePage {
    #[serde(default)]
    total: u64,
    #[serde(default)]
    logstores: Vec<String>,
}

// ---- client ----

/// One SLS call: what to send, to which project, how it may be retried.
struct Call<'a> {
    action: &'static str,
    method: Method,
    project: Option<&'a str>,
    resource: String,
    params: Vec<(String, String)>,
    body: Vec<u8>,
    headers: Vec<(String, String)>,
    idempotency: Idempotency,
}

impl<'a> Call<'a> {
    fn new(
        action: &'static str,
        method: Method,
        project: Option<&'a str>,
        resource: String,
    ) -> Self {
        let idempotency = if method == Method::POST {
            Idempotency::CreateLike
        } else {
            Idempotency::Idempotent
        };
        Self {
            action,
            method,
            project,
            resource,
            params: Vec::new(),
            body: Vec::new(),
            headers: Vec::new(),
            idempotency,
        }
    }

    fn json(mut self, body: &impl Serialize) -> Self {
        self.body = serde_json::to_vec(body).unwrap_or_default();
        self.headers
            .push(("content-type".into(), "application/json".into()));
        self.headers
            .push(("x-log-bodyrawsize".into(), self.body.len().to_string()));
        self
    }

    fn param(mut self, k: &str, v: impl ToString) -> Self {
        self.params.push((k.to_string(), v.to_string()));
        self
    }
}

/// What came back: status, request id, headers, body.
struct Answer {
    status: u16,
    request_id: Option<String>,
    headers: reqwest::header::HeaderMap,
    body: Vec<u8>,
}

#[derive(Clone)]
pub struct SlsClient {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    scheme: String,
    /// `host[:port]` of the endpoint, without a project.
    host: String,
    /// An IP or `localhost` endpoint: send to it, name the project only in `Host`.
    direct: bool,
    key: AccessKey,
    opts: ClientOptions,
    /// Attempts that change state (every method but GET; GetLogs' POST form excluded).
    writes: std::sync::atomic::AtomicU64,
}

impl std::fmt::Debug for SlsClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SlsClient")
            .field("endpoint", &self.endpoint())
            .field("key", &self.inner.key)
            .finish()
    }
}

impl SlsClient {
    /// `endpoint`: `cn-shenzhen.log.aliyuncs.com` (https assumed) or `http://127.0.0.1:PORT`.
    pub fn new(endpoint: &str, key: AccessKey, opts: ClientOptions) -> Result<Self> {
        let (base, host) = http::parse_endpoint(endpoint)?;
        if key.id.is_empty() || key.secret.is_empty() {
            return Err(Error::Invalid(
                "empty AccessKey id or secret (set ALIBABA_CLOUD_ACCESS_KEY_ID / ALIBABA_CLOUD_ACCESS_KEY_SECRET)".into(),
            ));
        }
        let scheme = base.split("://").next().unwrap_or("https").to_string();
        let name = host.rsplit_once(':').map_or(host.as_str(), |(h, _)| h);
        let direct = name == "localhost"
            || name
                .trim_matches(['[', ']'])
                .parse::<std::net::IpAddr>()
                .is_ok();
        let http = http::client_builder()
            .connect_timeout(opts.connect_timeout)
            .timeout(opts.timeout)
            .user_agent(opts.user_agent.clone())
            .build()
            .map_err(|e| Error::Invalid(format!("cannot build the HTTP client: {e}")))?;
        Ok(Self {
            inner: Arc::new(Inner {
                http,
                scheme,
                host,
                direct,
                key,
                opts,
                writes: std::sync::atomic::AtomicU64::new(0),
            }),
        })
    }

    /// State-changing calls made so far.
    pub fn write_count(&self) -> u64 {
        self.inner.writes.load(std::sync::atomic::Ordering::Relaxed)
    }

    pub fn endpoint(&self) -> String {
        format!("{}://{}", self.inner.scheme, self.inner.host)
    }

    /// Creates a project (`ProjectAlreadyExist` when it exists, in this account or another:
    /// project names are unique per region).
    pub async fn create_project(&self, name: &str, description: &str) -> Result<()> {
        let body = serde_json::json!({"projectName": name, "description": description});
        let c = Call::new("CreateProject", Method::POST, Some(name), "/".into()).json(&body);
        self.send(c).await.map(drop)
    }

    pub async fn get_project(&self, name: &str) -> Result<Project> {
        self.decode(Call::new("GetProject", Method::GET, Some(name), "/".into()))
            .await
    }

    /// `Ok(false)` when the project was already gone. Deletes its logstores with it.
    pub async fn delete_project(&self, name: &str) -> Result<bool> {
        let c = Call::new("DeleteProject", Method::DELETE, Some(name), "/".into());
        gone_is_done(self.send(c).await)
    }

    /// Projects whose name contains `name` (all of them with `None`), every page.
    pub async fn list_projects(&self, name: Option<&str>) -> Result<Vec<Project>> {
        let mut out = Vec::new();
        loop {
            let mut c = Call::new("ListProject", Method::GET, None, "/".into())
                .param("offset", out.len())
                .param("size", 500);
            if let Some(n) = name {
                c = c.param("projectName", n);
            }
            let page: ProjectPage = self.decode(c).await?;
            let got = page.projects.len();
            out.extend(page.projects);
            if got == 0 || out.len() as u64 >= page.total {
                return Ok(out);
            }
        }
    }

    pub async fn create_logstore(&self, project: &str, store: &LogStore) -> Result<()> {
        let c = Call::new(
            "CreateLogStore",
            Method::POST,
            Some(project),
            "/logstores".into(),
        )
        .json(store);
        self.send(c).await.map(drop)
    }

    pub async fn get_logstore(&self, project: &str, logstore: &str) -> Result<LogStore> {
        self.decode(Call::new(
            "GetLogStore",
            Method::GET,
            Some(project),
            format!("/logstores/{logstore}"),
        ))
        .await
    }

    pub async fn delete_logstore(&self, project: &str, logstore: &str) -> Result<bool> {
        let c = Call::new(
            "DeleteLogStore",
            Method::DELETE,
            Some(project),
            format!("/logstores/{logstore}"),
        );
        gone_is_done(self.send(c).await)
    }

    /// Names of the project's logstores, every page.
    pub async fn list_logstores(&self, project: &str) -> Result<Vec<String>> {
        let mut out = Vec::new();
        loop {
            let c = Call::new(
                "ListLogStores",
                Method::GET,
                Some(project),
                "/logstores".into(),
            )
            .param("offset", out.len())
            .param("size", 500);
            let page: LogStorePage = self.decode(c).await?;
            let got = page.logstores.len();
            out.extend(page.logstores);
            if got == 0 || out.len() as u64 >= page.total {
                return Ok(out);
            }
        }
    }

    pub async fn create_index(
        &self,
        project: &str,
        logstore: &str,
        index: &IndexConfig,
    ) -> Result<()> {
        let c = Call::new(
            "CreateIndex",
            Method::POST,
            Some(project),
            format!("/logstores/{logstore}/index"),
        )
        .json(index);
        self.send(c).await.map(drop)
    }

    /// `IndexConfigNotExist` (404) when the logstore has no index.
    pub async fn get_index(&self, project: &str, logstore: &str) -> Result<IndexConfig> {
        self.decode(Call::new(
            "GetIndex",
            Method::GET,
            Some(project),
            format!("/logstores/{logstore}/index"),
        ))
        .await
    }

    /// One page of GetLogs (`GET /logstores/{name}?type=log`, the documented API; the SDK's
    /// default `POST …/logs` answers the same rows compressed).
    pub async fn get_logs(
        &self,
        project: &str,
        logstore: &str,
        q: &GetLogs,
    ) -> Result<GetLogsResponse> {
        let mut c = Call::new(
            "GetLogs",
            Method::GET,
            Some(project),
            format!("/logstores/{logstore}"),
        )
        .param("type", "log")
        .param("from", q.from)
        .param("to", q.to)
        .param("query", &q.query)
        .param("line", q.line.min(MAX_LINES))
        .param("offset", q.offset)
        .param("reverse", q.reverse);
        if let Some(t) = &q.topic {
            c = c.param("topic", t);
        }
        let a = self.send(c).await?;
        let header = |n: &str| a.headers.get(n).and_then(|v| v.to_str().ok()).unwrap_or("");
        let rows: Vec<BTreeMap<String, serde_json::Value>> =
            serde_json::from_slice(&a.body).map_err(|e| decode_error("GetLogs", &a, e))?;
        let logs = rows.into_iter().map(log_entry).collect::<Vec<_>>();
        Ok(GetLogsResponse {
            complete: header("x-log-progress") == "Complete",
            count: header("x-log-count").parse().unwrap_or(logs.len() as u64),
            logs,
        })
    }

    /// Tags a project (`TagResources`, resourceType `project`).
    pub async fn tag_project(&self, project: &str, tags: &[Tag]) -> Result<()> {
        let body = serde_json::json!({
            "resourceType": "project",
            "resourceId": [project],
            "tags": tags.iter().map(|t| serde_json::json!({"key": t.key, "value": t.value})).collect::<Vec<_>>(),
        });
        let mut c =
            Call::new("TagResources", Method::POST, Some(project), "/tag".into()).json(&body);
        // Tagging twice leaves the same tags.
        c.idempotency = Idempotency::Idempotent;
        self.send(c).await.map(drop)
    }

    /// Names of the projects that carry every tag in `tags` (`ListTagResources`).
    pub async fn projects_tagged(&self, tags: &[Tag]) -> Result<Vec<String>> {
        let filter: Vec<serde_json::Value> = tags
            .iter()
            .map(|t| serde_json::json!({"key": t.key, "value": t.value}))
            .collect();
        let filter = serde_json::to_string(&filter).unwrap_or_default();
        let mut token = String::new();
        let mut out: Vec<String> = Vec::new();
        loop {
            let c = Call::new("ListTagResources", Method::GET, None, "/tags".into())
                .param("resourceType", "project")
                .param("tags", &filter)
                .param("nextToken", &token);
            let page: TagPage = self.decode(c).await?;
            for r in page.tag_resources {
                if !out.contains(&r.resource_id) {
                    out.push(r.resource_id);
                }
            }
            if page.next_token.is_empty() {
                return Ok(out);
            }
            token = page.next_token;
        }
    }

    async fn decode<T: DeserializeOwned>(&self, c: Call<'_>) -> Result<T> {
        let action = c.action;
        let a = self.send(c).await?;
        serde_json::from_slice(&a.body).map_err(|e| decode_error(action, &a, e))
    }

    async fn send(&self, c: Call<'_>) -> Result<Answer> {
        retry::run(&self.inner.opts.retry, c.idempotency, c.action, |attempt| {
            self.attempt(&c, attempt)
        })
        .await
    }

    async fn attempt(&self, c: &Call<'_>, attempt: u32) -> Result<Answer> {
        let inner = &*self.inner;
        if c.method != Method::GET && c.action != "GetLogs" {
            inner
                .writes
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        let host = match c.project {
            Some(p) => format!("{p}.{}", inner.host),
            None => inner.host.clone(),
        };
        let target = if inner.direct { &inner.host } else { &host };
        let mut url = format!("{}://{target}{}", inner.scheme, c.resource);
        if !c.params.is_empty() {
            let q: Vec<String> = c
                .params
                .iter()
                .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
                .collect();
            url.push('?');
            url.push_str(&q.join("&"));
        }
        let date = http_date(std::time::SystemTime::now());
        let headers = signed_headers(
            c.method.as_str(),
            &c.resource,
            &c.params,
            &host,
            &c.body,
            &c.headers,
            &date,
            &inner.key,
        );
        let hm = http::header_map(headers.iter().map(|(k, v)| (k, v)))?;
        tracing::trace!(
            target: "fcctl::aliyun",
            action = c.action,
            attempt,
            request_headers = %redact_headers(headers.iter().map(|(k, v)| (k.as_str(), v.as_str()))),
            "sls request"
        );
        let transport = |e| Error::Transport {
            action: c.action.to_string(),
            method: c.method.to_string(),
            url: url.clone(),
            source: e,
        };
        let started = Instant::now();
        let resp = inner
            .http
            .request(c.method.clone(), &url)
            .headers(hm)
            .body(c.body.clone())
            .send()
            .await
            .map_err(transport)?;
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let request_id = headers
            .get("x-log-requestid")
            .and_then(|v| v.to_str().ok())
            .map(String::from);
        let body = resp.bytes().await.map_err(transport)?.to_vec();
        tracing::debug!(
            target: "fcctl::aliyun",
            product = "sls",
            action = c.action,
            status,
            latency_ms = started.elapsed().as_millis() as u64,
            request_id = request_id.as_deref().unwrap_or("-"),
            attempt,
            "sls call"
        );
        if status >= 400 {
            let e = http::api_error(
                status,
                &body,
                c.action,
                &c.method,
                c.resource.clone(),
                request_id,
            );
            return Err(e.into());
        }
        Ok(Answer {
            status,
            request_id,
            headers,
            body,
        })
    }
}

fn encode(s: &str) -> String {
    const SET: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'_')
        .remove(b'.')
        .remove(b'~');
    percent_encoding::utf8_percent_encode(s, SET).to_string()
}

fn decode_error(action: &str, a: &Answer, e: serde_json::Error) -> Error {
    Error::Decode {
        action: action.to_string(),
        status: a.status,
        request_id: a.request_id.clone(),
        detail: e.to_string(),
    }
}

/// A delete answering `*NotExist` (a retry after a lost answer, a re-run): already done.
fn gone_is_done(r: Result<Answer>) -> Result<bool> {
    match r {
        Ok(_) => Ok(true),
        Err(e) if e.is_not_found() => Ok(false),
        Err(e) => Err(e),
    }
}

fn log_entry(mut row: BTreeMap<String, serde_json::Value>) -> LogEntry {
    let mut take = |k: &str| match row.remove(k) {
        Some(serde_json::Value::String(s)) => s,
        Some(v) => v.to_string(),
        None => String::new(),
    };
    let time = take("__time__").parse().unwrap_or(0);
    let source = take("__source__");
    let topic = take("__topic__");
    let contents = row
        .into_iter()
        .map(|(k, v)| {
            let v = match v {
                serde_json::Value::String(s) => s,
                v => v.to_string(),
            };
            (k, v)
        })
        .collect();
    LogEntry {
        time,
        source,
        topic,
        contents,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aliyun::rpc::tests::fast_opts;
    use crate::aliyun::testutil::{Received, Reply, TestServer};

    fn key() -> AccessKey {
        AccessKey::new("LTAIsls", "slssecret")
    }

    fn sdk_vectors() -> serde_json::Value {
        let script = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/docs/sdk-vectors/sls_signature.py"
        );
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
            "{script}: {} (scripts/setup installs aliyun-log-python-sdk)",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }

    fn pairs(v: &serde_json::Value) -> Vec<(String, String)> {
        v.as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
            .collect()
    }

    /// aliyun-log-python-sdk (`docs/sdk-vectors/sls_signature.py`, run now) and fcctl sign the
    /// same request alike: every SDK request's `Authorization` is what fcctl's signer makes of
    /// the SDK's own method, resource, parameters and headers, long-term and STS keys.
    #[test]
    fn signature_matches_the_official_sdk() {
        let v = sdk_vectors();
        let s = |x: &serde_json::Value| x.as_str().unwrap().to_string();
        let reqs = v["requests"].as_array().unwrap();
        assert_eq!(reqs.len(), 10);
        for r in reqs {
            let method = s(&r["method"]);
            let url = s(&r["url"]);
            let resource = format!("/{}", url.splitn(4, '/').nth(3).unwrap_or(""));
            let mut headers = pairs(&r["headers"]);
            let sent = headers
                .iter()
                .find(|(k, _)| k == "Authorization")
                .map(|(_, v)| v.clone())
                .unwrap();
            headers.retain(|(k, _)| k != "Authorization" && k != "x-log-date");
            let key = AccessKey::new(s(&v["access_key_id"]), s(&v["access_key_secret"]));
            let sts = string_to_sign(&method, &resource, &pairs(&r["params"]), &headers);
            let ours = format!("LOG {}:{}", key.id, signature(&key.secret, &sts));
            assert_eq!(ours, sent, "{method} {resource}: {sts:?}");
            // The body hash is SLS's upper-case hex MD5.
            let body = s(&r["body"]);
            if !body.is_empty() {
                let md5 = headers.iter().find(|(k, _)| k == "Content-MD5").unwrap();
                assert_eq!(content_md5(body.as_bytes()), md5.1);
            }
        }
        // fcctl's own header set (date, api version, method, body size, STS token) signs to
        // the SDK's Authorization for the same body.
        for (i, token) in [(0, None), (9, Some(s(&v["security_token"])))] {
            let r = &reqs[i];
            let mut key = AccessKey::new(s(&v["access_key_id"]), s(&v["access_key_secret"]));
            if let Some(t) = token {
                key = key.with_security_token(t);
            }
            let sdk = pairs(&r["headers"]);
            let extra: Vec<(String, String)> = sdk
                .iter()
                .filter(|(k, _)| k == "Content-Type" || (k == "x-log-bodyrawsize" && i == 0))
                .map(|(k, v)| (k.to_ascii_lowercase(), v.clone()))
                .collect();
            let ours = signed_headers(
                &s(&r["method"]),
                "/",
                &[],
                "fcctl-cat-dog.cn-shenzhen.log.aliyuncs.com",
                s(&r["body"]).as_bytes(),
                &extra,
                &s(&v["date"]),
                &key,
            );
            let get = |h: &[(String, String)], n: &str| {
                h.iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(n))
                    .map(|(_, v)| v.clone())
            };
            assert_eq!(
                get(&ours, "authorization"),
                get(&sdk, "Authorization"),
                "request {i}"
            );
            assert_eq!(get(&ours, "x-log-date"), get(&sdk, "x-log-date"));
            assert_eq!(
                get(&ours, "x-acs-security-token"),
                get(&sdk, "x-acs-security-token")
            );
        }
    }

    /// What the server received is signed over exactly what was sent.
    fn assert_signed(r: &Received) {
        let auth = r.header("authorization").expect("authorization");
        let resource = r.path().to_string();
        let sts = string_to_sign(&r.method, &resource, &r.query_pairs(), &r.headers);
        let sts = sts.replace(
            &format!("x-log-date:{}\n", r.header("x-log-date").unwrap()),
            "",
        );
        assert_eq!(
            auth,
            format!("LOG {}:{}", key().id, signature(&key().secret, &sts))
        );
        assert_eq!(r.header("x-log-apiversion"), Some(API_VERSION));
        assert_eq!(r.header("x-log-signaturemethod"), Some("hmac-sha1"));
        if !r.body.is_empty() {
            assert_eq!(r.header("content-md5"), Some(content_md5(&r.body).as_str()));
        }
    }

    fn sls_reply(status: u16, body: &str, extra: &[(&str, &str)]) -> Reply {
        let mut headers = vec![
            ("content-type".to_string(), "application/json".to_string()),
            ("x-log-requestid".to_string(), format!("LOGREQ{status}")),
        ];
        headers.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        Reply::Respond {
            status,
            headers,
            body: body.as_bytes().to_vec(),
        }
    }

    #[tokio::test]
    async fn projects_logstores_and_index_send_the_sdk_shapes() {
        let srv = TestServer::start(|r, _| match (r.method.as_str(), r.path()) {
            ("GET", "/") => sls_reply(
                200,
                r#"{"projectName":"fcctl-cat-dog","description":"d","region":"cn-shenzhen","owner":1234,"status":"Normal","createTime":"1716193800","lastModifyTime":1716193800}"#,
                &[],
            ),
            ("GET", "/logstores/app/index") => sls_reply(
                404,
                r#"{"errorCode":"IndexConfigNotExist","errorMessage":"index config doesn't exist"}"#,
                &[],
            ),
            _ => sls_reply(200, "", &[]),
        })
        .await;
        let c = SlsClient::new(&srv.base, key(), fast_opts()).unwrap();
        c.create_project("fcctl-cat-dog", "fcctl: cat-dog")
            .await
            .unwrap();
        let p = c.get_project("fcctl-cat-dog").await.unwrap();
        assert_eq!(
            (p.project_name.as_str(), p.owner.as_str()),
            ("fcctl-cat-dog", "1234")
        );
        assert_eq!(p.last_modify_time, "1716193800");
        c.create_logstore("fcctl-cat-dog", &LogStore::new("app", 7))
            .await
            .unwrap();
        c.create_index(
            "fcctl-cat-dog",
            "app",
            &IndexConfig::full_text_with_keys(&["request_id"]),
        )
        .await
        .unwrap();
        let e = c.get_index("fcctl-cat-dog", "app").await.unwrap_err();
        assert!(e.is_not_found(), "{e}");
        assert_eq!(e.code(), Some("IndexConfigNotExist"));
        assert_eq!(e.request_id(), Some("LOGREQ404"));
        let reqs = srv.requests();
        for r in &reqs {
            assert_signed(r);
            assert_eq!(
                r.header("host"),
                Some(format!("fcctl-cat-dog.{}", &srv.base[7..]).as_str())
            );
        }
        let body = |i: usize| serde_json::from_slice::<serde_json::Value>(&reqs[i].body).unwrap();
        assert_eq!((reqs[0].method.as_str(), reqs[0].path()), ("POST", "/"));
        assert_eq!(body(0)["projectName"], "fcctl-cat-dog");
        assert_eq!(reqs[0].header("content-type"), Some("application/json"));
        assert_eq!(reqs[2].path(), "/logstores");
        assert_eq!(body(2)["logstoreName"], "app");
        assert_eq!(body(2)["ttl"], 7);
        assert_eq!(body(2)["shardCount"], 1);
        assert_eq!(body(2)["enable_tracking"], false);
        assert_eq!(reqs[3].path(), "/logstores/app/index");
        assert_eq!(body(3)["line"]["caseSensitive"], false);
        assert_eq!(body(3)["keys"]["request_id"]["type"], "text");
        assert_eq!(body(3)["keys"]["request_id"]["doc_value"], true);
    }

    #[tokio::test]
    async fn get_logs_reads_rows_and_progress() {
        let srv = TestServer::start(|_, _| {
            sls_reply(
                200,
                r#"[{"__time__":"1716193801","__source__":"127.0.0.1","__topic__":"","message":"hello","request_id":"1-abc","__tag__:__instance__":"i-1"}]"#,
                &[("x-log-progress", "Complete"), ("x-log-count", "1")],
            )
        })
        .await;
        let c = SlsClient::new(&srv.base, key(), fast_opts()).unwrap();
        let got = c
            .get_logs(
                "fcctl-cat-dog",
                "app",
                &GetLogs {
                    from: 1716193800,
                    to: 1716194400,
                    query: "request_id: \"1-abc\" and hello".into(),
                    topic: None,
                    line: 500,
                    offset: 0,
                    reverse: true,
                },
            )
            .await
            .unwrap();
        assert!(got.complete);
        assert_eq!(got.count, 1);
        assert_eq!(got.logs[0].time, 1716193801);
        assert_eq!(got.logs[0].contents["message"], "hello");
        assert_eq!(got.logs[0].contents["__tag__:__instance__"], "i-1");
        assert!(!got.logs[0].contents.contains_key("__time__"));
        let r = &srv.requests()[0];
        assert_signed(r);
        assert_eq!((r.method.as_str(), r.path()), ("GET", "/logstores/app"));
        assert_eq!(r.query("type").as_deref(), Some("log"));
        assert_eq!(
            r.query("query").as_deref(),
            Some("request_id: \"1-abc\" and hello")
        );
        assert_eq!(
            r.query("line").as_deref(),
            Some("100"),
            "capped at SLS's limit"
        );
        assert_eq!(r.query("reverse").as_deref(), Some("true"));
        assert!(
            r.target.contains("query=request_id%3A%20%221-abc%22"),
            "{}",
            r.target
        );
    }

    #[tokio::test]
    async fn tags_find_projects_and_deletes_of_the_gone_are_done() {
        let srv = TestServer::start(|r, _| match (r.method.as_str(), r.path()) {
            ("GET", "/tags") if r.query("nextToken").as_deref() == Some("") => sls_reply(
                200,
                r#"{"nextToken":"t2","tagResources":[{"resourceId":"fcctl-a","resourceType":"project","tagKey":"fcctl:app","tagValue":"a"},{"resourceId":"fcctl-a","resourceType":"project","tagKey":"other","tagValue":"x"}]}"#,
                &[],
            ),
            ("GET", "/tags") => sls_reply(
                200,
                r#"{"nextToken":"","tagResources":[{"resourceId":"fcctl-b","resourceType":"project","tagKey":"fcctl:app","tagValue":"a"}]}"#,
                &[],
            ),
            ("DELETE", "/") => sls_reply(
                404,
                r#"{"errorCode":"ProjectNotExist","errorMessage":"The Project does not exist : fcctl-a"}"#,
                &[],
            ),
            _ => sls_reply(200, "", &[]),
        })
        .await;
        let c = SlsClient::new(&srv.base, key(), fast_opts()).unwrap();
        c.tag_project("fcctl-a", &[Tag::app("a")]).await.unwrap();
        let found = c.projects_tagged(&[Tag::app("a")]).await.unwrap();
        assert_eq!(found, ["fcctl-a", "fcctl-b"]);
        assert!(!c.delete_project("fcctl-a").await.unwrap());
        let reqs = srv.requests();
        for r in &reqs {
            assert_signed(r);
        }
        let tag: serde_json::Value = serde_json::from_slice(&reqs[0].body).unwrap();
        assert_eq!(
            tag,
            serde_json::json!({"resourceType":"project","resourceId":["fcctl-a"],"tags":[{"key":"fcctl:app","value":"a"}]})
        );
        assert_eq!(
            reqs[1].header("host"),
            Some(&srv.base[7..]),
            "no project for a listing"
        );
        assert_eq!(reqs[1].query("resourceType").as_deref(), Some("project"));
        assert_eq!(
            reqs[1].query("tags").as_deref(),
            Some(r#"[{"key":"fcctl:app","value":"a"}]"#)
        );
        assert_eq!(reqs[2].query("nextToken").as_deref(), Some("t2"));
    }

    #[test]
    fn a_named_endpoint_puts_the_project_in_the_url() {
        let c = SlsClient::new(
            "cn-shenzhen.log.aliyuncs.com",
            key(),
            ClientOptions::default(),
        )
        .unwrap();
        assert!(!c.inner.direct);
        assert_eq!(c.endpoint(), "https://cn-shenzhen.log.aliyuncs.com");
        let c = SlsClient::new("http://127.0.0.1:9", key(), ClientOptions::default()).unwrap();
        assert!(c.inner.direct);
    }
}
