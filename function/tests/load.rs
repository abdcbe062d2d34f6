//! Model loading: the optimised-graph cache and the checksum check.

mod common;

use std::path::Path;

use fcctl_function::manifest::Manifest;
use fcctl_function::model::{Classifier, LoadError, OptimizedCache};
use fcctl_function::preprocess::DecodeLimits;

fn load(model_dir: &Path, cache: Option<&Path>) -> Result<Classifier, LoadError> {
    Classifier::load(
        model_dir,
        &common::ort_lib(),
        DecodeLimits::default(),
        cache,
    )
}

fn dog() -> Vec<u8> {
    std::fs::read(common::shared().join("seed").join("test_dog.jpg")).unwrap()
}

fn files(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn optimised_graph_is_stored_then_reused_with_identical_answers() {
    let cache = tempfile::tempdir().unwrap();
    let model = common::default_model_dir();
    let first = load(&model, Some(cache.path())).unwrap();
    assert_eq!(first.optimized_cache, OptimizedCache::Stored);
    let stored = files(cache.path());
    assert_eq!(stored.len(), 1, "one entry, no temp files left: {stored:?}");
    assert!(stored[0].starts_with("efficientnet-lite0-") && stored[0].ends_with(".onnx"));

    let second = load(&model, Some(cache.path())).unwrap();
    assert_eq!(second.optimized_cache, OptimizedCache::Hit);
    let plain = load(&model, None).unwrap();
    assert_eq!(plain.optimized_cache, OptimizedCache::Off);
    let (a, b, c) = (
        first.classify(&dog()).unwrap(),
        second.classify(&dog()).unwrap(),
        plain.classify(&dog()).unwrap(),
    );
    assert_eq!(a.label, "dog");
    for p in [&b, &c] {
        assert_eq!(p.label, a.label);
        assert!(
            (p.score("dog") - a.score("dog")).abs() < 1e-5,
            "{} vs {}",
            p.score("dog"),
            a.score("dog")
        );
        assert_eq!(p.top5[0].class, a.top5[0].class);
    }
}

#[test]
fn a_corrupt_cache_entry_is_replaced_not_served() {
    let cache = tempfile::tempdir().unwrap();
    let model = common::default_model_dir();
    load(&model, Some(cache.path())).unwrap();
    let entry = cache.path().join(&files(cache.path())[0]);
    std::fs::write(&entry, b"not an onnx graph").unwrap();
    let c = load(&model, Some(cache.path())).unwrap();
    assert_eq!(c.optimized_cache, OptimizedCache::Stored);
    assert_eq!(c.classify(&dog()).unwrap().label, "dog");
    assert!(std::fs::metadata(&entry).unwrap().len() > 1_000_000);
}

#[test]
fn an_unusable_cache_dir_only_turns_the_cache_off() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("a-file");
    std::fs::write(&file, b"x").unwrap();
    let c = load(&common::default_model_dir(), Some(&file.join("cache"))).unwrap();
    assert_eq!(c.optimized_cache, OptimizedCache::Off);
    assert_eq!(c.classify(&dog()).unwrap().label, "dog");
}

#[test]
fn a_model_that_does_not_match_its_sha256_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let src = common::default_model_dir();
    let dir = tmp.path().join("model");
    std::fs::create_dir(&dir).unwrap();
    let name = Manifest::load(&src).unwrap().onnx;
    for f in ["model.yaml", "imagenet_classes.txt", name.as_str()] {
        std::fs::copy(src.join(f), dir.join(f)).unwrap();
    }
    let onnx = dir.join(&name);
    let mut bytes = std::fs::read(&onnx).unwrap();
    let n = bytes.len();
    bytes[n - 100] ^= 1; // a weight bit: still a valid graph, but not the published model
    std::fs::write(&onnx, bytes).unwrap();
    match load(&dir, None) {
        Err(LoadError::Checksum { expected, .. }) => assert_eq!(expected.len(), 64),
        other => panic!("expected a checksum error, got {other:?}"),
    }
}
