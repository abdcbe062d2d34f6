//! Typed FC3 client. Every operation goes through one code path, [`FcClient::send`]:
//! build path/query/body → (per attempt: fresh `x-acs-date` + nonce → ACS3 signature →
//! HTTP with timeout → parse error body) inside [`retry::run`] → record
//! the call ([`CallRecord`], `tracing` events). Works the same against
//! `https://fcv3.<region>.aliyuncs.com`, `https://<account>.<region>.fc.aliyuncs.com` and the
//! local emulator at `http://127.0.0.1:PORT`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use reqwest::Method;
use reqwest::header::HeaderMap;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::error::{Error, Result};
use super::fc_models::*;
use super::http::{self, parse_endpoint};
use super::retry::{self, Idempotency, RetryPolicy};
use super::sign::{self, API_VERSION};
use super::{AccessKey, redact_headers};

/// Page size for the list calls fcctl follows to the end (FC3 list APIs take `limit` 1–100;
/// SDK models `_list_aliases_request.py`, `_list_provision_configs_request.py`).
const LIST_PAGE: u32 = 100;

/// Default control-plane endpoint.
///
/// With a non-empty `account_id`: the account-scoped endpoint
/// `https://<accountId>.<region>.fc.aliyuncs.com` (valid for every FC3 API incl.
/// InvokeFunction; it is also the CNAME target of custom domains). With an empty
/// `account_id`: the SDK 4.x regional endpoint `https://fcv3.<region>.aliyuncs.com`, except the
/// regions the SDK maps to `<region>.fc.aliyuncs.com`. Both accept the same paths and signature.
pub fn default_endpoint(account_id: &str, region: &str) -> String {
    if !account_id.is_empty() {
        return format!("https://{account_id}.{region}.fc.aliyuncs.com");
    }
    match region {
        "me-central-1" | "cn-shanghai-finance-1" | "cn-hangzhou-finance" | "cn-heyuan-acdr-1" => {
            format!("https://{region}.fc.aliyuncs.com")
        }
        _ => format!("https://fcv3.{region}.aliyuncs.com"),
    }
}

#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// Per-request timeout (each attempt) for control-plane calls.
    pub timeout: Duration,
    pub connect_timeout: Duration,
    /// Per-request timeout for InvokeFunction (functions may run long).
    pub invoke_timeout: Duration,
    pub retry: RetryPolicy,
    pub user_agent: String,
}

impl Default for ClientOptions {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            invoke_timeout: Duration::from_secs(300),
            retry: RetryPolicy::default(),
            user_agent: format!("fcctl/{}", env!("CARGO_PKG_VERSION")),
        }
    }
}

/// One HTTP attempt, as observed by the client (see [`FcClient::calls`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallRecord {
    pub action: String,
    pub method: String,
    pub path: String,
    /// None when no HTTP answer arrived (connect error, reset, timeout).
    pub status: Option<u16>,
    pub latency: Duration,
    pub request_id: Option<String>,
    /// 1-based attempt number.
    pub attempt: u32,
    /// A control-plane write (any non-GET except InvokeFunction).
    pub write: bool,
}

/// The FC API version that still answers GetAccountSettings.
pub const ACCOUNT_SETTINGS_VERSION: &str = "2021-04-06";

/// GetAccountSettings (FC 2021-04-06), as `alibabacloud_fc_open20210406` models it.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct AccountSettings {
    #[serde(rename = "availableAZs", default)]
    pub available_azs: Vec<String>,
    #[serde(rename = "defaultRole", default)]
    pub default_role: Option<String>,
}

/// A request to any FC3 endpoint (the generic form behind every typed method).
#[derive(Debug, Clone)]
pub struct ApiRequest {
    /// API action name, sent as `x-acs-action` (e.g. `GetFunction`).
    pub action: String,
    pub method: Method,
    /// Path including `/2023-03-30`, segments RFC 3986 encoded (see [`path`]).
    pub path: String,
    /// Decoded query pairs (encoded canonically on the wire).
    pub query: Vec<(String, String)>,
    /// Extra headers (e.g. `x-fc-log-type`); signed when `x-acs-*` / `x-fc-*`.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub content_type: Option<String>,
    pub idempotency: Idempotency,
    /// Overrides [`ClientOptions::timeout`] for this call.
    pub timeout: Option<Duration>,
}

impl ApiRequest {
    /// A request without body; idempotency derived from the method (POST → CreateLike).
    pub fn new(action: &str, method: Method, path: String) -> Self {
        let idempotency = if method == Method::POST {
            Idempotency::CreateLike
        } else {
            Idempotency::Idempotent
        };
        Self {
            action: action.into(),
            method,
            path,
            query: Vec::new(),
            headers: Vec::new(),
            body: Vec::new(),
            content_type: None,
            idempotency,
            timeout: None,
        }
    }

    /// Set a compact JSON body (`application/json; charset=utf-8`).
    pub fn json<T: Serialize>(mut self, body: &T) -> Self {
        self.body = serde_json::to_vec(body).expect("models serialise");
        self.content_type = Some("application/json; charset=utf-8".into());
        self
    }

    pub fn query(mut self, q: Vec<(String, String)>) -> Self {
        self.query = q;
        self
    }

    /// Add `qualifier=<q>` when given.
    pub fn qualifier(mut self, q: Option<&str>) -> Self {
        if let Some(q) = q {
            self.query.push(("qualifier".into(), q.into()));
        }
        self
    }

    pub fn idempotency(mut self, i: Idempotency) -> Self {
        self.idempotency = i;
        self
    }
}

/// A successful (2xx) raw answer.
#[derive(Debug, Clone)]
pub struct ApiResponse {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
    pub request_id: Option<String>,
}

/// Build an API path: `/2023-03-30/` + RFC 3986-encoded segments joined by `/`.
pub fn path(segments: &[&str]) -> String {
    let mut p = format!("/{API_VERSION}");
    for s in segments {
        p.push('/');
        p.push_str(&sign::percent_encode(s));
    }
    p
}

/// Typed FC3 client; cheap to clone (shared connection pool and call log).
#[derive(Clone)]
pub struct FcClient {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    /// `scheme://host[:port]`, no trailing slash.
    base: String,
    /// Value of the `host` header (with `:port` when non-default).
    host: String,
    key: AccessKey,
    opts: ClientOptions,
    calls: Mutex<Vec<CallRecord>>,
    total: AtomicU64,
    writes: AtomicU64,
}

const MAX_RECORDS: usize = 4096;

impl std::fmt::Debug for FcClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FcClient")
            .field("endpoint", &self.inner.base)
            .field("key", &self.inner.key)
            .finish()
    }
}

impl FcClient {
    /// `endpoint`: `https://<account>.<region>.fc.aliyuncs.com`, `fcv3.<region>.aliyuncs.com`
    /// (https assumed without a scheme) or `http://127.0.0.1:PORT`.
    pub fn new(endpoint: &str, key: AccessKey, opts: ClientOptions) -> Result<Self> {
        let (base, host) = parse_endpoint(endpoint)?;
        if key.id.is_empty() || key.secret.is_empty() {
            return Err(Error::Invalid(
                "empty AccessKey id or secret (set ALIBABA_CLOUD_ACCESS_KEY_ID / ALIBABA_CLOUD_ACCESS_KEY_SECRET)".into(),
            ));
        }
        let http = super::http::client_builder()
            .connect_timeout(opts.connect_timeout)
            .user_agent(opts.user_agent.clone())
            .build()
            .map_err(|e| Error::Invalid(format!("cannot build the HTTP client: {e}")))?;
        Ok(Self {
            inner: Arc::new(Inner {
                http,
                base,
                host,
                key,
                opts,
                calls: Mutex::new(Vec::new()),
                total: AtomicU64::new(0),
                writes: AtomicU64::new(0),
            }),
        })
    }

    /// `scheme://host[:port]` this client talks to.
    pub fn endpoint(&self) -> &str {
        &self.inner.base
    }

    /// The last (up to 4096) HTTP attempts, oldest first.
    pub fn calls(&self) -> Vec<CallRecord> {
        self.inner.calls.lock().expect("call log").clone()
    }

    /// Number of HTTP attempts made so far.
    pub fn call_count(&self) -> u64 {
        self.inner.total.load(Ordering::Relaxed)
    }

    /// Number of control-plane write attempts (non-GET, excluding InvokeFunction) so far:
    /// a no-op `fcctl deploy` must leave this at 0.
    pub fn write_count(&self) -> u64 {
        self.inner.writes.load(Ordering::Relaxed)
    }

    /// The retry policy this client applies, for callers that retry at a higher level.
    pub fn retry_policy(&self) -> RetryPolicy {
        self.inner.opts.retry
    }

    /// Send any FC3 request: signed per attempt, retried per its idempotency, errors typed.
    pub async fn send(&self, req: &ApiRequest) -> Result<ApiResponse> {
        retry::run(
            &self.inner.opts.retry,
            req.idempotency,
            &req.action,
            |attempt| self.attempt(req, attempt),
        )
        .await
    }

    pub async fn send_json<T: DeserializeOwned>(&self, req: &ApiRequest) -> Result<T> {
        let resp = self.send(req).await?;
        decode(&req.action, &resp)
    }

    /// Send, expecting no (meaningful) body.
    pub async fn send_empty(&self, req: &ApiRequest) -> Result<()> {
        self.send(req).await.map(|_| ())
    }

    async fn attempt(&self, req: &ApiRequest, attempt: u32) -> Result<ApiResponse> {
        let inner = &*self.inner;
        let (url, hm) = self.signed_request(req, attempt)?;
        let timeout = req.timeout.unwrap_or(inner.opts.timeout);
        let write = req.method != Method::GET && req.action != "InvokeFunction";
        let started = Instant::now();
        let result = inner
            .http
            .request(req.method.clone(), &url)
            .headers(hm)
            .body(req.body.clone())
            .timeout(timeout)
            .send()
            .await;
        let transport = |e: reqwest::Error| Error::Transport {
            action: req.action.clone(),
            method: req.method.to_string(),
            url: url.clone(),
            source: e,
        };
        let resp = match result {
            Ok(r) => r,
            Err(e) => {
                self.record(req, None, started.elapsed(), None, attempt, write);
                return Err(transport(e));
            }
        };
        let status = resp.status().as_u16();
        let resp_headers = resp.headers().clone();
        let body = resp.bytes().await.map_err(transport);
        let request_id = http::request_id_from(&resp_headers);
        let latency = started.elapsed();
        self.record(
            req,
            Some(status),
            latency,
            request_id.clone(),
            attempt,
            write,
        );
        tracing::trace!(
            target: "fcctl::aliyun",
            action = %req.action,
            status,
            response_headers = %redact_headers(resp_headers.iter().map(|(k, v)| (k.as_str(), v.to_str().unwrap_or("<binary>")))),
            "fc response"
        );
        let body = body?.to_vec();
        if status >= 400 {
            let e = http::api_error(
                status,
                &body,
                &req.action,
                &req.method,
                req.path.clone(),
                request_id,
            );
            return Err(e.into());
        }
        Ok(ApiResponse {
            status,
            headers: resp_headers,
            body,
            request_id,
        })
    }

    /// The URL and headers of one attempt: a fresh date and nonce, so a fresh signature.
    fn signed_request(&self, req: &ApiRequest, attempt: u32) -> Result<(String, HeaderMap)> {
        let inner = &*self.inner;
        let date = sign::format_acs_date(time::OffsetDateTime::now_utc());
        let nonce = sign::new_nonce();
        let hashed = sign::hash_payload(&req.body);
        let headers = sign::request_headers(
            &inner.host,
            &req.action,
            &date,
            &nonce,
            &hashed,
            req.content_type.as_deref(),
            &inner.opts.user_agent,
            &inner.key,
            &req.headers,
        );
        let to_sign: Vec<(String, String)> = headers
            .iter()
            .filter(|(k, _)| sign::is_signed_header(k))
            .cloned()
            .collect();
        let signed = sign::sign(
            &sign::SignInput {
                method: req.method.as_str(),
                path: &req.path,
                query: &req.query,
                headers: &to_sign,
                hashed_payload: &hashed,
            },
            &inner.key.id,
            &inner.key.secret,
        );
        let url = if signed.canonical_query.is_empty() {
            format!("{}{}", inner.base, req.path)
        } else {
            format!("{}{}?{}", inner.base, req.path, signed.canonical_query)
        };
        let authorization = ("authorization".to_string(), signed.authorization.clone());
        let hm = http::header_map(
            headers
                .iter()
                .chain(std::iter::once(&authorization))
                .map(|(k, v)| (k, v)),
        )?;
        tracing::trace!(
            target: "fcctl::aliyun",
            action = %req.action,
            attempt,
            request_headers = %redact_headers(hm.iter().map(|(k, v)| (k.as_str(), v.to_str().unwrap_or("<binary>")))),
            canonical_request = %super::redact_canonical_request(&signed.canonical_request),
            "fc request"
        );
        Ok((url, hm))
    }

    fn record(
        &self,
        req: &ApiRequest,
        status: Option<u16>,
        latency: Duration,
        request_id: Option<String>,
        attempt: u32,
        write: bool,
    ) {
        tracing::debug!(
            target: "fcctl::aliyun",
            action = %req.action,
            method = %req.method,
            path = %req.path,
            status = status.map(|s| s as i64).unwrap_or(-1),
            latency_ms = latency.as_millis() as u64,
            request_id = request_id.as_deref().unwrap_or("-"),
            attempt,
            "fc call"
        );
        let inner = &*self.inner;
        inner.total.fetch_add(1, Ordering::Relaxed);
        if write {
            inner.writes.fetch_add(1, Ordering::Relaxed);
        }
        let mut calls = inner.calls.lock().expect("call log");
        if calls.len() >= MAX_RECORDS {
            calls.remove(0);
        }
        calls.push(CallRecord {
            action: req.action.clone(),
            method: req.method.to_string(),
            path: req.path.clone(),
            status,
            latency,
            request_id,
            attempt,
            write,
        });
    }

    // ------------------------------------------------------------ functions

    pub async fn create_function(&self, input: &CreateFunctionInput) -> Result<Function> {
        let req = ApiRequest::new("CreateFunction", Method::POST, path(&["functions"])).json(input);
        self.send_json(&req).await
    }

    pub async fn update_function(
        &self,
        name: &str,
        input: &UpdateFunctionInput,
    ) -> Result<Function> {
        let req =
            ApiRequest::new("UpdateFunction", Method::PUT, path(&["functions", name])).json(input);
        self.send_json(&req).await
    }

    pub async fn get_function(&self, name: &str, qualifier: Option<&str>) -> Result<Function> {
        let req = ApiRequest::new("GetFunction", Method::GET, path(&["functions", name]))
            .qualifier(qualifier);
        self.send_json(&req).await
    }

    pub async fn delete_function(&self, name: &str) -> Result<()> {
        let req = ApiRequest::new("DeleteFunction", Method::DELETE, path(&["functions", name]));
        self.send_empty(&req).await
    }

    pub async fn list_functions(&self, list: &ListRequest) -> Result<ListFunctionsOutput> {
        let req =
            ApiRequest::new("ListFunctions", Method::GET, path(&["functions"])).query(list.query());
        self.send_json(&req).await
    }

    pub async fn get_function_code(
        &self,
        name: &str,
        qualifier: Option<&str>,
    ) -> Result<OutputFuncCode> {
        let req = ApiRequest::new(
            "GetFunctionCode",
            Method::GET,
            path(&["functions", name, "code"]),
        )
        .qualifier(qualifier);
        self.send_json(&req).await
    }

    // ------------------------------------------------------------ versions

    /// Not blindly retried (see [`retry`]): a lost answer could mean a version was created.
    pub async fn publish_function_version(
        &self,
        name: &str,
        input: &PublishVersionInput,
    ) -> Result<Version> {
        let req = ApiRequest::new(
            "PublishFunctionVersion",
            Method::POST,
            path(&["functions", name, "versions"]),
        )
        .json(input)
        .idempotency(Idempotency::NotIdempotent);
        self.send_json(&req).await
    }

    pub async fn list_function_versions(
        &self,
        name: &str,
        list: &ListVersionsRequest,
    ) -> Result<ListVersionsOutput> {
        let req = ApiRequest::new(
            "ListFunctionVersions",
            Method::GET,
            path(&["functions", name, "versions"]),
        )
        .query(list.query());
        self.send_json(&req).await
    }

    pub async fn delete_function_version(&self, name: &str, version_id: &str) -> Result<()> {
        let req = ApiRequest::new(
            "DeleteFunctionVersion",
            Method::DELETE,
            path(&["functions", name, "versions", version_id]),
        );
        self.send_empty(&req).await
    }

    // ------------------------------------------------------------ aliases

    pub async fn create_alias(&self, name: &str, input: &CreateAliasInput) -> Result<Alias> {
        let req = ApiRequest::new(
            "CreateAlias",
            Method::POST,
            path(&["functions", name, "aliases"]),
        )
        .json(input);
        self.send_json(&req).await
    }

    pub async fn update_alias(
        &self,
        name: &str,
        alias: &str,
        input: &UpdateAliasInput,
    ) -> Result<Alias> {
        let req = ApiRequest::new(
            "UpdateAlias",
            Method::PUT,
            path(&["functions", name, "aliases", alias]),
        )
        .json(input);
        self.send_json(&req).await
    }

    pub async fn get_alias(&self, name: &str, alias: &str) -> Result<Alias> {
        let req = ApiRequest::new(
            "GetAlias",
            Method::GET,
            path(&["functions", name, "aliases", alias]),
        );
        self.send_json(&req).await
    }

    pub async fn delete_alias(&self, name: &str, alias: &str) -> Result<()> {
        let req = ApiRequest::new(
            "DeleteAlias",
            Method::DELETE,
            path(&["functions", name, "aliases", alias]),
        );
        self.send_empty(&req).await
    }

    pub async fn list_aliases(&self, name: &str, list: &ListRequest) -> Result<ListAliasesOutput> {
        let req = ApiRequest::new(
            "ListAliases",
            Method::GET,
            path(&["functions", name, "aliases"]),
        )
        .query(list.query());
        self.send_json(&req).await
    }

    // ------------------------------------------------------------ provisioned concurrency

    pub async fn put_provision_config(
        &self,
        name: &str,
        qualifier: &str,
        input: &PutProvisionConfigInput,
    ) -> Result<ProvisionConfig> {
        let req = ApiRequest::new(
            "PutProvisionConfig",
            Method::PUT,
            path(&["functions", name, "provision-config"]),
        )
        .qualifier(Some(qualifier))
        .json(input);
        self.send_json(&req).await
    }

    pub async fn get_provision_config(
        &self,
        name: &str,
        qualifier: &str,
    ) -> Result<ProvisionConfig> {
        let req = ApiRequest::new(
            "GetProvisionConfig",
            Method::GET,
            path(&["functions", name, "provision-config"]),
        )
        .qualifier(Some(qualifier));
        self.send_json(&req).await
    }

    pub async fn delete_provision_config(&self, name: &str, qualifier: &str) -> Result<()> {
        let req = ApiRequest::new(
            "DeleteProvisionConfig",
            Method::DELETE,
            path(&["functions", name, "provision-config"]),
        )
        .qualifier(Some(qualifier));
        self.send_empty(&req).await
    }

    pub async fn list_provision_configs(
        &self,
        list: &ListProvisionConfigsRequest,
    ) -> Result<ListProvisionConfigsOutput> {
        let req = ApiRequest::new(
            "ListProvisionConfigs",
            Method::GET,
            path(&["provision-configs"]),
        )
        .query(list.query());
        self.send_json(&req).await
    }

    /// Every alias of `name`, following `nextToken` (a function may have more aliases than
    /// one page holds).
    pub async fn list_all_aliases(&self, name: &str) -> Result<Vec<Alias>> {
        let mut list = ListRequest {
            limit: Some(LIST_PAGE),
            ..Default::default()
        };
        let mut all = Vec::new();
        loop {
            let page = self.list_aliases(name, &list).await?;
            all.extend(page.aliases.unwrap_or_default());
            match page.next_token.filter(|t| !t.is_empty()) {
                Some(t) => list.next_token = Some(t),
                None => return Ok(all),
            }
        }
    }

    /// Every provision config of `function`, following `nextToken`.
    pub async fn list_all_provision_configs(&self, function: &str) -> Result<Vec<ProvisionConfig>> {
        let mut list = ListProvisionConfigsRequest {
            function_name: Some(function.to_string()),
            limit: Some(LIST_PAGE),
            next_token: None,
        };
        let mut all = Vec::new();
        loop {
            let page = self.list_provision_configs(&list).await?;
            all.extend(page.provision_configs.unwrap_or_default());
            match page.next_token.filter(|t| !t.is_empty()) {
                Some(t) => list.next_token = Some(t),
                None => return Ok(all),
            }
        }
    }

    // ------------------------------------------------------------ triggers

    pub async fn create_trigger(&self, name: &str, input: &CreateTriggerInput) -> Result<Trigger> {
        let req = ApiRequest::new(
            "CreateTrigger",
            Method::POST,
            path(&["functions", name, "triggers"]),
        )
        .json(input);
        self.send_json(&req).await
    }

    pub async fn update_trigger(
        &self,
        name: &str,
        trigger: &str,
        input: &UpdateTriggerInput,
    ) -> Result<Trigger> {
        let req = ApiRequest::new(
            "UpdateTrigger",
            Method::PUT,
            path(&["functions", name, "triggers", trigger]),
        )
        .json(input);
        self.send_json(&req).await
    }

    pub async fn get_trigger(&self, name: &str, trigger: &str) -> Result<Trigger> {
        let req = ApiRequest::new(
            "GetTrigger",
            Method::GET,
            path(&["functions", name, "triggers", trigger]),
        );
        self.send_json(&req).await
    }

    pub async fn delete_trigger(&self, name: &str, trigger: &str) -> Result<()> {
        let req = ApiRequest::new(
            "DeleteTrigger",
            Method::DELETE,
            path(&["functions", name, "triggers", trigger]),
        );
        self.send_empty(&req).await
    }

    pub async fn list_triggers(
        &self,
        name: &str,
        list: &ListRequest,
    ) -> Result<ListTriggersOutput> {
        let req = ApiRequest::new(
            "ListTriggers",
            Method::GET,
            path(&["functions", name, "triggers"]),
        )
        .query(list.query());
        self.send_json(&req).await
    }

    // ------------------------------------------------------------ custom domains

    pub async fn create_custom_domain(
        &self,
        input: &CreateCustomDomainInput,
    ) -> Result<CustomDomain> {
        let req = ApiRequest::new(
            "CreateCustomDomain",
            Method::POST,
            path(&["custom-domains"]),
        )
        .json(input);
        self.send_json(&req).await
    }

    pub async fn update_custom_domain(
        &self,
        domain: &str,
        input: &UpdateCustomDomainInput,
    ) -> Result<CustomDomain> {
        let req = ApiRequest::new(
            "UpdateCustomDomain",
            Method::PUT,
            path(&["custom-domains", domain]),
        )
        .json(input);
        self.send_json(&req).await
    }

    /// The zones FC runs functions in (a function's vSwitch must be in one). FC3 has no such
    /// action: this is the 2021-04-06 API's GetAccountSettings, served on the same endpoint
    /// and signed the same way, only with its own `x-acs-version` (docs/cloud-facts.md).
    pub async fn get_account_settings(&self) -> Result<AccountSettings> {
        let mut req = ApiRequest::new(
            "GetAccountSettings",
            Method::GET,
            format!("/{ACCOUNT_SETTINGS_VERSION}/account-settings"),
        );
        req.headers
            .push(("x-acs-version".into(), ACCOUNT_SETTINGS_VERSION.into()));
        self.send_json(&req).await
    }

    pub async fn get_custom_domain(&self, domain: &str) -> Result<CustomDomain> {
        let req = ApiRequest::new(
            "GetCustomDomain",
            Method::GET,
            path(&["custom-domains", domain]),
        );
        self.send_json(&req).await
    }

    pub async fn delete_custom_domain(&self, domain: &str) -> Result<()> {
        let req = ApiRequest::new(
            "DeleteCustomDomain",
            Method::DELETE,
            path(&["custom-domains", domain]),
        );
        self.send_empty(&req).await
    }

    pub async fn list_custom_domains(&self, list: &ListRequest) -> Result<ListCustomDomainsOutput> {
        let req = ApiRequest::new("ListCustomDomains", Method::GET, path(&["custom-domains"]))
            .query(list.query());
        self.send_json(&req).await
    }

    // ------------------------------------------------------------ invoke / instances

    /// InvokeFunction: raw body in, raw body out. Not retried on 5xx/reset/timeout (the
    /// function might have run) unless the request says the function is idempotent; check
    /// [`InvokeFunctionOutput::error_type`].
    pub async fn invoke_function(
        &self,
        name: &str,
        input: &InvokeFunctionRequest,
    ) -> Result<InvokeFunctionOutput> {
        let mut req = ApiRequest::new(
            "InvokeFunction",
            Method::POST,
            path(&["functions", name, "invocations"]),
        )
        .qualifier(input.qualifier.as_deref())
        .idempotency(if input.idempotent {
            Idempotency::Idempotent
        } else {
            Idempotency::NotIdempotent
        });
        req.body = input.body.clone();
        req.content_type = Some("application/octet-stream".into());
        req.timeout = Some(input.timeout.unwrap_or(self.inner.opts.invoke_timeout));
        let kind = match input.invocation_type {
            InvocationType::Sync => "Sync",
            InvocationType::Async => "Async",
        };
        req.headers
            .push(("x-fc-invocation-type".into(), kind.into()));
        req.headers.push((
            "x-fc-log-type".into(),
            if input.tail_log { "Tail" } else { "None" }.into(),
        ));
        if let Some(id) = &input.async_task_id {
            req.headers.push(("x-fc-async-task-id".into(), id.clone()));
        }
        let resp = self.send(&req).await?;
        let h = |n: &str| {
            resp.headers
                .get(n)
                .and_then(|v| v.to_str().ok())
                .map(String::from)
        };
        let log_result = h("x-fc-log-result").map(|b64| {
            base64::engine::general_purpose::STANDARD
                .decode(b64.trim())
                .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
                .unwrap_or(b64)
        });
        Ok(InvokeFunctionOutput {
            status: resp.status,
            request_id: resp.request_id.clone(),
            log_result,
            error_type: h("x-fc-error-type"),
            instance_id: h("x-fc-instance-id"),
            code_checksum: h("x-fc-code-checksum"),
            async_task_id: h("x-fc-async-task-id"),
            body: resp.body,
        })
    }

    pub async fn list_instances(
        &self,
        name: &str,
        list: &ListInstancesRequest,
    ) -> Result<ListInstancesOutput> {
        let req = ApiRequest::new(
            "ListInstances",
            Method::GET,
            path(&["functions", name, "instances"]),
        )
        .query(list.query());
        self.send_json(&req).await
    }
}

fn decode<T: DeserializeOwned>(action: &str, resp: &ApiResponse) -> Result<T> {
    let body: &[u8] = if resp.body.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        &resp.body
    };
    serde_json::from_slice(body).map_err(|e| Error::Decode {
        action: action.into(),
        status: resp.status,
        request_id: resp.request_id.clone(),
        detail: format!("{e}; body starts with {:?}", http::snippet(&resp.body)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exit::Hint as _;

    #[test]
    fn endpoints() {
        assert_eq!(
            default_endpoint("123", "cn-shenzhen"),
            "https://123.cn-shenzhen.fc.aliyuncs.com"
        );
        assert_eq!(
            default_endpoint("", "cn-hangzhou"),
            "https://fcv3.cn-hangzhou.aliyuncs.com"
        );
        assert_eq!(
            default_endpoint("", "me-central-1"),
            "https://me-central-1.fc.aliyuncs.com"
        );
    }

    #[test]
    fn paths_are_encoded() {
        assert_eq!(
            path(&["functions", "img-classify", "aliases", "prod"]),
            "/2023-03-30/functions/img-classify/aliases/prod"
        );
        assert_eq!(
            path(&["custom-domains", "a b"]),
            "/2023-03-30/custom-domains/a%20b"
        );
    }

    // ---------------------------------------------------------------- against a local server

    use crate::aliyun::testutil::{Received, Reply, TestServer};

    fn key() -> AccessKey {
        AccessKey::new("LTAI5tFcctlTestKeyId01", "FcctlTestSecret0123456789abcdef")
    }

    fn fast_opts() -> ClientOptions {
        ClientOptions {
            timeout: Duration::from_secs(5),
            retry: RetryPolicy {
                max_attempts: 6,
                initial_delay: Duration::from_millis(10),
                max_delay: Duration::from_millis(50),
                deadline: Duration::from_secs(10),
            },
            ..Default::default()
        }
    }

    /// Server-side ACS3 verification, like the emulator does: recompute over the headers
    /// named in `SignedHeaders`, the raw path and the re-canonicalised query.
    fn verify(r: &Received, secret: &str) -> bool {
        let auth = r.header("authorization").unwrap_or_default();
        let Some(rest) = auth.strip_prefix("ACS3-HMAC-SHA256 ") else {
            return false;
        };
        let mut cred = "";
        let mut names = "";
        let mut sig = "";
        for part in rest.split(',') {
            if let Some(v) = part.strip_prefix("Credential=") {
                cred = v;
            } else if let Some(v) = part.strip_prefix("SignedHeaders=") {
                names = v;
            } else if let Some(v) = part.strip_prefix("Signature=") {
                sig = v;
            }
        }
        let headers: Vec<(String, String)> = names
            .split(';')
            .map(|n| (n.to_string(), r.header(n).unwrap_or_default().to_string()))
            .collect();
        let hashed = sign::hash_payload(&r.body);
        if r.header("x-acs-content-sha256") != Some(hashed.as_str()) {
            return false;
        }
        let signed = sign::sign(
            &sign::SignInput {
                method: &r.method,
                path: r.path(),
                query: &r.query_pairs(),
                headers: &headers,
                hashed_payload: &hashed,
            },
            cred,
            secret,
        );
        signed.signature == sig
    }

    const FUNCTION_JSON: &str = r#"{"functionName":"img-classify","runtime":"custom.debian10","state":"Active","unknownFutureField":{"a":1}}"#;

    #[tokio::test]
    async fn retries_429_503_and_reset_then_succeeds() {
        let srv = TestServer::start(|_, n| match n {
            0 => Reply::json(
                429,
                r#"{"Code":"ThrottlingException","Message":"slow down","RequestId":"r0"}"#,
            ),
            1 => Reply::json(
                503,
                r#"{"Code":"ServiceUnavailable","Message":"busy","RequestId":"r1"}"#,
            ),
            2 => Reply::Drop,
            _ => Reply::json(200, FUNCTION_JSON),
        })
        .await;
        let c = FcClient::new(&srv.base, key(), fast_opts()).unwrap();
        let started = Instant::now();
        let f = c.get_function("img-classify", Some("prod")).await.unwrap();
        assert!(started.elapsed() < Duration::from_secs(5));
        assert_eq!(f.function_name.as_deref(), Some("img-classify"));
        let reqs = srv.requests();
        assert_eq!(reqs.len(), 4);
        for r in &reqs {
            assert!(verify(r, &key().secret), "bad signature: {r:?}");
            assert_eq!(
                r.target,
                "/2023-03-30/functions/img-classify?qualifier=prod"
            );
            assert_eq!(r.header("x-acs-action"), Some("GetFunction"));
        }
        let nonces: std::collections::HashSet<_> = reqs
            .iter()
            .map(|r| r.header("x-acs-signature-nonce").unwrap().to_string())
            .collect();
        assert_eq!(nonces.len(), 4, "fresh nonce per attempt");
        let statuses: Vec<Option<u16>> = c.calls().iter().map(|r| r.status).collect();
        assert_eq!(statuses, vec![Some(429), Some(503), None, Some(200)]);
        assert_eq!(c.write_count(), 0);
        assert_eq!(c.call_count(), 4);
    }

    #[tokio::test]
    async fn fc_error_body_becomes_typed_error_with_hint() {
        let srv = TestServer::start(|_, _| {
            Reply::json(400, r#"{"Code":"InvalidArgument","Message":"memorySize must be a multiple of 64","RequestId":"1-64e70cf1-5cbef92e"}"#)
        })
        .await;
        let c = FcClient::new(&srv.base, key(), fast_opts()).unwrap();
        let err = c
            .create_function(&CreateFunctionInput {
                function_name: Some("f".into()),
                memory_size: Some(100),
                ..Default::default()
            })
            .await
            .unwrap_err();
        assert_eq!(srv.requests().len(), 1, "400 is not retried");
        let api = err.api().expect("typed api error");
        assert_eq!(api.status, 400);
        assert_eq!(api.code, "InvalidArgument");
        assert_eq!(api.request_id.as_deref(), Some("1-64e70cf1-5cbef92e"));
        assert_eq!(api.action, "CreateFunction");
        assert!(err.hint().is_some());
        let shown = err.to_string();
        assert!(
            shown.contains("1-64e70cf1-5cbef92e") && !shown.contains("hint:"),
            "{shown}"
        );
        assert_eq!(c.write_count(), 1);
        let body: serde_json::Value = serde_json::from_slice(&srv.requests()[0].body).unwrap();
        assert_eq!(
            body,
            serde_json::json!({"functionName": "f", "memorySize": 100})
        );
    }

    #[tokio::test]
    async fn signature_mismatch_hint_and_request_id_from_header() {
        let srv = TestServer::start(|_, _| Reply::Respond {
            status: 403,
            headers: vec![("x-fc-request-id".into(), "hdr-req-1".into())],
            body: br#"{"Code":"SignatureNotMatch","Message":"The request signature we calculated does not match"}"#.to_vec(),
        })
        .await;
        let c = FcClient::new(&srv.base, key(), fast_opts()).unwrap();
        let err = c.get_alias("f", "prod").await.unwrap_err();
        assert_eq!(err.request_id(), Some("hdr-req-1"));
        assert!(err.hint().unwrap().contains("clock"), "{err}");
    }

    #[tokio::test]
    async fn publish_is_not_retried_on_5xx_but_is_on_429() {
        let srv = TestServer::start(|_, n| match n {
            0 => Reply::json(429, r#"{"Code":"Throttling","Message":"x"}"#),
            _ => Reply::json(500, r#"{"Code":"InternalServerError","Message":"x"}"#),
        })
        .await;
        let c = FcClient::new(&srv.base, key(), fast_opts()).unwrap();
        let err = c
            .publish_function_version("f", &PublishVersionInput::default())
            .await
            .unwrap_err();
        assert_eq!(srv.requests().len(), 2);
        assert_eq!(err.code(), Some("InternalServerError"));
    }

    #[tokio::test]
    async fn invoke_retries_5xx_only_when_marked_idempotent() {
        let srv = TestServer::start(|_, n| match n {
            0 | 1 => Reply::json(503, r#"{"Code":"ServiceUnavailable","Message":"x"}"#),
            _ => Reply::json(200, "{}"),
        })
        .await;
        let c = FcClient::new(&srv.base, key(), fast_opts()).unwrap();
        let mut input = InvokeFunctionRequest::default();
        let err = c.invoke_function("f", &input).await.unwrap_err();
        assert_eq!(err.code(), Some("ServiceUnavailable"));
        assert_eq!(srv.requests().len(), 1);
        input.idempotent = true;
        let out = c.invoke_function("f", &input).await.unwrap();
        assert_eq!(out.status, 200);
        assert_eq!(srv.requests().len(), 3);
    }

    #[tokio::test]
    async fn create_retry_then_conflict_is_visible_to_caller() {
        let srv = TestServer::start(|_, n| match n {
            0 => Reply::Drop,
            _ => Reply::json(
                409,
                r#"{"Code":"AliasAlreadyExists","Message":"exists","RequestId":"r"}"#,
            ),
        })
        .await;
        let c = FcClient::new(&srv.base, key(), fast_opts()).unwrap();
        let err = c
            .create_alias(
                "f",
                &CreateAliasInput {
                    alias_name: Some("prod".into()),
                    version_id: Some("1".into()),
                    ..Default::default()
                },
            )
            .await
            .unwrap_err();
        assert!(err.is_already_exists(), "{err}");
        assert_eq!(srv.requests().len(), 2);
    }

    #[tokio::test]
    async fn gives_up_at_the_deadline() {
        let srv = TestServer::start(|_, _| {
            Reply::json(503, r#"{"Code":"ServiceUnavailable","Message":"x"}"#)
        })
        .await;
        let mut opts = fast_opts();
        opts.retry = RetryPolicy {
            max_attempts: 100,
            initial_delay: Duration::from_millis(50),
            max_delay: Duration::from_millis(100),
            deadline: Duration::from_millis(400),
        };
        let c = FcClient::new(&srv.base, key(), opts).unwrap();
        let t = Instant::now();
        let err = c.delete_function("f").await.unwrap_err();
        assert!(
            t.elapsed() < Duration::from_millis(1500),
            "{:?}",
            t.elapsed()
        );
        assert!(matches!(err, Error::RetriesExhausted { .. }), "{err}");
        assert!(srv.requests().len() >= 3);
    }

    #[tokio::test]
    async fn sts_token_is_sent_and_signed() {
        let srv =
            TestServer::start(|_, _| Reply::json(200, r#"{"aliasName":"prod","versionId":"1"}"#))
                .await;
        let k = AccessKey::new("STS.NUfcctlTempKeyId", "StsSecret")
            .with_security_token("CAIS+tok/en==");
        let c = FcClient::new(&srv.base, k, fast_opts()).unwrap();
        c.get_alias("f", "prod").await.unwrap();
        let r = &srv.requests()[0];
        assert_eq!(r.header("x-acs-security-token"), Some("CAIS+tok/en=="));
        assert!(
            r.header("authorization")
                .unwrap()
                .contains("x-acs-security-token")
        );
        assert!(verify(r, "StsSecret"));
        assert!(!verify(r, "wrong-secret"));
        assert!(!format!("{c:?}").contains("StsSecret"));
    }

    #[tokio::test]
    async fn invoke_decodes_tail_log_and_error_type() {
        let srv = TestServer::start(|_, _| Reply::Respond {
            status: 200,
            headers: vec![
                ("x-fc-request-id".into(), "inv-1".into()),
                ("x-fc-log-result".into(), "aGVsbG8gbG9n".into()),
                ("x-fc-error-type".into(), "UnhandledInvocationError".into()),
            ],
            body: b"{\"label\":\"dog\"}".to_vec(),
        })
        .await;
        let c = FcClient::new(&srv.base, key(), fast_opts()).unwrap();
        let out = c
            .invoke_function(
                "img-classify",
                &InvokeFunctionRequest {
                    qualifier: Some("prod".into()),
                    body: b"payload".to_vec(),
                    tail_log: true,
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(out.log_result.as_deref(), Some("hello log"));
        assert_eq!(out.error_type.as_deref(), Some("UnhandledInvocationError"));
        assert_eq!(out.request_id.as_deref(), Some("inv-1"));
        assert_eq!(out.body, b"{\"label\":\"dog\"}");
        let r = &srv.requests()[0];
        assert_eq!(r.header("x-fc-log-type"), Some("Tail"));
        assert_eq!(r.header("content-type"), Some("application/octet-stream"));
        assert!(verify(r, &key().secret));
        assert_eq!(c.write_count(), 0);
    }

    #[tokio::test]
    async fn list_query_is_encoded_canonically_on_the_wire() {
        let srv =
            TestServer::start(|_, _| Reply::json(200, r#"{"functions":[],"nextToken":""}"#)).await;
        let c = FcClient::new(&srv.base, key(), fast_opts()).unwrap();
        c.list_functions(&ListRequest {
            prefix: Some("img classify/α*~".into()),
            limit: Some(20),
            next_token: Some("a+b/c=".into()),
        })
        .await
        .unwrap();
        let r = &srv.requests()[0];
        assert_eq!(
            r.target,
            "/2023-03-30/functions?limit=20&nextToken=a%2Bb%2Fc%3D&prefix=img%20classify%2F%CE%B1%2A~"
        );
        assert!(verify(r, &key().secret));
    }
}
