//! The trial run of `fcctl build` and `fcctl model check` (issue 16 item 3): the cross-built
//! function loads the real model with the ONNX Runtime the package ships and classifies the
//! first `bench.images` photo; a model the function cannot load fails the build with the
//! function's own error, and its NAS tree is not left behind for `nas-sync`.

use std::path::{Path, PathBuf};
use std::process::Output;

use crate::support;

fn prebuilt(name: &str) -> PathBuf {
    let p = support::repo()
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
    let out = std::process::Command::new(support::repo().join("scripts/fetch-onnxruntime.sh"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "scripts/fetch-onnxruntime.sh failed: run scripts/setup"
    );
    PathBuf::from(String::from_utf8(out.stdout).unwrap().trim())
}

/// A project with a private copy of the repository's model, `edit` applied to model.yaml.
fn project(edit: impl FnOnce(&str) -> String) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    let model = tmp.path().join("model");
    std::fs::create_dir_all(&model).unwrap();
    for name in ["efficientnet-lite0-int8.onnx", "imagenet_classes.txt"] {
        std::fs::copy(support::repo().join("model").join(name), model.join(name)).unwrap();
    }
    let text = std::fs::read_to_string(support::repo().join("model/model.yaml")).unwrap();
    std::fs::write(model.join("model.yaml"), edit(&text)).unwrap();
    let cfg = format!(
        "app: t\nbuild:\n  onnxruntime: false\n  files:\n    - {{src: model, dst: model}}\n    - {{src: {}, dst: lib/libonnxruntime.so}}\nbench:\n  images: [{}]\n",
        onnxruntime().display(),
        support::repo()
            .join("../shared/seed/test_dog.jpg")
            .display(),
    );
    std::fs::write(tmp.path().join("fcctl.yaml"), cfg).unwrap();
    tmp
}

fn build(dir: &Path, extra: &[&str]) -> Output {
    let f = prebuilt("fcctl-function");
    let a = prebuilt("nas-agent");
    let mut args = vec![
        "build",
        "--binary",
        f.to_str().unwrap(),
        "--agent-binary",
        a.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    support::fcctl_command(dir, &args).output().unwrap()
}

#[test]
fn build_runs_the_model_once_with_the_built_function() {
    let p = project(str::to_string);
    let out = build(p.path(), &[]);
    let all = support::text(&out);
    assert!(out.status.success(), "{all}");
    assert!(
        all.contains("model: trial run: the function initialized in")
            && all.contains("test_dog.jpg → dog"),
        "{all}"
    );

    let out = support::fcctl_command(p.path(), &["model", "check", "--json"])
        .output()
        .unwrap();
    let v = support::json_of(&["model", "check", "--json"], &out);
    assert_eq!(v["sha256_status"], "matches", "{v}");
    assert_eq!(v["input"], "input", "{v}");
    assert_eq!(v["trial"]["label"], "dog", "{v}");
}

#[test]
fn a_model_the_function_cannot_load_fails_build_with_the_functions_error() {
    // Valid to fcctl's own checks (schema, sha256, graph inputs and outputs); only ONNX
    // Runtime, loading it in the function, finds an operator it has no kernel for.
    let p = project(|t| t.to_string());
    let op = support::make_model_unloadable(&p.path().join("model"));
    let out = build(p.path(), &[]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("trial run of the function failed at POST /initialize: HTTP 5"),
        "{err}"
    );
    assert!(
        err.contains(op),
        "the runtime's words name the unknown operator: {err}"
    );
    assert!(err.contains("`--no-trial` skips it"), "{err}");
    assert!(
        !p.path().join("target/fcctl/nas").exists(),
        "the failed model's NAS tree is gone, so `nas-sync` cannot upload it"
    );

    let out = build(p.path(), &["--no-trial"]);
    assert!(out.status.success(), "{}", support::text(&out));
}
