//! The emulator as a service on this machine (issue 15, items 7, 9, 10, 11): an emulator run
//! as `fcctl local start` with credentials in its own environment, a probe function (Python,
//! custom runtime) that reports what an instance sees and can do, and the emulator's process
//! tree inspected through `/proc`.

use std::collections::BTreeSet;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use fcctl::aliyun::fc::{ApiRequest, path};
use fcctl::aliyun::fc_models::InvokeFunctionRequest;
use fcctl::aliyun::{AccessKey, FcClient};
use reqwest::Method;
use serde_json::{Value, json};

use crate::support::fcctl_command;

const LEAKED_SECRET: &str = "EmulatorOwnSecretMustNotLeak0123";
const LEAKED_TOKEN: &str = "EmulatorOwnStsTokenMustNotLeak4567";

/// Answers `POST` with `{"op": …, "path": …}`: its environment, its pids, or the outcome of
/// reading, writing or listing `path`. Starts a grandchild (`sleep`) in its process group, as
/// a server forking workers would.
const PROBE_PY: &str = r#"
import http.server, json, os, subprocess
port = int(os.environ["FC_CUSTOM_LISTEN_PORT"])
host = os.environ.get("FCCTL_LISTEN_HOST", "0.0.0.0")
child = subprocess.Popen(["sleep", "600"])
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_POST(self):
        n = int(self.headers.get("content-length") or 0)
        req = json.loads(self.rfile.read(n) or b"{}")
        op, p = req.get("op"), req.get("path")
        try:
            if op == "env":
                out = dict(os.environ)
            elif op == "pids":
                out = {"pid": os.getpid(), "child": child.pid}
            elif op == "read":
                out = {"ok": True, "bytes": len(open(p, "rb").read())}
            elif op == "write":
                with open(p, "w") as f:
                    f.write("x")
                out = {"ok": True}
            elif op == "list":
                out = {"ok": True, "names": sorted(os.listdir(p))}
            else:
                out = {"ok": False, "error": "unknown op"}
        except OSError as e:
            out = {"ok": False, "error": str(e)}
        b = json.dumps(out).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(b)))
        self.end_headers()
        self.wfile.write(b)
    def log_message(self, *a):
        pass
http.server.ThreadingHTTPServer((host, port), H).serve_forever()
"#;

/// `fcctl local start` in its own process, with the caller's credentials in its environment.
struct Emu {
    child: Child,
    data: PathBuf,
    info: emulator::Info,
    _dir: tempfile::TempDir,
}

impl Emu {
    async fn start() -> Emu {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("target/fcctl/local");
        let child = spawn_emulator(dir.path(), &data);
        let info = wait_ready(&data, child.id()).await;
        Emu {
            child,
            data,
            info,
            _dir: dir,
        }
    }

    fn fc(&self) -> FcClient {
        FcClient::new(
            &self.info.fc_endpoint,
            AccessKey::new(&self.info.access_key_id, &self.info.access_key_secret),
            Default::default(),
        )
        .unwrap()
    }
}

impl Drop for Emu {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = emulator::reap_orphans(&self.data);
    }
}

fn spawn_emulator(project: &Path, data: &Path) -> Child {
    std::fs::create_dir_all(data).unwrap();
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(data.join("emulator.log"))
        .unwrap();
    fcctl_command(project, &["local", "start", "--json", "--data-dir"])
        .arg(data)
        .env("ALIBABA_CLOUD_ACCESS_KEY_ID", "LTAI5tCallerKeyId")
        .env("ALIBABA_CLOUD_ACCESS_KEY_SECRET", LEAKED_SECRET)
        .env("ALIBABA_CLOUD_SECURITY_TOKEN", LEAKED_TOKEN)
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap()
}

async fn wait_ready(data: &Path, pid: u32) -> emulator::Info {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(info) = fcctl::local::find_running(data).await
            && info.pid == pid
        {
            return info;
        }
        assert!(
            Instant::now() < deadline,
            "emulator not ready: {}",
            std::fs::read_to_string(data.join("emulator.log")).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn probe_zip() -> String {
    let mut buf = std::io::Cursor::new(Vec::new());
    {
        let mut z = zip::ZipWriter::new(&mut buf);
        let o = zip::write::SimpleFileOptions::default().unix_permissions(0o755);
        z.start_file("probe.py", o).unwrap();
        z.write_all(PROBE_PY.as_bytes()).unwrap();
        z.finish().unwrap();
    }
    base64::engine::general_purpose::STANDARD.encode(buf.into_inner())
}

async fn call(fc: &FcClient, action: &str, method: Method, p: String, body: Value) {
    let mut r = ApiRequest::new(action, method, p);
    r.body = serde_json::to_vec(&body).unwrap();
    r.content_type = Some("application/json".into());
    let resp = fc.send(&r).await.unwrap();
    assert_eq!(
        resp.status,
        200,
        "{action}: {}",
        String::from_utf8_lossy(&resp.body)
    );
}

/// Creates the probe function `name` and an anonymous HTTP trigger on it.
async fn deploy_probe(fc: &FcClient, name: &str) {
    let f = json!({
        "functionName": name,
        "runtime": "custom.debian12",
        "handler": "index.handler",
        "timeout": 30,
        "memorySize": 512,
        "cpu": 0.5,
        "code": {"zipFile": probe_zip()},
        "customRuntimeConfig": {"command": ["python3", "/code/probe.py"], "port": 9000},
        "environmentVariables": {"GREETING": "hello"},
    });
    call(fc, "CreateFunction", Method::POST, path(&["functions"]), f).await;
    let tc = json!({"authType": "anonymous", "methods": ["POST"]}).to_string();
    let t = json!({"triggerName": "http", "triggerType": "http", "qualifier": "LATEST", "triggerConfig": tc});
    call(
        fc,
        "CreateTrigger",
        Method::POST,
        path(&["functions", name, "triggers"]),
        t,
    )
    .await;
}

async fn probe(fc: &FcClient, name: &str, op: &str, p: &str) -> Value {
    let req = InvokeFunctionRequest {
        body: json!({"op": op, "path": p}).to_string().into_bytes(),
        ..Default::default()
    };
    let out = fc.invoke_function(name, &req).await.unwrap();
    assert_eq!(
        out.error_type,
        None,
        "{}",
        String::from_utf8_lossy(&out.body)
    );
    serde_json::from_slice(&out.body)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.body)))
}

/// Whether this machine gives processes a private mount namespace (the emulator's own probe).
fn namespaces_available() -> bool {
    std::process::Command::new("unshare")
        .args(["--mount", "--propagation", "private", "true"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instances_get_only_fc_variables_never_the_emulators_credentials() {
    let emu = Emu::start().await;
    let fc = emu.fc();
    deploy_probe(&fc, "probe").await;
    let env = probe(&fc, "probe", "env", "").await;
    let env = env.as_object().unwrap();
    let dump = serde_json::to_string(env).unwrap();
    assert!(!dump.contains(LEAKED_SECRET), "secret leaked: {dump}");
    assert!(!dump.contains(LEAKED_TOKEN), "token leaked: {dump}");
    assert!(!env.contains_key("ALIBABA_CLOUD_ACCESS_KEY_ID"), "{dump}");
    assert_eq!(env["GREETING"], "hello");
    assert_eq!(env["FC_FUNCTION_NAME"], "probe");
    assert_eq!(env["FCCTL_LISTEN_HOST"], "127.0.0.1");
    let allowed = ["PATH", "LD_LIBRARY_PATH", "GREETING", "FCCTL_LISTEN_HOST"];
    // Python itself may add LC_CTYPE when the locale is unset (PEP 538); the namespace
    // wrapper's `sh` sets PWD and OLDPWD when it enters /code.
    let incidental = ["LC_CTYPE", "PWD", "OLDPWD"];
    let extra: Vec<&String> = env
        .keys()
        .filter(|k| {
            !k.starts_with("FC_")
                && !allowed.contains(&k.as_str())
                && !incidental.contains(&k.as_str())
        })
        .collect();
    assert!(
        extra.is_empty(),
        "variables beyond FC's and the function's: {extra:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instances_cannot_read_the_emulator_secret_nor_other_code_nor_write_their_code() {
    let emu = Emu::start().await;
    let fc = emu.fc();
    deploy_probe(&fc, "probe").await;
    deploy_probe(&fc, "other").await;
    // The other function's code dir exists on the host once it has run.
    probe(&fc, "other", "env", "").await;
    let data = emu.info.data_dir.display().to_string();
    let secret_file = format!("{data}/emulator.json");
    assert!(Path::new(&secret_file).exists());
    if !namespaces_available() {
        // Degraded, and loud about it: the emulator reports what an instance can do.
        assert!(!emu.info.isolation.mount_namespace);
        assert!(
            emu.info.isolation.warnings[0].contains("emulator.json"),
            "{:?}",
            emu.info.isolation
        );
        return;
    }
    assert!(
        emu.info.isolation.mount_namespace,
        "{:?}",
        emu.info.isolation
    );
    assert_eq!(
        probe(&fc, "probe", "read", "/code/probe.py").await["ok"],
        true
    );
    let read = probe(&fc, "probe", "read", &secret_file).await;
    assert_eq!(read["ok"], false, "emulator.json readable: {read}");
    let listed = probe(&fc, "probe", "list", &format!("{data}/code")).await;
    assert_eq!(listed["ok"], false, "code dirs listed: {listed}");
    let write = probe(&fc, "probe", "write", "/code/planted").await;
    assert_eq!(write["ok"], false, "/code writable: {write}");
    assert!(
        write["error"].as_str().unwrap().contains("Read-only"),
        "{write}"
    );
    let code_dirs: Vec<PathBuf> = std::fs::read_dir(emu.info.data_dir.join("code"))
        .unwrap()
        .flatten()
        .map(|e| e.path().join("planted"))
        .collect();
    assert!(
        code_dirs.iter().all(|p| !p.exists()),
        "planted into {code_dirs:?}"
    );
    // Writing where FC allows it still works.
    assert_eq!(
        probe(&fc, "probe", "write", "/tmp/fcctl-probe-ok").await["ok"],
        true
    );
}

/// Every process of the emulator's tree: `root` and its descendants.
fn process_tree(root: u32) -> BTreeSet<u32> {
    let parents: Vec<(u32, u32)> = std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| {
            let pid: u32 = e.file_name().to_str()?.parse().ok()?;
            let stat = std::fs::read_to_string(e.path().join("stat")).ok()?;
            let rest = &stat[stat.rfind(')')? + 1..];
            let ppid: u32 = rest.split_whitespace().nth(1)?.parse().ok()?;
            Some((pid, ppid))
        })
        .collect();
    let mut tree = BTreeSet::from([root]);
    loop {
        let before = tree.len();
        for (pid, ppid) in &parents {
            if tree.contains(ppid) {
                tree.insert(*pid);
            }
        }
        if tree.len() == before {
            return tree;
        }
    }
}

/// Listening TCP sockets (`/proc/net/tcp{,6}`): inode → local address as hex `ADDR:PORT`.
fn listeners() -> Vec<(u64, String)> {
    let mut out = Vec::new();
    for f in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let text = std::fs::read_to_string(f).unwrap_or_default();
        for line in text.lines().skip(1) {
            let cols: Vec<&str> = line.split_whitespace().collect();
            if cols.len() > 9 && cols[3] == "0A" {
                out.push((cols[9].parse().unwrap(), cols[1].to_string()));
            }
        }
    }
    out
}

fn socket_inodes(pid: u32) -> BTreeSet<u64> {
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return BTreeSet::new();
    };
    fds.flatten()
        .filter_map(|fd| {
            let l = std::fs::read_link(fd.path()).ok()?;
            let s = l.to_str()?.strip_prefix("socket:[")?.strip_suffix(']')?;
            s.parse().ok()
        })
        .collect()
}

/// Whether a `/proc/net/tcp{,6}` local address is a wildcard (`0.0.0.0` or `::`).
fn is_wildcard(addr: &str) -> bool {
    let ip = addr.split(':').next().unwrap_or("");
    ip.chars().all(|c| c == '0')
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_emulator_and_its_instances_listen_on_loopback_only() {
    let emu = Emu::start().await;
    let fc = emu.fc();
    deploy_probe(&fc, "probe").await;
    let pids = probe(&fc, "probe", "pids", "").await;
    let instance = pids["pid"].as_u64().unwrap() as u32;
    let tree = process_tree(emu.info.pid);
    assert!(
        tree.contains(&instance),
        "instance {instance} not under the emulator: {tree:?}"
    );
    let mine: BTreeSet<u64> = tree.iter().flat_map(|p| socket_inodes(*p)).collect();
    let listening: Vec<(u64, String)> = listeners()
        .into_iter()
        .filter(|(inode, _)| mine.contains(inode))
        .collect();
    // FC + OSS + domain + the trigger + the instance, at least.
    assert!(listening.len() >= 5, "{listening:?}");
    let open: Vec<&String> = listening
        .iter()
        .filter(|(_, a)| is_wildcard(a))
        .map(|(_, a)| a)
        .collect();
    assert!(
        open.is_empty(),
        "listening on every address: {open:?} of {listening:?}"
    );
}

fn alive(pid: u32) -> bool {
    // A zombie has exited; only its parent's wait is missing.
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| Some(s[s.rfind(')')? + 2..].starts_with('Z')))
        .is_some_and(|zombie| !zombie)
}

async fn wait_dead(pid: u32, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while alive(pid) {
        assert!(Instant::now() < deadline, "{what} (pid {pid}) still runs");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instances_die_with_a_killed_emulator_and_leftovers_are_reaped() {
    let mut emu = Emu::start().await;
    let fc = emu.fc();
    deploy_probe(&fc, "probe").await;
    let pids = probe(&fc, "probe", "pids", "").await;
    let (instance, grandchild) = (
        pids["pid"].as_u64().unwrap() as u32,
        pids["child"].as_u64().unwrap() as u32,
    );
    assert!(alive(instance) && alive(grandchild));
    emu.child.kill().unwrap(); // SIGKILL
    emu.child.wait().unwrap();
    wait_dead(instance, "the instance of a SIGKILLed emulator").await;
    // Its own child has no death signal: the registry finds it (same process group).
    assert!(
        alive(grandchild),
        "the instance's child is left for the registry"
    );
    let out = fcctl_command(
        emu.data.parent().unwrap(),
        &["local", "stop", "--json", "--data-dir"],
    )
    .arg(&emu.data)
    .output()
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["stopped"], false, "{r}");
    assert_eq!(r["orphans_stopped"], 1, "{r}");
    wait_dead(grandchild, "the instance's child after `fcctl local stop`").await;

    // And at the next start, when nobody ran `local stop`.
    let emu2 = {
        let child = spawn_emulator(emu.data.parent().unwrap(), &emu.data);
        let info = wait_ready(&emu.data, child.id()).await;
        (child, info)
    };
    let fc2 = FcClient::new(
        &emu2.1.fc_endpoint,
        AccessKey::new(&emu2.1.access_key_id, &emu2.1.access_key_secret),
        Default::default(),
    )
    .unwrap();
    let pids = probe(&fc2, "probe", "pids", "").await;
    let grandchild2 = pids["child"].as_u64().unwrap() as u32;
    let (mut child2, _) = emu2;
    child2.kill().unwrap();
    child2.wait().unwrap();
    assert!(alive(grandchild2));
    emu.child = spawn_emulator(emu.data.parent().unwrap(), &emu.data);
    emu.info = wait_ready(&emu.data, emu.child.id()).await;
    wait_dead(grandchild2, "a leftover after the emulator restarted").await;
}

/// `fcctl local start` whose OSS and code storage (`<data>/oss`, `<data>/code`) are 1 MiB
/// tmpfs mounts, in a private mount
/// namespace of its own (as root, or as a mapped root in a user namespace): writes past it
/// fail with a real ENOSPC, and the mount goes away with the process.
fn spawn_emulator_on_a_tiny_disk(project: &Path, data: &Path) -> Child {
    std::fs::create_dir_all(data.join("oss")).unwrap();
    std::fs::create_dir_all(data.join("code")).unwrap();
    let log = std::fs::File::create(data.join("emulator.log")).unwrap();
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let root = status
        .lines()
        .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(2) == Some("0"));
    let mut cmd = std::process::Command::new("unshare");
    if !root {
        cmd.args(["--user", "--map-root-user"]);
    }
    cmd.args(["--mount", "--propagation", "private", "--", "sh", "-c"])
        .arg(r#"mount -t tmpfs -o size=1m fcctl-full "$1/oss" && mount -t tmpfs -o size=1m fcctl-full "$1/code" && exec "$2" local start --json --data-dir "$1""#)
        .arg("sh")
        .arg(data)
        .arg(env!("CARGO_BIN_EXE_fcctl"))
        .current_dir(project)
        .env("HOME", project)
        .env_remove("ALIBABA_CLOUD_ACCESS_KEY_ID")
        .env_remove("ALIBABA_CLOUD_ACCESS_KEY_SECRET")
        .env_remove("ALIBABA_CLOUD_SECURITY_TOKEN")
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log);
    cmd.spawn().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_is_a_named_server_error_and_failed_uploads_free_their_parts() {
    use fcctl::aliyun::oss::{MultipartOptions, ObjectStore as _, OssClient, OssConfig};
    use fcctl::exit::Hint as _;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("target/fcctl/local");
    let child = KillOnDrop(spawn_emulator_on_a_tiny_disk(dir.path(), &data));
    let info = wait_ready(&data, child.0.id()).await;
    let key = AccessKey::new(&info.access_key_id, &info.access_key_secret);
    let oss = OssClient::new(
        OssConfig::new(&info.oss_endpoint, "fcctl-full", &info.region),
        key.clone(),
    )
    .unwrap();
    oss.ensure_bucket().await.unwrap();
    let big = dir.path().join("big.bin");
    std::fs::write(&big, vec![7u8; 3 << 20]).unwrap();
    let opts = MultipartOptions {
        part_size: 256 << 10,
        concurrency: 2,
        resume_dir: Some(dir.path().join("uploads")),
        headers: Vec::new(),
        expect_sha256: None,
    };
    let e = oss
        .put_multipart("blobs/big", &big, &opts)
        .await
        .unwrap_err();
    let text = e.to_string();
    assert_eq!(e.status(), Some(500), "{text}");
    assert!(text.contains("No space left on device"), "{text}");
    let hint = e.hint().map(|h| h.to_string()).unwrap_or_default();
    assert!(!hint.contains("fcctl.yaml"), "{hint}");
    let resume_files = std::fs::read_dir(dir.path().join("uploads"))
        .map(|d| d.count())
        .unwrap_or(0);
    assert_eq!(
        resume_files, 0,
        "the failed upload is forgotten, not resumed"
    );
    // The aborted upload's parts are gone: most of the disk is free again.
    oss.put("small", vec![1u8; 600 << 10]).await.unwrap();

    // A code package that does not fit is the emulator's failure, not the package's.
    let fc = FcClient::new(&info.fc_endpoint, key, Default::default()).unwrap();
    let mut zip = std::io::Cursor::new(Vec::new());
    {
        let mut z = zip::ZipWriter::new(&mut zip);
        z.start_file("bootstrap", zip::write::SimpleFileOptions::default())
            .unwrap();
        // Incompressible: 1.5 MiB unpacked, more than the disk holds.
        let noise: Vec<u8> = (0..(3u32 << 19))
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        z.write_all(&noise).unwrap();
        z.finish().unwrap();
    }
    let f = json!({
        "functionName": "big", "runtime": "custom.debian12", "handler": "h",
        "code": {"zipFile": base64::engine::general_purpose::STANDARD.encode(zip.into_inner())},
    });
    let mut r = ApiRequest::new("CreateFunction", Method::POST, path(&["functions"]));
    r.body = serde_json::to_vec(&f).unwrap();
    r.content_type = Some("application/json".into());
    let e = fc.send(&r).await.unwrap_err();
    let text = e.to_string();
    assert_eq!(e.status(), Some(500), "{text}");
    assert!(text.contains("No space left on device"), "{text}");
    let hint = e.hint().map(|h| h.to_string()).unwrap_or_default();
    assert!(!hint.contains("fcctl.yaml"), "{hint}");
}

/// Kills the process even when an assertion fails first.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
