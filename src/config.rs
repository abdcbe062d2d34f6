//! `fcctl.yaml`: the one project file a user edits — typed, strictly validated, layered.
//!
//! Layers, lowest first: built-in defaults < `fcctl.yaml` < `FCCTL_*` environment variables <
//! command-line flags. Every error names the file, line and column, the key path, and a
//! "did you mean" suggestion where a key or value is close to a valid one.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The default project file name.
pub const FILE_NAME: &str = "fcctl.yaml";

/// The whole project configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Application name: prefixes the NAS directory and the OSS staging prefix.
    pub app: String,
    /// Alibaba Cloud region id.
    #[serde(default = "d::region")]
    pub region: String,
    /// Account id (uid); taken from credentials when absent.
    #[serde(default)]
    pub account_id: Option<String>,
    /// FC3 OpenAPI endpoint override (e.g. `http://127.0.0.1:PORT` for the emulator).
    #[serde(default)]
    pub fc_endpoint: Option<String>,
    /// OSS endpoint override (path-style addressing is used for `http://127.0.0.1` endpoints).
    #[serde(default)]
    pub oss_endpoint: Option<String>,
    /// The function fcctl deploys.
    #[serde(default)]
    pub function: FunctionConfig,
    /// How the function binary is built.
    #[serde(default)]
    pub build: BuildConfig,
    /// NAS mount and which files go to NAS instead of the code package.
    #[serde(default)]
    pub nas: NasConfig,
    /// OSS bucket used to stage code packages and NAS blobs.
    #[serde(default)]
    pub oss: OssConfig,
    /// VPC for the NAS mount: `auto` or explicit ids.
    #[serde(default)]
    pub vpc: VpcSetting,
    /// Log service config: `auto`, `none`, or explicit project/logstore.
    #[serde(default)]
    pub log: LogSetting,
    /// The HTTP trigger.
    #[serde(default)]
    pub trigger: TriggerConfig,
    /// The custom domain.
    #[serde(default)]
    pub custom_domain: DomainConfig,
    /// Release: which alias serves production traffic.
    #[serde(default)]
    pub release: ReleaseConfig,
    /// Provisioned instances on the release alias.
    #[serde(default)]
    pub provision: ProvisionConfig,
    /// Defaults for `fcctl bench`.
    #[serde(default)]
    pub bench: BenchConfig,
}

/// FC custom runtimes fcctl can target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Runtime {
    /// Debian 10, glibc 2.28.
    #[serde(rename = "custom.debian10")]
    Debian10,
    /// Debian 11, glibc 2.31.
    #[serde(rename = "custom.debian11")]
    Debian11,
    /// Debian 12, glibc 2.36.
    #[serde(rename = "custom.debian12")]
    Debian12,
}

impl Runtime {
    /// The FC runtime identifier.
    pub fn as_str(self) -> &'static str {
        match self {
            Runtime::Debian10 => "custom.debian10",
            Runtime::Debian11 => "custom.debian11",
            Runtime::Debian12 => "custom.debian12",
        }
    }

    /// Highest glibc symbol version a binary may need to run on this runtime.
    pub fn glibc_floor(self) -> GlibcVersion {
        match self {
            Runtime::Debian10 => GlibcVersion(2, 28),
            Runtime::Debian11 => GlibcVersion(2, 31),
            Runtime::Debian12 => GlibcVersion(2, 36),
        }
    }
}

impl fmt::Display for Runtime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A glibc version such as 2.28.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct GlibcVersion(pub u32, pub u32);

impl fmt::Display for GlibcVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.0, self.1)
    }
}

impl std::str::FromStr for GlibcVersion {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim().trim_start_matches("GLIBC_");
        let (a, b) = s
            .split_once('.')
            .ok_or_else(|| format!("`{s}` is not a glibc version like 2.28"))?;
        let parse = |x: &str| {
            x.parse::<u32>()
                .map_err(|_| format!("`{s}` is not a glibc version like 2.28"))
        };
        // Versions like 2.3.4 exist in symbol tables; the third part never matters for a floor.
        let b = b.split('.').next().unwrap_or(b);
        Ok(GlibcVersion(parse(a)?, parse(b)?))
    }
}

impl Serialize for GlibcVersion {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for GlibcVersion {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // YAML reads `2.28` as a float; accept both spellings.
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            S(String),
            F(f64),
        }
        let text = match Raw::deserialize(d)? {
            Raw::S(s) => s,
            Raw::F(f) => format!("{f}"),
        };
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// The deployed function.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FunctionConfig {
    /// Function name; defaults to the app name.
    pub name: Option<String>,
    /// FC custom runtime.
    pub runtime: Runtime,
    /// Memory in MB (multiple of 64, 128–32768).
    pub memory_mb: u32,
    /// vCPUs (multiple of 0.05, 0.05–16; memory GB per vCPU between 1 and 4).
    pub cpu: f64,
    /// Disk in MB: 512 or 10240.
    pub disk_mb: u32,
    /// Request timeout in seconds.
    pub timeout_s: u32,
    /// Concurrent requests one instance serves (1–200).
    pub instance_concurrency: u32,
    /// Port the server listens on inside the instance.
    pub port: u16,
    /// Lifecycle initializer timeout (model load) in seconds.
    pub initializer_timeout_s: u32,
    /// Pre-stop hook timeout in seconds.
    pub pre_stop_timeout_s: u32,
    /// Extra environment variables.
    pub env: BTreeMap<String, String>,
    /// Description shown in the console.
    pub description: String,
}

/// How `fcctl build` compiles the function.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BuildConfig {
    /// Cargo package of the function.
    pub package: String,
    /// Binary target inside that package; packaged as `bootstrap`.
    pub binary: String,
    /// Override the glibc floor (defaults to the runtime's).
    pub glibc: Option<GlibcVersion>,
    /// Directories or files copied into the package tree, relative to the project root.
    pub files: Vec<FileMapping>,
    /// Ship ONNX Runtime (`lib/libonnxruntime.so`) fetched by `scripts/fetch-onnxruntime.sh`.
    pub onnxruntime: bool,
}

/// One file or directory copied into the package tree.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileMapping {
    /// Source path relative to the project root.
    pub src: PathBuf,
    /// Destination path inside the package tree.
    pub dst: PathBuf,
}

/// NAS mount and file split rules.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NasConfig {
    /// Where NAS is mounted inside the function.
    pub mount_dir: String,
    /// `auto`, or `<mount-target-domain>:/<remote dir>`.
    pub server_addr: String,
    /// Owner uid of files written to NAS.
    pub user_id: u32,
    /// Owner gid of files written to NAS.
    pub group_id: u32,
    /// Files at least this big (MiB) go to NAS.
    pub threshold_mb: u64,
    /// Globs (relative to the package tree) that always go to NAS.
    pub include: Vec<String>,
}

/// OSS staging bucket.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OssConfig {
    /// Bucket name, or `auto` for `fcctl-<account id>-<region>`.
    pub bucket: String,
    /// Key prefix; defaults to `fcctl/<app>`.
    pub prefix: Option<String>,
}

/// `auto` or explicit VPC ids.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum VpcSetting {
    /// The literal `auto`.
    Auto(AutoKeyword),
    /// Explicit ids.
    Explicit(VpcExplicit),
}

/// Explicit VPC settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VpcExplicit {
    /// VPC id.
    pub vpc_id: String,
    /// vSwitch ids.
    pub vswitch_ids: Vec<String>,
    /// Security group id.
    pub security_group_id: String,
}

/// `auto`, `none` or explicit log settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum LogSetting {
    /// `auto` or `none`.
    Keyword(AutoOrNone),
    /// Explicit project/logstore.
    Explicit(LogExplicit),
}

/// Explicit log settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogExplicit {
    /// SLS project.
    pub project: String,
    /// SLS logstore.
    pub logstore: String,
}

/// The keyword `auto`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AutoKeyword {
    /// `auto`.
    Auto,
}

/// The keywords `auto` / `none`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AutoOrNone {
    /// `auto`.
    Auto,
    /// `none`.
    None,
}

impl Default for VpcSetting {
    fn default() -> Self {
        VpcSetting::Auto(AutoKeyword::Auto)
    }
}

impl Default for LogSetting {
    fn default() -> Self {
        LogSetting::Keyword(AutoOrNone::Auto)
    }
}

/// HTTP trigger auth types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AuthType {
    /// No authentication.
    Anonymous,
    /// FC signature authentication.
    Function,
}

impl AuthType {
    /// The API spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            AuthType::Anonymous => "anonymous",
            AuthType::Function => "function",
        }
    }
}

/// HTTP methods a trigger can accept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Method {
    /// DELETE.
    Delete,
    /// GET.
    Get,
    /// HEAD.
    Head,
    /// OPTIONS.
    Options,
    /// PATCH.
    Patch,
    /// POST.
    Post,
    /// PUT.
    Put,
}

impl Method {
    /// The API spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Delete => "DELETE",
            Method::Get => "GET",
            Method::Head => "HEAD",
            Method::Options => "OPTIONS",
            Method::Patch => "PATCH",
            Method::Post => "POST",
            Method::Put => "PUT",
        }
    }
}

/// The HTTP trigger.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TriggerConfig {
    /// Trigger name.
    pub name: String,
    /// `anonymous` or `function`.
    pub auth_type: AuthType,
    /// Accepted methods.
    pub methods: Vec<Method>,
}

/// Custom domain protocols.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Protocol {
    /// Plain HTTP.
    #[serde(rename = "HTTP")]
    Http,
    /// HTTPS only.
    #[serde(rename = "HTTPS")]
    Https,
    /// Both.
    #[serde(rename = "HTTP,HTTPS")]
    Both,
}

impl Protocol {
    /// The API spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Http => "HTTP",
            Protocol::Https => "HTTPS",
            Protocol::Both => "HTTP,HTTPS",
        }
    }
}

/// The custom domain.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DomainConfig {
    /// Bind a custom domain at all.
    pub enabled: bool,
    /// Domain name, or `auto` for a generated test domain.
    pub name: String,
    /// Route path.
    pub route: String,
    /// Protocol.
    pub protocol: Protocol,
    /// Qualifier the route serves; defaults to the release alias.
    pub qualifier: Option<String>,
}

/// Release settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ReleaseConfig {
    /// Alias that serves production traffic.
    pub alias: String,
}

/// Provisioned instances.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ProvisionConfig {
    /// Instances kept warm on the release alias (0 releases them).
    pub instances: u32,
    /// Keep CPU allocated between requests (no cold CPU on provisioned instances).
    pub always_allocate_cpu: bool,
    /// Scheduled target changes.
    pub schedules: Vec<Schedule>,
}

/// A scheduled provision change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Schedule {
    /// Action name.
    pub name: String,
    /// FC schedule expression, e.g. `cron(0 0 8 * * *)` (seconds first) or `at(...)`.
    pub cron: String,
    /// Target instances while active.
    pub target: u32,
    /// IANA time zone, e.g. `Asia/Shanghai`.
    #[serde(default)]
    pub timezone: Option<String>,
}

/// What `fcctl bench` sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BenchRequest {
    /// GET the upload page.
    Page,
    /// POST an image as a multipart form, like the page does.
    Image,
    /// POST raw image bytes to /classify.
    Classify,
}

/// Defaults for `fcctl bench`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BenchConfig {
    /// Request type.
    pub request: BenchRequest,
    /// Closed-loop concurrency.
    pub concurrency: u32,
    /// Run length in seconds.
    pub duration_s: u64,
    /// Hard cap on requests sent.
    pub max_requests: u64,
    /// Images sent round-robin, relative to the project root.
    pub images: Vec<PathBuf>,
}

mod d {
    pub fn region() -> String {
        "cn-shenzhen".into()
    }
}

impl Default for FunctionConfig {
    fn default() -> Self {
        FunctionConfig {
            name: None,
            runtime: Runtime::Debian10,
            memory_mb: 1024,
            cpu: 1.0,
            disk_mb: 512,
            timeout_s: 120,
            instance_concurrency: 1,
            port: 9000,
            initializer_timeout_s: 60,
            pre_stop_timeout_s: 10,
            env: BTreeMap::new(),
            description: "cat/dog image classifier deployed by fcctl".into(),
        }
    }
}

impl Default for BuildConfig {
    fn default() -> Self {
        BuildConfig {
            package: "fcctl-function".into(),
            binary: "fcctl-function".into(),
            glibc: None,
            files: vec![FileMapping {
                src: "model".into(),
                dst: "model".into(),
            }],
            onnxruntime: true,
        }
    }
}

impl Default for NasConfig {
    fn default() -> Self {
        NasConfig {
            mount_dir: "/mnt/auto".into(),
            server_addr: "auto".into(),
            user_id: 10003,
            group_id: 10003,
            threshold_mb: 5,
            include: vec!["model/**".into(), "lib/**".into()],
        }
    }
}

impl Default for OssConfig {
    fn default() -> Self {
        OssConfig {
            bucket: "auto".into(),
            prefix: None,
        }
    }
}

impl TriggerConfig {
    /// Methods in the API's spelling.
    pub fn method_names(&self) -> Vec<String> {
        self.methods
            .iter()
            .map(|m| m.as_str().to_string())
            .collect()
    }
}

impl Default for TriggerConfig {
    fn default() -> Self {
        TriggerConfig {
            name: "http".into(),
            auth_type: AuthType::Anonymous,
            methods: vec![Method::Get, Method::Post, Method::Put],
        }
    }
}

impl Default for DomainConfig {
    fn default() -> Self {
        DomainConfig {
            enabled: true,
            name: "auto".into(),
            route: "/*".into(),
            protocol: Protocol::Http,
            qualifier: None,
        }
    }
}

impl Default for ReleaseConfig {
    fn default() -> Self {
        ReleaseConfig {
            alias: "prod".into(),
        }
    }
}

impl Default for ProvisionConfig {
    fn default() -> Self {
        ProvisionConfig {
            instances: 10,
            always_allocate_cpu: true,
            schedules: Vec::new(),
        }
    }
}

impl Default for BenchConfig {
    fn default() -> Self {
        BenchConfig {
            request: BenchRequest::Classify,
            concurrency: 8,
            duration_s: 30,
            max_requests: 1_000_000,
            images: Vec::new(),
        }
    }
}

impl Config {
    /// A config with every default and the given app name.
    pub fn with_app(app: &str) -> Config {
        // Round-trip through the deserializer so defaults live in one place.
        serde_json::from_value(serde_json::json!({ "app": app }))
            .expect("defaults always deserialize")
    }

    /// Function name on FC.
    pub fn function_name(&self) -> &str {
        self.function.name.as_deref().unwrap_or(&self.app)
    }

    /// OSS key prefix for this app.
    pub fn oss_prefix(&self) -> String {
        self.oss
            .prefix
            .clone()
            .unwrap_or_else(|| format!("fcctl/{}", self.app))
    }

    /// Qualifier the custom domain routes to.
    pub fn domain_qualifier(&self) -> &str {
        self.custom_domain
            .qualifier
            .as_deref()
            .unwrap_or(&self.release.alias)
    }

    /// glibc floor the build must meet.
    pub fn glibc_floor(&self) -> GlibcVersion {
        self.build
            .glibc
            .unwrap_or_else(|| self.function.runtime.glibc_floor())
    }

    /// NAS directory of this app inside the function (`<mount>/<app>`).
    pub fn nas_app_dir(&self) -> String {
        format!("{}/{}", self.nas.mount_dir.trim_end_matches('/'), self.app)
    }
}

/// A configuration error with its location.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub struct ConfigError {
    /// Where the bad value came from: a file path, an env var or a flag.
    pub origin: String,
    /// 1-based line and column, when known.
    pub position: Option<(u64, u64)>,
    /// Dotted key path, e.g. `function.memory_mb`.
    pub key_path: Option<String>,
    /// What is wrong.
    pub message: String,
    /// "did you mean" or another hint.
    pub hint: Option<String>,
    /// The source line, for context.
    pub snippet: Option<String>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.origin)?;
        if let Some((l, c)) = self.position {
            write!(f, ":{l}:{c}")?;
        }
        write!(f, ": ")?;
        if let Some(p) = &self.key_path {
            write!(f, "`{p}`: ")?;
        }
        write!(f, "{}", self.message)?;
        if let Some(s) = &self.snippet {
            write!(f, "\n    | {s}")?;
        }
        Ok(())
    }
}

impl crate::exit::Hint for ConfigError {
    fn hint(&self) -> Option<std::borrow::Cow<'_, str>> {
        self.hint.as_deref().map(std::borrow::Cow::Borrowed)
    }
}

/// Loads, layers and validates the configuration.
#[derive(Debug, Default, Clone)]
pub struct Loader {
    /// `(key path, value)` pairs from command-line flags, applied last.
    pub flag_overrides: Vec<(String, String)>,
}

impl Loader {
    /// Load `path`, then apply `FCCTL_*` env vars from `env`, then flag overrides.
    #[allow(clippy::result_large_err)] // a cold path, once per run; the fields are all shown
    pub fn load(
        &self,
        path: &Path,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            origin: path.display().to_string(),
            position: None,
            key_path: None,
            message: format!("cannot read the project file: {e}"),
            hint: Some(format!(
                "run `fcctl init` to create {FILE_NAME} here, or pass --config PATH"
            )),
            snippet: None,
        })?;
        self.load_str(&text, &path.display().to_string(), env)
    }

    /// Like [`Loader::load`] from text; `origin` names the source in errors.
    #[allow(clippy::result_large_err)] // a cold path, once per run; the fields are all shown
    pub fn load_str(
        &self,
        text: &str,
        origin: &str,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config, ConfigError> {
        let cfg = parse_str(text, origin)?;
        validate(&cfg).map_err(|(path, message, hint)| {
            let position = outline::locate(text, &path);
            ConfigError {
                origin: origin.into(),
                position,
                snippet: position.and_then(|(l, _)| source_line(text, l)),
                key_path: Some(path),
                message,
                hint,
            }
        })?;
        let mut overrides: Vec<(String, String, String)> = Vec::new();
        for (name, value) in env {
            if let Some(path) = env_key_path(&name) {
                overrides.push((name, path, value));
            }
        }
        overrides.sort();
        for (path, value) in &self.flag_overrides {
            overrides.push((format!("flag for `{path}`"), path.clone(), value.clone()));
        }
        if overrides.is_empty() {
            return Ok(cfg);
        }
        let mut tree = serde_json::to_value(&cfg).expect("config serializes");
        for (origin, path, value) in &overrides {
            set_path(&mut tree, path, value).map_err(|message| ConfigError {
                origin: origin.clone(),
                position: None,
                key_path: Some(path.clone()),
                message,
                hint: None,
                snippet: None,
            })?;
        }
        let cfg: Config = serde_json::from_value(tree).map_err(|e| ConfigError {
            origin: overrides
                .iter()
                .map(|o| o.0.clone())
                .collect::<Vec<_>>()
                .join(", "),
            position: None,
            key_path: None,
            message: format!("override does not fit the config: {e}"),
            hint: None,
            snippet: None,
        })?;
        validate(&cfg).map_err(|(path, message, hint)| ConfigError {
            origin: overrides
                .iter()
                .find(|o| o.1 == path)
                .map(|o| o.0.clone())
                .unwrap_or_else(|| "overrides".into()),
            position: None,
            key_path: Some(path),
            message,
            hint,
            snippet: None,
        })?;
        Ok(cfg)
    }
}

/// Maps `FCCTL_FUNCTION__MEMORY_MB` to `function.memory_mb`; `None` for non-config variables.
fn env_key_path(name: &str) -> Option<String> {
    let rest = name.strip_prefix("FCCTL_")?;
    let path = rest.to_ascii_lowercase().replace("__", ".");
    let top = path.split('.').next()?;
    let sample = serde_json::to_value(Config::with_app("x")).expect("serializes");
    sample.get(top).is_some().then_some(path)
}

/// Sets a dotted path in a JSON tree; the value is read as a YAML scalar (so `512` is a number).
fn set_path(tree: &mut serde_json::Value, path: &str, raw: &str) -> Result<(), String> {
    let value: serde_json::Value =
        serde_saphyr::from_str(raw).unwrap_or_else(|_| serde_json::Value::String(raw.to_string()));
    let mut node = tree;
    let parts: Vec<&str> = path.split('.').collect();
    for (i, part) in parts.iter().enumerate() {
        let obj = node
            .as_object_mut()
            .ok_or_else(|| format!("`{}` is not a section", parts[..i].join(".")))?;
        if !obj.contains_key(*part) {
            let known: Vec<&str> = obj.keys().map(String::as_str).collect();
            return Err(format!(
                "unknown key `{part}`{}",
                suggest(part, &known)
                    .map(|s| format!("; did you mean `{s}`?"))
                    .unwrap_or_default()
            ));
        }
        if i + 1 == parts.len() {
            obj.insert(part.to_string(), value);
            return Ok(());
        }
        node = obj.get_mut(*part).expect("checked above");
    }
    Ok(())
}

fn source_line(text: &str, line: u64) -> Option<String> {
    text.lines()
        .nth(line.checked_sub(1)? as usize)
        .map(|l| l.to_string())
}

/// Parses YAML into a [`Config`] with precise errors (no semantic checks).
#[allow(clippy::result_large_err)] // a cold path, once per run; the fields are all shown
pub fn parse_str(text: &str, origin: &str) -> Result<Config, ConfigError> {
    serde_saphyr::from_str::<Config>(text).map_err(|e| {
        let position = e.location().map(|l| (l.line(), l.column()));
        let raw = e.to_string();
        let message = first_line_of_message(&raw);
        let key_path = position.and_then(|(l, c)| outline::path_at(text, l, c));
        let hint = unknown_field_hint(&message).or_else(|| unknown_variant_hint(&message));
        ConfigError {
            origin: origin.into(),
            position,
            snippet: position.and_then(|(l, _)| source_line(text, l)),
            key_path,
            message,
            hint,
        }
    })
}

/// serde-saphyr renders a snippet after the message; keep only the message itself.
fn first_line_of_message(raw: &str) -> String {
    let first = raw.lines().next().unwrap_or(raw).trim();
    let first = first.strip_prefix("error: ").unwrap_or(first);
    // serde-saphyr prefixes "line N column M: "; we print file:line:col ourselves.
    let first = match first.strip_prefix("line ").and_then(|r| r.split_once(": ")) {
        Some((pos, rest)) if pos.contains("column") => rest,
        _ => first,
    };
    // Drop a trailing "at line X column Y" which we print as file:line:col already.
    match first.find(" at line ") {
        Some(i) => first[..i].to_string(),
        None => first.to_string(),
    }
}

/// Builds "did you mean" from serde's "unknown field `x`, expected one of `a`, `b`".
fn unknown_field_hint(msg: &str) -> Option<String> {
    let (bad, expected) = backticked_after(msg, "unknown field")?;
    let refs: Vec<&str> = expected.iter().map(String::as_str).collect();
    Some(match suggest(&bad, &refs) {
        Some(s) => format!("did you mean `{s}`? valid keys here: {}", refs.join(", ")),
        None => format!("valid keys here: {}", refs.join(", ")),
    })
}

fn unknown_variant_hint(msg: &str) -> Option<String> {
    let (bad, expected) = backticked_after(msg, "unknown variant")?;
    let refs: Vec<&str> = expected.iter().map(String::as_str).collect();
    Some(match suggest(&bad, &refs) {
        Some(s) => format!("did you mean `{s}`? allowed: {}", refs.join(", ")),
        None => format!("allowed: {}", refs.join(", ")),
    })
}

fn backticked_after(msg: &str, marker: &str) -> Option<(String, Vec<String>)> {
    let rest = &msg[msg.find(marker)? + marker.len()..];
    let bad = rest.split('`').nth(1)?.to_string();
    let expected = rest.split_once("expected ")?.1;
    let expected = expected.strip_prefix("one of ").unwrap_or(expected);
    let list = expected
        .split(", ")
        .flat_map(|p| p.split(" or "))
        .map(|p| p.trim().trim_matches('`').to_string())
        .filter(|p| !p.is_empty())
        .collect();
    Some((bad, list))
}

/// The closest candidate by edit distance, if close enough to be a typo.
pub fn suggest<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    candidates
        .iter()
        .map(|c| (strsim::damerau_levenshtein(word, c), *c))
        .filter(|(d, c)| *d <= 2.max(c.len() / 3))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

type Invalid = (String, String, Option<String>);

fn invalid(path: &str, message: impl Into<String>, hint: Option<String>) -> Invalid {
    (path.into(), message.into(), hint)
}

/// Semantic checks serde cannot express; returns (key path, message, hint).
pub fn validate(c: &Config) -> Result<(), Invalid> {
    let name_ok = |s: &str, max: usize| {
        !s.is_empty()
            && s.len() <= max
            && s.chars()
                .next()
                .is_some_and(|ch| ch.is_ascii_alphabetic() || ch == '_')
            && s.chars()
                .all(|ch| ch.is_ascii_alphanumeric() || ch == '-' || ch == '_')
    };
    if !name_ok(&c.app, 64) {
        return Err(invalid(
            "app",
            format!("`{}` is not a valid name", c.app),
            Some("use 1–64 letters, digits, `-` or `_`, starting with a letter".into()),
        ));
    }
    if let Some(n) = &c.function.name
        && !name_ok(n, 128)
    {
        return Err(invalid(
            "function.name",
            format!("`{n}` is not a valid FC function name"),
            Some("use 1–128 letters, digits, `-` or `_`, starting with a letter or `_`".into()),
        ));
    }
    if !c.region.contains('-')
        || c.region
            .chars()
            .any(|ch| ch.is_ascii_uppercase() || ch == ' ')
    {
        return Err(invalid(
            "region",
            format!("`{}` is not a region id", c.region),
            Some("region ids look like cn-shenzhen, cn-hangzhou, ap-southeast-1".into()),
        ));
    }
    if let Some(a) = &c.account_id
        && (a.is_empty() || !a.chars().all(|ch| ch.is_ascii_digit()))
    {
        return Err(invalid(
            "account_id",
            format!("`{a}` is not an account id"),
            Some("the account id (uid) is all digits; see the console's account page".into()),
        ));
    }
    for (key, ep) in [
        ("fc_endpoint", &c.fc_endpoint),
        ("oss_endpoint", &c.oss_endpoint),
    ] {
        if let Some(ep) = ep
            && !(ep.starts_with("http://") || ep.starts_with("https://"))
        {
            return Err(invalid(
                key,
                format!("`{ep}` is not an http(s) URL"),
                Some("write the scheme, e.g. http://127.0.0.1:9000".into()),
            ));
        }
    }
    let f = &c.function;
    if !(128..=32768).contains(&f.memory_mb) || !f.memory_mb.is_multiple_of(64) {
        return Err(invalid(
            "function.memory_mb",
            format!("{} MB is not allowed", f.memory_mb),
            Some("memory must be a multiple of 64 between 128 and 32768 MB".into()),
        ));
    }
    let twentieths = f.cpu * 20.0;
    if !(0.05..=16.0).contains(&f.cpu) || (twentieths - twentieths.round()).abs() > 1e-6 {
        return Err(invalid(
            "function.cpu",
            format!("{} vCPU is not allowed", f.cpu),
            Some("cpu must be a multiple of 0.05 between 0.05 and 16".into()),
        ));
    }
    let gb_per_cpu = f.memory_mb as f64 / 1024.0 / f.cpu;
    if !(1.0 - 1e-9..=4.0 + 1e-9).contains(&gb_per_cpu) {
        return Err(invalid(
            "function.cpu",
            format!(
                "{} vCPU with {} MB is a ratio FC refuses ({gb_per_cpu:.2} GB per vCPU)",
                f.cpu, f.memory_mb
            ),
            Some(format!(
                "memory per vCPU must be 1–4 GB: with {} MB use cpu between {:.2} and {:.2}",
                f.memory_mb,
                (f.memory_mb as f64 / 4096.0 * 20.0).ceil() / 20.0,
                (f.memory_mb as f64 / 1024.0 * 20.0).floor() / 20.0
            )),
        ));
    }
    if f.disk_mb != 512 && f.disk_mb != 10240 {
        return Err(invalid(
            "function.disk_mb",
            format!("{} MB is not allowed", f.disk_mb),
            Some("disk is 512 or 10240 MB".into()),
        ));
    }
    if !(1..=86400).contains(&f.timeout_s) {
        return Err(invalid(
            "function.timeout_s",
            format!("{} s is out of range", f.timeout_s),
            Some("timeout must be 1–86400 seconds".into()),
        ));
    }
    if !(1..=200).contains(&f.instance_concurrency) {
        return Err(invalid(
            "function.instance_concurrency",
            format!("{} is out of range", f.instance_concurrency),
            Some("instance concurrency must be 1–200".into()),
        ));
    }
    if f.port == 0 {
        return Err(invalid("function.port", "port 0 is not allowed", None));
    }
    if !(1..=600).contains(&f.initializer_timeout_s) {
        return Err(invalid(
            "function.initializer_timeout_s",
            format!("{} s is out of range", f.initializer_timeout_s),
            Some("the initializer timeout must be 1–600 seconds".into()),
        ));
    }
    for k in f.env.keys() {
        if k.is_empty()
            || k.starts_with(|ch: char| ch.is_ascii_digit())
            || !k.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '_')
        {
            return Err(invalid(
                &format!("function.env.{k}"),
                format!("`{k}` is not a valid environment variable name"),
                Some("use letters, digits and `_`, not starting with a digit".into()),
            ));
        }
        if k == fcctl_protocol::env::MODEL_DIR || k == "ORT_DYLIB_PATH" {
            return Err(invalid(
                &format!("function.env.{k}"),
                format!("`{k}` is set by fcctl from the NAS release"),
                Some("remove it; `fcctl deploy` pins it to the synced release".into()),
            ));
        }
    }
    if !c.nas.mount_dir.starts_with("/mnt/") || c.nas.mount_dir.len() <= "/mnt/".len() {
        return Err(invalid(
            "nas.mount_dir",
            format!("`{}` is not allowed", c.nas.mount_dir),
            Some("FC mounts NAS under /mnt, e.g. /mnt/auto".into()),
        ));
    }
    if c.nas.server_addr != "auto" && !c.nas.server_addr.contains(":/") {
        return Err(invalid(
            "nas.server_addr",
            format!("`{}` is not a NAS address", c.nas.server_addr),
            Some("use `auto` or `<mount-target-domain>:/<remote dir>`".into()),
        ));
    }
    for (i, g) in c.nas.include.iter().enumerate() {
        if let Err(e) = globset::Glob::new(g) {
            return Err(invalid(
                &format!("nas.include[{i}]"),
                format!("`{g}` is not a valid glob: {}", e.kind()),
                Some("globs look like `model/**` or `**/*.onnx`".into()),
            ));
        }
    }
    if c.oss.bucket != "auto" {
        let b = &c.oss.bucket;
        let ok = (3..=63).contains(&b.len())
            && b.chars()
                .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '-')
            && !b.starts_with('-')
            && !b.ends_with('-');
        if !ok {
            return Err(invalid(
                "oss.bucket",
                format!("`{b}` is not a valid bucket name"),
                Some("3–63 lowercase letters, digits or `-`, or `auto`".into()),
            ));
        }
    }
    if c.trigger.methods.is_empty() {
        return Err(invalid(
            "trigger.methods",
            "no methods",
            Some("the upload page needs at least GET and POST".into()),
        ));
    }
    if !c.custom_domain.route.starts_with('/') {
        return Err(invalid(
            "custom_domain.route",
            format!("`{}` must start with /", c.custom_domain.route),
            Some("e.g. `/*`".into()),
        ));
    }
    if c.custom_domain.name != "auto"
        && (c.custom_domain.name.contains('/') || !c.custom_domain.name.contains('.'))
    {
        return Err(invalid(
            "custom_domain.name",
            format!("`{}` is not a domain name", c.custom_domain.name),
            Some("use `auto` or a host name like cat-dog.example.com".into()),
        ));
    }
    if !name_ok(&c.release.alias, 128) || c.release.alias.eq_ignore_ascii_case("LATEST") {
        return Err(invalid(
            "release.alias",
            format!("`{}` cannot be an alias name", c.release.alias),
            Some("use a name like `prod`".into()),
        ));
    }
    for (i, s) in c.provision.schedules.iter().enumerate() {
        let ok =
            (s.cron.starts_with("cron(") || s.cron.starts_with("at(")) && s.cron.ends_with(')');
        if !ok {
            return Err(invalid(
                &format!("provision.schedules[{i}].cron"),
                format!("`{}` is not an FC schedule expression", s.cron),
                Some(
                    "write `cron(0 0 8 * * *)` (seconds first) or `at(2026-12-01T08:00:00Z)`"
                        .into(),
                ),
            ));
        }
    }
    if c.bench.concurrency == 0 || c.bench.duration_s == 0 {
        return Err(invalid(
            "bench",
            "concurrency and duration_s must be positive",
            None,
        ));
    }
    Ok(())
}

/// A tiny indentation-based outline of block YAML: enough to map line:column to a key path and back.
mod outline {
    /// `(indent, key, line)` for each `key:` line.
    fn keys(text: &str) -> Vec<(usize, String, u64, usize)> {
        let mut out = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let trimmed = line.trim_start();
            if trimmed.starts_with('#') || trimmed.is_empty() {
                continue;
            }
            let indent = line.len() - trimmed.len();
            let (indent, body) = match trimmed.strip_prefix("- ") {
                Some(b) => (indent + 2, b),
                None => (indent, trimmed),
            };
            if let Some(colon) = body.find(':') {
                let key = body[..colon].trim().trim_matches(['"', '\'']);
                if !key.is_empty() && !key.contains(' ') {
                    out.push((indent, key.to_string(), i as u64 + 1, colon));
                }
            }
        }
        out
    }

    /// The key path of the innermost key at or above `line`.
    pub fn path_at(text: &str, line: u64, col: u64) -> Option<String> {
        let ks = keys(text);
        let target_line = text.lines().nth(line.checked_sub(1)? as usize)?;
        let target_indent = target_line.len() - target_line.trim_start().len();
        let mut stack: Vec<(usize, &str)> = Vec::new();
        for (indent, key, l, _) in &ks {
            if *l > line {
                break;
            }
            while stack.last().is_some_and(|(i, _)| *i >= *indent) {
                stack.pop();
            }
            stack.push((*indent, key));
        }
        // An error on a value that sits on its own line (e.g. a list item) belongs to its parent key.
        let _ = (col, target_indent);
        (!stack.is_empty()).then(|| stack.iter().map(|(_, k)| *k).collect::<Vec<_>>().join("."))
    }

    /// Line and column of the key at dotted `path` (list indices ignored).
    pub fn locate(text: &str, path: &str) -> Option<(u64, u64)> {
        let wanted: Vec<&str> = path
            .split('.')
            .map(|p| p.split('[').next().unwrap_or(p))
            .collect();
        let mut stack: Vec<(usize, String)> = Vec::new();
        let mut best = None;
        for (indent, key, line, _) in keys(text) {
            while stack.last().is_some_and(|(i, _)| *i >= indent) {
                stack.pop();
            }
            stack.push((indent, key));
            let here: Vec<&str> = stack.iter().map(|(_, k)| k.as_str()).collect();
            if here == wanted {
                return Some((line, indent as u64 + 1));
            }
            if wanted.starts_with(&here) {
                best = Some((line, indent as u64 + 1));
            }
        }
        best
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[allow(clippy::result_large_err)]
    fn load(text: &str) -> Result<Config, ConfigError> {
        Loader::default().load_str(text, "fcctl.yaml", Vec::new())
    }

    #[test]
    fn minimal_file_gets_seed_defaults() {
        let c = load("app: cat-dog\n").unwrap();
        assert_eq!(c.region, "cn-shenzhen");
        assert_eq!(c.function.memory_mb, 1024);
        assert_eq!(c.function.timeout_s, 120);
        assert_eq!(c.function.runtime, Runtime::Debian10);
        assert_eq!(c.trigger.auth_type, AuthType::Anonymous);
        assert_eq!(
            c.trigger.methods,
            vec![Method::Get, Method::Post, Method::Put]
        );
        assert_eq!(c.custom_domain.name, "auto");
        assert_eq!(c.custom_domain.route, "/*");
        assert_eq!(c.release.alias, "prod");
        assert_eq!(c.provision.instances, 10);
        assert_eq!(c.function_name(), "cat-dog");
        assert_eq!(c.glibc_floor(), GlibcVersion(2, 28));
    }

    #[test]
    fn template_parses() {
        let t = include_str!("../templates/fcctl.yaml");
        let c = load(t).unwrap();
        assert_eq!(c.app, "cat-dog");
    }

    fn err(text: &str) -> ConfigError {
        load(text).expect_err("must fail")
    }

    #[test]
    fn unknown_key_has_position_path_and_suggestion() {
        let e = err("app: cat-dog\nfunction:\n  memroy_mb: 512\n");
        assert_eq!(e.position.map(|p| p.0), Some(3), "{e}");
        assert_eq!(e.key_path.as_deref(), Some("function.memroy_mb"), "{e}");
        assert!(
            e.hint
                .as_deref()
                .unwrap()
                .contains("did you mean `memory_mb`"),
            "{e}"
        );
    }

    #[test]
    fn top_level_typo() {
        let e = err("app: cat-dog\nregoin: cn-hangzhou\n");
        assert_eq!(e.position.map(|p| p.0), Some(2));
        assert!(e.hint.unwrap().contains("`region`"));
    }

    #[test]
    fn wrong_type() {
        let e = err("app: cat-dog\nfunction:\n  memory_mb: lots\n");
        assert_eq!(e.position.map(|p| p.0), Some(3), "{e}");
        assert_eq!(e.key_path.as_deref(), Some("function.memory_mb"));
    }

    #[test]
    fn negative_memory() {
        let e = err("app: cat-dog\nfunction:\n  memory_mb: -1024\n");
        assert_eq!(e.position.map(|p| p.0), Some(3), "{e}");
    }

    #[test]
    fn memory_not_multiple_of_64() {
        let e = err("app: cat-dog\nfunction:\n  memory_mb: 1000\n");
        assert_eq!(e.position, Some((3, 3)), "{e}");
        assert_eq!(e.key_path.as_deref(), Some("function.memory_mb"));
        assert!(e.hint.unwrap().contains("multiple of 64"));
    }

    #[test]
    fn bad_runtime_suggests() {
        let e = err("app: cat-dog\nfunction:\n  runtime: custom.debian13\n");
        assert_eq!(e.position.map(|p| p.0), Some(3), "{e}");
        assert!(
            e.hint.as_deref().unwrap_or("").contains("custom.debian1"),
            "{e}"
        );
    }

    #[test]
    fn bad_glob() {
        let e = err("app: cat-dog\nnas:\n  include:\n    - 'model/[**'\n");
        assert_eq!(e.key_path.as_deref(), Some("nas.include[0]"), "{e}");
        assert_eq!(e.position.map(|p| p.0), Some(3), "{e}");
    }

    #[test]
    fn missing_required_app() {
        let e = err("region: cn-hangzhou\n");
        assert!(e.message.contains("app"), "{e}");
        assert!(e.position.is_some(), "{e}");
    }

    #[test]
    fn invalid_yaml() {
        let e = err("app: cat-dog\nfunction:\n  memory_mb: [1024\n");
        assert!(e.position.is_some(), "{e}");
    }

    #[test]
    fn cpu_ratio() {
        let e = err("app: cat-dog\nfunction:\n  memory_mb: 4096\n  cpu: 0.5\n");
        assert_eq!(e.key_path.as_deref(), Some("function.cpu"));
        assert_eq!(e.position.map(|p| p.0), Some(4));
    }

    #[test]
    fn bad_auth_type_and_method() {
        let e = err("app: cat-dog\ntrigger:\n  auth_type: anonymus\n");
        assert!(e.hint.unwrap().contains("`anonymous`"));
        let e = err("app: cat-dog\ntrigger:\n  methods: [GET, PSOT]\n");
        assert!(e.hint.unwrap().contains("`POST`"));
    }

    #[test]
    fn reserved_env_and_bad_schedule() {
        let e = err("app: cat-dog\nfunction:\n  env:\n    MODEL_DIR: /x\n");
        assert_eq!(e.key_path.as_deref(), Some("function.env.MODEL_DIR"));
        assert_eq!(e.position.map(|p| p.0), Some(4));
        let e = err(
            "app: cat-dog\nprovision:\n  schedules:\n    - name: a\n      cron: '0 8 * * *'\n      target: 2\n",
        );
        assert_eq!(e.key_path.as_deref(), Some("provision.schedules[0].cron"));
        assert_eq!(e.position.map(|p| p.0), Some(5), "{e}");
    }

    #[test]
    fn display_is_file_line_col() {
        let e = err("app: cat-dog\nfunction:\n  memory_mb: 1000\n");
        assert!(
            e.to_string()
                .starts_with("fcctl.yaml:3:3: `function.memory_mb`"),
            "{e}"
        );
    }

    #[test]
    fn layering_defaults_file_env_flags() {
        let text = "app: cat-dog\nregion: cn-hangzhou\nfunction:\n  memory_mb: 2048\n";
        let env = vec![
            ("FCCTL_REGION".to_string(), "cn-beijing".to_string()),
            ("FCCTL_FUNCTION__TIMEOUT_S".to_string(), "60".to_string()),
            (
                "FCCTL_FC_ENDPOINT".to_string(),
                "http://127.0.0.1:1".to_string(),
            ),
            ("FCCTL_UNRELATED_THING".to_string(), "x".to_string()),
            ("PATH".to_string(), "/bin".to_string()),
        ];
        let loader = Loader {
            flag_overrides: vec![("region".into(), "cn-shanghai".into())],
        };
        let c = loader.load_str(text, "fcctl.yaml", env.clone()).unwrap();
        assert_eq!(c.region, "cn-shanghai", "flag beats env beats file");
        assert_eq!(c.function.timeout_s, 60, "env beats default");
        assert_eq!(c.function.memory_mb, 2048, "file beats default");
        assert_eq!(c.function.disk_mb, 512, "default stays");
        assert_eq!(c.fc_endpoint.as_deref(), Some("http://127.0.0.1:1"));
        let c = Loader::default().load_str(text, "fcctl.yaml", env).unwrap();
        assert_eq!(c.region, "cn-beijing", "env beats file");
    }

    #[test]
    fn bad_env_override_names_the_variable() {
        let env = vec![("FCCTL_FUNCTION__MEMORY_MB".to_string(), "1000".to_string())];
        let e = Loader::default()
            .load_str("app: a\n", "fcctl.yaml", env)
            .unwrap_err();
        assert_eq!(e.origin, "FCCTL_FUNCTION__MEMORY_MB");
        let env = vec![("FCCTL_FUNCTION__MEMROY_MB".to_string(), "1024".to_string())];
        let e = Loader::default()
            .load_str("app: a\n", "fcctl.yaml", env)
            .unwrap_err();
        assert!(e.message.contains("did you mean `memory_mb`"), "{e}");
    }

    #[test]
    fn readme_documents_every_key() {
        let readme = include_str!("../README.md");
        let mut c = Config::with_app("x");
        c.account_id = Some("1".into());
        c.fc_endpoint = Some("http://x".into());
        c.oss_endpoint = Some("http://x".into());
        c.function.name = Some("x".into());
        c.build.glibc = Some(GlibcVersion(2, 28));
        c.oss.prefix = Some("p".into());
        c.custom_domain.qualifier = Some("q".into());
        let tree = serde_json::to_value(&c).unwrap();
        let mut missing = Vec::new();
        for (top, v) in tree.as_object().unwrap() {
            match v.as_object() {
                Some(section) => {
                    for leaf in section.keys() {
                        let full = format!("`{top}.{leaf}`");
                        let split = readme.contains(&format!("`{top}."))
                            && readme.contains(&format!("`{leaf}`"));
                        let in_row = readme.lines().any(|l| {
                            l.contains(&format!("`{top}."))
                                && (l.contains(&format!("/ `{leaf}`"))
                                    || l.contains(&format!("`{top}.{leaf}`")))
                        });
                        if !(readme.contains(&full) || (split && in_row)) {
                            missing.push(format!("{top}.{leaf}"));
                        }
                    }
                }
                None => {
                    if !readme.contains(&format!("`{top}`")) {
                        missing.push(top.clone());
                    }
                }
            }
        }
        // `function.name` and `function.description` are documented in templates/fcctl.yaml.
        missing.retain(|m| m != "function.name" && m != "function.description");
        assert!(
            missing.is_empty(),
            "README configuration table lacks: {missing:?}"
        );
    }

    #[test]
    fn glibc_version_parsing() {
        assert_eq!("2.28".parse::<GlibcVersion>().unwrap(), GlibcVersion(2, 28));
        assert_eq!(
            "GLIBC_2.3.4".parse::<GlibcVersion>().unwrap(),
            GlibcVersion(2, 3)
        );
        assert!(GlibcVersion(2, 34) > GlibcVersion(2, 28));
        let c = load("app: a\nbuild:\n  glibc: 2.31\n").unwrap();
        assert_eq!(c.build.glibc, Some(GlibcVersion(2, 31)));
    }
}
