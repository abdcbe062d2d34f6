//! Reporting a failed command: the message, then every hint in the error chain, and the exit
//! status. Here, at the edge, because it must know every layer's error types.

use std::borrow::Cow;

use crate::exit::{ExitStatus, Hint as _, Refusal};

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

/// A client error in the chain, also when an error type holds it boxed (a boxed source is
/// its own link in the chain, so it downcasts as the `Box`).
fn client_error<'a>(e: &'a (dyn std::error::Error + 'static)) -> Option<&'a crate::aliyun::Error> {
    e.downcast_ref::<crate::aliyun::Error>().or_else(|| {
        e.downcast_ref::<Box<crate::aliyun::Error>>()
            .map(|b| b.as_ref())
    })
}

/// The error types that carry hints. A new hinted error type is added here once.
fn hint_of<'a>(e: &'a (dyn std::error::Error + 'static)) -> Option<Cow<'a, str>> {
    if let Some(x) = client_error(e) {
        return x.hint();
    }
    if let Some(x) = e.downcast_ref::<crate::infra::InfraError>() {
        return x.hint();
    }
    if let Some(x) = e.downcast_ref::<crate::pipeline::logs::LogsError>() {
        return x.hint();
    }
    if let Some(x) = e.downcast_ref::<crate::aliyun::ApiError>() {
        return x.hint();
    }
    if let Some(x) = e.downcast_ref::<crate::config::ConfigError>() {
        return x.hint();
    }
    if let Some(x) = e.downcast_ref::<crate::credentials::CredentialsError>() {
        return x.hint();
    }
    if let Some(x) = e.downcast_ref::<crate::cloud::ConnectError>() {
        return x.hint();
    }
    if let Some(x) = e.downcast_ref::<crate::fsutil::ReadCappedError>() {
        return x.hint();
    }
    if let Some(x) = e.downcast_ref::<Refusal>() {
        return x.hint();
    }
    if let Some(x) = e.downcast_ref::<crate::pipeline::verify::VersionFailed>() {
        return x.hint();
    }
    if let Some(x) = e.downcast_ref::<crate::package::InputError>() {
        return x.hint();
    }
    if let Some(x) = e.downcast_ref::<crate::nas::manifest::NonUtf8Name>() {
        return x.hint();
    }
    if let Some(x) = e.downcast_ref::<crate::model::scaffold::ScaffoldError>() {
        return x.hint();
    }
    if let Some(x) = e.downcast_ref::<crate::package::onnxruntime::FetchError>() {
        return x.hint();
    }
    if let Some(x) = e.downcast_ref::<crate::model::trial::TrialError>() {
        return x.hint();
    }
    if let Some(x) = e.downcast_ref::<crate::cost::CostError>() {
        return x.hint();
    }
    if let Some(x) = e.downcast_ref::<crate::bench::sweep::SweepError>() {
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
    // The function itself failed: an answer from the cloud, as a function error is elsewhere.
    if e.chain()
        .any(|c| c.is::<crate::pipeline::verify::VersionFailed>())
    {
        return ExitStatus::Cloud;
    }
    let client_errors = e.chain().filter_map(client_error);
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
