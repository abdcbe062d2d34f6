//! `fcctl alias`.

use crate::cli::AliasArgs;
use crate::commands::Ctx;
use crate::pipeline::alias::*;

/// Prints the alias result.
pub async fn run(ctx: &Ctx, a: AliasArgs) -> anyhow::Result<()> {
    let cloud = ctx.cloud().await?;
    let alias = a
        .name
        .clone()
        .unwrap_or_else(|| cloud.cfg.release.alias.clone());
    let canary = a.canary.as_deref().zip(a.weight);
    let r = execute(&cloud, &alias, &a.version, canary, a.dry_run).await?;
    ctx.out.result(&r, || describe(&r));
    Ok(())
}
