//! `fcctl nas-sync`.

use crate::cli::NasSyncArgs;
use crate::commands::Ctx;
use crate::package::human;
use crate::pipeline::nas_sync::*;

/// Prints the sync result.
pub async fn run(ctx: &Ctx, a: NasSyncArgs) -> anyhow::Result<()> {
    let mut cloud = ctx.cloud().await?;
    crate::pipeline::infra::ensure(&ctx.project, &mut cloud, &ctx.out, a.dry_run).await?;
    let r = execute(&ctx.project, &cloud, &ctx.out, a.dry_run, a.jobs).await?;
    ctx.out.result(&r, || {
        let list = |v: &[String]| {
            let mut s = v.iter().take(10).cloned().collect::<Vec<_>>().join(", ");
            if v.len() > 10 {
                s.push_str(&format!(", … (+{})", v.len() - 10));
            }
            s
        };
        let mut s = String::new();
        if r.dry_run {
            if let Some(w) = r.build.as_ref().and_then(|b| b.warning()) {
                s.push_str(&format!("{w}\n"));
            }
            s.push_str(&format!(
                "would publish release {} ({} files, {}):\n  added   {}: {}\n  changed {}: {}\n  removed {}: {}\n  would upload: {} blob(s), {} ({} already uploaded)",
                r.release_id,
                r.files_total,
                human(r.bytes_total),
                r.added.len(),
                list(&r.added),
                r.changed.len(),
                list(&r.changed),
                r.removed.len(),
                list(&r.removed),
                r.files_uploaded,
                human(r.uploaded_bytes),
                r.files_unchanged,
            ));
        } else {
            s.push_str(&format!(
                "release {} {} at {}\n  uploaded {} blob(s), {} ({} unchanged); agent downloaded {}, hard-linked {}; {:.2} s",
                r.release_id,
                if r.release_existed { "already complete" } else { "published" },
                r.release_dir,
                r.files_uploaded,
                human(r.uploaded_bytes),
                r.files_unchanged,
                r.agent_downloaded,
                r.agent_linked,
                r.seconds,
            ));
        }
        s
    });
    Ok(())
}
