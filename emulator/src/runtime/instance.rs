//! One running function instance (a process group listening on its port).

use crate::runtime::limits::Cgroup;
use crate::runtime::output::Capture;
use crate::runtime::spec::InstanceSpec;
use crate::runtime::target::{Target, pool_version};
use crate::util::now_ms;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long a cold start took, reported in `x-fcctl-*` headers.
pub struct ColdStart {
    pub start_ms: u64,
    pub init_ms: Option<u64>,
}

pub struct Instance {
    pub id: String,
    pub port: u16,
    pub function: String,
    pub version: String,
    pub pool_version: String,
    pub qualifier: String,
    /// The qualifier this instance is provisioned for; None for on-demand instances.
    pub provisioned: Option<String>,
    pub concurrency: usize,
    pub created_ms: u64,
    pub inflight: AtomicUsize,
    pub last_used: Mutex<Instant>,
    pub child: Mutex<Option<tokio::process::Child>>,
    pub pid: Option<u32>,
    pub dead: AtomicBool,
    /// Set once the port accepts connections and the initializer (if any) succeeded.
    pub ready: AtomicBool,
    pub pre_stop: Option<Duration>,
    /// This instance's entry in the instance registry, removed when the instance is dropped.
    registry: Option<PathBuf>,
    /// Its stdout and stderr, line by line into its log file and logstore.
    pub capture: Arc<Capture>,
    /// Its memory and CPU limits, and the memory it used.
    pub limits: Arc<Cgroup>,
}

impl Instance {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        id: String,
        port: u16,
        t: &Target,
        provisioned: Option<String>,
        spec: &InstanceSpec,
        child: tokio::process::Child,
        registry: Option<PathBuf>,
        capture: Arc<Capture>,
        limits: Arc<Cgroup>,
    ) -> Instance {
        Instance {
            id,
            port,
            function: t.function.clone(),
            version: t.version.clone(),
            pool_version: pool_version(t),
            qualifier: t.qualifier.clone(),
            provisioned,
            concurrency: spec.concurrency,
            created_ms: now_ms(),
            inflight: AtomicUsize::new(0),
            last_used: Mutex::new(Instant::now()),
            pid: child.id(),
            child: Mutex::new(Some(child)),
            dead: AtomicBool::new(false),
            ready: AtomicBool::new(false),
            pre_stop: spec.pre_stop,
            registry,
            capture,
            limits,
        }
    }

    /// Whether the instance was killed for exceeding its memory.
    pub fn out_of_memory(&self) -> bool {
        self.limits.out_of_memory()
    }

    pub fn has_exited(&self) -> bool {
        if self.dead.load(Ordering::Relaxed) {
            return true;
        }
        let mut g = self.child.lock().unwrap();
        match g.as_mut().map(|c| c.try_wait()) {
            Some(Ok(Some(_))) | None => {
                self.dead.store(true, Ordering::Relaxed);
                true
            }
            _ => false,
        }
    }

    pub fn kill_now(&self) {
        self.dead.store(true, Ordering::Relaxed);
        if let Some(pid) = self.pid {
            let _ = nix::sys::signal::killpg(
                nix::unistd::Pid::from_raw(pid as i32),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
    }

    pub fn is_alive(&self) -> bool {
        !self.dead.load(Ordering::Relaxed)
    }

    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }

    pub fn inflight(&self) -> usize {
        self.inflight.load(Ordering::Acquire)
    }
}

impl Drop for Instance {
    /// The child is killed on drop (`kill_on_drop`), so its registry entry goes too.
    fn drop(&mut self) {
        if let Some(p) = &self.registry {
            let _ = std::fs::remove_file(p);
        }
        self.limits.remove();
    }
}
