//! `fcctl status`: one screen of function, versions, aliases, provision, trigger and domain —
//! and whether they all point at the same qualifier.

use serde::Serialize;

use crate::cloud::Cloud;
use crate::commands::Ctx;
use crate::deploy::plan::domain_name;
use crate::deploy::version_stamp::{list_versions, parse_stamp};

/// Everything `status` shows.
#[derive(Debug, Serialize)]
pub struct StatusReport {
    /// Function name.
    pub function: String,
    /// Whether it exists.
    pub exists: bool,
    /// Runtime, memory, code and release of LATEST.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latest: Option<LatestInfo>,
    /// Published versions, oldest first.
    pub versions: Vec<VersionInfo>,
    /// Aliases.
    pub aliases: Vec<AliasInfo>,
    /// Provision configs.
    pub provision: Vec<ProvisionInfo>,
    /// HTTP trigger.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trigger: Option<TriggerInfo>,
    /// Custom domain.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub custom_domain: Option<DomainInfo>,
    /// What the app runs on: found by tag for `auto` settings, as written for explicit ones
    /// (`null` where not used).
    pub infra: crate::infra::InfraIds,
    /// Problems worth a loud warning (e.g. capacity on a qualifier nothing routes to).
    pub warnings: Vec<String>,
    /// The newest failed `/initialize` of the release alias's version in the last day, from
    /// the function's logs (`null` when none, or when the function has no logs).
    pub last_initialize_failure: Option<crate::pipeline::logs::LoggedFailure>,
    /// What the provisioned instances FC holds now cost a month at that rate (the function's
    /// live size; `null` when it does not exist).
    pub cost: Option<crate::cost::Estimate>,
    /// The newest instance of the release alias's version killed for exceeding its memory
    /// (OOM) in the last day, from the function's logs (`null` when none or no logs).
    pub last_out_of_memory: Option<crate::pipeline::logs::LoggedFailure>,
}

/// LATEST settings.
#[derive(Debug, Serialize)]
pub struct LatestInfo {
    /// Runtime.
    pub runtime: String,
    /// Memory (MB).
    pub memory_mb: i64,
    /// Code CRC-64.
    pub code_checksum: String,
    /// NAS release in its env.
    pub release_id: String,
    /// FC state.
    pub state: String,
}

/// A version.
#[derive(Debug, Serialize)]
pub struct VersionInfo {
    /// Id.
    pub version: String,
    /// NAS release it pins (from fcctl's stamp).
    pub release_id: Option<String>,
    /// Created.
    pub created: String,
}

/// An alias.
#[derive(Debug, Serialize)]
pub struct AliasInfo {
    /// Name.
    pub alias: String,
    /// Main version.
    pub version: String,
    /// Canary weights.
    pub weights: std::collections::BTreeMap<String, f64>,
}

/// A provision config.
#[derive(Debug, Serialize)]
pub struct ProvisionInfo {
    /// Qualifier.
    pub qualifier: String,
    /// Target.
    pub target: i64,
    /// Ready.
    pub current: i64,
    /// Error text, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The trigger.
#[derive(Debug, Serialize)]
pub struct TriggerInfo {
    /// Name.
    pub name: String,
    /// Qualifier it invokes.
    pub qualifier: String,
    /// Public URL.
    pub url: String,
}

/// The custom domain.
#[derive(Debug, Serialize)]
pub struct DomainInfo {
    /// Domain name.
    pub name: String,
    /// Qualifier of this function's route.
    pub qualifier: String,
    /// Route path.
    pub path: String,
    /// Where to send requests (with `Host:` = name) on the emulator; the domain itself on FC.
    pub url: String,
}

/// Collects the status (GET calls only).
pub async fn execute(cloud: &Cloud) -> anyhow::Result<StatusReport> {
    let name = cloud.cfg.function_name().to_string();
    let f = match cloud.fc.get_function(&name, None).await {
        Ok(f) => f,
        Err(e) if e.is_not_found() => {
            return Ok(StatusReport {
                function: name,
                exists: false,
                latest: None,
                versions: vec![],
                aliases: vec![],
                provision: vec![],
                trigger: None,
                custom_domain: None,
                infra: Default::default(),
                warnings: vec![
                    "the function does not exist yet: run `fcctl deploy` or `fcctl up`".into(),
                ],
                last_initialize_failure: None,
                cost: None,
                last_out_of_memory: None,
            });
        }
        Err(e) => return Err(e.into()),
    };
    let latest = LatestInfo {
        runtime: f.runtime.clone().unwrap_or_default(),
        memory_mb: f.memory_size.unwrap_or(0),
        code_checksum: f.code_checksum.clone().unwrap_or_default(),
        release_id: f
            .environment_variables
            .as_ref()
            .and_then(|e| e.get(fcctl_protocol::env::RELEASE).cloned())
            .unwrap_or_default(),
        state: f.state.clone().unwrap_or_default(),
    };
    let versions: Vec<VersionInfo> = list_versions(&cloud.fc, &name)
        .await?
        .into_iter()
        .map(|v| VersionInfo {
            release_id: v
                .description
                .as_deref()
                .and_then(parse_stamp)
                .map(|(_, r)| r),
            version: v.version_id.unwrap_or_default(),
            created: v.created_time.unwrap_or_default(),
        })
        .collect();
    let aliases: Vec<AliasInfo> = cloud
        .fc
        .list_all_aliases(&name)
        .await?
        .into_iter()
        .map(|a| AliasInfo {
            alias: a.alias_name.unwrap_or_default(),
            version: a.version_id.unwrap_or_default(),
            weights: a.additional_version_weight.unwrap_or_default(),
        })
        .collect();
    let configs = cloud.fc.list_all_provision_configs(&name).await?;
    let cost = live_cost(cloud, &f, &configs);
    let provision: Vec<ProvisionInfo> = configs
        .into_iter()
        .map(|p| ProvisionInfo {
            qualifier: p
                .function_arn
                .as_deref()
                .and_then(|arn| arn.rsplit_once('/').map(|(_, q)| q.to_string()))
                .and_then(|q| q.split_once('$').map(|(_, q)| q.to_string()).or(Some(q)))
                .unwrap_or_default(),
            target: p.target.unwrap_or(0),
            current: p.current.unwrap_or(0),
            error: p.current_error.filter(|e| !e.is_empty()),
        })
        .collect();
    let trigger = match cloud.fc.get_trigger(&name, &cloud.cfg.trigger.name).await {
        Ok(t) => Some(TriggerInfo {
            name: t.trigger_name.unwrap_or_default(),
            qualifier: t.qualifier.unwrap_or_else(|| "LATEST".into()),
            url: t
                .http_trigger
                .and_then(|h| h.url_internet)
                .unwrap_or_default(),
        }),
        Err(e) if e.is_not_found() => None,
        Err(e) => return Err(e.into()),
    };
    let mut custom_domain = None;
    if let Some(dn) = domain_name(&cloud.cfg, cloud.local.is_some()) {
        match cloud.fc.get_custom_domain(&dn).await {
            Ok(d) => {
                let route = d
                    .route_config
                    .and_then(|r| r.routes)
                    .unwrap_or_default()
                    .into_iter()
                    .find(|r| r.function_name.as_deref() == Some(name.as_str()));
                if let Some(r) = route {
                    custom_domain = Some(DomainInfo {
                        url: match &cloud.local {
                            Some(l) => l.domain_endpoint.clone(),
                            None => format!("http://{dn}"),
                        },
                        name: dn,
                        qualifier: r.qualifier.unwrap_or_else(|| "LATEST".into()),
                        path: r.path.unwrap_or_default(),
                    });
                }
            }
            Err(e) if e.is_not_found() => {}
            Err(e) => return Err(e.into()),
        }
    }
    let warnings = consistency(
        &cloud.cfg.release.alias,
        &trigger,
        &custom_domain,
        &provision,
        &aliases,
    );
    Ok(StatusReport {
        function: name,
        exists: true,
        latest: Some(latest),
        versions,
        aliases,
        provision,
        trigger,
        custom_domain,
        infra: Default::default(),
        warnings,
        last_initialize_failure: None,
        cost: Some(cost),
        last_out_of_memory: None,
    })
}

/// The instances FC aims at now, held all month. Idle mode counts only when every config
/// holding instances has it: one that allocates CPU always is billed so.
fn live_cost(
    cloud: &Cloud,
    f: &crate::aliyun::fc_models::Function,
    configs: &[crate::aliyun::fc_models::ProvisionConfig],
) -> crate::cost::Estimate {
    use crate::cost::{Held, Provisioned, Sizing, estimate, prices};
    let holding: Vec<_> = configs
        .iter()
        .filter(|p| p.target.unwrap_or(0) > 0)
        .collect();
    let instances: i64 = holding.iter().map(|p| p.target.unwrap_or(0)).sum();
    let sizing = Sizing {
        cpu: f.cpu.unwrap_or(cloud.cfg.function.cpu),
        memory_mb: f
            .memory_size
            .map_or(cloud.cfg.function.memory_mb, |m| m as u32),
        disk_mb: f.disk_size.map_or(cloud.cfg.function.disk_mb, |d| d as u32),
        instance_concurrency: f
            .instance_concurrency
            .map_or(cloud.cfg.function.instance_concurrency, |c| c.max(1) as u32),
    };
    estimate(
        sizing,
        Provisioned {
            held: Held::flat(instances.max(0) as u32),
            idle_mode: !holding.is_empty()
                && holding.iter().all(|p| p.always_allocate_cpu == Some(false)),
        },
        None,
        &prices::resolve(&cloud.cfg.pricing),
    )
}

/// Warns when traffic and provisioned capacity point at different qualifiers.
fn consistency(
    alias: &str,
    trigger: &Option<TriggerInfo>,
    domain: &Option<DomainInfo>,
    provision: &[ProvisionInfo],
    aliases: &[AliasInfo],
) -> Vec<String> {
    let mut w = Vec::new();
    let mut routed: Vec<&str> = Vec::new();
    if let Some(t) = trigger {
        routed.push(&t.qualifier);
        if t.qualifier != alias {
            w.push(format!(
                "the HTTP trigger invokes {} but the release alias is {alias}",
                t.qualifier
            ));
        }
    }
    if let Some(d) = domain {
        routed.push(&d.qualifier);
        if d.qualifier != alias {
            w.push(format!(
                "the custom domain routes to {} but the release alias is {alias}",
                d.qualifier
            ));
        }
    }
    for p in provision.iter().filter(|p| p.target > 0) {
        if !routed.contains(&p.qualifier.as_str()) {
            w.push(format!(
                "{} provisioned instances on {} receive no traffic: the trigger and custom domain route to {} — capacity billed but unused",
                p.target,
                p.qualifier,
                if routed.is_empty() { "nothing".to_string() } else { routed.join(", ") }
            ));
        }
    }
    if !aliases.iter().any(|a| a.alias == alias) && (trigger.is_some() || domain.is_some()) {
        w.push(format!("alias {alias} does not exist, so the trigger and domain cannot serve; run `fcctl up` or `fcctl alias {alias} --version V`"));
    }
    w
}

/// Renders the one-screen view.
pub fn describe(r: &StatusReport) -> String {
    let mut s = String::new();
    let i = &r.infra;
    let infra: Vec<String> = [
        ("vpc", &i.vpc_id),
        ("vswitch", &i.vswitch_id),
        ("security group", &i.security_group_id),
        ("nas", &i.nas_file_system_id),
        ("mount target", &i.nas_mount_target),
        ("sls", &i.sls_project),
        ("role", &i.role_arn),
        ("bucket", &i.bucket),
    ]
    .iter()
    .filter_map(|(k, v)| v.as_ref().map(|v| format!("{k} {v}")))
    .collect();
    if let Some(l) = &r.latest {
        s.push_str(&format!(
            "function   {}  {}  {} MB  state {}  code crc64 {}  release {}\n",
            r.function, l.runtime, l.memory_mb, l.state, l.code_checksum, l.release_id
        ));
    } else {
        s.push_str(&format!("function   {} (not deployed)\n", r.function));
    }
    let vs: Vec<String> = r
        .versions
        .iter()
        .map(|v| format!("{} ({})", v.version, v.release_id.as_deref().unwrap_or("?")))
        .collect();
    s.push_str(&format!(
        "versions   {}\n",
        if vs.is_empty() {
            "none".into()
        } else {
            vs.join(", ")
        }
    ));
    for a in &r.aliases {
        let canary: String = a
            .weights
            .iter()
            .map(|(v, w)| format!(" + {v} at {:.0}%", w * 100.0))
            .collect();
        s.push_str(&format!("alias      {} → {}{canary}\n", a.alias, a.version));
    }
    for p in &r.provision {
        s.push_str(&format!(
            "provision  {}: {}/{} ready{}\n",
            p.qualifier,
            p.current,
            p.target,
            p.error
                .as_deref()
                .map(|e| format!(" — {e}"))
                .unwrap_or_default()
        ));
    }
    if let Some(t) = &r.trigger {
        s.push_str(&format!(
            "trigger    {} → {}  {}\n",
            t.name, t.qualifier, t.url
        ));
    }
    if let Some(d) = &r.custom_domain {
        s.push_str(&format!(
            "domain     {}{} → {}  ({} with Host: {})\n",
            d.name, d.path, d.qualifier, d.url, d.name
        ));
    }
    if !infra.is_empty() {
        s.push_str(&format!("infra      {}\n", infra.join("  ")));
    }
    if let Some(c) = &r.cost {
        s.push_str(&format!("cost       {}; {}\n", c.summary(), c.provenance()));
    }
    if r.warnings.is_empty() && r.exists {
        s.push_str(
            "✓ trigger, custom domain and provisioned instances point at the same qualifier\n",
        );
    }
    for w in &r.warnings {
        s.push_str(&format!("⚠ WARNING: {w}\n"));
    }
    if let Some(f) = &r.last_initialize_failure {
        let rid = f.request_id.as_deref().unwrap_or("?");
        s.push_str(&format!(
            "⚠ /initialize of version {} failed at {}: {}\n  its log lines: fcctl logs --request-id {rid}\n",
            f.version.as_deref().unwrap_or("?"),
            f.time,
            f.cause
        ));
    }
    if let Some(o) = &r.last_out_of_memory {
        s.push_str(&format!(
            "⚠ OOM: an instance of version {} was killed at {} for exceeding its memory (raise function.memory_mb): {}\n",
            o.version.as_deref().unwrap_or("?"),
            o.time,
            o.cause
        ));
    }
    s
}

/// Prints the status.
pub async fn run(ctx: &Ctx) -> anyhow::Result<()> {
    let cloud = ctx.cloud().await?;
    let mut r = execute(&cloud).await?;
    match crate::pipeline::infra::find(&cloud).await {
        Ok(found) => r.infra = found.ids,
        Err(e) => {
            // Status still answers; the ids the last run recorded stand in.
            r.infra = crate::state::State::load(&ctx.project.work_dir())?
                .infra
                .unwrap_or_default();
            r.warnings
                .push(format!("{e:#} (showing the ids recorded by the last run)"));
        }
    }
    let live = r
        .aliases
        .iter()
        .find(|a| a.alias == cloud.cfg.release.alias)
        .map(|a| a.version.clone());
    if let Some(v) = live {
        let day_ago = crate::pipeline::logs::now_unix() - 86_400;
        // Best effort: a function without logs still has a status.
        match crate::pipeline::logs::recent_failures(&cloud, &v, day_ago).await {
            Ok(f) => {
                r.last_initialize_failure = f.initialize;
                r.last_out_of_memory = f.out_of_memory;
            }
            Err(e) => tracing::debug!("status: reading the logs: {e}"),
        }
    }
    ctx.out.result(&r, || describe(&r));
    Ok(())
}
