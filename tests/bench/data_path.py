#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# Benchmark: every route a file takes to a node's disk, side by side in one run, with CPU per GiB.
"""Times, for each size and repetition, on loopback:

  curl          curl -o FILE straight from nginx (the origin)
  sn_fetch      the supernode alone fetching the file from nginx (a preheat
                job; seconds from its log: task new to cached)
  sa_cold       dfget --standalone, the supernode fetching the file from nginx
  sa_warm       dfget --standalone, the supernode holding the file
  warm_beside_cold  sa_warm again while another client's cold download of the
                same file (a new task) runs on the same supernode; the cold
                one's time is reported as cold_beside_warm
  daemon_sn     dfget through daemon B, the supernode alone holding the file
  daemon_warm   dfget through daemon B; the supernode and daemon A hold the file
  daemon_peer_mem  the same with daemon A's copy in memory: on one machine, A's
                disk reads would otherwise share the one disk with B's writes
                (on a cluster A reads its own disk)
  daemon_peer_only  dfget through daemon C, started with --parallel 2: the
                scheduler gives one asker at most two pieces at once from one
                peer and serves the seed's copies only beside them, so C takes
                every piece from daemon A (whose copy is in memory) but an
                endgame duplicate; the share from peers is reported
  daemon_cache  dfget through daemon B, which holds the file itself

and the CPU seconds per GiB delivered of the client, the daemon and the
supernode on each route. Every run uses a fresh task (a new --tag), so cold is
cold and warm is warm without restarting anything. With --rss-gib N a fresh
daemon downloads an N GiB file and its peak RSS (VmHWM) is reported.

With --work-dir DIR everything (origin files, caches, outputs) lives under
DIR; a tmpfs there takes the disk out of the figures and leaves the CPU cost.
With --out-dir DIR the outputs (curl's and dfget's) go to DIR, e.g. a tmpfs,
so that one disk does not absorb both the cache's copy and the output's (on a
real cluster they are different machines).

With --perf-dir DIR daemon B is recorded with perf (call graphs) on its two
routes in the first repetition, and the hottest symbols land in
DIR/perf-ROUTE-SIZE.txt.

Usage: tests/bench/data_path.py [--sizes 256,1024] [--reps 3] [--rss-gib 0] [--out-dir DIR]
                               [--bin DIR] [--work-dir DIR] [--perf-dir DIR]
"""
import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BIN = os.path.join(ROOT, "build", "bin")
TICK = os.sysconf("SC_CLK_TCK")
# Each repetition leaves a dozen copies of the file in the caches; a task
# is used again within seconds, and older ones must go or a 1 GiB run fills
# the disk.
CACHE_TTL = 60


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pid):
    """User plus system CPU seconds a live process has used."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def peak_rss_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


def wait_for(pred, what, seconds=20):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if pred():
            return
        time.sleep(0.05)
    raise RuntimeError(f"{what} did not come up")


def make_blob(path, mib):
    with open(path, "wb") as f:
        for _ in range(mib):
            f.write(os.urandom(1 << 20))


def timed(argv, log):
    """Runs argv to completion: (wall seconds, CPU seconds of the process)."""
    start = time.perf_counter()
    with open(log, "ab") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=out)
        _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{' '.join(argv)} failed; see {log}")
    return wall, usage.ru_utime + usage.ru_stime


def timed_pair(argv_a, argv_b, log):
    """Starts both at once: (wall of a, CPU of a, wall of b)."""
    start = time.perf_counter()
    done = {}

    def wait(name, proc):
        _, status, usage = os.wait4(proc.pid, 0)
        done[name] = (time.perf_counter() - start, usage.ru_utime + usage.ru_stime,
                      os.waitstatus_to_exitcode(status))

    with open(log, "ab") as out:
        procs = {"a": subprocess.Popen(argv_a, stdout=out, stderr=out),
                 "b": subprocess.Popen(argv_b, stdout=out, stderr=out)}
        waiters = [threading.Thread(target=wait, args=item) for item in procs.items()]
        for w in waiters:
            w.start()
        for w in waiters:
            w.join()
    if done["a"][2] != 0 or done["b"][2] != 0:
        raise RuntimeError(f"a client failed; see {log}")
    return done["a"][0], done["a"][1], done["b"][0]


# MiB of memory each settle() touches and frees before a timed run (below).
PRIME_MIB = 0


def prime_memory(mib, directory=None):
    """Writes mib MiB into a file under directory (default: the temp dir) and
    deletes it. On this machine (a VM whose memory its host backs lazily,
    with a DAMON scheme paging idle memory out) a page not touched lately
    cost about 2 ms per MiB on its first write: dd of 512 MiB took 1.11 s,
    then 0.08 s. The pages freed here are the first the timed run takes, so
    a route that fills more memory (a cold download fills the supernode's
    cache and the output) is not charged the host's work."""
    path = os.path.join(directory or tempfile.gettempdir(), f"damselfly-prime.{os.getpid()}")
    zeros = bytes(1 << 20)
    try:
        with open(path, "wb") as f:
            for _ in range(mib):
                f.write(zeros)
    finally:
        os.remove(path)


def settle():
    """Lets the previous run's writeback finish before the next is timed, and
    hands the next run memory the host backs (prime_memory)."""
    os.sync()
    if PRIME_MIB:
        prime_memory(PRIME_MIB)
    time.sleep(1.5)


class bench:
    def __init__(self, work, out_dir):
        self.work = work
        self.out_dir = out_dir or os.path.join(work, "out")
        self.procs = []
        self.logs = os.path.join(work, "logs")
        os.makedirs(self.logs)
        os.makedirs(os.path.join(work, "www"))
        os.makedirs(self.out_dir, exist_ok=True)
        self.token = os.path.join(work, "cluster.token")
        self.admin_token = os.path.join(work, "admin.token")
        for path in (self.token, self.admin_token):
            with open(path, "w") as f:
                f.write(os.urandom(32).hex() + "\n")
            os.chmod(path, 0o600)

    def spawn(self, argv, name):
        log = open(os.path.join(self.logs, name + ".out"), "ab")
        p = subprocess.Popen(argv, stdout=log, stderr=log)
        self.procs.append(p)
        return p

    def start_origin(self):
        port = free_port()
        conf = os.path.join(self.work, "nginx.conf")
        www = os.path.join(self.work, "www")
        with open(conf, "w") as f:
            f.write(f"""worker_processes 1;
error_log {self.work}/nginx-error.log;
pid {self.work}/nginx.pid;
events {{ worker_connections 1024; }}
http {{
  access_log off;
  client_body_temp_path {self.work}; proxy_temp_path {self.work};
  fastcgi_temp_path {self.work}; uwsgi_temp_path {self.work}; scgi_temp_path {self.work};
  sendfile on;
  server {{ listen 127.0.0.1:{port}; root {www}; }}
}}
""")
        self.spawn(["/usr/sbin/nginx", "-c", conf, "-p", self.work, "-g", "daemon off;"], "nginx")
        wait_for(lambda: socket.socket().connect_ex(("127.0.0.1", port)) == 0, "nginx")
        self.origin = f"http://127.0.0.1:{port}"

    def start_supernode(self):
        port_file = os.path.join(self.work, "supernode.port")
        self.supernode = self.spawn(
            [f"{BIN}/supernode", "--listen", "127.0.0.1:0", "--port-file", port_file,
             "--data-dir", os.path.join(self.work, "sn"), "--log-file",
             os.path.join(self.logs, "supernode.log"), "--token-file", self.token,
             "--admin-token-file", self.admin_token, "--cache-ttl", str(CACHE_TTL)], "supernode")
        wait_for(lambda: os.path.exists(port_file) and os.path.getsize(port_file) > 0, "supernode")
        with open(port_file) as f:
            self.sn_addr = "127.0.0.1:" + f.read().strip()

    def start_daemon(self, name, ip, *flags):
        """(process, local socket, piece server address)."""
        sock = os.path.join(self.work, name + ".sock")
        listen = f"{ip}:{free_port()}"
        proc = self.spawn(
            [f"{BIN}/dfget", "daemon", "--listen", listen, "--data-dir",
             os.path.join(self.work, name), "--socket", sock, "--supernode", self.sn_addr,
             "--log-file", os.path.join(self.logs, name + ".log"), "--token-file", self.token,
             "--cache-ttl", str(CACHE_TTL), *flags], name)
        wait_for(lambda: os.path.exists(sock), name)
        return proc, sock, listen

    @staticmethod
    def downloaded_bytes(daemon):
        """The daemon's piece bytes downloaded so far, by source ("peer", "supernode")."""
        with urllib.request.urlopen(f"http://{daemon[2]}/metrics", timeout=10) as r:
            page = r.read().decode()
        got = {}
        for line in page.splitlines():
            m = re.match(r'damselfly_daemon_download_bytes_total\{from="(\w+)"\} (\S+)', line)
            if m:
                got[m.group(1)] = float(m.group(2))
        return got

    def preheat(self, url, tag):
        """The supernode's own fetch of url: (seconds from its log, 0 client CPU)."""
        log = os.path.join(self.logs, "supernode.log")
        with open(log) as f:
            seen = len(f.read().splitlines())
        subprocess.run([f"{BIN}/dfget", "--token-file", self.token, "preheat", url, "--supernode",
                        self.sn_addr, "--admin-token-file", self.admin_token, "--tag", tag],
                       check=True, stdout=subprocess.DEVNULL)
        deadline = time.time() + 120
        while time.time() < deadline:
            with open(log) as f:
                lines = f.read().splitlines()[seen:]
            new = [l.split() for l in lines if " new: " in l]
            cached = [l.split() for l in lines if " cached: " in l]
            if new and cached:
                stamp = lambda w: time.mktime(time.strptime(w[0][:19], "%Y-%m-%dT%H:%M:%S")) + \
                    float(w[0][19:])
                return stamp(cached[0]) - stamp(new[0]), 0.0
            time.sleep(0.02)
        raise RuntimeError(f"the supernode did not cache {url}; see {log}")

    def dfget_argv(self, url, out, *flags):
        return [f"{BIN}/dfget", url, "-O", out, "--token-file", self.token, "-q", *flags]

    def dfget(self, url, out, *flags):
        return timed(self.dfget_argv(url, out, *flags), os.path.join(self.logs, "dfget.out"))

    @staticmethod
    def read_newest_task(tasks_dir):
        """Reads the data file a daemon wrote last into the page cache."""
        files = [os.path.join(tasks_dir, t, "data") for t in os.listdir(tasks_dir)]
        newest = max((f for f in files if os.path.exists(f)), key=lambda f: os.stat(f).st_ctime)
        with open(newest, "rb") as f:
            while f.read(1 << 22):
                pass

    def stop(self):
        for p in self.procs:
            p.terminate()
        for p in self.procs:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()


def build_args(doc, default_mib):
    """The flags of a benchmark comparing builds: --size MiB, --reps N, build dirs."""
    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    ap.add_argument("--size", type=int, default=default_mib, help="MiB")
    ap.add_argument("--reps", type=int, default=6)
    ap.add_argument("bins", nargs="+", help="directories with dfget and supernode")
    args = ap.parse_args()
    global PRIME_MIB
    PRIME_MIB = 3 * args.size  # the supernode's copy, the output and another
    return args


def alternate_builds(bins, mib, reps, prepare, measure):
    """Runs `measure(b, url, out, rep)` for each repetition and each build in
    turn, each build with its own nginx and supernode (and whatever
    `prepare(b)` adds) serving a `mib` MiB file at `url`; alternating keeps
    this machine's drifting memory costs out of a comparison of builds.
    Returns {build dir: [what measure returned, per repetition]}."""
    global BIN
    setups = {}
    try:
        for path in bins:
            BIN = os.path.abspath(path)
            work = tempfile.mkdtemp(prefix="damselfly-builds.")
            os.chmod(work, 0o755)
            b = bench(work, None)
            setups[path] = b
            b.start_origin()
            b.start_supernode()
            prepare(b)
            make_blob(os.path.join(work, "www", "x"), mib)
        results = {path: [] for path in bins}
        for rep in range(reps):
            for path, b in setups.items():
                BIN = os.path.abspath(path)
                results[path].append(measure(b, f"{b.origin}/x", os.path.join(b.out_dir, "x"), rep))
        return results
    finally:
        for b in setups.values():
            b.stop()
            shutil.rmtree(b.work, ignore_errors=True)


def perf_start(pid, data):
    """perf record of one process (call graphs), or None where perf is missing."""
    if not shutil.which("perf"):
        return None
    p = subprocess.Popen(["perf", "record", "-q", "-g", "-p", str(pid), "-o", data],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(0.5)  # attached before the download starts
    return p


def perf_stop(p, data, report):
    """Ends the recording and writes the hottest symbols (self time) to `report`."""
    if p is None:
        return
    p.send_signal(2)
    p.wait()
    with open(report, "w") as f:
        subprocess.run(["perf", "report", "-i", data, "--no-children", "--sort", "symbol",
                        "--stdio", "-g", "none", "--percent-limit", "0.5"],
                       stdout=f, stderr=subprocess.DEVNULL)
    os.remove(data)


def run_size(b, mib, reps, daemon_a, daemon_b, daemon_c, perf_dir=None):
    global PRIME_MIB
    PRIME_MIB = 3 * mib  # (prime_memory) the supernode's copy, the output and another
    name = f"blob{mib}"
    make_blob(os.path.join(b.work, "www", name), mib)
    url = f"{b.origin}/{name}"
    out = os.path.join(b.out_dir, name)
    subprocess.run(["curl", "-fsS", "-o", "/dev/null", url], check=True)  # page cache, warm nginx
    gib = mib / 1024
    rows = []
    for rep in range(reps):
        row = {"size_mib": mib, "rep": rep + 1}

        def route(key, fn, daemon=None, remove_output=True):
            settle()
            sn0 = cpu_seconds(b.supernode.pid)
            d0 = cpu_seconds(daemon.pid) if daemon else 0.0
            recording = None
            if perf_dir and daemon and rep == 0:
                data = os.path.join(b.work, "perf.data")
                recording = perf_start(daemon.pid, data)
            wall, client_cpu = fn()
            if recording:
                perf_stop(recording, data, os.path.join(perf_dir, f"perf-{key}-{mib}.txt"))
            row[key] = {
                "seconds": round(wall, 3),
                "mib_s": round(mib / wall, 1),
                "client_cpu_s_per_gib": round(client_cpu / gib, 3),
                "supernode_cpu_s_per_gib": round((cpu_seconds(b.supernode.pid) - sn0) / gib, 3),
                "daemon_cpu_s_per_gib":
                    round((cpu_seconds(daemon.pid) - d0) / gib, 3) if daemon else None,
            }
            if remove_output:
                os.remove(out)

        route("curl", lambda: timed(["curl", "-fsS", "-o", out, url],
                                    os.path.join(b.logs, "curl.out")))
        route("sn_fetch", lambda: b.preheat(url, f"preheat-{mib}-{rep}"), remove_output=False)
        cold = f"cold-{mib}-{rep}"
        route("sa_cold",
              lambda: b.dfget(url, out, "--standalone", "--supernode", b.sn_addr, "--tag", cold))
        route("sa_warm",
              lambda: b.dfget(url, out, "--standalone", "--supernode", b.sn_addr, "--tag", cold))
        # The supernode serving one client while it fetches for another: its
        # I/O thread is shared by both.
        beside = {}

        def warm_beside_cold():
            sn = ["--standalone", "--supernode", b.sn_addr]
            warm_s, warm_cpu, beside["cold"] = timed_pair(
                b.dfget_argv(url, out, *sn, "--tag", cold),
                b.dfget_argv(url, out + ".cold", *sn, "--tag", f"beside-{mib}-{rep}"),
                os.path.join(b.logs, "dfget.out"))
            os.remove(out + ".cold")
            return warm_s, warm_cpu

        route("warm_beside_cold", warm_beside_cold)
        row["cold_beside_warm"] = {"seconds": round(beside["cold"], 3),
                                   "mib_s": round(mib / beside["cold"], 1)}
        # The same sources as sa_warm (the supernode alone: standalone clients
        # leave when done), through daemon B: the daemon route's own cost.
        route("daemon_sn",
              lambda: b.dfget(url, out, "--daemon-socket", daemon_b[1], "--tag", cold), daemon_b[0])
        warm = f"warm-{mib}-{rep}"
        b.dfget(url, out + ".a", "--daemon-socket", daemon_a[1], "--tag", warm)  # A holds it
        os.remove(out + ".a")
        route("daemon_warm",
              lambda: b.dfget(url, out, "--daemon-socket", daemon_b[1], "--tag", warm), daemon_b[0])
        peer = f"peer-{mib}-{rep}"
        b.dfget(url, out + ".a", "--daemon-socket", daemon_a[1], "--tag", peer)
        os.remove(out + ".a")
        b.read_newest_task(os.path.join(b.work, "daemon-a", "tasks"))  # A's copy in memory
        route("daemon_peer_mem",
              lambda: b.dfget(url, out, "--daemon-socket", daemon_b[1], "--tag", peer), daemon_b[0])
        only = f"only-{mib}-{rep}"
        b.dfget(url, out + ".a", "--daemon-socket", daemon_a[1], "--tag", only)
        os.remove(out + ".a")
        b.read_newest_task(os.path.join(b.work, "daemon-a", "tasks"))
        before = b.downloaded_bytes(daemon_c)
        route("daemon_peer_only",
              lambda: b.dfget(url, out, "--daemon-socket", daemon_c[1], "--tag", only), daemon_c[0])
        after = b.downloaded_bytes(daemon_c)
        got = {k: after.get(k, 0) - before.get(k, 0) for k in ("peer", "supernode")}
        row["daemon_peer_only"]["from_peer_share"] = round(
            got["peer"] / max(1.0, got["peer"] + got["supernode"]), 3)
        route("daemon_cache",
              lambda: b.dfget(url, out, "--daemon-socket", daemon_b[1], "--tag", warm), daemon_b[0])
        print(json.dumps(row), flush=True)
        rows.append(row)
    os.remove(os.path.join(b.work, "www", name))
    return rows


def median(values):
    values = sorted(values)
    return values[len(values) // 2]


def summarize(rows):
    routes = ["curl", "sn_fetch", "sa_cold", "sa_warm", "warm_beside_cold", "cold_beside_warm", "daemon_sn",
              "daemon_warm", "daemon_peer_mem", "daemon_peer_only", "daemon_cache"]
    summary = {}
    for mib in sorted({r["size_mib"] for r in rows}):
        mine = [r for r in rows if r["size_mib"] == mib]
        s = {}
        for route in routes:
            s[route] = {k: median([r[route][k] for r in mine])
                        for k in mine[0][route] if mine[0][route][k] is not None}
        for route in ("warm_beside_cold", "daemon_sn", "daemon_warm", "daemon_peer_mem",
                      "daemon_peer_only"):
            s[f"{route}_over_sa_warm"] = round(s[route]["seconds"] / s["sa_warm"]["seconds"], 2)
        s["sa_cold_over_curl_throughput"] = round(
            s["curl"]["seconds"] / s["sa_cold"]["seconds"], 2)
        summary[str(mib)] = s
    return summary


def main():
    global BIN
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="256,1024", help="MiB, comma-separated")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--rss-gib", type=int, default=0,
                    help="also download a file of this many GiB through a fresh daemon")
    ap.add_argument("--bin", default="", help="where dfget and supernode are (default: build/bin)")
    ap.add_argument("--out-dir", default="",
                    help="where outputs go (default: the work dir, on the same disk as the caches)")
    ap.add_argument("--perf-dir", default="",
                    help="record daemon B with perf in the first repetition; reports go here")
    ap.add_argument("--work-dir", default=None,
                    help="where origin files and caches go (default: the system's temp dir)")
    args = ap.parse_args()
    if args.bin:
        BIN = os.path.abspath(args.bin)
    if not (os.access(f"{BIN}/dfget", os.X_OK) and os.access(f"{BIN}/supernode", os.X_OK)):
        subprocess.run(["bash", os.path.join(ROOT, "scripts", "setup.sh"), "release"], check=True)
    work = tempfile.mkdtemp(prefix="damselfly-datapath.", dir=args.work_dir)
    os.chmod(work, 0o755)
    out_dir = ""
    if args.out_dir:
        out_dir = tempfile.mkdtemp(prefix="damselfly-out.", dir=args.out_dir)
        os.chmod(out_dir, 0o755)
    b = bench(work, out_dir)
    try:
        b.start_origin()
        b.start_supernode()
        daemon_a = b.start_daemon("daemon-a", "127.0.0.2")
        daemon_b = b.start_daemon("daemon-b", "127.0.0.3")
        daemon_c = b.start_daemon("daemon-c", "127.0.0.5", "--parallel", "2")
        rows = []
        for mib in [int(x) for x in args.sizes.split(",")]:
            rows += run_size(b, mib, args.reps, daemon_a, daemon_b, daemon_c,
                             args.perf_dir or None)
        result = {"bin": BIN, "work_dir": args.work_dir or tempfile.gettempdir(), "out_dir": args.out_dir or "work dir (same disk as the caches)",
                  "rows": rows, "median": summarize(rows)}
        if args.rss_gib > 0:
            daemon_d = b.start_daemon("daemon-d", "127.0.0.4")
            name = f"rss{args.rss_gib}"
            make_blob(os.path.join(work, "www", name), args.rss_gib * 1024)
            out = os.path.join(b.out_dir, name)
            wall, _ = b.dfget(f"{b.origin}/{name}", out, "--daemon-socket", daemon_d[1])
            result["rss"] = {"gib": args.rss_gib, "seconds": round(wall, 3),
                             "daemon_peak_rss_mib": round(peak_rss_mib(daemon_d[0].pid), 1)}
            os.remove(out)
        result["daemon_b_peak_rss_mib"] = round(peak_rss_mib(daemon_b[0].pid), 1)
        print(json.dumps(result["median"], indent=1))
        if "rss" in result:
            print(json.dumps(result["rss"]))
        stamp = time.strftime("%Y%m%d-%H%M%S")
        path = os.path.join(ROOT, "tests", "bench", "results", f"data-path-{stamp}.json")
        with open(path, "w") as f:
            json.dump(result, f, indent=1)
        print(f"results: {os.path.relpath(path, ROOT)}")
    finally:
        b.stop()
        shutil.rmtree(work, ignore_errors=True)
        if out_dir:
            shutil.rmtree(out_dir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
