//! `fcctl up`: build → nas-sync → deploy → publish → alias → provision → smoke test, as one
//! idempotent run with a journal; `--local` runs it against the embedded emulator.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use serde::Serialize;

use crate::cli::UpArgs;
use crate::commands::connect::Cloud;
use crate::commands::{Ctx, alias, build, deploy, nas_sync, provision, publish, write_atomic};
use crate::deploy::plan::domain_name;
use crate::local;

/// The `--json` result; keys are a stable interface.
#[derive(Debug, Serialize)]
pub struct UpReport {
    /// HTTP trigger URL of the release alias.
    pub url: String,
    /// Custom domain host name (empty when disabled).
    pub custom_domain: String,
    /// Where to send custom-domain requests (with `Host: <custom_domain>`).
    pub domain_url: String,
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
    /// Smoke-test results.
    pub smoke: Vec<SmokeResult>,
    /// Control-plane write calls this run made (0 on a no-change re-run).
    pub write_calls: u64,
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

/// One smoke-test request.
#[derive(Debug, Serialize)]
pub struct SmokeResult {
    /// `trigger` or `custom_domain`.
    pub via: String,
    /// What was sent.
    pub request: String,
    /// Label answered (for images).
    pub label: Option<String>,
    /// Label expected from the file name, if any.
    pub expected: Option<String>,
    /// Passed.
    pub ok: bool,
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

/// The release journal: one JSON file per run under `target/fcctl/releases/`, rewritten after
/// every step, so an interrupted run shows where it stopped and a re-run picks up from there
/// (every step converges, so "resume" is simply running them again).
struct Journal {
    path: PathBuf,
    steps: Vec<StepRecord>,
}

impl Journal {
    fn start(work_dir: &Path) -> anyhow::Result<(Journal, Option<String>)> {
        let dir = work_dir.join("releases");
        std::fs::create_dir_all(&dir)?;
        let interrupted = last_incomplete(&dir);
        let stamp = time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000;
        let j = Journal {
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
        write_atomic(&self.path, serde_json::to_string_pretty(&v)?.as_bytes())
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

/// Runs the chain.
pub async fn run(ctx: &Ctx, a: UpArgs) -> anyhow::Result<()> {
    let t0 = Instant::now();
    let cfg = ctx.config()?;
    let (info, started_emulator) = if ctx.global.local {
        let dir = local::default_data_dir(&ctx.work_dir());
        let (info, started) = local::ensure_running(&dir, None).await?;
        ctx.out.note(format!(
            "{} local emulator at {} (data {})",
            if started { "started" } else { "reusing" },
            info.fc_endpoint,
            info.data_dir.display()
        ));
        (Some(info), started)
    } else {
        (None, false)
    };
    let cloud = ctx.connect(cfg, info.clone())?;
    let result = chain(ctx, &cloud, &a, t0).await;
    let report = match result {
        Ok(r) => r,
        Err(e) => {
            if started_emulator && !a.detach {
                let _ = local::stop(&local::default_data_dir(&ctx.work_dir())).await;
            }
            return Err(e);
        }
    };
    ctx.out.result(&report, || describe(&report));
    let Some(info) = info else { return Ok(()) };
    if !started_emulator {
        // Another process owns this emulator (an `up --local` serving in another terminal, or
        // `fcctl local start`): blocking here would serve nothing, and stopping it on Ctrl-C
        // would pull it from under its owner.
        ctx.out.note(format!(
            "joined the local emulator already running as pid {} (data {}); it keeps running \
             (`fcctl local stop` ends it)",
            info.pid,
            info.data_dir.display()
        ));
    } else if !a.detach {
        ctx.out
            .note("serving; press Ctrl-C to stop the local emulator (or use --detach)");
        tokio::signal::ctrl_c().await.ok();
        local::stop(&local::default_data_dir(&ctx.work_dir())).await?;
        ctx.out.note("stopped the local emulator");
    }
    Ok(())
}

async fn chain(ctx: &Ctx, cloud: &Cloud, a: &UpArgs, t0: Instant) -> anyhow::Result<UpReport> {
    let writes0 = cloud.fc.write_count();
    let (mut journal, interrupted) = Journal::start(&ctx.work_dir())?;
    if let Some(step) = interrupted {
        ctx.out.note(format!(
            "an earlier `up` stopped after step `{step}`; converging from there"
        ));
    }
    let cfg = &cloud.cfg;
    let alias_name = cfg.release.alias.clone();
    let instances = a.instances.unwrap_or(cfg.provision.instances);

    macro_rules! step {
        ($name:expr, $fut:expr, $detail:expr) => {{
            let t = Instant::now();
            ctx.out.note(format!("→ {}", $name));
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

    let build_opts = build::BuildOptions {
        binary: a.binary.clone(),
        agent_binary: a.agent_binary.clone(),
    };
    step!(
        "build",
        build::execute_with(ctx, cfg, &build_opts),
        |b: &build::BuildReport| format!("code.zip {}", b.code_zip_sha256)
    );
    let s = step!(
        "nas-sync",
        nas_sync::execute(ctx, cloud, false, 4),
        |s: &nas_sync::SyncReport| format!("release {}", s.release_id)
    );
    step!(
        "deploy",
        deploy::execute(ctx, cloud, false),
        |d: &deploy::DeployReport| format!("{} change(s)", d.plan.changes.len())
    );
    let p = step!(
        "publish",
        publish::execute(ctx, cloud, None, false),
        |p: &publish::PublishReport| format!(
            "version {}{}",
            p.version,
            if p.created { " (new)" } else { " (unchanged)" }
        )
    );
    step!(
        "alias",
        alias::execute(cloud, &alias_name, &p.version, None, false),
        |r: &alias::AliasReport| alias::describe(r)
    );
    let schedules = cfg.provision.schedules.clone();
    let pr = step!(
        "provision",
        provision::execute(
            ctx,
            cloud,
            &alias_name,
            instances,
            &schedules,
            Some(Duration::from_secs(300)),
            false
        ),
        |r: &provision::ProvisionReport| format!("{}/{}", r.current, r.target)
    );
    let trigger = cloud
        .fc
        .get_trigger(cfg.function_name(), &cfg.trigger.name)
        .await?;
    let url = trigger
        .http_trigger
        .and_then(|h| h.url_internet)
        .context("the HTTP trigger has no public URL")?;
    let (domain, domain_url) = if cfg.custom_domain.enabled {
        let name = domain_name(cfg, cloud.emulated)?;
        let u = match &cloud.local {
            Some(l) => l.domain_endpoint.clone(),
            None => format!("http://{name}"),
        };
        (name, u)
    } else {
        (String::new(), String::new())
    };
    let images = sample_images(ctx, cfg);
    let smoke = step!(
        "smoke-test",
        smoke_test(&url, &domain, &domain_url, &images),
        |r: &Vec<SmokeResult>| format!("{}/{} ok", r.iter().filter(|s| s.ok).count(), r.len())
    );
    journal.save(true)?;
    if let Some(bad) = smoke.iter().find(|s| !s.ok) {
        bail!(
            "smoke test failed via {}: {} answered {:?}, expected {:?}",
            bad.via,
            bad.request,
            bad.label,
            bad.expected
        );
    }
    Ok(UpReport {
        url,
        custom_domain: domain,
        domain_url,
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
        smoke,
        write_calls: cloud.fc.write_count() - writes0,
        seconds: t0.elapsed().as_secs_f64(),
        steps: journal.steps.clone(),
    })
}

/// Images for the smoke test: `bench.images` from fcctl.yaml, relative to the project.
fn sample_images(ctx: &Ctx, cfg: &crate::config::Config) -> Vec<PathBuf> {
    cfg.bench
        .images
        .iter()
        .map(|p| ctx.project_path(p))
        .collect()
}

/// The label a file name promises (`…dog…` / `…cat…`), if any.
fn expected_label(p: &Path) -> Option<String> {
    let n = p.file_name()?.to_string_lossy().to_ascii_lowercase();
    if n.contains("dog") {
        Some("dog".into())
    } else if n.contains("cat") {
        Some("cat".into())
    } else {
        None
    }
}

/// GETs the page and classifies each image through the trigger and the custom domain.
async fn smoke_test(
    url: &str,
    domain: &str,
    domain_url: &str,
    images: &[PathBuf],
) -> anyhow::Result<Vec<SmokeResult>> {
    let client = crate::aliyun::http::client_builder()
        .timeout(Duration::from_secs(60))
        .build()?;
    let mut out = Vec::new();
    let mut routes = vec![("trigger", url.to_string(), None)];
    if !domain.is_empty() {
        routes.push((
            "custom_domain",
            domain_url.to_string(),
            Some(domain.to_string()),
        ));
    }
    for (via, base, host) in &routes {
        let base = base.trim_end_matches('/');
        let mut req = client.get(format!("{base}/"));
        if let Some(h) = host {
            req = req.header("host", h);
        }
        let resp = req
            .send()
            .await
            .with_context(|| format!("GET {base}/ via {via}"))?;
        let status = resp.status();
        let page = resp.text().await.unwrap_or_default();
        out.push(SmokeResult {
            via: via.to_string(),
            request: "GET /".into(),
            label: None,
            expected: None,
            ok: status.is_success() && page.contains("<form"),
        });
        for img in images {
            let bytes = std::fs::read(img)
                .with_context(|| format!("reading smoke-test image {}", img.display()))?;
            let mut req = client.post(format!("{base}/classify")).body(bytes);
            if let Some(h) = host {
                req = req.header("host", h);
            }
            let resp = req
                .send()
                .await
                .with_context(|| format!("POST {base}/classify via {via}"))?;
            let status = resp.status();
            let v: serde_json::Value = resp.json().await.unwrap_or_default();
            let label = v["label"].as_str().map(str::to_string);
            let expected = expected_label(img);
            let ok =
                status.is_success() && label.is_some() && (expected.is_none() || expected == label);
            out.push(SmokeResult {
                via: via.to_string(),
                request: format!("POST /classify {}", img.display()),
                label,
                expected,
                ok,
            });
        }
    }
    Ok(out)
}

fn describe(r: &UpReport) -> String {
    let mut s = String::new();
    for st in &r.steps {
        s.push_str(&format!(
            "  ✓ {:<10} {:>6.2}s  {}\n",
            st.step, st.seconds, st.detail
        ));
    }
    for sm in r.smoke.iter().filter(|s| s.label.is_some()) {
        s.push_str(&format!(
            "  {} {:<13} {} → {}\n",
            if sm.ok { "✓" } else { "✗" },
            sm.via,
            sm.request,
            sm.label.as_deref().unwrap_or("?")
        ));
    }
    s.push_str(&format!(
        "\n{} → version {}{} · release {} · provisioned {}/{} · {} write calls · {:.1}s\n",
        r.alias,
        r.version,
        if r.published { " (new)" } else { "" },
        r.release_id,
        r.provision.current,
        r.provision.target,
        r.write_calls,
        r.seconds
    ));
    s.push_str(&format!("open {}\n", r.url));
    if !r.custom_domain.is_empty() {
        s.push_str(&format!(
            "custom domain {}: curl -H 'Host: {}' {}/\n",
            r.custom_domain, r.custom_domain, r.domain_url
        ));
    }
    s
}
