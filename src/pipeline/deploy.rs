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
    /// A dry run: nothing was written.
    pub dry_run: bool,
    /// With --dry-run: the build the plan is based on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub build: Option<crate::pipeline::freshness::BuildBasis>,
    /// The plan.
    pub plan: Plan,
    /// Function name.
    pub function: String,
    /// NAS release pinned in the function's environment.
    pub release_id: String,
    /// Write calls made to the API.
    pub write_calls: u64,
    /// `auto` infrastructure (set by the caller that resolved it): found, created, or with
    /// --dry-run to be created.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub infra: Option<crate::infra::Resolution>,
    /// How to add a domain of one's own (`custom_domain.name: auto` on the cloud).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub domain_advice: Option<String>,
    /// With --dry-run: the monthly cost of the provisioned instances fcctl.yaml configures
    /// (set by the caller).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cost: Option<crate::cost::Estimate>,
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
        cloud.local.is_some(),
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
        dry_run,
        build: dry_run.then(|| crate::pipeline::freshness::build_basis(project, &cloud.cfg)),
        plan: p,
        function: desired.function_name,
        release_id: state.release_id.unwrap_or_default(),
        write_calls: cloud.fc.write_count() - writes_before,
        infra: None,
        domain_advice: plan::domain_advice(&cloud.cfg, cloud.local.is_some(), &cloud.account_id),
        cost: None,
    })
}

/// Infra lines (`  + vpc (new)`, `  + vpc vpc-123`) before the function's diff.
pub fn infra_lines(r: &crate::infra::Resolution) -> Vec<String> {
    r.would_create
        .iter()
        .chain(&r.created)
        .map(|c| format!("  + {} {}", c.kind, c.id))
        .collect()
}

/// The plan as diff lines (`  ~ function memorySize 1024 → 2048`), as `deploy` and `up` print
/// it.
pub fn change_lines(p: &Plan) -> Vec<String> {
    p.changes
        .iter()
        .map(|c| {
            format!(
                "  ~ {:<13} {:<34} {} → {}",
                c.resource,
                c.field,
                clip(&c.from),
                clip(&c.to)
            )
        })
        .collect()
}

fn clip(s: &str) -> String {
    if s.chars().count() > 60 {
        format!("{}…", s.chars().take(59).collect::<String>())
    } else {
        s.to_string()
    }
}
