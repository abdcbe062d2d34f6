//! An optional JSON-lines log of every API request the emulator receives (after its signature
//! was checked), for tests that hold fcctl's requests to Alibaba's SDK models: the wire as
//! sent, not as fcctl meant it.

use std::io::Write as _;
use std::path::PathBuf;
use std::sync::Mutex;

use serde_json::{Value, json};

/// Appends one object per request to a file.
pub struct RequestLog {
    file: Mutex<std::fs::File>,
}

impl RequestLog {
    pub fn open(path: &PathBuf) -> std::io::Result<RequestLog> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)?;
        Ok(RequestLog {
            file: Mutex::new(file),
        })
    }

    /// An FC OpenAPI request: its action and JSON body (null when empty or not JSON).
    pub fn fc(&self, action: &str, method: &str, path: &str, query: &str, body: &[u8]) {
        let body: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
        self.write(&json!({
            "api": "fc", "action": action, "method": method, "path": path, "query": query,
            "body": body,
        }));
    }

    /// An RPC-style request (VPC, ECS, NAS, RAM): its product, action and parameters.
    pub fn rpc(&self, product: &str, action: &str, params: &[(String, String)]) {
        let params: serde_json::Map<String, Value> = params
            .iter()
            .map(|(k, v)| (k.clone(), Value::from(v.as_str())))
            .collect();
        self.write(&json!({
            "api": product, "action": action, "params": params,
        }));
    }

    /// An SLS request: its action (`CreateProject`, `GetLogs`, …).
    pub fn sls(&self, action: &str, method: &str, path: &str) {
        self.write(&json!({"api": "sls", "action": action, "method": method, "path": path}));
    }

    /// An OSS request: how it was signed (`v4`, `v1`, `presigned-v4`, `presigned-v1`, `none`).
    pub fn oss(&self, method: &str, resource: &str, signature: &str) {
        self.write(&json!({
            "api": "oss", "method": method, "resource": resource, "signature": signature,
        }));
    }

    fn write(&self, entry: &Value) {
        let mut line = entry.to_string();
        line.push('\n');
        if let Ok(mut f) = self.file.lock() {
            let _ = f.write_all(line.as_bytes());
        }
    }
}

/// How an OSS request is signed, from its Authorization header and query.
pub fn oss_signature_kind(authorization: Option<&str>, query: &[(String, String)]) -> &'static str {
    let has = |k: &str| query.iter().any(|(q, _)| q == k);
    match authorization {
        Some(a) if a.starts_with("OSS4-HMAC-SHA256") => "v4",
        Some(_) => "v1",
        None if has("x-oss-signature") => "presigned-v4",
        None if has("Signature") => "presigned-v1",
        None => "none",
    }
}
