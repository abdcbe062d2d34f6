//! The quick engine against ONNX Runtime on a directory of images: label agreement, the largest
//! score difference, and the quick engine's load and per-image time.
//! cargo run -p fcctl-function --release --example quickagree -- ../shared/images/dev [MODEL_DIR]
//! Env: ORT_DYLIB_PATH.

use std::path::PathBuf;
use std::time::Instant;

use fcctl_function::model::Classifier;
use fcctl_function::preprocess::DecodeLimits;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let dir = PathBuf::from(args.first().map_or("../shared/images/dev", String::as_str));
    let model_dir = args.get(1).map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../model"),
        PathBuf::from,
    );
    if std::env::var_os("QUICK_COLD").is_some() {
        // Fresh-process phases of the quick engine alone: read, decode + fold, first run.
        let m = fcctl_function::manifest::Manifest::load(&model_dir).expect("manifest");
        let t = Instant::now();
        let bytes = std::fs::read(model_dir.join(&m.onnx)).expect("read");
        let read = t.elapsed().as_secs_f64() * 1e3;
        let t = Instant::now();
        let net = fcctl_function::quick::Net::from_bytes(&bytes).expect("load");
        let prep = t.elapsed().as_secs_f64() * 1e3;
        let x = vec![0.1f32; 3 * 224 * 224];
        let t = Instant::now();
        net.run(&x, [3, 224, 224]).expect("run");
        let first = t.elapsed().as_secs_f64() * 1e3;
        let t = Instant::now();
        net.run(&x, [3, 224, 224]).expect("run");
        let second = t.elapsed().as_secs_f64() * 1e3;
        println!(
            "read {read:.1} ms, decode+fold {prep:.1} ms, first run {first:.1} ms, second {second:.1} ms"
        );
        return;
    }
    let lib = PathBuf::from(std::env::var("ORT_DYLIB_PATH").expect("ORT_DYLIB_PATH"));
    let t = Instant::now();
    let quick = Classifier::load_quick(&model_dir, DecodeLimits::default()).expect("quick engine");
    let quick_load = t.elapsed().as_secs_f64() * 1e3;
    let ort =
        Classifier::load(&model_dir, &lib, DecodeLimits::default(), None).expect("onnxruntime");
    // The images listed in labels.csv (first column), as eval.rs reads them.
    let csv = std::fs::read_to_string(dir.join("labels.csv")).expect("labels.csv");
    let mut files: Vec<PathBuf> = csv
        .lines()
        .skip(1)
        .filter_map(|l| l.split(',').next())
        .map(|f| dir.join(f))
        .collect();
    files.sort();
    let (mut n, mut same, mut worst, mut ms) = (0, 0, 0f32, Vec::new());
    for f in &files {
        let Ok(bytes) = std::fs::read(f) else {
            continue;
        };
        let (Ok(a), Ok(b)) = (ort.classify(&bytes), quick.classify(&bytes)) else {
            continue;
        };
        n += 1;
        if a.label == b.label {
            same += 1;
        } else {
            println!(
                "differs: {} onnxruntime {} quick {}",
                f.display(),
                a.label,
                b.label
            );
        }
        for (k, v) in &a.scores.0 {
            worst = worst.max((*v - b.score(k)).abs());
        }
        ms.push(b.timings.infer_ms);
    }
    ms.sort_by(f64::total_cmp);
    println!(
        "{same}/{n} labels agree; largest score difference {worst:.4}; quick load {quick_load:.1} ms, \
         inference p50 {:.1} ms",
        ms.get(ms.len() / 2).copied().unwrap_or(f64::NAN)
    );
}
