//! Each instance runs within its function's `memorySize` and `cpu`, as on FC: a memory limit
//! whose breach kills the instance (OOM) and a CPU quota.
//!
//! The mechanism is found by probing at start, best first: cgroup v2 (`memory.max`, `cpu.max`)
//! where the emulator's cgroup delegates those controllers; cgroup v1 (`memory.limit_in_bytes`,
//! `cpu.cfs_quota_us`) where its hierarchies are writable; else an RSS watchdog that polls the
//! instance's processes and kills the instance over its memory, with no CPU quota. The choice
//! is reported (`Info::limits`, a log line) with what it cannot do.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// CFS period for CPU quotas (the kernel's default, 100 ms).
const CPU_PERIOD_US: u64 = 100_000;

pub use crate::config::{InstanceLimits, LimitsChoice};

#[derive(Debug, Clone, PartialEq, Eq)]
enum Mechanism {
    /// The emulator's own cgroup under it, with `memory` and `cpu` delegated.
    V2 {
        parent: PathBuf,
    },
    /// The emulator's directories in the `memory` and `cpu` hierarchies.
    V1 {
        memory: PathBuf,
        cpu: PathBuf,
    },
    Watchdog,
}

/// The emulator's limit mechanism; owns its cgroup directories (removed by [`Limiter::shutdown`]).
#[derive(Debug)]
pub struct Limiter {
    mech: Mechanism,
}

impl Limiter {
    /// Finds the best mechanism and makes this emulator's cgroup directories for it.
    pub fn probe(choice: LimitsChoice) -> Limiter {
        // Unique per emulator: several can run in one process (the tests do).
        let name = format!(
            "fcctl-emulator-{}-{}",
            std::process::id(),
            &uuid::Uuid::new_v4().simple().to_string()[..8]
        );
        let mech = match choice {
            LimitsChoice::Watchdog => Mechanism::Watchdog,
            LimitsChoice::Auto => probe_v2(&name)
                .or_else(|| probe_v1(&name))
                .unwrap_or(Mechanism::Watchdog),
        };
        Limiter { mech }
    }

    pub fn report(&self) -> InstanceLimits {
        match &self.mech {
            Mechanism::V2 { .. } => InstanceLimits {
                memory: "cgroup-v2".into(),
                cpu: "cgroup-v2".into(),
                warnings: Vec::new(),
            },
            Mechanism::V1 { .. } => InstanceLimits {
                memory: "cgroup-v1".into(),
                cpu: "cgroup-v1".into(),
                warnings: Vec::new(),
            },
            Mechanism::Watchdog => InstanceLimits {
                memory: "rss-watchdog".into(),
                cpu: "none".into(),
                warnings: vec![
                    "no writable cgroup (v2 with memory+cpu delegated, or v1): instances get no CPU quota (a 0.5-vCPU function runs as fast as the machine allows), and memory is enforced by polling the instance's RSS every 20 ms, so a fast allocation can overshoot memorySize briefly before the instance is killed".into(),
                ],
            },
        }
    }

    /// Makes the cgroup of instance `id` with its limits. `memory_mb` and `cpu` are the
    /// function's `memorySize` and `cpu`.
    pub fn prepare(&self, id: &str, memory_mb: u64, cpu: f64) -> std::io::Result<Cgroup> {
        let memory_bytes = memory_mb * 1024 * 1024;
        let quota_us = ((cpu * CPU_PERIOD_US as f64).round() as u64).max(1000);
        let dirs = match &self.mech {
            Mechanism::Watchdog => Vec::new(),
            Mechanism::V2 { parent } => {
                let d = parent.join(id);
                make_dir(&d)?;
                let r = (|| {
                    write(&d, "memory.max", &memory_bytes.to_string())?;
                    // Best effort: without swap accounting there is nothing to limit.
                    let _ = write(&d, "memory.swap.max", "0");
                    write(&d, "cpu.max", &format!("{quota_us} {CPU_PERIOD_US}"))
                })();
                if let Err(e) = r {
                    let _ = std::fs::remove_dir(&d);
                    return Err(e);
                }
                vec![d]
            }
            Mechanism::V1 { memory, cpu } => {
                let m = memory.join(id);
                let c = cpu.join(id);
                make_dir(&m)?;
                if let Err(e) = make_dir(&c) {
                    let _ = std::fs::remove_dir(&m);
                    return Err(e);
                }
                let r = (|| {
                    write(&m, "memory.limit_in_bytes", &memory_bytes.to_string())?;
                    // memory+swap at the same bound, so the limit cannot be dodged by swapping.
                    let _ = write(&m, "memory.memsw.limit_in_bytes", &memory_bytes.to_string());
                    write(&c, "cpu.cfs_period_us", &CPU_PERIOD_US.to_string())?;
                    write(&c, "cpu.cfs_quota_us", &quota_us.to_string())
                })();
                if let Err(e) = r {
                    let _ = std::fs::remove_dir(&m);
                    let _ = std::fs::remove_dir(&c);
                    return Err(e);
                }
                vec![m, c]
            }
        };
        Ok(Cgroup {
            v2: matches!(self.mech, Mechanism::V2 { .. }),
            dirs,
            memory_bytes,
            watchdog_peak: AtomicU64::new(0),
            oom: AtomicBool::new(false),
        })
    }

    /// Removes this emulator's cgroup directories (instances are stopped by then).
    pub fn shutdown(&self) {
        match &self.mech {
            Mechanism::V2 { parent } => remove_tree(parent),
            Mechanism::V1 { memory, cpu } => {
                remove_tree(memory);
                remove_tree(cpu);
            }
            Mechanism::Watchdog => {}
        }
    }
}

/// One instance's limits: its cgroup directories (none with the watchdog), the memory bound
/// and what was observed.
#[derive(Debug)]
pub struct Cgroup {
    v2: bool,
    dirs: Vec<PathBuf>,
    pub memory_bytes: u64,
    watchdog_peak: AtomicU64,
    oom: AtomicBool,
}

/// What [`Cgroup::check`] found.
#[derive(Debug, PartialEq, Eq)]
pub enum Check {
    Ok,
    /// Over the memory limit (watchdog) or killed by the kernel's OOM killer (cgroup).
    OutOfMemory,
}

impl Cgroup {
    /// The `cgroup.procs` files an instance writes its pid into to join its cgroups.
    pub fn procs_files(&self) -> Vec<PathBuf> {
        self.dirs.iter().map(|d| d.join("cgroup.procs")).collect()
    }

    pub fn is_watchdog(&self) -> bool {
        self.dirs.is_empty()
    }

    /// Samples the instance (its process group is `pgid`): the watchdog sums its processes'
    /// RSS and records the peak; a cgroup reports whether the kernel killed anything for OOM.
    pub fn check(&self, pgid: i32) -> Check {
        if self.oom.load(Ordering::Acquire) {
            return Check::OutOfMemory;
        }
        let over = if self.is_watchdog() {
            let rss = group_rss(pgid);
            self.watchdog_peak.fetch_max(rss, Ordering::AcqRel);
            rss > self.memory_bytes
        } else {
            self.oom_kills() > 0
        };
        if over {
            self.oom.store(true, Ordering::Release);
            Check::OutOfMemory
        } else {
            Check::Ok
        }
    }

    /// Whether the instance ran out of memory (reads the cgroup's counter, so it is current
    /// even before the next poll).
    pub fn out_of_memory(&self) -> bool {
        self.oom.load(Ordering::Acquire) || (!self.is_watchdog() && self.oom_kills() > 0)
    }

    fn oom_kills(&self) -> u64 {
        let (file, key) = if self.v2 {
            ("memory.events", "oom_kill")
        } else {
            ("memory.oom_control", "oom_kill")
        };
        std::fs::read_to_string(self.dirs[0].join(file))
            .ok()
            .and_then(|s| stat_value(&s, key))
            .unwrap_or(0)
    }

    /// Peak memory of the instance in bytes: the cgroup's high-water mark (v1
    /// `memory.max_usage_in_bytes`, v2 `memory.peak`; both count page cache too), else the
    /// watchdog's highest RSS sample.
    pub fn peak_bytes(&self) -> u64 {
        let file = if self.v2 {
            "memory.peak"
        } else {
            "memory.max_usage_in_bytes"
        };
        self.dirs
            .first()
            .and_then(|d| std::fs::read_to_string(d.join(file)).ok())
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or_else(|| self.watchdog_peak.load(Ordering::Acquire))
    }

    /// Removes the instance's cgroup directories; the kernel refuses while a process is left,
    /// so this retries briefly on a thread of its own.
    pub fn remove(&self) {
        if self.dirs.is_empty() {
            return;
        }
        let mut dirs = self.dirs.clone();
        std::thread::spawn(move || {
            for _ in 0..100 {
                dirs.retain(|d| std::fs::remove_dir(d).is_err() && d.exists());
                if dirs.is_empty() {
                    return;
                }
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            tracing::warn!(dirs = ?dirs, "instance cgroups still busy; left in place");
        });
    }
}

/// `key value` lines (`memory.events`, `memory.oom_control`, `cpu.stat`).
fn stat_value(s: &str, key: &str) -> Option<u64> {
    s.lines().find_map(|l| {
        let (k, v) = l.split_once(' ')?;
        (k == key).then(|| v.trim().parse().ok())?
    })
}

fn write(dir: &Path, file: &str, value: &str) -> std::io::Result<()> {
    std::fs::write(dir.join(file), value)
        .map_err(|e| std::io::Error::new(e.kind(), format!("{}/{file}: {e}", dir.display())))
}

fn make_dir(d: &Path) -> std::io::Result<()> {
    match std::fs::create_dir(d) {
        Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => Err(e),
        _ => Ok(()),
    }
}

/// Removes a cgroup directory and its children, deepest first (cgroupfs refuses non-empty
/// directories, and plain files cannot be unlinked there).
fn remove_tree(d: &Path) {
    if let Ok(rd) = std::fs::read_dir(d) {
        for e in rd.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                remove_tree(&e.path());
            }
        }
    }
    let _ = std::fs::remove_dir(d);
}

/// Removes the cgroup directories of emulators that are gone (killed before their shutdown);
/// their instances were killed with them (`setpriv --pdeathsig`) or by the registry's reaper,
/// and a directory still holding a process is refused by the kernel, so nothing live is lost.
fn reap_stale(base: &Path) {
    let Ok(rd) = std::fs::read_dir(base) else {
        return;
    };
    for e in rd.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(pid) = name
            .strip_prefix("fcctl-emulator-")
            .and_then(|r| r.split('-').next())
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        if !Path::new(&format!("/proc/{pid}")).exists() {
            remove_tree(&e.path());
        }
    }
}

/// This process's cgroup in the v1 hierarchy `controller` or (`None`) the v2 one, from
/// `/proc/self/cgroup`.
fn own_cgroup(controller: Option<&str>) -> Option<String> {
    let s = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    s.lines().find_map(|l| {
        let mut it = l.splitn(3, ':');
        let (_, ctrls, path) = (it.next()?, it.next()?, it.next()?);
        let hit = match controller {
            None => ctrls.is_empty(),
            Some(c) => ctrls.split(',').any(|x| x == c),
        };
        hit.then(|| path.to_string())
    })
}

/// Mount points of cgroup filesystems: (v2 root, v1 controller → root).
fn cgroup_mounts() -> (Option<PathBuf>, Vec<(String, PathBuf)>) {
    let mut v2 = None;
    let mut v1 = Vec::new();
    let Ok(m) = std::fs::read_to_string("/proc/self/mounts") else {
        return (v2, v1);
    };
    for l in m.lines() {
        let f: Vec<&str> = l.split_whitespace().collect();
        if f.len() < 4 {
            continue;
        }
        match f[2] {
            "cgroup2" => v2 = v2.or(Some(PathBuf::from(f[1]))),
            "cgroup" => {
                for o in f[3].split(',') {
                    if o == "memory" || o == "cpu" {
                        v1.push((o.to_string(), PathBuf::from(f[1])));
                    }
                }
            }
            _ => {}
        }
    }
    (v2, v1)
}

/// cgroup v2: a child of the emulator's own cgroup, usable when `memory` and `cpu` can be
/// enabled for its children. A process may not sit in a cgroup whose controllers are enabled
/// for children ("no internal processes"), so this only works where the emulator's cgroup was
/// delegated empty of other processes — or is the root.
fn probe_v2(name: &str) -> Option<Mechanism> {
    let (root, _) = cgroup_mounts();
    let root = root?;
    let own = own_cgroup(None)?;
    let base = root.join(own.trim_start_matches('/'));
    let controllers = std::fs::read_to_string(base.join("cgroup.controllers")).ok()?;
    let has = |c: &str| controllers.split_whitespace().any(|x| x == c);
    if !has("memory") || !has("cpu") {
        return None;
    }
    reap_stale(&base);
    let parent = base.join(name);
    make_dir(&parent).ok()?;
    let ok = std::fs::write(base.join("cgroup.subtree_control"), "+memory +cpu").is_ok()
        && std::fs::write(parent.join("cgroup.subtree_control"), "+memory +cpu").is_ok()
        && trial(&Mechanism::V2 {
            parent: parent.clone(),
        });
    if ok {
        Some(Mechanism::V2 { parent })
    } else {
        remove_tree(&parent);
        None
    }
}

/// cgroup v1: a directory in the `memory` and `cpu` hierarchies, under the emulator's own
/// cgroup in each.
fn probe_v1(name: &str) -> Option<Mechanism> {
    let (_, v1) = cgroup_mounts();
    let dir = |c: &str| -> Option<PathBuf> {
        let root = &v1.iter().find(|(k, _)| k == c)?.1;
        let own = own_cgroup(Some(c)).unwrap_or_default();
        let base = root.join(own.trim_start_matches('/'));
        reap_stale(&base);
        Some(base.join(name))
    };
    let memory = dir("memory")?;
    let cpu = dir("cpu")?;
    if make_dir(&memory).is_err() || make_dir(&cpu).is_err() {
        let _ = std::fs::remove_dir(&memory);
        return None;
    }
    let m = Mechanism::V1 { memory, cpu };
    if trial(&m) {
        Some(m)
    } else {
        Limiter { mech: m }.shutdown();
        None
    }
}

/// Whether an instance cgroup can be made and limited under `m`.
fn trial(m: &Mechanism) -> bool {
    let l = Limiter { mech: m.clone() };
    match l.prepare("probe", 128, 0.5) {
        Ok(cg) => {
            for d in &cg.dirs {
                let _ = std::fs::remove_dir(d);
            }
            true
        }
        Err(e) => {
            tracing::debug!("instance limits: {m:?} unusable: {e}");
            false
        }
    }
}

/// Sum of VmRSS (bytes) of the processes in process group `pgid`.
fn group_rss(pgid: i32) -> u64 {
    crate::runtime::registry::processes()
        .into_iter()
        .filter(|(_, g)| *g == pgid)
        .filter_map(|(pid, _)| {
            let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
            let kb: u64 = s
                .lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))?
                .trim()
                .trim_end_matches("kB")
                .trim()
                .parse()
                .ok()?;
            Some(kb * 1024)
        })
        .sum()
}

/// CPU time (ms) the instance's main process and its waited-for children used, from
/// `/proc/<pid>/stat` (utime, stime, cutime, cstime at 100 ticks per second).
pub fn cpu_ms(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // After the comm: state is field 0, utime field 11 … cstime field 14.
    let ticks: u64 = f
        .get(11..15)?
        .iter()
        .filter_map(|x| x.parse::<u64>().ok())
        .sum();
    Some(ticks * 10)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_values_are_read_by_key() {
        let oom_control = "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n";
        assert_eq!(stat_value(oom_control, "oom_kill"), Some(2));
        assert_eq!(
            stat_value("low 0\noom 1\noom_kill 0\n", "oom_kill"),
            Some(0)
        );
        assert_eq!(stat_value("oom 1\n", "oom_kill"), None);
    }

    #[test]
    fn the_watchdog_kills_over_the_limit_and_keeps_the_peak() {
        use std::os::unix::process::CommandExt as _;
        let cg = Limiter::probe(LimitsChoice::Watchdog)
            .prepare("t", 1, 1.0)
            .unwrap();
        // A shell holding a few MB is over a 1 MB limit.
        let mut child = std::process::Command::new("sh")
            .args(["-c", "read x"])
            .stdin(std::process::Stdio::piped())
            .process_group(0)
            .spawn()
            .unwrap();
        let pgid = child.id() as i32;
        // The child joins its group and execs on its own time: poll as the watchdog does.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while cg.check(pgid) != Check::OutOfMemory && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        assert_eq!(cg.check(pgid), Check::OutOfMemory);
        assert!(cg.out_of_memory());
        assert!(cg.peak_bytes() > 1024 * 1024, "{}", cg.peak_bytes());
        child.kill().unwrap();
        child.wait().unwrap();
    }

    #[test]
    fn cpu_time_is_read_from_proc() {
        assert!(cpu_ms(std::process::id()).is_some());
    }
}
