//! One function per section of the page, in page order; each appends its markup to `o`.

use std::fmt::Write as _;

use super::chart::{Series, histogram_chart, line_chart};
use super::escape::escape;
use crate::bench::cold::PhaseStats;
use crate::bench::convert::to_f64;
use crate::bench::format::{
    format_byte_rate, format_ms, format_rate, human_duration, percent, thousands, time_of_day,
};
use crate::bench::options::Mode;
use crate::bench::stats::{BenchReport, SecondBucket, chart_timeline};

fn key_value(o: &mut String, k: &str, v: &str) {
    let _ = write!(
        o,
        "<div><span class=\"k\">{}</span><span class=\"v\">{}</span></div>",
        escape(k),
        escape(v)
    );
}

fn phase_row(o: &mut String, name: &str, p: &PhaseStats) {
    if p.count == 0 {
        return;
    }
    let _ = write!(
        o,
        "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
        escape(name),
        p.count,
        format_ms(p.p50),
        format_ms(p.p90),
        format_ms(p.max)
    );
}

/// Scenario, execution time, run length, mode, ramp, step (the seed's PTS header).
pub(super) fn run_header(o: &mut String, r: &BenchReport) {
    o.push_str("<section class=\"card grid3\">");
    key_value(
        o,
        "Scenario",
        &format!("{} {}", r.options.request.label(), r.url),
    );
    key_value(
        o,
        "Execution time",
        &format!("{} to {}", r.started_at, r.finished_at),
    );
    key_value(
        o,
        "Run length",
        &human_duration(std::time::Duration::from_secs_f64(r.duration_s.max(0.0))),
    );
    let (mode, ramp, step, step_len) = match &r.options.mode {
        Mode::Rate { rps } => (
            format!("RPS mode, {rps}/s (open loop)"),
            "none".to_string(),
            "—".into(),
            "—".into(),
        ),
        Mode::Concurrency { n } => (
            format!("Concurrency mode, {n} virtual users"),
            "none".into(),
            "—".into(),
            "—".into(),
        ),
        Mode::Ramp {
            from,
            to,
            step_pct,
            step_duration,
        } => (
            "Concurrency mode (virtual users)".to_string(),
            format!("auto-ramp {from} → {to}"),
            format!("{step_pct}%"),
            human_duration(*step_duration),
        ),
    };
    key_value(o, "Load mode", &mode);
    key_value(o, "Ramp", &ramp);
    key_value(o, "Step", &step);
    key_value(o, "Step length", &step_len);
    key_value(
        o,
        "Bounds",
        &format!(
            "{} max, {} requests max, timeout {}{}",
            human_duration(r.options.duration),
            thousands(r.options.max_requests),
            human_duration(r.options.timeout),
            r.options
                .rps_cap
                .map_or(String::new(), |c| format!(", RPS cap {}", format_rate(c)))
        ),
    );
    key_value(
        o,
        "Host header",
        r.options.host_header.as_deref().unwrap_or("(from URL)"),
    );
    o.push_str("</section>");
}

pub(super) fn key_figures(o: &mut String, r: &BenchReport) {
    o.push_str("<section class=\"card kpis\">");
    let conc_title = if matches!(r.options.mode, Mode::Rate { .. }) {
        "In flight (peak/limit)"
    } else {
        "Concurrency (peak/limit)"
    };
    for (k, v) in [
        (
            conc_title,
            format!("{}/{}", r.concurrency_peak, r.concurrency_limit),
        ),
        (
            "RPS (peak/avg)",
            format!("{}/{}", format_rate(r.rps_peak), format_rate(r.rps_avg)),
        ),
        ("Avg traffic", format_byte_rate(r.throughput_avg_bps)),
        ("Peak traffic", format_byte_rate(r.throughput_peak_bps)),
        ("Errors", thousands(r.errors)),
        ("Cold starts", thousands(r.cold_starts)),
        ("Total requests", thousands(r.requests)),
    ] {
        let _ = write!(
            o,
            "<div class=\"kpi\"><div class=\"k\">{}</div><div class=\"big\">{}</div></div>",
            escape(k),
            escape(&v)
        );
    }
    o.push_str("</section>");
}

/// The business metrics table, the percentiles and the errors by class.
pub(super) fn metrics(o: &mut String, r: &BenchReport) {
    let l = &r.latency_ms;
    o.push_str("<section class=\"card\"><h2>Metrics</h2><table class=\"metrics\"><thead><tr><th>Request</th><th>Total requests</th><th>Avg TPS</th><th>Success rate</th><th>Avg response time</th></tr></thead><tbody>");
    let _ = write!(
        o,
        "<tr><td>{}</td><td>{}</td><td>{:.2}</td><td>{} ({} ok · {} failed)</td><td>{}</td></tr>",
        escape(r.options.request.label()),
        thousands(r.requests),
        r.rps_avg,
        percent(r.success_rate),
        thousands(r.successes),
        thousands(r.errors),
        format_ms(l.avg)
    );
    o.push_str("</tbody></table><table class=\"metrics pct\"><thead><tr><th>99%</th><th>90%</th><th>75%</th><th>50%</th><th>99.9%</th><th>Max</th><th>Min</th></tr></thead><tbody><tr>");
    let max_is_cold = r.cold_latency_ms.count > 0 && r.cold_latency_ms.max >= r.latency_ms.max;
    for (i, v) in [l.p99, l.p90, l.p75, l.p50, l.p999, l.max, l.min]
        .iter()
        .enumerate()
    {
        let tag = if i == 5 && max_is_cold {
            " <span class=\"tag\">cold start</span>"
        } else {
            ""
        };
        let _ = write!(o, "<td>{}{tag}</td>", format_ms(*v));
    }
    o.push_str("</tr></tbody></table>");
    let e = &r.errors_by_class;
    let _ = write!(
        o,
        "<p class=\"muted\">Errors by class: 4xx {} · 5xx {} · timeout {} · connect {} · other {} · function (x-fc-error-type) {}.{}</p>",
        e.http_4xx,
        e.http_5xx,
        e.timeout,
        e.connect,
        e.other,
        e.function,
        if r.coordinated_omission_corrected {
            " Open loop: latency measured from the intended send time (coordinated-omission corrected)."
        } else {
            ""
        }
    );
    o.push_str("</section>");
}

/// Requests per second by status class, response time and concurrency over time,
/// then the latency histogram.
pub(super) fn time_series(o: &mut String, r: &BenchReport) {
    let t0 = r.started_unix_ms;
    let tl = chart_timeline(r);
    let label = |i: usize| time_of_day(t0 + tl.get(i).map_or(0, |b| b.t) * 1000);
    let col = |f: fn(&SecondBucket) -> f64| tl.iter().map(f).collect::<Vec<f64>>();
    o.push_str("<section class=\"card\">");
    o.push_str(&line_chart(
        "Requests per second",
        &[
            Series {
                name: "Total",
                color: "#1f5fbf",
                values: col(|b| to_f64(b.total())),
            },
            Series {
                name: "2XX",
                color: "#1a9850",
                values: col(|b| to_f64(b.rps_2xx)),
            },
            Series {
                name: "3XX",
                color: "#91cf60",
                values: col(|b| to_f64(b.rps_3xx)),
            },
            Series {
                name: "4XX",
                color: "#f5a623",
                values: col(|b| to_f64(b.rps_4xx)),
            },
            Series {
                name: "5XX",
                color: "#e8590c",
                values: col(|b| to_f64(b.rps_5xx)),
            },
            Series {
                name: "Failed (timeout, connect)",
                color: "#d62728",
                values: col(|b| to_f64(b.rps_err)),
            },
        ],
        &label,
    ));
    o.push_str(&line_chart(
        "Response time (ms)",
        &[
            Series {
                name: "Max",
                color: "#1f5fbf",
                values: col(|b| b.lat_max),
            },
            Series {
                name: "Avg",
                color: "#1a9850",
                values: col(|b| b.lat_avg),
            },
            Series {
                name: "Min",
                color: "#91cf60",
                values: col(|b| b.lat_min),
            },
        ],
        &label,
    ));
    o.push_str(&line_chart(
        if matches!(r.options.mode, Mode::Rate { .. }) {
            "Requests in flight"
        } else {
            "Concurrency"
        },
        &[
            Series {
                name: "Concurrency",
                color: "#1f5fbf",
                values: col(|b| to_f64(b.concurrency)),
            },
            Series {
                name: "Cold starts",
                color: "#d62728",
                values: col(|b| to_f64(b.cold_starts)),
            },
        ],
        &label,
    ));
    o.push_str(&histogram_chart(&r.histogram));
    o.push_str("</section>");
}

/// Cold-start count, cold vs warm latency, phases and the first samples.
pub(super) fn cold_starts(o: &mut String, r: &BenchReport) {
    o.push_str("<section class=\"card\"><h2>Cold starts</h2>");
    let _ = write!(
        o,
        "<p>{} of {} requests paid a cold start{}.</p>",
        thousands(r.cold_starts),
        thousands(r.requests),
        if r.instances > 0 {
            format!("; {} distinct instances answered", r.instances)
        } else {
            String::new()
        }
    );
    if r.cold_latency_ms.count > 0 || r.warm_latency_ms.count > 0 {
        o.push_str("<table class=\"metrics\"><thead><tr><th></th><th>count</th><th>p50</th><th>p90</th><th>p99</th><th>max</th></tr></thead><tbody>");
        for (name, s) in [("cold", &r.cold_latency_ms), ("warm", &r.warm_latency_ms)] {
            if s.count > 0 {
                let _ = write!(
                    o,
                    "<tr><td>{name}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                    thousands(s.count),
                    format_ms(s.p50),
                    format_ms(s.p90),
                    format_ms(s.p99),
                    format_ms(s.max)
                );
            }
        }
        o.push_str("</tbody></table>");
    }
    if let Some(c) = &r.cold_start {
        o.push_str("<h3>Phases</h3><table class=\"metrics\"><thead><tr><th>phase</th><th>samples</th><th>p50</th><th>p90</th><th>max</th></tr></thead><tbody>");
        phase_row(o, "instance start", &c.instance_start_ms);
        phase_row(o, "/initialize (model load)", &c.initialize_ms);
        phase_row(o, "model load in request", &c.model_load_ms);
        phase_row(o, "first byte (client)", &c.first_byte_ms);
        phase_row(o, "complete (client)", &c.total_ms);
        o.push_str("</tbody></table>");
    }
    if !r.cold_start_samples.is_empty() {
        o.push_str("<details><summary>Samples</summary><table class=\"metrics\"><thead><tr><th>t</th><th>status</th><th>instance</th><th>start</th><th>initialize</th><th>first byte</th><th>total</th></tr></thead><tbody>");
        let opt = |v: Option<f64>| v.map_or("—".to_string(), format_ms);
        for s in r.cold_start_samples.iter().take(200) {
            let _ = write!(
                o,
                "<tr><td>{:.1}s</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                s.t_s,
                s.status,
                escape(s.instance_id.as_deref().unwrap_or("—")),
                opt(s.instance_start_ms),
                opt(s.initialize_ms),
                format_ms(s.first_byte_ms),
                format_ms(s.total_ms)
            );
        }
        o.push_str("</tbody></table></details>");
    }
    o.push_str("</section>");
}

/// A sample of failed requests with the command that shows each one's log lines.
pub(super) fn failed_requests(o: &mut String, r: &BenchReport) {
    if r.failed_requests.is_empty() {
        return;
    }
    o.push_str("<section class=\"card\"><h2>Failed requests</h2><p>The first failures of the run; each request's log lines are one command away.</p><table class=\"metrics\"><thead><tr><th>t</th><th>status</th><th>request id</th><th>instance</th><th>logs</th></tr></thead><tbody>");
    for f in &r.failed_requests {
        let status = if f.function_error {
            format!("{} (function error)", f.status)
        } else {
            f.status.to_string()
        };
        let _ = write!(
            o,
            "<tr><td>{:.1}s</td><td>{}</td><td>{}</td><td>{}</td><td><code>{}</code></td></tr>",
            f.t_s,
            escape(&status),
            escape(f.request_id.as_deref().unwrap_or("—")),
            escape(f.instance_id.as_deref().unwrap_or("—")),
            escape(f.logs.as_deref().unwrap_or("—"))
        );
    }
    o.push_str("</tbody></table></section>");
}
