//! Local FC3 + OSS + NAS emulator.
//!
//! Module map. Each module uses only modules listed above it, so there are no import
//! cycles; within `runtime`, `fc` and `oss` the submodules never use their `mod.rs`.
//! - [`sign`]: independent ACS3-HMAC-SHA256 / OSS V1 / OSS V4 signature code (verify + sign).
//! - `util`: CRC-64, timestamps, request ids, crash-safe writes, free ports, shell quoting.
//! - `error`: start-up and persistence errors; `api_error`: the error every API answers
//!   with, rendered as FC JSON or OSS XML.
//! - `faults`: fault injection; `config`: [`Config`] and the reported [`Info`].
//! - `auth`: request authentication against the configured key pairs (skew, nonce, STS).
//! - `infra`: the persisted model of the RPC products (VPCs, vSwitches, security groups, NAS
//!   file systems and mount targets, RAM roles): data, tag filters, time-driven statuses.
//! - `state`: the persisted control-plane model (functions, versions, aliases, triggers,
//!   provision configs, custom domains, and `infra`), JSON on disk, crash-safe writes.
//! - `runtime`: function instances as real processes (custom-runtime contract): `target`
//!   (qualifier resolution), `spec` (what an instance runs, pure), `spawn`, `instance`,
//!   `pool` (slots, scale-out cap), `proxy`, `reconcile` (idle reaping, provisioned instances),
//!   `registry` (instance pids on disk, reaped after a killed emulator).
//! - `sls_store`: SLS projects, logstores, indexes (JSON on disk, crash-safe writes) and
//!   logs (segment files, a size bound per logstore, oldest dropped first);
//!   `Ctx::sls.append` is how the emulator stores logs of its own.
//! - `listeners`: the registry of HTTP trigger listeners; `context`: the shared `Ctx`.
//! - `gateway`: HTTP trigger listeners (one port per trigger) and the custom-domain endpoint.
//! - `oss`: path-style OSS subset: `buckets`, `objects`, `multipart`, `store` (disk layout).
//! - `sls`: Log Service on its own listener: projects (tags), logstores, indexes, PutLogs,
//!   GetLogs with a small query language, over `sls_store`.
//! - `fc`: the FC3 OpenAPI (`/2023-03-30/...`): route table in `fc/mod.rs`, one module per
//!   resource (`functions`, `code`, `versions`, `aliases`, `provision`, `triggers`,
//!   `domains`, `invoke`).
//! - `rpc`: the RPC-style OpenAPIs, one listener each: shared plumbing in `rpc/mod.rs`
//!   (signature, version, action, faults, `deny`) and `params`; `vpc`, `ecs` (security
//!   groups), `nas` (file systems are directories under `<data_dir>/nas-fs/`), `ram`.

pub mod sign;

mod api_error;
mod auth;
mod config;
mod context;
pub mod dns;
mod error;
mod faults;
mod fc;
mod gateway;
mod infra;
mod listeners;
mod oss;
mod request_log;
mod rpc;
mod runtime;
mod schedule;
mod sls;
mod sls_store;
mod state;
mod util;

pub use config::{
    AccessKey, Config, DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET, DEFAULT_ACCOUNT_ID,
    DEFAULT_REGION, Info, InstanceIsolation, Isolation,
};
pub use error::Error;
pub use faults::Faults;
pub use runtime::limits::{InstanceLimits, LimitsChoice};
pub use util::crc64;

use context::Ctx;
use error::io_err;
use listeners::TriggerListeners;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

pub struct Emulator {
    ctx: Arc<Ctx>,
    servers: Vec<tokio::task::JoinHandle<()>>,
    shutdown_tx: tokio::sync::watch::Sender<bool>,
    _lock: std::fs::File,
}

async fn bind(host: IpAddr, port: u16) -> Result<tokio::net::TcpListener, Error> {
    tokio::net::TcpListener::bind(SocketAddr::new(host, port))
        .await
        .map_err(io_err(format!("binding {host}:{port}")))
}

impl Emulator {
    /// Binds the FC, OSS and domain endpoints, loads state from `data_dir`, re-opens trigger
    /// ports and starts provisioned instances.
    pub async fn start(cfg: Config) -> Result<Emulator, Error> {
        if cfg.keys.is_empty() {
            return Err(Error::Config("at least one access key is required".into()));
        }
        std::fs::create_dir_all(&cfg.data_dir)
            .map_err(io_err(format!("creating {}", cfg.data_dir.display())))?;
        let data_dir = std::fs::canonicalize(&cfg.data_dir)
            .map_err(io_err(format!("resolving {}", cfg.data_dir.display())))?;
        let lock = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(data_dir.join("emulator.lock"))
            .map_err(io_err("opening lock file"))?;
        // Retry briefly: a concurrent fork() (instance spawn) may hold a copy of a previous
        // emulator's lock fd for a moment until its exec().
        let mut tries = 0;
        while lock.try_lock().is_err() {
            tries += 1;
            if tries > 40 {
                return Err(Error::Locked(data_dir));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let reaped = runtime::reap_orphans(&data_dir);
        if reaped > 0 {
            tracing::warn!(
                "stopped {reaped} instance process(es) left by an emulator that was killed"
            );
        }
        let nas_dir = cfg.nas_dir.clone().unwrap_or_else(|| data_dir.join("nas"));
        std::fs::create_dir_all(&nas_dir)
            .map_err(io_err(format!("creating {}", nas_dir.display())))?;
        let nas_dir = std::fs::canonicalize(&nas_dir).map_err(io_err("resolving nas dir"))?;
        let store = state::Store::load(&data_dir)?;
        let sls_store = Arc::new(sls_store::Store::open(&data_dir)?);

        let (p_fc, p_oss, p_dom) = if cfg.port == 0 {
            (0, 0, 0)
        } else {
            (cfg.port, cfg.port.wrapping_add(1), cfg.port.wrapping_add(2))
        };
        let l_fc = bind(cfg.host, p_fc).await?;
        let l_oss = bind(cfg.host, p_oss).await?;
        let l_dom = bind(cfg.host, p_dom).await?;
        let mut l_rpc = Vec::new();
        for (i, product) in rpc::Product::ALL.into_iter().enumerate() {
            let port = if cfg.port == 0 {
                0
            } else {
                cfg.port.wrapping_add(4 + i as u16)
            };
            l_rpc.push((product, bind(cfg.host, port).await?));
        }
        let l_sls = bind(
            cfg.host,
            if cfg.port == 0 {
                0
            } else {
                cfg.port.wrapping_add(3)
            },
        )
        .await?;
        let url = |l: &tokio::net::TcpListener| -> Result<String, Error> {
            let a = l.local_addr().map_err(io_err("local_addr"))?;
            Ok(format!("http://{a}"))
        };
        let mut cfg2 = cfg.clone();
        cfg2.data_dir = data_dir.clone();
        let runtime =
            Arc::new(runtime::Runtime::new(&cfg2, &data_dir, &nas_dir, sls_store.clone()).await);
        let info = Info {
            fc_endpoint: url(&l_fc)?,
            oss_endpoint: url(&l_oss)?,
            domain_endpoint: url(&l_dom)?,
            vpc_endpoint: url(&l_rpc[0].1)?,
            ecs_endpoint: url(&l_rpc[1].1)?,
            nas_endpoint: url(&l_rpc[2].1)?,
            ram_endpoint: url(&l_rpc[3].1)?,
            sls_endpoint: url(&l_sls)?,
            account_id: cfg.account_id.clone(),
            region: cfg.region.clone(),
            access_key_id: cfg.keys[0].id.clone(),
            access_key_secret: cfg.keys[0].secret.clone(),
            nas_dir: nas_dir.clone(),
            data_dir: data_dir.clone(),
            pid: std::process::id(),
            isolation: runtime.isolation(),
            limits: runtime.limits(),
        };
        let ctx = Arc::new(Ctx {
            cfg: cfg2,
            info: info.clone(),
            store: Arc::new(store),
            auth: auth::Authenticator::new(cfg.keys.clone(), &cfg.region, cfg.allow_oss_v1),
            runtime,
            listeners: TriggerListeners::default(),
            request_log: match &cfg.request_log {
                Some(p) => Some(
                    request_log::RequestLog::open(p)
                        .map_err(io_err(format!("opening {}", p.display())))?,
                ),
                None => None,
            },
            sls: sls_store,
        });
        let (shutdown_tx, shutdown_rx) = tokio::sync::watch::channel(false);
        let mut servers = Vec::new();
        servers.push(serve(l_fc, fc::router(ctx.clone()), shutdown_rx.clone()));
        servers.push(serve(l_oss, oss::router(ctx.clone()), shutdown_rx.clone()));
        servers.push(serve(
            l_dom,
            gateway::domain_router(ctx.clone()),
            shutdown_rx.clone(),
        ));
        for (product, l) in l_rpc {
            servers.push(serve(
                l,
                rpc::router(ctx.clone(), product),
                shutdown_rx.clone(),
            ));
        }
        gateway::start_all_triggers(&ctx).await;
        servers.push(serve(l_sls, sls::router(ctx.clone()), shutdown_rx.clone()));
        servers.push(tokio::spawn(runtime::background(
            ctx.runtime.clone(),
            ctx.store.clone(),
            shutdown_rx,
        )));
        let _ = util::atomic_write(
            &data_dir.join("emulator.json"),
            &serde_json::to_vec(&info).unwrap_or_default(),
        );
        tracing::info!(fc = %info.fc_endpoint, oss = %info.oss_endpoint, "emulator ready");
        Ok(Emulator {
            ctx,
            servers,
            shutdown_tx,
            _lock: lock,
        })
    }

    pub fn info(&self) -> &Info {
        &self.ctx.info
    }

    /// Stops accepting requests, sends `/pre-stop` to every instance, stops them, flushes state.
    pub async fn shutdown(self) {
        let _ = self.shutdown_tx.send(true);
        self.ctx.listeners.stop_all();
        for s in self.servers {
            let _ = tokio::time::timeout(Duration::from_secs(5), s).await;
        }
        self.ctx.runtime.stop_all().await;
        if let Err(e) = self.ctx.store.flush() {
            tracing::warn!("flushing state: {e}");
        }
        let _ = std::fs::remove_file(self.ctx.info.data_dir.join("emulator.json"));
    }
}

/// Kills the instance processes a killed emulator left in `data_dir` (see the instance
/// registry) and returns how many; nothing while an emulator runs on `data_dir` (it holds the
/// lock and owns its instances).
pub fn reap_orphans(data_dir: &std::path::Path) -> Result<usize, Error> {
    let lock_path = data_dir.join("emulator.lock");
    let lock = match std::fs::OpenOptions::new().write(true).open(&lock_path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(io_err(format!("opening {}", lock_path.display()))(e)),
    };
    if lock.try_lock().is_err() {
        return Ok(0);
    }
    Ok(runtime::reap_orphans(data_dir))
}

pub(crate) fn serve(
    listener: tokio::net::TcpListener,
    router: axum::Router,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let _ = axum::serve(listener, router)
            .with_graceful_shutdown(async move {
                let _ = shutdown.wait_for(|v| *v).await;
            })
            .await;
    })
}
