//! Benchmark (not a test): proxy overhead of the emulator's HTTP trigger vs hitting the
//! instance port directly, and instance cold start of a hello-world binary.
//! Run through `emulator/bench/overhead.sh` (release build).

use base64::Engine as _;
use bytes::Bytes;
use emulator::{Config, Emulator, Info, sign};
use http_body_util::{BodyExt as _, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{Value, json};
use std::io::Write as _;
use std::time::{Duration, Instant};

type HttpClient = Client<HttpConnector, Full<Bytes>>;

async fn call(
    c: &HttpClient,
    info: &Info,
    method: &str,
    path: &str,
    query: &str,
    action: &str,
    body: Option<Value>,
) -> Value {
    let b = body.map(|b| b.to_string().into_bytes()).unwrap_or_default();
    let date = time::OffsetDateTime::now_utc()
        .format(time::macros::format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second]Z"
        ))
        .unwrap();
    let host = info.fc_endpoint.trim_start_matches("http://");
    let ct = if b.is_empty() {
        None
    } else {
        Some("application/json")
    };
    let hs = sign::acs3_sign_headers(
        method,
        host,
        path,
        query,
        action,
        &b,
        ct,
        &info.access_key_id,
        &info.access_key_secret,
        None,
        &date,
    );
    let uri = format!(
        "{}{}{}{}",
        info.fc_endpoint,
        path,
        if query.is_empty() { "" } else { "?" },
        query
    );
    let mut rb = http::Request::builder().method(method).uri(uri);
    for (k, v) in hs {
        rb = rb.header(k, v);
    }
    let r = c
        .request(rb.body(Full::new(Bytes::from(b))).unwrap())
        .await
        .unwrap();
    let st = r.status();
    let body = r.into_body().collect().await.unwrap().to_bytes();
    let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    assert!(st.is_success(), "{action}: {st} {v}");
    v
}

async fn get(c: &HttpClient, url: &str) -> (Duration, http::HeaderMap) {
    let t = Instant::now();
    let r = c
        .request(
            http::Request::get(url)
                .body(Full::new(Bytes::new()))
                .unwrap(),
        )
        .await
        .unwrap();
    assert!(r.status().is_success());
    let h = r.headers().clone();
    let _ = r.into_body().collect().await.unwrap();
    (t.elapsed(), h)
}

fn pct(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

#[tokio::main]
async fn main() {
    let n: usize = std::env::var("N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000);
    let cold_n: usize = std::env::var("COLD_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    let zip_b64 = hello_zip_b64();
    let dir = tempfile::tempdir().unwrap();
    let emu = Emulator::start(Config {
        data_dir: dir.path().into(),
        ..Config::default()
    })
    .await
    .unwrap();
    let info = emu.info().clone();
    let c: HttpClient =
        Client::builder(hyper_util::rt::TokioExecutor::new()).build(HttpConnector::new());
    let func = |name: &str| {
        json!({"functionName": name, "runtime": "custom.debian12", "handler": "x", "timeout": 10,
        "code": {"zipFile": zip_b64}, "customRuntimeConfig": {"command": ["/code/bootstrap"]}})
    };
    call(
        &c,
        &info,
        "POST",
        "/2023-03-30/functions",
        "",
        "CreateFunction",
        Some(func("hello")),
    )
    .await;
    measure_proxy_overhead(&c, &info, n).await;
    measure_cold_starts(&c, &info, cold_n, &func).await;
    emu.shutdown().await;
}

/// The hello_server example (built next to this one) as a base64 code zip (`bootstrap`).
fn hello_zip_b64() -> String {
    let hello = std::env::current_exe()
        .unwrap()
        .with_file_name("hello_server");
    let mut zbuf = std::io::Cursor::new(Vec::new());
    {
        let mut z = zip::ZipWriter::new(&mut zbuf);
        z.start_file(
            "bootstrap",
            zip::write::SimpleFileOptions::default().unix_permissions(0o755),
        )
        .unwrap();
        z.write_all(&std::fs::read(&hello).expect("build the hello_server example first"))
            .unwrap();
        z.finish().unwrap();
    }
    base64::engine::general_purpose::STANDARD.encode(zbuf.into_inner())
}

/// Warm requests to function `hello`: via its HTTP trigger vs straight to its instance.
async fn measure_proxy_overhead(c: &HttpClient, info: &Info, n: usize) {
    let tc = json!({"authType": "anonymous", "methods": ["GET"]}).to_string();
    let t = call(c, info, "POST", "/2023-03-30/functions/hello/triggers", "", "CreateTrigger",
        Some(json!({"triggerName": "h", "triggerType": "http", "qualifier": "LATEST", "triggerConfig": tc}))).await;
    let url = t["httpTrigger"]["urlInternet"]
        .as_str()
        .unwrap()
        .to_string();
    let _ = get(c, &url).await; // cold start
    let li = call(
        c,
        info,
        "GET",
        "/2023-03-30/functions/hello/instances",
        "",
        "ListInstances",
        None,
    )
    .await;
    let port = li["instances"][0]["fcctlListenPort"].as_u64().unwrap();
    let direct = format!("http://127.0.0.1:{port}/");
    for _ in 0..200 {
        get(c, &url).await;
        get(c, &direct).await;
    }
    let (mut via, mut dir_t) = (Vec::with_capacity(n), Vec::with_capacity(n));
    for _ in 0..n {
        via.push(get(c, &url).await.0.as_secs_f64() * 1e3);
        dir_t.push(get(c, &direct).await.0.as_secs_f64() * 1e3);
    }
    let (v50, v99, d50, d99) = (
        pct(&mut via, 0.5),
        pct(&mut via, 0.99),
        pct(&mut dir_t, 0.5),
        pct(&mut dir_t, 0.99),
    );
    println!("requests: {n} sequential, keep-alive, loopback");
    println!("direct to instance : p50 {d50:.3} ms  p99 {d99:.3} ms");
    println!("via HTTP trigger   : p50 {v50:.3} ms  p99 {v99:.3} ms");
    println!(
        "proxy overhead     : p50 {:.3} ms  p99 {:.3} ms",
        v50 - d50,
        v99 - d99
    );
}

/// One cold start each for `cold_n` new functions.
async fn measure_cold_starts(
    c: &HttpClient,
    info: &Info,
    cold_n: usize,
    func: &dyn Fn(&str) -> Value,
) {
    let tc = json!({"authType": "anonymous", "methods": ["GET"]}).to_string();
    let (mut spawn, mut total) = (Vec::new(), Vec::new());
    for i in 0..cold_n {
        let name = format!("cold{i}");
        call(
            c,
            info,
            "POST",
            "/2023-03-30/functions",
            "",
            "CreateFunction",
            Some(func(&name)),
        )
        .await;
        let t = call(c, info, "POST", &format!("/2023-03-30/functions/{name}/triggers"), "", "CreateTrigger",
            Some(json!({"triggerName": "h", "triggerType": "http", "qualifier": "LATEST", "triggerConfig": tc}))).await;
        let (d, h) = get(c, t["httpTrigger"]["urlInternet"].as_str().unwrap()).await;
        assert_eq!(h.get("x-fcctl-cold-start").unwrap(), "true");
        spawn.push(
            h.get("x-fcctl-instance-start-ms")
                .unwrap()
                .to_str()
                .unwrap()
                .parse::<f64>()
                .unwrap(),
        );
        total.push(d.as_secs_f64() * 1e3);
    }
    println!(
        "cold start (hello-world binary, {cold_n} functions): instance-start p50 {:.1} ms p99 {:.1} ms; first request end-to-end p50 {:.1} ms p99 {:.1} ms",
        pct(&mut spawn, 0.5),
        pct(&mut spawn, 0.99),
        pct(&mut total, 0.5),
        pct(&mut total, 0.99)
    );
}
