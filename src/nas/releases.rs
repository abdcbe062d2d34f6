//! NAS releases as the agent lists them, and what references each.
//!
//! A release is referenced when the function (LATEST) or any published version has
//! `FCCTL_RELEASE=<id>` in its environment (aliases point at versions, so they are covered),
//! or when it is the one `state.json` records (the live / last synced one). Referenced
//! releases are never removed.

use std::collections::BTreeMap;

use anyhow::Context as _;
use fcctl_protocol::agent::{Job, ListReply};
use serde::Serialize;

use crate::aliyun::fc_models::ListVersionsRequest;
use crate::cloud::Cloud;
use crate::nas::agent;
use crate::project::Project;
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
pub async fn references(
    project: &Project,
    cloud: &Cloud,
) -> anyhow::Result<BTreeMap<String, Vec<String>>> {
    let mut refs: BTreeMap<String, Vec<String>> = BTreeMap::new();
    if let Some(id) = State::load(&project.work_dir())?.release_id {
        refs.entry(id).or_default().push("state.json".into());
    }
    let name = cloud.cfg.function_name().to_string();
    let rel = |f: &crate::aliyun::fc_models::Function| {
        f.environment_variables
            .as_ref()
            .and_then(|e| e.get(fcctl_protocol::env::RELEASE).cloned())
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
    if let Ok(all) = cloud.fc.list_all_aliases(&name).await {
        for a in all {
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
pub async fn list(project: &Project, cloud: &Cloud) -> anyhow::Result<Vec<ReleaseInfo>> {
    let name = agent::name(&cloud.cfg);
    match cloud.fc.get_function(&name, None).await {
        Ok(_) => {}
        Err(e) if e.is_not_found() => anyhow::bail!(
            "the helper function {name} does not exist yet; run `fcctl nas-sync` first"
        ),
        Err(e) => return Err(e).context(format!("reading function {name}")),
    }
    let refs = references(project, cloud).await?;
    let listed: ListReply = agent::invoke(&cloud.fc, &name, &Job::List).await?;
    let out = listed
        .releases
        .into_iter()
        .map(|r| ReleaseInfo {
            referenced_by: refs.get(&r.id).cloned().unwrap_or_default(),
            complete: r.complete,
            bytes: r.bytes,
            files: r.files,
            age_s: r.age_s,
            id: r.id,
        })
        .collect();
    Ok(out)
}
