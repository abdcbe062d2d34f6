//! OSS signatures, checked against the `oss2` vectors in `../shared/vectors/`: V4
//! (`OSS4-HMAC-SHA256`, oss2 `ProviderAuthV4`), the default, because OSS no longer accepts V1
//! from new accounts (since 2025-03-01) or on new buckets (since 2025-09-01); and V1 (HMAC-SHA1,
//! oss2 `ProviderAuth`) for `oss.signature: v1` on an old bucket. Presigned URLs too.

use base64::Engine;
use hmac::{Hmac, Mac};
use md5::{Digest, Md5};
use sha1::Sha1;
use sha2::Sha256;

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
    let mut subs: Vec<(String, String)> = query
        .iter()
        .filter(|(k, _)| SUBRESOURCES.contains(&k.as_str()))
        .cloned()
        .collect();
    subs.sort();
    if !subs.is_empty() {
        s.push('?');
        s.push_str(&join_query(&subs));
    }
    s
}

/// `k=v` pairs joined with `&`, a pair with an empty value as its bare key (`uploads`): the
/// query form both signature versions sign.
fn join_query(sorted: &[(String, String)]) -> String {
    sorted
        .iter()
        .map(|(k, v)| {
            if v.is_empty() {
                k.clone()
            } else {
                format!("{k}={v}")
            }
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// base64(HMAC-SHA1(secret, string_to_sign)).
pub fn oss_v1_signature(secret: &str, string_to_sign: &str) -> String {
    let mut mac = Hmac::<Sha1>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(string_to_sign.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// `x-oss-content-sha256` / the canonical payload: fcctl never signs bodies (Content-MD5 and
/// the CRC-64 check cover them), like oss2.
pub const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";
/// The V4 algorithm name (Authorization prefix, string-to-sign, presigned `x-oss-signature-version`).
pub const V4_ALGORITHM: &str = "OSS4-HMAC-SHA256";
/// A V4 presigned URL lives at most 7 days (OSS docs, "Signature Version 4"; oss2 caps it).
pub const V4_MAX_EXPIRES_S: u64 = 7 * 24 * 3600;

/// V4 URI encoding: keeps `A-Z a-z 0-9 _ - ~ .`, and `/` when `keep_slash` (the path), else `%XX`.
pub fn v4_uri_encode(text: &str, keep_slash: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        let unreserved = b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'~' | b'.');
        if unreserved || (keep_slash && b == b'/') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The V4 canonical request. `headers` are all request headers: `x-oss-*`, `content-type` and
/// `content-md5` are signed (no additional headers); `query` is signed whole.
pub fn oss_v4_canonical_request(
    method: &str,
    bucket: &str,
    key: &str,
    query: &[(String, String)],
    headers: &[(String, String)],
) -> String {
    let uri = v4_uri_encode(&format!("/{bucket}/{key}"), true);
    let mut params: Vec<(String, String)> = query
        .iter()
        .map(|(k, v)| (v4_uri_encode(k, false), v4_uri_encode(v, false)))
        .collect();
    params.sort();
    let canonical_query = join_query(&params);
    let mut signed: Vec<(String, String)> = headers
        .iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), v.trim().to_string()))
        .filter(|(k, _)| k.starts_with("x-oss-") || k == "content-type" || k == "content-md5")
        .collect();
    signed.sort();
    let canonical_headers: String = signed.iter().map(|(k, v)| format!("{k}:{v}\n")).collect();
    let payload = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("x-oss-content-sha256"))
        .map_or(UNSIGNED_PAYLOAD, |(_, v)| v.as_str());
    format!("{method}\n{uri}\n{canonical_query}\n{canonical_headers}\n\n{payload}")
}

/// `<yyyymmdd>/<region>/oss/aliyun_v4_request`; `region` without the `oss-` prefix.
pub fn oss_v4_scope(date_time: &str, region: &str) -> String {
    format!("{}/{region}/oss/aliyun_v4_request", &date_time[..8])
}

/// hex(HMAC-SHA256(signing key, string-to-sign)) for a canonical request signed at
/// `date_time` (`20240520T083000Z`).
pub fn oss_v4_signature(secret: &str, date_time: &str, region: &str, canonical: &str) -> String {
    let string_to_sign = format!(
        "{V4_ALGORITHM}\n{date_time}\n{}\n{}",
        oss_v4_scope(date_time, region),
        hex::encode(Sha256::digest(canonical.as_bytes()))
    );
    let hmac = |key: &[u8], data: &str| {
        let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("any key length");
        mac.update(data.as_bytes());
        mac.finalize().into_bytes().to_vec()
    };
    let date_key = hmac(format!("aliyun_v4{secret}").as_bytes(), &date_time[..8]);
    let region_key = hmac(&date_key, region);
    let service_key = hmac(&region_key, "oss");
    let signing_key = hmac(&service_key, "aliyun_v4_request");
    hex::encode(hmac(&signing_key, &string_to_sign))
}

/// The `Authorization` header value (note `", "` between the parts, unlike ACS3).
pub fn oss_v4_authorization(access_key_id: &str, scope: &str, signature: &str) -> String {
    format!("{V4_ALGORITHM} Credential={access_key_id}/{scope}, Signature={signature}")
}

/// `20240520T083000Z` for `t`.
pub fn oss_v4_date_time(t: std::time::SystemTime) -> String {
    time::OffsetDateTime::from(t)
        .format(time::macros::format_description!(
            "[year][month][day]T[hour][minute][second]Z"
        ))
        .expect("a UTC time formats")
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

    type Pairs = Vec<(String, String)>;

    /// The `oss` vectors of one auth version: (name, headers sent, query params, vector).
    fn vectors(version: i64) -> Vec<(String, Pairs, Pairs, Value)> {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../shared/vectors/vectors.json"
        );
        let v: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        v["oss"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|vec| vec["inputs"]["auth_version"].as_i64() == Some(version))
            .map(|vec| {
                let headers = vec["request_headers_sent"]
                    .as_object()
                    .unwrap()
                    .iter()
                    .filter(|(k, _)| !k.eq_ignore_ascii_case("authorization"))
                    .filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_string())))
                    .collect();
                let query = vec["inputs"]["params"]
                    .as_object()
                    .unwrap()
                    .iter()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_string()))
                    .collect();
                (
                    vec["name"].as_str().unwrap().to_string(),
                    headers,
                    query,
                    vec.clone(),
                )
            })
            .collect()
    }

    #[test]
    fn v4_vectors_pass() {
        let mut n = 0;
        for (name, headers, query, vec) in vectors(4) {
            let inp = &vec["inputs"];
            let canonical = oss_v4_canonical_request(
                inp["method"].as_str().unwrap(),
                inp["bucket"].as_str().unwrap(),
                inp["key"].as_str().unwrap(),
                &query,
                &headers,
            );
            let out = &vec["outputs"];
            assert_eq!(
                canonical,
                out["canonical_request"].as_str().unwrap(),
                "{name}"
            );
            let auth = out["authorization"].as_str().unwrap();
            let (id, secret) = if auth.contains("Credential=STS.") {
                ("STS.NUfcctlTempKeyId", "StsTempSecretForFcctlVectors42")
            } else {
                ("LTAI5tFcctlTestKeyId01", "FcctlTestSecret0123456789abcdef")
            };
            let date_time = "20240520T083000Z";
            let region = inp["region"].as_str().unwrap();
            let sig = oss_v4_signature(secret, date_time, region, &canonical);
            assert_eq!(sig, out["signature"].as_str().unwrap(), "{name}");
            let scope = oss_v4_scope(date_time, region);
            assert_eq!(oss_v4_authorization(id, &scope, &sig), auth, "{name}");
            n += 1;
        }
        assert_eq!(n, 3);
    }

    #[test]
    fn v4_date_time_is_iso8601_basic() {
        let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_716_193_800);
        assert_eq!(oss_v4_date_time(t), "20240520T083000Z");
    }

    #[test]
    fn v1_vectors_pass() {
        let mut n = 0;
        for (name, headers, query, vec) in vectors(1) {
            let inp = &vec["inputs"];
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
