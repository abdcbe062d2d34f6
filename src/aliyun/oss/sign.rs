//! OSS V1 signatures (HMAC-SHA1 over the string-to-sign of oss2), checked against the `oss2`
//! vectors in `../shared/vectors/`. Also used to presign NAS download URLs.

use base64::Engine;
use hmac::{Hmac, Mac};
use md5::{Digest, Md5};
use sha1::Sha1;

/// Query keys that are part of the V1 canonical resource (oss2 `_subresource_key_set`).
const SUBRESOURCES: &[&str] = &[
    "acl",
    "uploadId",
    "uploads",
    "partNumber",
    "group",
    "link",
    "delete",
    "website",
    "location",
    "objectInfo",
    "objectMeta",
    "response-content-type",
    "response-content-language",
    "response-expires",
    "response-cache-control",
    "response-content-disposition",
    "response-content-encoding",
    "logging",
    "cors",
    "lifecycle",
    "restore",
    "qos",
    "referer",
    "stat",
    "bucketInfo",
    "append",
    "position",
    "security-token",
    "live",
    "comp",
    "status",
    "vod",
    "startTime",
    "endTime",
    "x-oss-process",
    "symlink",
    "callback",
    "callback-var",
    "tagging",
    "encryption",
    "versions",
    "versioning",
    "versionId",
    "policy",
    "requestPayment",
    "x-oss-traffic-limit",
    "qosInfo",
    "asyncFetch",
    "x-oss-request-payer",
    "sequential",
    "inventory",
    "inventoryId",
    "continuation-token",
    "worm",
    "wormId",
    "wormExtend",
    "replication",
    "replicationLocation",
    "replicationProgress",
    "transferAcceleration",
    "cname",
    "metaQuery",
    "resourceGroup",
    "style",
    "styleName",
    "x-oss-async-process",
    "regionList",
];

/// OSS V1 string-to-sign. `resource` is `/<bucket>/<raw key>` (`/<bucket>/` for bucket
/// operations); `headers` are all request headers (only Content-MD5, Content-Type, Date and
/// `x-oss-*` are used; `x-oss-date` is not special-cased by fcctl, which always sends `Date`).
pub fn oss_v1_string_to_sign(
    method: &str,
    headers: &[(String, String)],
    resource: &str,
    query: &[(String, String)],
) -> String {
    let get = |n: &str| {
        headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(n))
            .map(|(_, v)| v.as_str())
            .unwrap_or("")
    };
    let mut s = format!(
        "{method}\n{}\n{}\n{}\n",
        get("content-md5"),
        get("content-type"),
        get("date")
    );
    let mut oss: Vec<(String, String)> = headers
        .iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), v.trim().to_string()))
        .filter(|(k, _)| k.starts_with("x-oss-"))
        .collect();
    oss.sort();
    for (k, v) in &oss {
        s.push_str(&format!("{k}:{v}\n"));
    }
    s.push_str(resource);
    let mut subs: Vec<&(String, String)> = query
        .iter()
        .filter(|(k, _)| SUBRESOURCES.contains(&k.as_str()))
        .collect();
    subs.sort();
    if !subs.is_empty() {
        let parts: Vec<String> = subs
            .iter()
            .map(|(k, v)| {
                if v.is_empty() {
                    k.clone()
                } else {
                    format!("{k}={v}")
                }
            })
            .collect();
        s.push('?');
        s.push_str(&parts.join("&"));
    }
    s
}

/// base64(HMAC-SHA1(secret, string_to_sign)).
pub fn oss_v1_signature(secret: &str, string_to_sign: &str) -> String {
    let mut mac = Hmac::<Sha1>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(string_to_sign.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

pub(crate) fn md5_b64(data: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(Md5::digest(data))
}

pub(crate) fn md5_hex(data: &[u8]) -> String {
    hex::encode(Md5::digest(data))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    #[test]
    fn v1_vectors_pass() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../shared/vectors/vectors.json"
        );
        let v: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let mut n = 0;
        for vec in v["oss"].as_array().unwrap() {
            let inp = &vec["inputs"];
            if inp["auth_version"].as_i64() != Some(1) {
                continue;
            }
            let name = vec["name"].as_str().unwrap();
            let headers: Vec<(String, String)> = vec["request_headers_sent"]
                .as_object()
                .unwrap()
                .iter()
                .filter(|(k, _)| !k.eq_ignore_ascii_case("authorization"))
                .filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_string())))
                .collect();
            let query: Vec<(String, String)> = inp["params"]
                .as_object()
                .unwrap()
                .iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_string()))
                .collect();
            let resource = format!(
                "/{}/{}",
                inp["bucket"].as_str().unwrap(),
                inp["key"].as_str().unwrap()
            );
            let sts =
                oss_v1_string_to_sign(inp["method"].as_str().unwrap(), &headers, &resource, &query);
            let out = &vec["outputs"];
            assert_eq!(sts, out["string_to_sign"].as_str().unwrap(), "{name}");
            // Secrets of gen_vectors.py (the OSS inputs don't repeat them).
            let auth = out["authorization"].as_str().unwrap();
            let (id, secret) = if auth.starts_with("OSS STS.") {
                ("STS.NUfcctlTempKeyId", "StsTempSecretForFcctlVectors42")
            } else {
                ("LTAI5tFcctlTestKeyId01", "FcctlTestSecret0123456789abcdef")
            };
            let sig = oss_v1_signature(secret, &sts);
            assert_eq!(sig, out["signature"].as_str().unwrap(), "{name}");
            assert_eq!(format!("OSS {id}:{sig}"), auth, "{name}");
            n += 1;
        }
        assert_eq!(n, 4);
    }
}
