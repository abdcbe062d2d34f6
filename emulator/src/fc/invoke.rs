//! InvokeFunction (sync and async) and ListInstances.

use crate::api_error::{Api, ApiError};
use crate::context::Ctx;
use crate::fc::reply::{Reply, function_not_found, ok};
use crate::runtime::resolve;
use crate::util::request_id;
use axum::body::Body;
use axum::response::Response;
use http::{HeaderValue, StatusCode};
use serde_json::{Value, json};
use std::sync::Arc;

pub async fn invoke(
    ctx: &Arc<Ctx>,
    parts: &http::request::Parts,
    f: &str,
    q: Option<&str>,
    body: bytes::Bytes,
    rid: &str,
) -> Reply {
    let t = resolve(&ctx.store, f, q, true)?;
    if ctx
        .store
        .read()
        .functions
        .get(f)
        .is_some_and(|r| r.invocation_disabled)
    {
        return Err(ApiError::new(
            412,
            "FunctionInvocationDisabled",
            "invocation of this function is disabled",
        ));
    }
    let mut b = http::Request::post("/invoke")
        .header("content-type", "application/octet-stream")
        .header("x-fc-control-path", "/invoke");
    for h in [
        "x-fc-invocation-type",
        "x-fc-log-type",
        "x-fc-async-task-id",
    ] {
        if let Some(v) = parts.headers.get(h) {
            b = b.header(h, v);
        }
    }
    let req = b
        .body(Body::from(body))
        .map_err(|e| ApiError::invalid_argument(e.to_string()))?;
    let is_async = parts
        .headers
        .get("x-fc-invocation-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("async"));
    if is_async {
        let (ctx2, t2, rid2) = (ctx.clone(), t.clone(), rid.to_string());
        tokio::spawn(async move {
            let _ = ctx2.runtime.forward(&t2, req, &rid2, false).await;
        });
        let mut r = Response::new(Body::empty());
        *r.status_mut() = StatusCode::ACCEPTED;
        if let Ok(v) = HeaderValue::from_str(rid) {
            r.headers_mut().insert("x-fc-async-task-id", v);
        }
        return Ok(r);
    }
    // FC answers `x-fc-log-type: Tail` with the request's log tail (docs/cloud-facts.md).
    let tail = parts
        .headers
        .get("x-fc-log-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("tail"));
    match ctx.runtime.forward(&t, req, rid, tail).await {
        Ok(r) => Ok(r),
        Err(e) if e.error_type.is_some() => Ok(e.to_response(Api::Fc, rid)),
        Err(e) => Err(e),
    }
}

pub fn list_instances(ctx: &Arc<Ctx>, f: &str, q: Option<&str>) -> Reply {
    if !ctx.store.read().functions.contains_key(f) {
        return Err(function_not_found(f));
    }
    let list: Vec<Value> = ctx
        .runtime
        .instances(f)
        .iter()
        .filter(|i| {
            q.is_none_or(|q| {
                q.is_empty()
                    || i.qualifier == q
                    || i.version == q
                    || i.provisioned.as_deref() == Some(q)
            })
        })
        .map(|i| {
            json!({
                "instanceId": i.id, "versionId": i.version,
                "qualifier": i.provisioned.clone().unwrap_or(i.qualifier.clone()),
                "status": "Running", "createdTimeMs": i.created_ms, "fcctlListenPort": i.port,
                "fcctlMemoryPeakBytes": i.limits.peak_bytes(),
                "fcctlMemoryLimitBytes": i.limits.memory_bytes,
                "fcctlCpuMs": i.pid.and_then(crate::runtime::limits::cpu_ms),
                "resourceType": if i.provisioned.is_some() { "Provisioned" } else { "OnDemand" },
            })
        })
        .collect();
    ok(json!({"instances": list, "requestId": request_id()}))
}
