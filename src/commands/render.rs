//! `fcctl render`: write s.yaml for Serverless Devs equivalent to what fcctl deploys.

use serde::Serialize;

use crate::cli::RenderArgs;
use crate::commands::Ctx;
use crate::fsutil::write_atomic;
use crate::s_yaml;

#[derive(Serialize)]
struct Report {
    path: String,
    release_id: Option<String>,
    written: bool,
}

/// Renders from fcctl.yaml and the current NAS release (if any).
pub fn run(ctx: &Ctx, a: RenderArgs) -> anyhow::Result<()> {
    let cfg = ctx.config()?;
    let release = crate::state::State::load(&ctx.project.work_dir())?.release_id;
    if release.is_none() {
        ctx.out.note(
            "note: no NAS release yet, so MODEL_DIR points at a placeholder; run `fcctl nas-sync` and render again",
        );
    }
    let text = s_yaml::to_yaml(&s_yaml::render(
        &cfg,
        release.as_deref(),
        "./target/fcctl/code.zip",
    ));
    let to_stdout = a.output.as_os_str() == "-";
    if to_stdout || a.dry_run {
        crate::printer::write_stdout(text.as_bytes());
        return Ok(());
    }
    let path = if a.output.is_relative() {
        ctx.project.dir().join(&a.output)
    } else {
        a.output.clone()
    };
    write_atomic(&path, text.as_bytes())?;
    let report = Report {
        path: path.display().to_string(),
        release_id: release,
        written: true,
    };
    ctx.out.result(&report, || format!("wrote {}", report.path));
    Ok(())
}
