//! Accuracy on a labelled directory (`labels.csv`: file,label,source_repo,...,note).
//! cargo run -p fcctl-function --release --example eval -- ../shared/images/dev [MODEL_DIR]
//! Env: ORT_DYLIB_PATH (else .cache/onnxruntime/*/libonnxruntime.so.*).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use fcctl_function::model::Classifier;
use fcctl_function::preprocess::DecodeLimits;

fn ort_lib(root: &Path) -> PathBuf {
    if let Ok(p) = std::env::var("ORT_DYLIB_PATH") {
        return PathBuf::from(p);
    }
    let cache = root.join(".cache/onnxruntime");
    for e in std::fs::read_dir(&cache).into_iter().flatten().flatten() {
        for f in std::fs::read_dir(e.path()).into_iter().flatten().flatten() {
            let n = f.file_name().to_string_lossy().to_string();
            if n.starts_with("libonnxruntime.so.") {
                return f.path();
            }
        }
    }
    eprintln!("libonnxruntime not found: set ORT_DYLIB_PATH or run scripts/setup");
    std::process::exit(2);
}

/// Minimal CSV split honouring double quotes.
fn split_csv(line: &str) -> Vec<String> {
    let (mut out, mut cur, mut q) = (Vec::new(), String::new(), false);
    for ch in line.chars() {
        match ch {
            '"' => q = !q,
            ',' if !q => out.push(std::mem::take(&mut cur)),
            c => cur.push(c),
        }
    }
    out.push(cur);
    out
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf();
    let dir = PathBuf::from(
        args.first()
            .cloned()
            .unwrap_or_else(|| "../shared/images/dev".into()),
    );
    let model_dir = args
        .get(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("model"));
    let c = Classifier::load(&model_dir, &ort_lib(&root), DecodeLimits::default(), None)
        .unwrap_or_else(|e| {
            eprintln!("cannot load model: {e}");
            std::process::exit(2)
        });
    let csv = std::fs::read_to_string(dir.join("labels.csv")).expect("labels.csv");
    let mut lines = csv.lines();
    let header = split_csv(lines.next().unwrap());
    let col = |n: &str| header.iter().position(|h| h == n).unwrap();
    let (fi, li, si, ni) = (col("file"), col("label"), col("source_repo"), col("note"));
    // confusion[truth][answer]
    let mut conf: BTreeMap<String, BTreeMap<String, usize>> = BTreeMap::new();
    let mut per_src: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    let (mut ok, mut n, mut errors, mut ms) = (0usize, 0usize, Vec::new(), Vec::new());
    let (mut other_ok, mut other_n) = (0, 0);
    for line in lines {
        let r = split_csv(line);
        let (file, truth, src, note) = (&r[fi], &r[li], &r[si], &r[ni]);
        let bytes = std::fs::read(dir.join(file)).expect("read image");
        let answer = match c.classify(&bytes) {
            Ok(p) => {
                ms.push(p.ms);
                if truth != "other" && p.label != *truth && !note.contains("ambiguous") {
                    errors.push(format!(
                        "  {file} ({truth}) -> {} dog {:.3} cat {:.3} [{}]",
                        p.label,
                        p.score("dog"),
                        p.score("cat"),
                        p.top5.first().map(|t| t.class.as_str()).unwrap_or("")
                    ));
                }
                p.label.to_string()
            }
            Err(e) => {
                println!("  {file}: rejected: {e}");
                "rejected".to_string()
            }
        };
        *conf
            .entry(truth.clone())
            .or_default()
            .entry(answer.clone())
            .or_default() += 1;
        if truth == "other" {
            other_n += 1;
            other_ok += usize::from(answer == "other");
        } else if !note.contains("ambiguous") {
            n += 1;
            let good = answer == *truth;
            ok += usize::from(good);
            let e = per_src.entry(src.clone()).or_default();
            e.0 += usize::from(good);
            e.1 += 1;
        }
    }
    println!("model {} ({})", c.manifest.name, model_dir.display());
    println!(
        "clean cat/dog accuracy: {ok}/{n} = {:.2} %",
        100.0 * ok as f64 / n.max(1) as f64
    );
    println!("'other' photos answered other: {other_ok}/{other_n}");
    println!("confusion (rows = truth, columns = answer):");
    let cols = ["cat", "dog", "other", "rejected"];
    println!(
        "  {:>10} {:>6} {:>6} {:>6} {:>9}",
        "", cols[0], cols[1], cols[2], cols[3]
    );
    for (t, row) in &conf {
        let g = |k: &str| row.get(k).copied().unwrap_or(0);
        println!(
            "  {t:>10} {:>6} {:>6} {:>6} {:>9}",
            g("cat"),
            g("dog"),
            g("other"),
            g("rejected")
        );
    }
    println!("per source (clean cat/dog):");
    for (s, (g, t)) in &per_src {
        println!(
            "  {:>6.1} %  {g:>3}/{t:<3} {s}",
            100.0 * *g as f64 / *t as f64
        );
    }
    if !errors.is_empty() {
        println!("errors:");
        for e in &errors {
            println!("{e}");
        }
    }
    ms.sort_by(f64::total_cmp);
    if !ms.is_empty() {
        println!(
            "per-image server time: p50 {:.1} ms, p99 {:.1} ms",
            ms[ms.len() / 2],
            ms[ms.len() * 99 / 100]
        );
    }
}
