//! Packaging: cross build for the runtime's glibc, ELF checks, the package tree, the split
//! into code package vs NAS tree, deterministic zips and FC size limits.

pub mod cross;
pub mod glibc;
pub mod inputs;
pub mod onnxruntime;
pub mod sources;
pub mod zip;

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use globset::{Glob, GlobSetBuilder};

use crate::config::NasConfig;

pub use inputs::{InputError, Sources, check_paths};

/// FC3: code package sent inline (`code.zipFile`) — the limit applies to the base64 text.
pub const INLINE_LIMIT: u64 = 100 * 1000 * 1000;
/// FC3: code package uploaded via OSS.
pub const OSS_LIMIT: u64 = 500 * 1000 * 1000;
/// Unzipped code size fcctl accepts. fc3-api.md states no separate figure; FC unpacks the
/// package onto the instance's 512 MB default disk, so the OSS figure is used as the ceiling.
pub const UNZIPPED_LIMIT: u64 = 500 * 1000 * 1000;

/// One file of the package tree (before the split).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct TreeFile {
    /// Relative path with `/` separators.
    pub rel: String,
    /// Source on disk.
    pub src: PathBuf,
    /// Size in bytes (of the target for links).
    pub size: u64,
    /// Unix permission bits.
    pub mode: u32,
    /// Relative symlink target, for entries that are links in the NAS tree.
    pub link: Option<String>,
}

/// Splits the tree: files matching `nas.include` or at least `nas.threshold_mb` MiB go to NAS
/// (`bootstrap` always stays in the code package).
pub fn split(
    files: Vec<TreeFile>,
    nas: &NasConfig,
) -> anyhow::Result<(Vec<TreeFile>, Vec<TreeFile>)> {
    let mut b = GlobSetBuilder::new();
    for g in &nas.include {
        b.add(Glob::new(g).with_context(|| format!("nas.include: `{g}`"))?);
    }
    let set = b.build()?;
    let threshold = nas.threshold_mb.saturating_mul(1024 * 1024);
    let (mut code, mut to_nas) = (Vec::new(), Vec::new());
    for f in files {
        if f.rel != "bootstrap" && (set.is_match(&f.rel) || (threshold > 0 && f.size >= threshold))
        {
            to_nas.push(f);
        } else {
            code.push(f);
        }
    }
    code.sort();
    to_nas.sort();
    Ok((code, to_nas))
}

/// Mirrors `files` into `dir`: unchanged files (same size and mtime) are left alone so the
/// nas-sync hash cache stays valid; stale files are removed; links are recreated.
pub fn mirror(files: &[TreeFile], dir: &Path) -> anyhow::Result<u64> {
    std::fs::create_dir_all(dir)?;
    let mut keep = std::collections::HashSet::new();
    let mut bytes = 0;
    for f in files {
        zip::check_name(&f.rel)?;
        let dst = dir.join(&f.rel);
        keep.insert(dst.clone());
        if let Some(parent) = dst.parent() {
            std::fs::create_dir_all(parent)?;
        }
        if let Some(target) = &f.link {
            if std::fs::read_link(&dst).ok().as_deref() != Some(Path::new(target)) {
                let _ = std::fs::remove_file(&dst);
                std::os::unix::fs::symlink(target, &dst)
                    .with_context(|| format!("linking {}", dst.display()))?;
            }
            continue;
        }
        bytes += f.size;
        let smd = std::fs::metadata(&f.src)?;
        let same = std::fs::symlink_metadata(&dst).is_ok_and(|d| {
            d.is_file()
                && d.len() == smd.len()
                && d.modified().ok() == smd.modified().ok()
                && d.permissions().mode() & 0o777 == f.mode
        });
        if same {
            continue;
        }
        let _ = std::fs::remove_file(&dst);
        std::fs::copy(&f.src, &dst)
            .with_context(|| format!("copying {} to {}", f.src.display(), dst.display()))?;
        std::fs::set_permissions(&dst, std::fs::Permissions::from_mode(f.mode))?;
        if let Ok(t) = smd.modified() {
            std::fs::File::options()
                .write(true)
                .open(&dst)?
                .set_modified(t)?;
        }
    }
    // Remove files that are no longer part of the tree, then empty dirs.
    let mut dirs = Vec::new();
    for e in walkdir::WalkDir::new(dir).min_depth(1).contents_first(true) {
        let e = e?;
        if e.file_type().is_dir() {
            dirs.push(e.path().to_path_buf());
        } else if !keep.contains(e.path()) {
            std::fs::remove_file(e.path())?;
        }
    }
    for d in dirs {
        let _ = std::fs::remove_dir(d); // only succeeds when empty
    }
    Ok(bytes)
}

/// Human size: `12.3 MB`.
pub fn human(n: u64) -> String {
    const U: [&str; 5] = ["B", "KB", "MB", "GB", "TB"];
    let mut x = n as f64;
    let mut i = 0;
    while x >= 1000.0 && i < U.len() - 1 {
        x /= 1000.0;
        i += 1;
    }
    if i == 0 {
        format!("{n} B")
    } else {
        format!("{x:.1} {}", U[i])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tf(rel: &str, size: u64) -> TreeFile {
        TreeFile {
            rel: rel.into(),
            src: PathBuf::from(rel),
            size,
            mode: 0o644,
            link: None,
        }
    }

    #[test]
    fn split_by_glob_and_threshold() {
        let nas = NasConfig {
            include: vec!["model/**".into()],
            threshold_mb: 1,
            ..NasConfig::default()
        };
        let (code, n) = split(
            vec![
                tf("bootstrap", 50 << 20),
                tf("model/a.onnx", 10),
                tf("static/big.bin", 2 << 20),
                tf("static/small.css", 10),
            ],
            &nas,
        )
        .unwrap();
        let names = |v: &[TreeFile]| v.iter().map(|f| f.rel.clone()).collect::<Vec<_>>();
        assert_eq!(names(&code), vec!["bootstrap", "static/small.css"]);
        assert_eq!(names(&n), vec!["model/a.onnx", "static/big.bin"]);
    }

    #[test]
    fn mirror_writes_nothing_outside_its_dir() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("src"), b"x").unwrap();
        let out = d.path().join("work/nas");
        for rel in ["../../escaped", "/tmp/escaped"] {
            let f = TreeFile {
                src: d.path().join("src"),
                ..tf(rel, 1)
            };
            let e = mirror(&[f], &out).unwrap_err();
            assert!(e.downcast_ref::<zip::UnsafeName>().is_some(), "{rel}: {e}");
        }
        assert!(!d.path().join("escaped").exists());
    }

    #[test]
    fn mirror_keeps_unchanged_and_removes_stale() {
        let d = tempfile::tempdir().unwrap();
        let src = d.path().join("src");
        std::fs::create_dir_all(src.join("m")).unwrap();
        std::fs::write(src.join("m/a"), b"a").unwrap();
        std::fs::write(src.join("m/b"), b"b").unwrap();
        let mut files = Vec::new();
        Sources::new(d.path(), false)
            .unwrap()
            .add_mapping(Path::new("src"), Path::new("model"), &mut files)
            .unwrap();
        let out = d.path().join("nas");
        mirror(&files, &out).unwrap();
        let ino = |p: &Path| {
            use std::os::unix::fs::MetadataExt as _;
            std::fs::metadata(p).unwrap().ino()
        };
        let i1 = ino(&out.join("model/m/a"));
        mirror(&files, &out).unwrap();
        assert_eq!(
            ino(&out.join("model/m/a")),
            i1,
            "unchanged file not rewritten"
        );
        files.retain(|f| !f.rel.ends_with("/b"));
        mirror(&files, &out).unwrap();
        assert!(!out.join("model/m/b").exists());
    }
}
