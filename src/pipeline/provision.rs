//! `fcctl provision`: provisioned instances on an alias, with `--wait` progress.

use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use serde::Serialize;

use crate::aliyun::fc_models::{PutProvisionConfigInput, ScheduledAction};
use crate::cloud::Cloud;
use crate::config::Schedule;
use crate::printer::Printer;

/// Result of a provision change.
#[derive(Debug, Serialize)]
pub struct ProvisionReport {
    /// Alias provisioned.
    pub alias: String,
    /// The instances asked for (`defaultTarget`).
    pub default_target: i64,
    /// The instances FC aims at now: `defaultTarget`, or what an active scheduled action or
    /// tracking policy made of it. `current` converges to this.
    pub target: i64,
    /// Ready instances (after waiting, if asked).
    pub current: i64,
    /// Whether the config was written.
    pub changed: bool,
    /// A dry run: nothing was written (`changed` says whether something would be).
    pub dry_run: bool,
    /// FC's explanation when instances fail to start.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current_error: Option<String>,
    /// With --dry-run: what the ready instances cost a month, and what the target will.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cost: Option<ProvisionCost>,
}

/// Monthly cost of the provisioned instances now and after the change (no load: see
/// `fcctl cost --rps`).
#[derive(Debug, Serialize)]
pub struct ProvisionCost {
    /// The `current` ready instances held all month, in the idle mode FC reports.
    pub current: crate::cost::Estimate,
    /// The instances and schedules asked for, in `provision.always_allocate_cpu`'s mode.
    pub target: crate::cost::Estimate,
    /// `target.total - current.total`.
    pub change: f64,
}

/// Prices the change; both sides are sized as fcctl.yaml's function.
fn provision_cost(
    cloud: &Cloud,
    existing: Option<&crate::aliyun::fc_models::ProvisionConfig>,
    instances: u32,
    schedules: &[Schedule],
) -> anyhow::Result<ProvisionCost> {
    use crate::cost::{Held, Provisioned, Sizing, estimate, prices, schedule};
    let cfg = &cloud.cfg;
    let prices = prices::resolve(&cfg.pricing);
    let sizing = Sizing::of(cfg);
    let now = existing.and_then(|p| p.current).unwrap_or(0).max(0) as u32;
    let current = estimate(
        sizing,
        Provisioned {
            held: Held::flat(now),
            idle_mode: !existing.and_then(|p| p.always_allocate_cpu).unwrap_or(true),
        },
        None,
        &prices,
    );
    let target = estimate(
        sizing,
        Provisioned {
            held: schedule::held(instances, schedules)?,
            idle_mode: !cfg.provision.always_allocate_cpu,
        },
        None,
        &prices,
    );
    Ok(ProvisionCost {
        change: target.total - current.total,
        current,
        target,
    })
}

/// Parses `cron=cron(0 0 8 * * *),target=20[,name=x][,tz=Asia/Shanghai]`.
pub fn parse_schedule(s: &str) -> anyhow::Result<Schedule> {
    // The cron expression itself contains commas, so split on known keys instead.
    let mut cron = None;
    let mut target = None;
    let mut name = None;
    let mut tz = None;
    let mut rest = s;
    while !rest.is_empty() {
        let (key, after) = rest
            .split_once('=')
            .with_context(|| format!("--schedule: expected key=value in `{rest}`"))?;
        let next = ["cron=", "target=", "name=", "tz="]
            .iter()
            .filter_map(|k| after.find(&format!(",{k}")))
            .min()
            .unwrap_or(after.len());
        let value = &after[..next];
        rest = after[next..].trim_start_matches(',');
        match key.trim() {
            "cron" => cron = Some(value.to_string()),
            "target" => {
                target = Some(
                    value
                        .parse::<u32>()
                        .with_context(|| format!("--schedule: target `{value}` is not a number"))?,
                )
            }
            "name" => name = Some(value.to_string()),
            "tz" => tz = Some(value.to_string()),
            other => bail!("--schedule: unknown key `{other}` (use cron, target, name, tz)"),
        }
    }
    let cron = cron.context("--schedule needs cron=cron(…) or cron=at(…)")?;
    if !(cron.starts_with("cron(") || cron.starts_with("at(")) || !cron.ends_with(')') {
        bail!(
            "--schedule: `{cron}` is not an FC schedule expression; write cron(0 0 8 * * *) (seconds first)"
        );
    }
    Ok(Schedule {
        name: name.unwrap_or_else(|| format!("fcctl-{}", cron.len())),
        cron,
        target: target.context("--schedule needs target=N")?,
        timezone: tz,
    })
}

/// Puts the provision config (skipped when equal) and optionally waits until `current` reaches
/// the target FC computes. Compares `defaultTarget`, the value put: `target` moves with the
/// scheduled actions, and comparing it made every run inside a schedule window a PUT.
pub async fn execute(
    cloud: &Cloud,
    printer: &Printer,
    alias: &str,
    instances: u32,
    schedules: &[Schedule],
    wait: Option<Duration>,
    dry_run: bool,
) -> anyhow::Result<ProvisionReport> {
    let name = cloud.cfg.function_name();
    if instances > 0 {
        check_alias_holds_instances(cloud, alias).await?;
    }
    let actions: Vec<ScheduledAction> = schedules
        .iter()
        .map(|s| ScheduledAction {
            name: Some(s.name.clone()),
            schedule_expression: Some(s.cron.clone()),
            target: Some(s.target as i64),
            time_zone: s.timezone.clone(),
            ..Default::default()
        })
        .collect();
    let existing = match cloud.fc.get_provision_config(name, alias).await {
        Ok(p) => Some(p),
        Err(e) if e.is_not_found() => None,
        Err(e) => return Err(e.into()),
    };
    let always = cloud.cfg.provision.always_allocate_cpu;
    let same = match &existing {
        Some(p) => {
            p.default_target.or(p.target).unwrap_or(0) == instances as i64
                && p.scheduled_actions.clone().unwrap_or_default().len() == actions.len()
                && p.scheduled_actions
                    .clone()
                    .unwrap_or_default()
                    .iter()
                    .zip(&actions)
                    .all(|(a, b)| {
                        a.name == b.name
                            && a.schedule_expression == b.schedule_expression
                            && a.target == b.target
                    })
        }
        None => instances == 0 && actions.is_empty(),
    };
    if !same && !dry_run {
        cloud
            .fc
            .put_provision_config(
                name,
                alias,
                &PutProvisionConfigInput {
                    default_target: Some(instances as i64),
                    // The SDK model marks `target` required (`_put_provision_config_input.py`);
                    // FC keeps `defaultTarget` as the base the schedules move away from.
                    target: Some(instances as i64),
                    always_allocate_cpu: Some(always),
                    scheduled_actions: Some(actions),
                    ..Default::default()
                },
            )
            .await?;
    }
    let mut report = ProvisionReport {
        alias: alias.into(),
        default_target: instances as i64,
        target: existing
            .as_ref()
            .filter(|_| same)
            .and_then(|p| p.target)
            .unwrap_or(instances as i64),
        current: existing.as_ref().and_then(|p| p.current).unwrap_or(0),
        changed: !same,
        dry_run,
        current_error: None,
        cost: None,
    };
    if dry_run {
        report.cost = Some(provision_cost(
            cloud,
            existing.as_ref(),
            instances,
            schedules,
        )?);
    }
    if let (Some(limit), false) = (wait, dry_run) {
        wait_for_instances(cloud, printer, alias, instances, limit, &mut report).await?;
    }
    Ok(report)
}

/// Provisioned instances belong to an alias that exists and serves one version.
async fn check_alias_holds_instances(cloud: &Cloud, alias: &str) -> anyhow::Result<()> {
    let name = cloud.cfg.function_name();
    match cloud.fc.get_alias(name, alias).await {
        Ok(a)
            if !a
                .additional_version_weight
                .clone()
                .unwrap_or_default()
                .is_empty() =>
        {
            bail!(
                "alias {alias} splits traffic between versions ({:?}); FC cannot keep provisioned \
             instances on a weighted alias — finish the canary first (`fcctl alias {alias} \
             --version V` without --canary), or provision another alias",
                a.additional_version_weight.unwrap_or_default()
            )
        }
        Ok(_) => {}
        Err(e) if e.is_not_found() => bail!(
            "alias {alias} does not exist yet; create it with `fcctl alias {alias} --version V` \
             (provisioned instances belong to an alias, not to LATEST)"
        ),
        Err(e) => return Err(e.into()),
    }
    Ok(())
}

/// How long an instance error seen at the first poll is given to clear before it is taken
/// to be about this version too.
const STALE_ERROR_GRACE: Duration = Duration::from_secs(10);

/// Polls until `current` reaches the target FC computes, or `limit` passes, and stops at the
/// first instance error (FC's `currentError`): an initializer that fails once fails again.
async fn wait_for_instances(
    cloud: &Cloud,
    printer: &Printer,
    alias: &str,
    instances: u32,
    limit: Duration,
    report: &mut ProvisionReport,
) -> anyhow::Result<()> {
    let name = cloud.cfg.function_name();
    let bar = progress_bar(printer, instances as u64);
    let started = Instant::now();
    let deadline = started + limit;
    // An error already reported at the first poll may be about the instances of a version the
    // alias served before; one that appears (or changes) while waiting is about this one.
    let mut before: Option<Option<String>> = None;
    let mut current_at_start = 0;
    loop {
        let p = match cloud.fc.get_provision_config(name, alias).await {
            Ok(p) => p,
            Err(e) if e.is_not_found() && instances == 0 => break,
            Err(e) => return Err(e.into()),
        };
        report.current = p.current.unwrap_or(0);
        report.target = p
            .target
            .or(p.default_target)
            .unwrap_or(report.default_target);
        report.current_error = p.current_error.clone().filter(|e| !e.is_empty());
        if let Some(b) = &bar {
            b.set_position(report.current.max(0) as u64);
        }
        if report.current == report.target {
            break;
        }
        let first_poll = before.is_none();
        let before_err = before
            .get_or_insert_with(|| report.current_error.clone())
            .clone();
        if first_poll {
            current_at_start = report.current;
        }
        if let Some(err) = report.current_error.clone() {
            if let Some(b) = &bar {
                b.set_message(format!("instance error: {err}"));
            }
            let fresh = before_err.as_deref() != Some(err.as_str());
            let stuck = started.elapsed() > STALE_ERROR_GRACE && report.current <= current_at_start;
            if fresh || stuck {
                if let Some(b) = &bar {
                    b.abandon();
                }
                bail!(
                    "provisioned instances on {alias}: {}/{} — an instance failed to start: {err}",
                    report.current,
                    report.target,
                );
            }
        }
        if Instant::now() > deadline {
            if let Some(b) = &bar {
                b.abandon();
            }
            bail!(
                "provisioned instances on {alias}: {}/{} after {} s{}",
                report.current,
                report.target,
                limit.as_secs(),
                report
                    .current_error
                    .as_deref()
                    .map(|e| format!("; FC says: {e}"))
                    .unwrap_or_else(|| {
                        "; FC reported no error yet — raise --timeout or check quotas".into()
                    })
            );
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    Ok(())
}

fn progress_bar(printer: &Printer, target: u64) -> Option<indicatif::ProgressBar> {
    if !printer.shows_progress() {
        return None;
    }
    let b = indicatif::ProgressBar::new(target);
    b.set_style(
        indicatif::ProgressStyle::with_template("provisioned {pos}/{len} {bar:30} {elapsed} {msg}")
            .expect("valid template"),
    );
    Some(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedule_flag_parses_cron_with_commas() {
        let s = parse_schedule("cron=cron(0 0 8 * * 1,2,3),target=20,name=am,tz=Asia/Shanghai")
            .unwrap();
        assert_eq!(s.cron, "cron(0 0 8 * * 1,2,3)");
        assert_eq!(s.target, 20);
        assert_eq!(s.name, "am");
        assert_eq!(s.timezone.as_deref(), Some("Asia/Shanghai"));
        assert!(parse_schedule("cron=0 8 * * *,target=1").is_err());
        assert!(parse_schedule("cron=cron(0 0 8 * * *)").is_err());
        assert!(parse_schedule("cron=cron(0 0 8 * * *),target=x").is_err());
    }
}
