//! Shared test helpers: locate libonnxruntime, the venv's Python and ../shared data.
//! Missing prerequisites FAIL (never skip) with a message naming scripts/setup.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use fcctl_function::model::Classifier;
use fcctl_function::preprocess::DecodeLimits;

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}

pub fn shared() -> PathBuf {
    let p = repo_root().join("..").join("shared");
    assert!(
        p.is_dir(),
        "test data not found at {} (the ../shared checkout next to the repo)",
        p.display()
    );
    p
}

/// `ORT_DYLIB_PATH`, else `.cache/onnxruntime/<ver>/libonnxruntime.so.<ver>`.
pub fn ort_lib() -> PathBuf {
    if let Ok(p) = std::env::var("ORT_DYLIB_PATH")
        && !p.is_empty()
    {
        let p = PathBuf::from(p);
        assert!(
            p.is_file(),
            "ORT_DYLIB_PATH={} does not exist; run scripts/setup",
            p.display()
        );
        return p;
    }
    let cache = repo_root().join(".cache").join("onnxruntime");
    let found = std::fs::read_dir(&cache).ok().and_then(|rd| {
        rd.filter_map(|e| e.ok())
            .filter_map(|e| {
                std::fs::read_dir(e.path()).ok().and_then(|inner| {
                    inner.filter_map(|f| f.ok()).map(|f| f.path()).find(|p| {
                        p.file_name()
                            .and_then(|n| n.to_str())
                            .is_some_and(|n| n.starts_with("libonnxruntime.so.") && p.is_file())
                    })
                })
            })
            .next()
    });
    found.unwrap_or_else(|| {
        panic!(
            "libonnxruntime not found (ORT_DYLIB_PATH unset, nothing in {}): run scripts/setup \
             (it calls scripts/fetch-onnxruntime.sh)",
            cache.display()
        )
    })
}

pub fn python() -> PathBuf {
    let p = repo_root().join(".venv").join("bin").join("python");
    assert!(
        p.is_file(),
        "{} not found: run scripts/setup (creates .venv from requirements-dev.txt)",
        p.display()
    );
    p
}

pub fn default_model_dir() -> PathBuf {
    repo_root().join("model")
}

pub fn load_default() -> Arc<Classifier> {
    Arc::new(
        Classifier::load(
            &default_model_dir(),
            &ort_lib(),
            DecodeLimits::default(),
            None,
        )
        .expect("load model/"),
    )
}

/// Convert the seed Keras CNN into `dir` (model.yaml + seed.onnx) with the venv's Python.
pub fn convert_seed(dir: &Path) {
    let out = std::process::Command::new(python())
        .arg(repo_root().join("model").join("convert_seed_keras.py"))
        .arg(shared().join("seed").join("model"))
        .arg(dir)
        .output()
        .expect("run convert_seed_keras.py");
    assert!(
        out.status.success(),
        "convert_seed_keras.py failed (run scripts/setup?): {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Generate the tiny red/green/blue classifier into `dir` (colour.onnx, labels.txt and a
/// plain-label model.yaml) with the venv's Python.
pub fn make_colour(dir: &Path) {
    let out = std::process::Command::new(python())
        .arg(repo_root().join("model").join("make_colour_model.py"))
        .arg(dir)
        .output()
        .expect("run make_colour_model.py");
    assert!(
        out.status.success(),
        "make_colour_model.py failed (run scripts/setup?): {}",
        String::from_utf8_lossy(&out.stderr)
    );
}
