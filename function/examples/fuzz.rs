//! Mutation fuzz at scale: cargo run -p fcctl-function --release --example fuzz -- [N] [SEED]
//! Preprocessing for all N cases (the untrusted path); every 10th decodable case also runs
//! inference (classify must not return an inference error = would be a 5xx). Prints VmHWM.

#[path = "../tests/fuzz.rs"]
#[allow(dead_code, unused_imports)]
mod fuzz_seeds;

use fcctl_function::fuzz::{Rng, mutate};
use fcctl_function::model::ClassifyError;
use std::panic::{AssertUnwindSafe, catch_unwind};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let n: usize = args.first().and_then(|v| v.parse().ok()).unwrap_or(10_000);
    let seed: u64 = args.get(1).and_then(|v| v.parse().ok()).unwrap_or(42);
    let c = fuzz_seeds::common::load_default();
    let seeds = fuzz_seeds::seeds();
    let mut rng = Rng::new(seed);
    let (mut ok, mut rejected, mut panics, mut e5xx, mut inferred) = (0, 0, 0, 0, 0);
    let t = std::time::Instant::now();
    for i in 0..n {
        let a = &seeds[rng.below(seeds.len())];
        let b = &seeds[rng.below(seeds.len())];
        let input = mutate(&mut rng, a, b);
        let full = i % 10 == 0;
        let r = catch_unwind(AssertUnwindSafe(|| {
            if full {
                c.classify(&input).map(|_| ())
            } else {
                fcctl_function::preprocess::preprocess(&input, &c.manifest.input, &c.limits)
                    .map(|_| ())
                    .map_err(ClassifyError::from)
            }
        }));
        match r {
            Ok(Ok(())) => {
                ok += 1;
                inferred += usize::from(full);
            }
            Ok(Err(ClassifyError::Inference(e))) => {
                e5xx += 1;
                eprintln!("case {i}: inference error {e}");
            }
            Ok(Err(_)) => rejected += 1,
            Err(_) => panics += 1,
        }
    }
    let hwm = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM"))
                .map(|l| l.to_string())
        })
        .unwrap_or_default();
    println!(
        "{n} cases (seed {seed}) in {:.1} s: {ok} decoded ({inferred} also inferred), {rejected} rejected (4xx), \
         {panics} panics, {e5xx} inference errors (5xx); {hwm}",
        t.elapsed().as_secs_f64()
    );
    if panics + e5xx > 0 {
        std::process::exit(1);
    }
}
