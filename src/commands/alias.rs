//! `fcctl alias`.

use crate::cli::AliasArgs;
use crate::commands::Ctx;
use crate::pipeline::alias::*;
use crate::pipeline::verify::{sample_images, serving_version, verify_version};

/// Checks the versions when asked, then moves the alias and prints the result.
pub async fn run(ctx: &Ctx, a: AliasArgs) -> anyhow::Result<()> {
    let cloud = ctx.cloud().await?;
    let alias = a
        .name
        .clone()
        .unwrap_or_else(|| cloud.cfg.release.alias.clone());
    let canary = a.canary.as_deref().zip(a.weight);
    if canary.is_some() && !a.dry_run {
        let released = make_room_for_canary(&cloud, &alias, a.release_provisioned).await?;
        if released > 0 {
            ctx.out.note(format!(
                "released {released} provisioned instance(s) on {alias} for the canary; `fcctl provision --instances {released}` restores them once the alias serves one version"
            ));
        }
    }
    if a.verify {
        let images = sample_images(&ctx.project, &cloud.cfg);
        let serving = serving_version(&cloud, &alias).await?;
        for v in std::iter::once(a.version.as_str()).chain(a.canary.as_deref()) {
            if serving.as_deref() == Some(v) {
                continue;
            }
            let checks = verify_version(&cloud, v, &images, &alias, serving.as_deref()).await?;
            ctx.out.note(format!(
                "version {v} answered {} check(s) by its number",
                checks.len()
            ));
        }
    }
    let r = execute(&cloud, &alias, &a.version, canary, a.dry_run).await?;
    ctx.out.result(&r, || describe(&r));
    Ok(())
}
