//! The one error surface: exit statuses, and hints collected from an error chain and printed
//! after the message.

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

/// The hints of every error in the chain that has one, outermost first, without repeats.
pub fn hints(e: &anyhow::Error) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for cause in e.chain() {
        if let Some(h) = hint_of(cause)
            && !out.iter().any(|o| o == h.as_ref())
        {
            out.push(h.into_owned());
        }
    }
    out
}

/// The error types that carry hints. A new hinted error type is added here once.
fn hint_of<'a>(e: &'a (dyn std::error::Error + 'static)) -> Option<Cow<'a, str>> {
    if let Some(x) = e.downcast_ref::<crate::aliyun::Error>() {
        return x.hint();
    }
    if let Some(x) = e.downcast_ref::<crate::aliyun::ApiError>() {
        return x.hint();
    }
    if let Some(x) = e.downcast_ref::<crate::config::ConfigError>() {
        return x.hint();
    }
    if let Some(x) = e.downcast_ref::<crate::cloud::ConnectError>() {
        return x.hint();
    }
    if let Some(x) = e.downcast_ref::<Refusal>() {
        return x.hint();
    }
    None
}

/// The status for a failed command: the one a [`Refusal`] chose; `Cloud` when the service
/// answered with an error; `Unreachable` when no answer came; else `User`.
pub fn status_of(e: &anyhow::Error) -> ExitStatus {
    if let Some(r) = e.downcast_ref::<Refusal>() {
        return r.status;
    }
    let client_errors = e
        .chain()
        .filter_map(|c| c.downcast_ref::<crate::aliyun::Error>());
    for c in client_errors {
        if c.status().is_some() {
            return ExitStatus::Cloud;
        }
        if c.is_unreachable() {
            return ExitStatus::Unreachable;
        }
    }
    ExitStatus::User
}
