#!/usr/bin/env python3
"""Python peer of fcctl-function for benchmarks: onnxruntime + Pillow + numpy, same ONNX, same
preprocessing (model.yaml: centre square 0.875·min side, bilinear to 224, (x-127)/128, NCHW),
same JSON shape. Loads the model at start-up (like the Rust server's eager load).
Env: FC_CUSTOM_LISTEN_PORT (9000), MODEL_DIR (model/), PEER_FRAMEWORK = `http.server` (the
leanest stdlib server, default) or `flask` (the seed's framework, werkzeug's threaded server)."""
import io
import json
import os
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import onnxruntime as ort
from PIL import Image, ImageOps

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MODEL_DIR = os.environ.get("MODEL_DIR", os.path.join(ROOT, "model"))
PORT = int(os.environ.get("FC_CUSTOM_LISTEN_PORT", "9000"))
T0 = time.perf_counter()

so = ort.SessionOptions()
so.intra_op_num_threads = min(len(os.sched_getaffinity(0)), 4)  # as Rust's available_parallelism
so.inter_op_num_threads = 1
# The ONNX file model.yaml names (a top-level `onnx:` line), so both servers run the same graph.
ONNX = next(line.split(":", 1)[1].strip() for line in open(os.path.join(MODEL_DIR, "model.yaml"))
            if line.startswith("onnx:"))
SESSION = ort.InferenceSession(os.path.join(MODEL_DIR, ONNX), so,
                               providers=["CPUExecutionProvider"])
CLASSES = open(os.path.join(MODEL_DIR, "imagenet_classes.txt")).read().splitlines()
SESSION.run(None, {"input": np.zeros((1, 3, 224, 224), np.float32)})  # warm-up, as the Rust server
LOAD_MS = (time.perf_counter() - T0) * 1e3
CAT_WEIGHT, OTHER = 10.0, 0.08


def classify(data):
    t0 = time.perf_counter()
    im = ImageOps.exif_transpose(Image.open(io.BytesIO(data))).convert("RGB")
    w, h = im.size
    side = 0.875 * min(w, h)
    box = ((w - side) / 2, (h - side) / 2, (w + side) / 2, (h + side) / 2)
    im = im.resize((224, 224), Image.BILINEAR, box=box)
    x = ((np.asarray(im, np.float32) - 127.0) / 128.0).transpose(2, 0, 1)[None]
    z = SESSION.run(None, {"input": np.ascontiguousarray(x)})[0][0]
    p = np.exp(z - z.max())
    p /= p.sum()
    d, c = float(p[151:269].sum()), float(p[281:286].sum())
    cw = c * CAT_WEIGHT
    label = "other" if d + c < OTHER else ("dog" if d >= cw else "cat")
    top = p.argsort()[::-1][:5]
    return {"label": label, "dog": d / (d + cw), "cat": cw / (d + cw), "other": max(0.0, 1 - d - c),
            "top5": [{"class": CLASSES[i], "p": float(p[i])} for i in top],
            "model": "efficientnet-lite0", "ms": (time.perf_counter() - t0) * 1e3}


class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes: without this, Nagle + delayed ACK add 40 ms.
    disable_nagle_algorithm = True

    def log_message(self, *a):
        pass

    def reply(self, code, obj):
        body = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.send_header("x-fcctl-model-load", "false")
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        self.reply(200, {"status": "ok", "model_loaded": True})

    def do_POST(self):
        n = int(self.headers.get("content-length") or 0)
        if n > 32 << 20:
            return self.reply(413, {"error": "payload_too_large", "message": "over 32 MiB"})
        data = self.rfile.read(n)
        if self.path == "/initialize":
            return self.reply(200, {"status": "initialized", "load_ms": LOAD_MS})
        try:
            self.reply(200, classify(data))
        except Exception as e:  # noqa: BLE001
            self.reply(400, {"error": "bad_image", "message": str(e)})


def serve_flask():
    import logging

    from flask import Flask, jsonify, request

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = 32 << 20

    @app.post("/initialize")
    def initialize():
        return jsonify({"status": "initialized", "load_ms": LOAD_MS})

    @app.post("/classify")
    def classify_route():
        try:
            return jsonify(classify(request.get_data()))
        except Exception as e:  # noqa: BLE001
            return jsonify({"error": "bad_image", "message": str(e)}), 400

    @app.get("/")
    def health():
        return jsonify({"status": "ok", "model_loaded": True})

    app.run(host="0.0.0.0", port=PORT, threaded=True)


if __name__ == "__main__":
    if os.environ.get("PEER_FRAMEWORK") == "flask":
        serve_flask()
    else:
        srv = ThreadingHTTPServer(("0.0.0.0", PORT), H)
        srv.daemon_threads = True
        print(f"listening on {PORT} (load {LOAD_MS:.0f} ms)", file=sys.stderr, flush=True)
        srv.serve_forever()
