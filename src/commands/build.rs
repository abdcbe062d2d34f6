//! `fcctl build`.

use crate::cli::BuildArgs;
use crate::commands::Ctx;
use crate::package::human;
use crate::pipeline::build::*;

/// Prints the build result.
pub async fn run(ctx: &Ctx, a: BuildArgs) -> anyhow::Result<()> {
    let cfg = ctx.config()?;
    let opts = BuildOptions {
        binary: a.binary,
        agent_binary: a.agent_binary,
        follow_external_links: a.follow_external_links,
        no_trial: a.no_trial,
    };
    let r = execute_with(&ctx.project, &cfg, &ctx.out, &opts).await?;
    ctx.out.result(&r, || {
        format!(
            "built {} for {} (glibc needed {}, floor {})\n  code.zip  {} zipped / {} unzipped ({} upload), sha256 {}\n  NAS tree  {} in {} files at {}\n  nas-agent {}",
            r.code_zip.display(),
            r.runtime,
            r.glibc_max.map(|v| v.to_string()).unwrap_or_else(|| "none".into()),
            r.glibc_floor,
            human(r.code_bytes_zipped),
            human(r.code_bytes_unzipped),
            r.code_upload,
            &r.code_zip_sha256[..16],
            human(r.nas_bytes),
            r.nas_files,
            r.nas_dir.display(),
            r.agent_zip.display(),
        )
    });
    Ok(())
}
