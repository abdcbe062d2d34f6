//! The types of `fcctl.yaml` and their defaults (serde does the parsing; one place for defaults).

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

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
    /// Endpoint overrides of the RPC-style APIs fcctl uses for `auto` infrastructure
    /// (`FCCTL_VPC_ENDPOINT`, `FCCTL_ECS_ENDPOINT`, `FCCTL_NAS_ENDPOINT` set them too).
    #[serde(default)]
    pub endpoints: Endpoints,
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
    /// RAM: `auto` makes sure FC's service-linked role exists (what VPC access and log
    /// delivery use), `none` leaves RAM alone, a role ARN becomes the function's role.
    #[serde(default)]
    pub role: RoleSetting,
    #[serde(default)]
    pub trigger: TriggerConfig,
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
    /// Overrides of the built-in FC price table `fcctl cost` uses (`cost/prices.rs`).
    #[serde(default)]
    pub pricing: PricingConfig,
}

/// `endpoints:` in fcctl.yaml; unset = the product's public endpoint for the region.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Endpoints {
    #[serde(default)]
    pub vpc: Option<String>,
    #[serde(default)]
    pub ecs: Option<String>,
    #[serde(default)]
    pub nas: Option<String>,
    /// RAM is global (`ram.aliyuncs.com`).
    #[serde(default)]
    pub ram: Option<String>,
    /// Log Service (`<region>.log.aliyuncs.com`).
    #[serde(default)]
    pub sls: Option<String>,
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

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FunctionConfig {
    /// Function name; defaults to the app name.
    pub name: Option<String>,
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
    /// Ship ONNX Runtime (`lib/libonnxruntime.so`) from the pinned PyPI wheel, fetched once
    /// into the per-user cache (`package::onnxruntime`).
    pub onnxruntime: bool,
}

/// One file or directory copied into the package tree.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileMapping {
    /// Source path relative to the project root; an absolute or `../` path names a source
    /// outside the project on purpose (`fcctl build` prints it).
    pub src: PathBuf,
    /// Destination path inside the package tree: relative, no `..` (`validate::build_files`).
    pub dst: PathBuf,
    /// Globs, relative to `src`, of files and directories left out of a directory mapping
    /// (scripts and READMEs beside a model, the project's own `target/`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exclude: Vec<String>,
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
    /// `v4` (default). `v1` only for an old bucket of an old account: OSS refuses V1 from
    /// accounts created since 2025-03-01 and on buckets created since 2025-09-01.
    pub signature: OssSignature,
}

/// How OSS requests and presigned URLs are signed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OssSignature {
    #[default]
    V4,
    V1,
}

/// `auto` or explicit VPC ids.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum VpcSetting {
    Auto(AutoKeyword),
    Explicit(VpcExplicit),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VpcExplicit {
    pub vpc_id: String,
    pub vswitch_ids: Vec<String>,
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

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogExplicit {
    /// SLS project.
    pub project: String,
    /// SLS logstore.
    pub logstore: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AutoKeyword {
    Auto,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AutoOrNone {
    Auto,
    None,
}

impl Default for VpcSetting {
    fn default() -> Self {
        VpcSetting::Auto(AutoKeyword::Auto)
    }
}

/// `auto`, `none` or a role ARN (`acs:ram::<account>:role/<name>`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum RoleSetting {
    Keyword(AutoOrNone),
    Arn(String),
}

impl Default for RoleSetting {
    fn default() -> Self {
        RoleSetting::Keyword(AutoOrNone::Auto)
    }
}

impl Default for LogSetting {
    fn default() -> Self {
        LogSetting::Keyword(AutoOrNone::Auto)
    }
}

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
    Delete,
    Get,
    Head,
    Options,
    Patch,
    Post,
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

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TriggerConfig {
    pub name: String,
    /// `anonymous` or `function`.
    pub auth_type: AuthType,
    pub methods: Vec<Method>,
}

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

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DomainConfig {
    /// Bind a custom domain at all.
    pub enabled: bool,
    /// Domain name, or `auto` for a generated test domain.
    pub name: String,
    pub route: String,
    pub protocol: Protocol,
    /// Qualifier the route serves; defaults to the release alias.
    pub qualifier: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ReleaseConfig {
    /// Alias that serves production traffic.
    pub alias: String,
}

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

/// `pricing:` in fcctl.yaml: each key set replaces that entry of the built-in table
/// (`cost::prices::BUILTIN`); unset keys keep it. For a contract price, another site's
/// currency, or a table newer than fcctl's.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PricingConfig {
    /// Currency the tier prices are in (a label; needs `tiers` in that currency).
    pub currency: Option<String>,
    /// Monthly CU usage tiers, cheapest last; the last has no `up_to_cu`.
    pub tiers: Option<Vec<PriceTier>>,
    /// CU per vCPU-second while an instance processes requests.
    pub cu_per_active_vcpu_second: Option<f64>,
    /// CU per vCPU-second of a provisioned instance idle with idle mode on.
    pub cu_per_idle_vcpu_second: Option<f64>,
    /// CU per GB-second of memory.
    pub cu_per_gb_second: Option<f64>,
    /// CU per GB-second of disk (10 GB disks; see `cost/prices.rs` on 512 MB).
    pub cu_per_disk_gb_second: Option<f64>,
    /// CU per 10 000 invocations.
    pub cu_per_10k_invocations: Option<f64>,
    /// Where these prices come from, shown with every estimate.
    pub source: Option<String>,
}

/// One tier of the monthly CU price.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PriceTier {
    /// This price applies to the month's CU usage up to here; absent on the last tier.
    #[serde(default)]
    pub up_to_cu: Option<f64>,
    /// Price of one CU in `currency`.
    pub price_per_cu: f64,
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
            // Right-sized by `fcctl bench --sweep` (README "Right-sizing").
            memory_mb: 384,
            cpu: 0.35,
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
                exclude: Vec::new(),
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
            signature: OssSignature::V4,
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

    pub fn function_name(&self) -> &str {
        self.function.name.as_deref().unwrap_or(&self.app)
    }

    pub fn oss_prefix(&self) -> String {
        self.oss
            .prefix
            .clone()
            .unwrap_or_else(|| format!("fcctl/{}", self.app))
    }

    pub fn domain_qualifier(&self) -> &str {
        self.custom_domain
            .qualifier
            .as_deref()
            .unwrap_or(&self.release.alias)
    }

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::testing::load;

    #[test]
    fn minimal_file_gets_seed_defaults() {
        let c = load("app: cat-dog\n").unwrap();
        assert_eq!(c.region, "cn-shenzhen");
        assert_eq!(c.function.memory_mb, 384);
        assert!((c.function.cpu - 0.35).abs() < 1e-9);
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
        let t = include_str!("../../templates/fcctl.yaml");
        let c = load(t).unwrap();
        assert_eq!(c.app, "cat-dog");
    }

    #[test]
    fn readme_documents_every_key() {
        let readme = include_str!("../../README.md");
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
