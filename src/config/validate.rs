//! Semantic checks serde cannot express: FC's limits and naming rules.

use super::{Config, RoleSetting};

type Invalid = (String, String, Option<String>);

fn invalid(path: &str, message: impl Into<String>, hint: Option<String>) -> Invalid {
    (path.into(), message.into(), hint)
}

/// Semantic checks serde cannot express; returns (key path, message, hint) of the first
/// failure, in file order.
pub fn validate(c: &Config) -> Result<(), Invalid> {
    names_and_endpoints(c)?;
    function(c)?;
    build_files(c)?;
    storage(c)?;
    routing_and_release(c)?;
    role(c)?;
    pricing(c)?;
    Ok(())
}

/// `pricing:` overrides: numbers an estimate can use, tiers in rising order, and a currency
/// only together with prices in it.
fn pricing(c: &Config) -> Result<(), Invalid> {
    let p = &c.pricing;
    for (key, value) in [
        ("cu_per_active_vcpu_second", p.cu_per_active_vcpu_second),
        ("cu_per_idle_vcpu_second", p.cu_per_idle_vcpu_second),
        ("cu_per_gb_second", p.cu_per_gb_second),
        ("cu_per_disk_gb_second", p.cu_per_disk_gb_second),
        ("cu_per_10k_invocations", p.cu_per_10k_invocations),
    ] {
        if let Some(v) = value
            && !(v.is_finite() && v >= 0.0)
        {
            return Err(invalid(
                &format!("pricing.{key}"),
                format!("{v} is not a conversion factor"),
                Some("a CU conversion factor is a number ≥ 0 (Alibaba's billing overview lists them)".into()),
            ));
        }
    }
    if let Some(cur) = &p.currency {
        if cur.len() != 3 || !cur.chars().all(|ch| ch.is_ascii_uppercase()) {
            return Err(invalid(
                "pricing.currency",
                format!("`{cur}` is not a currency code"),
                Some("write a three-letter code such as USD or CNY".into()),
            ));
        }
        if p.tiers.is_none() {
            return Err(invalid(
                "pricing.currency",
                format!("`{cur}` without `tiers` would label the built-in USD prices {cur}"),
                Some("add `pricing.tiers` with the prices in that currency".into()),
            ));
        }
    }
    if let Some(tiers) = &p.tiers {
        if tiers.is_empty() {
            return Err(invalid(
                "pricing.tiers",
                "no tiers",
                Some("give at least one tier: `- price_per_cu: 0.00002`".into()),
            ));
        }
        let mut floor = 0.0;
        for (i, t) in tiers.iter().enumerate() {
            if !(t.price_per_cu.is_finite() && t.price_per_cu >= 0.0) {
                return Err(invalid(
                    &format!("pricing.tiers[{i}].price_per_cu"),
                    format!("{} is not a price", t.price_per_cu),
                    Some("a price per CU is a number ≥ 0".into()),
                ));
            }
            let last = i + 1 == tiers.len();
            match (t.up_to_cu, last) {
                (None, true) => {}
                (None, false) => {
                    return Err(invalid(
                        &format!("pricing.tiers[{i}].up_to_cu"),
                        "only the last tier may be open-ended",
                        Some("give every tier but the last an `up_to_cu`".into()),
                    ));
                }
                (Some(_), true) => {
                    return Err(invalid(
                        &format!("pricing.tiers[{i}].up_to_cu"),
                        "the last tier must be open-ended",
                        Some("remove `up_to_cu` from the last tier: it prices all usage above the one before".into()),
                    ));
                }
                (Some(up), false) => {
                    if !(up.is_finite() && up > floor) {
                        return Err(invalid(
                            &format!("pricing.tiers[{i}].up_to_cu"),
                            format!("{up} does not rise above the tier before ({floor})"),
                            Some("list tiers from the first CU up, each `up_to_cu` larger".into()),
                        ));
                    }
                    floor = up;
                }
            }
        }
    }
    Ok(())
}

/// `role:` as an ARN must be one (`acs:ram::<account id>:role/<name>`, the form FC takes).
fn role(c: &Config) -> Result<(), Invalid> {
    if let RoleSetting::Arn(arn) = &c.role {
        let ok = arn
            .strip_prefix("acs:ram::")
            .and_then(|r| r.split_once(":role/"))
            .is_some_and(|(account, name)| {
                !account.is_empty()
                    && account.chars().all(|ch| ch.is_ascii_digit())
                    && !name.is_empty()
            });
        if !ok {
            return Err(invalid(
                "role",
                format!("`{arn}` is neither `auto`, `none` nor a RAM role ARN"),
                Some("write `role: acs:ram::<account id>:role/<name>` (the role's ARN in the RAM console), or `auto`".into()),
            ));
        }
    }
    Ok(())
}

/// Region ids with a Function Compute 3.0 endpoint (docs/cloud-facts.md has the source).
pub const FC_REGIONS: &[&str] = &[
    "cn-hangzhou",
    "cn-shanghai",
    "cn-qingdao",
    "cn-beijing",
    "cn-zhangjiakou",
    "cn-huhehaote",
    "cn-wulanchabu",
    "cn-shenzhen",
    "cn-chengdu",
    "cn-hongkong",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-southeast-3",
    "ap-southeast-5",
    "ap-southeast-7",
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-south-1",
    "eu-central-1",
    "eu-west-1",
    "us-east-1",
    "us-west-1",
];

fn name_ok(s: &str, max: usize) -> bool {
    !s.is_empty()
        && s.len() <= max
        && s.chars()
            .next()
            .is_some_and(|ch| ch.is_ascii_alphabetic() || ch == '_')
        && s.chars()
            .all(|ch| ch.is_ascii_alphanumeric() || ch == '-' || ch == '_')
}

/// `app`, `function.name`, `region`, `account_id` and the endpoints.
fn names_and_endpoints(c: &Config) -> Result<(), Invalid> {
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
    // A region FC does not serve fails late and obscurely (DNS of the endpoint); a typo
    // (`cn-shenzen`) is caught here. Naming `fc_endpoint` opts out: a region newer than this
    // list still works when its endpoint is written out.
    if c.fc_endpoint.is_none() && !FC_REGIONS.contains(&c.region.as_str()) {
        let fix = match super::suggest(&c.region, FC_REGIONS) {
            Some(s) => format!("did you mean `{s}`? "),
            None => String::new(),
        };
        return Err(invalid(
            "region",
            format!("`{}` is not a region Function Compute 3.0 serves", c.region),
            Some(format!(
                "{fix}FC regions: {}; for a region newer than this list, set `fc_endpoint` \
                 (https://<account>.<region>.fc.aliyuncs.com) and the check is skipped",
                FC_REGIONS.join(", ")
            )),
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
    Ok(())
}

/// FC's limits on memory, cpu, disk, timeouts, concurrency, port and env.
fn function(c: &Config) -> Result<(), Invalid> {
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
    // FC3 limits: the initializer runs at most 300 s, preStop at most 90 s.
    if !(1..=300).contains(&f.initializer_timeout_s) {
        return Err(invalid(
            "function.initializer_timeout_s",
            format!("{} s is out of range", f.initializer_timeout_s),
            Some("FC3 runs an initializer for at most 300 seconds: use 1–300".into()),
        ));
    }
    if !(1..=90).contains(&f.pre_stop_timeout_s) {
        return Err(invalid(
            "function.pre_stop_timeout_s",
            format!("{} s is out of range", f.pre_stop_timeout_s),
            Some("FC3 runs a preStop hook for at most 90 seconds: use 1–90".into()),
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
    Ok(())
}

/// `build.files`: each `dst` is a path inside the package tree, so nothing is written outside
/// the work dir and no zip entry climbs out. (`src` may name a path outside the project on
/// purpose; `fcctl build` prints it.)
fn build_files(c: &Config) -> Result<(), Invalid> {
    use std::path::Component;
    for (i, m) in c.build.files.iter().enumerate() {
        let dst = m.dst.to_string_lossy();
        let why = if m.dst.is_absolute() {
            Some("is absolute")
        } else if m.dst.components().any(|p| p == Component::ParentDir) {
            Some("contains `..`")
        } else {
            None
        };
        if let Some(why) = why {
            return Err(invalid(
                &format!("build.files[{i}].dst"),
                format!("`{dst}` {why}: dst is a path inside the package tree"),
                Some("write it relative to the package root without `..`, e.g. `model`".into()),
            ));
        }
        for (j, g) in m.exclude.iter().enumerate() {
            if let Err(e) = globset::Glob::new(g) {
                return Err(invalid(
                    &format!("build.files[{i}].exclude[{j}]"),
                    format!("`{g}` is not a glob: {e}"),
                    Some("write a glob relative to src, e.g. `**/*.md` or `scripts/**`".into()),
                ));
            }
        }
        if m.dst
            .components()
            .eq([Component::Normal("bootstrap".as_ref())])
        {
            return Err(invalid(
                &format!("build.files[{i}].dst"),
                "`bootstrap` is the function binary fcctl builds",
                Some("pick another dst".into()),
            ));
        }
    }
    Ok(())
}

/// `nas` and `oss`.
fn storage(c: &Config) -> Result<(), Invalid> {
    if !mount_dir_ok(&c.nas.mount_dir) {
        return Err(invalid(
            "nas.mount_dir",
            format!("`{}` is not allowed", c.nas.mount_dir),
            Some(
                "FC mounts NAS under /mnt: an absolute path of plain names (letters, digits, \
                 `.`, `-`, `_`), e.g. /mnt/auto"
                    .into(),
            ),
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
    Ok(())
}

/// Under /mnt, absolute, and made of plain names: `..` would mount outside /mnt and FC
/// takes the path as given.
fn mount_dir_ok(dir: &str) -> bool {
    let Some(rest) = dir.strip_prefix("/mnt/") else {
        return false;
    };
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    !rest.is_empty()
        && rest.split('/').all(|part| {
            !part.is_empty()
                && part != "."
                && part != ".."
                && part
                    .chars()
                    .all(|ch| ch.is_ascii_alphanumeric() || matches!(ch, '.' | '-' | '_'))
        })
}

/// A DNS host name in its ASCII form (RFC 1123 labels). FC takes the name as DNS has it, so a
/// name in another script must be given in punycode; the hint computes it.
fn domain_name(name: &str) -> Result<(), Invalid> {
    let bad = |why: &str, hint: String| {
        Err(invalid(
            "custom_domain.name",
            format!("`{name}` is not a domain name: {why}"),
            Some(hint),
        ))
    };
    let usual = "use `auto` or a host name like cat-dog.example.com".to_string();
    if !name.is_ascii() {
        return match idna::domain_to_ascii(name) {
            Ok(ascii) => bad(
                "it is not ASCII",
                format!("write it the way DNS stores it (punycode): `{ascii}`"),
            ),
            Err(_) => bad("it is not ASCII and has no punycode form", usual),
        };
    }
    if name.len() > 253 || name.split('.').count() < 2 {
        return bad(
            "a host name has 2 or more labels and at most 253 characters",
            usual,
        );
    }
    for label in name.split('.') {
        let ok = (1..=63).contains(&label.len())
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label
                .chars()
                .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '-');
        if !ok {
            let hint = if label.chars().any(|ch| ch.is_ascii_uppercase()) {
                format!("write it in lower case: `{}`", name.to_ascii_lowercase())
            } else {
                "labels are 1–63 lowercase letters, digits or `-`, not starting or ending with `-`"
                    .into()
            };
            return bad(&format!("label `{label}` is not allowed"), hint);
        }
    }
    Ok(())
}

/// `trigger`, `custom_domain`, `release`, `provision` and `bench`.
fn routing_and_release(c: &Config) -> Result<(), Invalid> {
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
    if !name_ok(&c.trigger.name, 128) {
        return Err(invalid(
            "trigger.name",
            format!("`{}` is not a valid FC trigger name", c.trigger.name),
            Some("use 1–128 letters, digits, `-` or `_`, starting with a letter or `_`".into()),
        ));
    }
    if c.custom_domain.name != "auto" {
        domain_name(&c.custom_domain.name)?;
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

#[cfg(test)]
mod tests {
    use crate::config::testing::err;

    #[test]
    fn a_misspelt_region_is_refused_with_did_you_mean() {
        let e = err("app: cat-dog\nregion: cn-shenzen\n");
        assert_eq!(e.key_path.as_deref(), Some("region"), "{e}");
        assert_eq!(e.position.map(|p| p.0), Some(2), "{e}");
        let hint = e.hint.unwrap();
        assert!(hint.contains("did you mean `cn-shenzhen`?"), "{hint}");
        assert!(hint.contains("fc_endpoint"), "{hint}");
    }

    #[test]
    fn an_unlisted_region_is_accepted_when_its_endpoint_is_named() {
        crate::config::testing::ok(
            "app: cat-dog\nregion: xx-newregion-1\nfc_endpoint: https://1.xx-newregion-1.fc.aliyuncs.com\n",
        );
        crate::config::testing::ok("app: cat-dog\nregion: ap-northeast-1\n");
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
    fn bad_glob() {
        let e = err("app: cat-dog\nnas:\n  include:\n    - 'model/[**'\n");
        assert_eq!(e.key_path.as_deref(), Some("nas.include[0]"), "{e}");
        assert_eq!(e.position.map(|p| p.0), Some(3), "{e}");
    }

    #[test]
    fn build_files_dst_leaving_the_package_tree_is_refused_at_its_line() {
        for dst in ["../../../../tmp/x", "/etc/cron.d/x", "model/../../x"] {
            let e = err(&format!(
                "app: cat-dog\nbuild:\n  files:\n    - src: model\n      dst: '{dst}'\n"
            ));
            assert_eq!(e.key_path.as_deref(), Some("build.files[0].dst"), "{e}");
            assert_eq!(e.position, Some((5, 7)), "{e}");
            assert!(e.hint.unwrap().contains("without `..`"));
        }
        let e = err("app: cat-dog\nbuild:\n  files:\n    - src: x\n      dst: bootstrap\n");
        assert_eq!(e.key_path.as_deref(), Some("build.files[0].dst"), "{e}");
        crate::config::testing::load(
            "app: cat-dog\nbuild:\n  files:\n    - src: ../shared/model\n      dst: ./model/v1\n",
        )
        .unwrap();
    }

    #[test]
    fn cpu_ratio() {
        let e = err("app: cat-dog\nfunction:\n  memory_mb: 4096\n  cpu: 0.5\n");
        assert_eq!(e.key_path.as_deref(), Some("function.cpu"));
        assert_eq!(e.position.map(|p| p.0), Some(4));
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
    fn pricing_overrides_are_checked_with_their_key_path() {
        let e = err("app: cat-dog\npricing:\n  cu_per_gb_second: -1\n");
        assert_eq!(
            e.key_path.as_deref(),
            Some("pricing.cu_per_gb_second"),
            "{e}"
        );
        assert_eq!(e.position.map(|p| p.0), Some(3), "{e}");
        let e = err("app: cat-dog\npricing:\n  currency: CNY\n");
        assert_eq!(e.key_path.as_deref(), Some("pricing.currency"), "{e}");
        assert!(e.hint.unwrap().contains("pricing.tiers"));
        let e = err(
            "app: cat-dog\npricing:\n  tiers:\n    - up_to_cu: 100\n      price_per_cu: 1\n    - up_to_cu: 50\n      price_per_cu: 0.5\n    - price_per_cu: 0.1\n",
        );
        assert_eq!(
            e.key_path.as_deref(),
            Some("pricing.tiers[1].up_to_cu"),
            "{e}"
        );
        // (The line is the first tier's: `outline::locate` ignores list indices.)
        let e =
            err("app: cat-dog\npricing:\n  tiers:\n    - up_to_cu: 100\n      price_per_cu: 1\n");
        assert_eq!(
            e.key_path.as_deref(),
            Some("pricing.tiers[0].up_to_cu"),
            "{e}"
        );
        let e = err("app: cat-dog\npricing:\n  tiers: []\n");
        assert_eq!(e.key_path.as_deref(), Some("pricing.tiers"), "{e}");
        let e = err("app: cat-dog\npricing:\n  cu_per_gb_secnd: 1\n");
        assert!(e.to_string().contains("cu_per_gb_second"), "{e}");
        crate::config::testing::ok(
            "app: cat-dog\npricing:\n  currency: CNY\n  tiers:\n    - up_to_cu: 100000000\n      price_per_cu: 0.00013\n    - price_per_cu: 0.0001\n  source: contract 2026\n",
        );
    }

    #[test]
    fn mount_dir_stays_under_mnt() {
        for bad in [
            "/mnt/../etc",
            "/mnt/a/../../etc",
            "/mnt/./x",
            "/mnt//x",
            "/mnt/",
            "/etc",
            "mnt/x",
            "/mnt/a b",
        ] {
            let e = err(&format!("app: cat-dog\nnas:\n  mount_dir: '{bad}'\n"));
            assert_eq!(e.key_path.as_deref(), Some("nas.mount_dir"), "{bad}: {e}");
        }
        for good in ["/mnt/auto", "/mnt/cat-dog/v1", "/mnt/a.b_c/"] {
            crate::config::testing::ok(&format!("app: cat-dog\nnas:\n  mount_dir: '{good}'\n"));
        }
    }

    #[test]
    fn trigger_name_follows_fc_rules() {
        for bad in ["../../x y", "1http", "-h", "", "a/b"] {
            let e = err(&format!("app: cat-dog\ntrigger:\n  name: '{bad}'\n"));
            assert_eq!(e.key_path.as_deref(), Some("trigger.name"), "{bad}: {e}");
        }
    }

    #[test]
    fn domain_names_are_ascii_dns_names_with_a_punycode_hint() {
        let e = err("app: cat-dog\ncustom_domain:\n  name: 猫狗.example.com\n");
        assert_eq!(e.key_path.as_deref(), Some("custom_domain.name"));
        assert!(e.hint.as_deref().unwrap().contains("xn--"), "{e:?}");
        let e = err("app: cat-dog\ncustom_domain:\n  name: Cat-Dog.Example.com\n");
        assert!(
            e.hint.as_deref().unwrap().contains("cat-dog.example.com"),
            "{e:?}"
        );
        for bad in ["localhost", "-a.example.com", "a..b.com", "a_b.example.com"] {
            let e = err(&format!("app: cat-dog\ncustom_domain:\n  name: '{bad}'\n"));
            assert_eq!(e.key_path.as_deref(), Some("custom_domain.name"), "{bad}");
        }
        crate::config::testing::ok("app: cat-dog\ncustom_domain:\n  name: xn--3kq.example.com\n");
    }
}
