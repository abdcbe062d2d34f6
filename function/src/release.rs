//! The NAS release marker written last by `nas-agent` when it commits a release: it lists
//! every file with the sha256 the agent verified while copying it in.

use std::path::Path;

pub use fcctl_protocol::release::MARKER;
use fcctl_protocol::release::ReleaseMarker;

/// True when `model_dir` is `<release>/<dir>` of a committed release whose marker lists
/// `<dir>/<file>` with `sha256`, and the file still has the listed size. Then the bytes were
/// hashed by the agent before the release became visible, and the server need not hash the
/// same 18 MB again on every cold start.
pub fn vouches_for(model_dir: &Path, file: &str, sha256: &str) -> bool {
    let (Some(release), Some(dir)) = (model_dir.parent(), model_dir.file_name()) else {
        return false;
    };
    let Ok(bytes) = std::fs::read(release.join(MARKER)) else {
        return false;
    };
    let Ok(marker) = serde_json::from_slice::<ReleaseMarker>(&bytes) else {
        return false;
    };
    let want = Path::new(dir).join(file);
    let Ok(size) = std::fs::metadata(model_dir.join(file)).map(|m| m.len()) else {
        return false;
    };
    marker.files.iter().any(|f| {
        Path::new(&f.path) == want.as_path()
            && f.sha256.eq_ignore_ascii_case(sha256)
            && f.size == size
            && f.link.is_none()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn release(files: serde_json::Value) -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir(d.path().join("model")).unwrap();
        std::fs::write(d.path().join("model/m.onnx"), b"12345").unwrap();
        let marker = serde_json::json!({"release": "r1", "files": files});
        std::fs::write(d.path().join(MARKER), marker.to_string()).unwrap();
        d
    }

    #[test]
    fn marker_vouches_only_for_the_listed_hash_and_size() {
        let sha = "ab".repeat(32);
        let d = release(serde_json::json!([
            {"path": "model/m.onnx", "size": 5, "mode": 420, "sha256": sha}
        ]));
        let m = d.path().join("model");
        assert!(vouches_for(&m, "m.onnx", &sha.to_uppercase()));
        assert!(!vouches_for(&m, "m.onnx", &"cd".repeat(32)));
        assert!(!vouches_for(&m, "other.onnx", &sha));
        std::fs::write(m.join("m.onnx"), b"123456").unwrap();
        assert!(
            !vouches_for(&m, "m.onnx", &sha),
            "size changed since commit"
        );
    }

    #[test]
    fn no_marker_or_a_broken_one_vouches_for_nothing() {
        let sha = "ab".repeat(32);
        let d = release(serde_json::json!([]));
        let m = d.path().join("model");
        assert!(!vouches_for(&m, "m.onnx", &sha));
        std::fs::write(d.path().join(MARKER), b"{not json").unwrap();
        assert!(!vouches_for(&m, "m.onnx", &sha));
        std::fs::remove_file(d.path().join(MARKER)).unwrap();
        assert!(!vouches_for(&m, "m.onnx", &sha));
    }
}
