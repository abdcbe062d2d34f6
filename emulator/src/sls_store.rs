//! SLS state on disk, under `<data_dir>/sls/` (the API on top is `sls`):
//! - `state.json`: projects (description, tags), their logstores (config as created) and
//!   indexes; rewritten whole, crash-safe (temp + fsync + rename), on every change;
//! - `logs/<project>/<logstore>/<n>.jsonl`: the logs, one JSON object per line, appended
//!   in one `write` per batch. A torn last line (a kill mid-write) is skipped when read.
//!
//! Each logstore keeps at most [`LOGSTORE_BOUND`] bytes of logs in [`SEGMENTS`] segments:
//! when a new segment would pass the bound, the oldest segment is deleted (oldest dropped
//! first, a quarter of the bound at a time).

use crate::api_error::ApiError;
use crate::error::{Error, io_err};
use crate::util::atomic_write;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::io::{BufRead as _, Write as _};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Bytes of logs kept per logstore (the emulator's choice; SLS keeps logs for the logstore's
/// `ttl` days instead).
pub const LOGSTORE_BOUND: u64 = 16 << 20;
/// Segments per logstore: dropping one frees a quarter of the bound.
pub const SEGMENTS: u64 = 4;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct State {
    projects: BTreeMap<String, Project>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Project {
    pub description: String,
    /// Unix seconds.
    pub create_time: u64,
    pub last_modify_time: u64,
    pub tags: BTreeMap<String, String>,
    pub logstores: BTreeMap<String, LogStore>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct LogStore {
    /// The CreateLogStore body, with defaults for what it left out.
    pub config: Map<String, Value>,
    pub create_time: u64,
    pub last_modify_time: u64,
    /// The CreateIndex body.
    pub index: Option<Value>,
    pub index_modify_time: u64,
}

/// One stored log: what PutLogs sends and GetLogs returns (plus the group's topic, source
/// and tags, as SLS keeps them per log).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogRecord {
    /// Unix seconds.
    #[serde(rename = "t")]
    pub time: u32,
    #[serde(rename = "ns", default)]
    pub time_ns: u32,
    #[serde(default)]
    pub topic: String,
    #[serde(default)]
    pub source: String,
    #[serde(default)]
    pub tags: Vec<(String, String)>,
    #[serde(rename = "c")]
    pub contents: Vec<(String, String)>,
}

pub struct Store {
    dir: PathBuf,
    bound: u64,
    state: Mutex<State>,
}

pub fn project_not_exist(name: &str) -> ApiError {
    ApiError::new(
        404,
        "ProjectNotExist",
        format!("The Project does not exist : {name}"),
    )
}

pub fn logstore_not_exist(name: &str) -> ApiError {
    ApiError::new(
        404,
        "LogStoreNotExist",
        format!("logstore {name} does not exist"),
    )
}

fn now_s() -> u64 {
    crate::util::now_ms() / 1000
}

impl Store {
    pub fn open(data_dir: &Path) -> Result<Store, Error> {
        Self::open_bounded(data_dir, LOGSTORE_BOUND)
    }

    /// With another per-logstore bound (tests).
    pub fn open_bounded(data_dir: &Path, bound: u64) -> Result<Store, Error> {
        let dir = data_dir.join("sls");
        std::fs::create_dir_all(dir.join("logs"))
            .map_err(io_err(format!("creating {}", dir.display())))?;
        let path = dir.join("state.json");
        let state = match std::fs::read(&path) {
            Ok(b) => serde_json::from_slice(&b).map_err(|e| Error::State {
                path: path.clone(),
                msg: e.to_string(),
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => State::default(),
            Err(e) => return Err(io_err(format!("reading {}", path.display()))(e)),
        };
        Ok(Store {
            dir,
            bound,
            state: Mutex::new(state),
        })
    }

    /// Runs `f` on a copy of the state and makes it the state only once it is on disk, so a
    /// failed write changes nothing.
    fn change<T>(&self, f: impl FnOnce(&mut State) -> Result<T, ApiError>) -> Result<T, ApiError> {
        let mut st = self.state.lock().unwrap();
        let mut next = st.clone();
        let out = f(&mut next)?;
        let bytes =
            serde_json::to_vec_pretty(&next).map_err(|e| ApiError::internal(e.to_string()))?;
        atomic_write(&self.dir.join("state.json"), &bytes)
            .map_err(|e| ApiError::internal(format!("writing SLS state: {e}")))?;
        *st = next;
        Ok(out)
    }

    fn read<T>(&self, f: impl FnOnce(&State) -> Result<T, ApiError>) -> Result<T, ApiError> {
        f(&self.state.lock().unwrap())
    }

    pub fn create_project(&self, name: &str, description: &str) -> Result<(), ApiError> {
        self.change(|st| {
            if st.projects.contains_key(name) {
                return Err(ApiError::new(
                    400,
                    "ProjectAlreadyExist",
                    format!("Project {name} already exist"),
                ));
            }
            let now = now_s();
            st.projects.insert(
                name.to_string(),
                Project {
                    description: description.to_string(),
                    create_time: now,
                    last_modify_time: now,
                    ..Project::default()
                },
            );
            Ok(())
        })
    }

    pub fn project(&self, name: &str) -> Result<Project, ApiError> {
        self.read(|st| {
            st.projects
                .get(name)
                .cloned()
                .ok_or_else(|| project_not_exist(name))
        })
    }

    pub fn projects(&self) -> Vec<(String, Project)> {
        let st = self.state.lock().unwrap();
        st.projects
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    /// Deletes the project, its logstores and their logs.
    pub fn delete_project(&self, name: &str) -> Result<(), ApiError> {
        self.change(|st| {
            st.projects
                .remove(name)
                .ok_or_else(|| project_not_exist(name))?;
            Ok(())
        })?;
        let _ = std::fs::remove_dir_all(self.dir.join("logs").join(name));
        Ok(())
    }

    pub fn tag_project(&self, name: &str, tags: &[(String, String)]) -> Result<(), ApiError> {
        self.change(|st| {
            let p = st
                .projects
                .get_mut(name)
                .ok_or_else(|| project_not_exist(name))?;
            for (k, v) in tags {
                p.tags.insert(k.clone(), v.clone());
            }
            // Alibaba Cloud's tag limit: 20 user tags per resource.
            if p.tags.len() > 20 {
                return Err(ApiError::new(
                    400,
                    "ParameterInvalid",
                    format!(
                        "project {name} would carry {} tags; at most 20",
                        p.tags.len()
                    ),
                ));
            }
            Ok(())
        })
    }

    pub fn untag_project(&self, name: &str, keys: &[String]) -> Result<(), ApiError> {
        self.change(|st| {
            let p = st
                .projects
                .get_mut(name)
                .ok_or_else(|| project_not_exist(name))?;
            for k in keys {
                p.tags.remove(k);
            }
            Ok(())
        })
    }

    pub fn create_logstore(
        &self,
        project: &str,
        name: &str,
        config: Map<String, Value>,
    ) -> Result<(), ApiError> {
        self.change(|st| {
            let p = st
                .projects
                .get_mut(project)
                .ok_or_else(|| project_not_exist(project))?;
            if p.logstores.contains_key(name) {
                return Err(ApiError::new(
                    400,
                    "LogStoreAlreadyExist",
                    format!("logstore {name} already exists"),
                ));
            }
            let now = now_s();
            p.logstores.insert(
                name.to_string(),
                LogStore {
                    config,
                    create_time: now,
                    last_modify_time: now,
                    index: None,
                    index_modify_time: 0,
                },
            );
            Ok(())
        })
    }

    pub fn logstore(&self, project: &str, name: &str) -> Result<LogStore, ApiError> {
        self.read(|st| {
            let p = st
                .projects
                .get(project)
                .ok_or_else(|| project_not_exist(project))?;
            p.logstores
                .get(name)
                .cloned()
                .ok_or_else(|| logstore_not_exist(name))
        })
    }

    pub fn delete_logstore(&self, project: &str, name: &str) -> Result<(), ApiError> {
        self.change(|st| {
            let p = st
                .projects
                .get_mut(project)
                .ok_or_else(|| project_not_exist(project))?;
            p.logstores
                .remove(name)
                .ok_or_else(|| logstore_not_exist(name))?;
            Ok(())
        })?;
        let _ = std::fs::remove_dir_all(self.logstore_dir(project, name));
        Ok(())
    }

    /// Creates (`replace` false: `IndexAlreadyExist` if there is one) or replaces the index.
    pub fn put_index(
        &self,
        project: &str,
        name: &str,
        index: Value,
        replace: bool,
    ) -> Result<(), ApiError> {
        self.change(|st| {
            let p = st
                .projects
                .get_mut(project)
                .ok_or_else(|| project_not_exist(project))?;
            let ls = p
                .logstores
                .get_mut(name)
                .ok_or_else(|| logstore_not_exist(name))?;
            match (&ls.index, replace) {
                (Some(_), false) => {
                    return Err(ApiError::new(
                        400,
                        "IndexAlreadyExist",
                        "log store index is already created",
                    ));
                }
                (None, true) => return Err(index_not_exist()),
                _ => {}
            }
            ls.index = Some(index);
            ls.index_modify_time = now_s();
            Ok(())
        })
    }

    pub fn delete_index(&self, project: &str, name: &str) -> Result<(), ApiError> {
        self.change(|st| {
            let p = st
                .projects
                .get_mut(project)
                .ok_or_else(|| project_not_exist(project))?;
            let ls = p
                .logstores
                .get_mut(name)
                .ok_or_else(|| logstore_not_exist(name))?;
            ls.index.take().ok_or_else(index_not_exist)?;
            Ok(())
        })
    }

    fn logstore_dir(&self, project: &str, logstore: &str) -> PathBuf {
        self.dir.join("logs").join(project).join(logstore)
    }

    /// Appends `logs` to the logstore, dropping its oldest segment when the bound would be
    /// passed. The in-process way in for what the emulator itself logs (function output).
    pub fn append(
        &self,
        project: &str,
        logstore: &str,
        logs: &[LogRecord],
    ) -> Result<(), ApiError> {
        // Held while writing: appends to one logstore never interleave.
        let st = self.state.lock().unwrap();
        let p = st
            .projects
            .get(project)
            .ok_or_else(|| project_not_exist(project))?;
        if !p.logstores.contains_key(logstore) {
            return Err(logstore_not_exist(logstore));
        }
        let mut batch = Vec::new();
        for l in logs {
            serde_json::to_writer(&mut batch, l).map_err(|e| ApiError::internal(e.to_string()))?;
            batch.push(b'\n');
        }
        let dir = self.logstore_dir(project, logstore);
        self.write_segment(&dir, &batch)
            .map_err(|e| ApiError::internal(format!("storing logs in {}: {e}", dir.display())))
    }

    fn write_segment(&self, dir: &Path, batch: &[u8]) -> std::io::Result<()> {
        std::fs::create_dir_all(dir)?;
        let mut segs = segments(dir)?;
        let seg_size = (self.bound / SEGMENTS).max(1);
        let (n, size) = segs.last().copied().unwrap_or((1, 0));
        let n = if size > 0 && size + batch.len() as u64 > seg_size {
            n + 1
        } else {
            n
        };
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join(format!("{n:012}.jsonl")))?;
        f.write_all(batch)?;
        if segs.last().is_none_or(|(last, _)| *last != n) {
            segs.push((n, 0));
        }
        if let Some(last) = segs.last_mut() {
            last.1 += batch.len() as u64;
        }
        let mut total: u64 = segs.iter().map(|(_, s)| s).sum();
        for (old, size) in &segs {
            if total <= self.bound || *old == n {
                break;
            }
            std::fs::remove_file(dir.join(format!("{old:012}.jsonl")))?;
            total -= size;
        }
        Ok(())
    }

    /// Every stored log of the logstore, oldest first (as appended).
    pub fn read_logs(&self, project: &str, logstore: &str) -> Result<Vec<LogRecord>, ApiError> {
        self.logstore(project, logstore)?;
        let dir = self.logstore_dir(project, logstore);
        let segs = match segments(&dir) {
            Ok(s) => s,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(ApiError::internal(e.to_string())),
        };
        let mut out = Vec::new();
        for (n, _) in segs {
            let f = match std::fs::File::open(dir.join(format!("{n:012}.jsonl"))) {
                Ok(f) => f,
                // Dropped by a concurrent append: it held the oldest logs only.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(ApiError::internal(e.to_string())),
            };
            for line in std::io::BufReader::new(f).lines() {
                let Ok(line) = line else { break };
                if let Ok(l) = serde_json::from_str::<LogRecord>(&line) {
                    out.push(l);
                }
            }
        }
        Ok(out)
    }

    /// Bytes of logs the logstore holds on disk.
    #[cfg(test)]
    pub fn stored_bytes(&self, project: &str, logstore: &str) -> u64 {
        segments(&self.logstore_dir(project, logstore))
            .map(|s| s.iter().map(|(_, n)| n).sum())
            .unwrap_or(0)
    }
}

pub fn index_not_exist() -> ApiError {
    ApiError::new(
        404,
        "IndexConfigNotExist",
        "The index configuration does not exist for this logstore.",
    )
}

/// The segments of a logstore directory: (number, size), oldest first.
fn segments(dir: &Path) -> std::io::Result<Vec<(u64, u64)>> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir)? {
        let e = e?;
        let name = e.file_name();
        let Some(n) = name
            .to_str()
            .and_then(|s| s.strip_suffix(".jsonl"))
            .and_then(|s| s.parse::<u64>().ok())
        else {
            continue;
        };
        out.push((n, e.metadata()?.len()));
    }
    out.sort();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(i: u32) -> LogRecord {
        LogRecord {
            time: 1_700_000_000 + i,
            time_ns: 0,
            topic: String::new(),
            source: "s".into(),
            tags: vec![],
            contents: vec![("message".into(), format!("line {i:04} {}", "x".repeat(60)))],
        }
    }

    #[test]
    fn state_and_logs_survive_a_reopen_and_a_torn_line_is_skipped() {
        let d = tempfile::tempdir().unwrap();
        let s = Store::open(d.path()).unwrap();
        s.create_project("p-1", "d").unwrap();
        s.tag_project("p-1", &[("fcctl:app".into(), "a".into())])
            .unwrap();
        s.create_logstore("p-1", "app", Map::new()).unwrap();
        s.append("p-1", "app", &[rec(1), rec(2)]).unwrap();
        let seg = d.path().join("sls/logs/p-1/app/000000000001.jsonl");
        let mut f = std::fs::OpenOptions::new().append(true).open(&seg).unwrap();
        f.write_all(br#"{"t":17000"#).unwrap();
        drop(s);
        let s = Store::open(d.path()).unwrap();
        assert_eq!(s.project("p-1").unwrap().tags["fcctl:app"], "a");
        assert_eq!(s.read_logs("p-1", "app").unwrap(), [rec(1), rec(2)]);
        assert_eq!(
            s.append("p-1", "nope", &[rec(3)]).unwrap_err().code,
            "LogStoreNotExist"
        );
        assert_eq!(
            s.append("p-2", "app", &[rec(3)]).unwrap_err().code,
            "ProjectNotExist"
        );
        s.delete_project("p-1").unwrap();
        assert!(!d.path().join("sls/logs/p-1").exists());
    }

    #[test]
    fn the_bound_drops_the_oldest_logs_first() {
        let d = tempfile::tempdir().unwrap();
        let bound = 4096;
        let s = Store::open_bounded(d.path(), bound).unwrap();
        s.create_project("p-1", "").unwrap();
        s.create_logstore("p-1", "app", Map::new()).unwrap();
        for i in 0..400 {
            s.append("p-1", "app", &[rec(i)]).unwrap();
            assert!(s.stored_bytes("p-1", "app") <= bound, "after {i}");
        }
        let kept = s.read_logs("p-1", "app").unwrap();
        assert!(kept.len() > 20 && kept.len() < 100, "{}", kept.len());
        assert_eq!(kept.last().unwrap(), &rec(399), "the newest are kept");
        let first = kept[0].time;
        assert!(
            kept.iter()
                .enumerate()
                .all(|(i, r)| r.time == first + i as u32),
            "a contiguous tail"
        );
    }
}
