#!/usr/bin/env bash
# NAS sync benchmark on the local emulator (127.0.0.1 only).
#
# Generates a 1 GiB tree in a temp dir (3 × 200 MB + one 50 MB file + ~1000 small files),
# then measures:
#   1. full `fcctl nas-sync` (hash + upload blobs to OSS + agent materialises the release)
#      vs a plain `cp -r` of the same tree → throughput and ratio;
#   2. unchanged re-sync wall time (target ≤ 0.5 s);
#   3. the 50 MB file changed → only it is sent (uploaded_bytes, files_uploaded).
# Everything is removed afterwards. Needs a release fcctl (built if missing) and the zig-built
# nas-agent (built if missing; scripts/setup installs cargo-zigbuild + zig).
# Env: FCCTL (binary), SMALL_FILES (default 1000), KEEP=1 keeps the temp dir.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
FCCTL="${FCCTL:-$ROOT/target/release/fcctl}"
AGENT="$ROOT/target/x86_64-unknown-linux-gnu/release/nas-agent"
SMALL_FILES="${SMALL_FILES:-1000}"
log() { echo "bench/nas: $*" >&2; }

if [[ ! -x "$FCCTL" ]]; then
  log "building fcctl (release)"
  (cd "$ROOT" && CARGO_TARGET_DIR="$ROOT/target" cargo build --release --bin fcctl)
fi
if [[ ! -x "$AGENT" ]]; then
  log "building nas-agent for glibc 2.28"
  (cd "$ROOT" && PATH="$ROOT/.venv/bin:$PATH" CARGO_TARGET_DIR="$ROOT/target" \
    cargo zigbuild --release -p nas-agent --bin nas-agent --target x86_64-unknown-linux-gnu.2.28)
fi

T="$(mktemp -d "${TMPDIR:-/tmp}/fcctl-nas-bench.XXXXXX")"
P="$T/proj"
EMU_PID=""
cleanup() {
  [[ -n "$EMU_PID" ]] && kill "$EMU_PID" 2>/dev/null && wait "$EMU_PID" 2>/dev/null || true
  [[ "${KEEP:-0}" == 1 ]] || rm -rf "$T"
}
trap cleanup EXIT
mkdir -p "$P/tree/small"
cat > "$P/fcctl.yaml" <<YAML
app: bench
build:
  onnxruntime: false
  files:
    - src: tree
      dst: model
YAML
F() { "$FCCTL" --config "$P/fcctl.yaml" "$@"; }
now() { date +%s.%N; }
jget() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }

log "generating the tree in $T"
for i in 1 2 3; do head -c 200000000 /dev/urandom > "$P/tree/big$i.bin"; done
head -c 50000000 /dev/urandom > "$P/tree/mid.bin"
SMALL_TOTAL=$(( 1073741824 - 650000000 ))
SMALL_SIZE=$(( SMALL_TOTAL / SMALL_FILES ))
head -c "$SMALL_TOTAL" /dev/urandom > "$T/small.blob"
split -a 4 -d -b "$SMALL_SIZE" "$T/small.blob" "$P/tree/small/f"
rm -f "$T/small.blob"

log "starting the emulator"
(cd "$P" && F local start > "$T/emulator.log" 2>&1) &
EMU_PID=$!
for _ in $(seq 100); do F local status >/dev/null 2>&1 && break; sleep 0.1; done

F build --json --binary "$AGENT" --agent-binary "$AGENT" > "$T/build.json"
NAS="$P/target/fcctl/nas"
BYTES=$(jget "['nas_bytes']" < "$T/build.json")
FILES=$(find "$NAS" -type f | wc -l)
sync

t0=$(now); cp -r "$NAS" "$T/cp-copy"; sync; t1=$(now)
CP_S=$(echo "$t1 - $t0" | bc -l); rm -rf "$T/cp-copy"

t0=$(now); F nas-sync --local --json > "$T/full.json"; sync; t1=$(now)
FULL_S=$(echo "$t1 - $t0" | bc -l)

t0=$(now); F nas-sync --local --json > "$T/noop.json"; t1=$(now)
NOOP_S=$(echo "$t1 - $t0" | bc -l)

head -c 50000000 /dev/urandom > "$P/tree/mid.bin"
F build --json --binary "$AGENT" --agent-binary "$AGENT" > /dev/null
t0=$(now); F nas-sync --local --json > "$T/one.json"; t1=$(now)
ONE_S=$(echo "$t1 - $t0" | bc -l)

mb() { echo "scale=1; $1 / 1000000" | bc -l; }
echo "tree:            $FILES files, $(mb "$BYTES") MB"
printf 'cp -r:           %.2f s  (%s MB/s)\n' "$CP_S" "$(echo "scale=1; $BYTES/1000000/$CP_S" | bc -l)"
printf 'full nas-sync:   %.2f s  (%s MB/s), ratio vs cp -r: %.2fx the time\n' "$FULL_S" \
  "$(echo "scale=1; $BYTES/1000000/$FULL_S" | bc -l)" "$(echo "$FULL_S / $CP_S" | bc -l)"
echo "                 uploaded $(jget "['uploaded_bytes']" < "$T/full.json") bytes in $(jget "['files_uploaded']" < "$T/full.json") blobs"
printf 'unchanged rerun: %.3f s wall  (files_hashed=%s, uploaded_bytes=%s)\n' "$NOOP_S" \
  "$(jget "['files_hashed']" < "$T/noop.json")" "$(jget "['uploaded_bytes']" < "$T/noop.json")"
printf '50 MB changed:   %.2f s  uploaded_bytes=%s files_uploaded=%s agent_downloaded=%s agent_linked=%s\n' "$ONE_S" \
  "$(jget "['uploaded_bytes']" < "$T/one.json")" "$(jget "['files_uploaded']" < "$T/one.json")" \
  "$(jget "['agent_downloaded']" < "$T/one.json")" "$(jget "['agent_linked']" < "$T/one.json")"
