//! NAS 2017-06-26: zones, General-purpose (`standard`) file systems and VPC mount targets.
//! A file system is a directory, `<data_dir>/nas-fs/<id>/`; a function whose `serverAddr`
//! names one of its mount targets mounts that directory (runtime/spec.rs). A new file system
//! is `Pending` then `Running`, a mount target `Pending` then `Active`; a file system with
//! mount targets cannot be deleted.

use super::Answer;
use super::params::{Params, invalid, page_of};
use super::vpc::{
    check_region, remember_token, tags_json, token_hit, vpc_not_found, vswitch_not_found, zone_ids,
};
use crate::api_error::ApiError;
use crate::context::Ctx;
use crate::infra::{self, FileSystem, Infra, MountTarget, fs_dir, tags_match};
use serde_json::{Value, json};
use std::path::Path;

pub const ACTIONS: &[&str] = &[
    "DescribeZones",
    "DescribeFileSystems",
    "CreateFileSystem",
    "DeleteFileSystem",
    "DescribeMountTargets",
    "CreateMountTarget",
    "DeleteMountTarget",
];

/// The only permission group of a new account, the one VPC mount targets take by default.
pub const DEFAULT_VPC_ACCESS_GROUP: &str = "DEFAULT_VPC_GROUP_NAME";

/// DescribeFileSystems / DescribeMountTargets: PageSize 1–100, default 10.
const MAX_PAGE: u64 = 100;

pub fn run(ctx: &Ctx, action: &str, p: &Params) -> Answer {
    match action {
        "DescribeZones" => describe_zones(ctx, p),
        "DescribeFileSystems" => describe_file_systems(ctx, p),
        "CreateFileSystem" => create_file_system(ctx, p),
        "DeleteFileSystem" => delete_file_system(ctx, p),
        "DescribeMountTargets" => describe_mount_targets(ctx, p),
        "CreateMountTarget" => create_mount_target(ctx, p),
        "DeleteMountTarget" => delete_mount_target(ctx, p),
        _ => unreachable!("rpc/mod.rs checks the action list"),
    }
}

/// A storage type and the protocols it is sold over.
pub type Offer = (&'static str, &'static [&'static str]);

/// What each zone of the region sells for General-purpose NAS, as (storage type, protocols):
/// zone a only Performance, zone b Capacity and Performance, zone c none — so a caller that
/// wants Capacity over NFS in a zone where it also has a vSwitch must look it up.
pub fn zones(region: &str) -> Vec<(String, Vec<Offer>)> {
    let ids = zone_ids(region);
    vec![
        (ids[0].clone(), vec![("Performance", &["nfs", "smb"][..])]),
        (
            ids[1].clone(),
            vec![
                ("Capacity", &["nfs"][..]),
                ("Performance", &["nfs", "smb"][..]),
            ],
        ),
    ]
}

fn offers(region: &str, zone: &str, storage: &str, protocol: &str) -> bool {
    zones(region).iter().any(|(z, offered)| {
        z == zone
            && offered.iter().any(|(s, ps)| {
                s.eq_ignore_ascii_case(storage)
                    && ps.iter().any(|p| p.eq_ignore_ascii_case(protocol))
            })
    })
}

fn fs_not_found(id: &str) -> ApiError {
    ApiError::new(
        404,
        "InvalidFileSystem.NotFound",
        format!("The specified file system does not exist. ({id})"),
    )
}

fn describe_zones(ctx: &Ctx, p: &Params) -> Answer {
    check_region(ctx, p, true)?;
    let fs_type = p.get_or("FileSystemType", "standard");
    let list: Vec<Value> = match fs_type {
        "standard" => zones(&ctx.cfg.region)
            .into_iter()
            .map(|(z, offered)| {
                let protocols = |storage: &str| -> Vec<&str> {
                    offered
                        .iter()
                        .filter(|(s, _)| *s == storage)
                        .flat_map(|(_, ps)| ps.iter().copied())
                        .collect()
                };
                let types: Vec<Value> = offered
                    .iter()
                    .flat_map(|(s, ps)| {
                        ps.iter()
                            .map(move |p| json!({"StorageType": s, "ProtocolType": p}))
                    })
                    .collect();
                json!({
                    "ZoneId": z,
                    "InstanceTypes": {"InstanceType": types},
                    "Capacity": {"Protocol": protocols("Capacity")},
                    "Performance": {"Protocol": protocols("Performance")},
                })
            })
            .collect(),
        // Extreme NAS and CPFS are sold nowhere in the emulator's region.
        "extreme" | "cpfs" => Vec::new(),
        other => {
            return Err(invalid(
                "FileSystemType",
                format!("`{other}`: standard, extreme or cpfs"),
            ));
        }
    };
    Ok(json!({"Zones": {"Zone": list}}))
}

fn mount_target_json(m: &MountTarget) -> Value {
    json!({
        "MountTargetDomain": m.domain,
        "NetworkType": "Vpc",
        "VpcId": m.vpc_id,
        "VswId": m.vswitch_id,
        "AccessGroup": m.access_group,
        "Status": if m.meta.ready() { "Active" } else { "Pending" },
        "IPVersion": "IPV4",
        "DualStackMountTargetDomain": "",
        "Tags": {"Tag": []},
    })
}

/// Bytes under `dir` (the cloud reports the last hour's peak; the emulator the current size).
fn metered_size(dir: &Path) -> u64 {
    let mut total = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            match e.file_type() {
                Ok(t) if t.is_dir() => stack.push(e.path()),
                Ok(t) if t.is_file() => total += e.metadata().map(|m| m.len()).unwrap_or(0),
                _ => {}
            }
        }
    }
    total
}

fn fs_json(ctx: &Ctx, s: &Infra, f: &FileSystem) -> Value {
    let mts: Vec<Value> = s
        .mount_targets
        .values()
        .filter(|m| m.file_system_id == f.id)
        .map(|m| {
            json!({
                "MountTargetDomain": m.domain,
                "NetworkType": "Vpc",
                "VpcId": m.vpc_id,
                "VswId": m.vswitch_id,
                "AccessGroupName": m.access_group,
                "Status": if m.meta.ready() { "Active" } else { "Pending" },
            })
        })
        .collect();
    json!({
        "FileSystemId": f.id,
        "FileSystemType": f.file_system_type,
        "ProtocolType": f.protocol_type,
        "StorageType": f.storage_type,
        "Status": if f.meta.ready() { "Running" } else { "Pending" },
        "ZoneId": f.zone_id,
        "RegionId": ctx.cfg.region,
        "Description": f.description,
        "CreateTime": f.meta.created,
        "ChargeType": "PayAsYouGo",
        "EncryptType": 0,
        "MeteredSize": metered_size(&fs_dir(&ctx.info.data_dir, &f.id)),
        "ResourceGroupId": "",
        "MountTargets": {"MountTarget": mts},
        "SupportedFeatures": {"SupportedFeature": []},
        "Tags": tags_json(&f.tags),
    })
}

fn describe_file_systems(ctx: &Ctx, p: &Params) -> Answer {
    let (number, size) = p.page(10, MAX_PAGE)?;
    let tags = p.tags()?;
    let fs_type = p.get_or("FileSystemType", "all");
    if !matches!(fs_type, "all" | "standard" | "extreme" | "cpfs") {
        return Err(invalid(
            "FileSystemType",
            format!("`{fs_type}`: all, standard, extreme or cpfs"),
        ));
    }
    let st = ctx.store.read();
    let s = &st.infra;
    let mut all: Vec<&FileSystem> = s
        .file_systems
        .values()
        .filter(|f| p.get("FileSystemId").is_none_or(|id| id == f.id))
        .filter(|f| fs_type == "all" || fs_type == f.file_system_type)
        .filter(|f| p.get("StorageType").is_none_or(|t| t == f.storage_type))
        .filter(|f| {
            p.get("VpcId").is_none_or(|v| {
                s.mount_targets
                    .values()
                    .any(|m| m.file_system_id == f.id && m.vpc_id == v)
            })
        })
        .filter(|f| tags_match(&f.tags, &tags))
        .collect();
    all.sort_by_key(|f| f.meta.created_ms);
    let items: Vec<Value> = page_of(&all, number, size)
        .into_iter()
        .map(|f| fs_json(ctx, s, f))
        .collect();
    Ok(json!({
        "TotalCount": all.len(),
        "PageNumber": number,
        "PageSize": size,
        "FileSystems": {"FileSystem": items},
    }))
}

fn create_file_system(ctx: &Ctx, p: &Params) -> Answer {
    let fs_type = p.get_or("FileSystemType", "standard");
    if fs_type != "standard" {
        return Err(invalid(
            "FileSystemType",
            format!("`{fs_type}`: the emulator sells General-purpose NAS (standard) only"),
        ));
    }
    let protocol = p.required("ProtocolType")?.to_string();
    let storage = p.required("StorageType")?.to_string();
    if !matches!(protocol.as_str(), "NFS" | "SMB") {
        return Err(ApiError::new(
            400,
            "InvalidParameter.ProtocolType",
            format!(
                "The specified ProtocolType is not valid. (`{protocol}`; standard takes NFS or SMB)"
            ),
        ));
    }
    if !matches!(storage.as_str(), "Performance" | "Capacity" | "Premium") {
        return Err(ApiError::new(
            400,
            "InvalidParameter.StorageType",
            format!(
                "The specified StorageType is not valid. (`{storage}`; standard takes Performance, Capacity or Premium)"
            ),
        ));
    }
    let region = ctx.cfg.region.clone();
    let zone = match p.get("ZoneId") {
        Some(z) => {
            if !offers(&region, z, &storage, &protocol) {
                return Err(ApiError::new(
                    400,
                    "InvalidZoneId.NotSupported",
                    format!(
                        "The specified zone does not support the storage type or protocol. ({z} does not sell {storage} over {protocol}; see DescribeZones)"
                    ),
                ));
            }
            z.to_string()
        }
        None => zones(&region)
            .into_iter()
            .map(|(z, _)| z)
            .find(|z| offers(&region, z, &storage, &protocol))
            .ok_or_else(|| {
                ApiError::new(
                    400,
                    "Resource.OutOfStock",
                    format!("No zone of {region} sells {storage} over {protocol}."),
                )
            })?,
    };
    if let Some(d) = p.get("Description")
        && (d.chars().count() < 2 || d.chars().count() > 128 || d.starts_with("http"))
    {
        return Err(invalid(
            "Description",
            "2–128 characters, not starting with http:// or https://",
        ));
    }
    let tags = p.tags()?;
    let delay = ctx.cfg.infra_delay.as_millis() as u64;
    let data_dir = ctx.info.data_dir.clone();
    ctx.store.update(|st| {
        let s = &mut st.infra;
        if let Some((_, id)) = token_hit(s, "nas", "CreateFileSystem", p)
            && s.file_systems.contains_key(&id)
        {
            return Ok(json!({"FileSystemId": id}));
        }
        let id = loop {
            let id = hex_id();
            if !s.file_systems.contains_key(&id) {
                break id;
            }
        };
        std::fs::create_dir_all(fs_dir(&data_dir, &id)).map_err(|e| {
            ApiError::internal(format!("creating the file system's directory: {e}"))
        })?;
        s.file_systems.insert(
            id.clone(),
            FileSystem {
                id: id.clone(),
                file_system_type: "standard".into(),
                protocol_type: protocol.clone(),
                storage_type: storage.clone(),
                zone_id: zone.clone(),
                description: p.get_or("Description", "").into(),
                tags: tags.clone(),
                meta: infra::Meta::new(delay),
            },
        );
        remember_token(s, "nas", "CreateFileSystem", p, &id);
        Ok(json!({"FileSystemId": id}))
    })
}

/// A General-purpose file system id: 10 hex digits (`31a8e4****` in the docs).
fn hex_id() -> String {
    format!("{:010x}", rand::random::<u64>() & 0xff_ffff_ffff)
}

fn delete_file_system(ctx: &Ctx, p: &Params) -> Answer {
    let id = p.required("FileSystemId")?.to_string();
    let data_dir = ctx.info.data_dir.clone();
    ctx.store.update(|st| {
        let s = &mut st.infra;
        if !s.file_systems.contains_key(&id) {
            return Err(fs_not_found(&id));
        }
        let mts: Vec<&str> = s
            .mount_targets
            .values()
            .filter(|m| m.file_system_id == id)
            .map(|m| m.domain.as_str())
            .collect();
        if !mts.is_empty() {
            return Err(ApiError::new(
                400,
                "OperationDenied.HasMountTargets",
                format!(
                    "The file system has mount targets; delete them first. ({id}: {})",
                    mts.join(", ")
                ),
            ));
        }
        // Renamed away first, so a crash mid-removal never leaves a half-deleted tree under
        // the id; the trash is emptied now and again at the next delete.
        let dir = fs_dir(&data_dir, &id);
        let trash = data_dir.join("nas-fs").join(".trash");
        let _ = std::fs::create_dir_all(&trash);
        let gone = trash.join(format!("{id}-{}", crate::util::now_ms()));
        if dir.exists() {
            std::fs::rename(&dir, &gone).map_err(|e| {
                ApiError::internal(format!("removing the file system's directory: {e}"))
            })?;
        }
        s.file_systems.remove(&id);
        if let Ok(rd) = std::fs::read_dir(&trash) {
            for e in rd.flatten() {
                let _ = std::fs::remove_dir_all(e.path());
            }
        }
        Ok(json!({}))
    })
}

fn describe_mount_targets(ctx: &Ctx, p: &Params) -> Answer {
    let id = p.required("FileSystemId")?;
    let (number, size) = p.page(10, MAX_PAGE)?;
    let st = ctx.store.read();
    let s = &st.infra;
    if !s.file_systems.contains_key(id) {
        return Err(fs_not_found(id));
    }
    let mut all: Vec<&MountTarget> = s
        .mount_targets
        .values()
        .filter(|m| m.file_system_id == id)
        .filter(|m| {
            p.get("MountTargetDomain")
                .is_none_or(|d| d.eq_ignore_ascii_case(&m.domain))
        })
        .collect();
    all.sort_by_key(|m| m.meta.created_ms);
    let items: Vec<Value> = page_of(&all, number, size)
        .into_iter()
        .map(mount_target_json)
        .collect();
    Ok(json!({
        "TotalCount": all.len(),
        "PageNumber": number,
        "PageSize": size,
        "MountTargets": {"MountTarget": items},
    }))
}

fn create_mount_target(ctx: &Ctx, p: &Params) -> Answer {
    let id = p.required("FileSystemId")?.to_string();
    let network = p.required("NetworkType")?;
    if network != "Vpc" {
        return Err(invalid(
            "NetworkType",
            format!("`{network}`: only Vpc (the classic network is gone for new accounts)"),
        ));
    }
    let vpc_id = p.required("VpcId")?.to_string();
    let vsw_id = p.required("VSwitchId")?.to_string();
    let group = p.required("AccessGroupName")?.to_string();
    let sg = p.get("SecurityGroupId").map(String::from);
    let delay = ctx.cfg.infra_delay.as_millis() as u64;
    let region = ctx.cfg.region.clone();
    ctx.store.update(|st| {
        let s = &mut st.infra;
        let f = s.file_systems.get(&id).ok_or_else(|| fs_not_found(&id))?;
        if !f.meta.ready() {
            return Err(ApiError::new(
                400,
                "InvalidFileSystemStatus.Ordering",
                format!("The filesystem is ordering now, please check it later. ({id} is still Pending)"),
            ));
        }
        if group != DEFAULT_VPC_ACCESS_GROUP {
            return Err(ApiError::new(
                404,
                "InvalidAccessGroup.NotFound",
                format!("The specified access group does not exist. ({group}; the emulator has {DEFAULT_VPC_ACCESS_GROUP})"),
            ));
        }
        if !s.vpcs.contains_key(&vpc_id) {
            return Err(vpc_not_found(&vpc_id));
        }
        let w = s
            .vswitches
            .get(&vsw_id)
            .filter(|w| w.vpc_id == vpc_id)
            .ok_or_else(|| vswitch_not_found(&vsw_id))?;
        if !w.meta.ready() {
            return Err(ApiError::new(
                400,
                "IncorrectVSwitchStatus",
                format!("vpc subnet status not working. ({vsw_id} is still Pending)"),
            ));
        }
        if let Some(g) = &sg
            && s.security_groups.get(g).is_none_or(|g| g.vpc_id != vpc_id)
        {
            return Err(ApiError::new(
                404,
                "InvalidSecurityGroupId.NotFound",
                format!("The specified SecurityGroupId does not exist. ({g} in {vpc_id})"),
            ));
        }
        if let Some(m) = s
            .mount_targets
            .values()
            .find(|m| m.file_system_id == id && m.vswitch_id == vsw_id)
        {
            return Err(ApiError::new(
                400,
                "InvalidMountTarget.AlreadyExisted",
                format!("The specified mount target already exists. ({})", m.domain),
            ));
        }
        let domain = format!("{id}-{}.{region}.nas.aliyuncs.com", infra::new_id("", 5));
        s.mount_targets.insert(
            domain.clone(),
            MountTarget {
                domain: domain.clone(),
                file_system_id: id.clone(),
                vpc_id: vpc_id.clone(),
                vswitch_id: vsw_id.clone(),
                access_group: group.clone(),
                security_group_id: sg.clone(),
                meta: infra::Meta::new(delay),
            },
        );
        Ok(json!({
            "MountTargetDomain": domain,
            "MountTargetExtra": {"DualStackMountTargetDomain": ""},
        }))
    })
}

fn delete_mount_target(ctx: &Ctx, p: &Params) -> Answer {
    let id = p.required("FileSystemId")?.to_string();
    let domain = p.required("MountTargetDomain")?.to_ascii_lowercase();
    ctx.store.update(|st| {
        let s = &mut st.infra;
        if !s.file_systems.contains_key(&id) {
            return Err(fs_not_found(&id));
        }
        match s.mount_targets.get(&domain) {
            Some(m) if m.file_system_id == id => {}
            _ => {
                return Err(ApiError::new(
                    404,
                    "InvalidMountTarget.NotFound",
                    format!("The specified mount target does not exist. ({domain} of {id})"),
                ));
            }
        }
        s.mount_targets.remove(&domain);
        Ok(json!({}))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zones_differ_in_what_they_sell() {
        let r = "cn-shenzhen";
        assert!(offers(r, "cn-shenzhen-b", "Capacity", "NFS"));
        assert!(
            !offers(r, "cn-shenzhen-a", "Capacity", "NFS"),
            "a: Performance only"
        );
        assert!(offers(r, "cn-shenzhen-a", "Performance", "nfs"));
        assert!(
            !offers(r, "cn-shenzhen-c", "Performance", "NFS"),
            "c: no NAS"
        );
        assert!(!offers(r, "cn-shenzhen-b", "Capacity", "SMB"));
    }

    #[test]
    fn ids_look_like_general_purpose_ids() {
        let id = hex_id();
        assert_eq!(id.len(), 10);
        assert!(id.chars().all(|c| c.is_ascii_hexdigit()), "{id}");
    }
}
