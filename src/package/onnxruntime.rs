//! ONNX Runtime for the function: `libonnxruntime.so` out of the pinned `onnxruntime` wheel on
//! PyPI (MIT licence), checked against the wheel's pinned sha256 and cached per user, so an
//! installed fcctl ships it from any project directory without a checkout's scripts or pip.
//!
//! The cache is `$FCCTL_CACHE_DIR`, else `$XDG_CACHE_HOME/fcctl`, else `~/.cache/fcctl`; the
//! library lands at `<cache>/onnxruntime/<version>/<library>`. The index is
//! `$FCCTL_PYPI_INDEX`, else pip's `$PIP_INDEX_URL`, else `https://pypi.org/simple`: a mirror
//! serves the same bytes, and the pinned hash is what makes any of them trustworthy.

use std::borrow::Cow;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use sha2::{Digest as _, Sha256};

/// One library inside one wheel, both named exactly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pin {
    /// The PyPI project (`onnxruntime`).
    pub project: &'static str,
    pub version: &'static str,
    /// The wheel's file name on the index.
    pub wheel: &'static str,
    /// sha256 of the whole wheel (hex): the only thing that makes a download trusted.
    pub wheel_sha256: &'static str,
    /// The library's file name; the wheel holds it as `<project>/capi/<library>`.
    pub library: &'static str,
}

/// What the function is built and tested against. `scripts/fetch-onnxruntime.sh` (the
/// developer's copy for tests) pins the same wheel; a unit test keeps the two equal.
/// manylinux_2_28: the library needs glibc ≤ 2.28, so it runs on every FC custom runtime.
pub const PINNED: Pin = Pin {
    project: "onnxruntime",
    version: "1.32.0",
    wheel: "onnxruntime-1.32.0-cp311-cp311-manylinux_2_28_x86_64.whl",
    wheel_sha256: "5a34fc4dfeb5a7b4a74c95dcba1e773d722abda720b474edf1b0c419dc6d163d",
    library: "libonnxruntime.so.1.32.0",
};

/// The index pip would use by default.
pub const DEFAULT_INDEX: &str = "https://pypi.org/simple";

#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("the package index {url} could not be read: {why}")]
    Index { url: String, why: String },
    #[error("{wheel} is not listed on {url}")]
    NotListed { wheel: String, url: String },
    #[error("downloading {url} failed: {why}")]
    Download { url: String, why: String },
    #[error("{url} has sha256 {got}, but {wheel} is pinned to {expected}; nothing was cached")]
    Sha256 {
        url: String,
        wheel: String,
        expected: String,
        got: String,
    },
    #[error("{wheel} holds no {member}")]
    NotInWheel { wheel: String, member: String },
    #[error("the ONNX Runtime cache {path}: {source}")]
    Cache {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl crate::exit::Hint for FetchError {
    fn hint(&self) -> Option<Cow<'_, str>> {
        Some(match self {
            FetchError::Index { .. } | FetchError::NotListed { .. } | FetchError::Download { .. } => {
                "fcctl fetches ONNX Runtime once from PyPI: check the network, or point \
                 FCCTL_PYPI_INDEX (or PIP_INDEX_URL) at a mirror of https://pypi.org/simple; or set \
                 `build.onnxruntime: false` and map your own `libonnxruntime.so` with \
                 `build.files: [{src: ..., dst: lib/libonnxruntime.so}]`"
                    .into()
            }
            FetchError::Sha256 { .. } | FetchError::NotInWheel { .. } => {
                "the index served other bytes than the pinned wheel; use the official index \
                 (unset FCCTL_PYPI_INDEX / PIP_INDEX_URL) or a faithful mirror"
                    .into()
            }
            FetchError::Cache { .. } => {
                "make the cache writable, or point FCCTL_CACHE_DIR at a writable directory".into()
            }
        })
    }
}

/// fcctl's per-user cache directory (see the module docs).
pub fn cache_dir() -> PathBuf {
    let env = |k: &str| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    env("FCCTL_CACHE_DIR")
        .or_else(|| env("XDG_CACHE_HOME").map(|d| d.join("fcctl")))
        .or_else(|| env("HOME").map(|h| h.join(".cache/fcctl")))
        .unwrap_or_else(|| std::env::temp_dir().join("fcctl-cache"))
}

/// The simple index fcctl reads (see the module docs).
pub fn index_url() -> String {
    ["FCCTL_PYPI_INDEX", "PIP_INDEX_URL"]
        .iter()
        .find_map(|k| std::env::var(k).ok().filter(|v| !v.is_empty()))
        .unwrap_or_else(|| DEFAULT_INDEX.to_string())
}

/// Where `pin`'s library is cached under `cache`.
pub fn cached_path(pin: &Pin, cache: &Path) -> PathBuf {
    cache.join(pin.project).join(pin.version).join(pin.library)
}

/// The cached library, fetched first if it is not cached yet. `Ok((path, fetched))`.
pub async fn ensure(pin: &Pin, cache: &Path, index: &str) -> Result<(PathBuf, bool), FetchError> {
    let dest = cached_path(pin, cache);
    if dest.is_file() {
        return Ok((dest, false));
    }
    let dir = dest.parent().expect("cached path has a parent");
    let io = |source| FetchError::Cache {
        path: dir.to_path_buf(),
        source,
    };
    std::fs::create_dir_all(dir).map_err(io)?;
    let client = crate::aliyun::http::client_builder()
        .timeout(std::time::Duration::from_secs(600))
        .build()
        .map_err(|e| FetchError::Index {
            url: index.into(),
            why: e.to_string(),
        })?;
    let url = wheel_url(&client, pin, index).await?;
    // The wheel goes to a temporary file beside the cache, hashed as it arrives; only a
    // verified wheel is opened, and the library is renamed into place whole.
    let mut wheel = tempfile::NamedTempFile::new_in(dir).map_err(io)?;
    let mut resp = client
        .get(&url)
        .send()
        .await
        .and_then(|r| r.error_for_status())
        .map_err(|e| FetchError::Download {
            url: url.clone(),
            why: e.to_string(),
        })?;
    let mut hash = Sha256::new();
    while let Some(chunk) = resp.chunk().await.map_err(|e| FetchError::Download {
        url: url.clone(),
        why: e.to_string(),
    })? {
        hash.update(&chunk);
        wheel.write_all(&chunk).map_err(io)?;
    }
    let got = hex::encode(hash.finalize());
    if got != pin.wheel_sha256 {
        return Err(FetchError::Sha256 {
            url,
            wheel: pin.wheel.into(),
            expected: pin.wheel_sha256.into(),
            got,
        });
    }
    let member = format!("{}/capi/{}", pin.project, pin.library);
    let mut zip =
        zip::ZipArchive::new(wheel.reopen().map_err(io)?).map_err(|_| FetchError::NotInWheel {
            wheel: pin.wheel.into(),
            member: member.clone(),
        })?;
    let mut lib = tempfile::NamedTempFile::new_in(dir).map_err(io)?;
    {
        let mut entry = zip.by_name(&member).map_err(|_| FetchError::NotInWheel {
            wheel: pin.wheel.into(),
            member: member.clone(),
        })?;
        std::io::copy(&mut entry, &mut lib).map_err(io)?;
    }
    use std::os::unix::fs::PermissionsExt as _;
    lib.as_file()
        .set_permissions(std::fs::Permissions::from_mode(0o755))
        .map_err(io)?;
    lib.persist(&dest).map_err(|e| io(e.error))?;
    Ok((dest, true))
}

/// The wheel's download address from the index's project page: PEP 691 JSON when the index
/// speaks it, else the PEP 503 HTML links.
async fn wheel_url(client: &reqwest::Client, pin: &Pin, index: &str) -> Result<String, FetchError> {
    let page = format!("{}/{}/", index.trim_end_matches('/'), pin.project);
    let err = |why: String| FetchError::Index {
        url: page.clone(),
        why,
    };
    let resp = client
        .get(&page)
        .header(
            reqwest::header::ACCEPT,
            "application/vnd.pypi.simple.v1+json, text/html;q=0.1",
        )
        .send()
        .await
        .and_then(|r| r.error_for_status())
        .map_err(|e| err(e.to_string()))?;
    let base = resp.url().clone();
    let is_json = resp
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("json"));
    let body = resp.text().await.map_err(|e| err(e.to_string()))?;
    let href = if is_json {
        let v: serde_json::Value =
            serde_json::from_str(&body).map_err(|e| err(format!("not PEP 691 JSON: {e}")))?;
        v["files"].as_array().and_then(|files| {
            files
                .iter()
                .find(|f| f["filename"] == pin.wheel)
                .and_then(|f| f["url"].as_str())
                .map(String::from)
        })
    } else {
        html_link(&body, pin.wheel)
    };
    let href = href.ok_or_else(|| FetchError::NotListed {
        wheel: pin.wheel.into(),
        url: page.clone(),
    })?;
    base.join(&href)
        .map(|u| u.to_string())
        .map_err(|e| err(format!("bad link `{href}`: {e}")))
}

/// The `href` of the anchor whose target is `file` in a PEP 503 page.
fn html_link(body: &str, file: &str) -> Option<String> {
    body.split("href=\"").skip(1).find_map(|rest| {
        let href = &rest[..rest.find('"')?];
        let path = href.split('#').next().unwrap_or(href);
        path.rsplit('/')
            .next()
            .is_some_and(|name| name == file)
            .then(|| href.replace("&amp;", "&"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    /// A wheel holding `onnxruntime/capi/<lib>` with `body`, and its sha256.
    fn wheel(lib: &str, body: &[u8]) -> (Vec<u8>, String) {
        let mut buf = std::io::Cursor::new(Vec::new());
        {
            let mut z = zip::ZipWriter::new(&mut buf);
            z.start_file(
                format!("onnxruntime/capi/{lib}"),
                zip::write::SimpleFileOptions::default(),
            )
            .unwrap();
            z.write_all(body).unwrap();
            z.finish().unwrap();
        }
        let bytes = buf.into_inner();
        let sha = hex::encode(Sha256::digest(&bytes));
        (bytes, sha)
    }

    /// An index on 127.0.0.1 answering `/simple/onnxruntime/` with `page` (JSON when it starts
    /// with `{`) and `/files/w.whl` with `whl`; counts the wheel downloads.
    async fn index(
        page: String,
        whl: Vec<u8>,
    ) -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let downloads = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let d = downloads.clone();
        tokio::spawn(async move {
            loop {
                let Ok((mut s, _)) = l.accept().await else {
                    return;
                };
                let mut req = vec![0u8; 4096];
                let n = s.read(&mut req).await.unwrap_or(0);
                let line = String::from_utf8_lossy(&req[..n]).to_string();
                let (ctype, body) = if line.starts_with("GET /simple/onnxruntime/ ") {
                    let ct = if page.starts_with('{') {
                        "application/vnd.pypi.simple.v1+json"
                    } else {
                        "text/html"
                    };
                    (ct, page.clone().into_bytes())
                } else if line.starts_with("GET /files/") {
                    d.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    ("application/octet-stream", whl.clone())
                } else {
                    let _ = s.write_all(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n").await;
                    continue;
                };
                let head = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: {ctype}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                    body.len()
                );
                let _ = s.write_all(head.as_bytes()).await;
                let _ = s.write_all(&body).await;
            }
        });
        (format!("http://{addr}/simple"), downloads)
    }

    fn pin(sha: &str) -> Pin {
        Pin {
            project: "onnxruntime",
            version: "9.9.9",
            wheel: "w.whl",
            wheel_sha256: Box::leak(sha.to_string().into_boxed_str()),
            library: "libonnxruntime.so.9.9.9",
        }
    }

    #[tokio::test]
    async fn the_library_is_fetched_once_from_a_json_index_verified_and_cached() {
        let (whl, sha) = wheel("libonnxruntime.so.9.9.9", b"\x7fELF lib");
        let page = r#"{"files":[{"filename":"other.whl","url":"/files/x"},{"filename":"w.whl","url":"../../files/w.whl"}]}"#;
        let (url, downloads) = index(page.into(), whl).await;
        let cache = tempfile::tempdir().unwrap();
        let (p, fetched) = ensure(&pin(&sha), cache.path(), &url).await.unwrap();
        assert!(fetched);
        assert_eq!(
            p,
            cache
                .path()
                .join("onnxruntime/9.9.9/libonnxruntime.so.9.9.9")
        );
        assert_eq!(std::fs::read(&p).unwrap(), b"\x7fELF lib");
        let (again, fetched) = ensure(&pin(&sha), cache.path(), &url).await.unwrap();
        assert_eq!((again, fetched), (p, false));
        assert_eq!(downloads.load(std::sync::atomic::Ordering::SeqCst), 1);
        // Only the library is left: no partial or temporary files beside it.
        let left: Vec<_> = std::fs::read_dir(cache.path().join("onnxruntime/9.9.9"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(left, ["libonnxruntime.so.9.9.9"]);
    }

    #[tokio::test]
    async fn an_html_index_works_and_other_bytes_than_the_pinned_wheel_are_refused() {
        let (whl, sha) = wheel("libonnxruntime.so.9.9.9", b"lib");
        let page = "<a href=\"/files/w.whl#sha256=abc\">w.whl</a>".to_string();
        let (url, _) = index(page, whl).await;
        let cache = tempfile::tempdir().unwrap();
        ensure(&pin(&sha), cache.path(), &url).await.unwrap();

        let other = tempfile::tempdir().unwrap();
        let e = ensure(&pin(&"0".repeat(64)), other.path(), &url)
            .await
            .unwrap_err();
        assert!(matches!(e, FetchError::Sha256 { .. }), "{e}");
        assert!(e.to_string().contains("nothing was cached"), "{e}");
        assert!(!cached_path(&pin(&sha), other.path()).exists());
        assert_eq!(
            std::fs::read_dir(other.path().join("onnxruntime/9.9.9"))
                .unwrap()
                .count(),
            0,
            "the refused wheel is not left behind"
        );
    }

    #[tokio::test]
    async fn a_wheel_missing_from_the_index_is_named() {
        let (url, _) = index("{\"files\":[]}".into(), Vec::new()).await;
        let cache = tempfile::tempdir().unwrap();
        let e = ensure(&pin(&"0".repeat(64)), cache.path(), &url)
            .await
            .unwrap_err();
        assert!(e.to_string().contains("w.whl is not listed on"), "{e}");
    }

    #[test]
    fn the_developers_script_pins_the_same_wheel() {
        let script = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/fetch-onnxruntime.sh"),
        )
        .unwrap();
        assert!(script.contains(&format!("ORT_VERSION={}\n", PINNED.version)));
        assert!(script.contains(&format!("WHEEL_SHA256={}\n", PINNED.wheel_sha256)));
        let wheel = PINNED.wheel.replace(PINNED.version, "${ORT_VERSION}");
        assert!(script.contains(&format!("WHEEL={wheel}\n")), "{wheel}");
    }
}
