//! ECS 2014-05-26, security groups only: the group a function's VPC access uses. A group
//! lives in a VPC (which then cannot be deleted) and cannot be deleted while a function's
//! `vpcConfig` names it.

use super::Answer;
use super::params::{Params, invalid, page_of};
use super::vpc::{check_region, remember_token, token_hit, vpc_not_found};
use crate::api_error::ApiError;
use crate::context::Ctx;
use crate::infra::{self, SecurityGroup, tags_match};
use serde_json::{Value, json};

pub const ACTIONS: &[&str] = &[
    "DescribeSecurityGroups",
    "CreateSecurityGroup",
    "DeleteSecurityGroup",
];

pub fn run(ctx: &Ctx, action: &str, p: &Params) -> Answer {
    match action {
        "DescribeSecurityGroups" => describe(ctx, p),
        "CreateSecurityGroup" => create(ctx, p),
        "DeleteSecurityGroup" => delete(ctx, p),
        _ => unreachable!("rpc/mod.rs checks the action list"),
    }
}

fn not_found(id: &str) -> ApiError {
    ApiError::new(
        404,
        "InvalidSecurityGroupId.NotFound",
        format!("The specified SecurityGroupId does not exist. ({id})"),
    )
}

/// ECS spells tags `TagKey` / `TagValue` in its answers.
fn group_json(ctx: &Ctx, g: &SecurityGroup) -> Value {
    json!({
        "SecurityGroupId": g.id,
        "SecurityGroupName": g.name,
        "Description": g.description,
        "VpcId": g.vpc_id,
        "SecurityGroupType": g.group_type,
        "CreationTime": g.meta.created,
        "ResourceGroupId": "",
        "ServiceManaged": false,
        "EcsCount": 0,
        "AvailableInstanceAmount": if g.group_type == "enterprise" { 65536 } else { 2000 },
        "RuleCount": 0,
        "GroupToGroupRuleCount": 0,
        "RegionId": ctx.cfg.region,
        "Tags": {"Tag": g.tags.iter().map(|t| json!({"TagKey": t.key, "TagValue": t.value})).collect::<Vec<_>>()},
    })
}

/// Pages by `NextToken` + `MaxResults` (1–100, default 10), or by the older
/// `PageNumber` + `PageSize` (1–50) when those are sent; the token is the id to resume at.
fn describe(ctx: &Ctx, p: &Params) -> Answer {
    check_region(ctx, p, true)?;
    let tags = p.tags()?;
    let ids: Option<Vec<String>> = match (p.get("SecurityGroupId"), p.get("SecurityGroupIds")) {
        (Some(id), _) => Some(vec![id.to_string()]),
        (None, Some(list)) => Some(serde_json::from_str::<Vec<String>>(list).map_err(|_| {
            invalid(
                "SecurityGroupIds",
                "a JSON array of ids: [\"sg-1\", \"sg-2\"]",
            )
        })?),
        (None, None) => None,
    };
    let st = ctx.store.read();
    let mut all: Vec<&SecurityGroup> = st
        .infra
        .security_groups
        .values()
        .filter(|g| ids.as_ref().is_none_or(|ids| ids.contains(&g.id)))
        .filter(|g| p.get("VpcId").is_none_or(|v| v == g.vpc_id))
        .filter(|g| p.get("SecurityGroupName").is_none_or(|v| v == g.name))
        .filter(|g| p.get("SecurityGroupType").is_none_or(|v| v == g.group_type))
        .filter(|g| tags_match(&g.tags, &tags))
        .collect();
    all.sort_by(|a, b| (a.meta.created_ms, &a.id).cmp(&(b.meta.created_ms, &b.id)));
    let total = all.len();
    if p.get("PageNumber").is_some() || p.get("PageSize").is_some() {
        let (number, size) = p.page(10, 50)?;
        let items: Vec<Value> = page_of(&all, number, size)
            .into_iter()
            .map(|g| group_json(ctx, g))
            .collect();
        return Ok(json!({
            "RegionId": ctx.cfg.region,
            "TotalCount": total,
            "PageNumber": number,
            "PageSize": size,
            "SecurityGroups": {"SecurityGroup": items},
        }));
    }
    let max = p.int("MaxResults", 10, 1..=100)? as usize;
    let start = match p.get("NextToken") {
        None => 0,
        Some(t) => all
            .iter()
            .position(|g| g.id == t)
            .ok_or_else(|| invalid("NextToken", "not a token this API returned"))?,
    };
    let page: Vec<Value> = all[start..]
        .iter()
        .take(max)
        .map(|g| group_json(ctx, g))
        .collect();
    let next = all
        .get(start + max)
        .map(|g| g.id.clone())
        .unwrap_or_default();
    Ok(json!({
        "RegionId": ctx.cfg.region,
        "NextToken": next,
        "SecurityGroups": {"SecurityGroup": page},
    }))
}

fn create(ctx: &Ctx, p: &Params) -> Answer {
    check_region(ctx, p, true)?;
    // Accounts created today have no classic network: a group must live in a VPC.
    let vpc_id = p.required("VpcId")?.to_string();
    let group_type = p.get_or("SecurityGroupType", "normal").to_string();
    if !matches!(group_type.as_str(), "normal" | "enterprise") {
        return Err(invalid("SecurityGroupType", "normal or enterprise"));
    }
    if let Some(n) = p.get("SecurityGroupName")
        && (n.chars().count() < 2
            || n.chars().count() > 128
            || n.starts_with("http://")
            || n.starts_with("https://"))
    {
        return Err(invalid(
            "SecurityGroupName",
            "2–128 characters, not starting with http:// or https://",
        ));
    }
    let tags = p.tags()?;
    ctx.store.update(|st| {
        let s = &mut st.infra;
        if let Some((_, id)) = token_hit(s, "ecs", "CreateSecurityGroup", p)
            && s.security_groups.contains_key(&id)
        {
            return Ok(json!({"SecurityGroupId": id}));
        }
        if !s.vpcs.contains_key(&vpc_id) {
            return Err(vpc_not_found(&vpc_id));
        }
        let g = SecurityGroup {
            id: infra::new_id("sg", 20),
            vpc_id: vpc_id.clone(),
            name: p.get_or("SecurityGroupName", "").into(),
            description: p.get_or("Description", "").into(),
            group_type: group_type.clone(),
            tags: tags.clone(),
            meta: infra::Meta::new(0),
        };
        let id = g.id.clone();
        s.security_groups.insert(id.clone(), g);
        remember_token(s, "ecs", "CreateSecurityGroup", p, &id);
        Ok(json!({"SecurityGroupId": id}))
    })
}

fn delete(ctx: &Ctx, p: &Params) -> Answer {
    check_region(ctx, p, true)?;
    let id = p.required("SecurityGroupId")?.to_string();
    ctx.store.update(|st| {
        if !st.infra.security_groups.contains_key(&id) {
            return Err(not_found(&id));
        }
        let users: Vec<String> = st
            .functions
            .iter()
            .filter(|(_, f)| f.config["vpcConfig"]["securityGroupId"] == id.as_str())
            .map(|(name, _)| format!("function {name}"))
            .chain(
                st.infra
                    .mount_targets
                    .values()
                    .filter(|m| m.security_group_id.as_deref() == Some(id.as_str()))
                    .map(|m| format!("NAS mount target {}", m.domain)),
            )
            .collect();
        if !users.is_empty() {
            return Err(ApiError::new(
                403,
                "DependencyViolation",
                format!(
                    "There is still instance(s) in the specified security group. ({id} is used by {})",
                    users.join(", ")
                ),
            ));
        }
        st.infra.security_groups.remove(&id);
        Ok(json!({}))
    })
}
