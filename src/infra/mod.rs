//! `auto` infrastructure: the VPC, vSwitch, security group, NAS file system and mount target a
//! function with `vpc: auto` / `nas.server_addr: auto` runs in.
//!
//! Everything fcctl creates carries the tag `fcctl:app=<app>` (set in the create call itself,
//! so a resource never exists untagged) and is found again by that tag from the cloud's own
//! state: a re-run, or a run after `rm -rf target/`, adopts what exists instead of creating a
//! second one. A run killed between a create and its answer is the same case: the next run
//! finds the tagged resource. Mount targets take no tags; they are found by (file system,
//! vSwitch). Waits poll until a resource is usable (VPC/vSwitch `Available`, file system
//! `Running`, mount target `Active`).
//!
//! The same code runs against an account and against the emulator (`--local`): only the
//! endpoints differ.

pub mod policy;
pub mod teardown;

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::aliyun::FcClient;
use crate::aliyun::ecs::{CreateSecurityGroup, EcsClient, SecurityGroupFilter};
use crate::aliyun::nas_api::{
    CreateFileSystem, CreateMountTarget, DEFAULT_VPC_ACCESS_GROUP, FileSystemFilter,
    FileSystemStatus, MountTargetStatus, NasApiClient,
};
use crate::aliyun::ram::{FC_SERVICE_LINKED_ROLE, RamClient};
use crate::aliyun::rpc::Tag;
use crate::aliyun::sls::{IndexConfig, IndexKey, IndexLine, LogStore, SlsClient};
use crate::aliyun::vpc::{CreateVSwitch, CreateVpc, Status, VSwitchFilter, VpcClient, VpcFilter};
use crate::config::{
    AutoOrNone, Config, LogExplicit, LogSetting, RoleSetting, VpcExplicit, VpcSetting,
};

/// The NAS fcctl creates: General-purpose (`standard`) NFS, `Capacity` storage — the cheapest
/// NAS that FC mounts (docs/cloud-facts.md).
pub const NAS_FILE_SYSTEM_TYPE: &str = "standard";
pub const NAS_PROTOCOL: &str = "NFS";
pub const NAS_STORAGE_TYPE: &str = "Capacity";
/// The VPC's block; vSwitches get the first free `/24` of it.
pub const VPC_CIDR: &str = "10.88.0.0/16";
/// How long a resource may stay `Pending` before fcctl gives up (the next run resumes).
const READY_TIMEOUT: Duration = Duration::from_secs(600);

/// The ids of what the app runs on, as `status --json` names them (`null` where not used).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InfraIds {
    pub vpc_id: Option<String>,
    pub vswitch_id: Option<String>,
    pub security_group_id: Option<String>,
    pub nas_file_system_id: Option<String>,
    /// The mount target's domain (what the function mounts).
    pub nas_mount_target: Option<String>,
    pub sls_project: Option<String>,
    pub sls_logstore: Option<String>,
    pub role_arn: Option<String>,
    pub bucket: Option<String>,
}

/// One resource fcctl created (or, planning, would create).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Created {
    /// `vpc`, `vswitch`, `security_group`, `nas_file_system` or `nas_mount_target`.
    pub kind: &'static str,
    /// Its id; `(new)` in a plan.
    pub id: String,
}

/// What [`resolve`] found and did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Resolution {
    pub ids: InfraIds,
    /// Created by this run, in order.
    pub created: Vec<Created>,
    /// Planning only: what a real run would create, in order.
    pub would_create: Vec<Created>,
    /// State-changing calls per product (`vpc`, `ecs`, `nas`) made by this run.
    pub write_calls: WriteCalls,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct WriteCalls {
    pub vpc: u64,
    pub ecs: u64,
    pub nas: u64,
    pub ram: u64,
    pub sls: u64,
}

/// Find only (dry runs, `status`), or find-else-create.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Find,
    Ensure,
}

/// The API clients the resolver uses; `None` where no endpoint is known.
#[derive(Clone, Copy)]
pub struct Apis<'a> {
    pub fc: &'a FcClient,
    pub vpc: Option<&'a VpcClient>,
    pub ecs: Option<&'a EcsClient>,
    pub nas: Option<&'a NasApiClient>,
    pub ram: Option<&'a RamClient>,
    pub sls: Option<&'a SlsClient>,
    /// SLS project names are unique per region across accounts: fcctl's carries the id.
    pub account_id: &'a str,
}

#[derive(Debug, thiserror::Error)]
pub enum InfraError {
    #[error(
        "`{setting}` needs the {product} API, and no {product} endpoint is known for this \
         emulator"
    )]
    NoEndpoint {
        setting: &'static str,
        product: &'static str,
        env: &'static str,
    },
    // The source (printed next in the chain) names the action and the answer.
    #[error("the {} API", product.to_uppercase())]
    Api {
        product: &'static str,
        action: &'static str,
        #[source]
        source: Box<crate::aliyun::Error>,
    },
    #[error("no zone of {region} offers FC, vSwitches{nas}: FC {fc:?}, VPC {vpc:?}{nas_zones}")]
    NoZone {
        region: String,
        nas: String,
        fc: Vec<String>,
        vpc: Vec<String>,
        nas_zones: String,
    },
    #[error("{kind} {id} is still {status} after {secs} s")]
    NotReady {
        kind: &'static str,
        id: String,
        status: String,
        secs: u64,
    },
    #[error("{count} {kind}s carry the tag {tag}: {ids}")]
    Ambiguous {
        kind: &'static str,
        count: usize,
        tag: String,
        ids: String,
    },
    #[error("VPC {vpc_id} ({cidr}) has no free /24 block left for a vSwitch")]
    NoCidr { vpc_id: String, cidr: String },
}

impl crate::exit::Hint for InfraError {
    fn hint(&self) -> Option<std::borrow::Cow<'_, str>> {
        match self {
            InfraError::NoEndpoint { env, product, .. } => Some(
                format!(
                    "start the emulator with `fcctl local start` (it serves {product}) and use \
                     --local, or set {env} / `endpoints:` in fcctl.yaml"
                )
                .into(),
            ),
            InfraError::Api {
                product,
                action,
                source,
            } => {
                if policy::is_denied(source) {
                    Some(
                        format!(
                            "the credentials may not call {product}:{action}; add this statement \
                             to their RAM policy (`fcctl doctor --policy` prints the whole \
                             policy): {}",
                            policy::statement(&[&format!("{product}:{action}")])
                        )
                        .into(),
                    )
                } else {
                    // The API error next in the chain prints its own hint.
                    None
                }
            }
            InfraError::NoZone { .. } => Some(
                "pick another `region:`, or set explicit `vpc:` ids and `nas.server_addr` in \
                 fcctl.yaml"
                    .into(),
            ),
            InfraError::NotReady { .. } => Some(
                "the cloud is still preparing it; run the same command again later (it resumes \
                 from what exists)"
                    .into(),
            ),
            InfraError::Ambiguous { kind, .. } => Some(
                format!(
                    "fcctl creates one {kind} per app; delete the extra one (or remove its \
                     tag) in the console, then run again"
                )
                .into(),
            ),
            InfraError::NoCidr { .. } => {
                Some("delete unused vSwitches of that VPC, or set explicit `vpc:` ids".into())
            }
        }
    }
}

type Result<T> = std::result::Result<T, InfraError>;

fn api(
    product: &'static str,
    action: &'static str,
) -> impl FnOnce(crate::aliyun::Error) -> InfraError {
    move |source| InfraError::Api {
        product,
        action,
        source: Box::new(source),
    }
}

/// Does this config ask fcctl to find or create infrastructure?
pub fn wanted(cfg: &Config) -> bool {
    vpc_auto(cfg) || nas_auto(cfg) || log_auto(cfg) || role_auto(cfg)
}

pub fn log_auto(cfg: &Config) -> bool {
    cfg.log == LogSetting::Keyword(AutoOrNone::Auto)
}

/// `role: auto`: FC's service-linked role must exist, since every fcctl function runs in a
/// VPC (its NAS needs one) and that is what FC reaches the VPC (and delivers logs) with.
pub fn role_auto(cfg: &Config) -> bool {
    cfg.role == RoleSetting::Keyword(AutoOrNone::Auto)
}

/// The logstore fcctl creates in the app's project.
pub const LOGSTORE: &str = "function-logs";
/// How long the logstore keeps logs.
pub const LOG_TTL_DAYS: u32 = 30;

/// `fcctl-<app>-<account id>`: SLS wants 3–63 lower-case letters, digits and hyphens, and
/// project names are unique per region across all accounts.
pub fn sls_project_name(app: &str, account_id: &str) -> String {
    let app: String = app
        .to_ascii_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    let mut name = format!("fcctl-{app}-{account_id}");
    name.truncate(63);
    name.trim_end_matches('-').to_string()
}

pub fn vpc_auto(cfg: &Config) -> bool {
    matches!(cfg.vpc, VpcSetting::Auto(_))
}

pub fn nas_auto(cfg: &Config) -> bool {
    cfg.nas.server_addr == "auto"
}

/// The name fcctl gives what it creates for `app` (tags are what it is found by).
pub fn resource_name(app: &str) -> String {
    format!("fcctl-{app}")
}

/// Placeholder for an id a plan cannot know yet.
pub const NEW: &str = "(new)";

/// Finds (and with [`Mode::Ensure`] creates and waits for) what `cfg`'s `auto` settings need.
/// `progress` gets one line per resource created or waited for.
pub async fn resolve(
    cfg: &Config,
    apis: Apis<'_>,
    mode: Mode,
    progress: &(dyn Fn(String) + Sync),
) -> Result<Resolution> {
    let before = write_counts(&apis);
    let mut r = Resolution::default();
    if let VpcSetting::Explicit(v) = &cfg.vpc {
        r.ids.vpc_id = Some(v.vpc_id.clone());
        r.ids.vswitch_id = v.vswitch_ids.first().cloned();
        r.ids.security_group_id = Some(v.security_group_id.clone());
    }
    let tag = Tag::app(&cfg.app);
    let name = resource_name(&cfg.app);
    let mut zones = Zones::default();

    if vpc_auto(cfg) {
        let vpc = need(apis.vpc, "vpc: auto", "VPC", "FCCTL_VPC_ENDPOINT")?;
        let ecs = need(apis.ecs, "vpc: auto", "ECS", "FCCTL_ECS_ENDPOINT")?;
        let vpc_id = ensure_vpc(vpc, &tag, &name, mode, &mut r, progress).await?;
        let vswitch_id = match &vpc_id {
            Some(id) => {
                ensure_vswitch(
                    cfg, apis, id, &tag, &name, mode, &mut zones, &mut r, progress,
                )
                .await?
            }
            None => {
                r.would_create.push(planned("vswitch"));
                None
            }
        };
        let sg = match &vpc_id {
            Some(id) => ensure_security_group(ecs, id, &tag, &name, mode, &mut r).await?,
            None => {
                r.would_create.push(planned("security_group"));
                None
            }
        };
        r.ids.vpc_id = vpc_id;
        r.ids.vswitch_id = vswitch_id;
        r.ids.security_group_id = sg;
    }

    if nas_auto(cfg) {
        let nas = need(
            apis.nas,
            "nas.server_addr: auto",
            "NAS",
            "FCCTL_NAS_ENDPOINT",
        )?;
        let fs =
            ensure_file_system(cfg, apis, nas, &tag, mode, &mut zones, &mut r, progress).await?;
        let net = r.ids.clone();
        let mt = match (&fs, &net.vpc_id, &net.vswitch_id) {
            (Some(fs), Some(vpc_id), Some(vsw)) => {
                ensure_mount_target(
                    nas,
                    fs,
                    vpc_id,
                    vsw,
                    net.security_group_id.as_deref(),
                    mode,
                    &mut r,
                    progress,
                )
                .await?
            }
            _ => {
                r.would_create.push(planned("nas_mount_target"));
                None
            }
        };
        r.ids.nas_file_system_id = fs;
        r.ids.nas_mount_target = mt;
    }
    if let LogSetting::Explicit(l) = &cfg.log {
        r.ids.sls_project = Some(l.project.clone());
        r.ids.sls_logstore = Some(l.logstore.clone());
    }
    if log_auto(cfg) {
        let sls = need(apis.sls, "log: auto", "SLS", "FCCTL_SLS_ENDPOINT")?;
        let project = sls_project_name(&cfg.app, apis.account_id);
        if ensure_log(sls, &project, &tag, mode, &mut r, progress).await? {
            r.ids.sls_project = Some(project);
            r.ids.sls_logstore = Some(LOGSTORE.into());
        }
    }
    match &cfg.role {
        RoleSetting::Arn(arn) => r.ids.role_arn = Some(arn.clone()),
        RoleSetting::Keyword(AutoOrNone::Auto) => {
            let ram = need(apis.ram, "role: auto", "RAM", "FCCTL_RAM_ENDPOINT")?;
            r.ids.role_arn = ensure_service_linked_role(ram, mode, &mut r, progress).await?;
        }
        RoleSetting::Keyword(AutoOrNone::None) => {}
    }
    let after = write_counts(&apis);
    r.write_calls = WriteCalls {
        vpc: after.vpc - before.vpc,
        ecs: after.ecs - before.ecs,
        nas: after.nas - before.nas,
        ram: after.ram - before.ram,
        sls: after.sls - before.sls,
    };
    Ok(r)
}

/// `cfg` with the `auto` settings replaced by what [`resolve`] found (a plan's missing ids by
/// [`NEW`]): the function and the nas-agent are then configured exactly as with explicit ids.
/// fcctl mounts the file system's root — the file system is the app's own — so releases live
/// at `<mount_dir>/<app>/` as with an explicit NAS.
pub fn apply(cfg: &Config, ids: &InfraIds) -> Config {
    let mut out = cfg.clone();
    let id = |v: &Option<String>| v.clone().unwrap_or_else(|| NEW.to_string());
    if vpc_auto(cfg) {
        out.vpc = VpcSetting::Explicit(VpcExplicit {
            vpc_id: id(&ids.vpc_id),
            vswitch_ids: vec![id(&ids.vswitch_id)],
            security_group_id: id(&ids.security_group_id),
        });
    }
    if nas_auto(cfg) {
        out.nas.server_addr = format!("{}:/", id(&ids.nas_mount_target));
    }
    if log_auto(cfg) {
        out.log = LogSetting::Explicit(LogExplicit {
            project: id(&ids.sls_project),
            logstore: id(&ids.sls_logstore),
        });
    }
    out
}

fn need<'a, T>(
    client: Option<&'a T>,
    setting: &'static str,
    product: &'static str,
    env: &'static str,
) -> Result<&'a T> {
    client.ok_or(InfraError::NoEndpoint {
        setting,
        product,
        env,
    })
}

fn planned(kind: &'static str) -> Created {
    Created {
        kind,
        id: NEW.into(),
    }
}

fn write_counts(a: &Apis<'_>) -> WriteCalls {
    WriteCalls {
        vpc: a.vpc.map_or(0, VpcClient::write_count),
        ecs: a.ecs.map_or(0, EcsClient::write_count),
        nas: a.nas.map_or(0, NasApiClient::write_count),
        ram: a.ram.map_or(0, RamClient::write_count),
        sls: a.sls.map_or(0, SlsClient::write_count),
    }
}

/// The app's SLS project (tagged), its logstore and an index the `fcctl logs` queries can use.
/// Returns whether they exist (after this call, in [`Mode::Ensure`]).
async fn ensure_log(
    sls: &SlsClient,
    project: &str,
    tag: &Tag,
    mode: Mode,
    r: &mut Resolution,
    progress: &(dyn Fn(String) + Sync),
) -> Result<bool> {
    let planning = mode == Mode::Find;
    match sls.get_project(project).await {
        Ok(_) => {}
        Err(e) if e.is_not_found() && planning => {
            r.would_create.push(planned("sls_project"));
            r.would_create.push(planned("sls_logstore"));
            return Ok(false);
        }
        Err(e) if e.is_not_found() => {
            match sls
                .create_project(project, &sls_description(&tag.value))
                .await
            {
                Ok(()) => {}
                // A run killed after the create: ours (the name carries the account id).
                Err(e) if e.is_already_exists() => {}
                Err(e) => return Err(api("log", "CreateProject")(e)),
            }
            progress(format!("created SLS project {project}"));
            r.created.push(Created {
                kind: "sls_project",
                id: project.into(),
            });
        }
        Err(e) => return Err(api("log", "GetProject")(e)),
    }
    // CreateProject takes no tags: a run killed between create and tag is healed here.
    if !planning {
        let tagged = sls
            .projects_tagged(std::slice::from_ref(tag))
            .await
            .map_err(api("log", "ListTagResources"))?;
        if !tagged.iter().any(|p| p == project) {
            sls.tag_project(project, std::slice::from_ref(tag))
                .await
                .map_err(api("log", "TagResources"))?;
        }
    }
    match sls.get_logstore(project, LOGSTORE).await {
        Ok(_) => {}
        Err(e) if e.is_not_found() && planning => {
            r.would_create.push(planned("sls_logstore"));
            return Ok(false);
        }
        Err(e) if e.is_not_found() => {
            match sls
                .create_logstore(project, &LogStore::new(LOGSTORE, LOG_TTL_DAYS))
                .await
            {
                Ok(()) => {}
                Err(e) if e.is_already_exists() => {}
                Err(e) => return Err(api("log", "CreateLogStore")(e)),
            }
            r.created.push(Created {
                kind: "sls_logstore",
                id: format!("{project}/{LOGSTORE}"),
            });
        }
        Err(e) => return Err(api("log", "GetLogStore")(e)),
    }
    match sls.get_index(project, LOGSTORE).await {
        Ok(_) => {}
        Err(e) if e.is_not_found() && planning => {}
        Err(e) if e.is_not_found() => match sls.create_index(project, LOGSTORE, &log_index()).await
        {
            Ok(()) => {}
            Err(e) if e.is_already_exists() => {}
            Err(e) => return Err(api("log", "CreateIndex")(e)),
        },
        Err(e) => return Err(api("log", "GetIndex")(e)),
    }
    Ok(true)
}

/// Full text, plus the fields FC writes with every line (so `fcctl logs --request-id` and
/// `--instance` are key queries).
pub fn log_index() -> IndexConfig {
    let token: Vec<String> = [
        ",", " ", "'", "\"", ";", "=", "(", ")", "[", "]", "{", "}", "?", "@", "&", "<", ">", "/",
        ":", "\n", "\t", "\r",
    ]
    .iter()
    .map(|t| t.to_string())
    .collect();
    let key = || IndexKey {
        kind: "text".into(),
        token: token.clone(),
        case_sensitive: false,
        doc_value: true,
    };
    IndexConfig {
        line: Some(IndexLine {
            token: token.clone(),
            case_sensitive: false,
            chn: false,
        }),
        keys: [
            "functionName",
            "qualifier",
            "versionId",
            "instanceID",
            "requestId",
            "message",
        ]
        .into_iter()
        .map(|k| (k.to_string(), key()))
        .collect(),
    }
}

/// FC's service-linked role, which FC uses to reach the VPC and to deliver logs; created once
/// per account (`AliyunServiceRoleForFC`).
async fn ensure_service_linked_role(
    ram: &RamClient,
    mode: Mode,
    r: &mut Resolution,
    progress: &(dyn Fn(String) + Sync),
) -> Result<Option<String>> {
    match ram.get_role(FC_SERVICE_LINKED_ROLE).await {
        Ok(role) => Ok(Some(role.arn)),
        Err(e) if e.is_not_found() && mode == Mode::Find => {
            r.would_create.push(planned("service_linked_role"));
            Ok(None)
        }
        Err(e) if e.is_not_found() => {
            let role = match ram
                .create_service_linked_role(crate::aliyun::ram::FC_SERVICE)
                .await
            {
                Ok(role) => role,
                Err(e) if e.is_already_exists() => ram
                    .get_role(FC_SERVICE_LINKED_ROLE)
                    .await
                    .map_err(api("ram", "GetRole"))?,
                Err(e) => return Err(api("ram", "CreateServiceLinkedRole")(e)),
            };
            progress(format!("created RAM role {}", role.role_name));
            r.created.push(Created {
                kind: "service_linked_role",
                id: role.arn.clone(),
            });
            Ok(Some(role.arn))
        }
        Err(e) => Err(api("ram", "GetRole")(e)),
    }
}

fn one<T>(
    kind: &'static str,
    tag: &Tag,
    found: Vec<T>,
    id: impl Fn(&T) -> String,
) -> Result<Option<T>> {
    match found.len() {
        0 => Ok(None),
        1 => Ok(found.into_iter().next()),
        count => Err(InfraError::Ambiguous {
            kind,
            count,
            tag: format!("{}={}", tag.key, tag.value),
            ids: found.iter().map(id).collect::<Vec<_>>().join(", "),
        }),
    }
}

/// Polls `probe` (returning the status, and whether it is ready) with backoff until ready.
async fn wait_until<F, Fut>(kind: &'static str, id: &str, mut probe: F) -> Result<()>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<(String, bool)>>,
{
    let start = std::time::Instant::now();
    let mut delay = Duration::from_millis(200);
    loop {
        let (status, ready) = probe().await?;
        if ready {
            return Ok(());
        }
        if start.elapsed() > READY_TIMEOUT {
            return Err(InfraError::NotReady {
                kind,
                id: id.to_string(),
                status,
                secs: READY_TIMEOUT.as_secs(),
            });
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(5));
    }
}

async fn ensure_vpc(
    vpc: &VpcClient,
    tag: &Tag,
    name: &str,
    mode: Mode,
    r: &mut Resolution,
    progress: &(dyn Fn(String) + Sync),
) -> Result<Option<String>> {
    let filter = VpcFilter {
        tags: vec![tag.clone()],
        ..Default::default()
    };
    let found = vpc
        .describe_vpcs(&filter)
        .await
        .map_err(api("vpc", "DescribeVpcs"))?;
    let id = match one("VPC", tag, found, |v| v.vpc_id.clone())? {
        Some(v) => v.vpc_id,
        None if mode == Mode::Find => {
            r.would_create.push(planned("vpc"));
            return Ok(None);
        }
        None => {
            let created = vpc
                .create_vpc(&CreateVpc {
                    cidr_block: Some(VPC_CIDR.into()),
                    vpc_name: Some(name.into()),
                    description: Some(description(&tag.value)),
                    tags: vec![tag.clone()],
                    client_token: None,
                })
                .await
                .map_err(api("vpc", "CreateVpc"))?;
            progress(format!("created VPC {}", created.vpc_id));
            r.created.push(Created {
                kind: "vpc",
                id: created.vpc_id.clone(),
            });
            created.vpc_id
        }
    };
    if mode == Mode::Ensure {
        wait_until("VPC", &id, || async {
            let v = vpc
                .describe_vpcs(&VpcFilter {
                    vpc_id: Some(id.clone()),
                    ..Default::default()
                })
                .await
                .map_err(api("vpc", "DescribeVpcs"))?;
            let status = v.first().map(|v| v.status.clone());
            Ok((format!("{status:?}"), status == Some(Status::Available)))
        })
        .await?;
    }
    Ok(Some(id))
}

fn description(app: &str) -> String {
    format!("created by fcctl for app {app}; removed by `fcctl destroy`")
}

/// An SLS project's description holds at most 64 characters (the emulator refuses more, as
/// SLS does); app names run to 64, so a long one gets the short form, cut.
fn sls_description(app: &str) -> String {
    let long = format!("fcctl app {app}; removed by `fcctl destroy`");
    if long.len() <= 64 {
        return long;
    }
    let mut short = format!("fcctl app {app}");
    short.truncate(64);
    short
}

#[allow(clippy::too_many_arguments)]
async fn ensure_vswitch(
    cfg: &Config,
    apis: Apis<'_>,
    vpc_id: &str,
    tag: &Tag,
    name: &str,
    mode: Mode,
    zones: &mut Zones,
    r: &mut Resolution,
    progress: &(dyn Fn(String) + Sync),
) -> Result<Option<String>> {
    let vpc = apis.vpc.expect("checked by the caller");
    let all = vpc
        .describe_vswitches(&VSwitchFilter {
            vpc_id: Some(vpc_id.into()),
            ..Default::default()
        })
        .await
        .map_err(api("vpc", "DescribeVSwitches"))?;
    let tagged: Vec<_> = all
        .iter()
        .filter(|s| s.tags.tag.contains(tag))
        .cloned()
        .collect();
    let allowed = zones.allowed(cfg, apis).await?;
    let usable: Vec<_> = tagged
        .into_iter()
        .filter(|s| allowed.contains(&s.zone_id))
        .collect();
    let id = match one("vSwitch", tag, usable, |s| s.v_switch_id.clone())? {
        Some(s) => s.v_switch_id,
        None if mode == Mode::Find => {
            r.would_create.push(planned("vswitch"));
            return Ok(None);
        }
        None => {
            let zone = allowed.first().cloned().ok_or_else(|| zones.no_zone(cfg))?;
            let used: Vec<&str> = all.iter().map(|s| s.cidr_block.as_str()).collect();
            let cidr = free_block(&used).ok_or_else(|| InfraError::NoCidr {
                vpc_id: vpc_id.into(),
                cidr: VPC_CIDR.into(),
            })?;
            let created = vpc
                .create_vswitch(&CreateVSwitch {
                    vpc_id: vpc_id.into(),
                    zone_id: zone.clone(),
                    cidr_block: cidr,
                    v_switch_name: Some(name.into()),
                    description: Some(description(&tag.value)),
                    tags: vec![tag.clone()],
                    client_token: None,
                })
                .await
                .map_err(api("vpc", "CreateVSwitch"))?;
            progress(format!("created vSwitch {} in {zone}", created.v_switch_id));
            r.created.push(Created {
                kind: "vswitch",
                id: created.v_switch_id.clone(),
            });
            created.v_switch_id
        }
    };
    if mode == Mode::Ensure {
        wait_until("vSwitch", &id, || async {
            let s = vpc
                .describe_vswitches(&VSwitchFilter {
                    v_switch_id: Some(id.clone()),
                    vpc_id: Some(vpc_id.into()),
                    ..Default::default()
                })
                .await
                .map_err(api("vpc", "DescribeVSwitches"))?;
            let status = s.first().map(|s| s.status.clone());
            Ok((format!("{status:?}"), status == Some(Status::Available)))
        })
        .await?;
    }
    Ok(Some(id))
}

/// The first `10.88.N.0/24` no existing vSwitch of the VPC uses.
fn free_block(used: &[&str]) -> Option<String> {
    (0..=255)
        .map(|n| format!("10.88.{n}.0/24"))
        .find(|b| !used.contains(&b.as_str()))
}

async fn ensure_security_group(
    ecs: &EcsClient,
    vpc_id: &str,
    tag: &Tag,
    name: &str,
    mode: Mode,
    r: &mut Resolution,
) -> Result<Option<String>> {
    let found = ecs
        .describe_security_groups(&SecurityGroupFilter {
            vpc_id: Some(vpc_id.into()),
            tags: vec![tag.clone()],
            ..Default::default()
        })
        .await
        .map_err(api("ecs", "DescribeSecurityGroups"))?;
    match one("security group", tag, found, |g| {
        g.security_group_id.clone()
    })? {
        Some(g) => Ok(Some(g.security_group_id)),
        None if mode == Mode::Find => {
            r.would_create.push(planned("security_group"));
            Ok(None)
        }
        None => {
            let created = ecs
                .create_security_group(&CreateSecurityGroup {
                    vpc_id: vpc_id.into(),
                    security_group_name: Some(name.into()),
                    description: Some(description(&tag.value)),
                    tags: vec![tag.clone()],
                    client_token: None,
                })
                .await
                .map_err(api("ecs", "CreateSecurityGroup"))?;
            r.created.push(Created {
                kind: "security_group",
                id: created.security_group_id.clone(),
            });
            Ok(Some(created.security_group_id))
        }
    }
}

#[allow(clippy::too_many_arguments)]
async fn ensure_file_system(
    cfg: &Config,
    apis: Apis<'_>,
    nas: &NasApiClient,
    tag: &Tag,
    mode: Mode,
    zones: &mut Zones,
    r: &mut Resolution,
    progress: &(dyn Fn(String) + Sync),
) -> Result<Option<String>> {
    let found = nas
        .describe_file_systems(&FileSystemFilter {
            tags: vec![tag.clone()],
            ..Default::default()
        })
        .await
        .map_err(api("nas", "DescribeFileSystems"))?;
    let id = match one("NAS file system", tag, found, |f| f.file_system_id.clone())? {
        Some(f) => f.file_system_id,
        None if mode == Mode::Find => {
            r.would_create.push(planned("nas_file_system"));
            return Ok(None);
        }
        None => {
            // The vSwitch went to the first allowed zone too: same zone, shortest path.
            let zone = zones
                .allowed(cfg, apis)
                .await?
                .first()
                .cloned()
                .ok_or_else(|| zones.no_zone(cfg))?;
            let created = nas
                .create_file_system(&CreateFileSystem {
                    file_system_type: NAS_FILE_SYSTEM_TYPE.into(),
                    protocol_type: NAS_PROTOCOL.into(),
                    storage_type: NAS_STORAGE_TYPE.into(),
                    zone_id: Some(zone.clone()),
                    description: Some(resource_name(&cfg.app)),
                    tags: vec![tag.clone()],
                    client_token: None,
                })
                .await
                .map_err(api("nas", "CreateFileSystem"))?;
            progress(format!(
                "created NAS file system {} ({NAS_STORAGE_TYPE}, {NAS_PROTOCOL}) in {zone}",
                created.file_system_id
            ));
            r.created.push(Created {
                kind: "nas_file_system",
                id: created.file_system_id.clone(),
            });
            created.file_system_id
        }
    };
    if mode == Mode::Ensure {
        wait_until("NAS file system", &id, || async {
            let f = nas
                .describe_file_systems(&FileSystemFilter {
                    file_system_id: Some(id.clone()),
                    ..Default::default()
                })
                .await
                .map_err(api("nas", "DescribeFileSystems"))?;
            let status = f.first().map(|f| f.status.clone());
            Ok((
                format!("{status:?}"),
                status == Some(FileSystemStatus::Running),
            ))
        })
        .await?;
    }
    Ok(Some(id))
}

#[allow(clippy::too_many_arguments)]
async fn ensure_mount_target(
    nas: &NasApiClient,
    fs: &str,
    vpc_id: &str,
    vswitch_id: &str,
    security_group_id: Option<&str>,
    mode: Mode,
    r: &mut Resolution,
    progress: &(dyn Fn(String) + Sync),
) -> Result<Option<String>> {
    let find = || async {
        let all = nas
            .describe_mount_targets(fs)
            .await
            .map_err(api("nas", "DescribeMountTargets"))?;
        Ok::<_, InfraError>(
            all.into_iter()
                .find(|m| m.vpc_id == vpc_id && m.vsw_id == vswitch_id),
        )
    };
    let domain = match find().await? {
        Some(m) => m.mount_target_domain,
        None if mode == Mode::Find => {
            r.would_create.push(planned("nas_mount_target"));
            return Ok(None);
        }
        None => {
            let created = nas
                .create_mount_target(&CreateMountTarget {
                    file_system_id: fs.into(),
                    vpc_id: vpc_id.into(),
                    v_switch_id: vswitch_id.into(),
                    security_group_id: security_group_id.map(str::to_string),
                    access_group_name: DEFAULT_VPC_ACCESS_GROUP.into(),
                })
                .await
                .map_err(api("nas", "CreateMountTarget"))?;
            progress(format!(
                "created NAS mount target {}",
                created.mount_target_domain
            ));
            r.created.push(Created {
                kind: "nas_mount_target",
                id: created.mount_target_domain.clone(),
            });
            created.mount_target_domain
        }
    };
    if mode == Mode::Ensure {
        wait_until("NAS mount target", &domain, || async {
            let m = find().await?;
            let status = m.map(|m| m.status);
            Ok((
                format!("{status:?}"),
                status == Some(MountTargetStatus::Active),
            ))
        })
        .await?;
    }
    Ok(Some(domain))
}

/// The zones a vSwitch (and a file system) may go in, looked up once per run: FC's zones
/// (GetAccountSettings) ∩ the VPC's ∩, with `nas: auto`, the zones selling the NAS fcctl
/// creates. Sorted, so every run picks the same one.
#[derive(Default)]
struct Zones {
    looked_up: Option<ZoneLists>,
}

#[derive(Clone)]
struct ZoneLists {
    fc: Vec<String>,
    vpc: Vec<String>,
    nas: Option<Vec<String>>,
    allowed: Vec<String>,
}

impl Zones {
    async fn allowed(&mut self, cfg: &Config, apis: Apis<'_>) -> Result<Vec<String>> {
        if let Some(l) = &self.looked_up {
            return Ok(l.allowed.clone());
        }
        let fc = apis
            .fc
            .get_account_settings()
            .await
            .map_err(api("fc", "GetAccountSettings"))?
            .available_azs;
        let vpc: Vec<String> = match apis.vpc {
            Some(v) => v
                .describe_zones()
                .await
                .map_err(api("vpc", "DescribeZones"))?
                .into_iter()
                .map(|z| z.zone_id)
                .collect(),
            None => fc.clone(),
        };
        let nas = match (nas_auto(cfg), apis.nas) {
            (true, Some(n)) => Some(
                n.describe_zones(Some(NAS_FILE_SYSTEM_TYPE))
                    .await
                    .map_err(api("nas", "DescribeZones"))?
                    .into_iter()
                    .filter(|z| z.offers(NAS_STORAGE_TYPE, NAS_PROTOCOL))
                    .map(|z| z.zone_id)
                    .collect::<Vec<_>>(),
            ),
            _ => None,
        };
        let mut allowed: Vec<String> = fc
            .iter()
            .filter(|z| vpc.contains(z))
            .filter(|z| nas.as_ref().is_none_or(|n| n.contains(z)))
            .cloned()
            .collect();
        allowed.sort();
        allowed.dedup();
        let lists = ZoneLists {
            fc,
            vpc,
            nas,
            allowed,
        };
        self.looked_up = Some(lists.clone());
        Ok(lists.allowed)
    }

    fn no_zone(&self, cfg: &Config) -> InfraError {
        let l = self.looked_up.clone().unwrap_or(ZoneLists {
            fc: vec![],
            vpc: vec![],
            nas: None,
            allowed: vec![],
        });
        InfraError::NoZone {
            region: cfg.region.clone(),
            nas: if l.nas.is_some() {
                format!(" and {NAS_STORAGE_TYPE} {NAS_PROTOCOL} NAS")
            } else {
                String::new()
            },
            fc: l.fc,
            vpc: l.vpc,
            nas_zones: l.nas.map(|n| format!(", NAS {n:?}")).unwrap_or_default(),
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn sls_descriptions_fit_slss_64_characters_for_any_app_name() {
        assert_eq!(
            sls_description("cat-dog"),
            "fcctl app cat-dog; removed by `fcctl destroy`"
        );
        for n in [18, 40, 64] {
            let app = "a".repeat(n);
            let d = sls_description(&app);
            assert!(d.len() <= 64 && d.starts_with("fcctl app a"), "{n}: {d}");
        }
    }

    use super::*;

    #[test]
    fn vswitches_take_the_first_free_block() {
        assert_eq!(free_block(&[]).unwrap(), "10.88.0.0/24");
        assert_eq!(
            free_block(&["10.88.0.0/24", "10.88.2.0/24"]).unwrap(),
            "10.88.1.0/24"
        );
        let all: Vec<String> = (0..=255).map(|n| format!("10.88.{n}.0/24")).collect();
        let refs: Vec<&str> = all.iter().map(String::as_str).collect();
        assert_eq!(free_block(&refs), None);
    }

    #[test]
    fn apply_replaces_only_the_auto_settings() {
        let cfg = crate::config::testing::load("app: cat-dog\n").unwrap();
        let ids = InfraIds {
            vpc_id: Some("vpc-1".into()),
            vswitch_id: Some("vsw-1".into()),
            security_group_id: Some("sg-1".into()),
            nas_mount_target: Some("mt-1.cn-shenzhen.nas.aliyuncs.com".into()),
            ..Default::default()
        };
        let out = apply(&cfg, &ids);
        assert_eq!(
            out.vpc,
            VpcSetting::Explicit(VpcExplicit {
                vpc_id: "vpc-1".into(),
                vswitch_ids: vec!["vsw-1".into()],
                security_group_id: "sg-1".into(),
            })
        );
        assert_eq!(out.nas.server_addr, "mt-1.cn-shenzhen.nas.aliyuncs.com:/");
        // A plan shows what it cannot know yet.
        let planned = apply(&cfg, &InfraIds::default());
        assert_eq!(planned.nas.server_addr, "(new):/");
        // Explicit settings stay as written.
        let mut explicit = cfg.clone();
        explicit.nas.server_addr = "x.nas.aliyuncs.com:/team".into();
        assert_eq!(
            apply(&explicit, &ids).nas.server_addr,
            "x.nas.aliyuncs.com:/team"
        );
    }
}
