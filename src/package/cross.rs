//! Cross build for an older glibc with cargo-zigbuild (zig from the `ziglang` wheel in
//! `<project>/.venv`, installed by `scripts/setup`).

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::Context as _;

use crate::config::GlibcVersion;

/// The Rust target triple (cargo-zigbuild takes the glibc version as a suffix).
pub const TRIPLE: &str = "x86_64-unknown-linux-gnu";

/// PATH with `<project>/.venv/bin` first: cargo-zigbuild runs `python3 -m ziglang` when no
/// `zig` is on PATH, and only the venv's python has the `ziglang` wheel. Every entry is made
/// absolute (against the current directory, which is what the caller meant by it): cargo runs
/// build scripts in their own directories, where a relative entry finds nothing.
pub fn path_env(project: &Path) -> std::ffi::OsString {
    let cwd = std::env::current_dir().unwrap_or_default();
    let absolute = |p: PathBuf| if p.is_relative() { cwd.join(p) } else { p };
    let venv = absolute(project.join(".venv").join("bin"));
    let mut parts = Vec::new();
    if venv.is_dir() {
        parts.push(venv);
    }
    if let Some(p) = std::env::var_os("PATH") {
        parts.extend(
            std::env::split_paths(&p)
                .filter(|p| !p.as_os_str().is_empty())
                .map(absolute),
        );
    }
    std::env::join_paths(parts).unwrap_or_default()
}

/// Drops variables a parent cargo (`cargo run`/`cargo test`) exports (`CARGO_*`, `RUSTC*`,
/// `LD_LIBRARY_PATH`, …): inherited, they change build-script fingerprints and force the
/// cross build to recompile everything (ring, rustls) on every run.
pub fn sanitize(cmd: &mut Command) {
    for (k, _) in std::env::vars_os() {
        let k = k.to_string_lossy();
        let drop = (k.starts_with("CARGO") && k != "CARGO_HOME")
            || (k.starts_with("RUST") && !k.starts_with("RUSTUP") && k != "RUST_LOG")
            || k == "LD_LIBRARY_PATH"
            || k == "OUT_DIR";
        if drop {
            cmd.env_remove(k.as_ref());
        }
    }
}

/// Where the checkout and cargo's registry sources sit is not part of the build: without
/// these remaps, build-script outputs included from `OUT_DIR` (serde, thiserror) carry the
/// checkout's path into the function's code, and registry paths land in panic messages, so
/// two clones of one commit built different `code.zip`s and the second looked like a code
/// change to deploy and publish. Passed as `CARGO_ENCODED_RUSTFLAGS` (one flag per
/// `\x1f`-separated field, paths may hold spaces); with `--target`, cargo applies them to
/// the target's crates only, not to build scripts.
pub fn reproducible_rustflags(project: &Path) -> String {
    let mut remaps = vec![(project.to_path_buf(), "/fcctl")];
    if let Some(home) = cargo_home() {
        remaps.push((home, "/cargo"));
    }
    remaps
        .iter()
        .map(|(from, to)| format!("--remap-path-prefix={}={to}", from.display()))
        .collect::<Vec<_>>()
        .join("\x1f")
}

/// `$CARGO_HOME`, else `~/.cargo`, as cargo resolves it.
fn cargo_home() -> Option<PathBuf> {
    let home = std::env::var_os("CARGO_HOME")
        .filter(|h| !h.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))?;
    Some(std::fs::canonicalize(&home).unwrap_or(home))
}

/// Builds `bins` (package, binary) in release mode for `TRIPLE.<floor>` into
/// `<project>/target` and returns the binary paths in the same order.
pub fn build(
    project: &Path,
    bins: &[(&str, &str)],
    floor: GlibcVersion,
) -> anyhow::Result<Vec<PathBuf>> {
    if !project.join("Cargo.toml").is_file() {
        anyhow::bail!(
            "{} has no Cargo.toml, so there is nothing to compile; \
             run fcctl from the workspace root or pass --binary PATH",
            project.display()
        );
    }
    let path = path_env(project);
    // `cargo zigbuild --version` is not accepted; the binary itself answers `--version`.
    let has_zigbuild = Command::new("cargo-zigbuild")
        .arg("--version")
        .env("PATH", &path)
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_zigbuild {
        anyhow::bail!(
            "cargo-zigbuild is not installed; run `scripts/setup` (installs the ziglang wheel into \
             .venv and cargo-zigbuild) or pass --binary PATH with a binary built for glibc ≤ {floor}"
        );
    }
    let target = format!("{TRIPLE}.{floor}");
    let target_dir = project.join("target");
    let mut cmd = Command::new("cargo");
    sanitize(&mut cmd);
    cmd.current_dir(project)
        .env("PATH", &path)
        .env("CARGO_TARGET_DIR", &target_dir)
        .env("CARGO_ENCODED_RUSTFLAGS", reproducible_rustflags(project))
        .args(["zigbuild", "--release", "--target", &target]);
    for (pkg, bin) in bins {
        cmd.args(["-p", pkg, "--bin", bin]);
    }
    tracing::info!(?cmd, "cross-compiling");
    let status = cmd
        .status()
        .context("running cargo zigbuild (is cargo on PATH?)")?;
    if !status.success() {
        anyhow::bail!(
            "cargo zigbuild --target {target} failed ({status}); see the compiler output above"
        );
    }
    Ok(bins
        .iter()
        .map(|(_, bin)| target_dir.join(TRIPLE).join("release").join(bin))
        .collect())
}

/// Versions of the tools used (for build.json); missing tools are reported as such.
pub fn toolchain(project: &Path) -> serde_json::Value {
    let path = path_env(project);
    let run = |prog: &str, args: &[&str]| -> String {
        Command::new(prog)
            .args(args)
            .env("PATH", &path)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .unwrap_or_else(|| "not found".into())
    };
    serde_json::json!({
        "rustc": run("rustc", &["--version"]),
        "cargo_zigbuild": run("cargo", &["zigbuild", "--version"]),
        "zig": run("python3", &["-m", "ziglang", "version"]),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_env_entries_are_absolute_even_for_a_relative_project() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join(".venv/bin")).unwrap();
        // A relative project path, as `fcctl.yaml` in the current directory gives.
        let rel = pathdiff(dir.path());
        let path = path_env(&rel);
        let parts: Vec<PathBuf> = std::env::split_paths(&path).collect();
        assert!(parts.iter().all(|p| p.is_absolute()), "{parts:?}");
        assert_eq!(
            std::fs::canonicalize(&parts[0]).unwrap(),
            std::fs::canonicalize(dir.path().join(".venv/bin")).unwrap()
        );
    }

    #[test]
    fn rustflags_remap_the_checkout_and_cargo_home() {
        let flags = reproducible_rustflags(Path::new("/tmp/some clone"));
        let fields: Vec<&str> = flags.split('\x1f').collect();
        assert_eq!(fields[0], "--remap-path-prefix=/tmp/some clone=/fcctl");
        assert!(
            fields[1].starts_with("--remap-path-prefix=/") && fields[1].ends_with("=/cargo"),
            "{fields:?}"
        );
    }

    /// `target` spelled relative to the current directory (`../../tmp/…`).
    fn pathdiff(target: &Path) -> PathBuf {
        let cwd = std::env::current_dir().unwrap();
        let mut rel = PathBuf::new();
        for _ in cwd.components().skip(1) {
            rel.push("..");
        }
        rel.join(target.strip_prefix("/").unwrap())
    }
}
