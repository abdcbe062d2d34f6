//! Command-line definitions (clap derive): one struct per subcommand.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Take an image classifier from a checkout to a production endpoint on Function Compute 3.0.
#[derive(Debug, Parser)]
#[command(name = "fcctl", version, about)]
pub struct Cli {
    /// Global options.
    #[command(flatten)]
    pub global: Global,
    /// The subcommand.
    #[command(subcommand)]
    pub command: Command,
}

/// Options every subcommand takes.
#[derive(Debug, Clone, Args)]
pub struct Global {
    /// More logs on stderr (-v: API calls, -vv: headers with secrets redacted).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Only errors on stderr.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// Print the result as one JSON object on stdout (logs and progress go to stderr).
    #[arg(long, global = true)]
    pub json: bool,
    /// Project file.
    #[arg(
        long,
        global = true,
        default_value = "fcctl.yaml",
        env = "FCCTL_CONFIG"
    )]
    pub config: PathBuf,
    /// aliyun CLI profile (from ~/.aliyun/config.json).
    #[arg(long, global = true, conflicts_with = "access")]
    pub profile: Option<String>,
    /// Serverless Devs credential alias (from ~/.s/access.yaml).
    #[arg(long, global = true)]
    pub access: Option<String>,
    /// Target this project's local emulator instead of the cloud.
    #[arg(long, global = true)]
    pub local: bool,
    /// Override the region.
    #[arg(long, global = true)]
    pub region: Option<String>,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Write a commented fcctl.yaml for the cat/dog classifier.
    Init(InitArgs),
    /// Write s.yaml (Serverless Devs 3, fc3 component) equivalent to what fcctl deploys.
    Render(RenderArgs),
    /// Check config, credentials, toolchain and endpoint, with a fix for each problem.
    Doctor(DoctorArgs),
    /// Build the function for the FC runtime, package code.zip and the NAS tree.
    Build(BuildArgs),
    /// Check model.yaml against its ONNX file, or record the file's sha256 in it.
    #[command(subcommand)]
    Model(ModelCommand),
    /// Upload the NAS tree as an atomic, versioned release.
    NasSync(NasSyncArgs),
    /// List or garbage-collect NAS releases.
    #[command(subcommand)]
    Nas(NasCommand),
    /// Create or update the function, HTTP trigger and custom domain (plan first).
    Deploy(DeployArgs),
    /// Publish an immutable function version.
    Publish(PublishArgs),
    /// Point an alias at a version, optionally with a weighted canary.
    Alias(AliasArgs),
    /// Set provisioned instances on an alias.
    Provision(ProvisionArgs),
    /// Show function, versions, aliases, provision, trigger and domain in one screen.
    Status,
    /// Monthly cost of what fcctl.yaml configures, with an on-demand estimate for a load.
    Cost(CostArgs),
    /// Move the release alias back to the previous (or a given) version.
    Rollback(RollbackArgs),
    /// List function versions, or delete old ones nothing uses.
    #[command(subcommand)]
    Versions(VersionsCommand),
    /// Classify a local image through the deployed function.
    Invoke(InvokeArgs),
    /// Load-test the deployed endpoint and write a report.
    Bench(BenchArgs),
    /// Show the function's logs (from its Log Service logstore), or follow them.
    Logs(LogsArgs),
    /// Build, sync, deploy, publish, alias, provision and smoke-test in one go.
    Up(UpArgs),
    /// Remove what fcctl created for this app (NAS data is kept unless --purge-data).
    Destroy(DestroyArgs),
    /// Run or stop the local FC3 + OSS + NAS emulator.
    #[command(subcommand)]
    Local(LocalCommand),
    /// Print shell completions.
    Completions(CompletionsArgs),
}

/// `fcctl init`.
#[derive(Debug, Args)]
pub struct InitArgs {
    /// Overwrite an existing fcctl.yaml (and model.yaml with --model).
    #[arg(long)]
    pub force: bool,
    /// App name to write [default: the model's file name with --model, else cat-dog].
    #[arg(long)]
    pub app: Option<String>,
    /// An ONNX image classifier to serve: writes model.yaml filled from the file (input name,
    /// layout, size, sha256, class count) and an fcctl.yaml that ships this directory as the
    /// model. A file outside the directory is copied in.
    #[arg(long, value_name = "FILE")]
    pub model: Option<PathBuf>,
    /// Class names, one a line in output order (with --model) [default: labels.txt here, or
    /// class_0… written to it].
    #[arg(long, value_name = "FILE", requires = "model")]
    pub labels: Option<PathBuf>,
}

/// `fcctl render`.
#[derive(Debug, Args)]
pub struct RenderArgs {
    /// Where to write s.yaml (`-` for stdout).
    #[arg(short, long, default_value = "s.yaml")]
    pub output: PathBuf,
    /// Print what would be written without writing it.
    #[arg(long)]
    pub dry_run: bool,
}

/// `fcctl build`.
#[derive(Debug, Args)]
pub struct BuildArgs {
    /// Use the binary already built at this path instead of compiling (still checked).
    #[arg(long)]
    pub binary: Option<PathBuf>,
    /// Use this nas-agent binary instead of compiling it (still checked).
    #[arg(long)]
    pub agent_binary: Option<PathBuf>,
    /// Ship what symlinks pointing outside the project lead to (each one is printed);
    /// without it such a link is an error.
    #[arg(long)]
    pub follow_external_links: bool,
    /// Skip the trial run (the built function loading the model and classifying the first
    /// `bench.images` photo); model.yaml's schema, sha256 and input are still checked.
    #[arg(long)]
    pub no_trial: bool,
}

/// `fcctl model …`.
#[derive(Debug, Subcommand)]
pub enum ModelCommand {
    /// Check model.yaml (schema, sha256, input name and shape against the ONNX file), then
    /// load and run the model with the last built function.
    Check {
        /// Only the checks that need no build: schema, sha256, input.
        #[arg(long)]
        no_trial: bool,
        /// Classify this image in the trial run [default: the first `bench.images` photo].
        #[arg(long, value_name = "FILE", conflicts_with = "no_trial")]
        image: Option<PathBuf>,
    },
    /// Print the sha256 of model.yaml's ONNX file.
    Hash {
        /// Write it into model.yaml (only the `sha256:` line changes).
        #[arg(long)]
        write: bool,
    },
}

/// `fcctl nas-sync`.
#[derive(Debug, Args)]
pub struct NasSyncArgs {
    /// Print the plan (added, changed, removed, bytes) without uploading.
    #[arg(long)]
    pub dry_run: bool,
    /// Parallel uploads.
    #[arg(long, default_value_t = 4)]
    pub jobs: usize,
}

/// `fcctl nas …`.
#[derive(Debug, Subcommand)]
pub enum NasCommand {
    /// List releases and what references them.
    Ls,
    /// Remove releases no version or alias references (never the live one).
    Gc {
        /// Show what would be removed.
        #[arg(long)]
        dry_run: bool,
    },
}

/// `fcctl versions …`.
#[derive(Debug, Subcommand)]
pub enum VersionsCommand {
    /// Every version: created, description, NAS release, aliases (with canary weights),
    /// triggers and provisioned instances on it.
    Ls,
    /// Delete all but the N newest versions; never one an alias (main or canary), a trigger
    /// or a provision config uses. Then `fcctl nas gc` can free their NAS releases.
    Prune {
        /// How many of the newest versions to keep (besides those in use).
        #[arg(long)]
        keep: usize,
        /// Show what would be deleted.
        #[arg(long)]
        dry_run: bool,
    },
}

/// `fcctl doctor`.
#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// Print the minimal RAM policy (JSON) the configured features need, and nothing else.
    #[arg(long)]
    pub policy: bool,
}

/// `fcctl destroy`.
#[derive(Debug, Args)]
pub struct DestroyArgs {
    /// Do not ask for confirmation (needed without a terminal).
    #[arg(long)]
    pub yes: bool,
    /// Also remove the app's NAS releases (the model files), through the nas-agent.
    #[arg(long)]
    pub purge_data: bool,
    /// List what would be deleted; delete nothing.
    #[arg(long)]
    pub dry_run: bool,
}

/// `fcctl deploy`.
#[derive(Debug, Args)]
pub struct DeployArgs {
    /// Print the plan; exit code 0 = nothing to change, 10 = changes pending.
    #[arg(long)]
    pub dry_run: bool,
}

/// `fcctl publish`.
#[derive(Debug, Args)]
pub struct PublishArgs {
    /// Version description.
    #[arg(long)]
    pub description: Option<String>,
    /// Publish even if the function differs from the last build.
    #[arg(long)]
    pub force: bool,
    /// Say whether a version would be published, without publishing.
    #[arg(long)]
    pub dry_run: bool,
}

/// `fcctl alias`.
#[derive(Debug, Args)]
pub struct AliasArgs {
    /// Alias name (default: release.alias from fcctl.yaml).
    pub name: Option<String>,
    /// Version the alias points at.
    #[arg(long)]
    pub version: String,
    /// A second version that gets `--weight` of the traffic.
    #[arg(long, requires = "weight")]
    pub canary: Option<String>,
    /// Share of traffic for the canary, 0–1.
    #[arg(long, requires = "canary")]
    pub weight: Option<f64>,
    /// Invoke the version (and the canary) by number with `bench.images` first; move the
    /// alias only when they answer.
    #[arg(long)]
    pub verify: bool,
    /// With --canary on an alias that holds provisioned instances: release them (FC keeps
    /// none on a weighted alias; on-demand instances serve both versions meanwhile).
    #[arg(long)]
    pub release_provisioned: bool,
    /// Show the change without applying it.
    #[arg(long)]
    pub dry_run: bool,
}

/// `fcctl cost`.
#[derive(Debug, Args)]
pub struct CostArgs {
    /// Requests a second to price (on-demand instances beyond the provisioned, invocations).
    #[arg(long, requires = "avg_ms")]
    pub rps: Option<f64>,
    /// The function's average duration per request, in milliseconds.
    #[arg(long, requires = "rps")]
    pub avg_ms: Option<f64>,
}

/// `fcctl provision`.
#[derive(Debug, Args)]
pub struct ProvisionArgs {
    /// Target instances (0 releases them).
    #[arg(long)]
    pub instances: u32,
    /// Alias to provision (default: release.alias).
    #[arg(long)]
    pub alias: Option<String>,
    /// Wait until current == target, showing progress.
    #[arg(long)]
    pub wait: bool,
    /// How long to wait, in seconds.
    #[arg(long, default_value_t = 300)]
    pub timeout: u64,
    /// Scheduled change: 'cron=cron(0 0 8 * * *),target=20[,name=morning][,tz=Asia/Shanghai]'.
    #[arg(long)]
    pub schedule: Vec<String>,
    /// Show the change without applying it.
    #[arg(long)]
    pub dry_run: bool,
}

/// `fcctl rollback`.
#[derive(Debug, Args)]
pub struct RollbackArgs {
    /// Version to roll back to (default: the one before the current).
    #[arg(long)]
    pub to: Option<String>,
    /// Show the change without applying it.
    #[arg(long)]
    pub dry_run: bool,
}

/// `fcctl invoke`.
#[derive(Debug, Args)]
pub struct InvokeArgs {
    /// Image file to classify.
    pub image: PathBuf,
    /// Version or alias (default: release.alias).
    #[arg(long)]
    pub qualifier: Option<String>,
}

/// `fcctl logs`.
#[derive(Debug, Args)]
pub struct LogsArgs {
    /// Keep printing new lines as they arrive (Ctrl-C to stop).
    #[arg(short, long, conflicts_with = "until")]
    pub follow: bool,
    /// From this long ago (30s, 10m, 2h, 1d) or this RFC 3339 time.
    #[arg(long, default_value = "1h")]
    pub since: String,
    /// Until this long ago or this RFC 3339 time (default: now).
    #[arg(long)]
    pub until: Option<String>,
    /// Only the lines of this request (the `x-fc-request-id` of its answer).
    #[arg(long)]
    pub request_id: Option<String>,
    /// Only this instance (its id or the start of it).
    #[arg(long)]
    pub instance: Option<String>,
    /// Only this alias or version.
    #[arg(long)]
    pub qualifier: Option<String>,
    /// Only lines containing this text (case-insensitive).
    #[arg(long)]
    pub grep: Option<String>,
    /// At most this many lines (the newest), before following.
    #[arg(long, default_value_t = 100)]
    pub limit: usize,
}

/// `fcctl bench`.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Compare two saved reports instead of running.
    #[command(subcommand)]
    pub compare: Option<BenchCompare>,
    /// Target URL (default: the prod trigger URL from state).
    #[arg(long)]
    pub url: Option<String>,
    /// Send this Host header (custom-domain routing).
    #[arg(long)]
    pub host: Option<String>,
    /// page | image | classify.
    #[arg(long)]
    pub request: Option<String>,
    /// Images sent round-robin.
    #[arg(long)]
    pub image: Vec<PathBuf>,
    /// Closed-loop concurrency.
    #[arg(long, conflicts_with_all = ["rps", "ramp"])]
    pub concurrency: Option<u32>,
    /// Open-loop requests per second.
    #[arg(long, conflicts_with = "ramp")]
    pub rps: Option<u32>,
    /// Ramp concurrency FROM..TO, e.g. 5..50.
    #[arg(long)]
    pub ramp: Option<String>,
    /// Ramp step as a share of TO, e.g. 20%.
    #[arg(long, default_value = "20%")]
    pub step: String,
    /// Ramp step duration, e.g. 60s.
    #[arg(long, default_value = "60s")]
    pub step_duration: String,
    /// Run length, e.g. 30s or 5m.
    #[arg(long)]
    pub duration: Option<String>,
    /// Hard cap on requests.
    #[arg(long)]
    pub max_requests: Option<u64>,
    /// Force N cold starts and report their phases.
    #[arg(long)]
    pub cold: Option<u32>,
    /// Allow a non-loopback target (your own endpoint only).
    #[arg(long)]
    pub allow_remote: bool,
    /// Exit non-zero (after writing the report) when fewer than PERCENT of the requests
    /// succeed, e.g. 99 or 99.5%. Default: at least one must succeed.
    #[arg(long, value_name = "PERCENT", value_parser = parse_percent)]
    pub min_success: Option<f64>,
    /// Run the same load once per MEMORY_MB:CPU setting (e.g. 512:0.5,1024:1) on the local
    /// emulator's LATEST, and report throughput per vCPU, p50/p99 and peak memory for each.
    #[arg(long, value_name = "SETTINGS", conflicts_with_all = ["cold", "url", "host"])]
    pub sweep: Option<String>,
    /// The p99 bound (ms) `--sweep` picks the smallest setting by (default: the seed's p99).
    #[arg(long, default_value_t = 119.0, requires = "sweep")]
    pub p99_ms: f64,
}

/// `99`, `99.5` or `99.5%`, within 0..=100.
fn parse_percent(s: &str) -> Result<f64, String> {
    let n: f64 = s
        .trim()
        .trim_end_matches('%')
        .trim()
        .parse()
        .map_err(|_| format!("`{s}` is not a percentage like 99 or 99.5%"))?;
    if (0.0..=100.0).contains(&n) {
        Ok(n)
    } else {
        Err(format!("`{s}` is not between 0 and 100"))
    }
}

/// `fcctl bench compare`.
#[derive(Debug, Subcommand)]
pub enum BenchCompare {
    /// Show the differences between two runs (report.json paths or their directories).
    Compare {
        /// Baseline run.
        a: PathBuf,
        /// New run.
        b: PathBuf,
    },
}

/// `fcctl up`.
#[derive(Debug, Args)]
pub struct UpArgs {
    /// Provisioned instances (default: provision.instances).
    #[arg(long)]
    pub instances: Option<u32>,
    /// With --local: return once ready instead of serving until Ctrl-C.
    #[arg(long)]
    pub detach: bool,
    /// Use this prebuilt function binary instead of compiling (still glibc-checked).
    #[arg(long)]
    pub binary: Option<PathBuf>,
    /// Use this prebuilt nas-agent binary instead of compiling (still glibc-checked).
    #[arg(long)]
    pub agent_binary: Option<PathBuf>,
    /// Ship what symlinks pointing outside the project lead to (as `fcctl build` does).
    #[arg(long)]
    pub follow_external_links: bool,
    /// Skip the build's local trial run of the model (as `fcctl build --no-trial`).
    #[arg(long)]
    pub no_trial: bool,
    /// Print every step's plan from the last build; change nothing (exit 10 when something
    /// would change).
    #[arg(long)]
    pub dry_run: bool,
    /// Bound the whole run, e.g. 10m or 600 (seconds). The alias only moves to a version that
    /// passed its checks, so a run cut short leaves the release alias where it was or on a
    /// verified version.
    #[arg(long)]
    pub timeout: Option<String>,
}

/// `fcctl local …`.
#[derive(Debug, Subcommand)]
pub enum LocalCommand {
    /// Run the emulator in the foreground.
    Start(LocalStartArgs),
    /// Stop the emulator started for this project.
    Stop {
        /// Its data directory.
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
    /// Show whether this project's emulator runs, and its endpoints.
    Status {
        /// Its data directory.
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
    /// The emulator's DNS: custom domain names that resolve to it (FC accepts a custom domain
    /// only once its CNAME points at the account's FC endpoint; `*.fcctl.localhost` always does).
    #[command(subcommand)]
    Dns(LocalDnsCommand),
}

/// `fcctl local dns …`.
#[derive(Debug, Subcommand)]
pub enum LocalDnsCommand {
    /// Make NAME resolve to the emulator (as a CNAME to the FC endpoint would in the cloud).
    Add {
        name: String,
        /// The emulator's data directory.
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
}

/// `fcctl local start`.
#[derive(Debug, Args)]
pub struct LocalStartArgs {
    /// Port of the FC3 API (0 = any free port).
    #[arg(long, default_value_t = 0)]
    pub port: u16,
    /// State directory (default: target/fcctl/local).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Access key id the emulator accepts.
    #[arg(long, requires = "access_key_secret")]
    pub access_key_id: Option<String>,
    /// Access key secret the emulator accepts.
    #[arg(long, requires = "access_key_id")]
    pub access_key_secret: Option<String>,
    /// Fault injection, e.g. 'error_rate=0.1,latency_ms=20'.
    #[arg(long)]
    pub faults: Option<String>,
}

/// `fcctl completions`.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// Shell.
    pub shell: clap_complete::Shell,
}

#[cfg(test)]
mod tests {
    #[test]
    fn cli_definition_is_consistent() {
        use clap::CommandFactory as _;
        super::Cli::command().debug_assert();
    }

    #[test]
    fn min_success_takes_a_percentage() {
        assert_eq!(super::parse_percent("99.5%"), Ok(99.5));
        assert_eq!(super::parse_percent("0"), Ok(0.0));
        for bad in ["101", "-1", "most", "NaN"] {
            assert!(super::parse_percent(bad).is_err(), "{bad}");
        }
    }
}
