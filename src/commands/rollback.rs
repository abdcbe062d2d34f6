//! `fcctl rollback`: move the release alias to the previous (or a given) version and keep its
//! provisioned instances on it.

use anyhow::{Context as _, bail};
use serde::Serialize;

use crate::cli::RollbackArgs;
use crate::commands::Ctx;
use crate::deploy::version_stamp::{list_versions, parse_stamp, version_number};
use crate::pipeline::{alias, provision};

/// Result of a rollback.
#[derive(Debug, Serialize)]
pub struct RollbackReport {
    /// Alias moved.
    pub alias: String,
    /// Version it pointed at.
    pub from: String,
    /// Version it points at now.
    pub to: String,
    /// NAS release of the target version.
    pub release_id: Option<String>,
    /// Provisioned target kept on the alias.
    pub provision_target: i64,
    /// Whether anything was written.
    pub changed: bool,
}

/// Performs (or with `--dry-run` shows) the rollback.
pub async fn run(ctx: &Ctx, a: RollbackArgs) -> anyhow::Result<()> {
    let cloud = ctx.cloud().await?;
    let name = cloud.cfg.function_name().to_string();
    let alias_name = cloud.cfg.release.alias.clone();
    let current = cloud
        .fc
        .get_alias(&name, &alias_name)
        .await
        .with_context(|| format!("reading alias {alias_name}; nothing to roll back yet?"))?;
    let from = current.version_id.clone().unwrap_or_default();
    let versions = list_versions(&cloud.fc, &name).await?;
    let target = match &a.to {
        Some(v) => versions
            .iter()
            .find(|x| x.version_id.as_deref() == Some(v.as_str()))
            .with_context(|| format!("version {v} does not exist (see `fcctl status`)"))?,
        None => {
            let cur: u64 = from.parse().unwrap_or(0);
            match versions.iter().rev().find(|v| version_number(v) < cur) {
                Some(v) => v,
                None => bail!(
                    "alias {alias_name} is on version {from}, the oldest there is; nothing to roll back to"
                ),
            }
        }
    };
    let to = target.version_id.clone().unwrap_or_default();
    let release_id = target
        .description
        .as_deref()
        .and_then(parse_stamp)
        .map(|(_, r)| r);
    let r = alias::execute(&cloud, &alias_name, &to, None, a.dry_run).await?;
    // Provisioned instances belong to the alias; re-put its defaultTarget (not the scheduled
    // `target` of the moment, which would pin a schedule's value) so they move with it.
    let p = match cloud.fc.get_provision_config(&name, &alias_name).await {
        Ok(p) => p.default_target.or(p.target).unwrap_or(0),
        Err(e) if e.is_not_found() => 0,
        Err(e) => return Err(e.into()),
    };
    if p > 0 && r.changed && !a.dry_run {
        let schedules = cloud.cfg.provision.schedules.clone();
        provision::execute(
            &cloud,
            &ctx.out,
            &alias_name,
            p as u32,
            &schedules,
            None,
            false,
        )
        .await?;
    }
    let report = RollbackReport {
        alias: alias_name,
        from,
        to,
        release_id,
        provision_target: p,
        changed: r.changed,
    };
    ctx.out.result(&report, || {
        format!(
            "{} {} from version {} to {} (NAS release {}; {} provisioned instances follow)",
            if a.dry_run { "would move" } else { "moved" },
            report.alias,
            report.from,
            report.to,
            report.release_id.as_deref().unwrap_or("unknown"),
            report.provision_target
        )
    });
    Ok(())
}
