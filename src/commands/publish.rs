//! `fcctl publish`.

use crate::cli::PublishArgs;
use crate::commands::Ctx;
use crate::pipeline::publish::*;

/// Prints the publish result.
pub async fn run(ctx: &Ctx, a: PublishArgs) -> anyhow::Result<()> {
    let cloud = ctx.cloud().await?;
    let r = execute(
        &ctx.project,
        &cloud,
        a.description.as_deref(),
        a.force,
        a.dry_run,
    )
    .await?;
    ctx.out.result(&r, || {
        if r.dry_run && r.created {
            format!(
                "would publish a new version (release {}, digest {})",
                r.release_id, r.digest
            )
        } else if r.created {
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
