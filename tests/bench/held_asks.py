#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# Benchmark: a supernode's CPU while thousands of peers hold asks for pieces to inject.
"""Starts the project's test origin (test_origin, each request's body paced
with `slow=`) and, for each build directory given, a supernode with
parent sets from the first peer. K peers register for the file; each then
asks, over a keep-alive connection of its own, for pieces to inject (the
parent-set sync a dfget daemon sends, held as a long poll while the origin
still sends) and reports each piece it was given, with its digest, in its
next ask, until the supernode holds the whole file. No piece bytes move:
what is measured is the supernode's handling of held asks. Prints per
build the supernode's CPU seconds (from /proc) for the registrations and
for the asks, those of its main thread (the one that schedules) apart (the origin's fetch starts with the first registration), the
syncs and CPU per sync, and, where the build counts them, the held asks'
wakeups.

With --want 0 nothing is held: each peer syncs again as soon as it has
its answer (a 204), which measures what a sync costs by itself.

Usage: tests/bench/held_asks.py [--peers 2000] [--size 64] [--rate 16] [--want 2] BUILD_BIN_DIR...
(--size in MiB; --rate in MiB/s, the origin's over the supernode's 4
connections; pieces of 256 KiB. test_origin comes from the first build.)
"""
import argparse
import asyncio
import base64
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

PIECE = 256 * 1024


def wait_for_port(port_file):
    for _ in range(200):
        if os.path.exists(port_file) and os.path.getsize(port_file) > 0:
            return
        time.sleep(0.05)
    raise RuntimeError(f"no port in {port_file}")


def read_port(port_file):
    with open(port_file) as f:
        return int(f.read().strip().rsplit(":", 1)[-1])


def cpu_seconds(pid, thread=None):
    """The process's CPU seconds, or with `thread` that thread's (the
    supernode's main thread, `pid` itself, is the one that schedules)."""
    path = f"/proc/{pid}/task/{thread}/stat" if thread else f"/proc/{pid}/stat"
    with open(path) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def exchange(reader, writer, method, path, body, headers=""):
    data = body.encode()
    writer.write(f"{method} {path} HTTP/1.1\r\nHost: sn\r\nContent-Type: application/json\r\n"
                 f"Content-Length: {len(data)}\r\n{headers}\r\n".encode() + data)
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    status = int(lines[0].split()[1])
    length = 0
    for line in lines[1:]:
        if line.lower().startswith("content-length:"):
            length = int(line.split(":", 1)[1])
    payload = await reader.readexactly(length) if length else b""
    return status, payload


async def register(i, port, url):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    reg = {"url": url, "peer_id": f"p{i}", "upload_addr": f"127.0.0.{2 + i % 200}:{10000 + i}"}
    status, body = await exchange(reader, writer, "POST", "/api/v1/tasks", json.dumps(reg))
    if status != 200:
        raise RuntimeError(f"peer {i} registration: {status} {body[:200]!r}")
    j = json.loads(body)
    return reader, writer, j["task_id"], j["peer_key"], j.get("version", ""), j.get("state", "")


async def peer(i, conn, digests, stats, deadline, want):
    reader, writer, task, key, version, state = conn
    # What the daemon keeps from answers and says back, so that answers
    # leave out what it already has (the task, its ticket): most are 204s.
    ticket_tail, report_every = "", 0
    try:
        results = []
        while time.monotonic() < deadline and not stats["done"]:
            ask = {"want": want, "wait_ms": 2000, "compact": True, "report_digests": True,
                   "parents": True, "results": results, "version": version,
                   "known_state": state, "ticket_tail": ticket_tail, "report_every": report_every}
            status, body = await exchange(reader, writer, "POST",
                                          f"/api/v1/tasks/{task}/peers/p{i}/sync", json.dumps(ask),
                                          f"X-Damselfly-Peer-Key: {key}\r\n")
            stats["syncs"] += 1
            results = []
            if status not in (200, 204):
                raise RuntimeError(f"peer {i} sync: {status} {body[:200]!r}")
            if status == 200:
                a = json.loads(body)
                if a.get("ticket"):
                    ticket_tail = a["ticket"][-16:]
                report_every = a.get("report_every", report_every)
                state = a.get("task", {}).get("state", state)
                for p in a.get("pieces", []):
                    n = p[0]
                    results.append({"piece": n, "status": "ok", "source": "supernode",
                                    "bytes": len(digests[n][1]), "duration_ms": 1,
                                    "digest": digests[n][0]})
                    stats["injected"] += 1
                if state == "done":
                    stats["done"] = True
    finally:
        writer.close()


async def swarm(peers, port, url, digests, stats, seconds, pid, want):
    # The registrations first, the origin's fetch starting with the first:
    # the supernode's CPU of each phase apart.
    conns = await asyncio.gather(*(register(i, port, url) for i in range(peers)))
    stats["registered_cpu_s"] = cpu_seconds(pid)
    stats["registered_main_cpu_s"] = cpu_seconds(pid, pid)
    stats["registered_at"] = time.monotonic()
    deadline = time.monotonic() + seconds
    await asyncio.gather(*(peer(i, conns[i], digests, stats, deadline, want) for i in range(peers)))


def metric(port, name):
    out = subprocess.run(["curl", "-s", f"http://127.0.0.1:{port}/metrics"],
                         capture_output=True, text=True).stdout
    for line in out.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return None


def run_build(bin_dir, args, origin_url, digests):
    work = tempfile.mkdtemp(prefix="held-asks-")
    port_file = os.path.join(work, "port")
    log = open(os.path.join(work, "supernode.log"), "w")
    sn = subprocess.Popen([os.path.join(bin_dir, "supernode"), "--listen", "127.0.0.1:0",
                           "--port-file", port_file, "--data-dir", os.path.join(work, "cache"),
                           "--piece-size", "256K", "--parents-from", "1",
                           "--max-connections-per-address", "1000000", "--log-level", "warn"]
                          + args.supernode_arg,
                          stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_for_port(port_file)
        port = read_port(port_file)
        stats = {"syncs": 0, "injected": 0, "done": False}
        cpu0, main0, t0 = cpu_seconds(sn.pid), cpu_seconds(sn.pid, sn.pid), time.monotonic()
        asyncio.run(swarm(args.peers, port, origin_url, digests, stats, args.size / args.rate * 3 + 30,
                          sn.pid, args.want))
        cpu, main_cpu, end = cpu_seconds(sn.pid), cpu_seconds(sn.pid, sn.pid), time.monotonic()
        wakeups = metric(port, "damselfly_supernode_held_sync_wakeups_total")
        reg_cpu = stats["registered_cpu_s"] - cpu0
        ask_cpu = cpu - stats["registered_cpu_s"]
        ask_main_cpu = main_cpu - stats["registered_main_cpu_s"]
        return {"build": bin_dir, "peers": args.peers,
                "registration_cpu_s": round(reg_cpu, 2),
                "registration_main_thread_cpu_s": round(stats["registered_main_cpu_s"] - main0, 2),
                "registration_wall_s": round(stats["registered_at"] - t0, 2),
                "asks_cpu_s": round(ask_cpu, 2), "asks_wall_s": round(end - stats["registered_at"], 2),
                "asks_main_thread_cpu_s": round(ask_main_cpu, 2),
                "syncs": stats["syncs"], "cpu_us_per_sync": round(ask_cpu / max(1, stats["syncs"]) * 1e6),
                "main_thread_cpu_us_per_sync": round(ask_main_cpu / max(1, stats["syncs"]) * 1e6),
                "injected": stats["injected"], "done": stats["done"], "held_wakeups": wakeups}
    finally:
        sn.terminate()
        sn.wait()
        log.close()
        shutil.rmtree(work, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--peers", type=int, default=2000)
    ap.add_argument("--size", type=int, default=64, help="MiB")
    ap.add_argument("--rate", type=float, default=16, help="the origin's MiB/s")
    ap.add_argument("--want", type=int, default=2,
                    help="pieces each ask wants; 0: nothing is held, every sync is answered at once")
    ap.add_argument("--supernode-arg", action="append", default=[],
                    help="passed on to each supernode, like --supernode-arg=--connection-threads=0")
    ap.add_argument("builds", nargs="+")
    args = ap.parse_args()
    blob = os.urandom(args.size << 20)
    digests = [(base64.b64encode(hashlib.sha256(blob[o:o + PIECE]).digest()).decode(), blob[o:o + PIECE])
               for o in range(0, len(blob), PIECE)]
    www = tempfile.mkdtemp(prefix="held-asks-www-")
    with open(os.path.join(www, "file.bin"), "wb") as f:
        f.write(blob)
    port_file = os.path.join(www, "port")
    origin = subprocess.Popen([os.path.join(args.builds[0], "test_origin"), "--root", www,
                               "--port-file", port_file], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port_file)
        # Each of the supernode's 4 origin connections paced at a quarter of the rate.
        per_request = int(args.rate * (1 << 20) / 4)
        url = f"http://127.0.0.1:{read_port(port_file)}/file.bin?slow={per_request}"
        for b in args.builds:
            print(json.dumps(run_build(b, args, url, digests)), flush=True)
    finally:
        origin.terminate()
        origin.wait()
        shutil.rmtree(www, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
