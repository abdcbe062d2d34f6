#!/usr/bin/env python3
"""Compare preprocessing policies for the EfficientNet-Lite ONNX on ../shared/images/dev
(clean cat/dog subset), to choose model.yaml's resize/crop policy and `other` threshold.
Usage: .venv/bin/python bench/function/py_policy_eval.py [model.onnx] [size]"""
import csv, os, sys
import numpy as np
import onnxruntime as ort
from PIL import Image, ImageOps

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEV = os.path.join(ROOT, "..", "shared", "images", "dev")
model = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "model", "efficientnet-lite0.onnx")
S = int(sys.argv[2]) if len(sys.argv) > 2 else 224
so = ort.SessionOptions(); so.intra_op_num_threads = 1
sess = ort.InferenceSession(model, so)

def prep(im, frac, flt):
    w, h = im.size
    if frac == "squash":
        im = im.resize((S, S), flt)
    else:
        short = S / frac; r = short / min(w, h)
        im = im.resize((max(S, round(w * r)), max(S, round(h * r))), flt)
        w, h = im.size; l = (w - S) // 2; t = (h - S) // 2
        im = im.crop((l, t, l + S, t + S))
    return ((np.asarray(im, np.float32) - 127) / 128).transpose(2, 0, 1)

def probs(x):
    z = sess.run(None, {"input": x})[0]
    p = np.exp(z - z.max(1, keepdims=True)); return p / p.sum(1, keepdims=True)

rows = list(csv.DictReader(open(os.path.join(DEV, "labels.csv"))))
policies = [(0.875, Image.BILINEAR), (0.875, Image.BICUBIC), (0.933, Image.BILINEAR), (1.0, Image.BILINEAR), ("squash", Image.BILINEAR)]
res = {}
for r in rows:
    if r["label"] == "other" and int(r["width"]) * int(r["height"]) > 50e6: continue
    im = ImageOps.exif_transpose(Image.open(os.path.join(DEV, r["file"]))).convert("RGB")
    for pi, (frac, flt) in enumerate(policies):
        x = prep(im, frac, flt)
        p = probs(np.stack([x, x[:, :, ::-1]]))
        for tta in (0, 1):
            q = p.mean(0) if tta else p[0]
            res.setdefault((pi, tta), []).append((r, q[151:269].sum(), q[281:286].sum()))
for (pi, tta), lst in sorted(res.items()):
    clean = [(r, d, c) for r, d, c in lst if r["label"] in ("cat", "dog") and "ambiguous" not in r["note"]]
    ok = sum((d > c) == (r["label"] == "dog") for r, d, c in clean)
    oth = sorted(d + c for r, d, c in lst if r["label"] == "other")
    cd = sorted(d + c for r, d, c in clean)
    print(f"policy {policies[pi]} tta={tta}: {ok}/{len(clean)} = {100*ok/len(clean):.2f}%  "
          f"other mass max {oth[-1]:.3f}  catdog mass min {cd[0]:.3f} p1 {cd[len(cd)//100]:.3f} p2 {cd[len(cd)//50]:.3f}")
