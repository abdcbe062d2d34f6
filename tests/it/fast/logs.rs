//! End-to-end: the emulator stores what instances print in the function's logstore, and
//! `fcctl logs` reads it back through the SLS API (the code path it takes on the cloud).

use std::io::BufRead as _;
use std::time::{Duration, Instant};

use crate::support::{FakeFault, TestProject, text};

pub(super) const PROJECT: &str = "fcctl-logs-it";
pub(super) const LOGSTORE: &str = "function-logs";

fn logged_project() -> TestProject {
    let p = TestProject::builder()
        .config(&format!(
            "app: cat-dog\nlog:\n  project: {PROJECT}\n  logstore: {LOGSTORE}\n"
        ))
        .start();
    make_logstore(&p.info);
    p
}

/// The project and logstore the function's `logConfig` names, with an index, created through
/// fcctl's SLS client (`log: auto` would create them on deploy).
pub(super) fn make_logstore(info: &emulator::Info) {
    use fcctl::aliyun::sls::{IndexConfig, LogStore, SlsClient};
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let key = fcctl::aliyun::AccessKey::new(&info.access_key_id, &info.access_key_secret);
        let c = SlsClient::new(
            &info.sls_endpoint,
            key,
            fcctl::aliyun::ClientOptions::default(),
        )
        .unwrap();
        c.create_project(PROJECT, "fcctl logs test").await.unwrap();
        c.create_logstore(PROJECT, &LogStore::new(LOGSTORE, 7))
            .await
            .unwrap();
        c.create_index(
            PROJECT,
            LOGSTORE,
            &IndexConfig::full_text_with_keys(&["requestId", "instanceID", "qualifier"]),
        )
        .await
        .unwrap();
    });
}

/// A custom runtime that logs like fcctl's function: a JSON lifecycle line at start, one
/// JSON access line per request (request id from `x-fc-request-id`), and a plain line.
const LOGGING_SERVER: &str = r#"#!/usr/bin/env python3
import http.server, os, json, sys, datetime
def log(**kv):
    t = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="milliseconds")
    sys.stdout.write(json.dumps({"time": t.replace("+00:00", "Z"), **kv}) + "\n")
    sys.stdout.flush()
log(event="start", request_id=None, instance_id=os.environ.get("FC_INSTANCE_ID"))
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        n = int(self.headers.get("content-length") or 0)
        self.rfile.read(n)
        rid = self.headers.get("x-fc-request-id")
        print("plain line of the request being served", flush=True)
        b = json.dumps({"label": "dog", "dog": 0.9, "cat": 0.1, "ms": 1, "top5": []}).encode()
        log(request_id=rid, method="POST", path=self.path, status=200, bytes_in=n,
            decode_ms=1.5, resize_ms=0.2, inference_ms=3.1, label="dog",
            instance_id=os.environ.get("FC_INSTANCE_ID"))
        self.send_response(200); self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(b))); self.end_headers(); self.wfile.write(b)
    def log_message(self, *a): pass
http.server.ThreadingHTTPServer((os.environ.get("FCCTL_LISTEN_HOST", "0.0.0.0"), int(os.environ["FC_CUSTOM_LISTEN_PORT"])), H).serve_forever()
"#;

/// POSTs to `url/classify` and returns the answer's `x-fc-request-id`.
fn post_for_request_id(url: &str, host: Option<&str>) -> String {
    let u = format!("{url}/classify");
    let mut args = vec!["-s", "-i", "-X", "POST", "--data-binary", "x"];
    if let Some(h) = host {
        args.extend(["-H", h]);
    }
    args.push(&u);
    let out = std::process::Command::new("curl")
        .args(&args)
        .output()
        .unwrap();
    let answer = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        answer.lines().next().is_some_and(|l| l.contains(" 200")),
        "{answer}"
    );
    answer
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("x-fc-request-id")
                .then(|| v.trim().to_string())
        })
        .unwrap_or_else(|| panic!("no x-fc-request-id in {answer}"))
}

/// stdout as JSON lines, asserting success.
fn json_lines(p: &TestProject, args: &[&str]) -> Vec<serde_json::Value> {
    let out = p.fcctl(args);
    assert!(out.status.success(), "fcctl {args:?}: {}", text(&out));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

fn deploy_release(p: &TestProject) -> String {
    p.json(&["deploy", "--json"]);
    p.json(&["publish", "--json"]);
    p.json(&["alias", "--version", "1", "--json"]);
    let st = p.json(&["status", "--json"]);
    st["trigger"]["url"].as_str().unwrap().to_string()
}

#[test]
fn a_request_id_leads_to_its_lines_follow_is_live_and_logs_survive_a_restart() {
    let mut p = logged_project();
    p.fake_build_of(LOGGING_SERVER, "r-one");
    let url = deploy_release(&p);
    let rid = post_for_request_id(&url, None);

    // The answer leaves after its lines are stored: the first read finds them.
    let t = Instant::now();
    let lines = json_lines(&p, &["logs", "--request-id", &rid, "--json"]);
    eprintln!("request id → access line: {:?}", t.elapsed());
    assert_eq!(lines.len(), 2, "{lines:?}");
    for l in &lines {
        assert_eq!(l["request_id"], rid.as_str(), "{l}");
        assert_eq!(l["qualifier"], "prod", "{l}");
        assert!(l["instance_id"].as_str().unwrap().starts_with("c-"), "{l}");
        assert!(l["time"].as_str().unwrap().ends_with('Z'), "{l}");
    }
    assert_eq!(
        lines[0]["message"], "plain line of the request being served",
        "a plain line belongs to the only request in flight"
    );
    let access = &lines[1]["fields"];
    assert_eq!(
        (access["status"].as_u64(), access["label"].as_str()),
        (Some(200), Some("dog")),
        "{access}"
    );
    assert!(access["inference_ms"].as_f64().is_some(), "{access}");

    // invoke prints its request id, and its log tail (x-fc-log-type: Tail) on stderr.
    let inv = p.fcctl(&["invoke", "fcctl.yaml", "--json"]);
    assert!(inv.status.success(), "{}", text(&inv));
    let v: serde_json::Value = serde_json::from_slice(&inv.stdout).unwrap();
    let inv_rid = v["request_id"].as_str().unwrap().to_string();
    let err = String::from_utf8_lossy(&inv.stderr);
    assert!(err.contains(&format!("log of request {inv_rid}:")), "{err}");
    assert!(
        err.contains(&format!("\"request_id\": \"{inv_rid}\""))
            && err.contains("\"path\": \"/invoke\""),
        "the access line of that request: {err}"
    );

    // The lifecycle line names no request; --instance takes the start of an id.
    let all = json_lines(&p, &["logs", "--since", "5m", "--json"]);
    let start = all
        .iter()
        .find(|l| l["fields"]["event"] == "start")
        .unwrap_or_else(|| panic!("no start line in {all:?}"));
    assert!(start["request_id"].is_null(), "{start}");
    let inst = lines[1]["instance_id"].as_str().unwrap();
    let by_inst = json_lines(&p, &["logs", "--instance", &inst[..10], "--json"]);
    assert!(by_inst.len() >= 3, "{by_inst:?}");
    assert!(json_lines(&p, &["logs", "--qualifier", "LATEST", "--json"]).is_empty());
    let human = p.fcctl(&["logs", "--request-id", &rid]);
    let h = String::from_utf8_lossy(&human.stdout);
    assert!(
        h.lines()
            .all(|l| l.contains(&inst[..10]) && !l.contains('\x1b')),
        "{h}"
    );

    // Through the custom domain too.
    let st = p.json(&["status", "--json"]);
    let host = format!("Host: {}", st["custom_domain"]["name"].as_str().unwrap());
    let dom = st["custom_domain"]["url"].as_str().unwrap().to_string();
    let rid2 = post_for_request_id(&dom, Some(&host));
    let lines = json_lines(&p, &["logs", "--request-id", &rid2, "--json"]);
    assert_eq!(lines.last().unwrap()["fields"]["status"], 200, "{lines:?}");

    // --follow prints a new request's line as it comes.
    let mut child = p
        .command(&["logs", "-f", "--json", "--since", "1s"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<(Instant, String)>();
    let stdout = child.stdout.take().unwrap();
    let out_tx = tx.clone();
    std::thread::spawn(move || {
        for l in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            let _ = out_tx.send((Instant::now(), l));
        }
    });
    let stderr = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for l in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            let _ = tx.send((Instant::now(), format!("stderr: {l}")));
        }
    });
    let wait_for = |pred: &dyn Fn(&str) -> bool| -> Instant {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let (at, l) = rx
                .recv_timeout(left)
                .expect("fcctl logs -f printed the line in time");
            if pred(&l) {
                return at;
            }
        }
    };
    wait_for(&|l| l.starts_with("stderr: following"));
    let rid3 = post_for_request_id(&url, None);
    let answered = Instant::now();
    let shown = wait_for(&|l| l.contains(&rid3) && l.contains("\"status\":200"));
    eprintln!(
        "fcctl logs -f: a new request's line shown {:?} after its answer",
        shown.saturating_duration_since(answered)
    );
    child.kill().unwrap();
    child.wait().unwrap();

    // Logs are on disk: a stopped and restarted emulator still answers them.
    p.restart_emulator();
    let after = json_lines(&p, &["logs", "--request-id", &rid, "--json"]);
    assert_eq!(after.len(), 2, "{after:?}");
}

#[test]
fn an_initialize_failure_and_its_cause_are_in_the_logs() {
    let p = logged_project();
    p.fake_build_as("x", "r-x", FakeFault::Initialize);
    p.json(&["deploy", "--json"]);
    p.json(&["publish", "--json"]);
    p.json(&["alias", "--version", "1", "--json"]);
    let inv = p.fcctl(&["invoke", "fcctl.yaml"]);
    assert_eq!(inv.status.code(), Some(3), "{}", text(&inv));
    assert!(
        text(&inv).contains("hint: its log lines: fcctl logs --request-id 1-"),
        "{}",
        text(&inv)
    );
    let lines = json_lines(&p, &["logs", "--grep", "initialize end", "--json"]);
    let l = lines
        .iter()
        .find(|l| {
            l["message"]
                .as_str()
                .unwrap()
                .contains("model load failed: sha256 mismatch")
        })
        .unwrap_or_else(|| panic!("no /initialize failure in {lines:?}"));
    assert!(l["request_id"].as_str().unwrap().starts_with("1-"), "{l}");
    assert_eq!(l["qualifier"], "prod", "{l}");

    // status names the live version's failed /initialize and its cause.
    let st = p.json(&["status", "--json"]);
    let f = &st["last_initialize_failure"];
    assert_eq!(f["version"], "1", "{st}");
    assert_eq!(f["request_id"], l["request_id"], "{st}");
    assert!(
        f["cause"]
            .as_str()
            .unwrap()
            .contains("model load failed: sha256 mismatch"),
        "{st}"
    );
    let human = p.fcctl(&["status"]);
    assert!(
        text(&human).contains("/initialize of version 1 failed at"),
        "{}",
        text(&human)
    );
}

#[test]
fn a_function_without_log_config_is_explained() {
    let p = TestProject::builder()
        .config("app: cat-dog\nlog: none\n")
        .start();
    p.fake_build("dog", "r-one");
    p.json(&["deploy", "--json"]);
    let out = p.fcctl(&["logs"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let t = text(&out);
    assert!(t.contains("has no logConfig"), "{t}");
    assert!(t.contains("hint: set `log: auto`"), "{t}");
    let bad = p.fcctl(&["logs", "--since", "yesterday"]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(text(&bad).contains("neither a duration"), "{}", text(&bad));
}
