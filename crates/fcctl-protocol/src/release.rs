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

/// Whether `id` is a release id: `r-` and ASCII letters/digits, nothing else.
pub fn is_release_id(id: &str) -> bool {
    id.len() > 2 && id.starts_with("r-") && id[2..].chars().all(|c| c.is_ascii_alphanumeric())
}

/// Whether `name` is a directory the agent may find under `releases/`: a release id, its
/// staging dir (`<id>.tmp`) or a directory moved aside (`<id>.broken-<hex and ->`). Checked
/// whole, before any file-system call, so no `/` or `..` can ride along.
pub fn is_release_dir_name(name: &str) -> bool {
    if let Some(id) = name.strip_suffix(".tmp") {
        return is_release_id(id);
    }
    if let Some((id, nonce)) = name.split_once(".broken-") {
        return is_release_id(id)
            && !nonce.is_empty()
            && nonce.chars().all(|c| c.is_ascii_hexdigit() || c == '-');
    }
    is_release_id(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn release_ids() {
        assert!(is_release_id("r-0123abcd"));
        for bad in [
            "r-",
            "",
            "x-12",
            "r-../x",
            "r-a/b",
            "r-a.b",
            "r-0123abcd.tmp",
        ] {
            assert!(!is_release_id(bad), "{bad}");
        }
        for good in [
            "r-0123abcd",
            "r-0123abcd.tmp",
            "r-0123abcd.broken-18f3a2-42",
        ] {
            assert!(is_release_dir_name(good), "{good}");
        }
        for bad in [
            "r-zzz.broken-x/../../../other-app",
            "r-zzz.broken-",
            "r-zzz.tmp.tmp",
            "../r-zzz",
            "r-zzz/..",
            ".trash-1",
        ] {
            assert!(!is_release_dir_name(bad), "{bad}");
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
