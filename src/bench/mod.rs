//! `fcctl bench`: load generator, HDR statistics and the HTML report.
//!
//! The engine drives HTTP/1.1 keep-alive connections (one per virtual user in the
//! closed-loop modes, a bounded pool in the open-loop rate mode) with its own small
//! client (`http1.rs`: request serialised once, head parsed by `httparse`, one task per
//! connection), records every response in HDR histograms (coordinated-omission
//! corrected in rate mode: latency is measured from the *intended* send time) and in
//! per-second buckets, and counts cold starts from the response headers set by the
//! local emulator (`x-fcctl-cold-start`) or the function itself (`x-fcctl-model-load`).
//! FC function errors (`x-fc-error-type`, sent with HTTP 200) count as errors.
//! Targets must be loopback unless `allow_remote`; runs are bounded by `duration`
//! (requests still in flight get `END_GRACE`, then count as timeouts) and `max_requests`.
//!
//! ```text
//! BenchOptions ──run()──▶ BenchReport ──render_summary()──▶ terminal text
//!                                     ├─write_html_report()─▶ self-contained report.html
//!                                     └─serde_json──────────▶ --json / report.json
//! compare(A, B) ──▶ table of deltas
//! ```
//!
//! Files depend only downwards in this list (tests aside), so the statistics never
//! know how they are printed:
//!
//! | layer | files |
//! |---|---|
//! | leaves | `convert` (named numeric conversions), `error`, `html/escape` |
//! | formatting, headers | `format` (numbers, rates, times), `cold` (cold-start headers and phases) |
//! | inputs | `options` (modes, bounds, validation), `http1` (the client) |
//! | measurement | `stats` (histograms, timeline, `BenchReport`), `target` (URL, addresses, payloads) |
//! | output | `terminal` (summary, compare), `html/` (`sections`, `chart`), `verdict` (`--min-success`) |
//! | files | `report` (report.html, report.json) |
//! | driver | `engine` (workers, sampler, probes) |
// Numbers are this module's product: pedantic casts and float lints catch silent loss.
#![warn(clippy::pedantic)]

mod cold;
mod convert;
mod engine;
mod error;
#[cfg(test)]
mod fixtures;
mod format;
mod html;
mod http1;
mod options;
mod report;
#[cfg(test)]
mod snapshot_tests;
mod stats;
pub mod sweep;
mod target;
mod terminal;
mod verdict;

pub use cold::{ColdStartSample, ColdStartSummary, PhaseStats, summarize_cold};
pub use engine::{END_GRACE, Progress, ProgressFn, probe, run, run_cold};
pub use error::BenchError;
pub use html::render_html;
pub use options::{BenchOptions, MAX_CONNECTIONS, MAX_DURATION, Mode, RequestKind, ramp_levels};
pub use report::{report_dir_name, save_report, write_html_report};
pub use stats::{
    BenchReport, ErrorsByClass, HistogramBucket, LatencyStats, SecondBucket, StatusCounts,
    TestedFunction,
};
pub use terminal::{compare, render_summary};
pub use verdict::{Shortfall, check_success};
