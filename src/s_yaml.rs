//! `s.yaml` for Serverless Devs 3 (`fc3` component), built as a typed struct from the config.
//!
//! Serialising a struct (instead of filling a text template) keeps quoting right and lets tests
//! round-trip and schema-check the output.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::config::{Config, LogSetting, VpcSetting};

/// The whole file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServerlessDevsFile {
    /// Spec version, always `3.0.0`.
    pub edition: String,
    /// Project name.
    pub name: String,
    /// Credential alias.
    pub access: String,
    /// Variables.
    pub vars: BTreeMap<String, String>,
    /// Resources by name.
    pub resources: BTreeMap<String, Resource>,
}

/// One resource.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Resource {
    /// Component name.
    pub component: String,
    /// Component props.
    pub props: Props,
}

/// `fc3` props (the subset fcctl sets), camelCase as the component expects.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Props {
    /// Region.
    pub region: String,
    /// Function name.
    pub function_name: String,
    /// Description.
    pub description: String,
    /// Runtime.
    pub runtime: String,
    /// Entry point; custom runtimes start `customRuntimeConfig.command` instead, but FC3 refuses
    /// a function without one (docs/cloud-facts.md).
    pub handler: String,
    /// Code package path.
    pub code: String,
    /// Memory (MB).
    pub memory_size: u32,
    /// vCPUs.
    pub cpu: f64,
    /// Disk (MB).
    pub disk_size: u32,
    /// Timeout (s).
    pub timeout: u32,
    /// Instance concurrency.
    pub instance_concurrency: u32,
    /// Internet access.
    pub internet_access: bool,
    /// Custom runtime command and port.
    pub custom_runtime_config: CustomRuntimeConfig,
    /// Lifecycle hooks.
    pub instance_lifecycle_config: LifecycleConfig,
    /// Environment.
    pub environment_variables: BTreeMap<String, String>,
    /// NAS: `auto` lets fc3 create the file system, mount target and VPC (its `isAuto`
    /// accepts only the whole block as the string; `serverAddr: auto` would reach FC as is).
    pub nas_config: AutoOr<NasProps>,
    /// VPC.
    pub vpc_config: AutoOr<VpcProps>,
    /// Logs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_config: Option<AutoOr<LogProps>>,
    /// Triggers.
    pub triggers: Vec<TriggerProps>,
    /// Custom domain.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub custom_domain: Option<CustomDomainProps>,
    /// Provisioned instances.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provision_config: Option<ProvisionProps>,
}

/// `"auto"` or an explicit block.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum AutoOr<T> {
    /// The string `auto`.
    Auto(String),
    /// Explicit values.
    Explicit(T),
}

/// `customRuntimeConfig`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CustomRuntimeConfig {
    /// Command.
    pub command: Vec<String>,
    /// Port.
    pub port: u16,
}

/// `instanceLifecycleConfig`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LifecycleConfig {
    /// Initializer hook.
    pub initializer: Hook,
    /// Pre-stop hook.
    pub pre_stop: Hook,
}

/// A lifecycle hook.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Hook {
    /// Handler (ignored by custom runtimes, required by the schema).
    pub handler: String,
    /// Timeout (s).
    pub timeout: u32,
}

/// `nasConfig`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NasProps {
    /// Owner uid.
    pub user_id: u32,
    /// Owner gid.
    pub group_id: u32,
    /// Mount points.
    pub mount_points: Vec<MountPoint>,
}

/// A NAS mount point.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MountPoint {
    /// `<domain>:/<dir>`.
    pub server_addr: String,
    /// Mount dir in the function.
    pub mount_dir: String,
}

/// `vpcConfig`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VpcProps {
    /// VPC id.
    pub vpc_id: String,
    /// vSwitch ids.
    pub v_switch_ids: Vec<String>,
    /// Security group.
    pub security_group_id: String,
}

/// `logConfig`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LogProps {
    /// SLS project.
    pub project: String,
    /// SLS logstore.
    pub logstore: String,
    /// `DefaultRegex`: a line starting with a date starts a new log entry.
    pub log_begin_rule: String,
    /// Request metrics.
    pub enable_request_metrics: bool,
    /// Instance metrics.
    pub enable_instance_metrics: bool,
}

/// A trigger.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TriggerProps {
    /// Name.
    pub trigger_name: String,
    /// Type (`http`).
    pub trigger_type: String,
    /// Qualifier invoked.
    pub qualifier: String,
    /// HTTP trigger config.
    pub trigger_config: HttpTriggerProps,
}

/// HTTP trigger config.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HttpTriggerProps {
    /// `anonymous` | `function`.
    pub auth_type: String,
    /// Methods.
    pub methods: Vec<String>,
    /// Keep the public URL.
    #[serde(rename = "disableURLInternet")]
    pub disable_url_internet: bool,
}

/// `customDomain`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CustomDomainProps {
    /// Domain or `auto`.
    pub domain_name: String,
    /// Protocol.
    pub protocol: String,
    /// Route.
    pub route: RouteProps,
}

/// A custom-domain route.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RouteProps {
    /// Path.
    pub path: String,
    /// Qualifier.
    pub qualifier: String,
    /// Methods.
    pub methods: Vec<String>,
}

/// `provisionConfig`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProvisionProps {
    /// Qualifier provisioned (component-only key).
    pub qualifier: String,
    /// Target instances.
    pub default_target: u32,
    /// Always allocate CPU.
    #[serde(rename = "alwaysAllocateCPU")]
    pub always_allocate_cpu: bool,
    /// Always allocate GPU (required by the schema; no GPU here).
    #[serde(rename = "alwaysAllocateGPU")]
    pub always_allocate_gpu: bool,
    /// Scheduled actions.
    pub scheduled_actions: Vec<ScheduledAction>,
    /// Target tracking policies (fcctl sets none; required by the schema).
    pub target_tracking_policies: Vec<serde_json::Value>,
}

/// A scheduled action.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScheduledAction {
    /// Name.
    pub name: String,
    /// Expression.
    pub schedule_expression: String,
    /// Target.
    pub target: u32,
    /// Time zone.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<String>,
}

/// The variables [`release_env`] adds to the user's: paths and ids, never secrets.
pub const FCCTL_ENV_KEYS: [&str; 5] = [
    fcctl_protocol::env::MODEL_DIR,
    "ORT_DYLIB_PATH",
    fcctl_protocol::env::RELEASE,
    fcctl_protocol::env::MODEL_CACHE,
    "ORT_DISABLE_TELEMETRY",
];

/// Environment fcctl sets on the function for a NAS release (`None` = not synced yet).
pub fn release_env(cfg: &Config, release_id: Option<&str>) -> BTreeMap<String, String> {
    let mut env = cfg.function.env.clone();
    let release = release_id.unwrap_or("NOT-SYNCED-run-fcctl-nas-sync");
    let dir = format!("{}/releases/{release}", cfg.nas_app_dir());
    env.insert(
        fcctl_protocol::env::MODEL_DIR.into(),
        format!("{dir}/model"),
    );
    env.insert(
        "ORT_DYLIB_PATH".into(),
        format!("{dir}/lib/libonnxruntime.so"),
    );
    env.insert(fcctl_protocol::env::RELEASE.into(), release.into());
    // Shared by every version and instance: entries are keyed on model, CPU and runtime build.
    env.insert(
        fcctl_protocol::env::MODEL_CACHE.into(),
        format!("{}/cache/ort", cfg.nas_app_dir()),
    );
    // ONNX Runtime ≥ 1.29 otherwise creates a device id and a telemetry store under $HOME and
    // uploads usage events from the user's function; the opt-out must be in the environment
    // before the runtime starts.
    env.insert("ORT_DISABLE_TELEMETRY".into(), "1".into());
    env
}

/// NAS `serverAddr` for a config (`auto` keeps the component's auto-NAS).
pub fn nas_server_addr(cfg: &Config) -> String {
    cfg.nas.server_addr.clone()
}

/// The `handler` fcctl gives the function: required by CreateFunction (SDK model
/// `_create_function_input.py`: "This parameter is required"), unused by a custom runtime,
/// which runs `/code/bootstrap`.
pub const FUNCTION_HANDLER: &str = "bootstrap";

/// fc3's mount dir for `nasConfig: auto` (devsapp/fc3 `deploy/impl/function.ts`: `/mnt/<function
/// name>` unless the auto string carries parameters, which the fc3 schema does not allow).
fn fc3_auto_mount_dir(cfg: &Config) -> String {
    format!("/mnt/{}", cfg.function_name())
}

/// Builds the s.yaml equivalent of what `fcctl deploy` does for `cfg`.
pub fn render(cfg: &Config, release_id: Option<&str>, code_zip: &str) -> ServerlessDevsFile {
    let nas_auto = cfg.nas.server_addr == "auto";
    // With `nasConfig: auto` the function sees the NAS where fc3 mounts it, so every path in
    // the environment is computed from that mount dir.
    let cfg = &if nas_auto {
        let mut c = cfg.clone();
        c.nas.mount_dir = fc3_auto_mount_dir(cfg);
        c
    } else {
        cfg.clone()
    };
    let alias = cfg.release.alias.clone();
    let methods = cfg.trigger.method_names();
    let props = Props {
        region: cfg.region.clone(),
        function_name: cfg.function_name().into(),
        description: cfg.function.description.clone(),
        runtime: cfg.function.runtime.as_str().into(),
        handler: FUNCTION_HANDLER.into(),
        code: code_zip.into(),
        memory_size: cfg.function.memory_mb,
        cpu: cfg.function.cpu,
        disk_size: cfg.function.disk_mb,
        timeout: cfg.function.timeout_s,
        instance_concurrency: cfg.function.instance_concurrency,
        internet_access: true,
        custom_runtime_config: CustomRuntimeConfig {
            command: vec!["/code/bootstrap".into()],
            port: cfg.function.port,
        },
        instance_lifecycle_config: LifecycleConfig {
            initializer: Hook {
                handler: "true".into(),
                timeout: cfg.function.initializer_timeout_s,
            },
            pre_stop: Hook {
                handler: "true".into(),
                timeout: cfg.function.pre_stop_timeout_s,
            },
        },
        environment_variables: release_env(cfg, release_id),
        nas_config: if nas_auto {
            AutoOr::Auto("auto".into())
        } else {
            AutoOr::Explicit(NasProps {
                user_id: cfg.nas.user_id,
                group_id: cfg.nas.group_id,
                mount_points: vec![MountPoint {
                    server_addr: nas_server_addr(cfg),
                    mount_dir: cfg.nas.mount_dir.clone(),
                }],
            })
        },
        vpc_config: match &cfg.vpc {
            VpcSetting::Auto(_) => AutoOr::Auto("auto".into()),
            VpcSetting::Explicit(v) => AutoOr::Explicit(VpcProps {
                vpc_id: v.vpc_id.clone(),
                v_switch_ids: v.vswitch_ids.clone(),
                security_group_id: v.security_group_id.clone(),
            }),
        },
        log_config: match &cfg.log {
            LogSetting::Keyword(crate::config::AutoOrNone::Auto) => {
                Some(AutoOr::Auto("auto".into()))
            }
            LogSetting::Keyword(crate::config::AutoOrNone::None) => None,
            LogSetting::Explicit(l) => Some(AutoOr::Explicit(LogProps {
                project: l.project.clone(),
                logstore: l.logstore.clone(),
                log_begin_rule: "DefaultRegex".into(),
                enable_request_metrics: true,
                enable_instance_metrics: true,
            })),
        },
        triggers: vec![TriggerProps {
            trigger_name: cfg.trigger.name.clone(),
            trigger_type: "http".into(),
            qualifier: alias.clone(),
            trigger_config: HttpTriggerProps {
                auth_type: cfg.trigger.auth_type.as_str().into(),
                methods: methods.clone(),
                disable_url_internet: false,
            },
        }],
        custom_domain: cfg.custom_domain.enabled.then(|| CustomDomainProps {
            domain_name: cfg.custom_domain.name.clone(),
            protocol: cfg.custom_domain.protocol.as_str().into(),
            route: RouteProps {
                path: cfg.custom_domain.route.clone(),
                qualifier: cfg.domain_qualifier().into(),
                methods: methods.clone(),
            },
        }),
        // provisionConfig and scalingConfig are mutually exclusive; fcctl only uses the former.
        provision_config: (cfg.provision.instances > 0 || !cfg.provision.schedules.is_empty())
            .then(|| ProvisionProps {
                qualifier: alias.clone(),
                default_target: cfg.provision.instances,
                always_allocate_cpu: cfg.provision.always_allocate_cpu,
                always_allocate_gpu: false,
                target_tracking_policies: Vec::new(),
                scheduled_actions: cfg
                    .provision
                    .schedules
                    .iter()
                    .map(|s| ScheduledAction {
                        name: s.name.clone(),
                        schedule_expression: s.cron.clone(),
                        target: s.target,
                        time_zone: s.timezone.clone(),
                    })
                    .collect(),
            }),
    };
    let mut resources = BTreeMap::new();
    resources.insert(
        cfg.function_name().to_string(),
        Resource {
            component: "fc3".into(),
            props,
        },
    );
    ServerlessDevsFile {
        edition: "3.0.0".into(),
        name: cfg.app.clone(),
        access: "default".into(),
        vars: BTreeMap::from([("region".to_string(), cfg.region.clone())]),
        resources,
    }
}

/// The header of every rendered s.yaml. The triggers, the custom domain route and the
/// provisioned instances sit on the release alias, and `s deploy` neither publishes a version
/// nor creates an alias (devsapp/fc3 `subCommands/deploy/index.ts`: function, triggers, domain,
/// provision config, in that order; versions and aliases are `s version` / `s alias`), so on a
/// fresh account the order matters.
const S_DEPLOY_STEPS: &str = "\
# Generated by fcctl from fcctl.yaml: edit fcctl.yaml and run `fcctl render` again.
# `fcctl up` does all of the below in one run. With Serverless Devs (fc3) on a fresh account:
#   s deploy --function            # the function only (fc3 creates VPC + NAS for `auto`;
#                                  # write the nasConfig it prints into fcctl.yaml nas.server_addr)
#   fcctl nas-sync && fcctl render # the model release onto that NAS; s.yaml names the release
#   s deploy --function            # the function with the release's environment
#   s version publish --description \"fcctl\"
#   s alias publish --alias-name prod --version-id latest
#   s deploy                       # triggers, custom domain and provisioned instances on prod
";

/// Serialises with a header comment; deterministic (maps are ordered).
pub fn to_yaml(doc: &ServerlessDevsFile) -> String {
    let body = serde_saphyr::to_string(doc).expect("s.yaml serializes");
    format!("{S_DEPLOY_STEPS}{body}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> Config {
        crate::config::parse_str(include_str!("../templates/fcctl.yaml"), "t").unwrap()
    }

    #[test]
    fn snapshot_default() {
        let y = to_yaml(&render(
            &cfg(),
            Some("r-0123abcd"),
            "./target/fcctl/code.zip",
        ));
        insta::assert_snapshot!(y);
    }

    #[test]
    fn deterministic_and_round_trips() {
        let c = cfg();
        let a = to_yaml(&render(&c, None, "code.zip"));
        let b = to_yaml(&render(&c, None, "code.zip"));
        assert_eq!(a, b);
        let back: ServerlessDevsFile = serde_saphyr::from_str(&a).unwrap();
        assert_eq!(back, render(&c, None, "code.zip"));
    }

    #[test]
    fn awkward_strings_are_quoted() {
        let mut c = cfg();
        c.function.env.insert("FLAG".into(), "yes".into());
        c.function.env.insert("MODE".into(), "0755".into());
        c.function.description = "a: b # not a comment".into();
        let y = to_yaml(&render(&c, None, "code.zip"));
        let back: ServerlessDevsFile = serde_saphyr::from_str(&y).unwrap();
        let props = &back.resources["cat-dog"].props;
        assert_eq!(props.environment_variables["FLAG"], "yes");
        assert_eq!(props.environment_variables["MODE"], "0755");
        assert_eq!(props.description, "a: b # not a comment");
    }

    #[test]
    fn validates_against_fc3_schema() {
        let schema_path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../shared/docs/fc3-schema.json"
        );
        let schema: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(schema_path).unwrap()).unwrap();
        let validator = jsonschema::validator_for(&schema).unwrap();
        for release in [None, Some("r-1")] {
            let mut c = cfg();
            let doc = render(&c, release, "code.zip");
            check(&validator, &doc);
            c.provision.instances = 0;
            c.log = LogSetting::Keyword(crate::config::AutoOrNone::None);
            check(&validator, &render(&c, release, "code.zip"));
        }
        // The schema must be able to fail: a wrong runtime is refused.
        let mut bad =
            serde_json::to_value(&render(&cfg(), None, "code.zip").resources["cat-dog"].props)
                .unwrap();
        bad["runtime"] = "custom.debian9".into();
        assert!(!validator.is_valid(&bad));
    }

    fn check(validator: &jsonschema::Validator, doc: &ServerlessDevsFile) {
        // Validate what a reader of the YAML text sees, not the in-memory struct.
        let text = to_yaml(doc);
        let parsed: serde_json::Value = serde_saphyr::from_str(&text).unwrap();
        for (name, res) in parsed["resources"].as_object().unwrap() {
            let mut props = res["props"].clone();
            // `customDomain` is validated by the fc3-domain component, not in fc3's schema.
            props.as_object_mut().unwrap().remove("customDomain");
            let errors: Vec<String> = validator
                .iter_errors(&props)
                .map(|e| format!("{}: {e}", e.instance_path))
                .collect();
            assert!(errors.is_empty(), "{name}: {errors:#?}\n{text}");
        }
    }
}
