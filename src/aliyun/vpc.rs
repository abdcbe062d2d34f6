//! VPC OpenAPI 2016-04-28 (RPC style): VPCs, vSwitches and the zones they can live in.
//!
//! Names, required fields and types follow the official SDK `alibabacloud_vpc20160428`
//! (7.2.2, `client.py` `*_with_options` and `models/`); see docs/cloud-facts.md.

use serde::Deserialize;

use super::error::Result;
use super::retry::Idempotency;
use super::rpc::{self, RpcClient, RpcRequest, Tag};
use super::{AccessKey, ClientOptions};

pub const VERSION: &str = "2016-04-28";
/// DescribeVpcs / DescribeVSwitches accept at most 50 per page.
pub const MAX_PAGE_SIZE: u32 = 50;

/// Typed VPC client for one region.
#[derive(Debug, Clone)]
pub struct VpcClient {
    rpc: RpcClient,
}

/// `Pending` while being created, `Available` once usable.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub enum Status {
    Pending,
    Available,
    #[serde(other)]
    Other,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct TagSet {
    pub tag: Vec<Tag>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Vpc {
    pub vpc_id: String,
    #[serde(default)]
    pub vpc_name: String,
    #[serde(default)]
    pub cidr_block: String,
    pub status: Status,
    #[serde(default)]
    pub region_id: String,
    #[serde(default)]
    pub is_default: bool,
    #[serde(default)]
    pub v_switch_ids: VSwitchIds,
    #[serde(default)]
    pub tags: TagSet,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct VSwitchIds {
    pub v_switch_id: Vec<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct Vpcs {
    vpc: Vec<Vpc>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct VSwitch {
    pub v_switch_id: String,
    pub vpc_id: String,
    pub zone_id: String,
    #[serde(default)]
    pub v_switch_name: String,
    #[serde(default)]
    pub cidr_block: String,
    pub status: Status,
    #[serde(default)]
    pub available_ip_address_count: i64,
    #[serde(default)]
    pub tags: TagSet,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct VSwitches {
    v_switch: Vec<VSwitch>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Page<T> {
    #[serde(default)]
    total_count: u64,
    #[serde(flatten)]
    items: T,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Zone {
    pub zone_id: String,
    #[serde(default)]
    pub local_name: String,
    #[serde(default)]
    pub zone_type: String,
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

/// Filter for DescribeVpcs (RegionId is the client's).
#[derive(Debug, Clone, Default)]
pub struct VpcFilter {
    pub vpc_id: Option<String>,
    pub vpc_name: Option<String>,
    /// Only VPCs carrying all these tags.
    pub tags: Vec<Tag>,
}

#[derive(Debug, Clone, Default)]
pub struct CreateVpc {
    /// e.g. `10.0.0.0/16` (mask 16–28; RFC 1918 recommended).
    pub cidr_block: Option<String>,
    pub vpc_name: Option<String>,
    pub description: Option<String>,
    pub tags: Vec<Tag>,
    /// Idempotence token; a fresh one when `None`.
    pub client_token: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateVpcResponse {
    pub vpc_id: String,
    #[serde(default)]
    pub v_router_id: String,
    #[serde(default)]
    pub route_table_id: String,
    #[serde(default)]
    pub request_id: String,
}

#[derive(Debug, Clone, Default)]
pub struct VSwitchFilter {
    pub vpc_id: Option<String>,
    pub v_switch_id: Option<String>,
    pub zone_id: Option<String>,
    pub tags: Vec<Tag>,
}

#[derive(Debug, Clone)]
pub struct CreateVSwitch {
    pub vpc_id: String,
    pub zone_id: String,
    /// A subset of the VPC's block, mask 16–29.
    pub cidr_block: String,
    pub v_switch_name: Option<String>,
    pub description: Option<String>,
    pub tags: Vec<Tag>,
    pub client_token: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateVSwitchResponse {
    pub v_switch_id: String,
    #[serde(default)]
    pub request_id: String,
}

impl VpcClient {
    pub fn new(endpoint: &str, region: &str, key: AccessKey, opts: ClientOptions) -> Result<Self> {
        let rpc = RpcClient::new("vpc", VERSION, endpoint, region, key, opts)?;
        Ok(Self { rpc })
    }

    pub fn endpoint(&self) -> &str {
        self.rpc.endpoint()
    }

    /// State-changing calls made so far.
    pub fn write_count(&self) -> u64 {
        self.rpc.write_count()
    }

    /// Every VPC of the region matching `f` (all pages).
    pub async fn describe_vpcs(&self, f: &VpcFilter) -> Result<Vec<Vpc>> {
        rpc::all_pages(MAX_PAGE_SIZE, |number, size| async move {
            let req = RpcRequest::read("DescribeVpcs")
                .param("RegionId", self.rpc.region())
                .opt("VpcId", f.vpc_id.as_deref())
                .opt("VpcName", f.vpc_name.as_deref())
                .tags(&f.tags)
                .param("PageNumber", number)
                .param("PageSize", size);
            let p: Page<PageVpcs> = self.rpc.call(&req).await?;
            Ok((p.items.vpcs.vpc, p.total_count))
        })
        .await
    }

    /// Creates a VPC (it starts `Pending`). Retried safely: the `ClientToken` is fixed.
    pub async fn create_vpc(&self, c: &CreateVpc) -> Result<CreateVpcResponse> {
        let req = RpcRequest::new("CreateVpc", Idempotency::Idempotent)
            .param("RegionId", self.rpc.region())
            .opt("CidrBlock", c.cidr_block.as_deref())
            .opt("VpcName", c.vpc_name.as_deref())
            .opt("Description", c.description.as_deref())
            .tags(&c.tags)
            .client_token(c.client_token.as_deref());
        self.rpc.call(&req).await
    }

    /// `Ok(false)` when the VPC was already gone.
    pub async fn delete_vpc(&self, vpc_id: &str) -> Result<bool> {
        let req = RpcRequest::new("DeleteVpc", Idempotency::Idempotent)
            .param("RegionId", self.rpc.region())
            .param("VpcId", vpc_id);
        rpc::deleted(self.rpc.call(&req).await)
    }

    pub async fn describe_vswitches(&self, f: &VSwitchFilter) -> Result<Vec<VSwitch>> {
        rpc::all_pages(MAX_PAGE_SIZE, |number, size| async move {
            let req = RpcRequest::read("DescribeVSwitches")
                .param("RegionId", self.rpc.region())
                .opt("VpcId", f.vpc_id.as_deref())
                .opt("VSwitchId", f.v_switch_id.as_deref())
                .opt("ZoneId", f.zone_id.as_deref())
                .tags(&f.tags)
                .param("PageNumber", number)
                .param("PageSize", size);
            let p: Page<PageVSwitches> = self.rpc.call(&req).await?;
            Ok((p.items.v_switches.v_switch, p.total_count))
        })
        .await
    }

    pub async fn create_vswitch(&self, c: &CreateVSwitch) -> Result<CreateVSwitchResponse> {
        let req = RpcRequest::new("CreateVSwitch", Idempotency::Idempotent)
            .param("RegionId", self.rpc.region())
            .param("VpcId", &c.vpc_id)
            .param("ZoneId", &c.zone_id)
            .param("CidrBlock", &c.cidr_block)
            .opt("VSwitchName", c.v_switch_name.as_deref())
            .opt("Description", c.description.as_deref())
            .tags(&c.tags)
            .client_token(c.client_token.as_deref());
        self.rpc.call(&req).await
    }

    pub async fn delete_vswitch(&self, v_switch_id: &str) -> Result<bool> {
        let req = RpcRequest::new("DeleteVSwitch", Idempotency::Idempotent)
            .param("RegionId", self.rpc.region())
            .param("VSwitchId", v_switch_id);
        rpc::deleted(self.rpc.call(&req).await)
    }

    /// The region's zones (VPC's DescribeZones, standard `AvailabilityZone`s).
    pub async fn describe_zones(&self) -> Result<Vec<Zone>> {
        let req = RpcRequest::read("DescribeZones").param("RegionId", self.rpc.region());
        let body: ZonesBody = self.rpc.call(&req).await?;
        Ok(body.zones.zone)
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct PageVpcs {
    vpcs: Vpcs,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct PageVSwitches {
    v_switches: VSwitches,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aliyun::rpc::tests::{assert_signed, fast_opts, key};
    use crate::aliyun::testutil::{Reply, TestServer};

    #[tokio::test]
    async fn describe_vpcs_filters_by_tag_and_follows_pages() {
        let srv = TestServer::start(|r, _| {
            let page = r.target.contains("PageNumber=2");
            let (id, status) = if page { ("vpc-2", "Pending") } else { ("vpc-1", "Available") };
            Reply::json(
                200,
                &format!(
                    r#"{{"RequestId":"R","PageNumber":1,"PageSize":1,"TotalCount":2,"Vpcs":{{"Vpc":[{{"VpcId":"{id}","VpcName":"fcctl-cat-dog","CidrBlock":"10.0.0.0/16","Status":"{status}","RegionId":"cn-shenzhen","IsDefault":false,"VSwitchIds":{{"VSwitchId":["vsw-1"]}},"Tags":{{"Tag":[{{"Key":"fcctl:app","Value":"cat-dog"}}]}},"OwnerId":123,"CreationTime":"2024-01-01T00:00:00Z"}}]}}}}"#
                ),
            )
        })
        .await;
        let c = VpcClient::new(&srv.base, "cn-shenzhen", key(), fast_opts()).unwrap();
        let vpcs = c
            .describe_vpcs(&VpcFilter {
                tags: vec![Tag::app("cat-dog")],
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(vpcs.len(), 2);
        assert_eq!(vpcs[0].vpc_id, "vpc-1");
        assert_eq!(vpcs[0].status, Status::Available);
        assert_eq!(vpcs[1].status, Status::Pending);
        assert_eq!(vpcs[0].v_switch_ids.v_switch_id, ["vsw-1"]);
        assert_eq!(vpcs[0].tags.tag, [Tag::app("cat-dog")]);
        let reqs = srv.requests();
        assert_eq!(reqs.len(), 2);
        for r in &reqs {
            assert_signed(r, VERSION, "DescribeVpcs");
            assert_eq!(r.query("RegionId").as_deref(), Some("cn-shenzhen"));
            assert_eq!(r.query("Tag.1.Key").as_deref(), Some("fcctl:app"));
            assert_eq!(r.query("Tag.1.Value").as_deref(), Some("cat-dog"));
            assert_eq!(r.query("PageSize").as_deref(), Some("50"));
        }
        assert!(
            reqs[0].target.contains("Tag.1.Key=fcctl%3Aapp"),
            "{}",
            reqs[0].target
        );
    }

    #[tokio::test]
    async fn create_vpc_and_vswitch_send_the_sdk_parameters() {
        let srv = TestServer::start(|r, _| {
            if r.header("x-acs-action") == Some("CreateVpc") {
                Reply::json(200, r#"{"RequestId":"R","VpcId":"vpc-9","VRouterId":"vrt-1","RouteTableId":"vtb-1","ResourceGroupId":"rg-1"}"#)
            } else {
                Reply::json(200, r#"{"RequestId":"R","VSwitchId":"vsw-9"}"#)
            }
        })
        .await;
        let c = VpcClient::new(&srv.base, "cn-shenzhen", key(), fast_opts()).unwrap();
        let v = c
            .create_vpc(&CreateVpc {
                cidr_block: Some("10.0.0.0/16".into()),
                vpc_name: Some("fcctl-cat-dog".into()),
                tags: vec![Tag::app("cat-dog")],
                client_token: Some("tok-1".into()),
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(
            (v.vpc_id.as_str(), v.v_router_id.as_str()),
            ("vpc-9", "vrt-1")
        );
        let s = c
            .create_vswitch(&CreateVSwitch {
                vpc_id: "vpc-9".into(),
                zone_id: "cn-shenzhen-e".into(),
                cidr_block: "10.0.0.0/24".into(),
                v_switch_name: Some("fcctl-cat-dog".into()),
                description: None,
                tags: vec![Tag::app("cat-dog")],
                client_token: None,
            })
            .await
            .unwrap();
        assert_eq!(s.v_switch_id, "vsw-9");
        let reqs = srv.requests();
        assert_signed(&reqs[0], VERSION, "CreateVpc");
        assert_eq!(reqs[0].query("CidrBlock").as_deref(), Some("10.0.0.0/16"));
        assert_eq!(reqs[0].query("VpcName").as_deref(), Some("fcctl-cat-dog"));
        assert_eq!(reqs[0].query("ClientToken").as_deref(), Some("tok-1"));
        assert_eq!(reqs[0].query("Tag.1.Value").as_deref(), Some("cat-dog"));
        assert_signed(&reqs[1], VERSION, "CreateVSwitch");
        assert_eq!(reqs[1].query("VpcId").as_deref(), Some("vpc-9"));
        assert_eq!(reqs[1].query("ZoneId").as_deref(), Some("cn-shenzhen-e"));
        assert_eq!(reqs[1].query("CidrBlock").as_deref(), Some("10.0.0.0/24"));
        assert!(reqs[1].query("ClientToken").is_some_and(|t| !t.is_empty()));
    }

    #[tokio::test]
    async fn deletes_treat_not_found_as_done_and_zones_parse() {
        let srv = TestServer::start(|r, _| match r.header("x-acs-action") {
            Some("DeleteVpc") => Reply::json(404, r#"{"RequestId":"R","Code":"InvalidVpcId.NotFound","Message":"gone"}"#),
            Some("DeleteVSwitch") => Reply::json(200, r#"{"RequestId":"R"}"#),
            _ => Reply::json(200, r#"{"RequestId":"R","Zones":{"Zone":[{"ZoneId":"cn-shenzhen-e","LocalName":"E","ZoneType":"AvailabilityZone"}]}}"#),
        })
        .await;
        let c = VpcClient::new(&srv.base, "cn-shenzhen", key(), fast_opts()).unwrap();
        assert!(!c.delete_vpc("vpc-1").await.unwrap());
        assert!(c.delete_vswitch("vsw-1").await.unwrap());
        let z = c.describe_zones().await.unwrap();
        assert_eq!(z[0].zone_id, "cn-shenzhen-e");
        let reqs = srv.requests();
        assert_eq!(reqs[0].query("VpcId").as_deref(), Some("vpc-1"));
        assert_eq!(reqs[1].query("VSwitchId").as_deref(), Some("vsw-1"));
        assert_signed(&reqs[2], VERSION, "DescribeZones");
        assert_eq!(reqs[2].query("RegionId").as_deref(), Some("cn-shenzhen"));
    }
}
