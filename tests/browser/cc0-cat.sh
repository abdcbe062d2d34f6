#!/usr/bin/env bash
# Prints the path of a CC0 cat photo for the committed screenshot (docs/upload-page.png):
# scikit-image's `chelsea.png` ("Chelsea the cat", CC0 by the photographer, Stefan van der
# Walt — see skimage.data.chelsea's docstring). The photos under ../shared/seed are not ours
# to publish, so they never appear in anything committed.
#
# Fetched with the ordinary pip client (`pip download --no-deps`, pinned version), only the
# one PNG is extracted and checked by sha256; cached in <repo>/.cache/cc0/. Idempotent.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
OUT="$ROOT/.cache/cc0"
PNG="$OUT/chelsea.png"
SHA256=596aa1e7cb875eb79f437e310381d26b338a81c2da23439704a73c4651e8c4bb
VERSION=0.26.0

ok() { [[ -f "$PNG" ]] && echo "$SHA256  $PNG" | sha256sum --check --status; }
if ok; then echo "$PNG"; exit 0; fi

PYTHON="${PYTHON:-$ROOT/.venv/bin/python}"
[[ -x "$PYTHON" ]] || PYTHON=python3
mkdir -p "$OUT/wheel"
echo "cc0-cat: downloading scikit-image==$VERSION (wheel, no deps) for skimage/data/chelsea.png" >&2
"$PYTHON" -m pip download --quiet --disable-pip-version-check --no-deps --only-binary=:all: \
  --dest "$OUT/wheel" "scikit-image==$VERSION" >&2
whl=$(ls "$OUT"/wheel/scikit_image-"$VERSION"-*.whl | head -n1)
"$PYTHON" - "$whl" "$PNG" <<'EOF'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z, open(sys.argv[2], "wb") as f:
    f.write(z.read("skimage/data/chelsea.png"))
EOF
rm -rf "$OUT/wheel"
ok || { echo "cc0-cat: sha256 mismatch for $PNG" >&2; rm -f "$PNG"; exit 1; }
echo "$PNG"
