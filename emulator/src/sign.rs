//! Independent implementations of the request signatures the emulator verifies:
//! ACS3-HMAC-SHA256 (FC3 OpenAPI and HTTP triggers with `authType: function`),
//! OSS V1 (`Authorization: OSS ak:sig`) and OSS V4 (`OSS4-HMAC-SHA256`).
//!
//! Signing helpers are public too: the emulator's own tests use them as a client.

use base64::Engine as _;
use hmac::{Hmac, Mac};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};
use sha2::{Digest, Sha256};

type HmacSha256 = Hmac<Sha256>;
type HmacSha1 = Hmac<sha1::Sha1>;

/// RFC 3986 unreserved characters are kept; everything else is `%XX` (upper-case).
const RFC3986: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');
const RFC3986_PATH: &AsciiSet = &RFC3986.remove(b'/');

pub const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

fn hmac256(key: &[u8], msg: &[u8]) -> Vec<u8> {
    let mut m = HmacSha256::new_from_slice(key).expect("hmac accepts any key length");
    m.update(msg);
    m.finalize().into_bytes().to_vec()
}

pub fn rfc3986(s: &str) -> String {
    utf8_percent_encode(s, RFC3986).to_string()
}

/// Decode an `application/x-www-form-urlencoded`-ish query (`+` means space, as Python's
/// `urlencode` sends it) into ordered pairs.
pub fn parse_query(q: &str) -> Vec<(String, String)> {
    q.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            let dec = |s: &str| {
                percent_decode_str(&s.replace('+', " "))
                    .decode_utf8_lossy()
                    .into_owned()
            };
            (dec(k), dec(v))
        })
        .collect()
}

/// The ACS3 canonical query string: sorted by key, `key=RFC3986(value)`.
pub fn acs3_canonical_query(q: &str) -> String {
    let mut pairs = parse_query(q);
    pairs.sort();
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", k, rfc3986(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// Parsed `Authorization: ACS3-HMAC-SHA256 Credential=..,SignedHeaders=..,Signature=..`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Acs3Auth {
    pub access_key_id: String,
    pub signed_headers: Vec<String>,
    pub signature: String,
}

pub fn parse_acs3_authorization(value: &str) -> Option<Acs3Auth> {
    let rest = value.strip_prefix("ACS3-HMAC-SHA256")?.trim_start();
    let mut cred = None;
    let mut sh = None;
    let mut sig = None;
    for part in rest.split(',') {
        let (k, v) = part.trim().split_once('=')?;
        match k {
            "Credential" => cred = Some(v.to_string()),
            "SignedHeaders" => sh = Some(v.to_string()),
            "Signature" => sig = Some(v.to_string()),
            _ => {}
        }
    }
    Some(Acs3Auth {
        access_key_id: cred?,
        signed_headers: sh?
            .split(';')
            .filter(|s| !s.is_empty())
            .map(|s| s.to_ascii_lowercase())
            .collect(),
        signature: sig?,
    })
}

/// Computes the ACS3 signature. `headers` must contain (lower-case name, value) pairs;
/// only the names listed in `signed` are used. Returns (canonical_request, signature).
pub fn acs3_signature(
    method: &str,
    path: &str,
    query: &str,
    headers: &[(String, String)],
    signed: &[String],
    payload_hash: &str,
    secret: &str,
) -> (String, String) {
    let mut names: Vec<String> = signed.iter().map(|s| s.to_ascii_lowercase()).collect();
    names.sort();
    names.dedup();
    let mut canon_headers = String::new();
    for n in &names {
        let mut vals: Vec<String> = headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(n))
            .map(|(_, v)| v.trim().to_string())
            .collect();
        vals.sort();
        canon_headers.push_str(n);
        canon_headers.push(':');
        canon_headers.push_str(&vals.join(","));
        canon_headers.push('\n');
    }
    let path = if path.is_empty() { "/" } else { path };
    let canonical = format!(
        "{}\n{}\n{}\n{}\n{}\n{}",
        method.to_ascii_uppercase(),
        path,
        acs3_canonical_query(query),
        canon_headers,
        names.join(";"),
        payload_hash
    );
    let sts = format!("ACS3-HMAC-SHA256\n{}", sha256_hex(canonical.as_bytes()));
    let sig = hex::encode(hmac256(secret.as_bytes(), sts.as_bytes()));
    (canonical, sig)
}

/// Client-side helper: returns the headers to add (incl. Authorization) for an ACS3 request.
#[allow(clippy::too_many_arguments)]
pub fn acs3_sign_headers(
    method: &str,
    host: &str,
    path: &str,
    query: &str,
    action: &str,
    body: &[u8],
    content_type: Option<&str>,
    ak: &str,
    secret: &str,
    token: Option<&str>,
    date: &str,
) -> Vec<(String, String)> {
    sign_headers(
        "2023-03-30",
        method,
        host,
        path,
        query,
        action,
        body,
        content_type,
        ak,
        secret,
        token,
        date,
    )
}

/// Client-side helper for an RPC-style action (VPC, ECS, NAS, RAM) as the official SDKs send
/// it: `POST /`, the parameters in `query`, an empty body, the product's `version`.
pub fn acs3_sign_rpc(
    host: &str,
    query: &str,
    action: &str,
    version: &str,
    ak: &str,
    secret: &str,
    date: &str,
) -> Vec<(String, String)> {
    sign_headers(
        version, "POST", host, "/", query, action, b"", None, ak, secret, None, date,
    )
}

#[allow(clippy::too_many_arguments)]
fn sign_headers(
    version: &str,
    method: &str,
    host: &str,
    path: &str,
    query: &str,
    action: &str,
    body: &[u8],
    content_type: Option<&str>,
    ak: &str,
    secret: &str,
    token: Option<&str>,
    date: &str,
) -> Vec<(String, String)> {
    let mut h: Vec<(String, String)> = vec![
        ("host".into(), host.into()),
        ("x-acs-action".into(), action.into()),
        ("x-acs-version".into(), version.into()),
        ("x-acs-date".into(), date.into()),
        (
            "x-acs-signature-nonce".into(),
            uuid::Uuid::new_v4().simple().to_string(),
        ),
        ("x-acs-content-sha256".into(), sha256_hex(body)),
    ];
    if let Some(ct) = content_type {
        h.push(("content-type".into(), ct.into()));
    }
    if let Some(t) = token {
        h.push(("x-acs-security-token".into(), t.into()));
        h.push(("x-acs-accesskey-id".into(), ak.into()));
    }
    let names: Vec<String> = h.iter().map(|(k, _)| k.clone()).collect();
    let (_, sig) = acs3_signature(method, path, query, &h, &names, &sha256_hex(body), secret);
    let mut sorted = names.clone();
    sorted.sort();
    h.push((
        "authorization".into(),
        format!(
            "ACS3-HMAC-SHA256 Credential={ak},SignedHeaders={},Signature={sig}",
            sorted.join(";")
        ),
    ));
    h
}

/// Sub-resources that take part in the OSS V1 canonical resource (oss2 `_subresource_key_set`).
const OSS_SUBRESOURCES: &[&str] = &[
    "response-content-type",
    "response-content-language",
    "response-cache-control",
    "logging",
    "response-content-encoding",
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
    "response-expires",
    "response-content-disposition",
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
    "callback",
    "callback-var",
    "worm",
    "wormId",
    "wormExtend",
    "replication",
    "replicationLocation",
    "replicationProgress",
    "transferAcceleration",
    "cname",
    "metaQuery",
    "x-oss-ac-source-ip",
    "x-oss-ac-subnet-mask",
    "x-oss-ac-vpc-id",
    "x-oss-ac-forward-allow",
    "resourceGroup",
    "style",
    "styleName",
    "x-oss-async-process",
    "regionList",
];

/// OSS V1 string to sign. `resource` is `/bucket/key` with the raw (decoded) key.
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
    let mut oss_headers: Vec<(String, String)> = headers
        .iter()
        .filter(|(k, _)| k.to_ascii_lowercase().starts_with("x-oss-"))
        .map(|(k, v)| (k.to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    oss_headers.sort();
    let date = get("date");
    let mut s = format!(
        "{}\n{}\n{}\n{}\n",
        method,
        get("content-md5"),
        get("content-type"),
        date
    );
    for (k, v) in &oss_headers {
        s.push_str(&format!("{k}:{v}\n"));
    }
    s.push_str(resource);
    let mut subs: Vec<&(String, String)> = query
        .iter()
        .filter(|(k, _)| OSS_SUBRESOURCES.contains(&k.as_str()))
        .collect();
    subs.sort();
    if !subs.is_empty() {
        s.push('?');
        s.push_str(
            &subs
                .iter()
                .map(|(k, v)| {
                    if v.is_empty() {
                        k.clone()
                    } else {
                        format!("{k}={v}")
                    }
                })
                .collect::<Vec<_>>()
                .join("&"),
        );
    }
    s
}

pub fn oss_v1_signature(secret: &str, string_to_sign: &str) -> String {
    let mut m = HmacSha1::new_from_slice(secret.as_bytes()).expect("any key");
    m.update(string_to_sign.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(m.finalize().into_bytes())
}

/// SLS (Log Service) string to sign for `Authorization: LOG <id>:<signature>`: method,
/// `Content-MD5`, `Content-Type`, `Date`, then every `x-log-*` (but `x-log-meta-*`) and
/// `x-acs-*` header as `name:value\n` sorted by lower-case name, then the path and, when there
/// are query parameters, `?` and every `key=value` (decoded) sorted by key, joined by `&`.
pub fn sls_string_to_sign(
    method: &str,
    headers: &[(String, String)],
    path: &str,
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
    let mut log_headers: Vec<(String, &str)> = headers
        .iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), v.as_str()))
        .filter(|(k, _)| {
            k.starts_with("x-acs-") || (k.starts_with("x-log-") && !k.starts_with("x-log-meta-"))
        })
        // The SDK sets x-log-date after signing (for proxies that drop Date).
        .filter(|(k, _)| k != "x-log-date")
        .collect();
    log_headers.sort();
    for (k, v) in log_headers {
        s.push_str(&k);
        s.push(':');
        s.push_str(v);
        s.push('\n');
    }
    s.push_str(path);
    if !query.is_empty() {
        let mut sorted: Vec<&(String, String)> = query.iter().collect();
        sorted.sort();
        let q: Vec<String> = sorted.iter().map(|(k, v)| format!("{k}={v}")).collect();
        s.push('?');
        s.push_str(&q.join("&"));
    }
    s
}

/// `base64(hmac-sha1(secret, string_to_sign))` (SLS and OSS V1 alike).
pub fn sls_signature(secret: &str, string_to_sign: &str) -> String {
    oss_v1_signature(secret, string_to_sign)
}

/// Parsed `Authorization: OSS4-HMAC-SHA256 Credential=<id>/<date>/<region>/oss/aliyun_v4_request,
/// AdditionalHeaders=..,Signature=..`.
#[derive(Debug, Clone)]
pub struct OssV4Auth {
    pub access_key_id: String,
    pub date: String,
    pub region: String,
    pub additional_headers: Vec<String>,
    pub signature: String,
}

pub fn parse_oss_v4_authorization(value: &str) -> Option<OssV4Auth> {
    let rest = value.strip_prefix("OSS4-HMAC-SHA256")?.trim_start();
    let mut cred = None;
    let mut add = Vec::new();
    let mut sig = None;
    for part in rest.split(',') {
        let (k, v) = part.trim().split_once('=')?;
        match k {
            "Credential" => cred = Some(v.to_string()),
            "AdditionalHeaders" => {
                add = v
                    .split(';')
                    .filter(|s| !s.is_empty())
                    .map(|s| s.to_ascii_lowercase())
                    .collect()
            }
            "Signature" => sig = Some(v.to_string()),
            _ => {}
        }
    }
    let cred = cred?;
    let mut it = cred.split('/');
    let ak = it.next()?.to_string();
    let date = it.next()?.to_string();
    let region = it.next()?.to_string();
    Some(OssV4Auth {
        access_key_id: ak,
        date,
        region,
        additional_headers: add,
        signature: sig?,
    })
}

/// OSS V4 signature. `resource` is `/bucket/key` (raw key), query is decoded pairs.
pub fn oss_v4_signature(
    method: &str,
    resource: &str,
    query: &[(String, String)],
    headers: &[(String, String)],
    auth: &OssV4Auth,
    secret: &str,
) -> String {
    let xdate = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("x-oss-date"))
        .map(|(_, v)| v.as_str())
        .unwrap_or("");
    oss_v4_signature_at(method, resource, query, headers, auth, secret, xdate)
}

/// [`oss_v4_signature`] with the request time given: presigned URLs carry `x-oss-date` in the
/// query, where it is signed as a parameter, not as a header.
pub fn oss_v4_signature_at(
    method: &str,
    resource: &str,
    query: &[(String, String)],
    headers: &[(String, String)],
    auth: &OssV4Auth,
    secret: &str,
    xdate: &str,
) -> String {
    let mut q: Vec<(String, String)> = query
        .iter()
        .map(|(k, v)| (rfc3986(k), rfc3986(v)))
        .collect();
    q.sort();
    let cq = q
        .iter()
        .map(|(k, v)| {
            if v.is_empty() {
                k.clone()
            } else {
                format!("{k}={v}")
            }
        })
        .collect::<Vec<_>>()
        .join("&");
    let mut hs: Vec<(String, String)> = headers
        .iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), v.trim().to_string()))
        .filter(|(k, _)| {
            k.starts_with("x-oss-")
                || k == "content-type"
                || k == "content-md5"
                || auth.additional_headers.contains(k)
        })
        .collect();
    hs.sort();
    let ch: String = hs.iter().map(|(k, v)| format!("{k}:{v}\n")).collect();
    let payload = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("x-oss-content-sha256"))
        .map(|(_, v)| v.as_str())
        .unwrap_or("UNSIGNED-PAYLOAD");
    let canonical = format!(
        "{}\n{}\n{}\n{}\n{}\n{}",
        method,
        utf8_percent_encode(resource, RFC3986_PATH),
        cq,
        ch,
        auth.additional_headers.join(";"),
        payload
    );
    let scope = format!("{}/{}/oss/aliyun_v4_request", auth.date, auth.region);
    let sts = format!(
        "OSS4-HMAC-SHA256\n{}\n{}\n{}",
        xdate,
        scope,
        sha256_hex(canonical.as_bytes())
    );
    let k1 = hmac256(
        format!("aliyun_v4{secret}").as_bytes(),
        auth.date.as_bytes(),
    );
    let k2 = hmac256(&k1, auth.region.as_bytes());
    let k3 = hmac256(&k2, b"oss");
    let k4 = hmac256(&k3, b"aliyun_v4_request");
    hex::encode(hmac256(&k4, sts.as_bytes()))
}

/// String comparison whose time depends only on the lengths (signature checks must not
/// leak how many leading characters matched). Unequal lengths return early.
pub fn eq_ct(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn vectors() -> Option<Value> {
        let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../shared/vectors/vectors.json");
        let s = std::fs::read_to_string(p).ok()?;
        serde_json::from_str(&s).ok()
    }

    #[test]
    fn acs3_matches_sdk_vectors() {
        let Some(v) = vectors() else {
            eprintln!("vectors.json not found; skipping");
            return;
        };
        let list = v["fc3_acs3"].as_array().unwrap();
        assert!(!list.is_empty());
        for vec in list {
            let hs: Vec<(String, String)> = vec["request_headers_sent"]
                .as_object()
                .unwrap()
                .iter()
                .filter_map(|(k, v)| v.as_str().map(|s| (k.to_ascii_lowercase(), s.to_string())))
                .collect();
            let auth_v = hs
                .iter()
                .find(|(k, _)| k == "authorization")
                .unwrap()
                .1
                .clone();
            let auth = parse_acs3_authorization(&auth_v).unwrap();
            let url = vec["url_sent"].as_str().unwrap();
            let after_host = &url[url.find("://").unwrap() + 3..];
            let path_q = &after_host[after_host.find('/').unwrap()..];
            let (path, query) = path_q.split_once('?').unwrap_or((path_q, ""));
            let body = base64::engine::general_purpose::STANDARD
                .decode(vec["inputs"]["body_b64"].as_str().unwrap())
                .unwrap();
            let ph = sha256_hex(&body);
            let (canon, sig) = acs3_signature(
                vec["inputs"]["method"].as_str().unwrap(),
                path,
                query,
                &hs,
                &auth.signed_headers,
                &ph,
                vec["inputs"]["access_key_secret"].as_str().unwrap(),
            );
            assert_eq!(
                canon,
                vec["outputs"]["canonical_request"].as_str().unwrap(),
                "{}",
                vec["name"]
            );
            assert_eq!(sig, auth.signature, "{}", vec["name"]);
        }
    }

    #[test]
    fn oss_matches_sdk_vectors() {
        let Some(v) = vectors() else {
            return;
        };
        let list = v["oss"].as_array().unwrap();
        let mut n = 0;
        for vec in list {
            let inputs = &vec["inputs"];
            let secret = inputs["access_key_secret"]
                .as_str()
                .or_else(|| v["notes"]["oss_secret"].as_str())
                .unwrap_or("FcctlTestSecret0123456789abcdef");
            let secret = if vec["name"].as_str().unwrap().contains("STS") {
                inputs["access_key_secret"]
                    .as_str()
                    .unwrap_or("StsTempSecretForFcctlVectors42")
            } else {
                secret
            };
            let hs: Vec<(String, String)> = vec["request_headers_sent"]
                .as_object()
                .unwrap()
                .iter()
                .filter_map(|(k, v)| v.as_str().map(|s| (k.to_ascii_lowercase(), s.to_string())))
                .collect();
            let auth_v = hs
                .iter()
                .find(|(k, _)| k == "authorization")
                .unwrap()
                .1
                .clone();
            let resource = format!(
                "/{}/{}",
                inputs["bucket"].as_str().unwrap(),
                inputs["key"].as_str().unwrap()
            );
            let query: Vec<(String, String)> = inputs["params"]
                .as_object()
                .unwrap()
                .iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_string()))
                .collect();
            let method = inputs["method"].as_str().unwrap();
            if auth_v.starts_with("OSS4") {
                let a = parse_oss_v4_authorization(&auth_v).unwrap();
                let sig = oss_v4_signature(method, &resource, &query, &hs, &a, secret);
                assert_eq!(sig, a.signature, "{}", vec["name"]);
            } else {
                let sts = oss_v1_string_to_sign(method, &hs, &resource, &query);
                assert_eq!(sts, vec["outputs"]["string_to_sign"].as_str().unwrap());
                let sig = oss_v1_signature(secret, &sts);
                assert_eq!(
                    sig,
                    vec["outputs"]["signature"].as_str().unwrap(),
                    "{}",
                    vec["name"]
                );
            }
            n += 1;
        }
        assert!(n >= 7);
    }
}
