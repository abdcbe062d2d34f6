//! nas-agent: an FC custom-runtime function with the app's NAS mounted that materialises
//! fcctl NAS releases from content-addressed OSS blobs.
//!
//! Contract: listens on `$FCCTL_LISTEN_HOST:$FC_CUSTOM_LISTEN_PORT` (`0.0.0.0:9000` by default;
//! the local emulator sets 127.0.0.1), answers
//! `POST /initialize`, `GET /pre-stop` and `POST /invoke`. The invoke body is a
//! [`fcctl_protocol::agent::Job`]; the answer is its reply or a typed
//! [`fcctl_protocol::agent::Failure`]. The agent holds no credentials: fcctl sends a
//! short-lived presigned GET URL per blob.
//!
//! Layout under `$FCCTL_NAS_ROOT` (e.g. `/mnt/auto/<app>`):
//! - `releases/<id>/…`           a complete release; `.fcctl-release.json` (the marker, with
//!   the manifest) is written inside the staging dir last, then the dir is renamed into place,
//!   so a release directory either exists complete or not at all;
//! - `releases/<id>.tmp/`        staging; each file lands as `<name>.part-<nonce>` and is renamed
//!   in only after its sha256 and size are verified, so staged files are always complete and
//!   reruns skip them (idempotent; a killed sync resumes);
//! - `releases/.lock`            taken while committing.

use std::collections::HashMap;
use std::fs::{self, File};
use std::io::{Read, Write};
use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
use std::path::{Component, Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use fcctl_protocol::agent::{
    CommitJob, CommitReply, Failure, FailureKind, Job, ListReply, ReleaseOnNas, RemoveReply,
    StageJob, StageReply, StatusReply, encode_answer,
};
use fcctl_protocol::release::{MARKER, ManifestEntry as Entry, RELEASES_DIR, ReleaseMarker};
use sha2::{Digest as _, Sha256};

fn main() {
    let port: u16 = std::env::var(fcctl_protocol::env::LISTEN_PORT)
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(9000);
    let host = match fcctl_protocol::env::listen_host() {
        Ok(h) => h,
        Err(e) => {
            eprintln!("nas-agent: {e}");
            std::process::exit(1);
        }
    };
    let server = match tiny_http::Server::http((host, port)) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("nas-agent: cannot listen on port {port}: {e}");
            std::process::exit(1);
        }
    };
    eprintln!("nas-agent: listening on {port}");
    // Read once: a missing variable is reported per job, as the job's failure.
    let root = root();
    for mut req in server.incoming_requests() {
        let path = req.url().split('?').next().unwrap_or("").to_string();
        let (status, body) = match (req.method(), path.as_str()) {
            (tiny_http::Method::Post, "/initialize") | (tiny_http::Method::Get, "/pre-stop") => {
                (200, br#"{"ok":true}"#.to_vec())
            }
            (tiny_http::Method::Post, "/invoke") => {
                let mut buf = Vec::new();
                match req.as_reader().read_to_end(&mut buf) {
                    Ok(_) => match serde_json::from_slice::<Job>(&buf) {
                        Ok(job) => (200, handle(&job, &root)),
                        Err(e) => (
                            400,
                            encode_answer::<()>(&Err(Failure::new(
                                FailureKind::BadJob,
                                format!("bad job: {e}"),
                            ))),
                        ),
                    },
                    Err(e) => (
                        400,
                        encode_answer::<()>(&Err(Failure::new(
                            FailureKind::BadJob,
                            format!("reading body: {e}"),
                        ))),
                    ),
                }
            }
            _ => (
                404,
                encode_answer::<()>(&Err(Failure::new(FailureKind::BadJob, "not found"))),
            ),
        };
        let resp = tiny_http::Response::from_data(body)
            .with_status_code(status)
            .with_header(
                tiny_http::Header::from_bytes(&b"content-type"[..], &b"application/json"[..])
                    .expect("static header"),
            );
        let _ = req.respond(resp);
    }
}

fn root() -> Result<PathBuf, Failure> {
    std::env::var(fcctl_protocol::env::NAS_ROOT)
        .map(PathBuf::from)
        .map_err(|_| {
            Failure::new(
                FailureKind::Misconfigured,
                format!(
                    "{} is not set in the function environment",
                    fcctl_protocol::env::NAS_ROOT
                ),
            )
        })
}

/// A file-system failure on NAS.
fn io(message: String) -> Failure {
    Failure::new(FailureKind::Io, message)
}

/// Runs a job and encodes its answer.
fn handle(job: &Job, root: &Result<PathBuf, Failure>) -> Vec<u8> {
    fn answer<T: serde::Serialize>(op: &str, result: Result<T, Failure>) -> Vec<u8> {
        if let Err(f) = &result {
            eprintln!("nas-agent: {op} failed: {f}");
        }
        encode_answer(&result)
    }
    let op = job.op();
    let releases = match releases_dir(root) {
        Ok(r) => r,
        Err(f) => return answer::<()>(op, Err(f)),
    };
    match job {
        Job::Status { release } => answer(op, status(&releases, release)),
        Job::Stage(stage_job) => answer(op, stage(&releases, stage_job)),
        Job::Commit(commit_job) => answer(op, commit(&releases, commit_job)),
        Job::List => answer(op, list(&releases)),
        Job::Remove { releases: ids } => answer(op, remove(&releases, ids)),
    }
}

/// `<root>/releases`, created on first use.
fn releases_dir(root: &Result<PathBuf, Failure>) -> Result<PathBuf, Failure> {
    let releases = root.clone()?.join(RELEASES_DIR);
    fs::create_dir_all(&releases)
        .map_err(|e| io(format!("creating {}: {e}", releases.display())))?;
    Ok(releases)
}

fn status(releases: &Path, release: &str) -> Result<StatusReply, Failure> {
    check_id(release)?;
    Ok(StatusReply {
        complete: is_complete(&releases.join(release)),
    })
}

fn check_id(id: &str) -> Result<(), Failure> {
    if fcctl_protocol::release::is_release_id(id) {
        Ok(())
    } else {
        Err(Failure::new(
            FailureKind::Refused,
            format!("`{id}` is not a release id"),
        ))
    }
}

/// A symlink entry's target, accepted only when it cannot lead out of the release: relative,
/// a leading run of `..` no longer than the link's own depth, then plain names. A `..` after a
/// name could climb out through another link (`y/..` with `y -> .`), so it is refused too.
fn check_link_target(link_path: &Path, target: &str) -> Result<(), Failure> {
    let refuse = |why: &str| {
        Err(Failure::new(
            FailureKind::Refused,
            format!(
                "link `{}` -> `{target}`: {why}; links must stay inside the release",
                link_path.display()
            ),
        ))
    };
    if target.is_empty() || target.contains('\0') {
        return refuse("empty target");
    }
    let depth = link_path.parent().map_or(0, |p| p.components().count());
    let mut ups = 0;
    let mut names = 0;
    for c in Path::new(target).components() {
        match c {
            Component::ParentDir if names == 0 => ups += 1,
            Component::Normal(_) => names += 1,
            Component::ParentDir => return refuse("`..` after a name"),
            Component::RootDir | Component::Prefix(_) => return refuse("absolute target"),
            Component::CurDir => return refuse("`.` in the target"),
        }
    }
    if names == 0 || ups > depth {
        return refuse("it climbs above the release");
    }
    Ok(())
}

/// Creates the directories of `rel`'s parent under `base` one by one, refusing to pass
/// through anything that is not a real directory: a symlinked parent would carry the write
/// outside the release.
fn real_parent_dirs(base: &Path, rel: &Path) -> Result<PathBuf, Failure> {
    let mut dir = base.to_path_buf();
    let parents: Vec<Component> = rel
        .parent()
        .map(|p| p.components().collect())
        .unwrap_or_default();
    for c in parents {
        dir.push(c);
        match fs::symlink_metadata(&dir) {
            Ok(md) if md.file_type().is_dir() => {}
            Ok(_) => {
                return Err(Failure::new(
                    FailureKind::Refused,
                    format!(
                        "`{}` is a link or a file; refusing to write `{}` through it",
                        dir.strip_prefix(base).unwrap_or(&dir).display(),
                        rel.display()
                    ),
                ));
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                match fs::create_dir(&dir) {
                    Ok(()) => {}
                    // Another worker made it in between: still checked on the next pass.
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                        let md = fs::symlink_metadata(&dir)
                            .map_err(|e| io(format!("stat {}: {e}", dir.display())))?;
                        if !md.file_type().is_dir() {
                            return Err(Failure::new(
                                FailureKind::Refused,
                                format!("`{}` is not a directory", dir.display()),
                            ));
                        }
                    }
                    Err(e) => return Err(io(format!("mkdir {}: {e}", dir.display()))),
                }
            }
            Err(e) => return Err(io(format!("stat {}: {e}", dir.display()))),
        }
    }
    Ok(dir)
}

/// A relative path without `..`, absolute parts or empty segments.
fn safe_rel(p: &str) -> Result<&Path, Failure> {
    let path = Path::new(p);
    if p.is_empty() || !path.components().all(|c| matches!(c, Component::Normal(_))) {
        return Err(Failure::new(
            FailureKind::Refused,
            format!("unsafe path `{p}` in manifest"),
        ));
    }
    Ok(path)
}

fn is_complete(dir: &Path) -> bool {
    dir.join(MARKER).is_file()
}

fn nonce() -> String {
    let t = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("{:x}-{}", t, std::process::id())
}

/// sha256 → (path, mode) of files in complete releases, for hard-linking.
fn link_index(releases: &Path) -> HashMap<String, (PathBuf, u32, u64)> {
    let mut idx = HashMap::new();
    let Ok(rd) = fs::read_dir(releases) else {
        return idx;
    };
    for e in rd.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        // Committed releases only, as real directories.
        if !fcctl_protocol::release::is_release_id(&name)
            || !e.file_type().is_ok_and(|t| t.is_dir())
        {
            continue;
        }
        let dir = e.path();
        let Ok(bytes) = fs::read(dir.join(MARKER)) else {
            continue;
        };
        let Ok(marker) = serde_json::from_slice::<ReleaseMarker>(&bytes) else {
            continue;
        };
        for f in marker.files {
            let inside = safe_rel(&f.path).is_ok_and(|rel| parents(&dir, rel) == Parents::Real);
            if f.link.is_none() && inside {
                idx.entry(f.sha256.clone())
                    .or_insert((dir.join(&f.path), f.mode, f.size));
            }
        }
    }
    idx
}

/// What stands on the way to `rel` under `base`.
#[derive(PartialEq)]
enum Parents {
    /// Every parent is a real directory.
    Real,
    /// A parent does not exist (the file is then simply missing).
    Missing,
    /// A parent is a link or a file: writing or reading through it could leave the release.
    NotADirectory,
}

fn parents(base: &Path, rel: &Path) -> Parents {
    let mut dir = base.to_path_buf();
    for c in rel.parent().into_iter().flat_map(Path::components) {
        dir.push(c);
        match fs::symlink_metadata(&dir) {
            Ok(m) if m.file_type().is_dir() => {}
            Ok(_) => return Parents::NotADirectory,
            Err(_) => return Parents::Missing,
        }
    }
    Parents::Real
}

fn fsync_dir(p: &Path) {
    if let Ok(f) = File::open(p) {
        let _ = f.sync_all();
    }
}

/// Sets mode and (when running as root) owner.
fn set_owner_mode(p: &Path, mode: u32, uid: Option<u32>, gid: Option<u32>) -> Result<(), String> {
    fs::set_permissions(p, fs::Permissions::from_mode(mode & 0o7777))
        .map_err(|e| format!("chmod {}: {e}", p.display()))?;
    let md = fs::symlink_metadata(p).map_err(|e| format!("stat {}: {e}", p.display()))?;
    // Files are created with our effective uid: uid 0 on the new file means we are root.
    if md.uid() == 0 && (uid.is_some() || gid.is_some()) {
        std::os::unix::fs::lchown(p, uid, gid)
            .map_err(|e| format!("chown {}: {e}", p.display()))?;
    }
    Ok(())
}

#[derive(Default)]
struct Counters {
    downloaded_bytes: u64,
    downloaded: u64,
    linked: u64,
    skipped: u64,
    links: u64,
}

fn stage(releases: &Path, job: &StageJob) -> Result<StageReply, Failure> {
    check_id(&job.release)?;
    if is_complete(&releases.join(&job.release)) {
        return Ok(StageReply {
            complete: true,
            ..StageReply::default()
        });
    }
    let staging = releases.join(format!("{}.tmp", job.release));
    fs::create_dir_all(&staging).map_err(|e| io(format!("creating {}: {e}", staging.display())))?;
    let deadline = Instant::now() + Duration::from_secs(job.budget_s.unwrap_or(240));
    let index = link_index(releases);
    let agent = ureq::Agent::new_with_config(
        ureq::Agent::config_builder()
            .timeout_connect(Some(Duration::from_secs(10)))
            .timeout_recv_body(Some(Duration::from_secs(120)))
            .http_status_as_error(true)
            .build(),
    );
    let next = AtomicUsize::new(0);
    let counters = Mutex::new(Counters::default());
    let remaining = Mutex::new(Vec::<String>::new());
    let errors = Mutex::new(Vec::<Failure>::new());
    let workers = job.jobs.unwrap_or(4).clamp(1, 16);
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(f) = job.files.get(i) else { break };
                    if Instant::now() >= deadline {
                        remaining.lock().unwrap().push(f.path.clone());
                        continue;
                    }
                    match place(&staging, f, job, &index, &agent) {
                        Ok(how) => {
                            let mut c = counters.lock().unwrap();
                            match how {
                                Placed::Skipped => c.skipped += 1,
                                Placed::Linked => c.linked += 1,
                                Placed::Symlink => c.links += 1,
                                Placed::Downloaded(n) => {
                                    c.downloaded += 1;
                                    c.downloaded_bytes += n;
                                }
                            }
                        }
                        Err(e) => errors.lock().unwrap().push(e),
                    }
                }
            });
        }
    });
    let errors = errors.into_inner().unwrap();
    if let Some(first) = errors.first() {
        // A refused path or a NAS error must not read as a network problem; among fetch
        // failures, corrupt blobs speak for all, since fcctl can replace them and retry.
        let fetch = |k: FailureKind| matches!(k, FailureKind::Download | FailureKind::CorruptBlob);
        let corrupt: Vec<String> = errors.iter().flat_map(|e| e.corrupt.clone()).collect();
        let kind = match errors.iter().find(|e| !fetch(e.kind)) {
            Some(worst) => worst.kind,
            None if !corrupt.is_empty() => FailureKind::CorruptBlob,
            None => first.kind,
        };
        let messages: Vec<String> = errors.iter().map(|e| e.message.clone()).collect();
        return Err(Failure {
            corrupt,
            ..Failure::new(
                kind,
                format!("{} file(s) failed: {}", errors.len(), messages.join("; ")),
            )
        });
    }
    let c = counters.into_inner().unwrap();
    Ok(StageReply {
        complete: false,
        downloaded: c.downloaded,
        downloaded_bytes: c.downloaded_bytes,
        linked: c.linked,
        skipped: c.skipped,
        symlinks: c.links,
        remaining: remaining.into_inner().unwrap(),
    })
}

enum Placed {
    Skipped,
    Linked,
    Symlink,
    Downloaded(u64),
}

fn place(
    staging: &Path,
    f: &Entry,
    job: &StageJob,
    index: &HashMap<String, (PathBuf, u32, u64)>,
    agent: &ureq::Agent,
) -> Result<Placed, Failure> {
    let rel = safe_rel(&f.path)?;
    if let Some(target) = &f.link {
        check_link_target(rel, target)?;
    }
    let dst = staging.join(rel);
    let parent = real_parent_dirs(staging, rel)?;
    if let Some(target) = &f.link {
        if fs::read_link(&dst).ok().as_deref() == Some(Path::new(target)) {
            return Ok(Placed::Skipped);
        }
        let tmp = parent.join(format!(".{}.part-{}", file_name(&dst), nonce()));
        std::os::unix::fs::symlink(target, &tmp)
            .map_err(|e| io(format!("symlink {}: {e}", tmp.display())))?;
        let _ = set_owner_mode_link(&tmp, job.uid, job.gid);
        fs::rename(&tmp, &dst).map_err(|e| io(format!("rename {}: {e}", dst.display())))?;
        return Ok(Placed::Symlink);
    }
    // Only verified files are ever renamed into staging: size + mode equal → already done.
    if let Ok(md) = fs::symlink_metadata(&dst)
        && md.is_file()
        && md.len() == f.size
        && md.permissions().mode() & 0o7777 == f.mode & 0o7777
    {
        return Ok(Placed::Skipped);
    }
    let tmp = parent.join(format!(".{}.part-{}", file_name(&dst), nonce()));
    if let Some((src, mode, size)) = index.get(&f.sha256)
        && *mode & 0o7777 == f.mode & 0o7777
        && *size == f.size
        && fs::symlink_metadata(src)
            .map(|m| m.file_type().is_file() && m.len() == f.size)
            .unwrap_or(false)
        && fs::hard_link(src, &tmp).is_ok()
    {
        fs::rename(&tmp, &dst).map_err(|e| io(format!("rename {}: {e}", dst.display())))?;
        return Ok(Placed::Linked);
    }
    let url = job.urls.get(&f.sha256).ok_or_else(|| {
        Failure::new(
            FailureKind::Download,
            format!("{}: no URL for blob {}", f.path, f.sha256),
        )
    })?;
    let result = download(agent, url, &tmp, f);
    if let Err(e) = result {
        let _ = fs::remove_file(&tmp);
        return Err(match e {
            Fetch::Failed(e) => Failure::new(FailureKind::Download, e),
            Fetch::Corrupt(e) => Failure {
                corrupt: vec![f.sha256.clone()],
                ..Failure::new(FailureKind::CorruptBlob, e)
            },
        });
    }
    set_owner_mode(&tmp, f.mode, job.uid, job.gid).map_err(io)?;
    fs::rename(&tmp, &dst).map_err(|e| io(format!("rename {}: {e}", dst.display())))?;
    Ok(Placed::Downloaded(f.size))
}

fn set_owner_mode_link(p: &Path, uid: Option<u32>, gid: Option<u32>) -> Result<(), String> {
    let md = fs::symlink_metadata(p).map_err(|e| e.to_string())?;
    if md.uid() == 0 && (uid.is_some() || gid.is_some()) {
        std::os::unix::fs::lchown(p, uid, gid).map_err(|e| e.to_string())?;
    }
    Ok(())
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Why a blob did not arrive.
enum Fetch {
    /// The network or OSS failed (retried already).
    Failed(String),
    /// OSS served all of it, and it is not the content its key names: fetching again would
    /// only fetch the same bytes, so fcctl is told to replace the blob.
    Corrupt(String),
}

impl From<String> for Fetch {
    fn from(e: String) -> Fetch {
        Fetch::Failed(e)
    }
}

/// Streams `url` into `tmp`, verifying size and sha256, then fsyncs.
fn download(agent: &ureq::Agent, url: &str, tmp: &Path, f: &Entry) -> Result<(), Fetch> {
    let mut last = String::new();
    for attempt in 0..6 {
        if attempt > 0 {
            std::thread::sleep(Duration::from_millis((100 << attempt).min(3000)));
        }
        let resp = match agent.get(url).call() {
            Ok(r) => r,
            Err(e) => {
                last = format!("{}: GET blob {}: {e}", f.path, f.sha256);
                // Throttling and server errors pass; other 4xx (expired or forged URL) do not.
                match e {
                    ureq::Error::StatusCode(s) if s != 408 && s != 429 && s < 500 => break,
                    _ => continue,
                }
            }
        };
        let mut reader = resp.into_body().into_with_config().limit(u64::MAX).reader();
        // A fresh name, created exclusively: an existing entry (a planted link) is never
        // followed.
        let _ = fs::remove_file(tmp);
        let mut out = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(tmp)
            .map_err(|e| format!("create {}: {e}", tmp.display()))?;
        let mut h = Sha256::new();
        let mut n = 0u64;
        let mut buf = vec![0u8; 1 << 20];
        let read_ok = loop {
            match reader.read(&mut buf) {
                Ok(0) => break Ok(()),
                Ok(k) => {
                    h.update(&buf[..k]);
                    n += k as u64;
                    out.write_all(&buf[..k])
                        .map_err(|e| format!("write {}: {e}", tmp.display()))?;
                }
                Err(e) => break Err(e),
            }
        };
        if let Err(e) = read_ok {
            last = format!("{}: reading blob: {e}", f.path);
            continue;
        }
        let got = hex::encode(h.finalize());
        if n != f.size || got != f.sha256 {
            last = format!(
                "{}: blob verification failed (got {n} bytes sha256 {got}, want {} bytes {})",
                f.path, f.size, f.sha256
            );
            if n == f.size {
                return Err(Fetch::Corrupt(last));
            }
            continue;
        }
        out.sync_all()
            .map_err(|e| format!("fsync {}: {e}", tmp.display()))?;
        return Ok(());
    }
    Err(Fetch::Failed(last))
}

fn commit(releases: &Path, job: &CommitJob) -> Result<CommitReply, Failure> {
    check_id(&job.release)?;
    let lock = File::create(releases.join(".lock")).map_err(|e| io(format!("lock: {e}")))?;
    lock.lock().map_err(|e| io(format!("lock: {e}")))?;
    let final_dir = releases.join(&job.release);
    if is_complete(&final_dir) {
        return Ok(CommitReply {
            complete: true,
            already: true,
        });
    }
    if final_dir.exists() {
        // Not produced by this agent (no marker): move it aside, never serve it.
        let aside = releases.join(format!("{}.broken-{}", job.release, nonce()));
        fs::rename(&final_dir, &aside).map_err(|e| io(format!("moving aside: {e}")))?;
    }
    let staging = releases.join(format!("{}.tmp", job.release));
    let mut missing = Vec::new();
    for f in &job.files {
        let rel = safe_rel(&f.path)?;
        if let Some(target) = &f.link {
            check_link_target(rel, target)?;
        }
        if parents(&staging, rel) == Parents::NotADirectory {
            return Err(Failure::new(
                FailureKind::Refused,
                format!("`{}` lies behind a link or a file in staging", f.path),
            ));
        }
        let p = staging.join(rel);
        let ok = match &f.link {
            Some(t) => fs::read_link(&p).ok().as_deref() == Some(Path::new(t)),
            None => fs::symlink_metadata(&p)
                .map(|m| m.is_file() && m.len() == f.size)
                .unwrap_or(false),
        };
        if !ok {
            missing.push(f.path.clone());
        }
    }
    if !missing.is_empty() {
        let mut failure = Failure::new(
            FailureKind::MissingFromStaging,
            format!("{} file(s) missing from staging", missing.len()),
        );
        failure.missing = missing;
        return Err(failure);
    }
    // Remove leftovers (interrupted .part files, files not in this manifest) and fix dirs.
    let wanted: std::collections::HashSet<PathBuf> =
        job.files.iter().map(|f| PathBuf::from(&f.path)).collect();
    clean_extra(&staging, &staging, &wanted, job).map_err(io)?;
    let marker = ReleaseMarker {
        release: job.release.clone(),
        files: job.files.clone(),
        created: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0),
    };
    let marker = serde_json::to_vec(&marker).map_err(|e| io(format!("marker: {e}")))?;
    let mpath = staging.join(MARKER);
    let mut mf = File::create(&mpath).map_err(|e| io(format!("marker: {e}")))?;
    mf.write_all(&marker)
        .map_err(|e| io(format!("marker: {e}")))?;
    mf.sync_all().map_err(|e| io(format!("marker: {e}")))?;
    set_owner_mode(&mpath, 0o644, job.uid, job.gid).map_err(io)?;
    set_owner_mode(&staging, 0o755, job.uid, job.gid).map_err(io)?;
    fsync_dir(&staging);
    fs::rename(&staging, &final_dir).map_err(|e| io(format!("publishing release: {e}")))?;
    fsync_dir(releases);
    Ok(CommitReply {
        complete: true,
        already: false,
    })
}

fn clean_extra(
    base: &Path,
    dir: &Path,
    wanted: &std::collections::HashSet<PathBuf>,
    job: &CommitJob,
) -> Result<(), String> {
    let rd = fs::read_dir(dir).map_err(|e| format!("reading {}: {e}", dir.display()))?;
    for e in rd.flatten() {
        let p = e.path();
        let rel = p.strip_prefix(base).unwrap_or(&p).to_path_buf();
        let ft = e.file_type().map_err(|e| e.to_string())?;
        if ft.is_dir() {
            clean_extra(base, &p, wanted, job)?;
            set_owner_mode(&p, 0o755, job.uid, job.gid)?;
            fsync_dir(&p);
        } else if !wanted.contains(&rel) {
            let _ = fs::remove_file(&p);
        }
    }
    Ok(())
}

fn dir_usage(p: &Path) -> (u64, u64) {
    let mut bytes = 0;
    let mut files = 0;
    if let Ok(rd) = fs::read_dir(p) {
        for e in rd.flatten() {
            if let Ok(ft) = e.file_type() {
                if ft.is_dir() {
                    let (b, f) = dir_usage(&e.path());
                    bytes += b;
                    files += f;
                } else if let Ok(md) = e.metadata() {
                    bytes += md.len();
                    files += 1;
                }
            }
        }
    }
    (bytes, files)
}

fn list(releases: &Path) -> Result<ListReply, Failure> {
    let mut out = Vec::new();
    let rd =
        fs::read_dir(releases).map_err(|e| io(format!("reading {}: {e}", releases.display())))?;
    for e in rd.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') || !e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
            continue;
        }
        let p = e.path();
        let (bytes, files) = dir_usage(&p);
        let age_s = e
            .metadata()
            .ok()
            .and_then(|m| m.modified().ok())
            .and_then(|t| t.elapsed().ok())
            .map(|d| d.as_secs())
            .unwrap_or(0);
        out.push(ReleaseOnNas {
            complete: is_complete(&p),
            id: name,
            bytes,
            files,
            age_s,
        });
    }
    out.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(ListReply { releases: out })
}

fn remove(releases: &Path, ids: &[String]) -> Result<RemoveReply, Failure> {
    let mut removed = Vec::new();
    // Every name is checked whole before anything is touched.
    if let Some(bad) = ids
        .iter()
        .find(|id| !fcctl_protocol::release::is_release_dir_name(id))
    {
        return Err(Failure::new(
            FailureKind::Refused,
            format!("`{bad}` is not a release directory name; nothing removed"),
        ));
    }
    for id in ids {
        let p = releases.join(id);
        if p.exists() {
            // Rename first so a half-removed release is never visible under its id.
            let trash = releases.join(format!(".trash-{}", nonce()));
            fs::rename(&p, &trash).map_err(|e| io(format!("removing {id}: {e}")))?;
            fs::remove_dir_all(&trash).map_err(|e| io(format!("removing {id}: {e}")))?;
            removed.push(id.clone());
        }
    }
    Ok(RemoveReply { removed })
}

#[cfg(test)]
mod tests {
    use fcctl_protocol::agent::decode_answer;

    use super::*;

    #[test]
    fn ids_and_paths_are_checked() {
        assert!(check_id("r-0123abcd").is_ok());
        // Jobs name releases, not their staging dirs.
        assert!(check_id("r-0123abcd.tmp").is_err());
        assert_eq!(check_id("../etc").unwrap_err().kind, FailureKind::Refused);
        assert!(check_id("r-").is_err());
        assert!(safe_rel("model/a.onnx").is_ok());
        assert_eq!(safe_rel("../x").unwrap_err().kind, FailureKind::Refused);
        assert!(safe_rel("/etc/passwd").is_err());
    }

    #[test]
    fn commit_requires_all_files_and_links_later_releases() {
        let d = tempfile::tempdir().unwrap();
        let rel = d.path().join("releases");
        fs::create_dir_all(rel.join("r-aaa.tmp/model")).unwrap();
        fs::write(rel.join("r-aaa.tmp/model/x"), b"hello").unwrap();
        let sha = hex::encode(Sha256::digest(b"hello"));
        let e = Entry {
            path: "model/x".into(),
            size: 5,
            mode: 0o644,
            sha256: sha.clone(),
            link: None,
        };
        let commit_job = |release: &str| CommitJob {
            release: release.into(),
            files: vec![e.clone()],
            uid: None,
            gid: None,
        };
        fs::set_permissions(
            rel.join("r-aaa.tmp/model/x"),
            fs::Permissions::from_mode(0o644),
        )
        .unwrap();
        fs::write(rel.join("r-aaa.tmp/model/.x.part-1"), b"junk").unwrap();
        let r = commit(&rel, &commit_job("r-aaa")).unwrap();
        assert!(r.complete && !r.already);
        assert!(is_complete(&rel.join("r-aaa")));
        assert!(!rel.join("r-aaa/model/.x.part-1").exists());
        let marker: ReleaseMarker =
            serde_json::from_slice(&fs::read(rel.join("r-aaa").join(MARKER)).unwrap()).unwrap();
        assert_eq!(marker.files, vec![e.clone()]);
        // A second release with the same content links instead of downloading.
        let stage_job = StageJob {
            release: "r-bbb".into(),
            files: vec![e.clone()],
            urls: Default::default(),
            uid: None,
            gid: None,
            budget_s: None,
            jobs: None,
        };
        let r = stage(&rel, &stage_job).unwrap();
        assert_eq!(r.linked, 1, "{r:?}");
        let a = fs::metadata(rel.join("r-aaa/model/x")).unwrap().ino();
        let b = fs::metadata(rel.join("r-bbb.tmp/model/x")).unwrap().ino();
        assert_eq!(a, b);
        // Missing file → commit refuses, naming it.
        let f = commit(&rel, &commit_job("r-ccc")).unwrap_err();
        assert_eq!(f.kind, FailureKind::MissingFromStaging);
        assert_eq!(f.missing, vec!["model/x".to_string()]);
        assert!(!rel.join("r-ccc").exists());
    }

    /// What fcctl sends, as fcctl's types serialise it, through the agent's HTTP-facing entry
    /// (`handle`), back through fcctl's decoder.
    #[test]
    fn a_job_from_fcctl_round_trips_through_the_agent() {
        let d = tempfile::tempdir().unwrap();
        let root = Ok(d.path().join("app"));
        let wire = serde_json::to_vec(&Job::Status {
            release: "r-abc".into(),
        })
        .unwrap();
        let job: Job = serde_json::from_slice(&wire).unwrap();
        let answer = handle(&job, &root);
        let status = decode_answer::<StatusReply>(&answer).unwrap().unwrap();
        assert!(!status.complete);
        let wire = serde_json::to_vec(&Job::Remove {
            releases: vec!["../../etc".into()],
        })
        .unwrap();
        let answer = handle(&serde_json::from_slice(&wire).unwrap(), &root);
        let failure = decode_answer::<RemoveReply>(&answer).unwrap().unwrap_err();
        assert_eq!(failure.kind, FailureKind::Refused);
        let answer = handle(&Job::List, &root);
        let list = decode_answer::<ListReply>(&answer).unwrap().unwrap();
        assert!(list.releases.is_empty());
        let unset = Err(Failure::new(
            FailureKind::Misconfigured,
            "FCCTL_NAS_ROOT is not set",
        ));
        let answer = handle(&Job::List, &unset);
        let failure = decode_answer::<ListReply>(&answer).unwrap().unwrap_err();
        assert_eq!(failure.kind, FailureKind::Misconfigured);
    }

    /// Issue 15: crafted stage/commit/remove jobs never touch anything outside the release
    /// being staged. A committed release `r-base` (one file whose content can be hard-linked
    /// without a download) sits next to a sibling app's directory and a file outside the root;
    /// each job combines a hostile link (absolute, climbing, `..` after a name, `.`) with a
    /// write through it, or a hostile release name. After every job: the outside file and the
    /// sibling app are untouched, `r-base` is byte-identical, and no link under `releases/`
    /// points out of its release.
    #[test]
    fn crafted_jobs_never_escape_the_release() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path().join("nas/app");
        let rel = root.join("releases");
        let sibling = d.path().join("nas/other-app/releases/r-keep");
        fs::create_dir_all(&sibling).unwrap();
        fs::write(sibling.join("data"), b"sibling").unwrap();
        fs::write(d.path().join("outside.txt"), b"outside").unwrap();
        fs::create_dir_all(rel.join("r-base.tmp/model")).unwrap();
        fs::write(rel.join("r-base.tmp/model/w"), b"weights").unwrap();
        fs::set_permissions(
            rel.join("r-base.tmp/model/w"),
            fs::Permissions::from_mode(0o644),
        )
        .unwrap();
        let sha = hex::encode(Sha256::digest(b"weights"));
        let file = |path: &str| Entry {
            path: path.into(),
            size: 7,
            mode: 0o644,
            sha256: sha.clone(),
            link: None,
        };
        let link = |path: &str, target: &str| Entry {
            path: path.into(),
            size: target.len() as u64,
            mode: 0o777,
            sha256: hex::encode(Sha256::digest(target.as_bytes())),
            link: Some(target.into()),
        };
        commit(
            &rel,
            &CommitJob {
                release: "r-base".into(),
                files: vec![file("model/w")],
                uid: None,
                gid: None,
            },
        )
        .unwrap();
        let snapshot = |p: &Path| fs::read(p).unwrap();
        let base_before = snapshot(&rel.join("r-base/model/w"));

        let targets = [
            "/",
            "/etc",
            "/tmp",
            "..",
            "../..",
            "../../..",
            "../../../other-app",
            "../r-base",
            "../r-base/model",
            "x/../..",
            "x/../../..",
            ".",
            "./..",
            "a/./b",
            "../../../../outside.txt",
            "//etc",
            "../../../nas",
            "model/../../..",
        ];
        let link_paths = ["d", "model/d", "a/b/d"];
        let writes = ["w", "x/w", "x/y/w"];
        let mut jobs = 0;
        let mut refused = 0;
        for target in targets {
            for link_path in link_paths {
                for write in writes {
                    jobs += 1;
                    let files = vec![
                        link(link_path, target),
                        file(&format!("{link_path}/{write}")),
                    ];
                    let job = StageJob {
                        release: format!("r-c{jobs}"),
                        files: files.clone(),
                        urls: Default::default(),
                        uid: None,
                        gid: None,
                        budget_s: Some(5),
                        jobs: Some(1),
                    };
                    if stage(&rel, &job).is_err() {
                        refused += 1;
                    }
                    let _ = commit(
                        &rel,
                        &CommitJob {
                            release: job.release.clone(),
                            files,
                            uid: None,
                            gid: None,
                        },
                    );
                }
            }
        }
        // Hostile names for every operation.
        let names = [
            "r-zzz.broken-x/../../../other-app",
            "../other-app",
            "r-base/../../other-app",
            "r-base.tmp/../..",
            "",
            "r-",
            "r-base/",
            "/etc",
            "r-base\0",
            "R-BASE/..",
        ];
        for name in names {
            jobs += 4;
            let remove_refused = remove(&rel, &[name.to_string()]).is_err();
            let status_refused = status(&rel, name).is_err();
            let stage_refused = stage(
                &rel,
                &StageJob {
                    release: name.into(),
                    files: vec![file("w")],
                    urls: Default::default(),
                    uid: None,
                    gid: None,
                    budget_s: Some(5),
                    jobs: Some(1),
                },
            )
            .is_err();
            let commit_refused = commit(
                &rel,
                &CommitJob {
                    release: name.into(),
                    files: vec![file("w")],
                    uid: None,
                    gid: None,
                },
            )
            .is_err();
            assert!(
                remove_refused && status_refused && stage_refused && commit_refused,
                "{name}"
            );
            refused += 4;
        }
        // A stage job may not reopen the committed release either.
        jobs += 1;
        let again = stage(
            &rel,
            &StageJob {
                release: "r-base".into(),
                files: vec![link("model/w", "/etc/passwd")],
                urls: Default::default(),
                uid: None,
                gid: None,
                budget_s: Some(5),
                jobs: Some(1),
            },
        );
        assert!(again.is_err() || again.unwrap().complete);
        assert!(jobs >= 200, "{jobs} jobs");

        assert_eq!(snapshot(&d.path().join("outside.txt")), b"outside");
        assert_eq!(snapshot(&sibling.join("data")), b"sibling");
        assert_eq!(snapshot(&rel.join("r-base/model/w")), base_before);
        assert_eq!(fs::read_dir(rel.join("r-base/model")).unwrap().count(), 1);
        // No link anywhere under releases/ resolves outside its own release.
        let mut stack = vec![rel.clone()];
        while let Some(dir) = stack.pop() {
            for e in fs::read_dir(&dir).unwrap().flatten() {
                let p = e.path();
                let t = e.file_type().unwrap();
                if t.is_dir() {
                    stack.push(p);
                } else if t.is_symlink() {
                    let release_dir = p
                        .strip_prefix(&rel)
                        .unwrap()
                        .components()
                        .next()
                        .map(|c| rel.join(c))
                        .unwrap();
                    let resolved = fs::canonicalize(&p);
                    let inside = resolved
                        .as_ref()
                        .map(|r| r.starts_with(fs::canonicalize(&release_dir).unwrap()))
                        .unwrap_or(true);
                    assert!(inside, "{} -> {:?}", p.display(), fs::read_link(&p));
                }
            }
        }
        assert!(refused > jobs / 2, "{refused}/{jobs} refused");
        eprintln!("crafted jobs: {jobs}, refused {refused}");
    }
}
