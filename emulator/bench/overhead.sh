#!/usr/bin/env bash
# Emulator benchmark (not a test): HTTP-trigger proxy overhead p50/p99 vs hitting the instance
# port directly, and hello-world instance cold start. Usage: emulator/bench/overhead.sh
# Env: N (requests, default 2000), COLD_N (cold starts, default 20), CARGO_TARGET_DIR.
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo build -q --release -p emulator --example hello_server --example overhead
target="${CARGO_TARGET_DIR:-target}"
exec "$target/release/examples/overhead"
