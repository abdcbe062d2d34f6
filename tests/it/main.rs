//! The end-to-end tests, in one binary: each drives the built `fcctl` against a fresh emulator
//! on an ephemeral port in a temp dir (`support`). `fast` runs in the edit loop
//! (`scripts/test --fast`); `slow` needs the cross-built function and agent (`cargo run -- build`)
//! and kills processes or deploys the real model.

mod fast;
mod slow;
mod support;
