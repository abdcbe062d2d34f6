//! Mutation fuzzing of the untrusted-input path (sniff → decode → resize → tensor), shared by
//! `tests/fuzz.rs` (small count, in CI) and `examples/fuzz.rs` (≥ 10 000 cases).

use std::panic::{AssertUnwindSafe, catch_unwind};

use crate::manifest::InputSpec;
use crate::preprocess::{DecodeLimits, preprocess};

/// Tiny deterministic PRNG (xorshift64*), so runs are reproducible from a seed.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed.max(1))
    }
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next_u64() % n as u64) as usize
        }
    }
}

/// One mutation of `src`: bit flips, byte overwrites (header-biased), truncation, chunk
/// duplication/removal, insertion of big dimension values, or splicing two inputs.
pub fn mutate(rng: &mut Rng, src: &[u8], other: &[u8]) -> Vec<u8> {
    let mut v = src.to_vec();
    let rounds = 1 + rng.below(4);
    for _ in 0..rounds {
        if v.is_empty() {
            v.push(rng.next_u64() as u8);
        }
        let len = v.len();
        // Bias positions towards the header, where dimensions and tables live.
        let pos = if rng.below(2) == 0 {
            rng.below(len.min(512))
        } else {
            rng.below(len)
        };
        match rng.below(8) {
            0 => v[pos] ^= 1 << rng.below(8),
            1 => v[pos] = rng.next_u64() as u8,
            2 => v.truncate(pos.max(1)),
            3 => {
                let n = rng.below(64).min(len - pos);
                let chunk = v[pos..pos + n].to_vec();
                v.splice(pos..pos, chunk);
            }
            4 => {
                let n = rng.below(64).min(len - pos);
                v.drain(pos..pos + n);
            }
            5 => {
                let big = [0xff, 0xff, 0x7f, 0xff];
                for (i, b) in big.iter().enumerate() {
                    if pos + i < v.len() {
                        v[pos + i] = *b;
                    }
                }
            }
            6 => {
                let cut = rng.below(other.len().max(1));
                v.truncate(pos.max(1));
                v.extend_from_slice(&other[cut..]);
            }
            _ => {
                for _ in 0..rng.below(16) {
                    let p = rng.below(v.len());
                    v[p] = rng.next_u64() as u8;
                }
            }
        }
    }
    v
}

#[derive(Debug, Default, Clone, Copy)]
pub struct FuzzStats {
    pub cases: usize,
    pub decoded: usize,
    pub rejected: usize,
    pub panics: usize,
}

/// Run `n` mutated inputs through preprocessing; panics are caught and counted.
pub fn run(
    seeds: &[Vec<u8>],
    n: usize,
    seed: u64,
    spec: &InputSpec,
    limits: &DecodeLimits,
) -> FuzzStats {
    let mut rng = Rng::new(seed);
    let mut st = FuzzStats::default();
    for _ in 0..n {
        let a = &seeds[rng.below(seeds.len())];
        let b = &seeds[rng.below(seeds.len())];
        let input = mutate(&mut rng, a, b);
        st.cases += 1;
        match catch_unwind(AssertUnwindSafe(|| preprocess(&input, spec, limits))) {
            Ok(Ok(_)) => st.decoded += 1,
            Ok(Err(_)) => st.rejected += 1,
            Err(_) => st.panics += 1,
        }
    }
    st
}
