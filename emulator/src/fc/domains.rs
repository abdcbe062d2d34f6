//! Custom domains: routes from a host name + path to a function (served by `gateway`).

use crate::api_error::ApiError;
use crate::context::Ctx;
use crate::fc::reply::{Reply, no_content, ok};
use crate::fc::request::page_json;
use crate::util::now_rfc3339;
use serde_json::{Map, Value, json};
use std::sync::Arc;

pub fn domain_json(ctx: &Ctx, d: &Value) -> Value {
    let mut v = d.clone();
    v["accountId"] = json!(ctx.cfg.account_id);
    v["apiVersion"] = json!("2023-03-30");
    v["subdomainCount"] = json!("1");
    v
}

pub fn create_domain(ctx: &Arc<Ctx>, body: Map<String, Value>) -> Reply {
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
    if !crate::dns::resolves(&ctx.cfg.data_dir, &name) {
        // FC checks the CNAME before it accepts a custom domain.
        return Err(ApiError::invalid_argument(format!(
            "domain name '{name}' has not been resolved to your FC endpoint, the expected endpoint is '{}.{}.fc.aliyuncs.com'",
            ctx.cfg.account_id, ctx.cfg.region
        ))
        .with_code("DomainNameNotResolved"));
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

pub fn update_domain(ctx: &Arc<Ctx>, dn: &str, body: Map<String, Value>) -> Reply {
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

pub fn get_domain(ctx: &Arc<Ctx>, dn: &str) -> Reply {
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

pub fn list_domains(ctx: &Arc<Ctx>, q: &[(String, String)]) -> Reply {
    let items = ctx
        .store
        .read()
        .custom_domains
        .iter()
        .map(|(k, v)| (k.clone(), domain_json(ctx, v)))
        .collect();
    ok(page_json("customDomains", items, q)?)
}

pub fn delete_domain(ctx: &Arc<Ctx>, dn: &str) -> Reply {
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
