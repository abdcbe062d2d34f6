//! `fcctl deploy`: plan, print the diff, then create-or-update function, trigger and domain.

use serde::Serialize;

use crate::cloud::Cloud;
use crate::deploy::BuiltCode;
use crate::deploy::plan::{self, Plan};
use crate::project::Project;
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
pub async fn execute(
    project: &Project,
    cloud: &Cloud,
    dry_run: bool,
) -> anyhow::Result<DeployReport> {
    let built = BuiltCode::load(&project.work_dir())?;
    let state = State::load(&project.work_dir())?;
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
