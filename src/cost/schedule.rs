//! How many provisioned instances a provision config holds on average over a month, with its
//! scheduled actions.
//!
//! FC aims at the target of the scheduled action that fired last, and at `defaultTarget` before
//! any fired (`docs/cloud-facts.md`, provision config `target`). The average is taken over a
//! reference year (2025, UTC), so daily, weekly and monthly patterns all come out whole.

use std::str::FromStr as _;

use chrono::{DateTime, TimeZone as _, Utc};
use serde::Serialize;

use crate::config::Schedule;

use super::CostError;

/// More fires than this in the reference year (one every ~5 minutes) cannot be a capacity
/// plan; refusing bounds the work.
const MAX_FIRES: usize = 100_000;

/// Provisioned instances over the month.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Held {
    /// Time-weighted average of the target.
    pub average: f64,
    /// The largest target any time of the year.
    pub peak: u32,
    /// What the average leaves out (one-off `at(…)` actions, time zones).
    pub notes: Vec<String>,
}

impl Held {
    /// `n` instances all month.
    pub fn flat(n: u32) -> Held {
        Held {
            average: n as f64,
            peak: n,
            notes: Vec::new(),
        }
    }
}

/// The average target of `default_target` moved by `schedules`.
pub fn held(default_target: u32, schedules: &[Schedule]) -> Result<Held, CostError> {
    let start = Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0).unwrap();
    let end = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
    let mut notes = Vec::new();
    // (time, target) of every fire in the year, and the last fire before it (the state the
    // year starts in).
    let mut fires: Vec<(DateTime<Utc>, u32)> = Vec::new();
    let mut before: Option<(DateTime<Utc>, u32)> = None;
    for (i, s) in schedules.iter().enumerate() {
        let text = s.cron.trim();
        if text.starts_with("at(") {
            notes.push(format!(
                "schedule `{}` ({text}) fires once: not in the monthly average",
                s.name
            ));
            continue;
        }
        let inner = text
            .strip_prefix("cron(")
            .and_then(|t| t.strip_suffix(')'))
            .ok_or_else(|| CostError::Schedule {
                index: i,
                expression: text.into(),
                reason: "neither cron(…) nor at(…)".into(),
            })?;
        let cron = cron::Schedule::from_str(inner.trim()).map_err(|e| CostError::Schedule {
            index: i,
            expression: text.into(),
            reason: e.to_string(),
        })?;
        if let Some(t) = cron.after(&start).next_back()
            && before.is_none_or(|(b, _)| t > b)
        {
            before = Some((t, s.target));
        }
        let n = fires.len();
        fires.extend(
            cron.after(&start)
                .take_while(|t| *t < end)
                .take(MAX_FIRES + 1)
                .map(|t| (t, s.target)),
        );
        if fires.len() - n > MAX_FIRES {
            return Err(CostError::Schedule {
                index: i,
                expression: text.into(),
                reason: format!("fires more than {MAX_FIRES} times a year"),
            });
        }
        if s.timezone.as_deref().is_some_and(|z| z != "UTC") {
            notes.push(format!(
                "schedule `{}` is evaluated in UTC, not {}: the average is the same when all \
                 schedules share one time zone",
                s.name,
                s.timezone.as_deref().unwrap_or_default()
            ));
        }
    }
    // A stable sort keeps file order among fires at the same second; FC's order then is not
    // documented, and fcctl takes the later schedule.
    fires.sort_by_key(|f| f.0);
    let mut current = before.map_or(default_target, |b| b.1);
    let mut peak = current;
    let mut at = start;
    let mut weighted = 0.0;
    for (t, target) in fires {
        weighted += current as f64 * (t - at).num_seconds() as f64;
        at = t;
        current = target;
        peak = peak.max(current);
    }
    weighted += current as f64 * (end - at).num_seconds() as f64;
    Ok(Held {
        average: weighted / (end - start).num_seconds() as f64,
        peak,
        notes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(cron: &str, target: u32) -> Schedule {
        Schedule {
            name: format!("t{target}"),
            cron: cron.into(),
            target,
            timezone: None,
        }
    }

    #[test]
    fn no_schedule_holds_the_default_all_year() {
        assert_eq!(held(10, &[]).unwrap(), Held::flat(10));
    }

    #[test]
    fn office_hours_average_by_the_hours_each_target_holds() {
        // 20 from 08:00 to 20:00, 2 otherwise: (12 × 20 + 12 × 2) / 24 = 11.
        let h = held(
            10,
            &[s("cron(0 0 8 * * *)", 20), s("cron(0 0 20 * * *)", 2)],
        )
        .unwrap();
        assert!((h.average - 11.0).abs() < 1e-9, "{h:?}");
        assert_eq!(h.peak, 20);
    }

    #[test]
    fn weekday_schedule_weighs_five_days_of_seven() {
        // 10 on weekdays 00:00 Mon–Fri, 0 from Saturday 00:00 — 2025 has 261 weekdays,
        // 104 weekend days: 10 × 261 / 365.
        let h = held(
            0,
            &[
                s("cron(0 0 0 * * Mon-Fri)", 10),
                s("cron(0 0 0 * * Sat)", 0),
            ],
        )
        .unwrap();
        assert!((h.average - 10.0 * 261.0 / 365.0).abs() < 1e-9, "{h:?}");
    }

    #[test]
    fn a_one_off_action_is_named_and_left_out() {
        let h = held(4, &[s("at(2026-12-01T08:00:00Z)", 50)]).unwrap();
        assert_eq!(h.average, 4.0);
        assert_eq!(h.peak, 4);
        assert!(h.notes[0].contains("fires once"), "{h:?}");
    }

    #[test]
    fn bad_or_too_frequent_expressions_are_refused() {
        let e = held(1, &[s("cron(0 0 8 * *)", 2)]).unwrap_err();
        assert!(e.to_string().contains("provision.schedules[0]"), "{e}");
        let e = held(1, &[s("cron(0 0 0 * * *)", 1), s("cron(0 * * * * *)", 2)]).unwrap_err();
        assert!(e.to_string().contains("provision.schedules[1]"), "{e}");
        assert!(e.to_string().contains("times a year"), "{e}");
    }
}
