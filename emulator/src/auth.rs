//! Request authentication: ACS3 for FC (API + `function` HTTP triggers), V1/V4 for OSS.

use crate::api_error::ApiError;
use crate::config::AccessKey;
use crate::sign;
use http::HeaderMap;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub const MAX_SKEW: Duration = Duration::from_secs(15 * 60);

fn deny(code: &'static str, message: impl Into<String>) -> ApiError {
    ApiError::new(403, code, message)
}

/// The configured key pairs plus the nonces seen recently (replay protection).
pub struct Authenticator {
    keys: Vec<AccessKey>,
    /// V4 scopes name it; a signature for another region is refused.
    region: String,
    allow_oss_v1: bool,
    nonces: Mutex<NonceCache>,
}

#[derive(Default)]
struct NonceCache {
    seen: HashMap<String, Instant>,
}

impl NonceCache {
    /// Returns false if the nonce was already used within the skew window.
    fn check_and_insert(&mut self, nonce: &str) -> bool {
        let now = Instant::now();
        if self.seen.len() > 10_000 {
            self.seen
                .retain(|_, t| now.duration_since(*t) < MAX_SKEW * 2);
        }
        self.seen.insert(nonce.to_string(), now).is_none()
    }
}

pub fn header_pairs(h: &HeaderMap) -> Vec<(String, String)> {
    h.iter()
        .map(|(k, v)| {
            (
                k.as_str().to_ascii_lowercase(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect()
}

fn header<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

fn check_token(key: &AccessKey, sent: Option<&str>) -> Result<(), ApiError> {
    match (&key.security_token, sent) {
        (Some(expected), Some(s)) if expected == s => Ok(()),
        (Some(_), Some(_)) => Err(deny(
            "InvalidSecurityToken.Mismatch",
            "Specified SecurityToken is invalid.",
        )),
        (Some(_), None) => Err(deny(
            "InvalidSecurityToken.Missing",
            "This access key requires a security token (x-acs-security-token / x-oss-security-token).",
        )),
        (None, _) => Ok(()),
    }
}

fn skew_ok(t: time::OffsetDateTime) -> bool {
    let now = time::OffsetDateTime::now_utc();
    (now - t).unsigned_abs() <= MAX_SKEW
}

impl Authenticator {
    pub fn new(keys: Vec<AccessKey>, region: &str, allow_oss_v1: bool) -> Self {
        Authenticator {
            keys,
            region: region.to_string(),
            allow_oss_v1,
            nonces: Mutex::new(NonceCache::default()),
        }
    }

    fn find_key(&self, id: &str) -> Option<&AccessKey> {
        self.keys.iter().find(|k| k.id == id)
    }

    /// Verifies an ACS3-HMAC-SHA256 request. `body` is the exact received body.
    /// `api`: the OpenAPI, whose SDK requests always carry `x-acs-action`, `x-acs-version`, a
    /// signature nonce and the body hash; an HTTP trigger's `function` auth needs only the date.
    pub fn verify_acs3(
        &self,
        method: &str,
        path: &str,
        query: &str,
        headers: &HeaderMap,
        body: &[u8],
        api: bool,
    ) -> Result<String, ApiError> {
        let Some(authz) = header(headers, "authorization") else {
            return Err(deny(
                "MissingAuthorization",
                "Authorization header is required (ACS3-HMAC-SHA256).",
            ));
        };
        if api {
            for required in [
                "x-acs-action",
                "x-acs-version",
                "x-acs-signature-nonce",
                "x-acs-content-sha256",
            ] {
                if header(headers, required).is_none_or(str::is_empty) {
                    // FC error codes page: 400 MissingRequiredHeader.
                    return Err(ApiError::new(
                        400,
                        "MissingRequiredHeader",
                        format!("required HTTP header {required} was not specified"),
                    ));
                }
            }
        }
        let auth = sign::parse_acs3_authorization(authz).ok_or_else(|| {
            ApiError::new(
                400,
                "InvalidAuthorization",
                "Authorization header is not a valid ACS3-HMAC-SHA256 authorization",
            )
        })?;
        let key = self.find_key(&auth.access_key_id).ok_or_else(|| {
            // FC error codes page: 403 InvalidAccessKeyID.
            deny(
                "InvalidAccessKeyID",
                format!("invalid access key ID '{}'", auth.access_key_id),
            )
        })?;
        let date = header(headers, "x-acs-date").unwrap_or("");
        let parsed =
            time::OffsetDateTime::parse(date, &time::format_description::well_known::Rfc3339)
                .map_err(|_| {
                    ApiError::new(
                        400,
                        "MissingParameter.x-acs-date",
                        format!(
                            "x-acs-date `{date}` is missing or not ISO-8601 (yyyy-MM-ddTHH:mm:ssZ)"
                        ),
                    )
                })?;
        if !skew_ok(parsed) {
            return Err(deny(
                "InvalidTimeStamp.Expired",
                format!(
                    "Specified time stamp or date value is expired (x-acs-date {date} differs from server time by more than 15 minutes)."
                ),
            ));
        }
        for must in ["host", "x-acs-date"] {
            if !auth.signed_headers.iter().any(|h| h == must) {
                return Err(deny(
                    "SignatureNotMatch",
                    format!("header `{must}` must be signed"),
                ));
            }
        }
        let body_hash = sign::sha256_hex(body);
        if let Some(sent) = header(headers, "x-acs-content-sha256")
            && !sent.eq_ignore_ascii_case(&body_hash)
            && sent != "UNSIGNED-PAYLOAD"
        {
            return Err(deny(
                "SignatureNotMatch",
                "x-acs-content-sha256 does not match the SHA-256 of the request body",
            ));
        }
        let payload_hash = header(headers, "x-acs-content-sha256")
            .unwrap_or(&body_hash)
            .to_string();
        let pairs = header_pairs(headers);
        let (canonical, sig) = sign::acs3_signature(
            method,
            path,
            query,
            &pairs,
            &auth.signed_headers,
            &payload_hash,
            &key.secret,
        );
        if !sign::eq_ct(&sig, &auth.signature) {
            return Err(deny(
                "SignatureNotMatch",
                format!(
                    "The request signature we calculated does not match the signature you provided. Check your access key and signing method (server string to sign: ACS3-HMAC-SHA256\n{})",
                    sign::sha256_hex(canonical.as_bytes())
                ),
            ));
        }
        check_token(key, header(headers, "x-acs-security-token"))?;
        if let Some(nonce) = header(headers, "x-acs-signature-nonce")
            && !self.nonces.lock().unwrap().check_and_insert(nonce)
        {
            return Err(ApiError::new(
                400,
                "SignatureNonceUsed",
                "Specified signature nonce was used already.",
            ));
        }
        Ok(key.id.clone())
    }

    /// Verifies an OSS request (V1 header auth, V1 presigned query, or V4 header auth).
    /// `resource` is `/bucket/key` (raw, decoded key) or `/bucket/` or `/`.
    pub fn verify_oss(
        &self,
        method: &str,
        resource: &str,
        query: &[(String, String)],
        headers: &HeaderMap,
    ) -> Result<(), ApiError> {
        let call = OssCall {
            method,
            resource,
            query,
            headers,
            pairs: header_pairs(headers),
        };
        let presigned_v4 = query
            .iter()
            .any(|(k, v)| k == "x-oss-signature-version" && v == "OSS4-HMAC-SHA256");
        match header(headers, "authorization") {
            Some(a) if a.starts_with("OSS4-HMAC-SHA256") => self.verify_oss_v4(&call, a),
            None if presigned_v4 => self.verify_oss_presigned_v4(&call),
            _ if !self.allow_oss_v1 => Err(v1_refused()),
            Some(a) => self.verify_oss_v1(&call, a),
            None => self.verify_oss_presigned(&call),
        }
    }

    fn oss_key(&self, id: &str) -> Result<&AccessKey, ApiError> {
        self.find_key(id).ok_or_else(|| {
            deny(
                "InvalidAccessKeyId",
                "The OSS Access Key Id you provided does not exist in our records.",
            )
        })
    }

    fn verify_oss_v4(&self, call: &OssCall, authorization: &str) -> Result<(), ApiError> {
        let auth = sign::parse_oss_v4_authorization(authorization).ok_or_else(|| {
            ApiError::invalid_argument("malformed OSS4-HMAC-SHA256 Authorization")
        })?;
        let key = self.oss_key(&auth.access_key_id)?;
        self.check_region(&auth.region)?;
        let xdate = header(call.headers, "x-oss-date").unwrap_or("");
        let fmt = time::macros::format_description!("[year][month][day]T[hour][minute][second]Z");
        let t = time::PrimitiveDateTime::parse(xdate, &fmt)
            .map_err(|_| ApiError::invalid_argument("x-oss-date missing or malformed"))?
            .assume_utc();
        if !skew_ok(t) {
            return Err(oss_skewed());
        }
        let sig = sign::oss_v4_signature(
            call.method,
            call.resource,
            call.query,
            &call.pairs,
            &auth,
            &key.secret,
        );
        if !sign::eq_ct(&sig, &auth.signature) {
            return Err(deny(
                "SignatureDoesNotMatch",
                "The request signature we calculated does not match the signature you provided. Check your key and signing method.",
            ));
        }
        check_token(key, header(call.headers, "x-oss-security-token"))
    }

    fn verify_oss_v1(&self, call: &OssCall, authorization: &str) -> Result<(), ApiError> {
        let rest = authorization
            .strip_prefix("OSS ")
            .ok_or_else(|| ApiError::invalid_argument("Authorization header is invalid"))?;
        let (ak, sig) = rest
            .trim()
            .split_once(':')
            .ok_or_else(|| ApiError::invalid_argument("Authorization header is invalid"))?;
        let key = self.oss_key(ak)?;
        let date = header(call.headers, "x-oss-date")
            .or_else(|| header(call.headers, "date"))
            .unwrap_or("");
        let t = httpdate::parse_http_date(date)
            .map_err(|_| ApiError::new(403, "AccessDenied", "Date header is missing or invalid"))?;
        if !skew_ok(time::OffsetDateTime::from(t)) {
            return Err(oss_skewed());
        }
        let sts = sign::oss_v1_string_to_sign(call.method, &call.pairs, call.resource, call.query);
        let expect = sign::oss_v1_signature(&key.secret, &sts);
        if !sign::eq_ct(&expect, sig) {
            return Err(deny(
                "SignatureDoesNotMatch",
                format!(
                    "The request signature we calculated does not match the signature you provided. Check your key and signing method. StringToSign: {sts:?}"
                ),
            ));
        }
        check_token(key, header(call.headers, "x-oss-security-token"))
    }

    /// V1 presigned URL: `?OSSAccessKeyId=&Expires=&Signature=`; the expiry takes the place
    /// of the Date header in the string to sign.
    fn verify_oss_presigned(&self, call: &OssCall) -> Result<(), ApiError> {
        let query_param = |k: &str| {
            call.query
                .iter()
                .find(|(a, _)| a == k)
                .map(|(_, v)| v.as_str())
        };
        let (Some(ak), Some(exp), Some(sig)) = (
            query_param("OSSAccessKeyId"),
            query_param("Expires"),
            query_param("Signature"),
        ) else {
            return Err(deny(
                "AccessDenied",
                "Anonymous access is forbidden for this operation.",
            ));
        };
        let key = self.oss_key(ak)?;
        let e: u64 = exp.parse().unwrap_or(0);
        if e < crate::util::now_ms() / 1000 {
            return Err(deny("AccessDenied", "Request has expired."));
        }
        let mut hs = call.pairs.clone();
        hs.retain(|(k, _)| k != "date");
        hs.push(("date".into(), exp.into()));
        let sts = sign::oss_v1_string_to_sign(call.method, &hs, call.resource, call.query);
        if !sign::eq_ct(&sign::oss_v1_signature(&key.secret, &sts), sig) {
            return Err(deny(
                "SignatureDoesNotMatch",
                "The request signature we calculated does not match the signature you provided.",
            ));
        }
        check_token(key, query_param("security-token"))
    }
}

impl Authenticator {
    /// Verifies an SLS request signed `Authorization: LOG <id>:<signature>` (the SDK's
    /// default; codes from the SLS error-codes page). `path` is the raw request path, `query`
    /// the decoded parameters, `body` the exact received body.
    pub fn verify_sls(
        &self,
        method: &str,
        path: &str,
        query: &[(String, String)],
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<(), ApiError> {
        let unauthorized = |m: String| ApiError::new(401, "Unauthorized", m);
        let Some(authz) = header(headers, "authorization") else {
            return Err(unauthorized(
                "Authorization header is required (LOG <AccessKeyId>:<Signature>).".into(),
            ));
        };
        let Some((id, sig)) = authz
            .strip_prefix("LOG ")
            .and_then(|r| r.trim().split_once(':'))
        else {
            return Err(ApiError::new(
                400,
                "ParameterInvalid",
                "Http extend authorization : authorization pair is invalid (expected `LOG <AccessKeyId>:<Signature>`; the emulator checks SLS's hmac-sha1 signature only).",
            ));
        };
        let key = self
            .find_key(id)
            .ok_or_else(|| unauthorized(format!("AccessKeyId not found: {id}")))?;
        for required in ["x-log-apiversion", "x-log-signaturemethod"] {
            if header(headers, required).is_none_or(str::is_empty) {
                return Err(ApiError::new(
                    400,
                    "MissingParameter",
                    format!("required HTTP header {required} was not specified"),
                ));
            }
        }
        if header(headers, "x-log-signaturemethod") != Some("hmac-sha1") {
            return Err(ApiError::new(
                400,
                "ParameterInvalid",
                "x-log-signaturemethod must be hmac-sha1",
            ));
        }
        let date = header(headers, "date").unwrap_or("");
        let t = httpdate::parse_http_date(date).map_err(|_| {
            ApiError::new(
                400,
                "InvalidRequestTime",
                format!("Request time {date} not follow RFC822 spec."),
            )
        })?;
        if !skew_ok(time::OffsetDateTime::from(t)) {
            return Err(ApiError::new(
                400,
                "RequestTimeExpired",
                format!(
                    "Request time {date} has been expired while server time is {}.",
                    httpdate::fmt_http_date(std::time::SystemTime::now())
                ),
            ));
        }
        if !body.is_empty() {
            let md5 = hex::encode_upper(<md5::Md5 as md5::Digest>::digest(body));
            if header(headers, "content-md5") != Some(md5.as_str()) {
                return Err(deny_sls(
                    "Content-MD5 is missing or is not the upper-case hex MD5 of the body",
                ));
            }
        }
        let pairs = header_pairs(headers);
        let sts = sign::sls_string_to_sign(method, &pairs, path, query);
        if !sign::eq_ct(&sign::sls_signature(&key.secret, &sts), sig) {
            return Err(deny_sls(&format!(
                "Signature {sig} not matched (server string to sign: {sts:?})"
            )));
        }
        match (&key.security_token, header(headers, "x-acs-security-token")) {
            (Some(expected), Some(sent)) if expected == sent => Ok(()),
            (Some(_), _) => Err(unauthorized(
                "The security token you provided is invalid.".into(),
            )),
            (None, _) => Ok(()),
        }
    }

    fn check_region(&self, region: &str) -> Result<(), ApiError> {
        if region == self.region {
            return Ok(());
        }
        // OSS docs, EC 0002-00000228: the region of the Credential must be the bucket's.
        Err(deny(
            "SignatureDoesNotMatch",
            format!(
                "Invalid signing region in Authorization header: `{region}`, the bucket is in `{}`.",
                self.region
            ),
        )
        .with_ec("0002-00000228"))
    }

    /// V4 presigned URL (oss2 `ProviderAuthV4._sign_url`): `x-oss-credential`, `x-oss-date`,
    /// `x-oss-expires` (at most 7 days) and `x-oss-signature` in the query; every other query
    /// parameter is signed.
    fn verify_oss_presigned_v4(&self, call: &OssCall) -> Result<(), ApiError> {
        let param = |k: &str| {
            call.query
                .iter()
                .find(|(a, _)| a == k)
                .map(|(_, v)| v.as_str())
        };
        let malformed = |what: &str| ApiError::invalid_argument(format!("presigned URL: {what}"));
        let credential =
            param("x-oss-credential").ok_or_else(|| malformed("x-oss-credential is missing"))?;
        let signature =
            param("x-oss-signature").ok_or_else(|| malformed("x-oss-signature is missing"))?;
        let xdate = param("x-oss-date").ok_or_else(|| malformed("x-oss-date is missing"))?;
        let expires: i64 = param("x-oss-expires")
            .and_then(|e| e.parse().ok())
            .ok_or_else(|| malformed("x-oss-expires is missing or not a number"))?;
        if !(1..=7 * 24 * 3600).contains(&expires) {
            return Err(malformed("x-oss-expires must be 1..=604800 seconds"));
        }
        let fmt = time::macros::format_description!("[year][month][day]T[hour][minute][second]Z");
        let signed_at = time::PrimitiveDateTime::parse(xdate, &fmt)
            .map_err(|_| malformed("x-oss-date is malformed"))?
            .assume_utc();
        if time::OffsetDateTime::now_utc() > signed_at + time::Duration::seconds(expires) {
            return Err(deny("AccessDenied", "Request has expired."));
        }
        let auth = sign::parse_oss_v4_authorization(&format!(
            "OSS4-HMAC-SHA256 Credential={credential}, Signature={signature}"
        ))
        .ok_or_else(|| malformed("x-oss-credential is malformed"))?;
        let key = self.oss_key(&auth.access_key_id)?;
        self.check_region(&auth.region)?;
        let signed_query: Vec<(String, String)> = call
            .query
            .iter()
            .filter(|(k, _)| k != "x-oss-signature")
            .cloned()
            .collect();
        let expect = sign::oss_v4_signature_at(
            call.method,
            call.resource,
            &signed_query,
            &call.pairs,
            &auth,
            &key.secret,
            xdate,
        );
        if !sign::eq_ct(&expect, signature) {
            return Err(deny(
                "SignatureDoesNotMatch",
                "The request signature we calculated does not match the signature you provided.",
            ));
        }
        check_token(key, param("x-oss-security-token"))
    }
}

/// OSS docs, EC 0002-00000080: OSS no longer accepts V1 signatures (new accounts since
/// 2025-03-01, new buckets since 2025-09-01).
fn v1_refused() -> ApiError {
    deny(
        "AccessDenied",
        "The V1 signature is no longer supported for this bucket; sign with V4 (OSS4-HMAC-SHA256).",
    )
    .with_ec("0002-00000080")
}

/// The parts of an OSS request its signature covers.
struct OssCall<'a> {
    method: &'a str,
    resource: &'a str,
    query: &'a [(String, String)],
    headers: &'a HeaderMap,
    /// `headers` as (lower-case name, value) pairs, as the signers take them.
    pairs: Vec<(String, String)>,
}

/// SLS error codes page: 401 SignatureNotMatch.
fn deny_sls(message: &str) -> ApiError {
    ApiError::new(401, "SignatureNotMatch", message)
}

fn oss_skewed() -> ApiError {
    deny(
        "RequestTimeTooSkewed",
        "The difference between the request time and the current time is too large.",
    )
}
