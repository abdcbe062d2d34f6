#!/usr/bin/env bash
# Reproducibly obtain libonnxruntime.so for the inference function (function/).
#
# Source: the PyPI wheel `onnxruntime` (MIT licence), pinned by version AND sha256, fetched
# with the ordinary pip client (`pip download --no-deps`), cached under
# <repo>/.cache/onnxruntime/. Idempotent: a second run does no network I/O.
# The extracted .so needs only GLIBC <= 2.28 (runs on FC custom.debian10+).
# Prints the absolute path of the shared library on stdout (logs go to stderr).
#
# Usage: scripts/fetch-onnxruntime.sh            -> prints .../libonnxruntime.so.1.32.0
# Env:   PYTHON (default: <repo>/.venv/bin/python, then python3) — only pip is used.
set -euo pipefail

ORT_VERSION=1.32.0
WHEEL=onnxruntime-${ORT_VERSION}-cp311-cp311-manylinux_2_28_x86_64.whl
WHEEL_SHA256=5a34fc4dfeb5a7b4a74c95dcba1e773d722abda720b474edf1b0c419dc6d163d
SO_NAME=libonnxruntime.so.${ORT_VERSION}

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="$ROOT/.cache/onnxruntime"
OUT_DIR="$CACHE/$ORT_VERSION"
SO="$OUT_DIR/$SO_NAME"

log() { echo "fetch-onnxruntime: $*" >&2; }

if [[ -f "$SO" && -f "$OUT_DIR/.sha256-ok" ]]; then
  echo "$SO"
  exit 0
fi

mkdir -p "$CACHE/wheels" "$OUT_DIR"
WHL_PATH="$CACHE/wheels/$WHEEL"

check_sha() { echo "$WHEEL_SHA256  $1" | sha256sum -c --status -; }

if [[ ! -f "$WHL_PATH" ]] || ! check_sha "$WHL_PATH"; then
  PY="${PYTHON:-}"
  if [[ -z "$PY" ]]; then
    if [[ -x "$ROOT/.venv/bin/python" ]]; then PY="$ROOT/.venv/bin/python"; else PY=python3; fi
  fi
  log "downloading $WHEEL (pinned) with pip"
  # The wheel tags are explicit so this works from any host Python version.
  "$PY" -m pip download --quiet --no-deps --only-binary=:all: \
    --python-version 3.11 --implementation cp --abi cp311 \
    --platform manylinux_2_28_x86_64 \
    -d "$CACHE/wheels" "onnxruntime==$ORT_VERSION" >&2
fi
if ! check_sha "$WHL_PATH"; then
  log "sha256 mismatch for $WHL_PATH (expected $WHEEL_SHA256); delete it and retry"
  exit 1
fi

TMP="$(mktemp -d "$CACHE/extract.XXXXXX")"
trap 'rm -rf "$TMP"' EXIT
"${PYTHON:-python3}" - "$WHL_PATH" "$TMP" "$SO_NAME" <<'PY'
import sys, zipfile
whl, out, so = sys.argv[1:4]
z = zipfile.ZipFile(whl)
names = [n for n in z.namelist() if n.endswith("/capi/" + so)]
if not names:
    sys.exit(f"{so} not found in {whl}")
with z.open(names[0]) as src, open(f"{out}/{so}", "wb") as dst:
    dst.write(src.read())
lic = [n for n in z.namelist() if n.endswith(".dist-info/LICENSE") or n.endswith("/LICENSE")]
if lic:
    with z.open(lic[0]) as src, open(f"{out}/LICENSE.onnxruntime", "wb") as dst:
        dst.write(src.read())
PY
chmod 0755 "$TMP/$SO_NAME"
mv -f "$TMP/$SO_NAME" "$SO"
[[ -f "$TMP/LICENSE.onnxruntime" ]] && mv -f "$TMP/LICENSE.onnxruntime" "$OUT_DIR/LICENSE"
ln -sfn "$SO_NAME" "$OUT_DIR/libonnxruntime.so"
touch "$OUT_DIR/.sha256-ok"
log "extracted $SO"
echo "$SO"
