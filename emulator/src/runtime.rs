//! Function instances as real processes (FC custom-runtime contract), request routing,
//! on-demand scale-out, idle reaping and the provisioned-instance reconciler.

use crate::api_error::ApiError;
use crate::config::{Config, Isolation};
use crate::context::Ctx;
use crate::util::{free_port, now_ms, sh_quote};
use axum::body::Body;
use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Request, Response};
use http_body_util::BodyExt as _;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::Value;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A resolved invocation target: function + concrete version.
#[derive(Clone, Debug)]
pub struct Target {
    pub function: String,
    /// "LATEST" or a version number.
    pub version: String,
    /// What the caller asked for (alias name, version or LATEST).
    pub qualifier: String,
    pub config: Value,
    pub code_sha: String,
}

/// Resolves `qualifier` (None/LATEST, version id, alias) of `function`. With `weighted`,
/// an alias's `additionalVersionWeight` is honoured by a random draw.
pub fn resolve(
    ctx: &Ctx,
    function: &str,
    qualifier: Option<&str>,
    weighted: bool,
) -> Result<Target, ApiError> {
    let st = ctx.store.read();
    let f = st.functions.get(function).ok_or_else(|| {
        ApiError::new(
            404,
            "FunctionNotFound",
            format!("function '{function}' does not exist"),
        )
    })?;
    let q = qualifier.filter(|q| !q.is_empty()).unwrap_or("LATEST");
    let version_of = |v: &str| -> Result<Target, ApiError> {
        if v == "LATEST" {
            return Ok(Target {
                function: function.into(),
                version: "LATEST".into(),
                qualifier: q.into(),
                config: f.config.clone(),
                code_sha: f.code_sha.clone(),
            });
        }
        let rec = v
            .parse::<u64>()
            .ok()
            .and_then(|n| f.versions.get(&n))
            .ok_or_else(|| {
                ApiError::new(
                    404,
                    "VersionNotFound",
                    format!("version '{v}' of function '{function}' does not exist"),
                )
            })?;
        Ok(Target {
            function: function.into(),
            version: rec.version_id.clone(),
            qualifier: q.into(),
            config: rec.config.clone(),
            code_sha: rec.code_sha.clone(),
        })
    };
    if q == "LATEST" || q.parse::<u64>().is_ok() {
        return version_of(q);
    }
    let alias = f.aliases.get(q).ok_or_else(|| {
        ApiError::new(
            404,
            "AliasNotFound",
            format!("alias '{q}' of function '{function}' does not exist"),
        )
    })?;
    let mut v = alias["versionId"].as_str().unwrap_or("LATEST").to_string();
    if weighted && let Some(w) = alias["additionalVersionWeight"].as_object() {
        let mut r: f64 = rand::random();
        for (ver, weight) in w {
            let weight = weight.as_f64().unwrap_or(0.0);
            if r < weight {
                v = ver.clone();
                break;
            }
            r -= weight;
        }
    }
    version_of(&v)
}

/// Pool key for a target: versions are immutable; LATEST is keyed by its code + modification
/// time so that UpdateFunction moves traffic to fresh instances (old ones are retired).
pub fn pool_version(t: &Target) -> String {
    if t.version == "LATEST" {
        format!(
            "LATEST@{}@{}",
            t.code_sha,
            t.config["lastModifiedTime"].as_str().unwrap_or("")
        )
    } else {
        t.version.clone()
    }
}

pub struct ColdStart {
    pub start_ms: u64,
    pub init_ms: Option<u64>,
}

pub struct Instance {
    pub id: String,
    pub port: u16,
    pub function: String,
    pub version: String,
    pool_version: String,
    pub qualifier: String,
    pub provisioned: Option<String>,
    pub concurrency: usize,
    pub created_ms: u64,
    inflight: AtomicUsize,
    last_used: Mutex<Instant>,
    child: Mutex<Option<tokio::process::Child>>,
    pid: Option<u32>,
    dead: AtomicBool,
    ready: AtomicBool,
    pre_stop: Option<Duration>,
}

impl Instance {
    fn has_exited(&self) -> bool {
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
    fn kill_now(&self) {
        self.dead.store(true, Ordering::Relaxed);
        if let Some(pid) = self.pid {
            let _ = nix::sys::signal::killpg(
                nix::unistd::Pid::from_raw(pid as i32),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
    }
}

#[derive(Default)]
struct PoolInner {
    instances: Vec<Arc<Instance>>,
    starting_ondemand: usize,
    starting_prov: HashMap<String, usize>,
}

pub struct Pool {
    inner: Mutex<PoolInner>,
    notify: tokio::sync::Notify,
}

pub struct Lease {
    pub inst: Arc<Instance>,
    pool: Arc<Pool>,
    pub cold: Option<ColdStart>,
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.inst.inflight.fetch_sub(1, Ordering::AcqRel);
        *self.inst.last_used.lock().unwrap() = Instant::now();
        self.pool.notify.notify_waiters();
    }
}

pub struct Runtime {
    data_dir: PathBuf,
    use_ns: bool,
    pools: Mutex<HashMap<(String, String), Arc<Pool>>>,
    /// Instances (running + starting) per function, for the scale-out cap.
    counts: Mutex<HashMap<String, usize>>,
    client: Client<HttpConnector, Body>,
    prov_errors: Mutex<HashMap<(String, String), (String, Instant)>>,
    pub wake: tokio::sync::Notify,
}

async fn namespaces_work() -> bool {
    tokio::process::Command::new("unshare")
        .args(["--mount", "--propagation", "private", "true"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .await
        .map(|s| s.success())
        .unwrap_or(false)
}

fn hook(config: &Value, name: &str) -> Option<Duration> {
    let h = &config["instanceLifecycleConfig"][name];
    let handler = h["handler"].as_str().unwrap_or("");
    let has_cmd = h["command"].as_array().is_some_and(|a| !a.is_empty());
    if handler.is_empty() && !has_cmd {
        return None;
    }
    let t = h["timeout"].as_u64().filter(|t| *t > 0).unwrap_or(3);
    Some(Duration::from_secs(t))
}

fn guard_count(counts: &Mutex<HashMap<String, usize>>, f: &str, cap: usize) -> bool {
    let mut c = counts.lock().unwrap();
    let n = c.entry(f.to_string()).or_default();
    if *n >= cap {
        return false;
    }
    *n += 1;
    true
}

fn release_count(counts: &Mutex<HashMap<String, usize>>, f: &str) {
    let mut c = counts.lock().unwrap();
    if let Some(n) = c.get_mut(f) {
        *n = n.saturating_sub(1);
    }
}

/// Host path behind a NAS `serverAddr` (`host:/path` → `<nas_dir>/path`; auto → `<nas_dir>`).
pub fn nas_source(nas_dir: &Path, server_addr: &str) -> PathBuf {
    let path = server_addr
        .split_once(":/")
        .map(|(_, p)| p)
        .unwrap_or("")
        .trim_matches('/');
    if path.is_empty() || server_addr.eq_ignore_ascii_case("auto") {
        nas_dir.to_path_buf()
    } else {
        nas_dir.join(path)
    }
}

impl Runtime {
    pub async fn new(cfg: &Config, data_dir: &Path) -> Runtime {
        let use_ns = match cfg.isolation {
            Isolation::PathMap => false,
            Isolation::Namespace => true,
            Isolation::Auto => namespaces_work().await,
        };
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
        Runtime {
            data_dir: data_dir.to_path_buf(),
            use_ns,
            pools: Mutex::new(HashMap::new()),
            counts: Mutex::new(HashMap::new()),
            client,
            prov_errors: Mutex::new(HashMap::new()),
            wake: tokio::sync::Notify::new(),
        }
    }

    fn pool(&self, f: &str, v: &str) -> Arc<Pool> {
        self.pools
            .lock()
            .unwrap()
            .entry((f.to_string(), v.to_string()))
            .or_insert_with(|| {
                Arc::new(Pool {
                    inner: Mutex::new(PoolInner::default()),
                    notify: tokio::sync::Notify::new(),
                })
            })
            .clone()
    }

    /// Spawns one instance and waits until it listens and is initialised.
    async fn start_instance(
        &self,
        ctx: &Ctx,
        t: &Target,
        provisioned: Option<String>,
    ) -> Result<(Arc<Instance>, ColdStart), ApiError> {
        let t0 = Instant::now();
        let cfg = &t.config;
        let code_dir = self.data_dir.join("code").join(&t.code_sha);
        let id = format!("c-{}", &uuid::Uuid::new_v4().simple().to_string()[..20]);
        let port = free_port().map_err(|e| ApiError::internal(format!("no free port: {e}")))?;
        let mut mounts: Vec<(PathBuf, String)> = Vec::new();
        if let Some(mps) = cfg["nasConfig"]["mountPoints"].as_array() {
            for mp in mps {
                let dir = mp["mountDir"].as_str().unwrap_or("/mnt/auto").to_string();
                let src = nas_source(&ctx.nas_dir, mp["serverAddr"].as_str().unwrap_or("auto"));
                let _ = std::fs::create_dir_all(&src);
                mounts.push((src, dir));
            }
        }
        let rc = &cfg["customRuntimeConfig"];
        let mut argv: Vec<String> = rc["command"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default();
        if argv.is_empty() {
            argv.push("/code/bootstrap".into());
        }
        if let Some(a) = rc["args"].as_array() {
            argv.extend(a.iter().filter_map(|s| s.as_str().map(String::from)));
        }
        let mut env: Vec<(String, String)> = Vec::new();
        if let Some(e) = cfg["environmentVariables"].as_object() {
            for (k, v) in e {
                env.push((
                    k.clone(),
                    v.as_str()
                        .map(String::from)
                        .unwrap_or_else(|| v.to_string()),
                ));
            }
        }
        let code_path = if self.use_ns {
            "/code".to_string()
        } else {
            code_dir.display().to_string()
        };
        let fc_env = [
            ("FC_CUSTOM_LISTEN_PORT", port.to_string()),
            ("FC_SERVER_PORT", port.to_string()),
            ("FC_FUNCTION_NAME", t.function.clone()),
            ("FC_FUNCTION_VERSION", t.version.clone()),
            ("FC_VER_ID", t.version.clone()),
            ("FC_QUALIFIER", t.qualifier.clone()),
            ("FC_INSTANCE_ID", id.clone()),
            ("FC_REGION", ctx.cfg.region.clone()),
            ("FC_ACCOUNT_ID", ctx.cfg.account_id.clone()),
            ("FC_FUNC_CODE_PATH", format!("{code_path}/")),
            (
                "FC_FUNCTION_HANDLER",
                cfg["handler"].as_str().unwrap_or("").to_string(),
            ),
            (
                "FC_FUNCTION_MEMORY_SIZE",
                cfg["memorySize"].as_u64().unwrap_or(512).to_string(),
            ),
            (
                "FC_TIMEOUT",
                cfg["timeout"].as_u64().unwrap_or(3).to_string(),
            ),
            (
                "FC_RUNTIME",
                cfg["runtime"].as_str().unwrap_or("custom").to_string(),
            ),
        ];
        for (k, v) in fc_env {
            env.push((k.into(), v));
        }
        let log_dir = self.data_dir.join("logs").join(&t.function);
        let _ = std::fs::create_dir_all(&log_dir);
        let log_path = log_dir.join(format!("{id}.log"));
        let log = std::fs::File::create(&log_path)
            .map_err(|e| ApiError::internal(format!("log file: {e}")))?;
        let log2 = log
            .try_clone()
            .map_err(|e| ApiError::internal(format!("log file: {e}")))?;

        let mut cmd;
        if self.use_ns {
            let mut script = String::from("set -e; mkdir -p /code; mount --bind ");
            script.push_str(&sh_quote(&code_dir.display().to_string()));
            script.push_str(" /code; ");
            for (src, dir) in &mounts {
                script.push_str(&format!(
                    "mkdir -p {d}; mount --bind {s} {d}; ",
                    d = sh_quote(dir),
                    s = sh_quote(&src.display().to_string())
                ));
            }
            script.push_str("cd /code; exec \"$@\"");
            cmd = tokio::process::Command::new("unshare");
            cmd.args(["--mount", "--propagation", "private", "--", "sh", "-c"])
                .arg(script)
                .arg("fc-instance")
                .args(&argv);
        } else {
            // Path mapping fallback: rewrite `/code` and mount-dir prefixes.
            let code_s = code_dir.display().to_string();
            let map = |s: &str| -> String {
                let mut out = if s == "/code" || s.starts_with("/code/") {
                    format!("{code_s}{}", &s[5..])
                } else {
                    s.to_string()
                };
                for (src, dir) in &mounts {
                    if out == *dir || out.starts_with(&format!("{dir}/")) {
                        out = format!("{}{}", src.display(), &out[dir.len()..]);
                    }
                }
                out
            };
            let argv2: Vec<String> = argv.iter().map(|a| map(a)).collect();
            for e in env.iter_mut() {
                e.1 = map(&e.1);
            }
            cmd = tokio::process::Command::new(&argv2[0]);
            cmd.args(&argv2[1..]).current_dir(&code_dir);
        }
        cmd.envs(env)
            .stdin(std::process::Stdio::null())
            .stdout(log)
            .stderr(log2)
            .process_group(0)
            .kill_on_drop(true);
        let child = cmd.spawn().map_err(|e| {
            ApiError::new(
                412,
                "CAExited",
                format!(
                    "failed to start function instance ({}): {e}",
                    argv.join(" ")
                ),
            )
        })?;
        let pid = child.id();
        let concurrency = cfg["instanceConcurrency"].as_u64().unwrap_or(1).max(1) as usize;
        let inst = Arc::new(Instance {
            id: id.clone(),
            port,
            function: t.function.clone(),
            version: t.version.clone(),
            pool_version: pool_version(t),
            qualifier: t.qualifier.clone(),
            provisioned,
            concurrency,
            created_ms: now_ms(),
            inflight: AtomicUsize::new(0),
            last_used: Mutex::new(Instant::now()),
            child: Mutex::new(Some(child)),
            pid,
            dead: AtomicBool::new(false),
            ready: AtomicBool::new(false),
            pre_stop: hook(cfg, "preStop"),
        });
        // Wait for the port (L4 health check, as FC does).
        let deadline = t0 + ctx.cfg.instance_start_timeout;
        loop {
            if inst.has_exited() {
                let tail = std::fs::read_to_string(&log_path).unwrap_or_default();
                let tail: String = tail
                    .chars()
                    .rev()
                    .take(800)
                    .collect::<Vec<_>>()
                    .into_iter()
                    .rev()
                    .collect();
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
                break;
            }
            if Instant::now() > deadline {
                inst.kill_now();
                return Err(ApiError::new(
                    412,
                    "FunctionNotStarted",
                    format!(
                        "Function instance health check failed on port {port} in {} seconds",
                        ctx.cfg.instance_start_timeout.as_secs()
                    ),
                ));
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        let start_ms = t0.elapsed().as_millis() as u64;
        let mut init_ms = None;
        if let Some(tmo) = hook(cfg, "initializer") {
            let t1 = Instant::now();
            let req = Request::post(format!("http://127.0.0.1:{port}/initialize"))
                .header("x-fc-request-id", crate::util::request_id())
                .header("x-fc-function-name", &t.function)
                .header("x-fc-control-path", "/initialize")
                .header("x-fc-initialization-timeout", tmo.as_secs().to_string())
                .header("x-fc-function-initializer", "true")
                .body(Body::empty())
                .expect("valid request");
            let r = tokio::time::timeout(tmo, async {
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
            let err = match r {
                Err(_) => Some(format!("initializer timed out after {} s", tmo.as_secs())),
                Ok(Err(e)) => Some(format!("initializer request failed: {e}")),
                Ok(Ok((s, b))) if !s.is_success() => Some(format!(
                    "initializer returned {s}: {}",
                    String::from_utf8_lossy(&b[..b.len().min(500)])
                )),
                _ => None,
            };
            if let Some(e) = err {
                inst.kill_now();
                return Err(ApiError::function_failure(
                    "InitializationError",
                    "InitializationError",
                    e,
                ));
            }
            init_ms = Some(t1.elapsed().as_millis() as u64);
        }
        inst.ready.store(true, Ordering::Release);
        tracing::debug!(instance = %id, function = %t.function, version = %t.version, start_ms, "instance ready");
        Ok((inst, ColdStart { start_ms, init_ms }))
    }

    /// Finds (or starts) an instance with a free slot for `t`.
    pub async fn acquire(&self, ctx: &Ctx, t: &Target) -> Result<Lease, ApiError> {
        let pool = self.pool(&t.function, &pool_version(t));
        let disable_ondemand = t.config["disableOndemand"].as_bool().unwrap_or(false);
        let timeout = Duration::from_secs(t.config["timeout"].as_u64().unwrap_or(3).max(1))
            + ctx.cfg.instance_start_timeout;
        let deadline = Instant::now() + timeout;
        loop {
            let notified = pool.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            enum Step {
                Got(Arc<Instance>),
                Start,
                Wait,
                Fail(ApiError),
            }
            let step = {
                let mut g = pool.inner.lock().unwrap();
                g.instances.retain(|i| !i.dead.load(Ordering::Relaxed));
                // Provisioned first, then the least loaded on-demand instance.
                let pick = g
                    .instances
                    .iter()
                    .filter(|i| {
                        i.ready.load(Ordering::Acquire)
                            && i.inflight.load(Ordering::Acquire) < i.concurrency
                    })
                    .min_by_key(|i| (i.provisioned.is_none(), i.inflight.load(Ordering::Acquire)))
                    .cloned();
                if let Some(inst) = pick {
                    inst.inflight.fetch_add(1, Ordering::AcqRel);
                    Step::Got(inst)
                } else if !disable_ondemand
                    && g.starting_ondemand < 64
                    && guard_count(
                        &self.counts,
                        &t.function,
                        ctx.cfg.max_instances_per_function,
                    )
                {
                    g.starting_ondemand += 1;
                    Step::Start
                } else if disable_ondemand
                    && !g.instances.iter().any(|i| i.provisioned.is_some())
                    && g.starting_prov.values().sum::<usize>() == 0
                {
                    Step::Fail(ApiError::new(
                        429,
                        "ResourceExhausted",
                        "on-demand instances are disabled for this function and no provisioned instance is available",
                    ))
                } else {
                    Step::Wait
                }
            };
            match step {
                Step::Got(inst) => {
                    return Ok(Lease {
                        inst,
                        pool: pool.clone(),
                        cold: None,
                    });
                }
                Step::Fail(e) => return Err(e),
                Step::Start => {
                    let r = self.start_instance(ctx, t, None).await;
                    let pushed = {
                        let mut g = pool.inner.lock().unwrap();
                        g.starting_ondemand -= 1;
                        match r {
                            Ok((inst, cold)) => {
                                inst.inflight.fetch_add(1, Ordering::AcqRel);
                                g.instances.push(inst.clone());
                                Ok((inst, cold))
                            }
                            Err(e) => Err(e),
                        }
                    };
                    pool.notify.notify_waiters();
                    return match pushed {
                        Ok((inst, cold)) => Ok(Lease {
                            inst,
                            pool: pool.clone(),
                            cold: Some(cold),
                        }),
                        Err(e) => {
                            release_count(&self.counts, &t.function);
                            Err(e)
                        }
                    };
                }
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
                        ctx.cfg.max_instances_per_function
                    ),
                ));
            }
        }
    }

    /// Forwards a request to an instance of `t` and returns the response (headers added).
    pub async fn forward(
        &self,
        ctx: &Ctx,
        t: &Target,
        mut req: Request<Body>,
        request_id: &str,
    ) -> Result<Response<Body>, ApiError> {
        let lease = self.acquire(ctx, t).await?;
        let inst = lease.inst.clone();
        if ctx.cfg.faults.crash_now() {
            inst.kill_now();
            return Err(ApiError::new(
                502,
                "CAExited",
                "function instance crashed (injected fault)",
            ));
        }
        let pq = req
            .uri()
            .path_and_query()
            .map(|p| p.as_str())
            .unwrap_or("/")
            .to_string();
        *req.uri_mut() = format!("http://127.0.0.1:{}{}", inst.port, pq)
            .parse()
            .map_err(|e| ApiError::invalid_argument(format!("bad uri: {e}")))?;
        let h = req.headers_mut();
        for n in [
            "connection",
            "keep-alive",
            "proxy-connection",
            "te",
            "trailer",
            "upgrade",
        ] {
            h.remove(n);
        }
        let cfg = &t.config;
        let mut add = |k: &'static str, v: String| {
            if let Ok(v) = HeaderValue::from_str(&v) {
                h.insert(HeaderName::from_static(k), v);
            }
        };
        add("x-fc-request-id", request_id.to_string());
        add("x-fc-function-name", t.function.clone());
        add(
            "x-fc-function-memory",
            cfg["memorySize"].as_u64().unwrap_or(512).to_string(),
        );
        add(
            "x-fc-function-timeout",
            cfg["timeout"].as_u64().unwrap_or(3).to_string(),
        );
        add(
            "x-fc-function-handler",
            cfg["handler"].as_str().unwrap_or("").to_string(),
        );
        add("x-fc-region", ctx.cfg.region.clone());
        add("x-fc-account-id", ctx.cfg.account_id.clone());
        add("x-fc-qualifier", t.qualifier.clone());
        add("x-fc-version-id", t.version.clone());
        let timeout = Duration::from_secs(cfg["timeout"].as_u64().unwrap_or(3).max(1));
        let r = tokio::time::timeout(timeout, async {
            let resp = self.client.request(req).await.map_err(|e| e.to_string())?;
            let (parts, body) = resp.into_parts();
            let b = body.collect().await.map_err(|e| e.to_string())?.to_bytes();
            Ok::<_, String>((parts, b))
        })
        .await;
        let (parts, body): (http::response::Parts, Bytes) = match r {
            Err(_) => {
                return Err(ApiError::function_failure(
                    "FunctionTimeout",
                    "FunctionTimeoutError",
                    format!("Function timed out after {} seconds", timeout.as_secs()),
                ));
            }
            Ok(Err(e)) => {
                if inst.has_exited() {
                    return Err(ApiError::new(
                        502,
                        "CAExited",
                        format!("function instance exited: {e}"),
                    ));
                }
                return Err(ApiError::new(
                    502,
                    "BadResponse",
                    format!("function instance returned an invalid response: {e}"),
                ));
            }
            Ok(Ok(x)) => x,
        };
        let cold = lease.cold.as_ref().map(|c| (c.start_ms, c.init_ms));
        drop(lease);
        let mut resp = Response::from_parts(parts, Body::from(body));
        let h = resp.headers_mut();
        for n in ["connection", "keep-alive", "transfer-encoding"] {
            h.remove(n);
        }
        set_invoke_headers(h, request_id, &inst.id, cold);
        Ok(resp)
    }

    pub fn instances(&self, function: &str) -> Vec<Arc<Instance>> {
        let pools = self.pools.lock().unwrap();
        let mut out = Vec::new();
        for ((f, _), p) in pools.iter() {
            if f == function {
                out.extend(
                    p.inner
                        .lock()
                        .unwrap()
                        .instances
                        .iter()
                        .filter(|i| !i.dead.load(Ordering::Relaxed))
                        .cloned(),
                );
            }
        }
        out
    }

    /// Ready provisioned instances for (function, qualifier).
    pub fn provisioned_current(&self, function: &str, qualifier: &str) -> usize {
        self.instances(function)
            .iter()
            .filter(|i| {
                i.provisioned.as_deref() == Some(qualifier) && i.ready.load(Ordering::Acquire)
            })
            .count()
    }

    pub fn provision_error(&self, function: &str, qualifier: &str) -> String {
        self.prov_errors
            .lock()
            .unwrap()
            .get(&(function.to_string(), qualifier.to_string()))
            .map(|(e, _)| e.clone())
            .unwrap_or_default()
    }

    fn remove_instance(&self, inst: &Arc<Instance>) -> bool {
        let pools = self.pools.lock().unwrap();
        if let Some(p) = pools.get(&(inst.function.clone(), inst.pool_version.clone())) {
            let mut g = p.inner.lock().unwrap();
            let before = g.instances.len();
            g.instances.retain(|i| !Arc::ptr_eq(i, inst));
            if g.instances.len() != before {
                drop(g);
                release_count(&self.counts, &inst.function);
                p.notify.notify_waiters();
                return true;
            }
        }
        false
    }

    /// Sends `/pre-stop` (if configured) after in-flight requests drain, then stops the process group.
    async fn stop_instance(&self, inst: Arc<Instance>) {
        let drain_deadline = Instant::now() + Duration::from_secs(30);
        while inst.inflight.load(Ordering::Acquire) > 0 && Instant::now() < drain_deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        if let Some(tmo) = inst.pre_stop
            && !inst.has_exited()
        {
            let req = Request::get(format!("http://127.0.0.1:{}/pre-stop", inst.port))
                .header("x-fc-request-id", crate::util::request_id())
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

    pub async fn stop_all(&self, _ctx: &Ctx) {
        let all: Vec<Arc<Instance>> = {
            let mut pools = self.pools.lock().unwrap();
            let mut v = Vec::new();
            for p in pools.values() {
                v.append(&mut p.inner.lock().unwrap().instances);
            }
            pools.clear();
            v
        };
        let futs: Vec<_> = all
            .into_iter()
            .map(|i| {
                let me: &Runtime = self;
                async move { me.stop_instance(i).await }
            })
            .collect();
        for f in futs {
            f.await;
        }
    }

    /// One pass of housekeeping: drop exited instances, reap idle on-demand ones,
    /// converge provisioned instances to their targets.
    async fn tick(self: &Runtime, ctx: &Arc<Ctx>) {
        let idle = ctx.cfg.idle_timeout;
        let mut to_stop = Vec::new();
        let pools: Vec<((String, String), Arc<Pool>)> = self
            .pools
            .lock()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        for (_, p) in &pools {
            let snapshot: Vec<Arc<Instance>> = p.inner.lock().unwrap().instances.clone();
            for i in snapshot {
                let idle_on_demand = i.provisioned.is_none()
                    && i.inflight.load(Ordering::Acquire) == 0
                    && i.last_used.lock().unwrap().elapsed() >= idle;
                if idle_on_demand || i.has_exited() {
                    to_stop.push(i);
                }
            }
        }
        // Provision reconciliation.
        let desired: Vec<(String, String, usize)> = {
            let st = ctx.store.read();
            let mut v = Vec::new();
            for (fname, f) in &st.functions {
                for (q, p) in &f.provision {
                    v.push((fname.clone(), q.clone(), p.target.max(0) as usize));
                }
            }
            v
        };
        let mut wanted: HashMap<(String, String), (String, usize)> = HashMap::new();
        let mut targets = Vec::new();
        for (fname, q, n) in desired {
            match resolve(ctx, &fname, Some(&q), false) {
                Ok(t) => {
                    wanted.insert((fname.clone(), q.clone()), (pool_version(&t), n));
                    targets.push((t, q, n));
                }
                Err(e) => {
                    self.prov_errors
                        .lock()
                        .unwrap()
                        .insert((fname, q), (e.message, Instant::now()));
                }
            }
        }
        // Retire provisioned instances that are no longer wanted (config deleted, version moved, too many).
        for ((f, v), p) in &pools {
            let mut g = p.inner.lock().unwrap();
            let mut keep_count: HashMap<String, usize> = HashMap::new();
            let mut retire = Vec::new();
            for i in g.instances.iter() {
                if let Some(q) = &i.provisioned {
                    let ok = match wanted.get(&(f.clone(), q.clone())) {
                        Some((ver, n)) if ver == v => {
                            let c = keep_count.entry(q.clone()).or_default();
                            *c += 1;
                            *c <= *n
                        }
                        _ => false,
                    };
                    if !ok {
                        retire.push(i.clone());
                    }
                }
            }
            g.instances
                .retain(|i| !retire.iter().any(|r| Arc::ptr_eq(r, i)));
            drop(g);
            for r in retire {
                release_count(&self.counts, f);
                let me = ctx.clone();
                tokio::spawn(async move { me.runtime.stop_instance(r).await });
            }
        }
        for (t, q, n) in targets {
            let pool = self.pool(&t.function, &pool_version(&t));
            let missing = {
                let g = pool.inner.lock().unwrap();
                let have = g
                    .instances
                    .iter()
                    .filter(|i| i.provisioned.as_deref() == Some(q.as_str()))
                    .count()
                    + g.starting_prov.get(&q).copied().unwrap_or(0);
                n.saturating_sub(have)
            };
            if missing == 0 {
                self.prov_errors
                    .lock()
                    .unwrap()
                    .remove(&(t.function.clone(), q.clone()));
                continue;
            }
            if let Some((_, at)) = self
                .prov_errors
                .lock()
                .unwrap()
                .get(&(t.function.clone(), q.clone()))
                && at.elapsed() < Duration::from_secs(2)
            {
                continue;
            }
            for _ in 0..missing {
                if !guard_count(
                    &self.counts,
                    &t.function,
                    ctx.cfg.max_instances_per_function,
                ) {
                    self.prov_errors.lock().unwrap().insert(
                        (t.function.clone(), q.clone()),
                        (
                            format!(
                                "instance cap reached ({} per function)",
                                ctx.cfg.max_instances_per_function
                            ),
                            Instant::now(),
                        ),
                    );
                    break;
                }
                *pool
                    .inner
                    .lock()
                    .unwrap()
                    .starting_prov
                    .entry(q.clone())
                    .or_default() += 1;
                let ctx2 = ctx.clone();
                let (t2, q2, pool2) = (t.clone(), q.clone(), pool.clone());
                tokio::spawn(async move {
                    let rt = &ctx2.runtime;
                    let r = rt.start_instance(&ctx2, &t2, Some(q2.clone())).await;
                    let mut g = pool2.inner.lock().unwrap();
                    if let Some(c) = g.starting_prov.get_mut(&q2) {
                        *c = c.saturating_sub(1);
                    }
                    match r {
                        Ok((inst, _)) => {
                            g.instances.push(inst);
                            drop(g);
                            pool2.notify.notify_waiters();
                        }
                        Err(e) => {
                            drop(g);
                            release_count(&rt.counts, &t2.function);
                            tracing::warn!(function = %t2.function, qualifier = %q2, "provisioned instance failed: {}", e.message);
                            rt.prov_errors.lock().unwrap().insert(
                                (t2.function.clone(), q2),
                                (format!("{}: {}", e.code, e.message), Instant::now()),
                            );
                        }
                    }
                });
            }
        }
        for i in to_stop {
            if self.remove_instance(&i) {
                let me = ctx.clone();
                tokio::spawn(async move { me.runtime.stop_instance(i).await });
            }
        }
        // Drop pools of deleted functions.
        let latest: HashMap<String, String> = ctx
            .store
            .read()
            .functions
            .iter()
            .map(|(k, f)| {
                let t = Target {
                    function: k.clone(),
                    version: "LATEST".into(),
                    qualifier: "LATEST".into(),
                    config: f.config.clone(),
                    code_sha: f.code_sha.clone(),
                };
                (k.clone(), pool_version(&t))
            })
            .collect();
        let gone: Vec<Arc<Instance>> = {
            let mut pools = self.pools.lock().unwrap();
            let mut out = Vec::new();
            pools.retain(|(f, v), p| {
                let stale_latest = v.starts_with("LATEST@") && latest.get(f) != Some(v);
                if latest.contains_key(f) && !stale_latest {
                    true
                } else {
                    out.append(&mut p.inner.lock().unwrap().instances);
                    false
                }
            });
            out
        };
        for i in gone {
            release_count(&self.counts, &i.function);
            let me = ctx.clone();
            tokio::spawn(async move { me.runtime.stop_instance(i).await });
        }
    }
}

pub fn set_invoke_headers(
    h: &mut HeaderMap,
    request_id: &str,
    instance: &str,
    cold: Option<(u64, Option<u64>)>,
) {
    let mut set = |k: &'static str, v: &str| {
        if let Ok(v) = HeaderValue::from_str(v) {
            h.insert(HeaderName::from_static(k), v);
        }
    };
    set("x-fc-request-id", request_id);
    if !instance.is_empty() {
        set("x-fc-instance-id", instance);
    }
    set(
        "x-fcctl-cold-start",
        if cold.is_some() { "true" } else { "false" },
    );
    if let Some((s, i)) = cold {
        set("x-fcctl-instance-start-ms", &s.to_string());
        if let Some(i) = i {
            set("x-fcctl-initialize-ms", &i.to_string());
        }
    }
}

/// Background housekeeping loop.
pub async fn background(ctx: Arc<Ctx>, mut shutdown: tokio::sync::watch::Receiver<bool>) {
    loop {
        ctx.runtime.tick(&ctx).await;
        tokio::select! {
            _ = shutdown.wait_for(|v| *v) => break,
            _ = ctx.runtime.wake.notified() => {}
            _ = tokio::time::sleep(Duration::from_millis(250)) => {}
        }
    }
}
