//! `fcctl versions ls|prune`.

use crate::cli::VersionsCommand;
use crate::commands::Ctx;
use crate::pipeline::versions::{self, PruneReport, VersionInfo, percent};

/// Runs the subcommand.
pub async fn run(ctx: &Ctx, c: VersionsCommand) -> anyhow::Result<()> {
    let cloud = ctx.cloud().await?;
    match c {
        VersionsCommand::Ls => {
            let r = versions::list(&cloud).await?;
            ctx.out.result(&r, || ls_text(&r.versions));
        }
        VersionsCommand::Prune { keep, dry_run } => {
            let r = versions::prune(&cloud, keep, dry_run).await?;
            ctx.out.result(&r, || prune_text(&r));
        }
    }
    Ok(())
}

fn ls_text(vs: &[VersionInfo]) -> String {
    if vs.is_empty() {
        return "no versions yet (`fcctl publish` makes one)".into();
    }
    let mut s = format!(
        "{:<8} {:<25} {:<16} {:<30} description\n",
        "version", "created", "release", "used by"
    );
    for v in vs {
        let mut used: Vec<String> = v
            .aliases
            .iter()
            .map(|a| format!("{} {}", a.alias, percent(a.weight)))
            .collect();
        used.extend(v.triggers.iter().map(|t| format!("trigger {t}")));
        used.extend(
            v.provision
                .iter()
                .map(|p| format!("provision {} {}/{}", p.qualifier, p.current, p.target)),
        );
        s.push_str(&format!(
            "{:<8} {:<25} {:<16} {:<30} {}\n",
            v.id,
            v.created,
            v.release.as_deref().unwrap_or("-"),
            if used.is_empty() {
                "-".into()
            } else {
                used.join(", ")
            },
            v.description
        ));
    }
    s
}

fn prune_text(r: &PruneReport) -> String {
    let verb = if r.dry_run { "would delete" } else { "deleted" };
    let mut s = if r.deleted.is_empty() {
        format!(
            "nothing to delete (keeping the {} newest and every version in use)",
            r.keep
        )
    } else {
        format!(
            "{verb} {} version(s): {}",
            r.deleted.len(),
            r.deleted.join(", ")
        )
    };
    let kept: Vec<String> = r
        .kept
        .iter()
        .map(|k| format!("{} ({})", k.id, k.reasons.join(", ")))
        .collect();
    if !kept.is_empty() {
        s.push_str(&format!("\nkept: {}", kept.join("; ")));
    }
    if !r.releases_freed.is_empty() {
        s.push_str(&format!(
            "\nNAS releases only {} version(s) pinned: {} (`fcctl nas gc` {} them)",
            if r.dry_run { "these" } else { "the deleted" },
            r.releases_freed.join(", "),
            if r.dry_run {
                "could then free"
            } else {
                "frees"
            },
        ));
    }
    if r.dry_run && !r.deleted.is_empty() {
        s.push_str("\nrun without --dry-run to delete");
    }
    s
}
