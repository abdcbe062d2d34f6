//! Desired function / trigger / custom domain, the diff against what exists, and applying it.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use base64::Engine as _;
use serde::Serialize;
use serde_json::Value;

use crate::aliyun::fc_models::{
    CreateCustomDomainInput, CreateFunctionInput, CreateTriggerInput, CustomDomain,
    CustomRuntimeConfig, Function, HttpTriggerConfig, InputCodeLocation, InstanceLifecycleConfig,
    LifecycleHook, LogConfig, NasConfig, NasMountConfig, PathConfig, RouteConfig, Trigger,
    UpdateCustomDomainInput, UpdateFunctionInput, UpdateTriggerInput, VpcConfig,
};
use crate::aliyun::oss::ObjectStore;
use crate::aliyun::{FcClient, oss::OssClient};
use crate::config::{Config, VpcSetting};

/// Code packages above this go through OSS instead of inline base64 (FC: 100 MB of base64).
const INLINE_CODE_LIMIT: u64 = 50 * 1024 * 1024;

/// What fcctl wants to exist.
#[derive(Debug, Clone)]
pub struct Desired {
    /// Function name.
    pub function_name: String,
    /// Managed function settings (no code).
    pub function: UpdateFunctionInput,
    /// CRC-64 of the code package.
    pub code_crc64: String,
    /// The HTTP trigger.
    pub trigger: CreateTriggerInput,
    /// The custom domain and this function's route in it.
    pub domain: Option<DesiredDomain>,
}

/// A custom domain route.
#[derive(Debug, Clone)]
pub struct DesiredDomain {
    /// Domain name.
    pub name: String,
    /// Protocol.
    pub protocol: String,
    /// This function's route.
    pub route: PathConfig,
}

/// One difference between desired and current.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Change {
    /// `function`, `trigger` or `custom_domain`.
    pub resource: &'static str,
    /// Field path, e.g. `memorySize`.
    pub field: String,
    /// Current value (`-` when absent).
    pub from: String,
    /// Desired value.
    pub to: String,
}

/// Create, update, or leave alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Does not exist yet.
    Create,
    /// Exists and differs.
    Update,
    /// Exists and matches.
    None,
}

/// The plan for one deploy.
#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    /// Function action.
    pub function: Action,
    /// Whether the code package must be uploaded.
    pub code: bool,
    /// Trigger action.
    pub trigger: Action,
    /// Custom domain action.
    pub custom_domain: Action,
    /// Every field that changes.
    pub changes: Vec<Change>,
}

impl Plan {
    /// True when nothing would be written.
    pub fn is_noop(&self) -> bool {
        self.function == Action::None
            && !self.code
            && self.trigger == Action::None
            && self.custom_domain == Action::None
    }
}

/// The custom domain fcctl manages: `custom_domain.name`, or for `auto` a name the emulator
/// routes locally. `None` when disabled, and for `auto` on the cloud: fcctl creates no domain
/// there (the test-domain service belongs to Serverless Devs) and the trigger's own URL is
/// the endpoint ([`domain_advice`] says how to add one).
pub fn domain_name(cfg: &Config, local: bool) -> Option<String> {
    if !cfg.custom_domain.enabled {
        return None;
    }
    if cfg.custom_domain.name != "auto" {
        return Some(cfg.custom_domain.name.clone());
    }
    // The emulator routes by Host header; any name works, this one never leaves the machine.
    local.then(|| format!("{}.fcctl.localhost", cfg.function_name()))
}

/// How to serve the app on a domain of one's own, when `auto` left it without one.
pub fn domain_advice(cfg: &Config, local: bool, account_id: &str) -> Option<String> {
    (cfg.custom_domain.enabled && cfg.custom_domain.name == "auto" && !local).then(|| {
        format!(
            "no custom domain (custom_domain.name: auto): the endpoint is the HTTP trigger's URL; \
             to serve a domain you own, CNAME it to {account_id}.{}.fc.aliyuncs.com, set \
             `custom_domain.name: <domain>` in fcctl.yaml and run `fcctl deploy`",
            cfg.region
        )
    })
}

/// The function's NAS mount (shared by the main function and the nas-agent).
pub fn nas_config(cfg: &Config) -> NasConfig {
    NasConfig {
        user_id: Some(cfg.nas.user_id as i64),
        group_id: Some(cfg.nas.group_id as i64),
        mount_points: Some(vec![NasMountConfig {
            server_addr: Some(cfg.nas.server_addr.clone()),
            mount_dir: Some(cfg.nas.mount_dir.clone()),
            enable_tls: None,
        }]),
    }
}

/// Explicit VPC ids, or `None` for `auto` (served locally by the emulator).
/// The function's SLS logging for an explicit `log: {project, logstore}` (what `render` writes
/// too). `auto` (an SLS project fcctl would have to create) and `none` send nothing, leaving
/// whatever the function has.
pub fn log_config(cfg: &Config) -> Option<LogConfig> {
    match &cfg.log {
        crate::config::LogSetting::Explicit(l) => Some(LogConfig {
            project: Some(l.project.clone()),
            logstore: Some(l.logstore.clone()),
            log_begin_rule: Some("DefaultRegex".into()),
            enable_request_metrics: Some(true),
            enable_instance_metrics: Some(true),
            ..Default::default()
        }),
        crate::config::LogSetting::Keyword(_) => None,
    }
}

pub fn vpc_config(cfg: &Config) -> Option<VpcConfig> {
    match &cfg.vpc {
        VpcSetting::Explicit(v) => Some(VpcConfig {
            vpc_id: Some(v.vpc_id.clone()),
            v_switch_ids: Some(v.vswitch_ids.clone()),
            security_group_id: Some(v.security_group_id.clone()),
            role: None,
        }),
        VpcSetting::Auto(_) => None,
    }
}

/// Builds the desired state from config, the NAS release and the built code.
pub fn desired(
    cfg: &Config,
    release_id: Option<&str>,
    code_crc64: &str,
    local: bool,
) -> anyhow::Result<Desired> {
    let f = &cfg.function;
    // `auto` is resolved (pipeline::infra) before a plan is made; reaching here with it is a
    // caller that skipped that step.
    if cfg.nas.server_addr == "auto" {
        bail!(
            "internal: nas.server_addr `auto` was not resolved to a mount target before planning"
        );
    }
    let release = release_id.context(
        "no NAS release yet: run `fcctl nas-sync` first (the function's MODEL_DIR points at it)",
    )?;
    let hook = |timeout: u32| LifecycleHook {
        // Custom runtimes ignore the handler, but FC enables the hook only when it is set.
        handler: Some("true".into()),
        timeout: Some(timeout as i64),
        command: None,
    };
    if matches!(cfg.vpc, VpcSetting::Auto(_)) {
        bail!("internal: `vpc: auto` was not resolved to ids before planning");
    }
    let function = UpdateFunctionInput {
        runtime: Some(f.runtime.as_str().into()),
        handler: Some(crate::s_yaml::FUNCTION_HANDLER.into()),
        memory_size: Some(f.memory_mb as i64),
        cpu: Some(f.cpu),
        disk_size: Some(f.disk_mb as i64),
        timeout: Some(f.timeout_s as i64),
        instance_concurrency: Some(f.instance_concurrency as i64),
        description: Some(f.description.clone()),
        internet_access: Some(true),
        custom_runtime_config: Some(CustomRuntimeConfig {
            command: Some(vec!["/code/bootstrap".into()]),
            port: Some(f.port as i64),
            ..Default::default()
        }),
        instance_lifecycle_config: Some(InstanceLifecycleConfig {
            initializer: Some(hook(f.initializer_timeout_s)),
            pre_stop: Some(hook(f.pre_stop_timeout_s)),
        }),
        environment_variables: Some(crate::s_yaml::release_env(cfg, Some(release))),
        nas_config: Some(nas_config(cfg)),
        vpc_config: vpc_config(cfg),
        log_config: log_config(cfg),
        role: match &cfg.role {
            crate::config::RoleSetting::Arn(arn) => Some(arn.clone()),
            crate::config::RoleSetting::Keyword(_) => None,
        },
        ..Default::default()
    };
    let methods = cfg.trigger.method_names();
    let trigger_config = HttpTriggerConfig {
        auth_type: Some(cfg.trigger.auth_type.as_str().into()),
        methods: Some(methods.clone()),
        disable_url_internet: Some(false),
        ..Default::default()
    };
    let trigger = CreateTriggerInput {
        trigger_name: Some(cfg.trigger.name.clone()),
        trigger_type: Some("http".into()),
        qualifier: Some(cfg.release.alias.clone()),
        trigger_config: Some(trigger_config.to_json_string()),
        ..Default::default()
    };
    let domain = domain_name(cfg, local).map(|name| DesiredDomain {
        name,
        protocol: cfg.custom_domain.protocol.as_str().into(),
        route: PathConfig {
            path: Some(cfg.custom_domain.route.clone()),
            function_name: Some(cfg.function_name().into()),
            qualifier: Some(cfg.domain_qualifier().into()),
            methods: Some(methods),
            rewrite_config: None,
        },
    });
    Ok(Desired {
        function_name: cfg.function_name().into(),
        function,
        code_crc64: code_crc64.into(),
        trigger,
        domain,
    })
}

fn show(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => "-".into(),
        Some(Value::String(s)) => s.clone(),
        Some(v) => v.to_string(),
    }
}

fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        _ => a == b,
    }
}

/// Records a change for every key `desired` sets that `current` lacks or holds differently.
/// Objects recurse (so fields fcctl does not manage are ignored); arrays and maps of env are
/// compared whole.
fn subset_diff(
    resource: &'static str,
    path: &str,
    desired: &Value,
    current: Option<&Value>,
    out: &mut Vec<Change>,
) {
    match (desired, current) {
        (Value::Object(d), c) if path == "environmentVariables" => {
            env_diff(resource, d, c.and_then(Value::as_object), out);
        }
        (Value::Object(d), Some(Value::Object(c))) => {
            for (k, v) in d {
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                subset_diff(resource, &p, v, c.get(k), out);
            }
        }
        // Lists of objects (e.g. NAS mount points) compare element by element, so fields the
        // API adds to each element (such as `enableTLS: false`) are not seen as drift.
        (Value::Array(d), Some(Value::Array(c)))
            if d.len() == c.len() && d.iter().any(Value::is_object) =>
        {
            let before = out.len();
            let mut scratch = Vec::new();
            for (x, y) in d.iter().zip(c) {
                subset_diff(resource, path, x, Some(y), &mut scratch);
            }
            if !scratch.is_empty() {
                out.truncate(before);
                out.push(Change {
                    resource,
                    field: path.into(),
                    from: show(current),
                    to: show(Some(desired)),
                });
            }
        }
        (d, Some(c)) if same(d, c) => {}
        (d, c) => out.push(Change {
            resource,
            field: path.into(),
            from: show(c),
            to: show(Some(d)),
        }),
    }
}

/// One change per environment variable added, changed or removed. Values are shown as a
/// short hash (or `-` when absent) because users keep passwords and tokens there and plans
/// end up in CI logs; the hash still tells "changed" from "same". The variables fcctl sets
/// itself (release, paths) are not secret and are shown in clear, since they explain why a
/// deploy changes the function.
fn env_diff(
    resource: &'static str,
    desired: &serde_json::Map<String, Value>,
    current: Option<&serde_json::Map<String, Value>>,
    out: &mut Vec<Change>,
) {
    let empty = serde_json::Map::new();
    let current = current.unwrap_or(&empty);
    let keys: std::collections::BTreeSet<&String> = desired.keys().chain(current.keys()).collect();
    for key in keys {
        let (want, have) = (desired.get(key), current.get(key));
        if want == have {
            continue;
        }
        let shown = |v: Option<&Value>| {
            if crate::s_yaml::FCCTL_ENV_KEYS.contains(&key.as_str()) {
                show(v)
            } else {
                masked(v)
            }
        };
        out.push(Change {
            resource,
            field: format!("environmentVariables.{key}"),
            from: shown(have),
            to: shown(want),
        });
    }
}

/// `••• (sha256 1a2b3c4d)`: enough to see a value changed, not enough to read it.
fn masked(v: Option<&Value>) -> String {
    use sha2::Digest as _;
    match v {
        None | Some(Value::Null) => "-".into(),
        Some(v) => {
            let text = match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            let digest = sha2::Sha256::digest(text.as_bytes());
            format!("••• (sha256 {})", &hex::encode(digest)[..8])
        }
    }
}

/// Compares the desired state with what exists.
pub fn plan(
    d: &Desired,
    function: Option<&Function>,
    trigger: Option<&Trigger>,
    domain: Option<&CustomDomain>,
) -> Plan {
    let mut changes = Vec::new();
    let want = serde_json::to_value(&d.function).expect("serializes");
    let function_action = match function {
        None => {
            changes.push(Change {
                resource: "function",
                field: "(create)".into(),
                from: "-".into(),
                to: d.function_name.clone(),
            });
            Action::Create
        }
        Some(f) => {
            let have = serde_json::to_value(f).expect("serializes");
            let before = changes.len();
            subset_diff("function", "", &want, Some(&have), &mut changes);
            if changes.len() > before {
                Action::Update
            } else {
                Action::None
            }
        }
    };
    let code = function.and_then(|f| f.code_checksum.as_deref()) != Some(d.code_crc64.as_str());
    if code {
        changes.push(Change {
            resource: "function",
            field: "codeChecksum".into(),
            from: function
                .and_then(|f| f.code_checksum.clone())
                .unwrap_or_else(|| "-".into()),
            to: d.code_crc64.clone(),
        });
    }

    let trigger_action = match trigger {
        None => {
            changes.push(Change {
                resource: "trigger",
                field: "(create)".into(),
                from: "-".into(),
                to: d.trigger.trigger_name.clone().unwrap_or_default(),
            });
            Action::Create
        }
        Some(t) => {
            let before = changes.len();
            let want_cfg: Value =
                serde_json::from_str(d.trigger.trigger_config.as_deref().unwrap_or("{}"))
                    .unwrap_or_default();
            let have_cfg: Value = t
                .trigger_config
                .as_deref()
                .and_then(|s| serde_json::from_str(s).ok())
                .unwrap_or_default();
            subset_diff(
                "trigger",
                "triggerConfig",
                &want_cfg,
                Some(&have_cfg),
                &mut changes,
            );
            let wq = Value::from(d.trigger.qualifier.clone());
            subset_diff(
                "trigger",
                "qualifier",
                &wq,
                Some(&Value::from(t.qualifier.clone())),
                &mut changes,
            );
            if changes.len() > before {
                Action::Update
            } else {
                Action::None
            }
        }
    };

    let domain_action = match (&d.domain, domain) {
        (None, _) => Action::None,
        (Some(dd), None) => {
            changes.push(Change {
                resource: "custom_domain",
                field: "(create)".into(),
                from: "-".into(),
                to: format!(
                    "{} {} → {}",
                    dd.name,
                    show_route(&dd.route),
                    d.function_name
                ),
            });
            Action::Create
        }
        (Some(dd), Some(cur)) => {
            let routes = cur
                .route_config
                .as_ref()
                .and_then(|r| r.routes.clone())
                .unwrap_or_default();
            let existing = routes.iter().find(|r| r.path == dd.route.path);
            let matches = existing.is_some_and(|r| {
                r.function_name == dd.route.function_name
                    && r.qualifier == dd.route.qualifier
                    && r.methods == dd.route.methods
            });
            if matches && cur.protocol.as_deref() == Some(dd.protocol.as_str()) {
                Action::None
            } else {
                changes.push(Change {
                    resource: "custom_domain",
                    field: format!("route {}", dd.route.path.as_deref().unwrap_or("")),
                    from: existing.map(show_route).unwrap_or_else(|| "-".into()),
                    to: show_route(&dd.route),
                });
                Action::Update
            }
        }
    };
    Plan {
        function: function_action,
        code,
        trigger: trigger_action,
        custom_domain: domain_action,
        changes,
    }
}

fn show_route(r: &PathConfig) -> String {
    format!(
        "{} → {}:{} [{}]",
        r.path.as_deref().unwrap_or("?"),
        r.function_name.as_deref().unwrap_or("?"),
        r.qualifier.as_deref().unwrap_or("LATEST"),
        r.methods.clone().unwrap_or_default().join(",")
    )
}

/// What currently exists (absent resources are `None`).
pub struct Current {
    /// The function.
    pub function: Option<Function>,
    /// The trigger.
    pub trigger: Option<Trigger>,
    /// The custom domain.
    pub domain: Option<CustomDomain>,
}

fn absent_if_not_found<T>(r: crate::aliyun::Result<T>) -> anyhow::Result<Option<T>> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Reads the current state (GET calls only).
pub async fn current(fc: &FcClient, d: &Desired) -> anyhow::Result<Current> {
    let function = absent_if_not_found(fc.get_function(&d.function_name, None).await)?;
    let trigger = if function.is_some() {
        let name = d.trigger.trigger_name.as_deref().unwrap_or("http");
        absent_if_not_found(fc.get_trigger(&d.function_name, name).await)?
    } else {
        None
    };
    let domain = match &d.domain {
        Some(dd) => absent_if_not_found(fc.get_custom_domain(&dd.name).await)?,
        None => None,
    };
    Ok(Current {
        function,
        trigger,
        domain,
    })
}

/// Applies a plan: create-or-update function (+ code), wait until Active, trigger, domain.
pub async fn apply(
    fc: &FcClient,
    oss: &OssClient,
    oss_prefix: &str,
    d: &Desired,
    plan: &Plan,
    cur: &Current,
    code_zip: &Path,
) -> anyhow::Result<()> {
    let code = if plan.code {
        Some(upload_code(oss, oss_prefix, d, code_zip).await?)
    } else {
        None
    };
    match plan.function {
        Action::Create => {
            let input: CreateFunctionInput = {
                let mut v = serde_json::to_value(&d.function)?;
                v["functionName"] = d.function_name.clone().into();
                v["code"] = serde_json::to_value(code.clone().context("new function needs code")?)?;
                serde_json::from_value(v)?
            };
            match fc.create_function(&input).await {
                Ok(_) => {}
                // A retried create whose first attempt landed: converge with an update instead.
                Err(e) if e.is_already_exists() => {
                    let mut u = d.function.clone();
                    u.code = code.clone();
                    fc.update_function(&d.function_name, &u).await?;
                }
                Err(e) => return Err(e.into()),
            }
        }
        Action::Update | Action::None if plan.function == Action::Update || code.is_some() => {
            let mut u = if plan.function == Action::Update {
                d.function.clone()
            } else {
                UpdateFunctionInput::default()
            };
            u.code = code.clone();
            fc.update_function(&d.function_name, &u).await?;
        }
        _ => {}
    }
    if plan.function != Action::None || plan.code {
        wait_active(fc, &d.function_name).await?;
    }

    let trigger_name = d.trigger.trigger_name.clone().unwrap_or_default();
    match plan.trigger {
        Action::Create => match fc.create_trigger(&d.function_name, &d.trigger).await {
            Ok(_) => {}
            Err(e) if e.is_already_exists() => {
                fc.update_trigger(&d.function_name, &trigger_name, &trigger_update(d))
                    .await?;
            }
            Err(e) => return Err(e.into()),
        },
        Action::Update => {
            fc.update_trigger(&d.function_name, &trigger_name, &trigger_update(d))
                .await?;
        }
        Action::None => {}
    }

    if let Some(dd) = &d.domain {
        // Keep other functions' routes on a shared domain, replace only ours (like fc3 does).
        let mut routes: Vec<PathConfig> = cur
            .domain
            .as_ref()
            .and_then(|c| c.route_config.as_ref())
            .and_then(|r| r.routes.clone())
            .unwrap_or_default();
        routes.retain(|r| r.path != dd.route.path);
        routes.push(dd.route.clone());
        let route_config = RouteConfig {
            routes: Some(routes),
        };
        match plan.custom_domain {
            Action::Create => {
                let input = CreateCustomDomainInput {
                    domain_name: Some(dd.name.clone()),
                    protocol: Some(dd.protocol.clone()),
                    route_config: Some(route_config.clone()),
                    ..Default::default()
                };
                match fc.create_custom_domain(&input).await {
                    Ok(_) => {}
                    Err(e) if e.is_already_exists() => {
                        fc.update_custom_domain(&dd.name, &domain_update(dd, route_config))
                            .await?;
                    }
                    Err(e) => return Err(e.into()),
                }
            }
            Action::Update => {
                fc.update_custom_domain(&dd.name, &domain_update(dd, route_config))
                    .await?;
            }
            Action::None => {}
        }
    }
    Ok(())
}

fn trigger_update(d: &Desired) -> UpdateTriggerInput {
    UpdateTriggerInput {
        qualifier: d.trigger.qualifier.clone(),
        trigger_config: d.trigger.trigger_config.clone(),
        ..Default::default()
    }
}

fn domain_update(dd: &DesiredDomain, routes: RouteConfig) -> UpdateCustomDomainInput {
    UpdateCustomDomainInput {
        protocol: Some(dd.protocol.clone()),
        route_config: Some(routes),
        ..Default::default()
    }
}

async fn upload_code(
    oss: &OssClient,
    oss_prefix: &str,
    d: &Desired,
    code_zip: &Path,
) -> anyhow::Result<InputCodeLocation> {
    let bytes =
        std::fs::read(code_zip).with_context(|| format!("reading {}", code_zip.display()))?;
    if (bytes.len() as u64) <= INLINE_CODE_LIMIT {
        return Ok(InputCodeLocation {
            zip_file: Some(base64::engine::general_purpose::STANDARD.encode(&bytes)),
            checksum: Some(d.code_crc64.clone()),
            ..Default::default()
        });
    }
    oss.ensure_bucket().await?;
    let key = format!("{oss_prefix}/code/{}.zip", d.code_crc64);
    oss.put_multipart(
        &key,
        code_zip,
        &crate::aliyun::oss::MultipartOptions::default(),
    )
    .await?;
    Ok(InputCodeLocation {
        oss_bucket_name: Some(oss.bucket().to_string()),
        oss_object_name: Some(key),
        checksum: Some(d.code_crc64.clone()),
        ..Default::default()
    })
}

/// Polls GetFunction until the last update finished; errors with FC's reason if it failed.
pub async fn wait_active(fc: &FcClient, name: &str) -> anyhow::Result<Function> {
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        let f = fc.get_function(name, None).await?;
        if f.last_update_status.as_deref() == Some("Failed") || f.state.as_deref() == Some("Failed")
        {
            bail!(
                "function {name} failed to become Active: {} {}",
                f.last_update_status_reason
                    .clone()
                    .or(f.state_reason.clone())
                    .unwrap_or_default(),
                f.last_update_status_reason_code
                    .clone()
                    .or(f.state_reason_code.clone())
                    .unwrap_or_default()
            );
        }
        if !f.is_pending() {
            return Ok(f);
        }
        if Instant::now() > deadline {
            bail!("function {name} is still not Active after 180 s; check `fcctl status`");
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The default config with its `auto` VPC and NAS resolved, as `pipeline::infra` hands
    /// it to the planner.
    fn cfg() -> Config {
        let ids = crate::infra::InfraIds {
            vpc_id: Some("vpc-1".into()),
            vswitch_id: Some("vsw-1".into()),
            security_group_id: Some("sg-1".into()),
            nas_mount_target: Some("mt-1.cn-shenzhen.nas.aliyuncs.com".into()),
            ..Default::default()
        };
        crate::infra::apply(&Config::with_app("cat-dog"), &ids)
    }

    #[test]
    fn unresolved_auto_settings_are_refused_rather_than_sent() {
        let raw = Config::with_app("cat-dog");
        let e = desired(&raw, Some("r"), "1", true).unwrap_err().to_string();
        assert!(e.contains("not resolved"), "{e}");
        // No release yet: nothing to point the function at.
        assert!(desired(&cfg(), None, "1", true).is_err());
    }

    #[test]
    fn create_everything_when_nothing_exists() {
        let d = desired(&cfg(), Some("r-1"), "42", true).unwrap();
        let p = plan(&d, None, None, None);
        assert_eq!(p.function, Action::Create);
        assert!(p.code);
        assert_eq!(p.trigger, Action::Create);
        assert_eq!(p.custom_domain, Action::Create);
        assert!(!p.is_noop());
    }

    #[test]
    fn noop_when_current_matches_and_extra_fields_are_ignored() {
        // A whole vCPU, so the cloud can answer it as the integer 1.
        let mut whole = cfg();
        whole.function.memory_mb = 1024;
        whole.function.cpu = 1.0;
        let d = desired(&whole, Some("r-1"), "42", true).unwrap();
        let mut v = serde_json::to_value(&d.function).unwrap();
        v["codeChecksum"] = "42".into();
        v["functionArn"] = "acs:fc:...".into();
        v["cpu"] = serde_json::json!(1); // 1 vs 1.0 is the same number
        v["nasConfig"]["mountPoints"][0]["enableTLS"] = false.into();
        v["customRuntimeConfig"]["args"] = serde_json::json!([]);
        let f: Function = serde_json::from_value(v).unwrap();
        let t = Trigger {
            trigger_name: Some("http".into()),
            qualifier: Some("prod".into()),
            trigger_config: d.trigger.trigger_config.clone(),
            ..Default::default()
        };
        let dd = d.domain.clone().unwrap();
        let dom = CustomDomain {
            domain_name: Some(dd.name.clone()),
            protocol: Some("HTTP".into()),
            route_config: Some(RouteConfig {
                routes: Some(vec![dd.route.clone()]),
            }),
            ..Default::default()
        };
        let p = plan(&d, Some(&f), Some(&t), Some(&dom));
        assert!(p.is_noop(), "{:#?}", p.changes);

        // A memory change, a new release and new code are each seen.
        let mut c = cfg();
        c.function.memory_mb = 2048;
        let d2 = desired(&c, Some("r-2"), "43", true).unwrap();
        let p = plan(&d2, Some(&f), Some(&t), Some(&dom));
        let fields: Vec<&str> = p.changes.iter().map(|c| c.field.as_str()).collect();
        assert!(fields.contains(&"memorySize"), "{fields:?}");
        assert!(
            fields.contains(&"environmentVariables.FCCTL_RELEASE"),
            "{fields:?}"
        );
        assert!(fields.contains(&"codeChecksum"), "{fields:?}");
        assert_eq!(p.trigger, Action::None);
    }

    #[test]
    fn env_values_are_masked_but_changes_still_show() {
        let mut c = cfg();
        c.function
            .env
            .insert("DB_PASSWORD".into(), "SuperSecret-1".into());
        let d = desired(&c, Some("r-1"), "42", true).unwrap();
        let mut v = serde_json::to_value(&d.function).unwrap();
        v["environmentVariables"]["DB_PASSWORD"] = "SuperSecret-0".into();
        v["environmentVariables"]["OLD_TOKEN"] = "tok-abc".into();
        let f: Function = serde_json::from_value(v).unwrap();
        let p = plan(&d, Some(&f), None, None);
        let text = serde_json::to_string(&p).unwrap();
        for secret in ["SuperSecret", "tok-abc"] {
            assert!(!text.contains(secret), "{secret} leaked: {text}");
        }
        let pw = p
            .changes
            .iter()
            .find(|c| c.field == "environmentVariables.DB_PASSWORD")
            .expect("DB_PASSWORD change");
        assert!(pw.from.starts_with("••• (sha256 ") && pw.to.starts_with("••• (sha256 "));
        assert_ne!(
            pw.from, pw.to,
            "different values must show different hashes"
        );
        let gone = p
            .changes
            .iter()
            .find(|c| c.field == "environmentVariables.OLD_TOKEN")
            .expect("removed key");
        assert_eq!(gone.to, "-");
        // Same value, no change listed.
        assert!(
            p.changes
                .iter()
                .all(|c| c.field != "environmentVariables.FCCTL_RELEASE")
        );
    }

    #[test]
    fn trigger_qualifier_drift_is_an_update() {
        let d = desired(&cfg(), Some("r-1"), "42", true).unwrap();
        let t = Trigger {
            trigger_name: Some("http".into()),
            qualifier: Some("LATEST".into()),
            trigger_config: d.trigger.trigger_config.clone(),
            ..Default::default()
        };
        let p = plan(&d, None, Some(&t), None);
        assert_eq!(p.trigger, Action::Update);
    }

    #[test]
    fn cloud_auto_domain_is_no_domain_with_advice_local_keeps_its_own() {
        let mut c = cfg();
        c.nas.server_addr = "0123-abc.cn-shenzhen.nas.aliyuncs.com:/cat-dog".into();
        c.vpc = VpcSetting::Explicit(crate::config::VpcExplicit {
            vpc_id: "vpc-1".into(),
            vswitch_ids: vec!["vsw-1".into()],
            security_group_id: "sg-1".into(),
        });
        let d = desired(&c, Some("r"), "1", false).unwrap();
        assert!(d.domain.is_none(), "{:?}", d.domain);
        let advice = domain_advice(&c, false, "123").unwrap();
        assert!(advice.contains(&format!("CNAME it to 123.{}.fc.aliyuncs.com", c.region)));
        assert!(advice.contains("custom_domain.name"), "{advice}");
        let p = plan(&d, None, None, None);
        assert_eq!(p.custom_domain, Action::None);

        let local = desired(&cfg(), Some("r"), "1", true).unwrap();
        assert_eq!(local.domain.unwrap().name, "cat-dog.fcctl.localhost");
        assert!(domain_advice(&cfg(), true, "123").is_none());
        c.custom_domain.name = "shop.example.com".into();
        assert!(domain_advice(&c, false, "123").is_none());
        assert_eq!(
            desired(&c, Some("r"), "1", false)
                .unwrap()
                .domain
                .unwrap()
                .name,
            "shop.example.com"
        );
    }
}
