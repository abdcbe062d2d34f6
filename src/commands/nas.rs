//! `fcctl nas ls|gc`: list and garbage-collect NAS releases.
//!
//! A release is referenced when the function (LATEST) or any published version has
//! `FCCTL_RELEASE=<id>` in its environment (aliases point at versions, so they are covered),
//! or when it is the one `state.json` records (the live / last synced one). Referenced
//! releases are never removed.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::Context as _;
use serde::Serialize;
use serde_json::json;

use crate::aliyun::fc_models::ListVersionsRequest;
use crate::cli::NasCommand;
use crate::cloud::Cloud;
use crate::commands::Ctx;
use crate::nas::agent;
use crate::package::human;
use crate::state::State;

/// One release as listed.
#[derive(Debug, Clone, Serialize)]
pub struct ReleaseInfo {
    /// Directory name (`r-…`, `r-….tmp`, `r-….broken-…`).
    pub id: String,
    /// Marker present (complete, verified release).
    pub complete: bool,
    /// Bytes (hard-linked files are counted in each release).
    pub bytes: u64,
    /// Files.
    pub files: u64,
    /// Age in seconds.
    pub age_s: u64,
    /// Who references it: `LATEST`, `version 3 (alias prod)`, `state.json`.
    pub referenced_by: Vec<String>,
}

/// Collects release references from the function, its versions and the local state.
pub async fn references(ctx: &Ctx, cloud: &Cloud) -> anyhow::Result<BTreeMap<String, Vec<String>>> {
    let mut refs: BTreeMap<String, Vec<String>> = BTreeMap::new();
    if let Some(id) = State::load(&ctx.project.work_dir())?.release_id {
        refs.entry(id).or_default().push("state.json".into());
    }
    let name = cloud.cfg.function_name().to_string();
    let rel = |f: &crate::aliyun::fc_models::Function| {
        f.environment_variables
            .as_ref()
            .and_then(|e| e.get("FCCTL_RELEASE").cloned())
    };
    match cloud.fc.get_function(&name, None).await {
        Ok(f) => {
            if let Some(r) = rel(&f) {
                refs.entry(r).or_default().push("LATEST".into());
            }
        }
        Err(e) if e.is_not_found() => return Ok(refs),
        Err(e) => return Err(e).context(format!("reading function {name}")),
    }
    let mut aliases: BTreeMap<String, Vec<String>> = BTreeMap::new();
    if let Ok(out) = cloud.fc.list_aliases(&name, &Default::default()).await {
        for a in out.aliases.unwrap_or_default() {
            let n = a.alias_name.unwrap_or_default();
            if let Some(v) = a.version_id {
                aliases.entry(v).or_default().push(n.clone());
            }
            for v in a.additional_version_weight.unwrap_or_default().keys() {
                aliases
                    .entry(v.clone())
                    .or_default()
                    .push(format!("{n} (canary)"));
            }
        }
    }
    let mut token: Option<String> = None;
    loop {
        let req = ListVersionsRequest {
            limit: Some(100),
            next_token: token.clone(),
            ..Default::default()
        };
        let out = cloud
            .fc
            .list_function_versions(&name, &req)
            .await
            .with_context(|| format!("listing versions of {name}"))?;
        for v in out.versions.unwrap_or_default() {
            let Some(id) = v.version_id else { continue };
            let f = cloud
                .fc
                .get_function(&name, Some(&id))
                .await
                .with_context(|| format!("reading version {id} of {name}"))?;
            if let Some(r) = rel(&f) {
                let mut who = format!("version {id}");
                if let Some(a) = aliases.get(&id) {
                    who.push_str(&format!(" (alias {})", a.join(", ")));
                }
                refs.entry(r).or_default().push(who);
            }
        }
        token = out.next_token.filter(|t| !t.is_empty());
        if token.is_none() {
            break;
        }
    }
    Ok(refs)
}

/// Lists releases on NAS (via the agent) with their references.
pub async fn list(ctx: &Ctx, cloud: &Cloud) -> anyhow::Result<Vec<ReleaseInfo>> {
    let name = agent::name(&cloud.cfg);
    match cloud.fc.get_function(&name, None).await {
        Ok(_) => {}
        Err(e) if e.is_not_found() => anyhow::bail!(
            "the helper function {name} does not exist yet; run `fcctl nas-sync` first"
        ),
        Err(e) => return Err(e).context(format!("reading function {name}")),
    }
    let refs = references(ctx, cloud).await?;
    let v = agent::invoke(&cloud.fc, &name, &json!({"op": "list"})).await?;
    if v["ok"].as_bool() != Some(true) {
        anyhow::bail!("nas-agent list failed: {}", v["error"]);
    }
    let mut out = Vec::new();
    for r in v["releases"].as_array().cloned().unwrap_or_default() {
        let id = r["id"].as_str().unwrap_or_default().to_string();
        out.push(ReleaseInfo {
            referenced_by: refs.get(&id).cloned().unwrap_or_default(),
            complete: r["complete"].as_bool().unwrap_or(false),
            bytes: r["bytes"].as_u64().unwrap_or(0),
            files: r["files"].as_u64().unwrap_or(0),
            age_s: r["age_s"].as_u64().unwrap_or(0),
            id,
        });
    }
    Ok(out)
}

/// Staging dirs younger than this may belong to a sync in progress.
const STALE_STAGING_S: u64 = 3600;

/// Runs the subcommand.
pub async fn run(ctx: &Ctx, c: NasCommand) -> anyhow::Result<()> {
    let cloud = ctx.cloud().await?;
    let releases = list(ctx, &cloud).await?;
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
                let v = agent::invoke(
                    &cloud.fc,
                    &agent::name(&cloud.cfg),
                    &json!({"op": "remove", "releases": ids}),
                )
                .await?;
                if v["ok"].as_bool() != Some(true) {
                    anyhow::bail!("nas-agent remove failed: {}", v["error"]);
                }
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
