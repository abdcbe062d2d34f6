"""Conformance suite: drives the fcctl emulator with Alibaba Cloud's official Python SDKs.

The emulator runs as `fcctl local start`; the fcctl binary comes from $FCCTL_BIN, or is built
with `cargo build -p fcctl --bin fcctl` (target dir $CARGO_TARGET_DIR or target/).
"""
import base64
import io
import json
import os
import signal
import subprocess
import tempfile
import zipfile

import pytest

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))

SERVER_PY = r'''
import http.server, json, os, socketserver
port = int(os.environ["FC_CUSTOM_LISTEN_PORT"])
state = {"init": False}
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def _send(self, obj):
        b = json.dumps(obj).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(b)))
        self.end_headers()
        self.wfile.write(b)
    def do_GET(self):
        self._send({"path": self.path, "init": state["init"], "version": os.environ.get("FC_FUNCTION_VERSION"),
                    "code": os.path.exists("/code/server.py")})
    def do_POST(self):
        n = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(n) if n else b""
        if self.path == "/initialize":
            state["init"] = True
        self._send({"path": self.path, "body": body.decode(), "init": state["init"]})
    def log_message(self, *a):
        pass
class S(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True
S(("0.0.0.0", port), H).serve_forever()
'''


def code_zip_bytes():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        info = zipfile.ZipInfo("server.py")
        info.external_attr = 0o755 << 16
        z.writestr(info, SERVER_PY)
    return buf.getvalue()


def code_zip_b64():
    return base64.b64encode(code_zip_bytes()).decode()


def _binary():
    b = os.environ.get("FCCTL_BIN")
    if b:
        return b
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(REPO, "target"))
    subprocess.run(["cargo", "build", "-q", "-p", "fcctl", "--bin", "fcctl"], cwd=REPO, check=True)
    return os.path.join(target, "debug", "fcctl")


@pytest.fixture(scope="session")
def emulator():
    for k in ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy"):
        os.environ.pop(k, None)
    data = tempfile.mkdtemp(prefix="fcctl-emu-conformance-")
    p = subprocess.Popen([_binary(), "local", "start", "--port", "0", "--data-dir", data, "--json"],
                         stdout=subprocess.PIPE, text=True)
    line = p.stdout.readline()
    assert line, "emulator exited before printing its info line"
    info = json.loads(line)
    yield info
    p.send_signal(signal.SIGTERM)
    try:
        p.wait(timeout=30)
    except subprocess.TimeoutExpired:
        p.kill()
