//! Presigned OSS GET URLs for the nas-agent, computed with fcctl's own credentials so the
//! agent function holds none. V4 (`x-oss-signature-version=OSS4-HMAC-SHA256`, oss2
//! `ProviderAuthV4._sign_url`) by default; V1 (`?OSSAccessKeyId=&Expires=&Signature=`) only for
//! `oss.signature: v1`.

use std::time::SystemTime;

use crate::aliyun::AccessKey;
use crate::aliyun::oss::{SignatureVersion, oss_v1_signature, oss_v1_string_to_sign, sign};

/// Signs GET URLs for one bucket.
#[derive(Clone)]
pub struct Presigner {
    scheme: String,
    host: String,
    bucket: String,
    region: String,
    path_style: bool,
    key: AccessKey,
    signature: SignatureVersion,
}

impl std::fmt::Debug for Presigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Presigner")
            .field("host", &self.host)
            .field("bucket", &self.bucket)
            .field("signature", &self.signature)
            .finish_non_exhaustive()
    }
}

impl Presigner {
    /// `endpoint` like `http://127.0.0.1:9001` or `https://oss-cn-shenzhen-internal.aliyuncs.com`;
    /// path-style addressing for IP/localhost endpoints (the emulator), virtual-host otherwise.
    pub fn new(
        endpoint: &str,
        bucket: &str,
        region: &str,
        key: AccessKey,
        signature: SignatureVersion,
    ) -> Self {
        let (scheme, host) = endpoint
            .split_once("://")
            .map(|(s, h)| (s.to_string(), h.trim_end_matches('/').to_string()))
            .unwrap_or_else(|| ("https".into(), endpoint.trim_end_matches('/').to_string()));
        let hostname = host
            .rsplit_once(':')
            .map(|(h, _)| h)
            .unwrap_or(&host)
            .trim_matches(['[', ']']);
        let path_style = hostname == "localhost" || hostname.parse::<std::net::IpAddr>().is_ok();
        Presigner {
            scheme,
            host,
            bucket: bucket.into(),
            region: region.into(),
            path_style,
            key,
            signature,
        }
    }

    /// A GET URL for `object` signed at `now`, valid for `valid_s` seconds (V4 caps it at 7 days).
    pub fn get_url(&self, object: &str, now: SystemTime, valid_s: u64) -> String {
        let path = sign::v4_uri_encode(object, true);
        let base = if self.path_style {
            format!("{}://{}/{}/{path}", self.scheme, self.host, self.bucket)
        } else {
            format!("{}://{}.{}/{path}", self.scheme, self.bucket, self.host)
        };
        let query = match self.signature {
            SignatureVersion::V4 => self.v4_query(object, now, valid_s),
            SignatureVersion::V1 => self.v1_query(object, now, valid_s),
        };
        let encoded: Vec<String> = query
            .iter()
            .map(|(k, v)| {
                format!(
                    "{}={}",
                    sign::v4_uri_encode(k, false),
                    sign::v4_uri_encode(v, false)
                )
            })
            .collect();
        format!("{base}?{}", encoded.join("&"))
    }

    fn v4_query(&self, object: &str, now: SystemTime, valid_s: u64) -> Vec<(String, String)> {
        let date_time = sign::oss_v4_date_time(now);
        let scope = sign::oss_v4_scope(&date_time, &self.region);
        let mut query: Vec<(String, String)> = Vec::new();
        if let Some(t) = self.key.security_token.as_deref().filter(|t| !t.is_empty()) {
            query.push(("x-oss-security-token".into(), t.into()));
        }
        query.push(("x-oss-date".into(), date_time.clone()));
        query.push((
            "x-oss-expires".into(),
            valid_s.min(sign::V4_MAX_EXPIRES_S).to_string(),
        ));
        query.push(("x-oss-signature-version".into(), sign::V4_ALGORITHM.into()));
        query.push((
            "x-oss-credential".into(),
            format!("{}/{scope}", self.key.id),
        ));
        let canonical = sign::oss_v4_canonical_request("GET", &self.bucket, object, &query, &[]);
        let signature =
            sign::oss_v4_signature(&self.key.secret, &date_time, &self.region, &canonical);
        query.push(("x-oss-signature".into(), signature));
        query
    }

    fn v1_query(&self, object: &str, now: SystemTime, valid_s: u64) -> Vec<(String, String)> {
        let expires = now
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
            + valid_s;
        let resource = format!("/{}/{}", self.bucket, object);
        let mut signed_query: Vec<(String, String)> = Vec::new();
        if let Some(t) = &self.key.security_token {
            signed_query.push(("security-token".into(), t.clone()));
        }
        let headers = vec![("date".to_string(), expires.to_string())];
        let sts = oss_v1_string_to_sign("GET", &headers, &resource, &signed_query);
        let mut query = vec![
            ("OSSAccessKeyId".to_string(), self.key.id.clone()),
            ("Expires".to_string(), expires.to_string()),
            (
                "Signature".to_string(),
                oss_v1_signature(&self.key.secret, &sts),
            ),
        ];
        query.extend(signed_query);
        query
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(secs)
    }

    #[test]
    fn path_style_for_ip_and_virtual_host_for_oss() {
        let key = AccessKey::new("AK", "SK");
        let p = Presigner::new(
            "http://127.0.0.1:9001",
            "b",
            "cn-shenzhen",
            key,
            SignatureVersion::V4,
        );
        let u = p.get_url("fcctl/app/blobs/abc", at(1_716_193_800), 600);
        assert!(
            u.starts_with(
                "http://127.0.0.1:9001/b/fcctl/app/blobs/abc?x-oss-date=20240520T083000Z&x-oss-expires=600\
                 &x-oss-signature-version=OSS4-HMAC-SHA256\
                 &x-oss-credential=AK%2F20240520%2Fcn-shenzhen%2Foss%2Faliyun_v4_request&x-oss-signature="
            ),
            "{u}"
        );
        let key = AccessKey::new("AK", "SK").with_security_token("tok");
        let p = Presigner::new(
            "https://oss-cn-shenzhen-internal.aliyuncs.com",
            "b",
            "cn-shenzhen",
            key,
            SignatureVersion::V4,
        );
        let u = p.get_url("k", at(1), 30 * 24 * 3600);
        assert!(
            u.starts_with(
                "https://b.oss-cn-shenzhen-internal.aliyuncs.com/k?x-oss-security-token=tok&"
            ),
            "{u}"
        );
        assert!(
            u.contains("&x-oss-expires=604800&"),
            "capped at 7 days: {u}"
        );
    }

    #[test]
    fn v4_signature_covers_the_query_it_sends() {
        let p = Presigner::new(
            "http://127.0.0.1:1",
            "bk",
            "cn-hangzhou",
            AccessKey::new("AK", "secret"),
            SignatureVersion::V4,
        );
        let u = p.get_url("a/b c", at(1_716_193_800), 60);
        let (_, query) = u.split_once('?').unwrap();
        let pairs: Vec<(String, String)> = query
            .split('&')
            .map(|kv| kv.split_once('=').unwrap())
            .map(|(k, v)| (k.to_string(), v.replace("%2F", "/")))
            .collect();
        let (signed, sig) = pairs.split_at(pairs.len() - 1);
        let canonical = sign::oss_v4_canonical_request("GET", "bk", "a/b c", signed, &[]);
        assert!(
            canonical.starts_with("GET\n/bk/a/b%20c\nx-oss-credential=AK%2F20240520"),
            "{canonical}"
        );
        let want = sign::oss_v4_signature("secret", "20240520T083000Z", "cn-hangzhou", &canonical);
        assert_eq!(sig[0].1, want);
    }

    #[test]
    fn v1_signature_matches_the_documented_scheme() {
        // StringToSign = VERB \n Content-MD5 \n Content-Type \n Expires \n resource
        let p = Presigner::new(
            "http://127.0.0.1:1",
            "bk",
            "cn-shenzhen",
            AccessKey::new("AK", "secret"),
            SignatureVersion::V1,
        );
        let u = p.get_url("a/b", at(1_699_999_940), 60);
        let want = oss_v1_signature("secret", "GET\n\n\n1700000000\n/bk/a/b");
        let enc = sign::v4_uri_encode(&want, false);
        assert!(u.contains(&format!("&Signature={enc}")), "{u}");
        assert!(u.contains("OSSAccessKeyId=AK&Expires=1700000000"), "{u}");
    }
}
