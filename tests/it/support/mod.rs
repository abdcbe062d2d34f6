//! The one harness for the end-to-end tests: [`TestProject`] (a temp project with a fresh
//! emulator on an ephemeral port, faults and env chosen by a builder) and [`fcctl`] (the one
//! command builder: the real binary, a private HOME, no credentials from the caller's
//! environment).
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

/// The workspace root.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `fcctl ARGS` run in `dir`, with HOME there and none of the caller's Alibaba Cloud
/// credentials, so a developer's own keys never reach a test.
pub fn fcctl_command<S: AsRef<std::ffi::OsStr>>(dir: &Path, args: &[S]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_fcctl"));
    cmd.current_dir(dir)
        .args(args)
        .env("HOME", dir)
        // One ONNX Runtime download for all tests, not one per temp HOME.
        .env("FCCTL_CACHE_DIR", repo().join("target/test-cache/fcctl"))
        .env_remove("FCCTL_SHARE_DIR")
        .env_remove("XDG_DATA_HOME")
        .env_remove("ALIBABA_CLOUD_ACCESS_KEY_ID")
        .env_remove("ALIBABA_CLOUD_ACCESS_KEY_SECRET")
        .env_remove("ALIBABA_CLOUD_SECURITY_TOKEN")
        .env_remove("RUST_LOG");
    cmd
}

/// stdout + stderr as one string.
pub fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// stdout parsed as JSON, after asserting the command succeeded.
pub fn json_of(args: &[&str], out: &Output) -> serde_json::Value {
    assert!(
        out.status.success(),
        "fcctl {args:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "fcctl {args:?} printed non-JSON ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

/// How a project's commands reach its emulator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Connection {
    /// `fcctl --local`: the emulator records itself in `target/fcctl/local/emulator.json`.
    Local,
    /// The documented cloud path: endpoint overrides and standard credential variables.
    Env,
}

/// Builds a [`TestProject`].
pub struct Builder {
    faults: String,
    config: String,
    connection: Connection,
    env: Vec<(String, String)>,
    record_requests: bool,
}

impl Builder {
    /// The emulator appends every authenticated API request to [`TestProject::request_log`].
    pub fn record_requests(mut self) -> Builder {
        self.record_requests = true;
        self
    }

    /// Emulator faults, e.g. `error_rate=0.1` (emulator `Faults` syntax).
    pub fn faults(mut self, faults: &str) -> Builder {
        self.faults = faults.to_string();
        self
    }

    /// The project's fcctl.yaml.
    pub fn config(mut self, yaml: &str) -> Builder {
        self.config = yaml.to_string();
        self
    }

    /// Commands connect through `FCCTL_FC_ENDPOINT`/`FCCTL_OSS_ENDPOINT` and
    /// `ALIBABA_CLOUD_*` credentials instead of `--local`.
    pub fn connect_with_env(mut self) -> Builder {
        self.connection = Connection::Env;
        self
    }

    /// An environment variable for every command.
    pub fn env(mut self, key: &str, value: &str) -> Builder {
        self.env.push((key.into(), value.into()));
        self
    }

    /// Starts the emulator (on a runtime of its own, so sync and async tests alike can use
    /// the project) and writes fcctl.yaml.
    pub fn start(self) -> TestProject {
        let dir = tempfile::tempdir().unwrap();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let cfg = emulator::Config {
            data_dir: dir.path().join("target/fcctl/local"),
            faults: self.faults.parse().unwrap(),
            request_log: self
                .record_requests
                .then(|| dir.path().join("requests.jsonl")),
            ..emulator::Config::default()
        };
        let handle = runtime.handle().clone();
        // A thread of its own: block_on panics when called from inside an async test.
        let emulator = std::thread::spawn(move || handle.block_on(emulator::Emulator::start(cfg)))
            .join()
            .unwrap()
            .unwrap();
        let info = emulator.info().clone();
        std::fs::write(dir.path().join("fcctl.yaml"), &self.config).unwrap();
        TestProject {
            dir,
            info,
            connection: self.connection,
            env: self.env,
            runtime: Some(runtime),
            emulator: Some(emulator),
        }
    }
}

/// How a [`TestProject::fake_build_as`] function fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FakeFault {
    None,
    /// `/initialize` answers 500 with a message (a model that does not load).
    Initialize,
    /// Every classification answers 500 (a model that loads but cannot run).
    Classify,
}

/// A temp project with its own emulator.
pub struct TestProject {
    pub dir: tempfile::TempDir,
    pub info: emulator::Info,
    connection: Connection,
    env: Vec<(String, String)>,
    runtime: Option<tokio::runtime::Runtime>,
    emulator: Option<emulator::Emulator>,
}

impl TestProject {
    /// A project for control-plane and `up` tests (`app: cat-dog`, 2 provisioned instances),
    /// reached with `--local`.
    pub fn builder() -> Builder {
        Builder {
            faults: String::new(),
            config: "app: cat-dog\nprovision:\n  instances: 2\n".into(),
            connection: Connection::Local,
            env: Vec::new(),
            record_requests: false,
        }
    }

    /// A project for NAS tests: app `t`, the tree at `tree/` → `model/`, everything over 1 MB
    /// to NAS, small multipart sizes; reached through the env-var (cloud) path.
    pub fn nas() -> TestProject {
        let p = TestProject::builder()
            .config(
                "app: t\nbuild:\n  onnxruntime: false\n  files:\n    - src: tree\n      dst: model\nnas:\n  threshold_mb: 1\n",
            )
            .connect_with_env()
            .env("FCCTL_NAS_MULTIPART_MIN", &(1 << 20).to_string())
            .env("FCCTL_NAS_PART_SIZE", &(256 << 10).to_string())
            .start();
        std::fs::create_dir_all(p.tree()).unwrap();
        p
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Stops the emulator (as `fcctl local stop` does: pre-stop, instances stopped, state
    /// flushed) and starts a new one on the same data dir (new ports; no faults).
    pub fn restart_emulator(&mut self) {
        let runtime = self.runtime.as_ref().unwrap();
        let handle = runtime.handle().clone();
        let old = self.emulator.take().unwrap();
        let cfg = emulator::Config {
            data_dir: self.info.data_dir.clone(),
            ..emulator::Config::default()
        };
        let emulator = std::thread::spawn(move || {
            handle.block_on(async move {
                old.shutdown().await;
                emulator::Emulator::start(cfg).await
            })
        })
        .join()
        .unwrap()
        .unwrap();
        self.info = emulator.info().clone();
        self.emulator = Some(emulator);
    }

    pub fn data_dir(&self) -> PathBuf {
        self.info.data_dir.clone()
    }

    /// NAS tests' source tree.
    pub fn tree(&self) -> PathBuf {
        self.path().join("tree")
    }

    /// Where [`Builder::record_requests`] makes the emulator log requests.
    pub fn request_log(&self) -> PathBuf {
        self.path().join("requests.jsonl")
    }

    pub fn work(&self) -> PathBuf {
        self.path().join("target/fcctl")
    }

    /// The emulator's host dir behind `/mnt/auto/t/releases`: inside the NAS file system
    /// `nas.server_addr: auto` resolved to (the one the emulator holds), else in the
    /// emulator's shared NAS dir (an explicit `server_addr`).
    pub fn releases(&self) -> PathBuf {
        self.nas_root().join("t/releases")
    }

    /// The host dir a function sees at its NAS mount.
    pub fn nas_root(&self) -> PathBuf {
        let fs_dir = self.data_dir().join("nas-fs");
        match std::fs::read_dir(&fs_dir) {
            Ok(entries) => {
                let dirs: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
                assert!(dirs.len() <= 1, "more than one NAS file system: {dirs:?}");
                dirs.into_iter()
                    .next()
                    .unwrap_or_else(|| self.info.nas_dir.clone())
            }
            Err(_) => self.info.nas_dir.clone(),
        }
    }

    /// `fcctl ARGS` against this project's emulator, as the builder chose to connect.
    pub fn command<S: AsRef<std::ffi::OsStr>>(&self, args: &[S]) -> Command {
        let mut cmd = fcctl_command::<&str>(self.path(), &[]);
        cmd.arg("--config").arg(self.path().join("fcctl.yaml"));
        match self.connection {
            Connection::Local => {
                cmd.arg("--local");
            }
            Connection::Env => self.connect_with_env(&mut cmd),
        }
        cmd.args(args);
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        cmd
    }

    /// The `--local` command whatever the builder chose (for tests that spawn it to kill it).
    pub fn local_command<S: AsRef<std::ffi::OsStr>>(&self, args: &[S]) -> Command {
        let mut cmd = fcctl_command(self.path(), &["--local"]);
        cmd.args(args);
        cmd
    }

    fn connect_with_env(&self, cmd: &mut Command) {
        cmd.env("FCCTL_FC_ENDPOINT", &self.info.fc_endpoint)
            .env("FCCTL_OSS_ENDPOINT", &self.info.oss_endpoint)
            .env("FCCTL_VPC_ENDPOINT", &self.info.vpc_endpoint)
            .env("FCCTL_ECS_ENDPOINT", &self.info.ecs_endpoint)
            .env("FCCTL_NAS_ENDPOINT", &self.info.nas_endpoint)
            .env("FCCTL_RAM_ENDPOINT", &self.info.ram_endpoint)
            .env("FCCTL_SLS_ENDPOINT", &self.info.sls_endpoint)
            .env("ALIBABA_CLOUD_ACCESS_KEY_ID", &self.info.access_key_id)
            .env(
                "ALIBABA_CLOUD_ACCESS_KEY_SECRET",
                &self.info.access_key_secret,
            )
            .env("ALIBABA_CLOUD_ACCOUNT_ID", &self.info.account_id);
    }

    /// Runs `fcctl ARGS` and returns its output.
    pub fn fcctl(&self, args: &[&str]) -> Output {
        self.command(args).output().unwrap()
    }

    /// Runs fcctl through the env-var (cloud) path; `env` overrides those variables.
    pub fn fcctl_env(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        let mut cmd = fcctl_command(self.path(), args);
        self.connect_with_env(&mut cmd);
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.output().unwrap()
    }

    /// Runs a command and parses its stdout as JSON, asserting success.
    pub fn json(&self, args: &[&str]) -> serde_json::Value {
        json_of(args, &self.fcctl(args))
    }

    /// `fcctl build` with the prebuilt nas-agent as both binaries (a real ELF for glibc 2.28).
    pub fn build_with_agent_only(&self) -> serde_json::Value {
        let agent = agent_binary();
        let a = agent.to_str().unwrap();
        self.json(&["build", "--json", "--binary", a, "--agent-binary", a])
    }

    /// Writes a build manifest and state as `fcctl build` + `nas-sync` would, for a tiny Python
    /// function that answers `label` (so versions are distinguishable).
    pub fn fake_build(&self, label: &str, release: &str) {
        self.fake_build_as(label, release, FakeFault::None);
    }

    /// [`TestProject::fake_build`] for a function that fails the way `fault` says.
    pub fn fake_build_as(&self, label: &str, release: &str, fault: FakeFault) {
        let (init_status, post_status) = match fault {
            FakeFault::None => (200, 200),
            FakeFault::Initialize => (500, 200),
            FakeFault::Classify => (200, 500),
        };
        let server = format!(
            r#"#!/usr/bin/env python3
import http.server, os, json
class H(http.server.BaseHTTPRequestHandler):
    def reply(self, b, t, status=200):
        self.send_response(status); self.send_header("content-type", t)
        self.send_header("content-length", str(len(b))); self.end_headers(); self.wfile.write(b)
    def do_GET(self): self.reply(b"<form method=post></form>", "text/html")
    def do_POST(self):
        self.rfile.read(int(self.headers.get("content-length") or 0))
        if self.path == "/initialize":
            if {init_status} != 200:
                self.reply(b"model load failed: sha256 mismatch in model.onnx", "text/plain", {init_status})
            else:
                self.reply(b"", "text/plain")
            return
        if {post_status} != 200:
            self.reply(json.dumps({{"error": "inference_failed", "message": "tensor shape mismatch"}}).encode(), "application/json", {post_status})
            return
        self.reply(json.dumps({{"label": "{label}", "dog": 0.9, "cat": 0.1, "ms": 1, "top5": [],
            "release": os.environ.get("FCCTL_RELEASE")}}).encode(), "application/json")
    def log_message(self, *a): pass
http.server.ThreadingHTTPServer((os.environ.get("FCCTL_LISTEN_HOST", "0.0.0.0"), int(os.environ["FC_CUSTOM_LISTEN_PORT"])), H).serve_forever()
"#
        );
        self.fake_build_of(&server, release);
    }

    /// Writes `server` (a custom runtime script) as the build's `bootstrap`, with build and
    /// state files as `fcctl build` + `nas-sync` would.
    pub fn fake_build_of(&self, server: &str, release: &str) {
        use std::io::Write as _;
        let work = self.work();
        std::fs::create_dir_all(&work).unwrap();
        let zip_path = work.join("code.zip");
        {
            let f = std::fs::File::create(&zip_path).unwrap();
            let mut z = zip::ZipWriter::new(f);
            let opts = zip::write::SimpleFileOptions::default().unix_permissions(0o755);
            z.start_file("bootstrap", opts).unwrap();
            z.write_all(server.as_bytes()).unwrap();
            z.finish().unwrap();
        }
        let crc = emulator::crc64(&std::fs::read(&zip_path).unwrap());
        let build = serde_json::json!({
            "code_zip": zip_path.display().to_string(),
            "code_zip_crc64": crc.to_string(),
        });
        std::fs::write(work.join("build.json"), build.to_string()).unwrap();
        let state = serde_json::json!({ "release_id": release });
        std::fs::write(work.join("state.json"), state.to_string()).unwrap();
    }
}

impl Drop for TestProject {
    fn drop(&mut self) {
        if let (Some(runtime), Some(emulator)) = (self.runtime.take(), self.emulator.take()) {
            let handle = runtime.handle().clone();
            let _ = std::thread::spawn(move || handle.block_on(emulator.shutdown())).join();
            // Not a plain drop: dropping a runtime inside an async test panics.
            runtime.shutdown_background();
        }
    }
}

/// nas-agent cross-built for glibc 2.28 with cargo-zigbuild into the workspace `target/`
/// (what `fcctl build` does; cached across runs). Built once per test run.
pub fn agent_binary() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let root = repo();
        let path = ::fcctl::package::cross::path_env(&root);
        let mut c = Command::new("cargo");
        ::fcctl::package::cross::sanitize(&mut c);
        let st = c
            .current_dir(&root)
            .env("PATH", path)
            .env("CARGO_TARGET_DIR", root.join("target"))
            .args([
                "zigbuild",
                "--release",
                "-p",
                "nas-agent",
                "--bin",
                "nas-agent",
                "--target",
                "x86_64-unknown-linux-gnu.2.28",
            ])
            .status()
            .expect("cargo zigbuild runs (scripts/setup installs it)");
        assert!(st.success(), "cargo zigbuild of nas-agent failed");
        root.join("target/x86_64-unknown-linux-gnu/release/nas-agent")
    })
    .clone()
}

/// Writes `n` bytes derived from `seed` (incompressible enough, deterministic).
pub fn write_file(p: &Path, n: usize, seed: u64) {
    if let Some(d) = p.parent() {
        std::fs::create_dir_all(d).unwrap();
    }
    let mut x = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    let mut v = Vec::with_capacity(n);
    while v.len() < n {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        v.extend_from_slice(&x.to_le_bytes());
    }
    v.truncate(n);
    std::fs::write(p, v).unwrap();
}

/// Checks every complete release dir against its marker manifest (sizes + sha256) and that
/// no release dir without a marker is visible. Returns the release ids seen.
pub fn verify_releases(releases: &Path) -> Vec<String> {
    verify_releases_cached(releases, &mut Default::default())
}

/// [`verify_releases`], re-hashing only releases not in `seen` (they are immutable).
pub fn verify_releases_cached(
    releases: &Path,
    seen: &mut std::collections::HashSet<String>,
) -> Vec<String> {
    use sha2::Digest as _;
    let mut ids = Vec::new();
    let Ok(rd) = std::fs::read_dir(releases) else {
        return ids;
    };
    for e in rd.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') || name.contains(".tmp") || name.contains(".broken-") {
            continue;
        }
        let dir = e.path();
        let marker = dir.join(".fcctl-release.json");
        assert!(
            marker.is_file(),
            "partial release visible: {}",
            dir.display()
        );
        if !seen.insert(name.clone()) {
            ids.push(name);
            continue;
        }
        let m: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&marker).unwrap()).unwrap();
        for f in m["files"].as_array().unwrap() {
            let p = dir.join(f["path"].as_str().unwrap());
            if let Some(t) = f["link"].as_str() {
                assert_eq!(std::fs::read_link(&p).unwrap(), PathBuf::from(t));
                continue;
            }
            let bytes = std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            assert_eq!(
                bytes.len() as u64,
                f["size"].as_u64().unwrap(),
                "{}",
                p.display()
            );
            assert_eq!(
                hex::encode(sha2::Sha256::digest(&bytes)),
                f["sha256"].as_str().unwrap(),
                "{}",
                p.display()
            );
        }
        ids.push(name);
    }
    ids.sort();
    ids
}

/// Makes `dir/model.yaml`'s ONNX file one ONNX Runtime cannot load while every check fcctl
/// makes before the function runs still passes: each `Conv` node becomes an operator no
/// runtime implements (same byte length, so the protobuf stays well formed and the graph's
/// inputs and outputs are untouched) and `sha256:` is updated to the new bytes. Returns the
/// operator name, which the runtime's error names.
pub fn make_model_unloadable(dir: &Path) -> &'static str {
    use sha2::Digest;
    const UNKNOWN_OP: &str = "Cvnv";
    let yaml_path = dir.join("model.yaml");
    let yaml = std::fs::read_to_string(&yaml_path).unwrap();
    let onnx_name = yaml
        .lines()
        .find_map(|l| l.strip_prefix("onnx:"))
        .expect("model.yaml names its onnx file")
        .trim()
        .to_string();
    let onnx_path = dir.join(&onnx_name);
    let mut bytes = std::fs::read(&onnx_path).unwrap();
    let mut replaced = 0;
    for i in 0..bytes.len().saturating_sub(3) {
        if &bytes[i..i + 4] == b"Conv" {
            bytes[i..i + 4].copy_from_slice(UNKNOWN_OP.as_bytes());
            replaced += 1;
        }
    }
    assert!(replaced > 0, "{onnx_name} has Conv nodes to break");
    std::fs::write(&onnx_path, &bytes).unwrap();
    let sha = format!("{:x}", sha2::Sha256::digest(&bytes));
    let yaml: String = yaml
        .lines()
        .map(|l| {
            if l.starts_with("sha256:") {
                format!("sha256: {sha}\n")
            } else {
                format!("{l}\n")
            }
        })
        .collect();
    std::fs::write(&yaml_path, yaml).unwrap();
    UNKNOWN_OP
}
