//! The emulator's configuration and the endpoint info it reports once started.

use crate::faults::Faults;
use serde::{Deserialize, Serialize};
use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::time::Duration;

/// Default access key id accepted by a default-configured emulator.
pub const DEFAULT_ACCESS_KEY_ID: &str = "LTAI5tLocalEmulatorKey";
/// Default access key secret accepted by a default-configured emulator (local use only).
pub const DEFAULT_ACCESS_KEY_SECRET: &str = "LocalEmulatorSecret0123456789abcd";
pub const DEFAULT_ACCOUNT_ID: &str = "1234567890123456";
pub const DEFAULT_REGION: &str = "cn-shenzhen";

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct AccessKey {
    pub id: String,
    pub secret: String,
    /// When set, requests with this key must carry this STS token.
    pub security_token: Option<String>,
}

/// How `/code` and NAS mount dirs are made visible inside instances.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum Isolation {
    /// Use a private mount namespace if `unshare --mount` works, else path mapping.
    #[default]
    Auto,
    /// Always `unshare --mount --propagation private` + `mount --bind`.
    Namespace,
    /// Never use namespaces: rewrite `/code` and mount-dir prefixes in command, args and env
    /// values, run with cwd = the code dir and `FC_FUNC_CODE_PATH` = the code dir.
    PathMap,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub data_dir: PathBuf,
    pub host: IpAddr,
    /// FC API port (0 = ephemeral). When non-zero, OSS listens on `port+1`, the
    /// custom-domain endpoint on `port+2`, and VPC, ECS, NAS and RAM on `port+4`..`port+7`;
    /// otherwise all are ephemeral too.
    pub port: u16,
    pub keys: Vec<AccessKey>,
    pub account_id: String,
    pub region: String,
    pub faults: Faults,
    /// Host directory behind NAS mounts (default `<data_dir>/nas`).
    pub nas_dir: Option<PathBuf>,
    /// Cap of instances per function (on-demand + provisioned).
    pub max_instances_per_function: usize,
    /// On-demand instances idle for this long are stopped (with `/pre-stop`).
    pub idle_timeout: Duration,
    /// Max time from spawn to the instance port accepting connections.
    pub instance_start_timeout: Duration,
    pub isolation: Isolation,
    /// How instances are held to `memorySize` and `cpu` (default: the best mechanism here).
    pub limits: LimitsChoice,
    /// Accept OSS V1 signatures, like an account and bucket from before the V1 shutdown
    /// (2025-03-01 for new accounts, 2025-09-01 for new buckets). Off by default: a new
    /// account's buckets answer V1 with 403 `0002-00000080`.
    pub allow_oss_v1: bool,
    /// Append every authenticated API request to this JSON-lines file (tests).
    pub request_log: Option<PathBuf>,
    /// How long a function that attaches a VPC or NAS stays `Pending` / `InProgress`, as FC's
    /// ENI setup takes a while, so callers must wait for `Active` before publishing.
    pub attach_delay: Duration,
    /// How long a new VPC or vSwitch stays `Pending`, a NAS file system `Pending` and a mount
    /// target `Pending` before they become usable (`Available`, `Running`, `Active`), so
    /// callers must wait as on the cloud (where it takes seconds to a minute or two).
    pub infra_delay: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            data_dir: PathBuf::from(".fcctl-emulator"),
            host: IpAddr::V4(Ipv4Addr::LOCALHOST),
            port: 0,
            keys: vec![AccessKey {
                id: DEFAULT_ACCESS_KEY_ID.into(),
                secret: DEFAULT_ACCESS_KEY_SECRET.into(),
                security_token: None,
            }],
            account_id: DEFAULT_ACCOUNT_ID.into(),
            region: DEFAULT_REGION.into(),
            faults: Faults::default(),
            nas_dir: None,
            max_instances_per_function: 100,
            idle_timeout: Duration::from_secs(300),
            instance_start_timeout: Duration::from_secs(120),
            isolation: Isolation::Auto,
            limits: Default::default(),
            allow_oss_v1: false,
            request_log: None,
            attach_delay: Duration::from_secs(2),
            infra_delay: Duration::from_secs(1),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Info {
    pub fc_endpoint: String,
    pub oss_endpoint: String,
    /// Send custom-domain requests here with a `Host:` header naming the domain.
    pub domain_endpoint: String,
    /// The RPC-style OpenAPIs (signature ACS3, parameters in the query).
    #[serde(default)]
    pub vpc_endpoint: String,
    #[serde(default)]
    pub ecs_endpoint: String,
    #[serde(default)]
    pub nas_endpoint: String,
    /// RAM is global: one endpoint for every region (`ram.aliyuncs.com` on the cloud).
    #[serde(default)]
    pub ram_endpoint: String,
    /// Log Service (SLS); the project goes in the `Host` header (`<project>.127.0.0.1`).
    #[serde(default)]
    pub sls_endpoint: String,
    pub account_id: String,
    pub region: String,
    pub access_key_id: String,
    pub access_key_secret: String,
    pub nas_dir: PathBuf,
    pub data_dir: PathBuf,
    pub pid: u32,
    /// How instances are kept apart from the host, as found at start.
    #[serde(default)]
    pub isolation: InstanceIsolation,
    /// How instances are held to their function's `memorySize` and `cpu`, as found at start.
    #[serde(default)]
    pub limits: InstanceLimits,
}

/// What keeps instances apart from the host and from the emulator, found by probing at start.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct InstanceIsolation {
    /// A private mount namespace per instance: `/code` read-only, the data dir (with the
    /// emulator's secret and every function's code) hidden.
    pub mount_namespace: bool,
    /// Instances get SIGKILL when the emulator dies, even by SIGKILL.
    pub die_with_emulator: bool,
    /// One line per missing protection: what an instance can do because of it.
    pub warnings: Vec<String>,
}

/// How instance limits are enforced, as `local start --json` shows it (`limits`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct InstanceLimits {
    /// `cgroup-v2`, `cgroup-v1` or `rss-watchdog`.
    pub memory: String,
    /// `cgroup-v2`, `cgroup-v1` or `none`.
    pub cpu: String,
    /// What the mechanism in use cannot do, one line each.
    pub warnings: Vec<String>,
}

/// What the emulator may use (`Config::limits`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum LimitsChoice {
    /// The best mechanism that works here.
    #[default]
    Auto,
    /// The portable fallback only (RSS watchdog, no CPU quota), e.g. to test it.
    Watchdog,
}
