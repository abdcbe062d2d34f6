//! Bring your own model (issue 19): an installed fcctl — the layout `scripts/install` writes,
//! `bin/fcctl` beside `share/fcctl/<version>/{fcctl-function,nas-agent}` — serves a model that
//! is not cat/dog from an empty directory outside the checkout: `init --model` → `up --local`
//! → classify, ONNX Runtime fetched from the pinned wheel into the cache at first use.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::support::{self, repo, text};

/// An installation in a temp dir, made of this build's fcctl and the cross-built binaries.
struct Installed {
    _dir: tempfile::TempDir,
    fcctl: PathBuf,
}

fn install() -> Installed {
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("bin");
    let share = dir
        .path()
        .join("share/fcctl")
        .join(env!("CARGO_PKG_VERSION"));
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::create_dir_all(&share).unwrap();
    let fcctl = bin.join("fcctl");
    std::fs::copy(env!("CARGO_BIN_EXE_fcctl"), &fcctl).unwrap();
    for name in ["fcctl-function", "nas-agent"] {
        let built = repo()
            .join("target/x86_64-unknown-linux-gnu/release")
            .join(name);
        assert!(
            built.is_file(),
            "{} is missing: run `cargo run -- build` in the repository first (scripts/test does)",
            built.display()
        );
        std::fs::copy(&built, share.join(name)).unwrap();
    }
    Installed { _dir: dir, fcctl }
}

/// A project directory outside the checkout, and the emulator `up --detach` left running there.
struct Project {
    dir: tempfile::TempDir,
    fcctl: PathBuf,
}

impl Project {
    fn new(i: &Installed) -> Project {
        let dir = tempfile::Builder::new()
            .prefix("own-model")
            .tempdir_in(std::env::temp_dir())
            .unwrap();
        assert!(
            !dir.path().starts_with(repo()),
            "the project is outside the checkout"
        );
        Project {
            dir,
            fcctl: i.fcctl.clone(),
        }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The installed fcctl as a user runs it: from the project directory, with a HOME of its
    /// own and no credentials, nothing from the checkout on PATH. ONNX Runtime is cached across
    /// test runs in the repository's target/ (the first run fetches it from PyPI).
    fn run(&self, args: &[&str]) -> Output {
        Command::new(&self.fcctl)
            .current_dir(self.path())
            .args(args)
            .env("HOME", self.path())
            .env("FCCTL_CACHE_DIR", repo().join("target/test-cache/fcctl"))
            .env("PATH", "/usr/local/bin:/usr/bin:/bin")
            .env_remove("FCCTL_SHARE_DIR")
            .env_remove("ALIBABA_CLOUD_ACCESS_KEY_ID")
            .env_remove("ALIBABA_CLOUD_ACCESS_KEY_SECRET")
            .env_remove("ALIBABA_CLOUD_SECURITY_TOKEN")
            .env_remove("RUST_LOG")
            .output()
            .unwrap()
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(out.status.success(), "fcctl {args:?}: {}", text(&out));
        text(&out)
    }

    /// `up --local --detach --json`: the page URL.
    fn up(&self) -> String {
        let args = ["up", "--local", "--detach", "--json"];
        let v = support::json_of(&args, &self.run(&args));
        v["url"].as_str().expect("up reports the url").to_string()
    }
}

impl Drop for Project {
    fn drop(&mut self) {
        let _ = self.run(&["local", "stop"]);
    }
}

fn post(url: &str, image: &Path) -> serde_json::Value {
    let out = Command::new("curl")
        .args(["-s", "--data-binary"])
        .arg(format!("@{}", image.display()))
        .arg(format!("{url}/classify"))
        .output()
        .unwrap();
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|_| panic!("not JSON: {}", String::from_utf8_lossy(&out.stdout)))
}

fn get(url: &str) -> String {
    let out = Command::new("curl").args(["-s", url]).output().unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn python() -> PathBuf {
    let p = repo().join(".venv/bin/python");
    assert!(p.is_file(), "{} is missing: run scripts/setup", p.display());
    p
}

/// A flat-colour PNG, drawn by Pillow.
fn png(dir: &Path, name: &str, rgb: [u8; 3]) -> PathBuf {
    let path = dir.join(name);
    let out = Command::new(python())
        .arg("-c")
        .arg(format!(
            "from PIL import Image; Image.new('RGB', (40, 30), ({}, {}, {})).save({:?})",
            rgb[0],
            rgb[1],
            rgb[2],
            path.display().to_string()
        ))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    path
}

#[test]
fn a_colour_model_goes_from_init_to_a_served_page_in_an_empty_directory_outside_the_checkout() {
    let i = install();
    let p = Project::new(&i);
    // The model and its labels come from elsewhere, as a user's export would.
    let src = tempfile::tempdir().unwrap();
    let out = Command::new(python())
        .arg(repo().join("model/make_colour_model.py"))
        .arg(src.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));

    let said = p.ok(&[
        "init",
        "--model",
        &src.path().join("colour.onnx").display().to_string(),
        "--labels",
        &src.path().join("labels.txt").display().to_string(),
    ]);
    assert!(said.contains("3 classes from labels.txt"), "{said}");
    let mut here: Vec<String> = std::fs::read_dir(p.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    here.sort();
    assert_eq!(
        here,
        ["colour.onnx", "fcctl.yaml", "labels.txt", "model.yaml"]
    );
    // Beside the model but not part of it: must not reach NAS.
    std::fs::write(p.path().join("README.md"), "notes").unwrap();
    std::fs::write(p.path().join("export.py"), "print()").unwrap();

    let url = p.up();
    let mut nas: Vec<String> = walk(&p.path().join("target/fcctl/nas"));
    nas.sort();
    assert_eq!(
        nas,
        [
            "lib/libonnxruntime.so",
            "lib/libonnxruntime.so.1.32.0",
            "model/colour.onnx",
            "model/labels.txt",
            "model/model.yaml"
        ]
    );
    let red = post(&url, &png(p.path(), "red.png", [220, 30, 20]));
    assert_eq!(red["label"], "red", "{red}");
    assert!(red["scores"]["red"].as_f64().unwrap() > 0.9, "{red}");
    assert_eq!(red["model"], "colour");
    let blue = post(&url, &png(p.path(), "blue.png", [20, 40, 210]));
    assert_eq!(blue["label"], "blue", "{blue}");
    // The built function, run locally on an image of the user's choice.
    let args = ["model", "check", "--image", "red.png", "--json"];
    let check = support::json_of(&args, &p.run(&args));
    assert_eq!(check["trial"]["label"], "red", "{check}");
    let page = get(&url);
    assert!(page.contains("<title>colour</title>"), "{page}");
    for label in ["red", "green", "blue"] {
        assert!(page.contains(label), "the page names `{label}`");
    }
    assert!(
        !page.to_lowercase().contains("dog"),
        "no cat/dog words on this page"
    );
}

#[test]
fn a_real_imagenet_classifier_with_plain_labels_names_the_breed() {
    let i = install();
    let p = Project::new(&i);
    for f in ["efficientnet-lite0.onnx", "imagenet_classes.txt"] {
        std::fs::copy(repo().join("model").join(f), p.path().join(f)).unwrap();
    }
    let said = p.ok(&[
        "init",
        "--model",
        "efficientnet-lite0.onnx",
        "--labels",
        "imagenet_classes.txt",
    ]);
    assert!(said.contains("1000 classes"), "{said}");
    // What the file cannot say: this model was trained on (x - 127) / 128 (model/README.md).
    let yaml = std::fs::read_to_string(p.path().join("model.yaml")).unwrap();
    let yaml = yaml
        .replace(
            "mean: [123.675, 116.28, 103.53]",
            "mean: [127.0, 127.0, 127.0]",
        )
        .replace("std: [58.395, 57.12, 57.375]", "std: [128.0, 128.0, 128.0]");
    std::fs::write(p.path().join("model.yaml"), yaml).unwrap();
    p.ok(&["model", "check", "--no-trial"]);

    let url = p.up();
    let dog = repo().join("../shared/seed/test_dog.jpg");
    let v = post(&url, &dog);
    assert_eq!(v["label"], "golden retriever", "{v}");
    let scores = v["scores"].as_object().unwrap();
    assert_eq!(scores.len(), 5, "a 1000-class model answers its top 5: {v}");
    assert!(v.get("dog").is_none(), "no cat/dog fields: {v}");
}

/// Files under `dir`, relative, links included.
fn walk(dir: &Path) -> Vec<String> {
    walkdir::WalkDir::new(dir)
        .min_depth(1)
        .into_iter()
        .map(|e| e.unwrap())
        .filter(|e| !e.file_type().is_dir())
        .map(|e| {
            e.path()
                .strip_prefix(dir)
                .unwrap()
                .to_string_lossy()
                .into_owned()
        })
        .collect()
}
