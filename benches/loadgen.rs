//! Generator throughput: runs the `fcctl bench` engine against a trivial local HTTP
//! server (hyper, "ok", keep-alive) and prints the figures.
//!
//! ```text
//! cargo bench --bench loadgen                       # 5 s, 64 connections, server and client 1 thread each
//! cargo bench --bench loadgen -- --duration 5 --connections 128 --client-threads 2
//! cargo bench --bench loadgen -- --rps 20000        # open loop at a fixed rate
//! cargo bench --bench loadgen -- --serve 30         # only the server (for wrk side by side)
//! cargo bench --bench loadgen -- --url http://127.0.0.1:PORT/   # only the client
//! ```
//! See `bench/loadgen/run.sh` for the side-by-side comparison with wrk.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use fcctl::bench::{BenchOptions, Mode, render_summary, run};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::http::{Request, Response};
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
            _ => {} // `cargo bench` adds `--bench`
        }
    }
    a
}

/// Start the trivial server on its own runtime and thread; returns its address.
fn start_server(threads: usize) -> SocketAddr {
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
            while let Ok((s, _)) = l.accept().await {
                let _ = s.set_nodelay(true);
                tokio::spawn(async move {
                    let svc = service_fn(|_req: Request<Incoming>| async {
                        Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(b"ok"))))
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
    let a = parse_args();
    if let Some(secs) = a.serve {
        let addr = start_server(a.server_threads);
        println!("listening on http://{addr}/");
        std::thread::sleep(Duration::from_secs_f64(secs));
        return;
    }
    let url = match &a.url {
        Some(u) => u.clone(),
        None => format!("http://{}/", start_server(a.server_threads)),
    };
    let mut opts = BenchOptions::new(url.clone());
    opts.mode = match a.rps {
        Some(rps) => Mode::Rate { rps },
        None => Mode::Concurrency { n: a.connections },
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
    let r = rt.block_on(run(opts, None)).expect("bench run");
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
