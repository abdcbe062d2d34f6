//! Numbers, rates, byte rates, durations and UTC times as the summary and the HTML
//! report print them. Depends on nothing else in `bench`, so both renderers can share it.

use std::time::Duration;

use time::OffsetDateTime;

use super::convert::saturating_u64;
use time::format_description::FormatItem;
use time::macros::format_description;

const RFC3339_MS: &[FormatItem<'static>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");
const HMS: &[FormatItem<'static>] = format_description!("[hour]:[minute]:[second]");
const COMPACT: &[FormatItem<'static>] =
    format_description!("[year][month][day]T[hour][minute][second]Z");

/// `unix_ms` as a UTC time; times beyond year 9999 (never a real run) become the epoch.
fn utc(unix_ms: u64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(unix_ms) * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

fn format_utc(unix_ms: u64, format: &[FormatItem<'_>]) -> String {
    utc(unix_ms)
        .format(format)
        .expect("a UTC time within year 0..=9999 formats with a static description")
}

/// `2019-09-22T22:15:52.123Z`
pub(crate) fn rfc3339_ms(unix_ms: u64) -> String {
    format_utc(unix_ms, RFC3339_MS)
}

/// `20190922T221552Z`: sortable and safe in a file name.
pub(crate) fn compact_utc(unix_ms: u64) -> String {
    format_utc(unix_ms, COMPACT)
}

/// `22:15:52` (UTC)
pub(crate) fn time_of_day(unix_ms: u64) -> String {
    format_utc(unix_ms, HMS)
}

/// `5m 0s`, `1m 30s`, `12.5s`, `250ms`
pub(crate) fn human_duration(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s < 1.0 {
        format!("{}ms", d.as_millis())
    } else if s < 60.0 {
        if d.subsec_millis() == 0 {
            format!("{}s", d.as_secs())
        } else {
            format!("{s:.1}s")
        }
    } else if s < 3600.0 {
        format!("{}m {}s", d.as_secs() / 60, d.as_secs() % 60)
    } else {
        format!("{}h {}m", d.as_secs() / 3600, (d.as_secs() / 60) % 60)
    }
}

/// `176933` → `176,933`
pub(crate) fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Milliseconds with sensible precision: `32319 ms`, `41.25 ms`, `0.183 ms`.
pub(crate) fn format_ms(x: f64) -> String {
    if x >= 1000.0 {
        format!("{x:.0} ms")
    } else if x >= 10.0 {
        format!("{x:.2} ms").replace(".00 ms", " ms")
    } else {
        format!("{x:.3} ms")
    }
}

pub(crate) fn format_byte_rate(b: f64) -> String {
    if b >= 1e9 {
        format!("{:.2} GB/s", b / 1e9)
    } else if b >= 1e6 {
        format!("{:.2} MB/s", b / 1e6)
    } else if b >= 1e3 {
        format!("{:.2} kB/s", b / 1e3)
    } else {
        format!("{b:.0} B/s")
    }
}

/// Whole rates with thousands separators (`2,000`), fractional ones with two decimals.
pub(crate) fn format_rate(x: f64) -> String {
    if x.fract() == 0.0 {
        thousands(saturating_u64(x))
    } else {
        format!("{x:.2}")
    }
}

/// A 0..=1 fraction as `99.99%`.
pub(crate) fn percent(fraction: f64) -> String {
    format!("{:.2}%", fraction * 100.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        // 2019-09-22T22:15:52Z, the seed's run
        assert_eq!(rfc3339_ms(1_569_190_552_000), "2019-09-22T22:15:52.000Z");
        assert_eq!(time_of_day(1_569_190_552_999), "22:15:52");
        assert_eq!(compact_utc(1_569_190_552_999), "20190922T221552Z");
        assert_eq!(rfc3339_ms(951_782_400_000), "2000-02-29T00:00:00.000Z");
        assert_eq!(human_duration(Duration::from_mins(5)), "5m 0s");
        assert_eq!(human_duration(Duration::from_millis(250)), "250ms");
        assert_eq!(human_duration(Duration::from_secs(30)), "30s");
    }

    #[test]
    fn helpers() {
        assert_eq!(thousands(176_933), "176,933");
        assert_eq!(thousands(12), "12");
        assert_eq!(thousands(1_000_000), "1,000,000");
        assert_eq!(format_ms(32319.0), "32319 ms");
        assert_eq!(format_ms(41.25), "41.25 ms");
        assert_eq!(format_ms(38.0), "38 ms");
    }
}
