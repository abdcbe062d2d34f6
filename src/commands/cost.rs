//! `fcctl cost`: no cloud call; prices fcctl.yaml (with `FCCTL_*` overrides) offline.

use crate::cli::CostArgs;
use crate::commands::Ctx;

/// Prints the monthly estimate.
pub fn run(ctx: &Ctx, a: CostArgs) -> anyhow::Result<()> {
    let cfg = ctx.config()?;
    let load = match (a.rps, a.avg_ms) {
        (Some(rps), Some(avg_ms)) => Some(crate::cost::Load::new(rps, avg_ms)?),
        _ => None,
    };
    let e = crate::cost::of_config(&cfg, load)?;
    ctx.out.result(&e, || e.describe());
    Ok(())
}
