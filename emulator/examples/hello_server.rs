//! A hello-world custom-runtime function (std only): listens on `$FC_CUSTOM_LISTEN_PORT`,
//! answers every request with `hello`. Used by `bench/overhead.sh` for cold-start figures.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpListener;

fn main() {
    let port = std::env::var("FC_CUSTOM_LISTEN_PORT").unwrap_or_else(|_| "9000".into());
    let l = TcpListener::bind(format!("0.0.0.0:{port}")).expect("bind");
    for s in l.incoming().flatten() {
        std::thread::spawn(move || {
            let mut r = BufReader::new(s.try_clone().expect("clone"));
            let mut w = s;
            loop {
                let mut len = 0usize;
                let mut line = String::new();
                if r.read_line(&mut line).unwrap_or(0) == 0 {
                    return;
                }
                loop {
                    let mut h = String::new();
                    if r.read_line(&mut h).unwrap_or(0) == 0 {
                        return;
                    }
                    if h == "\r\n" {
                        break;
                    }
                    if let Some(v) = h.to_ascii_lowercase().strip_prefix("content-length:") {
                        len = v.trim().parse().unwrap_or(0);
                    }
                }
                let mut body = vec![0; len];
                if r.read_exact(&mut body).is_err() {
                    return;
                }
                let resp =
                    "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 5\r\n\r\nhello";
                if w.write_all(resp.as_bytes()).is_err() {
                    return;
                }
            }
        });
    }
}
