//! Target URL parsing, the loopback-only safety check, and the request payloads.

use std::fmt::Write as _;
use std::net::{IpAddr, SocketAddr};
use std::path::Path;

use bytes::Bytes;
use http::Uri;

use super::error::BenchError;
use super::options::{BenchOptions, RequestKind};
use crate::fsutil::{MAX_REQUEST_BODY, read_capped};

/// A resolved target: where to connect and what to send.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    pub addrs: Vec<SocketAddr>,
    /// Round-robin payloads (one empty payload for `GetPage`).
    pub payloads: Vec<Payload>,
    /// Printable URL actually requested.
    pub display_url: String,
}

#[derive(Debug, Clone)]
pub(crate) struct Payload {
    /// The complete request (head and body), serialised once.
    pub wire: Bytes,
}

pub(crate) fn serialize_request(
    method: &str,
    path: &str,
    host: &str,
    content_type: Option<&str>,
    body: &[u8],
) -> Bytes {
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: fcctl-bench\r\nAccept: */*\r\n"
    );
    if let Some(ct) = content_type {
        let _ = write!(head, "Content-Type: {ct}\r\n");
    }
    if method != "GET" || !body.is_empty() {
        let _ = write!(head, "Content-Length: {}\r\n", body.len());
    }
    head.push_str("\r\n");
    let mut b = Vec::with_capacity(head.len() + body.len());
    b.extend_from_slice(head.as_bytes());
    b.extend_from_slice(body);
    Bytes::from(b)
}

pub(crate) const BOUNDARY: &str = "----fcctl-bench-7d1f3c9a2b";
const MULTIPART_CT: &str = "multipart/form-data; boundary=----fcctl-bench-7d1f3c9a2b";

/// Parse `url` into (scheme-checked) host, port and path.
fn parse(url: &str) -> Result<(String, u16, String), BenchError> {
    let bad = |reason: &str| BenchError::InvalidUrl {
        url: url.to_string(),
        reason: reason.to_string(),
    };
    let uri: Uri = url
        .parse()
        .map_err(|e: http::uri::InvalidUri| bad(&e.to_string()))?;
    match uri.scheme_str() {
        Some("http") => {}
        Some("https") => {
            return Err(bad(
                "https targets are not supported by the load generator yet; use the http:// trigger URL or a custom domain over HTTP",
            ));
        }
        _ => return Err(bad("expected an http:// URL")),
    }
    let host = uri.host().ok_or_else(|| bad("no host"))?.to_string();
    let port = uri.port_u16().unwrap_or(80);
    let path = uri
        .path_and_query()
        .map_or("/", http::uri::PathAndQuery::as_str);
    let path = if path.is_empty() { "/" } else { path }.to_string();
    Ok((host, port, path))
}

fn is_loopback_name(host: &str) -> bool {
    let h = host.trim_end_matches('.').to_ascii_lowercase();
    h == "localhost" || h.ends_with(".localhost")
}

fn host_ip(host: &str) -> Option<IpAddr> {
    host.trim_start_matches('[')
        .trim_end_matches(']')
        .parse()
        .ok()
}

/// Refuse non-loopback targets unless `allow_remote`. Does not touch the network.
pub(crate) fn check_allowed(url: &str, allow_remote: bool) -> Result<(), BenchError> {
    let (host, _, _) = parse(url)?;
    let local = match host_ip(&host) {
        Some(ip) => ip.is_loopback(),
        None => is_loopback_name(&host),
    };
    if local || allow_remote {
        Ok(())
    } else {
        Err(BenchError::RemoteRefused { host })
    }
}

fn mime_for(path: &Path) -> &'static str {
    match path
        .extension()
        .and_then(std::ffi::OsStr::to_str)
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Some("jpg" | "jpeg") => "image/jpeg",
        Some("png") => "image/png",
        Some("webp") => "image/webp",
        Some("gif") => "image/gif",
        Some("bmp") => "image/bmp",
        _ => "application/octet-stream",
    }
}

pub(crate) fn multipart_body(file_name: &str, mime: &str, data: &[u8]) -> Bytes {
    let safe_name: String = file_name
        .chars()
        .filter(|c| *c != '"' && *c != '\r' && *c != '\n')
        .collect();
    let mut b = Vec::with_capacity(data.len() + 256);
    b.extend_from_slice(
        format!(
            "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{safe_name}\"\r\nContent-Type: {mime}\r\n\r\n"
        )
        .as_bytes(),
    );
    b.extend_from_slice(data);
    b.extend_from_slice(format!("\r\n--{BOUNDARY}--\r\n").as_bytes());
    Bytes::from(b)
}

/// Check the URL, resolve the address and build the payloads.
pub(crate) async fn resolve(opts: &BenchOptions) -> Result<Target, BenchError> {
    check_allowed(&opts.url, opts.allow_remote)?;
    let (host, port, path) = parse(&opts.url)?;
    let bad = |reason: String| BenchError::InvalidUrl {
        url: opts.url.clone(),
        reason,
    };
    let addrs = lookup(&host, port, opts.allow_remote).await?;

    let path = match opts.request {
        RequestKind::Classify => classify_path(&path),
        _ => path,
    };
    let display_url = {
        let authority = if port == 80 {
            host.clone()
        } else {
            format!("{host}:{port}")
        };
        format!("http://{authority}{path}")
    };
    if path.bytes().any(|b| b <= b' ' || b == 0x7f) {
        return Err(bad(
            "the path must not contain spaces or control characters".into(),
        ));
    }

    let host_value = match &opts.host_header {
        Some(h) => h.trim().to_string(),
        None if port == 80 => host.clone(),
        None => format!("{host}:{port}"),
    };
    if host_value.is_empty() || host_value.bytes().any(|b| b < b' ' || b == 0x7f) {
        return Err(bad(format!("bad Host header {host_value:?}")));
    }
    Ok(Target {
        addrs,
        payloads: payloads(opts, &path, &host_value)?,
        display_url,
    })
}

/// The addresses to connect to; a name that resolves to anything but loopback is
/// refused unless `allow_remote`.
async fn lookup(host: &str, port: u16, allow_remote: bool) -> Result<Vec<SocketAddr>, BenchError> {
    let addrs: Vec<SocketAddr> = if let Some(ip) = host_ip(host) {
        vec![SocketAddr::new(ip, port)]
    } else {
        let mut found: Vec<SocketAddr> = tokio::net::lookup_host((host, port))
            .await
            .map_err(|e| BenchError::Resolve {
                host: host.to_string(),
                reason: e.to_string(),
            })?
            .collect();
        if !allow_remote && found.iter().any(|a| !a.ip().is_loopback()) {
            return Err(BenchError::RemoteRefused {
                host: host.to_string(),
            });
        }
        // Prefer IPv4 loopback (emulators usually bind 127.0.0.1 only).
        found.sort_by_key(|a| !a.is_ipv4());
        found
    };
    if addrs.is_empty() {
        return Err(BenchError::Resolve {
            host: host.to_string(),
            reason: "no addresses".into(),
        });
    }
    Ok(addrs)
}

/// `/base?q` → `/base/classify?q`
fn classify_path(path: &str) -> String {
    let (p, q) = path
        .split_once('?')
        .map_or((path, None), |(p, q)| (p, Some(q)));
    let mut s = format!("{}/classify", p.trim_end_matches('/'));
    if let Some(q) = q {
        s.push('?');
        s.push_str(q);
    }
    s
}

/// The serialised requests, one per image (one `GET` for the page).
fn payloads(opts: &BenchOptions, path: &str, host_value: &str) -> Result<Vec<Payload>, BenchError> {
    if opts.request == RequestKind::GetPage {
        return Ok(vec![Payload {
            wire: serialize_request("GET", path, host_value, None, b""),
        }]);
    }
    let mut payloads = Vec::with_capacity(opts.images.len());
    for img in &opts.images {
        let data = read_capped(img, MAX_REQUEST_BODY, "image").map_err(BenchError::Image)?;
        let mime = mime_for(img);
        let (body, ct) = match opts.request {
            RequestKind::PostImage => {
                let name = img.file_name().and_then(|n| n.to_str()).unwrap_or("image");
                (multipart_body(name, mime, &data), MULTIPART_CT)
            }
            _ => (Bytes::from(data), mime),
        };
        payloads.push(Payload {
            wire: serialize_request("POST", path, host_value, Some(ct), &body),
        });
    }
    Ok(payloads)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_only_unless_allowed() {
        for ok in [
            "http://127.0.0.1:9000/",
            "http://localhost/",
            "http://[::1]:80/x",
            "http://fc.localhost:8080/",
        ] {
            assert!(check_allowed(ok, false).is_ok(), "{ok}");
        }
        for bad in [
            "http://192.0.2.1/",
            "http://10.0.0.1:9000/",
            "http://example.com/",
            "http://[2001:db8::1]/",
        ] {
            assert!(
                matches!(
                    check_allowed(bad, false),
                    Err(BenchError::RemoteRefused { .. })
                ),
                "{bad}"
            );
            assert!(check_allowed(bad, true).is_ok(), "{bad}");
        }
        assert!(matches!(
            check_allowed("ftp://127.0.0.1/", true),
            Err(BenchError::InvalidUrl { .. })
        ));
        assert!(matches!(
            check_allowed("https://127.0.0.1/", true),
            Err(BenchError::InvalidUrl { .. })
        ));
    }

    #[test]
    fn multipart_shape() {
        assert_eq!(BOUNDARY, "----fcctl-bench-7d1f3c9a2b");
        let b = multipart_body("dog.jpg", "image/jpeg", b"JPEGDATA");
        let s = String::from_utf8_lossy(&b);
        assert!(s.starts_with("------fcctl-bench-7d1f3c9a2b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"dog.jpg\"\r\n"));
        assert!(s.contains("\r\n\r\nJPEGDATA\r\n------fcctl-bench-7d1f3c9a2b--\r\n"));
    }

    #[tokio::test]
    async fn classify_path_and_host_header() {
        let dir = std::env::temp_dir().join(format!("fcctl-bench-target-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let img = dir.join("a.png");
        std::fs::write(&img, b"\x89PNG").unwrap();
        let mut o = BenchOptions::new("http://127.0.0.1:9000/2016-08-15/proxy/?x=1");
        o.request = RequestKind::Classify;
        o.images = vec![img];
        o.host_header = Some("cat-dog.example.test".into());
        let t = resolve(&o).await.unwrap();
        assert_eq!(
            t.display_url,
            "http://127.0.0.1:9000/2016-08-15/proxy/classify?x=1"
        );
        assert_eq!(
            &t.payloads[0].wire[..],
            &b"POST /2016-08-15/proxy/classify?x=1 HTTP/1.1\r\nHost: cat-dog.example.test\r\nUser-Agent: fcctl-bench\r\nAccept: */*\r\nContent-Type: image/png\r\nContent-Length: 4\r\n\r\n\x89PNG"[..]
        );
        std::fs::remove_dir_all(&dir).ok();
    }
}
