//! `fcctl init`: write a commented fcctl.yaml from templates/, and with `--model` a model.yaml
//! read off the user's own ONNX classifier.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use serde::Serialize;

use crate::cli::InitArgs;
use crate::commands::Ctx;
use crate::fsutil::write_atomic;
use crate::model::scaffold;

const TEMPLATE: &str = include_str!("../../templates/fcctl.yaml");

/// The template's mapping of the repository's `model/` directory.
const TEMPLATE_FILES: &str = "  files:
    - src: model              # copied into the package tree, then split by nas rules
      dst: model
";

/// A model project is its own model directory: everything here but what fcctl and tools
/// write, and what is not the model, goes to `model/` on NAS.
const MODEL_PROJECT_FILES: &str = "  files:
    - src: .                  # this directory is the model directory (model.yaml, the model)
      dst: model
      exclude: [fcctl.yaml, s.yaml, 'target/**', '.*', '**/*.md', '**/*.py', '**/*.sh', '**/*.ipynb']
";

#[derive(Serialize)]
struct Report {
    path: String,
    app: String,
    overwritten: bool,
    /// Whether `fcctl build` can compile and package here without prebuilt binaries.
    buildable: bool,
    /// With `--model`: the model.yaml written and what was read from the ONNX file.
    #[serde(skip_serializing_if = "Option::is_none")]
    model: Option<ModelReport>,
    /// What to do next.
    next: String,
}

#[derive(Serialize)]
struct ModelReport {
    manifest: String,
    labels: String,
    /// Files copied into the project directory.
    copied: Vec<String>,
    #[serde(flatten)]
    described: scaffold::Described,
}

/// Writes the starter file(s); refuses to overwrite without `--force`.
pub fn run(ctx: &Ctx, a: InitArgs) -> anyhow::Result<()> {
    let path = &ctx.global.config;
    let dir = ctx.project.dir().to_path_buf();
    let exists = path.exists();
    if exists && !a.force {
        anyhow::bail!(
            "{} already exists; not overwriting it. Use `fcctl init --force` to replace it",
            path.display()
        );
    }
    let (app, model) = match &a.model {
        Some(file) => {
            let m = model_project(&dir, file, a.labels.as_deref(), a.force)?;
            let app = a.app.clone().unwrap_or_else(|| app_name(&m.described.name));
            (app, Some(m))
        }
        None => (a.app.clone().unwrap_or_else(|| "cat-dog".into()), None),
    };
    let mut text = TEMPLATE.replacen("app: cat-dog ", &format!("app: {app} "), 1);
    if model.is_some() {
        anyhow::ensure!(
            text.contains(TEMPLATE_FILES),
            "templates/fcctl.yaml lost its build.files block"
        );
        text = text.replacen(TEMPLATE_FILES, MODEL_PROJECT_FILES, 1);
    }
    // Refuse to write a file that would not load: the app name is the only input.
    let cfg = crate::config::Loader::default()
        .load_str(&text, &path.display().to_string(), Vec::new())
        .map_err(anyhow::Error::new)
        .with_context(|| format!("the app name `{app}` is not valid; pass another with --app"))?;
    if let Some(m) = &model {
        write_atomic(&dir.join(&m.manifest), m.text.as_bytes())?;
    }
    write_atomic(path, text.as_bytes())?;
    let missing = crate::package::sources::missing(&dir, &cfg);
    let next = if missing.is_empty() {
        let check = if model.is_some() {
            "check the preprocessing defaults in model.yaml, "
        } else {
            ""
        };
        format!("Next: {check}`fcctl doctor`, then `fcctl up --local`.")
    } else {
        let mut s = String::from("Before `fcctl up` can build here:\n");
        for m in &missing {
            s.push_str(&format!("  ✗ {}\n    fix: {}\n", m.problem, m.fix));
        }
        s.push_str("`fcctl doctor` checks this again.");
        s
    };
    let report = Report {
        path: path.display().to_string(),
        app,
        overwritten: exists,
        buildable: missing.is_empty(),
        model: model.map(|m| ModelReport {
            manifest: dir.join(&m.manifest).display().to_string(),
            labels: m.labels,
            copied: m.copied,
            described: m.described,
        }),
        next,
    };
    ctx.out.result(&report, || {
        let mut s = String::new();
        if let Some(m) = &report.model {
            for c in &m.copied {
                s.push_str(&format!("copied {c} into {}\n", dir.display()));
            }
            let d = &m.described;
            s.push_str(&format!(
                "wrote {} for {}: input `{}` {} ({}, {}×{}{}), {} classes from {}, activation {}, sha256 {}…\n",
                m.manifest,
                d.name,
                d.input,
                d.input_tensor,
                d.layout,
                d.width,
                d.height,
                if d.size_defaulted { ", size defaulted" } else { "" },
                d.classes,
                m.labels,
                d.activation,
                &d.sha256[..12],
            ));
        }
        s.push_str(&format!(
            "wrote {} (app `{}`). {}",
            report.path, report.app, report.next
        ));
        s
    });
    Ok(())
}

/// model.yaml for `file` in `dir`, not yet written.
struct ModelProject {
    /// `model.yaml`, relative to `dir`.
    manifest: PathBuf,
    text: String,
    labels: String,
    copied: Vec<String>,
    described: scaffold::Described,
}

fn model_project(
    dir: &Path,
    file: &Path,
    labels: Option<&Path>,
    force: bool,
) -> anyhow::Result<ModelProject> {
    let manifest = PathBuf::from(fcctl_function::manifest::MANIFEST_FILE);
    if dir.join(&manifest).exists() && !force {
        anyhow::bail!(
            "{} already exists; not overwriting it. Use `fcctl init --model … --force` to replace it",
            dir.join(&manifest).display()
        );
    }
    // Everything is read and checked where it is; only a model that fits is copied in.
    let onnx = file_name(file).context("the model (--model)")?;
    let bytes = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
    let here_labels = dir.join("labels.txt");
    let (labels_src, labels_name) = match labels {
        Some(l) => (
            Some(l.to_path_buf()),
            file_name(l).context("the labels (--labels)")?,
        ),
        None if here_labels.is_file() => (Some(here_labels), "labels.txt".to_string()),
        None => (None, "labels.txt".to_string()),
    };
    let list = match &labels_src {
        Some(l) => {
            let text = std::fs::read_to_string(l)
                .with_context(|| format!("reading {} as text", l.display()))?;
            Some(scaffold::parse_labels(&text))
        }
        None => None,
    };
    let described = scaffold::describe(
        &onnx,
        &bytes,
        list.as_ref().map(|l| (labels_name.as_str(), l.as_slice())),
    )?;
    let mut copied = Vec::new();
    bring_in(dir, file, &mut copied).context("the model (--model)")?;
    match &labels_src {
        Some(l) => bring_in(dir, l, &mut copied).context("the labels (--labels)")?,
        None => {
            // Numbered names keep the model servable; the user replaces them with real ones.
            let names: String = (0..described.classes)
                .map(|i| format!("class_{i}\n"))
                .collect();
            write_atomic(&dir.join(&labels_name), names.as_bytes())?;
        }
    }
    let text = scaffold::manifest(&described, &onnx, &labels_name);
    Ok(ModelProject {
        manifest,
        text,
        labels: labels_name,
        copied,
        described,
    })
}

/// `file`'s name, after checking it is a readable file.
fn file_name(file: &Path) -> anyhow::Result<String> {
    let meta =
        std::fs::metadata(file).with_context(|| format!("{} is not readable", file.display()))?;
    anyhow::ensure!(meta.is_file(), "{} is not a file", file.display());
    Ok(file
        .file_name()
        .and_then(|n| n.to_str())
        .with_context(|| format!("{} has no UTF-8 file name", file.display()))?
        .to_string())
}

/// Copies `file` into `dir` when it lives elsewhere (the project directory is what ships, so
/// the model must be in it).
fn bring_in(dir: &Path, file: &Path, copied: &mut Vec<String>) -> anyhow::Result<()> {
    let name = file_name(file)?;
    let inside = file
        .canonicalize()
        .ok()
        .and_then(|f| f.parent().map(Path::to_path_buf))
        .zip(dir.canonicalize().ok())
        .is_some_and(|(parent, dir)| parent == dir);
    if !inside {
        let dest = dir.join(&name);
        anyhow::ensure!(
            !dest.exists(),
            "{} already exists here and is not {}; rename one of them",
            dest.display(),
            file.display()
        );
        std::fs::copy(file, &dest)
            .with_context(|| format!("copying {} to {}", file.display(), dest.display()))?;
        copied.push(name);
    }
    Ok(())
}

/// An app name from a model name: lower case, runs of anything but letters and digits as one
/// `-` (app names become function names and OSS prefixes).
fn app_name(model: &str) -> String {
    let mut out = String::new();
    for c in model.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    let out = out.trim_matches('-');
    let out = if out.starts_with(|c: char| c.is_ascii_alphabetic()) {
        out.to_string()
    } else {
        format!("m-{out}")
    };
    out.chars()
        .take(40)
        .collect::<String>()
        .trim_end_matches('-')
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_template_still_has_the_block_a_model_project_replaces() {
        assert!(TEMPLATE.contains(TEMPLATE_FILES));
    }

    #[test]
    fn app_names_from_model_file_names() {
        assert_eq!(app_name("colour"), "colour");
        assert_eq!(
            app_name("EfficientNet_Lite0.int8"),
            "efficientnet-lite0-int8"
        );
        assert_eq!(app_name("2024 model"), "m-2024-model");
    }
}
