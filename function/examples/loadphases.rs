//! Times the phases of an ONNX Runtime model load in a fresh process, one variant per run:
//! `loadphases <lib> <model> <opt: disable|basic|extended|all> <from: file|memory|ort> [threads] [norun|x] [key=value…]`.
//! `from: ort` reads an ORT-format file (`session.load_model_format=ORT`); further `key=value`
//! arguments are session config entries (e.g. `session.intra_op.allow_spinning=0`, as the
//! server sets). Prints one JSON line.

use std::time::Instant;

use ort::session::Session;
use ort::session::builder::GraphOptimizationLevel;
use ort::value::TensorRef;

fn main() -> anyhow::Result<()> {
    let a: Vec<String> = std::env::args().collect();
    let (lib, model, opt, from) = (&a[1], &a[2], &a[3], &a[4]);
    let threads: usize = a.get(5).map(|s| s.parse()).transpose()?.unwrap_or(2);
    let ms = |t: Instant| t.elapsed().as_secs_f64() * 1e3;
    let t = Instant::now();
    let builder = ort::init_from(lib)?;
    let dlopen = ms(t);
    let t = Instant::now();
    let env = builder.with_name("loadphases").build()?;
    let env_ms = ms(t);
    let level = match opt.as_str() {
        "disable" => GraphOptimizationLevel::Disable,
        "basic" => GraphOptimizationLevel::Level1,
        "extended" => GraphOptimizationLevel::Level2,
        _ => GraphOptimizationLevel::Level3,
    };
    let t = Instant::now();
    let err = |e: &dyn std::fmt::Display| anyhow::anyhow!("{e}");
    let mut b = Session::builder(&env)?
        .with_optimization_level(level)
        .map_err(|e| err(&e))?
        .with_intra_threads(threads)
        .map_err(|e| err(&e))?
        .with_inter_threads(1)
        .map_err(|e| err(&e))?;
    if from == "ort" {
        b = b
            .with_config_entry("session.load_model_format", "ORT")
            .map_err(|e| err(&e))?;
    }
    for (k, v) in a.iter().skip(6).filter_map(|s| s.split_once('=')) {
        b = b.with_config_entry(k, v).map_err(|e| err(&e))?;
    }
    let builder_ms = ms(t);
    let t = Instant::now();
    let bytes;
    let mut session = if from == "memory" {
        bytes = std::fs::read(model)?;
        b.commit_from_memory(&bytes)?
    } else {
        b.commit_from_file(model)?
    };
    let session_ms = ms(t);
    if a.get(6).is_some_and(|s| s == "norun") {
        println!("{{\"dlopen\":{dlopen:.2},\"env\":{env_ms:.2},\"session\":{session_ms:.2}}}");
        return Ok(());
    }
    let x = vec![0f32; 3 * 224 * 224];
    let t = Instant::now();
    session.run(
        ort::inputs!["input" => TensorRef::from_array_view(([1usize, 3, 224, 224], &x[..]))?],
    )?;
    let first_run = ms(t);
    let t = Instant::now();
    for _ in 0..5 {
        session.run(
            ort::inputs!["input" => TensorRef::from_array_view(([1usize, 3, 224, 224], &x[..]))?],
        )?;
    }
    let steady = ms(t) / 5.0;
    println!(
        "{{\"dlopen\":{dlopen:.2},\"env\":{env_ms:.2},\"builder\":{builder_ms:.2},\"session\":{session_ms:.2},\"first_run\":{first_run:.2},\"steady\":{steady:.2},\"total_to_first\":{:.2}}}",
        dlopen + env_ms + builder_ms + session_ms + first_run
    );
    Ok(())
}
