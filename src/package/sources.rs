//! Whether a project directory holds what `fcctl build` compiles and packages, and where the
//! function and nas-agent binaries come from: compiled from the workspace when the project is
//! a checkout of fcctl's repository, else the ones installed with fcctl (`scripts/install`),
//! so any directory holding `fcctl.yaml`, `model.yaml` and a model deploys. `init` and
//! `doctor` say what is missing up front instead of `up` failing minutes later.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::config::Config;

/// The package that materialises NAS releases.
pub const AGENT_PACKAGE: &str = "nas-agent";

/// One thing missing for a build, with what to do about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Missing {
    /// What is missing, naming the path.
    pub problem: String,
    /// How to get past it.
    pub fix: String,
}

/// Where `fcctl build` gets the function and nas-agent binaries (unless given prebuilt).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BinarySource {
    /// Cross-compiled from the project's Cargo workspace (a checkout of fcctl).
    Workspace,
    /// The binaries installed with fcctl, in this directory.
    Installed(PathBuf),
}

impl BinarySource {
    /// The function binary and nas-agent of an installation; `None` for the workspace.
    pub fn installed(&self, cfg: &Config) -> Option<(PathBuf, PathBuf)> {
        match self {
            BinarySource::Workspace => None,
            BinarySource::Installed(d) => Some((d.join(&cfg.build.binary), d.join(AGENT_PACKAGE))),
        }
    }
}

/// The directories an installation's binaries are looked for in, first match wins:
/// `$FCCTL_SHARE_DIR`, `<fcctl's directory>/../share/fcctl/<version>` (what `scripts/install`
/// writes beside `bin/fcctl`), `$XDG_DATA_HOME/fcctl/<version>` (or `~/.local/share/…`).
pub fn installed_dirs() -> Vec<PathBuf> {
    let version = env!("CARGO_PKG_VERSION");
    let env = |k: &str| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    let mut out = Vec::new();
    if let Some(d) = env("FCCTL_SHARE_DIR") {
        out.push(d);
    }
    if let Some(bin) = std::env::current_exe()
        .ok()
        .and_then(|e| e.parent().map(Path::to_path_buf))
    {
        out.push(bin.join("../share/fcctl").join(version));
    }
    if let Some(d) = env("XDG_DATA_HOME").or_else(|| env("HOME").map(|h| h.join(".local/share"))) {
        out.push(d.join("fcctl").join(version));
    }
    out
}

/// The binary source for `project`: its workspace when it has both packages, else the first
/// installation holding both binaries; `Err` says what is missing.
pub fn binary_source(project: &Path, cfg: &Config) -> Result<BinarySource, Missing> {
    binary_source_among(project, cfg, &installed_dirs())
}

/// [`binary_source`] looking for installations in `dirs`.
fn binary_source_among(
    project: &Path,
    cfg: &Config,
    dirs: &[PathBuf],
) -> Result<BinarySource, Missing> {
    let packages = workspace_packages(project);
    if let Ok(pkgs) = &packages
        && [cfg.build.package.as_str(), AGENT_PACKAGE]
            .iter()
            .all(|want| pkgs.iter().any(|p| p == want))
    {
        return Ok(BinarySource::Workspace);
    }
    for d in dirs {
        let src = BinarySource::Installed(d.clone());
        let (f, a) = src.installed(cfg).expect("installed");
        if f.is_file() && a.is_file() {
            let d = d.canonicalize().unwrap_or_else(|_| d.clone());
            return Ok(BinarySource::Installed(d));
        }
    }
    let why = match packages {
        Ok(_) => format!(
            "the Cargo workspace at {} lacks the package `{}` or `{AGENT_PACKAGE}`",
            project.display(),
            cfg.build.package
        ),
        Err(why) => format!("{} is not the fcctl workspace ({why})", project.display()),
    };
    let looked: Vec<String> = dirs.iter().map(|d| d.display().to_string()).collect();
    Err(Missing {
        problem: format!(
            "{why}, and no installed `{}` + `{AGENT_PACKAGE}` were found (looked in {})",
            cfg.build.binary,
            looked.join(", ")
        ),
        fix: format!(
            "install fcctl with its function binaries: `scripts/setup && scripts/install` in a \
             checkout of the fcctl repository; or pass `--binary PATH --agent-binary PATH` to \
             `fcctl build`/`fcctl up` with binaries built for glibc ≤ {}",
            cfg.glibc_floor()
        ),
    })
}

/// Everything `fcctl build` (without `--binary`/`--agent-binary`) needs from `project` that is
/// not there; empty when it can build. ONNX Runtime is not among them: it is fetched.
pub fn missing(project: &Path, cfg: &Config) -> Vec<Missing> {
    missing_among(project, cfg, &installed_dirs())
}

/// [`missing`] looking for installations in `dirs`.
fn missing_among(project: &Path, cfg: &Config, dirs: &[PathBuf]) -> Vec<Missing> {
    let mut out = Vec::new();
    if let Err(m) = binary_source_among(project, cfg, dirs) {
        out.push(m);
    }
    for f in &cfg.build.files {
        let src = if f.src.is_relative() {
            project.join(&f.src)
        } else {
            f.src.clone()
        };
        if !src.exists() {
            out.push(Missing {
                problem: format!("build.files source {} does not exist", src.display()),
                fix: format!(
                    "create it (the model directory: model.onnx + model.yaml), or change \
                     `build.files` in fcctl.yaml to where your files are (`{}` → `{}`); \
                     `fcctl init --model FILE` writes both for a model of your own",
                    f.src.display(),
                    f.dst.display()
                ),
            });
        }
    }
    out
}

/// Names of the packages in the workspace rooted at `project`, from `cargo metadata` (the
/// authority on what a manifest declares, members and globs included).
fn workspace_packages(project: &Path) -> Result<Vec<String>, String> {
    let manifest = project.join("Cargo.toml");
    if !manifest.is_file() {
        return Err("no Cargo.toml".into());
    }
    let out = Command::new("cargo")
        .args([
            "metadata",
            "--no-deps",
            "--offline",
            "--format-version",
            "1",
        ])
        .arg("--manifest-path")
        .arg(&manifest)
        .output()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        let first = err.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
        return Err(format!("`cargo metadata` failed: {}", first.trim()));
    }
    let v: serde_json::Value = serde_json::from_slice(&out.stdout)
        .map_err(|e| format!("`cargo metadata` printed no JSON: {e}"))?;
    Ok(v["packages"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| p["name"].as_str().map(str::to_string))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> Config {
        crate::config::Loader::default()
            .load_str("app: cat-dog\n", "fcctl.yaml", Vec::new())
            .unwrap()
    }

    #[test]
    fn an_empty_directory_without_an_installation_lacks_the_binaries_and_the_model() {
        let dir = tempfile::tempdir().unwrap();
        let none = dir.path().join("none");
        let m = missing_among(dir.path(), &cfg(), std::slice::from_ref(&none));
        let text = format!("{m:?}");
        assert_eq!(m.len(), 2, "{text}");
        assert!(
            m[0].problem
                .contains("not the fcctl workspace (no Cargo.toml)")
        );
        assert!(m[0].problem.contains(&none.display().to_string()), "{text}");
        assert!(m[0].fix.contains("scripts/install"), "{text}");
        assert!(m[0].fix.contains("--binary PATH --agent-binary PATH"));
        assert!(m[1].problem.contains("build.files source"));
    }

    #[test]
    fn an_installation_with_both_binaries_serves_a_directory_outside_a_checkout() {
        let dir = tempfile::tempdir().unwrap();
        let share = dir.path().join("share");
        std::fs::create_dir_all(&share).unwrap();
        std::fs::write(share.join("fcctl-function"), b"elf").unwrap();
        let dirs = [dir.path().join("none"), share.clone()];
        let only_one = binary_source_among(dir.path(), &cfg(), &dirs);
        assert!(only_one.is_err(), "{only_one:?}");
        std::fs::write(share.join("nas-agent"), b"elf").unwrap();
        let src = binary_source_among(dir.path(), &cfg(), &dirs).unwrap();
        assert_eq!(src, BinarySource::Installed(share.canonicalize().unwrap()));
        let (f, a) = src.installed(&cfg()).unwrap();
        assert!(f.ends_with("fcctl-function") && a.ends_with("nas-agent"));
    }

    #[test]
    fn this_repository_has_everything() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        assert_eq!(missing(root, &cfg()), Vec::new());
    }
}
