//! What an instance runs, decided from the function config alone (no I/O), so that the
//! custom-runtime contract can be unit-tested without spawning anything.

use crate::runtime::target::Target;
use crate::util::sh_quote;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Where an instance is placed: the facts about the host the spec depends on.
pub struct Placement<'a> {
    pub instance_id: &'a str,
    pub port: u16,
    /// The unpacked code package on the host.
    pub code_dir: &'a Path,
    /// The host directory behind NAS mounts.
    pub nas_dir: &'a Path,
    pub region: &'a str,
    pub account_id: &'a str,
    /// Run in a private mount namespace (bind `/code` and the mounts) instead of rewriting paths.
    pub namespaces: bool,
    /// The emulator's data dir (its secret, other functions' code): hidden inside a namespace.
    pub data_dir: &'a Path,
    /// The few variables of the emulator's own environment an instance inherits ([`INHERITED_ENV`]).
    pub inherited: &'a [(String, String)],
}

/// Variables of the emulator's environment an instance keeps: where programs and shared
/// libraries are found, so an interpreter (`python3`) or a binary resolves as it does for the
/// emulator itself. FC's image sets its own; nothing else passes (the emulator's credentials,
/// `ALIBABA_CLOUD_*`, must never reach a function).
pub const INHERITED_ENV: [&str; 2] = ["PATH", "LD_LIBRARY_PATH"];

/// The address instances bind (`fcctl_protocol::env::LISTEN_HOST`, honoured by fcctl's
/// function and nas-agent): loopback, as only the emulator talks to them.
pub const LISTEN_HOST_VAR: &str = "FCCTL_LISTEN_HOST";

/// A NAS mount: `source` on the host appears at `dir` inside the instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    pub source: PathBuf,
    pub dir: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct InstanceSpec {
    pub program: String,
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
    /// Set with path mapping only; in a namespace the wrapper script enters `/code` itself.
    pub cwd: Option<PathBuf>,
    /// Host directories that must exist before the spawn.
    pub mounts: Vec<Mount>,
    /// The configured command line before any wrapping or mapping, for error messages.
    pub command_line: String,
    /// Requests one instance serves at once (`instanceConcurrency`).
    pub concurrency: usize,
    pub initializer: Option<Duration>,
    pub pre_stop: Option<Duration>,
}

impl InstanceSpec {
    pub fn from_function(t: &Target, place: &Placement) -> InstanceSpec {
        let cfg = &t.config;
        let mounts = nas_mounts(t, place);
        let argv = command(cfg);
        let mut env = function_env(t, place);
        let (program, args, cwd) = if place.namespaces {
            let mut args: Vec<String> = ["--mount", "--propagation", "private", "--", "sh", "-c"]
                .map(String::from)
                .into();
            args.push(namespace_script(place.code_dir, &mounts, place.data_dir));
            args.push("fc-instance".into());
            args.extend(argv.iter().cloned());
            ("unshare".to_string(), args, None)
        } else {
            let map = |s: &str| map_path(s, place.code_dir, &mounts);
            for e in env.iter_mut() {
                e.1 = map(&e.1);
            }
            let mut mapped = argv.iter().map(|a| map(a));
            let program = mapped.next().unwrap_or_default();
            (
                program,
                mapped.collect(),
                Some(place.code_dir.to_path_buf()),
            )
        };
        InstanceSpec {
            program,
            args,
            env,
            cwd,
            mounts,
            command_line: argv.join(" "),
            concurrency: cfg["instanceConcurrency"].as_u64().unwrap_or(1).max(1) as usize,
            initializer: hook(cfg, "initializer"),
            pre_stop: hook(cfg, "preStop"),
        }
    }
}

fn nas_mounts(t: &Target, place: &Placement) -> Vec<Mount> {
    let Some(mps) = t.config["nasConfig"]["mountPoints"].as_array() else {
        return Vec::new();
    };
    mps.iter()
        .map(|mp| Mount {
            source: nas_source(
                place.nas_dir,
                place.data_dir,
                &t.nas_file_systems,
                mp["serverAddr"].as_str().unwrap_or("auto"),
            ),
            dir: mp["mountDir"].as_str().unwrap_or("/mnt/auto").to_string(),
        })
        .collect()
}

/// Host path behind a NAS `serverAddr`: `<mount target>:/<path>` → `<file system dir>/<path>`
/// for a mount target the emulator's NAS API made (`file_systems`: domain → file system id);
/// any other `host:/path` → `<nas_dir>/path`; `auto` → `<nas_dir>`. Empty, `.` and `..`
/// segments are dropped, so no address reaches outside its directory.
pub fn nas_source(
    nas_dir: &Path,
    data_dir: &Path,
    file_systems: &BTreeMap<String, String>,
    server_addr: &str,
) -> PathBuf {
    if server_addr.eq_ignore_ascii_case("auto") {
        return nas_dir.to_path_buf();
    }
    let (host, path) = server_addr.split_once(":/").unwrap_or((server_addr, ""));
    let mut out = match file_systems.get(&host.to_ascii_lowercase()) {
        Some(fs) => crate::infra::fs_dir(data_dir, fs),
        None => nas_dir.to_path_buf(),
    };
    for seg in path.split('/') {
        if !matches!(seg, "" | "." | "..") {
            out.push(seg);
        }
    }
    out
}

/// `customRuntimeConfig.command` + `args`; FC's default command is `/code/bootstrap`.
fn command(cfg: &Value) -> Vec<String> {
    let rc = &cfg["customRuntimeConfig"];
    let strings = |v: &Value| -> Vec<String> {
        v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default()
    };
    let mut argv = strings(&rc["command"]);
    if argv.is_empty() {
        argv.push("/code/bootstrap".into());
    }
    argv.extend(strings(&rc["args"]));
    argv
}

/// The instance's whole environment (the spawn clears the rest): [`INHERITED_ENV`], then the
/// function's environment variables (which may set `PATH`, as on FC), then the `FC_*`
/// variables of the custom-runtime contract and the listen host (so a function cannot
/// override those). Later entries win.
fn function_env(t: &Target, place: &Placement) -> Vec<(String, String)> {
    let cfg = &t.config;
    let mut env: Vec<(String, String)> = place.inherited.to_vec();
    if let Some(e) = cfg["environmentVariables"].as_object() {
        for (k, v) in e {
            let v = v
                .as_str()
                .map(String::from)
                .unwrap_or_else(|| v.to_string());
            env.push((k.clone(), v));
        }
    }
    let code_path = if place.namespaces {
        "/code".to_string()
    } else {
        place.code_dir.display().to_string()
    };
    let port = place.port.to_string();
    let fc_env = [
        ("FC_CUSTOM_LISTEN_PORT", port.clone()),
        ("FC_SERVER_PORT", port),
        ("FC_FUNCTION_NAME", t.function.clone()),
        ("FC_FUNCTION_VERSION", t.version.clone()),
        ("FC_VER_ID", t.version.clone()),
        ("FC_QUALIFIER", t.qualifier.clone()),
        ("FC_INSTANCE_ID", place.instance_id.to_string()),
        ("FC_REGION", place.region.to_string()),
        ("FC_ACCOUNT_ID", place.account_id.to_string()),
        ("FC_FUNC_CODE_PATH", format!("{code_path}/")),
        (
            "FC_FUNCTION_HANDLER",
            cfg["handler"].as_str().unwrap_or("").to_string(),
        ),
        (
            "FC_FUNCTION_MEMORY_SIZE",
            cfg["memorySize"].as_u64().unwrap_or(512).to_string(),
        ),
        (
            "FC_TIMEOUT",
            cfg["timeout"].as_u64().unwrap_or(3).to_string(),
        ),
        (
            "FC_RUNTIME",
            cfg["runtime"].as_str().unwrap_or("custom").to_string(),
        ),
    ];
    env.extend(fc_env.map(|(k, v)| (k.to_string(), v)));
    env.push((LISTEN_HOST_VAR.to_string(), "127.0.0.1".to_string()));
    env
}

/// The `sh -c` script run inside `unshare --mount`: bind the code read-only at `/code` (as on
/// FC) and the mounts, then cover the data dir with an empty read-only tmpfs (the emulator's
/// secret and other functions' code disappear; the binds made before stay), then exec the
/// command (passed as `"$@"`).
fn namespace_script(code_dir: &Path, mounts: &[Mount], data_dir: &Path) -> String {
    let mut script = String::from("set -e; mkdir -p /code; mount --bind ");
    script.push_str(&sh_quote(&code_dir.display().to_string()));
    script.push_str(" /code; mount -o remount,bind,ro /code; ");
    for m in mounts {
        script.push_str(&format!(
            "mkdir -p {d}; mount --bind {s} {d}; ",
            d = sh_quote(&m.dir),
            s = sh_quote(&m.source.display().to_string())
        ));
    }
    script.push_str(&format!(
        "mount -t tmpfs -o ro,size=4k,mode=0 fcctl-hidden {}; ",
        sh_quote(&data_dir.display().to_string())
    ));
    script.push_str("cd /code; exec \"$@\"");
    script
}

/// Path mapping (no namespaces): rewrites a `/code` or mount-dir prefix to the host path.
fn map_path(s: &str, code_dir: &Path, mounts: &[Mount]) -> String {
    let mut out = if s == "/code" || s.starts_with("/code/") {
        format!("{}{}", code_dir.display(), &s[5..])
    } else {
        s.to_string()
    };
    for m in mounts {
        if out == m.dir || out.starts_with(&format!("{}/", m.dir)) {
            out = format!("{}{}", m.source.display(), &out[m.dir.len()..]);
        }
    }
    out
}

/// The timeout of a lifecycle hook (`initializer`, `preStop`), if the function has one.
fn hook(config: &Value, name: &str) -> Option<Duration> {
    let h = &config["instanceLifecycleConfig"][name];
    let handler = h["handler"].as_str().unwrap_or("");
    let has_cmd = h["command"].as_array().is_some_and(|a| !a.is_empty());
    if handler.is_empty() && !has_cmd {
        return None;
    }
    let t = h["timeout"].as_u64().filter(|t| *t > 0).unwrap_or(3);
    Some(Duration::from_secs(t))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn target(config: Value) -> Target {
        Target {
            function: "f".into(),
            version: "2".into(),
            qualifier: "prod".into(),
            config,
            code_sha: "abc".into(),
            nas_file_systems: BTreeMap::new(),
        }
    }

    fn place(namespaces: bool) -> Placement<'static> {
        Placement {
            instance_id: "c-1",
            port: 9000,
            code_dir: Path::new("/data/code/abc"),
            nas_dir: Path::new("/data/nas"),
            region: "cn-shenzhen",
            account_id: "123",
            namespaces,
            data_dir: Path::new("/data"),
            inherited: &[],
        }
    }

    fn env<'a>(s: &'a InstanceSpec, k: &str) -> Option<&'a str> {
        s.env.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str())
    }

    #[test]
    fn defaults_to_code_bootstrap_with_the_fc_contract_env() {
        let s = InstanceSpec::from_function(
            &target(json!({"handler": "index.handler"})),
            &place(false),
        );
        assert_eq!(s.program, "/data/code/abc/bootstrap");
        assert!(s.args.is_empty());
        assert_eq!(s.cwd.as_deref(), Some(Path::new("/data/code/abc")));
        assert_eq!(env(&s, "FC_CUSTOM_LISTEN_PORT"), Some("9000"));
        assert_eq!(env(&s, "FC_FUNCTION_VERSION"), Some("2"));
        assert_eq!(env(&s, "FC_QUALIFIER"), Some("prod"));
        assert_eq!(env(&s, "FC_FUNC_CODE_PATH"), Some("/data/code/abc/"));
        assert_eq!(env(&s, "FC_FUNCTION_HANDLER"), Some("index.handler"));
        assert_eq!(env(&s, "FC_FUNCTION_MEMORY_SIZE"), Some("512"));
        assert_eq!(env(&s, "FC_TIMEOUT"), Some("3"));
        assert_eq!(env(&s, "FC_RUNTIME"), Some("custom"));
        assert_eq!((s.concurrency, s.initializer, s.pre_stop), (1, None, None));
    }

    #[test]
    fn path_mapping_rewrites_code_and_mount_prefixes() {
        let cfg = json!({
            "customRuntimeConfig": {"command": ["python3", "/code/server.py"], "args": ["--data", "/mnt/shared/x"]},
            "environmentVariables": {"DATA": "/mnt/shared", "N": 3},
            "nasConfig": {"mountPoints": [{"serverAddr": "nas.example.com:/team", "mountDir": "/mnt/shared"}]},
        });
        let s = InstanceSpec::from_function(&target(cfg), &place(false));
        assert_eq!(s.program, "python3");
        assert_eq!(
            s.args,
            ["/data/code/abc/server.py", "--data", "/data/nas/team/x"]
        );
        assert_eq!(env(&s, "DATA"), Some("/data/nas/team"));
        assert_eq!(env(&s, "N"), Some("3"));
        assert_eq!(
            s.mounts,
            [Mount {
                source: PathBuf::from("/data/nas/team"),
                dir: "/mnt/shared".into()
            }]
        );
        assert_eq!(
            s.command_line,
            "python3 /code/server.py --data /mnt/shared/x"
        );
    }

    #[test]
    fn namespaces_wrap_the_command_and_keep_paths() {
        let cfg = json!({
            "customRuntimeConfig": {"command": ["/code/bootstrap"]},
            "environmentVariables": {"DATA": "/mnt/auto"},
            "nasConfig": {"mountPoints": [{"serverAddr": "auto"}]},
        });
        let s = InstanceSpec::from_function(&target(cfg), &place(true));
        assert_eq!(s.program, "unshare");
        assert_eq!(s.cwd, None);
        assert_eq!(
            s.args[..6],
            ["--mount", "--propagation", "private", "--", "sh", "-c"]
        );
        assert_eq!(
            s.args[6],
            "set -e; mkdir -p /code; mount --bind '/data/code/abc' /code; mount -o remount,bind,ro /code; mkdir -p '/mnt/auto'; mount --bind '/data/nas' '/mnt/auto'; mount -t tmpfs -o ro,size=4k,mode=0 fcctl-hidden '/data'; cd /code; exec \"$@\""
        );
        assert_eq!(s.args[7..], ["fc-instance", "/code/bootstrap"]);
        assert_eq!(env(&s, "DATA"), Some("/mnt/auto"));
        assert_eq!(env(&s, "FC_FUNC_CODE_PATH"), Some("/code/"));
    }

    #[test]
    fn limits_and_lifecycle_hooks() {
        let cfg = json!({
            "instanceConcurrency": 20, "memorySize": 1024, "timeout": 60,
            "instanceLifecycleConfig": {
                "initializer": {"handler": "init", "timeout": 7},
                "preStop": {"command": ["stop"]},
            },
        });
        let s = InstanceSpec::from_function(&target(cfg), &place(false));
        assert_eq!(s.concurrency, 20);
        assert_eq!(s.initializer, Some(Duration::from_secs(7)));
        assert_eq!(s.pre_stop, Some(Duration::from_secs(3)));
        assert_eq!(env(&s, "FC_FUNCTION_MEMORY_SIZE"), Some("1024"));
        assert_eq!(env(&s, "FC_TIMEOUT"), Some("60"));
    }

    #[test]
    fn nas_sources() {
        let nas = Path::new("/n");
        let data = Path::new("/d");
        let none = BTreeMap::new();
        assert_eq!(nas_source(nas, data, &none, "auto"), PathBuf::from("/n"));
        assert_eq!(
            nas_source(nas, data, &none, "x.nas.aliyuncs.com:/"),
            PathBuf::from("/n")
        );
        assert_eq!(
            nas_source(nas, data, &none, "x.nas.aliyuncs.com:/a/b/"),
            PathBuf::from("/n/a/b")
        );
    }

    #[test]
    fn a_mount_target_address_mounts_its_file_system() {
        let nas = Path::new("/n");
        let data = Path::new("/d");
        let fs = BTreeMap::from([(
            "0a1b2c3d4e-xk2p9.cn-shenzhen.nas.aliyuncs.com".to_string(),
            "0a1b2c3d4e".to_string(),
        )]);
        assert_eq!(
            nas_source(
                nas,
                data,
                &fs,
                "0a1b2c3d4e-xk2p9.cn-shenzhen.nas.aliyuncs.com:/cat-dog"
            ),
            PathBuf::from("/d/nas-fs/0a1b2c3d4e/cat-dog")
        );
        assert_eq!(
            nas_source(
                nas,
                data,
                &fs,
                "0A1B2C3D4E-XK2P9.cn-shenzhen.nas.aliyuncs.com:/"
            ),
            PathBuf::from("/d/nas-fs/0a1b2c3d4e"),
            "domains ignore case"
        );
        // A mount target that does not exist (deleted, or another account's) is not it.
        assert_eq!(
            nas_source(
                nas,
                data,
                &fs,
                "ffffffffff-aaaaa.cn-shenzhen.nas.aliyuncs.com:/app"
            ),
            PathBuf::from("/n/app")
        );
        assert_eq!(
            nas_source(
                nas,
                data,
                &fs,
                "0a1b2c3d4e-xk2p9.cn-shenzhen.nas.aliyuncs.com:/../../etc/./x"
            ),
            PathBuf::from("/d/nas-fs/0a1b2c3d4e/etc/x"),
            "nothing escapes the file system"
        );
    }
}
