//! `fcctl bench`: load-test the deployed endpoint (defaults from fcctl.yaml and the deployment),
//! save report.json + a self-contained report.html, or compare two runs.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, bail};
use serde::Serialize;

use crate::aliyun::fc_models::{CreateTriggerInput, HttpTriggerConfig, UpdateFunctionInput};
use crate::bench::{self, BenchOptions, BenchReport, Mode, RequestKind};
use crate::cli::{BenchArgs, BenchCompare};
use crate::cloud::Cloud;
use crate::commands::Ctx;
use crate::config::{BenchRequest, Config};
use crate::deploy::plan::domain_name;
use crate::exit::{ExitStatus, Refusal};

/// Parses `30s`, `5m`, `1h`, `500ms` or plain seconds.
pub fn parse_duration(s: &str) -> anyhow::Result<Duration> {
    let s = s.trim();
    let (num, unit) = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .map_or((s, ""), |i| s.split_at(i));
    let n: f64 = num
        .parse()
        .with_context(|| format!("`{s}` is not a duration like 30s, 5m or 1h"))?;
    let secs = match unit {
        "" | "s" => n,
        "ms" => n / 1000.0,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        _ => bail!("`{s}`: unknown unit `{unit}` (use ms, s, m or h)"),
    };
    if !(secs > 0.0 && secs.is_finite()) {
        bail!("`{s}` must be a positive duration");
    }
    Ok(Duration::from_secs_f64(secs))
}

/// Parses `--ramp 5..50` with `--step 20%`.
fn parse_ramp(ramp: &str, step: &str, step_duration: Duration) -> anyhow::Result<Mode> {
    let (a, b) = ramp
        .split_once("..")
        .with_context(|| format!("--ramp `{ramp}`: write FROM..TO, e.g. 5..50"))?;
    let from: usize = a.trim().parse().context("--ramp FROM must be a number")?;
    let to: usize = b.trim().parse().context("--ramp TO must be a number")?;
    let step_pct: f64 = step
        .trim()
        .trim_end_matches('%')
        .parse()
        .with_context(|| format!("--step `{step}`: write a percentage like 20%"))?;
    Ok(Mode::Ramp {
        from,
        to,
        step_pct,
        step_duration,
    })
}

/// Where the load goes: explicit `--url`, else the release alias's trigger URL (or the custom
/// domain with its Host header when `--host` is given without `--url`).
async fn target(cloud: Option<&Cloud>, a: &BenchArgs) -> anyhow::Result<(String, Option<String>)> {
    if let Some(u) = &a.url {
        return Ok((u.clone(), a.host.clone()));
    }
    let cloud = cloud.context("internal: a bench without --url connects to the cloud first")?;
    if a.host.is_some() {
        let dn = domain_name(&cloud.cfg, cloud.local.is_some()).context(
            "--host needs a custom domain: this project has none (disabled, or `auto` on the \
             cloud); pass --url too, or set custom_domain.name",
        )?;
        let url = match &cloud.local {
            Some(l) => l.domain_endpoint.clone(),
            None => format!("http://{dn}"),
        };
        return Ok((url, a.host.clone()));
    }
    let t = cloud
        .fc
        .get_trigger(cloud.cfg.function_name(), &cloud.cfg.trigger.name)
        .await
        .context("finding the trigger URL to benchmark (deploy first, or pass --url)")?;
    let url = t
        .http_trigger
        .and_then(|h| h.url_internet)
        .context("the trigger has no public URL; pass --url")?;
    Ok((url, None))
}

/// Builds engine options from flags, fcctl.yaml defaults and the deployment.
async fn options(
    ctx: &Ctx,
    cfg: &Config,
    cloud: Option<&Cloud>,
    a: &BenchArgs,
) -> anyhow::Result<BenchOptions> {
    let (url, host) = target(cloud, a).await?;
    let request = match a.request.as_deref() {
        Some("page") => RequestKind::GetPage,
        Some("image") => RequestKind::PostImage,
        Some("classify") => RequestKind::Classify,
        Some(other) => bail!("--request `{other}`: use page, image or classify"),
        None => match cfg.bench.request {
            BenchRequest::Page => RequestKind::GetPage,
            BenchRequest::Image => RequestKind::PostImage,
            BenchRequest::Classify => RequestKind::Classify,
        },
    };
    let images: Vec<PathBuf> = if a.image.is_empty() {
        cfg.bench
            .images
            .iter()
            .map(|p| ctx.project.path(p))
            .collect()
    } else {
        a.image.clone()
    };
    let step_duration = parse_duration(&a.step_duration)?;
    let mode = if let Some(r) = a.rps {
        Mode::Rate { rps: f64::from(r) }
    } else if let Some(r) = &a.ramp {
        parse_ramp(r, &a.step, step_duration)?
    } else {
        Mode::Concurrency {
            n: a.concurrency.unwrap_or(cfg.bench.concurrency) as usize,
        }
    };
    let duration = match (&a.duration, &mode) {
        (Some(d), _) => parse_duration(d)?,
        // A ramp without --duration runs until its last step has had its full time.
        (None, Mode::Ramp { .. }) => {
            step_duration.saturating_mul(u32::try_from(mode.levels().len()).unwrap_or(u32::MAX))
        }
        (None, _) => Duration::from_secs(cfg.bench.duration_s),
    };
    Ok(BenchOptions {
        url,
        request,
        images,
        mode,
        duration,
        max_requests: a.max_requests.unwrap_or(cfg.bench.max_requests),
        host_header: host,
        allow_remote: a.allow_remote,
        ..BenchOptions::default()
    })
}

fn progress(ctx: &Ctx) -> Option<bench::ProgressFn> {
    use std::io::IsTerminal as _;
    if ctx.out.json || ctx.out.quiet || !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = indicatif::ProgressBar::new_spinner();
    Some(Arc::new(move |p: &bench::Progress| {
        bar.set_message(format!(
            "{:>5.1}s/{:.0}s  {} req  {:.0} rps  {} err  {} cold  {} VUs",
            p.elapsed.as_secs_f64(),
            p.duration.as_secs_f64(),
            p.requests,
            p.rps,
            p.errors,
            p.cold_starts,
            p.target_concurrency
        ));
        bar.tick();
    }))
}

/// `--cold N` result.
#[derive(Debug, Serialize)]
struct ColdReport {
    url: String,
    cold_start: Option<bench::ColdStartSummary>,
    cold_start_samples: Vec<bench::ColdStartSample>,
}

/// Forces fresh instances by probing LATEST through a temporary trigger and retiring its
/// instances with a no-op config bump before each probe; restores the config afterwards.
async fn run_cold(ctx: &Ctx, cloud: &Cloud, a: &BenchArgs, n: u32) -> anyhow::Result<()> {
    let name = cloud.cfg.function_name().to_string();
    let url = cold_trigger_url(cloud, &name).await?;
    let mut opts = options(ctx, &cloud.cfg, Some(cloud), a).await?;
    opts.url = url.clone();
    opts.host_header = None;
    let original = cloud.fc.get_function(&name, None).await?;
    let env = original.environment_variables.clone().unwrap_or_default();
    let result = bench::run_cold(&opts, n as usize, |i| {
        let mut env = env.clone();
        env.insert(fcctl_protocol::env::COLD_NONCE.into(), i.to_string());
        let fc = cloud.fc.clone();
        let name = name.clone();
        async move {
            // FC (and the emulator) date updates to the second: space them so each one is seen
            // as a new configuration and its instances are fresh.
            if i > 0 {
                tokio::time::sleep(Duration::from_millis(1100)).await;
            }
            fc.update_function(
                &name,
                &UpdateFunctionInput {
                    environment_variables: Some(env),
                    ..Default::default()
                },
            )
            .await
            .map_err(anyhow::Error::from)?;
            crate::deploy::plan::wait_active(&fc, &name)
                .await
                .map(|_| ())
        }
    })
    .await;
    // Put the function back exactly as it was, whatever happened, so deploy sees no drift.
    cloud
        .fc
        .update_function(
            &name,
            &UpdateFunctionInput {
                environment_variables: Some(env),
                ..Default::default()
            },
        )
        .await?;
    cloud.fc.delete_trigger(&name, COLD_TRIGGER).await.ok();
    let (samples, summary) = result?;
    let report = ColdReport {
        url,
        cold_start: summary,
        cold_start_samples: samples,
    };
    ctx.out.result(&report, || cold_summary_text(&report));
    Ok(())
}

const COLD_TRIGGER: &str = "fcctl-bench-cold";

/// Runs the load once per setting on LATEST (through the temporary trigger), each after an
/// UpdateFunction that retires the previous setting's instances and a short warm-up, then
/// puts the function's memory and cpu back.
async fn run_sweep(ctx: &Ctx, cloud: &Cloud, a: &BenchArgs, spec: &str) -> anyhow::Result<()> {
    let settings = bench::sweep::parse_settings(spec)?;
    if cloud.local.is_none() {
        return Err(Refusal {
            status: ExitStatus::User,
            message: "--sweep runs on the local emulator only (it redeploys the function once per setting and reads each instance's peak memory)".into(),
            hint: Some("add --local (start it with `fcctl up --local --detach`)".into()),
        }
        .into());
    }
    let name = cloud.cfg.function_name().to_string();
    let url = cold_trigger_url(cloud, &name).await?;
    let mut opts = options(ctx, &cloud.cfg, Some(cloud), a).await?;
    opts.url.clone_from(&url);
    opts.host_header = None;
    let original = cloud.fc.get_function(&name, None).await?;
    let mut rows = Vec::new();
    let mut result = Ok(());
    for s in &settings {
        match sweep_one(ctx, cloud, &name, &opts, *s).await {
            Ok(row) => rows.push(row),
            Err(e) => {
                result = Err(e);
                break;
            }
        }
    }
    // Put the function back as it was, whatever happened, so deploy sees no drift.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    cloud
        .fc
        .update_function(
            &name,
            &UpdateFunctionInput {
                memory_size: original.memory_size,
                cpu: original.cpu,
                ..Default::default()
            },
        )
        .await?;
    cloud.fc.delete_trigger(&name, COLD_TRIGGER).await.ok();
    result?;
    let load = format!(
        "{} for {:.0} s",
        opts.mode.describe(),
        opts.duration.as_secs_f64()
    );
    let report = bench::sweep::SweepReport::new(url, load, a.p99_ms, rows);
    let dir = ctx.project.work_dir().join("bench");
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let path = dir.join("sweep.json");
    crate::fsutil::write_atomic(&path, serde_json::to_string_pretty(&report)?.as_bytes())
        .with_context(|| format!("writing {}", path.display()))?;
    ctx.out.result(&report, || {
        format!("{}sweep: {}", report.render(), path.display())
    });
    Ok(())
}

/// One setting of a sweep: update, warm up, run, read the instances' memory and CPU.
async fn sweep_one(
    ctx: &Ctx,
    cloud: &Cloud,
    name: &str,
    opts: &BenchOptions,
    s: bench::sweep::Setting,
) -> anyhow::Result<bench::sweep::SweepRow> {
    // FC (and the emulator) date updates to the second: a new second is a new configuration.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let since_ms = crate::pipeline::logs::now_unix() * 1000 - 1000;
    cloud
        .fc
        .update_function(
            name,
            &UpdateFunctionInput {
                memory_size: Some(i64::from(s.memory_mb)),
                cpu: Some(s.cpu),
                ..Default::default()
            },
        )
        .await
        .with_context(|| format!("setting {s}"))?;
    crate::deploy::plan::wait_active(&cloud.fc, name).await?;
    ctx.out.note(format!("sweep {s}: warming up"));
    let warm = BenchOptions {
        max_requests: 10,
        duration: Duration::from_secs(60),
        ..opts.clone()
    };
    bench::run(warm, None).await?;
    let (_, cpu_before) = instance_usage(cloud, name, since_ms).await;
    ctx.out.note(format!("sweep {s}: {}", opts.mode.describe()));
    let mut report = bench::run(opts.clone(), progress(ctx)).await?;
    let (peak, cpu_after) = instance_usage(cloud, name, since_ms).await;
    let dir = ctx.project.work_dir().join("bench").join(format!(
        "{}-{}mb-{}cpu",
        bench::report_dir_name(&report),
        s.memory_mb,
        s.cpu
    ));
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    bench::save_report(&mut report, &dir)
        .with_context(|| format!("writing the report in {}", dir.display()))?;
    let cpu = cpu_after.zip(cpu_before).map(|(a, b)| a.saturating_sub(b));
    Ok(bench::sweep::SweepRow::new(s, &report, peak, cpu))
}

/// The highest peak memory and the total CPU time of LATEST's instances started since
/// `since_ms` (the emulator's `fcctl*` ListInstances fields; `None` without them).
async fn instance_usage(cloud: &Cloud, name: &str, since_ms: i64) -> (Option<u64>, Option<u64>) {
    let req = crate::aliyun::fc_models::ListInstancesRequest {
        qualifier: Some("LATEST".into()),
        ..Default::default()
    };
    let Ok(out) = cloud.fc.list_instances(name, &req).await else {
        return (None, None);
    };
    let fresh: Vec<_> = out
        .instances
        .unwrap_or_default()
        .into_iter()
        .filter(|i| i.created_time_ms.unwrap_or(0) >= since_ms)
        .collect();
    let peak = fresh.iter().filter_map(|i| i.fcctl_memory_peak_bytes).max();
    let cpu = fresh.iter().map(|i| i.fcctl_cpu_ms).sum::<Option<u64>>();
    (peak, cpu)
}

/// The URL of the temporary anonymous HTTP trigger on LATEST (created, or reused when a
/// previous run left it behind).
async fn cold_trigger_url(cloud: &Cloud, name: &str) -> anyhow::Result<String> {
    let config = HttpTriggerConfig {
        auth_type: Some("anonymous".into()),
        methods: Some(vec!["GET".into(), "POST".into()]),
        disable_url_internet: Some(false),
        ..Default::default()
    };
    let trigger = match cloud
        .fc
        .create_trigger(
            name,
            &CreateTriggerInput {
                trigger_name: Some(COLD_TRIGGER.into()),
                trigger_type: Some("http".into()),
                qualifier: Some("LATEST".into()),
                trigger_config: Some(config.to_json_string()),
                ..Default::default()
            },
        )
        .await
    {
        Ok(trigger) => trigger,
        Err(err) if err.is_already_exists() => cloud.fc.get_trigger(name, COLD_TRIGGER).await?,
        Err(err) => return Err(err.into()),
    };
    trigger
        .http_trigger
        .and_then(|h| h.url_internet)
        .context("the temporary trigger has no URL")
}

fn cold_summary_text(report: &ColdReport) -> String {
    let Some(summary) = &report.cold_start else {
        return "no cold starts observed".into();
    };
    let row = |name: &str, p: &bench::PhaseStats| {
        format!(
            "  {name:<22} {:>9.1} {:>9.1} {:>9.1}\n",
            p.p50, p.p90, p.max
        )
    };
    let mut text = format!(
        "{} forced cold starts (ms)      p50       p90       max\n",
        summary.count
    );
    text.push_str(&row("instance start", &summary.instance_start_ms));
    text.push_str(&row("/initialize (model)", &summary.initialize_ms));
    text.push_str(&row("first byte", &summary.first_byte_ms));
    text.push_str(&row("total", &summary.total_ms));
    text
}

/// `fcctl bench compare --json`: both reports as read.
#[derive(Serialize)]
struct Comparison<'a> {
    a: &'a BenchReport,
    b: &'a BenchReport,
}

/// Runs a benchmark, or compares two saved ones.
pub async fn run(ctx: &Ctx, a: BenchArgs) -> anyhow::Result<()> {
    if let Some(BenchCompare::Compare { a: x, b: y }) = &a.compare {
        let load = |p: &PathBuf| {
            let p = if p.is_dir() {
                p.join("report.json")
            } else {
                p.clone()
            };
            // The error names the file.
            BenchReport::from_json_file(&p)
        };
        let (ra, rb) = (load(x)?, load(y)?);
        let text = bench::compare(&ra, &rb);
        ctx.out.result(&Comparison { a: &ra, b: &rb }, || text);
        return Ok(());
    }
    if let Some(n) = a.cold {
        let cloud = ctx.cloud().await?;
        return run_cold(ctx, &cloud, &a, n).await;
    }
    if let Some(spec) = &a.sweep {
        let cloud = ctx.cloud().await?;
        return run_sweep(ctx, &cloud, &a, spec).await;
    }
    // An explicit --url is all the load needs: no credentials, no emulator lookup.
    let (opts, tested) = if a.url.is_some() {
        (options(ctx, &ctx.config()?, None, &a).await?, None)
    } else {
        let cloud = ctx.cloud().await?;
        (
            options(ctx, &cloud.cfg, Some(&cloud), &a).await?,
            tested_function(&cloud).await,
        )
    };
    ctx.out
        .note(format!("bench {} ({})", opts.url, opts.mode.describe()));
    let mut report = bench::run(opts, progress(ctx)).await?;
    report.tested = tested;
    let dir = ctx
        .project
        .work_dir()
        .join("bench")
        .join(bench::report_dir_name(&report));
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    bench::save_report(&mut report, &dir)
        .with_context(|| format!("writing the report in {}", dir.display()))?;
    ctx.out.result(&report, || {
        let failed = report
            .failed_requests
            .iter()
            .find_map(|f| f.logs.as_deref())
            .map(|cmd| format!("\nfirst failed request's logs: {cmd}"))
            .unwrap_or_default();
        format!(
            "{}\nreport: {}{failed}",
            bench::render_summary(&report),
            report.report.clone().unwrap_or_default()
        )
    });
    verdict(&report, a.min_success)
}

/// The version behind the release alias and its size, for the report (best effort: a report
/// without it is still a report).
async fn tested_function(cloud: &Cloud) -> Option<bench::TestedFunction> {
    let name = cloud.cfg.function_name();
    let alias = cloud.cfg.release.alias.clone();
    let version = match cloud.fc.get_alias(name, &alias).await {
        Ok(a) => a.version_id,
        Err(e) => {
            tracing::debug!("bench: alias {alias}: {e}");
            None
        }
    };
    let f = cloud
        .fc
        .get_function(name, Some(version.as_deref().unwrap_or("LATEST")))
        .await
        .ok();
    Some(bench::TestedFunction {
        function: name.to_string(),
        alias,
        version,
        release_id: f
            .as_ref()
            .and_then(|f| f.environment_variables.as_ref())
            .and_then(|e| e.get(fcctl_protocol::env::RELEASE).cloned()),
        memory_mb: f.as_ref().and_then(|f| f.memory_size),
        cpu: f.as_ref().and_then(|f| f.cpu),
        instance_concurrency: f.as_ref().and_then(|f| f.instance_concurrency),
    })
}

/// The run's exit status, once its report is written: `Unreachable` when nothing answered,
/// `Cloud` when the endpoint answered but too few requests succeeded.
fn verdict(report: &BenchReport, min_success: Option<f64>) -> anyhow::Result<()> {
    let Err(short) = bench::check_success(report, min_success) else {
        return Ok(());
    };
    let where_ = report.report.as_deref().unwrap_or("the report");
    let (status, hint) = if short.unanswered {
        (
            ExitStatus::Unreachable,
            format!(
                "nothing answered at {}: is the endpoint up and serving HTTP? Details: {where_}",
                report.url
            ),
        )
    } else {
        (
            ExitStatus::Cloud,
            format!(
                "the failures are broken down in {where_}; pass --min-success PERCENT to accept a lower rate"
            ),
        )
    };
    Err(Refusal {
        status,
        message: format!("bench failed: {short}"),
        hint: Some(hint),
    }
    .into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_ramps() {
        assert_eq!(parse_duration("30s").unwrap(), Duration::from_secs(30));
        assert_eq!(parse_duration("5m").unwrap(), Duration::from_mins(5));
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_duration("2").unwrap(), Duration::from_secs(2));
        assert!(parse_duration("5x").is_err());
        assert!(parse_duration("0s").is_err());
        let m = parse_ramp("5..50", "20%", Duration::from_mins(1)).unwrap();
        assert_eq!(m.levels(), vec![5, 15, 25, 35, 45, 50]);
        assert!(parse_ramp("5-50", "20%", Duration::from_secs(1)).is_err());
    }
}
