//! NAS releases: manifest (sha256 tree + hash cache), diff, presigned blob URLs, and the
//! nas-agent helper function that materialises `<mount>/<app>/releases/<id>/` atomically.
//!
//! Layout: blobs in OSS at `<oss_prefix>/blobs/<sha256>` (content-addressed, so uploads are
//! idempotent and shared between releases); releases on NAS at
//! `<nas.mount_dir>/<app>/releases/<release-id>/` where the id is derived from the manifest.

pub mod agent;
pub mod manifest;
pub mod presign;
pub mod releases;

use crate::cloud::Cloud;

/// OSS key of a blob.
pub fn blob_key(prefix: &str, sha256: &str) -> String {
    format!("{}/blobs/{sha256}", prefix.trim_end_matches('/'))
}

/// A presigner for the agent: the connection's own key, and the OSS endpoint the function
/// reaches (the configured/emulator endpoint, else the region's internal endpoint).
pub fn presigner(cloud: &Cloud) -> presign::Presigner {
    let endpoint = cloud
        .cfg
        .oss_endpoint
        .clone()
        .unwrap_or_else(|| crate::aliyun::oss::default_oss_endpoint(&cloud.cfg.region, true));
    presign::Presigner::new(
        &endpoint,
        cloud.oss.bucket(),
        &cloud.cfg.region,
        cloud.key.clone(),
        cloud.oss.signature(),
    )
}
