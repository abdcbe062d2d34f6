//! Function versions: publish_version, list, delete.

use crate::api_error::ApiError;
use crate::context::Ctx;
use crate::fc::reply::{Reply, function_not_found, no_content, ok};
use crate::fc::request::{query_param, str_field};
use crate::state::VersionRec;
use crate::util::now_rfc3339;
use serde_json::{Map, Value, json};
use std::sync::Arc;

pub fn version_json(v: &VersionRec) -> Value {
    json!({"versionId": v.version_id, "description": v.description, "createdTime": v.created_time, "lastModifiedTime": v.created_time})
}

pub fn publish_version(ctx: &Arc<Ctx>, f: &str, body: Map<String, Value>) -> Reply {
    let desc = str_field(&body, "description");
    let v = ctx.store.update(|s| {
        let rec = s
            .functions
            .get_mut(f)
            .ok_or_else(|| function_not_found(f))?;
        let n = rec.next_version.max(1);
        rec.next_version = n + 1;
        rec.dirty = false;
        let vr = VersionRec {
            version_id: n.to_string(),
            description: desc,
            created_time: now_rfc3339(),
            config: rec.latest_view(),
            code_sha: rec.code_sha.clone(),
        };
        rec.versions.insert(n, vr.clone());
        Ok::<_, ApiError>(vr)
    })?;
    ok(version_json(&v))
}

pub fn list_versions(ctx: &Arc<Ctx>, f: &str, q: &[(String, String)]) -> Reply {
    let st = ctx.store.read();
    let rec = st.functions.get(f).ok_or_else(|| function_not_found(f))?;
    let forward = query_param(q, "direction") == Some("FORWARD");
    let mut vs: Vec<&VersionRec> = rec.versions.values().collect();
    if !forward {
        vs.reverse();
    }
    // Same bounds as every FC3 list API (SDK `ListFunctionVersionsRequest.limit`: 1–100).
    let limit = match query_param(q, "limit") {
        None => 100,
        Some(l) => l
            .parse::<usize>()
            .ok()
            .filter(|l| (1..=100).contains(l))
            .ok_or_else(|| ApiError::invalid_argument(format!("limit `{l}` must be 1..=100")))?,
    };
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

pub fn delete_version(ctx: &Arc<Ctx>, f: &str, v: &str) -> Reply {
    ctx.store.update(|s| {
        let rec = s
            .functions
            .get_mut(f)
            .ok_or_else(|| function_not_found(f))?;
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
        // As DeleteAlias does: instances provisioned on the version would outlive it.
        if rec.provision.get(v).is_some_and(|p| p.target_now() > 0) {
            return Err(ApiError::invalid_argument(format!(
                "version '{v}' has a provision config; delete it first"
            )));
        }
        rec.provision.remove(v);
        rec.versions.remove(&n);
        Ok(())
    })?;
    no_content()
}
