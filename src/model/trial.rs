//! One trial of the built function on this machine: the binary `fcctl build` packaged as
//! `bootstrap`, the NAS tree's model and ONNX Runtime, `POST /initialize`, then `POST /invoke`
//! with a sample image. The same code and runtime the instance will run, so a model that cannot
//! load fails here in seconds instead of on FC after the initializer timeout.

use std::io::{Read as _, Write as _};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde::Serialize;

/// What to run.
#[derive(Debug, Clone)]
pub struct Trial {
    /// The function binary (`bootstrap`).
    pub binary: PathBuf,
    /// `MODEL_DIR`: the NAS tree's `model/`.
    pub model_dir: PathBuf,
    /// `ORT_DYLIB_PATH`: the NAS tree's `lib/libonnxruntime.so`.
    pub ort_lib: PathBuf,
    /// The sample image for `/invoke` (`bench.images[0]`); `None`: `/initialize` only.
    pub image: Option<PathBuf>,
    /// Bound on `/initialize` (the function's `initializer_timeout_s`).
    pub init_timeout: Duration,
    /// Where the function's output is kept (`model-trial.log`).
    pub log: PathBuf,
}

/// What the trial saw (`trial` in `fcctl model check --json`).
#[derive(Debug, Clone, Serialize)]
pub struct TrialReport {
    /// Start to `/initialize` answered, in ms (process start and model load).
    pub initialize_ms: u64,
    /// The label `/invoke` answered, when an image was sent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image: Option<PathBuf>,
}

/// The trial failed: where, what the function answered and what it printed.
#[derive(Debug, thiserror::Error)]
#[error(
    "trial run of the function failed at {stage}: {detail}{}",
    output_block(.output, .log)
)]
pub struct TrialError {
    /// `start`, `POST /initialize` or `POST /invoke`.
    pub stage: String,
    /// Status and body, or why no answer came.
    pub detail: String,
    /// The last lines the function printed.
    pub output: String,
    pub log: PathBuf,
}

fn output_block(output: &str, log: &Path) -> String {
    if output.trim().is_empty() {
        return format!(" (the function printed nothing; {})", log.display());
    }
    let mut s = format!("\n  function output (last lines of {}):", log.display());
    for l in output.lines() {
        s.push_str("\n    | ");
        s.push_str(l);
    }
    s
}

impl crate::exit::Hint for TrialError {
    fn hint(&self) -> Option<std::borrow::Cow<'_, str>> {
        Some(
            "an FC instance would fail the same way: fix the model or model.yaml and build \
             again (`fcctl model check` repeats just this check); `--no-trial` skips it"
                .into(),
        )
    }
}

/// Largest answer read from the function: its answers are small JSON documents.
const MAX_ANSWER: u64 = 1 << 20;
/// How long the process may take to listen (the model loads in the background meanwhile).
const START_TIMEOUT: Duration = Duration::from_secs(20);
/// How long one classification may take.
const INVOKE_TIMEOUT: Duration = Duration::from_secs(60);

/// Kills the function however the trial ends.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs the trial; the function is killed before this returns.
pub fn run(t: &Trial) -> Result<TrialReport, TrialError> {
    let fail = |stage: &str, detail: String| TrialError {
        stage: stage.into(),
        detail,
        output: tail(&t.log),
        log: t.log.clone(),
    };
    let image = match &t.image {
        Some(p) => Some(
            crate::fsutil::read_capped(p, crate::fsutil::MAX_REQUEST_BODY, "sample image")
                .map_err(|e| fail("reading the sample image", e.to_string()))?,
        ),
        None => None,
    };
    let log = std::fs::File::create(&t.log)
        .map_err(|e| fail("start", format!("cannot create {}: {e}", t.log.display())))?;
    let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .map_err(|e| fail("start", format!("no free port on 127.0.0.1: {e}")))?
        .port();
    let started = Instant::now();
    let child = Command::new(&t.binary)
        // Only what FC gives the instance and fcctl sets on it: nothing of this shell leaks in.
        .env_clear()
        .env(fcctl_protocol::env::MODEL_DIR, &t.model_dir)
        .env("ORT_DYLIB_PATH", &t.ort_lib)
        .env("ORT_DISABLE_TELEMETRY", "1")
        .env(fcctl_protocol::env::LISTEN_PORT, port.to_string())
        .env(fcctl_protocol::env::LISTEN_HOST, "127.0.0.1")
        .stdin(Stdio::null())
        .stdout(log.try_clone().map_err(|e| fail("start", e.to_string()))?)
        .stderr(log)
        .spawn()
        .map_err(|e| fail("start", format!("cannot run {}: {e}", t.binary.display())))?;
    let mut running = Running(child);
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    loop {
        if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            break;
        }
        if let Ok(Some(status)) = running.0.try_wait() {
            return Err(fail("start", format!("the function exited ({status})")));
        }
        if started.elapsed() > START_TIMEOUT {
            return Err(fail(
                "start",
                format!("not listening on {addr} after {}s", START_TIMEOUT.as_secs()),
            ));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let (status, body) =
        post(addr, "/initialize", &[], t.init_timeout).map_err(|e| fail("POST /initialize", e))?;
    if status != 200 {
        return Err(fail(
            "POST /initialize",
            format!("HTTP {status}: {}", shown(&body)),
        ));
    }
    let initialize_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    let label = match &image {
        None => None,
        Some(bytes) => {
            let (status, body) = post(addr, "/invoke", bytes, INVOKE_TIMEOUT)
                .map_err(|e| fail("POST /invoke", e))?;
            let label = serde_json::from_slice::<serde_json::Value>(&body)
                .ok()
                .and_then(|v| v.get("label")?.as_str().map(str::to_string));
            match label {
                Some(l) if status == 200 => Some(l),
                _ => {
                    return Err(fail(
                        "POST /invoke",
                        format!(
                            "HTTP {status}{}: {}",
                            if status == 200 {
                                " without a `label`"
                            } else {
                                ""
                            },
                            shown(&body)
                        ),
                    ));
                }
            }
        }
    };
    drop(running);
    Ok(TrialReport {
        initialize_ms,
        label,
        image: t.image.clone(),
    })
}

fn shown(body: &[u8]) -> String {
    let s = String::from_utf8_lossy(body);
    let s = s.trim();
    match s.char_indices().nth(600) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}

/// The last 20 lines (at most 4 KB) of the function's output.
fn tail(log: &Path) -> String {
    let Ok(bytes) = std::fs::read(log) else {
        return String::new();
    };
    let start = bytes.len().saturating_sub(4096);
    let text = String::from_utf8_lossy(&bytes[start..]);
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}

/// One HTTP/1.1 request on its own connection; the status and body of the answer.
fn post(
    addr: SocketAddr,
    path: &str,
    body: &[u8],
    timeout: Duration,
) -> Result<(u16, Vec<u8>), String> {
    let mut s = TcpStream::connect_timeout(&addr, timeout).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(timeout))
        .map_err(|e| e.to_string())?;
    s.set_write_timeout(Some(timeout))
        .map_err(|e| e.to_string())?;
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/octet-stream\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes())
        .and_then(|()| s.write_all(body))
        .map_err(|e| format!("sending the request: {e}"))?;
    let mut raw = Vec::new();
    s.take(MAX_ANSWER)
        .read_to_end(&mut raw)
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut => {
                format!("no answer within {}s", timeout.as_secs())
            }
            _ => format!("reading the answer: {e}"),
        })?;
    parse_answer(&raw)
}

fn parse_answer(raw: &[u8]) -> Result<(u16, Vec<u8>), String> {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut resp = httparse::Response::new(&mut headers);
    let head_len = match resp.parse(raw) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) if raw.is_empty() => {
            return Err("the connection closed without an answer".into());
        }
        Ok(httparse::Status::Partial) => return Err("the answer was cut off".into()),
        Err(e) => return Err(format!("not an HTTP answer: {e}")),
    };
    let status = resp.code.unwrap_or(0);
    let chunked = resp.headers.iter().any(|h| {
        h.name.eq_ignore_ascii_case("transfer-encoding")
            && String::from_utf8_lossy(h.value)
                .to_ascii_lowercase()
                .contains("chunked")
    });
    let body = &raw[head_len..];
    Ok((
        status,
        if chunked {
            dechunk(body)
        } else {
            body.to_vec()
        },
    ))
}

fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(eol) = b.windows(2).position(|w| w == b"\r\n") {
        let size = std::str::from_utf8(&b[..eol])
            .ok()
            .and_then(|s| usize::from_str_radix(s.split(';').next()?.trim(), 16).ok());
        let Some(size) = size.filter(|n| *n > 0) else {
            break;
        };
        let data = &b[eol + 2..];
        let take = size.min(data.len());
        out.extend_from_slice(&data[..take]);
        b = data.get(take + 2..).unwrap_or(&[]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_with_length_or_chunks() {
        let (s, b) = parse_answer(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}").unwrap();
        assert_eq!((s, b.as_slice()), (200, &b"{}"[..]));
        let (s, b) = parse_answer(
            b"HTTP/1.1 500 Internal Server Error\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n",
        )
        .unwrap();
        assert_eq!((s, b.as_slice()), (500, &b"abcde"[..]));
        assert!(parse_answer(b"").unwrap_err().contains("without an answer"));
    }
}
