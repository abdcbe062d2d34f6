//! Why a run or a probe could not start or finish.

use std::path::PathBuf;

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
    #[error("cannot read image {path}: {source}")]
    Image {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot resolve {host}: {reason}")]
    Resolve { host: String, reason: String },
    #[error("request to {url} failed: {reason}")]
    Request { url: String, reason: String },
    #[error("cold-start run failed: {0}")]
    ColdStart(String),
}
