//! The emulator's start-up and persistence errors (API errors are [`crate::api_error`]).

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid emulator configuration: {0}")]
    Config(String),
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "data dir {0} is in use by another running emulator (lock held); stop it or use another --data-dir"
    )]
    Locked(PathBuf),
    #[error("state file {path} is corrupt: {msg}")]
    State { path: PathBuf, msg: String },
}

/// Wraps an I/O error with what was being done, for `map_err`.
pub fn io_err(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> Error {
    let what = what.into();
    move |source| Error::Io { what, source }
}
