//! RAM OpenAPI 2015-05-01 (RPC style, one global endpoint): the function's role, its policies
//! and FC's service-linked role.
//!
//! Names, required fields and types follow the official SDK `alibabacloud_ram20150501`
//! (1.3.0, `client.py` `*_with_options` and `models/`); see docs/cloud-facts.md "RAM".

use serde::Deserialize;

use super::error::Result;
use super::retry::Idempotency;
use super::rpc::{self, RpcClient, RpcRequest, Tag};
use super::{AccessKey, ClientOptions};

pub const VERSION: &str = "2015-05-01";
/// RAM is global: the SDK's endpoint map names this host for every public region.
pub const DEFAULT_ENDPOINT: &str = "ram.aliyuncs.com";
/// The principal FC assumes a function's role as.
pub const FC_SERVICE: &str = "fc.aliyuncs.com";
/// FC's service-linked role (VPC access, log delivery), created by `CreateServiceLinkedRole`.
pub const FC_SERVICE_LINKED_ROLE: &str = "AliyunServiceRoleForFC";

/// The trust policy of a role only FC may assume.
pub fn fc_trust_policy() -> String {
    serde_json::json!({
        "Statement": [{
            "Action": "sts:AssumeRole",
            "Effect": "Allow",
            "Principal": {"Service": [FC_SERVICE]},
        }],
        "Version": "1",
    })
    .to_string()
}

/// `System` (Alibaba-managed, e.g. `AliyunLogFullAccess`) or `Custom`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum PolicyType {
    System,
    Custom,
}

impl PolicyType {
    fn as_str(self) -> &'static str {
        match self {
            PolicyType::System => "System",
            PolicyType::Custom => "Custom",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Role {
    pub role_name: String,
    #[serde(default)]
    pub role_id: String,
    /// `acs:ram::<account>:role/<name>`, what a function's `role` takes.
    pub arn: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub assume_role_policy_document: String,
    #[serde(default)]
    pub is_service_linked_role: bool,
    #[serde(default)]
    pub create_date: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AttachedPolicy {
    pub policy_name: String,
    pub policy_type: PolicyType,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub attach_date: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RoleBody {
    role: Role,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct PoliciesBody {
    #[serde(default)]
    policies: Policies,
}

#[derive(Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Policies {
    #[serde(default)]
    policy: Vec<AttachedPolicy>,
}

/// What `CreateRole` takes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CreateRole {
    pub role_name: String,
    /// JSON trust policy ([`fc_trust_policy`]).
    pub assume_role_policy_document: String,
    pub description: Option<String>,
    /// Seconds, 3600–43200.
    pub max_session_duration: Option<u32>,
    pub tags: Vec<Tag>,
}

/// Typed RAM client.
#[derive(Debug, Clone)]
pub struct RamClient {
    rpc: RpcClient,
}

impl RamClient {
    /// `endpoint`: [`DEFAULT_ENDPOINT`] on the cloud, the emulator's URL locally.
    pub fn new(endpoint: &str, region: &str, key: AccessKey, opts: ClientOptions) -> Result<Self> {
        let rpc = RpcClient::new("ram", VERSION, endpoint, region, key, opts)?;
        Ok(Self { rpc })
    }

    pub fn endpoint(&self) -> &str {
        self.rpc.endpoint()
    }

    /// State-changing calls made so far.
    pub fn write_count(&self) -> u64 {
        self.rpc.write_count()
    }

    /// `EntityNotExist.Role` (404) when there is none.
    pub async fn get_role(&self, role_name: &str) -> Result<Role> {
        let req = RpcRequest::read("GetRole").param("RoleName", role_name);
        let b: RoleBody = self.rpc.call(&req).await?;
        Ok(b.role)
    }

    /// `EntityAlreadyExists.Role` when the name is taken (also after a retry whose first
    /// attempt created it: callers then `get_role`).
    pub async fn create_role(&self, c: &CreateRole) -> Result<Role> {
        let tags = (!c.tags.is_empty()).then(|| {
            serde_json::to_string(
                &c.tags
                    .iter()
                    .map(|t| serde_json::json!({"Key": t.key, "Value": t.value}))
                    .collect::<Vec<_>>(),
            )
            .unwrap_or_default()
        });
        let req = RpcRequest::new("CreateRole", Idempotency::CreateLike)
            .param("RoleName", &c.role_name)
            .param("AssumeRolePolicyDocument", &c.assume_role_policy_document)
            .opt("Description", c.description.as_deref())
            .opt("MaxSessionDuration", c.max_session_duration)
            .opt("Tag", tags);
        let b: RoleBody = self.rpc.call(&req).await?;
        Ok(b.role)
    }

    /// `Ok(false)` when the role was already gone. RAM refuses while policies are attached
    /// (`DeleteConflict.Role.Policy`): detach them first.
    pub async fn delete_role(&self, role_name: &str) -> Result<bool> {
        let req =
            RpcRequest::new("DeleteRole", Idempotency::Idempotent).param("RoleName", role_name);
        rpc::deleted(self.rpc.call(&req).await)
    }

    /// `EntityAlreadyExists.Role.Policy` when it is attached already.
    pub async fn attach_policy_to_role(
        &self,
        role_name: &str,
        policy_type: PolicyType,
        policy_name: &str,
    ) -> Result<()> {
        let req = RpcRequest::new("AttachPolicyToRole", Idempotency::CreateLike)
            .param("PolicyType", policy_type.as_str())
            .param("PolicyName", policy_name)
            .param("RoleName", role_name);
        self.rpc.call::<serde::de::IgnoredAny>(&req).await.map(drop)
    }

    /// `Ok(false)` when it was not attached (`EntityNotExist.Role.Policy`).
    pub async fn detach_policy_from_role(
        &self,
        role_name: &str,
        policy_type: PolicyType,
        policy_name: &str,
    ) -> Result<bool> {
        let req = RpcRequest::new("DetachPolicyFromRole", Idempotency::Idempotent)
            .param("PolicyType", policy_type.as_str())
            .param("PolicyName", policy_name)
            .param("RoleName", role_name);
        rpc::deleted(self.rpc.call(&req).await)
    }

    pub async fn list_policies_for_role(&self, role_name: &str) -> Result<Vec<AttachedPolicy>> {
        let req = RpcRequest::read("ListPoliciesForRole").param("RoleName", role_name);
        let b: PoliciesBody = self.rpc.call(&req).await?;
        Ok(b.policies.policy)
    }

    /// Creates a service's service-linked role (FC's: [`FC_SERVICE`] →
    /// [`FC_SERVICE_LINKED_ROLE`]); `EntityAlreadyExists.Role` when the account has it.
    pub async fn create_service_linked_role(&self, service_name: &str) -> Result<Role> {
        let req = RpcRequest::new("CreateServiceLinkedRole", Idempotency::CreateLike)
            .param("ServiceName", service_name);
        let b: RoleBody = self.rpc.call(&req).await?;
        Ok(b.role)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aliyun::rpc::tests::{assert_signed, fast_opts, key};
    use crate::aliyun::testutil::{Reply, TestServer};

    const ROLE: &str = r#"{"RequestId":"R","Role":{"RoleName":"fcctl-cat-dog","RoleId":"3","Arn":"acs:ram::123:role/fcctl-cat-dog","Description":"d","AssumeRolePolicyDocument":"{}","CreateDate":"2024-05-20T08:30:00Z","MaxSessionDuration":3600}}"#;

    #[tokio::test]
    async fn roles_and_policies_send_the_sdk_parameters() {
        let srv = TestServer::start(|r, _| match r.header("x-acs-action") {
            Some("GetRole") => Reply::json(
                404,
                r#"{"RequestId":"R","Code":"EntityNotExist.Role","Message":"The role does not exist: fcctl-cat-dog."}"#,
            ),
            Some("CreateRole") | Some("CreateServiceLinkedRole") => Reply::json(200, ROLE),
            Some("ListPoliciesForRole") => Reply::json(
                200,
                r#"{"RequestId":"R","Policies":{"Policy":[{"PolicyName":"AliyunLogFullAccess","PolicyType":"System","Description":"d","DefaultVersion":"v1","AttachDate":"2024-05-20T08:30:00Z"}]}}"#,
            ),
            Some("DetachPolicyFromRole") => Reply::json(
                404,
                r#"{"RequestId":"R","Code":"EntityNotExist.Role.Policy","Message":"not attached"}"#,
            ),
            _ => Reply::json(200, r#"{"RequestId":"R"}"#),
        })
        .await;
        let c = RamClient::new(&srv.base, "cn-shenzhen", key(), fast_opts()).unwrap();
        let e = c.get_role("fcctl-cat-dog").await.unwrap_err();
        assert!(e.is_not_found(), "{e}");
        let role = c
            .create_role(&CreateRole {
                role_name: "fcctl-cat-dog".into(),
                assume_role_policy_document: fc_trust_policy(),
                description: Some("fcctl: cat-dog".into()),
                max_session_duration: None,
                tags: vec![Tag::app("cat-dog")],
            })
            .await
            .unwrap();
        assert_eq!(role.arn, "acs:ram::123:role/fcctl-cat-dog");
        c.attach_policy_to_role("fcctl-cat-dog", PolicyType::System, "AliyunLogFullAccess")
            .await
            .unwrap();
        let p = c.list_policies_for_role("fcctl-cat-dog").await.unwrap();
        assert_eq!(
            (p[0].policy_name.as_str(), p[0].policy_type),
            ("AliyunLogFullAccess", PolicyType::System)
        );
        assert!(
            !c.detach_policy_from_role("fcctl-cat-dog", PolicyType::System, "AliyunLogFullAccess")
                .await
                .unwrap()
        );
        assert!(c.delete_role("fcctl-cat-dog").await.unwrap());
        c.create_service_linked_role(FC_SERVICE).await.unwrap();
        let reqs = srv.requests();
        let actions = [
            "GetRole",
            "CreateRole",
            "AttachPolicyToRole",
            "ListPoliciesForRole",
            "DetachPolicyFromRole",
            "DeleteRole",
            "CreateServiceLinkedRole",
        ];
        assert_eq!(reqs.len(), actions.len());
        for (r, a) in reqs.iter().zip(actions) {
            assert_signed(r, VERSION, a);
        }
        assert_eq!(reqs[0].query("RoleName").as_deref(), Some("fcctl-cat-dog"));
        let trust: serde_json::Value =
            serde_json::from_str(&reqs[1].query("AssumeRolePolicyDocument").unwrap()).unwrap();
        assert_eq!(
            trust["Statement"][0]["Principal"]["Service"][0],
            "fc.aliyuncs.com"
        );
        assert_eq!(trust["Statement"][0]["Action"], "sts:AssumeRole");
        assert_eq!(
            reqs[1].query("Tag").as_deref(),
            Some(r#"[{"Key":"fcctl:app","Value":"cat-dog"}]"#)
        );
        assert_eq!(reqs[2].query("PolicyType").as_deref(), Some("System"));
        assert_eq!(
            reqs[2].query("PolicyName").as_deref(),
            Some("AliyunLogFullAccess")
        );
        assert_eq!(
            reqs[6].query("ServiceName").as_deref(),
            Some("fc.aliyuncs.com")
        );
    }
}
