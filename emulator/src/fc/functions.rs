//! Functions: create, update, get, list, delete, code URL, invocation switch.

use crate::api_error::ApiError;
use crate::context::Ctx;
use crate::fc::code::store_code;
use crate::fc::reply::{Reply, function_not_found, no_content, ok};
use crate::fc::request::{arn, page_json, str_field, valid_name};
use crate::runtime::resolve;
use crate::state::FunctionRec;
use crate::util::now_rfc3339;
use serde_json::{Map, Value, json};
use std::sync::Arc;

/// The value ranges of the SDK's CreateFunctionInput/UpdateFunctionInput docs and the FC3
/// limits table: memory 128–32768 MB in multiples of 64, vCPU 0.05–16 in steps of 0.05 with
/// vCPU : memory (GB) between 1:1 and 1:4, disk 512 or 10240 MB, timeout 1–86400 s,
/// initializer ≤ 300 s, preStop ≤ 90 s. Present fields only: update merges.
fn check_limits(cfg: &Map<String, Value>) -> Result<(), ApiError> {
    let int = |k: &str| cfg.get(k).filter(|v| !v.is_null());
    let bad = |m: String| Err(ApiError::invalid_argument(m));
    let memory = match int("memorySize") {
        Some(v) => match v.as_i64() {
            Some(m) if (128..=32768).contains(&m) && m % 64 == 0 => Some(m),
            _ => {
                return bad(format!(
                    "memorySize {v} must be 128–32768 MB, a multiple of 64"
                ));
            }
        },
        None => None,
    };
    if let Some(v) = int("cpu") {
        let Some(cpu) = v.as_f64().filter(|c| (0.05..=16.0).contains(c)) else {
            return bad(format!("cpu {v} must be 0.05–16 vCPU"));
        };
        if ((cpu * 100.0).round() as i64) % 5 != 0 {
            return bad(format!("cpu {v} must be a multiple of 0.05 vCPU"));
        }
        if let Some(m) = memory {
            let gb = m as f64 / 1024.0;
            if gb < cpu - 1e-9 || gb > cpu * 4.0 + 1e-9 {
                return bad(format!(
                    "the ratio of cpu ({cpu} vCPU) to memorySize ({m} MB) must be between 1:1 and 1:4"
                ));
            }
        }
    }
    if let Some(v) = int("diskSize")
        && !matches!(v.as_i64(), Some(512 | 10240))
    {
        return bad(format!("diskSize {v} must be 512 or 10240 MB"));
    }
    if let Some(v) = int("timeout")
        && !v.as_i64().is_some_and(|t| (1..=86400).contains(&t))
    {
        return bad(format!("timeout {v} must be 1–86400 seconds"));
    }
    let hook = |name: &str| {
        cfg.get("instanceLifecycleConfig")
            .map(|l| &l[name]["timeout"])
    };
    for (name, max) in [("initializer", 300), ("preStop", 90)] {
        if let Some(t) = hook(name).filter(|t| !t.is_null())
            && !t.as_i64().is_some_and(|t| (1..=max).contains(&t))
        {
            return bad(format!("{name} timeout {t} must be 1–{max} seconds"));
        }
    }
    Ok(())
}

pub fn check_env(cfg: &Map<String, Value>) -> Result<(), ApiError> {
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

pub fn create_function(ctx: &Arc<Ctx>, mut body: Map<String, Value>) -> Reply {
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
    check_limits(&body)?;
    check_network_and_logs(ctx, &body)?;
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
    let attaches = attaches_network(&body);
    body.insert(
        "state".into(),
        json!(if attaches { "Pending" } else { "Active" }),
    );
    if attaches {
        body.insert(
            "stateReason".into(),
            json!("Function is being created: attaching its VPC/NAS"),
        );
    }
    body.insert("lastUpdateStatus".into(), json!("Successful"));
    let settles_at_ms = settles_at(ctx, attaches);
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
                settles_at_ms,
                ..Default::default()
            },
        );
        Ok(())
    })?;
    ok(cfg)
}

pub fn update_function(ctx: &Arc<Ctx>, f: &str, mut body: Map<String, Value>) -> Reply {
    check_env(&body)?;
    check_limits(&body)?;
    check_network_and_logs(ctx, &body)?;
    if !ctx.store.read().functions.contains_key(f) {
        return Err(function_not_found(f));
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
        let rec = s
            .functions
            .get_mut(f)
            .ok_or_else(|| function_not_found(f))?;
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
        let attaches = attaches_network(obj);
        if attaches {
            obj.insert("lastUpdateStatus".into(), json!("InProgress"));
            obj.insert(
                "lastUpdateStatusReason".into(),
                json!("Function is being updated: attaching its VPC/NAS"),
            );
        }
        rec.settles_at_ms = settles_at(ctx, attaches).max(rec.settles_at_ms);
        rec.dirty = true;
        Ok::<_, ApiError>(rec.latest_view())
    })?;
    ok(cfg)
}

pub fn get_function(ctx: &Arc<Ctx>, f: &str, q: Option<&str>) -> Reply {
    if q.is_none_or(|q| q.is_empty() || q == "LATEST") {
        let st = ctx.store.read();
        let rec = st.functions.get(f).ok_or_else(|| function_not_found(f))?;
        return ok(rec.latest_view());
    }
    let t = resolve(&ctx.store, f, q, false)?;
    ok(t.config)
}

/// What FC checks of the resources a function names: its vSwitches exist, belong to its VPC
/// and sit in a zone FC serves ("vSwitch is in unsupported zone"), its security group is in
/// that VPC, and its `logConfig` logstore exists. Ids the emulator never issued are refused
/// like the cloud refuses another account's or a deleted resource.
fn check_network_and_logs(ctx: &Ctx, cfg: &Map<String, Value>) -> Result<(), ApiError> {
    let vpc = cfg.get("vpcConfig").filter(|v| !v.is_null());
    if let Some(vpc) = vpc {
        let vpc_id = vpc["vpcId"].as_str().unwrap_or("");
        if !vpc_id.is_empty() {
            let st = ctx.store.read();
            let infra = &st.infra;
            if !infra.vpcs.contains_key(vpc_id) {
                return Err(ApiError::invalid_argument(format!(
                    "vpcConfig.vpcId: VPC {vpc_id} does not exist in this region"
                )));
            }
            let fc_zones: Vec<String> = crate::rpc::vpc::zone_ids(&ctx.cfg.region)
                .into_iter()
                .take(2)
                .collect();
            for id in vpc["vSwitchIds"].as_array().into_iter().flatten() {
                let id = id.as_str().unwrap_or("");
                let Some(sw) = infra.vswitches.get(id).filter(|s| s.vpc_id == vpc_id) else {
                    return Err(ApiError::invalid_argument(format!(
                        "vpcConfig.vSwitchIds: vSwitch {id} does not exist in VPC {vpc_id}"
                    )));
                };
                if !fc_zones.contains(&sw.zone_id) {
                    return Err(ApiError::invalid_argument(format!(
                        "vSwitch is in unsupported zone: {id} is in {}; Function Compute \
                         serves {}",
                        sw.zone_id,
                        fc_zones.join(", ")
                    )));
                }
            }
            let sg = vpc["securityGroupId"].as_str().unwrap_or("");
            if infra
                .security_groups
                .get(sg)
                .is_none_or(|g| g.vpc_id != vpc_id)
            {
                return Err(ApiError::invalid_argument(format!(
                    "vpcConfig.securityGroupId: security group {sg} does not exist in VPC {vpc_id}"
                )));
            }
        }
    }
    if let Some(log) = cfg.get("logConfig").filter(|v| !v.is_null()) {
        let project = log["project"].as_str().unwrap_or("");
        let logstore = log["logstore"].as_str().unwrap_or("");
        if !project.is_empty() || !logstore.is_empty() {
            ctx.sls.logstore(project, logstore).map_err(|e| {
                ApiError::invalid_argument(format!(
                    "logConfig: project {project} / logstore {logstore}: {}",
                    e.message
                ))
            })?;
        }
    }
    Ok(())
}

/// A function with a VPC or NAS mount: FC attaches an ENI, which takes a while.
fn attaches_network(config: &Map<String, Value>) -> bool {
    let vpc = config
        .get("vpcConfig")
        .and_then(|v| v["vpcId"].as_str())
        .is_some_and(|id| !id.is_empty());
    let nas = config
        .get("nasConfig")
        .and_then(|n| n["mountPoints"].as_array())
        .is_some_and(|m| !m.is_empty());
    vpc || nas
}

fn settles_at(ctx: &Ctx, attaches: bool) -> u64 {
    if attaches {
        crate::util::now_ms() + ctx.cfg.attach_delay.as_millis() as u64
    } else {
        0
    }
}

pub fn get_code(ctx: &Arc<Ctx>, f: &str, q: Option<&str>) -> Reply {
    let t = resolve(&ctx.store, f, q, false)?;
    ok(json!({
        "url": format!("{}/_emulator/code/{}.zip", ctx.info.fc_endpoint, t.code_sha),
        "checksum": t.config["codeChecksum"],
    }))
}

pub fn delete_function(ctx: &Arc<Ctx>, f: &str) -> Reply {
    ctx.store.update(|s| {
        s.functions
            .remove(f)
            .map(|_| ())
            .ok_or_else(|| function_not_found(f))
    })?;
    ctx.listeners.stop_function(f);
    ctx.runtime.wake.notify_one();
    no_content()
}

pub fn list_functions(ctx: &Arc<Ctx>, q: &[(String, String)]) -> Reply {
    let items: Vec<(String, Value)> = ctx
        .store
        .read()
        .functions
        .iter()
        .map(|(k, v)| (k.clone(), v.latest_view()))
        .collect();
    ok(page_json("functions", items, q)?)
}

pub fn set_invocation(ctx: &Arc<Ctx>, f: &str, disabled: bool) -> Reply {
    ctx.store.update(|s| {
        let fr = s
            .functions
            .get_mut(f)
            .ok_or_else(|| function_not_found(f))?;
        fr.invocation_disabled = disabled;
        Ok::<_, ApiError>(())
    })?;
    ok(json!({}))
}
