//! What an instance prints: its stdout and stderr read line by line, as FC's runtime does,
//! into the instance's log file (start-up errors quote its tail) and into the SLS logstore
//! of the function's `logConfig` when that project and logstore exist (FC stores nothing
//! without one). Each line is tagged with function, qualifier, version, instance id and,
//! when known, the request it belongs to; lines of a request asked for with
//! `x-fc-log-type: Tail` are kept for `x-fc-log-result`.
//!
//! The pipes are read without blocking under one lock, by the reader task and by
//! [`Capture::flush`] alike, so after `flush` every byte the instance wrote before it is
//! stored: a response's log tail never misses a line printed before the response.

use crate::sls_store::{LogRecord, Store as SlsStore};
use std::collections::HashMap;
use std::io::Write as _;
use std::path::Path;
use std::sync::{Arc, Mutex};
use tokio::net::unix::pipe::Receiver;

/// FC returns the last 4 KB of a request's log in `x-fc-log-result` (docs/cloud-facts.md).
pub const TAIL_BYTES: usize = 4096;
/// A longer line is cut into pieces of this size (SLS keeps a value up to 1 MiB; an instance
/// printing without newlines must not grow the emulator's memory).
const MAX_LINE: usize = 16 << 10;

/// The tags of every line of one instance.
#[derive(Debug, Clone)]
pub struct Origin {
    pub function: String,
    pub qualifier: String,
    pub version: String,
    pub instance_id: String,
    /// `logConfig` `(project, logstore)`, when the function has one.
    pub logstore: Option<(String, String)>,
}

impl Origin {
    pub fn of(t: &crate::runtime::Target, instance_id: &str) -> Origin {
        let lc = &t.config["logConfig"];
        let name = |k: &str| lc[k].as_str().filter(|s| !s.is_empty()).map(String::from);
        Origin {
            function: t.function.clone(),
            qualifier: t.qualifier.clone(),
            version: t.version.clone(),
            instance_id: instance_id.to_string(),
            logstore: name("project").zip(name("logstore")),
        }
    }
}

pub struct Capture {
    origin: Origin,
    sls: Arc<SlsStore>,
    out: Option<Receiver>,
    err: Option<Receiver>,
    state: Mutex<State>,
}

/// What is read of one pipe: the unfinished last line, and whether it is still open.
struct Stream {
    open: bool,
    partial: Vec<u8>,
}

struct State {
    out: Stream,
    err: Stream,
    file: Option<std::fs::File>,
    /// Requests in flight on the instance, oldest first: a line that names no request
    /// belongs to the only one, if there is exactly one.
    inflight: Vec<String>,
    /// Lines kept for requests that asked for their log tail.
    tails: HashMap<String, Vec<u8>>,
}

impl Capture {
    /// Takes the child's stdout and stderr (spawned with `Stdio::piped()`) and starts the
    /// reader task.
    pub fn start(
        origin: Origin,
        sls: Arc<SlsStore>,
        child: &mut tokio::process::Child,
        log_path: &Path,
    ) -> std::io::Result<Arc<Capture>> {
        let pipe = |fd: Option<std::os::fd::OwnedFd>| fd.map(Receiver::from_owned_fd).transpose();
        let out = pipe(child.stdout.take().map(|s| s.into_owned_fd()).transpose()?)?;
        let err = pipe(child.stderr.take().map(|s| s.into_owned_fd()).transpose()?)?;
        let file = std::fs::File::create(log_path)?;
        let c = Arc::new(Capture {
            origin,
            sls,
            state: Mutex::new(State {
                out: Stream {
                    open: out.is_some(),
                    partial: Vec::new(),
                },
                err: Stream {
                    open: err.is_some(),
                    partial: Vec::new(),
                },
                file: Some(file),
                inflight: Vec::new(),
                tails: HashMap::new(),
            }),
            out,
            err,
        });
        tokio::spawn(c.clone().read_until_closed());
        Ok(c)
    }

    async fn read_until_closed(self: Arc<Self>) {
        loop {
            let (out_open, err_open) = {
                let st = self.state.lock().unwrap();
                (st.out.open, st.err.open)
            };
            // Readiness is awaited without the lock; reading happens under it (`flush`).
            match (&self.out, &self.err, out_open, err_open) {
                (Some(o), Some(e), true, true) => {
                    tokio::select! {
                        _ = o.readable() => {}
                        _ = e.readable() => {}
                    }
                }
                (Some(o), _, true, _) => {
                    let _ = o.readable().await;
                }
                (_, Some(e), _, true) => {
                    let _ = e.readable().await;
                }
                _ => return,
            }
            self.flush();
        }
    }

    /// Reads whatever the pipes hold now and stores every complete line.
    pub fn flush(&self) {
        let mut st = self.state.lock().unwrap();
        let mut lines: Vec<String> = Vec::new();
        let st_ref = &mut *st;
        for (stream, pipe) in [(&mut st_ref.out, &self.out), (&mut st_ref.err, &self.err)] {
            let mut buf = [0u8; 16 << 10];
            while let Some(p) = pipe.as_ref().filter(|_| stream.open) {
                match p.try_read(&mut buf) {
                    Ok(0) => {
                        stream.open = false;
                        if !stream.partial.is_empty() {
                            let rest = std::mem::take(&mut stream.partial);
                            lines.push(String::from_utf8_lossy(&rest).into_owned());
                        }
                    }
                    Ok(n) => {
                        stream.partial.extend_from_slice(&buf[..n]);
                        split_lines(&mut stream.partial, |l| lines.push(l));
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(_) => stream.open = false,
                }
            }
        }
        if lines.is_empty() {
            return;
        }
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        let mut records = Vec::with_capacity(lines.len());
        for line in lines {
            let rid = request_of(&line).unwrap_or_else(|| match st.inflight.as_slice() {
                [only] => Some(only.clone()),
                _ => None,
            });
            if let Some(f) = st.file.as_mut() {
                let _ = writeln!(f, "{line}");
            }
            if let Some(r) = &rid
                && let Some(t) = st.tails.get_mut(r)
            {
                t.extend_from_slice(line.as_bytes());
                t.push(b'\n');
                if t.len() > 4 * TAIL_BYTES {
                    t.drain(..t.len() - TAIL_BYTES);
                }
            }
            records.push(self.record(now, line, rid));
        }
        drop(st);
        self.store(&records);
    }

    fn record(&self, now: std::time::Duration, message: String, rid: Option<String>) -> LogRecord {
        let o = &self.origin;
        let mut contents = vec![
            ("functionName".to_string(), o.function.clone()),
            ("qualifier".to_string(), o.qualifier.clone()),
            ("versionId".to_string(), o.version.clone()),
            ("instanceID".to_string(), o.instance_id.clone()),
        ];
        if let Some(r) = rid {
            contents.push(("requestId".to_string(), r));
        }
        contents.push(("message".to_string(), message));
        LogRecord {
            time: now.as_secs() as u32,
            time_ns: now.subsec_nanos(),
            topic: format!("FCLogs:{}", o.function),
            source: String::new(),
            tags: Vec::new(),
            contents,
        }
    }

    /// Appends to the function's logstore; a missing project or logstore stores nothing,
    /// as on FC.
    fn store(&self, records: &[LogRecord]) {
        if let Some((project, logstore)) = &self.origin.logstore
            && let Err(e) = self.sls.append(project, logstore, records)
            && e.status >= 500
        {
            tracing::warn!(instance = %self.origin.instance_id, "storing function logs: {}", e.message);
        }
    }

    /// A line the emulator itself logs for the instance (FC's platform lines: an
    /// initializer that failed, an invocation that timed out).
    pub fn platform_line(&self, message: String, request_id: Option<&str>) {
        self.flush();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        {
            let mut st = self.state.lock().unwrap();
            if let Some(f) = st.file.as_mut() {
                let _ = writeln!(f, "{message}");
            }
            if let Some(r) = request_id
                && let Some(t) = st.tails.get_mut(r)
            {
                t.extend_from_slice(message.as_bytes());
                t.push(b'\n');
            }
        }
        let rec = self.record(now, message, request_id.map(String::from));
        self.store(&[rec]);
    }

    /// A request starts on the instance; with `tail`, its lines are kept for
    /// [`Capture::end`].
    pub fn begin(&self, request_id: &str, tail: bool) {
        let mut st = self.state.lock().unwrap();
        st.inflight.push(request_id.to_string());
        if tail {
            st.tails.insert(request_id.to_string(), Vec::new());
        }
    }

    /// The request is answered: everything it printed is stored; returns its last
    /// [`TAIL_BYTES`] of log when it asked for them.
    pub fn end(&self, request_id: &str) -> Option<Vec<u8>> {
        self.flush();
        let mut st = self.state.lock().unwrap();
        st.inflight.retain(|r| r != request_id);
        st.tails.remove(request_id).map(|t| tail_of(&t))
    }
}

/// The last [`TAIL_BYTES`] of `log`, starting at a line (or at least a character) boundary.
pub fn tail_of(log: &[u8]) -> Vec<u8> {
    if log.len() <= TAIL_BYTES {
        return log.to_vec();
    }
    let cut = &log[log.len() - TAIL_BYTES..];
    match cut.iter().position(|&b| b == b'\n') {
        Some(i) if i + 1 < cut.len() => cut[i + 1..].to_vec(),
        _ => {
            let start = cut.iter().position(|&b| (b & 0xC0) != 0x80).unwrap_or(0);
            cut[start..].to_vec()
        }
    }
}

/// Moves every complete line (and pieces of [`MAX_LINE`] of an overlong one) out of `buf`.
fn split_lines(buf: &mut Vec<u8>, mut emit: impl FnMut(String)) {
    let mut start = 0;
    while let Some(i) = buf[start..].iter().position(|&b| b == b'\n') {
        let mut line = &buf[start..start + i];
        if line.last() == Some(&b'\r') {
            line = &line[..line.len() - 1];
        }
        for piece in line.chunks(MAX_LINE) {
            emit(String::from_utf8_lossy(piece).into_owned());
        }
        start += i + 1;
    }
    buf.drain(..start);
    while buf.len() >= MAX_LINE {
        let piece: Vec<u8> = buf.drain(..MAX_LINE).collect();
        emit(String::from_utf8_lossy(&piece).into_owned());
    }
}

/// The request a JSON line names (`request_id` or FC's `requestId`): `Some(None)` when it
/// names none on purpose (a lifecycle line with `"request_id": null`), `None` when the line
/// says nothing about it.
fn request_of(line: &str) -> Option<Option<String>> {
    let t = line.trim_start();
    if !t.starts_with('{') {
        return None;
    }
    let v: serde_json::Value = serde_json::from_str(t).ok()?;
    let field = v.get("request_id").or_else(|| v.get("requestId"))?;
    Some(field.as_str().filter(|s| !s.is_empty()).map(String::from))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_split_and_an_overlong_one_is_cut() {
        let mut buf = b"one\r\ntwo\nthr".to_vec();
        let mut got = Vec::new();
        split_lines(&mut buf, |l| got.push(l));
        assert_eq!(got, ["one", "two"]);
        assert_eq!(buf, b"thr", "the unfinished line waits for its newline");
        let mut buf = vec![b'x'; MAX_LINE * 2 + 3];
        got.clear();
        split_lines(&mut buf, |l| got.push(l));
        assert_eq!(got.len(), 2);
        assert_eq!(buf.len(), 3);
    }

    #[test]
    fn the_tail_is_the_last_4_kb_from_a_line_start() {
        let log: Vec<u8> = (0..200)
            .flat_map(|i| format!("line {i:03} {}\n", "y".repeat(40)).into_bytes())
            .collect();
        let t = tail_of(&log);
        assert!(
            t.len() <= TAIL_BYTES && t.len() > TAIL_BYTES - 60,
            "{}",
            t.len()
        );
        assert!(
            t.starts_with(b"line "),
            "{}",
            String::from_utf8_lossy(&t[..20])
        );
        assert!(t.ends_with(b"line 199 yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy\n"));
        assert_eq!(tail_of(b"short\n"), b"short\n");
    }

    #[test]
    fn a_json_line_names_its_request_or_none() {
        assert_eq!(
            request_of(r#"{"request_id":"1-a","status":200}"#),
            Some(Some("1-a".into()))
        );
        assert_eq!(
            request_of(r#"{"requestId":"1-b"}"#),
            Some(Some("1-b".into()))
        );
        assert_eq!(
            request_of(r#"{"event":"start","request_id":null}"#),
            Some(None)
        );
        assert_eq!(request_of(r#"{"event":"start"}"#), None);
        assert_eq!(request_of("plain text 1-a"), None);
    }
}
