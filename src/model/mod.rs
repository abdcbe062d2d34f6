//! Checks of the model the function will serve, before anything is uploaded: `model.yaml`
//! against the function's own manifest type (errors at file:line:col like fcctl.yaml's), its
//! sha256 against the ONNX file, its input name and shape against the ONNX graph, and
//! ([`trial`]) one load and inference by the built function itself.

pub mod onnx;
pub mod scaffold;
pub mod trial;

use std::path::{Component, Path, PathBuf};

use fcctl_function::manifest::{Layout, MANIFEST_FILE, Manifest};
use serde::Serialize;
use sha2::Digest as _;

use crate::config::{Config, ConfigError, error_at, parse_yaml};

/// The directory `MODEL_DIR` names inside a NAS release (`s_yaml::release_env`).
pub const MODEL_TREE_DIR: &str = "model";

/// A model.yaml is a page of settings.
const MAX_MANIFEST_BYTES: u64 = 1 << 20;
/// A single protobuf message cannot exceed 2 GiB; larger models keep external data.
const MAX_ONNX_BYTES: u64 = 2 << 30;

const HASH_HINT: &str = "run `fcctl model hash --write` to record the ONNX file's sha256 in \
                         model.yaml (or put back the ONNX file model.yaml was written for)";

/// model.yaml as read from the project, parsed and checked against its schema.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// The file in the project.
    pub path: PathBuf,
    /// How errors name it: relative to the working directory when under it.
    pub origin: String,
    pub text: String,
    pub manifest: Manifest,
    /// The ONNX file in the project.
    pub onnx: PathBuf,
}

/// What the checks found (`fcctl model check --json`; notes of `build` and `doctor`).
#[derive(Debug, Clone, Serialize)]
pub struct ModelReport {
    pub manifest: PathBuf,
    pub onnx: PathBuf,
    /// sha256 of the ONNX file.
    pub sha256: String,
    /// `matches` (model.yaml names it) or `computed` (model.yaml has none).
    pub sha256_status: &'static str,
    /// The input the function feeds.
    pub input: String,
    /// Its element type and shape, e.g. `float [1, 3, 224, 224]`.
    pub input_tensor: String,
    /// The trial load + inference, when it ran.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trial: Option<trial::TrialReport>,
}

/// Where the package tree's `rel` comes from in the project, following `build.files`.
pub fn tree_source(project: &Path, cfg: &Config, rel: &Path) -> Option<PathBuf> {
    // Without `.` parts, so `src: .` (a model project's own directory) names the project.
    let plain =
        |p: &Path| -> PathBuf { p.components().filter(|c| *c != Component::CurDir).collect() };
    cfg.build.files.iter().find_map(|m| {
        let rest = rel.strip_prefix(plain(&m.dst)).ok()?;
        let src = project.join(plain(&m.src));
        let src = if rest.as_os_str().is_empty() {
            src
        } else {
            src.join(rest)
        };
        src.exists().then_some(src)
    })
}

/// The project's model.yaml (the one that lands at `model/model.yaml` in the package tree),
/// `None` when the package has none.
pub fn manifest_path(project: &Path, cfg: &Config) -> Option<PathBuf> {
    tree_source(project, cfg, &Path::new(MODEL_TREE_DIR).join(MANIFEST_FILE))
}

/// A path as messages show it: relative to the working directory when under it.
pub fn origin_of(path: &Path) -> String {
    let shown = std::env::current_dir()
        .ok()
        .and_then(|cwd| path.strip_prefix(cwd).ok().map(Path::to_path_buf))
        .unwrap_or_else(|| path.to_path_buf());
    shown.display().to_string()
}

fn plain(origin: &str, message: String, hint: Option<String>) -> ConfigError {
    ConfigError {
        origin: origin.into(),
        position: None,
        key_path: None,
        message,
        hint,
        snippet: None,
    }
}

/// Reads and parses model.yaml at `path` and finds its ONNX file in the package tree.
#[allow(clippy::result_large_err)] // a cold path, once per run; the fields are all shown
pub fn load(project: &Path, cfg: &Config, path: &Path) -> Result<Loaded, ConfigError> {
    let origin = origin_of(path);
    let bytes =
        crate::fsutil::read_capped(path, MAX_MANIFEST_BYTES, "model.yaml").map_err(|e| {
            use crate::exit::Hint as _;
            plain(&origin, e.to_string(), e.hint().map(|h| h.into_owned()))
        })?;
    let text = String::from_utf8(bytes).map_err(|_| {
        plain(
            &origin,
            "not UTF-8 text".into(),
            Some("save it as UTF-8".into()),
        )
    })?;
    let manifest: Manifest = parse_yaml(&text, &origin).map_err(|e| missing_at_parent(&text, e))?;
    manifest
        .check()
        .map_err(|(key, message)| error_at(&text, &origin, &key, message, None))?;
    let rel = lexical(&Path::new(MODEL_TREE_DIR).join(&manifest.onnx));
    let onnx = rel
        .as_deref()
        .and_then(|rel| tree_source(project, cfg, rel))
        .filter(|p| p.is_file())
        .ok_or_else(|| {
            error_at(
                &text,
                &origin,
                "onnx",
                format!(
                    "`{}` is not in the package: no file {} next to model.yaml",
                    manifest.onnx, manifest.onnx
                ),
                Some("name the ONNX file beside model.yaml (a path relative to it)".into()),
            )
        })?;
    Ok(Loaded {
        path: path.to_path_buf(),
        origin,
        text,
        manifest,
        onnx,
    })
}

/// serde reports a missing field at the last key of the mapping that lacks it; point at that
/// mapping's own key instead, name the missing key, and say where it goes.
fn missing_at_parent(text: &str, mut e: ConfigError) -> ConfigError {
    let Some(field) = e
        .message
        .strip_prefix("missing field `")
        .and_then(|r| r.split('`').next())
        .map(str::to_string)
    else {
        return e;
    };
    let parent = e
        .key_path
        .as_deref()
        .and_then(|p| p.rsplit_once('.'))
        .map(|(parent, _)| parent.to_string());
    let first_key = || {
        text.lines()
            .position(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
            .map(|i| (i as u64 + 1, 1))
    };
    let (fixed, hint) = match &parent {
        Some(parent) => (
            error_at(
                text,
                &e.origin,
                &format!("{parent}.{field}"),
                e.message.clone(),
                None,
            ),
            format!("add `{field}:` under `{parent}:`"),
        ),
        None => {
            let position = first_key();
            let mut top = e.clone();
            top.key_path = Some(field.clone());
            top.position = position;
            top.snippet = None;
            (top, format!("add `{field}:` at the top level"))
        }
    };
    e = fixed;
    e.hint = Some(hint);
    e
}

/// `a/./b/../c` → `a/c`; `None` when it climbs out of the tree.
fn lexical(p: &Path) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    return None;
                }
            }
            Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    Some(out)
}

/// The ONNX file's bytes and their sha256 (hex).
#[allow(clippy::result_large_err)] // a cold path, once per run; the fields are all shown
pub fn read_onnx(loaded: &Loaded) -> Result<(Vec<u8>, String), ConfigError> {
    let origin = origin_of(&loaded.onnx);
    let bytes = crate::fsutil::read_capped(&loaded.onnx, MAX_ONNX_BYTES, "ONNX model")
        .map_err(|e| plain(&origin, e.to_string(), None))?;
    let sha = hex::encode(sha2::Sha256::digest(&bytes));
    Ok((bytes, sha))
}

/// Schema, sha256 and input checks of the project's model.yaml; `Ok(None)` when the package
/// has no `model/model.yaml` (a function other than fcctl's own may not need one).
#[allow(clippy::result_large_err)] // a cold path, once per run; the fields are all shown
pub fn check(project: &Path, cfg: &Config) -> Result<Option<ModelReport>, ConfigError> {
    let Some(path) = manifest_path(project, cfg) else {
        return Ok(None);
    };
    let loaded = load(project, cfg, &path)?;
    let (bytes, sha) = read_onnx(&loaded)?;
    let sha256_status = match &loaded.manifest.sha256 {
        Some(want) if want.trim().eq_ignore_ascii_case(&sha) => "matches",
        Some(want) => {
            return Err(error_at(
                &loaded.text,
                &loaded.origin,
                "sha256",
                format!(
                    "model.yaml expects sha256 {}, but {} has sha256 {sha}",
                    want.trim(),
                    origin_of(&loaded.onnx)
                ),
                Some(HASH_HINT.into()),
            ));
        }
        None => "computed",
    };
    let input = check_input(&loaded, &bytes)?;
    check_output(project, cfg, &loaded, &bytes)?;
    Ok(Some(ModelReport {
        manifest: loaded.path,
        onnx: loaded.onnx,
        sha256: sha,
        sha256_status,
        input: input.name.clone(),
        input_tensor: input.describe(),
        trial: None,
    }))
}

/// The manifest's input (by name, else the first) exists and has the declared layout and
/// size where the file fixes them.
#[allow(clippy::result_large_err)] // a cold path, once per run; the fields are all shown
fn check_input(loaded: &Loaded, bytes: &[u8]) -> Result<onnx::Input, ConfigError> {
    let onnx_name = origin_of(&loaded.onnx);
    let inputs = onnx::inputs(bytes).map_err(|e| {
        plain(
            &onnx_name,
            format!("not an ONNX model: {e}"),
            Some("name an ONNX file (`onnx:` in model.yaml)".into()),
        )
    })?;
    let listed = || {
        inputs
            .iter()
            .map(|i| format!("`{}` ({})", i.name, i.describe()))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let at = |key: &str, message: String, hint: Option<String>| {
        error_at(&loaded.text, &loaded.origin, key, message, hint)
    };
    let spec = &loaded.manifest.input;
    let input = match &spec.name {
        Some(name) => inputs.iter().find(|i| &i.name == name).ok_or_else(|| {
            let names: Vec<&str> = inputs.iter().map(|i| i.name.as_str()).collect();
            at(
                "input.name",
                format!(
                    "{onnx_name} has no input `{name}`; its inputs: {}",
                    listed()
                ),
                Some(
                    match crate::config::suggest(name, &names).or(names.first().copied()) {
                        Some(s) => format!("set `input.name: {s}` in model.yaml"),
                        None => "export the model with an image input".into(),
                    },
                ),
            )
        })?,
        None => inputs.first().ok_or_else(|| {
            at(
                "input",
                format!("{onnx_name} has no inputs to feed an image to"),
                None,
            )
        })?,
    };
    if input.elem_type != Some(onnx::FLOAT) {
        return Err(at(
            "input",
            format!(
                "input `{}` of {onnx_name} is {}; the function feeds float tensors",
                input.name,
                input.describe()
            ),
            Some("export the model with a float input (quantize inside the graph)".into()),
        ));
    }
    let Some(dims) = &input.shape else {
        return Ok(input.clone());
    };
    let (layout, [n, c, h, w]) = match (spec.layout, dims.as_slice()) {
        (Layout::Nchw, [n, c, h, w]) => ("NCHW", [n, c, h, w]),
        (Layout::Nhwc, [n, h, w, c]) => ("NHWC", [n, c, h, w]),
        _ => {
            return Err(at(
                "input.layout",
                format!(
                    "input `{}` of {onnx_name} is {}: not a 4-d image batch",
                    input.name,
                    input.describe()
                ),
                None,
            ));
        }
    };
    let fixed = |d: &onnx::Dim| match d {
        onnx::Dim::Fixed(v) => Some(*v),
        onnx::Dim::Free(_) => None,
    };
    let shape = format!(
        "input `{}` of {onnx_name} is {}",
        input.name,
        input.describe()
    );
    if let Some(v) = fixed(n).filter(|v| *v != 1) {
        return Err(at(
            "input",
            format!("{shape}: batch {v}, but the function sends one image at a time"),
            Some("export the model with batch 1 or a free batch dimension".into()),
        ));
    }
    if let Some(v) = fixed(c).filter(|v| *v != 3) {
        let other = if spec.layout == Layout::Nchw {
            "NHWC"
        } else {
            "NCHW"
        };
        return Err(at(
            "input.layout",
            format!("{shape}: {v} channels where {layout} puts the 3 RGB channels"),
            Some(format!(
                "if the model is {other}, set `input.layout: {other}`"
            )),
        ));
    }
    for (key, declared, d) in [
        ("input.height", spec.height, h),
        ("input.width", spec.width, w),
    ] {
        if let Some(v) = fixed(d).filter(|v| *v != i64::from(declared)) {
            let what = key.trim_start_matches("input.");
            return Err(at(
                key,
                format!("{declared}, but {shape} ({layout}: {what} {v})"),
                Some(format!("set `{key}: {v}`")),
            ));
        }
    }
    Ok(input.clone())
}

/// The labels and groups fit the model's first output: one label per class, every group's
/// classes inside it.
#[allow(clippy::result_large_err)] // a cold path, once per run; the fields are all shown
fn check_output(
    project: &Path,
    cfg: &Config,
    loaded: &Loaded,
    bytes: &[u8],
) -> Result<(), ConfigError> {
    let m = &loaded.manifest;
    let at = |key: &str, message: String, hint: Option<String>| {
        error_at(&loaded.text, &loaded.origin, key, message, hint)
    };
    // The key as the file spells it (`labels_file` and `classes_file` are one key).
    let spelled = |new: &str, old: &str| {
        let new_used = loaded
            .text
            .lines()
            .any(|l| l.trim_start().starts_with(&format!("{new}:")));
        format!("output.{}", if new_used { new } else { old })
    };
    let onnx_name = origin_of(&loaded.onnx);
    let outputs = onnx::outputs(bytes)
        .map_err(|e| plain(&onnx_name, format!("not an ONNX model: {e}"), None))?;
    let n = outputs.first().and_then(onnx::Input::class_count);
    let (labels, labels_key, labels_from) = match &m.output.classes_file {
        Some(f) => {
            let key = spelled("labels_file", "classes_file");
            let file = lexical(&Path::new(MODEL_TREE_DIR).join(f))
                .and_then(|rel| tree_source(project, cfg, &rel))
                .filter(|p| p.is_file())
                .ok_or_else(|| {
                    at(
                        &key,
                        format!("`{f}` is not in the package: no file {f} next to model.yaml"),
                        Some("name the labels file beside model.yaml, one label a line".into()),
                    )
                })?;
            let bytes = crate::fsutil::read_capped(&file, MAX_MANIFEST_BYTES * 16, "labels file")
                .map_err(|e| at(&key, e.to_string(), None))?;
            let labels = String::from_utf8_lossy(&bytes)
                .lines()
                .filter(|l| !l.trim().is_empty())
                .count();
            (
                Some(labels),
                key,
                format!("{} has {labels} labels", origin_of(&file)),
            )
        }
        None if !m.output.classes.is_empty() => {
            let c = m.output.classes.len();
            (
                Some(c),
                spelled("labels", "classes"),
                format!("{c} labels are listed"),
            )
        }
        None => (None, String::new(), String::new()),
    };
    if let (Some(labels), Some(n)) = (labels, n)
        && labels as u64 != n
    {
        return Err(at(
            &labels_key,
            format!(
                "{labels_from} (one a line), but output `{}` of {onnx_name} has {n} classes",
                outputs[0].name
            ),
            Some(format!(
                "list exactly {n} labels, one per class, in output order"
            )),
        ));
    }
    let limit = match (n, labels) {
        (Some(n), _) => Some((
            n,
            format!(
                "output `{}` of {onnx_name} has {n} classes",
                outputs[0].name
            ),
        )),
        (None, Some(l)) => Some((l as u64, labels_from)),
        (None, None) => None,
    };
    if let (Some((limit, why)), Some(groups)) = (limit, m.groups()) {
        for (name, g) in &groups {
            if let Some(i) = g
                .classes
                .iter()
                .map(|c| c.bounds().1)
                .find(|i| *i as u64 >= limit)
            {
                return Err(at(
                    &m.group_key(name, "classes"),
                    format!(
                        "group `{name}` names class {i}, but {why} (indices 0 to {})",
                        limit.saturating_sub(1)
                    ),
                    None,
                ));
            }
        }
    }
    Ok(())
}

/// model.yaml's text with its top-level `sha256:` value set to `sha` (added after `onnx:` when
/// absent); every other byte, comments included, stays as it was.
pub fn with_sha256(text: &str, sha: &str) -> Option<String> {
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let top = |l: &str, key: &str| {
        l.strip_prefix(key)
            .and_then(|r| r.strip_prefix(':'))
            .map(|r| r.is_empty() || r.starts_with([' ', '\t', '\r', '\n']))
            .unwrap_or(false)
    };
    let eol = |l: &str| {
        if l.ends_with("\r\n") {
            "\r\n"
        } else if l.ends_with('\n') {
            "\n"
        } else {
            ""
        }
    };
    let mut out = String::with_capacity(text.len() + 80);
    if let Some(i) = lines.iter().position(|l| top(l, "sha256")) {
        let l = lines[i];
        let rest = &l["sha256:".len()..l.len() - eol(l).len()];
        // Keep a trailing comment: `sha256: abc  # float model`.
        let comment = rest
            .find(" #")
            .or_else(|| rest.find("\t#"))
            .map(|at| &rest[rest[..=at].trim_end().len()..])
            .unwrap_or("");
        for (j, line) in lines.iter().enumerate() {
            if j == i {
                out.push_str(&format!("sha256: {sha}{comment}{}", eol(l)));
            } else {
                out.push_str(line);
            }
        }
        return Some(out);
    }
    let i = lines.iter().position(|l| top(l, "onnx"))?;
    for (j, line) in lines.iter().enumerate() {
        out.push_str(line);
        if j == i {
            let nl = match eol(line) {
                "" => {
                    out.push('\n');
                    "\n"
                }
                e => e,
            };
            out.push_str(&format!("sha256: {sha}{nl}"));
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha_line_is_replaced_keeping_comments_and_line_ends() {
        let t = "# head\nname: m\nonnx: a.onnx\nsha256: 00  # the int8 one\r\ninput: {}\n";
        assert_eq!(
            with_sha256(t, "ab").unwrap(),
            "# head\nname: m\nonnx: a.onnx\nsha256: ab  # the int8 one\r\ninput: {}\n"
        );
        // A commented-out or nested sha256 is not the manifest's.
        let t = "#sha256: 11\nonnx: a.onnx\nx:\n  sha256: 22\n";
        assert_eq!(
            with_sha256(t, "ab").unwrap(),
            "#sha256: 11\nonnx: a.onnx\nsha256: ab\nx:\n  sha256: 22\n"
        );
        assert_eq!(
            with_sha256("onnx: a.onnx", "ab").unwrap(),
            "onnx: a.onnx\nsha256: ab\n"
        );
        assert_eq!(with_sha256("name: m\n", "ab"), None);
    }

    #[test]
    fn lexical_paths_stay_in_the_tree() {
        assert_eq!(
            lexical(Path::new("model/./x/../a.onnx")),
            Some(PathBuf::from("model/a.onnx"))
        );
        assert_eq!(lexical(Path::new("model/../../etc/passwd")), None);
    }
}
