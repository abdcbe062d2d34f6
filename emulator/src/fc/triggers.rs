//! Triggers; HTTP triggers also get their own listening port (see `gateway`).

use crate::api_error::ApiError;
use crate::context::Ctx;
use crate::fc::reply::{Reply, function_not_found, no_content, ok};
use crate::fc::request::{arn, page_json, str_field, valid_name};
use crate::state::TriggerRec;
use crate::util::now_rfc3339;
use serde_json::{Map, Value, json};
use std::sync::Arc;

pub fn trigger_json(ctx: &Ctx, f: &str, t: &TriggerRec) -> Value {
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

pub async fn create_trigger(ctx: &Arc<Ctx>, f: &str, body: Map<String, Value>) -> Reply {
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
    let tc = config_string(body.get("triggerConfig").unwrap_or(&json!("{}")))?;
    {
        let st = ctx.store.read();
        let fr = st.functions.get(f).ok_or_else(|| function_not_found(f))?;
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
        let fr = s
            .functions
            .get_mut(f)
            .ok_or_else(|| function_not_found(f))?;
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

pub fn update_trigger(ctx: &Arc<Ctx>, f: &str, t: &str, body: Map<String, Value>) -> Reply {
    let rec = ctx.store.update(|s| {
        let fr = s
            .functions
            .get_mut(f)
            .ok_or_else(|| function_not_found(f))?;
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
            tr.trigger["triggerConfig"] = json!(config_string(v)?);
        }
        tr.trigger["lastModifiedTime"] = json!(now_rfc3339());
        Ok::<_, ApiError>(tr.clone())
    })?;
    ok(trigger_json(ctx, f, &rec))
}

pub fn get_trigger(ctx: &Arc<Ctx>, f: &str, t: &str) -> Reply {
    let st = ctx.store.read();
    let fr = st.functions.get(f).ok_or_else(|| function_not_found(f))?;
    let tr = fr.triggers.get(t).ok_or_else(|| {
        ApiError::new(
            404,
            "TriggerNotFound",
            format!("trigger '{t}' does not exist"),
        )
    })?;
    ok(trigger_json(ctx, f, tr))
}

pub fn list_triggers(ctx: &Arc<Ctx>, f: &str, q: &[(String, String)]) -> Reply {
    let st = ctx.store.read();
    let fr = st.functions.get(f).ok_or_else(|| function_not_found(f))?;
    let items = fr
        .triggers
        .iter()
        .map(|(k, v)| (k.clone(), trigger_json(ctx, f, v)))
        .collect();
    ok(page_json("triggers", items, q)?)
}

pub fn delete_trigger(ctx: &Arc<Ctx>, f: &str, t: &str) -> Reply {
    ctx.store.update(|s| {
        let fr = s
            .functions
            .get_mut(f)
            .ok_or_else(|| function_not_found(f))?;
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

/// `triggerConfig` is a string holding JSON (SDK `models/_create_trigger_input.py`:
/// `trigger_config: str`; fc3 `JSON.stringify`s the s.yaml object before calling the API), so
/// an object is refused, as the cloud does.
fn config_string(v: &Value) -> Result<String, ApiError> {
    let Value::String(s) = v else {
        return Err(ApiError::invalid_argument(
            "triggerConfig must be a string containing JSON, not an object",
        ));
    };
    serde_json::from_str::<Value>(s)
        .map_err(|e| ApiError::invalid_argument(format!("triggerConfig is not valid JSON: {e}")))?;
    Ok(s.clone())
}
