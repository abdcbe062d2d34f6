//! `fcctl nas ls|gc`.

use std::collections::BTreeSet;

use fcctl_protocol::agent::{Job, RemoveReply};
use serde_json::json;

use crate::cli::NasCommand;
use crate::commands::Ctx;
use crate::nas::agent;
use crate::nas::releases::{ReleaseInfo, list};
use crate::package::human;

/// Staging dirs younger than this may belong to a sync in progress.
const STALE_STAGING_S: u64 = 3600;

/// Runs the subcommand.
pub async fn run(ctx: &Ctx, c: NasCommand) -> anyhow::Result<()> {
    let cloud = ctx.cloud().await?;
    let releases = list(&ctx.project, &cloud).await?;
    match c {
        NasCommand::Ls => {
            ctx.out.result(&json!({"releases": releases}), || {
                let mut s = format!(
                    "{:<28} {:>10} {:>7}  {:<9} referenced by\n",
                    "release", "size", "files", "state"
                );
                for r in &releases {
                    s.push_str(&format!(
                        "{:<28} {:>10} {:>7}  {:<9} {}\n",
                        r.id,
                        human(r.bytes),
                        r.files,
                        if r.complete { "complete" } else { "partial" },
                        if r.referenced_by.is_empty() {
                            "-".into()
                        } else {
                            r.referenced_by.join("; ")
                        }
                    ));
                }
                s.trim_end().to_string()
            });
        }
        NasCommand::Gc { dry_run } => {
            let remove: Vec<&ReleaseInfo> = releases
                .iter()
                .filter(|r| r.referenced_by.is_empty())
                .filter(|r| r.complete || r.age_s >= STALE_STAGING_S || r.id.contains(".broken-"))
                .collect();
            let keep: BTreeSet<&str> = releases
                .iter()
                .filter(|r| !remove.iter().any(|x| x.id == r.id))
                .map(|r| r.id.as_str())
                .collect();
            let ids: Vec<String> = remove.iter().map(|r| r.id.clone()).collect();
            let freed: u64 = remove.iter().map(|r| r.bytes).sum();
            if !dry_run && !ids.is_empty() {
                let _: RemoveReply = agent::invoke(
                    &cloud.fc,
                    &agent::name(&cloud.cfg),
                    &Job::Remove {
                        releases: ids.clone(),
                    },
                )
                .await?;
            }
            ctx.out.result(
                &json!({"dry_run": dry_run, "removed": ids, "kept": keep, "bytes": freed}),
                || {
                    format!(
                        "{} {} release dir(s) ({}): {}\nkept: {}",
                        if dry_run { "would remove" } else { "removed" },
                        ids.len(),
                        human(freed),
                        if ids.is_empty() {
                            "-".into()
                        } else {
                            ids.join(", ")
                        },
                        keep.iter().copied().collect::<Vec<_>>().join(", ")
                    )
                },
            );
        }
    }
    Ok(())
}
