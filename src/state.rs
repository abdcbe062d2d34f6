//! `target/fcctl/state.json`: what each pipeline step recorded for the next one.

use std::path::Path;

use anyhow::Context as _;
use serde::{Deserialize, Serialize};

/// Pipeline state shared between commands; every field is optional so steps can run alone.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct State {
    /// The NAS release the last `nas-sync` produced.
    #[serde(default)]
    pub release_id: Option<String>,
    /// What `auto` resolved to in the last run that resolved it (the cloud stays the source
    /// of truth: runs find resources by tag, this is what `status` shows offline).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub infra: Option<crate::infra::InfraIds>,
}

impl State {
    /// Reads `state.json` from the work dir; absent means empty.
    pub fn load(work_dir: &Path) -> anyhow::Result<State> {
        let path = work_dir.join("state.json");
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).with_context(|| {
                format!(
                    "{} is corrupt; delete it and re-run the pipeline step",
                    path.display()
                )
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(State::default()),
            Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
        }
    }

    /// Writes `state.json` atomically.
    pub fn save(&self, work_dir: &Path) -> anyhow::Result<()> {
        let bytes = serde_json::to_vec_pretty(self)?;
        Ok(crate::fsutil::write_atomic(
            &work_dir.join("state.json"),
            &bytes,
        )?)
    }
}
