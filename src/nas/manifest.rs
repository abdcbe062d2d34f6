//! The NAS tree manifest (path, size, mode, sha256) with a local hash cache keyed on
//! (path, size, mtime, inode), so re-hashing an unchanged tree costs one `stat` per file.

use std::collections::BTreeMap;
use std::io::Read as _;
use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::Context as _;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

/// One file (or symlink) of a release: the type the nas-agent receives.
pub use fcctl_protocol::release::ManifestEntry as Entry;

/// A whole tree.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// Entries sorted by path.
    pub files: Vec<Entry>,
}

impl Manifest {
    /// Content-derived release id: `r-` + 12 hex of the sha256 of the canonical manifest JSON.
    pub fn release_id(&self) -> String {
        let bytes = serde_json::to_vec(&self.files).expect("manifest serialises");
        let h = hex::encode(Sha256::digest(&bytes));
        format!("r-{}", &h[..12])
    }

    /// Total bytes of regular files.
    pub fn bytes(&self) -> u64 {
        self.files
            .iter()
            .filter(|e| e.link.is_none())
            .map(|e| e.size)
            .sum()
    }
}

/// A NAS tree path (or link target) that is not UTF-8: manifest paths are OSS keys and JSON
/// strings, so a lossy name could make two files one.
#[derive(Debug, thiserror::Error)]
#[error("{path}: the {what} is not UTF-8")]
pub struct NonUtf8Name {
    /// The path, its bad bytes escaped (`\xNN`).
    pub path: String,
    /// `name` or `link target`.
    pub what: &'static str,
}

impl crate::exit::Hint for NonUtf8Name {
    fn hint(&self) -> Option<std::borrow::Cow<'_, str>> {
        Some("rename it to a UTF-8 name (OSS keys are UTF-8) and run `fcctl build` again".into())
    }
}

fn utf8<'a>(
    s: &'a std::ffi::OsStr,
    full: &Path,
    what: &'static str,
) -> Result<&'a str, NonUtf8Name> {
    s.to_str().ok_or_else(|| NonUtf8Name {
        path: crate::package::inputs::escaped(full),
        what,
    })
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct CacheEntry {
    size: u64,
    mtime_ns: i128,
    ino: u64,
    sha256: String,
}

/// Hashes `dir` into a manifest, using and updating the cache file `cache_path`.
/// Returns the manifest and how many files had to be hashed.
pub fn build(dir: &Path, cache_path: &Path) -> anyhow::Result<(Manifest, usize)> {
    let cache: BTreeMap<String, CacheEntry> = std::fs::read(cache_path)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default();
    let mut files = Vec::new();
    let mut todo = Vec::new();
    for e in walkdir::WalkDir::new(dir).min_depth(1).sort_by_file_name() {
        let e = e.with_context(|| format!("walking {}", dir.display()))?;
        let rel = e
            .path()
            .strip_prefix(dir)
            .unwrap_or(e.path())
            .components()
            .map(|c| utf8(c.as_os_str(), e.path(), "name"))
            .collect::<Result<Vec<_>, _>>()?
            .join("/");
        let md = e.path().symlink_metadata()?;
        let mode = md.permissions().mode() & 0o7777;
        if md.file_type().is_symlink() {
            let target = std::fs::read_link(e.path())?;
            let target = utf8(target.as_os_str(), e.path(), "link target")?.to_string();
            if target.starts_with('/') || target.split('/').any(|p| p == "..") {
                anyhow::bail!(
                    "{}: symlink to `{target}` leaves the release; only links inside the NAS tree are allowed",
                    e.path().display()
                );
            }
            files.push(Entry {
                path: rel,
                size: target.len() as u64,
                mode: 0o777,
                sha256: hex::encode(Sha256::digest(target.as_bytes())),
                link: Some(target),
            });
        } else if md.is_file() {
            let mtime_ns = md.mtime() as i128 * 1_000_000_000 + md.mtime_nsec() as i128;
            let hit = cache
                .get(&rel)
                .filter(|c| c.size == md.len() && c.mtime_ns == mtime_ns && c.ino == md.ino());
            let sha = hit.map(|c| c.sha256.clone()).unwrap_or_default();
            if sha.is_empty() {
                todo.push((files.len(), e.path().to_path_buf(), mtime_ns, md.ino()));
            }
            files.push(Entry {
                path: rel,
                size: md.len(),
                mode,
                sha256: sha,
                link: None,
            });
        }
    }
    // Hash what changed, in parallel.
    let hashed = todo.len();
    let results = Mutex::new(Vec::new());
    let next = AtomicUsize::new(0);
    let workers = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2)
        .min(8);
    let err = Mutex::new(None);
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some((idx, path, _, _)) = todo.get(i) else {
                        break;
                    };
                    match sha256_file(path) {
                        Ok(h) => results.lock().unwrap().push((*idx, h)),
                        Err(e) => {
                            *err.lock().unwrap() = Some(e);
                            break;
                        }
                    }
                }
            });
        }
    });
    if let Some(e) = err.into_inner().unwrap() {
        return Err(e);
    }
    for (idx, h) in results.into_inner().unwrap() {
        files[idx].sha256 = h;
    }
    // Rewrite the cache only when something changed.
    if hashed > 0 || cache.len() != files.iter().filter(|f| f.link.is_none()).count() {
        let mut new = BTreeMap::new();
        let by_idx: std::collections::HashMap<usize, (i128, u64)> =
            todo.iter().map(|(i, _, m, n)| (*i, (*m, *n))).collect();
        for (i, f) in files.iter().enumerate() {
            if f.link.is_some() {
                continue;
            }
            let (mtime_ns, ino) = match by_idx.get(&i) {
                Some(x) => *x,
                None => match cache.get(&f.path) {
                    Some(c) => (c.mtime_ns, c.ino),
                    None => continue,
                },
            };
            new.insert(
                f.path.clone(),
                CacheEntry {
                    size: f.size,
                    mtime_ns,
                    ino,
                    sha256: f.sha256.clone(),
                },
            );
        }
        crate::fsutil::write_atomic(cache_path, &serde_json::to_vec(&new)?)?;
    }
    Ok((Manifest { files }, hashed))
}

/// sha256 hex of a file.
pub fn sha256_file(p: &Path) -> anyhow::Result<String> {
    let mut f = std::fs::File::open(p).with_context(|| format!("reading {}", p.display()))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex::encode(h.finalize()))
}

/// Differences between two manifests.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Diff {
    /// New paths.
    pub added: Vec<String>,
    /// Paths whose content or mode changed.
    pub changed: Vec<String>,
    /// Paths gone.
    pub removed: Vec<String>,
}

/// What changed from `old` to `new`.
pub fn diff(old: &Manifest, new: &Manifest) -> Diff {
    let o: BTreeMap<&str, &Entry> = old.files.iter().map(|e| (e.path.as_str(), e)).collect();
    let n: BTreeMap<&str, &Entry> = new.files.iter().map(|e| (e.path.as_str(), e)).collect();
    let mut d = Diff::default();
    for (p, e) in &n {
        match o.get(p) {
            None => d.added.push(p.to_string()),
            Some(x) if x != e => d.changed.push(p.to_string()),
            _ => {}
        }
    }
    for p in o.keys() {
        if !n.contains_key(p) {
            d.removed.push(p.to_string());
        }
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_utf8_names_in_the_nas_tree_are_refused_not_merged() {
        use std::os::unix::ffi::OsStrExt as _;
        let d = tempfile::tempdir().unwrap();
        let tree = d.path().join("t");
        std::fs::create_dir_all(&tree).unwrap();
        for b in [&b"bad\xffname.bin"[..], &b"bad\xfename.bin"[..]] {
            std::fs::write(tree.join(std::ffi::OsStr::from_bytes(b)), b).unwrap();
        }
        let e = build(&tree, &d.path().join("c.json")).unwrap_err();
        let e = e.downcast_ref::<NonUtf8Name>().expect("typed error");
        assert!(e.path.ends_with("t/bad\\xFEname.bin"), "{e}");
        assert_eq!(e.what, "name");
        let tree = d.path().join("u");
        std::fs::create_dir_all(&tree).unwrap();
        std::os::unix::fs::symlink(std::ffi::OsStr::from_bytes(b"x\xff"), tree.join("l")).unwrap();
        let e = build(&tree, &d.path().join("c2.json")).unwrap_err();
        assert_eq!(e.downcast_ref::<NonUtf8Name>().unwrap().what, "link target");
    }

    #[test]
    fn cache_skips_unchanged_and_catches_changes() {
        let d = tempfile::tempdir().unwrap();
        let tree = d.path().join("t");
        std::fs::create_dir_all(tree.join("model")).unwrap();
        std::fs::write(tree.join("model/a"), b"aaa").unwrap();
        std::fs::write(tree.join("model/b"), b"bbb").unwrap();
        std::os::unix::fs::symlink("a", tree.join("model/c")).unwrap();
        let cache = d.path().join("cache.json");
        let (m1, h1) = build(&tree, &cache).unwrap();
        assert_eq!(h1, 2);
        assert_eq!(m1.files.len(), 3);
        assert_eq!(m1.files[2].link.as_deref(), Some("a"));
        let (m2, h2) = build(&tree, &cache).unwrap();
        assert_eq!((m1.release_id(), h2), (m2.release_id(), 0));
        std::fs::write(tree.join("model/b"), b"bbbb").unwrap();
        let (m3, h3) = build(&tree, &cache).unwrap();
        assert_eq!(h3, 1);
        assert_ne!(m3.release_id(), m1.release_id());
        let df = diff(&m1, &m3);
        assert_eq!(df.changed, vec!["model/b"]);
        assert!(df.added.is_empty() && df.removed.is_empty());
    }
}
