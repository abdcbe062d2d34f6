//! `fcctl publish`: publish a version, refusing when the function drifted from the last build.

use anyhow::bail;
use serde::Serialize;

use crate::aliyun::fc_models::PublishVersionInput;
use crate::aliyun::retry::{self, Idempotency};
use crate::cloud::Cloud;
use crate::deploy::BuiltCode;
use crate::deploy::digest::function_digest;
use crate::deploy::version_stamp::{list_versions, parse_stamp, stamp};
use crate::project::Project;
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
    /// A dry run: nothing was published (`version` is empty when one would be).
    pub dry_run: bool,
}

/// Publishes unless an identical version exists (with `dry_run`, only says which).
pub async fn execute(
    project: &Project,
    cloud: &Cloud,
    description: Option<&str>,
    force: bool,
    dry_run: bool,
) -> anyhow::Result<PublishReport> {
    let name = cloud.cfg.function_name().to_string();
    let f = cloud.fc.get_function(&name, None).await?;
    let release = f
        .environment_variables
        .as_ref()
        .and_then(|e| e.get(fcctl_protocol::env::RELEASE).cloned())
        .unwrap_or_default();
    if !force {
        let built = BuiltCode::load(&project.work_dir())?;
        let state = State::load(&project.work_dir())?;
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
    let report = |version: String, created| PublishReport {
        version,
        created,
        digest: digest.clone(),
        release_id: release.clone(),
        dry_run,
    };
    if dry_run {
        return Ok(match version_with_digest(cloud, &name, &digest).await? {
            Some(v) => report(v, false),
            None => report(String::new(), true),
        });
    }
    let description = stamp(description.unwrap_or(""), &digest, &release);
    // PublishFunctionVersion is not idempotent on the wire, but the digest stamp makes it so
    // here: after an ambiguous failure (5xx, reset, timeout) the listing shows whether the
    // version was created, so a retry never publishes twice.
    let policy = cloud.fc.retry_policy();
    let mut attempt = 0;
    loop {
        attempt += 1;
        if let Some(v) = version_with_digest(cloud, &name, &digest).await? {
            return Ok(report(v, attempt > 1));
        }
        let input = PublishVersionInput {
            description: Some(description.clone()),
        };
        match cloud.fc.publish_function_version(&name, &input).await {
            Ok(v) => return Ok(report(v.version_id.unwrap_or_default(), true)),
            Err(e)
                if attempt < policy.max_attempts
                    && retry::is_retryable(Idempotency::Idempotent, &e) =>
            {
                tracing::warn!(
                    attempt,
                    "publishing failed ({}); checking whether it landed",
                    e.short_reason()
                );
                tokio::time::sleep(policy.delay(attempt)).await;
            }
            Err(e) => return Err(e.into()),
        }
    }
}

/// The newest version whose description carries `digest`, if any.
async fn version_with_digest(
    cloud: &Cloud,
    name: &str,
    digest: &str,
) -> anyhow::Result<Option<String>> {
    let versions = list_versions(&cloud.fc, name).await?;
    Ok(versions
        .iter()
        .rev()
        .find(|v| {
            v.description
                .as_deref()
                .and_then(parse_stamp)
                .is_some_and(|(d, _)| d == digest)
        })
        .map(|v| v.version_id.clone().unwrap_or_default()))
}
