//! SLS (Log Service) subset on its own listener: projects (with tags), logstores, indexes,
//! PutLogs and GetLogs (the documented `GET …?type=log` and the SDK's default `POST …/logs`).
//! The project comes from the `Host` header (`<project>.<endpoint>`), as SLS reads it; every
//! request is checked with SLS's `LOG` hmac-sha1 signature (`sign::sls_string_to_sign`).
//! State and logs on disk: `sls_store`. What fcctl relies on: docs/cloud-facts.md "SLS".

mod pb;
mod query;

use crate::api_error::{Api, ApiError};
use crate::context::Ctx;
use crate::sls_store::{self as store, LogRecord};
use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::response::Response;
use http::request::Parts;
use http::{HeaderValue, Method, StatusCode};
use prost::Message as _;
use serde_json::{Map, Value, json};
use std::sync::Arc;

/// SLS's PutLogs limit on a request body (raw, before compression): 10 MB in the API
/// reference; the SDK itself refuses more than 30 MB. The emulator reads at most this much.
const MAX_BODY: usize = 10 << 20;

pub fn router(ctx: Arc<Ctx>) -> Router {
    Router::new().fallback(handle).with_state(ctx)
}

/// SLS request ids: 24 upper-case hex characters.
fn request_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..24].to_ascii_uppercase()
}

type Reply = Result<Response, ApiError>;

async fn handle(State(ctx): State<Arc<Ctx>>, req: axum::extract::Request) -> Response {
    let rid = request_id();
    if let Some(r) = ctx.cfg.faults.inject(Api::Sls, &rid).await {
        return r;
    }
    let (parts, body) = req.into_parts();
    let mut r = match axum::body::to_bytes(body, MAX_BODY).await {
        Ok(body) => route(&ctx, &parts, &body).unwrap_or_else(|e| e.to_response(Api::Sls, &rid)),
        Err(_) => ApiError::new(
            413,
            "PostBodyTooLarge",
            format!("body larger than {MAX_BODY} bytes"),
        )
        .to_response(Api::Sls, &rid),
    };
    if let Ok(v) = HeaderValue::from_str(&rid) {
        r.headers_mut().insert("x-log-requestid", v);
    }
    r
}

/// The project named by `Host: <project>.<endpoint host>` (none for the bare endpoint).
fn project_of(parts: &Parts) -> Option<String> {
    let host = parts.headers.get("host")?.to_str().ok()?;
    let name = match host.rsplit_once(':') {
        Some((h, p)) if p.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => host,
    };
    if name.parse::<std::net::IpAddr>().is_ok() || !name.contains('.') {
        return None;
    }
    let (project, _) = name.split_once('.')?;
    Some(project.to_string())
}

fn route(ctx: &Ctx, parts: &Parts, body: &[u8]) -> Reply {
    let raw_query = parts.uri.query().unwrap_or("");
    let query = crate::sign::parse_query(raw_query);
    let path = parts.uri.path();
    ctx.auth
        .verify_sls(parts.method.as_str(), path, &query, &parts.headers, body)?;
    let project = project_of(parts);
    let segs: Vec<&str> = path
        .trim_matches('/')
        .split('/')
        .filter(|s| !s.is_empty())
        .collect();
    let has = |k: &str| query.iter().any(|(q, _)| q == k);
    let param = |k: &str| query.iter().find(|(q, _)| q == k).map(|(_, v)| v.as_str());
    let m = &parts.method;
    let action = match (m.clone(), project.is_some(), segs.as_slice()) {
        (Method::GET, false, []) => "ListProject",
        (Method::POST, true, []) => "CreateProject",
        (Method::GET, true, []) => "GetProject",
        (Method::DELETE, true, []) => "DeleteProject",
        (Method::GET, _, ["tags"]) => "ListTagResources",
        (Method::POST, true, ["tag"]) => "TagResources",
        (Method::POST, true, ["untag"]) => "UntagResources",
        (Method::POST, true, ["logstores"]) => "CreateLogStore",
        (Method::GET, true, ["logstores"]) => "ListLogStores",
        (Method::GET, true, ["logstores", _]) if param("type") == Some("log") => "GetLogs",
        (Method::GET, true, ["logstores", _]) if !has("type") => "GetLogStore",
        (Method::DELETE, true, ["logstores", _]) => "DeleteLogStore",
        (Method::POST, true, ["logstores", _, "index"]) => "CreateIndex",
        (Method::PUT, true, ["logstores", _, "index"]) => "UpdateIndex",
        (Method::GET, true, ["logstores", _, "index"]) => "GetIndex",
        (Method::DELETE, true, ["logstores", _, "index"]) => "DeleteIndex",
        (Method::POST, true, ["logstores", _, "logs"]) => "GetLogsV2",
        (Method::POST, true, ["logstores", _, "shards", "lb" | "route"]) => "PutLogs",
        (_, false, [] | ["logstores", ..] | ["tag" | "untag"]) => {
            return Err(ApiError::new(
                400,
                "InvalidHost",
                "the Host header must name the project: <project>.<endpoint>",
            ));
        }
        _ => {
            return Err(ApiError::new(
                501,
                "NotImplemented",
                format!("the emulator does not implement {m} {path}"),
            ));
        }
    };
    if let Some(log) = &ctx.request_log {
        log.sls(action, m.as_str(), path);
    }
    if ctx.cfg.faults.denies("sls", action) {
        // A RAM policy without log:<Action>: SLS answers 401 Unauthorized naming it.
        return Err(ApiError::new(
            401,
            "Unauthorized",
            format!(
                "denied by sts or ram, action: log:{action}, resource: acs:log:{}:{}:project/{}",
                ctx.cfg.region,
                ctx.cfg.account_id,
                project.as_deref().unwrap_or("*")
            ),
        ));
    }
    let store = &ctx.sls;
    let p = project.as_deref().unwrap_or("");
    let ls = segs.get(1).copied().unwrap_or("");
    match action {
        "ListProject" => list_projects(ctx, &query),
        "CreateProject" => {
            let b = json_body(body)?;
            let name = b.get("projectName").and_then(Value::as_str).unwrap_or(p);
            if name != p {
                return Err(invalid(format!(
                    "projectName {name:?} differs from the project in Host ({p:?})"
                )));
            }
            check_project_name(p)?;
            let description = b.get("description").and_then(Value::as_str).unwrap_or("");
            if description.chars().count() > 64 {
                return Err(invalid("description is longer than 64 characters"));
            }
            store.create_project(p, description)?;
            ok_empty()
        }
        "GetProject" => {
            let pr = store.project(p)?;
            ok_json(&project_json(ctx, p, &pr))
        }
        "DeleteProject" => {
            store.delete_project(p)?;
            ok_empty()
        }
        "ListTagResources" => list_tags(ctx, &query),
        "TagResources" | "UntagResources" => tag(ctx, action, p, body),
        "CreateLogStore" => {
            let b = json_body(body)?;
            let name = b
                .get("logstoreName")
                .and_then(Value::as_str)
                .ok_or_else(|| invalid("logstoreName is required"))?
                .to_string();
            check_logstore_name(&name)?;
            let config = logstore_config(b)?;
            store.create_logstore(p, &name, config)?;
            ok_empty()
        }
        "ListLogStores" => list_logstores(ctx, p, &query),
        "GetLogStore" => {
            let l = store.logstore(p, ls)?;
            let mut c = l.config.clone();
            c.insert("logstoreName".into(), json!(ls));
            c.insert("createTime".into(), json!(l.create_time));
            c.insert("lastModifyTime".into(), json!(l.last_modify_time));
            ok_json(&Value::Object(c))
        }
        "DeleteLogStore" => {
            store.delete_logstore(p, ls)?;
            ok_empty()
        }
        "CreateIndex" | "UpdateIndex" => {
            let index = index_body(body)?;
            store.put_index(p, ls, index, action == "UpdateIndex")?;
            ok_empty()
        }
        "GetIndex" => {
            let l = store.logstore(p, ls)?;
            let mut index = l.index.ok_or_else(store::index_not_exist)?;
            if let Some(o) = index.as_object_mut() {
                o.insert("lastModifyTime".into(), json!(l.index_modify_time));
                o.insert(
                    "ttl".into(),
                    l.config.get("ttl").cloned().unwrap_or(json!(30)),
                );
            }
            ok_json(&index)
        }
        "DeleteIndex" => {
            store.delete_index(p, ls)?;
            ok_empty()
        }
        "PutLogs" => put_logs(ctx, parts, p, ls, body),
        "GetLogs" => {
            let q = LogQuery::from_params(&query)?;
            let (rows, meta) = get_logs(ctx, p, ls, &q)?;
            let mut r = json_response(&Value::Array(rows));
            for (k, v) in [
                ("x-log-progress", "Complete".to_string()),
                ("x-log-count", meta.count.to_string()),
                ("x-log-processed-rows", meta.processed.to_string()),
                ("x-log-elapsed-millisecond", "0".into()),
                ("x-log-has-sql", "false".into()),
                ("x-log-where-query", q.query.clone()),
                ("x-log-agg-query", String::new()),
            ] {
                if let Ok(v) = HeaderValue::from_str(&v) {
                    r.headers_mut().insert(k, v);
                }
            }
            Ok(r)
        }
        "GetLogsV2" => {
            let b = json_body(body)?;
            let q = LogQuery::from_json(&b)?;
            let (rows, meta) = get_logs(ctx, p, ls, &q)?;
            let answer = json!({
                "meta": {
                    "progress": "Complete", "count": meta.count, "processedRows": meta.processed,
                    "elapsedMillisecond": 0, "hasSQL": false, "whereQuery": q.query,
                    "aggQuery": "", "cpuSec": 0, "cpuCores": 0, "keys": meta.keys, "terms": [],
                },
                "data": rows,
            });
            let raw = answer.to_string().into_bytes();
            let wants_lz4 = parts
                .headers
                .get("accept-encoding")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.split(',').any(|e| e.trim() == "lz4"));
            let mut r = if wants_lz4 {
                let mut r = Response::new(Body::from(lz4_flex::block::compress(&raw)));
                r.headers_mut()
                    .insert("x-log-compresstype", HeaderValue::from_static("lz4"));
                r
            } else {
                Response::new(Body::from(raw.clone()))
            };
            let h = r.headers_mut();
            h.insert("content-type", HeaderValue::from_static("application/json"));
            if let Ok(v) = HeaderValue::from_str(&raw.len().to_string()) {
                h.insert("x-log-bodyrawsize", v);
            }
            Ok(r)
        }
        _ => Err(ApiError::internal(format!("unrouted action {action}"))),
    }
}

fn invalid(m: impl Into<String>) -> ApiError {
    ApiError::new(400, "ParameterInvalid", m)
}

fn json_body(body: &[u8]) -> Result<Map<String, Value>, ApiError> {
    match serde_json::from_slice(body) {
        Ok(Value::Object(m)) => Ok(m),
        _ => Err(ApiError::new(
            400,
            "PostBodyInvalid",
            "The request body is not valid JSON object.",
        )),
    }
}

fn json_response(v: &Value) -> Response {
    let mut r = Response::new(Body::from(v.to_string()));
    r.headers_mut()
        .insert("content-type", HeaderValue::from_static("application/json"));
    r
}

fn ok_json(v: &Value) -> Reply {
    Ok(json_response(v))
}

fn ok_empty() -> Reply {
    let mut r = Response::new(Body::empty());
    *r.status_mut() = StatusCode::OK;
    Ok(r)
}

/// SLS project names: 3–63 characters, lower-case letters, digits and hyphens, starting and
/// ending with a letter or digit.
fn check_project_name(name: &str) -> Result<(), ApiError> {
    let ok = (3..=63).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.starts_with('-')
        && !name.ends_with('-');
    if ok {
        Ok(())
    } else {
        Err(invalid(format!(
            "project name {name:?} is invalid: 3-63 lower-case letters, digits and hyphens, starting and ending with a letter or digit"
        )))
    }
}

/// SLS logstore names: 2–63 characters, lower-case letters, digits, hyphens and underscores,
/// starting and ending with a letter or digit.
fn check_logstore_name(name: &str) -> Result<(), ApiError> {
    let ok = (2..=63).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
        && name
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_alphanumeric())
        && name
            .bytes()
            .last()
            .is_some_and(|b| b.is_ascii_alphanumeric());
    if ok {
        Ok(())
    } else {
        Err(invalid(format!(
            "logstore name {name:?} is invalid: 2-63 lower-case letters, digits, hyphens and underscores, starting and ending with a letter or digit"
        )))
    }
}

/// The CreateLogStore body, checked (`ttl` 1–3650 days, `shardCount` ≥ 1), with the keys
/// GetLogStore always answers.
fn logstore_config(mut b: Map<String, Value>) -> Result<Map<String, Value>, ApiError> {
    let int = |k: &str| b.get(k).and_then(Value::as_i64);
    let ttl = int("ttl").ok_or_else(|| invalid("ttl (days, an integer) is required"))?;
    if !(1..=3650).contains(&ttl) {
        return Err(invalid(format!("ttl {ttl} must be within 1..=3650 days")));
    }
    let shards = int("shardCount").ok_or_else(|| invalid("shardCount (an integer) is required"))?;
    if shards < 1 {
        return Err(invalid(format!("shardCount {shards} must be at least 1")));
    }
    b.remove("logstoreName");
    for (k, v) in [
        ("enable_tracking", json!(false)),
        ("autoSplit", json!(false)),
        ("maxSplitShard", json!(0)),
        ("appendMeta", json!(false)),
    ] {
        b.entry(k).or_insert(v);
    }
    Ok(b)
}

/// A CreateIndex body: `line` and/or `keys`, each text/json config with its `token` list
/// (SLS: 400 IndexInfoInvalid otherwise).
fn index_body(body: &[u8]) -> Result<Value, ApiError> {
    let b = json_body(body)?;
    let bad = |m: String| ApiError::new(400, "IndexInfoInvalid", m);
    let tokens_ok = |c: &Value| {
        c.get("token")
            .and_then(Value::as_array)
            .is_some_and(|a| !a.is_empty() && a.iter().all(Value::is_string))
    };
    if b.get("line").is_none() && b.get("keys").is_none() {
        return Err(bad("an index needs `line` (full text) or `keys`".into()));
    }
    if let Some(line) = b.get("line")
        && !tokens_ok(line)
    {
        return Err(bad(
            "Required field token is lacking or of error format (line)".into(),
        ));
    }
    if let Some(keys) = b.get("keys") {
        let keys = keys
            .as_object()
            .ok_or_else(|| bad("keys must be an object of key configs".into()))?;
        for (k, c) in keys {
            let kind = c.get("type").and_then(Value::as_str).unwrap_or("text");
            match kind {
                "text" | "json" if !tokens_ok(c) => {
                    return Err(bad(format!(
                        "Required field token is lacking or of error format (key {k})"
                    )));
                }
                "text" | "json" | "long" | "double" => {}
                other => return Err(bad(format!("key {k}: unknown type {other:?}"))),
            }
        }
    }
    Ok(Value::Object(b))
}

fn project_json(ctx: &Ctx, name: &str, p: &store::Project) -> Value {
    json!({
        "projectName": name,
        "description": p.description,
        "region": ctx.cfg.region,
        "owner": ctx.cfg.account_id,
        "status": "Normal",
        "createTime": p.create_time.to_string(),
        "lastModifyTime": p.last_modify_time.to_string(),
        "resourceGroupId": "",
        "dataRedundancyType": "LRS",
    })
}

fn offset_size(query: &[(String, String)]) -> Result<(usize, usize), ApiError> {
    let num = |k: &str, default: usize| -> Result<usize, ApiError> {
        match query.iter().find(|(q, _)| q == k) {
            Some((_, v)) if !v.is_empty() => v
                .parse()
                .map_err(|_| invalid(format!("{k} {v:?} is not a number"))),
            _ => Ok(default),
        }
    };
    let size = num("size", 100)?;
    if size > 500 {
        return Err(invalid(format!("size {size} must be at most 500")));
    }
    Ok((num("offset", 0)?, size))
}

fn list_projects(ctx: &Ctx, query: &[(String, String)]) -> Reply {
    let (offset, size) = offset_size(query)?;
    let filter = query
        .iter()
        .find(|(k, _)| k == "projectName")
        .map(|(_, v)| v.as_str())
        .unwrap_or("");
    let all: Vec<Value> = ctx
        .sls
        .projects()
        .iter()
        .filter(|(n, _)| n.contains(filter))
        .map(|(n, p)| project_json(ctx, n, p))
        .collect();
    let page: Vec<Value> = all.iter().skip(offset).take(size).cloned().collect();
    ok_json(&json!({"count": page.len(), "total": all.len(), "projects": page}))
}

fn list_logstores(ctx: &Ctx, project: &str, query: &[(String, String)]) -> Reply {
    let (offset, size) = offset_size(query)?;
    let filter = query
        .iter()
        .find(|(k, _)| k == "logstoreName")
        .map(|(_, v)| v.as_str())
        .unwrap_or("");
    let p = ctx.sls.project(project)?;
    let all: Vec<&String> = p.logstores.keys().filter(|n| n.contains(filter)).collect();
    let page: Vec<&&String> = all.iter().skip(offset).take(size).collect();
    ok_json(&json!({"count": page.len(), "total": all.len(), "logstores": page}))
}

fn parse_json_param(query: &[(String, String)], k: &str) -> Result<Option<Value>, ApiError> {
    match query.iter().find(|(q, _)| q == k) {
        Some((_, v)) if !v.is_empty() => serde_json::from_str(v)
            .map(Some)
            .map_err(|e| invalid(format!("{k} is not JSON: {e}"))),
        _ => Ok(None),
    }
}

/// ListTagResources: `resourceType` (only `project`), optional `resourceId` (JSON list) and
/// `tags` (JSON list of `{key, value}`: resources carrying all of them). One row per tag of
/// each matching project; everything in one page.
fn list_tags(ctx: &Ctx, query: &[(String, String)]) -> Reply {
    let rtype = query
        .iter()
        .find(|(k, _)| k == "resourceType")
        .map(|(_, v)| v.as_str())
        .unwrap_or("");
    if !rtype.eq_ignore_ascii_case("project") {
        return Err(invalid(format!(
            "resourceType {rtype:?}: the emulator tags projects only"
        )));
    }
    let ids: Option<Vec<String>> = match parse_json_param(query, "resourceId")? {
        Some(v) => {
            Some(serde_json::from_value(v).map_err(|e| invalid(format!("resourceId: {e}")))?)
        }
        None => None,
    };
    let filter: Vec<(String, String)> = match parse_json_param(query, "tags")? {
        Some(Value::Array(a)) => a
            .iter()
            .map(|t| {
                let s = |k: &str| t.get(k).and_then(Value::as_str).map(String::from);
                match (s("key"), s("value")) {
                    (Some(k), v) => Ok((k, v.unwrap_or_default())),
                    _ => Err(invalid("each tag filter needs a key")),
                }
            })
            .collect::<Result<_, _>>()?,
        Some(_) => return Err(invalid("tags must be a JSON list of {key, value}")),
        None => Vec::new(),
    };
    let mut rows = Vec::new();
    for (name, p) in ctx.sls.projects() {
        if ids.as_ref().is_some_and(|ids| !ids.contains(&name)) {
            continue;
        }
        let carries = filter
            .iter()
            .all(|(k, v)| p.tags.get(k).is_some_and(|have| v.is_empty() || have == v));
        if !carries {
            continue;
        }
        for (k, v) in &p.tags {
            rows.push(
                json!({"resourceId": name, "resourceType": "project", "tagKey": k, "tagValue": v}),
            );
        }
    }
    ok_json(&json!({"nextToken": "", "tagResources": rows}))
}

fn tag(ctx: &Ctx, action: &str, host_project: &str, body: &[u8]) -> Reply {
    let b = json_body(body)?;
    let rtype = b.get("resourceType").and_then(Value::as_str).unwrap_or("");
    if !rtype.eq_ignore_ascii_case("project") {
        return Err(invalid(format!(
            "resourceType {rtype:?}: the emulator tags projects only"
        )));
    }
    let ids: Vec<String> = b
        .get("resourceId")
        .cloned()
        .and_then(|v| serde_json::from_value(v).ok())
        .filter(|v: &Vec<String>| !v.is_empty())
        .ok_or_else(|| invalid("resourceId must be a non-empty list of project names"))?;
    if ids.iter().any(|id| id != host_project) {
        return Err(invalid(
            "resourceId must name the project of the Host header",
        ));
    }
    if action == "UntagResources" {
        let keys: Vec<String> = b
            .get("tags")
            .cloned()
            .and_then(|v| serde_json::from_value(v).ok())
            .ok_or_else(|| invalid("tags must be a list of tag keys"))?;
        ctx.sls.untag_project(host_project, &keys)?;
        return ok_empty();
    }
    let tags: Vec<(String, String)> = b
        .get("tags")
        .and_then(Value::as_array)
        .ok_or_else(|| invalid("tags must be a list of {key, value}"))?
        .iter()
        .map(|t| {
            let key = t.get("key").and_then(Value::as_str).unwrap_or("");
            let value = t.get("value").and_then(Value::as_str).unwrap_or("");
            // Alibaba Cloud tag rules: key 1-128 characters, not starting with aliyun / acs:.
            if key.is_empty() || key.chars().count() > 128 || key.starts_with("aliyun") || key.starts_with("acs:") {
                return Err(invalid(format!("tag key {key:?} is invalid (1-128 characters, not starting with aliyun or acs:)")));
            }
            if value.chars().count() > 128 {
                return Err(invalid(format!("tag value of {key} is longer than 128 characters")));
            }
            Ok((key.to_string(), value.to_string()))
        })
        .collect::<Result<_, _>>()?;
    ctx.sls.tag_project(host_project, &tags)?;
    ok_empty()
}

/// PutLogs: one `LogGroup` protobuf, lz4 (block) or deflate compressed per
/// `x-log-compresstype`, `x-log-bodyrawsize` the uncompressed size.
fn put_logs(ctx: &Ctx, parts: &Parts, project: &str, logstore: &str, body: &[u8]) -> Reply {
    let header = |n: &str| {
        parts
            .headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    };
    if header("content-type") != "application/x-protobuf" {
        return Err(ApiError::new(
            400,
            "InvalidContentType",
            "PutLogs takes Content-Type: application/x-protobuf",
        ));
    }
    let raw_size: usize = header("x-log-bodyrawsize").parse().map_err(|_| {
        ApiError::new(
            400,
            "ParameterInvalid",
            "x-log-bodyrawsize is missing or not a number",
        )
    })?;
    if raw_size > MAX_BODY {
        return Err(ApiError::new(
            413,
            "PostBodyTooLarge",
            format!("raw body of {raw_size} bytes is larger than {MAX_BODY}"),
        ));
    }
    let raw = match header("x-log-compresstype") {
        "" => body.to_vec(),
        "lz4" => lz4_flex::block::decompress(body, raw_size)
            .map_err(|e| ApiError::new(400, "ParameterInvalid", format!("lz4 body: {e}")))?,
        "deflate" => {
            let mut out = Vec::new();
            std::io::Read::read_to_end(
                &mut std::io::Read::take(flate2::read::ZlibDecoder::new(body), MAX_BODY as u64 + 1),
                &mut out,
            )
            .map_err(|e| ApiError::new(400, "ParameterInvalid", format!("deflate body: {e}")))?;
            out
        }
        other => {
            return Err(ApiError::new(
                400,
                "ParameterInvalid",
                format!("x-log-compresstype {other:?}: the emulator reads lz4 and deflate"),
            ));
        }
    };
    if raw.len() != raw_size {
        return Err(ApiError::new(
            400,
            "ParameterInvalid",
            format!(
                "x-log-bodyrawsize {raw_size} but the body is {} bytes",
                raw.len()
            ),
        ));
    }
    let group = pb::LogGroup::decode(raw.as_slice())
        .map_err(|e| ApiError::new(400, "ProtobufInvalid", format!("LogGroup: {e}")))?;
    let tags: Vec<(String, String)> = group
        .log_tags
        .iter()
        .map(|t| (t.key.clone(), t.value.clone()))
        .collect();
    let records: Vec<LogRecord> = group
        .logs
        .iter()
        .map(|l| LogRecord {
            time: l.time,
            time_ns: l.time_ns.unwrap_or(0),
            topic: group.topic.clone().unwrap_or_default(),
            source: group.source.clone().unwrap_or_default(),
            tags: tags.clone(),
            contents: l
                .contents
                .iter()
                .map(|c| (c.key.clone(), c.value.clone()))
                .collect(),
        })
        .collect();
    ctx.sls.append(project, logstore, &records)?;
    ok_empty()
}

/// A GetLogs request, from the query (`GET …?type=log`) or the JSON body (`POST …/logs`).
struct LogQuery {
    from: i64,
    to: i64,
    query: String,
    topic: Option<String>,
    line: usize,
    offset: usize,
    reverse: bool,
}

/// GetLogs answers at most 100 rows per call (`line`).
const MAX_LINE: usize = 100;

impl LogQuery {
    fn build(get: impl Fn(&str) -> Option<String>) -> Result<LogQuery, ApiError> {
        let int = |k: &str| -> Result<Option<i64>, ApiError> {
            get(k)
                .filter(|v| !v.is_empty())
                .map(|v| {
                    v.parse()
                        .map_err(|_| invalid(format!("{k} {v:?} is not an integer")))
                })
                .transpose()
        };
        let from = int("from")?.ok_or_else(|| invalid("from (Unix seconds) is required"))?;
        let to = int("to")?.ok_or_else(|| invalid("to (Unix seconds) is required"))?;
        if from >= to {
            return Err(invalid(format!("from {from} must be before to {to}")));
        }
        let line = int("line")?.unwrap_or(100);
        if !(0..=MAX_LINE as i64).contains(&line) {
            return Err(invalid(format!("line {line} must be within 0..=100")));
        }
        let offset = int("offset")?.unwrap_or(0);
        if offset < 0 {
            return Err(invalid("offset must not be negative"));
        }
        Ok(LogQuery {
            from,
            to,
            query: get("query").unwrap_or_default(),
            topic: get("topic").filter(|t| !t.is_empty()),
            line: line as usize,
            offset: offset as usize,
            reverse: get("reverse").is_some_and(|r| r.eq_ignore_ascii_case("true")),
        })
    }

    fn from_params(q: &[(String, String)]) -> Result<LogQuery, ApiError> {
        Self::build(|k| q.iter().find(|(a, _)| a == k).map(|(_, v)| v.clone()))
    }

    fn from_json(b: &Map<String, Value>) -> Result<LogQuery, ApiError> {
        Self::build(|k| {
            b.get(k).and_then(|v| match v {
                Value::String(s) => Some(s.clone()),
                Value::Null => None,
                v => Some(v.to_string()),
            })
        })
    }
}

struct Meta {
    count: usize,
    processed: usize,
    keys: Vec<String>,
}

/// The matching logs in `[from, to)`, oldest first (newest first with `reverse`), then
/// `offset` and `line` applied; each row `__time__`, `__source__`, `__topic__`, the tags as
/// `__tag__:<key>` and the contents, all strings.
fn get_logs(
    ctx: &Ctx,
    project: &str,
    logstore: &str,
    q: &LogQuery,
) -> Result<(Vec<Value>, Meta), ApiError> {
    let ls = ctx.sls.logstore(project, logstore)?;
    let Some(index) = ls.index else {
        return Err(ApiError::new(
            400,
            "IndexConfigNotExist",
            "logstore without index config: create an index before querying",
        ));
    };
    let parsed = query::Query::parse(&q.query)?;
    for k in parsed.keys() {
        if index.get("keys").and_then(|ks| ks.get(k)).is_none() {
            return Err(invalid(format!(
                "key ({k}) is not config as key value config"
            )));
        }
    }
    let all = ctx.sls.read_logs(project, logstore)?;
    let processed = all.len();
    let mut hits: Vec<&LogRecord> = all
        .iter()
        .filter(|l| (q.from..q.to).contains(&i64::from(l.time)))
        .filter(|l| q.topic.as_ref().is_none_or(|t| &l.topic == t))
        .filter(|l| parsed.matches(&l.contents, &index))
        .collect();
    hits.sort_by_key(|l| (l.time, l.time_ns));
    if q.reverse {
        hits.reverse();
    }
    let mut keys: Vec<String> = Vec::new();
    let rows: Vec<Value> = hits
        .into_iter()
        .skip(q.offset)
        .take(q.line)
        .map(|l| {
            let mut row = Map::new();
            row.insert("__time__".into(), json!(l.time.to_string()));
            row.insert("__source__".into(), json!(l.source));
            row.insert("__topic__".into(), json!(l.topic));
            for (k, v) in &l.tags {
                row.insert(format!("__tag__:{k}"), json!(v));
            }
            for (k, v) in &l.contents {
                if !keys.contains(k) {
                    keys.push(k.clone());
                }
                row.insert(k.clone(), json!(v));
            }
            Value::Object(row)
        })
        .collect();
    Ok((
        rows.clone(),
        Meta {
            count: rows.len(),
            processed,
            keys,
        },
    ))
}
