//! The function's log: the built server's stdout, one JSON line per request and per
//! lifecycle event, with the FC request id; nothing on stderr by default.

use std::io::{BufRead as _, Read as _, Write as _};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

fn http(port: u16, method: &str, path: &str, rid: &str, body: &[u8]) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut s = loop {
        match TcpStream::connect(("127.0.0.1", port)) {
            Ok(s) => break s,
            Err(e) if Instant::now() < deadline => {
                let _ = e;
                std::thread::yield_now();
            }
            Err(e) => panic!("the function never listened: {e}"),
        }
    };
    let head = format!(
        "{method} {path} HTTP/1.1\r\nhost: f\r\nx-fc-request-id: {rid}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).unwrap();
    s.write_all(body).unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

#[test]
fn requests_and_lifecycle_events_are_json_lines_with_their_request_id() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_fcctl-function"))
        .env_clear()
        .env("FC_CUSTOM_LISTEN_PORT", port.to_string())
        .env("FCCTL_LISTEN_HOST", "127.0.0.1")
        .env("FCCTL_EAGER_LOAD", "0")
        .env("FC_INSTANCE_ID", "c-logs-test")
        .env("MODEL_DIR", dir.path().join("no-model"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let mut next = || -> Value {
        let l = lines.next().expect("a log line").unwrap();
        serde_json::from_str(&l).unwrap_or_else(|e| panic!("{e}: {l}"))
    };
    let start = next();
    assert_eq!(start["event"], "start", "{start}");
    assert!(start["request_id"].is_null(), "{start}");
    assert_eq!(start["instance_id"], "c-logs-test");

    let answer = http(port, "POST", "/classify", "1-req", b"x");
    assert!(answer.starts_with("HTTP/1.1 415"), "{answer}");
    let access = next();
    assert_eq!(access["event"], "request", "{access}");
    assert_eq!(access["request_id"], "1-req");
    assert_eq!(
        (access["method"].as_str(), access["path"].as_str()),
        (Some("POST"), Some("/classify"))
    );
    assert_eq!(access["status"], 415);
    assert_eq!(access["bytes_in"], 1);
    assert_eq!(access["error"], "unsupported_format");
    assert!(access["ms"].as_f64().is_some());
    assert!(access["time"].as_str().unwrap().ends_with('Z'));

    let answer = http(port, "POST", "/initialize", "1-init", b"");
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    let load = next();
    assert_eq!(
        (load["event"].as_str(), load["level"].as_str()),
        (Some("model_load"), Some("error")),
        "{load}"
    );
    assert!(
        load["error"].as_str().unwrap().contains("no-model"),
        "{load}"
    );
    let init = next();
    assert_eq!(init["event"], "initialize", "{init}");
    assert_eq!(init["request_id"], "1-init");
    assert_eq!(
        (init["status"].as_u64(), init["level"].as_str()),
        (Some(503), Some("error"))
    );

    http(port, "GET", "/pre-stop", "1-stop", b"");
    let stop = next();
    assert_eq!(
        (stop["event"].as_str(), stop["request_id"].as_str()),
        (Some("pre_stop"), Some("1-stop"))
    );

    nix_term(&child);
    let shutdown = next();
    assert_eq!(shutdown["event"], "shutdown", "{shutdown}");
    child.wait().unwrap();
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert_eq!(err, "", "quiet on stderr without RUST_LOG");
}

/// SIGTERM, as FC stops an instance.
fn nix_term(child: &std::process::Child) {
    let st = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(st.success());
}
