//! Objects on disk: `<data_dir>/oss/<bucket>/objects/<sha256(key)>` + `.json` metadata,
//! multipart uploads under `uploads/<upload id>/`.

use crate::api_error::ApiError;
use crate::context::Ctx;
use crate::util::atomic_write;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Meta {
    pub key: String,
    pub size: u64,
    pub etag: String,
    pub content_type: String,
    pub last_modified: u64,
    pub crc64: u64,
    #[serde(default)]
    pub multipart: bool,
    #[serde(default)]
    pub user_meta: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UploadInfo {
    pub key: String,
    pub content_type: String,
    pub initiated: u64,
    pub user_meta: BTreeMap<String, String>,
}

pub fn bucket_dir(ctx: &Ctx, b: &str) -> PathBuf {
    ctx.info.data_dir.join("oss").join(b)
}

pub fn obj_paths(ctx: &Ctx, b: &str, key: &str) -> (PathBuf, PathBuf) {
    let h = crate::sign::sha256_hex(key.as_bytes());
    let d = bucket_dir(ctx, b).join("objects");
    (d.join(&h), d.join(format!("{h}.json")))
}

pub fn load_meta(ctx: &Ctx, b: &str, key: &str) -> Option<Meta> {
    let (_, m) = obj_paths(ctx, b, key);
    serde_json::from_slice(&std::fs::read(m).ok()?).ok()
}

/// Reads a whole object (used for `code.ossBucketName/ossObjectName`).
pub fn read_object(ctx: &Ctx, bucket: &str, key: &str) -> Option<Vec<u8>> {
    load_meta(ctx, bucket, key)?;
    std::fs::read(obj_paths(ctx, bucket, key).0).ok()
}

pub fn store(ctx: &Ctx, bucket: &str, meta: &Meta, data: &[u8]) -> Result<(), ApiError> {
    let (d, m) = obj_paths(ctx, bucket, &meta.key);
    atomic_write(&d, data).map_err(internal_error)?;
    atomic_write(&m, &serde_json::to_vec(meta).unwrap_or_default()).map_err(|e| {
        // Data without metadata is no object, only lost space.
        let _ = std::fs::remove_file(&d);
        internal_error(e)
    })
}

pub fn all_meta(ctx: &Ctx, bucket: &str) -> Vec<Meta> {
    let mut v: Vec<Meta> = std::fs::read_dir(bucket_dir(ctx, bucket).join("objects"))
        .map(|d| {
            d.filter_map(|e| e.ok())
                .filter(|e| e.file_name().to_string_lossy().ends_with(".json"))
                .filter_map(|e| serde_json::from_slice(&std::fs::read(e.path()).ok()?).ok())
                .collect()
        })
        .unwrap_or_default();
    v.sort_by(|a, b| a.key.cmp(&b.key));
    v
}

pub fn parts_of(up: &std::path::Path) -> Vec<(u32, PathBuf)> {
    let mut v: Vec<(u32, PathBuf)> = std::fs::read_dir(up)
        .map(|d| {
            d.filter_map(|e| e.ok())
                .filter_map(|e| {
                    let n = e
                        .file_name()
                        .to_string_lossy()
                        .strip_prefix("part-")?
                        .parse()
                        .ok()?;
                    Some((n, e.path()))
                })
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

pub fn sanitize(s: &str) -> String {
    s.chars().filter(|c| c.is_ascii_alphanumeric()).collect()
}

/// A storage failure of the emulator's disk (full, read-only, …): OSS's 500 `InternalError`,
/// naming the cause, so a client sees a server fault and not a fault in its request.
pub fn internal_error(e: std::io::Error) -> ApiError {
    ApiError::new(
        500,
        "InternalError",
        format!("the emulator could not store the data in its data dir: {e}"),
    )
}
