//! End-to-end: deploy / publish / alias / provision / status / invoke / rollback with the real
//! fcctl binary against a fresh emulator (a tiny Python function stands in for the model server).

use crate::support::{FakeFault, TestProject, text};

fn post(url: &str, host: Option<&str>) -> serde_json::Value {
    let mut args = vec!["-s", "-X", "POST", "--data-binary", "x"];
    if let Some(h) = host {
        args.extend(["-H", h]);
    }
    let u = format!("{url}/classify");
    args.push(&u);
    let out = std::process::Command::new("curl")
        .args(&args)
        .output()
        .unwrap();
    serde_json::from_slice(&out.stdout).unwrap_or_else(|_| {
        panic!(
            "not JSON from {url}: {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

#[test]
fn deploy_is_planned_idempotent_and_dry_run_exit_code_reports_changes() {
    let p = TestProject::builder().start();
    p.fake_build("dog", "r-one");
    let dry = p.fcctl(&["deploy", "--dry-run", "--json"]);
    assert_eq!(dry.status.code(), Some(10), "{}", text(&dry));
    let plan: serde_json::Value = serde_json::from_slice(&dry.stdout).unwrap();
    assert_eq!(plan["applied"], false);
    assert_eq!(plan["write_calls"], 0);
    assert_eq!(plan["plan"]["function"], "create");

    let r = p.json(&["deploy", "--json"]);
    assert_eq!(r["applied"], true);
    assert!(r["write_calls"].as_u64().unwrap() >= 3, "{r}");

    let again = p.json(&["deploy", "--json"]);
    assert_eq!(again["changed"], false, "{again}");
    assert_eq!(again["write_calls"], 0, "{again}");
    let dry = p.fcctl(&["deploy", "--dry-run"]);
    assert_eq!(dry.status.code(), Some(0));
    assert!(text(&dry).contains("nothing to change"));

    // A config change is planned as exactly that field.
    std::fs::write(
        p.path().join("fcctl.yaml"),
        "app: cat-dog\nfunction:\n  memory_mb: 1024\n",
    )
    .unwrap();
    let dry = p.fcctl(&["deploy", "--dry-run", "--json"]);
    assert_eq!(dry.status.code(), Some(10));
    let plan: serde_json::Value = serde_json::from_slice(&dry.stdout).unwrap();
    let fields: Vec<&str> = plan["plan"]["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, vec!["memorySize"]);
}

#[test]
fn release_flow_publish_alias_provision_status_invoke_rollback() {
    let p = TestProject::builder().start();
    p.fake_build("v1", "r-one");
    p.json(&["deploy", "--json"]);
    let v1 = p.json(&["publish", "--json"]);
    assert_eq!(v1["created"], true);
    assert_eq!(v1["version"], "1");
    let same = p.json(&["publish", "--json"]);
    assert_eq!(
        same["created"], false,
        "publishing unchanged settings twice is a no-op"
    );
    p.json(&["alias", "--version", "1", "--json"]);
    let prov = p.json(&["provision", "--instances", "2", "--wait", "--json"]);
    assert_eq!(prov["current"], 2);
    assert_eq!(prov["target"], 2);

    let st = p.json(&["status", "--json"]);
    assert_eq!(st["warnings"].as_array().unwrap().len(), 0, "{st}");
    assert_eq!(st["trigger"]["qualifier"], "prod");
    assert_eq!(st["aliases"][0]["version"], "1");
    let url = st["trigger"]["url"].as_str().unwrap().to_string();
    assert_eq!(post(&url, None)["label"], "v1");
    let host = format!("Host: {}", st["custom_domain"]["name"].as_str().unwrap());
    let dom = st["custom_domain"]["url"].as_str().unwrap().to_string();
    assert_eq!(post(&dom, Some(&host))["label"], "v1");

    // Publishing refuses when the function drifted from the last build.
    p.fake_build("v2", "r-two");
    let refused = p.fcctl(&["publish"]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        text(&refused).contains("run `fcctl deploy` first"),
        "{}",
        text(&refused)
    );

    p.json(&["deploy", "--json"]);
    let v2 = p.json(&["publish", "--json"]);
    assert_eq!(v2["version"], "2");
    assert_eq!(v2["release_id"], "r-two");
    p.json(&["alias", "--version", "2", "--json"]);
    assert_eq!(post(&url, None)["label"], "v2");
    let inv = p.json(&["invoke", "fcctl.yaml", "--json"]);
    assert_eq!(inv["label"], "v2");
    assert_eq!(inv["release"], "r-two");

    let rb = p.json(&["rollback", "--json"]);
    assert_eq!(rb["from"], "2");
    assert_eq!(rb["to"], "1");
    assert_eq!(rb["release_id"], "r-one");
    assert_eq!(
        post(&url, None)["label"],
        "v1",
        "prod serves version 1 again"
    );
    let prov = p.json(&["provision", "--instances", "2", "--wait", "--json"]);
    assert_eq!(prov["current"], 2, "provisioned instances follow the alias");
}

#[test]
fn canary_weights_and_provision_conflict_is_explained() {
    let p = TestProject::builder().start();
    p.fake_build("a", "r-a");
    p.json(&["deploy", "--json"]);
    p.json(&["publish", "--json"]);
    p.fake_build("b", "r-b");
    p.json(&["deploy", "--json"]);
    p.json(&["publish", "--json"]);
    let a = p.json(&[
        "alias",
        "--version",
        "1",
        "--canary",
        "2",
        "--weight",
        "0.1",
        "--json",
    ]);
    assert_eq!(a["additional_version_weight"]["2"], 0.1);
    let out = p.fcctl(&["provision", "--instances", "2"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).contains("weighted alias"), "{}", text(&out));
}

#[test]
fn status_warns_when_capacity_is_on_a_qualifier_nothing_routes_to() {
    let p = TestProject::builder().start();
    p.fake_build("a", "r-a");
    p.json(&["deploy", "--json"]);
    p.json(&["publish", "--json"]);
    p.json(&["alias", "staging", "--version", "1", "--json"]);
    p.json(&["alias", "--version", "1", "--json"]);
    p.json(&[
        "provision",
        "--instances",
        "1",
        "--alias",
        "staging",
        "--json",
    ]);
    let st = p.json(&["status", "--json"]);
    let w = st["warnings"].to_string();
    assert!(w.contains("staging receive no traffic"), "{st}");
    let human = text(&p.fcctl(&["status"]));
    assert!(human.contains("⚠ WARNING"), "{human}");
}

#[test]
fn wrong_credentials_exit_3_change_nothing_and_never_print_the_secret() {
    let p = TestProject::builder().start();
    p.fake_build("a", "r-a");
    let secret = "WrongSecretThatMustNeverAppear123";
    let out = p.fcctl_env(
        &["-vv", "deploy"],
        &[("ALIBABA_CLOUD_ACCESS_KEY_SECRET", secret)],
    );
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    let all = text(&out);
    // The first call is the VPC API's (`vpc: auto`), which spells the code its own way.
    assert!(
        all.contains("SignatureNotMatch") || all.contains("SignatureDoesNotMatch"),
        "{all}"
    );
    assert!(all.contains("request id"), "{all}");
    assert!(!all.contains(secret), "the secret leaked into the output");
    // Nothing was created; the same env with the right secret works.
    let st = p.fcctl_env(&["status", "--json"], &[]);
    assert!(st.status.success(), "{}", text(&st));
    let st: serde_json::Value = serde_json::from_slice(&st.stdout).unwrap();
    assert_eq!(st["exists"], false);
}

#[test]
fn converges_under_injected_throttling_and_server_errors() {
    let p = TestProject::builder().faults("error_rate=0.1").start();
    p.fake_build("a", "r-a");
    for args in [
        vec!["deploy", "--json"],
        vec!["publish", "--json"],
        vec!["alias", "--version", "1", "--json"],
        vec!["provision", "--instances", "2", "--wait", "--json"],
    ] {
        p.json(&args);
    }
    let again = p.json(&["deploy", "--json"]);
    assert_eq!(again["changed"], false);
}

#[test]
fn deploy_plan_masks_env_values_but_names_the_changed_keys() {
    let with_env = |pw: &str| {
        format!("app: cat-dog\nfunction:\n  env:\n    DB_PASSWORD: {pw}\n    MODE: fast\n")
    };
    let p = TestProject::builder()
        .config(&with_env("SuperSecret-first"))
        .start();
    p.fake_build("dog", "r-one");
    for args in [
        &["deploy", "--dry-run"][..],
        &["deploy", "--dry-run", "--json"],
    ] {
        let out = p.fcctl(args);
        assert_eq!(out.status.code(), Some(10), "{}", text(&out));
        assert!(!text(&out).contains("SuperSecret"), "{}", text(&out));
    }
    p.json(&["deploy", "--json"]);

    std::fs::write(p.path().join("fcctl.yaml"), with_env("SuperSecret-second")).unwrap();
    for args in [
        &["deploy", "--dry-run"][..],
        &["deploy", "--dry-run", "--json"],
        &["deploy", "-vv"],
    ] {
        let out = p.fcctl(args);
        assert!(
            !text(&out).contains("SuperSecret"),
            "{args:?}: {}",
            text(&out)
        );
    }
    // The key that changed is named, the one that did not is not.
    std::fs::write(p.path().join("fcctl.yaml"), with_env("SuperSecret-third")).unwrap();
    let plan = p.fcctl(&["deploy", "--dry-run", "--json"]);
    let plan: serde_json::Value = serde_json::from_slice(&plan.stdout).unwrap();
    let fields: Vec<&str> = plan["plan"]["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, vec!["environmentVariables.DB_PASSWORD"]);
}

/// The project for release-safety tests: any file serves as the sample image (the fake
/// function answers every body), no provisioned instances unless a test asks.
fn release_project() -> TestProject {
    TestProject::builder()
        .config("app: cat-dog\nbench:\n  images: [fcctl.yaml]\n")
        .start()
}

fn publish_as(p: &TestProject, label: &str, fault: FakeFault) -> String {
    p.fake_build_as(label, &format!("r-{label}"), fault);
    p.json(&["deploy", "--json"]);
    p.json(&["publish", "--json"])["version"]
        .as_str()
        .unwrap()
        .to_string()
}

/// `alias --verify` invokes the version by its number first: one whose initializer fails and
/// one that answers 500 are refused with the function's own error (exit 3) and the alias keeps
/// serving the old version through the trigger; a healthy one moves it.
#[test]
fn alias_verify_never_promotes_a_version_that_does_not_start_or_answer() {
    let p = release_project();
    let v1 = publish_as(&p, "v1", FakeFault::None);
    p.json(&["alias", "--version", &v1, "--verify", "--json"]);
    let st = p.json(&["status", "--json"]);
    let url = st["trigger"]["url"].as_str().unwrap().to_string();
    assert_eq!(post(&url, None)["label"], "v1");

    for (label, fault, says) in [
        (
            "v2",
            FakeFault::Initialize,
            "model load failed: sha256 mismatch",
        ),
        ("v3", FakeFault::Classify, "tensor shape mismatch"),
    ] {
        let v = publish_as(&p, label, fault);
        let out = p.fcctl(&["alias", "--version", &v, "--verify"]);
        assert_eq!(out.status.code(), Some(3), "{label}: {}", text(&out));
        assert!(text(&out).contains(says), "{label}: {}", text(&out));
        assert!(
            text(&out).contains("`prod` still serves version 1"),
            "{label}: {}",
            text(&out)
        );
        assert_eq!(
            post(&url, None)["label"],
            "v1",
            "{label} must not be served"
        );
    }

    let v4 = publish_as(&p, "v4", FakeFault::None);
    let moved = p.json(&["alias", "--version", &v4, "--verify", "--json"]);
    assert_eq!(moved["previous"], v1.as_str());
    assert_eq!(post(&url, None)["label"], "v4");

    // A bench of the project records which version, release and size it measured.
    let b = p.json(&[
        "bench",
        "--request",
        "page",
        "--concurrency",
        "2",
        "--max-requests",
        "20",
        "--duration",
        "10s",
        "--json",
    ]);
    assert_eq!(b["tested"]["version"], v4.as_str(), "{}", b["tested"]);
    assert_eq!(b["tested"]["release_id"], "r-v4");
    assert!(b["tested"]["memory_mb"].as_i64().unwrap() > 0);
}

/// An initializer that fails stops `provision --wait` at FC's first `currentError`, with that
/// error, instead of waiting out the timeout (300 s before).
#[test]
fn provision_wait_stops_at_the_first_instance_error() {
    let p = release_project();
    let v1 = publish_as(&p, "bad", FakeFault::Initialize);
    p.json(&["alias", "--version", &v1, "--json"]);
    let t = std::time::Instant::now();
    let out = p.fcctl(&[
        "provision",
        "--instances",
        "1",
        "--wait",
        "--timeout",
        "120",
    ]);
    assert_ne!(out.status.code(), Some(0), "{}", text(&out));
    assert!(text(&out).contains("failed to start"), "{}", text(&out));
    assert!(text(&out).contains("model load failed"), "{}", text(&out));
    // A correctness bound, far from both the ~1 s it takes and the 120 s it used to.
    assert!(t.elapsed().as_secs() < 60, "{:?}", t.elapsed());
}

/// A canary on an alias that holds provisioned instances says they would go and refuses;
/// `--release-provisioned` releases them and sets the weights.
#[test]
fn canary_on_a_provisioned_alias_is_refused_unless_asked_to_release() {
    let p = release_project();
    let v1 = publish_as(&p, "a", FakeFault::None);
    let v2 = publish_as(&p, "b", FakeFault::None);
    p.json(&["alias", "--version", &v1, "--json"]);
    p.json(&["provision", "--instances", "1", "--json"]);
    let canary = [
        "alias",
        "--version",
        &v1,
        "--canary",
        &v2,
        "--weight",
        "0.2",
    ];
    let out = p.fcctl(&canary);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("holds 1 provisioned instance(s)")
            && text(&out).contains("--release-provisioned"),
        "{}",
        text(&out)
    );
    let st = p.json(&["status", "--json"]);
    assert!(
        st["aliases"][0]["additional_version_weight"]
            .as_object()
            .is_none_or(|w| w.is_empty()),
        "{st}"
    );

    let mut args = canary.to_vec();
    args.extend(["--release-provisioned", "--json"]);
    let out = p.fcctl(&args);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("released 1 provisioned instance(s)"),
        "{}",
        text(&out)
    );
}

/// Dry runs say "would", carry `"dry_run": true`, and name the build they are based on when a
/// source is newer; `publish --dry-run` publishes nothing.
#[test]
fn dry_runs_say_would_and_name_a_stale_build() {
    let p = release_project();
    p.fake_build("v1", "r-one");
    // fcctl.yaml edited after the build: the plan says what it is based on.
    std::thread::sleep(std::time::Duration::from_millis(20));
    std::fs::write(
        p.path().join("fcctl.yaml"),
        "app: cat-dog\nbench:\n  images: [fcctl.yaml]\nfunction:\n  memory_mb: 1024\n",
    )
    .unwrap();
    let dry = p.fcctl(&["deploy", "--dry-run"]);
    assert_eq!(dry.status.code(), Some(10), "{}", text(&dry));
    assert!(
        text(&dry).contains("based on the build at")
            && text(&dry).contains("older than fcctl.yaml"),
        "{}",
        text(&dry)
    );
    assert!(text(&dry).contains("would apply"), "{}", text(&dry));
    let dry = p.fcctl(&["deploy", "--dry-run", "--json"]);
    let plan: serde_json::Value = serde_json::from_slice(&dry.stdout).unwrap();
    assert_eq!(plan["dry_run"], true);
    assert_eq!(plan["build"]["newer_sources"][0], "fcctl.yaml");

    p.json(&["deploy", "--json"]);
    let would = p.json(&["publish", "--dry-run", "--json"]);
    assert_eq!(would["dry_run"], true);
    assert_eq!(would["created"], true);
    let out = p.fcctl(&["publish", "--dry-run"]);
    assert!(
        text(&out).contains("would publish a new version"),
        "{}",
        text(&out)
    );
    let published = p.json(&["publish", "--json"]);
    assert_eq!(published["version"], "1", "the dry runs published nothing");
    let again = p.json(&["publish", "--dry-run", "--json"]);
    assert_eq!(
        (again["created"].as_bool(), again["version"].as_str()),
        (Some(false), Some("1"))
    );

    let alias = p.json(&["alias", "--version", "1", "--dry-run", "--json"]);
    assert_eq!(
        (alias["dry_run"].as_bool(), alias["changed"].as_bool()),
        (Some(true), Some(true))
    );
    let st = p.json(&["status", "--json"]);
    assert!(st["aliases"].as_array().unwrap().is_empty(), "{st}");
}

/// `nas-sync --dry-run` cannot list OSS: it fails (unreachable, exit 4) instead of printing a
/// plan that assumes nothing was uploaded.
#[test]
fn nas_sync_dry_run_fails_when_oss_is_unreachable() {
    let p = TestProject::nas();
    let nas = p.work().join("nas/model");
    std::fs::create_dir_all(&nas).unwrap();
    std::fs::write(nas.join("weights.bin"), vec![1u8; 4096]).unwrap();
    let out = p.fcctl_env(
        &["nas-sync", "--dry-run", "--json"],
        &[("FCCTL_OSS_ENDPOINT", "http://127.0.0.1:1")],
    );
    assert_eq!(out.status.code(), Some(4), "{}", text(&out));
    assert!(out.stdout.is_empty(), "no plan printed: {}", text(&out));
}

/// Neither the AccessKey secret nor an STS token appears in any output of failing `-vv` runs
/// (deploy, render, a bench), nor in any file fcctl wrote under the project.
#[test]
fn no_secret_or_sts_token_in_any_output_or_file() {
    let p = TestProject::builder().start();
    p.fake_build("a", "r-a");
    let secret = "SecretValueThatMustNeverAppear987";
    let token = "CAISStsTokenThatMustNeverAppear654";
    let env = [
        ("ALIBABA_CLOUD_ACCESS_KEY_SECRET", secret),
        ("ALIBABA_CLOUD_SECURITY_TOKEN", token),
    ];
    let mut outputs = Vec::new();
    for args in [
        &["-vv", "deploy"][..],
        &["-vv", "deploy", "--dry-run", "--json"],
        &["-vv", "status", "--json"],
        &["-vv", "render"],
        &[
            "-vv",
            "bench",
            "--url",
            "http://127.0.0.1:1/",
            "--duration",
            "1s",
            "--json",
        ],
    ] {
        let out = p.fcctl_env(args, &env);
        outputs.push((args.join(" "), text(&out)));
    }
    assert!(
        outputs[0].1.contains("x-acs-security-token")
            || outputs[0].1.contains("SignatureNotMatch")
            || outputs[0].1.contains("InvalidAccessKey"),
        "the -vv deploy ran and failed: {}",
        outputs[0].1
    );
    for (args, all) in &outputs {
        assert!(!all.contains(secret), "`{args}` printed the secret: {all}");
        assert!(
            !all.contains(token),
            "`{args}` printed the STS token: {all}"
        );
    }
    let mut files = 0;
    for entry in walkdir::WalkDir::new(p.path())
        .into_iter()
        .filter_map(Result::ok)
    {
        // The emulator's own data dir holds what it was told; fcctl's files are the question.
        if !entry.file_type().is_file() || entry.path().starts_with(p.data_dir()) {
            continue;
        }
        files += 1;
        let bytes = std::fs::read(entry.path()).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        assert!(
            !text.contains(secret),
            "{} holds the secret",
            entry.path().display()
        );
        assert!(
            !text.contains(token),
            "{} holds the STS token",
            entry.path().display()
        );
    }
    assert!(
        files > 3,
        "s.yaml, the bench report and the build files were checked ({files})"
    );
}
