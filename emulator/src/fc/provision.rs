//! Provision configs: how many instances to keep ready per alias (or LATEST).

use crate::api_error::ApiError;
use crate::context::Ctx;
use crate::fc::reply::{Reply, function_not_found, no_content, ok};
use crate::fc::request::arn;
use crate::runtime::resolve;
use crate::state::ProvisionRec;
use serde_json::{Map, Value, json};
use std::sync::Arc;

pub fn provision_json(ctx: &Ctx, f: &str, q: &str, p: &ProvisionRec) -> Value {
    let current = ctx.runtime.provisioned_current(f, q);
    json!({
        "target": p.target_now(),
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

pub fn put_provision(ctx: &Arc<Ctx>, f: &str, q: Option<&str>, body: Map<String, Value>) -> Reply {
    let q = q.filter(|q| !q.is_empty()).unwrap_or("LATEST").to_string();
    if q.parse::<u64>().is_ok() {
        return Err(ApiError::invalid_argument(
            "provision configs are set on an alias (or LATEST), not a version number",
        ));
    }
    resolve(&ctx.store, f, Some(&q), false)?;
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
    if let Some(actions) = body.get("scheduledActions") {
        crate::schedule::validate(actions).map_err(ApiError::invalid_argument)?;
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
        let fr = s
            .functions
            .get_mut(f)
            .ok_or_else(|| function_not_found(f))?;
        fr.provision.insert(q.clone(), rec.clone());
        Ok::<_, ApiError>(())
    })?;
    ctx.runtime.wake.notify_one();
    ok(provision_json(ctx, f, &q, &rec))
}

pub fn get_provision(ctx: &Arc<Ctx>, f: &str, q: Option<&str>) -> Reply {
    let q = q.filter(|q| !q.is_empty()).unwrap_or("LATEST");
    let st = ctx.store.read();
    let fr = st.functions.get(f).ok_or_else(|| function_not_found(f))?;
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

pub fn delete_provision(ctx: &Arc<Ctx>, f: &str, q: Option<&str>) -> Reply {
    let q = q.filter(|q| !q.is_empty()).unwrap_or("LATEST");
    ctx.store.update(|s| {
        let fr = s
            .functions
            .get_mut(f)
            .ok_or_else(|| function_not_found(f))?;
        fr.provision.remove(q);
        Ok::<_, ApiError>(())
    })?;
    ctx.runtime.wake.notify_one();
    no_content()
}

pub fn list_provisions(ctx: &Arc<Ctx>, q: &[(String, String)]) -> Reply {
    let f = crate::fc::request::query_param(q, "functionName");
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
    // Keyed `function/qualifier`, so pages are stable in the order FC lists them.
    let items: Vec<(String, Value)> = all
        .iter()
        .map(|(n, qualifier, p)| {
            (
                format!("{n}/{qualifier}"),
                provision_json(ctx, n, qualifier, p),
            )
        })
        .collect();
    // `prefix` filters names in the other lists; here the function filter is `functionName`.
    let q: Vec<(String, String)> = q.iter().filter(|(k, _)| k != "prefix").cloned().collect();
    ok(crate::fc::request::page_json(
        "provisionConfigs",
        items,
        &q,
    )?)
}
