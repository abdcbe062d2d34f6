//! `fcctl init`: write a commented fcctl.yaml from templates/.

use anyhow::Context as _;
use serde::Serialize;

use crate::cli::InitArgs;
use crate::commands::Ctx;
use crate::fsutil::write_atomic;

const TEMPLATE: &str = include_str!("../../templates/fcctl.yaml");

#[derive(Serialize)]
struct Report {
    path: String,
    app: String,
    overwritten: bool,
    /// Whether `fcctl build` can compile and package here without prebuilt binaries.
    buildable: bool,
    /// What to do next.
    next: String,
}

/// Writes the starter file; refuses to overwrite without `--force`.
pub fn run(ctx: &Ctx, a: InitArgs) -> anyhow::Result<()> {
    let path = &ctx.global.config;
    let exists = path.exists();
    if exists && !a.force {
        anyhow::bail!(
            "{} already exists; not overwriting it. Use `fcctl init --force` to replace it",
            path.display()
        );
    }
    let text = TEMPLATE.replacen("app: cat-dog ", &format!("app: {} ", a.app), 1);
    // Refuse to write a file that would not load: the app name is the only input.
    let cfg = crate::config::Loader::default()
        .load_str(&text, &path.display().to_string(), Vec::new())
        .map_err(anyhow::Error::new)
        .context("the requested app name is not valid")?;
    write_atomic(path, text.as_bytes())?;
    let missing = crate::package::sources::missing(ctx.project.dir(), &cfg);
    let next = if missing.is_empty() {
        "Next: `fcctl doctor`, then `fcctl up --local`.".to_string()
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
        app: a.app,
        overwritten: exists,
        buildable: missing.is_empty(),
        next,
    };
    ctx.out.result(&report, || {
        format!(
            "wrote {} (app `{}`). {}",
            report.path, report.app, report.next
        )
    });
    Ok(())
}
