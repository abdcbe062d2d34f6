//! `fcctl local start|stop|status`: the local FC3 + OSS + NAS emulator.

use anyhow::Context as _;
use serde::Serialize;

use crate::cli::{LocalCommand, LocalDnsCommand, LocalStartArgs};
use crate::commands::Ctx;
use crate::fsutil::absolute_dir;
use crate::local;

/// Runs the emulator subcommands.
pub async fn run(ctx: &Ctx, c: LocalCommand) -> anyhow::Result<()> {
    match c {
        LocalCommand::Start(a) => start(ctx, a).await,
        LocalCommand::Stop { data_dir } => {
            let dir = data_dir_or_default(ctx, data_dir);
            let done = local::stop(&dir).await?;
            #[derive(Serialize)]
            struct R {
                stopped: bool,
                /// Instance processes a killed emulator had left running, now killed.
                orphans_stopped: usize,
                data_dir: String,
            }
            let r = R {
                stopped: done.emulator,
                orphans_stopped: done.orphans,
                data_dir: dir.display().to_string(),
            };
            ctx.out.result(&r, || {
                let mut s = if r.stopped {
                    format!("stopped the emulator in {}", r.data_dir)
                } else {
                    format!("no emulator running in {}", r.data_dir)
                };
                if r.orphans_stopped > 0 {
                    s.push_str(&format!(
                        "\nstopped {} instance process(es) left by a killed emulator",
                        r.orphans_stopped
                    ));
                }
                s
            });
            Ok(())
        }
        LocalCommand::Dns(LocalDnsCommand::Add { name, data_dir }) => {
            let dir = data_dir_or_default(ctx, data_dir);
            emulator::dns::add(&dir, &name).with_context(|| {
                format!("adding {name} to the emulator's DNS in {}", dir.display())
            })?;
            #[derive(Serialize)]
            struct R {
                name: String,
                data_dir: String,
            }
            let r = R {
                name,
                data_dir: dir.display().to_string(),
            };
            ctx.out.result(&r, || {
                format!("{} now resolves to the emulator in {}", r.name, r.data_dir)
            });
            Ok(())
        }
        LocalCommand::Status { data_dir } => {
            let dir = data_dir_or_default(ctx, data_dir);
            match local::find_running(&dir).await {
                Some(info) => {
                    warn_isolation(ctx, &info);
                    ctx.out.result(&info, || describe(&info));
                    Ok(())
                }
                None => anyhow::bail!(
                    "no emulator running in {}; start one with `fcctl local start` or `fcctl up --local`",
                    dir.display()
                ),
            }
        }
    }
}

/// `--data-dir` made absolute (instances are spawned elsewhere and bind-mount below it), else
/// this project's `target/fcctl/local`.
fn data_dir_or_default(ctx: &Ctx, data_dir: Option<std::path::PathBuf>) -> std::path::PathBuf {
    data_dir
        .map(|d| absolute_dir(&d))
        .unwrap_or_else(|| local::default_data_dir(&ctx.project.work_dir()))
}

/// Every protection the emulator could not give its instances, loud on stderr.
fn warn_isolation(ctx: &Ctx, info: &local::Info) {
    for w in info.isolation.warnings.iter().chain(&info.limits.warnings) {
        ctx.out.note(format!("warning: {w}"));
    }
}

fn describe(info: &local::Info) -> String {
    let i = info;
    format!(
        "fcctl local emulator (pid {pid})
  FC endpoint:     {fc}
  OSS endpoint:    {oss}
  custom domains:  {dom} (send Host: <domain>)
  VPC endpoint:    {vpc}
  ECS endpoint:    {ecs}
  NAS endpoint:    {nas}
  RAM endpoint:    {ram}
  SLS endpoint:    {sls}
  account id:      {acc}
  region:          {region}
  access key id:   {kid}
  access secret:   {secret}
  NAS dir:         {nas_dir} (shared NAS for explicit server addresses; file systems made through the NAS API live in the data dir)
  data dir:        {data}
  instance limits: memory by {mem_by}, CPU quota by {cpu_by}

Use it from another shell with --local, or export (the cloud code path):
  FCCTL_FC_ENDPOINT={fc} FCCTL_OSS_ENDPOINT={oss}
  FCCTL_VPC_ENDPOINT={vpc} FCCTL_ECS_ENDPOINT={ecs} FCCTL_NAS_ENDPOINT={nas}
  FCCTL_RAM_ENDPOINT={ram} FCCTL_SLS_ENDPOINT={sls}
  ALIBABA_CLOUD_ACCESS_KEY_ID={kid} ALIBABA_CLOUD_ACCESS_KEY_SECRET={secret} ALIBABA_CLOUD_ACCOUNT_ID={acc}",
        pid = i.pid,
        fc = i.fc_endpoint,
        oss = i.oss_endpoint,
        dom = i.domain_endpoint,
        vpc = i.vpc_endpoint,
        ecs = i.ecs_endpoint,
        nas = i.nas_endpoint,
        ram = i.ram_endpoint,
        sls = i.sls_endpoint,
        acc = i.account_id,
        region = i.region,
        kid = i.access_key_id,
        secret = i.access_key_secret,
        nas_dir = i.nas_dir.display(),
        data = i.data_dir.display(),
        mem_by = i.limits.memory,
        cpu_by = i.limits.cpu,
    )
}

async fn start(ctx: &Ctx, a: LocalStartArgs) -> anyhow::Result<()> {
    let mut cfg = emulator::Config {
        // Absolute: instances are spawned in other directories and bind-mount paths below it.
        data_dir: a
            .data_dir
            .map(|d| absolute_dir(&d))
            .unwrap_or_else(|| local::default_data_dir(&ctx.project.work_dir())),
        port: a.port,
        ..emulator::Config::default()
    };
    if let (Some(id), Some(secret)) = (a.access_key_id, a.access_key_secret) {
        cfg.keys = vec![emulator::AccessKey {
            id,
            secret,
            security_token: None,
        }];
    }
    if let Some(f) = &a.faults {
        cfg.faults = f.parse().map_err(|e| anyhow::anyhow!("--faults: {e}"))?;
    }
    let emu = emulator::Emulator::start(cfg)
        .await
        .context("starting the local emulator")?;
    let info = emu.info().clone();
    warn_isolation(ctx, &info);
    // The emulator's own keys are printed on purpose: they are local, fixed and not secret.
    ctx.out.result(&info, || describe(&info));
    use std::io::Write as _;
    std::io::stdout().flush()?;
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    ctx.out
        .note("stopping: sending /pre-stop to instances, flushing state");
    emu.shutdown().await;
    Ok(())
}
