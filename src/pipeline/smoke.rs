//! The smoke test: the page and a classification of each sample image, through the HTTP
//! trigger and the custom domain.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context as _;
use serde::Serialize;

/// One smoke-test request.
#[derive(Debug, Serialize)]
pub struct SmokeResult {
    /// `trigger` or `custom_domain`.
    pub via: String,
    /// What was sent.
    pub request: String,
    /// Label answered (for images).
    pub label: Option<String>,
    /// Label expected from the file name, if any.
    pub expected: Option<String>,
    /// HTTP status answered.
    pub status: u16,
    /// The answer's body when the request failed (cut to 500 characters).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// The answer's `x-fc-request-id`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// A failed request's log lines (`fcctl logs --request-id`), when the function has logs.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub log: Vec<String>,
    /// Passed.
    pub ok: bool,
}

impl SmokeResult {
    /// What went wrong, for an error message.
    pub fn failure(&self) -> String {
        let mut s = format!(
            "{} via {} answered HTTP {}",
            self.request, self.via, self.status
        );
        match (&self.label, &self.expected) {
            (Some(l), Some(e)) if l != e => s.push_str(&format!(" with {l}, expected {e}")),
            _ => {}
        }
        if let Some(d) = self.detail.as_deref().filter(|d| !d.is_empty()) {
            s.push_str(&format!(": {d}"));
        }
        if let Some(r) = &self.request_id {
            if self.log.is_empty() {
                s.push_str(&format!(" (request {r}: fcctl logs --request-id {r})"));
            } else {
                s.push_str(&format!("\n  log of request {r}:"));
                for l in &self.log {
                    s.push_str(&format!("\n    {l}"));
                }
            }
        }
        s
    }
}

/// Reads a failed request's log lines into it (best effort: without logs the failure is
/// still reported, with the command to look later).
pub async fn attach_log(cloud: &crate::cloud::Cloud, r: &mut SmokeResult) {
    let Some(rid) = r.request_id.clone() else {
        return;
    };
    let since = crate::pipeline::logs::now_unix() - 600;
    match crate::pipeline::logs::request_lines(cloud, &rid, since).await {
        Ok(lines) => {
            r.log = lines
                .iter()
                .map(|l| format!("{} {}", l.time, l.message.trim_end()))
                .collect();
        }
        Err(e) => tracing::debug!("smoke test: reading the log of {rid}: {e}"),
    }
}

fn request_id_of(resp: &reqwest::Response) -> Option<String> {
    resp.headers()
        .get("x-fc-request-id")
        .and_then(|v| v.to_str().ok())
        .map(String::from)
}

fn snippet(body: &str) -> String {
    body.chars().take(500).collect()
}

/// The label a file name promises (`…dog…` / `…cat…`), if any.
pub fn expected_label(p: &Path) -> Option<String> {
    let n = p.file_name()?.to_string_lossy().to_ascii_lowercase();
    if n.contains("dog") {
        Some("dog".into())
    } else if n.contains("cat") {
        Some("cat".into())
    } else {
        None
    }
}

/// GETs the page and classifies each image through the trigger and the custom domain.
pub async fn smoke_test(
    url: &str,
    domain: &str,
    domain_url: &str,
    images: &[PathBuf],
) -> anyhow::Result<Vec<SmokeResult>> {
    let client = crate::aliyun::http::client_builder()
        .timeout(Duration::from_secs(60))
        .build()?;
    let mut out = Vec::new();
    let mut routes = vec![("trigger", url.to_string(), None)];
    if !domain.is_empty() {
        routes.push((
            "custom_domain",
            domain_url.to_string(),
            Some(domain.to_string()),
        ));
    }
    for (via, base, host) in &routes {
        let base = base.trim_end_matches('/');
        let mut req = client.get(format!("{base}/"));
        if let Some(h) = host {
            req = req.header("host", h);
        }
        let resp = req
            .send()
            .await
            .with_context(|| format!("GET {base}/ via {via}"))?;
        let status = resp.status();
        let request_id = request_id_of(&resp);
        let page = resp.text().await.unwrap_or_default();
        let ok = status.is_success() && page.contains("<form");
        out.push(SmokeResult {
            via: via.to_string(),
            request: "GET /".into(),
            label: None,
            expected: None,
            status: status.as_u16(),
            detail: (!ok).then(|| snippet(&page)),
            request_id,
            log: Vec::new(),
            ok,
        });
        for img in images {
            let bytes = crate::fsutil::read_capped(
                img,
                crate::fsutil::MAX_REQUEST_BODY,
                "smoke-test image",
            )?;
            let mut req = client.post(format!("{base}/classify")).body(bytes);
            if let Some(h) = host {
                req = req.header("host", h);
            }
            let resp = req
                .send()
                .await
                .with_context(|| format!("POST {base}/classify via {via}"))?;
            let status = resp.status();
            let request_id = request_id_of(&resp);
            let text = resp.text().await.unwrap_or_default();
            let v: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
            let label = v["label"].as_str().map(str::to_string);
            let expected = expected_label(img);
            let ok =
                status.is_success() && label.is_some() && (expected.is_none() || expected == label);
            out.push(SmokeResult {
                via: via.to_string(),
                request: format!("POST /classify {}", img.display()),
                label,
                expected,
                status: status.as_u16(),
                detail: (!ok).then(|| snippet(&text)),
                request_id,
                log: Vec::new(),
                ok,
            });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failed(log: &[&str]) -> SmokeResult {
        SmokeResult {
            via: "trigger".into(),
            request: "POST /classify cat.jpg".into(),
            label: None,
            expected: Some("cat".into()),
            status: 502,
            detail: Some("bad gateway".into()),
            request_id: Some("1-abc".into()),
            log: log.iter().map(|s| s.to_string()).collect(),
            ok: false,
        }
    }

    #[test]
    fn a_failure_shows_its_log_lines_or_the_command_to_read_them() {
        assert_eq!(
            failed(&["2024-05-20T08:30:01Z FC Invoke End RequestId: 1-abc, Error: boom"]).failure(),
            "POST /classify cat.jpg via trigger answered HTTP 502: bad gateway\n  log of request 1-abc:\n    2024-05-20T08:30:01Z FC Invoke End RequestId: 1-abc, Error: boom"
        );
        assert_eq!(
            failed(&[]).failure(),
            "POST /classify cat.jpg via trigger answered HTTP 502: bad gateway (request 1-abc: fcctl logs --request-id 1-abc)"
        );
    }
}
