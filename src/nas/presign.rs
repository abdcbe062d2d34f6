//! OSS V1 presigned GET URLs (`?OSSAccessKeyId=&Expires=&Signature=`), computed with fcctl's
//! own credentials so the nas-agent function needs none.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use crate::aliyun::oss::{oss_v1_signature, oss_v1_string_to_sign};

/// Characters kept as-is in a key path (`/` separates segments).
const KEY: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'/')
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');
/// Query values: everything but unreserved characters is encoded.
const QV: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// Signs GET URLs for one bucket.
#[derive(Clone)]
pub struct Presigner {
    scheme: String,
    host: String,
    bucket: String,
    path_style: bool,
    access_key_id: String,
    secret: String,
    token: Option<String>,
}

impl std::fmt::Debug for Presigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Presigner")
            .field("host", &self.host)
            .field("bucket", &self.bucket)
            .finish_non_exhaustive()
    }
}

impl Presigner {
    /// `endpoint` like `http://127.0.0.1:9001` or `https://oss-cn-shenzhen-internal.aliyuncs.com`;
    /// path-style addressing for IP/localhost endpoints (the emulator), virtual-host otherwise.
    pub fn new(
        endpoint: &str,
        bucket: &str,
        access_key_id: &str,
        secret: &str,
        token: Option<&str>,
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
            path_style,
            access_key_id: access_key_id.into(),
            secret: secret.into(),
            token: token.map(String::from),
        }
    }

    /// A GET URL for `key` valid until `expires` (unix seconds).
    pub fn get_url(&self, key: &str, expires: u64) -> String {
        let resource = format!("/{}/{}", self.bucket, key);
        let mut query: Vec<(String, String)> = Vec::new();
        if let Some(t) = &self.token {
            query.push(("security-token".into(), t.clone()));
        }
        let headers = vec![("date".to_string(), expires.to_string())];
        let sts = oss_v1_string_to_sign("GET", &headers, &resource, &query);
        let sig = oss_v1_signature(&self.secret, &sts);
        let path = utf8_percent_encode(key, KEY).to_string();
        let base = if self.path_style {
            format!("{}://{}/{}/{path}", self.scheme, self.host, self.bucket)
        } else {
            format!("{}://{}.{}/{path}", self.scheme, self.bucket, self.host)
        };
        let mut url = format!(
            "{base}?OSSAccessKeyId={}&Expires={expires}&Signature={}",
            utf8_percent_encode(&self.access_key_id, QV),
            utf8_percent_encode(&sig, QV)
        );
        if let Some(t) = &self.token {
            url.push_str(&format!("&security-token={}", utf8_percent_encode(t, QV)));
        }
        url
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_style_for_ip_and_virtual_host_for_oss() {
        let p = Presigner::new("http://127.0.0.1:9001", "b", "AK", "SK", None);
        let u = p.get_url("fcctl/app/blobs/abc", 1_900_000_000);
        assert!(
            u.starts_with("http://127.0.0.1:9001/b/fcctl/app/blobs/abc?OSSAccessKeyId=AK&Expires=1900000000&Signature="),
            "{u}"
        );
        let p = Presigner::new(
            "https://oss-cn-shenzhen-internal.aliyuncs.com",
            "b",
            "AK",
            "SK",
            Some("tok"),
        );
        let u = p.get_url("k", 1);
        assert!(
            u.starts_with("https://b.oss-cn-shenzhen-internal.aliyuncs.com/k?"),
            "{u}"
        );
        assert!(u.ends_with("&security-token=tok"), "{u}");
    }

    #[test]
    fn signature_matches_the_documented_v1_scheme() {
        // StringToSign = VERB \n Content-MD5 \n Content-Type \n Expires \n resource
        let p = Presigner::new("http://127.0.0.1:1", "bk", "AK", "secret", None);
        let u = p.get_url("a/b", 1700000000);
        let want = oss_v1_signature("secret", "GET\n\n\n1700000000\n/bk/a/b");
        let enc = utf8_percent_encode(&want, QV).to_string();
        assert!(u.ends_with(&format!("Signature={enc}")), "{u}");
    }
}
