//! Forwarding one request to a leased instance: FC's request headers in, hop-by-hop headers
//! out, the function timeout, and the `x-fc-*` / `x-fcctl-*` response headers.

use crate::api_error::ApiError;
use crate::runtime::pool::Lease;
use crate::runtime::spawn::HttpClient;
use crate::runtime::target::Target;
use axum::body::Body;
use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Request, Response};
use http_body_util::BodyExt as _;
use std::time::Duration;

/// The account facts FC passes to every invocation.
pub struct Account<'a> {
    pub region: &'a str,
    pub account_id: &'a str,
}

pub async fn proxy(
    client: &HttpClient,
    lease: Lease,
    t: &Target,
    req: Request<Body>,
    request_id: &str,
    account: &Account<'_>,
    tail: bool,
) -> Result<Response<Body>, ApiError> {
    let inst = lease.inst.clone();
    inst.capture.begin(request_id, tail);
    let r = exchange(client, lease, t, req, request_id, account).await;
    // What the request printed is stored before its answer leaves (and its tail is whole).
    let log = match &r {
        Err(e) if e.error_type.is_some() || e.status == 502 => {
            inst.capture.platform_line(
                format!(
                    "FC Invoke End RequestId: {request_id}, Error: {}",
                    e.message
                ),
                Some(request_id),
            );
            inst.capture.end(request_id)
        }
        _ => inst.capture.end(request_id),
    };
    let mut resp = r?;
    if let Some(log) = log {
        use base64::Engine as _;
        let b64 = base64::engine::general_purpose::STANDARD.encode(log);
        if let Ok(v) = HeaderValue::from_str(&b64) {
            resp.headers_mut().insert("x-fc-log-result", v);
        }
    }
    Ok(resp)
}

async fn exchange(
    client: &HttpClient,
    lease: Lease,
    t: &Target,
    mut req: Request<Body>,
    request_id: &str,
    account: &Account<'_>,
) -> Result<Response<Body>, ApiError> {
    let inst = lease.inst.clone();
    let t0 = std::time::Instant::now();
    let pq = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/")
        .to_string();
    *req.uri_mut() = format!("http://127.0.0.1:{}{}", inst.port, pq)
        .parse()
        .map_err(|e| ApiError::invalid_argument(format!("bad uri: {e}")))?;
    set_request_headers(req.headers_mut(), t, request_id, account);
    let timeout = Duration::from_secs(t.config["timeout"].as_u64().unwrap_or(3).max(1));
    let r = tokio::time::timeout(timeout, async {
        let resp = client.request(req).await.map_err(|e| e.to_string())?;
        let (parts, body) = resp.into_parts();
        let b = body.collect().await.map_err(|e| e.to_string())?.to_bytes();
        Ok::<_, String>((parts, b))
    })
    .await;
    let (parts, body): (http::response::Parts, Bytes) = match r {
        Err(_) => {
            return Err(ApiError::function_failure(
                "FunctionTimeout",
                "FunctionTimeoutError",
                format!("Function timed out after {} seconds", timeout.as_secs()),
            ));
        }
        Ok(Err(_)) if inst.out_of_memory() => {
            inst.kill_now();
            return Err(out_of_memory(&inst, t0.elapsed()));
        }
        Ok(Err(e)) if inst.has_exited() => {
            return Err(ApiError::new(
                502,
                "CAExited",
                format!("function instance exited: {e}"),
            ));
        }
        Ok(Err(e)) => {
            return Err(ApiError::new(
                502,
                "BadResponse",
                format!("function instance returned an invalid response: {e}"),
            ));
        }
        Ok(Ok(x)) => x,
    };
    let cold = lease.cold.as_ref().map(|c| (c.start_ms, c.init_ms));
    drop(lease);
    let mut resp = Response::from_parts(parts, Body::from(body));
    let h = resp.headers_mut();
    for n in ["connection", "keep-alive", "transfer-encoding"] {
        h.remove(n);
    }
    set_invoke_headers(h, request_id, &inst.id, cold);
    Ok(resp)
}

/// FC's answer for an instance that died mid-request ("Process exited unexpectedly …", an
/// unhandled error: docs/cloud-facts.md), with the cause FC's message leaves implicit.
fn out_of_memory(inst: &crate::runtime::Instance, took: Duration) -> ApiError {
    let mb = |b: u64| b / (1024 * 1024);
    let limit = mb(inst.limits.memory_bytes);
    ApiError::function_failure(
        "OutOfMemory",
        "UnhandledInvocationError",
        format!(
            "Process exited unexpectedly before completing request (duration: {}ms, maxMemoryUsage: {}MB): out of memory (OOM), the instance used more than its memorySize of {limit} MB and was killed",
            took.as_millis(),
            mb(inst.limits.peak_bytes()).min(limit),
        ),
    )
}

fn set_request_headers(h: &mut HeaderMap, t: &Target, request_id: &str, account: &Account) {
    for n in [
        "connection",
        "keep-alive",
        "proxy-connection",
        "te",
        "trailer",
        "upgrade",
    ] {
        h.remove(n);
    }
    let cfg = &t.config;
    let mut add = |k: &'static str, v: String| {
        if let Ok(v) = HeaderValue::from_str(&v) {
            h.insert(HeaderName::from_static(k), v);
        }
    };
    add("x-fc-request-id", request_id.to_string());
    add("x-fc-function-name", t.function.clone());
    add(
        "x-fc-function-memory",
        cfg["memorySize"].as_u64().unwrap_or(512).to_string(),
    );
    add(
        "x-fc-function-timeout",
        cfg["timeout"].as_u64().unwrap_or(3).to_string(),
    );
    add(
        "x-fc-function-handler",
        cfg["handler"].as_str().unwrap_or("").to_string(),
    );
    add("x-fc-region", account.region.to_string());
    add("x-fc-account-id", account.account_id.to_string());
    add("x-fc-qualifier", t.qualifier.clone());
    add("x-fc-version-id", t.version.clone());
}

fn set_invoke_headers(
    h: &mut HeaderMap,
    request_id: &str,
    instance: &str,
    cold: Option<(u64, Option<u64>)>,
) {
    let mut set = |k: &'static str, v: &str| {
        if let Ok(v) = HeaderValue::from_str(v) {
            h.insert(HeaderName::from_static(k), v);
        }
    };
    set("x-fc-request-id", request_id);
    if !instance.is_empty() {
        set("x-fc-instance-id", instance);
    }
    set(
        "x-fcctl-cold-start",
        if cold.is_some() { "true" } else { "false" },
    );
    if let Some((s, i)) = cold {
        set("x-fcctl-instance-start-ms", &s.to_string());
        if let Some(i) = i {
            set("x-fcctl-initialize-ms", &i.to_string());
        }
    }
}
