//! Versions and aliases: what was published, with which code and NAS release.

use anyhow::Context as _;

use crate::aliyun::FcClient;
use crate::aliyun::fc_models::{ListVersionsRequest, Version};

/// The tag fcctl appends to version descriptions.
pub fn stamp(description: &str, digest: &str, release: &str) -> String {
    let d = description.trim();
    let tag = format!("[fcctl digest={digest} release={release}]");
    if d.is_empty() {
        tag
    } else {
        format!("{d} {tag}")
    }
}

/// `(digest, release)` from a description written by [`stamp`].
pub fn parse_stamp(description: &str) -> Option<(String, String)> {
    let start = description.rfind("[fcctl ")?;
    let inner = description[start + 7..].strip_suffix(']')?;
    let mut digest = None;
    let mut release = None;
    for part in inner.split_whitespace() {
        match part.split_once('=') {
            Some(("digest", v)) => digest = Some(v.to_string()),
            Some(("release", v)) => release = Some(v.to_string()),
            _ => {}
        }
    }
    Some((digest?, release?))
}

/// Numeric id of a version (`LATEST` and junk sort first).
pub fn version_number(v: &Version) -> u64 {
    v.version_id
        .as_deref()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

/// All versions of a function, oldest first.
pub async fn list_versions(fc: &FcClient, function: &str) -> anyhow::Result<Vec<Version>> {
    let mut out = Vec::new();
    let mut req = ListVersionsRequest {
        limit: Some(100),
        ..Default::default()
    };
    loop {
        let page = fc
            .list_function_versions(function, &req)
            .await
            .with_context(|| format!("listing versions of {function}"))?;
        out.extend(page.versions.unwrap_or_default());
        match page.next_token.filter(|t| !t.is_empty()) {
            Some(t) => req.next_token = Some(t),
            None => break,
        }
    }
    out.sort_by_key(version_number);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamp_round_trips() {
        let s = stamp("first release", "abcd", "r-12");
        assert_eq!(s, "first release [fcctl digest=abcd release=r-12]");
        assert_eq!(
            parse_stamp(&s),
            Some(("abcd".to_string(), "r-12".to_string()))
        );
        assert_eq!(parse_stamp("hand-made version"), None);
        assert_eq!(stamp("", "d", "r"), "[fcctl digest=d release=r]");
    }
}
