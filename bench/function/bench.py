#!/usr/bin/env python3
"""Cold start and steady-state latency: fcctl-function (Rust) vs Python peers.
Everything on 127.0.0.1, bounded. Usage:
  .venv/bin/python bench/function/bench.py [--cold N] [--requests N] [--image PATH] [--cpus 1]

Cold start = exec → listening → model loaded → first classified answer → (kill), warm page
cache (one discarded run of each first), polled every 1 ms, variants interleaved run by run so
machine noise hits all of them alike. Variants:
  rust          as deployed: optimised-graph cache warm (FCCTL_MODEL_CACHE; every cold start
                after the first on a CPU kind)
  rust-store    the first cold start on a CPU kind: optimises and stores the graph
  rust-nocache  FCCTL_MODEL_CACHE unset
  py-http       Python peer on the stdlib http.server (the leanest Python server)
  py-flask      Python peer on Flask (the seed's framework)
  rust-before   `--baseline PATH`: another build of the function (e.g. the previous commit's),
                cache warm like `rust`, so before and after are measured in the same run
All run with ORT_DISABLE_TELEMETRY=1, as fcctl deploys the function. `--cpus 1` pins every
process to one core (`taskset -c 0`), like a function with cpu ≤ 1. `--cpu-quota 0.35` runs every
process (Rust and Python alike) in a cgroup v1 `cpu` group with that CFS quota per 100 ms period,
as the emulator holds an instance to its function's `cpu` (needs a writable /sys/fs/cgroup/cpu)."""
import argparse
import http.client
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RUST = os.path.join(ROOT, "target", "fn", "release", "fcctl-function")
PEER = [os.path.join(ROOT, ".venv", "bin", "python"), os.path.join(ROOT, "bench", "function", "py_peer.py")]
CACHE = tempfile.mkdtemp(prefix="fcctl-bench-cache-")
PIN = []
BASELINE = []
CGROUP = []


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


def post(port, body, timeout=30):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    c.request("POST", "/classify", body=body, headers={"content-type": "image/jpeg"})
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, data


def start(kind, port):
    env = dict(os.environ, FC_CUSTOM_LISTEN_PORT=str(port), MODEL_DIR=os.path.join(ROOT, "model"),
               ORT_DYLIB_PATH=ort_lib(), RUST_LOG="warn", ORT_DISABLE_TELEMETRY="1")
    env.pop("FCCTL_MODEL_CACHE", None)
    if kind in ("rust", "rust-before"):
        env["FCCTL_MODEL_CACHE"] = CACHE
    elif kind == "rust-store":
        fresh = tempfile.mkdtemp(prefix="fcctl-bench-store-", dir=CACHE)
        env["FCCTL_MODEL_CACHE"] = fresh
    elif kind == "py-flask":
        env["PEER_FRAMEWORK"] = "flask"
    cmd = BASELINE if kind == "rust-before" else [RUST] if kind.startswith("rust") else PEER
    if CGROUP:
        # Join the group before exec, so no start-up work escapes the quota.
        cmd = ["sh", "-c", f'echo $$ > {CGROUP[0]}/cgroup.procs && exec "$@"', "sh"] + cmd
    return subprocess.Popen(PIN + cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


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
    ap.add_argument("--cpus", type=int, choices=[1], help="pin every process to one core")
    ap.add_argument("--cpu-quota", type=float, help="vCPU quota for every process (cgroup v1 cpu)")
    ap.add_argument("--baseline", help="another fcctl-function binary, run as variant rust-before")
    ap.add_argument("--image", default=os.path.join(ROOT, "..", "shared", "seed", "test_dog.jpg"))
    a = ap.parse_args()
    if not os.path.isfile(RUST):
        sys.exit(f"{RUST} missing: CARGO_TARGET_DIR=target/fn cargo build --release -p fcctl-function")
    if a.cpus == 1:
        PIN.extend(["taskset", "-c", "0"])
    if a.cpu_quota:
        group = f"/sys/fs/cgroup/cpu/fcctl-bench-{os.getpid()}"
        try:
            os.mkdir(group)
            for f, v in (("cpu.cfs_period_us", 100000), ("cpu.cfs_quota_us", int(a.cpu_quota * 100000))):
                with open(os.path.join(group, f), "w") as fh:
                    fh.write(str(v))
        except OSError as e:
            sys.exit(f"--cpu-quota needs a writable cgroup v1 cpu hierarchy: {e}")
        CGROUP.append(group)
    body = open(a.image, "rb").read()
    print(f"load average before: {os.getloadavg()[0]:.2f}, cpus {os.cpu_count()}"
          + (", pinned to 1 core" if PIN else "") + (f", cpu quota {a.cpu_quota}" if CGROUP else ""))
    kinds = ["rust", "rust-store", "rust-nocache", "py-http", "py-flask"]
    if a.baseline:
        BASELINE.append(os.path.abspath(a.baseline))
        kinds.insert(1, "rust-before")
    try:
        for kind in kinds:
            cold(kind, body)  # warm page cache (and, for `rust`, the optimised-graph cache)
        runs = {k: [] for k in kinds}
        for _ in range(a.cold):
            for kind in kinds:
                runs[kind].append(cold(kind, body))
        med = {}
        for kind in kinds:
            ms = sorted(r[0] for r in runs[kind])
            med[kind] = statistics.median(ms)
            print(f"{kind:12} cold start: median {med[kind]:.0f} ms, min {ms[0]:.0f}, max {ms[-1]:.0f} "
                  f"(n={a.cold}), peak RSS {max(r[1] for r in runs[kind]):.0f} MB")
        for rust in [k for k in kinds if k.startswith("rust")]:
            print(f"cold start ratio vs {rust:12}: py-http {med['py-http'] / med[rust]:.2f}x, "
                  f"py-flask {med['py-flask'] / med[rust]:.2f}x")
        for conc in (1, 2):
            for kind in [k for k in ("rust", "rust-before", "py-http", "py-flask") if k in kinds]:
                p50, p99, rps, rss = steady(kind, body, conc, a.requests)
                print(f"{kind:12} c={conc}: p50 {p50:.1f} ms, p99 {p99:.1f} ms, {rps:.0f} req/s, peak RSS {rss:.0f} MB")
    finally:
        shutil.rmtree(CACHE, ignore_errors=True)
        for g in CGROUP:
            os.rmdir(g)  # every process in it was killed and waited for
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
