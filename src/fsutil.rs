//! File-system helpers shared by every layer.

use std::io::Write as _;
use std::path::{Path, PathBuf};

/// `dir` made absolute: canonical when it exists (symlinks resolved, so two spellings of one
/// project agree), else joined to the current directory.
pub fn absolute_dir(dir: &Path) -> PathBuf {
    std::fs::canonicalize(dir)
        .or_else(|_| std::path::absolute(dir))
        .unwrap_or_else(|_| dir.to_path_buf())
}

/// Writes a file atomically (temp + fsync + rename) so a crash never leaves half a file.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let at = |what: &str, p: &Path| {
        let what = what.to_string();
        let p = p.display().to_string();
        move |e: std::io::Error| std::io::Error::new(e.kind(), format!("{what} {p}: {e}"))
    };
    std::fs::create_dir_all(&dir).map_err(at("creating", &dir))?;
    let mut tmp =
        tempfile::NamedTempFile::new_in(&dir).map_err(at("creating a temp file in", &dir))?;
    tmp.write_all(bytes).map_err(at("writing", path))?;
    tmp.as_file().sync_all().map_err(at("writing", path))?;
    tmp.persist(path)
        .map_err(|e| at("writing", path)(e.error))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn write_atomic_replaces_the_whole_file() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("sub").join("f.json");
        super::write_atomic(&p, b"long first version").unwrap();
        super::write_atomic(&p, b"short").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"short");
        assert_eq!(std::fs::read_dir(p.parent().unwrap()).unwrap().count(), 1);
    }

    #[test]
    fn absolute_dir_of_a_missing_relative_dir_is_under_the_cwd() {
        let p = super::absolute_dir(std::path::Path::new("no/such/dir"));
        assert!(
            p.is_absolute() && p.ends_with("no/such/dir"),
            "{}",
            p.display()
        );
    }
}
