//! Code packages: stored content-addressed (zip + unpacked tree) and served back.

use crate::api_error::ApiError;
use crate::context::Ctx;
use crate::fc::reply::Reply;
use crate::util::crc64;
use axum::body::Body;
use axum::response::Response;
use base64::Engine as _;
use http::HeaderValue;
use serde_json::Value;
use std::path::Path;

/// Reads the code package described by `code` and stores it content-addressed.
pub fn store_code(ctx: &Ctx, code: &Value) -> Result<(String, u64, u64), ApiError> {
    let bytes = if let Some(z) = code["zipFile"].as_str().filter(|s| !s.is_empty()) {
        base64::engine::general_purpose::STANDARD
            .decode(z.trim())
            .map_err(|e| {
                ApiError::invalid_argument(format!("code.zipFile is not valid base64: {e}"))
            })?
    } else if let (Some(b), Some(o)) = (
        code["ossBucketName"].as_str(),
        code["ossObjectName"].as_str(),
    ) {
        crate::oss::read_object(ctx, b, o).ok_or_else(|| {
            ApiError::invalid_argument(format!(
                "code package oss://{b}/{o} does not exist in the emulator's OSS"
            ))
        })?
    } else {
        return Err(ApiError::invalid_argument(
            "code must have zipFile or ossBucketName + ossObjectName",
        ));
    };
    let crc = crc64(&bytes);
    if let Some(c) = code["checksum"].as_str().filter(|s| !s.is_empty())
        && c != crc.to_string()
    {
        return Err(ApiError::invalid_argument(format!(
            "code checksum mismatch: given {c}, computed crc64 {crc}"
        )));
    }
    let sha = crate::sign::sha256_hex(&bytes);
    let dir = ctx.info.data_dir.join("code");
    let target = dir.join(&sha);
    if !target.exists() {
        let tmp = dir.join(format!(".{sha}.tmp-{}", uuid::Uuid::new_v4().simple()));
        let stored = unpack_zip(&bytes, &tmp).and_then(|()| {
            crate::util::atomic_write(&dir.join(format!("{sha}.zip")), &bytes)
                .map_err(Unpack::Storage)
        });
        if let Err(e) = stored {
            let _ = std::fs::remove_dir_all(&tmp);
            return Err(match e {
                Unpack::Zip(e) => {
                    ApiError::invalid_argument(format!("code package is not a valid zip: {e}"))
                }
                Unpack::Storage(e) => ApiError::internal(format!(
                    "the emulator could not store the code package in its data dir: {e}"
                )),
            });
        }
        if std::fs::rename(&tmp, &target).is_err() {
            let _ = std::fs::remove_dir_all(&tmp);
        }
    }
    Ok((sha, crc, bytes.len() as u64))
}

/// Why a code package could not be unpacked: the caller's zip (400) or the emulator's own
/// disk (500), which must never be blamed on the package.
pub enum Unpack {
    Zip(String),
    Storage(std::io::Error),
}

pub fn unpack_zip(bytes: &[u8], dest: &Path) -> Result<(), Unpack> {
    use std::os::unix::fs::PermissionsExt as _;
    let zip_err = |e: zip::result::ZipError| match e {
        zip::result::ZipError::Io(e) => Unpack::Storage(e),
        e => Unpack::Zip(e.to_string()),
    };
    let mut z = zip::ZipArchive::new(std::io::Cursor::new(bytes)).map_err(zip_err)?;
    std::fs::create_dir_all(dest).map_err(Unpack::Storage)?;
    for i in 0..z.len() {
        let mut f = z.by_index(i).map_err(zip_err)?;
        let Some(rel) = f.enclosed_name() else {
            return Err(Unpack::Zip(format!("unsafe path in zip: {}", f.name())));
        };
        let out = dest.join(rel);
        if f.is_dir() {
            std::fs::create_dir_all(&out).map_err(Unpack::Storage)?;
            continue;
        }
        if let Some(p) = out.parent() {
            std::fs::create_dir_all(p).map_err(Unpack::Storage)?;
        }
        let mut w = std::fs::File::create(&out).map_err(Unpack::Storage)?;
        // Reading a corrupt entry fails as an io::Error too; tell the two apart by side.
        let mut buf = Vec::new();
        std::io::Read::read_to_end(&mut f, &mut buf).map_err(|e| Unpack::Zip(e.to_string()))?;
        std::io::Write::write_all(&mut w, &buf).map_err(Unpack::Storage)?;
        let mode = f
            .unix_mode()
            .map(|m| m & 0o7777)
            .filter(|m| *m != 0)
            .unwrap_or(0o644);
        std::fs::set_permissions(&out, std::fs::Permissions::from_mode(mode))
            .map_err(Unpack::Storage)?;
    }
    Ok(())
}

pub async fn serve_code(ctx: &Ctx, sha: &str) -> Reply {
    if sha.len() != 64 || !sha.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(ApiError::new(404, "NotFound", "no such code package"));
    }
    let p = ctx.info.data_dir.join("code").join(format!("{sha}.zip"));
    let b = tokio::fs::read(&p)
        .await
        .map_err(|_| ApiError::new(404, "NotFound", "no such code package"))?;
    let mut r = Response::new(Body::from(b));
    r.headers_mut()
        .insert("content-type", HeaderValue::from_static("application/zip"));
    Ok(r)
}
