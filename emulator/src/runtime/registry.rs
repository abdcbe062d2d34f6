//! The registry of running instances: one file per instance under `<data_dir>/instances/`
//! (name = instance id, content = pid, which is also its process group). An emulator killed
//! with SIGKILL cannot stop its instances; the next start, or `fcctl local stop`, reads the
//! registry and kills what is left. A process counts as ours only if its process group is a
//! recorded pid and its environment carries the recorded `FC_INSTANCE_ID` (a random id), so a
//! reused pid is never killed.

use std::path::{Path, PathBuf};

fn dir(data_dir: &Path) -> PathBuf {
    data_dir.join("instances")
}

/// Records a started instance; the returned path is removed when the instance is dropped.
pub fn record(data_dir: &Path, id: &str, pid: u32) -> std::io::Result<PathBuf> {
    let d = dir(data_dir);
    std::fs::create_dir_all(&d)?;
    let p = d.join(id);
    std::fs::write(&p, pid.to_string())?;
    Ok(p)
}

/// Kills every process left by the instances recorded in `data_dir` (SIGKILL: their emulator
/// is gone, nobody waits for a graceful stop) and empties the registry. Returns how many
/// processes were killed. The caller makes sure no emulator runs on `data_dir`.
pub fn reap(data_dir: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir(data_dir)) else {
        return 0;
    };
    let mut recorded: Vec<(i32, String)> = Vec::new();
    for e in entries.flatten() {
        let id = e.file_name().to_string_lossy().into_owned();
        if let Some(pid) = std::fs::read_to_string(e.path())
            .ok()
            .and_then(|s| s.trim().parse::<i32>().ok())
        {
            recorded.push((pid, id));
        }
        let _ = std::fs::remove_file(e.path());
    }
    if recorded.is_empty() {
        return 0;
    }
    let mut killed = 0;
    for (pid, pgid) in processes() {
        let Some((_, id)) = recorded.iter().find(|(p, _)| *p == pgid) else {
            continue;
        };
        let marker = format!("FC_INSTANCE_ID={id}");
        let environ = std::fs::read(format!("/proc/{pid}/environ")).unwrap_or_default();
        if environ.split(|b| *b == 0).any(|v| v == marker.as_bytes()) {
            let target = nix::unistd::Pid::from_raw(pid);
            if nix::sys::signal::kill(target, nix::sys::signal::Signal::SIGKILL).is_ok() {
                killed += 1;
            }
        }
    }
    killed
}

/// (pid, process group) of every process visible in `/proc`.
pub(crate) fn processes() -> Vec<(i32, i32)> {
    let Ok(rd) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    rd.flatten()
        .filter_map(|e| {
            let pid: i32 = e.file_name().to_str()?.parse().ok()?;
            let stat = std::fs::read_to_string(e.path().join("stat")).ok()?;
            Some((pid, pgid_of(&stat)?))
        })
        .collect()
}

/// The process group in a `/proc/<pid>/stat` line: the 3rd field after the `(comm)`, which
/// may itself contain spaces and parentheses.
fn pgid_of(stat: &str) -> Option<i32> {
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(2)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pgid_is_read_after_a_hostile_comm() {
        assert_eq!(pgid_of("42 (a) b) 1 2) S 1 77 77 0"), Some(77));
        assert_eq!(pgid_of("42 (sh) S 1 9 9 0"), Some(9));
        assert_eq!(pgid_of("garbage"), None);
    }

    #[test]
    fn reaps_only_processes_carrying_the_recorded_instance_id() {
        let data = tempfile::tempdir().unwrap();
        let spawn = |id: &str| {
            use std::os::unix::process::CommandExt as _;
            std::process::Command::new("sleep")
                .arg("600")
                .env_clear()
                .env("FC_INSTANCE_ID", id)
                .process_group(0)
                .spawn()
                .unwrap()
        };
        let mut ours = spawn("c-ours");
        let mut stranger = spawn("c-stranger");
        record(data.path(), "c-ours", ours.id()).unwrap();
        // A recorded id whose pid is someone else's: the id does not match, so it survives.
        record(data.path(), "c-gone", stranger.id()).unwrap();
        assert_eq!(reap(data.path()), 1);
        assert!(ours.wait().unwrap().code().is_none(), "killed by a signal");
        assert!(
            stranger.try_wait().unwrap().is_none(),
            "the stranger still runs"
        );
        assert_eq!(std::fs::read_dir(dir(data.path())).unwrap().count(), 0);
        stranger.kill().unwrap();
        stranger.wait().unwrap();
    }
}
