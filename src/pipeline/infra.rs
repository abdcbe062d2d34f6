//! The infra step: resolves `auto` VPC/NAS settings (find by tag, else create and wait) and
//! rewrites the connection's config with the ids, so every later step (nas-agent, function)
//! is configured exactly as with explicit ids. Runs first in `nas-sync`, `deploy` and `up`;
//! a dry run only finds, and plans what it would create.

use anyhow::Context as _;

use crate::cloud::Cloud;
use crate::infra::{self, Apis, Mode, Resolution};
use crate::printer::Printer;
use crate::project::Project;
use crate::state::State;

/// The resolver's view of the connection's clients.
pub fn apis(cloud: &Cloud) -> Apis<'_> {
    Apis {
        fc: &cloud.fc,
        vpc: cloud.infra.vpc.as_ref(),
        ecs: cloud.infra.ecs.as_ref(),
        nas: cloud.infra.nas.as_ref(),
        ram: cloud.infra.ram.as_ref(),
        sls: cloud.infra.sls.as_ref(),
        account_id: &cloud.account_id,
    }
}

/// Resolves and applies; records the ids in `state.json` (not for a dry run).
pub async fn ensure(
    project: &Project,
    cloud: &mut Cloud,
    printer: &Printer,
    dry_run: bool,
) -> anyhow::Result<Resolution> {
    let mode = if dry_run { Mode::Find } else { Mode::Ensure };
    let note = |line: String| printer.note(format!("  {line}"));
    let mut r = infra::resolve(&cloud.cfg, apis(cloud), mode, &note)
        .await
        .context("resolving `auto` infrastructure")?;
    r.ids.bucket = Some(cloud.oss.bucket().to_string());
    let wanted = infra::wanted(&cloud.cfg);
    cloud.cfg = infra::apply(&cloud.cfg, &r.ids);
    if !dry_run && wanted {
        let work = project.work_dir();
        let mut state = State::load(&work)?;
        if state.infra.as_ref() != Some(&r.ids) {
            state.infra = Some(r.ids.clone());
            state.save(&work)?;
        }
    }
    Ok(r)
}

/// Finds only (for `status`): the ids of what exists, nothing written, the config untouched.
pub async fn find(cloud: &Cloud) -> anyhow::Result<Resolution> {
    let mut r = infra::resolve(&cloud.cfg, apis(cloud), Mode::Find, &|_| {})
        .await
        .context("looking up `auto` infrastructure")?;
    r.ids.bucket = Some(cloud.oss.bucket().to_string());
    Ok(r)
}
