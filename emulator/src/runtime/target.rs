//! Resolving what an invocation runs: a function's qualifier (LATEST, a version, an alias)
//! to a concrete version and its config.

use crate::api_error::ApiError;
use crate::state::Store;
use serde_json::Value;
use std::collections::BTreeMap;

/// A resolved invocation target: function + concrete version.
#[derive(Clone, Debug)]
pub struct Target {
    pub function: String,
    /// "LATEST" or a version number.
    pub version: String,
    /// What the caller asked for (alias name, version or LATEST).
    pub qualifier: String,
    pub config: Value,
    pub code_sha: String,
    /// NAS mount target domain → file system id, for each mount target that exists now: a
    /// `serverAddr` naming one mounts that file system's directory.
    pub nas_file_systems: BTreeMap<String, String>,
}

/// Resolves `qualifier` (None/LATEST, version id, alias) of `function`. With `weighted`,
/// an alias's `additionalVersionWeight` is honoured by a random draw.
pub fn resolve(
    store: &Store,
    function: &str,
    qualifier: Option<&str>,
    weighted: bool,
) -> Result<Target, ApiError> {
    let st = store.read();
    let f = st.functions.get(function).ok_or_else(|| {
        ApiError::new(
            404,
            "FunctionNotFound",
            format!("function '{function}' does not exist"),
        )
    })?;
    let q = qualifier.filter(|q| !q.is_empty()).unwrap_or("LATEST");
    let nas_file_systems = st.infra.mount_target_file_systems();
    let version_of = |v: &str| -> Result<Target, ApiError> {
        if v == "LATEST" {
            return Ok(Target {
                function: function.into(),
                version: "LATEST".into(),
                qualifier: q.into(),
                config: f.latest_view(),
                code_sha: f.code_sha.clone(),
                nas_file_systems: nas_file_systems.clone(),
            });
        }
        let rec = v
            .parse::<u64>()
            .ok()
            .and_then(|n| f.versions.get(&n))
            .ok_or_else(|| {
                ApiError::new(
                    404,
                    "VersionNotFound",
                    format!("version '{v}' of function '{function}' does not exist"),
                )
            })?;
        Ok(Target {
            function: function.into(),
            version: rec.version_id.clone(),
            qualifier: q.into(),
            config: rec.config.clone(),
            code_sha: rec.code_sha.clone(),
            nas_file_systems: nas_file_systems.clone(),
        })
    };
    if q == "LATEST" || q.parse::<u64>().is_ok() {
        return version_of(q);
    }
    let alias = f.aliases.get(q).ok_or_else(|| {
        ApiError::new(
            404,
            "AliasNotFound",
            format!("alias '{q}' of function '{function}' does not exist"),
        )
    })?;
    let mut v = alias["versionId"].as_str().unwrap_or("LATEST").to_string();
    if weighted && let Some(w) = alias["additionalVersionWeight"].as_object() {
        let mut r: f64 = rand::random();
        for (ver, weight) in w {
            let weight = weight.as_f64().unwrap_or(0.0);
            if r < weight {
                v = ver.clone();
                break;
            }
            r -= weight;
        }
    }
    version_of(&v)
}

/// Pool key for a target: versions are immutable; LATEST is keyed by its code + modification
/// time so that UpdateFunction moves traffic to fresh instances (old ones are retired).
pub fn pool_version(t: &Target) -> String {
    if t.version == "LATEST" {
        format!(
            "LATEST@{}@{}",
            t.code_sha,
            t.config["lastModifiedTime"].as_str().unwrap_or("")
        )
    } else {
        t.version.clone()
    }
}
