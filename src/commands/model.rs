//! `fcctl model check` and `fcctl model hash`.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use serde::Serialize;

use crate::cli::ModelCommand;
use crate::commands::Ctx;
use crate::config::Config;
use crate::exit::{ExitStatus, Refusal};

pub async fn run(ctx: &Ctx, c: ModelCommand) -> anyhow::Result<()> {
    let cfg = ctx.config()?;
    match c {
        ModelCommand::Hash { write } => hash(ctx, &cfg, write),
        ModelCommand::Check { no_trial, image } => check(ctx, cfg, no_trial, image).await,
    }
}

fn manifest_path(ctx: &Ctx, cfg: &Config) -> anyhow::Result<PathBuf> {
    crate::model::manifest_path(ctx.project.dir(), cfg).ok_or_else(|| {
        Refusal {
            status: ExitStatus::User,
            message: "the package has no model/model.yaml".into(),
            hint: Some(
                "map the model directory into the package in fcctl.yaml \
                 (`build.files: [{src: model, dst: model}]`)"
                    .into(),
            ),
        }
        .into()
    })
}

#[derive(Serialize)]
struct HashReport {
    manifest: PathBuf,
    onnx: PathBuf,
    sha256: String,
    /// What model.yaml said before (`null`: nothing).
    recorded: Option<String>,
    /// model.yaml was rewritten.
    written: bool,
}

fn hash(ctx: &Ctx, cfg: &Config, write: bool) -> anyhow::Result<()> {
    let project = ctx.project.dir();
    let path = manifest_path(ctx, cfg)?;
    let loaded = crate::model::load(project, cfg, &path)?;
    let (_, sha) = crate::model::read_onnx(&loaded)?;
    let recorded = loaded.manifest.sha256.clone();
    let current = recorded
        .as_deref()
        .is_some_and(|r| r.trim().eq_ignore_ascii_case(&sha));
    let mut written = false;
    if write && !current {
        let text = crate::model::with_sha256(&loaded.text, &sha).with_context(|| {
            format!(
                "{} has no top-level `onnx:` line to put `sha256:` after; add `sha256: {sha}` by hand",
                loaded.origin
            )
        })?;
        crate::fsutil::write_atomic(&path, text.as_bytes())
            .with_context(|| format!("writing {}", path.display()))?;
        // The rewritten file must still be a valid manifest naming this hash.
        let again = crate::model::load(project, cfg, &path)?;
        anyhow::ensure!(
            again.manifest.sha256.as_deref() == Some(sha.as_str()),
            "{} was rewritten but does not read back sha256 {sha}",
            loaded.origin
        );
        written = true;
    }
    let r = HashReport {
        manifest: path,
        onnx: loaded.onnx,
        sha256: sha,
        recorded,
        written,
    };
    ctx.out.result(&r, || {
        let state = match (&r.recorded, current, r.written) {
            (_, true, _) => "model.yaml already records it".to_string(),
            (_, _, true) => format!("written to {}", loaded.origin),
            (Some(old), _, _) => {
                format!("model.yaml records {old}; `fcctl model hash --write` replaces it")
            }
            (None, _, _) => "model.yaml records none; `fcctl model hash --write` adds it".into(),
        };
        format!("{}  {}\n  {state}", r.sha256, r.onnx.display())
    });
    Ok(())
}

async fn check(
    ctx: &Ctx,
    cfg: Config,
    no_trial: bool,
    image: Option<PathBuf>,
) -> anyhow::Result<()> {
    if let Some(i) = &image {
        anyhow::ensure!(i.is_file(), "--image {}: no such file", i.display());
    }
    let project = ctx.project.dir().to_path_buf();
    let work = ctx.project.work_dir();
    let report = tokio::task::spawn_blocking(move || -> anyhow::Result<_> {
        let Some(mut report) = crate::model::check(&project, &cfg)? else {
            return Err(no_manifest());
        };
        if !no_trial {
            let mut t = trial_from_last_build(&project, &cfg, &report.manifest, &work)?;
            if image.is_some() {
                t.image = image;
            }
            report.trial = Some(crate::model::trial::run(&t)?);
        }
        Ok(report)
    })
    .await
    .context("model check task panicked")??;
    ctx.out.result(&report, || {
        let mut s = crate::pipeline::build::model_note(&report);
        if let Some(t) = &report.trial {
            s.push('\n');
            s.push_str(&crate::pipeline::build::trial_note(t));
        }
        s
    });
    Ok(())
}

fn no_manifest() -> anyhow::Error {
    Refusal {
        status: ExitStatus::User,
        message: "the package has no model/model.yaml".into(),
        hint: Some("map the model directory into the package in fcctl.yaml (`build.files`)".into()),
    }
    .into()
}

/// The current model.yaml and ONNX file, run by the function and ONNX Runtime of the last
/// `fcctl build` (its `bootstrap` from code.zip, `lib/` of its NAS tree).
fn trial_from_last_build(
    project: &Path,
    cfg: &Config,
    manifest: &Path,
    work: &Path,
) -> anyhow::Result<crate::model::trial::Trial> {
    let not_built = |what: String| Refusal {
        status: ExitStatus::User,
        message: format!("the trial run needs the last build's {what}"),
        hint: Some(
            "run `fcctl build` first (it runs this check too), or `fcctl model check --no-trial`"
                .into(),
        ),
    };
    let ort_lib = work.join("nas").join("lib").join("libonnxruntime.so");
    if !ort_lib.is_file() {
        return Err(not_built(format!("ONNX Runtime ({})", ort_lib.display())).into());
    }
    let code_zip = work.join("code.zip");
    let binary = work.join("model-trial-bootstrap");
    let extracted = std::fs::File::open(&code_zip)
        .ok()
        .and_then(|f| zip::ZipArchive::new(f).ok())
        .and_then(|mut z| {
            let mut entry = z.by_name("bootstrap").ok()?;
            let mut out = std::fs::File::create(&binary).ok()?;
            std::io::copy(&mut entry, &mut out).ok()
        });
    if extracted.is_none() {
        return Err(not_built(format!(
            "function binary (bootstrap in {})",
            code_zip.display()
        ))
        .into());
    }
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&binary, std::fs::Permissions::from_mode(0o755))
            .with_context(|| format!("making {} executable", binary.display()))?;
    }
    let model_dir = manifest
        .parent()
        .context("model.yaml has no parent directory")?
        .to_path_buf();
    Ok(crate::pipeline::build::trial_for(
        project, cfg, &binary, model_dir, ort_lib, work,
    ))
}
