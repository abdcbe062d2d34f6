//! RAM 2015-05-01 (global): roles, the Alibaba-managed (System) policies attached to them,
//! and service-linked roles. A role with attached policies cannot be deleted.

use super::Answer;
use super::params::{Params, invalid};
use crate::api_error::ApiError;
use crate::context::Ctx;
use crate::infra::{AttachedPolicy, Role};
use serde_json::{Value, json};

pub const ACTIONS: &[&str] = &[
    "CreateRole",
    "GetRole",
    "DeleteRole",
    "AttachPolicyToRole",
    "DetachPolicyFromRole",
    "ListPoliciesForRole",
    "CreateServiceLinkedRole",
];

/// The System policies the emulator knows (a subset of Alibaba's managed policies: those a
/// function's role or fcctl's own policy line may name).
pub const SYSTEM_POLICIES: &[(&str, &str)] = &[
    ("AliyunLogFullAccess", "Full access to Log Service (SLS)"),
    (
        "AliyunLogReadOnlyAccess",
        "Read-only access to Log Service (SLS)",
    ),
    ("AliyunNASFullAccess", "Full access to File Storage (NAS)"),
    (
        "AliyunNASReadOnlyAccess",
        "Read-only access to File Storage (NAS)",
    ),
    (
        "AliyunOSSFullAccess",
        "Full access to Object Storage Service (OSS)",
    ),
    (
        "AliyunOSSReadOnlyAccess",
        "Read-only access to Object Storage Service (OSS)",
    ),
    (
        "AliyunVPCFullAccess",
        "Full access to Virtual Private Cloud (VPC)",
    ),
    (
        "AliyunVPCReadOnlyAccess",
        "Read-only access to Virtual Private Cloud (VPC)",
    ),
    (
        "AliyunECSNetworkInterfaceManagementAccess",
        "Manage ECS elastic network interfaces",
    ),
    ("AliyunFCFullAccess", "Full access to Function Compute"),
    (
        "AliyunFCReadOnlyAccess",
        "Read-only access to Function Compute",
    ),
    (
        "AliyunFCDefaultRolePolicy",
        "The default policy of Function Compute's service role",
    ),
    (
        "AliyunRAMReadOnlyAccess",
        "Read-only access to Resource Access Management (RAM)",
    ),
];

/// Service name → the service-linked role RAM creates for it.
const SERVICE_LINKED: &[(&str, &str, &str)] = &[(
    "fc.aliyuncs.com",
    "AliyunServiceRoleForFC",
    "Function Compute uses this role to access your resources in other services (VPC ENIs, logs).",
)];

pub fn run(ctx: &Ctx, action: &str, p: &Params) -> Answer {
    match action {
        "CreateRole" => create_role(ctx, p),
        "GetRole" => get_role(ctx, p),
        "DeleteRole" => delete_role(ctx, p),
        "AttachPolicyToRole" => attach(ctx, p),
        "DetachPolicyFromRole" => detach(ctx, p),
        "ListPoliciesForRole" => list_policies(ctx, p),
        "CreateServiceLinkedRole" => create_service_linked(ctx, p),
        _ => unreachable!("rpc/mod.rs checks the action list"),
    }
}

fn role_not_found(name: &str) -> ApiError {
    ApiError::new(
        404,
        "EntityNotExist.Role",
        format!("The role does not exist: {name}."),
    )
}

fn role_json(r: &Role) -> Value {
    json!({
        "RoleId": r.id,
        "RoleName": r.name,
        "Arn": r.arn,
        "Description": r.description,
        "AssumeRolePolicyDocument": r.assume_role_policy_document,
        "MaxSessionDuration": r.max_session_duration,
        "CreateDate": r.created,
        "UpdateDate": r.created,
        "IsServiceLinkedRole": r.service_linked,
    })
}

/// 1–64 characters of letters, digits, `.` and `-`.
fn check_role_name(name: &str) -> Result<(), ApiError> {
    if name.is_empty() || name.len() > 64 {
        return Err(ApiError::new(
            400,
            "InvalidParameter.RoleName.Length",
            "The parameter - \"RoleName\" beyond the length limit.",
        ));
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
    {
        return Err(ApiError::new(
            400,
            "InvalidParameter.RoleName.InvalidChars",
            format!(
                "The parameter - \"RoleName\" contains invalid chars. ({name}: letters, digits, . and - only)"
            ),
        ));
    }
    Ok(())
}

/// A trust policy: JSON with a `Statement` list whose entries allow `sts:AssumeRole`.
fn check_trust_policy(doc: &str) -> Result<(), ApiError> {
    let malformed = |why: &str| {
        ApiError::new(
            400,
            "MalformedPolicyDocument",
            format!("The policy document is malformed. (AssumeRolePolicyDocument: {why})"),
        )
    };
    let v: Value = serde_json::from_str(doc).map_err(|e| malformed(&e.to_string()))?;
    let statements = v["Statement"]
        .as_array()
        .filter(|s| !s.is_empty())
        .ok_or_else(|| malformed("a non-empty Statement list is required"))?;
    for s in statements {
        if s["Action"] != "sts:AssumeRole" || s["Principal"].as_object().is_none() {
            return Err(malformed(
                "each statement needs Action sts:AssumeRole and a Principal",
            ));
        }
    }
    Ok(())
}

fn new_role(ctx: &Ctx, name: &str, description: &str, doc: &str, max: u64, slr: bool) -> Role {
    Role {
        id: format!("3{:018}", rand::random::<u64>() % 1_000_000_000_000_000_000),
        name: name.to_string(),
        arn: format!(
            "acs:ram::{}:role/{}",
            ctx.cfg.account_id,
            name.to_ascii_lowercase()
        ),
        description: description.to_string(),
        assume_role_policy_document: doc.to_string(),
        max_session_duration: max,
        service_linked: slr,
        policies: Vec::new(),
        created: crate::util::now_rfc3339(),
    }
}

fn create_role(ctx: &Ctx, p: &Params) -> Answer {
    let name = p.required("RoleName")?.to_string();
    check_role_name(&name)?;
    let doc = p.required("AssumeRolePolicyDocument")?.to_string();
    check_trust_policy(&doc)?;
    let max = p.int("MaxSessionDuration", 3600, 3600..=43200)?;
    if p.get("Description")
        .is_some_and(|d| d.chars().count() > 1024)
    {
        return Err(invalid("Description", "at most 1024 characters"));
    }
    let role = new_role(ctx, &name, p.get_or("Description", ""), &doc, max, false);
    ctx.store.update(|st| {
        let key = name.to_ascii_lowercase();
        if st.infra.roles.contains_key(&key) {
            return Err(ApiError::new(
                409,
                "EntityAlreadyExists.Role",
                format!("The role already exists: {name}."),
            ));
        }
        let v = role_json(&role);
        st.infra.roles.insert(key, role);
        Ok(json!({"Role": v}))
    })
}

fn get_role(ctx: &Ctx, p: &Params) -> Answer {
    let name = p.required("RoleName")?;
    let st = ctx.store.read();
    let r = st
        .infra
        .roles
        .get(&name.to_ascii_lowercase())
        .ok_or_else(|| role_not_found(name))?;
    Ok(json!({"Role": role_json(r)}))
}

fn delete_role(ctx: &Ctx, p: &Params) -> Answer {
    let name = p.required("RoleName")?.to_string();
    ctx.store.update(|st| {
        let key = name.to_ascii_lowercase();
        let r = st.infra.roles.get(&key).ok_or_else(|| role_not_found(&name))?;
        if !r.policies.is_empty() {
            let names: Vec<&str> = r.policies.iter().map(|p| p.name.as_str()).collect();
            return Err(ApiError::new(
                409,
                "DeleteConflict.Role.Policy",
                format!(
                    "The role CAN NOT has any attached policy while deleting the role. ({name} has {})",
                    names.join(", ")
                ),
            ));
        }
        st.infra.roles.remove(&key);
        Ok(json!({}))
    })
}

/// `PolicyType` and `PolicyName`, checked against the policies RAM has.
fn policy_of(p: &Params) -> Result<(String, String), ApiError> {
    let kind = p.required("PolicyType")?.to_string();
    let name = p.required("PolicyName")?.to_string();
    match kind.as_str() {
        "System" if SYSTEM_POLICIES.iter().any(|(n, _)| *n == name) => Ok((kind, name)),
        "System" | "Custom" => Err(ApiError::new(
            404,
            "EntityNotExist.Policy",
            format!("The policy does not exist: {name} ({kind})."),
        )),
        _ => Err(ApiError::new(
            400,
            "InvalidParameter.PolicyType",
            format!("The parameter - \"PolicyType\" is invalid. (`{kind}`: System or Custom)"),
        )),
    }
}

fn attach(ctx: &Ctx, p: &Params) -> Answer {
    let role = p.required("RoleName")?.to_string();
    let (kind, name) = policy_of(p)?;
    ctx.store.update(|st| {
        let r = st
            .infra
            .roles
            .get_mut(&role.to_ascii_lowercase())
            .ok_or_else(|| role_not_found(&role))?;
        if r.policies
            .iter()
            .any(|a| a.name == name && a.policy_type == kind)
        {
            return Err(ApiError::new(
                409,
                "EntityAlreadyExists.Role.Policy",
                format!("The policy has already been attached to the role. ({name} on {role})"),
            ));
        }
        r.policies.push(AttachedPolicy {
            name: name.clone(),
            policy_type: kind.clone(),
            attach_date: crate::util::now_rfc3339(),
        });
        Ok(json!({}))
    })
}

fn detach(ctx: &Ctx, p: &Params) -> Answer {
    let role = p.required("RoleName")?.to_string();
    let (kind, name) = policy_of(p)?;
    ctx.store.update(|st| {
        let r = st
            .infra
            .roles
            .get_mut(&role.to_ascii_lowercase())
            .ok_or_else(|| role_not_found(&role))?;
        let before = r.policies.len();
        r.policies
            .retain(|a| !(a.name == name && a.policy_type == kind));
        if r.policies.len() == before {
            return Err(ApiError::new(
                404,
                "EntityNotExist.Role.Policy",
                format!("The policy is not attached to the role. ({name} on {role})"),
            ));
        }
        Ok(json!({}))
    })
}

fn list_policies(ctx: &Ctx, p: &Params) -> Answer {
    let role = p.required("RoleName")?;
    let st = ctx.store.read();
    let r = st
        .infra
        .roles
        .get(&role.to_ascii_lowercase())
        .ok_or_else(|| role_not_found(role))?;
    let policies: Vec<Value> = r
        .policies
        .iter()
        .map(|a| {
            let description = SYSTEM_POLICIES
                .iter()
                .find(|(n, _)| *n == a.name)
                .map(|(_, d)| *d)
                .unwrap_or("");
            json!({
                "PolicyName": a.name,
                "PolicyType": a.policy_type,
                "Description": description,
                "DefaultVersion": "v1",
                "AttachDate": a.attach_date,
            })
        })
        .collect();
    Ok(json!({"Policies": {"Policy": policies}}))
}

fn create_service_linked(ctx: &Ctx, p: &Params) -> Answer {
    let service = p.required("ServiceName")?;
    let (_, name, description) = SERVICE_LINKED
        .iter()
        .find(|(s, _, _)| *s == service)
        .ok_or_else(|| {
            ApiError::new(
                400,
                "InvalidParameter.ServiceName",
                format!(
                    "The parameter - \"ServiceName\" is invalid. (`{service}`; the emulator knows {})",
                    SERVICE_LINKED.iter().map(|(s, _, _)| *s).collect::<Vec<_>>().join(", ")
                ),
            )
        })?;
    let doc = json!({
        "Statement": [{"Action": "sts:AssumeRole", "Effect": "Allow", "Principal": {"Service": [service]}}],
        "Version": "1",
    })
    .to_string();
    let role = new_role(ctx, name, description, &doc, 3600, true);
    ctx.store.update(|st| {
        let key = name.to_ascii_lowercase();
        if st.infra.roles.contains_key(&key) {
            return Err(ApiError::new(
                409,
                "EntityAlreadyExists.Role",
                format!("The role already exists: {name}."),
            ));
        }
        let v = role_json(&role);
        st.infra.roles.insert(key, role);
        Ok(json!({"Role": v}))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trust_policies_must_allow_assume_role() {
        let fc = r#"{"Statement":[{"Action":"sts:AssumeRole","Effect":"Allow","Principal":{"Service":["fc.aliyuncs.com"]}}],"Version":"1"}"#;
        assert!(check_trust_policy(fc).is_ok());
        assert!(check_trust_policy("{").is_err());
        assert!(check_trust_policy(r#"{"Statement":[]}"#).is_err());
        assert!(
            check_trust_policy(r#"{"Statement":[{"Action":"oss:*","Principal":{}}]}"#).is_err()
        );
    }

    #[test]
    fn role_names_are_checked() {
        assert!(check_role_name("fcctl-cat-dog.fn").is_ok());
        assert_eq!(
            check_role_name("a b").unwrap_err().code,
            "InvalidParameter.RoleName.InvalidChars"
        );
        assert_eq!(
            check_role_name(&"r".repeat(65)).unwrap_err().code,
            "InvalidParameter.RoleName.Length"
        );
    }
}
