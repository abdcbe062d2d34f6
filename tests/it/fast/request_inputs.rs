//! End-to-end: the files fcctl reads for request bodies (and its config) are capped and must be
//! regular files; a bench that fails fails loudly, after writing its report, within its duration.

use std::io::{Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::support::{self, TestProject, text};

/// Runs `cmd`, killing it and failing the test if it is still running after `limit` (the old
/// behaviour here was to read forever or block on a FIFO). Returns the output and the time.
fn run_within(mut cmd: Command, limit: Duration) -> (Output, Duration) {
    let t0 = Instant::now();
    let child = cmd
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || tx.send(child.wait_with_output()));
    match rx.recv_timeout(limit) {
        Ok(out) => (out.unwrap(), t0.elapsed()),
        Err(_) => {
            let _ = Command::new("kill").arg("-9").arg(pid.to_string()).status();
            panic!("{cmd:?} still running after {limit:?}");
        }
    }
}

fn mkfifo(p: &Path) {
    assert!(Command::new("mkfifo").arg(p).status().unwrap().success());
}

/// A project dir with fcctl.yaml and nothing else: no emulator, no credentials.
fn bare_project() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("fcctl.yaml"), "app: cat-dog\n").unwrap();
    d
}

/// Special files and a file over 32 MiB (sparse: no disk used), each with the kind of file the
/// error must name.
fn hostile_images(dir: &Path) -> Vec<(PathBuf, &'static str)> {
    let fifo = dir.join("image.fifo");
    mkfifo(&fifo);
    let big = dir.join("big.jpg");
    std::fs::File::create(&big)
        .unwrap()
        .set_len((32 << 20) + 1)
        .unwrap();
    vec![
        (PathBuf::from("/dev/zero"), "character device"),
        (fifo, "FIFO"),
        (dir.to_path_buf(), "directory"),
        (big, "over the image limit of 32 MiB"),
    ]
}

fn assert_refused(out: &Output, took: Duration, path: &Path, kind: &str) {
    let t = text(out);
    assert_eq!(out.status.code(), Some(1), "{}: {t}", path.display());
    assert!(
        t.contains(&path.display().to_string()) && t.contains(kind) && t.contains("32 MiB"),
        "{}: expected the file, {kind:?} and the limit in:\n{t}",
        path.display()
    );
    assert!(
        took < Duration::from_secs(10),
        "{}: took {took:?}",
        path.display()
    );
}

#[test]
fn invoke_refuses_special_files_and_images_over_the_payload_limit_before_reading() {
    // A running emulator, so nothing but the image itself can stop the command.
    let p = TestProject::builder().start();
    let files = tempfile::tempdir().unwrap();
    for (path, kind) in hostile_images(files.path()) {
        let mut cmd = p.command(&["invoke"]);
        cmd.arg(&path);
        let (out, took) = run_within(cmd, Duration::from_secs(30));
        assert_refused(&out, took, &path, kind);
    }
}

#[test]
fn bench_refuses_special_files_and_images_over_the_payload_limit_before_sending() {
    let d = bare_project();
    for (path, kind) in hostile_images(d.path()) {
        let mut cmd = support::fcctl_command(
            d.path(),
            &[
                "bench",
                "--url",
                "http://127.0.0.1:1/",
                "--request",
                "classify",
                "--duration",
                "1s",
            ],
        );
        cmd.arg("--image").arg(&path);
        let (out, took) = run_within(cmd, Duration::from_secs(30));
        assert_refused(&out, took, &path, kind);
    }
}

#[test]
fn a_config_file_over_1_mib_or_not_a_regular_file_is_refused() {
    let d = tempfile::tempdir().unwrap();
    let big = d.path().join("fcctl.yaml");
    let mut yaml = b"app: cat-dog\n".to_vec();
    yaml.resize((1 << 20) + 1, b'#');
    std::fs::write(&big, yaml).unwrap();
    let fifo = d.path().join("fifo.yaml");
    mkfifo(&fifo);
    for (path, kind) in [
        (&big, "over the config file limit of 1 MiB"),
        (&fifo, "FIFO"),
    ] {
        let mut cmd = support::fcctl_command(d.path(), &["render", "--dry-run", "--config"]);
        cmd.arg(path);
        let (out, _) = run_within(cmd, Duration::from_secs(30));
        let t = text(&out);
        assert_eq!(out.status.code(), Some(1), "{t}");
        assert!(
            t.contains(&path.display().to_string()) && t.contains(kind) && t.contains("1 MiB"),
            "{t}"
        );
    }
}

/// A bench (`GET` the page) against `url` for `--duration 2s`, with no credentials anywhere: the exit status,
/// the report it printed (`--json`) and how long it took.
fn bench(dir: &Path, url: &str, extra: &[&str]) -> (Option<i32>, serde_json::Value, Duration) {
    let mut args = vec![
        "bench",
        "--json",
        "--url",
        url,
        "--duration",
        "2s",
        "--concurrency",
        "2",
        "--request",
        "page",
    ];
    args.extend(extra);
    let (out, took) = run_within(support::fcctl_command(dir, &args), Duration::from_secs(120));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("no report on stdout ({e}): {}", text(&out)));
    let html = PathBuf::from(report["report"].as_str().expect("report path"));
    assert!(html.is_file(), "{}", html.display());
    assert!(html.with_file_name("report.json").is_file());
    (out.status.code(), report, took)
}

#[test]
fn bench_against_a_dead_port_exits_unreachable_after_writing_its_report() {
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let d = bare_project();
    let (code, r, took) = bench(d.path(), &format!("http://127.0.0.1:{port}/"), &[]);
    assert_eq!(code, Some(4), "{r}");
    assert!(r["errors_by_class"]["connect"].as_u64().unwrap() > 0, "{r}");
    assert_eq!(r["successes"], 0);
    assert!(took < Duration::from_secs(15), "took {took:?}");
}

/// A listener on an ephemeral port whose connections are run by `serve` in this thread, one
/// after another, until the test drops the guard.
struct Server {
    addr: std::net::SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Server {
    fn start(serve: impl Fn(TcpStream, &mut Vec<TcpStream>) + Send + 'static) -> Server {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut held = Vec::new();
            for s in l.incoming() {
                if flag.load(Ordering::Relaxed) {
                    break;
                }
                if let Ok(s) = s {
                    serve(s, &mut held);
                }
            }
        });
        Server {
            addr,
            stop,
            thread: Some(thread),
        }
    }

    fn url(&self) -> String {
        format!("http://{}/", self.addr)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect(self.addr);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[test]
fn bench_against_a_target_that_never_answers_is_bounded_by_its_duration() {
    // Accepts every connection and keeps it open without a byte in reply.
    let silent = Server::start(|s, held| held.push(s));
    let d = bare_project();
    let (code, r, took) = bench(d.path(), &silent.url(), &[]);
    assert_eq!(code, Some(4), "{r}");
    assert!(
        r["errors_by_class"]["timeout"].as_u64().unwrap() >= 2,
        "{r}"
    );
    assert_eq!(r["successes"], 0);
    // The per-request timeout is a minute: only the duration can have ended this run.
    assert!(took < Duration::from_secs(15), "took {took:?}");
}

#[test]
fn bench_below_min_success_exits_with_the_cloud_status_and_min_success_sets_the_bar() {
    // Answers every request with a 500 and closes the connection.
    let failing = Server::start(|mut s, _| {
        let mut buf = [0u8; 4096];
        let mut head = Vec::new();
        while !head.windows(4).any(|w| w == b"\r\n\r\n") {
            match s.read(&mut buf) {
                Ok(0) | Err(_) => return,
                Ok(n) => head.extend_from_slice(&buf[..n]),
            }
        }
        let _ = s.write_all(
            b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        );
    });
    let d = bare_project();
    let (code, r, _) = bench(d.path(), &failing.url(), &[]);
    assert_eq!(code, Some(3), "{r}");
    assert!(r["status"]["5xx"].as_u64().unwrap() > 0, "{r}");
    let (code, r, _) = bench(d.path(), &failing.url(), &["--min-success", "0%"]);
    assert_eq!(code, Some(0), "{r}");
}
