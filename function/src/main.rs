//! `/code/bootstrap`: listens on `$FCCTL_LISTEN_HOST:$FC_CUSTOM_LISTEN_PORT` (`0.0.0.0:9000` by
//! default, as FC requires; the local emulator sets `127.0.0.1`).

use std::net::SocketAddr;

use anyhow::Context;
use fcctl_function::server::{AppState, Config, router};

fn main() -> anyhow::Result<()> {
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;
    // `Targets` takes RUST_LOG's `target=level,…` directives without the regex engine that
    // `EnvFilter` compiles into the binary (a tenth of the function's build).
    let filter: tracing_subscriber::filter::Targets = std::env::var("RUST_LOG")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| {
            // Quiet: the structured lines on stdout (`events`) are the log; RUST_LOG raises this.
            tracing_subscriber::filter::Targets::new()
                .with_default(tracing_subscriber::filter::LevelFilter::WARN)
        });
    tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .with_ansi(false)
                .with_writer(std::io::stderr),
        )
        .with(filter)
        .init();
    let port: u16 = match std::env::var(fcctl_protocol::env::LISTEN_PORT) {
        Ok(v) if !v.is_empty() => v
            .parse()
            .with_context(|| format!("FC_CUSTOM_LISTEN_PORT={v:?} is not a port"))?,
        _ => 9000,
    };
    let host = fcctl_protocol::env::listen_host().map_err(anyhow::Error::msg)?;
    let config = Config::from_env();
    // Load the model in the background right away (FCCTL_EAGER_LOAD=0 to wait for
    // /initialize or the first request): overlaps the load with start-up and the first
    // request's arrival; callers wait on the same load either way.
    let eager = std::env::var(fcctl_protocol::env::EAGER_LOAD)
        .map(|v| v != "0")
        .unwrap_or(true);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
                .clamp(1, 4),
        )
        .max_blocking_threads(16)
        .enable_all()
        .build()
        .context("cannot start the tokio runtime")?;
    rt.block_on(async move {
        let state = AppState::new(config);
        fcctl_function::events::emit(
            "start",
            None,
            serde_json::json!({"instance_id": state.config.instance_id, "version": state.config.version,
                               "model_dir": state.config.model_dir.display().to_string(),
                               "port": port, "eager_load": eager}),
        );
        if eager {
            let s = state.clone();
            tokio::spawn(async move {
                let _ = s.model().await;
            });
        }
        let addr = SocketAddr::new(host, port);
        let listener =
            tokio::net::TcpListener::bind(addr).await.with_context(|| format!("cannot listen on {addr}"))?;
        tracing::info!(%addr, "listening");
        axum::serve(listener, router(state))
            .with_graceful_shutdown(async {
                let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {},
                    _ = async { match term.as_mut() { Some(t) => { t.recv().await; } None => std::future::pending::<()>().await } } => {},
                }
                fcctl_function::events::emit("shutdown", None, serde_json::json!({}));
            })
            .await
            .context("server error")
    })
}
