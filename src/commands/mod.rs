//! One module per subcommand: thin orchestration and printing, no protocol details.

pub mod alias;
mod bench;
pub mod build;
mod completions;
pub mod connect;
pub mod deploy;
mod doctor;
mod init;
mod invoke;
pub mod local;
mod nas;
pub mod nas_sync;
pub mod provision;
pub mod publish;
mod render;
mod rollback;
mod status;
mod up;

use std::path::{Path, PathBuf};

use anyhow::Context as _;

use crate::cli::{Cli, Command, Global, exit};
use crate::config::{self, Config};
use crate::credentials::{self, Credentials};
use crate::output::Output;

/// What every command gets: global flags, output mode and the project directory.
#[derive(Debug, Clone)]
pub struct Ctx {
    /// Global flags.
    pub global: Global,
    /// Output mode.
    pub out: Output,
    /// Where fcctl.yaml lives, resolved once (see [`Ctx::project_dir`]).
    project_dir: PathBuf,
}

impl Ctx {
    /// The project directory: where fcctl.yaml lives, absolute and canonical. Absolute because
    /// these paths are handed to child processes (cargo, build scripts, the emulator) that run
    /// in other directories, where a relative `./.venv/bin` finds nothing.
    pub fn project_dir(&self) -> PathBuf {
        self.project_dir.clone()
    }

    /// A path from fcctl.yaml: relative ones are relative to the project directory.
    pub fn project_path(&self, p: &Path) -> PathBuf {
        if p.is_relative() {
            self.project_dir().join(p)
        } else {
            p.to_path_buf()
        }
    }

    /// `target/fcctl` under the project: build output, state, local emulator records.
    pub fn work_dir(&self) -> PathBuf {
        self.project_dir().join("target").join("fcctl")
    }

    /// Loads fcctl.yaml with env and flag overrides.
    pub fn config(&self) -> anyhow::Result<Config> {
        let mut loader = config::Loader::default();
        if let Some(r) = &self.global.region {
            loader.flag_overrides.push(("region".into(), r.clone()));
        }
        let cfg = loader
            .load(&self.global.config, std::env::vars())
            .map_err(anyhow::Error::new)?;
        Ok(cfg)
    }

    /// Resolves credentials per `--profile`/`--access`, env and config files.
    pub fn credentials(&self) -> anyhow::Result<Credentials> {
        let req = credentials::Request {
            profile: self.global.profile.clone(),
            access: self.global.access.clone(),
        };
        credentials::resolve(&req, &credentials::Environment::from_process())
            .map_err(anyhow::Error::new)
    }
}

/// A command that refuses with a specific exit code (e.g. "changes pending" for `--dry-run`).
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct Exit {
    /// Exit code.
    pub code: i32,
    /// Message for stderr (may be empty).
    pub message: String,
}

fn init_tracing(g: &Global) {
    let level = match (g.quiet, g.verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "fcctl=debug,emulator=debug,info",
        (false, _) => "fcctl=trace,emulator=trace,debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .try_init();
}

/// Runs the CLI and returns the process exit code.
pub fn run(cli: Cli) -> i32 {
    init_tracing(&cli.global);
    let project_dir = absolute_dir(match cli.global.config.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    });
    let ctx = Ctx {
        project_dir,
        out: Output {
            json: cli.global.json,
            quiet: cli.global.quiet,
        },
        global: cli.global,
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return exit::USER;
        }
    };
    let result = runtime.block_on(dispatch(&ctx, cli.command));
    match result {
        Ok(()) => exit::OK,
        Err(e) => {
            if let Some(x) = e.downcast_ref::<Exit>() {
                if !x.message.is_empty() {
                    eprintln!("{}", x.message);
                }
                return x.code;
            }
            eprintln!("error: {e:#}");
            exit_code_for(&e)
        }
    }
}

/// 3 when the cloud (or emulator) answered with an error, else 1.
fn exit_code_for(e: &anyhow::Error) -> i32 {
    if e.chain().any(is_cloud_error) {
        exit::CLOUD
    } else {
        exit::USER
    }
}

fn is_cloud_error(e: &(dyn std::error::Error + 'static)) -> bool {
    e.downcast_ref::<crate::aliyun::Error>()
        .is_some_and(|e| e.status().is_some())
}

async fn dispatch(ctx: &Ctx, command: Command) -> anyhow::Result<()> {
    match command {
        Command::Init(a) => init::run(ctx, a),
        Command::Render(a) => render::run(ctx, a),
        Command::Doctor => doctor::run(ctx).await,
        Command::Completions(a) => completions::run(a),
        Command::Local(c) => local::run(ctx, c).await,
        Command::Build(a) => build::run(ctx, a).await,
        Command::NasSync(a) => nas_sync::run(ctx, a).await,
        Command::Nas(c) => nas::run(ctx, c).await,
        Command::Deploy(a) => deploy::run(ctx, a).await,
        Command::Publish(a) => publish::run(ctx, a).await,
        Command::Alias(a) => alias::run(ctx, a).await,
        Command::Provision(a) => provision::run(ctx, a).await,
        Command::Status => status::run(ctx).await,
        Command::Rollback(a) => rollback::run(ctx, a).await,
        Command::Invoke(a) => invoke::run(ctx, a).await,
        Command::Bench(a) => bench::run(ctx, a).await,
        Command::Up(a) => up::run(ctx, a).await,
    }
}

/// `dir` made absolute: canonical when it exists (symlinks resolved, so two spellings of one
/// project agree), else joined to the current directory.
pub fn absolute_dir(dir: &Path) -> PathBuf {
    std::fs::canonicalize(dir)
        .or_else(|_| std::path::absolute(dir))
        .unwrap_or_else(|_| dir.to_path_buf())
}

/// Writes a file atomically (temp + fsync + rename) so a crash never leaves half a file.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write as _;
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut tmp = tempfile::NamedTempFile::new_in(&dir)
        .with_context(|| format!("creating a temp file in {}", dir.display()))?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path)
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}
