//! `fcctl build`: compile the function for the FC runtime, package code.zip and the NAS tree.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use serde::{Deserialize, Serialize};

use crate::config::{Config, GlibcVersion};
use crate::exit::{ExitStatus, Refusal};
use crate::package::{self, TreeFile, glibc, human};
use crate::printer::Printer;
use crate::project::Project;

/// What `fcctl build` produced (`target/fcctl/build.json`, `fcctl build --json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BuildReport {
    /// `target/fcctl/code.zip`.
    pub code_zip: PathBuf,
    /// sha256 of code.zip (hex).
    pub code_zip_sha256: String,
    /// CRC-64/ECMA-182 of code.zip as a decimal string (FC `codeChecksum`).
    pub code_zip_crc64: String,
    /// FC runtime, e.g. `custom.debian10`.
    pub runtime: String,
    /// glibc floor the package was checked against.
    pub glibc_floor: GlibcVersion,
    /// Highest GLIBC version any ELF in the package needs (None: static).
    pub glibc_max: Option<GlibcVersion>,
    /// sha256 of the bootstrap binary.
    pub binary_sha256: String,
    /// code.zip size.
    pub code_bytes_zipped: u64,
    /// Sum of the file sizes inside code.zip.
    pub code_bytes_unzipped: u64,
    /// `inline` (≤ 100 MB base64) or `oss` (≤ 500 MB).
    pub code_upload: String,
    /// Files in code.zip.
    pub code_files: Vec<String>,
    /// The local NAS tree (`target/fcctl/nas`).
    pub nas_dir: PathBuf,
    /// Bytes in the NAS tree.
    pub nas_bytes: u64,
    /// Files in the NAS tree.
    pub nas_files: usize,
    /// `target/fcctl/nas-agent.zip`.
    pub agent_zip: PathBuf,
    /// sha256 of nas-agent.zip.
    pub agent_zip_sha256: String,
    /// CRC-64 of nas-agent.zip (decimal).
    pub agent_zip_crc64: String,
    /// Highest GLIBC version nas-agent needs.
    pub agent_glibc_max: Option<GlibcVersion>,
    /// Tool versions.
    pub toolchain: serde_json::Value,
}

/// Overrides for [`execute_with`].
#[derive(Debug, Clone, Default)]
pub struct BuildOptions {
    /// Prebuilt function binary (skip compiling).
    pub binary: Option<PathBuf>,
    /// Prebuilt nas-agent binary (skip compiling).
    pub agent_binary: Option<PathBuf>,
    /// Follow symlinks that lead out of the project (each one is printed).
    pub follow_external_links: bool,
    /// Skip the trial load + inference of the model by the built function.
    pub no_trial: bool,
}

/// Builds everything with default options.
pub async fn execute(
    project: &Project,
    cfg: &Config,
    printer: &Printer,
) -> anyhow::Result<BuildReport> {
    execute_with(project, cfg, printer, &BuildOptions::default()).await
}

/// Builds: cross-compiles (unless prebuilt), checks ELFs, writes code.zip, the NAS tree,
/// nas-agent.zip and build.json.
pub async fn execute_with(
    project: &Project,
    cfg: &Config,
    printer: &Printer,
    opts: &BuildOptions,
) -> anyhow::Result<BuildReport> {
    let ort = if cfg.build.onnxruntime {
        Some(onnxruntime(printer).await?)
    } else {
        None
    };
    let project = project.clone();
    let printer = *printer;
    let cfg = cfg.clone();
    let opts = opts.clone();
    tokio::task::spawn_blocking(move || build_blocking(&project, &cfg, &printer, &opts, ort))
        .await
        .context("build task panicked")?
}

/// Checks an ELF against the floor; a too-new binary is an error naming the symbols and fix.
pub fn check_binary(path: &Path, floor: GlibcVersion) -> anyhow::Result<Option<GlibcVersion>> {
    let r = glibc::inspect(path)?;
    let bad = r.too_new(floor);
    if !bad.is_empty() {
        let max = r.glibc_max.map(|v| v.to_string()).unwrap_or_default();
        let shown: Vec<&str> = bad.iter().take(12).map(String::as_str).collect();
        let more = if bad.len() > shown.len() {
            format!(" (+{} more)", bad.len() - shown.len())
        } else {
            String::new()
        };
        return Err(Refusal {
            status: ExitStatus::User,
            message: format!(
                "{} needs GLIBC_{max}, but the runtime only has glibc {floor}; symbols too new: \
                 {}{more}",
                path.display(),
                shown.join(", "),
            ),
            hint: Some(format!(
                "build it with `cargo zigbuild --release --target \
                 x86_64-unknown-linux-gnu.{floor}` (what `fcctl build` does without --binary; run \
                 scripts/setup for zig), or pick a newer runtime in fcctl.yaml (`function.runtime`)"
            )),
        }
        .into());
    }
    Ok(r.glibc_max)
}

/// `libonnxruntime.so` from the per-user cache, fetched from the pinned wheel at first use.
async fn onnxruntime(printer: &Printer) -> anyhow::Result<PathBuf> {
    use package::onnxruntime::{PINNED, cache_dir, cached_path, ensure, index_url};
    let cache = cache_dir();
    if !cached_path(&PINNED, &cache).is_file() {
        printer.note(format!(
            "fetching ONNX Runtime {} ({}) from {} into {}",
            PINNED.version,
            PINNED.wheel,
            index_url(),
            cache.display()
        ));
    }
    let (path, fetched) = ensure(&PINNED, &cache, &index_url()).await?;
    if fetched {
        printer.note(format!(
            "ONNX Runtime {}: wheel sha256 verified, cached at {}",
            PINNED.version,
            path.display()
        ));
    }
    Ok(path)
}

fn build_blocking(
    project: &Project,
    cfg: &Config,
    printer: &Printer,
    opts: &BuildOptions,
    ort: Option<PathBuf>,
) -> anyhow::Result<BuildReport> {
    let work = project.work_dir();
    let project = project.dir();
    std::fs::create_dir_all(&work)?;
    let floor = cfg.glibc_floor();
    let runtime = cfg.function.runtime.as_str().to_string();

    // 1. Inputs first, so a refused source or a bad model costs no compile.
    let mut files = package_inputs(project, cfg, printer, opts, ort)?;
    let model = crate::model::check(project, cfg)?;
    if let Some(m) = &model {
        printer.note(model_note(m));
    }

    // 2. Binaries.
    let (binary, agent) = binaries(project, cfg, printer, opts)?;
    let glibc_max = check_binary(&binary, floor)?;
    let agent_glibc_max = check_binary(&agent, floor)?;
    files.insert(
        0,
        TreeFile {
            rel: "bootstrap".into(),
            src: binary.clone(),
            size: std::fs::metadata(&binary)?.len(),
            mode: 0o755,
            link: None,
        },
    );
    // Other ELFs shipped in the package must also run on the runtime.
    let mut max_all = glibc_max;
    for f in files
        .iter()
        .filter(|f| f.rel != "bootstrap" && f.link.is_none())
    {
        if is_elf(&f.src)
            && let Ok(v) = check_binary(&f.src, floor)
        {
            max_all = max_all.max(v);
        }
    }

    // 3. Split and write.
    let (code, nas) = package::split(files, &cfg.nas)?;
    let entries: Vec<package::zip::ZipEntry> = code
        .iter()
        .map(|f| package::zip::ZipEntry {
            name: f.rel.clone(),
            src: f.src.clone(),
            mode: f.mode,
        })
        .collect();
    let code_zip = work.join("code.zip");
    let z = package::zip::write(&entries, &code_zip)?;
    let code_upload = check_limits(&code, z.zipped, z.unzipped)?;
    printer.note(format!(
        "code.zip: {} zipped (limit {} inline as base64, {} via OSS), {} unzipped (limit {}) → {code_upload}",
        human(z.zipped),
        human(INLINE_RAW),
        human(package::OSS_LIMIT),
        human(z.unzipped),
        human(package::UNZIPPED_LIMIT),
    ));
    let nas_dir = work.join("nas");
    let nas_bytes = package::mirror(&nas, &nas_dir)?;
    if model.is_some() && !opts.no_trial {
        trial(project, cfg, printer, &binary, &nas_dir, &work)?;
    }
    let agent_zip = work.join("nas-agent.zip");
    let a = package::zip::write(
        &[package::zip::ZipEntry {
            name: "bootstrap".into(),
            src: agent,
            mode: 0o755,
        }],
        &agent_zip,
    )?;
    let (binary_sha256, _, _) = package::zip::hash_file(&binary)?;
    let report = BuildReport {
        code_zip,
        code_zip_sha256: z.sha256,
        code_zip_crc64: z.crc64.to_string(),
        runtime,
        glibc_floor: floor,
        glibc_max: max_all,
        binary_sha256,
        code_bytes_zipped: z.zipped,
        code_bytes_unzipped: z.unzipped,
        code_upload,
        code_files: code.iter().map(|f| f.rel.clone()).collect(),
        nas_dir,
        nas_bytes,
        nas_files: nas.len(),
        agent_zip,
        agent_zip_sha256: a.sha256,
        agent_zip_crc64: a.crc64.to_string(),
        agent_glibc_max,
        toolchain: package::cross::toolchain(project),
    };
    crate::fsutil::write_atomic(
        &work.join("build.json"),
        &serde_json::to_vec_pretty(&report)?,
    )?;
    Ok(report)
}

/// One line on what the model checks found; a computed sha256 is said, never passed over.
pub fn model_note(m: &crate::model::ModelReport) -> String {
    let manifest = crate::model::origin_of(&m.manifest);
    let sha = if m.sha256_status == "computed" {
        format!(
            "no sha256 in it, computed {} (record it with `fcctl model hash --write`)",
            m.sha256
        )
    } else {
        format!("sha256 {}… matches", &m.sha256[..12])
    };
    format!(
        "model: {manifest} is valid; {sha}; input `{}` is {}",
        m.input, m.input_tensor
    )
}

/// The built function loads the NAS tree's model with the NAS tree's ONNX Runtime and
/// classifies the first `bench.images` photo, as an instance will.
fn trial(
    project: &Path,
    cfg: &Config,
    printer: &Printer,
    binary: &Path,
    nas_dir: &Path,
    work: &Path,
) -> anyhow::Result<()> {
    let Some(t) = trial_setup(project, cfg, binary, nas_dir, work) else {
        printer.note(
            "model: trial run skipped: the NAS tree has no model/model.yaml or no \
             lib/libonnxruntime.so (`build.onnxruntime`, `nas.include`)",
        );
        return Ok(());
    };
    match crate::model::trial::run(&t) {
        Ok(r) => {
            printer.note(trial_note(&r));
            Ok(())
        }
        Err(e) => {
            // `nas-sync` uploads whatever tree is there: a model that failed must not be.
            let _ = std::fs::remove_dir_all(nas_dir);
            Err(e.into())
        }
    }
}

/// The trial's inputs from a built NAS tree; `None` when the tree lacks the model or runtime.
pub fn trial_setup(
    project: &Path,
    cfg: &Config,
    binary: &Path,
    nas_dir: &Path,
    work: &Path,
) -> Option<crate::model::trial::Trial> {
    let model_dir = nas_dir.join(crate::model::MODEL_TREE_DIR);
    let ort_lib = nas_dir.join("lib").join("libonnxruntime.so");
    (model_dir.join("model.yaml").is_file() && ort_lib.is_file())
        .then(|| trial_for(project, cfg, binary, model_dir, ort_lib, work))
}

/// A trial of `binary` on `model_dir` with `ort_lib`, the first `bench.images` photo and the
/// function's initializer timeout.
pub fn trial_for(
    project: &Path,
    cfg: &Config,
    binary: &Path,
    model_dir: PathBuf,
    ort_lib: PathBuf,
    work: &Path,
) -> crate::model::trial::Trial {
    crate::model::trial::Trial {
        binary: binary.to_path_buf(),
        model_dir,
        ort_lib,
        image: cfg.bench.images.first().map(|p| project.join(p)),
        init_timeout: std::time::Duration::from_secs(u64::from(cfg.function.initializer_timeout_s)),
        log: work.join("model-trial.log"),
    }
}

/// `model: trial run: initialized in 812 ms; test_dog.jpg → dog`.
pub fn trial_note(r: &crate::model::trial::TrialReport) -> String {
    let invoked = match (&r.image, &r.label) {
        (Some(img), Some(label)) => format!(
            "; {} → {label}",
            img.file_name()
                .map(|n| n.to_string_lossy())
                .unwrap_or_default()
        ),
        _ => "; no `bench.images` to classify".into(),
    };
    format!(
        "model: trial run: the function initialized in {} ms{invoked}",
        r.initialize_ms
    )
}

/// The function and agent binaries: the prebuilt ones given; the others cross-compiled from
/// the project's workspace, or, outside a checkout, the ones installed with fcctl.
fn binaries(
    project: &Path,
    cfg: &Config,
    printer: &Printer,
    opts: &BuildOptions,
) -> anyhow::Result<(PathBuf, PathBuf)> {
    let floor = cfg.glibc_floor();
    if let (Some(b), Some(a)) = (&opts.binary, &opts.agent_binary) {
        return Ok((b.clone(), a.clone()));
    }
    let source = package::sources::binary_source(project, cfg).map_err(|m| Refusal {
        status: ExitStatus::User,
        message: m.problem,
        hint: Some(m.fix),
    })?;
    if let Some((function, agent)) = source.installed(cfg) {
        printer.note(format!(
            "using the function and nas-agent installed with fcctl in {}",
            function.parent().unwrap_or(&function).display()
        ));
        return Ok((
            opts.binary.clone().unwrap_or(function),
            opts.agent_binary.clone().unwrap_or(agent),
        ));
    }
    let mut want: Vec<(&str, &str)> = Vec::new();
    if opts.binary.is_none() {
        want.push((&cfg.build.package, &cfg.build.binary));
    }
    if opts.agent_binary.is_none() {
        want.push((
            package::sources::AGENT_PACKAGE,
            package::sources::AGENT_PACKAGE,
        ));
    }
    printer.note(format!(
        "compiling {} for {} (glibc ≤ {floor}) with cargo-zigbuild",
        want.iter().map(|w| w.1).collect::<Vec<_>>().join(" + "),
        cfg.function.runtime.as_str()
    ));
    let mut built = package::cross::build(project, &want, floor)?.into_iter();
    let binary = opts
        .binary
        .clone()
        .unwrap_or_else(|| built.next().expect("built binary"));
    let agent = opts
        .agent_binary
        .clone()
        .unwrap_or_else(|| built.next().expect("built agent"));
    Ok((binary, agent))
}

/// Every file of the package but `bootstrap`: the `build.files` mappings and ONNX Runtime
/// (with a `libonnxruntime.so` link when the library carries a version in its name). Sources
/// named outside the project and links followed out of it are printed: nothing leaves the
/// machine without a line saying so.
fn package_inputs(
    project: &Path,
    cfg: &Config,
    printer: &Printer,
    opts: &BuildOptions,
    ort: Option<PathBuf>,
) -> anyhow::Result<Vec<TreeFile>> {
    let sources = package::Sources::new(project, opts.follow_external_links)
        .with_context(|| format!("resolving the project dir {}", project.display()))?;
    let mut files = Vec::new();
    for (i, m) in cfg.build.files.iter().enumerate() {
        let inc = sources
            .add_mapping_excluding(&m.src, &m.dst, &exclude_set(&m.exclude)?, &mut files)
            .with_context(|| format!("build.files[{i}] (`{}`)", m.src.display()))?;
        if let Some(p) = inc.outside {
            printer.note(format!(
                "including {} from outside the project (build.files[{i}].src)",
                p.display()
            ));
        }
        for (link, target) in inc.external_links {
            printer.note(format!(
                "following {} → {} outside the project (--follow-external-links)",
                link.display(),
                target.display()
            ));
        }
    }
    if let Some(so) = ort {
        let name = so
            .file_name()
            .and_then(|n| n.to_str())
            .with_context(|| format!("{} has no UTF-8 file name", so.display()))?
            .to_string();
        let size = std::fs::metadata(&so)?.len();
        files.push(TreeFile {
            rel: format!("lib/{name}"),
            src: so.clone(),
            size,
            mode: 0o755,
            link: None,
        });
        if name != "libonnxruntime.so" {
            files.push(TreeFile {
                rel: "lib/libonnxruntime.so".into(),
                src: so,
                size,
                mode: 0o777,
                link: Some(name),
            });
        }
    }
    // `bootstrap` is the function binary, added once it is built; it takes its path already.
    let mut claimed = vec![TreeFile {
        rel: "bootstrap".into(),
        src: "the function binary".into(),
        size: 0,
        mode: 0o755,
        link: None,
    }];
    claimed.extend(files.iter().cloned());
    package::check_paths(&claimed)?;
    Ok(files)
}

/// Raw zip size that still fits the inline limit once base64-encoded.
const INLINE_RAW: u64 = package::INLINE_LIMIT / 4 * 3;

fn check_limits(code: &[TreeFile], zipped: u64, unzipped: u64) -> anyhow::Result<String> {
    if zipped <= INLINE_RAW && unzipped <= package::UNZIPPED_LIMIT {
        return Ok("inline".into());
    }
    if zipped <= package::OSS_LIMIT && unzipped <= package::UNZIPPED_LIMIT {
        return Ok("oss".into());
    }
    let mut big: Vec<&TreeFile> = code.iter().filter(|f| f.rel != "bootstrap").collect();
    big.sort_by_key(|f| std::cmp::Reverse(f.size));
    let hint: Vec<String> = big
        .iter()
        .take(3)
        .map(|f| {
            let top = f.rel.split('/').next().unwrap_or(&f.rel);
            if top == f.rel {
                format!("`{}` ({})", f.rel, human(f.size))
            } else {
                format!("`{top}/**` (e.g. {} is {})", f.rel, human(f.size))
            }
        })
        .collect();
    anyhow::bail!(
        "code.zip is too big for FC: {} zipped (limit {} via OSS), {} unzipped (limit {}); \
         move large files to NAS by adding to `nas.include` in fcctl.yaml: {}",
        human(zipped),
        human(package::OSS_LIMIT),
        human(unzipped),
        human(package::UNZIPPED_LIMIT),
        if hint.is_empty() {
            "(no candidates)".into()
        } else {
            hint.join(", ")
        }
    )
}

/// `build.files[].exclude` as one matcher.
fn exclude_set(globs: &[String]) -> anyhow::Result<globset::GlobSet> {
    let mut b = globset::GlobSetBuilder::new();
    for g in globs {
        b.add(globset::Glob::new(g).with_context(|| format!("build.files exclude `{g}`"))?);
    }
    Ok(b.build()?)
}

fn is_elf(p: &Path) -> bool {
    use std::io::Read as _;
    let mut magic = [0u8; 4];
    std::fs::File::open(p)
        .and_then(|mut f| f.read_exact(&mut magic))
        .is_ok()
        && magic == *b"\x7fELF"
}
