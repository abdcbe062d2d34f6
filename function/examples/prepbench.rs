//! Preprocessing (decode + resize + normalise) timing for one file, 200 iterations.
//! cargo run -p fcctl-function --release --example prepbench -- ../shared/seed/test_dog.jpg [MODEL_DIR]

use std::path::{Path, PathBuf};
use std::time::Instant;

use fcctl_function::manifest::Manifest;
use fcctl_function::preprocess::{DecodeLimits, preprocess};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf();
    let file = args
        .first()
        .cloned()
        .unwrap_or_else(|| "../shared/seed/test_dog.jpg".into());
    let model_dir = args
        .get(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("model"));
    let m = Manifest::load(&model_dir).expect("model.yaml");
    let bytes = std::fs::read(&file).expect("read file");
    let limits = DecodeLimits::default();
    let mut dec = Vec::new();
    let mut res = Vec::new();
    let mut tot = Vec::new();
    for _ in 0..200 {
        let t = Instant::now();
        let (_t, p) = preprocess(&bytes, &m.input, &limits).expect("preprocess");
        tot.push(t.elapsed().as_secs_f64() * 1e3);
        dec.push(p.decode_ms);
        res.push(p.resize_ms);
    }
    for v in [&mut dec, &mut res, &mut tot] {
        v.sort_by(f64::total_cmp);
    }
    println!(
        "{file}: decode p50 {:.2} ms, resize+normalise p50 {:.2} ms, total p50 {:.2} ms (p99 {:.2} ms)",
        dec[100], res[100], tot[100], tot[197]
    );
}
