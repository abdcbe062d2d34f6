//! Local FC3 + OSS + NAS emulator.
//!
//! Module map:
//! - [`sign`]: independent ACS3-HMAC-SHA256 / OSS V1 / OSS V4 signature code (verify + sign).
//! - `auth`: request authentication against the configured key pairs (skew, nonce, STS).
//! - `state`: the persisted control-plane model (functions, versions, aliases, triggers,
//!   provision configs, custom domains), JSON on disk, crash-safe writes.
//! - `fc`: the FC3 OpenAPI (`/2023-03-30/...`) HTTP handlers.
//! - `oss`: path-style OSS subset (buckets, objects, Range, multipart, ListObjects(V2)).
//! - `runtime`: function instances as real processes (custom-runtime contract), router,
//!   scale-out, idle reaping, provisioned instances reconciler.
//! - `gateway`: HTTP trigger listeners (one port per trigger) and the custom-domain endpoint.
//! - [`Faults`]: fault injection.

pub mod sign;

mod auth;
mod fc;
mod gateway;
mod oss;
mod runtime;
mod state;
mod util;

pub use util::crc64;

use serde::{Deserialize, Serialize};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Default access key id accepted by a default-configured emulator.
pub const DEFAULT_ACCESS_KEY_ID: &str = "LTAI5tLocalEmulatorKey";
/// Default access key secret accepted by a default-configured emulator (local use only).
pub const DEFAULT_ACCESS_KEY_SECRET: &str = "LocalEmulatorSecret0123456789abcd";
pub const DEFAULT_ACCOUNT_ID: &str = "1234567890123456";
pub const DEFAULT_REGION: &str = "cn-shenzhen";

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct AccessKey {
    pub id: String,
    pub secret: String,
    /// When set, requests with this key must carry this STS token.
    pub security_token: Option<String>,
}

/// How `/code` and NAS mount dirs are made visible inside instances.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum Isolation {
    /// Use a private mount namespace if `unshare --mount` works, else path mapping.
    #[default]
    Auto,
    /// Always `unshare --mount --propagation private` + `mount --bind`.
    Namespace,
    /// Never use namespaces: rewrite `/code` and mount-dir prefixes in command, args and env
    /// values, run with cwd = the code dir and `FC_FUNC_CODE_PATH` = the code dir.
    PathMap,
}

/// Fault injection, configured per run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Faults {
    /// Probability that an FC/OSS API call fails (half 429 throttling, half 503).
    pub error_rate: f64,
    /// Added latency on every FC/OSS API call (ms).
    pub latency_ms: u64,
    /// Probability that an FC/OSS API call's connection is dropped mid-response.
    pub drop_rate: f64,
    /// Probability that a proxied invocation finds its instance crashed (killed).
    pub crash_rate: f64,
}

impl FromStr for Faults {
    type Err = Error;
    /// Parses `error_rate=0.1,latency_ms=20,drop_rate=0.01,crash_rate=0.001` (any subset).
    fn from_str(s: &str) -> Result<Self, Error> {
        let mut f = Faults::default();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (k, v) = part
                .split_once('=')
                .ok_or_else(|| Error::Config(format!("fault spec `{part}`: expected key=value")))?;
            let bad = |e: &dyn std::fmt::Display| {
                Error::Config(format!("fault spec `{part}`: invalid value: {e}"))
            };
            let rate = |v: &str| -> Result<f64, Error> {
                let x: f64 = v.parse().map_err(|e| bad(&e))?;
                if !(0.0..=1.0).contains(&x) {
                    return Err(bad(&"rate must be within 0..=1"));
                }
                Ok(x)
            };
            match k.trim() {
                "error_rate" => f.error_rate = rate(v)?,
                "drop_rate" => f.drop_rate = rate(v)?,
                "crash_rate" => f.crash_rate = rate(v)?,
                "latency_ms" => f.latency_ms = v.parse().map_err(|e| bad(&e))?,
                other => {
                    return Err(Error::Config(format!(
                        "unknown fault `{other}` (known: error_rate, latency_ms, drop_rate, crash_rate)"
                    )));
                }
            }
        }
        Ok(f)
    }
}

#[derive(Debug, Clone)]
pub struct Config {
    pub data_dir: PathBuf,
    pub host: IpAddr,
    /// FC API port (0 = ephemeral). When non-zero, OSS listens on `port+1` and the
    /// custom-domain endpoint on `port+2`; otherwise both are ephemeral too.
    pub port: u16,
    pub keys: Vec<AccessKey>,
    pub account_id: String,
    pub region: String,
    pub faults: Faults,
    /// Host directory behind NAS mounts (default `<data_dir>/nas`).
    pub nas_dir: Option<PathBuf>,
    /// Cap of instances per function (on-demand + provisioned).
    pub max_instances_per_function: usize,
    /// On-demand instances idle for this long are stopped (with `/pre-stop`).
    pub idle_timeout: Duration,
    /// Max time from spawn to the instance port accepting connections.
    pub instance_start_timeout: Duration,
    pub isolation: Isolation,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            data_dir: PathBuf::from(".fcctl-emulator"),
            host: IpAddr::V4(Ipv4Addr::LOCALHOST),
            port: 0,
            keys: vec![AccessKey {
                id: DEFAULT_ACCESS_KEY_ID.into(),
                secret: DEFAULT_ACCESS_KEY_SECRET.into(),
                security_token: None,
            }],
            account_id: DEFAULT_ACCOUNT_ID.into(),
            region: DEFAULT_REGION.into(),
            faults: Faults::default(),
            nas_dir: None,
            max_instances_per_function: 100,
            idle_timeout: Duration::from_secs(300),
            instance_start_timeout: Duration::from_secs(120),
            isolation: Isolation::Auto,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Info {
    pub fc_endpoint: String,
    pub oss_endpoint: String,
    /// Send custom-domain requests here with a `Host:` header naming the domain.
    pub domain_endpoint: String,
    pub account_id: String,
    pub region: String,
    pub access_key_id: String,
    pub access_key_secret: String,
    pub nas_dir: PathBuf,
    pub data_dir: PathBuf,
    pub pid: u32,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid emulator configuration: {0}")]
    Config(String),
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "data dir {0} is in use by another running emulator (lock held); stop it or use another --data-dir"
    )]
    Locked(PathBuf),
    #[error("state file {path} is corrupt: {msg}")]
    State { path: PathBuf, msg: String },
}

pub(crate) fn io_err(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> Error {
    let what = what.into();
    move |source| Error::Io { what, source }
}

/// Shared context of all servers.
pub(crate) struct Ctx {
    pub cfg: Config,
    pub info: Info,
    pub nas_dir: PathBuf,
    pub store: state::Store,
    pub nonces: Mutex<auth::NonceCache>,
    pub runtime: runtime::Runtime,
    pub gateway: gateway::Gateway,
}

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
        let nas_dir = cfg.nas_dir.clone().unwrap_or_else(|| data_dir.join("nas"));
        std::fs::create_dir_all(&nas_dir)
            .map_err(io_err(format!("creating {}", nas_dir.display())))?;
        let nas_dir = std::fs::canonicalize(&nas_dir).map_err(io_err("resolving nas dir"))?;
        let store = state::Store::load(&data_dir)?;

        let (p_fc, p_oss, p_dom) = if cfg.port == 0 {
            (0, 0, 0)
        } else {
            (cfg.port, cfg.port.wrapping_add(1), cfg.port.wrapping_add(2))
        };
        let l_fc = bind(cfg.host, p_fc).await?;
        let l_oss = bind(cfg.host, p_oss).await?;
        let l_dom = bind(cfg.host, p_dom).await?;
        let url = |l: &tokio::net::TcpListener| -> Result<String, Error> {
            let a = l.local_addr().map_err(io_err("local_addr"))?;
            Ok(format!("http://{a}"))
        };
        let mut cfg2 = cfg.clone();
        cfg2.data_dir = data_dir.clone();
        let info = Info {
            fc_endpoint: url(&l_fc)?,
            oss_endpoint: url(&l_oss)?,
            domain_endpoint: url(&l_dom)?,
            account_id: cfg.account_id.clone(),
            region: cfg.region.clone(),
            access_key_id: cfg.keys[0].id.clone(),
            access_key_secret: cfg.keys[0].secret.clone(),
            nas_dir: nas_dir.clone(),
            data_dir: data_dir.clone(),
            pid: std::process::id(),
        };
        let runtime = runtime::Runtime::new(&cfg2, &data_dir).await;
        let ctx = Arc::new(Ctx {
            cfg: cfg2,
            info: info.clone(),
            nas_dir,
            store,
            nonces: Mutex::new(auth::NonceCache::default()),
            runtime,
            gateway: gateway::Gateway::default(),
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
        gateway::start_all_triggers(&ctx).await;
        servers.push(tokio::spawn(runtime::background(ctx.clone(), shutdown_rx)));
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
        self.ctx.gateway.stop_all();
        for s in self.servers {
            let _ = tokio::time::timeout(Duration::from_secs(5), s).await;
        }
        self.ctx.runtime.stop_all(&self.ctx).await;
        if let Err(e) = self.ctx.store.flush() {
            tracing::warn!("flushing state: {e}");
        }
        let _ = std::fs::remove_file(self.ctx.info.data_dir.join("emulator.json"));
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn faults_parse() {
        let f: Faults = "error_rate=0.1,latency_ms=20,drop_rate=0.01"
            .parse()
            .unwrap();
        assert_eq!(f.error_rate, 0.1);
        assert_eq!(f.latency_ms, 20);
        assert_eq!(f.drop_rate, 0.01);
        assert!("bogus=1".parse::<Faults>().is_err());
        assert!("error_rate=2".parse::<Faults>().is_err());
    }
}
