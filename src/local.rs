//! This project's local emulator: find it, start it detached, stop it.
//!
//! The emulator writes `emulator.json` (its endpoints, keys and pid) into its data dir while it
//! runs and removes it on clean shutdown; that file is how `--local` commands find it.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};

pub use emulator::Info;

/// The default data dir of a project's emulator.
pub fn default_data_dir(work_dir: &Path) -> PathBuf {
    work_dir.join("local")
}

/// The running emulator recorded in `data_dir`, if its process is alive and answering.
pub async fn find_running(data_dir: &Path) -> Option<Info> {
    let bytes = std::fs::read(data_dir.join("emulator.json")).ok()?;
    let info: Info = serde_json::from_slice(&bytes).ok()?;
    if !Path::new(&format!("/proc/{}", info.pid)).exists() {
        return None;
    }
    let addr = info.fc_endpoint.trim_start_matches("http://").to_string();
    let connect = tokio::net::TcpStream::connect(addr);
    match tokio::time::timeout(Duration::from_secs(2), connect).await {
        Ok(Ok(_)) => Some(info),
        _ => None,
    }
}

/// Returns the running emulator for `data_dir`, starting a detached one if none runs; `true`
/// when this call started it. Concurrent callers (two `up --local` at once) serialise on a lock
/// file, so exactly one starts it and the others join it.
pub async fn ensure_running(data_dir: &Path, faults: Option<&str>) -> anyhow::Result<(Info, bool)> {
    if let Some(info) = find_running(data_dir).await {
        return Ok((info, false));
    }
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("creating {}", data_dir.display()))?;
    let lock_path = data_dir.join("start.lock");
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .with_context(|| format!("opening {}", lock_path.display()))?;
    // Held until this function returns (the emulator is ready or failed): released on drop.
    let lock = tokio::task::spawn_blocking(move || lock.lock().map(|()| lock))
        .await
        .context("lock task panicked")?
        .with_context(|| format!("locking {}", lock_path.display()))?;
    if let Some(info) = find_running(data_dir).await {
        return Ok((info, false));
    }
    let started = start_detached(data_dir, faults).await;
    drop(lock);
    started.map(|info| (info, true))
}

async fn start_detached(data_dir: &Path, faults: Option<&str>) -> anyhow::Result<Info> {
    let exe = std::env::current_exe().context("locating the fcctl binary")?;
    let log_path = data_dir.join("emulator.log");
    let log = std::fs::File::create(&log_path)
        .with_context(|| format!("creating {}", log_path.display()))?;
    let mut cmd = std::process::Command::new(exe);
    cmd.args(["local", "start", "--json", "--data-dir"])
        .arg(data_dir);
    if let Some(f) = faults {
        cmd.args(["--faults", f]);
    }
    // Its own process group: Ctrl-C in this terminal must not kill a detached emulator.
    use std::os::unix::process::CommandExt as _;
    cmd.process_group(0)
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log);
    let mut child = cmd.spawn().context("starting the emulator")?;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(info) = find_running(data_dir).await {
            return Ok(info);
        }
        if let Some(status) = child.try_wait()? {
            let log = std::fs::read_to_string(&log_path).unwrap_or_default();
            bail!(
                "the emulator exited ({status}) before it was ready:\n{}",
                log.trim()
            );
        }
        if Instant::now() > deadline {
            bail!(
                "the emulator did not become ready within 30 s; see {}",
                log_path.display()
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// What `stop` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stopped {
    /// An emulator ran and was stopped.
    pub emulator: bool,
    /// Instance processes left by an emulator that had been killed, now killed.
    pub orphans: usize,
}

/// Sends SIGTERM to the emulator in `data_dir` and waits for it to exit, then kills any
/// instance process a killed emulator left behind, so nothing of it keeps running.
pub async fn stop(data_dir: &Path) -> anyhow::Result<Stopped> {
    let emulator = stop_emulator(data_dir).await?;
    let orphans = emulator::reap_orphans(data_dir)
        .with_context(|| format!("stopping instances left in {}", data_dir.display()))?;
    Ok(Stopped { emulator, orphans })
}

/// SIGTERM to the running emulator and wait; `false` if none ran.
async fn stop_emulator(data_dir: &Path) -> anyhow::Result<bool> {
    let Some(info) = find_running(data_dir).await else {
        return Ok(false);
    };
    let status = std::process::Command::new("kill")
        .arg(info.pid.to_string())
        .status()
        .context("running kill")?;
    if !status.success() {
        bail!("could not signal emulator pid {}", info.pid);
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    while Path::new(&format!("/proc/{}", info.pid)).exists() && Instant::now() < deadline {
        // A zombie (exited, not reaped) has no cmdline; treat it as gone.
        let cmdline = std::fs::read(format!("/proc/{}/cmdline", info.pid)).unwrap_or_default();
        if cmdline.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(true)
}
