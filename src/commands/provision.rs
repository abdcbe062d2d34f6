//! `fcctl provision`.

use crate::commands::Ctx;
use crate::pipeline::provision::*;
use std::time::Duration;

use crate::cli::ProvisionArgs;

/// Prints the provision result.
pub async fn run(ctx: &Ctx, a: ProvisionArgs) -> anyhow::Result<()> {
    let cloud = ctx.cloud().await?;
    let alias = a
        .alias
        .clone()
        .unwrap_or_else(|| cloud.cfg.release.alias.clone());
    let schedules = if a.schedule.is_empty() {
        cloud.cfg.provision.schedules.clone()
    } else {
        a.schedule
            .iter()
            .map(|s| parse_schedule(s))
            .collect::<anyhow::Result<Vec<_>>>()?
    };
    let wait = a.wait.then(|| Duration::from_secs(a.timeout));
    let r = execute(
        &cloud,
        &ctx.out,
        &alias,
        a.instances,
        &schedules,
        wait,
        a.dry_run,
    )
    .await?;
    ctx.out.result(&r, || describe(&r));
    Ok(())
}

/// Human summary.
pub fn describe(r: &ProvisionReport) -> String {
    let verb = match (r.changed, r.dry_run) {
        (true, true) => "would set",
        (true, false) => "set",
        (false, _) => "already",
    };
    let mut s = format!(
        "provisioned instances on {}: {verb} target {}, current {}",
        r.alias, r.target, r.current
    );
    if let Some(e) = &r.current_error {
        s.push_str(&format!("\n  FC reports: {e}"));
    }
    if let Some(c) = &r.cost {
        s.push_str(&format!(
            "\n  cost now:    {}\n  cost target: {}\n  change:      {}{:.2} {} a month ({})",
            c.current.summary(),
            c.target.summary(),
            if c.change >= 0.0 { "+" } else { "-" },
            c.change.abs(),
            c.target.currency,
            c.target.provenance()
        ));
    }
    s
}
