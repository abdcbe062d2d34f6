//! fcctl ↔ nas-agent: the body of an invocation is a [`Job`]; the answer is
//! `{"ok": true, …reply}` or `{"ok": false, "kind": …, "error": …}` ([`encode_answer`],
//! [`decode_answer`]). fcctl sends short-lived presigned GET URLs; the agent holds no
//! credentials.

use std::collections::BTreeMap;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::release::ManifestEntry;

/// A request from fcctl.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "lowercase")]
pub enum Job {
    /// Is the release complete? → [`StatusReply`]
    Status { release: String },
    /// Place files into the release's staging dir. → [`StageReply`]
    Stage(StageJob),
    /// Verify staging, write the marker, rename into place. → [`CommitReply`]
    Commit(CommitJob),
    /// Releases on NAS. → [`ListReply`]
    List,
    /// Remove releases (and `.broken-` leftovers). → [`RemoveReply`]
    Remove { releases: Vec<String> },
}

impl Job {
    /// The op name on the wire, for messages.
    pub fn op(&self) -> &'static str {
        match self {
            Job::Status { .. } => "status",
            Job::Stage(_) => "stage",
            Job::Commit(_) => "commit",
            Job::List => "list",
            Job::Remove { .. } => "remove",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StageJob {
    pub release: String,
    pub files: Vec<ManifestEntry>,
    /// sha256 → presigned GET URL of the blob.
    #[serde(default)]
    pub urls: BTreeMap<String, String>,
    #[serde(default)]
    pub uid: Option<u32>,
    #[serde(default)]
    pub gid: Option<u32>,
    /// Seconds this invocation may spend downloading before it answers with `remaining`.
    #[serde(default)]
    pub budget_s: Option<u64>,
    /// Parallel downloads.
    #[serde(default)]
    pub jobs: Option<usize>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CommitJob {
    pub release: String,
    pub files: Vec<ManifestEntry>,
    #[serde(default)]
    pub uid: Option<u32>,
    #[serde(default)]
    pub gid: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusReply {
    pub complete: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StageReply {
    /// The release was already complete; nothing was staged.
    pub complete: bool,
    #[serde(default)]
    pub downloaded: u64,
    #[serde(default)]
    pub downloaded_bytes: u64,
    /// Hard-linked from an earlier release with the same content.
    #[serde(default)]
    pub linked: u64,
    /// Already staged by an earlier (interrupted) run.
    #[serde(default)]
    pub skipped: u64,
    #[serde(default)]
    pub symlinks: u64,
    /// Paths not reached within the budget: send them again.
    #[serde(default)]
    pub remaining: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommitReply {
    pub complete: bool,
    /// It was committed before this call.
    pub already: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListReply {
    pub releases: Vec<ReleaseOnNas>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReleaseOnNas {
    pub id: String,
    pub complete: bool,
    pub bytes: u64,
    pub files: u64,
    /// Seconds since the directory last changed.
    pub age_s: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemoveReply {
    pub removed: Vec<String>,
}

/// What went wrong, for the caller to act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureKind {
    /// The body is not a job this agent understands.
    BadJob,
    /// A release id or path in the job is not acceptable (e.g. it would leave the NAS root).
    Refused,
    /// The function's environment lacks what the agent needs.
    Misconfigured,
    /// Commit found files absent from staging (e.g. a concurrent gc): stage them again.
    MissingFromStaging,
    /// A blob could not be fetched.
    Download,
    /// A blob in OSS is not the content its key names (its sha256 differs): delete it and
    /// upload it again from the local file. Listed in [`Failure::corrupt`].
    CorruptBlob,
    /// File-system error on NAS.
    Io,
}

/// A failed job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{message}")]
pub struct Failure {
    pub kind: FailureKind,
    #[serde(rename = "error")]
    pub message: String,
    /// With [`FailureKind::MissingFromStaging`]: the paths to stage again.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub missing: Vec<String>,
    /// With [`FailureKind::CorruptBlob`]: the sha256 of each blob whose content is wrong.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub corrupt: Vec<String>,
}

impl Failure {
    pub fn new(kind: FailureKind, message: impl Into<String>) -> Failure {
        Failure {
            kind,
            message: message.into(),
            missing: Vec::new(),
            corrupt: Vec::new(),
        }
    }
}

/// The answer body for `result`.
pub fn encode_answer<T: Serialize>(result: &Result<T, Failure>) -> Vec<u8> {
    let (ok, value) = match result {
        Ok(reply) => (true, serde_json::to_value(reply)),
        Err(failure) => (false, serde_json::to_value(failure)),
    };
    let mut object = match value {
        Ok(serde_json::Value::Object(o)) => o,
        Ok(_) | Err(_) => serde_json::Map::new(),
    };
    object.insert("ok".into(), ok.into());
    serde_json::to_vec(&object).unwrap_or_default()
}

/// An answer body that is neither a reply nor a failure of this protocol.
#[derive(Debug, thiserror::Error)]
#[error("not a nas-agent answer: {0}")]
pub struct UndecodableAnswer(#[from] serde_json::Error);

/// Reads an answer body: the reply, or the agent's failure.
pub fn decode_answer<T: DeserializeOwned>(
    body: &[u8],
) -> Result<Result<T, Failure>, UndecodableAnswer> {
    #[derive(Deserialize)]
    struct Ok_ {
        ok: bool,
    }
    let head: Ok_ = serde_json::from_slice(body)?;
    if head.ok {
        Ok(Ok(serde_json::from_slice(body)?))
    } else {
        Ok(Err(serde_json::from_slice(body)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(path: &str) -> ManifestEntry {
        ManifestEntry {
            path: path.into(),
            size: 3,
            mode: 0o644,
            sha256: "abc".into(),
            link: None,
        }
    }

    #[test]
    fn every_job_round_trips_and_keeps_its_op_tag() {
        let jobs = [
            Job::Status {
                release: "r-1".into(),
            },
            Job::Stage(StageJob {
                release: "r-1".into(),
                files: vec![entry("m/a")],
                urls: BTreeMap::from([("abc".into(), "http://x/abc".into())]),
                uid: Some(0),
                gid: None,
                budget_s: Some(600),
                jobs: Some(4),
            }),
            Job::Commit(CommitJob {
                release: "r-1".into(),
                files: vec![entry("m/a")],
                uid: None,
                gid: None,
            }),
            Job::List,
            Job::Remove {
                releases: vec!["r-1".into()],
            },
        ];
        for job in jobs {
            let wire = serde_json::to_value(&job).unwrap();
            assert_eq!(wire["op"], job.op());
            let back: Job = serde_json::from_value(wire).unwrap();
            assert_eq!(back, job);
        }
    }

    #[test]
    fn answers_round_trip_as_reply_or_failure() {
        let reply = StageReply {
            downloaded: 2,
            remaining: vec!["m/b".into()],
            ..Default::default()
        };
        let body = encode_answer::<StageReply>(&Ok(reply.clone()));
        assert_eq!(
            decode_answer::<StageReply>(&body).unwrap(),
            Ok(reply),
            "{}",
            String::from_utf8_lossy(&body)
        );
        let mut failure = Failure::new(FailureKind::MissingFromStaging, "files missing");
        failure.missing = vec!["m/a".into()];
        let body = encode_answer::<CommitReply>(&Err(failure.clone()));
        let wire: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(wire["ok"], false);
        assert_eq!(wire["kind"], "missing_from_staging");
        assert_eq!(decode_answer::<CommitReply>(&body).unwrap(), Err(failure));
        assert!(decode_answer::<CommitReply>(b"<html>").is_err());
    }
}
