//! `fcctl versions ls|prune`: every published version with what still uses it, and the
//! deletion of old ones no alias, trigger or provision config uses.
//!
//! The NAS release a version pins is read from the version itself (GetFunction with
//! `qualifier=<version>` returns that version's environment, `FCCTL_RELEASE`), not from the
//! stamp in its description: a hand-published version has no stamp but still pins a release.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::Context as _;
use serde::Serialize;

use crate::aliyun::fc_models::{ListRequest, Version};
use crate::cloud::Cloud;
use crate::deploy::version_stamp::{list_versions, parse_stamp};

/// An alias routing (part of) its traffic to a version.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AliasUse {
    /// Alias name.
    pub alias: String,
    /// Share of the alias's traffic (1.0 = all; the main version gets what the canary
    /// weights leave).
    pub weight: f64,
    /// Whether the version is the alias's canary (`additionalVersionWeight`), not its main.
    pub canary: bool,
}

/// A provision config whose instances run this version.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProvisionUse {
    /// Its qualifier: the version itself or an alias whose main version it is.
    pub qualifier: String,
    /// Instances asked for.
    pub target: i64,
    /// Instances running.
    pub current: i64,
}

/// One published version.
#[derive(Debug, Clone, Serialize)]
pub struct VersionInfo {
    /// Version id (`1`, `2`, …).
    pub id: String,
    /// When it was published (as FC reports it).
    pub created: String,
    /// Its description without fcctl's stamp.
    pub description: String,
    /// Settings digest from fcctl's stamp (None for a version fcctl did not publish).
    pub digest: Option<String>,
    /// NAS release it pins (`FCCTL_RELEASE` in the version's environment).
    pub release: Option<String>,
    /// Aliases routing traffic to it.
    pub aliases: Vec<AliasUse>,
    /// HTTP (or other) triggers bound to it by number.
    pub triggers: Vec<String>,
    /// Provisioned instances running it.
    pub provision: Vec<ProvisionUse>,
}

/// `versions ls`.
#[derive(Debug, Serialize)]
pub struct VersionsReport {
    /// Function name.
    pub function: String,
    /// Newest first.
    pub versions: Vec<VersionInfo>,
}

/// A version `prune` keeps, and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Kept {
    /// Version id.
    pub id: String,
    /// `newest 2`, `alias prod`, `alias prod (canary 10%)`, `trigger http`, `provision config`.
    pub reasons: Vec<String>,
}

/// `versions prune`.
#[derive(Debug, Serialize)]
pub struct PruneReport {
    /// Nothing was deleted; `deleted` lists what would be.
    pub dry_run: bool,
    /// `--keep`.
    pub keep: usize,
    /// Deleted (or, with `dry_run`, to delete), oldest first.
    pub deleted: Vec<String>,
    /// NAS releases only deleted versions pinned (what `fcctl nas gc` may then free).
    pub releases_freed: Vec<String>,
    /// Kept, newest first.
    pub kept: Vec<Kept>,
}

/// Reads every version with its aliases, triggers, provision configs and pinned release.
pub async fn list(cloud: &Cloud) -> anyhow::Result<VersionsReport> {
    let name = cloud.cfg.function_name().to_string();
    let versions = list_versions(&cloud.fc, &name).await?;
    let uses = Uses::read(cloud, &name).await?;
    let mut out = Vec::with_capacity(versions.len());
    for v in versions.iter().rev() {
        let id = v.version_id.clone().unwrap_or_default();
        let f = cloud
            .fc
            .get_function(&name, Some(&id))
            .await
            .with_context(|| format!("reading version {id} of {name}"))?;
        let release = f
            .environment_variables
            .as_ref()
            .and_then(|e| e.get(fcctl_protocol::env::RELEASE).cloned());
        out.push(uses.info(v, release));
    }
    Ok(VersionsReport {
        function: name,
        versions: out,
    })
}

/// Deletes every version but the `keep` newest and those in use (see [`plan_prune`]); with
/// `dry_run` only says which. Stops at the first refused delete (an alias moved meanwhile):
/// the error names what was deleted before it.
pub async fn prune(cloud: &Cloud, keep: usize, dry_run: bool) -> anyhow::Result<PruneReport> {
    let ls = list(cloud).await?;
    let (delete, kept) = plan_prune(&ls.versions, keep);
    let deleted_ids: BTreeSet<&str> = delete.iter().map(String::as_str).collect();
    let kept_releases: BTreeSet<&str> = ls
        .versions
        .iter()
        .filter(|v| !deleted_ids.contains(v.id.as_str()))
        .filter_map(|v| v.release.as_deref())
        .collect();
    let releases_freed: Vec<String> = ls
        .versions
        .iter()
        .filter(|v| deleted_ids.contains(v.id.as_str()))
        .filter_map(|v| v.release.clone())
        .filter(|r| !kept_releases.contains(r.as_str()))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    if !dry_run {
        for (i, id) in delete.iter().enumerate() {
            cloud
                .fc
                .delete_function_version(&ls.function, id)
                .await
                .with_context(|| {
                    let done = &delete[..i];
                    format!(
                        "deleting version {id} of {} (deleted before it: {})",
                        ls.function,
                        if done.is_empty() {
                            "none".to_string()
                        } else {
                            done.join(", ")
                        }
                    )
                })?;
        }
    }
    Ok(PruneReport {
        dry_run,
        keep,
        deleted: delete,
        releases_freed,
        kept,
    })
}

/// Which versions to delete (oldest first) and which to keep (newest first, with reasons):
/// the `keep` newest, and any version an alias routes to (main or canary), a trigger is bound
/// to, or provisioned instances run.
pub fn plan_prune(newest_first: &[VersionInfo], keep: usize) -> (Vec<String>, Vec<Kept>) {
    let mut delete = Vec::new();
    let mut kept = Vec::new();
    for (i, v) in newest_first.iter().enumerate() {
        let mut reasons = Vec::new();
        if i < keep {
            reasons.push(format!("newest {keep}"));
        }
        for a in &v.aliases {
            reasons.push(if a.canary {
                format!("alias {} (canary {})", a.alias, percent(a.weight))
            } else {
                format!("alias {}", a.alias)
            });
        }
        for t in &v.triggers {
            reasons.push(format!("trigger {t}"));
        }
        if v.provision.iter().any(|p| p.qualifier == v.id) {
            reasons.push("provision config".into());
        }
        if reasons.is_empty() {
            delete.push(v.id.clone());
        } else {
            kept.push(Kept {
                id: v.id.clone(),
                reasons,
            });
        }
    }
    delete.reverse();
    (delete, kept)
}

/// `0.1` → `10%`.
pub fn percent(w: f64) -> String {
    let p = (w * 1000.0).round() / 10.0;
    format!("{p}%")
}

/// What routes to or runs versions, read once.
struct Uses {
    /// version → aliases.
    aliases: BTreeMap<String, Vec<AliasUse>>,
    /// alias → its main version (a provision config on an alias runs that one).
    alias_main: BTreeMap<String, String>,
    /// version → triggers bound to it by number.
    triggers: BTreeMap<String, Vec<String>>,
    provision: Vec<(String, i64, i64)>,
}

impl Uses {
    async fn read(cloud: &Cloud, name: &str) -> anyhow::Result<Self> {
        let mut aliases: BTreeMap<String, Vec<AliasUse>> = BTreeMap::new();
        let mut alias_main = BTreeMap::new();
        for a in cloud
            .fc
            .list_all_aliases(name)
            .await
            .with_context(|| format!("listing aliases of {name}"))?
        {
            let n = a.alias_name.unwrap_or_default();
            let extra = a.additional_version_weight.unwrap_or_default();
            let canary_total: f64 = extra.values().sum();
            if let Some(v) = a.version_id {
                alias_main.insert(n.clone(), v.clone());
                aliases.entry(v).or_default().push(AliasUse {
                    alias: n.clone(),
                    weight: (1.0 - canary_total).max(0.0),
                    canary: false,
                });
            }
            for (v, w) in extra {
                aliases.entry(v).or_default().push(AliasUse {
                    alias: n.clone(),
                    weight: w,
                    canary: true,
                });
            }
        }
        let mut triggers: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let mut list = ListRequest {
            limit: Some(100),
            ..Default::default()
        };
        loop {
            let page = cloud
                .fc
                .list_triggers(name, &list)
                .await
                .with_context(|| format!("listing triggers of {name}"))?;
            for t in page.triggers.unwrap_or_default() {
                if let Some(q) = t.qualifier.filter(|q| q.parse::<u64>().is_ok()) {
                    triggers
                        .entry(q)
                        .or_default()
                        .push(t.trigger_name.unwrap_or_default());
                }
            }
            match page.next_token.filter(|t| !t.is_empty()) {
                Some(t) => list.next_token = Some(t),
                None => break,
            }
        }
        let provision = cloud
            .fc
            .list_all_provision_configs(name)
            .await
            .with_context(|| format!("listing provision configs of {name}"))?
            .into_iter()
            .map(|p| {
                // functionArn ends in `/<qualifier>` (the emulator) or `$<qualifier>`.
                let q = p
                    .function_arn
                    .as_deref()
                    .and_then(|arn| arn.rsplit_once('/').map(|(_, q)| q))
                    .map(|q| q.rsplit_once('$').map_or(q, |(_, q)| q).to_string())
                    .unwrap_or_default();
                (q, p.target.unwrap_or(0), p.current.unwrap_or(0))
            })
            .filter(|(_, target, current)| *target > 0 || *current > 0)
            .collect();
        Ok(Self {
            aliases,
            alias_main,
            triggers,
            provision,
        })
    }

    fn info(&self, v: &Version, release: Option<String>) -> VersionInfo {
        let id = v.version_id.clone().unwrap_or_default();
        let raw = v.description.clone().unwrap_or_default();
        let stamp = parse_stamp(&raw);
        let description = match raw.rfind("[fcctl ") {
            Some(i) if stamp.is_some() => raw[..i].trim().to_string(),
            _ => raw.clone(),
        };
        let provision = self
            .provision
            .iter()
            .filter(|(q, _, _)| *q == id || self.alias_main.get(q) == Some(&id))
            .map(|(q, target, current)| ProvisionUse {
                qualifier: q.clone(),
                target: *target,
                current: *current,
            })
            .collect();
        VersionInfo {
            created: v.created_time.clone().unwrap_or_default(),
            description,
            digest: stamp.map(|(d, _)| d),
            release,
            aliases: self.aliases.get(&id).cloned().unwrap_or_default(),
            triggers: self.triggers.get(&id).cloned().unwrap_or_default(),
            provision,
            id,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(id: &str) -> VersionInfo {
        VersionInfo {
            id: id.into(),
            created: String::new(),
            description: String::new(),
            digest: None,
            release: None,
            aliases: vec![],
            triggers: vec![],
            provision: vec![],
        }
    }

    #[test]
    fn prune_keeps_the_newest_and_everything_in_use() {
        let mut vs: Vec<VersionInfo> = ["7", "6", "5", "4", "3", "2", "1"]
            .iter()
            .map(|i| v(i))
            .collect();
        vs[4].aliases.push(AliasUse {
            alias: "prod".into(),
            weight: 0.9,
            canary: false,
        });
        vs[3].aliases.push(AliasUse {
            alias: "prod".into(),
            weight: 0.1,
            canary: true,
        });
        vs[5].provision.push(ProvisionUse {
            qualifier: "2".into(),
            target: 1,
            current: 1,
        });
        vs[2].triggers.push("http".into());
        let (delete, kept) = plan_prune(&vs, 2);
        assert_eq!(delete, vec!["1"]);
        let reasons: Vec<(&str, String)> = kept
            .iter()
            .map(|k| (k.id.as_str(), k.reasons.join("; ")))
            .collect();
        assert_eq!(
            reasons,
            vec![
                ("7", "newest 2".to_string()),
                ("6", "newest 2".to_string()),
                ("5", "trigger http".to_string()),
                ("4", "alias prod (canary 10%)".to_string()),
                ("3", "alias prod".to_string()),
                ("2", "provision config".to_string()),
            ]
        );
    }

    #[test]
    fn a_provision_config_on_an_alias_does_not_by_itself_keep_a_version() {
        // The alias keeps its main version already; a config whose qualifier is the alias
        // is listed under the version but is not a reason of its own.
        let mut x = v("1");
        x.provision.push(ProvisionUse {
            qualifier: "prod".into(),
            target: 1,
            current: 1,
        });
        let (delete, _) = plan_prune(&[v("2"), x], 1);
        assert_eq!(delete, vec!["1"]);
    }

    #[test]
    fn keep_zero_deletes_all_unused() {
        let (delete, kept) = plan_prune(&[v("3"), v("2"), v("1")], 0);
        assert_eq!(delete, vec!["1", "2", "3"]);
        assert!(kept.is_empty());
    }

    #[test]
    fn percent_rounds() {
        assert_eq!(percent(0.1), "10%");
        assert_eq!(percent(0.125), "12.5%");
        assert_eq!(percent(1.0), "100%");
    }
}
