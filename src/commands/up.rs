//! `fcctl up`: build → nas-sync → deploy → publish → alias → provision → smoke test, as one
//! idempotent run with a journal; `--local` runs it against the embedded emulator.

use anyhow::Context as _;

use crate::cli::UpArgs;
use crate::commands::Ctx;
use crate::local;
use crate::pipeline::up::{UpOptions, UpReport, execute};

/// Runs the chain.
pub async fn run(ctx: &Ctx, a: UpArgs) -> anyhow::Result<()> {
    if a.dry_run {
        return dry_run(ctx, &a).await;
    }
    let cfg = ctx.config()?;
    let (info, started_emulator) = if ctx.global.local {
        let dir = local::default_data_dir(&ctx.project.work_dir());
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
    let opts = UpOptions {
        binary: a.binary.clone(),
        agent_binary: a.agent_binary.clone(),
        instances: a.instances,
        follow_external_links: a.follow_external_links,
        no_trial: a.no_trial,
    };
    let limit = a
        .timeout
        .as_deref()
        .map(crate::commands::bench::parse_duration)
        .transpose()
        .context("--timeout")?;
    let result = match ctx.connect(cfg, info.clone()) {
        Ok(mut cloud) => {
            let run = execute(&ctx.project, &mut cloud, &ctx.out, &opts);
            match limit {
                None => run.await,
                Some(limit) => tokio::time::timeout(limit, run).await.unwrap_or_else(|_| {
                    Err(anyhow::Error::new(crate::exit::Refusal {
                        status: crate::exit::ExitStatus::User,
                        message: format!(
                            "`fcctl up` did not finish within {}; the journal in {} shows the last step done",
                            a.timeout.as_deref().unwrap_or_default(),
                            ctx.project.work_dir().join("up-journal").display()
                        ),
                        hint: Some(
                            "the release alias moves only after its version passed, so it serves what it served or a checked version; run `fcctl up` again (it converges) or raise --timeout"
                                .into(),
                        ),
                    }))
                }),
            }
        }
        Err(e) => Err(e),
    };
    let report = match result {
        Ok(r) => r,
        Err(e) => {
            // Also with --detach: it asks to keep a working deployment serving, and a failed
            // run has none; an emulator left behind would only hold ports and instances.
            if started_emulator {
                match local::stop(&local::default_data_dir(&ctx.project.work_dir())).await {
                    Ok(_) => ctx.out.note("stopped the local emulator this run started"),
                    Err(stop) => tracing::warn!("could not stop the local emulator: {stop:#}"),
                }
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
        local::stop(&local::default_data_dir(&ctx.project.work_dir())).await?;
        ctx.out.note("stopped the local emulator");
    }
    Ok(())
}

/// `up --dry-run`: against a running emulator only (starting one to plan would be a change).
async fn dry_run(ctx: &Ctx, a: &UpArgs) -> anyhow::Result<()> {
    let cfg = ctx.config()?;
    let info = if ctx.global.local {
        let dir = local::default_data_dir(&ctx.project.work_dir());
        Some(local::find_running(&dir).await.with_context(|| {
            format!(
                "no local emulator running in {}: `fcctl up --local --dry-run` plans against a running one (start it with `fcctl local start` or `fcctl up --local`)",
                dir.display()
            )
        })?)
    } else {
        None
    };
    let mut cloud = ctx.connect(cfg, info)?;
    let opts = UpOptions {
        instances: a.instances,
        ..UpOptions::default()
    };
    let p = crate::pipeline::up::plan(&ctx.project, &mut cloud, &ctx.out, &opts).await?;
    ctx.out
        .result(&p, || crate::pipeline::up::describe_plan(&p));
    if p.changed {
        return Err(crate::exit::Refusal::silent(crate::exit::ExitStatus::ChangesPending).into());
    }
    Ok(())
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
    if let Some(a) = &r.domain_advice {
        s.push_str(&format!("{a}\n"));
    }
    s
}
