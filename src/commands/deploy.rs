//! `fcctl deploy`.

use crate::cli::DeployArgs;
use crate::commands::Ctx;
use crate::exit::{ExitStatus, Refusal};
use crate::pipeline::deploy::*;

/// `fcctl deploy [--dry-run]`: exit 10 from a dry run that found changes.
pub async fn run(ctx: &Ctx, a: DeployArgs) -> anyhow::Result<()> {
    let mut cloud = ctx.cloud().await?;
    let infra =
        crate::pipeline::infra::ensure(&ctx.project, &mut cloud, &ctx.out, a.dry_run).await?;
    let mut r = execute(&ctx.project, &cloud, a.dry_run).await?;
    r.changed |= !infra.would_create.is_empty();
    r.infra = Some(infra);
    if a.dry_run {
        r.cost = Some(crate::cost::of_config(&cloud.cfg, None)?);
    }
    ctx.out.result(&r, || describe(&r));
    if a.dry_run && r.changed {
        return Err(Refusal::silent(ExitStatus::ChangesPending).into());
    }
    Ok(())
}

/// Renders the plan as a diff.
pub fn describe(r: &DeployReport) -> String {
    let basis = r
        .build
        .as_ref()
        .and_then(|b| b.warning())
        .map(|w| format!("{w}\n"))
        .unwrap_or_default();
    let infra: String = r
        .infra
        .as_ref()
        .map(infra_lines)
        .unwrap_or_default()
        .iter()
        .map(|l| format!("{l}\n"))
        .collect();
    let basis = format!("{basis}{infra}");
    let cost = r
        .cost
        .as_ref()
        .map(|c| format!("\ncost: {}; {}", c.summary(), c.provenance()))
        .unwrap_or_default();
    let advice = r
        .domain_advice
        .as_ref()
        .map(|a| format!("\n{a}"))
        .unwrap_or_default()
        + &cost;
    if !r.changed {
        return format!(
            "{basis}{}: nothing to change (function, trigger and custom domain match; 0 write calls){advice}",
            r.function
        );
    }
    let mut s = basis;
    for line in change_lines(&r.plan) {
        s.push_str(&line);
        s.push('\n');
    }
    let verb = if r.applied {
        "applied"
    } else if r.dry_run {
        "would apply"
    } else {
        "did not apply"
    };
    s.push_str(&format!(
        "{verb} {} change(s) to {} (release {}; {} write calls)",
        r.plan.changes.len(),
        r.function,
        r.release_id,
        r.write_calls
    ));
    s.push_str(&advice);
    s
}
