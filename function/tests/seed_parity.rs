//! The manifest-driven preprocessing reproduces the seed's published scores exactly when the
//! seed's Keras CNN (converted to ONNX at test time, never committed) is served.

mod common;

use fcctl_function::model::Classifier;
use fcctl_function::preprocess::DecodeLimits;

#[test]
fn seed_keras_cnn_reproduces_published_scores() {
    let dir = tempfile::tempdir().unwrap();
    common::convert_seed(dir.path());
    let c = Classifier::load(
        dir.path(),
        &common::ort_lib(),
        DecodeLimits::default(),
        None,
    )
    .expect("load seed model");
    let bytes = std::fs::read(common::shared().join("seed").join("test_dog.jpg")).unwrap();
    let p = c.classify(&bytes).expect("classify test_dog.jpg");
    // Published (seed README): Dog 0.9634414, Cat 0.01574309.
    assert!(
        (p.score("dog") - 0.963_441_4).abs() < 1e-4,
        "dog {} vs 0.9634414",
        p.score("dog")
    );
    assert!(
        (p.score("cat") - 0.015_743_09).abs() < 1e-4,
        "cat {} vs 0.01574309",
        p.score("cat")
    );
    assert_eq!(p.label, "dog");
    assert_eq!(p.model, "seed-keras-cnn");

    // test_cat.jpg is 4:2:0: decoders upsample chroma differently (~6e-4), so a looser bound.
    let bytes = std::fs::read(common::shared().join("seed").join("test_cat.jpg")).unwrap();
    let p = c.classify(&bytes).expect("classify test_cat.jpg");
    assert!(
        (p.score("cat") - 0.959_905_8).abs() < 2e-3,
        "cat {} vs 0.9599058",
        p.score("cat")
    );
    assert!(
        (p.score("dog") - 0.035_783_1).abs() < 2e-3,
        "dog {} vs 0.0357831",
        p.score("dog")
    );
    assert_eq!(p.label, "cat");
}
