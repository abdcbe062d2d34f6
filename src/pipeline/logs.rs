//! Reading the function's logs back from Log Service (`fcctl logs`, and the log lines other
//! commands show): where they are (the function's `logConfig`, the cloud's own answer), the
//! search query, paging, and following with backoff. The same code reads the cloud and the
//! emulator; only the SLS endpoint differs.
//!
//! The server narrows with full-text terms every SLS index has (the logstore may index no
//! keys); each line is then checked here, so a filter never depends on how the logstore is
//! indexed.

use std::collections::HashMap;
use std::time::Duration;

use serde::Serialize;
use serde_json::Value;

use crate::aliyun::sls::{GetLogs, LogEntry, MAX_LINES, SlsClient};
use crate::cloud::Cloud;

/// Where a function's logs are: its `logConfig`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LogStoreRef {
    pub project: String,
    pub logstore: String,
    /// FC files the function's lines under topic `FCLogs:<function>`.
    pub function: String,
}

#[derive(Debug, thiserror::Error)]
pub enum LogsError {
    #[error("function {function} has no logConfig: FC stores its output nowhere")]
    NoLogConfig { function: String },
    #[error("no Log Service endpoint is known for this emulator")]
    NoEndpoint,
    #[error("{what}: {source}")]
    Api {
        what: String,
        #[source]
        source: Box<crate::aliyun::Error>,
    },
    #[error("{0:?} is neither a duration (30s, 10m, 2h, 1d) nor an RFC 3339 time")]
    BadTime(String),
}

impl crate::exit::Hint for LogsError {
    fn hint(&self) -> Option<std::borrow::Cow<'_, str>> {
        match self {
            LogsError::NoLogConfig { .. } => Some(
                "set `log: auto` (or `log: {project, logstore}`) in fcctl.yaml and run `fcctl deploy`"
                    .into(),
            ),
            LogsError::NoEndpoint => Some("set FCCTL_SLS_ENDPOINT to its SLS endpoint".into()),
            LogsError::Api { source, .. } if source.is_not_found() => Some(
                "the function's logConfig names a project or logstore that does not exist; `fcctl deploy` with `log: auto` creates them"
                    .into(),
            ),
            LogsError::Api { source, .. } => crate::exit::Hint::hint(source.as_ref()),
            LogsError::BadTime(_) => None,
        }
    }
}

/// What to read.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub request_id: Option<String>,
    /// An instance id or its start (as the human output shortens it).
    pub instance: Option<String>,
    pub qualifier: Option<String>,
    /// Text the message contains (case-insensitive).
    pub grep: Option<String>,
}

/// One log line as `fcctl logs` prints it (its `--json` keys).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LogLine {
    /// RFC 3339: the line's own `time` when it is a JSON line carrying one (milliseconds),
    /// else the second SLS stored it at.
    pub time: String,
    /// `null` for lines of no request (lifecycle).
    pub request_id: Option<String>,
    pub instance_id: Option<String>,
    pub qualifier: Option<String>,
    pub version: Option<String>,
    pub message: String,
    /// The message's fields when it is a JSON object.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fields: Option<serde_json::Map<String, Value>>,
    #[serde(skip)]
    pub unix: i64,
}

impl LogLine {
    pub fn from_entry(e: &LogEntry) -> LogLine {
        let get = |k: &str| e.contents.get(k).filter(|v| !v.is_empty()).cloned();
        let message = get("message").unwrap_or_default();
        let fields = match serde_json::from_str::<Value>(message.trim()) {
            Ok(Value::Object(m)) => Some(m),
            _ => None,
        };
        let field = |k: &str| {
            fields
                .as_ref()
                .and_then(|f| f.get(k))
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(String::from)
        };
        let time = field("time")
            .filter(|t| {
                time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339)
                    .is_ok()
            })
            .unwrap_or_else(|| rfc3339(e.time));
        LogLine {
            time,
            request_id: get("requestId").or_else(|| field("request_id")),
            instance_id: get("instanceID").or_else(|| field("instance_id")),
            qualifier: get("qualifier"),
            version: get("versionId"),
            message,
            fields,
            unix: e.time,
        }
    }

    /// An error line: a JSON line with level error or a 5xx status, or FC's `Error:` lines.
    pub fn is_error(&self) -> bool {
        if let Some(f) = &self.fields {
            let level = f.get("level").and_then(Value::as_str).unwrap_or("");
            let status = f.get("status").and_then(Value::as_u64).unwrap_or(0);
            return level.eq_ignore_ascii_case("error") || status >= 500;
        }
        self.message.contains("Error:") || self.message.contains("ERROR")
    }

    fn passes(&self, f: &Filter) -> bool {
        if let Some(r) = &f.request_id
            && self.request_id.as_deref() != Some(r.as_str())
            && !self.message.contains(r.as_str())
        {
            return false;
        }
        if let Some(i) = &f.instance
            && !self
                .instance_id
                .as_deref()
                .is_some_and(|id| id.starts_with(i.as_str()))
        {
            return false;
        }
        if let Some(q) = &f.qualifier
            && self.qualifier.as_deref() != Some(q.as_str())
            && self.version.as_deref() != Some(q.as_str())
        {
            return false;
        }
        if let Some(g) = &f.grep
            && !self.message.to_lowercase().contains(&g.to_lowercase())
        {
            return false;
        }
        true
    }
}

fn rfc3339(unix: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| unix.to_string())
}

/// The SLS search query for a filter: full-text terms only (see the module doc).
pub fn search_query(f: &Filter) -> String {
    let phrase = |s: &str| format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""));
    let mut terms = Vec::new();
    if let Some(r) = &f.request_id {
        terms.push(phrase(r));
    }
    if let Some(i) = &f.instance {
        // A prefix: the human output prints instance ids shortened.
        let word: String = i
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
            .collect();
        if !word.is_empty() {
            terms.push(format!("{word}*"));
        }
    }
    if let Some(g) = &f.grep {
        terms.push(phrase(g));
    }
    if terms.is_empty() {
        "*".into()
    } else {
        terms.join(" and ")
    }
}

/// `10m`, `30s`, `2h`, `1d` before `now`, or an RFC 3339 time; Unix seconds.
pub fn parse_time(s: &str, now: i64) -> Result<i64, LogsError> {
    let s = s.trim();
    if let Ok(t) = time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339) {
        return Ok(t.unix_timestamp());
    }
    let bad = || LogsError::BadTime(s.to_string());
    let split = s.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
    let (n, unit) = s.split_at(split);
    let n: i64 = n.parse().map_err(|_| bad())?;
    let secs = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86400,
        _ => return Err(bad()),
    };
    Ok(now - n * secs)
}

pub fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// The SLS client and the function's logstore, from its `logConfig` (GetFunction).
pub async fn locate(cloud: &Cloud) -> Result<(SlsClient, LogStoreRef), LogsError> {
    let sls = cloud.infra.sls.clone().ok_or(LogsError::NoEndpoint)?;
    let function = cloud.cfg.function_name().to_string();
    let f = cloud
        .fc
        .get_function(&function, None)
        .await
        .map_err(|e| LogsError::Api {
            what: format!("reading function {function}"),
            source: Box::new(e),
        })?;
    let lc = f.log_config.unwrap_or_default();
    match (lc.project, lc.logstore) {
        (Some(project), Some(logstore)) if !project.is_empty() && !logstore.is_empty() => Ok((
            sls,
            LogStoreRef {
                project,
                logstore,
                function,
            },
        )),
        _ => Err(LogsError::NoLogConfig { function }),
    }
}

/// How many rows one read may scan at most (100 pages): a bound on a broad query.
const MAX_SCAN: u64 = 10_000;

async fn page(sls: &SlsClient, at: &LogStoreRef, q: &GetLogs) -> Result<Vec<LogEntry>, LogsError> {
    let what = || format!("reading logstore {}/{}", at.project, at.logstore);
    // SLS answers `Incomplete` while a query is still running: ask again.
    for attempt in 0..5 {
        let r = sls
            .get_logs(&at.project, &at.logstore, q)
            .await
            .map_err(|e| LogsError::Api {
                what: what(),
                source: Box::new(e),
            })?;
        if r.complete || attempt == 4 {
            return Ok(r.logs);
        }
        tokio::time::sleep(Duration::from_millis(200 * (attempt + 1))).await;
    }
    unreachable!("the loop returns on its last attempt")
}

/// The newest `limit` lines in `[from, to)` that pass the filter, oldest first.
pub async fn recent(
    sls: &SlsClient,
    at: &LogStoreRef,
    filter: &Filter,
    from: i64,
    to: i64,
    limit: usize,
) -> Result<Vec<LogLine>, LogsError> {
    let mut out = Vec::new();
    let mut offset = 0u64;
    let query = search_query(filter);
    while out.len() < limit && offset < MAX_SCAN {
        let q = GetLogs {
            from,
            to: to.max(from + 1),
            query: query.clone(),
            topic: Some(format!("FCLogs:{}", at.function)),
            line: MAX_LINES,
            offset,
            reverse: true,
        };
        let rows = page(sls, at, &q).await?;
        let n = rows.len() as u64;
        out.extend(
            rows.iter()
                .map(LogLine::from_entry)
                .filter(|l| l.passes(filter))
                .take(limit - out.len()),
        );
        if n < u64::from(MAX_LINES) {
            break;
        }
        offset += n;
    }
    out.reverse();
    Ok(out)
}

/// Seconds a poll looks back before the newest line seen: SLS makes a line searchable a
/// moment after it is written, so a late line of an earlier second is still found.
const FOLLOW_LOOKBACK: i64 = 3;

/// Follows the logstore: polls from the newest second seen (a moment back), prints each new
/// line once, and waits 200 ms between polls that found something, doubling to 500 ms while
/// idle (a new line shows within ~1 s) and to 10 s while SLS answers errors.
pub struct Follower {
    filter: Filter,
    query: String,
    cursor: i64,
    /// Lines printed per fingerprint, for the seconds a poll can see again.
    printed: HashMap<u64, (i64, usize)>,
}

impl Follower {
    /// Follows from `since` (the lines before it are not printed).
    pub fn new(filter: Filter, since: i64) -> Follower {
        let query = search_query(&filter);
        Follower {
            filter,
            query,
            cursor: since,
            printed: HashMap::new(),
        }
    }

    /// Marks lines already shown (the `recent` read before following).
    pub fn seen(&mut self, lines: &[LogLine]) {
        for l in lines {
            self.cursor = self.cursor.max(l.unix);
        }
        let mut counts: HashMap<u64, usize> = HashMap::new();
        for l in lines {
            *counts.entry(fingerprint(l)).or_default() += 1;
        }
        for l in lines {
            let k = fingerprint(l);
            self.printed.insert(k, (l.unix, counts[&k]));
        }
    }

    /// One poll: the new lines, oldest first.
    pub async fn poll(
        &mut self,
        sls: &SlsClient,
        at: &LogStoreRef,
    ) -> Result<Vec<LogLine>, LogsError> {
        let from = self.cursor - FOLLOW_LOOKBACK;
        let to = now_unix() + 1;
        let mut rows = Vec::new();
        let mut offset = 0u64;
        while offset < MAX_SCAN {
            let q = GetLogs {
                from,
                to: to.max(from + 1),
                query: self.query.clone(),
                topic: Some(format!("FCLogs:{}", at.function)),
                line: MAX_LINES,
                offset,
                reverse: false,
            };
            let page = page(sls, at, &q).await?;
            let n = page.len() as u64;
            rows.extend(page.iter().map(LogLine::from_entry));
            if n < u64::from(MAX_LINES) {
                break;
            }
            offset += n;
        }
        Ok(self.take_new(rows, from))
    }

    /// The lines of a poll not printed before (by count: two equal lines in one second are
    /// two lines), and forgets what no later poll can return.
    fn take_new(&mut self, rows: Vec<LogLine>, from: i64) -> Vec<LogLine> {
        let mut this_poll: HashMap<u64, usize> = HashMap::new();
        let mut new = Vec::new();
        for l in rows {
            let k = fingerprint(&l);
            let n = this_poll.entry(k).or_default();
            *n += 1;
            let done = self.printed.get(&k).map_or(0, |(_, c)| *c);
            if *n > done {
                self.printed.insert(k, (l.unix, *n));
                self.cursor = self.cursor.max(l.unix);
                if l.passes(&self.filter) {
                    new.push(l);
                }
            }
        }
        let keep_from = from.min(self.cursor - FOLLOW_LOOKBACK);
        self.printed.retain(|_, (t, _)| *t >= keep_from);
        new
    }
}

fn fingerprint(l: &LogLine) -> u64 {
    use std::hash::{Hash as _, Hasher as _};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    (
        l.unix,
        &l.request_id,
        &l.instance_id,
        &l.qualifier,
        &l.version,
        &l.message,
    )
        .hash(&mut h);
    h.finish()
}

/// The poll interval after a poll: short after news, doubling to `IDLE_MAX` when idle.
pub fn next_interval(current: Duration, found: bool) -> Duration {
    const FIRST: Duration = Duration::from_millis(200);
    const IDLE_MAX: Duration = Duration::from_millis(500);
    if found {
        FIRST
    } else {
        (current * 2).clamp(FIRST, IDLE_MAX)
    }
}

/// After a failed poll: doubling from 1 s to 10 s.
pub fn error_backoff(current: Duration) -> Duration {
    (current * 2).clamp(Duration::from_secs(1), Duration::from_secs(10))
}

/// The lines of one request (best effort: a function without logs has none), for commands
/// that explain a failed request.
pub async fn request_lines(
    cloud: &Cloud,
    request_id: &str,
    since: i64,
) -> Result<Vec<LogLine>, LogsError> {
    let (sls, at) = locate(cloud).await?;
    let filter = Filter {
        request_id: Some(request_id.to_string()),
        ..Filter::default()
    };
    recent(&sls, &at, &filter, since, now_unix() + 1, 50).await
}

/// A failure the logs recorded, as `status` shows it: a failed `/initialize`, or an instance
/// killed for exceeding its memory.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LoggedFailure {
    pub time: String,
    pub version: Option<String>,
    /// The request it concerned (`null` for an instance killed while idle).
    pub request_id: Option<String>,
    pub instance_id: Option<String>,
    /// The cause as logged (FC's `Error:` text, or the function's own message).
    pub cause: String,
}

impl LoggedFailure {
    fn at(l: &LogLine, cause: &str) -> LoggedFailure {
        LoggedFailure {
            time: l.time.clone(),
            version: l.version.clone(),
            request_id: l.request_id.clone(),
            instance_id: l.instance_id.clone(),
            cause: cause.to_string(),
        }
    }

    /// FC's platform line (`FC Initialize End RequestId: …, Error: …`) or the function's own
    /// `initialize` line at level error.
    fn initialize(l: &LogLine) -> Option<LoggedFailure> {
        if let Some(f) = &l.fields {
            let own = f.get("event").and_then(Value::as_str) == Some("initialize")
                && f.get("level").and_then(Value::as_str) == Some("error");
            if !own {
                return None;
            }
            let cause = f
                .get("message")
                .or_else(|| f.get("error"))
                .and_then(Value::as_str)
                .unwrap_or("");
            return Some(LoggedFailure::at(l, cause));
        }
        let (_, cause) = l
            .message
            .split_once("FC Initialize End")
            .and_then(|(_, rest)| rest.split_once("Error:"))?;
        Some(LoggedFailure::at(l, cause.trim()))
    }

    /// A platform line (`FC Invoke End …, Error: …` or `FC Instance Killed …, Error: …`) whose
    /// error says OOM.
    fn out_of_memory(l: &LogLine) -> Option<LoggedFailure> {
        if l.fields.is_some() {
            return None;
        }
        let (_, rest) = l
            .message
            .split_once("FC Invoke End")
            .or_else(|| l.message.split_once("FC Instance Killed"))?;
        let (_, cause) = rest.split_once("Error:")?;
        cause
            .contains("OOM")
            .then(|| LoggedFailure::at(l, cause.trim()))
    }
}

/// The newest failures of `version` (or a qualifier) since `since` that `status` reports.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RecentFailures {
    pub initialize: Option<LoggedFailure>,
    pub out_of_memory: Option<LoggedFailure>,
}

/// Reads [`RecentFailures`], finding the function's logstore once for both searches.
pub async fn recent_failures(
    cloud: &Cloud,
    version: &str,
    since: i64,
) -> Result<RecentFailures, LogsError> {
    let (sls, at) = locate(cloud).await?;
    let newest = async |grep: &str, of: fn(&LogLine) -> Option<LoggedFailure>| {
        let filter = Filter {
            qualifier: Some(version.to_string()),
            grep: Some(grep.into()),
            ..Filter::default()
        };
        let hits = recent(&sls, &at, &filter, since, now_unix() + 1, 100).await?;
        Ok::<_, LogsError>(hits.iter().rev().find_map(of))
    };
    Ok(RecentFailures {
        initialize: newest("initialize", LoggedFailure::initialize).await?,
        out_of_memory: newest("OOM", LoggedFailure::out_of_memory).await?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn entry(time: i64, contents: &[(&str, &str)]) -> LogEntry {
        LogEntry {
            time,
            source: String::new(),
            topic: "FCLogs:f".into(),
            contents: contents
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<BTreeMap<_, _>>(),
        }
    }

    #[test]
    fn a_json_line_gives_its_time_and_request_a_plain_line_the_stored_ones() {
        let access = entry(
            1_716_193_801,
            &[
                ("instanceID", "c-0123456789abcdef"),
                ("qualifier", "prod"),
                ("versionId", "3"),
                (
                    "message",
                    r#"{"time":"2024-05-20T08:30:01.250Z","request_id":"1-abc","status":200,"label":"dog"}"#,
                ),
            ],
        );
        let l = LogLine::from_entry(&access);
        assert_eq!(l.time, "2024-05-20T08:30:01.250Z");
        assert_eq!(l.request_id.as_deref(), Some("1-abc"));
        assert_eq!(l.fields.as_ref().unwrap()["label"], "dog");
        assert!(!l.is_error());
        let v = serde_json::to_value(&l).unwrap();
        for k in ["time", "request_id", "instance_id", "qualifier", "message"] {
            assert!(v.get(k).is_some(), "{k} in {v}");
        }
        let plain = LogLine::from_entry(&entry(
            1_716_193_802,
            &[(
                "message",
                "FC Initialize End RequestId: 1-x, Error: initializer returned 500",
            )],
        ));
        assert_eq!(plain.time, "2024-05-20T08:30:02Z");
        assert_eq!(plain.request_id, None);
        assert!(plain.is_error());
        assert_eq!(
            serde_json::to_value(&plain).unwrap()["request_id"],
            Value::Null
        );
    }

    #[test]
    fn filters_become_full_text_terms_and_are_checked_per_line() {
        assert_eq!(search_query(&Filter::default()), "*");
        let f = Filter {
            request_id: Some("1-abc".into()),
            instance: Some("c-01234567".into()),
            qualifier: Some("prod".into()),
            grep: Some("say \"hi\"".into()),
        };
        assert_eq!(
            search_query(&f),
            r#""1-abc" and c-01234567* and "say \"hi\"""#
        );
        let line = |rid: &str, inst: &str, q: &str, msg: &str| {
            LogLine::from_entry(&entry(
                1,
                &[
                    ("requestId", rid),
                    ("instanceID", inst),
                    ("qualifier", q),
                    ("message", msg),
                ],
            ))
        };
        assert!(line("1-abc", "c-0123456789", "prod", "they SAY \"HI\"").passes(&f));
        assert!(!line("1-abd", "c-0123456789", "prod", "say \"hi\"").passes(&f));
        assert!(!line("1-abc", "c-9", "prod", "say \"hi\"").passes(&f));
        assert!(!line("1-abc", "c-0123456789", "LATEST", "say \"hi\"").passes(&f));
    }

    #[test]
    fn initialize_failures_are_fc_platform_lines_or_the_functions_own() {
        let l = |m: &str| {
            LogLine::from_entry(&entry(
                1,
                &[("requestId", "1-i"), ("versionId", "2"), ("message", m)],
            ))
        };
        let fc = LoggedFailure::initialize(&l(
            "FC Initialize End RequestId: 1-i, Error: initializer returned 500: model load failed",
        ))
        .unwrap();
        assert_eq!(fc.cause, "initializer returned 500: model load failed");
        assert_eq!(
            (fc.request_id.as_deref(), fc.version.as_deref()),
            (Some("1-i"), Some("2"))
        );
        let own = LoggedFailure::initialize(&l(
            r#"{"event":"initialize","level":"error","status":503,"message":"sha256 mismatch"}"#,
        ))
        .unwrap();
        assert_eq!(own.cause, "sha256 mismatch");
        assert!(LoggedFailure::initialize(&l("FC Initialize End RequestId: 1-i")).is_none());
        assert!(
            LoggedFailure::initialize(&l(r#"{"event":"initialize","level":"info"}"#)).is_none()
        );
    }

    #[test]
    fn times_are_durations_back_from_now_or_rfc3339() {
        assert_eq!(parse_time("10m", 10_000).unwrap(), 9_400);
        assert_eq!(parse_time("2h", 10_000).unwrap(), 10_000 - 7200);
        assert_eq!(
            parse_time("2024-05-20T08:30:00Z", 0).unwrap(),
            1_716_193_800
        );
        for bad in ["10", "m", "10 minutes", "yesterday"] {
            assert!(parse_time(bad, 0).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_follower_prints_each_line_once_even_equal_lines_in_one_second() {
        let mut f = Follower::new(Filter::default(), 100);
        let l = |t: i64, m: &str| LogLine::from_entry(&entry(t, &[("message", m)]));
        let first = f.take_new(vec![l(100, "a"), l(101, "b"), l(101, "b")], 97);
        assert_eq!(first.len(), 3);
        // The next poll sees them again, plus a third "b" and a new line.
        let again = f.take_new(
            vec![
                l(100, "a"),
                l(101, "b"),
                l(101, "b"),
                l(101, "b"),
                l(102, "c"),
            ],
            98,
        );
        let msgs: Vec<&str> = again.iter().map(|l| l.message.as_str()).collect();
        assert_eq!(msgs, ["b", "c"]);
        assert_eq!(f.cursor, 102);
        assert!(f.take_new(vec![l(102, "c")], 99).is_empty());
    }

    #[test]
    fn polling_backs_off_while_idle_and_on_errors() {
        let mut d = Duration::from_millis(200);
        for _ in 0..5 {
            d = next_interval(d, false);
        }
        assert_eq!(d, Duration::from_millis(500), "idle polls stay under 1 s");
        assert_eq!(next_interval(d, true), Duration::from_millis(200));
        let mut e = Duration::ZERO;
        e = error_backoff(e);
        assert_eq!(e, Duration::from_secs(1));
        for _ in 0..10 {
            e = error_backoff(e);
        }
        assert_eq!(e, Duration::from_secs(10));
    }
}
