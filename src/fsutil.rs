//! File-system helpers shared by every layer.

use std::borrow::Cow;
use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};

use crate::exit::Hint;

/// The most a request body read from a file may be: FC's synchronous invocation payload
/// limit (docs/cloud-facts.md), which the function enforces too (413 past it).
pub const MAX_REQUEST_BODY: u64 = 32 << 20;

/// Why [`read_capped`] read nothing.
#[derive(Debug, thiserror::Error)]
pub enum ReadCappedError {
    /// Devices, FIFOs, sockets and directories have no size to check and may never end.
    #[error("{what} {path} is {kind}, not a regular file ({what} limit: {limit})", limit = human_bytes(*.cap))]
    NotAFile {
        path: PathBuf,
        what: &'static str,
        kind: &'static str,
        cap: u64,
    },
    #[error("{what} {path} {size}, over the {what} limit of {limit}", limit = human_bytes(*.cap), size = size_text(*.size, *.cap))]
    TooLarge {
        path: PathBuf,
        what: &'static str,
        cap: u64,
        /// The size `stat` reported, when that already told; `None` when the file grew past
        /// the cap while it was read.
        size: Option<u64>,
    },
    #[error("cannot read {what} {path}: {source}")]
    Io {
        path: PathBuf,
        what: &'static str,
        source: std::io::Error,
    },
}

impl Hint for ReadCappedError {
    fn hint(&self) -> Option<Cow<'_, str>> {
        match self {
            ReadCappedError::NotAFile { .. } => Some("name a regular file".into()),
            ReadCappedError::TooLarge { what, cap, .. } => {
                Some(format!("use a smaller {what}: at most {}", human_bytes(*cap)).into())
            }
            ReadCappedError::Io { .. } => None,
        }
    }
}

fn human_bytes(n: u64) -> String {
    if n >= 1 << 20 && n.is_multiple_of(1 << 20) {
        format!("{} MiB", n >> 20)
    } else if n >= 1 << 10 && n.is_multiple_of(1 << 10) {
        format!("{} KiB", n >> 10)
    } else {
        format!("{n} bytes")
    }
}

fn size_text(size: Option<u64>, cap: u64) -> String {
    match size {
        Some(n) => format!("is {n} bytes"),
        None => format!("grew past {cap} bytes while being read"),
    }
}

/// What a non-regular file is, for the error message.
fn kind_of(ft: std::fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt as _;
    if ft.is_dir() {
        "a directory"
    } else if ft.is_char_device() {
        "a character device"
    } else if ft.is_block_device() {
        "a block device"
    } else if ft.is_fifo() {
        "a FIFO (named pipe)"
    } else if ft.is_socket() {
        "a socket"
    } else {
        "not a regular file"
    }
}

/// Reads the whole of `path`, a regular file (symlinks to one are fine) of at most `cap`
/// bytes; `what` names it in errors ("image", "config file"). Special files are refused
/// before a byte is read, and the read itself stops at `cap + 1` bytes, so a file that grows
/// while it is read (or lies in `stat`) cannot make fcctl hold more than the cap.
///
/// # Errors
///
/// [`ReadCappedError`]: not a regular file, over the cap, or unreadable.
pub fn read_capped(path: &Path, cap: u64, what: &'static str) -> Result<Vec<u8>, ReadCappedError> {
    use std::os::unix::fs::OpenOptionsExt as _;
    let io = |source| ReadCappedError::Io {
        path: path.to_path_buf(),
        what,
        source,
    };
    let not_a_file = |ft| ReadCappedError::NotAFile {
        path: path.to_path_buf(),
        what,
        kind: kind_of(ft),
        cap,
    };
    let too_large = |size| ReadCappedError::TooLarge {
        path: path.to_path_buf(),
        what,
        cap,
        size,
    };
    // Checked before opening: opening a FIFO for reading blocks until a writer comes.
    let meta = std::fs::metadata(path).map_err(io)?;
    if !meta.is_file() {
        return Err(not_a_file(meta.file_type()));
    }
    // Non-blocking, and checked again on the handle, in case the path was swapped for a
    // special file between the two looks.
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .map_err(io)?;
    let meta = file.metadata().map_err(io)?;
    if !meta.is_file() {
        return Err(not_a_file(meta.file_type()));
    }
    if meta.len() > cap {
        return Err(too_large(Some(meta.len())));
    }
    let mut bytes = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
    file.take(cap.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(io)?;
    if bytes.len() as u64 > cap {
        return Err(too_large(None));
    }
    Ok(bytes)
}

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
    use super::{ReadCappedError, read_capped};
    use crate::exit::Hint as _;

    #[test]
    fn read_capped_reads_a_file_up_to_its_cap_and_refuses_one_byte_more() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("img.jpg");
        std::fs::write(&p, vec![7u8; 1024]).unwrap();
        assert_eq!(read_capped(&p, 1024, "image").unwrap().len(), 1024);
        let e = read_capped(&p, 1023, "image").unwrap_err();
        assert!(
            matches!(
                e,
                ReadCappedError::TooLarge {
                    size: Some(1024),
                    ..
                }
            ),
            "{e:?}"
        );
        let text = e.to_string();
        assert!(
            text.contains("img.jpg") && text.contains("1023 bytes"),
            "{text}"
        );
        assert!(e.hint().is_some());
        // A link to a regular file is a regular file.
        let link = d.path().join("link.jpg");
        std::os::unix::fs::symlink(&p, &link).unwrap();
        assert_eq!(read_capped(&link, 1 << 20, "image").unwrap().len(), 1024);
    }

    #[test]
    fn read_capped_refuses_devices_fifos_sockets_and_directories_naming_them() {
        let d = tempfile::tempdir().unwrap();
        let fifo = d.path().join("pipe");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(made.success());
        let sock = d.path().join("sock");
        let _listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
        let cases = [
            (std::path::PathBuf::from("/dev/zero"), "character device"),
            (fifo, "FIFO"),
            (sock, "socket"),
            (d.path().to_path_buf(), "directory"),
        ];
        for (path, kind) in cases {
            // A FIFO without a writer would block a reader forever: this returns at once.
            let e = read_capped(&path, 32 << 20, "image").unwrap_err();
            let text = e.to_string();
            assert!(
                matches!(e, ReadCappedError::NotAFile { .. })
                    && text.contains(kind)
                    && text.contains(&path.display().to_string())
                    && text.contains("32 MiB"),
                "{}: {text}",
                path.display()
            );
        }
    }

    #[test]
    fn read_capped_stops_at_the_cap_when_the_file_lies_about_its_size() {
        // /proc files stat as 0 bytes yet have content: the bounded read still applies.
        let e = read_capped(std::path::Path::new("/proc/self/maps"), 16, "image").unwrap_err();
        assert!(
            matches!(e, ReadCappedError::TooLarge { size: None, .. }),
            "{e:?}"
        );
        assert!(e.to_string().contains("grew past 16 bytes"), "{e}");
    }

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
