//! One module per subcommand: thin orchestration and printing, no protocol details.

pub mod alias;
mod bench;
pub mod build;
mod completions;
mod cost;
pub mod deploy;
mod destroy;
mod doctor;
mod init;
mod invoke;
pub mod local;
mod logs;
mod model;
mod nas;
pub mod nas_sync;
pub mod provision;
pub mod publish;
mod render;
mod report;
mod rollback;
mod status;
mod up;
mod versions;

use anyhow::Context as _;

use crate::cli::{Cli, Command, Global};
use crate::cloud::{Cloud, Target};
use crate::config::Config;
use crate::credentials::{self, Credentials};
use crate::exit::{ExitStatus, Refusal};

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
            Some(info) => Target::Emulator(Box::new(info)),
            None => Target::Account(self.credentials()?),
        };
        Ok(Cloud::connect(cfg, target)?)
    }
}

/// Runs the CLI: the error, if any, on stderr with its hints last, and the exit status.
pub fn run(cli: Cli) -> ExitStatus {
    crate::logging::init(cli.global.quiet, cli.global.verbose);
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
            return ExitStatus::User;
        }
    };
    match runtime.block_on(dispatch(&ctx, cli.command)) {
        Ok(()) => ExitStatus::Success,
        Err(e) => {
            report(&e);
            report::status_of(&e)
        }
    }
}

/// `error: <message>` (a silent [`Refusal`] prints nothing), then one `hint:` line per hint.
fn report(e: &anyhow::Error) {
    let silent = e
        .downcast_ref::<Refusal>()
        .is_some_and(|r| r.message.is_empty());
    if !silent {
        eprintln!("error: {e:#}");
    }
    for h in report::hints(e) {
        eprintln!("  hint: {h}");
    }
}

async fn dispatch(ctx: &Ctx, command: Command) -> anyhow::Result<()> {
    match command {
        Command::Init(a) => init::run(ctx, a),
        Command::Render(a) => render::run(ctx, a),
        Command::Doctor(a) => doctor::run(ctx, a).await,
        Command::Completions(a) => completions::run(a),
        Command::Local(c) => local::run(ctx, c).await,
        Command::Build(a) => build::run(ctx, a).await,
        Command::Model(c) => model::run(ctx, c).await,
        Command::NasSync(a) => nas_sync::run(ctx, a).await,
        Command::Nas(c) => nas::run(ctx, c).await,
        Command::Deploy(a) => deploy::run(ctx, a).await,
        Command::Publish(a) => publish::run(ctx, a).await,
        Command::Alias(a) => alias::run(ctx, a).await,
        Command::Provision(a) => provision::run(ctx, a).await,
        Command::Status => status::run(ctx).await,
        Command::Cost(a) => cost::run(ctx, a),
        Command::Rollback(a) => rollback::run(ctx, a).await,
        Command::Versions(c) => versions::run(ctx, c).await,
        Command::Invoke(a) => invoke::run(ctx, a).await,
        Command::Bench(a) => bench::run(ctx, a).await,
        Command::Logs(a) => logs::run(ctx, a).await,
        Command::Up(a) => up::run(ctx, a).await,
        Command::Destroy(a) => destroy::run(ctx, a).await,
    }
}
