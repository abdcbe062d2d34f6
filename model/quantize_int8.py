#!/usr/bin/env python3
"""Quantise EfficientNet-Lite0 to int8 (QDQ, per-channel s8 weights, u8 activations).

Why: the int8 graph is a quarter of the size, so ONNX Runtime builds its session in about half
the time (the largest part of a cold start) and infers faster on CPUs with VNNI; accuracy on
../shared/images/dev is unchanged (see README.md). EfficientNet-Lite was designed for this:
ReLU6 bounds every activation, so min/max calibration on a few natural photos is enough.

Calibration photos: public-domain / CC0 images of scikit-image's data package (pinned wheel,
fetched with pip, checked by sha256; each photo's licence is in its `skimage.data` docstring):
6 random square crops each (fixed seed), half of them mirrored, preprocessed exactly as
model.yaml says. Neither ../shared/images/dev nor holdout is used, so accuracy measured there
stays an independent check.

Usage: .venv/bin/python model/quantize_int8.py [--src model/efficientnet-lite0.onnx]
                                               [--out model/efficientnet-lite0-int8.onnx]
Deterministic for a given onnxruntime version (pinned in requirements-dev.txt).
"""
import argparse
import hashlib
import io
import os
import subprocess
import sys
import tempfile
import zipfile

import numpy as np
from onnxruntime.quantization import CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType, quantize_static
from onnxruntime.quantization.shape_inference import quant_pre_process
from PIL import Image

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WHEEL = ("scikit-image", "0.25.2", "cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64",
         "24cc986e1f4187a12aa319f777b36008764e856e5013666a4a83f8df083c2641")
# Public domain or CC0 (skimage.data docstrings): NASA, SpaceX, CC0Textures, the photographers.
PHOTOS = ["astronaut.png", "chelsea.png", "coffee.png", "rocket.jpg", "hubble_deep_field.jpg",
          "camera.png", "coins.png", "brick.png", "grass.png", "gravel.png", "retina.jpg",
          "cell.png", "clock_motion.png", "ihc.png"]
CROPS = 6
SIZE = 224


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def fetch_photos():
    name, version, tag, digest = WHEEL
    cache = os.path.join(ROOT, ".cache", "wheels")
    os.makedirs(cache, exist_ok=True)
    path = os.path.join(cache, f"{name.replace('-', '_')}-{version}-{tag}.whl")
    if not os.path.exists(path):
        subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check",
                        "--no-deps", "--only-binary=:all:", "--dest", cache, f"{name}=={version}"], check=True)
    data = open(path, "rb").read()
    if sha256(data) != digest:
        sys.exit(f"{path}: sha256 {sha256(data)}, expected {digest}; delete it and retry")
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        return {p: z.read(f"skimage/data/{p}") for p in PHOTOS}


class Photos(CalibrationDataReader):
    """Crops of the calibration photos, preprocessed like model.yaml: RGB, bilinear to 224,
    (x - 127) / 128, NCHW."""

    def __init__(self, photos):
        rng = np.random.RandomState(0)
        self.items = []
        for name in PHOTOS:
            im = Image.open(io.BytesIO(photos[name])).convert("RGB")
            w, h = im.size
            for k in range(CROPS):
                side = min(w, h) * rng.uniform(0.5, 1.0)
                x0, y0 = rng.uniform(0, w - side), rng.uniform(0, h - side)
                c = im.resize((SIZE, SIZE), Image.BILINEAR, box=(x0, y0, x0 + side, y0 + side))
                if k % 2:
                    c = c.transpose(Image.FLIP_LEFT_RIGHT)
                x = ((np.asarray(c, np.float32) - 127.0) / 128.0).transpose(2, 0, 1)[None]
                self.items.append({"input": np.ascontiguousarray(x)})
        self.it = iter(self.items)

    def get_next(self):
        return next(self.it, None)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--src", default=os.path.join(ROOT, "model", "efficientnet-lite0.onnx"))
    ap.add_argument("--out", default=os.path.join(ROOT, "model", "efficientnet-lite0-int8.onnx"))
    a = ap.parse_args()
    reader = Photos(fetch_photos())
    with tempfile.TemporaryDirectory() as tmp:
        pre = os.path.join(tmp, "pre.onnx")
        quant_pre_process(a.src, pre, skip_symbolic_shape=True)
        quantize_static(pre, a.out, reader, quant_format=QuantFormat.QDQ, per_channel=True,
                        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                        calibrate_method=CalibrationMethod.MinMax)
    print(f"{a.out}: {os.path.getsize(a.out)} bytes, sha256 {sha256(open(a.out, 'rb').read())}, "
          f"calibrated on {len(reader.items)} crops of {len(PHOTOS)} photos")


if __name__ == "__main__":
    main()
