//! Cache of the ONNX Runtime-optimised model, shared by instances through the NAS.
//!
//! Graph optimisation (fusions, then the NCHWc layout rewrite) is a third of a cold start's
//! session creation. Its result depends on the CPU (NCHWc block size follows the vector
//! width) and on the ONNX Runtime build, so it cannot be done once at `fcctl build` time on
//! the developer's machine. Instead the first instance on a given CPU kind saves the optimised
//! graph (`FCCTL_MODEL_CACHE`, set by fcctl to a directory on the NAS) and later cold starts
//! on the same kind load it with optimisation off. The key covers everything the optimised
//! graph depends on, so a stale or foreign entry is never picked up; files are written under
//! a temporary name and renamed, so a reader never sees a partial one.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// Where the optimised form of a model lives in `dir`, keyed by model name + sha256, the
/// optimisation level, the ONNX Runtime build string and the CPU (model name + feature flags).
pub fn entry(dir: &Path, model: &str, model_sha256: &str, level: &str, ort_build: &str) -> PathBuf {
    let mut h = Sha256::new();
    for part in [level, ort_build, &cpu_signature()] {
        h.update(part.as_bytes());
        h.update([0]);
    }
    let key = hex::encode(&h.finalize()[..8]);
    let sha = model_sha256.get(..16).unwrap_or(model_sha256);
    let safe: String = model
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    dir.join(format!("{safe}-{sha}-{key}.onnx"))
}

/// A unique temporary name beside `entry` for ONNX Runtime to write into.
pub fn temp_for(entry: &Path) -> PathBuf {
    let nonce = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let name = entry
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    entry.with_file_name(format!(".{name}.tmp-{}-{nonce}", std::process::id()))
}

/// The first CPU's `model name` and `flags` lines: what decides the kernels and layouts
/// ONNX Runtime picks.
fn cpu_signature() -> String {
    let info = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let field = |name: &str| {
        info.lines()
            .find(|l| l.split(':').next().is_some_and(|k| k.trim() == name))
            .unwrap_or_default()
            .to_string()
    };
    format!(
        "{}|{}|{}",
        std::env::consts::ARCH,
        field("model name"),
        field("flags")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_changes_with_everything_the_optimised_graph_depends_on() {
        let d = Path::new("/c");
        let sha = "46fa6bea420301afda17f9c344b3cc4cb2beb01e760f36d403924486ac65ba61";
        let a = entry(d, "efficientnet-lite0", sha, "all", "ORT 1.32 abc");
        assert_eq!(
            a,
            entry(d, "efficientnet-lite0", sha, "all", "ORT 1.32 abc")
        );
        assert!(
            a.to_string_lossy()
                .starts_with("/c/efficientnet-lite0-46fa6bea420301af-")
        );
        assert_ne!(
            a,
            entry(d, "efficientnet-lite0", sha, "basic", "ORT 1.32 abc")
        );
        assert_ne!(
            a,
            entry(d, "efficientnet-lite0", sha, "all", "ORT 1.33 def")
        );
        assert_ne!(
            a,
            entry(
                d,
                "efficientnet-lite0",
                &"0".repeat(64),
                "all",
                "ORT 1.32 abc"
            )
        );
        assert_eq!(
            entry(d, "../x y", sha, "all", "b").parent(),
            Some(d),
            "names cannot escape the cache dir"
        );
    }

    #[test]
    fn temp_names_are_hidden_siblings() {
        let e = Path::new("/c/m-1-2.onnx");
        let t = temp_for(e);
        assert_eq!(t.parent(), e.parent());
        assert!(
            t.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with(".m-1-2.onnx.tmp-")
        );
    }
}
