//! Verify, then promote: a new version is invoked by its number — FC starts it on an on-demand
//! instance, runs its initializer and answers with the function's own error when it cannot
//! start — before any alias points at it. Only a version that classifies the sample images
//! gets the release alias.

use std::path::PathBuf;

use serde::Serialize;

use crate::aliyun::fc_models::InvokeFunctionRequest;
use crate::cloud::Cloud;

/// One request sent to the version.
#[derive(Debug, Clone, Serialize)]
pub struct VersionCheck {
    /// What was sent (`POST /invoke <image>`).
    pub request: String,
    /// HTTP status FC answered.
    pub status: u16,
    /// `x-fc-error-type` when the function failed (e.g. `InitializationError`).
    pub error_type: Option<String>,
    /// Label answered.
    pub label: Option<String>,
    /// Label the file name promises, if any.
    pub expected: Option<String>,
    /// FC's request id, to find the logs.
    pub request_id: Option<String>,
    /// The answer's body when the check failed (cut to 2 000 characters).
    pub detail: Option<String>,
    /// Passed.
    pub ok: bool,
}

/// A version that did not pass; the alias was not moved.
#[derive(Debug, thiserror::Error)]
#[error("version {version} failed its check before release: {request} → {what}")]
pub struct VersionFailed {
    pub version: String,
    /// The alias and the version it still serves (None: the alias does not exist yet).
    pub alias: String,
    pub serving: Option<String>,
    pub request: String,
    /// The function's own error: status, error type and body.
    pub what: String,
}

impl crate::exit::Hint for VersionFailed {
    fn hint(&self) -> Option<std::borrow::Cow<'_, str>> {
        let stays = match &self.serving {
            Some(v) => format!("`{}` still serves version {v}", self.alias),
            None => format!("`{}` was not created", self.alias),
        };
        Some(
            format!(
                "{stays}; fix the model or code and run `fcctl up` again (`fcctl invoke --qualifier {} IMAGE` repeats the check)",
                self.version
            )
            .into(),
        )
    }
}

/// Sends each image (or, with none configured, an empty body: the initializer still runs and
/// the function's own 4xx proves it started) to `version` with InvokeFunction.
pub async fn check_version(
    cloud: &Cloud,
    version: &str,
    images: &[PathBuf],
) -> anyhow::Result<Vec<VersionCheck>> {
    let mut out = Vec::new();
    let bodies: Vec<(String, Vec<u8>, Option<String>)> = if images.is_empty() {
        vec![("POST /invoke (empty body)".into(), Vec::new(), None)]
    } else {
        let mut v = Vec::new();
        for img in images {
            let bytes =
                crate::fsutil::read_capped(img, crate::fsutil::MAX_REQUEST_BODY, "sample image")?;
            v.push((
                format!("POST /invoke {}", img.display()),
                bytes,
                crate::pipeline::smoke::expected_label(img),
            ));
        }
        v
    };
    for (request, body, expected) in bodies {
        let empty = body.is_empty();
        let answer = cloud
            .fc
            .invoke_function(
                cloud.cfg.function_name(),
                &InvokeFunctionRequest {
                    qualifier: Some(version.to_string()),
                    body,
                    // Classifying a photo changes nothing: a throttled or unavailable
                    // gateway is retried instead of failing the release.
                    idempotent: true,
                    ..Default::default()
                },
            )
            .await;
        let r = match answer {
            Ok(r) => r,
            // The function's own error status comes back as an HTTP error (after the client's
            // retries): that is this check's answer, not a failure to ask.
            Err(e) if e.status().is_some() => {
                let status = e.status().unwrap_or_default();
                // The function refusing the empty probe itself (its body names no FC error
                // code, so the client calls it `HTTP4xx`) proves it initialised and answers.
                let own_refusal = empty
                    && (400..500).contains(&status)
                    && e.code() == Some(format!("HTTP{status}").as_str());
                out.push(VersionCheck {
                    request,
                    status,
                    error_type: None,
                    label: None,
                    expected,
                    request_id: e.request_id().map(str::to_string),
                    detail: (!own_refusal).then(|| e.to_string().chars().take(2000).collect()),
                    ok: own_refusal,
                });
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap_or_default();
        let label = v["label"].as_str().map(str::to_string);
        let ok = r.error_type.is_none()
            && if empty {
                r.status < 500
            } else {
                (200..300).contains(&r.status)
                    && label.is_some()
                    && (expected.is_none() || expected == label)
            };
        let detail = (!ok).then(|| {
            let text = String::from_utf8_lossy(&r.body);
            text.chars().take(2000).collect()
        });
        out.push(VersionCheck {
            request,
            status: r.status,
            error_type: r.error_type,
            label,
            expected,
            request_id: r.request_id,
            detail,
            ok,
        });
    }
    Ok(out)
}

/// The first failed check as an error for `alias`, which still serves `serving`.
pub fn first_failure(
    checks: &[VersionCheck],
    version: &str,
    alias: &str,
    serving: Option<&str>,
) -> Option<VersionFailed> {
    let bad = checks.iter().find(|c| !c.ok)?;
    let mut what = format!("HTTP {}", bad.status);
    if let Some(t) = &bad.error_type {
        what.push_str(&format!(" {t}"));
    }
    match (&bad.label, &bad.expected) {
        (Some(l), Some(e)) if l != e && bad.error_type.is_none() => {
            what.push_str(&format!(", answered {l} where {e} was expected"));
        }
        _ => {}
    }
    if let Some(d) = bad.detail.as_deref().filter(|d| !d.is_empty()) {
        what.push_str(&format!(": {d}"));
    }
    if let Some(id) = &bad.request_id {
        what.push_str(&format!(" (request id {id})"));
    }
    Some(VersionFailed {
        version: version.into(),
        alias: alias.into(),
        serving: serving.map(str::to_string),
        request: bad.request.clone(),
        what,
    })
}

/// The version `alias` serves now, if it exists.
pub async fn serving_version(cloud: &Cloud, alias: &str) -> anyhow::Result<Option<String>> {
    match cloud.fc.get_alias(cloud.cfg.function_name(), alias).await {
        Ok(a) => Ok(a.version_id),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Checks `version` by its number; a failure is a [`VersionFailed`] naming what `alias` still
/// serves (`serving`).
pub async fn verify_version(
    cloud: &Cloud,
    version: &str,
    images: &[PathBuf],
    alias: &str,
    serving: Option<&str>,
) -> anyhow::Result<Vec<VersionCheck>> {
    let checks = check_version(cloud, version, images).await?;
    match first_failure(&checks, version, alias, serving) {
        Some(failed) => Err(failed.into()),
        None => Ok(checks),
    }
}

/// `bench.images` from fcctl.yaml, relative to the project: the images every check sends.
pub fn sample_images(
    project: &crate::project::Project,
    cfg: &crate::config::Config,
) -> Vec<PathBuf> {
    cfg.bench.images.iter().map(|p| project.path(p)).collect()
}
