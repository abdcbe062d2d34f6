//! Byte-for-byte snapshots of every rendered output (terminal summary, compare table,
//! HTML report, JSON), so that refactoring the renderers cannot change what users see.

use std::time::Duration;

use super::fixtures::sample_report;
use super::{BenchReport, ErrorsByClass, LatencyStats, Mode, compare, render_html, render_summary};

/// The sample report with every optional branch of the renderers switched on.
fn variant(mode: Mode) -> BenchReport {
    let mut r = sample_report();
    r.options.mode = mode;
    r.options.rps_cap = Some(2_000.0);
    r.options.host_header = Some("cat-dog.example.com".into());
    r.report = Some("target/fcctl/bench/20190922T221552Z/report.html".into());
    r.coordinated_omission_corrected = true;
    r.instances = 0;
    r.errors = 17;
    r.errors_by_class = ErrorsByClass {
        http_4xx: 3,
        http_5xx: 5,
        timeout: 4,
        connect: 2,
        other: 1,
        function: 2,
    };
    r.warm_latency_ms = LatencyStats {
        count: 7_349,
        min: 32.0,
        avg: 40.5,
        p50: 38.0,
        p75: 39.0,
        p90: 41.0,
        p99: 110.0,
        p999: 220.0,
        max: 400.0,
    };
    r.rps_avg = 245.123;
    r.throughput_avg_bps = 1_234_567.0;
    r.throughput_peak_bps = 2_345_678_901.0;
    r
}

fn ramp() -> Mode {
    Mode::Ramp {
        from: 5,
        to: 50,
        step_pct: 20.0,
        step_duration: Duration::from_secs(90),
    }
}

#[test]
fn terminal_summary() {
    insta::assert_snapshot!("summary_sample", render_summary(&sample_report()));
    insta::assert_snapshot!("summary_ramp", render_summary(&variant(ramp())));
    insta::assert_snapshot!(
        "summary_rate",
        render_summary(&variant(Mode::Rate { rps: 500.5 }))
    );
}

#[test]
fn compare_table() {
    let mut b = variant(ramp());
    b.requests = 9_000;
    b.success_rate = 0.5;
    b.latency_ms.p99 = 80.0;
    insta::assert_snapshot!("compare", compare(&sample_report(), &b));
    let mut empty = BenchReport::default();
    empty.options.duration = Duration::from_millis(1500);
    insta::assert_snapshot!("compare_empty", compare(&empty, &sample_report()));
    insta::assert_snapshot!("summary_empty", render_summary(&empty));
}

#[test]
fn html_report() {
    insta::assert_snapshot!("html_sample", render_html(&sample_report()));
    insta::assert_snapshot!("html_ramp", render_html(&variant(ramp())));
    insta::assert_snapshot!(
        "html_rate",
        render_html(&variant(Mode::Rate { rps: 500.0 }))
    );
    insta::assert_snapshot!("html_empty", render_html(&BenchReport::default()));
}

#[test]
fn json_report() {
    let text = serde_json::to_string_pretty(&variant(ramp())).unwrap();
    insta::assert_snapshot!("json_ramp", text);
    assert_eq!(super::report_dir_name(&sample_report()), "20190922T221552Z");
}
