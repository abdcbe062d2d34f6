#!/usr/bin/env python3
"""Cold start and steady-state latency: fcctl-function (Rust) vs the Python peer.
Everything on 127.0.0.1, bounded. Usage:
  .venv/bin/python bench/function/bench.py [--cold N] [--requests N] [--image PATH]
Cold start = exec → listening → model loaded → first classified answer → (kill), warm page
cache (one discarded run first), polled every 1 ms."""
import argparse
import http.client
import os
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def ort_lib():
    p = os.environ.get("ORT_DYLIB_PATH")
    if p:
        return p
    out = subprocess.run([os.path.join(ROOT, "scripts", "fetch-onnxruntime.sh")], capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit("libonnxruntime missing: run scripts/setup")
    return out.stdout.strip()


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def cmd_for(kind):
    if kind == "rust":
        return [os.path.join(ROOT, "target", "fn", "release", "fcctl-function")]
    return [os.path.join(ROOT, ".venv", "bin", "python"), os.path.join(ROOT, "bench", "function", "py_peer.py")]


def post(port, body, timeout=30):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    c.request("POST", "/classify", body=body, headers={"content-type": "image/jpeg"})
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, data


def start(kind, port):
    env = dict(os.environ, FC_CUSTOM_LISTEN_PORT=str(port), MODEL_DIR=os.path.join(ROOT, "model"),
               ORT_DYLIB_PATH=ort_lib(), RUST_LOG="warn")
    return subprocess.Popen(cmd_for(kind), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def rss_peak(pid):
    try:
        for line in open(f"/proc/{pid}/status"):
            if line.startswith("VmHWM"):
                return int(line.split()[1]) / 1024
    except OSError:
        return float("nan")


def cold(kind, body):
    port = free_port()
    t0 = time.perf_counter()
    p = start(kind, port)
    try:
        while True:
            try:
                st, _ = post(port, body)
                break
            except (ConnectionRefusedError, ConnectionResetError, http.client.RemoteDisconnected):
                if p.poll() is not None:
                    sys.exit(f"{kind} exited with {p.returncode}")
                time.sleep(0.001)
        dt = (time.perf_counter() - t0) * 1e3
        assert st == 200, st
        return dt, rss_peak(p.pid)
    finally:
        p.send_signal(signal.SIGKILL)
        p.wait()


def steady(kind, body, conc, n):
    port = free_port()
    p = start(kind, port)
    try:
        for _ in range(3000):
            try:
                post(port, body)
                break
            except OSError:
                time.sleep(0.005)
        for _ in range(20):
            post(port, body)
        lat, lock = [], threading.Lock()
        per = n // conc

        def worker():
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            mine = []
            for _ in range(per):
                t = time.perf_counter()
                c.request("POST", "/classify", body=body, headers={"content-type": "image/jpeg"})
                r = c.getresponse()
                r.read()
                assert r.status == 200
                mine.append((time.perf_counter() - t) * 1e3)
            c.close()
            with lock:
                lat.extend(mine)

        t0 = time.perf_counter()
        ts = [threading.Thread(target=worker) for _ in range(conc)]
        [t.start() for t in ts]
        [t.join() for t in ts]
        wall = time.perf_counter() - t0
        lat.sort()
        return lat[len(lat) // 2], lat[min(len(lat) - 1, int(len(lat) * 0.99))], len(lat) / wall, rss_peak(p.pid)
    finally:
        p.send_signal(signal.SIGKILL)
        p.wait()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cold", type=int, default=10)
    ap.add_argument("--requests", type=int, default=300)
    ap.add_argument("--image", default=os.path.join(ROOT, "..", "shared", "seed", "test_dog.jpg"))
    a = ap.parse_args()
    body = open(a.image, "rb").read()
    print(f"load average before: {os.getloadavg()[0]:.2f}, cpus {os.cpu_count()}")
    res = {}
    for kind in ("rust", "python"):
        cold(kind, body)  # warm page cache
        runs = [cold(kind, body) for _ in range(a.cold)]
        ms = sorted(r[0] for r in runs)
        res[kind] = statistics.median(ms)
        print(f"{kind:6} cold start: median {statistics.median(ms):.0f} ms, min {ms[0]:.0f}, max {ms[-1]:.0f} "
              f"(n={a.cold}), peak RSS {max(r[1] for r in runs):.0f} MB")
    print(f"cold start ratio python/rust: {res['python'] / res['rust']:.2f}x")
    for conc in (1, 2):
        for kind in ("rust", "python"):
            p50, p99, rps, rss = steady(kind, body, conc, a.requests)
            print(f"{kind:6} c={conc}: p50 {p50:.1f} ms, p99 {p99:.1f} ms, {rps:.0f} req/s, peak RSS {rss:.0f} MB")
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
