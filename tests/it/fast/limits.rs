//! End-to-end: the emulator runs each instance within its function's `memorySize` (an
//! instance over it is killed and the invocation, `status` and the logs say OOM) and `cpu`
//! (a quota: half a vCPU takes about twice as long for the same work).

use super::logs::{LOGSTORE, PROJECT, make_logstore};
use crate::support::{TestProject, text};

/// A classifier that decodes the batch it is sent: the decoded pixels (float tensors, here
/// 48 bytes per byte received) are held until it answers, so memory grows with the batch.
const BATCH_SERVER: &str = r#"#!/usr/bin/env python3
import http.server, os, json
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        batch = self.rfile.read(int(self.headers.get("content-length") or 0))
        decoded = b"\x01" * (len(batch) * 48)
        b = json.dumps({"label": "dog", "dog": 0.9, "cat": 0.1, "decoded_mb": len(decoded) >> 20}).encode()
        self.send_response(200); self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(b))); self.end_headers(); self.wfile.write(b)
    def log_message(self, *a): pass
http.server.ThreadingHTTPServer((os.environ.get("FCCTL_LISTEN_HOST", "0.0.0.0"), int(os.environ["FC_CUSTOM_LISTEN_PORT"])), H).serve_forever()
"#;

/// A file of `n` bytes (a "batch of images" for [`BATCH_SERVER`]).
fn batch(p: &TestProject, name: &str, n: usize) -> String {
    let path = p.path().join(name);
    std::fs::write(&path, vec![0xffu8; n]).unwrap();
    path.display().to_string()
}

#[test]
fn an_instance_over_its_memory_is_killed_and_reported_as_oom() {
    let p = TestProject::builder()
        .config(&format!(
            "app: cat-dog\nfunction:\n  memory_mb: 128\n  cpu: 0.1\nlog:\n  project: {PROJECT}\n  logstore: {LOGSTORE}\n"
        ))
        .start();
    make_logstore(&p.info);
    p.fake_build_of(BATCH_SERVER, "r-oom");
    p.json(&["deploy", "--json"]);
    p.json(&["publish", "--json"]);
    p.json(&["alias", "--version", "1", "--json"]);

    // 100 KB decodes to ~5 MB: well within 128 MB.
    let small = batch(&p, "small.bin", 100 << 10);
    let ok = p.json(&["invoke", &small, "--json"]);
    assert_eq!(ok["label"], "dog", "{ok}");

    // 4 MB decodes to 192 MB: over 128 MB, so the instance is killed mid-request.
    let large = batch(&p, "large.bin", 4 << 20);
    let inv = p.fcctl(&["invoke", &large]);
    let out = text(&inv);
    assert_eq!(inv.status.code(), Some(3), "{out}");
    assert!(out.contains("UnhandledInvocationError"), "{out}");
    assert!(
        out.contains("Process exited unexpectedly before completing request"),
        "{out}"
    );
    assert!(
        out.contains("out of memory (OOM)") && out.contains("memorySize of 128 MB"),
        "{out}"
    );

    // status names it, from the function's logs.
    let st = p.json(&["status", "--json"]);
    let o = &st["last_out_of_memory"];
    assert_eq!(o["version"], "1", "{st}");
    assert!(o["cause"].as_str().unwrap().contains("OOM"), "{st}");
    assert!(o["request_id"].as_str().unwrap().starts_with("1-"), "{st}");
    let human = text(&p.fcctl(&["status"]));
    assert!(human.contains("⚠ OOM: an instance of version 1"), "{human}");

    // The logs carry FC's platform line for the request, with the cause.
    let logs = text(&p.fcctl(&["logs", "--grep", "OOM"]));
    assert!(
        logs.contains("FC Invoke End RequestId: 1-") && logs.contains("out of memory (OOM)"),
        "{logs}"
    );

    // The killed instance is gone; a new one serves the next batch.
    let again = p.json(&["invoke", &small, "--json"]);
    assert_eq!(again["label"], "dog", "{again}");
}

/// Burns a fixed amount of CPU per request (many 100 ms CFS periods, so where the work starts
/// within a period does not matter) and answers the wall time it took.
const CPU_SERVER: &str = r#"#!/usr/bin/env python3
import http.server, os, json, time
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get("content-length") or 0))
        t0 = time.perf_counter(); c0 = time.process_time()
        x = 0
        for i in range(8_000_000):
            x += i * i
        b = json.dumps({"wall_s": time.perf_counter() - t0, "cpu_s": time.process_time() - c0}).encode()
        self.send_response(200); self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(b))); self.end_headers(); self.wfile.write(b)
    def log_message(self, *a): pass
http.server.ThreadingHTTPServer((os.environ.get("FCCTL_LISTEN_HOST", "0.0.0.0"), int(os.environ["FC_CUSTOM_LISTEN_PORT"])), H).serve_forever()
"#;

/// The shortest wall time of three runs of the fixed work at `cpu` vCPUs (the shortest, so a
/// moment of contention on a shared machine does not count against the faster setting).
fn best_wall_s(cpu: &str) -> f64 {
    let p = TestProject::builder()
        .config(&format!(
            "app: cat-dog\nlog: none\nfunction:\n  memory_mb: 1024\n  cpu: {cpu}\n"
        ))
        .start();
    p.fake_build_of(CPU_SERVER, "r-cpu");
    p.json(&["deploy", "--json"]);
    let body = batch(&p, "x.bin", 1);
    (0..3)
        .map(|_| {
            let r = p.json(&["invoke", &body, "--qualifier", "LATEST", "--json"]);
            r["wall_s"].as_f64().unwrap()
        })
        .fold(f64::INFINITY, f64::min)
}

#[test]
fn half_a_vcpu_is_about_half_as_fast_as_one() {
    let probe = TestProject::builder().config("app: cat-dog\n").start();
    if probe.info.limits.cpu == "none" {
        // No cgroup here: the emulator says it cannot hold a CPU quota, loudly.
        assert!(
            probe
                .info
                .limits
                .warnings
                .iter()
                .any(|w| w.contains("no CPU quota")),
            "{:?}",
            probe.info.limits
        );
        return;
    }
    drop(probe);
    let one = best_wall_s("1");
    let half = best_wall_s("0.5");
    eprintln!(
        "CPU quota: 1 vCPU {one:.3} s, 0.5 vCPU {half:.3} s, ratio {:.2}",
        half / one
    );
    assert!(
        half / one > 1.4,
        "0.5 vCPU took {half:.3} s, 1 vCPU {one:.3} s: ratio {:.2}, expected about 2",
        half / one
    );
}
