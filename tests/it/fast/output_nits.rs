//! End-to-end output and exit-status details: a function error exits 3, `ms` is rounded, and
//! `-v` logs written to a pipe carry no ANSI escape codes.

use crate::support::{TestProject, text};

/// Replaces the fake build's function with `server` (a Python custom runtime), keeping the
/// build manifest's checksum right.
fn custom_function(p: &TestProject, server: &str) {
    p.fake_build_of(server, "r-x");
    p.json(&["deploy", "--json"]);
    p.json(&["publish", "--json"]);
    p.json(&["alias", "--version", "1", "--json"]);
}

const HEAD: &str = r#"#!/usr/bin/env python3
import http.server, os, json
class H(http.server.BaseHTTPRequestHandler):
    def reply(self, code, b):
        self.send_response(code); self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(b))); self.end_headers(); self.wfile.write(b)
    def log_message(self, *a): pass
"#;

const SERVE: &str = r#"
http.server.ThreadingHTTPServer(("0.0.0.0", int(os.environ["FC_CUSTOM_LISTEN_PORT"])), H).serve_forever()
"#;

#[test]
fn a_function_error_exits_3_with_the_functions_own_text() {
    let p = TestProject::builder().start();
    let server = format!(
        "{HEAD}    def do_POST(self):
        self.rfile.read(int(self.headers.get('content-length') or 0))
        if self.path == '/initialize':
            self.reply(500, b'model file is corrupt'); return
        self.reply(200, b'{{}}')
{SERVE}"
    );
    custom_function(&p, &server);
    let out = p.fcctl(&["invoke", "fcctl.yaml"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    let t = text(&out);
    assert!(
        t.contains("the function failed (InitializationError)"),
        "{t}"
    );
    assert!(t.contains("model file is corrupt"), "{t}");
}

#[test]
fn invoke_rounds_ms_and_verbose_logs_to_a_pipe_have_no_colour() {
    let p = TestProject::builder().start();
    let server = format!(
        "{HEAD}    def do_POST(self):
        self.rfile.read(int(self.headers.get('content-length') or 0))
        self.reply(200, json.dumps({{'label': 'dog', 'dog': 0.9, 'cat': 0.1,
            'ms': 3.1367550000000004, 'top5': []}}).encode())
{SERVE}"
    );
    custom_function(&p, &server);
    let out = p.fcctl(&["-v", "invoke", "fcctl.yaml"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains(", 3.14 ms"), "{stdout}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("DEBUG"), "-v logs something: {stderr}");
    assert!(
        !stderr.contains('\u{1b}'),
        "escape codes in a pipe: {stderr:?}"
    );
}
