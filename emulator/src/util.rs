//! Small helpers: CRC-64, times, request ids, crash-safe writes, free ports, shell quoting.

use std::io::Write as _;
use std::path::Path;

const CRC64: crc::Crc<u64> = crc::Crc::<u64>::new(&crc::CRC_64_XZ);

/// CRC-64/XZ: what OSS calls crc64ecma (`x-oss-hash-crc64ecma`) and FC reports as a
/// function's `codeChecksum`; both print it as a decimal number.
pub fn crc64(data: &[u8]) -> u64 {
    CRC64.checksum(data)
}

pub fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .unwrap_or_else(|_| time::OffsetDateTime::now_utc())
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// FC-style request id, e.g. `1-6650a1b2-3c4d5e6f7a8b9c0d1e2f3a4b`.
pub fn request_id() -> String {
    let u = uuid::Uuid::new_v4().simple().to_string();
    format!("1-{:08x}-{}", (now_ms() / 1000) as u32, &u[..24])
}

/// Write `data` to `path` atomically: temp file + fsync + rename + fsync(dir). On failure
/// (a full disk) the temp file is removed, so a failed write leaves no bytes behind.
pub fn atomic_write(path: &Path, data: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let tmp = dir.join(format!(
        ".{}.tmp-{}",
        path.file_name().and_then(|s| s.to_str()).unwrap_or("f"),
        uuid::Uuid::new_v4().simple()
    ));
    let written = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(data)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// Reserve a free TCP port on 127.0.0.1 (bind to :0, read it, release it).
pub fn free_port() -> std::io::Result<u16> {
    let l = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(l.local_addr()?.port())
}

/// Single-quotes `s` for `sh`, so any string (spaces, quotes, `$`) stays one literal word.
pub fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn crc64_check_value() {
        // CRC-64/XZ check value for "123456789".
        assert_eq!(super::crc64(b"123456789"), 0x995D_C9BB_DF19_39FA);
        assert_eq!(super::crc64(b""), 0);
    }
}
