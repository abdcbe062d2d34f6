#!/usr/bin/env python3
"""Write model/imagenet_classes.txt (1000 ImageNet class names, one per line, index order)
from torchvision's `models/_meta.py` (BSD-3-Clause), taken from the pinned wheel via
`pip download --no-deps` (sha256-checked). Only the list is read (ast), nothing is imported."""
import ast, hashlib, os, subprocess, sys, zipfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WHEEL = "torchvision-0.29.2-py3-none-manylinux_2_28_x86_64.whl"
SHA256 = "0875f7a23bd298813240f716c56df44ce72ddb45146589442a38edd0e1f59637"

cache = os.path.join(ROOT, ".cache", "wheels")
path = os.path.join(cache, WHEEL)
if not os.path.exists(path):
    subprocess.check_call([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
                           "--only-binary=:all:", "--platform", "manylinux_2_28_x86_64",
                           "--python-version", "3.11", "-d", cache, "torchvision==0.29.2"])
if hashlib.sha256(open(path, "rb").read()).hexdigest() != SHA256:
    sys.exit(f"sha256 mismatch for {path}")
src = zipfile.ZipFile(path).read("torchvision/models/_meta.py").decode()
tree = ast.parse(src)
names = next(ast.literal_eval(n.value) for n in tree.body
             if isinstance(n, ast.Assign) and getattr(n.targets[0], "id", "") == "_IMAGENET_CATEGORIES")
assert len(names) == 1000
out = os.path.join(ROOT, "model", "imagenet_classes.txt")
with open(out, "w") as f:
    f.write("\n".join(names) + "\n")
print(f"wrote {out} ({len(names)} classes; dogs 151-268: {names[151]}..{names[268]}; "
      f"cats 281-285: {names[281]}..{names[285]})")
