//! A NAS release: `<nas root>/releases/<id>/`, complete exactly when its [`MARKER`] exists.

use serde::{Deserialize, Serialize};

/// The marker file at the root of a committed release, written last by the nas-agent.
pub const MARKER: &str = ".fcctl-release.json";
/// The directory under the NAS root that holds the releases.
pub const RELEASES_DIR: &str = "releases";

/// One file (or symlink) of a release. The field order is part of the release id (the id
/// hashes the serialised entries), so it must not change.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ManifestEntry {
    /// Relative path, `/`-separated.
    pub path: String,
    /// Size in bytes (symlinks: length of the target text).
    pub size: u64,
    /// Permission bits.
    pub mode: u32,
    /// sha256 hex of the content (symlinks: of the target text).
    pub sha256: String,
    /// Symlink target (relative to the link's directory).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
}

/// The content of [`MARKER`]: every file with the sha256 the agent verified while placing it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReleaseMarker {
    pub release: String,
    pub files: Vec<ManifestEntry>,
    /// Unix seconds of the commit.
    #[serde(default)]
    pub created: u64,
}

/// Whether `id` names a release (`r-` and letters/digits), optionally its staging dir (`.tmp`).
pub fn is_release_id(id: &str) -> bool {
    let base = id.strip_suffix(".tmp").unwrap_or(id);
    base.len() > 2 && base.starts_with("r-") && base[2..].chars().all(|c| c.is_ascii_alphanumeric())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn release_ids() {
        assert!(is_release_id("r-0123abcd"));
        assert!(is_release_id("r-0123abcd.tmp"));
        for bad in ["r-", "", "x-12", "r-../x", "r-a/b", "r-a.b"] {
            assert!(!is_release_id(bad), "{bad}");
        }
    }

    #[test]
    fn entry_field_order_is_the_wire_order() {
        let e = ManifestEntry {
            path: "m/a".into(),
            size: 1,
            mode: 0o644,
            sha256: "ab".into(),
            link: None,
        };
        assert_eq!(
            serde_json::to_string(&e).unwrap(),
            r#"{"path":"m/a","size":1,"mode":420,"sha256":"ab"}"#
        );
    }
}
