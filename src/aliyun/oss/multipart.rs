//! Resumable multipart upload ([`ObjectStore::put_multipart`](super::ObjectStore::put_multipart)).
//!
//! The upload id is saved in a small JSON file in [`MultipartOptions::resume_dir`] (keyed by
//! bucket+key, guarded by file size, mtime and part size). A later run calls ListParts and
//! skips every part whose size and ETag (= MD5 of the local bytes) match; only missing parts
//! are uploaded, then CompleteMultipartUpload. A stale/foreign upload id (`NoSuchUpload`)
//! starts afresh.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use reqwest::Method;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncSeekExt};

use super::sign::{md5_b64, md5_hex};
use super::{OssClient, etag, xml};
#[cfg(test)]
use crate::aliyun::AccessKey;
use crate::aliyun::error::{Error, Result};
use crate::aliyun::retry::Idempotency;

#[derive(Debug, Clone)]
pub struct MultipartOptions {
    /// Part size in bytes (OSS: ≥ 100 KiB except the last part; ≤ 10000 parts).
    pub part_size: u64,
    /// Parts uploaded in parallel.
    pub concurrency: usize,
    /// Where resume state is kept (e.g. `target/fcctl/uploads`); None = not resumable.
    pub resume_dir: Option<PathBuf>,
    /// Extra headers for InitiateMultipartUpload (e.g. `x-oss-meta-sha256`).
    pub headers: Vec<(String, String)>,
    /// The file's sha256 as hashed before the upload. When set, the upload is completed only
    /// if every part on the server is the file's current bytes and those bytes still hash to
    /// this; otherwise it is aborted (a file edited mid-upload must not be stored under its
    /// old hash).
    pub expect_sha256: Option<String>,
}

impl Default for MultipartOptions {
    fn default() -> Self {
        Self {
            part_size: 8 * 1024 * 1024,
            concurrency: 4,
            resume_dir: None,
            headers: Vec::new(),
            expect_sha256: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UploadReport {
    pub upload_id: String,
    pub parts_total: u32,
    /// Parts found complete on the server from an earlier run and not re-sent.
    pub parts_skipped: u32,
    pub bytes_sent: u64,
    pub etag: String,
}

/// A multipart upload initiated and neither completed nor aborted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncompleteUpload {
    pub key: String,
    pub upload_id: String,
    /// `Initiated`, ISO 8601 as OSS sends it.
    pub initiated: Option<String>,
}

/// What one upload works with, fixed before the first request.
#[derive(Debug, Clone)]
pub(super) struct Plan {
    pub(super) size: u64,
    pub(super) part_size: u64,
    pub(super) parts_total: u32,
    pub(super) state_path: Option<PathBuf>,
    pub(super) fingerprint: ResumeState,
}

/// Parts already on the server: part number → ETag without quotes.
type Done = BTreeMap<u32, String>;

/// A 500 answered by the server itself (OSS `InternalError`: it failed to store what it was
/// sent), as against throttling, an unavailable gateway (502/503/504) or a lost connection.
fn server_failed(e: &Error) -> bool {
    e.status() == Some(500)
}

impl OssClient {
    /// InitiateMultipartUpload: the new upload's id. Until it is completed or aborted the
    /// upload is listed by [`list_multipart_uploads`](Self::list_multipart_uploads) and keeps
    /// its bucket from being deleted.
    pub async fn initiate(&self, key: &str, extra: &[(String, String)]) -> Result<String> {
        let mut r = self.req("InitiateMultipartUpload", Method::POST, key);
        r.query.push(("uploads".into(), String::new()));
        r.headers
            .push(("content-type".into(), "application/octet-stream".into()));
        r.headers.extend(extra.iter().cloned());
        let resp = self.call(&r).await?;
        let x: xml::InitiateResult = xml::decode(&resp, "InitiateMultipartUpload")?;
        Ok(x.upload_id)
    }

    pub(super) async fn upload_part(
        &self,
        key: &str,
        upload_id: &str,
        n: u32,
        data: Vec<u8>,
    ) -> Result<String> {
        let mut r = self.req("UploadPart", Method::PUT, key);
        r.query.push(("partNumber".into(), n.to_string()));
        r.query.push(("uploadId".into(), upload_id.into()));
        r.headers.push(("content-md5".into(), md5_b64(&data)));
        r.body = data;
        let resp = self.call(&r).await?;
        Ok(etag(&resp.headers))
    }

    /// ListParts (all pages): part number → (size, etag without quotes).
    pub(super) async fn list_parts(
        &self,
        key: &str,
        upload_id: &str,
    ) -> Result<Vec<(u32, u64, String)>> {
        let mut out = Vec::new();
        let mut marker = String::new();
        loop {
            let mut r = self.req("ListParts", Method::GET, key);
            r.query.push(("uploadId".into(), upload_id.into()));
            if !marker.is_empty() {
                r.query.push(("part-number-marker".into(), marker.clone()));
            }
            let resp = self.call(&r).await?;
            let x: xml::ListPartsResult = xml::decode(&resp, "ListParts")?;
            for p in x.parts {
                out.push((p.part_number, p.size, p.etag.trim_matches('"').to_string()));
            }
            match (x.is_truncated, x.next_part_number_marker) {
                (Some(true), Some(m)) if !m.is_empty() && m != marker => marker = m,
                _ => return Ok(out),
            }
        }
    }

    pub(super) async fn complete(
        &self,
        key: &str,
        upload_id: &str,
        parts: &[(u32, String)],
    ) -> Result<String> {
        let body = xml::complete_body(parts);
        let mut r = self.req("CompleteMultipartUpload", Method::POST, key);
        r.query.push(("uploadId".into(), upload_id.into()));
        r.headers
            .push(("content-type".into(), "application/xml".into()));
        r.body = body.into_bytes();
        // Completing twice fails with NoSuchUpload; a lost answer is checked with HEAD by the caller.
        r.idem = Idempotency::NotIdempotent;
        let resp = self.call(&r).await?;
        let from_body =
            quick_xml::de::from_str::<xml::CompleteResult>(&String::from_utf8_lossy(&resp.body))
                .ok()
                .map(|c| c.etag.trim_matches('"').to_string());
        Ok(from_body.unwrap_or_else(|| etag(&resp.headers)))
    }

    /// AbortMultipartUpload; an upload already gone (completed, aborted, or its bucket deleted)
    /// counts as aborted.
    pub async fn abort_multipart(&self, key: &str, upload_id: &str) -> Result<()> {
        let mut r = self.req("AbortMultipartUpload", Method::DELETE, key);
        r.query.push(("uploadId".into(), upload_id.into()));
        match self.call(&r).await {
            Err(e) if e.is_not_found() || e.code() == Some("NoSuchUpload") => Ok(()),
            other => other.map(|_| ()),
        }
    }

    /// ListMultipartUploads under `prefix`, all pages: the uploads initiated and neither
    /// completed nor aborted, by key and then by initiation time. OSS counts them as content of
    /// the bucket (DeleteBucket answers `BucketNotEmpty` while any exists).
    pub async fn list_multipart_uploads(&self, prefix: &str) -> Result<Vec<IncompleteUpload>> {
        let mut out = Vec::new();
        let (mut key_marker, mut id_marker) = (String::new(), String::new());
        loop {
            let mut r = self.req("ListMultipartUploads", Method::GET, "");
            r.query.push(("uploads".into(), String::new()));
            r.query.push(("max-uploads".into(), "1000".into()));
            if !prefix.is_empty() {
                r.query.push(("prefix".into(), prefix.into()));
            }
            if !key_marker.is_empty() {
                r.query.push(("key-marker".into(), key_marker.clone()));
                r.query.push(("upload-id-marker".into(), id_marker.clone()));
            }
            let resp = self.call(&r).await?;
            let x: xml::ListMultipartUploadsResult = xml::decode(&resp, "ListMultipartUploads")?;
            let page_end = x
                .uploads
                .last()
                .map(|u| (u.key.clone(), u.upload_id.clone()));
            out.extend(x.uploads.into_iter().map(|u| IncompleteUpload {
                key: u.key,
                upload_id: u.upload_id,
                initiated: u.initiated,
            }));
            // The next page starts after NextKeyMarker/NextUploadIdMarker, which name the last
            // upload listed; that upload itself serves if they are missing.
            let next = match (x.next_key_marker, x.next_upload_id_marker) {
                (Some(k), Some(id)) if !k.is_empty() => (k, id),
                _ => page_end.unwrap_or_default(),
            };
            // A marker that does not move would list the same page forever.
            if x.is_truncated != Some(true)
                || next.0.is_empty()
                || (next.0 == key_marker && next.1 == id_marker)
            {
                return Ok(out);
            }
            (key_marker, id_marker) = next;
        }
    }

    pub(super) async fn do_put_multipart(
        &self,
        key: &str,
        file: &Path,
        opts: &MultipartOptions,
    ) -> Result<UploadReport> {
        let plan = self.plan(key, file, opts).await?;
        let (upload_id, mut done) = self.start(key, file, &plan, &opts.headers).await?;
        let parts_skipped = done.len() as u32;
        let parts_total = plan.parts_total;
        tracing::debug!(target: "fcctl::aliyun", key, upload_id = %upload_id, parts_total, parts_skipped, "multipart upload");
        let uploaded = async {
            let bytes_sent = self
                .upload_missing(key, file, &plan, &upload_id, &mut done, opts.concurrency)
                .await?;
            if let Some(want) = &opts.expect_sha256 {
                verify_parts(file, &plan, &done, want)
                    .await
                    .map_err(|e| (e, Forget::Yes))?;
            }
            let parts: Vec<(u32, String)> = done.into_iter().collect();
            let etag = self
                .complete_checked(key, &upload_id, &parts, plan.size)
                .await?;
            Ok::<_, (Error, Forget)>((bytes_sent, etag))
        }
        .await;
        let (bytes_sent, etag) = match uploaded {
            Ok(r) => r,
            Err((e, forget)) => {
                // Parts of another content (the file changed) are worth nothing; parts the
                // server could not keep (a full disk) only take space there, and resuming would
                // meet the same failure. Abort the upload (freeing them) and forget it; an
                // interrupted or throttled upload stays resumable.
                if forget == Forget::Yes || server_failed(&e) {
                    let _ = self.abort_multipart(key, &upload_id).await;
                    if let Some(sp) = &plan.state_path {
                        let _ = tokio::fs::remove_file(sp).await;
                    }
                }
                return Err(e);
            }
        };
        if let Some(sp) = &plan.state_path {
            let _ = tokio::fs::remove_file(sp).await;
        }
        Ok(UploadReport {
            upload_id,
            parts_total,
            parts_skipped,
            bytes_sent,
            etag,
        })
    }

    pub(super) async fn plan(
        &self,
        key: &str,
        file: &Path,
        opts: &MultipartOptions,
    ) -> Result<Plan> {
        let meta = tokio::fs::metadata(file)
            .await
            .map_err(|e| Error::io(format!("stat {}", file.display()), e))?;
        let size = meta.len();
        let mtime = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok())
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
        let min_part = (size.div_ceil(10_000)).max(100 * 1024);
        let part_size = opts.part_size.max(min_part);
        let parts_total = size.div_ceil(part_size).max(1) as u32;
        let state_path = opts.resume_dir.as_ref().map(|d| {
            let id =
                md5_hex(format!("{}\n{}\n{}", self.inner.base, self.inner.bucket, key).as_bytes());
            d.join(format!("{id}.json"))
        });
        let fingerprint = ResumeState {
            bucket: self.inner.bucket.clone(),
            key: key.into(),
            file: file.display().to_string(),
            size,
            mtime_ns: mtime,
            part_size,
            upload_id: String::new(),
        };
        Ok(Plan {
            size,
            part_size,
            parts_total,
            state_path,
            fingerprint,
        })
    }

    /// The upload to continue (with its parts already on the server) when the saved state
    /// matches this file, else a new one whose id is saved before any part is sent.
    pub(super) async fn start(
        &self,
        key: &str,
        file: &Path,
        plan: &Plan,
        headers: &[(String, String)],
    ) -> Result<(String, Done)> {
        if let Some(resumed) = self.resume(key, file, plan).await? {
            return Ok(resumed);
        }
        let id = self.initiate(key, headers).await?;
        if let Some(sp) = &plan.state_path {
            let st = ResumeState {
                upload_id: id.clone(),
                ..plan.fingerprint.clone()
            };
            write_state(sp, &st).await?;
        }
        Ok((id, Done::new()))
    }

    async fn resume(&self, key: &str, file: &Path, plan: &Plan) -> Result<Option<(String, Done)>> {
        let Some(sp) = &plan.state_path else {
            return Ok(None);
        };
        let Ok(text) = tokio::fs::read_to_string(sp).await else {
            return Ok(None);
        };
        let Ok(st) = serde_json::from_str::<ResumeState>(&text) else {
            return Ok(None);
        };
        if !st.same_source(&plan.fingerprint) {
            let _ = self.abort_multipart(&st.key, &st.upload_id).await;
            return Ok(None);
        }
        let parts = match self.list_parts(key, &st.upload_id).await {
            Ok(parts) => parts,
            Err(e) if e.code() == Some("NoSuchUpload") || e.is_not_found() => return Ok(None),
            Err(e) => return Err(e),
        };
        let mut done = Done::new();
        for (n, psize, et) in parts {
            if n == 0 || n > plan.parts_total {
                continue;
            }
            let expect = part_len(plan.size, plan.part_size, n);
            if psize != expect {
                continue;
            }
            let data = read_part(file, plan.part_size, n, expect).await?;
            if md5_hex(&data).eq_ignore_ascii_case(&et) {
                done.insert(n, et);
            }
        }
        Ok(Some((st.upload_id, done)))
    }

    /// Uploads the parts not in `done`, `concurrency` at a time; returns the bytes sent.
    async fn upload_missing(
        &self,
        key: &str,
        file: &Path,
        plan: &Plan,
        upload_id: &str,
        done: &mut Done,
        concurrency: usize,
    ) -> Result<u64> {
        let (size, part_size) = (plan.size, plan.part_size);
        let mut bytes_sent = 0u64;
        let mut set = tokio::task::JoinSet::new();
        let todo: Vec<u32> = (1..=plan.parts_total)
            .filter(|n| !done.contains_key(n))
            .collect();
        let mut it = todo.into_iter();
        let conc = concurrency.max(1);
        loop {
            while set.len() < conc {
                let Some(n) = it.next() else { break };
                let this = self.clone();
                let key = key.to_string();
                let uid = upload_id.to_string();
                let path = file.to_path_buf();
                let len = part_len(size, part_size, n);
                set.spawn(async move {
                    let data = read_part(&path, part_size, n, len).await?;
                    let e = this.upload_part(&key, &uid, n, data).await?;
                    Ok::<_, Error>((n, e, len))
                });
            }
            match set.join_next().await {
                None => break,
                Some(joined) => {
                    let (n, e, len) = joined
                        .map_err(|e| Error::Invalid(format!("upload task failed: {e}")))??;
                    bytes_sent += len;
                    done.insert(n, e);
                }
            }
        }
        Ok(bytes_sent)
    }

    /// Complete is not blindly retried: after a lost answer, HEAD tells whether it landed
    /// (our size and a multipart ETag `…-<parts>`); if not, the upload id is still valid and
    /// completing again is safe.
    async fn complete_checked(
        &self,
        key: &str,
        upload_id: &str,
        parts: &[(u32, String)],
        size: u64,
    ) -> Result<String> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let err = match self.complete(key, upload_id, parts).await {
                Ok(e) => return Ok(e),
                Err(err) => err,
            };
            let landed = match self.head_object(key).await {
                Ok(Some(m))
                    if m.size == size
                        && (err.code() == Some("NoSuchUpload")
                            || m.etag.ends_with(&format!("-{}", parts.len()))) =>
                {
                    Some(m.etag)
                }
                _ => None,
            };
            if let Some(e) = landed {
                return Ok(e);
            }
            let transient = err.status().is_none_or(|s| s == 429 || s >= 500);
            if !transient || attempt >= 4 {
                return Err(err);
            }
            tokio::time::sleep(std::time::Duration::from_millis(200 * attempt)).await;
        }
    }
}

/// Whether a failed upload is abandoned whatever the error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Forget {
    Yes,
    IfTheServerFailed,
}

impl From<Error> for (Error, Forget) {
    fn from(e: Error) -> Self {
        (e, Forget::IfTheServerFailed)
    }
}

/// Reads the file once more, in part order: each part must have the MD5 of the part the server
/// holds (its ETag) and the whole must hash to `want`. Parts may come from an earlier run or
/// have been read while the file changed; this is the one check that the object about to be
/// completed is exactly the content named by the key.
async fn verify_parts(file: &Path, plan: &Plan, done: &Done, want: &str) -> Result<()> {
    use sha2::Digest as _;
    let changed = |why: String| {
        Error::Invalid(format!(
            "{} changed while it was uploaded ({why}); the upload was aborted — run again to \
             upload the current content",
            file.display()
        ))
    };
    let size = tokio::fs::metadata(file)
        .await
        .map_err(|e| Error::io(format!("stat {}", file.display()), e))?
        .len();
    if size != plan.size {
        return Err(changed(format!("{} bytes, was {}", size, plan.size)));
    }
    let mut sha = sha2::Sha256::new();
    for n in 1..=plan.parts_total {
        let data = read_part(
            file,
            plan.part_size,
            n,
            part_len(plan.size, plan.part_size, n),
        )
        .await?;
        let server = done.get(&n).map(String::as_str).unwrap_or_default();
        if !md5_hex(&data).eq_ignore_ascii_case(server) {
            return Err(changed(format!("part {n} differs from what was sent")));
        }
        sha.update(&data);
    }
    let got = hex::encode(sha.finalize());
    if got != want {
        return Err(changed(format!("sha256 {got}, hashed as {want}")));
    }
    Ok(())
}

impl OssClient {
    /// Removes resume files in `dir` whose upload is over — completed, aborted or expired on
    /// the server — and aborts (then removes) the uploads of keys not in `keep`, which no
    /// current sync will ever resume. Returns how many files were removed. Without this, every
    /// killed run leaves a file (and on OSS an incomplete upload that is billed as storage).
    pub async fn prune_resume_states(
        &self,
        dir: &Path,
        keep: &std::collections::HashSet<String>,
    ) -> Result<usize> {
        let Ok(mut entries) = tokio::fs::read_dir(dir).await else {
            return Ok(0);
        };
        let mut removed = 0;
        while let Ok(Some(entry)) = entries.next_entry().await {
            let path = entry.path();
            if path.extension().is_none_or(|e| e != "json") {
                continue;
            }
            let state = tokio::fs::read(&path)
                .await
                .ok()
                .and_then(|b| serde_json::from_slice::<ResumeState>(&b).ok());
            let over = match &state {
                // Not ours to judge (another bucket or endpoint shares the dir): leave it.
                Some(st) if st.bucket != self.inner.bucket => false,
                Some(st) if keep.contains(&st.key) => {
                    match self.list_parts(&st.key, &st.upload_id).await {
                        Ok(_) => false,
                        Err(e) if e.code() == Some("NoSuchUpload") || e.is_not_found() => true,
                        Err(e) => return Err(e),
                    }
                }
                Some(st) => {
                    self.abort_multipart(&st.key, &st.upload_id).await?;
                    true
                }
                // Unreadable (a kill mid-write of the state itself): nothing can resume it.
                None => true,
            };
            if over && tokio::fs::remove_file(&path).await.is_ok() {
                removed += 1;
            }
        }
        Ok(removed)
    }
}

pub(super) fn part_len(size: u64, part_size: u64, n: u32) -> u64 {
    let start = (n as u64 - 1) * part_size;
    part_size.min(size.saturating_sub(start))
}

pub(super) async fn read_part(path: &Path, part_size: u64, n: u32, len: u64) -> Result<Vec<u8>> {
    let ctx = || format!("read part {n} of {}", path.display());
    let mut f = tokio::fs::File::open(path)
        .await
        .map_err(|e| Error::io(ctx(), e))?;
    f.seek(std::io::SeekFrom::Start((n as u64 - 1) * part_size))
        .await
        .map_err(|e| Error::io(ctx(), e))?;
    let mut buf = vec![0u8; len as usize];
    f.read_exact(&mut buf)
        .await
        .map_err(|e| Error::io(ctx(), e))?;
    Ok(buf)
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct ResumeState {
    bucket: String,
    key: String,
    file: String,
    size: u64,
    mtime_ns: u64,
    part_size: u64,
    upload_id: String,
}

impl ResumeState {
    fn same_source(&self, o: &ResumeState) -> bool {
        self.bucket == o.bucket
            && self.key == o.key
            && self.size == o.size
            && self.mtime_ns == o.mtime_ns
            && self.part_size == o.part_size
            && !self.upload_id.is_empty()
    }
}

pub(super) async fn write_state(path: &Path, st: &ResumeState) -> Result<()> {
    if let Some(dir) = path.parent() {
        tokio::fs::create_dir_all(dir)
            .await
            .map_err(|e| Error::io(format!("create {}", dir.display()), e))?;
    }
    let tmp = path.with_extension("json.tmp");
    let text = serde_json::to_vec_pretty(st).expect("state serialises");
    tokio::fs::write(&tmp, text)
        .await
        .map_err(|e| Error::io(format!("write {}", tmp.display()), e))?;
    tokio::fs::rename(&tmp, path)
        .await
        .map_err(|e| Error::io(format!("rename {}", path.display()), e))
}

#[cfg(test)]
mod tests {
    use super::super::ObjectStore as _;
    use super::super::tests::{client, default_key, emulator};
    use super::*;
    use crate::aliyun::testutil::{Reply, TestServer};

    fn model_file(dir: &Path, len: usize) -> (PathBuf, Vec<u8>) {
        let file = dir.join("model.onnx");
        let data: Vec<u8> = (0..len).map(|i| (i * 31 % 251) as u8).collect();
        std::fs::write(&file, &data).unwrap();
        (file, data)
    }

    fn resumable(dir: &Path) -> MultipartOptions {
        MultipartOptions {
            part_size: 100 * 1024,
            concurrency: 1,
            resume_dir: Some(dir.join("resume")),
            headers: vec![],
            expect_sha256: None,
        }
    }

    /// "Process 1" started the upload (its id saved) and got parts 1 and 2 out before it
    /// died; "process 2", a fresh client, sends only the other four.
    #[tokio::test]
    async fn multipart_resumes_without_resending_completed_parts() {
        let (emu, _emu_dir) = emulator(vec![]).await;
        let info = emu.info().clone();
        let dir = tempfile::tempdir().unwrap();
        let (file, data) = model_file(dir.path(), 5 * 100 * 1024 + 777);
        let opts = resumable(dir.path());
        let key = "blobs/abc";
        let first = client(&info.oss_endpoint, "fcctl-artifacts", default_key(&info));
        first.ensure_bucket().await.unwrap();
        let plan = first.plan(key, &file, &opts).await.unwrap();
        let (upload_id, done) = first.start(key, &file, &plan, &[]).await.unwrap();
        assert!(done.is_empty());
        for n in 1..=2 {
            let data = read_part(&file, plan.part_size, n, plan.part_size)
                .await
                .unwrap();
            first.upload_part(key, &upload_id, n, data).await.unwrap();
        }
        drop(first);

        let second = client(&info.oss_endpoint, "fcctl-artifacts", default_key(&info));
        let rep = second.put_multipart(key, &file, &opts).await.unwrap();
        assert_eq!(rep.parts_total, 6);
        assert_eq!(rep.parts_skipped, 2);
        assert_eq!(rep.upload_id, upload_id);
        assert_eq!(rep.bytes_sent, data.len() as u64 - 2 * 100 * 1024);
        assert_eq!(
            second.call_count(),
            1 + 4 + 1,
            "ListParts, the four missing parts, Complete"
        );
        assert_eq!(second.get(key, None).await.unwrap(), data);
        // The resume state is removed after completion.
        assert_eq!(
            std::fs::read_dir(dir.path().join("resume"))
                .unwrap()
                .count(),
            0
        );
        emu.shutdown().await;
    }

    /// A part refused for good (a fault the emulator cannot be told to make) ends the
    /// upload with that error and leaves the saved upload id for the next run.
    #[tokio::test]
    async fn a_failed_part_keeps_the_resume_state() {
        let srv = TestServer::start(|r, _| {
            let q = r.query_pairs();
            let part = q.iter().find(|(k, _)| k == "partNumber").map(|(_, v)| v.as_str());
            let xml = |status: u16, body: &str| Reply::Respond {
                status,
                headers: vec![("content-type".into(), "application/xml".into())],
                body: body.as_bytes().to_vec(),
            };
            match (r.method.as_str(), part) {
                ("POST", None) if q.iter().any(|(k, _)| k == "uploads") => xml(
                    200,
                    "<InitiateMultipartUploadResult><UploadId>UP1</UploadId></InitiateMultipartUploadResult>",
                ),
                ("PUT", Some("1")) => Reply::Respond {
                    status: 200,
                    headers: vec![("etag".into(), format!("\"{}\"", md5_hex(&r.body)))],
                    body: Vec::new(),
                },
                _ => xml(
                    400,
                    "<Error><Code>InvalidArgument</Code><Message>m</Message><RequestId>r</RequestId></Error>",
                ),
            }
        })
        .await;
        let dir = tempfile::tempdir().unwrap();
        let (file, _) = model_file(dir.path(), 2 * 100 * 1024 + 1);
        let opts = resumable(dir.path());
        let c = client(&srv.base, "fcctl-artifacts", AccessKey::new("a", "b"));
        let err = c
            .put_multipart("blobs/abc", &file, &opts)
            .await
            .unwrap_err();
        assert_eq!(err.code(), Some("InvalidArgument"));
        let parts: Vec<String> = srv
            .requests()
            .iter()
            .filter(|r| r.method == "PUT")
            .map(|r| r.target.clone())
            .collect();
        assert_eq!(
            parts.len(),
            2,
            "part 3 is not sent after part 2 failed: {parts:?}"
        );
        let saved: Vec<_> = std::fs::read_dir(dir.path().join("resume"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        assert_eq!(saved.len(), 1);
        let st: ResumeState =
            serde_json::from_str(&std::fs::read_to_string(&saved[0]).unwrap()).unwrap();
        assert_eq!(st.upload_id, "UP1");
        assert_eq!(st.key, "blobs/abc");
        // All requests were path-style.
        assert!(
            srv.requests()
                .iter()
                .all(|r| r.path().starts_with("/fcctl-artifacts/"))
        );
    }

    fn sha256_hex(data: &[u8]) -> String {
        use sha2::Digest as _;
        hex::encode(sha2::Sha256::digest(data))
    }

    /// Hashed as one content, uploaded as another (the file was edited in between, or during
    /// the upload): the object is never completed under the old hash, the upload is aborted and
    /// no resume state is left to resume it.
    #[tokio::test]
    async fn a_file_changed_since_hashing_is_not_stored_under_its_old_hash() {
        let (emu, _emu_dir) = emulator(vec![]).await;
        let info = emu.info().clone();
        let dir = tempfile::tempdir().unwrap();
        let (file, data) = model_file(dir.path(), 3 * 100 * 1024 + 5);
        let hashed = sha256_hex(&data);
        let mut edited = data.clone();
        edited[150 * 1024] ^= 0xff;
        std::fs::write(&file, &edited).unwrap();
        let opts = MultipartOptions {
            expect_sha256: Some(hashed.clone()),
            ..resumable(dir.path())
        };
        let c = client(&info.oss_endpoint, "fcctl-artifacts", default_key(&info));
        c.ensure_bucket().await.unwrap();
        let key = format!("blobs/{hashed}");
        let err = c.put_multipart(&key, &file, &opts).await.unwrap_err();
        assert!(
            err.to_string().contains("changed while it was uploaded"),
            "{err}"
        );
        assert_eq!(c.head(&key).await.unwrap(), None, "nothing stored");
        assert_eq!(
            std::fs::read_dir(dir.path().join("resume"))
                .unwrap()
                .count(),
            0,
            "no resume state for an aborted upload"
        );
        // With the content it names, the same call stores it.
        std::fs::write(&file, &data).unwrap();
        c.put_multipart(&key, &file, &opts).await.unwrap();
        assert_eq!(c.get(&key, None).await.unwrap(), data);
        emu.shutdown().await;
    }

    /// Resume files of finished uploads and of uploads no sync will continue are removed (the
    /// latter aborted on the server); the one still wanted stays.
    #[tokio::test]
    async fn stale_resume_states_are_pruned() {
        let (emu, _emu_dir) = emulator(vec![]).await;
        let info = emu.info().clone();
        let dir = tempfile::tempdir().unwrap();
        let c = client(&info.oss_endpoint, "fcctl-artifacts", default_key(&info));
        c.ensure_bucket().await.unwrap();
        let opts = resumable(dir.path());
        let resume = dir.path().join("resume");
        // Three interrupted uploads: each leaves its state after part 1.
        let mut ids = Vec::new();
        for (i, key) in ["blobs/done", "blobs/wanted", "blobs/abandoned"]
            .iter()
            .enumerate()
        {
            let f = dir.path().join(format!("f{i}"));
            std::fs::write(&f, vec![i as u8; 2 * 100 * 1024 + 3]).unwrap();
            let plan = c.plan(key, &f, &opts).await.unwrap();
            let (id, _) = c.start(key, &f, &plan, &[]).await.unwrap();
            let part = read_part(&f, plan.part_size, 1, plan.part_size)
                .await
                .unwrap();
            c.upload_part(key, &id, 1, part).await.unwrap();
            ids.push(id);
        }
        // "done" was finished elsewhere (its upload id is gone), plus one unreadable file.
        c.abort_multipart("blobs/done", &ids[0]).await.unwrap();
        std::fs::write(resume.join("garbage.json"), b"{").unwrap();
        assert_eq!(std::fs::read_dir(&resume).unwrap().count(), 4);

        let keep =
            std::collections::HashSet::from(["blobs/wanted".to_string(), "blobs/done".to_string()]);
        let removed = c.prune_resume_states(&resume, &keep).await.unwrap();
        assert_eq!(removed, 3);
        let left: Vec<ResumeState> = std::fs::read_dir(&resume)
            .unwrap()
            .map(|e| serde_json::from_slice(&std::fs::read(e.unwrap().path()).unwrap()).unwrap())
            .collect();
        assert_eq!(left.len(), 1);
        assert_eq!(left[0].key, "blobs/wanted");
        // The abandoned upload is gone on the server too.
        let gone = c.list_parts("blobs/abandoned", &ids[2]).await.unwrap_err();
        assert_eq!(gone.code(), Some("NoSuchUpload"), "{gone}");
        emu.shutdown().await;
    }

    /// Two pages as OSS writes them (the second found through NextKeyMarker and
    /// NextUploadIdMarker of the first), XML entities in a key, and a page whose markers are
    /// missing: continued after its last upload.
    #[tokio::test]
    async fn list_multipart_uploads_reads_every_page() {
        let srv = TestServer::start(|r, _| {
            let page = match r.query("key-marker").as_deref() {
                None => "<IsTruncated>true</IsTruncated><NextKeyMarker>fcctl/app/a&amp;b</NextKeyMarker><NextUploadIdMarker>018F2A3B4C5D0001A1B2C3D4E5F60718</NextUploadIdMarker>\
                    <Upload><Key>fcctl/app/a&amp;b</Key><UploadId>018F2A3B4C5D0001A1B2C3D4E5F60718</UploadId><Initiated>2024-05-01T08:00:00.000Z</Initiated></Upload>",
                Some("fcctl/app/a&b") => "<IsTruncated>true</IsTruncated><NextKeyMarker></NextKeyMarker><NextUploadIdMarker></NextUploadIdMarker>\
                    <Upload><Key>fcctl/app/c</Key><UploadId>018F2A3B4C5E0000F0E1D2C3B4A59687</UploadId><Initiated>2024-05-01T08:00:01.000Z</Initiated></Upload>",
                _ => "<IsTruncated>false</IsTruncated>",
            };
            Reply::Respond {
                status: 200,
                headers: vec![("content-type".into(), "application/xml".into())],
                body: format!(
                    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ListMultipartUploadsResult><Bucket>bk</Bucket><KeyMarker></KeyMarker><UploadIdMarker></UploadIdMarker><Delimiter></Delimiter><Prefix>fcctl/app/</Prefix><MaxUploads>1000</MaxUploads>{page}</ListMultipartUploadsResult>"
                )
                .into_bytes(),
            }
        })
        .await;
        let c = client(&srv.base, "bk", AccessKey::new("a", "b"));
        let got = c.list_multipart_uploads("fcctl/app/").await.unwrap();
        assert_eq!(
            got,
            vec![
                IncompleteUpload {
                    key: "fcctl/app/a&b".into(),
                    upload_id: "018F2A3B4C5D0001A1B2C3D4E5F60718".into(),
                    initiated: Some("2024-05-01T08:00:00.000Z".into()),
                },
                IncompleteUpload {
                    key: "fcctl/app/c".into(),
                    upload_id: "018F2A3B4C5E0000F0E1D2C3B4A59687".into(),
                    initiated: Some("2024-05-01T08:00:01.000Z".into()),
                },
            ]
        );
        let reqs = srv.requests();
        assert_eq!(reqs.len(), 3);
        for r in &reqs {
            assert_eq!(r.method, "GET");
            assert_eq!(r.path(), "/bk/");
            assert_eq!(r.query("uploads").as_deref(), Some(""));
            assert_eq!(r.query("prefix").as_deref(), Some("fcctl/app/"));
        }
        assert_eq!(reqs[0].query("key-marker"), None);
        assert_eq!(
            reqs[1].query("upload-id-marker").as_deref(),
            Some("018F2A3B4C5D0001A1B2C3D4E5F60718")
        );
        assert_eq!(reqs[2].query("key-marker").as_deref(), Some("fcctl/app/c"));
        assert_eq!(
            reqs[2].query("upload-id-marker").as_deref(),
            Some("018F2A3B4C5E0000F0E1D2C3B4A59687")
        );
    }

    /// Against the emulator: only the uploads under the prefix and not yet aborted or
    /// completed are listed, and an upload aborted twice is aborted.
    #[tokio::test]
    async fn incomplete_uploads_are_listed_until_aborted() {
        let (emu, _emu_dir) = emulator(vec![]).await;
        let info = emu.info().clone();
        let c = client(&info.oss_endpoint, "fcctl-artifacts", default_key(&info));
        c.ensure_bucket().await.unwrap();
        let a = c.initiate("fcctl/app/code/1.zip", &[]).await.unwrap();
        let b = c.initiate("fcctl/app/blobs/x", &[]).await.unwrap();
        let other = c.initiate("fcctl/other/blobs/x", &[]).await.unwrap();
        let listed = |v: Vec<IncompleteUpload>| {
            v.into_iter()
                .map(|u| (u.key, u.upload_id))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            listed(c.list_multipart_uploads("fcctl/app/").await.unwrap()),
            vec![
                ("fcctl/app/blobs/x".to_string(), b.clone()),
                ("fcctl/app/code/1.zip".to_string(), a.clone())
            ]
        );
        c.abort_multipart("fcctl/app/code/1.zip", &a).await.unwrap();
        c.abort_multipart("fcctl/app/code/1.zip", &a).await.unwrap();
        assert_eq!(
            listed(c.list_multipart_uploads("fcctl/app/").await.unwrap()),
            vec![("fcctl/app/blobs/x".to_string(), b)]
        );
        assert_eq!(
            c.list_multipart_uploads("").await.unwrap().len(),
            2,
            "{other} is listed without a prefix"
        );
        emu.shutdown().await;
    }
}
