//! The persisted model of the RPC products — VPCs, vSwitches, security groups, NAS file
//! systems and mount targets, RAM roles — kept in `state.json` next to the FC model. Plain
//! data; a resource that takes time to create carries the moment it becomes usable, and its
//! status is computed from the clock when it is read.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tag {
    pub key: String,
    pub value: String,
}

/// Whether a resource's `tags` carry every tag of a `Tag.N` filter; a filter tag without a
/// value matches the key alone.
pub fn tags_match(tags: &[Tag], filter: &[Tag]) -> bool {
    filter.iter().all(|f| {
        tags.iter()
            .any(|t| t.key == f.key && (f.value.is_empty() || t.value == f.value))
    })
}

/// What every resource has: when it was created and when it becomes usable.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Meta {
    pub created: String,
    /// Unix ms of creation (orders listings like the cloud: oldest first).
    pub created_ms: u64,
    /// Unix ms from which the resource is usable (`Available`, `Running`, `Active`).
    pub ready_at_ms: u64,
}

impl Meta {
    pub fn new(delay_ms: u64) -> Meta {
        let now = crate::util::now_ms();
        Meta {
            created: crate::util::now_rfc3339(),
            created_ms: now,
            ready_at_ms: now + delay_ms,
        }
    }

    pub fn ready_at(&self, now_ms: u64) -> bool {
        now_ms >= self.ready_at_ms
    }

    pub fn ready(&self) -> bool {
        self.ready_at(crate::util::now_ms())
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Vpc {
    pub id: String,
    pub name: String,
    pub cidr_block: String,
    pub description: String,
    pub v_router_id: String,
    pub route_table_id: String,
    pub tags: Vec<Tag>,
    pub meta: Meta,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VSwitch {
    pub id: String,
    pub vpc_id: String,
    pub zone_id: String,
    pub name: String,
    pub cidr_block: String,
    pub description: String,
    pub tags: Vec<Tag>,
    pub meta: Meta,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SecurityGroup {
    pub id: String,
    pub vpc_id: String,
    pub name: String,
    pub description: String,
    /// `normal` or `enterprise`.
    pub group_type: String,
    pub tags: Vec<Tag>,
    pub meta: Meta,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FileSystem {
    pub id: String,
    /// `standard` (General-purpose): the only type the emulator sells.
    pub file_system_type: String,
    /// `NFS` or `SMB`.
    pub protocol_type: String,
    /// `Performance`, `Capacity` or `Premium`.
    pub storage_type: String,
    pub zone_id: String,
    pub description: String,
    pub tags: Vec<Tag>,
    pub meta: Meta,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MountTarget {
    /// `<fs id>-<5 chars>.<region>.nas.aliyuncs.com`: its id, and the host a function's
    /// `serverAddr` names.
    pub domain: String,
    pub file_system_id: String,
    pub vpc_id: String,
    pub vswitch_id: String,
    pub access_group: String,
    pub security_group_id: Option<String>,
    pub meta: Meta,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AttachedPolicy {
    pub name: String,
    /// `System` or `Custom`.
    pub policy_type: String,
    pub attach_date: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Role {
    pub id: String,
    /// As created; RAM names are unique regardless of case (the map key is lower case).
    pub name: String,
    pub arn: String,
    pub description: String,
    pub assume_role_policy_document: String,
    pub max_session_duration: u64,
    pub service_linked: bool,
    pub policies: Vec<AttachedPolicy>,
    pub created: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Infra {
    pub vpcs: BTreeMap<String, Vpc>,
    pub vswitches: BTreeMap<String, VSwitch>,
    pub security_groups: BTreeMap<String, SecurityGroup>,
    pub file_systems: BTreeMap<String, FileSystem>,
    /// By mount target domain.
    pub mount_targets: BTreeMap<String, MountTarget>,
    /// By lower-case role name.
    pub roles: BTreeMap<String, Role>,
    /// `<product>:<action>:<ClientToken>` → the id the first request with that token created.
    pub client_tokens: BTreeMap<String, String>,
}

impl Infra {
    /// Mount target domain → the id of its file system, for every mount target there is.
    pub fn mount_target_file_systems(&self) -> BTreeMap<String, String> {
        self.mount_targets
            .iter()
            .map(|(d, m)| (d.clone(), m.file_system_id.clone()))
            .collect()
    }
}

/// The directory behind NAS file system `id`: `<data_dir>/nas-fs/<id>`.
pub fn fs_dir(data_dir: &std::path::Path, id: &str) -> std::path::PathBuf {
    data_dir.join("nas-fs").join(id)
}

/// `<prefix>-<n lower-case letters and digits>`, like `vpc-wz9…`.
pub fn new_id(prefix: &str, n: usize) -> String {
    const CHARS: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let s: String = (0..n)
        .map(|_| CHARS[rand::random_range(0..CHARS.len())] as char)
        .collect();
    if prefix.is_empty() {
        s
    } else {
        format!("{prefix}-{s}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tag(k: &str, v: &str) -> Tag {
        Tag {
            key: k.into(),
            value: v.into(),
        }
    }

    #[test]
    fn tag_filters_need_every_tag_and_an_empty_value_matches_the_key() {
        let tags = [tag("fcctl:app", "cat-dog"), tag("env", "prod")];
        assert!(tags_match(&tags, &[]));
        assert!(tags_match(&tags, &[tag("fcctl:app", "cat-dog")]));
        assert!(tags_match(&tags, &[tag("env", "")]));
        assert!(!tags_match(&tags, &[tag("fcctl:app", "other")]));
        assert!(!tags_match(
            &tags,
            &[tag("fcctl:app", "cat-dog"), tag("team", "")]
        ));
    }

    #[test]
    fn readiness_follows_the_clock() {
        let m = Meta {
            ready_at_ms: 1_000,
            ..Meta::default()
        };
        assert!(!m.ready_at(999));
        assert!(m.ready_at(1_000));
    }

    #[test]
    fn ids_have_the_prefix_and_length() {
        let id = new_id("vpc", 22);
        assert!(id.starts_with("vpc-") && id.len() == 26, "{id}");
        assert_ne!(new_id("vpc", 22), id);
    }
}
