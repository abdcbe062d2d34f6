//! Reading FC API requests: JSON bodies, query parameters, names, pagination.

use crate::api_error::ApiError;
use crate::context::Ctx;
use serde_json::{Map, Value, json};

pub fn query_param<'a>(q: &'a [(String, String)], k: &str) -> Option<&'a str> {
    q.iter().find(|(a, _)| a == k).map(|(_, v)| v.as_str())
}

pub fn parse_body(body: &[u8]) -> Result<Map<String, Value>, ApiError> {
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

/// A string field of a JSON request body (`""` when absent or not a string).
pub fn str_field(body: &Map<String, Value>, key: &str) -> String {
    body.get(key)
        .and_then(|v| v.as_str())
        .unwrap_or("")
        .to_string()
}

pub fn valid_name(n: &str) -> bool {
    !n.is_empty()
        && n.len() <= 128
        && n.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        && !n.starts_with(|c: char| c.is_ascii_digit() || c == '-')
}

pub fn arn(ctx: &Ctx, f: &str) -> String {
    format!(
        "acs:fc:{}:{}:functions/{}",
        ctx.cfg.region, ctx.cfg.account_id, f
    )
}

/// Largest `limit` the FC3 list APIs take (SDK list request models: 1–100); also the default.
const MAX_LIMIT: usize = 100;

/// Generic pagination over sorted (key, item) pairs: nextToken = key of the next item.
fn paginate(
    items: Vec<(String, Value)>,
    q: &[(String, String)],
) -> Result<(Vec<Value>, Option<String>), ApiError> {
    let limit = match query_param(q, "limit") {
        None => MAX_LIMIT,
        Some(l) => l
            .parse::<usize>()
            .ok()
            .filter(|l| (1..=MAX_LIMIT).contains(l))
            .ok_or_else(|| {
                ApiError::invalid_argument(format!("limit `{l}` must be 1..={MAX_LIMIT}"))
            })?,
    };
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
    Ok((out, it.peek().map(|(k, _)| k.clone())))
}

/// One page of a list reply: `{"<key>": [...], "nextToken": ...}`.
pub fn page_json(
    key: &str,
    items: Vec<(String, Value)>,
    q: &[(String, String)],
) -> Result<Value, ApiError> {
    let (page, next) = paginate(items, q)?;
    let mut v = json!({ key: page });
    if let Some(n) = next {
        v["nextToken"] = json!(n);
    }
    Ok(v)
}
