//! ECS OpenAPI 2014-05-26 (RPC style), security groups only: the group a function's VPC
//! access and a NAS mount target use.
//!
//! Names and types follow the official SDK `alibabacloud_ecs20140526` (7.11.8); see
//! docs/cloud-facts.md.

use serde::Deserialize;

use super::error::Result;
use super::retry::Idempotency;
use super::rpc::{self, RpcClient, RpcRequest, Tag};
use super::{AccessKey, ClientOptions};

pub const VERSION: &str = "2014-05-26";
/// DescribeSecurityGroups `MaxResults` is at most 100.
pub const MAX_RESULTS: u32 = 100;

#[derive(Debug, Clone)]
pub struct EcsClient {
    rpc: RpcClient,
}

/// ECS spells a security group's tags `TagKey` / `TagValue` (VPC and NAS say `Key` / `Value`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct SgTag {
    #[serde(rename = "TagKey")]
    pub key: String,
    #[serde(rename = "TagValue", default)]
    pub value: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct SgTags {
    pub tag: Vec<SgTag>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SecurityGroup {
    pub security_group_id: String,
    #[serde(default)]
    pub security_group_name: String,
    #[serde(default)]
    pub vpc_id: String,
    #[serde(default)]
    pub security_group_type: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub tags: SgTags,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct Groups {
    security_group: Vec<SecurityGroup>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DescribeBody {
    #[serde(default)]
    next_token: Option<String>,
    #[serde(default)]
    security_groups: Groups,
}

#[derive(Debug, Clone, Default)]
pub struct SecurityGroupFilter {
    pub vpc_id: Option<String>,
    pub security_group_id: Option<String>,
    pub security_group_name: Option<String>,
    pub tags: Vec<Tag>,
}

#[derive(Debug, Clone, Default)]
pub struct CreateSecurityGroup {
    pub vpc_id: String,
    pub security_group_name: Option<String>,
    pub description: Option<String>,
    pub tags: Vec<Tag>,
    pub client_token: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateSecurityGroupResponse {
    pub security_group_id: String,
    #[serde(default)]
    pub request_id: String,
}

impl EcsClient {
    pub fn new(endpoint: &str, region: &str, key: AccessKey, opts: ClientOptions) -> Result<Self> {
        let rpc = RpcClient::new("ecs", VERSION, endpoint, region, key, opts)?;
        Ok(Self { rpc })
    }

    pub fn endpoint(&self) -> &str {
        self.rpc.endpoint()
    }

    /// State-changing calls made so far.
    pub fn write_count(&self) -> u64 {
        self.rpc.write_count()
    }

    /// Every matching group, following `NextToken` (the SDK marks PageNumber/PageSize as
    /// going offline).
    pub async fn describe_security_groups(
        &self,
        f: &SecurityGroupFilter,
    ) -> Result<Vec<SecurityGroup>> {
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let req = RpcRequest::read("DescribeSecurityGroups")
                .param("RegionId", self.rpc.region())
                .opt("VpcId", f.vpc_id.as_deref())
                .opt("SecurityGroupId", f.security_group_id.as_deref())
                .opt("SecurityGroupName", f.security_group_name.as_deref())
                .tags(&f.tags)
                .param("MaxResults", MAX_RESULTS)
                .opt("NextToken", token.as_deref());
            let body: DescribeBody = self.rpc.call(&req).await?;
            let got = body.security_groups.security_group.len();
            out.extend(body.security_groups.security_group);
            match body.next_token.filter(|t| !t.is_empty()) {
                Some(t) if got > 0 => token = Some(t),
                _ => return Ok(out),
            }
        }
    }

    /// A VPC security group (type `normal`, the SDK's default). Retried safely: the
    /// `ClientToken` is fixed across attempts.
    pub async fn create_security_group(
        &self,
        c: &CreateSecurityGroup,
    ) -> Result<CreateSecurityGroupResponse> {
        let req = RpcRequest::new("CreateSecurityGroup", Idempotency::Idempotent)
            .param("RegionId", self.rpc.region())
            .param("VpcId", &c.vpc_id)
            .opt("SecurityGroupName", c.security_group_name.as_deref())
            .opt("Description", c.description.as_deref())
            .tags(&c.tags)
            .client_token(c.client_token.as_deref());
        self.rpc.call(&req).await
    }

    /// `Ok(false)` when the group was already gone.
    pub async fn delete_security_group(&self, security_group_id: &str) -> Result<bool> {
        let req = RpcRequest::new("DeleteSecurityGroup", Idempotency::Idempotent)
            .param("RegionId", self.rpc.region())
            .param("SecurityGroupId", security_group_id);
        rpc::deleted(self.rpc.call(&req).await)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aliyun::rpc::tests::{assert_signed, fast_opts, key};
    use crate::aliyun::testutil::{Reply, TestServer};

    #[tokio::test]
    async fn describe_follows_next_token_and_reads_ecs_tag_names() {
        let srv = TestServer::start(|r, _| {
            let second = r.target.contains("NextToken=");
            let (id, next) = if second { ("sg-2", "") } else { ("sg-1", "tok2") };
            Reply::json(
                200,
                &format!(
                    r#"{{"RequestId":"R","RegionId":"cn-shenzhen","NextToken":"{next}","TotalCount":2,"SecurityGroups":{{"SecurityGroup":[{{"SecurityGroupId":"{id}","SecurityGroupName":"fcctl-cat-dog","VpcId":"vpc-1","SecurityGroupType":"normal","EcsCount":0,"Tags":{{"Tag":[{{"TagKey":"fcctl:app","TagValue":"cat-dog"}}]}}}}]}}}}"#
                ),
            )
        })
        .await;
        let c = EcsClient::new(&srv.base, "cn-shenzhen", key(), fast_opts()).unwrap();
        let groups = c
            .describe_security_groups(&SecurityGroupFilter {
                vpc_id: Some("vpc-1".into()),
                tags: vec![Tag::app("cat-dog")],
                ..Default::default()
            })
            .await
            .unwrap();
        let ids: Vec<_> = groups
            .iter()
            .map(|g| g.security_group_id.as_str())
            .collect();
        assert_eq!(ids, ["sg-1", "sg-2"]);
        assert_eq!(groups[0].tags.tag[0].key, "fcctl:app");
        assert_eq!(groups[0].tags.tag[0].value, "cat-dog");
        let reqs = srv.requests();
        assert_eq!(reqs.len(), 2);
        assert_signed(&reqs[0], VERSION, "DescribeSecurityGroups");
        assert_eq!(reqs[0].query("NextToken"), None);
        assert_eq!(reqs[1].query("NextToken").as_deref(), Some("tok2"));
        assert_eq!(reqs[0].query("MaxResults").as_deref(), Some("100"));
        assert_eq!(reqs[0].query("Tag.1.Key").as_deref(), Some("fcctl:app"));
        assert_eq!(reqs[0].query("VpcId").as_deref(), Some("vpc-1"));
    }

    #[tokio::test]
    async fn create_and_delete() {
        let srv = TestServer::start(|r, _| match r.header("x-acs-action") {
            Some("CreateSecurityGroup") => {
                Reply::json(200, r#"{"RequestId":"R","SecurityGroupId":"sg-9"}"#)
            }
            _ => Reply::json(
                404,
                r#"{"RequestId":"R","Code":"InvalidSecurityGroupId.NotFound","Message":"x"}"#,
            ),
        })
        .await;
        let c = EcsClient::new(&srv.base, "cn-shenzhen", key(), fast_opts()).unwrap();
        let g = c
            .create_security_group(&CreateSecurityGroup {
                vpc_id: "vpc-1".into(),
                security_group_name: Some("fcctl-cat-dog".into()),
                tags: vec![Tag::app("cat-dog")],
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(g.security_group_id, "sg-9");
        assert!(!c.delete_security_group("sg-9").await.unwrap());
        let reqs = srv.requests();
        assert_signed(&reqs[0], VERSION, "CreateSecurityGroup");
        assert_eq!(reqs[0].query("RegionId").as_deref(), Some("cn-shenzhen"));
        assert_eq!(reqs[0].query("VpcId").as_deref(), Some("vpc-1"));
        assert_eq!(
            reqs[0].query("SecurityGroupName").as_deref(),
            Some("fcctl-cat-dog")
        );
        assert_eq!(reqs[0].query("Tag.1.Value").as_deref(), Some("cat-dog"));
        assert_signed(&reqs[1], VERSION, "DeleteSecurityGroup");
        assert_eq!(reqs[1].query("SecurityGroupId").as_deref(), Some("sg-9"));
    }
}
