//! `fcctl deploy`.

use crate::cli::DeployArgs;
use crate::commands::Ctx;
use crate::exit::{ExitStatus, Refusal};
use crate::pipeline::deploy::*;

/// `fcctl deploy [--dry-run]`: exit 10 from a dry run that found changes.
pub async fn run(ctx: &Ctx, a: DeployArgs) -> anyhow::Result<()> {
    let cloud = ctx.cloud().await?;
    let r = execute(&ctx.project, &cloud, a.dry_run).await?;
    ctx.out.result(&r, || describe(&r));
    if a.dry_run && r.changed {
        return Err(Refusal::silent(ExitStatus::ChangesPending).into());
    }
    Ok(())
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
