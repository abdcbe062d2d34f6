//! The way back (`fcctl destroy`): what carries the app's tag, and deletes that wait for the
//! cloud to let go (a deleted function's network interfaces, a mount target being removed).

use std::time::Duration;

use super::{Apis, InfraError, Result, api};
use crate::aliyun::ecs::SecurityGroupFilter;
use crate::aliyun::nas_api::FileSystemFilter;
use crate::aliyun::rpc::Tag;
use crate::aliyun::vpc::{VSwitchFilter, VpcFilter};

/// How long a delete waits for a dependency to go away before reporting the resource as
/// still in use (FC releases a deleted function's interfaces in the VPC within minutes).
const IN_USE_WAIT: Duration = Duration::from_secs(180);

/// Everything tagged `fcctl:app=<app>`, in the order destroy removes it.
#[derive(Debug, Clone, Default)]
pub struct Tagged {
    /// (file system, mount target domain) for mount targets in the app's vSwitches.
    pub mount_targets: Vec<(String, String)>,
    pub file_systems: Vec<FileSystemInfo>,
    pub security_groups: Vec<String>,
    pub vswitches: Vec<String>,
    pub vpcs: Vec<String>,
    /// The app's SLS project (its name carries the app and the account id).
    pub sls_project: Option<String>,
    /// FC's service-linked role, when the account has it (never deleted: account-wide).
    pub service_linked_role: Option<String>,
}

#[derive(Debug, Clone)]
pub struct FileSystemInfo {
    pub id: String,
    /// Bytes stored (what a kept file system costs is proportional to it).
    pub metered_size: i64,
    pub storage_type: String,
}

/// Lists what carries the app's tag; products without a known endpoint are skipped.
pub async fn tagged(apis: Apis<'_>, app: &str) -> Result<Tagged> {
    let mut t = tagged_network(apis, app).await?;
    if let Some(sls) = apis.sls {
        let name = super::sls_project_name(app, apis.account_id);
        match sls.get_project(&name).await {
            Ok(_) => t.sls_project = Some(name),
            Err(e) if e.is_not_found() => {}
            Err(e) => return Err(api("log", "GetProject")(e)),
        }
    }
    if let Some(ram) = apis.ram {
        match ram
            .get_role(crate::aliyun::ram::FC_SERVICE_LINKED_ROLE)
            .await
        {
            Ok(role) => t.service_linked_role = Some(role.arn),
            Err(e) if e.is_not_found() => {}
            Err(e) => return Err(api("ram", "GetRole")(e)),
        }
    }
    Ok(t)
}

async fn tagged_network(apis: Apis<'_>, app: &str) -> Result<Tagged> {
    let tag = Tag::app(app);
    let mut t = Tagged::default();
    if let Some(vpc) = apis.vpc {
        let vpcs = vpc
            .describe_vpcs(&VpcFilter {
                tags: vec![tag.clone()],
                ..Default::default()
            })
            .await
            .map_err(api("vpc", "DescribeVpcs"))?;
        for v in vpcs {
            let switches = vpc
                .describe_vswitches(&VSwitchFilter {
                    vpc_id: Some(v.vpc_id.clone()),
                    tags: vec![tag.clone()],
                    ..Default::default()
                })
                .await
                .map_err(api("vpc", "DescribeVSwitches"))?;
            t.vswitches
                .extend(switches.into_iter().map(|s| s.v_switch_id));
            if let Some(ecs) = apis.ecs {
                let groups = ecs
                    .describe_security_groups(&SecurityGroupFilter {
                        vpc_id: Some(v.vpc_id.clone()),
                        tags: vec![tag.clone()],
                        ..Default::default()
                    })
                    .await
                    .map_err(api("ecs", "DescribeSecurityGroups"))?;
                t.security_groups
                    .extend(groups.into_iter().map(|g| g.security_group_id));
            }
            t.vpcs.push(v.vpc_id);
        }
    }
    if let Some(nas) = apis.nas {
        let fss = nas
            .describe_file_systems(&FileSystemFilter {
                tags: vec![tag.clone()],
                ..Default::default()
            })
            .await
            .map_err(api("nas", "DescribeFileSystems"))?;
        for f in fss {
            let mts = nas
                .describe_mount_targets(&f.file_system_id)
                .await
                .map_err(api("nas", "DescribeMountTargets"))?;
            t.mount_targets.extend(
                mts.into_iter()
                    .filter(|m| t.vswitches.contains(&m.vsw_id))
                    .map(|m| (f.file_system_id.clone(), m.mount_target_domain)),
            );
            t.file_systems.push(FileSystemInfo {
                id: f.file_system_id,
                metered_size: f.metered_size,
                storage_type: f.storage_type,
            });
        }
    }
    Ok(t)
}

/// How a delete ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Deleted {
    /// Gone (now, or already before: a re-run after a kill).
    Yes,
    /// Something still uses it; the cloud's message.
    InUse(String),
}

/// Codes meaning "not now: something depends on it / it is changing state".
fn busy(e: &crate::aliyun::Error) -> bool {
    e.code().is_some_and(|c| {
        c.starts_with("DependencyViolation")
            || c.contains("InUse")
            || c.contains("IncorrectStatus")
            || c.contains("OperationConflict")
            || c.contains("NotEmpty")
    })
}

/// Runs `delete` until it succeeds, retrying while the resource is busy for up to
/// [`IN_USE_WAIT`].
async fn delete_retrying<F, Fut>(
    product: &'static str,
    action: &'static str,
    mut delete: F,
) -> Result<Deleted>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = crate::aliyun::Result<bool>>,
{
    let start = std::time::Instant::now();
    let mut delay = Duration::from_millis(250);
    loop {
        match delete().await {
            Ok(_) => return Ok(Deleted::Yes),
            Err(e) if busy(&e) && start.elapsed() < IN_USE_WAIT => {
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(10));
            }
            Err(e) if busy(&e) => return Ok(Deleted::InUse(e.to_string())),
            Err(e) => return Err(api(product, action)(e)),
        }
    }
}

/// Deletes a mount target and waits until it is gone (the file system and the vSwitch
/// can only go after it).
pub async fn delete_mount_target(apis: Apis<'_>, fs: &str, domain: &str) -> Result<Deleted> {
    let nas = apis.nas.expect("listed through the NAS API");
    let d = delete_retrying("nas", "DeleteMountTarget", || {
        nas.delete_mount_target(fs, domain)
    })
    .await?;
    if d != Deleted::Yes {
        return Ok(d);
    }
    let start = std::time::Instant::now();
    loop {
        let left = match nas.describe_mount_targets(fs).await {
            Ok(m) => m.iter().any(|m| m.mount_target_domain == domain),
            Err(e) if e.is_not_found() => false,
            Err(e) => return Err(api("nas", "DescribeMountTargets")(e)),
        };
        if !left {
            return Ok(Deleted::Yes);
        }
        if start.elapsed() > IN_USE_WAIT {
            return Err(InfraError::NotReady {
                kind: "NAS mount target (deleting)",
                id: domain.into(),
                status: "present".into(),
                secs: IN_USE_WAIT.as_secs(),
            });
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

pub async fn delete_file_system(apis: Apis<'_>, id: &str) -> Result<Deleted> {
    let nas = apis.nas.expect("listed through the NAS API");
    delete_retrying("nas", "DeleteFileSystem", || nas.delete_file_system(id)).await
}

pub async fn delete_security_group(apis: Apis<'_>, id: &str) -> Result<Deleted> {
    let ecs = apis.ecs.expect("listed through the ECS API");
    delete_retrying("ecs", "DeleteSecurityGroup", || {
        ecs.delete_security_group(id)
    })
    .await
}

pub async fn delete_vswitch(apis: Apis<'_>, id: &str) -> Result<Deleted> {
    let vpc = apis.vpc.expect("listed through the VPC API");
    delete_retrying("vpc", "DeleteVSwitch", || vpc.delete_vswitch(id)).await
}

pub async fn delete_vpc(apis: Apis<'_>, id: &str) -> Result<Deleted> {
    let vpc = apis.vpc.expect("listed through the VPC API");
    delete_retrying("vpc", "DeleteVpc", || vpc.delete_vpc(id)).await
}

/// Deletes the app's SLS project with its logstores and logs.
pub async fn delete_sls_project(apis: Apis<'_>, name: &str) -> Result<Deleted> {
    let sls = apis.sls.expect("listed through the SLS API");
    delete_retrying("log", "DeleteProject", || sls.delete_project(name)).await
}
