//! Aliases: a name for a version, optionally splitting traffic with `additionalVersionWeight`.

use crate::api_error::ApiError;
use crate::context::Ctx;
use crate::fc::reply::{Reply, function_not_found, no_content, ok};
use crate::fc::request::{page_json, str_field, valid_name};
use crate::state::FunctionRec;
use crate::util::now_rfc3339;
use serde_json::{Map, Value, json};
use std::sync::Arc;

pub fn validate_alias(rec: &FunctionRec, version: &str, weights: &Value) -> Result<(), ApiError> {
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

pub fn create_alias(ctx: &Arc<Ctx>, f: &str, body: Map<String, Value>) -> Reply {
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
        let rec = s
            .functions
            .get_mut(f)
            .ok_or_else(|| function_not_found(f))?;
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

pub fn update_alias(ctx: &Arc<Ctx>, f: &str, a: &str, body: Map<String, Value>) -> Reply {
    let out = ctx.store.update(|s| {
        let rec = s
            .functions
            .get_mut(f)
            .ok_or_else(|| function_not_found(f))?;
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

pub fn get_alias(ctx: &Arc<Ctx>, f: &str, a: &str) -> Reply {
    let st = ctx.store.read();
    let rec = st.functions.get(f).ok_or_else(|| function_not_found(f))?;
    let a = rec.aliases.get(a).ok_or_else(|| {
        ApiError::new(404, "AliasNotFound", format!("alias '{a}' does not exist"))
    })?;
    ok(a.clone())
}

pub fn list_aliases(ctx: &Arc<Ctx>, f: &str, q: &[(String, String)]) -> Reply {
    let st = ctx.store.read();
    let rec = st.functions.get(f).ok_or_else(|| function_not_found(f))?;
    ok(page_json(
        "aliases",
        rec.aliases
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        q,
    )?)
}

pub fn delete_alias(ctx: &Arc<Ctx>, f: &str, a: &str) -> Reply {
    ctx.store.update(|s| {
        let rec = s
            .functions
            .get_mut(f)
            .ok_or_else(|| function_not_found(f))?;
        if rec.provision.get(a).is_some_and(|p| p.target_now() > 0) {
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
