//! Function instances as real processes (FC custom-runtime contract), request routing,
//! on-demand scale-out, idle reaping and the provisioned-instance reconciler.
//!
//! `target` resolves what to run, `spec` decides how (pure), `spawn` starts and stops
//! processes, `pool` hands out instance slots, `proxy` forwards requests, `reconcile` does
//! the housekeeping; this module wires them together.

mod instance;
pub mod limits;
mod output;
mod pool;
mod proxy;
mod reconcile;
mod registry;
mod spawn;
mod spec;
mod target;

pub use instance::Instance;
pub use registry::reap as reap_orphans;
pub use target::{Target, resolve};

use crate::api_error::ApiError;
use crate::config::{Config, Isolation};
use crate::faults::Faults;
use crate::state::Store;
use axum::body::Body;
use http::{Request, Response};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use pool::{Lease, Pool, Pools, Step};
use proxy::{Account, proxy};
use reconcile::{ProvisionErrors, Reconciler};
use spawn::Spawner;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};
use target::pool_version;

pub struct Runtime {
    pools: Arc<Pools>,
    spawner: Arc<Spawner>,
    reconciler: Reconciler,
    errors: Arc<ProvisionErrors>,
    faults: Faults,
    max_instances_per_function: usize,
    /// Wakes the housekeeping loop early (provision config or alias changed).
    pub wake: tokio::sync::Notify,
}

/// Whether `program args` runs and succeeds here (a probe for an isolation tool).
async fn works(program: &str, args: &[&str]) -> bool {
    tokio::process::Command::new(program)
        .args(args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .await
        .map(|s| s.success())
        .unwrap_or(false)
}

impl Runtime {
    pub async fn new(
        cfg: &Config,
        data_dir: &Path,
        nas_dir: &Path,
        sls: Arc<crate::sls_store::Store>,
    ) -> Runtime {
        let use_ns = match cfg.isolation {
            Isolation::PathMap => false,
            Isolation::Namespace => true,
            Isolation::Auto => {
                works("unshare", &["--mount", "--propagation", "private", "true"]).await
            }
        };
        let pdeathsig = works("setpriv", &["--pdeathsig", "KILL", "true"]).await;
        let limiter = Arc::new(limits::Limiter::probe(cfg.limits));
        let report = limiter.report();
        tracing::info!(
            memory = %report.memory,
            cpu = %report.cpu,
            "instance limits: memory by {}, CPU quota by {}",
            report.memory,
            report.cpu
        );
        for w in &report.warnings {
            tracing::warn!("instance limits: {w}");
        }
        tracing::info!(
            namespaces = use_ns,
            "instance isolation: {}",
            if use_ns {
                "mount namespace"
            } else {
                "path mapping"
            }
        );
        let mut conn = HttpConnector::new();
        conn.set_nodelay(true);
        let client = Client::builder(hyper_util::rt::TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .build(conn);
        let pools = Arc::new(Pools::default());
        let spawner = Arc::new(Spawner {
            data_dir: data_dir.to_path_buf(),
            nas_dir: nas_dir.to_path_buf(),
            namespaces: use_ns,
            pdeathsig,
            inherited: spec::INHERITED_ENV
                .iter()
                .filter_map(|k| std::env::var(k).ok().map(|v| (k.to_string(), v)))
                .collect(),
            region: cfg.region.clone(),
            account_id: cfg.account_id.clone(),
            start_timeout: cfg.instance_start_timeout,
            client,
            sls,
            limiter,
        });
        let errors = Arc::new(ProvisionErrors::default());
        let rt = Runtime {
            reconciler: Reconciler {
                pools: pools.clone(),
                spawner: spawner.clone(),
                errors: errors.clone(),
                idle_timeout: cfg.idle_timeout,
                max_instances_per_function: cfg.max_instances_per_function,
            },
            pools,
            spawner,
            errors,
            faults: cfg.faults.clone(),
            max_instances_per_function: cfg.max_instances_per_function,
            wake: tokio::sync::Notify::new(),
        };
        for w in rt.isolation().warnings {
            tracing::warn!("instance isolation: {w}");
        }
        rt
    }

    pub fn isolation(&self) -> crate::config::InstanceIsolation {
        let mut warnings = Vec::new();
        if !self.spawner.namespaces {
            warnings.push(
                "instances run without a private mount namespace (`unshare --mount` needs root or CAP_SYS_ADMIN here, or isolation is set to path mapping): an instance can read the emulator's data dir, including emulator.json with the emulator's access key secret and other functions' code, and write into its own code dir".to_string(),
            );
        }
        if !self.spawner.pdeathsig {
            warnings.push(
                "`setpriv --pdeathsig` (util-linux) is unavailable: instances outlive an emulator killed with SIGKILL until its next start or `fcctl local stop` reaps them".to_string(),
            );
        }
        crate::config::InstanceIsolation {
            mount_namespace: self.spawner.namespaces,
            die_with_emulator: self.spawner.pdeathsig,
            warnings,
        }
    }

    /// How instances are held to `memorySize` and `cpu` here.
    pub fn limits(&self) -> limits::InstanceLimits {
        self.spawner.limiter.report()
    }

    /// Finds (or starts) an instance with a free slot for `t`.
    async fn acquire(&self, t: &Target) -> Result<Lease, ApiError> {
        let pool = self.pools.get(&t.function, &pool_version(t));
        let disable_ondemand = t.config["disableOndemand"].as_bool().unwrap_or(false);
        let timeout = Duration::from_secs(t.config["timeout"].as_u64().unwrap_or(3).max(1))
            + self.spawner.start_timeout;
        let deadline = Instant::now() + timeout;
        let cap = self.max_instances_per_function;
        loop {
            let notified = pool.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            match pool.next_step(&self.pools.counts, &t.function, cap, disable_ondemand) {
                Step::Got(inst) => return Ok(Lease::new(inst, pool.clone(), None)),
                Step::NoInstanceAllowed => {
                    return Err(ApiError::new(
                        429,
                        "ResourceExhausted",
                        "on-demand instances are disabled for this function and no provisioned instance is available",
                    ));
                }
                Step::Start => return self.start_on_demand(&pool, t).await,
                Step::Wait => {}
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() || tokio::time::timeout(left, notified).await.is_err() {
                return Err(ApiError::new(
                    429,
                    "ResourceExhausted",
                    format!(
                        "Reserve resource exceeded limit: no instance slot for function '{}' became free in {} s (cap {} instances)",
                        t.function,
                        timeout.as_secs(),
                        cap
                    ),
                ));
            }
        }
    }

    /// Starts an on-demand instance for a start slot `next_step` reserved, and leases it.
    async fn start_on_demand(&self, pool: &Arc<Pool>, t: &Target) -> Result<Lease, ApiError> {
        let r = self.spawner.start(t, None).await;
        {
            let mut g = pool.inner.lock().unwrap();
            g.starting_ondemand -= 1;
            if let Ok((inst, _)) = &r {
                inst.inflight.fetch_add(1, Ordering::AcqRel);
                g.instances.push(inst.clone());
            }
        }
        pool.notify.notify_waiters();
        match r {
            Ok((inst, cold)) => Ok(Lease::new(inst, pool.clone(), Some(cold))),
            Err(e) => {
                self.pools.counts.release(&t.function);
                Err(e)
            }
        }
    }

    /// Forwards a request to an instance of `t` and returns the response (headers added;
    /// with `tail`, `x-fc-log-result`: the request's last 4 KB of log, base64).
    pub async fn forward(
        &self,
        t: &Target,
        req: Request<Body>,
        request_id: &str,
        tail: bool,
    ) -> Result<Response<Body>, ApiError> {
        let lease = self.acquire(t).await?;
        if self.faults.crash_now() {
            lease.inst.kill_now();
            return Err(ApiError::new(
                502,
                "CAExited",
                "function instance crashed (injected fault)",
            ));
        }
        let account = Account {
            region: &self.spawner.region,
            account_id: &self.spawner.account_id,
        };
        proxy(
            &self.spawner.client,
            lease,
            t,
            req,
            request_id,
            &account,
            tail,
        )
        .await
    }

    pub fn instances(&self, function: &str) -> Vec<Arc<Instance>> {
        self.pools.instances(function)
    }

    /// Ready provisioned instances for (function, qualifier).
    pub fn provisioned_current(&self, function: &str, qualifier: &str) -> usize {
        self.instances(function)
            .iter()
            .filter(|i| i.provisioned.as_deref() == Some(qualifier) && i.is_ready())
            .count()
    }

    pub fn provision_error(&self, function: &str, qualifier: &str) -> String {
        self.errors.get(function, qualifier)
    }

    pub async fn stop_all(&self) {
        for i in self.pools.take_all() {
            self.spawner.stop(i).await;
        }
        self.spawner.limiter.shutdown();
    }
}

/// The housekeeping loop: a pass every 250 ms, or sooner when woken.
pub async fn background(
    runtime: Arc<Runtime>,
    store: Arc<Store>,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    loop {
        runtime.reconciler.tick(&store).await;
        tokio::select! {
            _ = shutdown.wait_for(|v| *v) => break,
            _ = runtime.wake.notified() => {}
            _ = tokio::time::sleep(Duration::from_millis(250)) => {}
        }
    }
}
