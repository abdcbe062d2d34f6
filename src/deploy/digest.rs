//! A digest of the function settings fcctl manages, stamped into version descriptions so a
//! re-run can tell "already published" from the cloud itself, with no local state.

use serde_json::Value;
use sha2::{Digest as _, Sha256};

use crate::aliyun::fc_models::Function;

/// Keys of the function that define what a version serves.
const MANAGED: &[&str] = &[
    "runtime",
    "memorySize",
    "cpu",
    "diskSize",
    "timeout",
    "instanceConcurrency",
    "customRuntimeConfig",
    "instanceLifecycleConfig",
    "environmentVariables",
    "nasConfig",
    "codeChecksum",
];

/// Numbers compare by value (1 == 1.0), whatever JSON spelling the API used.
fn normalise(v: &Value) -> Value {
    match v {
        Value::Number(n) => n
            .as_f64()
            .and_then(serde_json::Number::from_f64)
            .map(Value::Number)
            .unwrap_or_else(|| v.clone()),
        Value::Array(a) => Value::Array(a.iter().map(normalise).collect()),
        Value::Object(o) => Value::Object(
            o.iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k.clone(), normalise(v)))
                .collect(),
        ),
        _ => v.clone(),
    }
}

/// 16 hex characters identifying the managed settings + code of `f`.
pub fn function_digest(f: &Function) -> String {
    let all = serde_json::to_value(f).expect("serializes");
    let picked: serde_json::Map<String, Value> = MANAGED
        .iter()
        .filter_map(|k| all.get(*k).map(|v| ((*k).to_string(), normalise(v))))
        .collect();
    // serde_json's Map is ordered by key, so this text is canonical.
    let text = serde_json::to_string(&Value::Object(picked)).expect("serializes");
    hex::encode(&Sha256::digest(text.as_bytes())[..8])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stable_across_number_spelling_and_unmanaged_fields() {
        let a: Function = serde_json::from_value(serde_json::json!({
            "cpu": 1, "memorySize": 1024, "codeChecksum": "7", "functionArn": "x",
            "environmentVariables": {"A": "1"}
        }))
        .unwrap();
        let b: Function = serde_json::from_value(serde_json::json!({
            "cpu": 1.0, "memorySize": 1024, "codeChecksum": "7", "lastModifiedTime": "now",
            "environmentVariables": {"A": "1"}
        }))
        .unwrap();
        assert_eq!(function_digest(&a), function_digest(&b));
        let c: Function = serde_json::from_value(serde_json::json!({
            "cpu": 1.0, "memorySize": 1024, "codeChecksum": "8",
            "environmentVariables": {"A": "1"}
        }))
        .unwrap();
        assert_ne!(function_digest(&a), function_digest(&c));
    }
}
