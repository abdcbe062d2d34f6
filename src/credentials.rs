//! Credentials, resolved the way Alibaba's own tools do, with the source reported.
//!
//! Order: `--access ALIAS` (Serverless Devs) / `--profile NAME` (aliyun CLI) flags, then the
//! `ALIBABA_CLOUD_*` environment variables, then `~/.aliyun/config.json` (current profile), then
//! `~/.s/access.yaml` (alias `default`). Secrets never reach `Debug`, logs or output.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// A secret string: `Debug` and `Display` never show it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    pub fn new(s: impl Into<String>) -> Secret {
        Secret(s.into())
    }

    /// The secret itself; call only where it is sent or signed with.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// A form safe to print: the length only.
    pub fn masked(&self) -> String {
        // Not even a prefix: a few characters of a secret narrow a search for the rest.
        format!("<hidden, {} chars>", self.0.chars().count())
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// Where credentials came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// `ALIBABA_CLOUD_*` environment variables.
    Env,
    /// An aliyun CLI profile in `~/.aliyun/config.json`.
    AliyunProfile {
        /// The config file.
        path: PathBuf,
        /// The profile name.
        profile: String,
    },
    /// A Serverless Devs alias in `~/.s/access.yaml`.
    ServerlessDevs {
        /// The access file.
        path: PathBuf,
        /// The alias.
        alias: String,
    },
    /// The local emulator's keys (`--local`).
    Emulator,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Env => f.write_str("environment (ALIBABA_CLOUD_ACCESS_KEY_ID)"),
            Source::AliyunProfile { path, profile } => {
                write!(f, "aliyun CLI profile `{profile}` in {}", path.display())
            }
            Source::ServerlessDevs { path, alias } => {
                write!(f, "Serverless Devs alias `{alias}` in {}", path.display())
            }
            Source::Emulator => f.write_str("local emulator keys"),
        }
    }
}

/// Resolved credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    /// AccessKey id (not secret, but still shown masked in reports).
    pub access_key_id: String,
    /// AccessKey secret.
    pub access_key_secret: Secret,
    /// STS security token, for temporary credentials.
    pub security_token: Option<Secret>,
    /// Account id (uid), when the source knows it.
    pub account_id: Option<String>,
    /// Where they came from.
    pub source: Source,
}

/// What the caller asked for on the command line.
#[derive(Debug, Clone, Default)]
pub struct Request {
    /// `--profile NAME`: an aliyun CLI profile.
    pub profile: Option<String>,
    /// `--access ALIAS`: a Serverless Devs alias.
    pub access: Option<String>,
}

/// Why no usable credentials were found.
#[derive(Debug, thiserror::Error)]
#[error("{}", render_failure(.tried))]
pub struct CredentialsError {
    /// Each place looked and what was wrong there.
    pub tried: Vec<(String, String)>,
}

fn render_failure(tried: &[(String, String)]) -> String {
    let mut s = String::from("no usable Alibaba Cloud credentials. Looked in:\n");
    for (place, why) in tried {
        s.push_str(&format!("  - {place}: {why}\n"));
    }
    s.trim_end().to_string()
}

impl crate::exit::Hint for CredentialsError {
    fn hint(&self) -> Option<std::borrow::Cow<'_, str>> {
        Some(std::borrow::Cow::Borrowed(
            "export ALIBABA_CLOUD_ACCESS_KEY_ID and ALIBABA_CLOUD_ACCESS_KEY_SECRET (plus \
             ALIBABA_CLOUD_SECURITY_TOKEN for STS), or run `aliyun configure`, or `s config \
             add`; for the local emulator use --local",
        ))
    }
}

/// Where the resolver reads from; injectable for tests.
#[derive(Debug, Clone)]
pub struct Environment {
    /// Environment variables.
    pub vars: BTreeMap<String, String>,
    /// The home directory.
    pub home: Option<PathBuf>,
}

impl Environment {
    /// The real process environment.
    pub fn from_process() -> Environment {
        Environment {
            vars: std::env::vars().collect(),
            home: std::env::var_os("HOME").map(PathBuf::from),
        }
    }

    fn var(&self, k: &str) -> Option<&str> {
        self.vars
            .get(k)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }
}

/// Resolves credentials in the documented order.
pub fn resolve(req: &Request, env: &Environment) -> Result<Credentials, CredentialsError> {
    let mut tried = Vec::new();
    let aliyun_path = env
        .var("ALIBABA_CLOUD_CONFIG_FILE")
        .map(PathBuf::from)
        .or_else(|| env.home.as_ref().map(|h| h.join(".aliyun/config.json")));
    let s_path = env.home.as_ref().map(|h| h.join(".s/access.yaml"));

    // Explicit flags win and do not fall through: asking for a profile that is not there is an error.
    if let Some(alias) = &req.access {
        let place = format!("--access {alias}");
        match s_path.as_deref().map(|p| from_s_access(p, alias)) {
            Some(Ok(c)) => return Ok(with_account_env(c, env)),
            Some(Err(why)) => tried.push((place, why)),
            None => tried.push((place, "HOME is not set".into())),
        }
        return Err(CredentialsError { tried });
    }
    if let Some(profile) = &req.profile {
        let place = format!("--profile {profile}");
        match aliyun_path
            .as_deref()
            .map(|p| from_aliyun(p, Some(profile)))
        {
            Some(Ok(c)) => return Ok(with_account_env(c, env)),
            Some(Err(why)) => tried.push((place, why)),
            None => tried.push((place, "HOME is not set".into())),
        }
        return Err(CredentialsError { tried });
    }

    match from_env(env) {
        Ok(Some(c)) => return Ok(c),
        Ok(None) => tried.push((
            "environment".into(),
            "ALIBABA_CLOUD_ACCESS_KEY_ID is not set".into(),
        )),
        Err(why) => {
            // A half-set environment is a mistake worth stopping for, not skipping.
            tried.push(("environment".into(), why));
            return Err(CredentialsError { tried });
        }
    }

    if let Some(p) = &aliyun_path {
        let wanted = env.var("ALIBABA_CLOUD_PROFILE");
        match from_aliyun(p, wanted) {
            Ok(c) => return Ok(with_account_env(c, env)),
            Err(why) => tried.push((p.display().to_string(), why)),
        }
    }
    if let Some(p) = &s_path {
        match from_s_access(p, "default") {
            Ok(c) => return Ok(with_account_env(c, env)),
            Err(why) => tried.push((p.display().to_string(), why)),
        }
    }
    Err(CredentialsError { tried })
}

fn with_account_env(mut c: Credentials, env: &Environment) -> Credentials {
    if c.account_id.is_none() {
        c.account_id = env.var("ALIBABA_CLOUD_ACCOUNT_ID").map(str::to_string);
    }
    c
}

fn from_env(env: &Environment) -> Result<Option<Credentials>, String> {
    let id = env.var("ALIBABA_CLOUD_ACCESS_KEY_ID");
    let secret = env.var("ALIBABA_CLOUD_ACCESS_KEY_SECRET");
    match (id, secret) {
        (None, None) => {
            if env.var("ALIBABA_CLOUD_SECURITY_TOKEN").is_some() {
                return Err(
                    "ALIBABA_CLOUD_SECURITY_TOKEN is set but the key id and secret are not".into(),
                );
            }
            Ok(None)
        }
        (Some(_), None) => Err(
            "ALIBABA_CLOUD_ACCESS_KEY_ID is set but ALIBABA_CLOUD_ACCESS_KEY_SECRET is not".into(),
        ),
        (None, Some(_)) => Err(
            "ALIBABA_CLOUD_ACCESS_KEY_SECRET is set but ALIBABA_CLOUD_ACCESS_KEY_ID is not".into(),
        ),
        (Some(id), Some(secret)) => Ok(Some(Credentials {
            access_key_id: id.to_string(),
            access_key_secret: Secret::new(secret),
            security_token: env.var("ALIBABA_CLOUD_SECURITY_TOKEN").map(Secret::new),
            account_id: env.var("ALIBABA_CLOUD_ACCOUNT_ID").map(str::to_string),
            source: Source::Env,
        })),
    }
}

#[derive(Deserialize)]
struct AliyunConfig {
    #[serde(default)]
    current: Option<String>,
    #[serde(default)]
    profiles: Vec<AliyunProfile>,
}

#[derive(Deserialize)]
struct AliyunProfile {
    name: String,
    #[serde(default)]
    mode: String,
    #[serde(default)]
    access_key_id: String,
    #[serde(default)]
    access_key_secret: String,
    #[serde(default)]
    sts_token: String,
}

/// Like ssh with a private key: a credentials file others can read is used, but not silently.
fn warn_if_readable_by_others(path: &Path) {
    use std::os::unix::fs::PermissionsExt as _;
    if let Some(mode) = readable_by_others(path) {
        tracing::warn!(
            "{} is readable by other users (mode {mode:03o}); it holds an AccessKey secret: \
             `chmod 600 {}`",
            path.display(),
            path.display()
        );
    }
    fn readable_by_others(path: &Path) -> Option<u32> {
        let mode = std::fs::metadata(path).ok()?.permissions().mode() & 0o777;
        (mode & 0o044 != 0).then_some(mode)
    }
}

fn from_aliyun(path: &Path, wanted: Option<&str>) -> Result<Credentials, String> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => {
            warn_if_readable_by_others(path);
            t
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err("no such file".into()),
        Err(e) => return Err(format!("cannot read: {e}")),
    };
    let cfg: AliyunConfig = serde_json::from_str(&text).map_err(|e| {
        format!(
            "malformed JSON at line {} column {}: {e}",
            e.line(),
            e.column()
        )
    })?;
    let name = wanted
        .map(str::to_string)
        .or(cfg.current.filter(|c| !c.is_empty()))
        .unwrap_or_else(|| "default".into());
    let p = cfg
        .profiles
        .iter()
        .find(|p| p.name == name)
        .ok_or_else(|| {
            let names: Vec<&str> = cfg.profiles.iter().map(|p| p.name.as_str()).collect();
            format!("no profile `{name}` (profiles: {})", names.join(", "))
        })?;
    let token = match p.mode.as_str() {
        "AK" | "" => None,
        "StsToken" => {
            if p.sts_token.is_empty() {
                return Err(format!(
                    "profile `{name}` is StsToken mode but sts_token is empty"
                ));
            }
            Some(Secret::new(&p.sts_token))
        }
        other => {
            return Err(format!(
                "profile `{name}` uses mode `{other}`, which fcctl does not support yet (AK and StsToken are)"
            ));
        }
    };
    if p.access_key_id.is_empty() || p.access_key_secret.is_empty() {
        return Err(format!(
            "profile `{name}` lacks access_key_id or access_key_secret"
        ));
    }
    Ok(Credentials {
        access_key_id: p.access_key_id.clone(),
        access_key_secret: Secret::new(&p.access_key_secret),
        security_token: token,
        account_id: None,
        source: Source::AliyunProfile {
            path: path.to_path_buf(),
            profile: name,
        },
    })
}

fn from_s_access(path: &Path, alias: &str) -> Result<Credentials, String> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => {
            warn_if_readable_by_others(path);
            t
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err("no such file".into()),
        Err(e) => return Err(format!("cannot read: {e}")),
    };
    let aliases: BTreeMap<String, BTreeMap<String, serde_json::Value>> =
        serde_saphyr::from_str(&text).map_err(|e| {
            let at = e
                .location()
                .map(|l| format!(" at line {} column {}", l.line(), l.column()))
                .unwrap_or_default();
            format!("malformed YAML{at}")
        })?;
    let entry = aliases.get(alias).ok_or_else(|| {
        let names: Vec<&str> = aliases.keys().map(String::as_str).collect();
        format!("no alias `{alias}` (aliases: {})", names.join(", "))
    })?;
    let get = |k: &str| -> Option<String> {
        entry.get(k).and_then(|v| match v {
            serde_json::Value::String(s) if !s.is_empty() => Some(s.clone()),
            serde_json::Value::Number(n) => Some(n.to_string()),
            _ => None,
        })
    };
    let id = get("AccessKeyID");
    let secret = get("AccessKeySecret");
    if [&id, &secret]
        .iter()
        .any(|v| v.as_deref().is_some_and(|s| s.starts_with("U2FsdGVkX1")))
    {
        return Err(format!(
            "alias `{alias}` is stored encrypted; fcctl reads plain-text aliases only — \
             export ALIBABA_CLOUD_ACCESS_KEY_ID/SECRET instead"
        ));
    }
    match (id, secret) {
        (Some(id), Some(secret)) => Ok(Credentials {
            access_key_id: id,
            access_key_secret: Secret::new(secret),
            security_token: get("SecurityToken").map(Secret::new),
            account_id: get("AccountID"),
            source: Source::ServerlessDevs {
                path: path.to_path_buf(),
                alias: alias.to_string(),
            },
        }),
        _ => Err(format!(
            "alias `{alias}` lacks AccessKeyID or AccessKeySecret"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "TopSecretValue-never-print-me";

    fn env(vars: &[(&str, &str)], home: Option<&Path>) -> Environment {
        Environment {
            vars: vars
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            home: home.map(Path::to_path_buf),
        }
    }

    fn home_with(aliyun: Option<&str>, s: Option<&str>) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        if let Some(a) = aliyun {
            std::fs::create_dir_all(dir.path().join(".aliyun")).unwrap();
            std::fs::write(dir.path().join(".aliyun/config.json"), a).unwrap();
        }
        if let Some(s) = s {
            std::fs::create_dir_all(dir.path().join(".s")).unwrap();
            std::fs::write(dir.path().join(".s/access.yaml"), s).unwrap();
        }
        dir
    }

    fn aliyun_json() -> String {
        format!(
            r#"{{"current":"work","profiles":[
              {{"name":"default","mode":"AK","access_key_id":"LTAIdefault","access_key_secret":"{SECRET}"}},
              {{"name":"work","mode":"AK","access_key_id":"LTAIwork","access_key_secret":"{SECRET}"}},
              {{"name":"sts","mode":"StsToken","access_key_id":"STS.id","access_key_secret":"{SECRET}","sts_token":"tok-{SECRET}"}},
              {{"name":"ram","mode":"RamRoleArn","access_key_id":"x","access_key_secret":"y"}}
            ]}}"#
        )
    }

    fn s_yaml() -> String {
        format!(
            "default:\n  AccountID: '1234567890'\n  AccessKeyID: LTAIs\n  AccessKeySecret: {SECRET}\nother:\n  AccessKeyID: LTAIo\n  AccessKeySecret: {SECRET}\n"
        )
    }

    #[test]
    fn env_wins_over_files_and_carries_sts_and_account() {
        let h = home_with(Some(&aliyun_json()), Some(&s_yaml()));
        let e = env(
            &[
                ("ALIBABA_CLOUD_ACCESS_KEY_ID", "LTAIenv"),
                ("ALIBABA_CLOUD_ACCESS_KEY_SECRET", SECRET),
                ("ALIBABA_CLOUD_SECURITY_TOKEN", "tok"),
                ("ALIBABA_CLOUD_ACCOUNT_ID", "42"),
            ],
            Some(h.path()),
        );
        let c = resolve(&Request::default(), &e).unwrap();
        assert_eq!(c.source, Source::Env);
        assert_eq!(c.access_key_id, "LTAIenv");
        assert_eq!(c.security_token.unwrap().expose(), "tok");
        assert_eq!(c.account_id.as_deref(), Some("42"));
    }

    #[test]
    fn aliyun_current_profile_then_s_default() {
        let h = home_with(Some(&aliyun_json()), Some(&s_yaml()));
        let c = resolve(&Request::default(), &env(&[], Some(h.path()))).unwrap();
        assert_eq!(c.access_key_id, "LTAIwork");
        assert!(matches!(c.source, Source::AliyunProfile { ref profile, .. } if profile == "work"));
        let h = home_with(None, Some(&s_yaml()));
        let c = resolve(&Request::default(), &env(&[], Some(h.path()))).unwrap();
        assert_eq!(c.access_key_id, "LTAIs");
        assert_eq!(c.account_id.as_deref(), Some("1234567890"));
    }

    #[test]
    fn flags_select_and_do_not_fall_through() {
        let h = home_with(Some(&aliyun_json()), Some(&s_yaml()));
        let e = env(
            &[
                ("ALIBABA_CLOUD_ACCESS_KEY_ID", "LTAIenv"),
                ("ALIBABA_CLOUD_ACCESS_KEY_SECRET", SECRET),
            ],
            Some(h.path()),
        );
        let req = Request {
            profile: Some("sts".into()),
            access: None,
        };
        let c = resolve(&req, &e).unwrap();
        assert_eq!(c.access_key_id, "STS.id");
        assert_eq!(c.security_token.unwrap().expose(), format!("tok-{SECRET}"));
        let req = Request {
            profile: None,
            access: Some("other".into()),
        };
        assert_eq!(resolve(&req, &e).unwrap().access_key_id, "LTAIo");
        let req = Request {
            profile: Some("nope".into()),
            access: None,
        };
        let err = resolve(&req, &e).unwrap_err().to_string();
        assert!(err.contains("no profile `nope`"), "{err}");
        let req = Request {
            profile: Some("ram".into()),
            access: None,
        };
        assert!(
            resolve(&req, &e)
                .unwrap_err()
                .to_string()
                .contains("RamRoleArn")
        );
    }

    #[test]
    fn partial_env_is_an_error() {
        let e = env(&[("ALIBABA_CLOUD_ACCESS_KEY_ID", "LTAI")], None);
        let err = resolve(&Request::default(), &e).unwrap_err().to_string();
        assert!(
            err.contains("ALIBABA_CLOUD_ACCESS_KEY_SECRET is not"),
            "{err}"
        );
    }

    #[test]
    fn malformed_files_and_missing_everything_list_every_place() {
        let h = home_with(Some("{ not json"), Some("default: [unclosed\n"));
        let err = resolve(&Request::default(), &env(&[], Some(h.path())))
            .unwrap_err()
            .to_string();
        assert!(err.contains("environment"), "{err}");
        assert!(
            err.contains("config.json: malformed JSON at line 1"),
            "{err}"
        );
        assert!(err.contains("access.yaml: malformed YAML"), "{err}");
        let e = resolve(&Request::default(), &env(&[], Some(h.path()))).unwrap_err();
        assert!(
            crate::exit::Hint::hint(&e)
                .unwrap()
                .starts_with("export ALIBABA_CLOUD_ACCESS_KEY_ID"),
            "{err}"
        );
        let h = home_with(None, None);
        let err = resolve(&Request::default(), &env(&[], Some(h.path())))
            .unwrap_err()
            .to_string();
        assert_eq!(err.matches("no such file").count(), 2, "{err}");
    }

    #[test]
    fn incomplete_and_encrypted_entries() {
        let h = home_with(
            Some(
                r#"{"current":"default","profiles":[{"name":"default","mode":"StsToken","access_key_id":"a","access_key_secret":"b"}]}"#,
            ),
            Some("default:\n  AccessKeyID: U2FsdGVkX1abc\n  AccessKeySecret: U2FsdGVkX1def\n"),
        );
        let err = resolve(&Request::default(), &env(&[], Some(h.path())))
            .unwrap_err()
            .to_string();
        assert!(err.contains("sts_token is empty"), "{err}");
        assert!(err.contains("stored encrypted"), "{err}");
    }

    #[test]
    fn secrets_never_in_debug_or_errors() {
        let h = home_with(Some(&aliyun_json()), Some(&s_yaml()));
        let c = resolve(
            &Request {
                profile: Some("sts".into()),
                access: None,
            },
            &env(&[], Some(h.path())),
        )
        .unwrap();
        let dbg = format!("{c:?}");
        assert!(!dbg.contains(SECRET), "{dbg}");
        assert!(!c.access_key_secret.masked().contains(SECRET));
        let masked = c.access_key_secret.masked();
        let head: String = c.access_key_secret.expose().chars().take(3).collect();
        assert!(!masked.contains(&head), "no prefix of the secret: {masked}");
    }
}
