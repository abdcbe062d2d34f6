//! Whether the last build still describes the sources: a dry run plans from `build.json` and
//! the NAS tree, so after a model edit without `fcctl build` it would say "nothing to change"
//! about a change it cannot see. Plans state which build they are based on, and say when a
//! source is newer.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use serde::Serialize;

use crate::config::Config;
use crate::project::Project;

/// The build a plan is based on.
#[derive(Debug, Clone, Serialize)]
pub struct BuildBasis {
    /// When `target/fcctl/build.json` was written (RFC 3339, UTC); None: never built.
    pub built_at: Option<String>,
    /// Sources changed since then (the first few found), relative to the project.
    pub newer_sources: Vec<String>,
}

impl BuildBasis {
    /// The sentence a plan prints when the build is missing or older than its sources.
    pub fn warning(&self) -> Option<String> {
        match (&self.built_at, self.newer_sources.first()) {
            (None, _) => Some(
                "no build yet: this plan cannot see the code or model; run `fcctl build`".into(),
            ),
            (Some(at), Some(first)) => Some(format!(
                "based on the build at {at}, older than {first}{}; run `fcctl build` for a plan of the current sources",
                match self.newer_sources.len() {
                    1 => String::new(),
                    n => format!(" and {} more", n - 1),
                }
            )),
            (Some(_), None) => None,
        }
    }
}

/// Files looked at before giving up on finding a newer one: a plan must stay quick on a tree
/// of Python dependencies.
const MAX_FILES: usize = 20_000;
/// Newer sources named.
const MAX_NAMED: usize = 5;

/// Compares `build.json`'s time with fcctl.yaml and every `build.files` source.
pub fn build_basis(project: &Project, cfg: &Config) -> BuildBasis {
    let built = std::fs::metadata(project.work_dir().join("build.json"))
        .and_then(|m| m.modified())
        .ok();
    let Some(built) = built else {
        return BuildBasis {
            built_at: None,
            newer_sources: Vec::new(),
        };
    };
    let mut roots: Vec<PathBuf> = vec![project.config_path()];
    roots.extend(cfg.build.files.iter().map(|f| project.path(&f.src)));
    let mut newer = Vec::new();
    let mut seen = 0;
    for root in roots {
        for entry in walkdir::WalkDir::new(&root).follow_links(false) {
            let Ok(entry) = entry else { continue };
            seen += 1;
            if seen > MAX_FILES || newer.len() >= MAX_NAMED {
                break;
            }
            if entry.file_type().is_dir() {
                continue;
            }
            let changed = entry
                .metadata()
                .ok()
                .and_then(|m| m.modified().ok())
                .is_some_and(|t| t > built);
            if changed {
                newer.push(shown(project.dir(), entry.path()));
            }
        }
    }
    BuildBasis {
        built_at: Some(rfc3339(built)),
        newer_sources: newer,
    }
}

fn shown(project: &Path, p: &Path) -> String {
    p.strip_prefix(project).unwrap_or(p).display().to_string()
}

fn rfc3339(t: SystemTime) -> String {
    time::OffsetDateTime::from(t)
        .replace_nanosecond(0)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}
