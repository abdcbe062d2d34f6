//! `fcctl doctor`: one ✓/✗ line per check, and a fix for every ✗.

use std::process::Command;
use std::time::Duration;

use serde::Serialize;

use crate::commands::Ctx;
use crate::config::Config;
use crate::exit::{ExitStatus, Refusal};

#[derive(Debug, Serialize)]
struct Check {
    name: &'static str,
    /// `ok`, `fail` or `skip`.
    status: &'static str,
    detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    fix: Option<String>,
}

impl Check {
    fn ok(name: &'static str, detail: impl Into<String>) -> Check {
        Check {
            name,
            status: "ok",
            detail: detail.into(),
            fix: None,
        }
    }
    fn fail(name: &'static str, detail: impl Into<String>, fix: impl Into<String>) -> Check {
        Check {
            name,
            status: "fail",
            detail: detail.into(),
            fix: Some(fix.into()),
        }
    }
    fn skip(name: &'static str, detail: impl Into<String>) -> Check {
        Check {
            name,
            status: "skip",
            detail: detail.into(),
            fix: None,
        }
    }
}

#[derive(Serialize)]
struct Report {
    ok: bool,
    checks: Vec<Check>,
}

/// Runs every check; exits 1 when any fails.
pub async fn run(ctx: &Ctx, a: crate::cli::DoctorArgs) -> anyhow::Result<()> {
    if a.policy {
        // The document itself on stdout (pipe it to `aliyun ram CreatePolicy`); which feature
        // needs which actions on stderr.
        let cfg = ctx.config()?;
        for n in crate::infra::policy::needs(&cfg) {
            ctx.out
                .note(format!("{}: {}", n.feature, n.actions.join(", ")));
        }
        // The document is the result in either mode (pretty for humans, one line with --json).
        let doc = crate::infra::policy::document(&cfg);
        ctx.out.result(&doc, || {
            serde_json::to_string_pretty(&doc).unwrap_or_default()
        });
        return Ok(());
    }
    let mut checks = Vec::new();
    let cfg = match ctx.config() {
        Ok(c) => {
            checks.push(Check::ok(
                "config",
                format!("{} is valid (app `{}`)", ctx.global.config.display(), c.app),
            ));
            Some(c)
        }
        Err(e) => {
            checks.push(Check::fail(
                "config",
                format!("{e:#}"),
                "fix the key shown, or run `fcctl init` to start from a valid file",
            ));
            None
        }
    };

    if ctx.global.local {
        let dir = crate::local::default_data_dir(&ctx.project.work_dir());
        checks.push(match crate::local::find_running(&dir).await {
            Some(info) => Check::ok(
                "emulator",
                format!(
                    "running (pid {}) at {}, keys {}",
                    info.pid, info.fc_endpoint, info.access_key_id
                ),
            ),
            None => Check::fail(
                "emulator",
                format!("no emulator running in {}", dir.display()),
                "start one with `fcctl local start` or `fcctl up --local`",
            ),
        });
        checks.push(toolchain_check());
        if let Some(c) = &cfg {
            checks.push(sources_check(ctx, c));
            checks.push(bench_images_check(ctx.project.dir(), c));
            checks.push(model_check(ctx, c));
            checks.push(glibc_check(c));
        }
        return finish(ctx, checks);
    }
    let creds = match ctx.credentials() {
        Ok(c) => {
            checks.push(Check::ok(
                "credentials",
                format!(
                    "{} from {}{} (secret {})",
                    c.access_key_id,
                    c.source,
                    if c.security_token.is_some() {
                        ", with STS token"
                    } else {
                        ""
                    },
                    c.access_key_secret.masked()
                ),
            ));
            Some(c)
        }
        Err(e) => {
            let fix = super::report::hints(&e).join("; ");
            checks.push(Check::fail("credentials", e.to_string(), fix));
            None
        }
    };

    let account = cfg
        .as_ref()
        .and_then(|c| c.account_id.clone())
        .or_else(|| creds.as_ref().and_then(|c| c.account_id.clone()));
    checks.push(match account {
        Some(a) => Check::ok("account id", a),
        None => Check::fail(
            "account id",
            "not in fcctl.yaml nor in the credentials",
            "set `account_id:` in fcctl.yaml or export ALIBABA_CLOUD_ACCOUNT_ID (the FC endpoint contains it)",
        ),
    });

    checks.push(toolchain_check());
    if let Some(c) = &cfg {
        checks.push(sources_check(ctx, c));
        checks.push(bench_images_check(ctx.project.dir(), c));
        checks.push(model_check(ctx, c));
        checks.push(glibc_check(c));
        checks.push(endpoint_check(c, account_deref(&checks)).await);
    }

    finish(ctx, checks)
}

/// Prints the checks; exits 1 when any failed.
fn finish(ctx: &Ctx, checks: Vec<Check>) -> anyhow::Result<()> {
    let ok = checks.iter().all(|c| c.status != "fail");
    let report = Report { ok, checks };
    ctx.out.result(&report, || {
        let mut s = String::new();
        for c in &report.checks {
            let mark = match c.status {
                "ok" => "✓",
                "fail" => "✗",
                _ => "–",
            };
            s.push_str(&format!("{mark} {:<12} {}\n", c.name, c.detail));
            if let Some(f) = &c.fix {
                s.push_str(&format!("    fix: {f}\n"));
            }
        }
        s
    });
    if ok {
        Ok(())
    } else {
        Err(Refusal::silent(ExitStatus::User).into())
    }
}

fn account_deref(checks: &[Check]) -> Option<String> {
    checks
        .iter()
        .find(|c| c.name == "account id" && c.status == "ok")
        .map(|c| c.detail.clone())
}

/// What `fcctl build` compiles and packages is in the project (fcctl cannot yet deploy from
/// outside a checkout of its repository without prebuilt binaries).
fn sources_check(ctx: &Ctx, cfg: &Config) -> Check {
    let project = ctx.project.dir();
    let missing = crate::package::sources::missing(project, cfg);
    if missing.is_empty() {
        return Check::ok(
            "sources",
            format!(
                "{} builds {} + nas-agent and has every build.files source",
                project.display(),
                cfg.build.package
            ),
        );
    }
    let problems: Vec<&str> = missing.iter().map(|m| m.problem.as_str()).collect();
    let mut fixes: Vec<&str> = missing.iter().map(|m| m.fix.as_str()).collect();
    fixes.dedup();
    Check::fail("sources", problems.join("; "), fixes.join("; "))
}

/// `bench.images` are files: a missing one would otherwise surface only when `fcctl bench`
/// starts (or, as `up`'s smoke sample, after a whole release).
fn bench_images_check(project: &std::path::Path, cfg: &Config) -> Check {
    if cfg.bench.images.is_empty() {
        return Check::skip("bench images", "none configured (`bench.images`)");
    }
    let missing: Vec<String> = cfg
        .bench
        .images
        .iter()
        .map(|p| {
            if p.is_relative() {
                project.join(p)
            } else {
                p.clone()
            }
        })
        .filter(|p| !p.is_file())
        .map(|p| p.display().to_string())
        .collect();
    if missing.is_empty() {
        return Check::ok(
            "bench images",
            format!("all {} bench.images exist", cfg.bench.images.len()),
        );
    }
    Check::fail(
        "bench images",
        format!("bench.images not found: {}", missing.join(", ")),
        "put the images there, or list existing files under `bench.images` in fcctl.yaml \
         (paths are relative to the project directory)",
    )
}

/// model.yaml's schema, sha256 and input against the ONNX file (no trial run: doctor
/// builds nothing).
fn model_check(ctx: &Ctx, cfg: &Config) -> Check {
    use crate::exit::Hint as _;
    match crate::model::check(ctx.project.dir(), cfg) {
        Ok(Some(r)) => Check::ok("model", crate::pipeline::build::model_note(&r)),
        Ok(None) => Check::skip("model", "the package has no model/model.yaml (build.files)"),
        Err(e) => {
            let fix = e.hint().map(|h| h.into_owned()).unwrap_or_else(|| {
                "fix model.yaml at the place shown (function/README.md describes its keys)".into()
            });
            Check::fail("model", e.to_string(), fix)
        }
    }
}

fn version_of(cmd: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(cmd).args(args).output().ok()?;
    out.status.success().then(|| {
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .next()
            .unwrap_or("")
            .trim()
            .to_string()
    })
}

fn toolchain_check() -> Check {
    let Some(cargo) = version_of("cargo", &["--version"]) else {
        return Check::fail(
            "toolchain",
            "cargo not found",
            "install Rust with rustup (https://rustup.rs)",
        );
    };
    match version_of("cargo-zigbuild", &["--version"]) {
        Some(z) => Check::ok("toolchain", format!("{cargo}; {z}")),
        None => Check::fail(
            "toolchain",
            format!(
                "{cargo}; cargo-zigbuild not found (needed to target the runtime's older glibc)"
            ),
            "run `scripts/setup` (installs zig from PyPI and cargo-zigbuild)",
        ),
    }
}

fn glibc_check(c: &Config) -> Check {
    let floor = c.glibc_floor();
    let host = version_of("ldd", &["--version"])
        .and_then(|l| l.rsplit(' ').next().map(str::to_string))
        .unwrap_or_else(|| "unknown".into());
    Check::ok(
        "glibc floor",
        format!(
            "{} needs binaries using at most GLIBC_{floor}; this machine has glibc {host}, so `fcctl build` cross-links for {floor}",
            c.function.runtime
        ),
    )
}

async fn endpoint_check(c: &Config, account: Option<String>) -> Check {
    let endpoint = match (&c.fc_endpoint, account) {
        (Some(e), _) => e.clone(),
        (None, Some(a)) => format!("https://{a}.{}.fc.aliyuncs.com", c.region),
        (None, None) => {
            return Check::skip(
                "endpoint",
                "skipped: no account id to build the endpoint from",
            );
        }
    };
    let hostport = endpoint
        .split("://")
        .nth(1)
        .unwrap_or(&endpoint)
        .split('/')
        .next()
        .unwrap_or("")
        .to_string();
    let addr = if hostport.contains(':') {
        hostport.clone()
    } else if endpoint.starts_with("https") {
        format!("{hostport}:443")
    } else {
        format!("{hostport}:80")
    };
    let attempt = tokio::time::timeout(
        Duration::from_secs(3),
        tokio::net::TcpStream::connect(&addr),
    )
    .await;
    match attempt {
        Ok(Ok(_)) => Check::ok("endpoint", format!("{endpoint} reachable")),
        Ok(Err(e)) if is_offline(&e) => Check::skip(
            "endpoint",
            format!("skipped: {endpoint} cannot be resolved or routed from here (offline?): {e}"),
        ),
        Ok(Err(e)) => Check::fail(
            "endpoint",
            format!("{endpoint}: {e}"),
            "check fc_endpoint / the region, or start the emulator with `fcctl local start`",
        ),
        Err(_) => Check::skip(
            "endpoint",
            format!("skipped: {endpoint} did not answer within 3 s (offline?)"),
        ),
    }
}

fn is_offline(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::*;
    // Name resolution failures surface as `Other`/`Uncategorized`; unreachable networks as below.
    matches!(e.kind(), NetworkUnreachable | HostUnreachable | Other)
        || e.to_string().contains("failed to lookup")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_bench_image_fails_with_its_path_and_a_fix() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("dog.jpg"), b"x").unwrap();
        let cfg = crate::config::parse_str(
            "app: a\nbench:\n  images: [dog.jpg, cats/missing.jpg]\n",
            "fcctl.yaml",
        )
        .unwrap();
        let c = bench_images_check(dir.path(), &cfg);
        assert_eq!(c.status, "fail");
        assert!(c.detail.contains("cats/missing.jpg"), "{}", c.detail);
        assert!(!c.detail.contains("dog.jpg"), "{}", c.detail);
        assert!(c.fix.unwrap().contains("bench.images"));

        let cfg = crate::config::parse_str("app: a\nbench:\n  images: [dog.jpg]\n", "fcctl.yaml")
            .unwrap();
        assert_eq!(bench_images_check(dir.path(), &cfg).status, "ok");
    }
}
