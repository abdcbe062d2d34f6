//! `fcctl destroy`: removes what fcctl created for this app, in reverse dependency order.
//!
//! Two phases: [`plan`] reads the cloud (nothing written) and lists every step; [`execute`]
//! runs them in order. Each delete treats NotFound as done, so a run killed half-way is
//! finished by the next one, and a run after a complete one deletes nothing.

use anyhow::Context as _;
use fcctl_protocol::agent::{Job, ListReply, RemoveReply};
use serde::Serialize;

use crate::aliyun::FcClient;
use crate::aliyun::fc_models::{
    CustomDomain, ListRequest, ListVersionsRequest, PathConfig, RouteConfig,
    UpdateCustomDomainInput,
};
use crate::aliyun::oss::ObjectStore as _;
use crate::cloud::Cloud;
use crate::infra::{self, teardown};
use crate::nas::agent;
use crate::printer::Printer;

/// One resource, as `--json` names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Resource {
    /// `provision_config`, `custom_domain`, `custom_domain_route`, `trigger`, `alias`,
    /// `version`, `function`, `nas_release`, `oss_objects`, `oss_incomplete_uploads`,
    /// `nas_mount_target`, `nas_file_system`, `security_group`, `vswitch`, `vpc`,
    /// `sls_project` or `bucket`.
    pub kind: &'static str,
    pub id: String,
}

/// A resource destroy leaves in place, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Kept {
    pub kind: &'static str,
    pub id: String,
    pub reason: String,
}

/// What `destroy` did (or, with `--dry-run`, would do).
#[derive(Debug, Clone, Serialize)]
pub struct DestroyReport {
    /// Nothing was deleted: `would_delete` lists what a real run deletes.
    pub dry_run: bool,
    /// The app's function.
    pub function: String,
    /// Deleted by this run, in order.
    pub deleted: Vec<Resource>,
    /// With `--dry-run`: what a real run would delete, in order.
    pub would_delete: Vec<Resource>,
    /// Left in place, with the reason.
    pub kept: Vec<Kept>,
    /// Staging objects deleted (or, with `--dry-run`, to delete) under the app's OSS prefix.
    pub oss_objects: usize,
}

/// One delete, in the order [`execute`] runs them.
#[derive(Debug, Clone)]
enum Step {
    Provision {
        function: String,
        qualifier: String,
    },
    Domain {
        name: String,
    },
    /// A shared domain: keep the other functions' routes, drop this function's.
    DomainRoutes {
        name: String,
        protocol: Option<String>,
        keep: Vec<PathConfig>,
        dropped: Vec<String>,
    },
    Trigger {
        function: String,
        name: String,
    },
    Alias {
        function: String,
        name: String,
    },
    Version {
        function: String,
        id: String,
    },
    /// The nas-agent removes the app's releases before it is deleted itself (`--purge-data`).
    NasReleases {
        agent: String,
        ids: Vec<String>,
    },
    Function {
        name: String,
    },
    Objects {
        keys: Vec<String>,
    },
    /// Multipart uploads under the app's prefix never completed (a killed sync or deploy):
    /// (key, upload id). OSS will not delete a bucket while any exists.
    Uploads {
        uploads: Vec<(String, String)>,
    },
    /// Tagged infrastructure (`auto`), in dependency order.
    MountTarget {
        fs: String,
        domain: String,
    },
    FileSystem {
        id: String,
    },
    SecurityGroup {
        id: String,
    },
    VSwitch {
        id: String,
    },
    Vpc {
        id: String,
    },
    SlsProject {
        name: String,
    },
    Bucket {
        name: String,
    },
}

impl Step {
    fn resources(&self, cloud: &Cloud) -> Vec<Resource> {
        let one = |kind, id: String| vec![Resource { kind, id }];
        match self {
            Step::Provision {
                function,
                qualifier,
            } => one("provision_config", format!("{function}/{qualifier}")),
            Step::Domain { name } => one("custom_domain", name.clone()),
            Step::DomainRoutes { name, dropped, .. } => dropped
                .iter()
                .map(|path| Resource {
                    kind: "custom_domain_route",
                    id: format!("{name}{path}"),
                })
                .collect(),
            Step::Trigger { function, name } => one("trigger", format!("{function}/{name}")),
            Step::Alias { function, name } => one("alias", format!("{function}/{name}")),
            Step::Version { function, id } => one("version", format!("{function}/{id}")),
            Step::NasReleases { ids, .. } => ids
                .iter()
                .map(|id| Resource {
                    kind: "nas_release",
                    id: format!("{}/releases/{id}", cloud.cfg.nas_app_dir()),
                })
                .collect(),
            Step::Function { name } => one("function", name.clone()),
            Step::Objects { .. } => one(
                "oss_objects",
                format!("oss://{}/{}/", cloud.oss.bucket(), cloud.cfg.oss_prefix()),
            ),
            Step::Uploads { .. } => one(
                "oss_incomplete_uploads",
                format!("oss://{}/{}/", cloud.oss.bucket(), cloud.cfg.oss_prefix()),
            ),
            Step::MountTarget { domain, .. } => one("nas_mount_target", domain.clone()),
            Step::FileSystem { id } => one("nas_file_system", id.clone()),
            Step::SecurityGroup { id } => one("security_group", id.clone()),
            Step::VSwitch { id } => one("vswitch", id.clone()),
            Step::Vpc { id } => one("vpc", id.clone()),
            Step::SlsProject { name } => one("sls_project", name.clone()),
            Step::Bucket { name } => one("bucket", name.clone()),
        }
    }
}

/// What a destroy will do: read from the cloud, nothing written.
#[derive(Debug, Clone)]
pub struct Plan {
    steps: Vec<Step>,
    kept: Vec<Kept>,
}

impl Plan {
    /// Everything the plan deletes, in order.
    pub fn resources(&self, cloud: &Cloud) -> Vec<Resource> {
        self.steps.iter().flat_map(|s| s.resources(cloud)).collect()
    }

    /// What stays, with the reason.
    pub fn kept(&self) -> &[Kept] {
        &self.kept
    }

    fn object_count(&self) -> usize {
        self.steps
            .iter()
            .map(|s| match s {
                Step::Objects { keys } => keys.len(),
                _ => 0,
            })
            .sum()
    }

    /// The report of a dry run: what would go.
    pub fn dry_run_report(&self, cloud: &Cloud) -> DestroyReport {
        DestroyReport {
            dry_run: true,
            function: cloud.cfg.function_name().into(),
            deleted: Vec::new(),
            would_delete: self.resources(cloud),
            kept: self.kept.clone(),
            oss_objects: self.object_count(),
        }
    }
}

/// Reads what exists for this app; `purge_data` asks the nas-agent which releases are on NAS.
pub async fn plan(cloud: &Cloud, purge_data: bool) -> anyhow::Result<Plan> {
    let cfg = &cloud.cfg;
    let fc = &cloud.fc;
    let function = cfg.function_name().to_string();
    let agent_name = agent::name(cfg);
    let mut steps = Vec::new();
    let mut kept = Vec::new();

    let exists = exists_fn(fc, &function).await?;
    if exists {
        for p in not_found_is_empty(fc.list_all_provision_configs(&function).await)
            .with_context(|| format!("listing provision configs of {function}"))?
        {
            let qualifier = p
                .function_arn
                .as_deref()
                .and_then(provision_qualifier)
                .unwrap_or("LATEST")
                .to_string();
            steps.push(Step::Provision {
                function: function.clone(),
                qualifier,
            });
        }
    }
    for d in all_domains(fc).await.context("listing custom domains")? {
        if let Some(step) = domain_step(&d, &[&function, &agent_name]) {
            steps.push(step);
        }
    }
    if exists {
        for t in all_triggers(fc, &function).await? {
            if let Some(name) = t.trigger_name {
                steps.push(Step::Trigger {
                    function: function.clone(),
                    name,
                });
            }
        }
        for a in not_found_is_empty(fc.list_all_aliases(&function).await)
            .with_context(|| format!("listing aliases of {function}"))?
        {
            if let Some(name) = a.alias_name {
                steps.push(Step::Alias {
                    function: function.clone(),
                    name,
                });
            }
        }
        for id in all_versions(fc, &function).await? {
            steps.push(Step::Version {
                function: function.clone(),
                id,
            });
        }
        steps.push(Step::Function {
            name: function.clone(),
        });
    }

    let nas_dir = cfg.nas_app_dir();
    let agent_exists = exists_fn(fc, &agent_name).await?;
    if purge_data && agent_exists {
        let listed: ListReply = agent::invoke(fc, &agent_name, &Job::List)
            .await
            .context("asking the nas-agent which releases are on NAS")?;
        let ids: Vec<String> = listed.releases.into_iter().map(|r| r.id).collect();
        if !ids.is_empty() {
            steps.push(Step::NasReleases {
                agent: agent_name.clone(),
                ids,
            });
        }
    } else if purge_data {
        kept.push(Kept {
            kind: "nas_data",
            id: nas_dir,
            reason: format!(
                "--purge-data needs the nas-agent function {agent_name} to reach the NAS, and it \
                 does not exist (already destroyed, or never synced): anything left there stays"
            ),
        });
    } else {
        kept.push(Kept {
            kind: "nas_data",
            id: nas_dir,
            reason: "NAS releases (the model files) are kept without --purge-data; the next \
                     `fcctl up` reuses them instead of uploading again"
                .into(),
        });
    }
    if agent_exists {
        steps.push(Step::Function { name: agent_name });
    }

    let tagged = infra::teardown::tagged(crate::pipeline::infra::apis(cloud), &cfg.app)
        .await
        .context("listing the infrastructure tagged for this app")?;
    for (fs, domain) in tagged.mount_targets {
        steps.push(Step::MountTarget { fs, domain });
    }
    for f in tagged.file_systems {
        if purge_data {
            steps.push(Step::FileSystem { id: f.id });
        } else {
            kept.push(Kept {
                kind: "nas_file_system",
                reason: format!(
                    "it holds the model releases ({:.1} MiB stored, billed per GiB-month as \
                     {} NAS); the next `fcctl up` mounts it again instead of uploading; \
                     `fcctl destroy --purge-data` deletes it",
                    f.metered_size as f64 / 1048576.0,
                    f.storage_type
                ),
                id: f.id,
            });
        }
    }
    steps.extend(
        tagged
            .security_groups
            .into_iter()
            .map(|id| Step::SecurityGroup { id }),
    );
    steps.extend(tagged.vswitches.into_iter().map(|id| Step::VSwitch { id }));
    steps.extend(tagged.vpcs.into_iter().map(|id| Step::Vpc { id }));
    if let Some(name) = tagged.sls_project {
        steps.push(Step::SlsProject { name });
    }
    if let Some(arn) = tagged.service_linked_role {
        kept.push(Kept {
            kind: "service_linked_role",
            id: arn,
            reason: "FC's service-linked role serves every function of the account (VPC access, \
                     log delivery); it costs nothing"
                .into(),
        });
    }

    let prefix = format!("{}/", cfg.oss_prefix());
    let bucket = cloud.oss.bucket().to_string();
    match cloud.oss.list(&prefix).await {
        Ok(objects) => {
            if !objects.is_empty() {
                steps.push(Step::Objects {
                    keys: objects.into_iter().map(|o| o.key).collect(),
                });
            }
            let uploads = not_found_is_empty(cloud.oss.list_multipart_uploads(&prefix).await)
                .with_context(|| {
                    format!("listing incomplete uploads of oss://{bucket}/{prefix}")
                })?;
            if !uploads.is_empty() {
                steps.push(Step::Uploads {
                    uploads: uploads.into_iter().map(|u| (u.key, u.upload_id)).collect(),
                });
            }
            let mut auto = cfg.clone();
            auto.oss.bucket = "auto".into();
            if bucket == crate::cloud::bucket_name(&auto, &cloud.account_id) {
                let others = cloud
                    .oss
                    .list("")
                    .await
                    .with_context(|| format!("listing bucket {bucket}"))?
                    .into_iter()
                    .filter(|o| !o.key.starts_with(&prefix))
                    .count();
                if others == 0 {
                    steps.push(Step::Bucket { name: bucket });
                } else {
                    kept.push(Kept {
                        kind: "bucket",
                        id: bucket,
                        reason: format!("it holds {others} object(s) of other apps"),
                    });
                }
            } else {
                kept.push(Kept {
                    kind: "bucket",
                    id: bucket,
                    reason: "not an fcctl-created bucket (`oss.bucket` names it): only the app's \
                             staging objects were removed"
                        .into(),
                });
            }
        }
        Err(e) if e.is_not_found() => {}
        Err(e) => return Err(e).with_context(|| format!("listing oss://{bucket}/{prefix}")),
    }
    Ok(Plan { steps, kept })
}

/// Runs the plan in order; a resource already gone counts as deleted.
pub async fn execute(cloud: &Cloud, plan: Plan, out: &Printer) -> anyhow::Result<DestroyReport> {
    let fc = &cloud.fc;
    let apis = crate::pipeline::infra::apis(cloud);
    let mut deleted = Vec::new();
    let mut kept = plan.kept.clone();
    let oss_objects = plan.object_count();
    for step in &plan.steps {
        let what = step.resources(cloud);
        for r in &what {
            out.note(format!("  - {} {}", r.kind, r.id));
        }
        match step {
            Step::Provision {
                function,
                qualifier,
            } => gone(fc.delete_provision_config(function, qualifier).await)
                .with_context(|| format!("deleting provision config {function}/{qualifier}"))?,
            Step::Domain { name } => gone(fc.delete_custom_domain(name).await)
                .with_context(|| format!("deleting custom domain {name}"))?,
            Step::DomainRoutes {
                name,
                protocol,
                keep,
                ..
            } => {
                let input = UpdateCustomDomainInput {
                    protocol: protocol.clone(),
                    route_config: Some(RouteConfig {
                        routes: Some(keep.clone()),
                    }),
                    ..Default::default()
                };
                gone(fc.update_custom_domain(name, &input).await.map(|_| ()))
                    .with_context(|| format!("removing this app's routes from {name}"))?
            }
            Step::Trigger { function, name } => gone(fc.delete_trigger(function, name).await)
                .with_context(|| format!("deleting trigger {function}/{name}"))?,
            Step::Alias { function, name } => gone(fc.delete_alias(function, name).await)
                .with_context(|| format!("deleting alias {function}/{name}"))?,
            Step::Version { function, id } => gone(fc.delete_function_version(function, id).await)
                .with_context(|| format!("deleting version {function}/{id}"))?,
            Step::NasReleases { agent: name, ids } => {
                let _: RemoveReply = agent::invoke(
                    fc,
                    name,
                    &Job::Remove {
                        releases: ids.clone(),
                    },
                )
                .await
                .context("removing the app's NAS releases")?;
            }
            Step::Function { name } => gone(fc.delete_function(name).await)
                .with_context(|| format!("deleting function {name}"))?,
            Step::Objects { keys } => cloud
                .oss
                .delete_many(keys)
                .await
                .or_else(|e| if e.is_not_found() { Ok(()) } else { Err(e) })
                .context("deleting the app's staging objects")?,
            Step::Uploads { uploads } => {
                for (key, id) in uploads {
                    cloud
                        .oss
                        .abort_multipart(key, id)
                        .await
                        .with_context(|| format!("aborting the multipart upload of {key}"))?;
                }
            }
            Step::MountTarget { fs, domain } => infra_outcome(
                teardown::delete_mount_target(apis, fs, domain).await,
                &what,
                &mut kept,
            )?,
            Step::FileSystem { id } => infra_outcome(
                teardown::delete_file_system(apis, id).await,
                &what,
                &mut kept,
            )?,
            Step::SecurityGroup { id } => infra_outcome(
                teardown::delete_security_group(apis, id).await,
                &what,
                &mut kept,
            )?,
            Step::VSwitch { id } => {
                infra_outcome(teardown::delete_vswitch(apis, id).await, &what, &mut kept)?
            }
            Step::Vpc { id } => {
                infra_outcome(teardown::delete_vpc(apis, id).await, &what, &mut kept)?
            }
            Step::SlsProject { name } => infra_outcome(
                teardown::delete_sls_project(apis, name).await,
                &what,
                &mut kept,
            )?,
            Step::Bucket { name } => match cloud.oss.delete_bucket().await {
                Ok(()) => {}
                // Incomplete multipart uploads of other apps count as content on OSS.
                Err(e) if e.code() == Some("BucketNotEmpty") => {
                    kept.push(Kept {
                        kind: "bucket",
                        id: name.clone(),
                        reason: format!("OSS refused to delete it: {e}"),
                    });
                    continue;
                }
                Err(e) => return Err(e).with_context(|| format!("deleting bucket {name}")),
            },
        }
        if !kept
            .iter()
            .any(|k| what.iter().any(|w| w.id == k.id && w.kind == k.kind))
        {
            deleted.extend(what);
        }
    }
    Ok(DestroyReport {
        dry_run: false,
        function: cloud.cfg.function_name().into(),
        deleted,
        would_delete: Vec::new(),
        kept,
        oss_objects,
    })
}

/// A delete the cloud refused because something else still uses the resource becomes a
/// [`Kept`] entry (a later `fcctl destroy` finishes it); other errors end the run.
fn infra_outcome(
    r: Result<teardown::Deleted, crate::infra::InfraError>,
    what: &[Resource],
    kept: &mut Vec<Kept>,
) -> anyhow::Result<()> {
    match r? {
        teardown::Deleted::Yes => {}
        teardown::Deleted::InUse(why) => kept.extend(what.iter().map(|w| Kept {
            kind: w.kind,
            id: w.id.clone(),
            reason: format!("still in use ({why}); run `fcctl destroy` again once it is free"),
        })),
    }
    Ok(())
}

/// `Ok` when the resource is gone either way (deleted now, or before: a re-run after a kill).
fn gone(r: crate::aliyun::Result<()>) -> crate::aliyun::Result<()> {
    match r {
        Err(e) if e.is_not_found() => Ok(()),
        other => other,
    }
}

fn not_found_is_empty<T>(r: crate::aliyun::Result<Vec<T>>) -> crate::aliyun::Result<Vec<T>> {
    match r {
        Err(e) if e.is_not_found() => Ok(Vec::new()),
        other => other,
    }
}

async fn exists_fn(fc: &FcClient, name: &str) -> anyhow::Result<bool> {
    match fc.get_function(name, None).await {
        Ok(_) => Ok(true),
        Err(e) if e.is_not_found() => Ok(false),
        Err(e) => Err(e).with_context(|| format!("reading function {name}")),
    }
}

/// The qualifier at the end of a provision config's `functionArn`
/// (`…:functions/<name>/<qualifier>`, or `…$<qualifier>`).
fn provision_qualifier(arn: &str) -> Option<&str> {
    let rest = arn.rsplit_once("functions/").map_or(arn, |(_, r)| r);
    let (_, q) = rest.split_once('/').or_else(|| rest.split_once('$'))?;
    Some(q).filter(|q| !q.is_empty())
}

/// Delete a domain that routes only to `ours`; drop `ours`' routes from a shared one.
fn domain_step(d: &CustomDomain, ours: &[&str]) -> Option<Step> {
    let name = d.domain_name.clone()?;
    let routes = d
        .route_config
        .as_ref()
        .and_then(|r| r.routes.clone())
        .unwrap_or_default();
    let is_ours = |r: &PathConfig| {
        r.function_name
            .as_deref()
            .is_some_and(|f| ours.contains(&f))
    };
    let (mine, keep): (Vec<PathConfig>, Vec<PathConfig>) = routes.into_iter().partition(is_ours);
    if mine.is_empty() {
        return None;
    }
    if keep.is_empty() {
        return Some(Step::Domain { name });
    }
    Some(Step::DomainRoutes {
        name,
        protocol: d.protocol.clone(),
        keep,
        dropped: mine.into_iter().filter_map(|r| r.path).collect(),
    })
}

async fn all_domains(fc: &FcClient) -> crate::aliyun::Result<Vec<CustomDomain>> {
    let mut list = ListRequest {
        limit: Some(100),
        ..Default::default()
    };
    let mut all = Vec::new();
    loop {
        let page = fc.list_custom_domains(&list).await?;
        all.extend(page.custom_domains.unwrap_or_default());
        match page.next_token.filter(|t| !t.is_empty()) {
            Some(t) => list.next_token = Some(t),
            None => return Ok(all),
        }
    }
}

async fn all_triggers(
    fc: &FcClient,
    function: &str,
) -> anyhow::Result<Vec<crate::aliyun::fc_models::Trigger>> {
    let mut list = ListRequest {
        limit: Some(100),
        ..Default::default()
    };
    let mut all = Vec::new();
    loop {
        let page = match fc.list_triggers(function, &list).await {
            Ok(p) => p,
            Err(e) if e.is_not_found() => return Ok(all),
            Err(e) => return Err(e).with_context(|| format!("listing triggers of {function}")),
        };
        all.extend(page.triggers.unwrap_or_default());
        match page.next_token.filter(|t| !t.is_empty()) {
            Some(t) => list.next_token = Some(t),
            None => return Ok(all),
        }
    }
}

/// Version ids, newest first (the order FC lists them; any order deletes).
async fn all_versions(fc: &FcClient, function: &str) -> anyhow::Result<Vec<String>> {
    let mut list = ListVersionsRequest {
        limit: Some(100),
        ..Default::default()
    };
    let mut all = Vec::new();
    loop {
        let page = match fc.list_function_versions(function, &list).await {
            Ok(p) => p,
            Err(e) if e.is_not_found() => return Ok(all),
            Err(e) => return Err(e).with_context(|| format!("listing versions of {function}")),
        };
        all.extend(
            page.versions
                .unwrap_or_default()
                .into_iter()
                .filter_map(|v| v.version_id),
        );
        match page.next_token.filter(|t| !t.is_empty()) {
            Some(t) => list.next_token = Some(t),
            None => return Ok(all),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(f: &str, path: &str) -> PathConfig {
        PathConfig {
            function_name: Some(f.into()),
            path: Some(path.into()),
            ..Default::default()
        }
    }

    fn domain(routes: Vec<PathConfig>) -> CustomDomain {
        CustomDomain {
            domain_name: Some("d.example.com".into()),
            protocol: Some("HTTP".into()),
            route_config: Some(RouteConfig {
                routes: Some(routes),
            }),
            ..Default::default()
        }
    }

    #[test]
    fn a_domain_is_deleted_only_when_every_route_is_ours() {
        let ours = ["app", "app-nas-agent"];
        let only = domain(vec![route("app", "/*")]);
        assert!(matches!(
            domain_step(&only, &ours),
            Some(Step::Domain { .. })
        ));
        let shared = domain(vec![route("app", "/*"), route("other", "/o/*")]);
        match domain_step(&shared, &ours) {
            Some(Step::DomainRoutes { keep, dropped, .. }) => {
                assert_eq!(keep, vec![route("other", "/o/*")]);
                assert_eq!(dropped, vec!["/*".to_string()]);
            }
            other => panic!("{other:?}"),
        }
        let foreign = domain(vec![route("other", "/*")]);
        assert!(domain_step(&foreign, &ours).is_none());
    }

    #[test]
    fn provision_qualifier_from_the_arn() {
        assert_eq!(
            provision_qualifier("acs:fc:cn-shenzhen:1:functions/app/prod"),
            Some("prod")
        );
        assert_eq!(
            provision_qualifier("acs:fc:cn-shenzhen:1:functions/app$prod"),
            Some("prod")
        );
        assert_eq!(
            provision_qualifier("acs:fc:cn-shenzhen:1:functions/app"),
            None
        );
    }
}
