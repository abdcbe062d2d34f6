//! Terminal output: the summary (laid out like the seed's PTS report) and `compare`.

use std::fmt::Write as _;

use super::cold::{ColdStartSummary, PhaseStats};
use super::convert::{saturating_usize, to_f64};
use super::format::{format_byte_rate, format_ms, format_rate, human_duration, percent, thousands};
use super::options::Mode;
use super::stats::{BenchReport, LatencyStats, SecondBucket, chart_timeline};

const RULE: &str =
    "────────────────────────────────────────────────────────────────────────────────────────────";

/// Unicode sparkline of `values` resampled (max per cell) to at most `width` cells.
fn sparkline(values: &[f64], width: usize) -> String {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    if values.is_empty() || width == 0 {
        return String::new();
    }
    let cells = values.len().min(width);
    let resampled: Vec<f64> = (0..cells)
        .map(|i| {
            let a = i * values.len() / cells;
            let b = ((i + 1) * values.len() / cells).max(a + 1);
            values[a..b].iter().copied().fold(0.0, f64::max)
        })
        .collect();
    let max = resampled.iter().copied().fold(0.0, f64::max);
    resampled
        .iter()
        .map(|&v| {
            if max <= 0.0 {
                BARS[0]
            } else {
                BARS[saturating_usize(((v / max) * 7.0).round().clamp(0.0, 7.0))]
            }
        })
        .collect()
}

/// One line of left-aligned columns, two spaces apart, without trailing blanks.
fn row(out: &mut String, cols: &[(&str, usize)]) {
    let mut line = String::from(" ");
    for (text, w) in cols {
        let _ = write!(line, "{text:<w$}  ", w = *w);
    }
    out.push_str(line.trim_end());
    out.push('\n');
}

fn latency_line(latency: &LatencyStats) -> String {
    format!(
        "p50 {} · p90 {} · p99 {} · max {} ({} responses)",
        format_ms(latency.p50),
        format_ms(latency.p90),
        format_ms(latency.p99),
        format_ms(latency.max),
        thousands(latency.count)
    )
}

/// The terminal summary: run header, the key figures row, the "business metrics" table
/// with percentiles, then errors, cold starts and sparklines of the time series.
#[must_use]
pub fn render_summary(r: &BenchReport) -> String {
    let mut o = String::new();
    run_header(&mut o, r);
    let _ = writeln!(o, "{RULE}");
    key_figures(&mut o, r);
    let _ = writeln!(o, "{RULE}");
    metrics(&mut o, r);
    let _ = writeln!(o, "{RULE}");
    errors_and_cold_starts(&mut o, r);
    sparklines(&mut o, r);
    if let Some(p) = &r.report {
        let _ = writeln!(o, " Report        {p}");
    }
    o
}

fn run_length(r: &BenchReport) -> String {
    human_duration(std::time::Duration::from_secs_f64(r.duration_s.max(0.0)))
}

fn run_header(o: &mut String, r: &BenchReport) {
    let _ = writeln!(o, "fcctl bench · {} {}", r.options.request.label(), r.url);
    let _ = writeln!(o, "{RULE}");
    let _ = writeln!(
        o,
        " Run           {} → {}   length {}",
        r.started_at,
        r.finished_at,
        run_length(r)
    );
    let _ = writeln!(o, " Load mode     {}", r.options.mode.describe());
    let mut bounds = format!(
        " Bounds        duration {}, max {} requests, timeout {}",
        human_duration(r.options.duration),
        thousands(r.options.max_requests),
        human_duration(r.options.timeout)
    );
    if let Some(cap) = r.options.rps_cap {
        let _ = write!(bounds, ", RPS cap {}", format_rate(cap));
    }
    if let Some(h) = &r.options.host_header {
        let _ = write!(bounds, ", Host: {h}");
    }
    let _ = writeln!(o, "{bounds}");
}

fn key_figures(o: &mut String, r: &BenchReport) {
    let concurrency_title = if matches!(r.options.mode, Mode::Rate { .. }) {
        "In flight (peak/limit)"
    } else {
        "Concurrency (peak/limit)"
    };
    let widths = [24, 16, 12, 12, 8, 14];
    let titles = [
        concurrency_title,
        "RPS (peak/avg)",
        "Avg traffic",
        "Peak traffic",
        "Errors",
        "Total requests",
    ];
    let values = [
        format!("{}/{}", r.concurrency_peak, r.concurrency_limit),
        format!("{}/{}", format_rate(r.rps_peak), format_rate(r.rps_avg)),
        format_byte_rate(r.throughput_avg_bps),
        format_byte_rate(r.throughput_peak_bps),
        thousands(r.errors),
        thousands(r.requests),
    ];
    let titles: Vec<(&str, usize)> = titles.into_iter().zip(widths).collect();
    let values: Vec<(&str, usize)> = values.iter().map(String::as_str).zip(widths).collect();
    row(o, &titles);
    row(o, &values);
}

fn metrics(o: &mut String, r: &BenchReport) {
    let latency = &r.latency_ms;
    let total = thousands(r.requests);
    let success = format!(
        "{} ({} ok · {} failed)",
        percent(r.success_rate),
        thousands(r.successes),
        thousands(r.errors)
    );
    let avg_tps = format!("{:.2}", r.rps_avg);
    let avg_response = format_ms(latency.avg);
    row(
        o,
        &[
            ("Total requests", 16),
            ("Avg TPS", 12),
            ("Success rate", 28),
            ("Avg response time", 18),
        ],
    );
    row(
        o,
        &[
            (&total, 16),
            (&avg_tps, 12),
            (&success, 28),
            (&avg_response, 18),
        ],
    );
    let heads = ["99%", "90%", "75%", "50%", "99.9%", "Max", "Min"];
    let values = [
        latency.p99,
        latency.p90,
        latency.p75,
        latency.p50,
        latency.p999,
        latency.max,
        latency.min,
    ]
    .map(format_ms);
    let mut head_line = String::from(" ");
    let mut value_line = String::from(" ");
    for (head, value) in heads.iter().zip(values.iter()) {
        let _ = write!(head_line, "{head:>11}");
        let _ = write!(value_line, "{value:>11}");
    }
    let _ = writeln!(o, "{head_line}\n{value_line}");
    if r.coordinated_omission_corrected {
        let _ = writeln!(
            o,
            " (open loop: latency measured from the intended send time, coordinated-omission corrected)"
        );
    }
}

fn errors_and_cold_starts(o: &mut String, r: &BenchReport) {
    let e = &r.errors_by_class;
    let _ = writeln!(
        o,
        " Errors        4xx {} · 5xx {} · timeout {} · connect {} · other {} · function (x-fc-error-type) {}",
        thousands(e.http_4xx),
        thousands(e.http_5xx),
        thousands(e.timeout),
        thousands(e.connect),
        thousands(e.other),
        thousands(e.function)
    );
    let instances = if r.instances > 0 {
        format!(", {} instances seen", r.instances)
    } else {
        String::new()
    };
    let _ = writeln!(
        o,
        " Cold starts   {} of {} requests{instances}",
        thousands(r.cold_starts),
        thousands(r.requests)
    );
    if r.cold_latency_ms.count > 0 {
        let _ = writeln!(o, "   cold        {}", latency_line(&r.cold_latency_ms));
    }
    if r.warm_latency_ms.count > 0 {
        let _ = writeln!(o, "   warm        {}", latency_line(&r.warm_latency_ms));
    }
    if let Some(c) = &r.cold_start {
        cold_phases(o, c);
    }
}

fn cold_phases(o: &mut String, c: &ColdStartSummary) {
    for (name, p) in [
        ("instance start", &c.instance_start_ms),
        ("/initialize  ", &c.initialize_ms),
        ("model load   ", &c.model_load_ms),
        ("first byte   ", &c.first_byte_ms),
    ] {
        if p.count > 0 {
            let _ = writeln!(o, "   phase       {}", phase_line(name, p));
        }
    }
}

fn phase_line(name: &str, p: &PhaseStats) -> String {
    format!(
        "{name} p50 {} / p90 {} / max {}",
        format_ms(p.p50),
        format_ms(p.p90),
        format_ms(p.max)
    )
}

fn sparklines(o: &mut String, r: &BenchReport) {
    let timeline = chart_timeline(r);
    if timeline.is_empty() {
        return;
    }
    let series = |f: fn(&SecondBucket) -> f64| timeline.iter().map(f).collect::<Vec<f64>>();
    let rps = series(|b| to_f64(b.total()));
    let latency = series(|b| b.lat_max);
    let concurrency = series(|b| to_f64(b.concurrency));
    let max = |v: &[f64]| v.iter().copied().fold(0.0, f64::max);
    let _ = writeln!(
        o,
        " RPS           {}  peak {}/s",
        sparkline(&rps, 60),
        format_rate(max(&rps))
    );
    let _ = writeln!(
        o,
        " Latency max   {}  peak {}",
        sparkline(&latency, 60),
        format_ms(max(&latency))
    );
    let _ = writeln!(
        o,
        " Concurrency   {}  peak {}",
        sparkline(&concurrency, 60),
        max(&concurrency)
    );
}

/// How a metric should move to be an improvement.
#[derive(Clone, Copy)]
enum Better {
    Higher,
    Lower,
    Neither,
}

/// One row of `compare`: how to read the figure from a report, which direction is
/// better, and whether it is a latency (printed in ms) or a count/rate.
struct Metric {
    name: &'static str,
    value: fn(&BenchReport) -> f64,
    better: Better,
    latency: bool,
}

const fn metric(
    name: &'static str,
    value: fn(&BenchReport) -> f64,
    better: Better,
    latency: bool,
) -> Metric {
    Metric {
        name,
        value,
        better,
        latency,
    }
}

fn compared_metrics() -> [Metric; 18] {
    use Better::{Higher, Lower, Neither};
    [
        metric("requests", |r| to_f64(r.requests), Neither, false),
        metric("success rate %", |r| r.success_rate * 100.0, Higher, false),
        metric("errors", |r| to_f64(r.errors), Lower, false),
        metric("rps avg", |r| r.rps_avg, Higher, false),
        metric("rps peak", |r| r.rps_peak, Higher, false),
        metric(
            "concurrency peak",
            |r| to_f64(r.concurrency_peak),
            Neither,
            false,
        ),
        metric("cold starts", |r| to_f64(r.cold_starts), Lower, false),
        metric("instances", |r| to_f64(r.instances), Neither, false),
        metric("latency min", |r| r.latency_ms.min, Lower, true),
        metric("latency avg", |r| r.latency_ms.avg, Lower, true),
        metric("latency p50", |r| r.latency_ms.p50, Lower, true),
        metric("latency p75", |r| r.latency_ms.p75, Lower, true),
        metric("latency p90", |r| r.latency_ms.p90, Lower, true),
        metric("latency p99", |r| r.latency_ms.p99, Lower, true),
        metric("latency p99.9", |r| r.latency_ms.p999, Lower, true),
        metric("latency max", |r| r.latency_ms.max, Lower, true),
        metric("warm p99", |r| r.warm_latency_ms.p99, Lower, true),
        metric("cold max", |r| r.cold_latency_ms.max, Lower, true),
    ]
}

/// `fcctl bench compare A B`: key figures side by side with absolute and relative deltas.
#[must_use]
pub fn compare(a: &BenchReport, b: &BenchReport) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "fcctl bench compare");
    for (tag, r) in [("A", a), ("B", b)] {
        let _ = writeln!(
            o,
            "  {tag}  {}  {} {}  {}, {}",
            r.started_at,
            r.options.request.label(),
            r.url,
            r.options.mode.describe(),
            run_length(r)
        );
    }
    let _ = writeln!(o, "{RULE}");
    let _ = writeln!(
        o,
        " {:<22}{:>14}{:>14}{:>14}{:>10}",
        "metric", "A", "B", "Δ (B−A)", "Δ %"
    );
    for m in compared_metrics() {
        let line = compare_line(&m, (m.value)(a), (m.value)(b));
        let _ = writeln!(o, "{}", line.trim_end());
    }
    o
}

fn compare_line(m: &Metric, before: f64, after: f64) -> String {
    let show = |v: f64| {
        if m.latency {
            format_ms(v)
        } else {
            format_rate((v * 100.0).round() / 100.0)
        }
    };
    let delta = after - before;
    let sign = if delta >= 0.0 { "+" } else { "−" };
    let delta_text = format!("{sign}{}", show(delta.abs()));
    let pct = if before == 0.0 {
        "—".to_string()
    } else {
        format!("{:+.1} %", delta / before * 100.0)
    };
    let verdict = match m.better {
        _ if delta == 0.0 => "",
        Better::Higher if delta > 0.0 => "better",
        Better::Lower if delta < 0.0 => "better",
        Better::Neither => "",
        _ => "worse",
    };
    format!(
        " {:<22}{:>14}{:>14}{delta_text:>14}{pct:>10}  {verdict}",
        m.name,
        show(before),
        show(after)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sparkline_cells() {
        assert_eq!(sparkline(&[0.0, 1.0, 2.0, 7.0], 10), "▁▂▃█");
        assert_eq!(sparkline(&[1.0; 100], 10).chars().count(), 10);
    }
}
