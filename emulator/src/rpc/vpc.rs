//! VPC 2016-04-28: VPCs, vSwitches and the zones of the region. A new VPC or vSwitch is
//! `Pending` for `Config::infra_delay`, then `Available`; a VPC is deleted only without
//! vSwitches or security groups, a vSwitch only without mount targets or functions in it.

use super::Answer;
use super::params::{Params, invalid, page_of};
use crate::api_error::ApiError;
use crate::context::Ctx;
use crate::infra::{self, Infra, Tag, VSwitch, Vpc, tags_match};
use serde_json::{Value, json};

pub const ACTIONS: &[&str] = &[
    "DescribeVpcs",
    "CreateVpc",
    "DeleteVpc",
    "DescribeVSwitches",
    "CreateVSwitch",
    "DeleteVSwitch",
    "DescribeZones",
];

/// DescribeVpcs / DescribeVSwitches: PageSize 1–50, default 10.
const MAX_PAGE: u64 = 50;

pub fn run(ctx: &Ctx, action: &str, p: &Params) -> Answer {
    match action {
        "DescribeVpcs" => describe_vpcs(ctx, p),
        "CreateVpc" => create_vpc(ctx, p),
        "DeleteVpc" => delete_vpc(ctx, p),
        "DescribeVSwitches" => describe_vswitches(ctx, p),
        "CreateVSwitch" => create_vswitch(ctx, p),
        "DeleteVSwitch" => delete_vswitch(ctx, p),
        "DescribeZones" => describe_zones(ctx, p),
        _ => unreachable!("rpc/mod.rs checks the action list"),
    }
}

/// The zones of the emulator's region: `<region>-a`, `-b`, `-c`. NAS sells only some of
/// them (see `nas::zones`), so picking a zone both offer is a real choice.
pub fn zone_ids(region: &str) -> Vec<String> {
    ["a", "b", "c"]
        .iter()
        .map(|z| format!("{region}-{z}"))
        .collect()
}

/// `RegionId` must be the emulator's region (resources live in one region).
pub fn check_region(ctx: &Ctx, p: &Params, required: bool) -> Result<(), ApiError> {
    let region = if required {
        Some(p.required("RegionId")?)
    } else {
        p.get("RegionId")
    };
    match region {
        Some(r) if r != ctx.cfg.region => Err(ApiError::new(
            404,
            "InvalidRegionId.NotFound",
            format!(
                "The specified region does not exist. (the emulator serves {})",
                ctx.cfg.region
            ),
        )),
        _ => Ok(()),
    }
}

pub fn vpc_not_found(id: &str) -> ApiError {
    ApiError::new(
        404,
        "InvalidVpcId.NotFound",
        format!("Specified VPC does not exist. ({id})"),
    )
}

pub fn vswitch_not_found(id: &str) -> ApiError {
    ApiError::new(
        404,
        "InvalidVSwitchId.NotFound",
        format!("Specified virtual switch does not exist. ({id})"),
    )
}

/// `Pending` until ready, then `Available`.
fn status(meta: &infra::Meta) -> &'static str {
    if meta.ready() { "Available" } else { "Pending" }
}

pub fn tags_json(tags: &[Tag]) -> Value {
    json!({"Tag": tags.iter().map(|t| json!({"Key": t.key, "Value": t.value})).collect::<Vec<_>>()})
}

/// `a.b.c.d/m` → (network address as u32, mask length), requiring the host bits be zero.
pub fn parse_cidr(s: &str) -> Option<(u32, u8)> {
    let (ip, mask) = s.split_once('/')?;
    let ip: std::net::Ipv4Addr = ip.parse().ok()?;
    let mask: u8 = mask.parse().ok().filter(|m| *m <= 32)?;
    let ip = u32::from(ip);
    let host_bits = if mask == 0 {
        u32::MAX
    } else {
        (1u32 << (32 - mask)) - 1
    };
    (ip & host_bits == 0).then_some((ip, mask))
}

fn cidr_contains(outer: (u32, u8), inner: (u32, u8)) -> bool {
    inner.1 >= outer.1 && {
        let m = if outer.1 == 0 {
            0
        } else {
            u32::MAX << (32 - outer.1)
        };
        inner.0 & m == outer.0
    }
}

fn cidr_overlaps(a: (u32, u8), b: (u32, u8)) -> bool {
    cidr_contains(a, b) || cidr_contains(b, a)
}

fn malformed_cidr(cidr: &str, why: &str) -> ApiError {
    ApiError::new(
        400,
        "InvalidCidrBlock.Malformed",
        format!("Specified CIDR block is not valid. ({cidr}: {why})"),
    )
}

/// Names: 1–128 characters, not starting with `http://` or `https://`.
fn check_name(field: &str, name: Option<&str>) -> Result<(), ApiError> {
    if let Some(n) = name
        && (n.chars().count() > 128 || n.starts_with("http://") || n.starts_with("https://"))
    {
        return Err(invalid(
            field,
            "1–128 characters, not starting with http:// or https://",
        ));
    }
    Ok(())
}

/// The id an earlier request with this `ClientToken` created, if any.
pub fn token_hit(s: &Infra, product: &str, action: &str, p: &Params) -> Option<(String, String)> {
    let t = p.get("ClientToken")?;
    let key = format!("{product}:{action}:{t}");
    Some((key.clone(), s.client_tokens.get(&key)?.clone()))
}

pub fn remember_token(s: &mut Infra, product: &str, action: &str, p: &Params, id: &str) {
    if let Some(t) = p.get("ClientToken") {
        s.client_tokens
            .insert(format!("{product}:{action}:{t}"), id.to_string());
    }
}

fn vpc_json(ctx: &Ctx, s: &Infra, v: &Vpc) -> Value {
    let vsws: Vec<&str> = s
        .vswitches
        .values()
        .filter(|w| w.vpc_id == v.id)
        .map(|w| w.id.as_str())
        .collect();
    json!({
        "VpcId": v.id,
        "VpcName": v.name,
        "CidrBlock": v.cidr_block,
        "Description": v.description,
        "Status": status(&v.meta),
        "RegionId": ctx.cfg.region,
        "IsDefault": false,
        "VRouterId": v.v_router_id,
        "RouterTableIds": {"RouterTableIds": [v.route_table_id]},
        "VSwitchIds": {"VSwitchId": vsws},
        "CreationTime": v.meta.created,
        "OwnerId": ctx.cfg.account_id.parse::<u64>().unwrap_or(0),
        "ResourceGroupId": "",
        "Tags": tags_json(&v.tags),
    })
}

fn page_json(
    total: usize,
    number: u64,
    size: u64,
    key: &str,
    inner: &str,
    items: Vec<Value>,
) -> Value {
    json!({
        "TotalCount": total,
        "PageNumber": number,
        "PageSize": size,
        key: {inner: items},
    })
}

fn describe_vpcs(ctx: &Ctx, p: &Params) -> Answer {
    check_region(ctx, p, true)?;
    let (number, size) = p.page(10, MAX_PAGE)?;
    let tags = p.tags()?;
    let ids: Option<Vec<&str>> = p
        .get("VpcId")
        .map(|v| v.split(',').map(str::trim).collect());
    let is_default = p.bool("IsDefault")?;
    let st = ctx.store.read();
    let s = &st.infra;
    let mut all: Vec<&Vpc> = s
        .vpcs
        .values()
        .filter(|v| ids.as_ref().is_none_or(|ids| ids.contains(&v.id.as_str())))
        .filter(|v| p.get("VpcName").is_none_or(|n| n == v.name))
        // Nothing here is a default VPC (fcctl never uses one).
        .filter(|_| is_default != Some(true))
        .filter(|v| tags_match(&v.tags, &tags))
        .collect();
    all.sort_by_key(|v| v.meta.created_ms);
    let items: Vec<Value> = page_of(&all, number, size)
        .into_iter()
        .map(|v| vpc_json(ctx, s, v))
        .collect();
    Ok(page_json(all.len(), number, size, "Vpcs", "Vpc", items))
}

fn create_vpc(ctx: &Ctx, p: &Params) -> Answer {
    check_region(ctx, p, true)?;
    let cidr = p.get_or("CidrBlock", "172.16.0.0/12").to_string();
    let (_, mask) = parse_cidr(&cidr)
        .ok_or_else(|| malformed_cidr(&cidr, "not a network address a.b.c.d/n"))?;
    if !(8..=28).contains(&mask) {
        return Err(malformed_cidr(&cidr, "the mask must be 8..=28"));
    }
    check_name("VpcName", p.get("VpcName"))?;
    let tags = p.tags()?;
    let delay = ctx.cfg.infra_delay.as_millis() as u64;
    ctx.store.update(|st| {
        let s = &mut st.infra;
        let id = match token_hit(s, "vpc", "CreateVpc", p) {
            Some((_, id)) if s.vpcs.contains_key(&id) => id,
            _ => {
                let v = Vpc {
                    id: infra::new_id("vpc", 22),
                    name: p.get_or("VpcName", "").into(),
                    cidr_block: cidr.clone(),
                    description: p.get_or("Description", "").into(),
                    v_router_id: infra::new_id("vrt", 22),
                    route_table_id: infra::new_id("vtb", 22),
                    tags: tags.clone(),
                    meta: infra::Meta::new(delay),
                };
                let id = v.id.clone();
                s.vpcs.insert(id.clone(), v);
                remember_token(s, "vpc", "CreateVpc", p, &id);
                id
            }
        };
        let v = &s.vpcs[&id];
        Ok(json!({
            "VpcId": v.id,
            "VRouterId": v.v_router_id,
            "RouteTableId": v.route_table_id,
            "ResourceGroupId": "",
        }))
    })
}

fn delete_vpc(ctx: &Ctx, p: &Params) -> Answer {
    check_region(ctx, p, false)?;
    let id = p.required("VpcId")?.to_string();
    ctx.store.update(|st| {
        let s = &mut st.infra;
        let v = s.vpcs.get(&id).ok_or_else(|| vpc_not_found(&id))?;
        if !v.meta.ready() {
            return Err(ApiError::new(
                400,
                "IncorrectVpcStatus",
                "The current VPC status does not support this operation. (it is still Pending)",
            ));
        }
        if let Some(w) = s.vswitches.values().find(|w| w.vpc_id == id) {
            return Err(ApiError::new(
                400,
                "DependencyViolation.VSwitch",
                format!(
                    "Specified object has dependent resources. (vSwitch {} is in VPC {id})",
                    w.id
                ),
            ));
        }
        if let Some(g) = s.security_groups.values().find(|g| g.vpc_id == id) {
            return Err(ApiError::new(
                400,
                "DependencyViolation.SecurityGroup",
                format!(
                    "Specified object has dependent resources. (security group {} is in VPC {id})",
                    g.id
                ),
            ));
        }
        s.vpcs.remove(&id);
        Ok(json!({}))
    })
}

fn vswitch_json(ctx: &Ctx, w: &VSwitch) -> Value {
    let (_, mask) = parse_cidr(&w.cidr_block).unwrap_or((0, 32));
    // The cloud keeps 4 addresses of each vSwitch (network, gateway, two reserved).
    let usable = (1u64 << (32 - mask as u32)).saturating_sub(4);
    json!({
        "VSwitchId": w.id,
        "VpcId": w.vpc_id,
        "ZoneId": w.zone_id,
        "VSwitchName": w.name,
        "CidrBlock": w.cidr_block,
        "Description": w.description,
        "Status": status(&w.meta),
        "AvailableIpAddressCount": usable,
        "IsDefault": false,
        "CreationTime": w.meta.created,
        "OwnerId": ctx.cfg.account_id.parse::<u64>().unwrap_or(0),
        "ResourceGroupId": "",
        "ShareType": "Sharing",
        "RouteTable": {"RouteTableId": "", "RouteTableType": "System"},
        "Tags": tags_json(&w.tags),
    })
}

fn describe_vswitches(ctx: &Ctx, p: &Params) -> Answer {
    if p.get("RegionId").is_none() && p.get("VpcId").is_none() {
        return Err(super::params::missing("RegionId"));
    }
    check_region(ctx, p, false)?;
    let (number, size) = p.page(10, MAX_PAGE)?;
    let tags = p.tags()?;
    let st = ctx.store.read();
    let mut all: Vec<&VSwitch> = st
        .infra
        .vswitches
        .values()
        .filter(|w| p.get("VpcId").is_none_or(|v| v == w.vpc_id))
        .filter(|w| {
            p.get("VSwitchId")
                .is_none_or(|v| v.split(',').any(|v| v.trim() == w.id))
        })
        .filter(|w| p.get("ZoneId").is_none_or(|v| v == w.zone_id))
        .filter(|w| p.get("VSwitchName").is_none_or(|v| v == w.name))
        .filter(|w| tags_match(&w.tags, &tags))
        .collect();
    all.sort_by_key(|w| w.meta.created_ms);
    let items = page_of(&all, number, size)
        .into_iter()
        .map(|w| vswitch_json(ctx, w))
        .collect();
    Ok(page_json(
        all.len(),
        number,
        size,
        "VSwitches",
        "VSwitch",
        items,
    ))
}

fn create_vswitch(ctx: &Ctx, p: &Params) -> Answer {
    check_region(ctx, p, false)?;
    let vpc_id = p.required("VpcId")?.to_string();
    let zone = p.required("ZoneId")?.to_string();
    let cidr = p.required("CidrBlock")?.to_string();
    check_name("VSwitchName", p.get("VSwitchName"))?;
    let tags = p.tags()?;
    if !zone_ids(&ctx.cfg.region).contains(&zone) {
        return Err(ApiError::new(
            404,
            "InvalidZoneId.NotFound",
            format!(
                "Specified zone does not exist. ({zone}; DescribeZones lists {})",
                zone_ids(&ctx.cfg.region).join(", ")
            ),
        ));
    }
    let net = parse_cidr(&cidr)
        .ok_or_else(|| malformed_cidr(&cidr, "not a network address a.b.c.d/n"))?;
    if !(16..=29).contains(&net.1) {
        return Err(malformed_cidr(&cidr, "the mask must be 16..=29"));
    }
    let delay = ctx.cfg.infra_delay.as_millis() as u64;
    ctx.store.update(|st| {
        let s = &mut st.infra;
        if let Some((_, id)) = token_hit(s, "vpc", "CreateVSwitch", p)
            && s.vswitches.contains_key(&id)
        {
            return Ok(json!({"VSwitchId": id}));
        }
        let vpc = s.vpcs.get(&vpc_id).ok_or_else(|| vpc_not_found(&vpc_id))?;
        if !vpc.meta.ready() {
            return Err(ApiError::new(
                400,
                "IncorrectVpcStatus",
                format!("The current VPC status does not support this operation. ({vpc_id} is still Pending)"),
            ));
        }
        let outer = parse_cidr(&vpc.cidr_block).unwrap_or((0, 0));
        if !cidr_contains(outer, net) {
            return Err(malformed_cidr(
                &cidr,
                &format!("it must lie within the VPC's {}", vpc.cidr_block),
            ));
        }
        if let Some(w) = s.vswitches.values().find(|w| {
            w.vpc_id == vpc_id && parse_cidr(&w.cidr_block).is_some_and(|c| cidr_overlaps(c, net))
        }) {
            return Err(ApiError::new(
                400,
                "InvalidCidrBlock.Overlapped",
                format!(
                    "Specified CIDR block overlapped with other vswitch. ({cidr} overlaps {} of {})",
                    w.cidr_block, w.id
                ),
            ));
        }
        let w = VSwitch {
            id: infra::new_id("vsw", 22),
            vpc_id: vpc_id.clone(),
            zone_id: zone.clone(),
            name: p.get_or("VSwitchName", "").into(),
            cidr_block: cidr.clone(),
            description: p.get_or("Description", "").into(),
            tags: tags.clone(),
            meta: infra::Meta::new(delay),
        };
        let id = w.id.clone();
        s.vswitches.insert(id.clone(), w);
        remember_token(s, "vpc", "CreateVSwitch", p, &id);
        Ok(json!({"VSwitchId": id}))
    })
}

fn delete_vswitch(ctx: &Ctx, p: &Params) -> Answer {
    check_region(ctx, p, false)?;
    let id = p.required("VSwitchId")?.to_string();
    ctx.store.update(|st| {
        let users: Vec<String> = st
            .functions
            .iter()
            .filter(|(_, f)| {
                f.config["vpcConfig"]["vSwitchIds"]
                    .as_array()
                    .is_some_and(|a| a.iter().any(|v| v == id.as_str()))
            })
            .map(|(name, _)| format!("function {name}"))
            .collect();
        let s = &mut st.infra;
        let w = s.vswitches.get(&id).ok_or_else(|| vswitch_not_found(&id))?;
        if !w.meta.ready() {
            return Err(ApiError::new(
                400,
                "IncorrectVSwitchStatus",
                format!("vpc subnet status not working. ({id} is still Pending)"),
            ));
        }
        let mut users = users;
        users.extend(
            s.mount_targets
                .values()
                .filter(|m| m.vswitch_id == id)
                .map(|m| format!("NAS mount target {}", m.domain)),
        );
        if !users.is_empty() {
            return Err(ApiError::new(
                400,
                "DependencyViolation",
                format!(
                    "Specified object has dependent resources. ({id} is used by {})",
                    users.join(", ")
                ),
            ));
        }
        s.vswitches.remove(&id);
        Ok(json!({}))
    })
}

fn describe_zones(ctx: &Ctx, p: &Params) -> Answer {
    check_region(ctx, p, true)?;
    let zones: Vec<Value> = zone_ids(&ctx.cfg.region)
        .iter()
        .map(|z| {
            let letter = z.rsplit('-').next().unwrap_or("").to_uppercase();
            json!({"ZoneId": z, "LocalName": format!("Zone {letter}"), "ZoneType": "AvailabilityZone"})
        })
        .collect();
    Ok(json!({"Zones": {"Zone": zones}}))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidrs_parse_and_nest() {
        assert_eq!(parse_cidr("10.0.0.0/16"), Some((0x0a00_0000, 16)));
        assert_eq!(parse_cidr("10.0.0.1/16"), None, "host bits set");
        assert_eq!(parse_cidr("10.0.0.0/33"), None);
        assert_eq!(parse_cidr("10.0.0.0"), None);
        let vpc = parse_cidr("10.0.0.0/16").unwrap();
        assert!(cidr_contains(vpc, parse_cidr("10.0.3.0/24").unwrap()));
        assert!(!cidr_contains(vpc, parse_cidr("10.1.0.0/24").unwrap()));
        assert!(!cidr_contains(vpc, parse_cidr("10.0.0.0/8").unwrap()));
        assert!(cidr_overlaps(
            parse_cidr("10.0.0.0/24").unwrap(),
            parse_cidr("10.0.0.128/25").unwrap()
        ));
        assert!(!cidr_overlaps(
            parse_cidr("10.0.0.0/24").unwrap(),
            parse_cidr("10.0.1.0/24").unwrap()
        ));
    }
}
