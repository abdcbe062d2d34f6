//! Shared helpers for tests/build_*.rs and tests/nas_*.rs: a temp project with a small NAS
//! tree, a fresh in-process emulator on an ephemeral port, and the fcctl binary pointed at it.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

/// The workspace root.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// nas-agent cross-built for glibc 2.28 with cargo-zigbuild into the workspace `target/`
/// (what `fcctl build` does; cached across runs). Built once per test binary.
pub fn agent_binary() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let root = repo();
        let path = fcctl::package::cross::path_env(&root);
        let mut c = Command::new("cargo");
        fcctl::package::cross::sanitize(&mut c);
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

/// A temp project + emulator.
pub struct Project {
    pub dir: tempfile::TempDir,
    pub emu: Option<emulator::Emulator>,
    pub info: emulator::Info,
}

impl Project {
    /// Starts an emulator and writes `fcctl.yaml` (app `t`, tree at `tree/` → `model/`).
    pub async fn new() -> Project {
        let dir = tempfile::tempdir().unwrap();
        let emu = emulator::Emulator::start(emulator::Config {
            data_dir: dir.path().join("emu"),
            ..Default::default()
        })
        .await
        .unwrap();
        let info = emu.info().clone();
        std::fs::create_dir_all(dir.path().join("tree")).unwrap();
        std::fs::write(
            dir.path().join("fcctl.yaml"),
            "app: t\nbuild:\n  onnxruntime: false\n  files:\n    - src: tree\n      dst: model\nnas:\n  threshold_mb: 1\n",
        )
        .unwrap();
        Project {
            dir,
            emu: Some(emu),
            info,
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn tree(&self) -> PathBuf {
        self.path().join("tree")
    }

    pub fn work(&self) -> PathBuf {
        self.path().join("target/fcctl")
    }

    /// The emulator's host dir behind `/mnt/auto/t/releases`.
    pub fn releases(&self) -> PathBuf {
        self.info.nas_dir.join("t/releases")
    }

    /// A `Command` for fcctl against this project's emulator.
    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_fcctl"));
        c.current_dir(self.path())
            .arg("--config")
            .arg(self.path().join("fcctl.yaml"))
            .args(args)
            .env("FCCTL_FC_ENDPOINT", &self.info.fc_endpoint)
            .env("FCCTL_OSS_ENDPOINT", &self.info.oss_endpoint)
            .env("ALIBABA_CLOUD_ACCESS_KEY_ID", &self.info.access_key_id)
            .env(
                "ALIBABA_CLOUD_ACCESS_KEY_SECRET",
                &self.info.access_key_secret,
            )
            .env("ALIBABA_CLOUD_ACCOUNT_ID", &self.info.account_id)
            .env_remove("ALIBABA_CLOUD_SECURITY_TOKEN")
            .env_remove("RUST_LOG")
            .env("FCCTL_NAS_MULTIPART_MIN", (1 << 20).to_string())
            .env("FCCTL_NAS_PART_SIZE", (256 << 10).to_string());
        c
    }

    /// Runs fcctl (off the async runtime) and returns its output.
    pub async fn run(&self, args: &[&str]) -> Output {
        let mut c = self.cmd(args);
        tokio::task::spawn_blocking(move || c.output().unwrap())
            .await
            .unwrap()
    }

    /// Runs and expects success + JSON on stdout.
    pub async fn json(&self, args: &[&str]) -> serde_json::Value {
        let out = self.run(args).await;
        assert!(
            out.status.success(),
            "fcctl {args:?} failed: {}\n{}",
            String::from_utf8_lossy(&out.stderr),
            String::from_utf8_lossy(&out.stdout)
        );
        serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)))
    }

    /// `fcctl build` with the prebuilt agent as both binaries (a real ELF for glibc 2.28).
    pub async fn build(&self) -> serde_json::Value {
        let agent = agent_binary();
        let a = agent.to_str().unwrap();
        self.json(&["build", "--json", "--binary", a, "--agent-binary", a])
            .await
    }

    pub async fn shutdown(mut self) {
        if let Some(e) = self.emu.take() {
            e.shutdown().await;
        }
    }
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
