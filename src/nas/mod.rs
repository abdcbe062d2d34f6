//! NAS releases: manifest (sha256 tree + hash cache), diff, presigned blob URLs, and the
//! nas-agent helper function that materialises `<mount>/<app>/releases/<id>/` atomically.
//!
//! Layout: blobs in OSS at `<oss_prefix>/blobs/<sha256>` (content-addressed, so uploads are
//! idempotent and shared between releases); releases on NAS at
//! `<nas.mount_dir>/<app>/releases/<release-id>/` where the id is derived from the manifest.

pub mod agent;
pub mod manifest;
pub mod presign;

use crate::commands::Ctx;
use crate::commands::connect::Cloud;

/// OSS key of a blob.
pub fn blob_key(prefix: &str, sha256: &str) -> String {
    format!("{}/blobs/{sha256}", prefix.trim_end_matches('/'))
}

/// A presigner for the agent: fcctl's own credentials, the OSS endpoint the function reaches
/// (the configured/emulator endpoint, else the region's internal endpoint).
pub fn presigner(ctx: &Ctx, cloud: &Cloud) -> anyhow::Result<presign::Presigner> {
    let endpoint = cloud
        .cfg
        .oss_endpoint
        .clone()
        .unwrap_or_else(|| crate::aliyun::oss::default_oss_endpoint(&cloud.cfg.region, true));
    let bucket = cloud.oss.bucket().to_string();
    if let Some(info) = &cloud.local {
        return Ok(presign::Presigner::new(
            &endpoint,
            &bucket,
            &info.access_key_id,
            &info.access_key_secret,
            None,
        ));
    }
    let c = ctx.credentials()?;
    Ok(presign::Presigner::new(
        &endpoint,
        &bucket,
        &c.access_key_id,
        c.access_key_secret.expose(),
        c.security_token.as_ref().map(|t| t.expose()),
    ))
}
