//! Inline SVG charts: time-series lines and the latency histogram.

use std::fmt::Write as _;

use super::escape::escape;
use crate::bench::convert::{index_to_f64, saturating_usize, to_f64};
use crate::bench::format::{format_ms, thousands};
use crate::bench::stats::HistogramBucket;

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

fn tick_label(v: f64) -> String {
    if v >= 1000.0 || v.fract() == 0.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

pub(super) struct Series<'a> {
    pub name: &'a str,
    pub color: &'a str,
    pub values: Vec<f64>,
}

const WIDTH: f64 = 1000.0;
const HEIGHT: f64 = 250.0;
const MARGIN_LEFT: f64 = 64.0;
const MARGIN_RIGHT: f64 = 44.0;
const MARGIN_TOP: f64 = 14.0;
const MARGIN_BOTTOM: f64 = 30.0;

fn legend(series: &[(&str, &str)]) -> String {
    let mut o = String::from("<div class=\"legend\">");
    for (name, color) in series {
        let _ = write!(
            o,
            "<span><i style=\"background:{color}\"></i>{}</span>",
            escape(name)
        );
    }
    o.push_str("</div>");
    o
}

/// A time-series line chart; `x_label(i)` names point `i`.
pub(super) fn line_chart(
    title: &str,
    series: &[Series],
    x_label: &dyn Fn(usize) -> String,
) -> String {
    let points = series.iter().map(|s| s.values.len()).max().unwrap_or(0);
    let max = series
        .iter()
        .flat_map(|s| s.values.iter().copied())
        .fold(0.0, f64::max);
    let ymax = nice_ceil(max);
    let plot_width = WIDTH - MARGIN_LEFT - MARGIN_RIGHT;
    let plot_height = HEIGHT - MARGIN_TOP - MARGIN_BOTTOM;
    let x = |i: usize| {
        MARGIN_LEFT
            + if points > 1 {
                index_to_f64(i) * plot_width / index_to_f64(points - 1)
            } else {
                plot_width / 2.0
            }
    };
    let y = |v: f64| MARGIN_TOP + plot_height - (v / ymax).clamp(0.0, 1.0) * plot_height;

    let mut o = String::new();
    let _ = write!(
        o,
        "<section class=\"chart\"><h3>{}</h3><svg viewBox=\"0 0 {WIDTH} {HEIGHT}\" role=\"img\" aria-label=\"{}\">",
        escape(title),
        escape(title)
    );
    for k in 0..=5 {
        let v = ymax * f64::from(k) / 5.0;
        let yy = y(v);
        let _ = write!(
            o,
            "<line x1=\"{MARGIN_LEFT}\" x2=\"{}\" y1=\"{yy:.1}\" y2=\"{yy:.1}\" class=\"grid\"/><text x=\"{}\" y=\"{:.1}\" class=\"yl\">{}</text>",
            WIDTH - MARGIN_RIGHT,
            MARGIN_LEFT - 6.0,
            yy + 4.0,
            tick_label(v)
        );
    }
    let _ = write!(
        o,
        "<line x1=\"{MARGIN_LEFT}\" x2=\"{}\" y1=\"{:.1}\" y2=\"{:.1}\" class=\"axis\"/>",
        WIDTH - MARGIN_RIGHT,
        MARGIN_TOP + plot_height,
        MARGIN_TOP + plot_height
    );
    x_labels(&mut o, points, &x, x_label);
    for s in series {
        series_line(&mut o, s, &x, &y);
    }
    o.push_str("</svg>");
    o.push_str(&legend(
        &series.iter().map(|s| (s.name, s.color)).collect::<Vec<_>>(),
    ));
    o.push_str("</section>");
    o
}

/// Up to 8 evenly spread labels under the x axis.
fn x_labels(
    o: &mut String,
    points: usize,
    x: &dyn Fn(usize) -> f64,
    x_label: &dyn Fn(usize) -> String,
) {
    if points == 0 {
        return;
    }
    let ticks = 8.min(points);
    let mut last = usize::MAX;
    for k in 0..ticks {
        let i = if ticks > 1 {
            k * (points - 1) / (ticks - 1)
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
            HEIGHT - 10.0,
            escape(&x_label(i))
        );
    }
}

/// One series as a polyline (a dot when it has a single point).
fn series_line(o: &mut String, s: &Series, x: &dyn Fn(usize) -> f64, y: &dyn Fn(f64) -> f64) {
    if s.values.is_empty() {
        return;
    }
    if s.values.len() == 1 {
        let _ = write!(
            o,
            "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"3\" fill=\"{}\"/>",
            x(0),
            y(s.values[0]),
            s.color
        );
        return;
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
        escape(s.name)
    );
}

/// Latency histogram: log-spaced buckets on x, count on a log scale on y so that a
/// handful of cold starts stay visible next to a million warm responses.
pub(super) fn histogram_chart(hb: &[HistogramBucket]) -> String {
    let mut o = String::from(
        "<section class=\"chart\"><h3>Latency histogram (responses per bucket, log scale)</h3>",
    );
    if hb.is_empty() {
        o.push_str("<p class=\"muted\">No responses.</p></section>");
        return o;
    }
    let _ = write!(
        o,
        "<svg viewBox=\"0 0 {WIDTH} {HEIGHT}\" role=\"img\" aria-label=\"latency histogram\">"
    );
    let maxc = to_f64(hb.iter().map(|b| b.count).max().unwrap_or(1).max(1));
    let decades = maxc.log10().ceil().max(1.0);
    let plot_width = WIDTH - MARGIN_LEFT - MARGIN_RIGHT;
    let plot_height = HEIGHT - MARGIN_TOP - MARGIN_BOTTOM;
    let y = |c: f64| {
        MARGIN_TOP + plot_height
            - if c <= 0.0 {
                0.0
            } else {
                ((c.log10() + 1.0) / (decades + 1.0)).clamp(0.0, 1.0) * plot_height
            }
    };
    let mut tick: u64 = 1;
    for _ in 0..=saturating_usize(decades) {
        let yy = y(to_f64(tick));
        let _ = write!(
            o,
            "<line x1=\"{MARGIN_LEFT}\" x2=\"{}\" y1=\"{yy:.1}\" y2=\"{yy:.1}\" class=\"grid\"/><text x=\"{}\" y=\"{:.1}\" class=\"yl\">{}</text>",
            WIDTH - MARGIN_RIGHT,
            MARGIN_LEFT - 6.0,
            yy + 4.0,
            thousands(tick)
        );
        tick = tick.saturating_mul(10);
    }
    let bw = plot_width / index_to_f64(hb.len());
    for (i, b) in hb.iter().enumerate() {
        let x0 = MARGIN_LEFT + index_to_f64(i) * bw;
        let top = y(to_f64(b.count));
        if b.count > 0 {
            let _ = write!(
                o,
                "<rect x=\"{:.1}\" y=\"{top:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"#1f77b4\"><title>{} – {}: {}</title></rect>",
                x0 + 1.0,
                (bw - 2.0).max(1.0),
                (MARGIN_TOP + plot_height - top).max(0.5),
                format_ms(b.from_ms),
                format_ms(b.to_ms),
                thousands(b.count)
            );
        }
    }
    let _ = write!(
        o,
        "<line x1=\"{MARGIN_LEFT}\" x2=\"{}\" y1=\"{:.1}\" y2=\"{:.1}\" class=\"axis\"/>",
        WIDTH - MARGIN_RIGHT,
        MARGIN_TOP + plot_height,
        MARGIN_TOP + plot_height
    );
    let step = (hb.len() / 8).max(1);
    for (i, b) in hb.iter().enumerate() {
        if i % step == 0 || i + 1 == hb.len() {
            let _ = write!(
                o,
                "<text x=\"{:.1}\" y=\"{:.1}\" class=\"xl\">{}</text>",
                MARGIN_LEFT + (index_to_f64(i) + 1.0) * bw,
                HEIGHT - 10.0,
                escape(&format_ms(b.to_ms))
            );
        }
    }
    o.push_str("</svg><p class=\"muted\">x: upper edge of each latency bucket</p></section>");
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[allow(clippy::float_cmp)] // exact: nice numbers are products of small powers of ten
    #[test]
    fn nice_ticks() {
        assert_eq!(nice_ceil(1184.0), 2000.0);
        assert_eq!(nice_ceil(32_319.0), 50_000.0);
        assert_eq!(nice_ceil(45.0), 50.0);
        assert_eq!(nice_ceil(0.0), 1.0);
    }
}
