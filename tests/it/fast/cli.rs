//! End-to-end CLI behaviour that needs no emulator: init, render, config errors, completions,
//! exit codes.

use crate::support;

fn fcctl(dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    support::fcctl_command(dir, args).output().unwrap()
}

#[test]
fn init_then_render_in_an_empty_dir_gives_a_schema_valid_s_yaml() {
    let d = tempfile::tempdir().unwrap();
    let out = fcctl(d.path(), &["init"]);
    assert!(out.status.success(), "{}", support::text(&out));
    let again = fcctl(d.path(), &["init"]);
    assert_eq!(again.status.code(), Some(1));
    assert!(support::text(&again).contains("--force"));
    assert!(
        fcctl(d.path(), &["init", "--force", "--app", "pets"])
            .status
            .success()
    );
    let out = fcctl(d.path(), &["render", "--json"]);
    assert!(out.status.success(), "{}", support::text(&out));
    let text = std::fs::read_to_string(d.path().join("s.yaml")).unwrap();
    let doc: serde_json::Value = serde_saphyr::from_str(&text).unwrap();
    assert_eq!(doc["edition"], "3.0.0");
    let props = &doc["resources"]["pets"]["props"];
    assert_eq!(props["runtime"], "custom.debian10");
    assert_eq!(props["triggers"][0]["qualifier"], "prod");
    assert_eq!(props["provisionConfig"]["defaultTarget"], 10);
    // fc3 creates NAS only for the whole block as the string `auto` (its isAuto).
    assert_eq!(props["nasConfig"], "auto");
    assert!(text.contains("s alias publish --alias-name prod"), "{text}");
    let schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../shared/docs/fc3-schema.json"
        ))
        .unwrap(),
    )
    .unwrap();
    let mut p = props.clone();
    p.as_object_mut().unwrap().remove("customDomain");
    let v = jsonschema::validator_for(&schema).unwrap();
    let errors: Vec<String> = v.iter_errors(&p).map(|e| e.to_string()).collect();
    assert!(errors.is_empty(), "{errors:?}");
    // Same input, same bytes.
    assert!(fcctl(d.path(), &["render"]).status.success());
    assert_eq!(
        std::fs::read_to_string(d.path().join("s.yaml")).unwrap(),
        text
    );
}

#[test]
fn malformed_config_errors_name_file_line_column_and_key() {
    let d = tempfile::tempdir().unwrap();
    let cases: &[(&str, &str)] = &[
        (
            "app: a\nfunction:\n  memroy_mb: 512\n",
            "fcctl.yaml:3:3: `function.memroy_mb`",
        ),
        ("app: a\nregoin: x\n", "did you mean `region`"),
        ("app: a\nfunction:\n  memory_mb: lots\n", "fcctl.yaml:3:"),
        ("app: a\nfunction:\n  memory_mb: -5\n", "fcctl.yaml:3:"),
        ("app: a\nfunction:\n  runtime: python3\n", "custom.debian10"),
        ("app: a\nnas:\n  include: ['a/[b']\n", "not a valid glob"),
        ("region: cn-hangzhou\n", "app"),
        ("app: a\nfunction: [\n", "fcctl.yaml:"),
        ("app: a\nfunction:\n  memory_mb: 1000\n", "multiple of 64"),
        ("app: a\ntrigger:\n  methods: [GET, FETCH]\n", "allowed"),
    ];
    for (yaml, want) in cases {
        std::fs::write(d.path().join("fcctl.yaml"), yaml).unwrap();
        let out = fcctl(d.path(), &["render", "--dry-run"]);
        assert_eq!(out.status.code(), Some(1), "{yaml}");
        let err = support::text(&out);
        assert!(err.contains(want), "{yaml:?}: expected {want:?} in:\n{err}");
    }
}

#[test]
fn env_layer_and_flags_override_the_file() {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("fcctl.yaml"), "app: a\nregion: cn-hangzhou\n").unwrap();
    let out = support::fcctl_command(d.path(), &["render", "-o", "-"])
        .env("FCCTL_REGION", "cn-beijing")
        .env("FCCTL_FUNCTION__MEMORY_MB", "1024")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("region: cn-beijing"), "{text}");
    assert!(text.contains("memorySize: 1024"), "{text}");
    let out = support::fcctl_command(d.path(), &["render", "-o", "-", "--region", "cn-shanghai"])
        .env("FCCTL_REGION", "cn-beijing")
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("region: cn-shanghai"));
}

#[test]
fn missing_credentials_list_every_place_and_exit_1() {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("fcctl.yaml"), "app: a\naccount_id: '123'\n").unwrap();
    let out = fcctl(d.path(), &["status"]);
    assert_eq!(out.status.code(), Some(1));
    insta::assert_snapshot!("missing_credentials_stderr", stable_stderr(&out, d.path()));
    let err = support::text(&out);
    for place in [
        "environment",
        ".aliyun/config.json",
        ".s/access.yaml",
        "hint: export",
    ] {
        assert!(err.contains(place), "{place} missing from:\n{err}");
    }
    let out = fcctl(d.path(), &["doctor", "--json"]);
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["ok"], false);
    assert!(
        v["checks"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["name"] == "credentials" && c["status"] == "fail" && c["fix"].is_string())
    );
}

/// Outside a checkout of this repository there is nothing to compile: `init` must not promise
/// that `up --local` will work, and `doctor` must say why and what to do.
#[test]
fn init_and_doctor_outside_a_checkout_say_what_a_build_needs() {
    let d = tempfile::tempdir().unwrap();
    let out = fcctl(d.path(), &["init"]);
    assert!(out.status.success(), "{}", support::text(&out));
    let said = support::text(&out);
    assert!(!said.contains("then `fcctl up --local`"), "{said}");
    for want in [
        "not the fcctl workspace",
        "checkout of the fcctl repository",
        "--binary PATH --agent-binary PATH",
        "build.files source",
        "fcctl doctor",
    ] {
        assert!(said.contains(want), "{want} missing from:\n{said}");
    }
    let out = fcctl(d.path(), &["init", "--force", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["buildable"], false, "{v}");

    let out = fcctl(d.path(), &["--local", "doctor", "--json"]);
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let sources = v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "sources")
        .cloned()
        .unwrap_or_else(|| panic!("no sources check in {v}"));
    assert_eq!(sources["status"], "fail", "{sources}");
    assert!(
        sources["fix"]
            .as_str()
            .unwrap()
            .contains("--binary PATH --agent-binary PATH"),
        "{sources}"
    );

    // Inside this repository the same check passes.
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = fcctl(repo, &["--local", "doctor", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        v["checks"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["name"] == "sources" && c["status"] == "ok"),
        "{v}"
    );
}

/// `fcctl render -o - | head -1` and `fcctl completions bash | head`: the reader leaving early
/// is not an error (exit 0, no panic). The read end is closed before fcctl writes, so every
/// run meets the closed pipe.
#[test]
fn a_closed_stdout_pipe_exits_0_without_a_panic() {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("fcctl.yaml"), "app: a\n").unwrap();
    for args in [&["render", "-o", "-"][..], &["completions", "bash"][..]] {
        let mut child = support::fcctl_command(d.path(), args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    }
}

/// Two `up --local` at once in one project: exactly one starts the emulator, the other joins
/// it (both then fail at the build step here, which is not what this test is about).
#[test]
fn concurrent_up_local_start_one_emulator() {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("fcctl.yaml"), "app: a\n").unwrap();
    let spawn = || {
        support::fcctl_command(d.path(), &["up", "--local", "--detach"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (spawn(), spawn());
    let notes: Vec<String> = [a, b]
        .into_iter()
        .map(|c| String::from_utf8_lossy(&c.wait_with_output().unwrap().stderr).into_owned())
        .collect();
    let stop = fcctl(d.path(), &["local", "stop"]);
    assert!(stop.status.success(), "{}", support::text(&stop));
    let started = notes
        .iter()
        .filter(|n| n.contains("started local emulator"))
        .count();
    let joined = notes
        .iter()
        .filter(|n| n.contains("reusing local emulator"))
        .count();
    assert_eq!((started, joined), (1, 1), "{notes:#?}");
}

/// A failed `up --local --detach` stops the emulator it started: there is nothing to serve.
#[test]
fn failed_up_local_detach_leaves_no_emulator_running() {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("fcctl.yaml"), "app: a\n").unwrap();
    let up = fcctl(d.path(), &["up", "--local", "--detach"]);
    assert_ne!(up.status.code(), Some(0), "{}", support::text(&up));
    assert!(
        support::text(&up).contains("stopped the local emulator this run started"),
        "{}",
        support::text(&up)
    );
    let status = fcctl(d.path(), &["local", "status"]);
    assert!(
        !status.status.success() && support::text(&status).contains("no emulator running"),
        "{}",
        support::text(&status)
    );
}

/// A credentials file others can read is used but named, with the fix; one that only its
/// owner reads is not mentioned. Neither run shows any part of the secret.
#[test]
fn credentials_readable_by_others_are_warned_about() {
    use std::os::unix::fs::PermissionsExt as _;
    let d = tempfile::tempdir().unwrap();
    // Endpoints on loopback port 1: doctor's reachability check is refused at once, no network.
    std::fs::write(
        d.path().join("fcctl.yaml"),
        "app: a\naccount_id: '123'\nfc_endpoint: 'http://127.0.0.1:1'\noss_endpoint: 'http://127.0.0.1:1'\n",
    )
    .unwrap();
    let dir = d.path().join(".aliyun");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("config.json");
    let secret = "Zq9SecretValueNeverPrinted";
    std::fs::write(
        &file,
        format!(
            r#"{{"current":"default","profiles":[{{"name":"default","mode":"AK","access_key_id":"LTAItest","access_key_secret":"{secret}"}}]}}"#
        ),
    )
    .unwrap();
    for (mode, warned) in [(0o644, true), (0o600, false)] {
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(mode)).unwrap();
        let out = fcctl(d.path(), &["doctor", "--json"]);
        let all = support::text(&out);
        assert_eq!(
            all.contains("readable by other users") && all.contains("chmod 600"),
            warned,
            "mode {mode:o}: {all}"
        );
        assert!(!all.contains(&secret[..3]), "mode {mode:o}: {all}");
    }
}

#[test]
fn completions_and_usage_errors() {
    let d = tempfile::tempdir().unwrap();
    let out = fcctl(d.path(), &["completions", "bash"]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("nas-sync"));
    assert_eq!(fcctl(d.path(), &["no-such-command"]).status.code(), Some(2));
    assert_eq!(fcctl(d.path(), &["provision"]).status.code(), Some(2));
}

/// stderr with the run's variable parts (temp dir, millisecond counts) made stable.
fn stable_stderr(out: &std::process::Output, dir: &std::path::Path) -> String {
    let text = String::from_utf8_lossy(&out.stderr).replace(&dir.display().to_string(), "[DIR]");
    let mut stable = String::new();
    for word in text.split_inclusive(' ') {
        let digits = word.trim_end().trim_end_matches(')');
        if !digits.is_empty() && digits.chars().all(|c| c.is_ascii_digit()) && word.len() > 2 {
            stable.push_str(&word.replace(digits, "[N]"));
        } else {
            stable.push_str(word);
        }
    }
    stable
}

#[test]
fn a_config_error_prints_place_message_and_the_hint_last() {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("fcctl.yaml"), "app: a\nregoin: x\n").unwrap();
    let out = fcctl(d.path(), &["render", "--dry-run"]);
    assert_eq!(out.status.code(), Some(1));
    insta::assert_snapshot!(stable_stderr(&out, d.path()));
}

#[test]
fn an_unreachable_endpoint_exits_4_with_a_network_hint_after_the_retries() {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("fcctl.yaml"), "app: a\naccount_id: '1'\n").unwrap();
    // Port 1 on loopback: nothing listens, so every attempt is refused at once.
    let out = support::fcctl_command(d.path(), &["status"])
        .env("ALIBABA_CLOUD_ACCESS_KEY_ID", "LTAI-test")
        .env("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "test-secret")
        .env("FCCTL_FC_ENDPOINT", "http://127.0.0.1:1")
        .env("FCCTL_OSS_ENDPOINT", "http://127.0.0.1:1")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(4), "{}", support::text(&out));
    let err = stable_stderr(&out, d.path());
    assert!(!err.contains("test-secret"), "{err}");
    let lines: Vec<&str> = err.lines().filter(|l| !l.starts_with("warning:")).collect();
    assert!(
        lines
            .last()
            .is_some_and(|l| l.starts_with("  hint: cannot connect")),
        "the hint comes last, after `gave up after`: {err}"
    );
    insta::assert_snapshot!(lines.join("\n"));
}

/// `init --model` on the generated colour model: model.yaml read off the file passes fcctl's
/// own checks; a labels file that does not fit the model is refused before anything is written.
#[test]
fn init_model_writes_a_manifest_the_model_check_accepts_and_refuses_wrong_labels() {
    let src = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(support::repo().join(".venv/bin/python"))
        .arg(support::repo().join("model/make_colour_model.py"))
        .arg(src.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", support::text(&out));
    std::fs::write(src.path().join("two.txt"), "red\ngreen\n").unwrap();

    let d = tempfile::tempdir().unwrap();
    let model = src.path().join("colour.onnx").display().to_string();
    let two = src.path().join("two.txt").display().to_string();
    let out = fcctl(d.path(), &["init", "--model", &model, "--labels", &two]);
    assert_eq!(out.status.code(), Some(1), "{}", support::text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("two.txt has 2 labels, but colour.onnx outputs 3 classes"),
        "{err}"
    );
    assert!(err.contains("hint: give one label per line"), "{err}");
    assert!(!d.path().join("fcctl.yaml").exists() && !d.path().join("model.yaml").exists());

    let labels = src.path().join("labels.txt").display().to_string();
    let out = fcctl(
        d.path(),
        &["init", "--model", &model, "--labels", &labels, "--json"],
    );
    let v = support::json_of(&["init"], &out);
    assert_eq!(v["app"], "colour");
    assert_eq!(v["model"]["classes"], 3);
    assert_eq!(v["model"]["layout"], "NCHW");
    assert_eq!(
        v["model"]["copied"],
        serde_json::json!(["colour.onnx", "labels.txt"]),
        "the refused run copied nothing"
    );
    let out = fcctl(d.path(), &["model", "check", "--no-trial", "--json"]);
    let v = support::json_of(&["model", "check"], &out);
    assert_eq!(v["sha256_status"], "matches", "{v}");
    // A second init would overwrite what the user may have edited.
    let again = fcctl(d.path(), &["init", "--model", "colour.onnx"]);
    assert_eq!(again.status.code(), Some(1));
}
