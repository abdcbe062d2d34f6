#!/usr/bin/env python3
"""Convert the seed's Keras 2.0 Sequential CNN (model.json + weights.h5) to ONNX, plus a
model.yaml for fcctl-function, into OUT_DIR. Used by tests at run time only: the seed model
and anything converted from it are never committed.

Usage: .venv/bin/python model/convert_seed_keras.py ../shared/seed/model OUT_DIR
Supports the layers the seed uses: Conv2D, Activation, MaxPooling2D, Flatten, Dense, Dropout.
Input NHWC float32 raw 0-255 [1,64,64,3]; output [1,2] sigmoid = [cat, dog].
"""
import hashlib
import json
import os
import sys

import h5py
import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def main(src, out):
    cfg = json.load(open(os.path.join(src, "model.json")))
    layers = cfg["config"] if isinstance(cfg["config"], list) else cfg["config"]["layers"]
    wf = h5py.File(os.path.join(src, "weights.h5"), "r")
    nodes, inits = [], []
    shape = None
    first = layers[0]["config"]
    _, h, w, c = first["batch_input_shape"]
    x = "input_t"
    nodes.append(helper.make_node("Transpose", ["input"], [x], perm=[0, 3, 1, 2]))
    n = 0

    def act(x, a):
        nonlocal n
        if a in (None, "linear"):
            return x
        op = {"relu": "Relu", "sigmoid": "Sigmoid", "softmax": "Softmax"}[a]
        n += 1
        y = f"{op.lower()}_{n}"
        nodes.append(helper.make_node(op, [x], [y]))
        return y

    flat = False
    for layer in layers:
        k, lc = layer["class_name"], layer["config"]
        name = lc["name"]
        if k == "Conv2D":
            kern = np.array(wf[f"{name}/{name}/kernel:0"])  # kh, kw, cin, cout
            bias = np.array(wf[f"{name}/{name}/bias:0"])
            assert lc["padding"] == "valid" and lc.get("dilation_rate", [1, 1]) == [1, 1]
            inits += [numpy_helper.from_array(kern.transpose(3, 2, 0, 1).astype(np.float32), name + ".w"),
                      numpy_helper.from_array(bias.astype(np.float32), name + ".b")]
            nodes.append(helper.make_node("Conv", [x, name + ".w", name + ".b"], [name],
                                          kernel_shape=list(kern.shape[:2]), strides=lc["strides"]))
            x = act(name, lc.get("activation"))
            h, w, c = h - kern.shape[0] + 1, w - kern.shape[1] + 1, kern.shape[3]
        elif k == "Activation":
            x = act(x, lc["activation"])
        elif k == "MaxPooling2D":
            assert lc["padding"] == "valid"
            nodes.append(helper.make_node("MaxPool", [x], [name], kernel_shape=lc["pool_size"],
                                          strides=lc["strides"]))
            x = name
            h, w = (h - lc["pool_size"][0]) // lc["strides"][0] + 1, (w - lc["pool_size"][1]) // lc["strides"][1] + 1
        elif k == "Flatten":
            # Keras flattens channels-last (H, W, C).
            nodes.append(helper.make_node("Transpose", [x], [name + ".nhwc"], perm=[0, 2, 3, 1]))
            nodes.append(helper.make_node("Flatten", [name + ".nhwc"], [name], axis=1))
            x, flat = name, True
        elif k == "Dense":
            assert flat
            kern = np.array(wf[f"{name}/{name}/kernel:0"]).astype(np.float32)
            bias = np.array(wf[f"{name}/{name}/bias:0"]).astype(np.float32)
            inits += [numpy_helper.from_array(kern, name + ".w"), numpy_helper.from_array(bias, name + ".b")]
            nodes.append(helper.make_node("Gemm", [x, name + ".w", name + ".b"], [name]))
            x = act(name, lc.get("activation"))
            shape = kern.shape[1]
        elif k == "Dropout":
            continue
        else:
            sys.exit(f"unsupported layer {k}")
    nodes.append(helper.make_node("Identity", [x], ["output"]))
    graph = helper.make_graph(
        nodes, "seed_keras_cnn",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 64, 64, 3])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, shape])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    os.makedirs(out, exist_ok=True)
    data = model.SerializeToString()
    with open(os.path.join(out, "seed.onnx"), "wb") as f:
        f.write(data)
    sha = hashlib.sha256(data).hexdigest()
    with open(os.path.join(out, "model.yaml"), "w") as f:
        f.write(f"""# Seed Keras CNN converted at test time (never committed).
name: seed-keras-cnn
onnx: seed.onnx
sha256: {sha}
input:
  name: input
  width: 64
  height: 64
  layout: NHWC
  resize: nearest
  crop: squash
  mean: [0.0, 0.0, 0.0]
  std: [1.0, 1.0, 1.0]
output:
  activation: probabilities
  classes: [cat, dog]
  dog: [[1, 1]]
  cat: [[0, 0]]
  other_threshold: 0.0
  renormalise: false
runtime:
  graph_optimization: all
  threads: 1
""")
    print(os.path.join(out, "seed.onnx"))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
