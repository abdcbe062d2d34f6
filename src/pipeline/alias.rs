//! `fcctl alias`: create or update an alias, optionally with a weighted canary version.

use std::collections::BTreeMap;

use anyhow::bail;
use serde::Serialize;

use crate::aliyun::fc_models::{CreateAliasInput, UpdateAliasInput};
use crate::cloud::Cloud;

/// Result of an alias change.
#[derive(Debug, Serialize)]
pub struct AliasReport {
    /// Alias name.
    pub alias: String,
    /// Main version.
    pub version: String,
    /// Previous main version, if the alias existed.
    pub previous: Option<String>,
    /// Canary weights.
    pub additional_version_weight: BTreeMap<String, f64>,
    /// Whether anything was (with --dry-run: would be) written.
    pub changed: bool,
    /// A dry run: nothing was written.
    pub dry_run: bool,
}

/// Points `alias` at `version` (+ canary); no write when already so.
pub async fn execute(
    cloud: &Cloud,
    alias: &str,
    version: &str,
    canary: Option<(&str, f64)>,
    dry_run: bool,
) -> anyhow::Result<AliasReport> {
    let name = cloud.cfg.function_name();
    let mut weights = BTreeMap::new();
    if let Some((v, w)) = canary {
        if !(0.0..=1.0).contains(&w) || w == 0.0 {
            bail!("--weight must be in (0, 1], got {w}");
        }
        if v == version {
            bail!("--canary {v} is the alias's main version; pick another version");
        }
        weights.insert(v.to_string(), w);
    }
    let current = match cloud.fc.get_alias(name, alias).await {
        Ok(a) => Some(a),
        Err(e) if e.is_not_found() => None,
        Err(e) => return Err(e.into()),
    };
    let previous = current.as_ref().and_then(|a| a.version_id.clone());
    let same = current.as_ref().is_some_and(|a| {
        a.version_id.as_deref() == Some(version)
            && a.additional_version_weight.clone().unwrap_or_default() == weights
    });
    if !same && !dry_run {
        if current.is_some() {
            cloud
                .fc
                .update_alias(
                    name,
                    alias,
                    &UpdateAliasInput {
                        version_id: Some(version.into()),
                        additional_version_weight: Some(weights.clone()),
                        ..Default::default()
                    },
                )
                .await?;
        } else {
            cloud
                .fc
                .create_alias(
                    name,
                    &CreateAliasInput {
                        alias_name: Some(alias.into()),
                        version_id: Some(version.into()),
                        additional_version_weight: Some(weights.clone()),
                        ..Default::default()
                    },
                )
                .await?;
        }
    }
    Ok(AliasReport {
        alias: alias.into(),
        version: version.into(),
        previous,
        additional_version_weight: weights,
        changed: !same,
        dry_run,
    })
}

/// One line for humans (and the up journal).
pub fn describe(r: &AliasReport) -> String {
    let canary: Vec<String> = r
        .additional_version_weight
        .iter()
        .map(|(v, w)| format!(" + version {v} at {:.0}%", w * 100.0))
        .collect();
    if r.changed {
        format!(
            "{}alias {} → version {}{} (was {})",
            if r.dry_run { "would move " } else { "" },
            r.alias,
            r.version,
            canary.join(""),
            r.previous.as_deref().unwrap_or("absent")
        )
    } else {
        format!(
            "alias {} already → version {}{}; nothing changed",
            r.alias,
            r.version,
            canary.join("")
        )
    }
}

/// FC keeps no provisioned instances on an alias that splits traffic: before a canary, the
/// alias's instances are released when `release` allows it, else the canary is refused with
/// the choice spelled out. Returns how many instances were released.
pub async fn make_room_for_canary(
    cloud: &Cloud,
    alias: &str,
    release: bool,
) -> anyhow::Result<i64> {
    let name = cloud.cfg.function_name();
    let held = match cloud.fc.get_provision_config(name, alias).await {
        Ok(p) => p.target.or(p.default_target).unwrap_or(0),
        Err(e) if e.is_not_found() => 0,
        Err(e) => return Err(e.into()),
    };
    if held == 0 {
        return Ok(0);
    }
    if !release {
        return Err(anyhow::Error::new(crate::exit::Refusal {
            status: crate::exit::ExitStatus::User,
            message: format!(
                "alias {alias} holds {held} provisioned instance(s), and FC keeps none on an alias that splits traffic: the canary would drop them"
            ),
            hint: Some(
                "pass --release-provisioned to release them for the canary (on-demand instances serve both versions meanwhile, with cold starts), or run the canary on another alias"
                    .into(),
            ),
        }));
    }
    cloud.fc.delete_provision_config(name, alias).await?;
    Ok(held)
}
