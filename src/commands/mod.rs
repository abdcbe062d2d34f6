//! One module per subcommand: thin orchestration and printing, no protocol details.

pub mod alias;
mod bench;
pub mod build;
mod completions;
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

use anyhow::Context as _;

use crate::cli::{Cli, Command, Global, exit};
use crate::cloud::{Cloud, Target};
use crate::config::Config;
use crate::credentials::{self, Credentials};

use crate::printer::Printer;
use crate::project::Project;

/// What every command gets: global flags, the printer and the project.
#[derive(Debug, Clone)]
pub struct Ctx {
    pub global: Global,
    pub out: Printer,
    pub project: Project,
}

impl Ctx {
    /// Loads fcctl.yaml with env and flag overrides.
    pub fn config(&self) -> anyhow::Result<Config> {
        Ok(self.project.config()?)
    }

    /// Resolves credentials per `--profile`/`--access`, env and config files.
    pub fn credentials(&self) -> anyhow::Result<Credentials> {
        let req = credentials::Request {
            profile: self.global.profile.clone(),
            access: self.global.access.clone(),
        };
        Ok(credentials::resolve(
            &req,
            &credentials::Environment::from_process(),
        )?)
    }

    /// Connects to the account, or to this project's running emulator with `--local`.
    pub async fn cloud(&self) -> anyhow::Result<Cloud> {
        let cfg = self.config()?;
        let local = if self.global.local {
            let dir = crate::local::default_data_dir(&self.project.work_dir());
            Some(crate::local::find_running(&dir).await.with_context(|| {
                format!(
                    "--local: no emulator is running for this project (looked in {}); \
                     start one with `fcctl local start` or `fcctl up --local`",
                    dir.display()
                )
            })?)
        } else {
            None
        };
        self.connect(cfg, local)
    }

    /// Connects with an already-known emulator (`up --local` after starting one), else with
    /// the account's credentials.
    pub fn connect(&self, cfg: Config, local: Option<crate::local::Info>) -> anyhow::Result<Cloud> {
        let target = match local {
            Some(info) => Target::Emulator(info),
            None => Target::Account(self.credentials()?),
        };
        Ok(Cloud::connect(cfg, target)?)
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
    let ctx = Ctx {
        project: Project::locate(&cli.global.config, cli.global.region.clone()),
        out: Printer {
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
