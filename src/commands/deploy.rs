//! `fcctl deploy`: plan, print the diff, then create-or-update function, trigger and domain.

use serde::Serialize;

use crate::cli::DeployArgs;
use crate::commands::connect::Cloud;
use crate::commands::{Ctx, Exit};
use crate::deploy::BuiltCode;
use crate::deploy::plan::{self, Plan};
use crate::state::State;

/// Result of a deploy.
#[derive(Debug, Serialize)]
pub struct DeployReport {
    /// Whether anything was (or, with --dry-run, would be) written.
    pub changed: bool,
    /// Applied (false for --dry-run).
    pub applied: bool,
    /// The plan.
    pub plan: Plan,
    /// Function name.
    pub function: String,
    /// NAS release pinned in the function's environment.
    pub release_id: String,
    /// Write calls made to the API.
    pub write_calls: u64,
}

/// Plans and (unless `dry_run`) applies.
pub async fn execute(ctx: &Ctx, cloud: &Cloud, dry_run: bool) -> anyhow::Result<DeployReport> {
    let built = BuiltCode::load(&ctx.work_dir())?;
    let state = State::load(&ctx.work_dir())?;
    let desired = plan::desired(
        &cloud.cfg,
        state.release_id.as_deref(),
        &built.code_zip_crc64,
        cloud.emulated,
    )?;
    let writes_before = cloud.fc.write_count();
    let current = plan::current(&cloud.fc, &desired).await?;
    let p = plan::plan(
        &desired,
        current.function.as_ref(),
        current.trigger.as_ref(),
        current.domain.as_ref(),
    );
    let changed = !p.is_noop();
    if changed && !dry_run {
        plan::apply(
            &cloud.fc,
            &cloud.oss,
            &cloud.cfg.oss_prefix(),
            &desired,
            &p,
            &current,
            std::path::Path::new(&built.code_zip),
        )
        .await?;
    }
    Ok(DeployReport {
        changed,
        applied: changed && !dry_run,
        plan: p,
        function: desired.function_name,
        release_id: state.release_id.unwrap_or_default(),
        write_calls: cloud.fc.write_count() - writes_before,
    })
}

/// Renders the plan as a diff.
pub fn describe(r: &DeployReport) -> String {
    if !r.changed {
        return format!(
            "{}: nothing to change (function, trigger and custom domain match; 0 write calls)",
            r.function
        );
    }
    let mut s = String::new();
    for c in &r.plan.changes {
        s.push_str(&format!(
            "  ~ {:<13} {:<34} {} → {}\n",
            c.resource,
            c.field,
            clip(&c.from),
            clip(&c.to)
        ));
    }
    let verb = if r.applied { "applied" } else { "would apply" };
    s.push_str(&format!(
        "{verb} {} change(s) to {} (release {}; {} write calls)",
        r.plan.changes.len(),
        r.function,
        r.release_id,
        r.write_calls
    ));
    s
}

fn clip(s: &str) -> String {
    if s.chars().count() > 60 {
        format!("{}…", s.chars().take(59).collect::<String>())
    } else {
        s.to_string()
    }
}

/// `fcctl deploy [--dry-run]`: exit 10 from a dry run that found changes.
pub async fn run(ctx: &Ctx, a: DeployArgs) -> anyhow::Result<()> {
    let cloud = ctx.cloud().await?;
    let r = execute(ctx, &cloud, a.dry_run).await?;
    ctx.out.result(&r, || describe(&r));
    if a.dry_run && r.changed {
        return Err(Exit {
            code: 10,
            message: String::new(),
        }
        .into());
    }
    Ok(())
}
