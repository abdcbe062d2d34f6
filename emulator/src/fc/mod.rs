//! FC3 OpenAPI (`/2023-03-30/...`): the request entry point and the route table; one
//! module per resource.

mod aliases;
mod code;
mod domains;
mod functions;
mod invoke;
mod provision;
mod reply;
mod request;
mod triggers;
mod versions;

use crate::api_error::{Api, ApiError};
use crate::context::Ctx;
use crate::util::request_id;
use axum::Router;
use axum::extract::{Request, State};
use axum::response::Response;
use code::serve_code;
use http::Method;
use http_body_util::BodyExt as _;
use reply::{Reply, ok, with_request_ids};
use request::{parse_body, query_param};
use serde_json::json;
use std::sync::Arc;

/// Max API request body (100 MB base64 zip + JSON).
const MAX_API_BODY: usize = 150 * 1024 * 1024;

pub fn router(ctx: Arc<Ctx>) -> Router {
    Router::new().fallback(handle).with_state(ctx)
}

async fn handle(State(ctx): State<Arc<Ctx>>, req: Request) -> Response {
    let rid = request_id();
    let path = req.uri().path().to_string();
    if let Some(sha) = path
        .strip_prefix("/_emulator/code/")
        .and_then(|s| s.strip_suffix(".zip"))
    {
        let r = serve_code(&ctx, sha).await;
        return with_request_ids(r.unwrap_or_else(|e| e.to_response(Api::Fc, &rid)), &rid);
    }
    if let Some(r) = ctx.cfg.faults.inject(Api::Fc, &rid).await {
        return r;
    }
    let (parts, body) = req.into_parts();
    let body = match http_body_util::Limited::new(body, MAX_API_BODY)
        .collect()
        .await
    {
        Ok(b) => b.to_bytes(),
        Err(e) => {
            return ApiError::new(400, "EntityTooLarge", format!("request body: {e}"))
                .to_response(Api::Fc, &rid);
        }
    };
    let query = parts.uri.query().unwrap_or("").to_string();
    if let Err(e) = ctx.auth.verify_acs3(
        parts.method.as_str(),
        &path,
        &query,
        &parts.headers,
        &body,
        true,
    ) {
        return e.to_response(Api::Fc, &rid);
    }
    if let Some(log) = &ctx.request_log {
        let action = parts
            .headers
            .get("x-acs-action")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        log.fc(action, parts.method.as_str(), &path, &query, &body);
    }
    let q: Vec<(String, String)> = crate::sign::parse_query(&query);
    let r = dispatch(&ctx, &parts, &path, &q, body, &rid).await;
    match r {
        Ok(resp) => with_request_ids(resp, &rid),
        Err(e) => e.to_response(Api::Fc, &rid),
    }
}

/// FC 2021-04-06 GetAccountSettings, still served next to FC3 (FC3 has no zone listing):
/// the zones FC runs functions in. The emulator's FC is in the first two of the VPC's zones,
/// so a client must intersect the lists to find a zone everything is sold in.
fn account_settings(ctx: &Arc<Ctx>) -> Reply {
    let zones: Vec<String> = crate::rpc::vpc::zone_ids(&ctx.cfg.region)
        .into_iter()
        .take(2)
        .collect();
    ok(
        json!({"availableAZs": zones, "defaultRole": format!("acs:ram::{}:role/aliyunfcdefaultrole", ctx.cfg.account_id)}),
    )
}

fn decode_segment(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}

async fn dispatch(
    ctx: &Arc<Ctx>,
    parts: &http::request::Parts,
    path: &str,
    q: &[(String, String)],
    body: bytes::Bytes,
    rid: &str,
) -> Reply {
    if parts.method == Method::GET && path == "/2021-04-06/account-settings" {
        return account_settings(ctx);
    }
    let Some(rest) = path.strip_prefix("/2023-03-30/") else {
        return Err(ApiError::new(
            400,
            "PathNotSupported",
            format!("path {path} is not supported (expected /2023-03-30/...)"),
        ));
    };
    let segs: Vec<String> = rest.split('/').map(decode_segment).collect();
    let s: Vec<&str> = segs.iter().map(String::as_str).collect();
    let m = &parts.method;
    match (m.clone(), s.as_slice()) {
        (Method::POST, ["functions"]) => functions::create_function(ctx, parse_body(&body)?),
        (Method::GET, ["functions"]) => functions::list_functions(ctx, q),
        (Method::GET, ["functions", f]) => {
            functions::get_function(ctx, f, query_param(q, "qualifier"))
        }
        (Method::PUT, ["functions", f]) => functions::update_function(ctx, f, parse_body(&body)?),
        (Method::DELETE, ["functions", f]) => functions::delete_function(ctx, f),
        (Method::GET, ["functions", f, "code"]) => {
            functions::get_code(ctx, f, query_param(q, "qualifier"))
        }
        (Method::POST, ["functions", f, "versions"]) => {
            versions::publish_version(ctx, f, parse_body(&body)?)
        }
        (Method::GET, ["functions", f, "versions"]) => versions::list_versions(ctx, f, q),
        (Method::DELETE, ["functions", f, "versions", v]) => versions::delete_version(ctx, f, v),
        (Method::POST, ["functions", f, "aliases"]) => {
            aliases::create_alias(ctx, f, parse_body(&body)?)
        }
        (Method::GET, ["functions", f, "aliases"]) => aliases::list_aliases(ctx, f, q),
        (Method::GET, ["functions", f, "aliases", a]) => aliases::get_alias(ctx, f, a),
        (Method::PUT, ["functions", f, "aliases", a]) => {
            aliases::update_alias(ctx, f, a, parse_body(&body)?)
        }
        (Method::DELETE, ["functions", f, "aliases", a]) => aliases::delete_alias(ctx, f, a),
        (Method::PUT, ["functions", f, "provision-config"]) => {
            provision::put_provision(ctx, f, query_param(q, "qualifier"), parse_body(&body)?)
        }
        (Method::GET, ["functions", f, "provision-config"]) => {
            provision::get_provision(ctx, f, query_param(q, "qualifier"))
        }
        (Method::DELETE, ["functions", f, "provision-config"]) => {
            provision::delete_provision(ctx, f, query_param(q, "qualifier"))
        }
        (Method::GET, ["provision-configs"]) => provision::list_provisions(ctx, q),
        (Method::POST, ["functions", f, "triggers"]) => {
            triggers::create_trigger(ctx, f, parse_body(&body)?).await
        }
        (Method::GET, ["functions", f, "triggers"]) => triggers::list_triggers(ctx, f, q),
        (Method::GET, ["functions", f, "triggers", t]) => triggers::get_trigger(ctx, f, t),
        (Method::PUT, ["functions", f, "triggers", t]) => {
            triggers::update_trigger(ctx, f, t, parse_body(&body)?)
        }
        (Method::DELETE, ["functions", f, "triggers", t]) => triggers::delete_trigger(ctx, f, t),
        (Method::POST, ["custom-domains"]) => domains::create_domain(ctx, parse_body(&body)?),
        (Method::GET, ["custom-domains"]) => domains::list_domains(ctx, q),
        (Method::GET, ["custom-domains", d]) => domains::get_domain(ctx, d),
        (Method::PUT, ["custom-domains", d]) => domains::update_domain(ctx, d, parse_body(&body)?),
        (Method::DELETE, ["custom-domains", d]) => domains::delete_domain(ctx, d),
        (Method::POST, ["functions", f, "invocations"]) => {
            invoke::invoke(ctx, parts, f, query_param(q, "qualifier"), body, rid).await
        }
        (Method::GET, ["functions", f, "instances"]) => {
            invoke::list_instances(ctx, f, query_param(q, "qualifier"))
        }
        (Method::POST, ["functions", f, "invoke", op @ ("enable" | "disable")]) => {
            functions::set_invocation(ctx, f, *op == "disable")
        }
        (Method::GET, ["regions"]) => ok(json!({"regions": [{"regionId": ctx.cfg.region}]})),
        _ => Err(ApiError::new(
            400,
            "PathNotSupported",
            format!("{m} {path} is not supported by the fcctl emulator"),
        )),
    }
}
