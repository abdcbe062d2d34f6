//! FC3 OpenAPI (`/2023-03-30/...`): functions, code, versions, aliases, provision configs,
//! triggers, custom domains, InvokeFunction, ListInstances.

use crate::api_error::{Api, ApiError};
use crate::context::Ctx;
use crate::runtime::resolve;
use crate::state::{FunctionRec, ProvisionRec, TriggerRec, VersionRec};
use crate::util::{crc64, now_rfc3339, request_id};
use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::Response;
use base64::Engine as _;
use http::{HeaderValue, Method, StatusCode};
use http_body_util::BodyExt as _;
use serde_json::{Map, Value, json};
use std::path::Path;
use std::sync::Arc;

/// Max API request body (100 MB base64 zip + JSON).
const MAX_API_BODY: usize = 150 * 1024 * 1024;

pub fn router(ctx: Arc<Ctx>) -> Router {
    Router::new().fallback(handle).with_state(ctx)
}

type Reply = Result<Response, ApiError>;

fn with_ids(mut r: Response, rid: &str) -> Response {
    if let Ok(v) = HeaderValue::from_str(rid) {
        r.headers_mut().insert("x-fc-request-id", v.clone());
        r.headers_mut().insert("x-acs-request-id", v);
    }
    r
}

fn json_resp(status: u16, v: &Value) -> Response {
    let mut r = Response::new(Body::from(v.to_string()));
    *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    r.headers_mut().insert(
        "content-type",
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    r
}

fn ok(v: Value) -> Reply {
    Ok(json_resp(200, &v))
}

fn no_content() -> Reply {
    let mut r = Response::new(Body::empty());
    *r.status_mut() = StatusCode::NO_CONTENT;
    Ok(r)
}

async fn handle(State(ctx): State<Arc<Ctx>>, req: Request) -> Response {
    let rid = request_id();
    let path = req.uri().path().to_string();
    if let Some(sha) = path
        .strip_prefix("/_emulator/code/")
        .and_then(|s| s.strip_suffix(".zip"))
    {
        let r = serve_code(&ctx, sha).await;
        return with_ids(r.unwrap_or_else(|e| e.to_response(Api::Fc, &rid)), &rid);
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
    if let Err(e) =
        ctx.auth
            .verify_acs3(parts.method.as_str(), &path, &query, &parts.headers, &body)
    {
        return e.to_response(Api::Fc, &rid);
    }
    let q: Vec<(String, String)> = crate::sign::parse_query(&query);
    let r = dispatch(&ctx, &parts, &path, &q, body, &rid).await;
    match r {
        Ok(resp) => with_ids(resp, &rid),
        Err(e) => e.to_response(Api::Fc, &rid),
    }
}

fn query_param<'a>(q: &'a [(String, String)], k: &str) -> Option<&'a str> {
    q.iter().find(|(a, _)| a == k).map(|(_, v)| v.as_str())
}

fn parse_body(body: &[u8]) -> Result<Map<String, Value>, ApiError> {
    if body.is_empty() {
        return Ok(Map::new());
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(ApiError::invalid_argument(
            "request body must be a JSON object",
        )),
        Err(e) => Err(ApiError::invalid_argument(format!(
            "request body is not valid JSON: {e}"
        ))),
    }
}

fn decode_seg(s: &str) -> String {
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
    let Some(rest) = path.strip_prefix("/2023-03-30/") else {
        return Err(ApiError::new(
            400,
            "PathNotSupported",
            format!("path {path} is not supported (expected /2023-03-30/...)"),
        ));
    };
    let segs: Vec<String> = rest.split('/').map(decode_seg).collect();
    let s: Vec<&str> = segs.iter().map(String::as_str).collect();
    let m = &parts.method;
    match (m.clone(), s.as_slice()) {
        (Method::POST, ["functions"]) => create_function(ctx, parse_body(&body)?),
        (Method::GET, ["functions"]) => list_functions(ctx, q),
        (Method::GET, ["functions", f]) => get_function(ctx, f, query_param(q, "qualifier")),
        (Method::PUT, ["functions", f]) => update_function(ctx, f, parse_body(&body)?),
        (Method::DELETE, ["functions", f]) => delete_function(ctx, f),
        (Method::GET, ["functions", f, "code"]) => get_code(ctx, f, query_param(q, "qualifier")),
        (Method::POST, ["functions", f, "versions"]) => publish(ctx, f, parse_body(&body)?),
        (Method::GET, ["functions", f, "versions"]) => list_versions(ctx, f, q),
        (Method::DELETE, ["functions", f, "versions", v]) => delete_version(ctx, f, v),
        (Method::POST, ["functions", f, "aliases"]) => create_alias(ctx, f, parse_body(&body)?),
        (Method::GET, ["functions", f, "aliases"]) => list_aliases(ctx, f, q),
        (Method::GET, ["functions", f, "aliases", a]) => get_alias(ctx, f, a),
        (Method::PUT, ["functions", f, "aliases", a]) => {
            update_alias(ctx, f, a, parse_body(&body)?)
        }
        (Method::DELETE, ["functions", f, "aliases", a]) => delete_alias(ctx, f, a),
        (Method::PUT, ["functions", f, "provision-config"]) => {
            put_provision(ctx, f, query_param(q, "qualifier"), parse_body(&body)?)
        }
        (Method::GET, ["functions", f, "provision-config"]) => {
            get_provision(ctx, f, query_param(q, "qualifier"))
        }
        (Method::DELETE, ["functions", f, "provision-config"]) => {
            delete_provision(ctx, f, query_param(q, "qualifier"))
        }
        (Method::GET, ["provision-configs"]) => {
            list_provisions(ctx, query_param(q, "functionName"))
        }
        (Method::POST, ["functions", f, "triggers"]) => {
            create_trigger(ctx, f, parse_body(&body)?).await
        }
        (Method::GET, ["functions", f, "triggers"]) => list_triggers(ctx, f, q),
        (Method::GET, ["functions", f, "triggers", t]) => get_trigger(ctx, f, t),
        (Method::PUT, ["functions", f, "triggers", t]) => {
            update_trigger(ctx, f, t, parse_body(&body)?)
        }
        (Method::DELETE, ["functions", f, "triggers", t]) => delete_trigger(ctx, f, t),
        (Method::POST, ["custom-domains"]) => create_domain(ctx, parse_body(&body)?),
        (Method::GET, ["custom-domains"]) => list_domains(ctx, q),
        (Method::GET, ["custom-domains", d]) => get_domain(ctx, d),
        (Method::PUT, ["custom-domains", d]) => update_domain(ctx, d, parse_body(&body)?),
        (Method::DELETE, ["custom-domains", d]) => delete_domain(ctx, d),
        (Method::POST, ["functions", f, "invocations"]) => {
            invoke(ctx, parts, f, query_param(q, "qualifier"), body, rid).await
        }
        (Method::GET, ["functions", f, "instances"]) => {
            list_instances(ctx, f, query_param(q, "qualifier"))
        }
        (Method::POST, ["functions", f, "invoke", op @ ("enable" | "disable")]) => {
            set_invocation(ctx, f, *op == "disable")
        }
        (Method::GET, ["regions"]) => ok(json!({"regions": [{"regionId": ctx.cfg.region}]})),
        _ => Err(ApiError::new(
            400,
            "PathNotSupported",
            format!("{m} {path} is not supported by the fcctl emulator"),
        )),
    }
}

fn not_found_fn(f: &str) -> ApiError {
    ApiError::new(
        404,
        "FunctionNotFound",
        format!("function '{f}' does not exist"),
    )
}

fn arn(ctx: &Ctx, f: &str) -> String {
    format!(
        "acs:fc:{}:{}:functions/{}",
        ctx.cfg.region, ctx.cfg.account_id, f
    )
}

fn valid_name(n: &str) -> bool {
    !n.is_empty()
        && n.len() <= 128
        && n.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        && !n.starts_with(|c: char| c.is_ascii_digit() || c == '-')
}

/// Reads the code package described by `code` and stores it content-addressed.
fn store_code(ctx: &Ctx, code: &Value) -> Result<(String, u64, u64), ApiError> {
    let bytes = if let Some(z) = code["zipFile"].as_str().filter(|s| !s.is_empty()) {
        base64::engine::general_purpose::STANDARD
            .decode(z.trim())
            .map_err(|e| {
                ApiError::invalid_argument(format!("code.zipFile is not valid base64: {e}"))
            })?
    } else if let (Some(b), Some(o)) = (
        code["ossBucketName"].as_str(),
        code["ossObjectName"].as_str(),
    ) {
        crate::oss::read_object(ctx, b, o).ok_or_else(|| {
            ApiError::invalid_argument(format!(
                "code package oss://{b}/{o} does not exist in the emulator's OSS"
            ))
        })?
    } else {
        return Err(ApiError::invalid_argument(
            "code must have zipFile or ossBucketName + ossObjectName",
        ));
    };
    let crc = crc64(&bytes);
    if let Some(c) = code["checksum"].as_str().filter(|s| !s.is_empty())
        && c != crc.to_string()
    {
        return Err(ApiError::invalid_argument(format!(
            "code checksum mismatch: given {c}, computed crc64 {crc}"
        )));
    }
    let sha = crate::sign::sha256_hex(&bytes);
    let dir = ctx.info.data_dir.join("code");
    let target = dir.join(&sha);
    if !target.exists() {
        let tmp = dir.join(format!(".{sha}.tmp-{}", uuid::Uuid::new_v4().simple()));
        unpack_zip(&bytes, &tmp).map_err(|e| {
            ApiError::invalid_argument(format!("code package is not a valid zip: {e}"))
        })?;
        crate::util::atomic_write(&dir.join(format!("{sha}.zip")), &bytes)
            .map_err(|e| ApiError::internal(format!("storing code: {e}")))?;
        if std::fs::rename(&tmp, &target).is_err() {
            let _ = std::fs::remove_dir_all(&tmp);
        }
    }
    Ok((sha, crc, bytes.len() as u64))
}

fn unpack_zip(bytes: &[u8], dest: &Path) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt as _;
    let mut z = zip::ZipArchive::new(std::io::Cursor::new(bytes)).map_err(|e| e.to_string())?;
    std::fs::create_dir_all(dest).map_err(|e| e.to_string())?;
    for i in 0..z.len() {
        let mut f = z.by_index(i).map_err(|e| e.to_string())?;
        let Some(rel) = f.enclosed_name() else {
            return Err(format!("unsafe path in zip: {}", f.name()));
        };
        let out = dest.join(rel);
        if f.is_dir() {
            std::fs::create_dir_all(&out).map_err(|e| e.to_string())?;
            continue;
        }
        if let Some(p) = out.parent() {
            std::fs::create_dir_all(p).map_err(|e| e.to_string())?;
        }
        let mut w = std::fs::File::create(&out).map_err(|e| e.to_string())?;
        std::io::copy(&mut f, &mut w).map_err(|e| e.to_string())?;
        let mode = f
            .unix_mode()
            .map(|m| m & 0o7777)
            .filter(|m| *m != 0)
            .unwrap_or(0o644);
        std::fs::set_permissions(&out, std::fs::Permissions::from_mode(mode))
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

fn check_env(cfg: &Map<String, Value>) -> Result<(), ApiError> {
    if let Some(e) = cfg.get("environmentVariables").and_then(|v| v.as_object()) {
        let total: usize = e
            .iter()
            .map(|(k, v)| k.len() + v.as_str().map_or(0, str::len))
            .sum();
        if total > 4096 {
            return Err(ApiError::invalid_argument(
                "environment variables exceed 4 KB in total",
            ));
        }
        for k in e.keys() {
            if !k.starts_with(|c: char| c.is_ascii_alphabetic())
                || !k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            {
                return Err(ApiError::invalid_argument(format!(
                    "invalid environment variable name '{k}'"
                )));
            }
        }
    }
    Ok(())
}

fn create_function(ctx: &Arc<Ctx>, mut body: Map<String, Value>) -> Reply {
    let name = str_field(&body, "functionName");
    if !valid_name(&name) {
        return Err(ApiError::invalid_argument(format!(
            "invalid functionName '{name}'"
        )));
    }
    if body
        .get("runtime")
        .and_then(|v| v.as_str())
        .unwrap_or("")
        .is_empty()
    {
        return Err(ApiError::invalid_argument("runtime is required"));
    }
    // Required by the official SDK model (CreateFunctionInput.handler, "This parameter is
    // required"), for custom runtimes too; FC's own words for a missing one.
    if body
        .get("handler")
        .and_then(|v| v.as_str())
        .unwrap_or("")
        .is_empty()
    {
        return Err(ApiError::invalid_argument(
            "Handler is required but not provided",
        ));
    }
    check_env(&body)?;
    if ctx.store.read().functions.contains_key(&name) {
        return Err(ApiError::new(
            409,
            "FunctionAlreadyExists",
            format!("function '{name}' already exists"),
        ));
    }
    let code = body.remove("code").unwrap_or(Value::Null);
    let (sha, crc, size) = store_code(ctx, &code)?;
    let now = now_rfc3339();
    let defaults = [
        ("timeout", json!(3)),
        ("memorySize", json!(512)),
        ("cpu", json!(0.35)),
        ("diskSize", json!(512)),
        ("instanceConcurrency", json!(1)),
        ("internetAccess", json!(true)),
        ("layers", json!([])),
        ("tags", json!([])),
        ("environmentVariables", json!({})),
        ("description", json!("")),
    ];
    for (k, v) in defaults {
        if body.get(k).is_none_or(Value::is_null) {
            body.insert(k.into(), v);
        }
    }
    body.insert("functionId".into(), json!(uuid::Uuid::new_v4().to_string()));
    body.insert("functionArn".into(), json!(arn(ctx, &name)));
    body.insert("createdTime".into(), json!(now));
    body.insert("lastModifiedTime".into(), json!(now));
    body.insert("codeChecksum".into(), json!(crc.to_string()));
    body.insert("codeSize".into(), json!(size));
    body.insert("state".into(), json!("Active"));
    body.insert("lastUpdateStatus".into(), json!("Successful"));
    let cfg = Value::Object(body);
    ctx.store.update(|s| {
        if s.functions.contains_key(&name) {
            return Err(ApiError::new(
                409,
                "FunctionAlreadyExists",
                format!("function '{name}' already exists"),
            ));
        }
        s.functions.insert(
            name.clone(),
            FunctionRec {
                config: cfg.clone(),
                code_sha: sha,
                next_version: 1,
                dirty: true,
                ..Default::default()
            },
        );
        Ok(())
    })?;
    ok(cfg)
}

fn update_function(ctx: &Arc<Ctx>, f: &str, mut body: Map<String, Value>) -> Reply {
    check_env(&body)?;
    if !ctx.store.read().functions.contains_key(f) {
        return Err(not_found_fn(f));
    }
    let code = body.remove("code");
    let new_code = match code {
        Some(c) if !c.is_null() => Some(store_code(ctx, &c)?),
        _ => None,
    };
    for k in [
        "functionName",
        "functionId",
        "functionArn",
        "createdTime",
        "codeChecksum",
        "codeSize",
        "state",
    ] {
        body.remove(k);
    }
    let cfg = ctx.store.update(|s| {
        let rec = s.functions.get_mut(f).ok_or_else(|| not_found_fn(f))?;
        let obj = rec
            .config
            .as_object_mut()
            .expect("function config is an object");
        for (k, v) in body {
            if !v.is_null() {
                obj.insert(k, v);
            }
        }
        if let Some((sha, crc, size)) = new_code {
            rec.code_sha = sha;
            obj.insert("codeChecksum".into(), json!(crc.to_string()));
            obj.insert("codeSize".into(), json!(size));
        }
        obj.insert("lastModifiedTime".into(), json!(now_rfc3339()));
        rec.dirty = true;
        Ok::<_, ApiError>(rec.config.clone())
    })?;
    ok(cfg)
}

fn get_function(ctx: &Arc<Ctx>, f: &str, q: Option<&str>) -> Reply {
    let t = resolve(ctx, f, q, false)?;
    ok(t.config)
}

fn get_code(ctx: &Arc<Ctx>, f: &str, q: Option<&str>) -> Reply {
    let t = resolve(ctx, f, q, false)?;
    ok(json!({
        "url": format!("{}/_emulator/code/{}.zip", ctx.info.fc_endpoint, t.code_sha),
        "checksum": t.config["codeChecksum"],
    }))
}

async fn serve_code(ctx: &Ctx, sha: &str) -> Reply {
    if sha.len() != 64 || !sha.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(ApiError::new(404, "NotFound", "no such code package"));
    }
    let p = ctx.info.data_dir.join("code").join(format!("{sha}.zip"));
    let b = tokio::fs::read(&p)
        .await
        .map_err(|_| ApiError::new(404, "NotFound", "no such code package"))?;
    let mut r = Response::new(Body::from(b));
    r.headers_mut()
        .insert("content-type", HeaderValue::from_static("application/zip"));
    Ok(r)
}

fn delete_function(ctx: &Arc<Ctx>, f: &str) -> Reply {
    ctx.store.update(|s| {
        s.functions
            .remove(f)
            .map(|_| ())
            .ok_or_else(|| not_found_fn(f))
    })?;
    ctx.listeners.stop_function(f);
    ctx.runtime.wake.notify_one();
    no_content()
}

/// Generic pagination over sorted (key, item) pairs: nextToken = key of the next item.
fn paginate(items: Vec<(String, Value)>, q: &[(String, String)]) -> (Vec<Value>, Option<String>) {
    let limit = query_param(q, "limit")
        .and_then(|l| l.parse::<usize>().ok())
        .filter(|l| *l > 0)
        .unwrap_or(100);
    let token = query_param(q, "nextToken").unwrap_or("");
    let prefix = query_param(q, "prefix").unwrap_or("");
    let mut it = items
        .into_iter()
        .filter(|(k, _)| k.starts_with(prefix) && (token.is_empty() || k.as_str() >= token))
        .peekable();
    let mut out = Vec::new();
    while out.len() < limit {
        match it.next() {
            Some((_, v)) => out.push(v),
            None => break,
        }
    }
    (out, it.peek().map(|(k, _)| k.clone()))
}

fn list_functions(ctx: &Arc<Ctx>, q: &[(String, String)]) -> Reply {
    let items: Vec<(String, Value)> = ctx
        .store
        .read()
        .functions
        .iter()
        .map(|(k, v)| (k.clone(), v.config.clone()))
        .collect();
    let (page, next) = paginate(items, q);
    let mut v = json!({"functions": page});
    if let Some(n) = next {
        v["nextToken"] = json!(n);
    }
    ok(v)
}

fn version_json(v: &VersionRec) -> Value {
    json!({"versionId": v.version_id, "description": v.description, "createdTime": v.created_time, "lastModifiedTime": v.created_time})
}

fn publish(ctx: &Arc<Ctx>, f: &str, body: Map<String, Value>) -> Reply {
    let desc = str_field(&body, "description");
    let v = ctx.store.update(|s| {
        let rec = s.functions.get_mut(f).ok_or_else(|| not_found_fn(f))?;
        let n = rec.next_version.max(1);
        rec.next_version = n + 1;
        rec.dirty = false;
        let vr = VersionRec {
            version_id: n.to_string(),
            description: desc,
            created_time: now_rfc3339(),
            config: rec.config.clone(),
            code_sha: rec.code_sha.clone(),
        };
        rec.versions.insert(n, vr.clone());
        Ok::<_, ApiError>(vr)
    })?;
    ok(version_json(&v))
}

fn list_versions(ctx: &Arc<Ctx>, f: &str, q: &[(String, String)]) -> Reply {
    let st = ctx.store.read();
    let rec = st.functions.get(f).ok_or_else(|| not_found_fn(f))?;
    let forward = query_param(q, "direction") == Some("FORWARD");
    let mut vs: Vec<&VersionRec> = rec.versions.values().collect();
    if !forward {
        vs.reverse();
    }
    let limit = query_param(q, "limit")
        .and_then(|l| l.parse::<usize>().ok())
        .filter(|l| *l > 0)
        .unwrap_or(100);
    let token: Option<u64> = query_param(q, "nextToken").and_then(|t| t.parse().ok());
    let filtered: Vec<&VersionRec> = vs
        .into_iter()
        .filter(|v| {
            let n: u64 = v.version_id.parse().unwrap_or(0);
            token.is_none_or(|t| if forward { n >= t } else { n <= t })
        })
        .collect();
    let page: Vec<Value> = filtered
        .iter()
        .take(limit)
        .map(|v| version_json(v))
        .collect();
    let mut out = json!({"versions": page, "direction": if forward {"FORWARD"} else {"BACKWARD"}});
    if let Some(n) = filtered.get(limit) {
        out["nextToken"] = json!(n.version_id);
    }
    ok(out)
}

fn delete_version(ctx: &Arc<Ctx>, f: &str, v: &str) -> Reply {
    ctx.store.update(|s| {
        let rec = s.functions.get_mut(f).ok_or_else(|| not_found_fn(f))?;
        let n: u64 = v.parse().map_err(|_| {
            ApiError::new(
                404,
                "VersionNotFound",
                format!("version '{v}' does not exist"),
            )
        })?;
        if !rec.versions.contains_key(&n) {
            return Err(ApiError::new(
                404,
                "VersionNotFound",
                format!("version '{v}' does not exist"),
            ));
        }
        for (an, a) in &rec.aliases {
            let main = a["versionId"].as_str() == Some(v);
            let extra = a["additionalVersionWeight"]
                .as_object()
                .is_some_and(|w| w.contains_key(v));
            if main || extra {
                return Err(ApiError::invalid_argument(format!(
                    "version '{v}' is referenced by alias '{an}'; move or delete the alias first"
                )));
            }
        }
        rec.versions.remove(&n);
        Ok(())
    })?;
    no_content()
}

fn validate_alias(rec: &FunctionRec, version: &str, weights: &Value) -> Result<(), ApiError> {
    let exists = |v: &str| {
        v == "LATEST"
            || v.parse::<u64>()
                .ok()
                .is_some_and(|n| rec.versions.contains_key(&n))
    };
    if !exists(version) {
        return Err(ApiError::new(
            404,
            "VersionNotFound",
            format!("version '{version}' does not exist"),
        ));
    }
    if let Some(w) = weights.as_object() {
        let mut sum = 0.0;
        for (k, x) in w {
            if k == version {
                return Err(ApiError::invalid_argument(
                    "additionalVersionWeight must not contain the alias's main version",
                ));
            }
            if !exists(k) {
                return Err(ApiError::new(
                    404,
                    "VersionNotFound",
                    format!("version '{k}' in additionalVersionWeight does not exist"),
                ));
            }
            let x = x
                .as_f64()
                .ok_or_else(|| ApiError::invalid_argument("weights must be numbers"))?;
            if !(0.0..=1.0).contains(&x) {
                return Err(ApiError::invalid_argument("weights must be within [0, 1]"));
            }
            sum += x;
        }
        if sum > 1.0 + 1e-9 {
            return Err(ApiError::invalid_argument(
                "the sum of additionalVersionWeight must not exceed 1",
            ));
        }
    }
    Ok(())
}

/// A string field of a JSON request body (`""` when absent or not a string).
fn str_field(body: &Map<String, Value>, key: &str) -> String {
    body.get(key)
        .and_then(|v| v.as_str())
        .unwrap_or("")
        .to_string()
}

fn create_alias(ctx: &Arc<Ctx>, f: &str, body: Map<String, Value>) -> Reply {
    let name = str_field(&body, "aliasName");
    if !valid_name(&name) || name == "LATEST" {
        return Err(ApiError::invalid_argument(format!(
            "invalid aliasName '{name}'"
        )));
    }
    let version = str_field(&body, "versionId");
    let weights = body
        .get("additionalVersionWeight")
        .cloned()
        .unwrap_or(json!({}));
    let a = ctx.store.update(|s| {
        let rec = s.functions.get_mut(f).ok_or_else(|| not_found_fn(f))?;
        if rec.aliases.contains_key(&name) {
            return Err(ApiError::new(
                409,
                "AliasAlreadyExists",
                format!("alias '{name}' already exists"),
            ));
        }
        validate_alias(rec, &version, &weights)?;
        let now = now_rfc3339();
        let a = json!({
            "aliasName": name, "versionId": version,
            "description": body.get("description").cloned().unwrap_or(json!("")),
            "additionalVersionWeight": weights, "createdTime": now, "lastModifiedTime": now,
        });
        rec.aliases.insert(name.clone(), a.clone());
        Ok(a)
    })?;
    ctx.runtime.wake.notify_one();
    ok(a)
}

fn update_alias(ctx: &Arc<Ctx>, f: &str, a: &str, body: Map<String, Value>) -> Reply {
    let out = ctx.store.update(|s| {
        let rec = s.functions.get_mut(f).ok_or_else(|| not_found_fn(f))?;
        let cur = rec.aliases.get(a).cloned().ok_or_else(|| {
            ApiError::new(404, "AliasNotFound", format!("alias '{a}' does not exist"))
        })?;
        let version = body
            .get("versionId")
            .and_then(|v| v.as_str())
            .map(String::from)
            .unwrap_or_else(|| cur["versionId"].as_str().unwrap_or("").to_string());
        let weights = body
            .get("additionalVersionWeight")
            .filter(|v| !v.is_null())
            .cloned()
            .unwrap_or(cur["additionalVersionWeight"].clone());
        validate_alias(rec, &version, &weights)?;
        let mut n = cur.clone();
        n["versionId"] = json!(version);
        n["additionalVersionWeight"] = weights;
        if let Some(d) = body.get("description").filter(|v| !v.is_null()) {
            n["description"] = d.clone();
        }
        n["lastModifiedTime"] = json!(now_rfc3339());
        rec.aliases.insert(a.to_string(), n.clone());
        Ok::<_, ApiError>(n)
    })?;
    ctx.runtime.wake.notify_one();
    ok(out)
}

fn get_alias(ctx: &Arc<Ctx>, f: &str, a: &str) -> Reply {
    let st = ctx.store.read();
    let rec = st.functions.get(f).ok_or_else(|| not_found_fn(f))?;
    let a = rec.aliases.get(a).ok_or_else(|| {
        ApiError::new(404, "AliasNotFound", format!("alias '{a}' does not exist"))
    })?;
    ok(a.clone())
}

fn list_aliases(ctx: &Arc<Ctx>, f: &str, q: &[(String, String)]) -> Reply {
    let st = ctx.store.read();
    let rec = st.functions.get(f).ok_or_else(|| not_found_fn(f))?;
    let (page, next) = paginate(
        rec.aliases
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        q,
    );
    let mut v = json!({"aliases": page});
    if let Some(n) = next {
        v["nextToken"] = json!(n);
    }
    ok(v)
}

fn delete_alias(ctx: &Arc<Ctx>, f: &str, a: &str) -> Reply {
    ctx.store.update(|s| {
        let rec = s.functions.get_mut(f).ok_or_else(|| not_found_fn(f))?;
        if rec.provision.get(a).is_some_and(|p| p.target > 0) {
            return Err(ApiError::invalid_argument(format!(
                "alias '{a}' has a provision config; delete it first"
            )));
        }
        rec.aliases.remove(a).ok_or_else(|| {
            ApiError::new(404, "AliasNotFound", format!("alias '{a}' does not exist"))
        })?;
        rec.provision.remove(a);
        Ok(())
    })?;
    no_content()
}

fn provision_json(ctx: &Ctx, f: &str, q: &str, p: &ProvisionRec) -> Value {
    let current = ctx.runtime.provisioned_current(f, q);
    json!({
        "target": p.target,
        "defaultTarget": p.default_target.unwrap_or(p.target),
        "current": current,
        "currentError": ctx.runtime.provision_error(f, q),
        "functionArn": format!("{}/{}", arn(ctx, f), q),
        "alwaysAllocateCPU": p.always_allocate_cpu.unwrap_or(true),
        "alwaysAllocateGPU": p.always_allocate_gpu.unwrap_or(true),
        "scheduledActions": if p.scheduled_actions.is_null() { json!([]) } else { p.scheduled_actions.clone() },
        "targetTrackingPolicies": if p.target_tracking_policies.is_null() { json!([]) } else { p.target_tracking_policies.clone() },
    })
}

fn put_provision(ctx: &Arc<Ctx>, f: &str, q: Option<&str>, body: Map<String, Value>) -> Reply {
    let q = q.filter(|q| !q.is_empty()).unwrap_or("LATEST").to_string();
    if q.parse::<u64>().is_ok() {
        return Err(ApiError::invalid_argument(
            "provision configs are set on an alias (or LATEST), not a version number",
        ));
    }
    resolve(ctx, f, Some(&q), false)?;
    let default_target = body.get("defaultTarget").and_then(|v| v.as_i64());
    let target = body
        .get("target")
        .and_then(|v| v.as_i64())
        .or(default_target)
        .unwrap_or(0);
    if !(0..=10000).contains(&target) {
        return Err(ApiError::invalid_argument(
            "target must be within 0..=10000",
        ));
    }
    let rec = ProvisionRec {
        target,
        default_target,
        always_allocate_cpu: body.get("alwaysAllocateCPU").and_then(|v| v.as_bool()),
        always_allocate_gpu: body.get("alwaysAllocateGPU").and_then(|v| v.as_bool()),
        scheduled_actions: body.get("scheduledActions").cloned().unwrap_or(json!([])),
        target_tracking_policies: body
            .get("targetTrackingPolicies")
            .cloned()
            .unwrap_or(json!([])),
    };
    ctx.store.update(|s| {
        let fr = s.functions.get_mut(f).ok_or_else(|| not_found_fn(f))?;
        fr.provision.insert(q.clone(), rec.clone());
        Ok::<_, ApiError>(())
    })?;
    ctx.runtime.wake.notify_one();
    ok(provision_json(ctx, f, &q, &rec))
}

fn get_provision(ctx: &Arc<Ctx>, f: &str, q: Option<&str>) -> Reply {
    let q = q.filter(|q| !q.is_empty()).unwrap_or("LATEST");
    let st = ctx.store.read();
    let fr = st.functions.get(f).ok_or_else(|| not_found_fn(f))?;
    let p = fr.provision.get(q).cloned().ok_or_else(|| {
        ApiError::new(
            404,
            "ProvisionConfigNotFound",
            format!("provision config of function '{f}' qualifier '{q}' does not exist"),
        )
    })?;
    drop(st);
    ok(provision_json(ctx, f, q, &p))
}

fn delete_provision(ctx: &Arc<Ctx>, f: &str, q: Option<&str>) -> Reply {
    let q = q.filter(|q| !q.is_empty()).unwrap_or("LATEST");
    ctx.store.update(|s| {
        let fr = s.functions.get_mut(f).ok_or_else(|| not_found_fn(f))?;
        fr.provision.remove(q);
        Ok::<_, ApiError>(())
    })?;
    ctx.runtime.wake.notify_one();
    no_content()
}

fn list_provisions(ctx: &Arc<Ctx>, f: Option<&str>) -> Reply {
    let all: Vec<(String, String, ProvisionRec)> = {
        let st = ctx.store.read();
        st.functions
            .iter()
            .filter(|(n, _)| f.is_none_or(|f| f.is_empty() || f == n.as_str()))
            .flat_map(|(n, r)| {
                r.provision
                    .iter()
                    .map(|(q, p)| (n.clone(), q.clone(), p.clone()))
                    .collect::<Vec<_>>()
            })
            .collect()
    };
    let list: Vec<Value> = all
        .iter()
        .map(|(n, q, p)| provision_json(ctx, n, q, p))
        .collect();
    ok(json!({"provisionConfigs": list}))
}

fn trigger_json(ctx: &Ctx, f: &str, t: &TriggerRec) -> Value {
    let mut v = t.trigger.clone();
    if v["triggerType"].as_str() == Some("http") {
        let port = ctx
            .listeners
            .port(f, v["triggerName"].as_str().unwrap_or(""))
            .unwrap_or(t.port);
        let url = format!("http://{}:{}", ctx.cfg.host, port);
        v["httpTrigger"] = json!({"urlInternet": url, "urlIntranet": url});
    }
    v
}

async fn create_trigger(ctx: &Arc<Ctx>, f: &str, body: Map<String, Value>) -> Reply {
    let name = str_field(&body, "triggerName");
    if !valid_name(&name) {
        return Err(ApiError::invalid_argument(format!(
            "invalid triggerName '{name}'"
        )));
    }
    let ttype = str_field(&body, "triggerType");
    if ttype.is_empty() {
        return Err(ApiError::invalid_argument("triggerType is required"));
    }
    let tc = body.get("triggerConfig").cloned().unwrap_or(json!("{}"));
    let tc = match tc {
        Value::String(s) => {
            serde_json::from_str::<Value>(&s).map_err(|e| {
                ApiError::invalid_argument(format!("triggerConfig is not valid JSON: {e}"))
            })?;
            s
        }
        other => other.to_string(),
    };
    {
        let st = ctx.store.read();
        let fr = st.functions.get(f).ok_or_else(|| not_found_fn(f))?;
        if fr.triggers.contains_key(&name) {
            return Err(ApiError::new(
                409,
                "TriggerAlreadyExists",
                format!("trigger '{name}' already exists"),
            ));
        }
    }
    let now = now_rfc3339();
    let trig = json!({
        "triggerName": name, "triggerType": ttype, "triggerId": uuid::Uuid::new_v4().to_string(),
        "qualifier": body.get("qualifier").and_then(|v| v.as_str()).unwrap_or("LATEST"),
        "description": body.get("description").cloned().unwrap_or(json!("")),
        "invocationRole": body.get("invocationRole").cloned().unwrap_or(json!("")),
        "sourceArn": body.get("sourceArn").cloned().unwrap_or(json!("")),
        "triggerConfig": tc, "targetArn": arn(ctx, f), "status": "Success",
        "createdTime": now, "lastModifiedTime": now,
    });
    let port = if ttype == "http" {
        crate::gateway::start_trigger(ctx, f, &name, 0)
            .await
            .map_err(|e| ApiError::internal(format!("opening trigger port: {e}")))?
    } else {
        0
    };
    let rec = TriggerRec {
        trigger: trig,
        port,
    };
    let r = ctx.store.update(|s| {
        let fr = s.functions.get_mut(f).ok_or_else(|| not_found_fn(f))?;
        if fr.triggers.contains_key(&name) {
            return Err(ApiError::new(
                409,
                "TriggerAlreadyExists",
                format!("trigger '{name}' already exists"),
            ));
        }
        fr.triggers.insert(name.clone(), rec.clone());
        Ok(())
    });
    if let Err(e) = r {
        if port != 0 && e.code != "TriggerAlreadyExists" {
            ctx.listeners.stop(f, &name);
        }
        return Err(e);
    }
    ok(trigger_json(ctx, f, &rec))
}

fn update_trigger(ctx: &Arc<Ctx>, f: &str, t: &str, body: Map<String, Value>) -> Reply {
    let rec = ctx.store.update(|s| {
        let fr = s.functions.get_mut(f).ok_or_else(|| not_found_fn(f))?;
        let tr = fr.triggers.get_mut(t).ok_or_else(|| {
            ApiError::new(
                404,
                "TriggerNotFound",
                format!("trigger '{t}' does not exist"),
            )
        })?;
        for k in ["description", "invocationRole", "qualifier"] {
            if let Some(v) = body.get(k).filter(|v| !v.is_null()) {
                tr.trigger[k] = v.clone();
            }
        }
        if let Some(v) = body.get("triggerConfig").filter(|v| !v.is_null()) {
            let s = match v {
                Value::String(s) => {
                    serde_json::from_str::<Value>(s).map_err(|e| {
                        ApiError::invalid_argument(format!("triggerConfig is not valid JSON: {e}"))
                    })?;
                    s.clone()
                }
                o => o.to_string(),
            };
            tr.trigger["triggerConfig"] = json!(s);
        }
        tr.trigger["lastModifiedTime"] = json!(now_rfc3339());
        Ok::<_, ApiError>(tr.clone())
    })?;
    ok(trigger_json(ctx, f, &rec))
}

fn get_trigger(ctx: &Arc<Ctx>, f: &str, t: &str) -> Reply {
    let st = ctx.store.read();
    let fr = st.functions.get(f).ok_or_else(|| not_found_fn(f))?;
    let tr = fr.triggers.get(t).ok_or_else(|| {
        ApiError::new(
            404,
            "TriggerNotFound",
            format!("trigger '{t}' does not exist"),
        )
    })?;
    ok(trigger_json(ctx, f, tr))
}

fn list_triggers(ctx: &Arc<Ctx>, f: &str, q: &[(String, String)]) -> Reply {
    let st = ctx.store.read();
    let fr = st.functions.get(f).ok_or_else(|| not_found_fn(f))?;
    let items = fr
        .triggers
        .iter()
        .map(|(k, v)| (k.clone(), trigger_json(ctx, f, v)))
        .collect();
    let (page, next) = paginate(items, q);
    let mut v = json!({"triggers": page});
    if let Some(n) = next {
        v["nextToken"] = json!(n);
    }
    ok(v)
}

fn delete_trigger(ctx: &Arc<Ctx>, f: &str, t: &str) -> Reply {
    ctx.store.update(|s| {
        let fr = s.functions.get_mut(f).ok_or_else(|| not_found_fn(f))?;
        fr.triggers.remove(t).ok_or_else(|| {
            ApiError::new(
                404,
                "TriggerNotFound",
                format!("trigger '{t}' does not exist"),
            )
        })?;
        Ok::<_, ApiError>(())
    })?;
    ctx.listeners.stop(f, t);
    no_content()
}

fn domain_json(ctx: &Ctx, d: &Value) -> Value {
    let mut v = d.clone();
    v["accountId"] = json!(ctx.cfg.account_id);
    v["apiVersion"] = json!("2023-03-30");
    v["subdomainCount"] = json!("1");
    v
}

fn create_domain(ctx: &Arc<Ctx>, body: Map<String, Value>) -> Reply {
    let name = body
        .get("domainName")
        .and_then(|v| v.as_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    if name.is_empty() || name.contains('/') {
        return Err(ApiError::invalid_argument(format!(
            "invalid domainName '{name}'"
        )));
    }
    let now = now_rfc3339();
    let mut d = Value::Object(body);
    d["domainName"] = json!(name);
    d["createdTime"] = json!(now);
    d["lastModifiedTime"] = json!(now);
    if d["protocol"].is_null() {
        d["protocol"] = json!("HTTP");
    }
    ctx.store.update(|s| {
        if s.custom_domains.contains_key(&name) {
            return Err(ApiError::new(
                409,
                "DomainNameAlreadyExists",
                format!("custom domain '{name}' already exists"),
            ));
        }
        s.custom_domains.insert(name.clone(), d.clone());
        Ok(())
    })?;
    ok(domain_json(ctx, &d))
}

fn update_domain(ctx: &Arc<Ctx>, dn: &str, body: Map<String, Value>) -> Reply {
    let dn = dn.to_ascii_lowercase();
    let d = ctx.store.update(|s| {
        let d = s.custom_domains.get_mut(&dn).ok_or_else(|| {
            ApiError::new(
                404,
                "DomainNameNotFound",
                format!("custom domain '{dn}' does not exist"),
            )
        })?;
        for (k, v) in body {
            if k != "domainName" && !v.is_null() {
                d[k.as_str()] = v;
            }
        }
        d["lastModifiedTime"] = json!(now_rfc3339());
        Ok::<_, ApiError>(d.clone())
    })?;
    ok(domain_json(ctx, &d))
}

fn get_domain(ctx: &Arc<Ctx>, dn: &str) -> Reply {
    let dn = dn.to_ascii_lowercase();
    let st = ctx.store.read();
    let d = st.custom_domains.get(&dn).ok_or_else(|| {
        ApiError::new(
            404,
            "DomainNameNotFound",
            format!("custom domain '{dn}' does not exist"),
        )
    })?;
    ok(domain_json(ctx, d))
}

fn list_domains(ctx: &Arc<Ctx>, q: &[(String, String)]) -> Reply {
    let items = ctx
        .store
        .read()
        .custom_domains
        .iter()
        .map(|(k, v)| (k.clone(), domain_json(ctx, v)))
        .collect();
    let (page, next) = paginate(items, q);
    let mut v = json!({"customDomains": page});
    if let Some(n) = next {
        v["nextToken"] = json!(n);
    }
    ok(v)
}

fn delete_domain(ctx: &Arc<Ctx>, dn: &str) -> Reply {
    let dn = dn.to_ascii_lowercase();
    ctx.store.update(|s| {
        s.custom_domains.remove(&dn).map(|_| ()).ok_or_else(|| {
            ApiError::new(
                404,
                "DomainNameNotFound",
                format!("custom domain '{dn}' does not exist"),
            )
        })
    })?;
    no_content()
}

async fn invoke(
    ctx: &Arc<Ctx>,
    parts: &http::request::Parts,
    f: &str,
    q: Option<&str>,
    body: bytes::Bytes,
    rid: &str,
) -> Reply {
    let t = resolve(ctx, f, q, true)?;
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
            let _ = ctx2.runtime.forward(&ctx2, &t2, req, &rid2).await;
        });
        let mut r = Response::new(Body::empty());
        *r.status_mut() = StatusCode::ACCEPTED;
        if let Ok(v) = HeaderValue::from_str(rid) {
            r.headers_mut().insert("x-fc-async-task-id", v);
        }
        return Ok(r);
    }
    match ctx.runtime.forward(ctx, &t, req, rid).await {
        Ok(r) => Ok(r),
        Err(e) if e.error_type.is_some() => Ok(e.to_response(Api::Fc, rid)),
        Err(e) => Err(e),
    }
}

fn list_instances(ctx: &Arc<Ctx>, f: &str, q: Option<&str>) -> Reply {
    if !ctx.store.read().functions.contains_key(f) {
        return Err(not_found_fn(f));
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
                "resourceType": if i.provisioned.is_some() { "Provisioned" } else { "OnDemand" },
            })
        })
        .collect();
    ok(json!({"instances": list, "requestId": request_id()}))
}

fn set_invocation(ctx: &Arc<Ctx>, f: &str, disabled: bool) -> Reply {
    ctx.store.update(|s| {
        let fr = s.functions.get_mut(f).ok_or_else(|| not_found_fn(f))?;
        fr.invocation_disabled = disabled;
        Ok::<_, ApiError>(())
    })?;
    ok(json!({}))
}
