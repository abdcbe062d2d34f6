//! Why a run or a probe could not start or finish, or finished below its bar.

use std::path::PathBuf;

use crate::fsutil::ReadCappedError;

#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error(
        "refusing to load {host}: it is not this machine (loopback). Benchmark your own endpoint only, and say so with --allow-remote"
    )]
    RemoteRefused { host: String },
    #[error("invalid target URL {url:?}: {reason}")]
    InvalidUrl { url: String, reason: String },
    #[error("invalid bench options: {0}")]
    InvalidOptions(String),
    #[error("reading the images to send")]
    Image(#[source] ReadCappedError),
    #[error("reading a saved report")]
    ReportFile(#[source] ReadCappedError),
    #[error("{path} is not a bench report: {source}")]
    NotAReport {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("cannot resolve {host}: {reason}")]
    Resolve { host: String, reason: String },
    #[error("request to {url} failed: {reason}")]
    Request { url: String, reason: String },
    #[error("cold-start run failed: {0}")]
    ColdStart(String),
}
