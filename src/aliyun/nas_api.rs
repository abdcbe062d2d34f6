//! NAS OpenAPI 2017-06-26 (RPC style): zones, file systems and mount targets.
//!
//! Names and types follow the official SDK `alibabacloud_nas20170626` (3.7.5); statuses
//! from Alibaba's "NAS statuses" page. See docs/cloud-facts.md. (The module is `nas_api`
//! because the top-level `nas` module is fcctl's own NAS model-release logic.)

use serde::Deserialize;

use super::error::Result;
use super::retry::Idempotency;
use super::rpc::{self, RpcClient, RpcRequest, Tag};
use super::{AccessKey, ClientOptions};

pub const VERSION: &str = "2017-06-26";
/// DescribeFileSystems / DescribeMountTargets take PageSize 1–100.
pub const MAX_PAGE_SIZE: u32 = 100;
/// The default permission group for VPC mount targets.
pub const DEFAULT_VPC_ACCESS_GROUP: &str = "DEFAULT_VPC_GROUP_NAME";

#[derive(Debug, Clone)]
pub struct NasApiClient {
    rpc: RpcClient,
}

/// File system: `Pending` (being created/changed), `Running` (mountable), `Stopped`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub enum FileSystemStatus {
    Pending,
    Running,
    Stopped,
    #[serde(other)]
    Other,
}

/// Mount target: `Pending` (being created), `Active` (mountable), `Inactive`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub enum MountTargetStatus {
    Pending,
    Active,
    Inactive,
    #[serde(other)]
    Other,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct TagSet {
    pub tag: Vec<Tag>,
}

/// One (protocol, storage type) pair a zone offers for the queried file system type.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct InstanceType {
    #[serde(default)]
    pub protocol_type: String,
    #[serde(default)]
    pub storage_type: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct InstanceTypes {
    pub instance_type: Vec<InstanceType>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Protocols {
    pub protocol: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Zone {
    pub zone_id: String,
    #[serde(default)]
    pub instance_types: InstanceTypes,
    /// Protocols of the `Capacity` storage type in this zone.
    #[serde(default)]
    pub capacity: Protocols,
    /// Protocols of the `Performance` storage type in this zone.
    #[serde(default)]
    pub performance: Protocols,
}

impl Zone {
    /// Does this zone offer `storage_type` (e.g. `Capacity`) over `protocol` (e.g. `NFS`)?
    pub fn offers(&self, storage_type: &str, protocol: &str) -> bool {
        self.instance_types.instance_type.iter().any(|t| {
            t.storage_type.eq_ignore_ascii_case(storage_type)
                && t.protocol_type.eq_ignore_ascii_case(protocol)
        })
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct Zones {
    zone: Vec<Zone>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ZonesBody {
    #[serde(default)]
    zones: Zones,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct FileSystem {
    pub file_system_id: String,
    #[serde(default)]
    pub file_system_type: String,
    #[serde(default)]
    pub protocol_type: String,
    #[serde(default)]
    pub storage_type: String,
    pub status: FileSystemStatus,
    #[serde(default)]
    pub zone_id: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub region_id: String,
    /// Bytes used.
    #[serde(default)]
    pub metered_size: i64,
    #[serde(default)]
    pub tags: TagSet,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct FileSystems {
    file_system: Vec<FileSystem>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct FileSystemsPage {
    #[serde(default)]
    total_count: u64,
    #[serde(default)]
    file_systems: FileSystems,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct MountTarget {
    /// The address a function mounts (`<domain>:/<path>`).
    pub mount_target_domain: String,
    pub status: MountTargetStatus,
    #[serde(default)]
    pub network_type: String,
    #[serde(default)]
    pub vpc_id: String,
    #[serde(default)]
    pub vsw_id: String,
    #[serde(default)]
    pub access_group: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct MountTargets {
    mount_target: Vec<MountTarget>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct MountTargetsPage {
    #[serde(default)]
    total_count: u64,
    #[serde(default)]
    mount_targets: MountTargets,
}

#[derive(Debug, Clone, Default)]
pub struct FileSystemFilter {
    pub file_system_id: Option<String>,
    /// `standard`, `extreme`, … (`all` when unset).
    pub file_system_type: Option<String>,
    pub tags: Vec<Tag>,
}

#[derive(Debug, Clone)]
pub struct CreateFileSystem {
    /// `standard` (General-purpose) or `extreme`; `standard` is the API's default.
    pub file_system_type: String,
    /// `NFS` or `SMB` for standard.
    pub protocol_type: String,
    /// For standard: `Performance`, `Capacity`, `Premium`, ….
    pub storage_type: String,
    /// Optional for standard (the service picks one), required for extreme.
    pub zone_id: Option<String>,
    pub description: Option<String>,
    pub tags: Vec<Tag>,
    pub client_token: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateFileSystemResponse {
    pub file_system_id: String,
    #[serde(default)]
    pub request_id: String,
}

#[derive(Debug, Clone)]
pub struct CreateMountTarget {
    pub file_system_id: String,
    pub vpc_id: String,
    pub v_switch_id: String,
    pub security_group_id: Option<String>,
    /// [`DEFAULT_VPC_ACCESS_GROUP`] unless the user has their own.
    pub access_group_name: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateMountTargetResponse {
    pub mount_target_domain: String,
    #[serde(default)]
    pub request_id: String,
}

impl NasApiClient {
    pub fn new(endpoint: &str, region: &str, key: AccessKey, opts: ClientOptions) -> Result<Self> {
        let rpc = RpcClient::new("nas", VERSION, endpoint, region, key, opts)?;
        Ok(Self { rpc })
    }

    pub fn endpoint(&self) -> &str {
        self.rpc.endpoint()
    }

    /// State-changing calls made so far.
    pub fn write_count(&self) -> u64 {
        self.rpc.write_count()
    }

    /// Zones of the region offering `file_system_type` (`standard` when `None`), each with the
    /// protocol/storage pairs it sells.
    pub async fn describe_zones(&self, file_system_type: Option<&str>) -> Result<Vec<Zone>> {
        let req = RpcRequest::read("DescribeZones")
            .param("RegionId", self.rpc.region())
            .opt("FileSystemType", file_system_type);
        let body: ZonesBody = self.rpc.call(&req).await?;
        Ok(body.zones.zone)
    }

    /// Every matching file system (all pages). NAS takes the region from the endpoint: this
    /// action has no `RegionId`.
    pub async fn describe_file_systems(&self, f: &FileSystemFilter) -> Result<Vec<FileSystem>> {
        rpc::all_pages(MAX_PAGE_SIZE, |number, size| async move {
            let req = RpcRequest::read("DescribeFileSystems")
                .opt("FileSystemId", f.file_system_id.as_deref())
                .opt("FileSystemType", f.file_system_type.as_deref())
                .tags(&f.tags)
                .param("PageNumber", number)
                .param("PageSize", size);
            let p: FileSystemsPage = self.rpc.call(&req).await?;
            Ok((p.file_systems.file_system, p.total_count))
        })
        .await
    }

    /// Pay-as-you-go (the API's default charge type). Retried safely: fixed `ClientToken`.
    pub async fn create_file_system(
        &self,
        c: &CreateFileSystem,
    ) -> Result<CreateFileSystemResponse> {
        let req = RpcRequest::new("CreateFileSystem", Idempotency::Idempotent)
            .param("FileSystemType", &c.file_system_type)
            .param("ProtocolType", &c.protocol_type)
            .param("StorageType", &c.storage_type)
            .opt("ZoneId", c.zone_id.as_deref())
            .opt("Description", c.description.as_deref())
            .tags(&c.tags)
            .client_token(c.client_token.as_deref());
        self.rpc.call(&req).await
    }

    /// `Ok(false)` when the file system was already gone. Deleting destroys its data.
    pub async fn delete_file_system(&self, file_system_id: &str) -> Result<bool> {
        let req = RpcRequest::new("DeleteFileSystem", Idempotency::Idempotent)
            .param("FileSystemId", file_system_id);
        rpc::deleted(self.rpc.call(&req).await)
    }

    pub async fn describe_mount_targets(&self, file_system_id: &str) -> Result<Vec<MountTarget>> {
        rpc::all_pages(MAX_PAGE_SIZE, |number, size| async move {
            let req = RpcRequest::read("DescribeMountTargets")
                .param("FileSystemId", file_system_id)
                .param("PageNumber", number)
                .param("PageSize", size);
            let p: MountTargetsPage = self.rpc.call(&req).await?;
            Ok((p.mount_targets.mount_target, p.total_count))
        })
        .await
    }

    /// A VPC mount target (starts `Pending`). CreateMountTarget takes no `ClientToken`, so a
    /// blind retry after a lost answer could make a second mount target: it is retried only
    /// when the request certainly was not processed (throttling, connect failure).
    pub async fn create_mount_target(
        &self,
        c: &CreateMountTarget,
    ) -> Result<CreateMountTargetResponse> {
        let req = RpcRequest::new("CreateMountTarget", Idempotency::NotIdempotent)
            .param("FileSystemId", &c.file_system_id)
            .param("NetworkType", "Vpc")
            .param("VpcId", &c.vpc_id)
            .param("VSwitchId", &c.v_switch_id)
            .opt("SecurityGroupId", c.security_group_id.as_deref())
            .param("AccessGroupName", &c.access_group_name);
        self.rpc.call(&req).await
    }

    pub async fn delete_mount_target(
        &self,
        file_system_id: &str,
        mount_target_domain: &str,
    ) -> Result<bool> {
        let req = RpcRequest::new("DeleteMountTarget", Idempotency::Idempotent)
            .param("FileSystemId", file_system_id)
            .param("MountTargetDomain", mount_target_domain);
        rpc::deleted(self.rpc.call(&req).await)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aliyun::rpc::tests::{assert_signed, fast_opts, key};
    use crate::aliyun::testutil::{Reply, TestServer};

    #[tokio::test]
    async fn zones_say_which_storage_and_protocol_they_offer() {
        let srv = TestServer::start(|_, _| {
            Reply::json(
                200,
                r#"{"RequestId":"R","Zones":{"Zone":[{"ZoneId":"cn-shenzhen-e","InstanceTypes":{"InstanceType":[{"ProtocolType":"nfs","StorageType":"Capacity"},{"ProtocolType":"smb","StorageType":"Performance"}]},"Capacity":{"Protocol":["nfs"]},"Performance":{"Protocol":["smb"]}},{"ZoneId":"cn-shenzhen-f"}]}}"#,
            )
        })
        .await;
        let c = NasApiClient::new(&srv.base, "cn-shenzhen", key(), fast_opts()).unwrap();
        let z = c.describe_zones(Some("standard")).await.unwrap();
        assert!(z[0].offers("Capacity", "NFS"));
        assert!(!z[0].offers("Performance", "NFS"));
        assert!(!z[1].offers("Capacity", "NFS"));
        assert_eq!(z[0].capacity.protocol, ["nfs"]);
        let r = &srv.requests()[0];
        assert_signed(r, VERSION, "DescribeZones");
        assert_eq!(r.query("RegionId").as_deref(), Some("cn-shenzhen"));
        assert_eq!(r.query("FileSystemType").as_deref(), Some("standard"));
    }

    #[tokio::test]
    async fn file_systems_and_mount_targets_round_trip() {
        let srv = TestServer::start(|r, _| match r.header("x-acs-action") {
            Some("CreateFileSystem") => Reply::json(200, r#"{"RequestId":"R","FileSystemId":"0a1b2c"}"#),
            Some("DescribeFileSystems") => Reply::json(200, r#"{"RequestId":"R","TotalCount":1,"PageNumber":1,"PageSize":100,"FileSystems":{"FileSystem":[{"FileSystemId":"0a1b2c","FileSystemType":"standard","ProtocolType":"NFS","StorageType":"Capacity","Status":"Running","ZoneId":"cn-shenzhen-e","RegionId":"cn-shenzhen","MeteredSize":1024,"Capacity":10,"Tags":{"Tag":[{"Key":"fcctl:app","Value":"cat-dog"}]}}]}}"#),
            Some("CreateMountTarget") => Reply::json(200, r#"{"RequestId":"R","MountTargetDomain":"0a1b2c-x.cn-shenzhen.nas.aliyuncs.com","MountTargetExtra":{"DualStackMountTargetDomain":""}}"#),
            Some("DescribeMountTargets") => Reply::json(200, r#"{"RequestId":"R","TotalCount":1,"MountTargets":{"MountTarget":[{"MountTargetDomain":"0a1b2c-x.cn-shenzhen.nas.aliyuncs.com","Status":"Pending","NetworkType":"Vpc","VpcId":"vpc-1","VswId":"vsw-1","AccessGroup":"DEFAULT_VPC_GROUP_NAME"}]}}"#),
            _ => Reply::json(200, r#"{"RequestId":"R"}"#),
        })
        .await;
        let c = NasApiClient::new(&srv.base, "cn-shenzhen", key(), fast_opts()).unwrap();
        let fs = c
            .create_file_system(&CreateFileSystem {
                file_system_type: "standard".into(),
                protocol_type: "NFS".into(),
                storage_type: "Capacity".into(),
                zone_id: Some("cn-shenzhen-e".into()),
                description: Some("fcctl-cat-dog".into()),
                tags: vec![Tag::app("cat-dog")],
                client_token: None,
            })
            .await
            .unwrap();
        assert_eq!(fs.file_system_id, "0a1b2c");
        let list = c
            .describe_file_systems(&FileSystemFilter {
                tags: vec![Tag::app("cat-dog")],
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(list[0].status, FileSystemStatus::Running);
        assert_eq!(list[0].tags.tag, [Tag::app("cat-dog")]);
        let mt = c
            .create_mount_target(&CreateMountTarget {
                file_system_id: "0a1b2c".into(),
                vpc_id: "vpc-1".into(),
                v_switch_id: "vsw-1".into(),
                security_group_id: None,
                access_group_name: DEFAULT_VPC_ACCESS_GROUP.into(),
            })
            .await
            .unwrap();
        let mts = c.describe_mount_targets("0a1b2c").await.unwrap();
        assert_eq!(mts[0].mount_target_domain, mt.mount_target_domain);
        assert_eq!(mts[0].status, MountTargetStatus::Pending);
        assert_eq!(mts[0].vsw_id, "vsw-1");
        assert!(
            c.delete_mount_target("0a1b2c", &mt.mount_target_domain)
                .await
                .unwrap()
        );
        assert!(c.delete_file_system("0a1b2c").await.unwrap());

        let reqs = srv.requests();
        let actions: Vec<_> = reqs
            .iter()
            .map(|r| r.header("x-acs-action").unwrap())
            .collect();
        assert_eq!(
            actions,
            [
                "CreateFileSystem",
                "DescribeFileSystems",
                "CreateMountTarget",
                "DescribeMountTargets",
                "DeleteMountTarget",
                "DeleteFileSystem"
            ]
        );
        for (r, a) in reqs.iter().zip(&actions) {
            assert_signed(r, VERSION, a);
        }
        let create = &reqs[0];
        assert_eq!(create.query("FileSystemType").as_deref(), Some("standard"));
        assert_eq!(create.query("ProtocolType").as_deref(), Some("NFS"));
        assert_eq!(create.query("StorageType").as_deref(), Some("Capacity"));
        assert_eq!(create.query("ZoneId").as_deref(), Some("cn-shenzhen-e"));
        assert_eq!(create.query("Tag.1.Key").as_deref(), Some("fcctl:app"));
        assert!(create.query("ClientToken").is_some());
        assert_eq!(reqs[1].query("Tag.1.Value").as_deref(), Some("cat-dog"));
        let mt_req = &reqs[2];
        assert_eq!(mt_req.query("NetworkType").as_deref(), Some("Vpc"));
        assert_eq!(mt_req.query("VSwitchId").as_deref(), Some("vsw-1"));
        assert_eq!(
            mt_req.query("AccessGroupName").as_deref(),
            Some("DEFAULT_VPC_GROUP_NAME")
        );
        assert_eq!(mt_req.query("ClientToken"), None, "the API takes none");
        assert_eq!(
            reqs[4].query("MountTargetDomain").as_deref(),
            Some("0a1b2c-x.cn-shenzhen.nas.aliyuncs.com")
        );
    }
}
