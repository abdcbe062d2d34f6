//! Self-contained HTML report: inline CSS and inline SVG charts, no script, no network.
//! Laid out like the seed's PTS report: run header, key figures, the metrics table with
//! percentiles, then requests/s by status class, response time (max/avg/min) and
//! concurrency over time, plus a latency histogram and the cold starts.

use std::fmt::Write as _;

use super::cold::PhaseStats;
use super::format::{fmt_bytes_per_s, fmt_ms, fmt_rate, hms, human_duration, percent, thousands};
use super::options::Mode;
use super::stats::BenchReport;

pub(crate) fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            _ => o.push(c),
        }
    }
    o
}

/// Smallest "nice" number (1, 2, 2.5, 5 × 10^k) ≥ x.
fn nice_ceil(x: f64) -> f64 {
    if x <= 0.0 || !x.is_finite() {
        return 1.0;
    }
    let p = 10f64.powf(x.log10().floor());
    for m in [1.0, 2.0, 2.5, 5.0, 10.0] {
        if m * p >= x - 1e-9 {
            return m * p;
        }
    }
    10.0 * p
}

fn fmt_tick(v: f64) -> String {
    if v >= 1000.0 || v.fract() == 0.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

struct Series<'a> {
    name: &'a str,
    color: &'a str,
    values: Vec<f64>,
}

const W: f64 = 1000.0;
const H: f64 = 250.0;
const ML: f64 = 64.0;
const MR: f64 = 44.0;
const MT: f64 = 14.0;
const MB: f64 = 30.0;

fn legend(series: &[(&str, &str)]) -> String {
    let mut o = String::from("<div class=\"legend\">");
    for (name, color) in series {
        let _ = write!(
            o,
            "<span><i style=\"background:{color}\"></i>{}</span>",
            esc(name)
        );
    }
    o.push_str("</div>");
    o
}

/// A time-series line chart; `x_label(i)` names point `i`.
fn line_chart(title: &str, series: &[Series], x_label: &dyn Fn(usize) -> String) -> String {
    let n = series.iter().map(|s| s.values.len()).max().unwrap_or(0);
    let max = series
        .iter()
        .flat_map(|s| s.values.iter().copied())
        .fold(0.0, f64::max);
    let ymax = nice_ceil(max);
    let pw = W - ML - MR;
    let ph = H - MT - MB;
    let x = |i: usize| {
        ML + if n > 1 {
            i as f64 * pw / (n - 1) as f64
        } else {
            pw / 2.0
        }
    };
    let y = |v: f64| MT + ph - (v / ymax).clamp(0.0, 1.0) * ph;

    let mut o = String::new();
    let _ = write!(
        o,
        "<section class=\"chart\"><h3>{}</h3><svg viewBox=\"0 0 {W} {H}\" role=\"img\" aria-label=\"{}\">",
        esc(title),
        esc(title)
    );
    for k in 0..=5 {
        let v = ymax * k as f64 / 5.0;
        let yy = y(v);
        let _ = write!(
            o,
            "<line x1=\"{ML}\" x2=\"{}\" y1=\"{yy:.1}\" y2=\"{yy:.1}\" class=\"grid\"/><text x=\"{}\" y=\"{:.1}\" class=\"yl\">{}</text>",
            W - MR,
            ML - 6.0,
            yy + 4.0,
            fmt_tick(v)
        );
    }
    let _ = write!(
        o,
        "<line x1=\"{ML}\" x2=\"{}\" y1=\"{:.1}\" y2=\"{:.1}\" class=\"axis\"/>",
        W - MR,
        MT + ph,
        MT + ph
    );
    if n > 0 {
        let ticks = 8.min(n);
        let mut last = usize::MAX;
        for k in 0..ticks {
            let i = if ticks > 1 {
                k * (n - 1) / (ticks - 1)
            } else {
                0
            };
            if i == last {
                continue;
            }
            last = i;
            let _ = write!(
                o,
                "<text x=\"{:.1}\" y=\"{:.1}\" class=\"xl\">{}</text>",
                x(i),
                H - 10.0,
                esc(&x_label(i))
            );
        }
    }
    for s in series {
        if s.values.is_empty() {
            continue;
        }
        if s.values.len() == 1 {
            let _ = write!(
                o,
                "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"3\" fill=\"{}\"/>",
                x(0),
                y(s.values[0]),
                s.color
            );
            continue;
        }
        let mut pts = String::with_capacity(s.values.len() * 14);
        for (i, v) in s.values.iter().enumerate() {
            let _ = write!(pts, "{:.1},{:.1} ", x(i), y(*v));
        }
        let _ = write!(
            o,
            "<polyline points=\"{}\" fill=\"none\" stroke=\"{}\" stroke-width=\"2\" stroke-linejoin=\"round\"><title>{}</title></polyline>",
            pts.trim_end(),
            s.color,
            esc(s.name)
        );
    }
    o.push_str("</svg>");
    o.push_str(&legend(
        &series.iter().map(|s| (s.name, s.color)).collect::<Vec<_>>(),
    ));
    o.push_str("</section>");
    o
}

/// Latency histogram: log-spaced buckets on x, count on a log scale on y so that a
/// handful of cold starts stay visible next to a million warm responses.
fn histogram_chart(r: &BenchReport) -> String {
    let hb = &r.histogram;
    let mut o = String::from(
        "<section class=\"chart\"><h3>Latency histogram (responses per bucket, log scale)</h3>",
    );
    if hb.is_empty() {
        o.push_str("<p class=\"muted\">No responses.</p></section>");
        return o;
    }
    let _ = write!(
        o,
        "<svg viewBox=\"0 0 {W} {H}\" role=\"img\" aria-label=\"latency histogram\">"
    );
    let maxc = hb.iter().map(|b| b.count).max().unwrap_or(1).max(1) as f64;
    let decades = maxc.log10().ceil().max(1.0);
    let pw = W - ML - MR;
    let ph = H - MT - MB;
    let y = |c: f64| {
        MT + ph
            - if c <= 0.0 {
                0.0
            } else {
                ((c.log10() + 1.0) / (decades + 1.0)).clamp(0.0, 1.0) * ph
            }
    };
    for d in 0..=(decades as i32) {
        let v = 10f64.powi(d);
        let yy = y(v);
        let _ = write!(
            o,
            "<line x1=\"{ML}\" x2=\"{}\" y1=\"{yy:.1}\" y2=\"{yy:.1}\" class=\"grid\"/><text x=\"{}\" y=\"{:.1}\" class=\"yl\">{}</text>",
            W - MR,
            ML - 6.0,
            yy + 4.0,
            thousands(v as u64)
        );
    }
    let bw = pw / hb.len() as f64;
    for (i, b) in hb.iter().enumerate() {
        let x0 = ML + i as f64 * bw;
        let top = y(b.count as f64);
        if b.count > 0 {
            let _ = write!(
                o,
                "<rect x=\"{:.1}\" y=\"{top:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"#1f77b4\"><title>{} – {}: {}</title></rect>",
                x0 + 1.0,
                (bw - 2.0).max(1.0),
                (MT + ph - top).max(0.5),
                fmt_ms(b.from_ms),
                fmt_ms(b.to_ms),
                thousands(b.count)
            );
        }
    }
    let _ = write!(
        o,
        "<line x1=\"{ML}\" x2=\"{}\" y1=\"{:.1}\" y2=\"{:.1}\" class=\"axis\"/>",
        W - MR,
        MT + ph,
        MT + ph
    );
    let step = (hb.len() / 8).max(1);
    for (i, b) in hb.iter().enumerate() {
        if i % step == 0 || i + 1 == hb.len() {
            let _ = write!(
                o,
                "<text x=\"{:.1}\" y=\"{:.1}\" class=\"xl\">{}</text>",
                ML + (i as f64 + 1.0) * bw,
                H - 10.0,
                esc(&fmt_ms(b.to_ms))
            );
        }
    }
    o.push_str("</svg><p class=\"muted\">x: upper edge of each latency bucket</p></section>");
    o
}

fn kv(o: &mut String, k: &str, v: &str) {
    let _ = write!(
        o,
        "<div><span class=\"k\">{}</span><span class=\"v\">{}</span></div>",
        esc(k),
        esc(v)
    );
}

fn phase_row(o: &mut String, name: &str, p: &PhaseStats) {
    if p.count == 0 {
        return;
    }
    let _ = write!(
        o,
        "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
        esc(name),
        p.count,
        fmt_ms(p.p50),
        fmt_ms(p.p90),
        fmt_ms(p.max)
    );
}

/// The whole report as one HTML string.
pub fn render_html(r: &BenchReport) -> String {
    let mut o = String::with_capacity(64 * 1024);
    let title = format!("fcctl bench · {}", r.url);
    let _ = write!(
        o,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{}</title><style>{CSS}</style></head><body>",
        esc(&title)
    );
    let _ = write!(o, "<h1>Pressure test report</h1>");

    // Run header (PTS: scenario, execution time, run length, mode, ramp, step).
    o.push_str("<section class=\"card grid3\">");
    kv(
        &mut o,
        "Scenario",
        &format!("{} {}", r.options.request.label(), r.url),
    );
    kv(
        &mut o,
        "Execution time",
        &format!("{} to {}", r.started_at, r.finished_at),
    );
    kv(
        &mut o,
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
    kv(&mut o, "Load mode", &mode);
    kv(&mut o, "Ramp", &ramp);
    kv(&mut o, "Step", &step);
    kv(&mut o, "Step length", &step_len);
    kv(
        &mut o,
        "Bounds",
        &format!(
            "{} max, {} requests max, timeout {}{}",
            human_duration(r.options.duration),
            thousands(r.options.max_requests),
            human_duration(r.options.timeout),
            r.options
                .rps_cap
                .map_or(String::new(), |c| format!(", RPS cap {}", fmt_rate(c)))
        ),
    );
    kv(
        &mut o,
        "Host header",
        r.options.host_header.as_deref().unwrap_or("(from URL)"),
    );
    o.push_str("</section>");

    // Key figures.
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
            format!("{}/{}", fmt_rate(r.rps_peak), fmt_rate(r.rps_avg)),
        ),
        ("Avg traffic", fmt_bytes_per_s(r.throughput_avg_bps)),
        ("Peak traffic", fmt_bytes_per_s(r.throughput_peak_bps)),
        ("Errors", thousands(r.errors)),
        ("Cold starts", thousands(r.cold_starts)),
        ("Total requests", thousands(r.requests)),
    ] {
        let _ = write!(
            o,
            "<div class=\"kpi\"><div class=\"k\">{}</div><div class=\"big\">{}</div></div>",
            esc(k),
            esc(&v)
        );
    }
    o.push_str("</section>");

    // Business metrics table.
    let l = &r.latency_ms;
    o.push_str("<section class=\"card\"><h2>Metrics</h2><table class=\"metrics\"><thead><tr><th>Request</th><th>Total requests</th><th>Avg TPS</th><th>Success rate</th><th>Avg response time</th></tr></thead><tbody>");
    let _ = write!(
        o,
        "<tr><td>{}</td><td>{}</td><td>{:.2}</td><td>{} ({}/{})</td><td>{}</td></tr>",
        esc(r.options.request.label()),
        thousands(r.requests),
        r.rps_avg,
        percent(r.success_rate),
        thousands(r.successes),
        thousands(r.errors),
        fmt_ms(l.avg)
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
        let _ = write!(o, "<td>{}{tag}</td>", fmt_ms(*v));
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

    // Time series.
    let t0 = r.started_unix_ms;
    let tl = super::stats::chart_timeline(r);
    let label = |i: usize| hms(t0 + tl.get(i).map_or(0, |b| b.t) * 1000);
    let col = |f: fn(&super::SecondBucket) -> f64| tl.iter().map(f).collect::<Vec<f64>>();
    o.push_str("<section class=\"card\">");
    o.push_str(&line_chart(
        "Requests per second",
        &[
            Series {
                name: "Total",
                color: "#1f5fbf",
                values: col(|b| b.total() as f64),
            },
            Series {
                name: "2XX",
                color: "#1a9850",
                values: col(|b| b.rps_2xx as f64),
            },
            Series {
                name: "3XX",
                color: "#91cf60",
                values: col(|b| b.rps_3xx as f64),
            },
            Series {
                name: "4XX",
                color: "#f5a623",
                values: col(|b| b.rps_4xx as f64),
            },
            Series {
                name: "5XX",
                color: "#e8590c",
                values: col(|b| b.rps_5xx as f64),
            },
            Series {
                name: "Failed (timeout, connect)",
                color: "#d62728",
                values: col(|b| b.rps_err as f64),
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
                values: col(|b| b.concurrency as f64),
            },
            Series {
                name: "Cold starts",
                color: "#d62728",
                values: col(|b| b.cold_starts as f64),
            },
        ],
        &label,
    ));
    o.push_str(&histogram_chart(r));
    o.push_str("</section>");

    // Cold starts.
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
                    fmt_ms(s.p50),
                    fmt_ms(s.p90),
                    fmt_ms(s.p99),
                    fmt_ms(s.max)
                );
            }
        }
        o.push_str("</tbody></table>");
    }
    if let Some(c) = &r.cold_start {
        o.push_str("<h3>Phases</h3><table class=\"metrics\"><thead><tr><th>phase</th><th>samples</th><th>p50</th><th>p90</th><th>max</th></tr></thead><tbody>");
        phase_row(&mut o, "instance start", &c.instance_start_ms);
        phase_row(&mut o, "/initialize (model load)", &c.initialize_ms);
        phase_row(&mut o, "model load in request", &c.model_load_ms);
        phase_row(&mut o, "first byte (client)", &c.first_byte_ms);
        phase_row(&mut o, "complete (client)", &c.total_ms);
        o.push_str("</tbody></table>");
    }
    if !r.cold_start_samples.is_empty() {
        o.push_str("<details><summary>Samples</summary><table class=\"metrics\"><thead><tr><th>t</th><th>status</th><th>instance</th><th>start</th><th>initialize</th><th>first byte</th><th>total</th></tr></thead><tbody>");
        let opt = |v: Option<f64>| v.map_or("—".to_string(), fmt_ms);
        for s in r.cold_start_samples.iter().take(200) {
            let _ = write!(
                o,
                "<tr><td>{:.1}s</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                s.t_s,
                s.status,
                esc(s.instance_id.as_deref().unwrap_or("—")),
                opt(s.instance_start_ms),
                opt(s.initialize_ms),
                fmt_ms(s.first_byte_ms),
                fmt_ms(s.total_ms)
            );
        }
        o.push_str("</tbody></table></details>");
    }
    o.push_str("</section>");
    let _ = write!(
        o,
        "<footer>Generated by fcctl bench · times in UTC · report schema {}</footer></body></html>",
        r.schema
    );
    o.push('\n');
    o
}

const CSS: &str = r#"
*{box-sizing:border-box}body{font:14px/1.45 -apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;color:#333;background:#f3f4f6;margin:0;padding:20px 28px}
h1{font-size:20px;margin:0 0 14px}h2{font-size:16px;margin:0 0 10px}h3{font-size:14px;margin:14px 0 4px;color:#444}
.card{background:#fff;border:1px solid #e3e5e8;border-radius:4px;padding:14px 18px;margin-bottom:14px}
.grid3{display:grid;grid-template-columns:repeat(3,1fr);gap:6px 24px}.grid3 .k{color:#888;display:inline-block;min-width:120px}.grid3 .v{color:#222}
.kpis{display:flex;flex-wrap:wrap;gap:0}.kpi{flex:1 1 120px;padding:4px 14px;border-left:1px solid #eee}.kpi:first-child{border-left:0}
.kpi .k{color:#888;font-size:13px}.kpi .big{font-size:24px;color:#333;margin-top:4px}
table.metrics{border-collapse:collapse;width:100%;margin:6px 0}table.metrics th{background:#f5f6f7;font-weight:normal;color:#555}
table.metrics th,table.metrics td{padding:7px 10px;text-align:center;border-bottom:1px solid #eee}table.pct td{background:#fafafa}
.tag{background:#d62728;color:#fff;border-radius:3px;padding:1px 5px;font-size:11px;margin-left:4px}
.chart svg{width:100%;height:auto;display:block}.grid{stroke:#ddd;stroke-dasharray:4 4}.axis{stroke:#999}
.yl{font-size:11px;fill:#666;text-anchor:end}.xl{font-size:11px;fill:#666;text-anchor:middle}
.legend{text-align:center;font-size:12px;color:#555;margin:2px 0 10px}.legend span{margin:0 10px;white-space:nowrap}
.legend i{display:inline-block;width:14px;height:3px;vertical-align:middle;margin-right:5px}
.muted{color:#888;font-size:12px}footer{color:#999;font-size:12px;text-align:center;margin-top:10px}
"#;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::fixtures::sample_report;
    use crate::bench::write_html_report;

    #[test]
    fn html_is_self_contained() {
        let html = render_html(&sample_report());
        assert!(html.starts_with("<!DOCTYPE html>"));
        let lower = html.to_ascii_lowercase();
        for bad in [
            "src=\"http",
            "href=\"http",
            "src='http",
            "href='http",
            "<script",
            "<link",
            "@import",
            "url(",
        ] {
            assert!(!lower.contains(bad), "report contains {bad}");
        }
        // the three seed charts plus the histogram, as inline SVG
        assert_eq!(lower.matches("<svg").count(), 4);
        assert!(html.contains("Requests per second") && html.contains("Response time (ms)"));
        assert!(html.contains("Concurrency") && html.contains("Latency histogram"));
        assert!(html.contains("32319 ms <span class=\"tag\">cold start</span>"));
        // instance ids are escaped
        assert!(html.contains("i-&lt;1&gt;"));
        assert!(html.contains("22:15:52"));
        let dir = std::env::temp_dir().join(format!("fcctl-bench-html-{}", std::process::id()));
        let path = dir.join("sub/report.html");
        write_html_report(&sample_report(), &path).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), html);
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn nice_ticks() {
        assert_eq!(nice_ceil(1184.0), 2000.0);
        assert_eq!(nice_ceil(32_319.0), 50_000.0);
        assert_eq!(nice_ceil(45.0), 50.0);
        assert_eq!(nice_ceil(0.0), 1.0);
    }
}
