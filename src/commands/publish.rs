//! `fcctl publish`: publish a version, refusing when the function drifted from the last build.

use anyhow::bail;
use serde::Serialize;

use crate::aliyun::fc_models::PublishVersionInput;
use crate::cli::PublishArgs;
use crate::commands::Ctx;
use crate::commands::connect::Cloud;
use crate::deploy::BuiltCode;
use crate::deploy::digest::function_digest;
use crate::deploy::release::{list_versions, parse_stamp, stamp};
use crate::state::State;

/// Result of a publish.
#[derive(Debug, Serialize)]
pub struct PublishReport {
    /// The version that serves the current function settings.
    pub version: String,
    /// False when an identical version already existed.
    pub created: bool,
    /// Digest of code + managed settings.
    pub digest: String,
    /// NAS release the version pins.
    pub release_id: String,
}

/// Publishes unless an identical version exists.
pub async fn execute(
    ctx: &Ctx,
    cloud: &Cloud,
    description: Option<&str>,
    force: bool,
) -> anyhow::Result<PublishReport> {
    let name = cloud.cfg.function_name().to_string();
    let f = cloud.fc.get_function(&name, None).await?;
    let release = f
        .environment_variables
        .as_ref()
        .and_then(|e| e.get("FCCTL_RELEASE").cloned())
        .unwrap_or_default();
    if !force {
        let built = BuiltCode::load(&ctx.work_dir())?;
        let state = State::load(&ctx.work_dir())?;
        let mut drift = Vec::new();
        if f.code_checksum.as_deref() != Some(built.code_zip_crc64.as_str()) {
            drift.push(format!(
                "code checksum {} online vs {} in the last build",
                f.code_checksum.as_deref().unwrap_or("-"),
                built.code_zip_crc64
            ));
        }
        if let Some(r) = &state.release_id
            && *r != release
        {
            drift.push(format!("NAS release {release} online vs {r} last synced"));
        }
        if !drift.is_empty() {
            bail!(
                "{name} differs from the last build ({}); run `fcctl deploy` first, or `fcctl publish --force` to publish what is online",
                drift.join("; ")
            );
        }
    }
    let digest = function_digest(&f);
    let versions = list_versions(&cloud.fc, &name).await?;
    if let Some(v) = versions.iter().rev().find(|v| {
        v.description
            .as_deref()
            .and_then(parse_stamp)
            .is_some_and(|(d, _)| d == digest)
    }) {
        return Ok(PublishReport {
            version: v.version_id.clone().unwrap_or_default(),
            created: false,
            digest,
            release_id: release,
        });
    }
    let v = cloud
        .fc
        .publish_function_version(
            &name,
            &PublishVersionInput {
                description: Some(stamp(description.unwrap_or(""), &digest, &release)),
            },
        )
        .await?;
    Ok(PublishReport {
        version: v.version_id.unwrap_or_default(),
        created: true,
        digest,
        release_id: release,
    })
}

/// Prints the publish result.
pub async fn run(ctx: &Ctx, a: PublishArgs) -> anyhow::Result<()> {
    let cloud = ctx.cloud().await?;
    let r = execute(ctx, &cloud, a.description.as_deref(), a.force).await?;
    ctx.out.result(&r, || {
        if r.created {
            format!(
                "published version {} (release {}, digest {})",
                r.version, r.release_id, r.digest
            )
        } else {
            format!(
                "version {} already serves these settings (digest {}); nothing published",
                r.version, r.digest
            )
        }
    });
    Ok(())
}
