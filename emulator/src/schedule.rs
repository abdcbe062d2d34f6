//! Scheduled actions of a provision config: what `target` FC aims at, at a given moment.
//!
//! FC keeps `defaultTarget` as put and derives `target` from the scheduled actions (and
//! tracking policies, which need metrics this emulator does not have): the action that fired
//! last, inside its `startTime`..`endTime` window, sets it (Alibaba Cloud docs,
//! `api-fc-2023-03-30-struct-scheduledaction`; SDK `models/_scheduled_action.py`).
//! Expressions are `cron(<sec> <min> <hour> <day> <month> <weekday>)` or `at(<RFC 3339>)`.
//! Limitation: times are evaluated in UTC; a `timeZone` other than UTC is accepted and stored
//! but not applied.

use std::str::FromStr as _;

use chrono::{DateTime, Utc};
use serde_json::Value;

/// A parsed schedule expression.
enum Expression {
    Cron(Box<cron::Schedule>),
    At(DateTime<Utc>),
}

impl Expression {
    fn parse(text: &str) -> Result<Expression, String> {
        let text = text.trim();
        if let Some(inner) = text.strip_prefix("cron(").and_then(|t| t.strip_suffix(')')) {
            let schedule = cron::Schedule::from_str(inner.trim())
                .map_err(|e| format!("scheduleExpression `{text}`: {e}"))?;
            return Ok(Expression::Cron(Box::new(schedule)));
        }
        if let Some(inner) = text.strip_prefix("at(").and_then(|t| t.strip_suffix(')')) {
            let at = parse_time(inner.trim())
                .ok_or_else(|| format!("scheduleExpression `{text}`: not an RFC 3339 time"))?;
            return Ok(Expression::At(at));
        }
        Err(format!(
            "scheduleExpression `{text}` must be cron(<6 fields>) or at(<time>)"
        ))
    }

    /// The last time this fired at or before `now`.
    fn last_fire(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match self {
            // The iterator runs backwards from `now`; a fire exactly at `now` counts.
            Expression::Cron(s) => s.after(&(now + chrono::Duration::seconds(1))).next_back(),
            Expression::At(t) => (*t <= now).then_some(*t),
        }
    }
}

fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// Checks the actions a PutProvisionConfig carries; the message names the bad one.
pub fn validate(actions: &Value) -> Result<(), String> {
    for action in actions.as_array().map(Vec::as_slice).unwrap_or_default() {
        let expr = action["scheduleExpression"]
            .as_str()
            .ok_or("scheduledActions[].scheduleExpression is required")?;
        Expression::parse(expr)?;
        if action.get("target").is_some_and(|t| !t.is_i64()) {
            return Err("scheduledActions[].target must be an integer".into());
        }
        for key in ["startTime", "endTime"] {
            if let Some(t) = action.get(key).and_then(Value::as_str)
                && !t.is_empty()
                && parse_time(t).is_none()
            {
                return Err(format!(
                    "scheduledActions[].{key} `{t}` is not an RFC 3339 time"
                ));
            }
        }
    }
    Ok(())
}

/// The target at `now`: the target of the action that fired last within its window, else
/// `default_target`.
pub fn effective_target(default_target: i64, actions: &Value, now: DateTime<Utc>) -> i64 {
    let mut latest: Option<(DateTime<Utc>, i64)> = None;
    for action in actions.as_array().map(Vec::as_slice).unwrap_or_default() {
        let window = |key: &str| action[key].as_str().and_then(parse_time);
        if window("startTime").is_some_and(|s| now < s)
            || window("endTime").is_some_and(|e| now >= e)
        {
            continue;
        }
        let Some(expr) = action["scheduleExpression"]
            .as_str()
            .and_then(|e| Expression::parse(e).ok())
        else {
            continue;
        };
        let (Some(fired), Some(target)) = (expr.last_fire(now), action["target"].as_i64()) else {
            continue;
        };
        // Fires before the window opened do not count.
        if window("startTime").is_some_and(|s| fired < s) {
            continue;
        }
        if latest.is_none_or(|(t, _)| fired > t) {
            latest = Some((fired, target));
        }
    }
    latest.map_or(default_target, |(_, target)| target)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn at(text: &str) -> DateTime<Utc> {
        parse_time(text).unwrap()
    }

    #[test]
    fn the_last_fired_action_sets_the_target() {
        let actions = json!([
            {"name": "day", "scheduleExpression": "cron(0 0 8 * * *)", "target": 20},
            {"name": "night", "scheduleExpression": "cron(0 0 20 * * *)", "target": 2},
        ]);
        assert_eq!(
            effective_target(10, &actions, at("2026-12-01T09:00:00Z")),
            20
        );
        assert_eq!(
            effective_target(10, &actions, at("2026-12-01T21:00:00Z")),
            2
        );
        assert_eq!(
            effective_target(10, &actions, at("2026-12-02T07:59:59Z")),
            2
        );
        assert_eq!(
            effective_target(10, &actions, at("2026-12-02T08:00:00Z")),
            20
        );
    }

    #[test]
    fn windows_and_one_shot_actions() {
        let actions = json!([
            {"scheduleExpression": "at(2026-12-01T10:00:00Z)", "target": 7},
            {"scheduleExpression": "cron(0 * * * * *)", "target": 3,
             "startTime": "2026-12-05T00:00:00Z", "endTime": "2026-12-06T00:00:00Z"},
        ]);
        assert_eq!(effective_target(1, &actions, at("2026-12-01T09:59:59Z")), 1);
        assert_eq!(effective_target(1, &actions, at("2026-12-01T10:00:00Z")), 7);
        assert_eq!(effective_target(1, &actions, at("2026-12-05T12:00:30Z")), 3);
        assert_eq!(effective_target(1, &actions, at("2026-12-07T00:00:00Z")), 7);
    }

    #[test]
    fn bad_expressions_are_refused() {
        assert!(validate(&json!([{"scheduleExpression": "cron(nope)", "target": 1}])).is_err());
        assert!(validate(&json!([{"scheduleExpression": "every day", "target": 1}])).is_err());
        assert!(validate(&json!([{"target": 1}])).is_err());
        assert!(
            validate(&json!([{"scheduleExpression": "cron(0 0 8 * * *)", "target": 1}])).is_ok()
        );
    }
}
