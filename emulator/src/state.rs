//! Persisted control-plane state: `<data_dir>/state.json` (temp + fsync + rename).

use crate::error::Error;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VersionRec {
    pub version_id: String,
    pub description: String,
    pub created_time: String,
    /// Snapshot of the function config (the `Function` JSON) at publish time.
    pub config: Value,
    pub code_sha: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TriggerRec {
    /// The `Trigger` JSON as returned by the API (minus `httpTrigger`, computed).
    pub trigger: Value,
    /// Listening port on the emulator host for HTTP triggers (kept stable across restarts).
    pub port: u16,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProvisionRec {
    /// As put (`target`, else `defaultTarget`); what FC aims at now is [`ProvisionRec::target_now`].
    pub target: i64,
    pub default_target: Option<i64>,
    pub always_allocate_cpu: Option<bool>,
    pub always_allocate_gpu: Option<bool>,
    pub scheduled_actions: Value,
    pub target_tracking_policies: Value,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FunctionRec {
    /// LATEST config (the `Function` JSON).
    pub config: Value,
    /// sha256 of the code zip; the zip is `<data_dir>/code/<sha>.zip`, unpacked at `<sha>/`.
    pub code_sha: String,
    pub versions: BTreeMap<u64, VersionRec>,
    pub next_version: u64,
    /// True when LATEST changed since the last publish.
    pub dirty: bool,
    pub aliases: BTreeMap<String, Value>,
    pub triggers: BTreeMap<String, TriggerRec>,
    pub provision: BTreeMap<String, ProvisionRec>,
    #[serde(default)]
    pub invocation_disabled: bool,
    /// Unix ms until which a VPC/NAS attachment is "in progress" (0: settled).
    #[serde(default)]
    pub settles_at_ms: u64,
}

impl FunctionRec {
    /// LATEST as FC shows it now: a function attaching VPC/NAS is `Pending` (created) or
    /// `InProgress` (updated) until the attachment settles, then `Active` / `Successful`.
    pub fn latest_view(&self) -> Value {
        let mut config = self.config.clone();
        if crate::util::now_ms() >= self.settles_at_ms {
            if config["state"] == "Pending" {
                config["state"] = "Active".into();
                config["stateReason"] = "".into();
            }
            if config["lastUpdateStatus"] == "InProgress" {
                config["lastUpdateStatus"] = "Successful".into();
                config["lastUpdateStatusReason"] = "".into();
            }
        }
        config
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct State {
    pub functions: BTreeMap<String, FunctionRec>,
    pub custom_domains: BTreeMap<String, Value>,
    /// VPC, ECS, NAS and RAM resources (the RPC products).
    #[serde(default)]
    pub infra: crate::infra::Infra,
}

pub struct Store {
    path: PathBuf,
    state: Mutex<State>,
}

impl Store {
    pub fn load(data_dir: &Path) -> Result<Store, Error> {
        let path = data_dir.join("state.json");
        let state = match std::fs::read(&path) {
            Ok(b) => serde_json::from_slice(&b).map_err(|e| Error::State {
                path: path.clone(),
                msg: e.to_string(),
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => State::default(),
            Err(e) => {
                return Err(Error::Io {
                    what: format!("reading {}", path.display()),
                    source: e,
                });
            }
        };
        Ok(Store {
            path,
            state: Mutex::new(state),
        })
    }

    pub fn read(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs a mutation and persists the result if it succeeded.
    pub fn update<T, E>(&self, f: impl FnOnce(&mut State) -> Result<T, E>) -> Result<T, E> {
        let mut g = self.read();
        let r = f(&mut g)?;
        if let Err(e) = self.write_locked(&g) {
            tracing::error!("persisting state to {}: {e}", self.path.display());
        }
        Ok(r)
    }

    fn write_locked(&self, s: &State) -> std::io::Result<()> {
        let data = serde_json::to_vec_pretty(s).map_err(std::io::Error::other)?;
        crate::util::atomic_write(&self.path, &data)
    }

    pub fn flush(&self) -> std::io::Result<()> {
        let g = self.read();
        self.write_locked(&g)
    }
}

impl ProvisionRec {
    /// The target at this moment: `defaultTarget` as changed by the scheduled actions.
    pub fn target_now(&self) -> i64 {
        crate::schedule::effective_target(
            self.default_target.unwrap_or(self.target),
            &self.scheduled_actions,
            chrono::Utc::now(),
        )
    }
}
