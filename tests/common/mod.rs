//! Shared harness for end-to-end tests: a fresh emulator on an ephemeral port, a temp project
//! directory, and the real `fcctl` binary pointed at both.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Output;

/// A temp project with its own emulator.
pub struct Project {
    pub dir: tempfile::TempDir,
    pub info: emulator::Info,
    rt: tokio::runtime::Runtime,
    emu: Option<emulator::Emulator>,
}

impl Project {
    /// Starts an emulator (optionally with faults) and writes a minimal fcctl.yaml.
    pub fn new(faults: &str) -> Project {
        let dir = tempfile::tempdir().unwrap();
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let cfg = emulator::Config {
            data_dir: dir.path().join("target/fcctl/local"),
            faults: faults.parse().unwrap(),
            ..emulator::Config::default()
        };
        let emu = rt.block_on(emulator::Emulator::start(cfg)).unwrap();
        let info = emu.info().clone();
        std::fs::write(
            dir.path().join("fcctl.yaml"),
            "app: cat-dog\nprovision:\n  instances: 2\n",
        )
        .unwrap();
        Project {
            dir,
            info,
            rt,
            emu: Some(emu),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Runs `fcctl --local ARGS` in the project (the emulator records itself in
    /// `target/fcctl/local/emulator.json`, which is how `--local` finds it).
    pub fn fcctl(&self, args: &[&str]) -> Output {
        self.local_command(args).output().unwrap()
    }

    /// The command `fcctl` runs, for tests that spawn it (to kill it, or bound its wait).
    pub fn local_command<S: AsRef<std::ffi::OsStr>>(&self, args: &[S]) -> std::process::Command {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_fcctl"));
        cmd.current_dir(self.path())
            .arg("--local")
            .args(args)
            .env("HOME", self.path())
            .env_remove("ALIBABA_CLOUD_ACCESS_KEY_ID")
            .env_remove("ALIBABA_CLOUD_ACCESS_KEY_SECRET");
        cmd
    }

    /// Runs fcctl without `--local`, pointed at the emulator through the documented env vars
    /// (endpoint overrides + standard credentials); `env` overrides them.
    pub fn fcctl_env(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_fcctl"));
        cmd.current_dir(self.path())
            .args(args)
            .env_remove("ALIBABA_CLOUD_SECURITY_TOKEN")
            .env("HOME", self.path())
            .env("FCCTL_FC_ENDPOINT", &self.info.fc_endpoint)
            .env("FCCTL_OSS_ENDPOINT", &self.info.oss_endpoint)
            .env("ALIBABA_CLOUD_ACCESS_KEY_ID", &self.info.access_key_id)
            .env(
                "ALIBABA_CLOUD_ACCESS_KEY_SECRET",
                &self.info.access_key_secret,
            )
            .env("ALIBABA_CLOUD_ACCOUNT_ID", &self.info.account_id);
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.output().unwrap()
    }

    /// Writes a build manifest and state as `fcctl build` + `nas-sync` would, for a tiny Python
    /// function that answers `label` from its env var `LABEL` (so versions are distinguishable).
    pub fn fake_build(&self, label: &str, release: &str) {
        let work = self.path().join("target/fcctl");
        std::fs::create_dir_all(&work).unwrap();
        let server = format!(
            r#"#!/usr/bin/env python3
import http.server, os, json
class H(http.server.BaseHTTPRequestHandler):
    def reply(self, b, t):
        self.send_response(200); self.send_header("content-type", t)
        self.send_header("content-length", str(len(b))); self.end_headers(); self.wfile.write(b)
    def do_GET(self): self.reply(b"<form method=post></form>", "text/html")
    def do_POST(self):
        self.rfile.read(int(self.headers.get("content-length") or 0))
        self.reply(json.dumps({{"label": "{label}", "dog": 0.9, "cat": 0.1, "ms": 1, "top5": [],
            "release": os.environ.get("FCCTL_RELEASE")}}).encode(), "application/json")
    def log_message(self, *a): pass
http.server.ThreadingHTTPServer(("0.0.0.0", int(os.environ["FC_CUSTOM_LISTEN_PORT"])), H).serve_forever()
"#
        );
        let zip_path = work.join("code.zip");
        {
            use std::io::Write as _;
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

    /// Runs a command and parses its stdout as JSON, asserting success.
    pub fn json(&self, args: &[&str]) -> serde_json::Value {
        let out = self.fcctl(args);
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

    pub fn data_dir(&self) -> PathBuf {
        self.info.data_dir.clone()
    }
}

impl Drop for Project {
    fn drop(&mut self) {
        if let Some(emu) = self.emu.take() {
            self.rt.block_on(emu.shutdown());
        }
    }
}

/// stdout + stderr as one string.
pub fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}
