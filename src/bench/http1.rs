//! A minimal HTTP/1.1 client for load generation: one keep-alive connection per
//! worker, driven inline by the worker's own task (no connection task, no channel, no
//! pool), the request pre-serialised once, the response head parsed with `httparse` and
//! the body discarded while counted (Content-Length, chunked, or until close).
//! This is what lets one core issue tens of thousands of requests per second, where a
//! general-purpose client spends most of its time in task hand-offs.

use std::collections::HashSet;
use std::io;
use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;

use super::cold::HeaderInfo;

const BUF: usize = 16 * 1024;
const MAX_HEADERS: usize = 100;
/// Largest response head accepted.
const MAX_HEAD: usize = 64 * 1024;

#[derive(Debug)]
pub(crate) enum ExchangeError {
    /// A reused connection was closed before any response byte: safe to retry once.
    Stale,
    Io,
    Protocol,
}

pub(crate) struct Response {
    pub status: u16,
    pub first_byte: Instant,
    pub body_bytes: u64,
    pub info: HeaderInfo,
    /// Instance id, when present and not already in the `known` set.
    pub new_instance: Option<String>,
    pub keep_alive: bool,
}

pub(crate) struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// Responses completed on this connection.
    pub served: u64,
}

pub(crate) async fn connect(addrs: &[SocketAddr]) -> io::Result<Conn> {
    let stream = TcpStream::connect(addrs).await?;
    let _ = stream.set_nodelay(true);
    Ok(Conn {
        stream,
        buf: vec![0; BUF],
        start: 0,
        end: 0,
        served: 0,
    })
}

impl Conn {
    /// Read more bytes into the buffer; returns how many (0 = EOF).
    async fn fill(&mut self) -> io::Result<usize> {
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        } else if self.end == self.buf.len() {
            if self.start > 0 {
                self.buf.copy_within(self.start..self.end, 0);
                self.end -= self.start;
                self.start = 0;
            } else {
                let n = self.buf.len() * 2;
                self.buf.resize(n, 0);
            }
        }
        let n = self.stream.read(&mut self.buf[self.end..]).await?;
        self.end += n;
        Ok(n)
    }

    /// Discard exactly `n` body bytes.
    async fn skip(&mut self, mut n: u64) -> Result<(), ExchangeError> {
        loop {
            let available = self.end - self.start;
            let take = usize::try_from(n).map_or(available, |n| n.min(available));
            self.start += take;
            n -= take as u64;
            if n == 0 {
                return Ok(());
            }
            if self.fill().await.map_err(|_| ExchangeError::Io)? == 0 {
                return Err(ExchangeError::Protocol);
            }
        }
    }

    /// Consume one CRLF-terminated line (chunk trailers); returns its length without CRLF.
    async fn read_line(&mut self) -> Result<usize, ExchangeError> {
        loop {
            if let Some(p) = self.buf[self.start..self.end]
                .windows(2)
                .position(|w| w == b"\r\n")
            {
                self.start += p + 2;
                return Ok(p);
            }
            if self.end - self.start > MAX_HEAD {
                return Err(ExchangeError::Protocol);
            }
            if self.fill().await.map_err(|_| ExchangeError::Io)? == 0 {
                return Err(ExchangeError::Protocol);
            }
        }
    }

    /// Send `request` (complete, pre-serialised) and read the whole response.
    pub async fn exchange(
        &mut self,
        request: &[u8],
        known: &HashSet<String>,
    ) -> Result<Response, ExchangeError> {
        let reused = self.served > 0;
        if self.stream.write_all(request).await.is_err() {
            return Err(if reused {
                ExchangeError::Stale
            } else {
                ExchangeError::Io
            });
        }
        let head = self.read_head(reused, known).await?;
        let first_byte = Instant::now();
        let (body_bytes, keep_alive) = self.read_body(&head).await?;
        self.served += 1;
        Ok(Response {
            status: head.status,
            first_byte,
            body_bytes,
            info: head.info,
            new_instance: head.new_instance,
            keep_alive,
        })
    }

    /// Read the response head, skipping 1xx interim responses. On a reused connection
    /// that yields no byte at all the error is `Stale`: the server had closed it.
    async fn read_head(
        &mut self,
        reused: bool,
        known: &HashSet<String>,
    ) -> Result<Head, ExchangeError> {
        let mut got_any = self.end > self.start;
        loop {
            if let Some((n, head)) = parse_head(&self.buf[self.start..self.end], known)? {
                self.start += n;
                if (100..200).contains(&head.status) && head.status != 101 {
                    continue;
                }
                return Ok(head);
            }
            if self.end - self.start > MAX_HEAD {
                return Err(ExchangeError::Protocol);
            }
            match self.fill().await {
                Ok(0) | Err(_) if !got_any => {
                    return Err(if reused {
                        ExchangeError::Stale
                    } else {
                        ExchangeError::Io
                    });
                }
                Ok(0) => return Err(ExchangeError::Protocol),
                Err(_) => return Err(ExchangeError::Io),
                Ok(_) => got_any = true,
            }
        }
    }

    /// Read and count the body; returns its length and whether the connection can be
    /// reused.
    async fn read_body(&mut self, head: &Head) -> Result<(u64, bool), ExchangeError> {
        if head.status == 204 || head.status == 304 {
            Ok((0, head.keep_alive))
        } else if head.chunked {
            Ok((self.read_chunked().await?, head.keep_alive))
        } else if let Some(len) = head.length {
            self.skip(len).await?;
            Ok((len, head.keep_alive))
        } else {
            Ok((self.read_until_close().await?, false))
        }
    }

    async fn read_chunked(&mut self) -> Result<u64, ExchangeError> {
        let mut body_bytes = 0u64;
        loop {
            let size = self.chunk_size().await?;
            if size == 0 {
                // Trailers until the empty line.
                while self.read_line().await? > 0 {}
                return Ok(body_bytes);
            }
            self.skip(size).await?;
            body_bytes += size;
            if self.read_line().await? != 0 {
                return Err(ExchangeError::Protocol);
            }
        }
    }

    async fn chunk_size(&mut self) -> Result<u64, ExchangeError> {
        loop {
            match httparse::parse_chunk_size(&self.buf[self.start..self.end]) {
                Ok(httparse::Status::Complete((n, size))) => {
                    self.start += n;
                    return Ok(size);
                }
                Ok(httparse::Status::Partial) => {
                    if self.fill().await.map_err(|_| ExchangeError::Io)? == 0 {
                        return Err(ExchangeError::Protocol);
                    }
                }
                Err(_) => return Err(ExchangeError::Protocol),
            }
        }
    }

    async fn read_until_close(&mut self) -> Result<u64, ExchangeError> {
        let mut body_bytes = (self.end - self.start) as u64;
        self.start = self.end;
        loop {
            match self.fill().await {
                Ok(0) => return Ok(body_bytes),
                Ok(n) => {
                    body_bytes += n as u64;
                    self.start = self.end;
                }
                Err(_) => return Err(ExchangeError::Io),
            }
        }
    }
}

/// What the response head says about the status, the body framing, the connection and
/// the cold-start headers.
struct Head {
    status: u16,
    info: HeaderInfo,
    /// Instance id, when present and not already in the `known` set.
    new_instance: Option<String>,
    length: Option<u64>,
    chunked: bool,
    keep_alive: bool,
}

/// Parse a complete head at the start of `buf`: `None` while it is still partial,
/// otherwise its length and contents.
fn parse_head(buf: &[u8], known: &HashSet<String>) -> Result<Option<(usize, Head)>, ExchangeError> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut resp = httparse::Response::new(&mut headers);
    let n = match resp.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(_) => return Err(ExchangeError::Protocol),
    };
    let mut head = Head {
        status: resp.code.unwrap_or(0),
        info: HeaderInfo::default(),
        new_instance: None,
        length: None,
        chunked: false,
        keep_alive: resp.version == Some(1),
    };
    for h in resp.headers.iter() {
        let name = h.name.as_bytes();
        if name.eq_ignore_ascii_case(b"content-length") {
            head.length = std::str::from_utf8(h.value)
                .ok()
                .and_then(|v| v.trim().parse::<u64>().ok());
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            head.chunked = h.value.to_ascii_lowercase().ends_with(b"chunked");
        } else if name.eq_ignore_ascii_case(b"connection") {
            let v = h.value.to_ascii_lowercase();
            if v.windows(5).any(|w| w == b"close") {
                head.keep_alive = false;
            } else if v.windows(10).any(|w| w == b"keep-alive") {
                head.keep_alive = true;
            }
        } else {
            head.info.observe(name, h.value);
        }
    }
    if let Some(id) = head.info.instance_id_str()
        && !known.contains(id)
    {
        head.new_instance = Some(id.to_string());
    }
    Ok(Some((n, head)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt;

    /// A scripted server: answers each request on a connection with the next canned
    /// response, then closes.
    async fn scripted(responses: Vec<&'static [u8]>) -> SocketAddr {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = l.accept().await {
                let responses = responses.clone();
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 4096];
                    for r in responses {
                        // wait for a request head
                        let mut got = Vec::new();
                        while !got.windows(4).any(|w| w == b"\r\n\r\n") {
                            let n = s.read(&mut buf).await.unwrap_or(0);
                            if n == 0 {
                                return;
                            }
                            got.extend_from_slice(&buf[..n]);
                        }
                        // split writes to exercise partial parsing
                        let (a, b) = r.split_at(r.len() / 2);
                        s.write_all(a).await.unwrap();
                        s.flush().await.unwrap();
                        tokio::task::yield_now().await;
                        s.write_all(b).await.unwrap();
                    }
                });
            }
        });
        addr
    }

    const REQ: &[u8] = b"GET / HTTP/1.1\r\nHost: t\r\n\r\n";

    #[tokio::test]
    async fn content_length_chunked_and_close() {
        let addr = scripted(vec![
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 5\r\nx-fcctl-cold-start: true\r\nx-fcctl-instance-start-ms: 7\r\nx-fc-instance-id: c-9\r\n\r\nhello",
            b"HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n4;ext=1\r\ndefg\r\n0\r\nx-trailer: 1\r\n\r\n",
            b"HTTP/1.1 204 No Content\r\n\r\n",
            b"HTTP/1.0 500 Oops\r\n\r\nuntil close",
        ])
        .await;
        let mut c = connect(&[addr]).await.unwrap();
        let known = HashSet::new();
        let r = c.exchange(REQ, &known).await.unwrap();
        assert_eq!((r.status, r.body_bytes, r.keep_alive), (200, 5, true));
        assert!(r.info.cold());
        assert_eq!(r.info.instance_start_ms, Some(7.0));
        assert_eq!(r.new_instance.as_deref(), Some("c-9"));
        let r = c.exchange(REQ, &known).await.unwrap();
        assert_eq!((r.status, r.body_bytes, r.keep_alive), (404, 7, true));
        assert!(!r.info.cold());
        let r = c.exchange(REQ, &known).await.unwrap();
        assert_eq!((r.status, r.body_bytes), (204, 0));
        let r = c.exchange(REQ, &known).await.unwrap();
        assert_eq!((r.status, r.body_bytes, r.keep_alive), (500, 11, false));
    }

    #[tokio::test]
    async fn closed_keep_alive_connection_is_stale() {
        let addr = scripted(vec![b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"]).await;
        let mut c = connect(&[addr]).await.unwrap();
        let known = HashSet::new();
        assert_eq!(c.exchange(REQ, &known).await.unwrap().status, 200);
        // the script closes after one response: the next exchange must report Stale
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        assert!(matches!(
            c.exchange(REQ, &known).await,
            Err(ExchangeError::Stale)
        ));
    }
}
