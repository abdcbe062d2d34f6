//! The RAM permissions fcctl's calls need, per configured feature: `fcctl doctor --policy`
//! prints them as a policy document, and a denied call names the statement to add.
//!
//! Action names are `<product>:<API action>`, the form RAM authorises OpenAPI calls by
//! (docs/cloud-facts.md, "RAM actions").

use crate::config::Config;

/// One group of actions and why fcctl needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Need {
    pub feature: &'static str,
    pub actions: Vec<&'static str>,
}

const FC: &[&str] = &[
    "fc:GetAccountSettings",
    "fc:CreateFunction",
    "fc:UpdateFunction",
    "fc:GetFunction",
    "fc:GetFunctionCode",
    "fc:DeleteFunction",
    "fc:ListFunctions",
    "fc:InvokeFunction",
    "fc:CreateTrigger",
    "fc:UpdateTrigger",
    "fc:GetTrigger",
    "fc:ListTriggers",
    "fc:DeleteTrigger",
    "fc:PublishFunctionVersion",
    "fc:ListFunctionVersions",
    "fc:DeleteFunctionVersion",
    "fc:CreateAlias",
    "fc:UpdateAlias",
    "fc:GetAlias",
    "fc:ListAliases",
    "fc:DeleteAlias",
    "fc:PutProvisionConfig",
    "fc:GetProvisionConfig",
    "fc:ListProvisionConfigs",
    "fc:DeleteProvisionConfig",
];

const DOMAIN: &[&str] = &[
    "fc:CreateCustomDomain",
    "fc:UpdateCustomDomain",
    "fc:GetCustomDomain",
    "fc:ListCustomDomains",
    "fc:DeleteCustomDomain",
];

const OSS: &[&str] = &[
    "oss:PutBucket",
    "oss:GetBucketInfo",
    "oss:DeleteBucket",
    "oss:PutBucketLifecycle",
    "oss:GetBucketLifecycle",
    "oss:ListObjects",
    "oss:PutObject",
    "oss:GetObject",
    "oss:DeleteObject",
    "oss:ListParts",
    "oss:ListMultipartUploads",
    "oss:AbortMultipartUpload",
];

const VPC: &[&str] = &[
    "vpc:DescribeZones",
    "vpc:DescribeVpcs",
    "vpc:CreateVpc",
    "vpc:DeleteVpc",
    "vpc:DescribeVSwitches",
    "vpc:CreateVSwitch",
    "vpc:DeleteVSwitch",
    "ecs:DescribeSecurityGroups",
    "ecs:CreateSecurityGroup",
    "ecs:DeleteSecurityGroup",
];

const NAS: &[&str] = &[
    "nas:DescribeZones",
    "nas:DescribeFileSystems",
    "nas:CreateFileSystem",
    "nas:DeleteFileSystem",
    "nas:DescribeMountTargets",
    "nas:CreateMountTarget",
    "nas:DeleteMountTarget",
];

const LOG: &[&str] = &[
    "log:GetProject",
    "log:CreateProject",
    "log:DeleteProject",
    "log:TagResources",
    "log:ListTagResources",
    "log:GetLogStore",
    "log:CreateLogStore",
    "log:GetIndex",
    "log:CreateIndex",
    "log:GetLogStoreLogs",
];

const ROLE: &[&str] = &["ram:GetRole", "ram:CreateServiceLinkedRole"];

/// What `cfg` makes fcctl call, feature by feature.
pub fn needs(cfg: &Config) -> Vec<Need> {
    let mut out = vec![
        Need {
            feature: "deploy, publish, alias, provision, destroy",
            actions: FC.to_vec(),
        },
        Need {
            feature: "staging uploads (nas-sync, deploy)",
            actions: OSS.to_vec(),
        },
    ];
    if cfg.custom_domain.enabled && cfg.custom_domain.name != "auto" {
        out.push(Need {
            feature: "custom_domain",
            actions: DOMAIN.to_vec(),
        });
    }
    if super::vpc_auto(cfg) {
        out.push(Need {
            feature: "vpc: auto",
            actions: VPC.to_vec(),
        });
    }
    if super::nas_auto(cfg) {
        out.push(Need {
            feature: "nas.server_addr: auto",
            actions: NAS.to_vec(),
        });
    }
    if super::log_auto(cfg) {
        out.push(Need {
            feature: "log: auto (and `fcctl logs`)",
            actions: LOG.to_vec(),
        });
    } else if matches!(cfg.log, crate::config::LogSetting::Explicit(_)) {
        out.push(Need {
            feature: "`fcctl logs`",
            actions: vec!["log:GetLogStoreLogs"],
        });
    }
    if super::role_auto(cfg) {
        out.push(Need {
            feature: "role: auto",
            actions: ROLE.to_vec(),
        });
    }
    out
}

/// The policy document (RAM policy version 1) granting every action `cfg` needs.
pub fn document(cfg: &Config) -> serde_json::Value {
    let mut actions: Vec<&str> = needs(cfg).into_iter().flat_map(|n| n.actions).collect();
    actions.sort_unstable();
    actions.dedup();
    serde_json::json!({
        "Version": "1",
        "Statement": [{"Effect": "Allow", "Action": actions, "Resource": "*"}],
    })
}

/// One statement allowing `actions`, as a line to paste into a policy.
pub fn statement(actions: &[&str]) -> String {
    serde_json::json!({"Effect": "Allow", "Action": actions, "Resource": "*"}).to_string()
}

/// Did the service refuse the call for lack of a RAM permission?
pub fn is_denied(e: &crate::aliyun::Error) -> bool {
    match e.api() {
        Some(a) => {
            a.code.starts_with("Forbidden") || a.code == "NoPermission" || a.code == "AccessDenied"
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_grows_with_the_auto_features() {
        let mut cfg = crate::config::testing::load("app: cat-dog\n").unwrap();
        let doc = document(&cfg);
        let actions = doc["Statement"][0]["Action"].as_array().unwrap();
        assert!(actions.iter().any(|a| a == "nas:CreateFileSystem"));
        assert!(actions.iter().any(|a| a == "vpc:CreateVpc"));
        assert!(actions.iter().any(|a| a == "fc:CreateFunction"));
        cfg.nas.server_addr = "x.nas.aliyuncs.com:/".into();
        cfg.vpc = crate::config::VpcSetting::Explicit(crate::config::VpcExplicit {
            vpc_id: "v".into(),
            vswitch_ids: vec!["s".into()],
            security_group_id: "g".into(),
        });
        let doc = document(&cfg);
        let actions = doc["Statement"][0]["Action"].as_array().unwrap();
        assert!(
            !actions
                .iter()
                .any(|a| a.as_str().unwrap().starts_with("nas:"))
        );
        assert!(!actions.iter().any(|a| a == "vpc:CreateVpc"));
        let mut sorted = actions.clone();
        sorted.sort_by(|a, b| a.as_str().cmp(&b.as_str()));
        assert_eq!(&sorted, actions, "sorted, one line per action");
    }

    #[test]
    fn a_statement_is_one_pasteable_line() {
        assert_eq!(
            statement(&["nas:CreateFileSystem"]),
            r#"{"Action":["nas:CreateFileSystem"],"Effect":"Allow","Resource":"*"}"#
        );
    }
}
