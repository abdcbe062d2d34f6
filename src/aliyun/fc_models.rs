//! FC3 (OpenAPI 2023-03-30) request/response models.
//!
//! JSON keys are the API's lowerCamelCase names (`../shared/docs/fc3-models.md`); every field
//! is an `Option` skipped when `None` (so an update sends only what is set), unknown response
//! fields are ignored, and configs fcctl does not use (GPU, OSS mount, tracing, …) are kept as
//! raw [`serde_json::Value`] so they survive a read-modify-write unchanged.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Declares a model: `Debug, Clone, Default, PartialEq, Serialize, Deserialize`, camelCase,
/// every field `Option<T>` with `#[serde(default, skip_serializing_if = "Option::is_none")]`.
macro_rules! model {
    ($(#[$m:meta])* $name:ident { $( $(#[$fm:meta])* $field:ident : $ty:ty ),* $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
        #[serde(rename_all = "camelCase")]
        pub struct $name {
            $(
                $(#[$fm])*
                #[serde(default, skip_serializing_if = "Option::is_none")]
                pub $field: Option<$ty>,
            )*
        }
    };
}

// ---------------------------------------------------------------- functions

model!(
    /// Body of CreateFunction (`POST /2023-03-30/functions`).
    CreateFunctionInput {
        code: InputCodeLocation,
        cpu: f64,
        custom_container_config: Value,
        #[serde(rename = "customDNS")]
        custom_dns: Value,
        custom_runtime_config: CustomRuntimeConfig,
        description: String,
        disable_inject_credentials: String,
        disable_ondemand: bool,
        disk_size: i64,
        enable_long_living: bool,
        environment_variables: BTreeMap<String, String>,
        function_name: String,
        gpu_config: Value,
        handler: String,
        idle_timeout: i64,
        instance_concurrency: i64,
        instance_isolation_mode: String,
        instance_lifecycle_config: InstanceLifecycleConfig,
        internet_access: bool,
        juice_fs_config: Value,
        layers: Vec<String>,
        log_config: LogConfig,
        memory_size: i64,
        micro_sandbox_config: Value,
        nas_config: NasConfig,
        oss_mount_config: Value,
        polar_fs_config: Value,
        resource_group_id: String,
        role: String,
        runtime: String,
        session_affinity: String,
        session_affinity_config: String,
        tags: Vec<Tag>,
        timeout: i64,
        tracing_config: Value,
        vpc_config: VpcConfig,
    }
);

model!(
    /// Body of UpdateFunction (`PUT /2023-03-30/functions/{name}`): only set fields change.
    UpdateFunctionInput {
        code: InputCodeLocation,
        cpu: f64,
        custom_container_config: Value,
        #[serde(rename = "customDNS")]
        custom_dns: Value,
        custom_runtime_config: CustomRuntimeConfig,
        description: String,
        disable_inject_credentials: String,
        disable_ondemand: bool,
        disk_size: i64,
        enable_long_living: bool,
        environment_variables: BTreeMap<String, String>,
        gpu_config: Value,
        handler: String,
        idle_timeout: i64,
        instance_concurrency: i64,
        instance_isolation_mode: String,
        instance_lifecycle_config: InstanceLifecycleConfig,
        internet_access: bool,
        juice_fs_config: Value,
        layers: Vec<String>,
        log_config: LogConfig,
        memory_size: i64,
        micro_sandbox_config: Value,
        nas_config: NasConfig,
        oss_mount_config: Value,
        polar_fs_config: Value,
        role: String,
        runtime: String,
        session_affinity: String,
        session_affinity_config: String,
        timeout: i64,
        tracing_config: Value,
        vpc_config: VpcConfig,
    }
);

model!(
    /// A function as returned by Create/Update/Get/ListFunctions.
    Function {
        code_checksum: String,
        code_size: i64,
        cpu: f64,
        created_time: String,
        custom_container_config: Value,
        #[serde(rename = "customDNS")]
        custom_dns: Value,
        custom_runtime_config: CustomRuntimeConfig,
        description: String,
        disable_inject_credentials: String,
        disable_ondemand: bool,
        disk_size: i64,
        enable_long_living: bool,
        environment_variables: BTreeMap<String, String>,
        function_arn: String,
        function_id: String,
        function_name: String,
        gpu_config: Value,
        handler: String,
        idle_timeout: i64,
        instance_concurrency: i64,
        instance_isolation_mode: String,
        instance_lifecycle_config: InstanceLifecycleConfig,
        internet_access: bool,
        invocation_restriction: Value,
        juice_fs_config: Value,
        last_modified_time: String,
        /// `Successful` | `Failed` | `InProgress`.
        last_update_status: String,
        last_update_status_reason: String,
        last_update_status_reason_code: String,
        layers: Vec<FunctionLayer>,
        lock_info: Value,
        log_config: LogConfig,
        memory_size: i64,
        micro_sandbox_config: Value,
        nas_config: NasConfig,
        oss_mount_config: Value,
        polar_fs_config: Value,
        resource_group_id: String,
        role: String,
        runtime: String,
        session_affinity: String,
        session_affinity_config: String,
        /// `Pending` | `Active` | `Failed`.
        state: String,
        state_reason: String,
        state_reason_code: String,
        tags: Vec<Tag>,
        timeout: i64,
        tracing_config: Value,
        vpc_config: VpcConfig,
    }
);

impl Function {
    /// Still converging (`state == Pending` or `lastUpdateStatus == InProgress`): poll again
    /// before PublishFunctionVersion / PutProvisionConfig.
    pub fn is_pending(&self) -> bool {
        self.state.as_deref() == Some("Pending")
            || self.last_update_status.as_deref() == Some("InProgress")
    }
}

model!(
    /// Where the code comes from: inline base64 zip (≤ 100 MB encoded) or an OSS object.
    InputCodeLocation {
        /// CRC-64/ECMA-182 of the zip, as OSS `x-oss-hash-crc64ecma`.
        checksum: String,
        oss_bucket_name: String,
        oss_object_name: String,
        zip_file: String,
    }
);

model!(OutputCodeLocation {
    location: String,
    repository_type: String
});

model!(
    /// Response of GetFunctionCode: a signed download URL.
    OutputFuncCode { checksum: String, url: String }
);

model!(CustomRuntimeConfig {
    args: Vec<String>,
    command: Vec<String>,
    health_check_config: CustomHealthCheckConfig,
    port: i64,
});

model!(CustomHealthCheckConfig {
    failure_threshold: i64,
    http_get_url: String,
    initial_delay_seconds: i64,
    period_seconds: i64,
    success_threshold: i64,
    timeout_seconds: i64,
});

model!(NasConfig { group_id: i64, mount_points: Vec<NasMountConfig>, user_id: i64 });

model!(NasMountConfig {
    #[serde(rename = "enableTLS")]
    enable_tls: bool,
    mount_dir: String,
    server_addr: String,
});

model!(VpcConfig {
    role: String,
    security_group_id: String,
    v_switch_ids: Vec<String>,
    vpc_id: String,
});

model!(LogConfig {
    enable_instance_metrics: bool,
    enable_llm_metrics: bool,
    enable_request_metrics: bool,
    log_begin_rule: String,
    logstore: String,
    project: String,
});

model!(InstanceLifecycleConfig {
    initializer: LifecycleHook,
    pre_stop: LifecycleHook
});

model!(LifecycleHook { command: Vec<String>, handler: String, timeout: i64 });

model!(
    /// A resource tag. Capitalised on the wire, unlike the other FC3 models (SDK
    /// `models/_tag.py`: `result['Key']`, `result['Value']`).
    Tag {
        #[serde(rename = "Key")]
        key: String,
        #[serde(rename = "Value")]
        value: String
    }
);

model!(FunctionLayer {
    arn: String,
    size: i64
});

model!(ListFunctionsOutput { functions: Vec<Function>, next_token: String });

// ---------------------------------------------------------------- versions / aliases

model!(PublishVersionInput {
    description: String
});

model!(Version {
    created_time: String,
    description: String,
    last_modified_time: String,
    version_id: String,
});

model!(ListVersionsOutput { direction: String, next_token: String, versions: Vec<Version> });

model!(CreateAliasInput {
    /// Canary: version id → weight (0..1); must not include `versionId`.
    additional_version_weight: BTreeMap<String, f64>,
    alias_name: String,
    description: String,
    version_id: String,
});

model!(UpdateAliasInput {
    additional_version_weight: BTreeMap<String, f64>,
    description: String,
    version_id: String,
});

model!(Alias {
    additional_version_weight: BTreeMap<String, f64>,
    alias_name: String,
    created_time: String,
    description: String,
    last_modified_time: String,
    version_id: String,
});

model!(ListAliasesOutput { aliases: Vec<Alias>, next_token: String });

// ---------------------------------------------------------------- provisioned concurrency

model!(PutProvisionConfigInput {
    #[serde(rename = "alwaysAllocateCPU")]
    always_allocate_cpu: bool,
    #[serde(rename = "alwaysAllocateGPU")]
    always_allocate_gpu: bool,
    default_target: i64,
    scheduled_actions: Vec<ScheduledAction>,
    target: i64,
    target_tracking_policies: Vec<TargetTrackingPolicy>,
});

model!(ProvisionConfig {
    #[serde(rename = "alwaysAllocateCPU")]
    always_allocate_cpu: bool,
    #[serde(rename = "alwaysAllocateGPU")]
    always_allocate_gpu: bool,
    /// Instances actually running (ramps up asynchronously).
    current: i64,
    /// Why `current` could not reach `target` (empty when fine).
    current_error: String,
    default_target: i64,
    function_arn: String,
    scheduled_actions: Vec<ScheduledAction>,
    target: i64,
    target_tracking_policies: Vec<TargetTrackingPolicy>,
});

impl ProvisionConfig {
    /// `current == target` (0 when absent).
    pub fn is_ready(&self) -> bool {
        self.current.unwrap_or(0) == self.target.unwrap_or(0)
    }
}

model!(ScheduledAction {
    end_time: String,
    name: String,
    /// `cron(0 0 8 * * *)` or `at(2024-05-20T08:00:00Z)`.
    schedule_expression: String,
    start_time: String,
    target: i64,
    time_zone: String,
});

model!(TargetTrackingPolicy {
    end_time: String,
    max_capacity: i64,
    metric_target: f64,
    metric_type: String,
    min_capacity: i64,
    name: String,
    start_time: String,
    time_zone: String,
});

model!(ListProvisionConfigsOutput { next_token: String, provision_configs: Vec<ProvisionConfig> });

// ---------------------------------------------------------------- triggers

model!(CreateTriggerInput {
    description: String,
    invocation_role: String,
    qualifier: String,
    source_arn: String,
    /// JSON-encoded STRING (see [`HttpTriggerConfig::to_json_string`]).
    trigger_config: String,
    trigger_name: String,
    trigger_type: String,
});

model!(UpdateTriggerInput {
    description: String,
    invocation_role: String,
    qualifier: String,
    trigger_config: String,
});

model!(Trigger {
    created_time: String,
    description: String,
    http_trigger: HttpTrigger,
    invocation_role: String,
    last_modified_time: String,
    qualifier: String,
    source_arn: String,
    status: String,
    target_arn: String,
    trigger_config: String,
    trigger_id: String,
    trigger_name: String,
    trigger_type: String,
});

impl Trigger {
    /// Parse `triggerConfig` as an HTTP trigger config (None if absent or not JSON).
    pub fn http_config(&self) -> Option<HttpTriggerConfig> {
        serde_json::from_str(self.trigger_config.as_deref()?).ok()
    }
}

model!(HttpTrigger {
    url_internet: String,
    url_intranet: String
});

model!(HttpTriggerConfig {
    auth_config: String,
    /// `anonymous` | `function` (ACS3 signature) | `jwt`.
    auth_type: String,
    cors_config: Value,
    #[serde(rename = "disableURLInternet")]
    disable_url_internet: bool,
    methods: Vec<String>,
});

impl HttpTriggerConfig {
    /// The string form `triggerConfig` expects.
    pub fn to_json_string(&self) -> String {
        serde_json::to_string(self).expect("HttpTriggerConfig serialises")
    }
}

model!(ListTriggersOutput { next_token: String, triggers: Vec<Trigger> });

// ---------------------------------------------------------------- custom domains

model!(CreateCustomDomainInput {
    auth_config: AuthConfig,
    cert_config: CertConfig,
    cors_config: Value,
    domain_name: String,
    #[serde(rename = "isE2B")]
    is_e2b: bool,
    /// `HTTP` | `HTTPS` | `HTTP,HTTPS`.
    protocol: String,
    route_config: RouteConfig,
    tls_config: TlsConfig,
    waf_config: Value,
});

model!(UpdateCustomDomainInput {
    auth_config: AuthConfig,
    cert_config: CertConfig,
    cors_config: Value,
    protocol: String,
    route_config: RouteConfig,
    tls_config: TlsConfig,
    waf_config: Value,
});

model!(CustomDomain {
    account_id: String,
    api_version: String,
    auth_config: AuthConfig,
    cert_config: CertConfig,
    cors_config: Value,
    created_time: String,
    domain_name: String,
    #[serde(rename = "isE2B")]
    is_e2b: bool,
    last_modified_time: String,
    protocol: String,
    route_config: RouteConfig,
    subdomain_count: String,
    tls_config: TlsConfig,
    waf_config: Value,
});

model!(RouteConfig { routes: Vec<PathConfig> });

model!(PathConfig {
    function_name: String,
    methods: Vec<String>,
    /// Supports the `/*` wildcard.
    path: String,
    /// Version or alias (default LATEST).
    qualifier: String,
    rewrite_config: Value,
});

model!(CertConfig {
    cert_name: String,
    certificate: String,
    private_key: String
});

impl CertConfig {
    /// Debug-safe view: never print the private key.
    pub fn redacted(&self) -> Self {
        Self {
            private_key: self.private_key.as_ref().map(|_| "<redacted>".into()),
            ..self.clone()
        }
    }
}

model!(TlsConfig { cipher_suites: Vec<String>, max_version: String, min_version: String });

model!(AuthConfig {
    auth_info: String,
    auth_type: String
});

model!(ListCustomDomainsOutput { custom_domains: Vec<CustomDomain>, next_token: String });

// ---------------------------------------------------------------- instances

model!(
    /// One instance from ListInstances.
    InstanceInfo {
        instance_id: String,
        version_id: String,
        qualifier: String,
        status: String,
        created_time_ms: i64,
        destroyed_time_ms: i64,
        /// The local emulator only: the instance's peak memory (bytes).
        fcctl_memory_peak_bytes: u64,
        /// The local emulator only: CPU time the instance used so far (ms).
        fcctl_cpu_ms: u64,
    }
);

model!(ListInstancesOutput { instances: Vec<InstanceInfo>, request_id: String });

// ---------------------------------------------------------------- request parameters (query)

/// Query parameters shared by the simple list calls (`prefix`, `limit`, `nextToken`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListRequest {
    pub prefix: Option<String>,
    pub limit: Option<u32>,
    pub next_token: Option<String>,
}

impl ListRequest {
    pub(crate) fn query(&self) -> Vec<(String, String)> {
        let mut q = Vec::new();
        push(&mut q, "prefix", self.prefix.clone());
        push(&mut q, "limit", self.limit.map(|l| l.to_string()));
        push(&mut q, "nextToken", self.next_token.clone());
        q
    }
}

/// ListFunctionVersions parameters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListVersionsRequest {
    /// `FORWARD` | `BACKWARD`.
    pub direction: Option<String>,
    pub limit: Option<u32>,
    pub next_token: Option<String>,
}

impl ListVersionsRequest {
    pub(crate) fn query(&self) -> Vec<(String, String)> {
        let mut q = Vec::new();
        push(&mut q, "direction", self.direction.clone());
        push(&mut q, "limit", self.limit.map(|l| l.to_string()));
        push(&mut q, "nextToken", self.next_token.clone());
        q
    }
}

/// ListProvisionConfigs parameters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListProvisionConfigsRequest {
    pub function_name: Option<String>,
    pub limit: Option<u32>,
    pub next_token: Option<String>,
}

impl ListProvisionConfigsRequest {
    pub(crate) fn query(&self) -> Vec<(String, String)> {
        let mut q = Vec::new();
        push(&mut q, "functionName", self.function_name.clone());
        push(&mut q, "limit", self.limit.map(|l| l.to_string()));
        push(&mut q, "nextToken", self.next_token.clone());
        q
    }
}

/// ListInstances parameters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListInstancesRequest {
    pub qualifier: Option<String>,
    pub with_all_active: Option<bool>,
    pub limit: Option<u32>,
    /// Sent as a JSON array in one query value (`["Running"]`), as the SDK does
    /// (`models/_list_instances_request.py`: `instance_status: List[str]`, serialised
    /// `instanceStatusShrink`).
    pub instance_status: Option<Vec<String>>,
}

impl ListInstancesRequest {
    pub(crate) fn query(&self) -> Vec<(String, String)> {
        let mut q = Vec::new();
        push(&mut q, "qualifier", self.qualifier.clone());
        push(
            &mut q,
            "withAllActive",
            self.with_all_active.map(|b| b.to_string()),
        );
        push(&mut q, "limit", self.limit.map(|l| l.to_string()));
        push(
            &mut q,
            "instanceStatus",
            self.instance_status
                .as_ref()
                .map(|s| serde_json::to_string(s).expect("strings serialise")),
        );
        q
    }
}

fn push(q: &mut Vec<(String, String)>, k: &str, v: Option<String>) {
    if let Some(v) = v {
        q.push((k.to_string(), v));
    }
}

// ---------------------------------------------------------------- invoke

/// `x-fc-invocation-type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum InvocationType {
    #[default]
    Sync,
    Async,
}

/// InvokeFunction input: raw payload + options.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InvokeFunctionRequest {
    pub qualifier: Option<String>,
    pub body: Vec<u8>,
    pub invocation_type: InvocationType,
    /// Ask for the last 4 KB of logs (`x-fc-log-type: Tail`).
    pub tail_log: bool,
    pub async_task_id: Option<String>,
    /// The function is safe to run twice (fcctl's own nas-agent: every job is idempotent), so
    /// 5xx, resets and timeouts are retried too, not only throttling.
    pub idempotent: bool,
    /// How long to wait for a synchronous answer; `None` is the client's `invoke_timeout`. FC
    /// holds a synchronous invocation open up to the function's own timeout, so a caller that
    /// knows the function's timeout passes it here.
    pub timeout: Option<std::time::Duration>,
}

/// InvokeFunction result: raw bytes + the interesting response headers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InvokeFunctionOutput {
    pub status: u16,
    pub body: Vec<u8>,
    pub request_id: Option<String>,
    /// Decoded `x-fc-log-result` (base64 in the header), when `tail_log` was set.
    pub log_result: Option<String>,
    /// `x-fc-error-type` (e.g. `UnhandledInvocationError`, `InitializationError`): the
    /// function failed although HTTP status is 200.
    pub error_type: Option<String>,
    pub instance_id: Option<String>,
    pub code_checksum: Option<String>,
    pub async_task_id: Option<String>,
}

#[cfg(test)]
mod tests {

    #[test]
    fn tags_serialise_key_and_value_capitalised_like_the_sdk() {
        let t = Tag {
            key: Some("env".into()),
            value: Some("prod".into()),
        };
        assert_eq!(
            serde_json::to_value(&t).unwrap(),
            serde_json::json!({"Key": "env", "Value": "prod"})
        );
        let back: Tag = serde_json::from_str(r#"{"Key":"a","Value":"b"}"#).unwrap();
        assert_eq!(back.key.as_deref(), Some("a"));
    }

    use super::*;
    use serde::de::DeserializeOwned;
    use serde_json::{Map, json};
    use std::collections::HashMap;

    /// `#### Name` sections of fc3-models.md → (json key, type) rows.
    fn doc_models() -> HashMap<String, Vec<(String, String)>> {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/docs/fc3-models.md");
        let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {path}: {e}"));
        let mut out: HashMap<String, Vec<(String, String)>> = HashMap::new();
        let mut cur: Option<String> = None;
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("#### ") {
                let name = rest.split_whitespace().next().unwrap().to_string();
                out.entry(name.clone()).or_default();
                cur = Some(name);
            } else if let (Some(c), Some(row)) = (&cur, line.strip_prefix("| `")) {
                let mut cols = row.split('|');
                let key = cols
                    .next()
                    .unwrap()
                    .trim()
                    .trim_end_matches('`')
                    .to_string();
                let ty = cols.next().unwrap_or("").trim().to_string();
                out.get_mut(c).unwrap().push((key, ty));
            }
        }
        out
    }

    /// A sample value for a doc type (`str`, `int`, `List[Model]`, …).
    fn sample(ty: &str, docs: &HashMap<String, Vec<(String, String)>>, depth: u32) -> Value {
        match ty {
            "str" => json!("s"),
            "int" => json!(3),
            "float" => json!(0.5),
            "bool" => json!(true),
            "Dict[str, str]" => json!({"K": "v"}),
            "Dict[str, float]" => json!({"2": 0.25}),
            t if t.starts_with("List[") => {
                json!([sample(&t[5..t.len() - 1], docs, depth)])
            }
            t => sample_object(t, docs, depth + 1),
        }
    }

    fn sample_object(
        name: &str,
        docs: &HashMap<String, Vec<(String, String)>>,
        depth: u32,
    ) -> Value {
        let mut m = Map::new();
        if depth < 4
            && let Some(rows) = docs.get(name)
        {
            for (k, t) in rows {
                m.insert(k.clone(), sample(t, docs, depth));
            }
        }
        Value::Object(m)
    }

    fn roundtrip<T: Serialize + DeserializeOwned>(
        doc_name: &str,
        docs: &HashMap<String, Vec<(String, String)>>,
    ) {
        let expected = sample_object(doc_name, docs, 0);
        assert!(
            expected.as_object().is_some_and(|m| !m.is_empty()),
            "{doc_name} not in fc3-models.md"
        );
        let mut with_unknown = expected.clone();
        with_unknown["someFieldFromTheFuture"] = json!({"x": [1, 2]});
        let parsed: T = serde_json::from_value(with_unknown)
            .unwrap_or_else(|e| panic!("{doc_name}: parse sample: {e}"));
        let back = serde_json::to_value(&parsed).unwrap();
        assert_eq!(
            back, expected,
            "{doc_name}: round-trip differs from fc3-models.md keys"
        );
        // Empty model serialises to `{}` (None fields skipped).
        let empty: T = serde_json::from_value(json!({})).unwrap();
        assert_eq!(
            serde_json::to_value(&empty).unwrap(),
            json!({}),
            "{doc_name}"
        );
    }

    #[test]
    fn models_match_fc3_models_doc() {
        let d = doc_models();
        roundtrip::<CreateFunctionInput>("CreateFunctionInput", &d);
        roundtrip::<UpdateFunctionInput>("UpdateFunctionInput", &d);
        roundtrip::<Function>("Function", &d);
        roundtrip::<InputCodeLocation>("InputCodeLocation", &d);
        roundtrip::<OutputCodeLocation>("OutputCodeLocation", &d);
        roundtrip::<CustomRuntimeConfig>("CustomRuntimeConfig", &d);
        roundtrip::<CustomHealthCheckConfig>("CustomHealthCheckConfig", &d);
        roundtrip::<NasConfig>("NASConfig", &d);
        roundtrip::<NasMountConfig>("NASMountConfig", &d);
        roundtrip::<VpcConfig>("VPCConfig", &d);
        roundtrip::<LogConfig>("LogConfig", &d);
        roundtrip::<InstanceLifecycleConfig>("InstanceLifecycleConfig", &d);
        roundtrip::<LifecycleHook>("LifecycleHook", &d);
        roundtrip::<PublishVersionInput>("PublishVersionInput", &d);
        roundtrip::<Version>("Version", &d);
        roundtrip::<ListVersionsOutput>("ListVersionsOutput", &d);
        roundtrip::<ListFunctionsOutput>("ListFunctionsOutput", &d);
        roundtrip::<CreateAliasInput>("CreateAliasInput", &d);
        roundtrip::<UpdateAliasInput>("UpdateAliasInput", &d);
        roundtrip::<Alias>("Alias", &d);
        roundtrip::<PutProvisionConfigInput>("PutProvisionConfigInput", &d);
        roundtrip::<ProvisionConfig>("ProvisionConfig", &d);
        roundtrip::<ScheduledAction>("ScheduledAction", &d);
        roundtrip::<TargetTrackingPolicy>("TargetTrackingPolicy", &d);
        roundtrip::<ListProvisionConfigsOutput>("ListProvisionConfigsOutput", &d);
        roundtrip::<CreateTriggerInput>("CreateTriggerInput", &d);
        roundtrip::<UpdateTriggerInput>("UpdateTriggerInput", &d);
        roundtrip::<Trigger>("Trigger", &d);
        roundtrip::<HttpTrigger>("HTTPTrigger", &d);
        roundtrip::<HttpTriggerConfig>("HTTPTriggerConfig", &d);
        roundtrip::<CreateCustomDomainInput>("CreateCustomDomainInput", &d);
        roundtrip::<UpdateCustomDomainInput>("UpdateCustomDomainInput", &d);
        roundtrip::<CustomDomain>("CustomDomain", &d);
        roundtrip::<RouteConfig>("RouteConfig", &d);
        roundtrip::<PathConfig>("PathConfig", &d);
        roundtrip::<CertConfig>("CertConfig", &d);
        roundtrip::<TlsConfig>("TLSConfig", &d);
        roundtrip::<AuthConfig>("AuthConfig", &d);
    }

    /// The request bodies from the SDK vectors parse into our inputs and re-serialise to
    /// the same JSON value.
    #[test]
    fn vector_bodies_roundtrip() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../shared/vectors/vectors.json"
        );
        let v: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let mut seen = 0;
        for vec in v["fc3_acs3"].as_array().unwrap() {
            let action = vec["request_headers_sent"]["x-acs-action"]
                .as_str()
                .unwrap();
            let body = vec["inputs"]["body_utf8"].as_str().unwrap();
            if body.is_empty() || action == "InvokeFunction" {
                continue;
            }
            let mut orig: Value = serde_json::from_str(body).unwrap();
            // The Python SDK always sends `"tags": []`; we skip unset lists.
            if let Some(m) = orig.as_object_mut()
                && m.get("tags") == Some(&json!([]))
            {
                m.remove("tags");
            }
            let back = match action {
                "CreateFunction" => rt::<CreateFunctionInput>(body),
                "PutProvisionConfig" => rt::<PutProvisionConfigInput>(body),
                "PublishFunctionVersion" => rt::<PublishVersionInput>(body),
                "CreateAlias" => rt::<CreateAliasInput>(body),
                "CreateTrigger" => rt::<CreateTriggerInput>(body),
                "CreateCustomDomain" => rt::<CreateCustomDomainInput>(body),
                other => panic!("unexpected body for {other}"),
            };
            let mut back = back;
            if let Some(m) = back.as_object_mut()
                && m.get("tags") == Some(&json!([]))
            {
                m.remove("tags");
            }
            assert_eq!(back, orig, "{action}");
            seen += 1;
        }
        assert!(seen >= 5);
    }

    fn rt<T: Serialize + DeserializeOwned>(body: &str) -> Value {
        serde_json::to_value(serde_json::from_str::<T>(body).unwrap()).unwrap()
    }

    #[test]
    fn http_trigger_config_is_a_json_string() {
        let c = HttpTriggerConfig {
            auth_type: Some("anonymous".into()),
            methods: Some(vec!["GET".into(), "POST".into()]),
            disable_url_internet: Some(false),
            ..Default::default()
        };
        let s = c.to_json_string();
        assert_eq!(
            s,
            r#"{"authType":"anonymous","disableURLInternet":false,"methods":["GET","POST"]}"#
        );
        let t = Trigger {
            trigger_config: Some(s),
            ..Default::default()
        };
        assert_eq!(t.http_config().unwrap(), c);
    }

    #[test]
    fn sample_responses_parse() {
        let f: Function = serde_json::from_value(json!({
            "functionName": "img-classify", "runtime": "custom.debian10", "memorySize": 1024,
            "state": "Pending", "lastUpdateStatus": "InProgress", "layers": [],
            "nasConfig": {"mountPoints": [{"serverAddr": "x.nas.aliyuncs.com:/", "mountDir": "/mnt/auto", "enableTLS": false}], "userId": 0, "groupId": 0},
            "brandNewField": 1
        }))
        .unwrap();
        assert!(f.is_pending());
        assert_eq!(
            f.nas_config.unwrap().mount_points.unwrap()[0]
                .mount_dir
                .as_deref(),
            Some("/mnt/auto")
        );
        let p: ProvisionConfig = serde_json::from_value(json!({
            "target": 10, "current": 3, "currentError": "", "alwaysAllocateCPU": true,
            "functionArn": "acs:fc:cn-hangzhou:123:functions/img-classify"
        }))
        .unwrap();
        assert!(!p.is_ready());
        assert_eq!(p.always_allocate_cpu, Some(true));
        let a: Alias = serde_json::from_value(
            json!({"aliasName": "prod", "versionId": "2", "additionalVersionWeight": {"3": 0.1}}),
        )
        .unwrap();
        assert_eq!(a.additional_version_weight.unwrap()["3"], 0.1);
        let e: Value = serde_json::to_value(PutProvisionConfigInput {
            target: Some(10),
            always_allocate_cpu: Some(true),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(e, json!({"alwaysAllocateCPU": true, "target": 10}));
    }
}
