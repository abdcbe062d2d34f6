//! Starting instances (spawn, L4 health check, initializer) and stopping them (drain,
//! pre-stop, SIGTERM then SIGKILL of the process group).

use crate::api_error::ApiError;
use crate::runtime::instance::{ColdStart, Instance};
use crate::runtime::limits::{Cgroup, Check, Limiter};
use crate::runtime::output::{Capture, Origin};
use crate::runtime::registry;
use crate::runtime::spec::{InstanceSpec, Placement};
use crate::runtime::target::Target;
use crate::util::{free_port, request_id};
use axum::body::Body;
use http::Request;
use http_body_util::BodyExt as _;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// `sh -c` script: `$1` = how many `cgroup.procs` files follow; writes its pid into each, then
/// execs the remaining arguments.
const JOIN_SCRIPT: &str = r#"n=$1; shift; while [ "$n" -gt 0 ]; do echo $$ > "$1" || exit 126; shift; n=$((n-1)); done; exec "$@""#;

pub type HttpClient = Client<HttpConnector, Body>;

pub struct Spawner {
    pub data_dir: PathBuf,
    pub nas_dir: PathBuf,
    pub namespaces: bool,
    /// [`INHERITED_ENV`](crate::runtime::spec::INHERITED_ENV) as the emulator found them.
    pub inherited: Vec<(String, String)>,
    /// Start instances through `setpriv --pdeathsig KILL` (util-linux), found to work.
    pub pdeathsig: bool,
    pub region: String,
    pub account_id: String,
    pub start_timeout: Duration,
    pub client: HttpClient,
    /// Where instance output goes when the function's `logConfig` names a logstore here.
    pub sls: Arc<crate::sls_store::Store>,
    /// Holds instances to their function's `memorySize` and `cpu`.
    pub limiter: Arc<Limiter>,
}

impl Spawner {
    /// Spawns one instance and waits until it listens and is initialised.
    pub async fn start(
        &self,
        t: &Target,
        provisioned: Option<String>,
    ) -> Result<(Arc<Instance>, ColdStart), ApiError> {
        let t0 = Instant::now();
        let id = format!("c-{}", &uuid::Uuid::new_v4().simple().to_string()[..20]);
        let port = free_port().map_err(|e| ApiError::internal(format!("no free port: {e}")))?;
        let code_dir = self.data_dir.join("code").join(&t.code_sha);
        let spec = InstanceSpec::from_function(
            t,
            &Placement {
                instance_id: &id,
                port,
                code_dir: &code_dir,
                nas_dir: &self.nas_dir,
                region: &self.region,
                account_id: &self.account_id,
                namespaces: self.namespaces,
                data_dir: &self.data_dir,
                inherited: &self.inherited,
            },
        );
        let memory_mb = t.config["memorySize"].as_u64().unwrap_or(512);
        let cpu = t.config["cpu"].as_f64().unwrap_or(0.35);
        let limits = self
            .limiter
            .prepare(&id, memory_mb, cpu)
            .map_err(|e| ApiError::internal(format!("limiting the instance: {e}")))?;
        let (mut child, log_path, limits) = self.spawn(&spec, &t.function, &id, limits)?;
        let capture = Capture::start(Origin::of(t, &id), self.sls.clone(), &mut child, &log_path)
            .map_err(|e| ApiError::internal(format!("capturing instance output: {e}")))?;
        let registry = child
            .id()
            .and_then(|pid| registry::record(&self.data_dir, &id, pid).ok());
        let inst = Arc::new(Instance::new(
            id,
            port,
            t,
            provisioned,
            &spec,
            child,
            registry,
            capture,
            limits,
        ));
        watch_memory(&inst);
        self.wait_for_port(&inst, &log_path, t0).await?;
        let start_ms = t0.elapsed().as_millis() as u64;
        let init_ms = match spec.initializer {
            Some(timeout) => Some(self.initialize(&inst, &t.function, timeout).await?),
            None => None,
        };
        inst.ready.store(true, Ordering::Release);
        tracing::debug!(instance = %inst.id, function = %t.function, version = %t.version, start_ms, "instance ready");
        Ok((inst, ColdStart { start_ms, init_ms }))
    }

    /// Starts the process (its own process group, output piped to a [`Capture`]).
    fn spawn(
        &self,
        spec: &InstanceSpec,
        function: &str,
        id: &str,
        limits: Cgroup,
    ) -> Result<(tokio::process::Child, PathBuf, Arc<Cgroup>), ApiError> {
        for m in &spec.mounts {
            let _ = std::fs::create_dir_all(&m.source);
        }
        let log_dir = self.data_dir.join("logs").join(function);
        let _ = std::fs::create_dir_all(&log_dir);
        let log_path = log_dir.join(format!("{id}.log"));
        // The instance joins its cgroups before it execs anything else (a shell writes its own
        // pid, then execs the rest), so every process it starts is limited from the first.
        let mut argv: Vec<std::ffi::OsString> = Vec::new();
        let joins = limits.procs_files();
        if !joins.is_empty() {
            argv.extend([
                "sh".into(),
                "-c".into(),
                JOIN_SCRIPT.into(),
                "fc-limits".into(),
            ]);
            argv.push(joins.len().to_string().into());
            argv.extend(joins.into_iter().map(Into::into));
        }
        if self.pdeathsig {
            // The instance dies with the emulator, even on SIGKILL. The signal follows the
            // forking thread, a runtime worker that lives as long as the emulator; the
            // instance registry reaps whatever escapes (an instance's own children).
            argv.extend([
                "setpriv".into(),
                "--pdeathsig".into(),
                "KILL".into(),
                "--".into(),
            ]);
        }
        argv.push(spec.program.clone().into());
        let mut cmd = tokio::process::Command::new(&argv[0]);
        cmd.args(&argv[1..]);
        cmd.args(&spec.args);
        if let Some(dir) = &spec.cwd {
            cmd.current_dir(dir);
        }
        cmd.env_clear()
            .envs(spec.env.iter().cloned())
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .process_group(0)
            .kill_on_drop(true);
        let child = cmd.spawn().map_err(|e| {
            ApiError::new(
                412,
                "CAExited",
                format!(
                    "failed to start function instance ({}): {e}",
                    spec.command_line
                ),
            )
        })?;
        Ok((child, log_path, Arc::new(limits)))
    }

    /// Waits for the port to accept connections (L4 health check, as FC does).
    async fn wait_for_port(
        &self,
        inst: &Instance,
        log_path: &Path,
        t0: Instant,
    ) -> Result<(), ApiError> {
        let port = inst.port;
        let deadline = t0 + self.start_timeout;
        loop {
            if inst.has_exited() {
                inst.capture.flush();
                let tail = log_tail(log_path, 800);
                return Err(ApiError::new(
                    412,
                    "CAExited",
                    format!(
                        "function instance exited before listening on port {port}; log tail: {tail}"
                    ),
                ));
            }
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                return Ok(());
            }
            if Instant::now() > deadline {
                inst.kill_now();
                return Err(ApiError::new(
                    412,
                    "FunctionNotStarted",
                    format!(
                        "Function instance health check failed on port {port} in {} seconds",
                        self.start_timeout.as_secs()
                    ),
                ));
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }

    /// Calls `/initialize`; returns how long it took (ms).
    async fn initialize(
        &self,
        inst: &Instance,
        function: &str,
        timeout: Duration,
    ) -> Result<u64, ApiError> {
        let t1 = Instant::now();
        let rid = request_id();
        inst.capture.begin(&rid, false);
        let req = Request::post(format!("http://127.0.0.1:{}/initialize", inst.port))
            .header("x-fc-request-id", &rid)
            .header("x-fc-function-name", function)
            .header("x-fc-control-path", "/initialize")
            .header("x-fc-initialization-timeout", timeout.as_secs().to_string())
            .header("x-fc-function-initializer", "true")
            .body(Body::empty())
            .expect("valid request");
        let r = tokio::time::timeout(timeout, async {
            let resp = self.client.request(req).await.map_err(|e| e.to_string())?;
            let status = resp.status();
            let body = resp
                .into_body()
                .collect()
                .await
                .map_err(|e| e.to_string())?
                .to_bytes();
            Ok::<_, String>((status, body))
        })
        .await;
        let failure = match r {
            Err(_) => Some(format!(
                "initializer timed out after {} s",
                timeout.as_secs()
            )),
            Ok(Err(e)) => Some(format!("initializer request failed: {e}")),
            Ok(Ok((s, b))) if !s.is_success() => Some(format!(
                "initializer returned {s}: {}",
                String::from_utf8_lossy(&b[..b.len().min(500)])
            )),
            _ => None,
        };
        if let Some(e) = &failure {
            // FC's platform line for a failed initializer, so the cause is in the logstore.
            inst.capture.platform_line(
                format!("FC Initialize End RequestId: {rid}, Error: {e}"),
                Some(&rid),
            );
        }
        inst.capture.end(&rid);
        if let Some(e) = failure {
            inst.kill_now();
            return Err(ApiError::function_failure(
                "InitializationError",
                "InitializationError",
                e,
            ));
        }
        Ok(t1.elapsed().as_millis() as u64)
    }

    /// Sends `/pre-stop` (if configured) after in-flight requests drain, then stops the process group.
    pub async fn stop(&self, inst: Arc<Instance>) {
        let drain_deadline = Instant::now() + Duration::from_secs(30);
        while inst.inflight() > 0 && Instant::now() < drain_deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        if let Some(tmo) = inst.pre_stop
            && !inst.has_exited()
        {
            let req = Request::get(format!("http://127.0.0.1:{}/pre-stop", inst.port))
                .header("x-fc-request-id", request_id())
                .header("x-fc-control-path", "/pre-stop")
                .body(Body::empty())
                .expect("valid request");
            let _ = tokio::time::timeout(tmo, async {
                if let Ok(r) = self.client.request(req).await {
                    let _ = r.into_body().collect().await;
                }
            })
            .await;
        }
        let child = inst.child.lock().unwrap().take();
        inst.dead.store(true, Ordering::Relaxed);
        if let (Some(mut child), Some(pid)) = (child, inst.pid) {
            let pg = nix::unistd::Pid::from_raw(pid as i32);
            let _ = nix::sys::signal::killpg(pg, nix::sys::signal::Signal::SIGTERM);
            if tokio::time::timeout(Duration::from_secs(3), child.wait())
                .await
                .is_err()
            {
                let _ = nix::sys::signal::killpg(pg, nix::sys::signal::Signal::SIGKILL);
                let _ = child.wait().await;
            }
        }
    }
}

/// Polls the instance's memory until it ends: over its limit (watchdog) or OOM-killed by the
/// kernel (cgroup), the whole instance is killed, as FC does; the request in flight reports it
/// (`proxy`), and with none in flight a platform line says so in the function's logs.
fn watch_memory(inst: &Arc<Instance>) {
    let Some(pid) = inst.pid else { return };
    let weak = Arc::downgrade(inst);
    // The watchdog must catch a growing process early; a cgroup only needs noticing.
    let every = if inst.limits.is_watchdog() {
        Duration::from_millis(20)
    } else {
        Duration::from_millis(100)
    };
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(every).await;
            let Some(inst) = weak.upgrade() else { return };
            if !inst.is_alive() {
                return;
            }
            if inst.limits.check(pid as i32) == Check::OutOfMemory {
                inst.kill_now();
                tracing::info!(instance = %inst.id, function = %inst.function, "instance killed: out of memory (OOM)");
                if inst.inflight() == 0 {
                    inst.capture.platform_line(
                        format!(
                            "FC Instance Killed InstanceId: {}, Error: out of memory (OOM): the instance used more than its memorySize of {} MB",
                            inst.id,
                            inst.limits.memory_bytes / (1024 * 1024)
                        ),
                        None,
                    );
                }
                return;
            }
        }
    });
}

/// The last `chars` characters of an instance log, for start-up error messages.
fn log_tail(log_path: &Path, chars: usize) -> String {
    let log = std::fs::read_to_string(log_path).unwrap_or_default();
    let skip = log.chars().count().saturating_sub(chars);
    log.chars().skip(skip).collect()
}
