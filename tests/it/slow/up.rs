//! End-to-end `fcctl up` against a fresh emulator with the real function, model and
//! nas-agent: first deploy, a no-change re-run, a model change + rollback, killed runs, faults.
//!
//! The function and nas-agent binaries are the ones `fcctl build` cross-compiled in this
//! repository (`scripts/test` runs it before the tests); the tests pass them with `--binary`
//! so each temp project does not recompile them.

use std::path::PathBuf;
use std::time::Duration;

use crate::support::{self, TestProject, text};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn prebuilt(name: &str) -> PathBuf {
    let p = repo()
        .join("target/x86_64-unknown-linux-gnu/release")
        .join(name);
    assert!(
        p.is_file(),
        "{} is missing: run `cargo run -- build` in the repository first (scripts/test does)",
        p.display()
    );
    p
}

fn onnxruntime() -> PathBuf {
    let out = std::process::Command::new(repo().join("scripts/fetch-onnxruntime.sh"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "scripts/fetch-onnxruntime.sh failed: run scripts/setup"
    );
    PathBuf::from(String::from_utf8(out.stdout).unwrap().trim())
}

fn seed(name: &str) -> String {
    repo()
        .join("../shared/seed")
        .join(name)
        .display()
        .to_string()
}

/// A project whose model directory is a private copy (so tests can change it).
fn project(faults: &str) -> TestProject {
    project_from(TestProject::builder().faults(faults))
}

/// [`project`] from a builder the caller configured.
fn project_from(builder: support::Builder) -> TestProject {
    let p = builder.start();
    let model = p.path().join("model");
    std::fs::create_dir_all(&model).unwrap();
    for f in std::fs::read_dir(repo().join("model")).unwrap() {
        let f = f.unwrap().path();
        let keep = f
            .extension()
            .is_some_and(|e| e == "onnx" || e == "yaml" || e == "txt");
        if keep {
            std::fs::copy(&f, model.join(f.file_name().unwrap())).unwrap();
        }
    }
    let cfg = format!(
        "app: cat-dog\nprovision:\n  instances: 2\nbuild:\n  onnxruntime: false\n  files:\n    - {{src: model, dst: model}}\n    - {{src: {}, dst: lib/libonnxruntime.so}}\nbench:\n  images: [{}, {}]\n",
        onnxruntime().display(),
        seed("test_dog.jpg"),
        seed("test_cat.jpg"),
    );
    std::fs::write(p.path().join("fcctl.yaml"), cfg).unwrap();
    p
}

fn up_args() -> Vec<String> {
    vec![
        "up".into(),
        "--detach".into(),
        "--json".into(),
        "--binary".into(),
        prebuilt("fcctl-function").display().to_string(),
        "--agent-binary".into(),
        prebuilt("nas-agent").display().to_string(),
    ]
}

fn up(p: &TestProject) -> serde_json::Value {
    let args = up_args();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    p.json(&args)
}

/// `up --local` without `--detach` while another process owns the emulator: it must return
/// (bounded wait) and say whose emulator it used and how to stop it.
fn up_joining(p: &TestProject) -> serde_json::Value {
    let args: Vec<String> = up_args().into_iter().filter(|a| a != "--detach").collect();
    let mut child = p
        .local_command(&args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(300);
    while child.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > deadline {
            child.kill().unwrap();
            panic!("`up --local` joining a running emulator did not return within 300 s");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("joined the local emulator already running as pid")
            && stderr.contains("it keeps running (`fcctl local stop` ends it)"),
        "{stderr}"
    );
    assert!(!stderr.contains("press Ctrl-C"), "{stderr}");
    serde_json::from_slice(&out.stdout).unwrap()
}

fn classify(url: &str, image: &str) -> serde_json::Value {
    let out = std::process::Command::new("curl")
        .args([
            "-s",
            "--data-binary",
            &format!("@{image}"),
            &format!("{url}/classify"),
        ])
        .output()
        .unwrap();
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|_| panic!("not JSON: {}", String::from_utf8_lossy(&out.stdout)))
}

#[test]
fn up_deploys_then_converges_with_no_writes_then_model_change_and_rollback() {
    let p = project("");
    let first = up(&p);
    assert_eq!(first["alias"], "prod");
    assert_eq!(first["version"], "1");
    assert_eq!(first["provision"]["current"], 2);
    assert_eq!(first["provision"]["target"], 2);
    assert!(
        first["smoke"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["ok"] == true),
        "{first}"
    );
    let url = first["url"].as_str().unwrap().to_string();
    assert_eq!(classify(&url, &seed("test_dog.jpg"))["label"], "dog");
    // Through the custom domain by Host header.
    let out = std::process::Command::new("curl")
        .args([
            "-s",
            "-H",
            &format!("Host: {}", first["custom_domain"].as_str().unwrap()),
            "--data-binary",
            &format!("@{}", seed("test_cat.jpg")),
            &format!("{}/classify", first["domain_url"].as_str().unwrap()),
        ])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["label"], "cat");

    // The second run joins the emulator another process owns (here the test's), so without
    // --detach it must return once its work is done instead of serving until Ctrl-C.
    let second = up_joining(&p);
    assert_eq!(second["version"], "1", "no new version without changes");
    assert_eq!(second["published"], false);
    assert_eq!(second["write_calls"], 0, "{second}");
    assert_eq!(second["release_id"], first["release_id"]);

    // The plan of a converged project: nothing would change.
    let dry = p.fcctl(&["up", "--dry-run", "--json"]);
    assert_eq!(dry.status.code(), Some(0), "{}", text(&dry));
    let plan: serde_json::Value = serde_json::from_slice(&dry.stdout).unwrap();
    assert_eq!(
        (plan["dry_run"].as_bool(), plan["changed"].as_bool()),
        (Some(true), Some(false)),
        "{plan}"
    );

    // A model change (every photo below the "other" threshold) is a new release and version.
    let yaml = p.path().join("model/model.yaml");
    let text0 = std::fs::read_to_string(&yaml).unwrap();
    let changed = text0
        .lines()
        .map(|l| {
            if l.trim_start().starts_with("other_threshold:") {
                let indent = &l[..l.len() - l.trim_start().len()];
                format!("{indent}other_threshold: 0.9999")
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    assert_ne!(
        changed, text0,
        "model.yaml has an other_threshold to change"
    );
    std::fs::write(&yaml, changed + "\n").unwrap();
    // Planned before building: the plan says its build is older than the model.
    let dry = p.fcctl(&["up", "--dry-run"]);
    assert_eq!(dry.status.code(), Some(10), "{}", text(&dry));
    assert!(
        text(&dry).contains("older than model/model.yaml"),
        "{}",
        text(&dry)
    );
    let args = up_args();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = p.fcctl(&args);
    // Verify, then promote: version 2 is published and invoked by its number, calls the dog
    // "other", and `prod` never moves to it.
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(
        text(&out).contains("version 2 failed its check before release")
            && text(&out).contains("answered other where dog was expected")
            && text(&out).contains("`prod` still serves version 1"),
        "{}",
        text(&out)
    );
    let st = p.json(&["status", "--json"]);
    assert_eq!(st["aliases"][0]["version"], "1");
    assert_ne!(
        st["versions"][1]["release_id"],
        st["versions"][0]["release_id"]
    );
    assert_eq!(
        classify(&url, &seed("test_dog.jpg"))["label"],
        "dog",
        "the trigger still serves the old model"
    );
    let journal = std::fs::read_dir(p.work().join("up-journal"))
        .unwrap()
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
        .find(|j| j.contains("\"verify\"") && j.contains("\"failed\""));
    assert!(journal.is_some(), "the journal records the failed check");

    // Forced by hand (no --verify), then rolled back.
    p.json(&["alias", "--version", "2", "--json"]);
    assert_eq!(classify(&url, &seed("test_dog.jpg"))["label"], "other");
    let rb = p.json(&["rollback", "--json"]);
    assert_eq!(rb["to"], "1");
    assert_eq!(rb["release_id"], first["release_id"]);
    assert_eq!(
        classify(&url, &seed("test_dog.jpg"))["label"],
        "dog",
        "prod serves version 1 with the old model again"
    );
}

/// The release a version pins must be complete on NAS (marker written last).
fn assert_prod_release_complete(p: &TestProject) {
    let st = p.fcctl(&["status", "--json"]);
    if !st.status.success() {
        return;
    }
    let st: serde_json::Value = serde_json::from_slice(&st.stdout).unwrap();
    let Some(prod) = st["aliases"]
        .as_array()
        .and_then(|a| a.iter().find(|a| a["alias"] == "prod"))
    else {
        return;
    };
    let v = prod["version"].as_str().unwrap();
    let release = st["versions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["version"] == v)
        .and_then(|x| x["release_id"].as_str())
        .unwrap()
        .to_string();
    let dir = p.nas_root().join("cat-dog/releases").join(&release);
    assert!(
        dir.is_dir(),
        "prod → version {v} → release {release}, but {} is missing",
        dir.display()
    );
    let entries: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .collect();
    assert!(
        entries.iter().any(|e| e.contains("model")) && entries.iter().any(|e| e == "lib"),
        "release {release} is incomplete: {entries:?}"
    );
}

/// A model that cannot initialise (an operator ONNX Runtime does not know), released with the
/// build's own trial skipped: `up` publishes it, invokes it by number, gets the initializer's
/// error and never moves `prod`, which keeps answering with the old model.
#[test]
fn up_never_promotes_a_version_whose_initializer_fails() {
    let p = project("");
    let first = up(&p);
    let url = first["url"].as_str().unwrap().to_string();
    let op = support::make_model_unloadable(&p.path().join("model"));
    let mut args = up_args();
    args.push("--no-trial".into());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = p.fcctl(&args);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(
        text(&out).contains("version 2 failed its check before release")
            && text(&out).contains("`prod` still serves version 1"),
        "{}",
        text(&out)
    );
    // The function's own words about why it cannot start reach the user.
    assert!(text(&out).contains(op), "{}", text(&out));
    let st = p.json(&["status", "--json"]);
    assert_eq!(st["aliases"][0]["version"], "1");
    assert_eq!(classify(&url, &seed("test_dog.jpg"))["label"], "dog");
}

#[test]
fn killed_up_runs_converge_and_prod_never_points_at_an_incomplete_release() {
    let p = project("");
    let args = up_args();
    // Spread kills over a run's whole length (a full run takes a few seconds here).
    let mut rng = 0x2545F4914F6CDD1Du64;
    for trial in 0..20 {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        let delay = Duration::from_millis(50 + rng % 4000);
        let mut child = p
            .local_command(&args)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(delay);
        let _ = child.kill();
        let _ = child.wait();
        assert_prod_release_complete(&p);
        if trial % 5 == 4 {
            // Touch the model now and then so killed runs also interrupt new releases.
            let f = p.path().join("model/imagenet_classes.txt");
            let mut t = std::fs::read_to_string(&f).unwrap();
            t.push('\n');
            std::fs::write(&f, t).unwrap();
        }
    }
    let done = up(&p);
    assert!(
        done["smoke"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["ok"] == true)
    );
    assert_prod_release_complete(&p);
    let again = up(&p);
    assert_eq!(again["write_calls"], 0);
}

#[test]
fn up_converges_with_ten_percent_injected_api_faults() {
    let p = project("error_rate=0.1");
    let r = up(&p);
    assert_eq!(r["provision"]["current"], 2);
    assert!(
        r["smoke"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["ok"] == true)
    );
}

#[test]
fn up_with_wrong_credentials_exits_3_and_changes_nothing() {
    let p = project("");
    let args = up_args();
    let mut a: Vec<&str> = args.iter().map(String::as_str).collect();
    a.retain(|x| *x != "--detach");
    let out = p.fcctl_env(
        &a,
        &[("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "nope-not-the-secret")],
    );
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    let st = p.fcctl_env(&["status", "--json"], &[]);
    let st: serde_json::Value = serde_json::from_slice(&st.stdout).unwrap();
    assert_eq!(st["exists"], false);
}

/// The wire, held to Alibaba's SDK models (issue 14): the pipeline on the cloud code path
/// (endpoint and credential variables, not `--local`; a real-looking NAS mount target, VPC ids
/// and a custom domain, so no `auto` shortcut applies), every request recorded by the emulator,
/// then `emulator/conformance/wire_check.py` checks each FC3 body against the official
/// `alibabacloud_fc20230330` input model of its action (unknown keys, required fields, JSON
/// types) and each OSS request's signature version.
#[test]
fn cloud_path_requests_match_the_official_sdk_models() {
    let p = project_from(TestProject::builder().record_requests());
    let mut cfg = std::fs::read_to_string(p.path().join("fcctl.yaml")).unwrap();
    // `vpc`, `nas` and `log` stay `auto`: resolved to real ids through the emulator's APIs,
    // so the bodies carry a full vpcConfig, nasConfig and logConfig (the emulator refuses
    // ids it never issued, as FC does).
    cfg.push_str("custom_domain:\n  name: cat-dog.fcctl-test.example\n");
    std::fs::write(p.path().join("fcctl.yaml"), cfg).unwrap();
    let run = |args: &[&str]| {
        let out = p.fcctl_env(args, &[]);
        assert!(out.status.success(), "fcctl {args:?}: {}", text(&out));
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()
    };
    let function = prebuilt("fcctl-function").display().to_string();
    let agent = prebuilt("nas-agent").display().to_string();
    run(&[
        "build",
        "--json",
        "--binary",
        &function,
        "--agent-binary",
        &agent,
    ]);
    run(&["nas-sync", "--json"]);
    // FC takes the custom domain only once its CNAME points at the FC endpoint.
    let unresolved = p.fcctl_env(&["deploy", "--json"], &[]);
    assert_eq!(unresolved.status.code(), Some(3), "{}", text(&unresolved));
    let said = text(&unresolved);
    assert!(said.contains("DomainNameNotResolved"), "{said}");
    assert!(
        said.contains("fcctl local dns add"),
        "the hint names the fix: {said}"
    );
    let added = p.fcctl(&["local", "dns", "add", "cat-dog.fcctl-test.example"]);
    assert!(added.status.success(), "{}", text(&added));
    run(&["deploy", "--json"]);
    let published = run(&["publish", "--json"]);
    let version = published["version"].as_str().unwrap().to_string();
    run(&["alias", "prod", "--version", &version, "--json"]);
    run(&["provision", "--instances", "2", "--wait", "--json"]);
    run(&["deploy", "--json"]);

    let python = repo().join(".venv/bin/python");
    let out = std::process::Command::new(&python)
        .arg(repo().join("emulator/conformance/wire_check.py"))
        .arg(p.request_log())
        .output()
        .unwrap_or_else(|e| panic!("{}: {e} (scripts/setup creates the venv)", python.display()));
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("wire_check.py: {e}: {}", text(&out)));
    assert!(out.status.success(), "{summary:#}");
    for action in [
        "CreateFunction",
        "CreateTrigger",
        "CreateCustomDomain",
        "PublishFunctionVersion",
        "CreateAlias",
        "PutProvisionConfig",
    ] {
        assert!(
            summary["bodies_checked"][action].as_u64() >= Some(1),
            "{action} was not checked: {summary:#}"
        );
    }
    let oss = summary["oss_requests_by_signature"].as_object().unwrap();
    assert!(
        oss.get("v4").and_then(|n| n.as_u64()) > Some(0),
        "{summary:#}"
    );
    assert!(
        oss.keys().all(|k| k == "v4" || k == "presigned-v4"),
        "{summary:#}"
    );
    let log = std::fs::read_to_string(p.request_log()).unwrap();
    let sent_log_config = log.lines().any(|line| {
        let entry: serde_json::Value = serde_json::from_str(line).unwrap();
        entry["action"] == "CreateFunction"
            && entry["body"]["logConfig"]["project"] == "fcctl-cat-dog-1234567890123456"
            && entry["body"]["vpcConfig"]["vSwitchIds"][0]
                .as_str()
                .is_some_and(|s| s.starts_with("vsw-"))
    });
    assert!(
        sent_log_config,
        "deploy sends the resolved logConfig and vpcConfig"
    );
    eprintln!("wire check: {summary}");
}
