//! The report the renderer tests and snapshots share: a 30 s ramp like the seed's run,
//! with one cold start that is also the slowest response.

use super::{
    BenchOptions, BenchReport, ColdStartSample, HistogramBucket, LatencyStats, SecondBucket,
    summarize_cold,
};

pub(crate) fn sample_report() -> BenchReport {
    let timeline: Vec<SecondBucket> = (0..30)
        .map(|t| SecondBucket {
            t,
            rps_2xx: 100 + t * 10,
            rps_5xx: u64::from(t == 7),
            lat_min: 30.0,
            lat_avg: 40.0,
            lat_max: if t == 12 { 32_319.0 } else { 60.0 },
            concurrency: 5 + (t / 6) * 10,
            cold_starts: u64::from(t == 12),
            bytes: 100_000,
            ..Default::default()
        })
        .collect();
    let samples = vec![ColdStartSample {
        t_s: 12.3,
        status: 200,
        cold: true,
        instance_id: Some("i-<1>".into()),
        instance_start_ms: Some(120.0),
        initialize_ms: Some(900.0),
        first_byte_ms: 32_000.0,
        total_ms: 32_319.0,
        ..Default::default()
    }];
    BenchReport {
        schema: 1,
        url: "http://127.0.0.1:9000/".into(),
        started_at: "2019-09-22T22:15:52.000Z".into(),
        finished_at: "2019-09-22T22:16:22.000Z".into(),
        started_unix_ms: 1_569_190_552_000,
        duration_s: 30.0,
        requests: 7_350,
        successes: 7_349,
        success_rate: 0.999_864,
        errors: 1,
        rps_avg: 245.0,
        rps_peak: 390.0,
        concurrency_peak: 45,
        concurrency_limit: 50,
        cold_starts: 1,
        instances: 3,
        latency_ms: LatencyStats {
            count: 7_350,
            min: 32.0,
            avg: 41.25,
            p50: 38.0,
            p75: 39.0,
            p90: 42.0,
            p99: 119.0,
            p999: 230.0,
            max: 32_319.0,
        },
        cold_latency_ms: LatencyStats {
            count: 1,
            max: 32_319.0,
            ..Default::default()
        },
        cold_start: summarize_cold(&samples),
        cold_start_samples: samples,
        failed_requests: vec![super::cold::FailedRequest {
            t_s: 12.3,
            status: 502,
            function_error: false,
            request_id: Some("1-6650a1b2-4b2f9c1d0e8a7f6b5c4d3e2f".into()),
            instance_id: Some("c-6650a1b2-1f2e3d4c".into()),
            logs: Some("fcctl logs --request-id 1-6650a1b2-4b2f9c1d0e8a7f6b5c4d3e2f".into()),
        }],
        histogram: vec![
            HistogramBucket {
                from_ms: 30.0,
                to_ms: 40.0,
                count: 7000,
            },
            HistogramBucket {
                from_ms: 40.0,
                to_ms: 120.0,
                count: 349,
            },
            HistogramBucket {
                from_ms: 120.0,
                to_ms: 32_400.0,
                count: 1,
            },
        ],
        timeline,
        options: BenchOptions::new("http://127.0.0.1:9000/"),
        ..Default::default()
    }
}
