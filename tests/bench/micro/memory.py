#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
# Memory micro-benchmarks: supernode RSS with many registered peers, daemon RSS during a big download.
"""memory.py [--peers 10000] [--pieces 1024] [--download 4G] [--out DIR]

1. supernode: one task of --pieces pieces; --peers peers register for it, each
   with a bitmap holding a random half of the pieces (what a restarted swarm
   looks like to the scheduler). Reported: the supernode's RSS before and
   after, and its peak (VmHWM).
2. daemon: a dfget daemon downloads a --download sized file (through the
   supernode, from nginx, all on loopback); its RSS is sampled every 100 ms
   and its peak (VmHWM) is read before it stops.

Everything runs on 127.0.0.1 on free ports in a temporary directory, which is
removed at the end; every wait is bounded."""
import argparse
import http.client
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
BIN = os.path.join(ROOT, "build", "bin")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def status_kib(pid, key):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def wait_port(port, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on port {port}")


def start_nginx(work, www):
    port = free_port()
    conf = os.path.join(work, "nginx.conf")
    with open(conf, "w") as f:
        f.write(f"""worker_processes 1; error_log {work}/nginx-error.log; pid {work}/nginx.pid;
events {{ worker_connections 1024; }}
http {{ access_log off; client_body_temp_path {work}; proxy_temp_path {work};
  fastcgi_temp_path {work}; uwsgi_temp_path {work}; scgi_temp_path {work}; sendfile on;
  server {{ listen 127.0.0.1:{port}; root {www}; }} }}
""")
    p = subprocess.Popen(["/usr/sbin/nginx", "-c", conf, "-p", work, "-g", "daemon off;"])
    wait_port(port)
    return p, port


def start_supernode(work, name, extra):
    port = free_port()
    p = subprocess.Popen([os.path.join(BIN, "supernode"), "--listen", f"127.0.0.1:{port}", "--data-dir",
                          os.path.join(work, name), "--log-level", "warn", *extra])
    wait_port(port)
    return p, port


def supernode_with_peers(work, www, origin_port, peers, pieces):
    piece = 16 * 1024
    with open(os.path.join(www, "swarm.bin"), "wb") as f:
        f.write(os.urandom(pieces * piece))
    sn, port = start_supernode(work, "sn-peers", ["--piece-size", "16K", "--peer-timeout", "3600"])
    try:
        time.sleep(0.5)
        before = status_kib(sn.pid, "VmRSS")
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        rng = random.Random(1)
        started = time.monotonic()
        for i in range(peers):
            bitmap = "".join("1" if rng.random() < 0.5 else "0" for _ in range(pieces))
            body = json.dumps({"url": f"http://127.0.0.1:{origin_port}/swarm.bin", "peer_id": f"peer-{i}",
                               "upload_addr": f"10.{i // 65536}.{(i // 256) % 256}.{i % 256}:65002",
                               "idc": f"idc{i % 4}", "location": f"r{i % 4}|z{i % 16}|rack{i % 64}",
                               "bitmap": bitmap})
            conn.request("POST", "/api/v1/tasks", body, {"Content-Type": "application/json"})
            r = conn.getresponse()
            r.read()
            if r.status != 200:
                raise RuntimeError(f"registration {i} answered {r.status}")
        took = time.monotonic() - started
        after = status_kib(sn.pid, "VmRSS")
        peak = status_kib(sn.pid, "VmHWM")
        return {"peers": peers, "pieces": pieces, "rss_before_mib": round(before / 1024, 1),
                "rss_after_mib": round(after / 1024, 1), "peak_mib": round(peak / 1024, 1),
                "registrations_per_s": round(peers / took)}
    finally:
        sn.send_signal(signal.SIGTERM)
        sn.wait(10)


def daemon_download(work, www, origin_port, size):
    path = os.path.join(www, "big.bin")
    with open(path, "wb") as f:  # random content: zeros would flatter nothing, but be honest
        block = os.urandom(1 << 20)
        for i in range(size >> 20):
            f.write(block[i % 7:] + block[: i % 7])
    sn, sn_port = start_supernode(work, "sn-big", [])
    sock = os.path.join(work, "d.sock")
    d_port = free_port()
    d = subprocess.Popen([os.path.join(BIN, "dfget"), "daemon", "--listen", f"127.0.0.1:{d_port}", "--data-dir",
                          os.path.join(work, "daemon"), "--socket", sock, "--supernode", f"127.0.0.1:{sn_port}",
                          "--log-level", "warn"])
    samples = []
    try:
        deadline = time.monotonic() + 20
        while not os.path.exists(sock) and time.monotonic() < deadline:
            time.sleep(0.05)
        stop = threading.Event()

        def sample():
            while not stop.is_set():
                samples.append(status_kib(d.pid, "VmRSS"))
                time.sleep(0.1)

        t = threading.Thread(target=sample, daemon=True)
        t.start()
        started = time.monotonic()
        out = os.path.join(work, "big.out")
        r = subprocess.run([os.path.join(BIN, "dfget"), f"http://127.0.0.1:{origin_port}/big.bin", "-O", out,
                            "--daemon-socket", sock, "-q"], timeout=1800)
        took = time.monotonic() - started
        stop.set()
        t.join()
        if r.returncode != 0:
            raise RuntimeError(f"dfget exited {r.returncode}")
        peak = status_kib(d.pid, "VmHWM")
        os.remove(out)
        return {"bytes": size, "seconds": round(took, 1), "rss_max_sampled_mib": round(max(samples) / 1024, 1),
                "peak_mib": round(peak / 1024, 1), "samples": len(samples)}
    finally:
        for p in (d, sn):
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(15)
            except subprocess.TimeoutExpired:
                p.kill()


def parse_size(text):
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    t = text.upper()
    return int(float(t[:-1]) * units[t[-1]]) if t[-1] in units else int(t)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--peers", type=int, default=10000)
    ap.add_argument("--pieces", type=int, default=1024)
    ap.add_argument("--download", default="4G")
    ap.add_argument("--out", default=os.path.join(ROOT, "tests", "bench", "results"))
    ap.add_argument("--dir", default=None, help="scratch directory (default: a temporary one under /var/tmp)")
    args = ap.parse_args()
    for b in ("supernode", "dfget"):
        if not os.access(os.path.join(BIN, b), os.X_OK):
            print(f"memory.py: build/bin/{b} is missing: bash scripts/setup.sh release", file=sys.stderr)
            return 2
    work = tempfile.mkdtemp(prefix="damselfly-mem-", dir=args.dir or "/var/tmp")
    os.chmod(work, 0o755)
    www = os.path.join(work, "www")
    os.makedirs(www)
    nginx, origin_port = start_nginx(work, www)
    result = {"command": " ".join(sys.argv)}
    try:
        result["supernode"] = supernode_with_peers(work, www, origin_port, args.peers, args.pieces)
        print(f"supernode with {args.peers} peers on {args.pieces} pieces: {result['supernode']}", file=sys.stderr)
        result["daemon"] = daemon_download(work, www, origin_port, parse_size(args.download))
        print(f"daemon during a {args.download} download: {result['daemon']}", file=sys.stderr)
    finally:
        nginx.send_signal(signal.SIGTERM)
        nginx.wait(10)
        shutil.rmtree(work, ignore_errors=True)
    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, f"memory-{time.strftime('%Y%m%d-%H%M%S')}.json")
    with open(path, "w") as f:
        json.dump(result, f, indent=1)
    print(f"results: {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
