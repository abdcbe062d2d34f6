//! HTTP triggers (one listening port per trigger, so the function sees the request path
//! unchanged) and custom domains (one endpoint, routed by `Host:`).

use crate::api_error::{Api, ApiError};
use crate::context::Ctx;
use crate::runtime::resolve;
use crate::util::request_id;
use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::Response;
use http_body_util::BodyExt as _;
use serde_json::Value;
use std::sync::Arc;

/// FC's synchronous invocation payload limit.
pub const MAX_SYNC_BODY: usize = 32 * 1024 * 1024;

pub fn trigger_config(trigger: &Value) -> Value {
    match &trigger["triggerConfig"] {
        Value::String(s) => serde_json::from_str(s).unwrap_or(Value::Null),
        v => v.clone(),
    }
}

/// Opens (or re-opens, preferring `preferred_port`) the listener for an HTTP trigger.
pub async fn start_trigger(
    ctx: &Arc<Ctx>,
    function: &str,
    trigger: &str,
    preferred_port: u16,
) -> std::io::Result<u16> {
    if let Some(p) = ctx.listeners.port(function, trigger) {
        return Ok(p);
    }
    let host = ctx.cfg.host;
    let listener = match tokio::net::TcpListener::bind((host, preferred_port)).await {
        Ok(l) => l,
        Err(_) if preferred_port != 0 => tokio::net::TcpListener::bind((host, 0)).await?,
        Err(e) => return Err(e),
    };
    let port = listener.local_addr()?.port();
    let st = (ctx.clone(), function.to_string(), trigger.to_string());
    let router = Router::new().fallback(trigger_handler).with_state(st);
    let handle = tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    ctx.listeners.insert(function, trigger, port, handle);
    Ok(port)
}

pub async fn start_all_triggers(ctx: &Arc<Ctx>) {
    let list: Vec<(String, String, u16)> = {
        let st = ctx.store.read();
        st.functions
            .iter()
            .flat_map(|(f, r)| {
                r.triggers
                    .iter()
                    .filter(|(_, t)| t.trigger["triggerType"].as_str() == Some("http"))
                    .map(|(n, t)| (f.clone(), n.clone(), t.port))
                    .collect::<Vec<_>>()
            })
            .collect()
    };
    for (f, n, p) in list {
        match start_trigger(ctx, &f, &n, p).await {
            Ok(port) if port != p => {
                let _ = ctx.store.update(|s| {
                    if let Some(t) = s.functions.get_mut(&f).and_then(|r| r.triggers.get_mut(&n)) {
                        t.port = port;
                    }
                    Ok::<_, ()>(())
                });
            }
            Ok(_) => {}
            Err(e) => tracing::warn!("re-opening trigger {f}/{n}: {e}"),
        }
    }
}

async fn read_body(req: Request) -> Result<(http::request::Parts, bytes::Bytes), ApiError> {
    let (parts, body) = req.into_parts();
    let limited = http_body_util::Limited::new(body, MAX_SYNC_BODY);
    let b = limited.collect().await.map_err(|e| {
        ApiError::new(
            413,
            "EntityTooLarge",
            format!("request body too large or unreadable (limit 32 MiB): {e}"),
        )
    })?;
    Ok((parts, b.to_bytes()))
}

fn method_allowed(methods: &Value, m: &str) -> bool {
    match methods.as_array() {
        Some(a) if !a.is_empty() => a
            .iter()
            .any(|x| x.as_str().is_some_and(|s| s.eq_ignore_ascii_case(m))),
        _ => true,
    }
}

async fn invoke_http(
    ctx: &Arc<Ctx>,
    function: &str,
    qualifier: Option<&str>,
    parts: http::request::Parts,
    body: bytes::Bytes,
    rid: &str,
) -> Result<Response, ApiError> {
    let target = resolve(&ctx.store, function, qualifier, true)?;
    if ctx
        .store
        .read()
        .functions
        .get(function)
        .is_some_and(|f| f.invocation_disabled)
    {
        return Err(ApiError::new(
            412,
            "FunctionInvocationDisabled",
            "invocation of this function is disabled",
        ));
    }
    let req = http::Request::from_parts(parts, Body::from(body));
    ctx.runtime.forward(&target, req, rid, false).await
}

async fn trigger_handler(
    State((ctx, function, trigger)): State<(Arc<Ctx>, String, String)>,
    req: Request,
) -> Response {
    let rid = request_id();
    let r = async {
        let trig = ctx
            .store
            .read()
            .functions
            .get(&function)
            .and_then(|f| f.triggers.get(&trigger))
            .map(|t| t.trigger.clone())
            .ok_or_else(|| {
                ApiError::new(
                    404,
                    "TriggerNotFound",
                    format!("trigger '{trigger}' does not exist"),
                )
            })?;
        let tc = trigger_config(&trig);
        if tc["disableURLInternet"].as_bool() == Some(true) {
            return Err(ApiError::new(
                403,
                "AccessDenied",
                "access denied due to function internet URL is disable",
            ));
        }
        if !method_allowed(&tc["methods"], req.method().as_str()) {
            return Err(ApiError::new(
                405,
                "MethodNotAllowed",
                format!(
                    "method {} is not allowed by this HTTP trigger",
                    req.method()
                ),
            ));
        }
        let (parts, body) = read_body(req).await?;
        let auth = tc["authType"].as_str().unwrap_or("function");
        if auth.eq_ignore_ascii_case("function") {
            ctx.auth.verify_acs3(
                parts.method.as_str(),
                parts.uri.path(),
                parts.uri.query().unwrap_or(""),
                &parts.headers,
                &body,
                false,
            )?;
        } else if !auth.eq_ignore_ascii_case("anonymous") {
            return Err(ApiError::new(
                403,
                "AccessDenied",
                format!("authType '{auth}' is not supported by the emulator"),
            ));
        }
        let q = trig["qualifier"].as_str().map(String::from);
        invoke_http(&ctx, &function, q.as_deref(), parts, body, &rid).await
    }
    .await;
    r.unwrap_or_else(|e| e.to_response(Api::Function, &rid))
}

pub fn domain_router(ctx: Arc<Ctx>) -> Router {
    Router::new().fallback(domain_handler).with_state(ctx)
}

/// Picks the route for `path`: exact match wins, then the longest `prefix/*` pattern.
pub fn match_route<'a>(routes: &'a [Value], path: &str) -> Option<&'a Value> {
    let mut best: Option<(&Value, usize)> = None;
    for r in routes {
        let p = r["path"].as_str().unwrap_or("");
        let score = if p == path {
            usize::MAX
        } else if let Some(prefix) = p.strip_suffix("/*") {
            if path == prefix || path.starts_with(&format!("{prefix}/")) || prefix.is_empty() {
                prefix.len() + 1
            } else {
                continue;
            }
        } else if let Some(prefix) = p.strip_suffix('*') {
            if path.starts_with(prefix) {
                prefix.len() + 1
            } else {
                continue;
            }
        } else {
            continue;
        };
        if best.is_none_or(|(_, s)| score > s) {
            best = Some((r, score));
        }
    }
    best.map(|(r, _)| r)
}

async fn domain_handler(State(ctx): State<Arc<Ctx>>, req: Request) -> Response {
    let rid = request_id();
    let r = async {
        let host = req
            .headers()
            .get("host")
            .and_then(|h| h.to_str().ok())
            .unwrap_or("")
            .to_ascii_lowercase();
        let host = host
            .rsplit_once(':')
            .map(|(h, _)| h.to_string())
            .unwrap_or(host);
        let route = {
            let st = ctx.store.read();
            let d = st.custom_domains.get(&host).ok_or_else(|| {
                ApiError::new(
                    404,
                    "DomainNameNotFound",
                    format!(
                        "custom domain '{host}' does not exist (send the domain in the Host header)"
                    ),
                )
            })?;
            let routes = d["routeConfig"]["routes"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            match_route(&routes, req.uri().path())
                .cloned()
                .ok_or_else(|| {
                    ApiError::new(
                        404,
                        "PathNotFound",
                        format!(
                            "no route of domain '{host}' matches path {}",
                            req.uri().path()
                        ),
                    )
                })?
        };
        if !method_allowed(&route["methods"], req.method().as_str()) {
            return Err(ApiError::new(
                405,
                "MethodNotAllowed",
                format!("method {} is not allowed on this route", req.method()),
            ));
        }
        let function = route["functionName"].as_str().unwrap_or("").to_string();
        let q = route["qualifier"].as_str().map(String::from);
        let (parts, body) = read_body(req).await?;
        invoke_http(&ctx, &function, q.as_deref(), parts, body, &rid).await
    }
    .await;
    r.unwrap_or_else(|e| e.to_response(Api::Function, &rid))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    #[test]
    fn routes() {
        let r = vec![
            json!({"path": "/*", "functionName": "a"}),
            json!({"path": "/api/*", "functionName": "b"}),
            json!({"path": "/exact", "functionName": "c"}),
        ];
        assert_eq!(match_route(&r, "/x").unwrap()["functionName"], "a");
        assert_eq!(match_route(&r, "/api/v1").unwrap()["functionName"], "b");
        assert_eq!(match_route(&r, "/exact").unwrap()["functionName"], "c");
        assert_eq!(match_route(&r, "/").unwrap()["functionName"], "a");
    }
}
