//! Generator throughput: runs the `fcctl bench` engine against a trivial local HTTP
//! server (hyper, "ok", keep-alive) and prints the figures.
//!
//! ```text
//! cargo bench --bench loadgen                       # 5 s, 64 connections, server and client 1 thread each
//! cargo bench --bench loadgen -- --duration 5 --connections 128 --client-threads 2
//! cargo bench --bench loadgen -- --rps 20000        # open loop at a fixed rate
//! cargo bench --bench loadgen -- --serve 30         # only the server (for wrk side by side)
//! cargo bench --bench loadgen -- --compare A.json B.json   # `fcctl bench compare` output
//! cargo bench --bench loadgen -- --url http://127.0.0.1:PORT/   # only the client
//! # demo report: the seed's ramp scaled down, a slow server with fake cold starts
//! cargo bench --bench loadgen -- --ramp 5..50 --step-secs 2 --duration 12 --delay-ms 5 \
//!     --cold-every 2000 --summary --html /tmp/report.html --json /tmp/report.json
//! ```
//! See `bench/loadgen/run.sh` for the side-by-side comparison with wrk.
#![allow(clippy::print_stdout)] // a benchmark report is its output

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use fcctl::bench::{
    BenchOptions, BenchReport, Mode, compare, render_summary, run, write_html_report,
};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::http::{HeaderValue, Request, Response};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;

struct Args {
    duration: f64,
    connections: usize,
    client_threads: usize,
    server_threads: usize,
    rps: Option<f64>,
    url: Option<String>,
    serve: Option<f64>,
    summary: bool,
    ramp: Option<(usize, usize)>,
    step_secs: f64,
    delay_ms: u64,
    cold_every: u64,
    html: Option<String>,
    json: Option<String>,
}

fn parse_args() -> Args {
    let mut a = Args {
        duration: 5.0,
        connections: 64,
        client_threads: 1,
        server_threads: 1,
        rps: None,
        url: None,
        serve: None,
        summary: false,
        ramp: None,
        step_secs: 1.0,
        delay_ms: 0,
        cold_every: 0,
        html: None,
        json: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        let mut val = || it.next().unwrap_or_default();
        match k.as_str() {
            "--duration" => a.duration = val().parse().unwrap_or(5.0),
            "--connections" => a.connections = val().parse().unwrap_or(64),
            "--client-threads" => a.client_threads = val().parse().unwrap_or(1),
            "--server-threads" => a.server_threads = val().parse().unwrap_or(1),
            "--rps" => a.rps = val().parse().ok(),
            "--url" => a.url = Some(val()),
            "--serve" => a.serve = val().parse().ok(),
            "--summary" => a.summary = true,
            "--ramp" => {
                let v = val();
                a.ramp = v
                    .split_once("..")
                    .and_then(|(f, t)| Some((f.parse().ok()?, t.parse().ok()?)));
            }
            "--step-secs" => a.step_secs = val().parse().unwrap_or(1.0),
            "--delay-ms" => a.delay_ms = val().parse().unwrap_or(0),
            "--cold-every" => a.cold_every = val().parse().unwrap_or(0),
            "--html" => a.html = Some(val()),
            "--json" => a.json = Some(val()),
            _ => {} // `cargo bench` adds `--bench`
        }
    }
    a
}

/// Start the trivial server on its own runtime and thread; returns its address.
/// `delay_ms` > 0 sleeps before each answer; every `cold_every`-th request (when > 0)
/// pretends to be a cold start (300 ms, `x-fcctl-cold-start: true`), to demo reports.
fn start_server(threads: usize, delay_ms: u64, cold_every: u64) -> SocketAddr {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads.max(1))
            .enable_all()
            .build()
            .expect("server runtime");
        rt.block_on(async move {
            let l = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind");
            tx.send(l.local_addr().expect("addr")).expect("send addr");
            let count = Arc::new(AtomicU64::new(0));
            while let Ok((s, _)) = l.accept().await {
                let _ = s.set_nodelay(true);
                let count = count.clone();
                tokio::spawn(async move {
                    let svc = service_fn(move |_req: Request<Incoming>| {
                        let n = count.fetch_add(1, Ordering::Relaxed) + 1;
                        async move {
                            let mut resp = Response::new(Full::new(Bytes::from_static(b"ok")));
                            if cold_every > 0 && n.is_multiple_of(cold_every) {
                                tokio::time::sleep(Duration::from_millis(300)).await;
                                let h = resp.headers_mut();
                                h.insert("x-fcctl-cold-start", HeaderValue::from_static("true"));
                                h.insert(
                                    "x-fcctl-instance-start-ms",
                                    HeaderValue::from_static("120"),
                                );
                                h.insert("x-fcctl-initialize-ms", HeaderValue::from_static("170"));
                            } else if delay_ms > 0 {
                                tokio::time::sleep(Duration::from_millis(delay_ms)).await;
                            }
                            Ok::<_, Infallible>(resp)
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(s), svc)
                        .await;
                });
            }
        });
    });
    rx.recv().expect("server address")
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--compare") {
        let load = |p: &String| {
            BenchReport::from_json_file(std::path::Path::new(p)).expect("read report JSON")
        };
        let (a, b) = (load(&args[i + 1]), load(&args[i + 2]));
        println!("{}", compare(&a, &b));
        return;
    }
    let a = parse_args();
    if let Some(secs) = a.serve {
        let addr = start_server(a.server_threads, a.delay_ms, a.cold_every);
        println!("listening on http://{addr}/");
        std::thread::sleep(Duration::from_secs_f64(secs));
        return;
    }
    let url = match &a.url {
        Some(u) => u.clone(),
        None => format!(
            "http://{}/",
            start_server(a.server_threads, a.delay_ms, a.cold_every)
        ),
    };
    let mut opts = BenchOptions::new(url.clone());
    opts.mode = match (a.rps, a.ramp) {
        (Some(rps), _) => Mode::Rate { rps },
        (None, Some((from, to))) => Mode::Ramp {
            from,
            to,
            step_pct: 20.0,
            step_duration: Duration::from_secs_f64(a.step_secs),
        },
        (None, None) => Mode::Concurrency { n: a.connections },
    };
    if a.rps.is_some() {
        opts.connections = Some(a.connections);
    }
    opts.duration = Duration::from_secs_f64(a.duration);
    opts.max_requests = 50_000_000;
    opts.timeout = Duration::from_secs(5);

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(a.client_threads.max(1))
        .enable_all()
        .build()
        .expect("client runtime");
    let mut r = rt.block_on(run(opts, None)).expect("bench run");
    if let Some(p) = &a.html {
        write_html_report(&r, std::path::Path::new(p)).expect("write HTML report");
        r.report = Some(p.clone());
    }
    if let Some(p) = &a.json {
        std::fs::write(p, serde_json::to_string_pretty(&r).expect("json")).expect("write JSON");
    }
    if a.summary {
        println!("{}", render_summary(&r));
    }
    println!(
        "loadgen: {} requests in {:.2} s = {:.0} req/s (peak {:.0}/s), errors {}, latency p50 {:.3} ms p99 {:.3} ms max {:.3} ms; {} connections, client threads {}, server threads {}, target {url}",
        r.requests,
        r.duration_s,
        r.rps_avg,
        r.rps_peak,
        r.errors,
        r.latency_ms.p50,
        r.latency_ms.p99,
        r.latency_ms.max,
        a.connections,
        a.client_threads,
        if a.url.is_some() { 0 } else { a.server_threads },
    );
}
