//! `fcctl-emulator`: run the local FC3 + OSS + NAS emulator in the foreground.
//!
//! Flags: `--port P --data-dir D [--access-key-id ID --access-key-secret S]
//! [--security-token T] [--faults SPEC] [--max-instances N] [--idle-timeout-secs S] [--json]`.
//! Once ready it prints one line (JSON `Info` with `--json`), then serves until
//! SIGINT/SIGTERM and shuts down cleanly (instances get `/pre-stop`, state is flushed).

use anyhow::{Context as _, bail};
use emulator::{AccessKey, Config, Emulator, Faults};
use std::time::Duration;

fn usage() -> &'static str {
    "usage: fcctl-emulator [--port P] [--data-dir D] [--access-key-id ID --access-key-secret S] \
     [--security-token T] [--faults error_rate=0.1,latency_ms=20,drop_rate=0.01,crash_rate=0] \
     [--max-instances N] [--idle-timeout-secs S] [--json]"
}

fn parse_args() -> anyhow::Result<(Config, bool)> {
    let mut cfg = Config::default();
    let mut json = false;
    let mut ak: Option<String> = None;
    let mut sk: Option<String> = None;
    let mut token: Option<String> = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let (flag, inline) = match a.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_string(), Some(v.to_string())),
            _ => (a.clone(), None),
        };
        let mut val = |name: &str| -> anyhow::Result<String> {
            match inline.clone() {
                Some(v) => Ok(v),
                None => args
                    .next()
                    .with_context(|| format!("{name} needs a value\n{}", usage())),
            }
        };
        match flag.as_str() {
            "--port" => cfg.port = val("--port")?.parse().context("--port must be a number")?,
            "--data-dir" => cfg.data_dir = val("--data-dir")?.into(),
            "--access-key-id" => ak = Some(val("--access-key-id")?),
            "--access-key-secret" => sk = Some(val("--access-key-secret")?),
            "--security-token" => token = Some(val("--security-token")?),
            "--faults" => cfg.faults = val("--faults")?.parse::<Faults>()?,
            "--max-instances" => {
                cfg.max_instances_per_function = val("--max-instances")?.parse()?
            }
            "--idle-timeout-secs" => {
                cfg.idle_timeout = Duration::from_secs(val("--idle-timeout-secs")?.parse()?)
            }
            "--json" => json = true,
            "-h" | "--help" => {
                println!("{}", usage());
                std::process::exit(0);
            }
            other => bail!("unknown argument `{other}`\n{}", usage()),
        }
    }
    match (ak, sk) {
        (Some(id), Some(secret)) => {
            cfg.keys = vec![AccessKey {
                id,
                secret,
                security_token: token,
            }];
        }
        (None, None) => {}
        _ => bail!("--access-key-id and --access-key-secret must be given together"),
    }
    Ok((cfg, json))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let (cfg, json) = parse_args()?;
    let emu = Emulator::start(cfg)
        .await
        .context("starting the emulator")?;
    let info = emu.info().clone();
    if json {
        println!("{}", serde_json::to_string(&info)?);
    } else {
        println!(
            "fcctl emulator ready\n  FC endpoint:     {}\n  OSS endpoint:    {}\n  custom domains:  {} (send Host: <domain>)\n  account id:      {}\n  region:          {}\n  access key id:   {}\n  access secret:   {}\n  NAS dir:         {}\n  data dir:        {}",
            info.fc_endpoint,
            info.oss_endpoint,
            info.domain_endpoint,
            info.account_id,
            info.region,
            info.access_key_id,
            info.access_key_secret,
            info.nas_dir.display(),
            info.data_dir.display()
        );
    }
    use std::io::Write as _;
    std::io::stdout().flush()?;
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    emu.shutdown().await;
    Ok(())
}
