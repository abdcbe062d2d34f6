//! Whether a project directory holds what `fcctl build` compiles and packages: the workspace
//! with the function and nas-agent packages, the `build.files` sources, and the ONNX Runtime
//! fetch script. fcctl cannot yet deploy from outside a checkout of its own repository, so
//! `init` and `doctor` say so up front instead of `up` failing minutes later.

use std::path::Path;
use std::process::Command;

use crate::config::Config;

/// The package that materialises NAS releases; always compiled from the workspace.
pub const AGENT_PACKAGE: &str = "nas-agent";

/// One thing missing for a build, with what to do about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Missing {
    /// What is missing, naming the path.
    pub problem: String,
    /// How to get past it.
    pub fix: String,
}

/// Everything `fcctl build` (without `--binary`/`--agent-binary`) needs from `project` that is
/// not there; empty when it can build.
pub fn missing(project: &Path, cfg: &Config) -> Vec<Missing> {
    let mut out = Vec::new();
    let floor = cfg.glibc_floor();
    let prebuilt_fix = format!(
        "run fcctl inside a checkout of the fcctl repository (fcctl.yaml at its root), or pass \
         `--binary PATH --agent-binary PATH` to `fcctl build`/`fcctl up` with binaries built for \
         glibc ≤ {floor}"
    );
    match workspace_packages(project) {
        Ok(pkgs) => {
            for want in [cfg.build.package.as_str(), AGENT_PACKAGE] {
                if !pkgs.iter().any(|p| p == want) {
                    out.push(Missing {
                        problem: format!(
                            "the Cargo workspace at {} has no package `{want}` to compile",
                            project.display()
                        ),
                        fix: prebuilt_fix.clone(),
                    });
                }
            }
        }
        Err(why) => out.push(Missing {
            problem: format!(
                "{} is not the fcctl workspace ({why}), so there is nothing to compile",
                project.display()
            ),
            fix: prebuilt_fix.clone(),
        }),
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
                     `build.files` in fcctl.yaml to where your files are (`{}` → `{}`)",
                    f.src.display(),
                    f.dst.display()
                ),
            });
        }
    }
    if cfg.build.onnxruntime && !project.join("scripts/fetch-onnxruntime.sh").is_file() {
        out.push(Missing {
            problem: format!(
                "build.onnxruntime is true but {} is missing",
                project.join("scripts/fetch-onnxruntime.sh").display()
            ),
            fix:
                "run inside a checkout of the fcctl repository, or set `build.onnxruntime: false` \
                  and add `{src: <path to libonnxruntime.so>, dst: lib/libonnxruntime.so}` to \
                  `build.files`"
                    .into(),
        });
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
    fn an_empty_directory_lacks_the_workspace_the_model_and_the_fetch_script() {
        let dir = tempfile::tempdir().unwrap();
        let m = missing(dir.path(), &cfg());
        let text = format!("{m:?}");
        assert_eq!(m.len(), 3, "{text}");
        assert!(
            m[0].problem
                .contains("not the fcctl workspace (no Cargo.toml)")
        );
        assert!(m[0].fix.contains("--binary PATH --agent-binary PATH"));
        assert!(m[1].problem.contains("build.files source"));
        assert!(m[2].problem.contains("fetch-onnxruntime.sh"));
    }

    #[test]
    fn this_repository_has_everything() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        assert_eq!(missing(root, &cfg()), Vec::new());
    }
}
