//! Whether a finished run passed: its success rate against `--min-success`.

use super::format::{percent, thousands};
use super::stats::BenchReport;

/// A run that fell short of the required success rate.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{what}{bar}; failures: {failures}", what = self.what(), bar = self.bar())]
pub struct Shortfall {
    pub requests: u64,
    pub successes: u64,
    /// `--min-success` in percent; `None`: at least one request had to succeed.
    pub min_success_pct: Option<f64>,
    /// No HTTP response came back at all: every request failed to connect, timed out or
    /// broke off. The target is down or not an HTTP server, rather than failing requests.
    pub unanswered: bool,
    /// The failures by class, e.g. `connect 1,842`.
    pub failures: String,
}

impl Shortfall {
    fn what(&self) -> String {
        if self.successes == 0 {
            format!("none of {} requests succeeded", thousands(self.requests))
        } else {
            format!(
                "{} of {} requests succeeded ({})",
                thousands(self.successes),
                thousands(self.requests),
                percent(fraction(self.successes, self.requests))
            )
        }
    }

    fn bar(&self) -> String {
        match self.min_success_pct {
            Some(p) => format!(", below --min-success {p}%"),
            None => " (at least one must, unless --min-success says otherwise)".into(),
        }
    }
}

fn fraction(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        super::convert::to_f64(part) / super::convert::to_f64(whole)
    }
}

/// Checks `r` against `min_success_pct` (percent of requests that must succeed, 0..=100);
/// `None` asks for a success rate above 0 %. A run that sent nothing fails too: it measured
/// nothing.
///
/// # Errors
///
/// The [`Shortfall`] when the run succeeded less than required.
pub fn check_success(r: &BenchReport, min_success_pct: Option<f64>) -> Result<(), Shortfall> {
    let rate = fraction(r.successes, r.requests) * 100.0;
    let passed = match min_success_pct {
        Some(min) => r.requests > 0 && rate >= min,
        None => r.successes > 0,
    };
    if passed {
        return Ok(());
    }
    let e = &r.errors_by_class;
    let failures: Vec<String> = [
        ("connect", e.connect),
        ("timeout", e.timeout),
        ("other", e.other),
        ("4xx", e.http_4xx),
        ("5xx", e.http_5xx),
        ("function (x-fc-error-type)", e.function),
    ]
    .iter()
    .filter(|(_, n)| *n > 0)
    .map(|(name, n)| format!("{name} {}", thousands(*n)))
    .collect();
    let s = &r.status;
    let answered = s.s2xx + s.s3xx + s.s4xx + s.s5xx + s.other;
    Err(Shortfall {
        requests: r.requests,
        successes: r.successes,
        min_success_pct,
        unanswered: answered == 0,
        failures: if failures.is_empty() {
            "none (no request was sent)".into()
        } else {
            failures.join(", ")
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::{ErrorsByClass, StatusCounts};

    fn report(requests: u64, ok: u64, errors: ErrorsByClass) -> BenchReport {
        BenchReport {
            requests,
            successes: ok,
            status: StatusCounts {
                s2xx: ok,
                s5xx: errors.http_5xx,
                ..StatusCounts::default()
            },
            errors_by_class: errors,
            ..BenchReport::default()
        }
    }

    #[test]
    fn no_success_fails_by_default_and_names_the_failures() {
        let dead = report(
            1842,
            0,
            ErrorsByClass {
                connect: 1842,
                ..ErrorsByClass::default()
            },
        );
        let e = check_success(&dead, None).unwrap_err();
        assert!(e.unanswered);
        assert_eq!(
            e.to_string(),
            "none of 1,842 requests succeeded (at least one must, unless --min-success says \
             otherwise); failures: connect 1,842"
        );
        let empty = report(0, 0, ErrorsByClass::default());
        assert!(check_success(&empty, None).is_err());
        assert!(check_success(&empty, Some(0.0)).is_err());
    }

    #[test]
    fn min_success_is_a_percentage_of_requests() {
        let half = report(
            100,
            50,
            ErrorsByClass {
                http_5xx: 50,
                ..ErrorsByClass::default()
            },
        );
        assert!(check_success(&half, None).is_ok());
        assert!(check_success(&half, Some(50.0)).is_ok());
        let e = check_success(&half, Some(50.1)).unwrap_err();
        assert!(!e.unanswered, "5xx are answers");
        assert!(
            e.to_string()
                .starts_with("50 of 100 requests succeeded (50.00%), below --min-success 50.1%;"),
            "{e}"
        );
    }
}
