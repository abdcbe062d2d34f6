//! The one error surface: exit statuses, refusals and the [`Hint`] trait. The edge
//! (`commands::report`) collects hints from an error chain and prints them after the message;
//! this module depends on nothing so every layer can implement [`Hint`].

use std::borrow::Cow;

/// Process exit statuses, documented in README.md ("Commands and exit codes").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum ExitStatus {
    Success = 0,
    /// Bad input: config, credentials, files, a refused operation.
    User = 1,
    /// Bad command line (clap's own status).
    Usage = 2,
    /// The cloud (or the emulator) answered with an error.
    Cloud = 3,
    /// No answer at all: connection refused, DNS, TLS, timeout.
    Unreachable = 4,
    /// `deploy --dry-run` found changes.
    ChangesPending = 10,
}

impl From<ExitStatus> for std::process::ExitCode {
    fn from(s: ExitStatus) -> Self {
        std::process::ExitCode::from(s as u8)
    }
}

/// An error that knows what the user can do about it. The hint is not part of `Display`:
/// the edge collects every hint in the chain and prints them after the whole message.
pub trait Hint {
    fn hint(&self) -> Option<Cow<'_, str>>;
}

/// An error that ends the command with a chosen status (e.g. `ChangesPending`), with a message
/// (may be empty: the result was already printed) and an optional hint.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct Refusal {
    pub status: ExitStatus,
    pub message: String,
    pub hint: Option<String>,
}

impl Refusal {
    /// Ends with `status` and nothing more to say.
    pub fn silent(status: ExitStatus) -> Refusal {
        Refusal {
            status,
            message: String::new(),
            hint: None,
        }
    }
}

impl Hint for Refusal {
    fn hint(&self) -> Option<Cow<'_, str>> {
        self.hint.as_deref().map(Cow::Borrowed)
    }
}
