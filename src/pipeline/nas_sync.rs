//! `fcctl nas-sync`: upload the NAS tree as an atomic, versioned release.
//!
//! 1. hash `target/fcctl/nas` into a manifest (hash cache → unchanged files cost a stat);
//! 2. list `<prefix>/blobs/` once and upload only missing blobs (multipart + resumable for big
//!    files, `--jobs` in parallel, progress bar);
//! 3. deploy `<function>-nas-agent` if needed and have it stage the release from presigned
//!    URLs (in several invocations when large), then commit it (marker written last inside
//!    the staging dir, then one rename publishes it);
//! 4. only then record the release id in `state.json`.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use anyhow::Context as _;
use fcctl_protocol::agent::{
    CommitJob, CommitReply, FailureKind, Job, StageJob, StageReply, StatusReply,
};
use serde::Serialize;

use crate::aliyun::oss::{MultipartOptions, ObjectStore as _};
use crate::cloud::Cloud;
use crate::nas::manifest::{self, Entry, Manifest};
use crate::nas::{agent, blob_key};
use crate::package::human;
use crate::printer::Printer;
use crate::project::Project;
use crate::state::State;

/// Result of `fcctl nas-sync` (`--json`).
#[derive(Debug, Clone, Serialize)]
pub struct SyncReport {
    /// Content-derived release id.
    pub release_id: String,
    /// Whether this was a dry run (nothing uploaded, nothing created).
    pub dry_run: bool,
    /// Bytes uploaded to OSS (dry run: bytes that would be).
    pub uploaded_bytes: u64,
    /// Blobs uploaded (dry run: that would be).
    pub files_uploaded: usize,
    /// Files whose content was already in OSS.
    pub files_unchanged: usize,
    /// Wall time.
    pub seconds: f64,
    /// Files in the release.
    pub files_total: usize,
    /// Bytes in the release.
    pub bytes_total: u64,
    /// Files that had to be hashed (cache misses).
    pub files_hashed: usize,
    /// Paths added since the last completed sync.
    pub added: Vec<String>,
    /// Paths changed since the last completed sync.
    pub changed: Vec<String>,
    /// Paths removed since the last completed sync.
    pub removed: Vec<String>,
    /// The release already existed on NAS (nothing materialised).
    pub release_existed: bool,
    /// The nas-agent function was created or updated.
    pub agent_updated: bool,
    /// Files the agent downloaded from OSS.
    pub agent_downloaded: u64,
    /// Files hard-linked from earlier releases.
    pub agent_linked: u64,
    /// Agent invocations used.
    pub agent_invocations: u32,
    /// Release directory inside the function.
    pub release_dir: String,
    /// With --dry-run: the build the plan is based on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub build: Option<crate::pipeline::freshness::BuildBasis>,
}

/// Max bytes / files one stage invocation is asked to materialise (the agent also stops at its
/// time budget and returns what remains). `FCCTL_NAS_BATCH_BYTES` overrides (tests).
fn batch_limits() -> (u64, usize) {
    let bytes = std::env::var("FCCTL_NAS_BATCH_BYTES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(8 * 1024 * 1024 * 1024);
    (bytes, 4000)
}

/// Blobs at least this big go through resumable multipart upload, in parts of this size
/// (`FCCTL_NAS_MULTIPART_MIN` / `FCCTL_NAS_PART_SIZE` override, for tests).
fn multipart_limits() -> (u64, u64) {
    let get = |k: &str, d: u64| {
        std::env::var(k)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(d)
    };
    (
        get("FCCTL_NAS_MULTIPART_MIN", 16 * 1024 * 1024),
        get("FCCTL_NAS_PART_SIZE", 8 * 1024 * 1024).max(100 * 1024),
    )
}

/// Syncs the NAS tree built by `fcctl build`.
pub async fn execute(
    project: &Project,
    cloud: &Cloud,
    printer: &Printer,
    dry_run: bool,
    jobs: usize,
) -> anyhow::Result<SyncReport> {
    let t0 = Instant::now();
    let cfg = &cloud.cfg;
    let work = project.work_dir();
    let nas_dir = work.join("nas");
    if !nas_dir.is_dir() {
        anyhow::bail!(
            "{} does not exist; run `fcctl build` first",
            nas_dir.display()
        );
    }
    // 1. Manifest.
    let cache = work.join("nas-hash-cache.json");
    let nd = nas_dir.clone();
    let (m, hashed) = tokio::task::spawn_blocking(move || manifest::build(&nd, &cache))
        .await
        .context("hashing task panicked")??;
    let release_id = m.release_id();
    let release_dir = format!("{}/releases/{release_id}", cfg.nas_app_dir());
    let last_path = work.join("nas-manifest.json");
    let last: Manifest = std::fs::read(&last_path)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default();
    let d = manifest::diff(&last, &m);

    // 2. Plan against OSS (one listing).
    let prefix = cfg.oss_prefix();
    if !dry_run {
        cloud
            .prepare_staging_bucket()
            .await
            .context("preparing the OSS staging bucket")?;
    }
    // A dry run may meet a bucket that does not exist yet (nothing uploaded, so everything is
    // to upload); any other failure makes the plan a guess, and a guess must not exit 0.
    let listed = match cloud.oss.list(&format!("{prefix}/blobs/")).await {
        Ok(l) => l,
        Err(e) if dry_run && e.is_not_found() => Vec::new(),
        Err(e) => return Err(e).context("listing uploaded blobs"),
    };
    let checks_path = work.join("blob-checks.json");
    let mut checks = BlobChecks::load(&checks_path);
    let listed = confirm_listed(cloud, &nas_dir, &m, listed, &mut checks).await;
    checks.save(&checks_path);
    let (missing, files_unchanged) = missing_blobs(&m, listed);
    let to_send: u64 = missing.values().map(|e| e.size).sum();
    let mut report = SyncReport {
        release_id: release_id.clone(),
        dry_run,
        uploaded_bytes: to_send,
        files_uploaded: missing.len(),
        files_unchanged,
        seconds: 0.0,
        files_total: m.files.len(),
        bytes_total: m.bytes(),
        files_hashed: hashed,
        added: d.added,
        changed: d.changed,
        removed: d.removed,
        release_existed: false,
        agent_updated: false,
        agent_downloaded: 0,
        agent_linked: 0,
        agent_invocations: 0,
        release_dir,
        build: dry_run.then(|| crate::pipeline::freshness::build_basis(project, cfg)),
    };
    if dry_run {
        report.seconds = t0.elapsed().as_secs_f64();
        return Ok(report);
    }

    // 3. Upload missing blobs.
    if !missing.is_empty() {
        printer.note(format!(
            "uploading {} blob(s), {}",
            missing.len(),
            human(to_send)
        ));
        let uploaded = upload(
            project,
            printer,
            cloud,
            &prefix,
            &missing,
            jobs.max(1),
            to_send,
        )
        .await;
        checks.record(uploaded.confirmed);
        checks.save(&checks_path);
        uploaded.result?;
    }

    // 4. Agent: deploy if needed, then stage + commit.
    let agent_zip = work.join("nas-agent.zip");
    let crc = agent_zip_crc(&work, &agent_zip)?;
    report.agent_updated = agent::ensure(cloud, &agent_zip, &crc).await?;
    let healing = Healing {
        project,
        checks_path: &checks_path,
        jobs: jobs.max(1),
    };
    materialise(cloud, printer, &m, &prefix, &mut report, &healing).await?;

    // 5. Only a completed sync moves the local pointer.
    let mut state = State::load(&work)?;
    state.release_id = Some(release_id.clone());
    state.save(&work)?;
    crate::fsutil::write_atomic(&last_path, &serde_json::to_vec(&m)?)?;
    report.seconds = t0.elapsed().as_secs_f64();
    Ok(report)
}

/// Blob keys whose stored content fcctl has seen to be the content the key names, with the
/// ETag they had then (`target/fcctl/blob-checks.json`). A listing gives key, size and ETag
/// but no content hash; an object with the right key and size can still hold other bytes (an
/// interrupted or buggy uploader). A blob is trusted when its ETag is one recorded here;
/// otherwise its server-side CRC-64 is compared with the local file once, and recorded.
#[derive(Debug, Default, serde::Deserialize, Serialize)]
struct BlobChecks {
    confirmed: BTreeMap<String, String>,
}

impl BlobChecks {
    fn load(path: &std::path::Path) -> BlobChecks {
        std::fs::read(path)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default()
    }

    /// Best effort: a lost file only costs one HEAD per blob on the next run.
    fn save(&self, path: &std::path::Path) {
        if let Ok(bytes) = serde_json::to_vec(self)
            && let Err(e) = crate::fsutil::write_atomic(path, &bytes)
        {
            tracing::warn!("could not save {}: {e}", path.display());
        }
    }

    fn record(&mut self, confirmed: Vec<(String, String)>) {
        self.confirmed.extend(confirmed);
    }
}

/// The listing, minus blobs whose content does not match their key: those are then missing
/// and uploaded again (overwriting the bad object) from the local file.
async fn confirm_listed(
    cloud: &Cloud,
    nas_dir: &std::path::Path,
    m: &Manifest,
    listed: Vec<crate::aliyun::oss::ObjectMeta>,
    checks: &mut BlobChecks,
) -> Vec<crate::aliyun::oss::ObjectMeta> {
    let wanted: BTreeMap<&str, &Entry> = m
        .files
        .iter()
        .filter(|e| e.link.is_none())
        .map(|e| (e.sha256.as_str(), e))
        .collect();
    let mut kept = Vec::with_capacity(listed.len());
    for o in listed {
        let sha = o.key.rsplit('/').next().unwrap_or_default();
        let Some(entry) = wanted.get(sha) else {
            kept.push(o);
            continue;
        };
        if o.size != entry.size || checks.confirmed.get(&o.key) == Some(&o.etag) {
            kept.push(o);
            continue;
        }
        let server = match cloud.oss.head(&o.key).await {
            Ok(Some(meta)) => meta.crc64,
            Ok(None) => continue,
            // Unknown, not wrong: the agent still verifies every byte it fetches.
            Err(e) => {
                tracing::debug!("HEAD {}: {e}", o.key);
                kept.push(o);
                continue;
            }
        };
        let path = nas_dir.join(&entry.path);
        let local = tokio::task::spawn_blocking(move || crate::package::zip::hash_file(&path))
            .await
            .ok()
            .and_then(Result::ok);
        match (server, local) {
            (Some(server), Some((local_sha, crc, _))) if local_sha == sha => {
                if server == crc.to_string() {
                    checks.confirmed.insert(o.key.clone(), o.etag.clone());
                    kept.push(o);
                } else {
                    tracing::warn!(
                        "{} in OSS is not the content of {} (CRC-64 {server}, local {crc}); \
                         uploading it again",
                        o.key,
                        entry.path
                    );
                }
            }
            _ => kept.push(o),
        }
    }
    kept
}

/// Blobs of `m` not yet in OSS (by sha256 and size), once each, and how many files are.
fn missing_blobs(
    m: &Manifest,
    listed: Vec<crate::aliyun::oss::ObjectMeta>,
) -> (BTreeMap<String, &Entry>, usize) {
    let present: HashSet<(String, u64)> = listed
        .into_iter()
        .filter_map(|o| {
            o.key
                .rsplit('/')
                .next()
                .map(|sha| (sha.to_string(), o.size))
        })
        .collect();
    let mut missing: BTreeMap<String, &Entry> = BTreeMap::new();
    let mut files_unchanged = 0;
    for e in m.files.iter().filter(|e| e.link.is_none()) {
        if present.contains(&(e.sha256.clone(), e.size)) {
            files_unchanged += 1;
        } else {
            missing.entry(e.sha256.clone()).or_insert(e);
        }
    }
    (missing, files_unchanged)
}

/// The agent package's CRC-64 from build.json, else from the zip itself.
fn agent_zip_crc(work: &std::path::Path, agent_zip: &std::path::Path) -> anyhow::Result<String> {
    if let Some(c) = read_build_json(work)
        .as_ref()
        .and_then(|b| b["agent_zip_crc64"].as_str())
    {
        return Ok(c.to_string());
    }
    let (_, crc, _) = crate::package::zip::hash_file(agent_zip).with_context(|| {
        format!(
            "{} is missing; run `fcctl build` first",
            agent_zip.display()
        )
    })?;
    Ok(crc.to_string())
}

/// Has the agent stage and commit the release unless it is complete already; files that
/// vanished from staging before the commit (a concurrent gc) are staged once more.
async fn materialise(
    cloud: &Cloud,
    printer: &Printer,
    m: &Manifest,
    prefix: &str,
    report: &mut SyncReport,
    healing: &Healing<'_>,
) -> anyhow::Result<()> {
    let cfg = &cloud.cfg;
    let release_id = report.release_id.clone();
    let prefix = prefix.to_string();
    let name = agent::name(cfg);
    let st: StatusReply = agent::invoke(
        &cloud.fc,
        &name,
        &Job::Status {
            release: release_id.clone(),
        },
    )
    .await?;
    report.agent_invocations += 1;
    if st.complete {
        report.release_existed = true;
    } else {
        let presigner = crate::nas::presigner(cloud);
        let all: Vec<&Entry> = m.files.iter().collect();
        stage_all(
            printer,
            cloud,
            &name,
            &release_id,
            &all,
            &presigner,
            &prefix,
            report,
            healing,
        )
        .await?;
        let commit = Job::Commit(CommitJob {
            release: release_id.clone(),
            files: m.files.clone(),
            uid: Some(cfg.nas.user_id),
            gid: Some(cfg.nas.group_id),
        });
        let first = agent::invoke::<CommitReply>(&cloud.fc, &name, &commit).await;
        report.agent_invocations += 1;
        if let Err(e) = first {
            // Something vanished from staging (e.g. a concurrent gc): stage it again once.
            let missing = match e.downcast_ref::<agent::AgentFailure>() {
                Some(f) if f.failure.kind == FailureKind::MissingFromStaging => {
                    f.failure.missing.clone()
                }
                _ => return Err(e),
            };
            let miss: HashSet<&str> = missing.iter().map(String::as_str).collect();
            let again: Vec<&Entry> = m
                .files
                .iter()
                .filter(|e| miss.contains(e.path.as_str()))
                .collect();
            stage_all(
                printer,
                cloud,
                &name,
                &release_id,
                &again,
                &presigner,
                &prefix,
                report,
                healing,
            )
            .await?;
            agent::invoke::<CommitReply>(&cloud.fc, &name, &commit).await?;
            report.agent_invocations += 1;
        }
    }
    Ok(())
}

fn read_build_json(work: &std::path::Path) -> Option<serde_json::Value> {
    serde_json::from_slice(&std::fs::read(work.join("build.json")).ok()?).ok()
}

/// What staging needs to replace a blob the agent found corrupt.
struct Healing<'a> {
    project: &'a Project,
    checks_path: &'a std::path::Path,
    jobs: usize,
}

impl Healing<'_> {
    /// Deletes each blob (so a failed upload leaves it absent, not wrong) and uploads it again
    /// from the local file, which is checked against the sha256 on the way.
    async fn replace(
        &self,
        cloud: &Cloud,
        printer: &Printer,
        prefix: &str,
        corrupt: &[String],
        files: &[&Entry],
    ) -> anyhow::Result<()> {
        let mut checks = BlobChecks::load(self.checks_path);
        let mut again: BTreeMap<String, &Entry> = BTreeMap::new();
        for sha in corrupt {
            let key = blob_key(prefix, sha);
            printer.note(format!(
                "{key} in OSS is not the content it names; uploading it again"
            ));
            checks.confirmed.remove(&key);
            cloud
                .oss
                .delete(&key)
                .await
                .with_context(|| format!("deleting the corrupt blob {key}"))?;
            match files.iter().find(|e| &e.sha256 == sha) {
                Some(e) => {
                    again.insert(sha.clone(), e);
                }
                None => {
                    anyhow::bail!("the agent reported blob {sha}, which this batch does not use")
                }
            }
        }
        checks.save(self.checks_path);
        let total = again.values().map(|e| e.size).sum();
        let uploaded = upload(
            self.project,
            printer,
            cloud,
            prefix,
            &again,
            self.jobs,
            total,
        )
        .await;
        checks.record(uploaded.confirmed);
        checks.save(self.checks_path);
        uploaded.result
    }
}

/// The blobs a failed stage job names as corrupt (none for other failures).
fn corrupt_blobs(e: &anyhow::Error) -> Vec<String> {
    match e.downcast_ref::<agent::AgentFailure>() {
        Some(f) if f.failure.kind == FailureKind::CorruptBlob => f.failure.corrupt.clone(),
        _ => Vec::new(),
    }
}

#[allow(clippy::too_many_arguments)]
async fn stage_all(
    printer: &Printer,
    cloud: &Cloud,
    name: &str,
    release_id: &str,
    files: &[&Entry],
    presigner: &crate::nas::presign::Presigner,
    prefix: &str,
    report: &mut SyncReport,
    healing: &Healing<'_>,
) -> anyhow::Result<()> {
    let (max_bytes, max_files) = batch_limits();
    let mut replaced = 0;
    let mut batches: Vec<Vec<&Entry>> = Vec::new();
    let (mut cur, mut cur_bytes) = (Vec::new(), 0u64);
    for e in files {
        if !cur.is_empty() && (cur_bytes + e.size > max_bytes || cur.len() >= max_files) {
            batches.push(std::mem::take(&mut cur));
            cur_bytes = 0;
        }
        cur_bytes += e.size;
        cur.push(*e);
    }
    if !cur.is_empty() {
        batches.push(cur);
    }
    let cfg = &cloud.cfg;
    for (i, batch) in batches.iter().enumerate() {
        let mut todo: Vec<&Entry> = batch.clone();
        let mut rounds = 0;
        while !todo.is_empty() {
            rounds += 1;
            if rounds > 50 {
                anyhow::bail!("nas-agent made no progress staging {release_id}");
            }
            // Short-lived URLs: the invocation budget plus a margin.
            let (now, valid_s) = (SystemTime::now(), agent::BUDGET_S + 900);
            let urls: BTreeMap<String, String> = todo
                .iter()
                .filter(|e| e.link.is_none())
                .map(|e| {
                    (
                        e.sha256.clone(),
                        presigner.get_url(&blob_key(prefix, &e.sha256), now, valid_s),
                    )
                })
                .collect();
            let job = Job::Stage(StageJob {
                release: release_id.to_string(),
                files: todo.iter().map(|e| (*e).clone()).collect(),
                urls,
                uid: Some(cfg.nas.user_id),
                gid: Some(cfg.nas.group_id),
                budget_s: Some(agent::BUDGET_S),
                jobs: Some(4),
            });
            if batches.len() > 1 {
                printer.note(format!(
                    "materialising batch {}/{} ({} files)",
                    i + 1,
                    batches.len(),
                    todo.len()
                ));
            }
            let r = agent::invoke::<StageReply>(&cloud.fc, name, &job).await;
            report.agent_invocations += 1;
            let r = match r {
                Ok(r) => r,
                Err(e) => {
                    let corrupt = corrupt_blobs(&e);
                    // Twice at most: a blob that is wrong again right after its own verified
                    // upload points at something this loop cannot fix.
                    if corrupt.is_empty() || replaced >= 2 {
                        return Err(e);
                    }
                    replaced += 1;
                    healing
                        .replace(cloud, printer, prefix, &corrupt, &todo)
                        .await?;
                    continue;
                }
            };
            report.agent_downloaded += r.downloaded;
            report.agent_linked += r.linked;
            if r.complete {
                return Ok(());
            }
            let rem: HashSet<&str> = r.remaining.iter().map(String::as_str).collect();
            todo.retain(|e| rem.contains(e.path.as_str()));
        }
    }
    Ok(())
}

/// What [`upload`] did: its outcome, and every blob it stored (key, ETag) even when another
/// failed, so a re-run does not check those again.
struct Uploaded {
    result: anyhow::Result<()>,
    confirmed: Vec<(String, String)>,
}

/// Uploads the blobs, each checked to be the content its key names before it is stored.
async fn upload(
    project: &Project,
    printer: &Printer,
    cloud: &Cloud,
    prefix: &str,
    missing: &BTreeMap<String, &Entry>,
    jobs: usize,
    total: u64,
) -> Uploaded {
    let mut confirmed = Vec::new();
    let result = upload_each(
        project,
        printer,
        cloud,
        prefix,
        missing,
        jobs,
        total,
        &mut confirmed,
    )
    .await;
    Uploaded { result, confirmed }
}

#[allow(clippy::too_many_arguments)]
async fn upload_each(
    project: &Project,
    printer: &Printer,
    cloud: &Cloud,
    prefix: &str,
    missing: &BTreeMap<String, &Entry>,
    jobs: usize,
    total: u64,
    confirmed: &mut Vec<(String, String)>,
) -> anyhow::Result<()> {
    let nas_dir = &project.work_dir().join("nas");
    let pb = if printer.shows_progress() {
        let pb = indicatif::ProgressBar::new(total);
        pb.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {bar:30} {bytes}/{total_bytes} {bytes_per_sec} ETA {eta}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        pb.enable_steady_tick(Duration::from_millis(200));
        pb
    } else {
        indicatif::ProgressBar::hidden()
    };
    let sem = Arc::new(tokio::sync::Semaphore::new(jobs));
    let resume_dir = project.work_dir().join("uploads");
    let keep: HashSet<String> = missing.keys().map(|sha| blob_key(prefix, sha)).collect();
    match cloud.oss.prune_resume_states(&resume_dir, &keep).await {
        Ok(0) => {}
        Ok(n) => tracing::info!(
            "removed {n} finished or abandoned upload(s) from {}",
            resume_dir.display()
        ),
        Err(e) => tracing::warn!("could not clean up {}: {e}", resume_dir.display()),
    }
    let mut set = tokio::task::JoinSet::new();
    let (multipart_min, part_size) = multipart_limits();
    for (sha, e) in missing {
        let permit = sem.clone().acquire_owned().await?;
        let oss = cloud.oss.clone();
        let key = blob_key(prefix, sha);
        let path = nas_dir.join(&e.path);
        let size = e.size;
        let sha = sha.clone();
        let pb = pb.clone();
        let resume_dir = resume_dir.clone();
        set.spawn(async move {
            let _permit = permit;
            let r: anyhow::Result<String> = async {
                if size >= multipart_min {
                    let opts = MultipartOptions {
                        part_size,
                        resume_dir: Some(resume_dir),
                        headers: vec![("x-oss-meta-sha256".into(), sha.clone())],
                        expect_sha256: Some(sha.clone()),
                        ..MultipartOptions::default()
                    };
                    Ok(oss.put_multipart(&key, &path, &opts).await?.etag)
                } else {
                    let bytes = tokio::fs::read(&path).await?;
                    // The file changed since it was hashed: refuse to upload wrong content.
                    let got = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&bytes));
                    if got != sha {
                        anyhow::bail!("{} changed while syncing; run again", path.display());
                    }
                    Ok(oss.put(&key, bytes).await?)
                }
            }
            .await
            .with_context(|| format!("uploading {}", path.display()));
            if r.is_ok() {
                pb.inc(size);
            }
            r.map(|etag| (key, etag.trim_matches('"').to_string()))
        });
        while let Some(done) = set.try_join_next() {
            confirmed.push(done??);
        }
    }
    while let Some(done) = set.join_next().await {
        confirmed.push(done??);
    }
    pb.finish_and_clear();
    Ok(())
}
