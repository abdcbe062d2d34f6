//! Test harness: an emulator on an ephemeral port in a temp dir, a signing HTTP client and a
//! tiny Python custom-runtime function.
#![allow(dead_code)]

use base64::Engine as _;
use bytes::Bytes;
use emulator::{Config, Emulator, sign};
use http_body_util::{BodyExt as _, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{Value, json};
use std::io::Write as _;
use std::time::Duration;

pub type HttpClient = Client<HttpConnector, Full<Bytes>>;

pub fn client() -> HttpClient {
    Client::builder(hyper_util::rt::TokioExecutor::new()).build(HttpConnector::new())
}

pub struct Resp {
    pub status: u16,
    pub headers: http::HeaderMap,
    pub body: Bytes,
}

impl Resp {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
    pub fn header(&self, n: &str) -> Option<&str> {
        self.headers.get(n).and_then(|v| v.to_str().ok())
    }
}

pub async fn send(c: &HttpClient, req: http::Request<Full<Bytes>>) -> Resp {
    let r = tokio::time::timeout(Duration::from_secs(60), c.request(req))
        .await
        .expect("request timed out")
        .expect("request failed");
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    let body = r.into_body().collect().await.expect("body").to_bytes();
    Resp {
        status,
        headers,
        body,
    }
}

pub fn acs_date(offset_secs: i64) -> String {
    let t = time::OffsetDateTime::now_utc() + time::Duration::seconds(offset_secs);
    let f = time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
    t.format(&f).unwrap()
}

pub struct Fc {
    pub endpoint: String,
    pub ak: String,
    pub secret: String,
    pub client: HttpClient,
    pub date_offset: i64,
}

impl Fc {
    pub fn new(info: &emulator::Info) -> Fc {
        Fc {
            endpoint: info.fc_endpoint.clone(),
            ak: info.access_key_id.clone(),
            secret: info.access_key_secret.clone(),
            client: client(),
            date_offset: 0,
        }
    }

    pub async fn call(
        &self,
        method: &str,
        path: &str,
        query: &str,
        action: &str,
        body: Option<&Value>,
    ) -> Resp {
        let bytes = body.map(|b| b.to_string().into_bytes()).unwrap_or_default();
        self.raw(
            method,
            path,
            query,
            action,
            bytes,
            body.map(|_| "application/json; charset=utf-8"),
        )
        .await
    }

    pub async fn raw(
        &self,
        method: &str,
        path: &str,
        query: &str,
        action: &str,
        body: Vec<u8>,
        ct: Option<&str>,
    ) -> Resp {
        let host = self.endpoint.trim_start_matches("http://").to_string();
        let hs = sign::acs3_sign_headers(
            method,
            &host,
            path,
            query,
            action,
            &body,
            ct,
            &self.ak,
            &self.secret,
            None,
            &acs_date(self.date_offset),
        );
        let uri = if query.is_empty() {
            format!("{}{}", self.endpoint, path)
        } else {
            format!("{}{}?{}", self.endpoint, path, query)
        };
        let mut b = http::Request::builder().method(method).uri(uri);
        for (k, v) in hs {
            b = b.header(k, v);
        }
        send(&self.client, b.body(Full::new(Bytes::from(body))).unwrap()).await
    }
}

/// The test function: a threaded Python HTTP server following the custom-runtime contract.
pub const SERVER_PY: &str = r#"
import http.server, json, os, socketserver, sys
port = int(os.environ["FC_CUSTOM_LISTEN_PORT"])
state = {"initialized": False}
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def _send(self, code, obj):
        b = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(b)))
        self.end_headers()
        self.wfile.write(b)
    def _info(self, body=b""):
        return {"path": self.path, "method": self.command, "initialized": state["initialized"],
                "instance": os.environ.get("FC_INSTANCE_ID"), "version": os.environ.get("FC_FUNCTION_VERSION"),
                "function": os.environ.get("FC_FUNCTION_NAME"), "region": os.environ.get("FC_REGION"),
                "greeting": os.environ.get("GREETING"), "cwd": os.getcwd(),
                "code_has_server": os.path.exists("/code/server.py"),
                "nas_marker": open("/mnt/auto/marker.txt").read() if os.path.exists("/mnt/auto/marker.txt") else None,
                "request_id": self.headers.get("x-fc-request-id"), "host": self.headers.get("host"),
                "body": body.decode("utf-8", "replace")}
    def do_GET(self):
        if self.path == "/pre-stop":
            open(os.path.join(os.environ.get("PRESTOP_DIR", "/tmp"), "prestop-" + os.environ["FC_INSTANCE_ID"]), "w").close()
            return self._send(200, {})
        self._send(200, self._info())
    def do_POST(self):
        n = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(n) if n else b""
        if self.path == "/initialize":
            state["initialized"] = True
            return self._send(200, {"ok": True})
        self._send(200, self._info(body))
    def log_message(self, *a):
        pass
class S(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True
S((os.environ.get("FCCTL_LISTEN_HOST", "0.0.0.0"), port), H).serve_forever()
"#;

pub fn code_zip() -> String {
    let mut buf = std::io::Cursor::new(Vec::new());
    {
        let mut z = zip::ZipWriter::new(&mut buf);
        let o = zip::write::SimpleFileOptions::default().unix_permissions(0o755);
        z.start_file("server.py", o).unwrap();
        z.write_all(SERVER_PY.as_bytes()).unwrap();
        z.finish().unwrap();
    }
    base64::engine::general_purpose::STANDARD.encode(buf.into_inner())
}

pub fn function_body(name: &str, concurrency: u32) -> Value {
    json!({
        "functionName": name,
        "runtime": "custom.debian12",
        "handler": "index.handler",
        "timeout": 30,
        "memorySize": 512,
        "cpu": 0.5,
        "instanceConcurrency": concurrency,
        "code": {"zipFile": code_zip()},
        "customRuntimeConfig": {"command": ["python3"], "args": ["/code/server.py"], "port": 9000},
        "environmentVariables": {"GREETING": "hello"},
        "instanceLifecycleConfig": {
            "initializer": {"handler": "true", "timeout": 10},
            "preStop": {"handler": "true", "timeout": 3}
        },
        "nasConfig": {"mountPoints": [{"serverAddr": "auto", "mountDir": "/mnt/auto"}]}
    })
}

pub async fn start(dir: &std::path::Path) -> Emulator {
    start_with(Config {
        data_dir: dir.to_path_buf(),
        ..Config::default()
    })
    .await
}

pub async fn start_with(cfg: Config) -> Emulator {
    Emulator::start(cfg)
        .await
        .unwrap_or_else(|e| panic!("emulator starts: {e}"))
}

/// Creates function `name` (+ version 1 + alias `prod`) and an anonymous HTTP trigger on `prod`.
pub async fn deploy(fc: &Fc, name: &str, concurrency: u32) -> String {
    let r = fc
        .call(
            "POST",
            "/2023-03-30/functions",
            "",
            "CreateFunction",
            Some(&function_body(name, concurrency)),
        )
        .await;
    assert_eq!(r.status, 200, "create: {:?}", r.json());
    let r = fc
        .call(
            "POST",
            &format!("/2023-03-30/functions/{name}/versions"),
            "",
            "PublishFunctionVersion",
            Some(&json!({"description": "v1"})),
        )
        .await;
    assert_eq!(r.status, 200, "publish: {:?}", r.json());
    assert_eq!(r.json()["versionId"], "1");
    let r = fc
        .call(
            "POST",
            &format!("/2023-03-30/functions/{name}/aliases"),
            "",
            "CreateAlias",
            Some(&json!({"aliasName": "prod", "versionId": "1"})),
        )
        .await;
    assert_eq!(r.status, 200, "alias: {:?}", r.json());
    let tc = json!({"authType": "anonymous", "methods": ["GET", "POST"]}).to_string();
    let r = fc
        .call(
            "POST",
            &format!("/2023-03-30/functions/{name}/triggers"),
            "",
            "CreateTrigger",
            Some(&json!({"triggerName": "http", "triggerType": "http", "qualifier": "prod", "triggerConfig": tc})),
        )
        .await;
    assert_eq!(r.status, 200, "trigger: {:?}", r.json());
    r.json()["httpTrigger"]["urlInternet"]
        .as_str()
        .unwrap()
        .to_string()
}

pub async fn get(c: &HttpClient, url: &str) -> Resp {
    send(
        c,
        http::Request::get(url)
            .body(Full::new(Bytes::new()))
            .unwrap(),
    )
    .await
}
