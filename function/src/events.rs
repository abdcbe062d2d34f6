//! The function's own log: one JSON object per line on stdout, which FC (and the emulator)
//! ships to the function's logstore. One line per request (the access line) and one per
//! lifecycle event; `tracing` (stderr, `RUST_LOG`) is for everything else and is quiet by
//! default.
//!
//! Every line has `time` (RFC 3339, UTC, milliseconds), `event` and `request_id` (null for
//! lines of no request, so the emulator and `fcctl logs` never attribute them to one); a
//! field of the event never replaces those three.

use std::io::Write as _;

use serde_json::{Map, Value, json};

/// Writes one line: `time`, `event`, `request_id`, then `fields`.
pub fn emit(event: &str, request_id: Option<&str>, fields: Value) {
    let line = render(&now_rfc3339(), event, request_id, fields);
    // One write of the whole line under stdout's lock: lines never interleave.
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(line.as_bytes());
    let _ = out.flush();
}

fn render(time: &str, event: &str, request_id: Option<&str>, fields: Value) -> String {
    let mut m = Map::new();
    m.insert("time".into(), json!(time));
    m.insert("event".into(), json!(event));
    m.insert("request_id".into(), json!(request_id));
    if let Value::Object(f) = fields {
        for (k, v) in f {
            m.entry(k).or_insert(v);
        }
    }
    let mut s = serde_json::to_string(&Value::Object(m)).unwrap_or_default();
    s.push('\n');
    s
}

/// Now as `2024-05-20T08:30:01.250Z`.
pub fn now_rfc3339() -> String {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    rfc3339_ms(d.as_millis() as i64)
}

/// Unix milliseconds as RFC 3339 UTC (the civil-from-days algorithm of H. Hinnant; the
/// function has no date crate and needs only this).
pub fn rfc3339_ms(ms: i64) -> String {
    let (secs, milli) = (ms.div_euclid(1000), ms.rem_euclid(1000));
    let (days, sod) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{milli:03}Z",
        sod / 3600,
        sod % 3600 / 60,
        sod % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_rfc3339_utc_with_milliseconds() {
        assert_eq!(rfc3339_ms(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339_ms(1_716_193_801_250), "2024-05-20T08:30:01.250Z");
        assert_eq!(rfc3339_ms(951_782_400_000), "2000-02-29T00:00:00.000Z");
        assert_eq!(rfc3339_ms(4_107_542_399_999), "2100-02-28T23:59:59.999Z");
    }

    #[test]
    fn a_line_is_one_json_object_with_time_event_and_request_id_first() {
        let l = render(
            "2024-05-20T08:30:01.250Z",
            "start",
            None,
            json!({"instance_id": "c-1", "event": "ignored"}),
        );
        assert!(l.ends_with('\n') && l.matches('\n').count() == 1);
        let v: Value = serde_json::from_str(&l).unwrap();
        assert_eq!(v["event"], "start");
        assert!(v["request_id"].is_null());
        assert_eq!(v["instance_id"], "c-1");
        assert_eq!(v["time"], "2024-05-20T08:30:01.250Z");
    }
}
