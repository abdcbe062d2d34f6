//! The load generator: worker tasks over keep-alive HTTP/1.1 connections.
//!
//! Closed loop (concurrency, ramp): worker `k` is active while the target concurrency is
//! above `k` and sends back-to-back on its own connection. Open loop (rate): request `i`
//! is due at `start + i / rps`; workers claim slots from a shared counter, sleep until the
//! slot is due and measure latency from that intended time, so a stalled server shows up
//! as latency instead of as fewer samples (coordinated omission, as in wrk2).

use std::collections::{HashSet, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::time::Instant;

use super::cold::{ColdStartSample, ColdStartSummary, FailedRequest, summarize_cold};
use super::convert::{index_to_f64, saturating_u64, to_f64, to_usize};
use super::error::BenchError;
use super::format::rfc3339_ms;
use super::http1::{self, ExchangeError};
use super::options::{BenchOptions, Mode};
use super::stats::{
    self, BenchReport, Failure, LatencyStats, MAX_COLD_SAMPLES, MAX_FAILED_SAMPLES, Outcome,
    SecondBucket, WorkerStats,
};
use super::target::{self, Target};

/// How long requests still in flight at the end of the duration may take to finish before
/// they are cancelled and counted as timeouts: long enough that a healthy run does not end in
/// spurious timeouts, short enough that the duration bounds the run.
pub const END_GRACE: Duration = Duration::from_secs(1);

/// Live figures handed to the progress callback about 5 times a second.
#[derive(Debug, Clone, Default)]
pub struct Progress {
    pub elapsed: Duration,
    pub duration: Duration,
    pub requests: u64,
    pub errors: u64,
    pub cold_starts: u64,
    pub in_flight: usize,
    pub target_concurrency: usize,
    /// Completed requests during the last second.
    pub rps: f64,
}

/// Progress callback; wrap an `indicatif::ProgressBar` in it at the command layer.
pub type ProgressFn = Arc<dyn Fn(&Progress) + Send + Sync>;

struct Shared {
    start: Instant,
    deadline: Instant,
    max_requests: u64,
    /// Tickets handed out (closed loop) or slots claimed (open loop).
    issued: AtomicU64,
    completed: AtomicU64,
    errors: AtomicU64,
    cold: AtomicU64,
    in_flight: AtomicUsize,
    /// Target concurrency (closed loop); workers with a higher index wait.
    target: AtomicUsize,
    stop: AtomicBool,
    finished: AtomicBool,
    /// Closed loop with an RPS cap: nanoseconds between sends, and the next free send
    /// time (ns since start).
    cap_interval_ns: Option<u64>,
    next_send_ns: AtomicU64,
    /// Measurements, sharded: worker `k` records into shard `k % shards.len()`. Few
    /// shards bound memory (HDR histograms are ~0.4 MB each) whatever the connection
    /// count; on 2 cores the locks are almost never contended.
    shards: Vec<Mutex<WorkerStats>>,
}

impl Shared {
    fn shard(&self, k: usize) -> MutexGuard<'_, WorkerStats> {
        self.shards[k % self.shards.len()]
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Wall-clock time for the report's timestamps; the run itself is timed with the
/// monotonic clock. A clock set before 1970 reads as 0.
fn now_unix_ms() -> u64 {
    let ms = time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000;
    u64::try_from(ms).unwrap_or(0)
}

fn shard_count(workers: usize) -> usize {
    workers.clamp(1, 8)
}

impl Shared {
    fn new(opts: &BenchOptions, workers: usize, rate: Option<f64>) -> Shared {
        let start = Instant::now();
        Shared {
            start,
            deadline: start + opts.duration,
            max_requests: opts.max_requests,
            issued: AtomicU64::new(0),
            completed: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            cold: AtomicU64::new(0),
            in_flight: AtomicUsize::new(0),
            target: AtomicUsize::new(opts.mode.concurrency_at(Duration::ZERO)),
            stop: AtomicBool::new(false),
            finished: AtomicBool::new(false),
            cap_interval_ns: match (rate, opts.rps_cap) {
                (None, Some(cap)) => Some(saturating_u64(1e9 / cap).max(1)),
                _ => None,
            },
            next_send_ns: AtomicU64::new(0),
            shards: (0..shard_count(workers))
                .map(|_| Mutex::new(WorkerStats::new()))
                .collect(),
        }
    }

    /// Everything the workers recorded, merged (the shards are left empty).
    fn take_totals(&self) -> WorkerStats {
        let mut total = WorkerStats::new();
        for k in 0..self.shards.len() {
            total.merge(std::mem::replace(&mut *self.shard(k), WorkerStats::new()));
        }
        total
    }
}

/// Run a benchmark. Bounded by `opts.duration` (no request starts later; those in flight
/// then get [`END_GRACE`] at most, then are cancelled and counted as timeouts) and
/// `opts.max_requests`.
///
/// # Errors
///
/// Invalid options, a refused or unresolvable target, or an unreadable image. Failed
/// requests are not errors: they are counted in the report.
pub async fn run(
    opts: BenchOptions,
    progress: Option<ProgressFn>,
) -> Result<BenchReport, BenchError> {
    opts.validate()?;
    let target = Arc::new(target::resolve(&opts).await?);
    let workers = opts.workers();
    let rate = match opts.mode {
        Mode::Rate { rps } => Some(rps),
        _ => None,
    };

    let started_unix_ms = now_unix_ms();
    let shared = Arc::new(Shared::new(&opts, workers, rate));
    tracing::debug!(url = %target.display_url, workers, mode = ?opts.mode, "bench start");

    let sampler = tokio::spawn(sampler(
        shared.clone(),
        opts.mode.clone(),
        opts.duration,
        progress,
    ));
    let handles: Vec<_> = (0..workers)
        .map(|id| {
            let w = Worker {
                id,
                shared: shared.clone(),
                target: target.clone(),
                timeout: opts.timeout,
                rate,
                conn: None,
                payload_idx: id,
                instances: HashSet::new(),
            };
            tokio::spawn(w.run())
        })
        .collect();

    let mut instances = HashSet::new();
    for h in handles {
        match h.await {
            Ok(seen) => instances.extend(seen),
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(_) => {}
        }
    }
    let mut total = shared.take_totals();
    total.instances.extend(instances);
    let elapsed = shared.start.elapsed();
    shared.finished.store(true, Relaxed);
    let concurrency = sampler.await.unwrap_or_default();

    Ok(build_report(
        &opts,
        &target,
        Measured {
            workers,
            total,
            concurrency,
            elapsed,
            started_unix_ms,
            finished_unix_ms: now_unix_ms(),
        },
    ))
}

/// What a finished run measured, before it becomes a report.
struct Measured {
    workers: usize,
    total: WorkerStats,
    /// Peak requests in flight, per second.
    concurrency: Vec<u64>,
    elapsed: Duration,
    started_unix_ms: u64,
    finished_unix_ms: u64,
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

fn build_report(opts: &BenchOptions, target: &Target, m: Measured) -> BenchReport {
    let total = m.total;
    let timeline = stats::timeline(&total.buckets, &m.concurrency);
    let duration_s = m.elapsed.min(opts.duration).as_secs_f64().max(1e-3);
    let requests = total.requests;
    let errors = total.errors.total();
    let successes = requests.saturating_sub(errors);
    let mut cold_samples = total.cold_samples;
    cold_samples.sort_by(|a, b| a.t_s.total_cmp(&b.t_s));
    let mut failed_requests = total.failed_samples;
    failed_requests.sort_by(|a, b| a.t_s.total_cmp(&b.t_s));
    BenchReport {
        schema: stats::SCHEMA,
        url: target.display_url.clone(),
        started_at: rfc3339_ms(m.started_unix_ms),
        finished_at: rfc3339_ms(m.finished_unix_ms),
        started_unix_ms: m.started_unix_ms,
        duration_s: round2(duration_s),
        requests,
        successes,
        success_rate: if requests > 0 {
            (to_f64(successes) / to_f64(requests) * 1e6).round() / 1e6
        } else {
            0.0
        },
        errors,
        errors_by_class: total.errors,
        status: total.status,
        rps_avg: round2(to_f64(requests) / duration_s),
        rps_peak: to_f64(timeline.iter().map(SecondBucket::total).max().unwrap_or(0)),
        concurrency_peak: m.concurrency.iter().copied().max().unwrap_or(0),
        concurrency_limit: m.workers as u64,
        bytes_received: total.bytes,
        throughput_avg_bps: round2(to_f64(total.bytes) / duration_s),
        throughput_peak_bps: to_f64(timeline.iter().map(|b| b.bytes).max().unwrap_or(0)),
        cold_starts: total.cold_starts,
        instances: total.instances.len() as u64,
        coordinated_omission_corrected: matches!(opts.mode, Mode::Rate { .. }),
        latency_ms: LatencyStats::from_hist(&total.all),
        warm_latency_ms: LatencyStats::from_hist(&total.warm),
        cold_latency_ms: LatencyStats::from_hist(&total.cold),
        cold_start: if total.cold_starts > 0 {
            summarize_cold(&cold_samples)
        } else {
            None
        },
        cold_start_samples: cold_samples,
        failed_requests,
        timeline,
        histogram: stats::histogram_buckets(&total.all),
        options: opts.clone(),
        report: None,
        tested: None,
    }
}

/// Samples concurrency per second, advances the ramp, and reports progress.
async fn sampler(
    shared: Arc<Shared>,
    mode: Mode,
    duration: Duration,
    progress: Option<ProgressFn>,
) -> Vec<u64> {
    let mut conc: Vec<u64> = Vec::new();
    let mut tick = tokio::time::interval(Duration::from_millis(50));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut rate = RateWindow::default();
    let mut last_progress: Option<Instant> = None;
    let closed_loop = !matches!(mode, Mode::Rate { .. });
    loop {
        tick.tick().await;
        let now = Instant::now();
        let el = now - shared.start;
        if closed_loop {
            shared.target.store(mode.concurrency_at(el), Relaxed);
        }
        let sec = to_usize(el.as_secs());
        if conc.len() <= sec {
            conc.resize(sec + 1, 0);
        }
        let inflight = shared.in_flight.load(Relaxed);
        conc[sec] = conc[sec].max(inflight as u64);

        if let Some(cb) = &progress
            && last_progress.is_none_or(|t| now - t >= Duration::from_millis(200))
        {
            last_progress = Some(now);
            let done = shared.completed.load(Relaxed);
            cb(&Progress {
                elapsed: el.min(duration),
                duration,
                requests: done,
                errors: shared.errors.load(Relaxed),
                cold_starts: shared.cold.load(Relaxed),
                in_flight: inflight,
                target_concurrency: if closed_loop {
                    shared.target.load(Relaxed)
                } else {
                    0
                },
                rps: rate.update(now, done),
            });
        }
        if shared.finished.load(Relaxed) {
            break;
        }
    }
    // A trailing entry for the instant the workers finished adds nothing.
    while conc.len() > 1 && conc.last() == Some(&0) {
        conc.pop();
    }
    conc
}

/// Completions over roughly the last second, for the progress line.
#[derive(Default)]
struct RateWindow {
    points: VecDeque<(Instant, u64)>,
}

impl RateWindow {
    fn update(&mut self, now: Instant, done: u64) -> f64 {
        let w = &mut self.points;
        w.push_back((now, done));
        while w.len() > 2 && now - w[1].0 >= Duration::from_secs(1) {
            w.pop_front();
        }
        match w.front() {
            Some(&(t0, d0)) if now > t0 => to_f64(done - d0) / (now - t0).as_secs_f64(),
            _ => 0.0,
        }
    }
}

struct Worker {
    id: usize,
    shared: Arc<Shared>,
    target: Arc<Target>,
    timeout: Duration,
    rate: Option<f64>,
    conn: Option<http1::Conn>,
    payload_idx: usize,
    /// Instance ids this worker has seen (merged at the end).
    instances: HashSet<String>,
}

/// What a worker does next.
enum Next {
    /// Send now; latency counts from this instant (the intended time in rate mode).
    Send(Instant),
    /// Not active at the current ramp level yet: look again.
    Idle,
    Stop,
}

impl Worker {
    async fn run(mut self) -> HashSet<String> {
        let sh = self.shared.clone();
        loop {
            if sh.stop.load(Relaxed) {
                break;
            }
            let now = Instant::now();
            if now >= sh.deadline {
                break;
            }
            let next = match self.rate {
                Some(rps) => open_loop_next(&sh, rps, now).await,
                None => self.closed_loop_next(now).await,
            };
            match next {
                Next::Send(intended) => self.send_one(intended).await,
                Next::Idle => {}
                Next::Stop => break,
            }
        }
        self.instances
    }

    async fn closed_loop_next(&self, now: Instant) -> Next {
        let sh = &*self.shared;
        if self.id >= sh.target.load(Relaxed) {
            tokio::time::sleep((sh.deadline - now).min(Duration::from_millis(20))).await;
            return Next::Idle;
        }
        if sh.issued.fetch_add(1, Relaxed) >= sh.max_requests {
            sh.stop.store(true, Relaxed);
            return Next::Stop;
        }
        let Some(interval) = sh.cap_interval_ns else {
            return Next::Send(now);
        };
        let now_ns = u64::try_from((now - sh.start).as_nanos()).unwrap_or(u64::MAX);
        let slot = claim_capped_slot(sh, interval, now_ns);
        if slot > now_ns {
            let at = sh.start + Duration::from_nanos(slot);
            if at >= sh.deadline {
                return Next::Stop;
            }
            tokio::time::sleep_until(at).await;
        }
        Next::Send(Instant::now())
    }

    async fn send_one(&mut self, intended: Instant) {
        let sh = &*self.shared;
        let t = &*self.target;
        let payload = &t.payloads[self.payload_idx % t.payloads.len()];
        self.payload_idx = self.payload_idx.wrapping_add(1);

        sh.in_flight.fetch_add(1, Relaxed);
        let sent = Instant::now();
        // The run's end bounds every request too: a target that accepts and never answers
        // must not hold the run for a whole per-request timeout past its duration.
        let budget = self
            .timeout
            .min((sh.deadline + END_GRACE).saturating_duration_since(sent));
        let res = tokio::time::timeout(
            budget,
            exchange(&mut self.conn, &t.addrs, &payload.wire, &self.instances),
        )
        .await;
        sh.in_flight.fetch_sub(1, Relaxed);
        let done = Instant::now();
        let timing = Timing {
            at: done - sh.start,
            latency: done - intended,
            sent,
            done,
        };

        let failure = match res {
            Ok(Ok(x)) => return self.record_response(x, &timing),
            Ok(Err(f)) => f,
            Err(_) => Failure::Timeout,
        };
        // The connection is in an unknown state: drop it.
        self.conn = None;
        let sh = &*self.shared;
        sh.errors.fetch_add(1, Relaxed);
        sh.shard(self.id).record(
            timing.at,
            Outcome::Failed(failure),
            timing.latency,
            0,
            false,
        );
        sh.completed.fetch_add(1, Relaxed);
        if failure == Failure::Connect {
            // Don't spin against a closed port; the run stays bounded either way.
            let pause = Duration::from_millis(10);
            if Instant::now() + pause < sh.deadline {
                tokio::time::sleep(pause).await;
            }
        }
    }

    fn record_response(&mut self, x: http1::Response, timing: &Timing) {
        let sh = &*self.shared;
        let cold = x.info.cold();
        if let Some(id) = x.new_instance {
            self.instances.insert(id);
        }
        let failed = x.status >= 400 || x.info.fc_error;
        if failed {
            sh.errors.fetch_add(1, Relaxed);
        }
        let outcome = if x.info.fc_error {
            Outcome::FunctionError(x.status)
        } else {
            Outcome::Status(x.status)
        };
        let mut stats = sh.shard(self.id);
        if failed && stats.failed_samples.len() < MAX_FAILED_SAMPLES {
            stats.failed_samples.push(FailedRequest::new(
                timing.at.as_secs_f64(),
                x.status,
                &x.info,
            ));
        }
        if cold {
            sh.cold.fetch_add(1, Relaxed);
            if stats.cold_samples.len() < MAX_COLD_SAMPLES {
                let mut s = x.info.into_sample(x.status);
                s.t_s = timing.at.as_secs_f64();
                s.first_byte_ms = (x.first_byte - timing.sent).as_secs_f64() * 1e3;
                s.total_ms = (timing.done - timing.sent).as_secs_f64() * 1e3;
                stats.cold_samples.push(s);
            }
        }
        stats.record(timing.at, outcome, timing.latency, x.body_bytes, cold);
        drop(stats);
        sh.completed.fetch_add(1, Relaxed);
    }
}

/// When one request was sent and completed.
struct Timing {
    /// Completion, since the run start.
    at: Duration,
    /// From the intended (rate mode) or actual send to completion.
    latency: Duration,
    sent: Instant,
    done: Instant,
}

/// Open loop: claim the next slot (`start + i / rps`) and sleep until it is due.
async fn open_loop_next(sh: &Shared, rps: f64, now: Instant) -> Next {
    let slot = sh.issued.fetch_add(1, Relaxed);
    if slot >= sh.max_requests {
        sh.stop.store(true, Relaxed);
        return Next::Stop;
    }
    let due = sh.start + Duration::from_secs_f64(to_f64(slot) / rps);
    if due >= sh.deadline {
        return Next::Stop;
    }
    if due > now {
        tokio::time::sleep_until(due).await;
    }
    Next::Send(due)
}

/// Closed loop under an RPS cap: take the next free send time (ns since start), never
/// earlier than now, so a slow spell is not followed by a catch-up burst.
fn claim_capped_slot(sh: &Shared, interval_ns: u64, now_ns: u64) -> u64 {
    let mut cur = sh.next_send_ns.load(Relaxed);
    loop {
        let slot = cur.max(now_ns);
        match sh
            .next_send_ns
            .compare_exchange_weak(cur, slot + interval_ns, Relaxed, Relaxed)
        {
            Ok(_) => return slot,
            Err(v) => cur = v,
        }
    }
}

/// Send one request on the kept-alive connection (reconnecting, and retrying once, when
/// the server had closed it), read the whole response, look at the cold-start headers.
async fn exchange(
    conn: &mut Option<http1::Conn>,
    addrs: &[SocketAddr],
    wire: &[u8],
    known_instances: &HashSet<String>,
) -> Result<http1::Response, Failure> {
    for attempt in 0..2 {
        let c = match conn {
            Some(c) => c,
            None => conn.insert(http1::connect(addrs).await.map_err(|_| Failure::Connect)?),
        };
        match c.exchange(wire, known_instances).await {
            Ok(r) => {
                if !r.keep_alive {
                    *conn = None;
                }
                return Ok(r);
            }
            Err(ExchangeError::Stale) if attempt == 0 => *conn = None,
            Err(_) => {
                *conn = None;
                return Err(Failure::Other);
            }
        }
    }
    Err(Failure::Other)
}

/// `--cold N`: `n` times, call `force_fresh(i)` (the caller makes the next request hit
/// a new instance: bump a no-op config, scale to zero on the emulator, ...) then
/// [`probe`] once; returns the samples and their phase summary (instance start →
/// `/initialize` done → first byte).
///
/// # Errors
///
/// A refused target, a failing `force_fresh`, or a failed probe.
pub async fn run_cold<F, Fut, E>(
    opts: &BenchOptions,
    n: usize,
    mut force_fresh: F,
) -> Result<(Vec<ColdStartSample>, Option<ColdStartSummary>), BenchError>
where
    F: FnMut(usize) -> Fut,
    Fut: std::future::Future<Output = Result<(), E>>,
    E: std::fmt::Display,
{
    target::check_allowed(&opts.url, opts.allow_remote)?;
    let mut samples = Vec::with_capacity(n);
    for i in 0..n {
        force_fresh(i).await.map_err(|e| {
            BenchError::ColdStart(format!("forcing fresh instance {}/{n}: {e}", i + 1))
        })?;
        let mut s = probe(opts).await?;
        s.t_s = index_to_f64(i);
        samples.push(s);
    }
    let summary = summarize_cold(&samples);
    Ok((samples, summary))
}

/// One request over a fresh connection, timed (for `--cold N`: the caller forces a new
/// instance before each probe, then summarises with [`summarize_cold`]).
///
/// # Errors
///
/// A refused or unresolvable target, or a request that fails or times out.
pub async fn probe(opts: &BenchOptions) -> Result<ColdStartSample, BenchError> {
    let target = target::resolve(opts).await?;
    let sent = Instant::now();
    let mut conn = None;
    let fail = |reason: &str| BenchError::Request {
        url: target.display_url.clone(),
        reason: reason.to_string(),
    };
    let known = HashSet::new();
    let x = match tokio::time::timeout(
        opts.timeout,
        exchange(&mut conn, &target.addrs, &target.payloads[0].wire, &known),
    )
    .await
    {
        Err(_) => return Err(fail(&format!("no response within {:?}", opts.timeout))),
        Ok(Err(Failure::Connect)) => return Err(fail("connection refused")),
        Ok(Err(_)) => return Err(fail("connection dropped or invalid HTTP response")),
        Ok(Ok(x)) => x,
    };
    let done = Instant::now();
    let mut s = x.info.into_sample(x.status);
    s.first_byte_ms = (x.first_byte - sent).as_secs_f64() * 1e3;
    s.total_ms = (done - sent).as_secs_f64() * 1e3;
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::{RequestKind, write_html_report};
    use bytes::Bytes;
    use http_body_util::{BodyExt, Full};
    use hyper::body::Incoming;
    use hyper::http::Response;
    use hyper::http::{Request, header};
    use hyper::service::service_fn;
    use hyper_util::rt::TokioIo;
    use std::convert::Infallible;
    use std::sync::atomic::AtomicBool;

    /// Test target: every 10th request answers 500, every 7th (else) 404; the first
    /// request on each connection is marked as a cold start; `/slow` sleeps 400 ms.
    #[derive(Default)]
    struct ServerState {
        total: AtomicU64,
        s404: AtomicU64,
        s500: AtomicU64,
        cold: AtomicU64,
        conns: AtomicU64,
        multipart_ok: AtomicU64,
        fc_error: AtomicU64,
    }

    async fn serve(st: Arc<ServerState>) -> SocketAddr {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((s, _)) = l.accept().await {
                let conn_id = st.conns.fetch_add(1, Relaxed);
                let st = st.clone();
                let first = Arc::new(AtomicBool::new(true));
                tokio::spawn(async move {
                    let svc = service_fn(move |req: Request<Incoming>| {
                        let st = st.clone();
                        let first = first.clone();
                        async move {
                            let slow = req.uri().path().contains("slow");
                            let multipart =
                                req.headers().get(header::CONTENT_TYPE).is_some_and(|v| {
                                    v.as_bytes().starts_with(b"multipart/form-data; boundary=")
                                });
                            let body = req
                                .into_body()
                                .collect()
                                .await
                                .map(http_body_util::Collected::to_bytes)
                                .unwrap_or_default();
                            if multipart && body.windows(9).any(|w| w == b"filename=") {
                                st.multipart_ok.fetch_add(1, Relaxed);
                            }
                            if slow {
                                tokio::time::sleep(Duration::from_millis(400)).await;
                            }
                            let n = st.total.fetch_add(1, Relaxed);
                            let status = if n % 10 == 9 {
                                st.s500.fetch_add(1, Relaxed);
                                500
                            } else if n % 7 == 6 {
                                st.s404.fetch_add(1, Relaxed);
                                404
                            } else {
                                200
                            };
                            let mut resp = Response::builder()
                                .status(status)
                                .header("x-fc-instance-id", format!("inst-{conn_id}"))
                                .header("x-fc-request-id", format!("1-req-{n}"));
                            if status == 200 && n % 13 == 12 {
                                st.fc_error.fetch_add(1, Relaxed);
                                resp = resp.header("x-fc-error-type", "FunctionTimeoutError");
                            }
                            if first.swap(false, Relaxed) {
                                st.cold.fetch_add(1, Relaxed);
                                resp = resp
                                    .header("x-fcctl-cold-start", "true")
                                    .header("x-fcctl-instance-start-ms", "12.5")
                                    .header("x-fcctl-initialize-ms", "300");
                            }
                            Ok::<_, Infallible>(
                                resp.body(Full::new(Bytes::from_static(b"hello"))).unwrap(),
                            )
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(s), svc)
                        .await;
                });
            }
        });
        addr
    }

    fn opts(addr: SocketAddr, path: &str, mode: Mode, duration_ms: u64, max: u64) -> BenchOptions {
        BenchOptions {
            url: format!("http://{addr}{path}"),
            mode,
            duration: Duration::from_millis(duration_ms),
            max_requests: max,
            timeout: Duration::from_secs(1),
            ..Default::default()
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn counts_statuses_and_cold_starts() {
        let st = Arc::new(ServerState::default());
        let addr = serve(st.clone()).await;
        let calls = Arc::new(AtomicU64::new(0));
        let c2 = calls.clone();
        let cb: ProgressFn = Arc::new(move |_p: &Progress| {
            c2.fetch_add(1, Relaxed);
        });
        let r = run(
            opts(addr, "/", Mode::Concurrency { n: 4 }, 1500, 2000),
            Some(cb),
        )
        .await
        .unwrap();
        assert_eq!(r.requests, 2000, "bounded by max_requests");
        assert_eq!(r.requests, st.total.load(Relaxed));
        assert_eq!(r.status.s5xx, st.s500.load(Relaxed));
        assert_eq!(r.status.s4xx, st.s404.load(Relaxed));
        assert_eq!(r.errors_by_class.function, st.fc_error.load(Relaxed));
        assert!(r.errors_by_class.function > 0);
        assert_eq!(
            r.errors,
            r.status.s4xx + r.status.s5xx + r.errors_by_class.function
        );
        assert_eq!(r.errors_by_class.http_5xx, 200);
        assert_eq!(r.successes + r.errors, r.requests);
        // A sample of the failures, each with its request id and the command for its logs.
        assert_eq!(r.failed_requests.len(), MAX_FAILED_SAMPLES);
        assert!(r.failed_requests.windows(2).all(|w| w[0].t_s <= w[1].t_s));
        for f in &r.failed_requests {
            let n: u64 = f.request_id.as_deref().unwrap()[6..].parse().unwrap();
            assert!(
                n % 10 == 9 || n % 7 == 6 || (f.function_error && n % 13 == 12),
                "{f:?}"
            );
            assert_eq!(
                f.logs.as_deref(),
                Some(format!("fcctl logs --request-id 1-req-{n}").as_str())
            );
        }
        assert_eq!(r.cold_starts, st.cold.load(Relaxed));
        assert_eq!(r.cold_starts, 4, "one per connection");
        assert_eq!(r.instances, 4);
        assert_eq!(r.cold_latency_ms.count, 4);
        assert_eq!(r.warm_latency_ms.count, 1996);
        assert_eq!(r.latency_ms.count, 2000);
        let c = r.cold_start.unwrap();
        assert_eq!(
            (c.count, c.instance_start_ms.p50, c.initialize_ms.max),
            (4, 12.5, 300.0)
        );
        assert_eq!(
            r.timeline.iter().map(SecondBucket::total).sum::<u64>(),
            2000
        );
        assert_eq!(r.timeline.iter().map(|b| b.cold_starts).sum::<u64>(), 4);
        assert_eq!(r.bytes_received, 2000 * 5);
        assert!(r.concurrency_peak <= 4 && r.concurrency_limit == 4);
        assert!(r.rps_peak >= r.rps_avg.min(2000.0) / 2.0);
        assert!(!r.coordinated_omission_corrected);
        assert_eq!(
            st.conns.load(Relaxed),
            4,
            "keep-alive: one connection per virtual user"
        );
        let text = crate::bench::render_summary(&r);
        assert!(
            text.contains("2,000") && text.contains("Cold starts   4 of 2,000"),
            "{text}"
        );
        // JSON, HTML
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(v["requests"], 2000);
        assert_eq!(v["cold_starts"], 4);
        let dir = std::env::temp_dir().join(format!("fcctl-bench-run-{}", std::process::id()));
        write_html_report(&r, &dir.join("report.html")).unwrap();
        std::fs::remove_dir_all(&dir).ok();
        let _ = calls.load(Relaxed);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn rate_mode_is_open_loop() {
        let st = Arc::new(ServerState::default());
        let addr = serve(st.clone()).await;
        let r = run(opts(addr, "/", Mode::Rate { rps: 400.0 }, 1000, 4000), None)
            .await
            .unwrap();
        assert!(
            (380..=401).contains(&r.requests),
            "{} requests at 400/s for 1 s",
            r.requests
        );
        assert!(r.coordinated_omission_corrected);
        assert_eq!(r.requests, st.total.load(Relaxed));
        assert!(r.latency_ms.max < 1000.0);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn multipart_images_round_robin() {
        let st = Arc::new(ServerState::default());
        let addr = serve(st.clone()).await;
        let dir = std::env::temp_dir().join(format!("fcctl-bench-img-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (a, b) = (dir.join("a.jpg"), dir.join("b.png"));
        std::fs::write(&a, b"\xff\xd8\xff fake jpeg").unwrap();
        std::fs::write(&b, b"\x89PNG fake png").unwrap();
        let mut o = opts(addr, "/", Mode::Concurrency { n: 2 }, 1000, 50);
        o.request = RequestKind::PostImage;
        o.images = vec![a, b];
        let r = run(o, None).await.unwrap();
        assert_eq!(r.requests, 50);
        assert_eq!(st.multipart_ok.load(Relaxed), 50);
        std::fs::remove_dir_all(&dir).ok();
    }

    #[allow(clippy::float_cmp)] // exact: a rate with no successes is the literal 0.0
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn timeouts_and_connect_errors_are_classified() {
        let st = Arc::new(ServerState::default());
        let addr = serve(st.clone()).await;
        let mut o = opts(addr, "/slow", Mode::Concurrency { n: 2 }, 500, 100);
        o.timeout = Duration::from_millis(100);
        let r = run(o, None).await.unwrap();
        assert!(r.errors_by_class.timeout >= 2, "{:?}", r.errors_by_class);
        assert_eq!(r.errors_by_class.timeout, r.requests);

        let dead = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap()
        };
        let t0 = std::time::Instant::now();
        let r = run(opts(dead, "/", Mode::Concurrency { n: 2 }, 300, 1000), None)
            .await
            .unwrap();
        assert!(t0.elapsed() < Duration::from_secs(2));
        assert!(r.errors_by_class.connect > 0);
        assert_eq!(r.errors_by_class.connect, r.requests);
        assert_eq!(r.success_rate, 0.0);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_target_that_never_answers_is_cut_off_at_the_end_as_timeouts() {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let accepted = Arc::new(AtomicU64::new(0));
        let seen = accepted.clone();
        let server = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((s, _)) = l.accept().await {
                seen.fetch_add(1, Relaxed);
                held.push(s);
            }
        });
        // The per-request timeout (a minute) is far beyond the run: the run's end rules.
        let mut o = opts(addr, "/", Mode::Concurrency { n: 2 }, 300, 1000);
        o.timeout = Duration::from_mins(1);
        let t0 = std::time::Instant::now();
        let r = run(o, None).await.unwrap();
        let took = t0.elapsed();
        server.abort();
        assert!(
            took < Duration::from_millis(300) + END_GRACE + Duration::from_secs(3),
            "took {took:?}"
        );
        assert_eq!(r.requests, 2, "one request per virtual user, each cut off");
        assert_eq!(r.errors_by_class.timeout, 2, "{:?}", r.errors_by_class);
        assert_eq!(r.successes, 0);
        assert!(accepted.load(Relaxed) >= 1);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn ramp_raises_concurrency() {
        let st = Arc::new(ServerState::default());
        let addr = serve(st.clone()).await;
        let mode = Mode::Ramp {
            from: 1,
            to: 3,
            step_pct: 50.0,
            step_duration: Duration::from_secs(1),
        };
        // 400 ms per request: 1 user during the first second, then 3.
        let r = run(opts(addr, "/slow", mode, 1600, 4000), None)
            .await
            .unwrap();
        assert_eq!(r.concurrency_limit, 3);
        assert_eq!(r.timeline[0].concurrency, 1, "{:?}", r.timeline);
        assert_eq!(r.concurrency_peak, 3);
        assert_eq!(r.requests, st.total.load(Relaxed));
        assert!((5..=12).contains(&r.requests), "{}", r.requests);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn rps_cap_bounds_closed_loop() {
        let st = Arc::new(ServerState::default());
        let addr = serve(st.clone()).await;
        let mut o = opts(addr, "/", Mode::Concurrency { n: 8 }, 1000, 4000);
        o.rps_cap = Some(300.0);
        let r = run(o, None).await.unwrap();
        assert!(
            (280..=305).contains(&r.requests),
            "{} requests, cap 300/s for 1 s",
            r.requests
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn cold_mode_forces_then_probes() {
        let st = Arc::new(ServerState::default());
        let addr = serve(st.clone()).await;
        let o = opts(addr, "/", Mode::Concurrency { n: 1 }, 1000, 1);
        let forced = Arc::new(AtomicU64::new(0));
        let f2 = forced.clone();
        let (samples, summary) = run_cold(&o, 3, move |_i| {
            let f2 = f2.clone();
            async move {
                f2.fetch_add(1, Relaxed);
                Ok::<(), String>(())
            }
        })
        .await
        .unwrap();
        assert_eq!((samples.len(), forced.load(Relaxed)), (3, 3));
        let s = summary.unwrap();
        assert_eq!((s.count, s.initialize_ms.p90), (3, 300.0));
        let err = run_cold(&o, 1, |_| async { Err::<(), _>("no emulator") }).await;
        assert!(matches!(err, Err(BenchError::ColdStart(m)) if m.contains("no emulator")));
    }

    #[tokio::test]
    async fn refuses_remote_targets_before_any_traffic() {
        let o = BenchOptions::new("http://192.0.2.10:80/");
        assert!(matches!(
            run(o.clone(), None).await,
            Err(BenchError::RemoteRefused { .. })
        ));
        assert!(matches!(
            probe(&o).await,
            Err(BenchError::RemoteRefused { .. })
        ));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn probe_measures_one_cold_request() {
        let st = Arc::new(ServerState::default());
        let addr = serve(st.clone()).await;
        let o = opts(addr, "/", Mode::Concurrency { n: 1 }, 1000, 1);
        let s = probe(&o).await.unwrap();
        assert!(s.cold && s.instance_id.as_deref() == Some("inst-0"));
        assert_eq!(
            (s.instance_start_ms, s.initialize_ms),
            (Some(12.5), Some(300.0))
        );
        assert!(s.total_ms >= s.first_byte_ms && s.first_byte_ms > 0.0);
    }
}
