//! The whole pipeline as one idempotent run with a journal (`fcctl up`).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use serde::Serialize;

use crate::cloud::Cloud;
use crate::deploy::plan::domain_name;
use crate::fsutil::write_atomic;
use crate::pipeline::smoke::{SmokeResult, smoke_test};
use crate::pipeline::verify::{VersionCheck, sample_images, serving_version, verify_version};
use crate::pipeline::{alias, build, deploy, infra, nas_sync, provision, publish};
use crate::printer::Printer;
use crate::project::Project;

/// The `--json` result; keys are a stable interface.
#[derive(Debug, Serialize)]
pub struct UpReport {
    /// HTTP trigger URL of the release alias.
    pub url: String,
    /// Custom domain host name (empty when disabled).
    pub custom_domain: String,
    /// Where to send custom-domain requests (with `Host: <custom_domain>`).
    pub domain_url: String,
    /// How to add a domain of one's own (`custom_domain.name: auto` on the cloud).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub domain_advice: Option<String>,
    /// Release alias.
    pub alias: String,
    /// Version the alias serves.
    pub version: String,
    /// Whether this run published a new version.
    pub published: bool,
    /// Provisioned instances.
    pub provision: ProvisionState,
    /// NAS release.
    pub release_id: String,
    /// The emulator (with `--local`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub emulator: Option<EmulatorRef>,
    /// The new version's checks by its number before the alias moved (empty when the alias
    /// already served it).
    pub verify: Vec<VersionCheck>,
    /// Smoke-test results (after the alias moved).
    pub smoke: Vec<SmokeResult>,
    /// Control-plane write calls this run made (0 on a no-change re-run).
    pub write_calls: u64,
    /// What `auto` resolved to, what this run created and its write calls per product.
    pub infra: crate::infra::Resolution,
    /// Wall time of the run.
    pub seconds: f64,
    /// Per-step timings.
    pub steps: Vec<StepRecord>,
}

/// Provision current/target.
#[derive(Debug, Serialize)]
pub struct ProvisionState {
    /// Ready instances.
    pub current: i64,
    /// Target instances.
    pub target: i64,
}

/// Where the local emulator is.
#[derive(Debug, Serialize)]
pub struct EmulatorRef {
    /// FC API endpoint.
    pub fc_endpoint: String,
    /// OSS endpoint.
    pub oss_endpoint: String,
    /// State directory.
    pub data_dir: String,
    /// Process id.
    pub pid: u32,
}

/// A journal entry.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct StepRecord {
    /// Step name.
    pub step: String,
    /// `done` or `failed`.
    pub status: String,
    /// Seconds taken.
    pub seconds: f64,
    /// Short result.
    pub detail: String,
}

/// The up journal: one JSON file per run under `target/fcctl/up-journal/`, rewritten after
/// every step, so an interrupted run shows where it stopped and a re-run picks up from there
/// (every step converges, so "resume" is simply running them again).
pub struct UpJournal {
    path: PathBuf,
    steps: Vec<StepRecord>,
}

impl UpJournal {
    fn start(work_dir: &Path) -> anyhow::Result<(UpJournal, Option<String>)> {
        let dir = work_dir.join("up-journal");
        std::fs::create_dir_all(&dir)?;
        let interrupted = last_incomplete(&dir);
        let stamp = time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000;
        let j = UpJournal {
            path: dir.join(format!("up-{stamp}.json")),
            steps: Vec::new(),
        };
        j.save(false)?;
        Ok((j, interrupted))
    }

    fn record(
        &mut self,
        step: &str,
        status: &str,
        t: Instant,
        detail: String,
    ) -> anyhow::Result<()> {
        self.steps.push(StepRecord {
            step: step.into(),
            status: status.into(),
            seconds: t.elapsed().as_secs_f64(),
            detail,
        });
        self.save(false)
    }

    fn save(&self, complete: bool) -> anyhow::Result<()> {
        let v = serde_json::json!({ "complete": complete, "steps": self.steps });
        Ok(write_atomic(
            &self.path,
            serde_json::to_string_pretty(&v)?.as_bytes(),
        )?)
    }
}

/// The last step an interrupted earlier run completed, if the newest journal is incomplete.
fn last_incomplete(dir: &Path) -> Option<String> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(files.last()?).ok()?).ok()?;
    if v["complete"].as_bool() == Some(true) {
        return None;
    }
    let done = v["steps"]
        .as_array()?
        .iter()
        .filter(|s| s["status"] == "done")
        .filter_map(|s| s["step"].as_str())
        .next_back()
        .unwrap_or("start")
        .to_string();
    Some(done)
}

/// What `fcctl up` was asked for beyond the config.
#[derive(Debug, Clone, Default)]
pub struct UpOptions {
    /// Prebuilt function binary (skip compiling).
    pub binary: Option<PathBuf>,
    /// Prebuilt nas-agent binary (skip compiling).
    pub agent_binary: Option<PathBuf>,
    /// Provisioned instances, instead of `provision.instances`.
    pub instances: Option<u32>,
    /// Follow symlinks out of the project when building.
    pub follow_external_links: bool,
    /// Skip the build's trial run of the model (the version is still checked by number
    /// before the alias moves).
    pub no_trial: bool,
}

/// Runs every step in order, converging from wherever an earlier run stopped.
pub async fn execute(
    project: &Project,
    cloud: &mut Cloud,
    printer: &Printer,
    a: &UpOptions,
) -> anyhow::Result<UpReport> {
    let t0 = Instant::now();
    let writes0 = cloud.fc.write_count();
    let (mut journal, interrupted) = UpJournal::start(&project.work_dir())?;
    if let Some(step) = interrupted {
        printer.note(format!(
            "an earlier `up` stopped after step `{step}`; converging from there"
        ));
    }
    macro_rules! step {
        ($name:expr, $fut:expr, $detail:expr) => {{
            let t = Instant::now();
            printer.note(format!("→ {}", $name));
            match $fut.await {
                Ok(v) => {
                    let d = $detail(&v);
                    journal.record($name, "done", t, d)?;
                    v
                }
                Err(e) => {
                    journal.record($name, "failed", t, format!("{e:#}"))?;
                    return Err(e.context(format!("`fcctl up` failed at step {}", $name)));
                }
            }
        }};
    }

    let resolved = step!(
        "infra",
        infra::ensure(project, cloud, printer, false),
        // The journal keeps the ids (what a rerun finds by tag, for a human reading it).
        |r: &crate::infra::Resolution| format!(
            "{} created; ids {}",
            r.created.len(),
            serde_json::to_string(&r.ids).unwrap_or_default()
        )
    );
    let cloud = &*cloud;
    let cfg = &cloud.cfg;
    let alias_name = cfg.release.alias.clone();
    let instances = a.instances.unwrap_or(cfg.provision.instances);

    let build_opts = build::BuildOptions {
        binary: a.binary.clone(),
        agent_binary: a.agent_binary.clone(),
        // Opting in stays a deliberate `fcctl build`; `up` builds from the project only.
        follow_external_links: a.follow_external_links,
        no_trial: a.no_trial,
    };
    step!(
        "build",
        build::execute_with(project, cfg, printer, &build_opts),
        |b: &build::BuildReport| format!("code.zip {}", b.code_zip_sha256)
    );
    let s = step!(
        "nas-sync",
        nas_sync::execute(project, cloud, printer, false, 4),
        |s: &nas_sync::SyncReport| format!("release {}", s.release_id)
    );
    let d = step!(
        "deploy",
        deploy::execute(project, cloud, false),
        |d: &deploy::DeployReport| format!("{} change(s)", d.plan.changes.len())
    );
    // The same field diff `deploy --dry-run` gives: what this run changed.
    for line in deploy::change_lines(&d.plan) {
        printer.note(line);
    }
    let p = step!(
        "publish",
        publish::execute(project, cloud, None, false, false),
        |p: &publish::PublishReport| format!(
            "version {}{}",
            p.version,
            if p.created { " (new)" } else { " (unchanged)" }
        )
    );
    // Verify, then promote: the alias moves only to a version that answered by its number.
    let images = sample_images(project, cfg);
    let serving = serving_version(cloud, &alias_name).await?;
    let checks = if serving.as_deref() == Some(p.version.as_str()) {
        Vec::new()
    } else {
        step!(
            "verify",
            verify_version(cloud, &p.version, &images, &alias_name, serving.as_deref()),
            |c: &Vec<VersionCheck>| format!(
                "version {} answered {} check(s) by its number",
                p.version,
                c.len()
            )
        )
    };
    let moved = step!(
        "alias",
        alias::execute(cloud, &alias_name, &p.version, None, false),
        |r: &alias::AliasReport| alias::describe(r)
    );
    let after_move = async {
        let schedules = cfg.provision.schedules.clone();
        let pr = step!(
            "provision",
            provision::execute(
                cloud,
                printer,
                &alias_name,
                instances,
                &schedules,
                Some(Duration::from_secs(300)),
                false
            ),
            |r: &provision::ProvisionReport| format!("{}/{}", r.current, r.target)
        );
        let (url, domain, domain_url) = routes(cloud).await?;
        let smoke = step!(
            "smoke-test",
            passing_smoke_test(cloud, &url, &domain, &domain_url, &images),
            |r: &Vec<SmokeResult>| format!("{}/{} ok", r.iter().filter(|s| s.ok).count(), r.len())
        );
        anyhow::Ok((pr, url, domain, domain_url, smoke))
    };
    let (pr, url, domain, domain_url, smoke) = match after_move.await {
        Ok(done) => done,
        Err(e) => {
            let (Some(previous), true) = (&serving, moved.changed) else {
                return Err(e);
            };
            // The new version passed when invoked by number but fails behind the alias (its
            // provisioned instances, the trigger or the domain): traffic goes back.
            let t = Instant::now();
            let back = alias::execute(cloud, &alias_name, previous, None, false).await;
            let detail = match &back {
                Ok(_) => format!("{alias_name} → version {previous} again"),
                Err(b) => format!("could not move {alias_name} back: {b:#}"),
            };
            journal.record(
                "rollback",
                if back.is_ok() { "done" } else { "failed" },
                t,
                detail,
            )?;
            return Err(match back {
                Ok(_) => e.context(format!(
                    "`{alias_name}` was moved back to version {previous}"
                )),
                Err(b) => e.context(format!(
                    "`{alias_name}` still points at the failing version {}: moving it back to {previous} failed ({b:#}); run `fcctl rollback`",
                    p.version
                )),
            });
        }
    };
    journal.save(true)?;
    Ok(UpReport {
        url,
        custom_domain: domain,
        domain_url,
        domain_advice: crate::deploy::plan::domain_advice(
            &cloud.cfg,
            cloud.local.is_some(),
            &cloud.account_id,
        ),
        alias: alias_name,
        version: p.version,
        published: p.created,
        provision: ProvisionState {
            current: pr.current,
            target: pr.target,
        },
        release_id: s.release_id,
        emulator: cloud.local.as_ref().map(|l| EmulatorRef {
            fc_endpoint: l.fc_endpoint.clone(),
            oss_endpoint: l.oss_endpoint.clone(),
            data_dir: l.data_dir.display().to_string(),
            pid: l.pid,
        }),
        verify: checks,
        smoke,
        write_calls: cloud.fc.write_count() - writes0,
        infra: resolved,
        seconds: t0.elapsed().as_secs_f64(),
        steps: journal.steps.clone(),
    })
}

async fn passing_smoke_test(
    cloud: &Cloud,
    url: &str,
    domain: &str,
    domain_url: &str,
    images: &[PathBuf],
) -> anyhow::Result<Vec<SmokeResult>> {
    let mut results = smoke_test(url, domain, domain_url, images).await?;
    match results.iter_mut().find(|s| !s.ok) {
        Some(bad) => {
            crate::pipeline::smoke::attach_log(cloud, bad).await;
            bail!("smoke test failed: {}", bad.failure())
        }
        None => Ok(results),
    }
}

/// What `fcctl up --dry-run` found: every step's plan, nothing written.
#[derive(Debug, Serialize)]
pub struct UpPlan {
    /// Always true.
    pub dry_run: bool,
    /// The build the plan is based on.
    pub build: crate::pipeline::freshness::BuildBasis,
    /// `auto` infrastructure found, and what would be created.
    pub infra: crate::infra::Resolution,
    /// NAS: the release the last build makes, and what would be uploaded.
    pub nas: nas_sync::SyncReport,
    /// Function, trigger and custom domain changes.
    pub deploy: deploy::DeployReport,
    /// Whether a new version would be published (else `version` serves these settings).
    pub would_publish: bool,
    /// The version that serves the settings already, if any.
    pub version: Option<String>,
    /// Release alias.
    pub alias: String,
    /// The version it serves now.
    pub alias_from: Option<String>,
    /// Provisioned instances wanted on the alias, and the current target.
    pub provision_target: u32,
    /// Current provisioned target (0 when none).
    pub provision_current_target: i64,
    /// Whether anything would change.
    pub changed: bool,
}

/// Plans every step from the last build without writing anything.
pub async fn plan(
    project: &Project,
    cloud: &mut Cloud,
    printer: &Printer,
    a: &UpOptions,
) -> anyhow::Result<UpPlan> {
    let resolved = infra::ensure(project, cloud, printer, true).await?;
    let cloud = &*cloud;
    let cfg = &cloud.cfg;
    let build = crate::pipeline::freshness::build_basis(project, cfg);
    if build.built_at.is_none() {
        bail!(
            "no build yet: `fcctl up --dry-run` plans from the last build; run `fcctl build` first"
        );
    }
    let nas = nas_sync::execute(project, cloud, printer, true, 4).await?;
    let deploy = deploy::execute(project, cloud, true).await?;
    let new_release = crate::state::State::load(&project.work_dir())?
        .release_id
        .as_deref()
        != Some(nas.release_id.as_str());
    let published = if deploy.changed || new_release {
        None
    } else {
        Some(publish::execute(project, cloud, None, false, true).await?)
    };
    let version = published
        .as_ref()
        .filter(|p| !p.created)
        .map(|p| p.version.clone());
    let alias = cfg.release.alias.clone();
    let alias_from = serving_version(cloud, &alias).await?;
    let provision_target = a.instances.unwrap_or(cfg.provision.instances);
    let provision_current_target = match cloud
        .fc
        .get_provision_config(cfg.function_name(), &alias)
        .await
    {
        Ok(p) => p.default_target.or(p.target).unwrap_or(0),
        Err(e) if e.is_not_found() => 0,
        Err(e) => return Err(e.into()),
    };
    // Sources newer than the build are changes this plan cannot show but a build would make.
    let changed = !build.newer_sources.is_empty()
        || !resolved.would_create.is_empty()
        || nas.files_uploaded > 0
        || new_release
        || deploy.changed
        || version.is_none()
        || alias_from != version
        || provision_current_target != i64::from(provision_target);
    Ok(UpPlan {
        dry_run: true,
        build,
        infra: resolved,
        nas,
        would_publish: version.is_none(),
        deploy,
        version,
        alias,
        alias_from,
        provision_target,
        provision_current_target,
        changed,
    })
}

/// The plan for humans: "would" for every change.
pub fn describe_plan(p: &UpPlan) -> String {
    let mut s = String::new();
    for c in &p.infra.would_create {
        s.push_str(&format!("  infra      would create {}\n", c.kind));
    }
    if let Some(w) = p.build.warning() {
        s.push_str(&format!("{w}\n"));
    } else if let Some(at) = &p.build.built_at {
        s.push_str(&format!("based on the build at {at}\n"));
    }
    if p.nas.files_uploaded > 0 {
        s.push_str(&format!(
            "  nas-sync   would upload {} blob(s) for release {}\n",
            p.nas.files_uploaded, p.nas.release_id
        ));
    } else {
        s.push_str(&format!(
            "  nas-sync   release {} is uploaded\n",
            p.nas.release_id
        ));
    }
    if p.deploy.changed {
        s.push_str(&format!(
            "  deploy     would apply {} change(s):\n",
            p.deploy.plan.changes.len()
        ));
        for line in deploy::change_lines(&p.deploy.plan) {
            s.push_str(&format!("  {line}\n"));
        }
    } else {
        s.push_str("  deploy     nothing to change\n");
    }
    let to = match &p.version {
        Some(v) => {
            s.push_str(&format!(
                "  publish    version {v} already serves these settings\n"
            ));
            format!("version {v}")
        }
        None => {
            s.push_str("  publish    would publish a new version, then invoke it by number before any alias moves\n");
            "the new version".to_string()
        }
    };
    match (&p.alias_from, &p.version) {
        (Some(from), Some(v)) if from == v => {
            s.push_str(&format!("  alias      {} already serves {to}\n", p.alias));
        }
        (from, _) => s.push_str(&format!(
            "  alias      would move {} from {} to {to}\n",
            p.alias,
            from.as_deref()
                .map_or("(absent)".to_string(), |f| format!("version {f}"))
        )),
    }
    if p.provision_current_target == i64::from(p.provision_target) {
        s.push_str(&format!(
            "  provision  {} instance(s) on {} already\n",
            p.provision_target, p.alias
        ));
    } else {
        s.push_str(&format!(
            "  provision  would set {} instance(s) on {} (now {})\n",
            p.provision_target, p.alias, p.provision_current_target
        ));
    }
    s.push_str(if p.changed {
        "dry run: nothing was changed"
    } else {
        "dry run: nothing would change"
    });
    s
}

/// Where the page is served: the HTTP trigger's public URL, and the custom domain with the
/// URL its requests go to (the emulator's domain endpoint locally; empty when disabled).
async fn routes(cloud: &Cloud) -> anyhow::Result<(String, String, String)> {
    let cfg = &cloud.cfg;
    let trigger = cloud
        .fc
        .get_trigger(cfg.function_name(), &cfg.trigger.name)
        .await?;
    let url = trigger
        .http_trigger
        .and_then(|h| h.url_internet)
        .context("the HTTP trigger has no public URL")?;
    let Some(name) = domain_name(cfg, cloud.local.is_some()) else {
        return Ok((url, String::new(), String::new()));
    };
    let domain_url = match &cloud.local {
        Some(l) => l.domain_endpoint.clone(),
        None => format!("http://{name}"),
    };
    Ok((url, name, domain_url))
}
