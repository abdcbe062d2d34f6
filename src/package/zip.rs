//! Deterministic zip: sorted entries, fixed timestamps (1980-01-01), fixed modes, fixed
//! compression level — the same inputs always give the same bytes.

use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use sha2::{Digest as _, Sha256};

/// One zip entry: a file on disk stored under `name` with `mode`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ZipEntry {
    /// Path inside the archive (forward slashes).
    pub name: String,
    /// Source file (symlinks are followed).
    pub src: PathBuf,
    /// Unix permission bits.
    pub mode: u32,
}

/// What was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZipStats {
    /// Archive size.
    pub zipped: u64,
    /// Sum of entry sizes.
    pub unzipped: u64,
    /// sha256 of the archive (hex).
    pub sha256: String,
    /// CRC-64/ECMA-182 (XZ variant, as OSS `x-oss-hash-crc64ecma` and FC `codeChecksum`).
    pub crc64: u64,
}

/// A zip entry (or NAS tree) name that would land outside the directory it is unpacked into.
/// Config validation and the input walk refuse such names first; this is the last check
/// before bytes are written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("refusing package path `{name}`: {why}")]
pub struct UnsafeName {
    /// The name.
    pub name: String,
    /// What is wrong with it.
    pub why: &'static str,
}

/// Accepts only `a/b/c` names: relative, no empty, `.` or `..` component, no NUL.
pub fn check_name(name: &str) -> Result<(), UnsafeName> {
    let why = if name.is_empty() {
        "it is empty"
    } else if name.starts_with('/') {
        "it is absolute"
    } else if name.contains('\0') {
        "it contains NUL"
    } else if name.split('/').any(|c| c == "..") {
        "it has a `..` component"
    } else if name.split('/').any(|c| c.is_empty() || c == ".") {
        "it has an empty or `.` component"
    } else {
        return Ok(());
    };
    Err(UnsafeName {
        name: name.to_string(),
        why,
    })
}

/// CRC-64 as OSS and FC compute it.
pub const CRC64: crc::Crc<u64> = crc::Crc::<u64>::new(&crc::CRC_64_XZ);

/// Writes `entries` (sorted by name here) to `out` atomically and returns its stats.
pub fn write(entries: &[ZipEntry], out: &Path) -> anyhow::Result<ZipStats> {
    let mut entries = entries.to_vec();
    entries.sort();
    for e in &entries {
        check_name(&e.name)?;
    }
    // Two sources for one name would lose one of them.
    if let Some(w) = entries.windows(2).find(|w| w[0].name == w[1].name) {
        anyhow::bail!(
            "two files for zip entry `{}`: {} and {}",
            w[0].name,
            w[0].src.display(),
            w[1].src.display()
        );
    }
    let dir = out.parent().context("zip output has no parent dir")?;
    std::fs::create_dir_all(dir)?;
    let tmp = tempfile::NamedTempFile::new_in(dir)?;
    let mut unzipped = 0u64;
    {
        let mut zw = ::zip::ZipWriter::new(tmp.as_file());
        let mut buf = vec![0u8; 1 << 20];
        for e in &entries {
            let len = std::fs::metadata(&e.src)
                .with_context(|| format!("reading {}", e.src.display()))?
                .len();
            let opts = ::zip::write::SimpleFileOptions::default()
                .compression_method(::zip::CompressionMethod::Deflated)
                .compression_level(Some(6))
                .last_modified_time(::zip::DateTime::default())
                .unix_permissions(e.mode & 0o777)
                .large_file(len >= u32::MAX as u64);
            zw.start_file(e.name.as_str(), opts)?;
            let mut f = std::fs::File::open(&e.src)
                .with_context(|| format!("reading {}", e.src.display()))?;
            loop {
                let n = f.read(&mut buf)?;
                if n == 0 {
                    break;
                }
                zw.write_all(&buf[..n])?;
                unzipped += n as u64;
            }
        }
        zw.finish()?;
    }
    tmp.as_file().sync_all()?;
    tmp.persist(out)
        .with_context(|| format!("writing {}", out.display()))?;
    let (sha256, crc64, zipped) = hash_file(out)?;
    Ok(ZipStats {
        zipped,
        unzipped,
        sha256,
        crc64,
    })
}

/// sha256 (hex), CRC-64 and size of a file.
pub fn hash_file(p: &Path) -> anyhow::Result<(String, u64, u64)> {
    let mut f = std::fs::File::open(p).with_context(|| format!("reading {}", p.display()))?;
    let mut h = Sha256::new();
    let mut c = CRC64.digest();
    let mut n = 0u64;
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let k = f.read(&mut buf)?;
        if k == 0 {
            break;
        }
        h.update(&buf[..k]);
        c.update(&buf[..k]);
        n += k as u64;
    }
    Ok((hex::encode(h.finalize()), c.finalize(), n))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_inputs_same_bytes_and_modes() {
        let d = tempfile::tempdir().unwrap();
        let a = d.path().join("a");
        let b = d.path().join("b");
        std::fs::write(&a, b"#!/bin/sh\necho hi\n").unwrap();
        std::fs::write(&b, vec![7u8; 100_000]).unwrap();
        let entries = vec![
            ZipEntry {
                name: "z/data".into(),
                src: b.clone(),
                mode: 0o644,
            },
            ZipEntry {
                name: "bootstrap".into(),
                src: a.clone(),
                mode: 0o755,
            },
        ];
        let s1 = write(&entries, &d.path().join("1.zip")).unwrap();
        // Touch the sources: timestamps must not matter.
        let f = std::fs::File::options().write(true).open(&a).unwrap();
        f.set_modified(std::time::SystemTime::now() + std::time::Duration::from_secs(99))
            .unwrap();
        let mut rev = entries.clone();
        rev.reverse();
        let s2 = write(&rev, &d.path().join("2.zip")).unwrap();
        assert_eq!(s1, s2);
        assert_eq!(s1.unzipped, 100_000 + 18);
        let mut z =
            ::zip::ZipArchive::new(std::fs::File::open(d.path().join("1.zip")).unwrap()).unwrap();
        assert_eq!(z.by_index(0).unwrap().name(), "bootstrap");
        assert_eq!(z.by_index(0).unwrap().unix_mode(), Some(0o100755));
    }

    #[test]
    fn entry_names_leaving_the_archive_root_are_refused_before_writing() {
        let d = tempfile::tempdir().unwrap();
        let a = d.path().join("a");
        std::fs::write(&a, b"x").unwrap();
        for name in [
            "../../../../etc/x",
            "/etc/passwd",
            "a/../../b",
            "a//b",
            "./a",
            "",
        ] {
            let out = d.path().join("out.zip");
            let e = write(
                &[ZipEntry {
                    name: name.into(),
                    src: a.clone(),
                    mode: 0o644,
                }],
                &out,
            )
            .unwrap_err();
            assert!(e.downcast_ref::<UnsafeName>().is_some(), "{name}: {e}");
            assert!(!out.exists(), "{name}");
        }
    }

    #[test]
    fn two_files_for_one_entry_name_are_refused_not_deduplicated() {
        let d = tempfile::tempdir().unwrap();
        let (a, b) = (d.path().join("a"), d.path().join("b"));
        std::fs::write(&a, b"a").unwrap();
        std::fs::write(&b, b"b").unwrap();
        let entry = |src: &Path| ZipEntry {
            name: "bad\u{FFFD}name.bin".into(),
            src: src.to_path_buf(),
            mode: 0o644,
        };
        let e = write(&[entry(&a), entry(&b)], &d.path().join("o.zip")).unwrap_err();
        assert!(e.to_string().contains("two files"), "{e}");
    }

    #[test]
    fn crc64_matches_the_emulator() {
        let data = b"123456789";
        assert_eq!(CRC64.checksum(data), emulator::crc64(data));
    }
}
