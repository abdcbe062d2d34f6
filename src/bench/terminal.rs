//! Terminal output: the summary (laid out like the seed's PTS report) and `compare`.

use std::fmt::Write as _;

use super::cold::PhaseStats;
use super::format::{fmt_bytes_per_s, fmt_ms, fmt_rate, human_duration, percent, thousands};
use super::options::Mode;
use super::stats::{BenchReport, LatencyStats, SecondBucket};

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
                BARS[((v / max) * 7.0).round().clamp(0.0, 7.0) as usize]
            }
        })
        .collect()
}

fn row(out: &mut String, cols: &[(&str, usize)]) {
    let mut line = String::from(" ");
    for (text, w) in cols {
        let _ = write!(line, "{text:<w$}  ", w = *w);
    }
    out.push_str(line.trim_end());
    out.push('\n');
}

fn latency_line(l: &LatencyStats) -> String {
    format!(
        "p50 {} · p90 {} · p99 {} · max {} ({} responses)",
        fmt_ms(l.p50),
        fmt_ms(l.p90),
        fmt_ms(l.p99),
        fmt_ms(l.max),
        thousands(l.count)
    )
}

/// The terminal summary: run header, the key figures row, the "business metrics" table
/// with percentiles, then errors, cold starts and sparklines of the time series.
pub fn render_summary(r: &BenchReport) -> String {
    let mut o = String::new();
    let o_ = &mut o;
    let _ = writeln!(o_, "fcctl bench · {} {}", r.options.request.label(), r.url);
    let _ = writeln!(o_, "{RULE}");
    let length = human_duration(std::time::Duration::from_secs_f64(r.duration_s.max(0.0)));
    let _ = writeln!(
        o_,
        " Run           {} → {}   length {}",
        r.started_at, r.finished_at, length
    );
    let _ = writeln!(o_, " Load mode     {}", r.options.mode.describe());
    let mut bounds = format!(
        " Bounds        duration {}, max {} requests, timeout {}",
        human_duration(r.options.duration),
        thousands(r.options.max_requests),
        human_duration(r.options.timeout)
    );
    if let Some(cap) = r.options.rps_cap {
        let _ = write!(bounds, ", RPS cap {}", fmt_rate(cap));
    }
    if let Some(h) = &r.options.host_header {
        let _ = write!(bounds, ", Host: {h}");
    }
    let _ = writeln!(o_, "{bounds}");
    let _ = writeln!(o_, "{RULE}");

    let conc = format!("{}/{}", r.concurrency_peak, r.concurrency_limit);
    let rps = format!("{}/{}", fmt_rate(r.rps_peak), fmt_rate(r.rps_avg));
    let avg_t = fmt_bytes_per_s(r.throughput_avg_bps);
    let peak_t = fmt_bytes_per_s(r.throughput_peak_bps);
    let errs = thousands(r.errors);
    let total = thousands(r.requests);
    let conc_title = if matches!(r.options.mode, Mode::Rate { .. }) {
        "In flight (peak/limit)"
    } else {
        "Concurrency (peak/limit)"
    };
    let widths = [24, 16, 12, 12, 8, 14];
    row(
        o_,
        &[
            (conc_title, widths[0]),
            ("RPS (peak/avg)", widths[1]),
            ("Avg traffic", widths[2]),
            ("Peak traffic", widths[3]),
            ("Errors", widths[4]),
            ("Total requests", widths[5]),
        ],
    );
    row(
        o_,
        &[
            (&conc, widths[0]),
            (&rps, widths[1]),
            (&avg_t, widths[2]),
            (&peak_t, widths[3]),
            (&errs, widths[4]),
            (&total, widths[5]),
        ],
    );
    let _ = writeln!(o_, "{RULE}");

    let l = &r.latency_ms;
    let success = format!(
        "{} ({}/{})",
        percent(r.success_rate),
        thousands(r.successes),
        thousands(r.errors)
    );
    let avg_tps = format!("{:.2}", r.rps_avg);
    let avg_rt = fmt_ms(l.avg);
    row(
        o_,
        &[
            ("Total requests", 16),
            ("Avg TPS", 12),
            ("Success rate", 28),
            ("Avg response time", 18),
        ],
    );
    row(
        o_,
        &[(&total, 16), (&avg_tps, 12), (&success, 28), (&avg_rt, 18)],
    );
    let heads = ["99%", "90%", "75%", "50%", "99.9%", "Max", "Min"];
    let vals = [l.p99, l.p90, l.p75, l.p50, l.p999, l.max, l.min].map(fmt_ms);
    let mut h = String::from(" ");
    let mut v = String::from(" ");
    for (a, b) in heads.iter().zip(vals.iter()) {
        let _ = write!(h, "{a:>11}");
        let _ = write!(v, "{b:>11}");
    }
    let _ = writeln!(o_, "{h}\n{v}");
    if r.coordinated_omission_corrected {
        let _ = writeln!(
            o_,
            " (open loop: latency measured from the intended send time, coordinated-omission corrected)"
        );
    }
    let _ = writeln!(o_, "{RULE}");

    let e = &r.errors_by_class;
    let _ = writeln!(
        o_,
        " Errors        4xx {} · 5xx {} · timeout {} · connect {} · other {} · function (x-fc-error-type) {}",
        thousands(e.http_4xx),
        thousands(e.http_5xx),
        thousands(e.timeout),
        thousands(e.connect),
        thousands(e.other),
        thousands(e.function)
    );
    let inst = if r.instances > 0 {
        format!(", {} instances seen", r.instances)
    } else {
        String::new()
    };
    let _ = writeln!(
        o_,
        " Cold starts   {} of {} requests{inst}",
        thousands(r.cold_starts),
        thousands(r.requests)
    );
    if r.cold_latency_ms.count > 0 {
        let _ = writeln!(o_, "   cold        {}", latency_line(&r.cold_latency_ms));
    }
    if r.warm_latency_ms.count > 0 {
        let _ = writeln!(o_, "   warm        {}", latency_line(&r.warm_latency_ms));
    }
    if let Some(c) = &r.cold_start {
        let phase = |name: &str, p: &PhaseStats| {
            if p.count == 0 {
                String::new()
            } else {
                format!(
                    "{name} p50 {} / p90 {} / max {}",
                    fmt_ms(p.p50),
                    fmt_ms(p.p90),
                    fmt_ms(p.max)
                )
            }
        };
        for (name, p) in [
            ("instance start", &c.instance_start_ms),
            ("/initialize  ", &c.initialize_ms),
            ("model load   ", &c.model_load_ms),
            ("first byte   ", &c.first_byte_ms),
        ] {
            let s = phase(name, p);
            if !s.is_empty() {
                let _ = writeln!(o_, "   phase       {s}");
            }
        }
    }
    let tl = super::stats::chart_timeline(r);
    if !tl.is_empty() {
        let series = |f: fn(&SecondBucket) -> f64| tl.iter().map(f).collect::<Vec<f64>>();
        let rps = series(|b| b.total() as f64);
        let lat = series(|b| b.lat_max);
        let con = series(|b| b.concurrency as f64);
        let max = |v: &[f64]| v.iter().copied().fold(0.0, f64::max);
        let _ = writeln!(
            o_,
            " RPS           {}  peak {}/s",
            sparkline(&rps, 60),
            fmt_rate(max(&rps))
        );
        let _ = writeln!(
            o_,
            " Latency max   {}  peak {}",
            sparkline(&lat, 60),
            fmt_ms(max(&lat))
        );
        let _ = writeln!(
            o_,
            " Concurrency   {}  peak {}",
            sparkline(&con, 60),
            max(&con)
        );
    }
    if let Some(p) = &r.report {
        let _ = writeln!(o_, " Report        {p}");
    }
    o
}

/// How a metric should move to be an improvement.
#[derive(Clone, Copy)]
enum Better {
    Higher,
    Lower,
    Neither,
}

/// `fcctl bench compare A B`: key figures side by side with absolute and relative deltas.
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
            human_duration(std::time::Duration::from_secs_f64(r.duration_s.max(0.0)))
        );
    }
    let _ = writeln!(o, "{RULE}");
    let _ = writeln!(
        o,
        " {:<22}{:>14}{:>14}{:>14}{:>10}",
        "metric", "A", "B", "Δ (B−A)", "Δ %"
    );
    let rows: Vec<(&str, f64, f64, Better, bool)> = vec![
        (
            "requests",
            a.requests as f64,
            b.requests as f64,
            Better::Neither,
            false,
        ),
        (
            "success rate %",
            a.success_rate * 100.0,
            b.success_rate * 100.0,
            Better::Higher,
            false,
        ),
        (
            "errors",
            a.errors as f64,
            b.errors as f64,
            Better::Lower,
            false,
        ),
        ("rps avg", a.rps_avg, b.rps_avg, Better::Higher, false),
        ("rps peak", a.rps_peak, b.rps_peak, Better::Higher, false),
        (
            "concurrency peak",
            a.concurrency_peak as f64,
            b.concurrency_peak as f64,
            Better::Neither,
            false,
        ),
        (
            "cold starts",
            a.cold_starts as f64,
            b.cold_starts as f64,
            Better::Lower,
            false,
        ),
        (
            "instances",
            a.instances as f64,
            b.instances as f64,
            Better::Neither,
            false,
        ),
        (
            "latency min",
            a.latency_ms.min,
            b.latency_ms.min,
            Better::Lower,
            true,
        ),
        (
            "latency avg",
            a.latency_ms.avg,
            b.latency_ms.avg,
            Better::Lower,
            true,
        ),
        (
            "latency p50",
            a.latency_ms.p50,
            b.latency_ms.p50,
            Better::Lower,
            true,
        ),
        (
            "latency p75",
            a.latency_ms.p75,
            b.latency_ms.p75,
            Better::Lower,
            true,
        ),
        (
            "latency p90",
            a.latency_ms.p90,
            b.latency_ms.p90,
            Better::Lower,
            true,
        ),
        (
            "latency p99",
            a.latency_ms.p99,
            b.latency_ms.p99,
            Better::Lower,
            true,
        ),
        (
            "latency p99.9",
            a.latency_ms.p999,
            b.latency_ms.p999,
            Better::Lower,
            true,
        ),
        (
            "latency max",
            a.latency_ms.max,
            b.latency_ms.max,
            Better::Lower,
            true,
        ),
        (
            "warm p99",
            a.warm_latency_ms.p99,
            b.warm_latency_ms.p99,
            Better::Lower,
            true,
        ),
        (
            "cold max",
            a.cold_latency_ms.max,
            b.cold_latency_ms.max,
            Better::Lower,
            true,
        ),
    ];
    for (name, x, y, better, ms) in rows {
        let f = |v: f64| {
            if ms {
                fmt_ms(v)
            } else {
                fmt_rate((v * 100.0).round() / 100.0)
            }
        };
        let d = y - x;
        let dtxt = if ms {
            format!("{}{}", if d >= 0.0 { "+" } else { "−" }, fmt_ms(d.abs()))
        } else {
            format!(
                "{}{}",
                if d >= 0.0 { "+" } else { "−" },
                fmt_rate((d.abs() * 100.0).round() / 100.0)
            )
        };
        let pct = if x != 0.0 {
            format!("{:+.1} %", d / x * 100.0)
        } else {
            "—".to_string()
        };
        let verdict = match better {
            _ if d == 0.0 => "",
            Better::Higher if d > 0.0 => "better",
            Better::Lower if d < 0.0 => "better",
            Better::Neither => "",
            _ => "worse",
        };
        let line = format!(
            " {name:<22}{:>14}{:>14}{dtxt:>14}{pct:>10}  {verdict}",
            f(x),
            f(y)
        );
        let _ = writeln!(o, "{}", line.trim_end());
    }
    o
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
