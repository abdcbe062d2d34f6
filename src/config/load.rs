//! Reading `fcctl.yaml` and layering `FCCTL_*` env vars and flags over it, with errors that
//! point at the line and key.

use std::path::Path;

use super::validate::validate;
use super::{Config, ConfigError, FILE_NAME};

/// fcctl.yaml is a page of settings; anything near this size is not one.
pub const MAX_CONFIG_BYTES: u64 = 1 << 20;

/// Loads, layers and validates the configuration.
#[derive(Debug, Default, Clone)]
pub struct Loader {
    /// `(key path, value)` pairs from command-line flags, applied last.
    pub flag_overrides: Vec<(String, String)>,
}

impl Loader {
    /// Load `path`, then apply `FCCTL_*` env vars from `env`, then flag overrides.
    #[allow(clippy::result_large_err)] // a cold path, once per run; the fields are all shown
    pub fn load(
        &self,
        path: &Path,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config, ConfigError> {
        let fail = |message: String, hint: String| ConfigError {
            origin: path.display().to_string(),
            position: None,
            key_path: None,
            message,
            hint: Some(hint),
            snippet: None,
        };
        let bytes = crate::fsutil::read_capped(path, MAX_CONFIG_BYTES, "config file").map_err(
            |e| match e {
                crate::fsutil::ReadCappedError::Io { source, .. } => fail(
                    format!("cannot read the project file: {source}"),
                    format!("run `fcctl init` to create {FILE_NAME} here, or pass --config PATH"),
                ),
                other => {
                    use crate::exit::Hint as _;
                    let hint = other.hint().map(|h| h.into_owned()).unwrap_or_default();
                    fail(other.to_string(), hint)
                }
            },
        )?;
        let text = String::from_utf8(bytes).map_err(|e| {
            fail(
                format!(
                    "the project file is not UTF-8 text (invalid byte at offset {})",
                    e.utf8_error().valid_up_to()
                ),
                format!("save {FILE_NAME} as UTF-8"),
            )
        })?;
        self.load_str(&text, &path.display().to_string(), env)
    }

    /// Like [`Loader::load`] from text; `origin` names the source in errors.
    #[allow(clippy::result_large_err)] // a cold path, once per run; the fields are all shown
    pub fn load_str(
        &self,
        text: &str,
        origin: &str,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config, ConfigError> {
        let cfg = parse_str(text, origin)?;
        no_quoted_scalars(text, &cfg)
            .and_then(|()| validate(&cfg))
            .map_err(|(path, message, hint)| {
                let position = outline::locate(text, &path);
                ConfigError {
                    origin: origin.into(),
                    position,
                    snippet: position.and_then(|(l, c)| source_line(text, l, c)),
                    key_path: Some(path),
                    message,
                    hint,
                }
            })?;
        let mut overrides: Vec<(String, String, String)> = Vec::new();
        for (name, value) in env {
            if let Some(path) = env_key_path(&name) {
                overrides.push((name, path, value));
            }
        }
        overrides.sort();
        for (path, value) in &self.flag_overrides {
            overrides.push((format!("flag for `{path}`"), path.clone(), value.clone()));
        }
        if overrides.is_empty() {
            return Ok(cfg);
        }
        let mut tree = serde_json::to_value(&cfg).expect("config serializes");
        for (origin, path, value) in &overrides {
            set_path(&mut tree, path, value).map_err(|message| ConfigError {
                origin: origin.clone(),
                position: None,
                key_path: Some(path.clone()),
                message,
                hint: None,
                snippet: None,
            })?;
        }
        let cfg: Config = serde_json::from_value(tree).map_err(|e| ConfigError {
            origin: overrides
                .iter()
                .map(|o| o.0.clone())
                .collect::<Vec<_>>()
                .join(", "),
            position: None,
            key_path: None,
            message: format!("override does not fit the config: {e}"),
            hint: None,
            snippet: None,
        })?;
        validate(&cfg).map_err(|(path, message, hint)| ConfigError {
            origin: overrides
                .iter()
                .find(|o| o.1 == path)
                .map(|o| o.0.clone())
                .unwrap_or_else(|| "overrides".into()),
            position: None,
            key_path: Some(path),
            message,
            hint,
            snippet: None,
        })?;
        Ok(cfg)
    }
}

/// YAML lets `memory_mb: '1024'` (a quoted string) fill a number field; a quoted number is
/// usually a templating slip, and the same key then means different things to fcctl and to
/// tools that read the file untyped. Refused, naming the key and the fix.
fn no_quoted_scalars(text: &str, cfg: &Config) -> Result<(), (String, String, Option<String>)> {
    let Ok(untyped) = serde_saphyr::from_str::<serde_json::Value>(text) else {
        return Ok(());
    };
    let typed = serde_json::to_value(cfg).expect("config serializes");
    quoted_scalar(&untyped, &typed, "").map_or(Ok(()), |(path, raw, kind)| {
        Err((
            path,
            format!("expected a {kind}, found the string \"{raw}\""),
            Some(format!("remove the quotes: {raw}")),
        ))
    })
}

fn quoted_scalar(
    untyped: &serde_json::Value,
    typed: &serde_json::Value,
    path: &str,
) -> Option<(String, String, &'static str)> {
    use serde_json::Value;
    match (untyped, typed) {
        (Value::Object(u), Value::Object(t)) => u.iter().find_map(|(k, v)| {
            let p = if path.is_empty() {
                k.clone()
            } else {
                format!("{path}.{k}")
            };
            quoted_scalar(v, t.get(k)?, &p)
        }),
        (Value::Array(u), Value::Array(t)) => u
            .iter()
            .zip(t)
            .enumerate()
            .find_map(|(i, (v, w))| quoted_scalar(v, w, &format!("{path}[{i}]"))),
        (Value::String(raw), Value::Number(_)) if raw.trim().parse::<f64>().is_ok() => {
            Some((path.into(), raw.clone(), "number"))
        }
        (Value::String(raw), Value::Bool(_)) if raw.parse::<bool>().is_ok() => {
            Some((path.into(), raw.clone(), "boolean"))
        }
        _ => None,
    }
}

/// Maps `FCCTL_FUNCTION__MEMORY_MB` to `function.memory_mb`; `None` for non-config variables.
fn env_key_path(name: &str) -> Option<String> {
    let rest = name.strip_prefix("FCCTL_")?;
    // Named like FCCTL_FC_ENDPOINT, but they live in the `endpoints:` map.
    if let Some(product) = rest.strip_suffix("_ENDPOINT")
        && matches!(product, "VPC" | "ECS" | "NAS" | "RAM" | "SLS")
    {
        return Some(format!("endpoints.{}", product.to_ascii_lowercase()));
    }
    let path = rest.to_ascii_lowercase().replace("__", ".");
    let top = path.split('.').next()?;
    let sample = serde_json::to_value(Config::with_app("x")).expect("serializes");
    sample.get(top).is_some().then_some(path)
}

/// Sets a dotted path in a JSON tree; the value is read as a YAML scalar (so `512` is a number).
fn set_path(tree: &mut serde_json::Value, path: &str, raw: &str) -> Result<(), String> {
    let value: serde_json::Value =
        serde_saphyr::from_str(raw).unwrap_or_else(|_| serde_json::Value::String(raw.to_string()));
    let mut node = tree;
    let parts: Vec<&str> = path.split('.').collect();
    for (i, part) in parts.iter().enumerate() {
        let obj = node
            .as_object_mut()
            .ok_or_else(|| format!("`{}` is not a section", parts[..i].join(".")))?;
        if !obj.contains_key(*part) {
            let known: Vec<&str> = obj.keys().map(String::as_str).collect();
            return Err(format!(
                "unknown key `{part}`{}",
                suggest(part, &known)
                    .map(|s| format!("; did you mean `{s}`?"))
                    .unwrap_or_default()
            ));
        }
        if i + 1 == parts.len() {
            obj.insert(part.to_string(), value);
            return Ok(());
        }
        node = obj.get_mut(*part).expect("checked above");
    }
    Ok(())
}

/// An error about the key at dotted `key_path` of the YAML document `text`, positioned at
/// that key's line (or its nearest parent's when the key is absent).
pub fn error_at(
    text: &str,
    origin: &str,
    key_path: &str,
    message: String,
    hint: Option<String>,
) -> ConfigError {
    let position = outline::locate(text, key_path);
    ConfigError {
        origin: origin.into(),
        position,
        snippet: position.and_then(|(l, c)| source_line(text, l, c)),
        key_path: Some(key_path.into()),
        message,
        hint,
    }
}

/// The line an error points at, cut to a window of [`SNIPPET_CHARS`] around the column: a
/// generated file can hold a 100 MB line, and the error must stay readable (and not echo
/// whatever else that line holds).
fn source_line(text: &str, line: u64, column: u64) -> Option<String> {
    let l = text.lines().nth(line.checked_sub(1)? as usize)?;
    let count = l.chars().count();
    if count <= SNIPPET_CHARS {
        return Some(l.to_string());
    }
    let col = usize::try_from(column.saturating_sub(1))
        .unwrap_or(usize::MAX)
        .min(count);
    let start = col
        .saturating_sub(SNIPPET_CHARS / 4)
        .min(count - SNIPPET_CHARS);
    let window: String = l.chars().skip(start).take(SNIPPET_CHARS).collect();
    let before = if start > 0 { "…" } else { "" };
    let after = if start + SNIPPET_CHARS < count {
        "…"
    } else {
        ""
    };
    Some(format!("{before}{window}{after}"))
}

const SNIPPET_CHARS: usize = 200;

/// Parses YAML into a [`Config`] with precise errors (no semantic checks).
#[allow(clippy::result_large_err)] // a cold path, once per run; the fields are all shown
pub fn parse_str(text: &str, origin: &str) -> Result<Config, ConfigError> {
    parse_yaml(text, origin)
}

/// Parses any YAML document fcctl reads (fcctl.yaml, the model's `model.yaml`) into `T`, with
/// the same file:line:col errors, key paths and "did you mean" hints.
#[allow(clippy::result_large_err)] // a cold path, once per run; the fields are all shown
pub fn parse_yaml<T: serde::de::DeserializeOwned>(
    text: &str,
    origin: &str,
) -> Result<T, ConfigError> {
    serde_saphyr::from_str::<T>(text).map_err(|e| {
        let position = e.location().map(|l| (l.line(), l.column()));
        let raw = e.to_string();
        let message = first_line_of_message(&raw);
        let key_path = position.and_then(|(l, c)| outline::path_at(text, l, c));
        let hint = unknown_field_hint(&message).or_else(|| unknown_variant_hint(&message));
        ConfigError {
            origin: origin.into(),
            position,
            snippet: position.and_then(|(l, c)| source_line(text, l, c)),
            key_path,
            message,
            hint,
        }
    })
}

/// serde-saphyr renders a snippet after the message; keep only the message itself.
fn first_line_of_message(raw: &str) -> String {
    let first = raw.lines().next().unwrap_or(raw).trim();
    let first = first.strip_prefix("error: ").unwrap_or(first);
    // serde-saphyr prefixes "line N column M: "; we print file:line:col ourselves.
    let first = match first.strip_prefix("line ").and_then(|r| r.split_once(": ")) {
        Some((pos, rest)) if pos.contains("column") => rest,
        _ => first,
    };
    // Drop a trailing "at line X column Y" which we print as file:line:col already.
    match first.find(" at line ") {
        Some(i) => first[..i].to_string(),
        None => first.to_string(),
    }
}

/// Builds "did you mean" from serde's "unknown field `x`, expected one of `a`, `b`".
fn unknown_field_hint(msg: &str) -> Option<String> {
    let (bad, expected) = backticked_after(msg, "unknown field")?;
    let refs: Vec<&str> = expected.iter().map(String::as_str).collect();
    Some(match suggest(&bad, &refs) {
        Some(s) => format!("did you mean `{s}`? valid keys here: {}", refs.join(", ")),
        None => format!("valid keys here: {}", refs.join(", ")),
    })
}

fn unknown_variant_hint(msg: &str) -> Option<String> {
    let (bad, expected) = backticked_after(msg, "unknown variant")?;
    let refs: Vec<&str> = expected.iter().map(String::as_str).collect();
    Some(match suggest(&bad, &refs) {
        Some(s) => format!("did you mean `{s}`? allowed: {}", refs.join(", ")),
        None => format!("allowed: {}", refs.join(", ")),
    })
}

fn backticked_after(msg: &str, marker: &str) -> Option<(String, Vec<String>)> {
    let rest = &msg[msg.find(marker)? + marker.len()..];
    let bad = rest.split('`').nth(1)?.to_string();
    let expected = rest.split_once("expected ")?.1;
    let expected = expected.strip_prefix("one of ").unwrap_or(expected);
    let list = expected
        .split(", ")
        .flat_map(|p| p.split(" or "))
        .map(|p| p.trim().trim_matches('`').to_string())
        .filter(|p| !p.is_empty())
        .collect();
    Some((bad, list))
}

/// The closest candidate by edit distance, if close enough to be a typo.
pub fn suggest<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    candidates
        .iter()
        .map(|c| (strsim::damerau_levenshtein(word, c), *c))
        .filter(|(d, c)| *d <= 2.max(c.len() / 3))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// A tiny indentation-based outline of block YAML: enough to map line:column to a key path and back.
mod outline {
    /// `(indent, key, line)` for each `key:` line.
    fn keys(text: &str) -> Vec<(usize, String, u64, usize)> {
        let mut out = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let trimmed = line.trim_start();
            if trimmed.starts_with('#') || trimmed.is_empty() {
                continue;
            }
            let indent = line.len() - trimmed.len();
            let (indent, body) = match trimmed.strip_prefix("- ") {
                Some(b) => (indent + 2, b),
                None => (indent, trimmed),
            };
            if let Some(colon) = body.find(':') {
                let key = body[..colon].trim().trim_matches(['"', '\'']);
                if !key.is_empty() && !key.contains(' ') {
                    out.push((indent, key.to_string(), i as u64 + 1, colon));
                }
            }
        }
        out
    }

    /// The key path of the innermost key at or above `line`.
    pub fn path_at(text: &str, line: u64, col: u64) -> Option<String> {
        let ks = keys(text);
        let target_line = text.lines().nth(line.checked_sub(1)? as usize)?;
        let target_indent = target_line.len() - target_line.trim_start().len();
        let mut stack: Vec<(usize, &str)> = Vec::new();
        for (indent, key, l, _) in &ks {
            if *l > line {
                break;
            }
            while stack.last().is_some_and(|(i, _)| *i >= *indent) {
                stack.pop();
            }
            stack.push((*indent, key));
        }
        // An error on a value that sits on its own line (e.g. a list item) belongs to its parent key.
        let _ = (col, target_indent);
        (!stack.is_empty()).then(|| stack.iter().map(|(_, k)| *k).collect::<Vec<_>>().join("."))
    }

    /// Line and column of the key at dotted `path` (list indices ignored).
    pub fn locate(text: &str, path: &str) -> Option<(u64, u64)> {
        let wanted: Vec<&str> = path
            .split('.')
            .map(|p| p.split('[').next().unwrap_or(p))
            .collect();
        let mut stack: Vec<(usize, String)> = Vec::new();
        let mut best = None;
        for (indent, key, line, _) in keys(text) {
            while stack.last().is_some_and(|(i, _)| *i >= indent) {
                stack.pop();
            }
            stack.push((indent, key));
            let here: Vec<&str> = stack.iter().map(|(_, k)| k.as_str()).collect();
            if here == wanted {
                return Some((line, indent as u64 + 1));
            }
            if wanted.starts_with(&here) {
                best = Some((line, indent as u64 + 1));
            }
        }
        best
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::testing::err;

    #[test]
    fn unknown_key_has_position_path_and_suggestion() {
        let e = err("app: cat-dog\nfunction:\n  memroy_mb: 512\n");
        assert_eq!(e.position.map(|p| p.0), Some(3), "{e}");
        assert_eq!(e.key_path.as_deref(), Some("function.memroy_mb"), "{e}");
        assert!(
            e.hint
                .as_deref()
                .unwrap()
                .contains("did you mean `memory_mb`"),
            "{e}"
        );
    }

    #[test]
    fn top_level_typo() {
        let e = err("app: cat-dog\nregoin: cn-hangzhou\n");
        assert_eq!(e.position.map(|p| p.0), Some(2));
        assert!(e.hint.unwrap().contains("`region`"));
    }

    #[test]
    fn wrong_type() {
        let e = err("app: cat-dog\nfunction:\n  memory_mb: lots\n");
        assert_eq!(e.position.map(|p| p.0), Some(3), "{e}");
        assert_eq!(e.key_path.as_deref(), Some("function.memory_mb"));
    }

    #[test]
    fn bad_runtime_suggests() {
        let e = err("app: cat-dog\nfunction:\n  runtime: custom.debian13\n");
        assert_eq!(e.position.map(|p| p.0), Some(3), "{e}");
        assert!(
            e.hint.as_deref().unwrap_or("").contains("custom.debian1"),
            "{e}"
        );
    }

    #[test]
    fn missing_required_app() {
        let e = err("region: cn-hangzhou\n");
        assert!(e.message.contains("app"), "{e}");
        assert!(e.position.is_some(), "{e}");
    }

    #[test]
    fn invalid_yaml() {
        let e = err("app: cat-dog\nfunction:\n  memory_mb: [1024\n");
        assert!(e.position.is_some(), "{e}");
    }

    #[test]
    fn bad_auth_type_and_method() {
        let e = err("app: cat-dog\ntrigger:\n  auth_type: anonymus\n");
        assert!(e.hint.unwrap().contains("`anonymous`"));
        let e = err("app: cat-dog\ntrigger:\n  methods: [GET, PSOT]\n");
        assert!(e.hint.unwrap().contains("`POST`"));
    }

    #[test]
    fn layering_defaults_file_env_flags() {
        let text = "app: cat-dog\nregion: cn-hangzhou\nfunction:\n  memory_mb: 2048\n  cpu: 1.0\nendpoints:\n  vpc: http://127.0.0.1:2\n";
        let env = vec![
            ("FCCTL_REGION".to_string(), "cn-beijing".to_string()),
            ("FCCTL_FUNCTION__TIMEOUT_S".to_string(), "60".to_string()),
            (
                "FCCTL_FC_ENDPOINT".to_string(),
                "http://127.0.0.1:1".to_string(),
            ),
            ("FCCTL_UNRELATED_THING".to_string(), "x".to_string()),
            ("PATH".to_string(), "/bin".to_string()),
            (
                "FCCTL_NAS_ENDPOINT".to_string(),
                "http://127.0.0.1:3".to_string(),
            ),
        ];
        let loader = Loader {
            flag_overrides: vec![("region".into(), "cn-shanghai".into())],
        };
        let c = loader.load_str(text, "fcctl.yaml", env.clone()).unwrap();
        assert_eq!(c.region, "cn-shanghai", "flag beats env beats file");
        assert_eq!(c.function.timeout_s, 60, "env beats default");
        assert_eq!(c.function.memory_mb, 2048, "file beats default");
        assert_eq!(c.function.disk_mb, 512, "default stays");
        assert_eq!(c.fc_endpoint.as_deref(), Some("http://127.0.0.1:1"));
        assert_eq!(c.endpoints.nas.as_deref(), Some("http://127.0.0.1:3"));
        assert_eq!(c.endpoints.vpc.as_deref(), Some("http://127.0.0.1:2"));
        let c = Loader::default().load_str(text, "fcctl.yaml", env).unwrap();
        assert_eq!(c.region, "cn-beijing", "env beats file");
    }

    #[test]
    fn bad_env_override_names_the_variable() {
        let env = vec![("FCCTL_FUNCTION__MEMORY_MB".to_string(), "1000".to_string())];
        let e = Loader::default()
            .load_str("app: a\n", "fcctl.yaml", env)
            .unwrap_err();
        assert_eq!(e.origin, "FCCTL_FUNCTION__MEMORY_MB");
        let env = vec![("FCCTL_FUNCTION__MEMROY_MB".to_string(), "1024".to_string())];
        let e = Loader::default()
            .load_str("app: a\n", "fcctl.yaml", env)
            .unwrap_err();
        assert!(e.message.contains("did you mean `memory_mb`"), "{e}");
    }
}
