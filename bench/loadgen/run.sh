#!/usr/bin/env bash
# Generator throughput of `fcctl bench` against a trivial local HTTP server, and wrk
# side by side against the same server when wrk is installed (apt-get install -y wrk).
# Everything stays on 127.0.0.1 and every run is bounded by DURATION seconds.
#
#   bench/loadgen/run.sh                      # 5 s runs, 64 connections
#   DURATION=10 CONNECTIONS=128 bench/loadgen/run.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
DURATION=${DURATION:-5}
CONNECTIONS=${CONNECTIONS:-64}
MANIFEST=${MANIFEST:-Cargo.toml}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target/bench}

loadgen() { cargo bench -q --manifest-path "$MANIFEST" -p fcctl --bench loadgen -- "$@"; }

echo "== 1. engine + in-process server (1 server thread, 1 client thread)"
loadgen --duration "$DURATION" --connections "$CONNECTIONS"

echo "== 2. standalone server (1 thread); engine (1 thread) and wrk (-t1) in turn"
log=$(mktemp)
loadgen --serve $((DURATION * 2 + 20)) >"$log" &
server=$!
trap 'kill "$server" 2>/dev/null || true; rm -f "$log"' EXIT
for _ in $(seq 100); do grep -q listening "$log" && break; sleep 0.2; done
url=$(awk '/listening on/ {print $3}' "$log")
echo "server: $url"
loadgen --url "$url" --duration "$DURATION" --connections "$CONNECTIONS"
if command -v wrk >/dev/null; then
  wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" --latency "$url"
else
  echo "wrk not installed (apt-get install -y wrk) - skipped"
fi
