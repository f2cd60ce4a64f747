#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
# Cluster benchmark: N nodes get one file through Damselfly, BitTorrent and plain HTTP on the
# same emulated hosts, caps and file, timed against the Kumar-Ross bound.
"""Emulated cluster: every host (origin, supernode, node1..nodeN) is a network
namespace with one veth on a shared bridge, addressed from 198.18.0.0/15 (the
benchmarking range); its upload is capped by tc tbf on its side of the veth
(downloads are not capped). Without namespaces (--mode loopback) every host is
a 127.x address and the programs' own caps stand in for tc; the results say
which mode ran.

For each N the three systems run one after the other on fresh state:
  damselfly   nginx on the origin host, the supernode on its host, a dfget
              daemon per node; every node runs dfget at the same moment.
  bittorrent  libtorrent (bt_peer.py): the origin host seeds, every node
              leeches with direct connections to all others (no tracker, TCP).
  http        every node runs curl against nginx on the origin host.
A node's completion time runs from the common start to its client's exit
(BitTorrent: to the leecher reporting the file complete and verified).

Needs root, iproute2 (ip, tc), nginx, curl, python3-libtorrent, gnuplot and
the built binaries (build/bin). Everything it creates is removed at the end,
also on errors and Ctrl-C; every wait is bounded."""
import argparse
import json
import math
import os
import re
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
BIN = os.environ.get("DAMSELFLY_BIN", os.path.join(ROOT, "build", "bin"))
PREFIX = "dfb"  # names of every namespace, link and directory this script makes

sys.path.insert(0, os.path.dirname(HERE))
from data_path import prime_memory  # noqa: E402  (memory the VM's host backs)


def parse_size(text):
    units = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    t = text.strip().upper().removesuffix("IB").removesuffix("B")
    unit = t[-1] if t and t[-1] in units else ""
    return int(float(t[: len(t) - len(unit)]) * units[unit])


def supernode_piece_size(size):
    """The supernode's default piece size for a file (common/src/piece_math.cpp:
    the power of two that gives about 256 pieces, within 64 KiB..16 MiB)."""
    per_piece = max(size // 256, 1)
    return min(max(1 << (per_piece - 1).bit_length(), 64 << 10), 16 << 20)


def sh(*args, check=True, quiet=False):
    r = subprocess.run(args, capture_output=True, text=True, timeout=60)
    if check and r.returncode != 0:
        raise RuntimeError(f"{' '.join(args)}: {r.stderr.strip() or r.stdout.strip()}")
    return r.stdout


class Host:
    def __init__(self, name, ip, netns):
        self.name, self.ip, self.ns = name, ip, netns

    def cmd(self, argv):
        return ["ip", "netns", "exec", self.ns, *argv] if self.ns else argv


class Cluster:
    """The hosts and their links; create() builds them, destroy() removes them."""

    def __init__(self, mode, nodes, rate_bps, latency_ms, mtu=9000, supernodes=1, queue="fifo"):
        self.mode, self.rate_bps, self.latency_ms, self.mtu = mode, rate_bps, latency_ms, mtu
        self.queue = queue
        ns = mode == "netns"
        # The first supernode keeps the name "supernode" (logs and JSON of one-supernode runs).
        sn_names = ["supernode"] + [f"supernode{i}" for i in range(2, supernodes + 1)]
        if ns:
            self.origin = Host("origin", "198.18.0.1", f"{PREFIX}-origin")
            self.supernodes = [Host(n, f"198.18.0.{i + 2}", f"{PREFIX}-{n}") for i, n in enumerate(sn_names)]
            self.nodes = [Host(f"node{i}", f"198.18.1.{i}", f"{PREFIX}-node{i}") for i in range(1, nodes + 1)]
        else:
            self.origin = Host("origin", "127.0.2.1", None)
            self.supernodes = [Host(n, f"127.0.2.{i + 2}", None) for i, n in enumerate(sn_names)]
            self.nodes = [Host(f"node{i}", f"127.0.3.{i}", None) for i in range(1, nodes + 1)]
        self.supernode = self.supernodes[0]
        self.latency_applied = False

    @property
    def hosts(self):
        return [self.origin, *self.supernodes, *self.nodes]

    def create(self):
        if self.mode != "netns":
            return
        self.destroy()  # leftovers of an interrupted run
        # The ARP table is one for all namespaces: every host knowing every
        # other overflows the default 1024 entries at about 30 hosts, and
        # connections then fail to start. Raised for the run, restored after.
        self.saved_sysctls = {}
        for key, value in (("gc_thresh1", 4096), ("gc_thresh2", 8192), ("gc_thresh3", 16384)):
            path = f"/proc/sys/net/ipv4/neigh/default/{key}"
            with open(path) as f:
                self.saved_sysctls[path] = f.read().strip()
            if int(self.saved_sysctls[path]) < value:
                with open(path, "w") as f:
                    f.write(str(value))
        sh("ip", "link", "add", f"{PREFIX}-br", "type", "bridge")
        sh("ip", "link", "set", f"{PREFIX}-br", "mtu", str(self.mtu), "up")
        rate_bit = self.rate_bps * 8
        burst = max(64 * 1024, self.rate_bps // 100)  # 10 ms of tokens, at least a GSO packet
        for i, h in enumerate(self.hosts):
            veth = f"{PREFIX}-v{i}"
            sh("ip", "netns", "add", h.ns)
            sh("ip", "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", h.ns)
            sh("ip", "link", "set", veth, "mtu", str(self.mtu), "master", f"{PREFIX}-br", "up")
            sh("ip", "netns", "exec", h.ns, "ip", "link", "set", "eth0", "mtu", str(self.mtu))
            sh("ip", "netns", "exec", h.ns, "ip", "link", "set", "lo", "up")
            sh("ip", "netns", "exec", h.ns, "ip", "addr", "add", f"{h.ip}/15", "dev", "eth0")
            sh("ip", "netns", "exec", h.ns, "ip", "link", "set", "eth0", "up")
            qdisc = ["tbf", "rate", f"{rate_bit}bit", "burst", str(burst), "latency", "200ms"]
            if self.latency_ms > 0:
                r = subprocess.run(["ip", "netns", "exec", h.ns, "tc", "qdisc", "add", "dev", "eth0", "root",
                                    "netem", "delay", f"{self.latency_ms}ms", "rate", f"{rate_bit}bit"],
                                   capture_output=True, text=True, timeout=30)
                if r.returncode == 0:
                    self.latency_applied = True
                    continue
                print(f"netem unavailable ({r.stderr.strip()}); running without added latency", file=sys.stderr)
                self.latency_ms = 0
            if self.queue == "prio":
                # The rate cap with this machine's default discipline behind
                # it (pfifo_fast: three bands by the packets' priority) instead
                # of tbf's own single queue.
                sh("ip", "netns", "exec", h.ns, "tc", "qdisc", "add", "dev", "eth0", "root", "handle", "1:",
                   *qdisc)
                sh("ip", "netns", "exec", h.ns, "tc", "qdisc", "add", "dev", "eth0", "parent", "1:1",
                   "handle", "10:", "pfifo_fast")
            else:
                sh("ip", "netns", "exec", h.ns, "tc", "qdisc", "add", "dev", "eth0", "root", *qdisc)

    def destroy(self):
        if self.mode != "netns":
            return
        for path, value in getattr(self, "saved_sysctls", {}).items():
            with open(path, "w") as f:
                f.write(value)
        self.saved_sysctls = {}
        for ns in sh("ip", "netns", "list", check=False).split("\n"):
            name = ns.split(" ")[0]
            if name.startswith(f"{PREFIX}-"):
                sh("ip", "netns", "del", name, check=False)
        sh("ip", "link", "del", f"{PREFIX}-br", check=False)
        # A deleted namespace's links go away asynchronously: remove our side
        # ourselves and wait (bounded) until none is left.
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            left = [line.split(":")[1].strip().split("@")[0]
                    for line in sh("ip", "-o", "link", "show", check=False).splitlines()
                    if f" {PREFIX}-" in line]
            if not left:
                break
            for link in left:
                sh("ip", "link", "del", link, check=False)
            time.sleep(0.2)

    def drops(self, hosts):
        """Packets the hosts' upload queues (tbf) dropped so far."""
        total = 0
        for host in hosts:
            if not host.ns:
                continue
            out = sh("ip", "netns", "exec", host.ns, "tc", "-s", "qdisc", "show", "dev", "eth0", check=False)
            # The root's count (tbf's includes what a discipline behind it dropped).
            found = re.findall(r"dropped (\d+)", out)
            total += int(found[0]) if found else 0
        return total

    def tx_bytes(self, host, what="bytes"):
        """Bytes (or packets) the host's interface sent (payload plus TCP/IP headers)."""
        if not host.ns:
            return 0
        out = sh("ip", "netns", "exec", host.ns, "cat", f"/sys/class/net/eth0/statistics/tx_{what}", check=False)
        return int(out.strip() or 0)


class Procs:
    """Children with logs; all are killed on stop_all(), whatever happened."""

    def __init__(self, logdir):
        self.logdir, self.list = logdir, []

    def start(self, host, argv, name, stdout_pipe=False):
        log = open(os.path.join(self.logdir, f"{name}.log"), "w")
        p = subprocess.Popen(host.cmd(argv), stdout=subprocess.PIPE if stdout_pipe else log, stderr=log,
                             text=True, start_new_session=True)
        p.name = name
        self.list.append(p)
        return p

    def stop(self, p, grace=5.0):
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(grace)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(5)

    def stop_all(self):
        for p in reversed(self.list):
            self.stop(p)
        self.list = []


class CpuMeter:
    """Samples /proc/stat; busy = 1 - idle share over all CPUs."""

    def __init__(self, period=0.25):
        self.period, self.samples, self.stop_flag = period, [], False

    @staticmethod
    def read():
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
        return v[3] + v[4], sum(v), v[0] + v[1]  # idle + iowait, total, user + nice

    def run(self):
        last = self.read()
        self.first = last
        while not self.stop_flag:
            time.sleep(self.period)
            cur = self.read()
            d_total = cur[1] - last[1]
            if d_total > 0:
                self.samples.append(1 - (cur[0] - last[0]) / d_total)
            last = cur
        self.last = last

    def __enter__(self):
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop_flag = True
        self.thread.join()

    def summary(self):
        idle = self.last[0] - self.first[0]
        total = max(1, self.last[1] - self.first[1])
        saturated = sum(1 for s in self.samples if s >= 0.95) / max(1, len(self.samples))
        user = self.last[2] - self.first[2]
        return {"mean_busy": round(1 - idle / total, 3), "user_share": round(user / total, 3),
                "saturated_share": round(saturated, 3)}


class SupernodeTimeline:
    """Every 0.2 s: seconds since start, bytes from the origin, bytes uploaded (for --keep analysis)."""

    def __init__(self, cluster, path):
        self.cluster, self.path, self.stop_flag = cluster, path, False

    def run(self):
        t0 = time.monotonic()
        url = f"http://{self.cluster.supernode.ip}:8002/metrics"
        with open(self.path, "w") as f:
            while not self.stop_flag:
                r = subprocess.run(self.cluster.supernode.cmd(["curl", "-fsS", "-m", "1", url]),
                                   capture_output=True, text=True)
                vals = {}
                for line in r.stdout.splitlines():
                    for key in ("damselfly_supernode_source_bytes_total", "damselfly_supernode_upload_bytes_total"):
                        if line.startswith(key + " "):
                            vals[key] = int(float(line.split()[1]))
                f.write(f"{time.monotonic() - t0:.2f} {vals.get('damselfly_supernode_source_bytes_total', 0)} "
                        f"{vals.get('damselfly_supernode_upload_bytes_total', 0)}\n")
                time.sleep(0.2)

    def __enter__(self):
        # Only with --keep: polling costs CPU the measured run should have.
        self.thread = threading.Thread(target=self.run, daemon=True) if self.path else None
        if self.thread:
            self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop_flag = True
        if self.thread:
            self.thread.join()


def wait_for(pred, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(0.05)
    raise RuntimeError(f"timed out waiting for {what}")


def start_nginx(cluster, procs, work, www, rate_bps):
    conf = os.path.join(work, "nginx.conf")
    # In loopback mode nginx caps each connection, the nearest it has to a host cap.
    limit = f"limit_rate {rate_bps};" if cluster.mode == "loopback" else ""
    with open(conf, "w") as f:
        f.write(f"""worker_processes 1;
error_log {work}/nginx-error.log;
pid {work}/nginx.pid;
events {{ worker_connections 4096; }}
http {{
  log_format bytes '$uri $body_bytes_sent';
  access_log {work}/nginx-access.log bytes;
  client_body_temp_path {work}; proxy_temp_path {work}; fastcgi_temp_path {work};
  uwsgi_temp_path {work}; scgi_temp_path {work};
  sendfile on; keepalive_requests 100000;
  # 40 clients sharing one capped link can each wait long for their turn;
  # nginx's default 60 s send timeout would cut them off.
  send_timeout 3600s;
  server {{ listen {cluster.origin.ip}:80; root {www}; {limit} }}
}}
""")
    procs.start(cluster.origin, ["/usr/sbin/nginx", "-c", conf, "-p", work, "-g", "daemon off;"], "nginx")
    wait_for(lambda: subprocess.run(cluster.origin.cmd(["curl", "-fsS", "-o", "/dev/null", f"http://{cluster.origin.ip}/"]),
                                    capture_output=True).returncode in (0, 22), 10, "nginx")


def nginx_body_bytes(work, name):
    total = 0
    try:
        with open(os.path.join(work, "nginx-access.log")) as f:
            for line in f:
                uri, _, n = line.strip().rpartition(" ")
                if uri == "/" + name:
                    total += int(n)
    except FileNotFoundError:
        pass
    return total


def timed_clients(procs, starts, timeout, during=None):
    """Starts every client at once; returns each one's completion time (None: failed or timed out).
    during(t0), if given, runs in a thread alongside (the fleet run's kill)."""
    times = [None] * len(starts)
    t0 = time.monotonic()
    ps = [start() for start in starts]
    if during:
        threading.Thread(target=during, args=(t0,), daemon=True).start()

    def watch(i, p):
        try:
            code = p.wait(timeout)
        except subprocess.TimeoutExpired:
            return
        if code == 0:
            times[i] = time.monotonic() - t0
        else:
            print(f"{p.name} exited {code}", file=sys.stderr)

    threads = [threading.Thread(target=watch, args=(i, p), daemon=True) for i, p in enumerate(ps)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout + 5)
    for p in ps:
        procs.stop(p, 1)
    return times


def make_certificates(state, hosts):
    """A cluster CA and one certificate per host (its IP as the name), as an
    operator would issue them; returns (ca, {host name: (cert, key)})."""
    pki = os.path.join(state, "pki")
    os.makedirs(pki, exist_ok=True)
    ca, ca_key = os.path.join(pki, "ca.pem"), os.path.join(pki, "ca.key")
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    sh("openssl", "req", "-x509", *ec, "-days", "1", "-subj", "/CN=bench cluster CA", "-keyout", ca_key,
       "-out", ca, "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign",
       quiet=True)
    issued = {}
    for h in hosts:
        cert, key, csr, ext = (os.path.join(pki, h.name + s) for s in (".pem", ".key", ".csr", ".ext"))
        with open(ext, "w") as f:
            f.write(f"subjectAltName=IP:{h.ip}\nextendedKeyUsage=serverAuth,clientAuth\n")
        sh("openssl", "req", *ec, "-subj", "/CN=" + h.name, "-keyout", key, "-out", csr, quiet=True)
        sh("openssl", "x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key, "-CAcreateserial", "-days", "1",
           "-extfile", ext, "-out", cert, quiet=True)
        issued[h.name] = (cert, key)
    return ca, issued


def run_damselfly(cluster, n, args, work, url, name, rate_bps):
    procs = Procs(os.path.join(work, "logs"))
    state = os.path.join(work, "state-damselfly")
    try:
        loop_caps = cluster.mode == "loopback"
        # The supernode listens beyond loopback here: it demands a cluster token.
        os.makedirs(state, exist_ok=True)
        token_file = os.path.join(state, "cluster.token")
        with open(os.open(token_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
            f.write(secrets.token_hex(32) + "\n")
        fleet = ",".join(f"{h.ip}:8002" for h in cluster.supernodes)
        fleet_args = []
        if len(cluster.supernodes) > 1:
            # One identity key for the fleet, so replicas are signed and tickets hold on every supernode.
            key_file = os.path.join(state, "fleet.key")
            with open(os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
                f.write(secrets.token_hex(32) + "\n")
            fleet_args = ["--fleet", fleet, "--identity-key-file", key_file]
        scheme, curl_trust, tls_of = "http", [], {}
        if args.tls:
            # Every cluster link TLS: supernode and daemons serve it, daemons verify it.
            ca, issued = make_certificates(state, [*cluster.supernodes, *cluster.nodes[:n]])
            scheme, curl_trust = "https", ["--cacert", ca]
            tls_of = {h.name: ["--tls-cert", issued[h.name][0], "--tls-key", issued[h.name][1],
                               "--cluster-ca", ca] for h in cluster.nodes[:n]}
        sn_procs = {}
        for h in cluster.supernodes:
            sn_args = [os.path.join(BIN, "supernode"), "--listen", f"{h.ip}:8002", "--token-file", token_file,
                       "--data-dir", os.path.join(state, h.name), "--log-level", args.log_level,
                       *(["--piece-size", args.piece_size] if args.piece_size else []),
                       *fleet_args, *args.supernode_arg]
            if args.tls:
                sn_args += ["--tls-cert", issued[h.name][0], "--tls-key", issued[h.name][1]]
            if loop_caps:
                sn_args += ["--upload-rate", str(rate_bps), "--origin-concurrency", "1"]
            sn_procs[h.name] = procs.start(h, sn_args, h.name)
        for h in cluster.supernodes:
            wait_for(lambda h=h: subprocess.run(h.cmd(["curl", "-fsS", "-o", "/dev/null", *curl_trust,
                                                       f"{scheme}://{h.ip}:8002/healthz"]),
                                                capture_output=True).returncode == 0, 20, h.name)
        socks = []
        for h in cluster.nodes[:n]:
            sock = os.path.join(state, h.name + ".sock")
            d_args = [os.path.join(BIN, "dfget"), "daemon", "--listen", f"{h.ip}:65002",
                      "--data-dir", os.path.join(state, h.name), "--socket", sock,
                      "--supernode", f"https://{cluster.supernode.ip}:8002" if args.tls else fleet,
                      "--token-file", token_file, *tls_of.get(h.name, []),
                      "--log-level", args.log_level, *args.daemon_arg]
            if loop_caps:
                d_args += ["--upload-rate", str(rate_bps)]
            procs.start(h, d_args, f"daemon-{h.name}")
            socks.append(sock)
        for s in socks:
            wait_for(lambda s=s: os.path.exists(s), 20, "daemon " + s)
        before = nginx_body_bytes(work, name)
        tx_before = cluster.tx_bytes(cluster.origin)
        sn_tx_before = sum(cluster.tx_bytes(h) for h in cluster.supernodes)
        sn_packets_before = sum(cluster.tx_bytes(h, "packets") for h in cluster.supernodes)
        node_packets_before = sum(cluster.tx_bytes(h, "packets") for h in cluster.nodes[:n])
        node_tx_before = sum(cluster.tx_bytes(h) for h in cluster.nodes[:n])
        linked = [*cluster.supernodes, *cluster.nodes[:n]]
        drops_before = cluster.drops(linked)
        out = os.path.join(state, "out")
        os.makedirs(out, exist_ok=True)
        starts = [lambda h=h, s=s: procs.start(h, [os.path.join(BIN, "dfget"), url, "-O",
                                                     os.path.join(out, h.name), "--daemon-socket", s, "-q"],
                                               f"dfget-{h.name}")
                  for h, s in zip(cluster.nodes[:n], socks)]
        timeline = os.path.join(work, "logs", f"timeline-{n}.txt") if args.keep else None
        killed = {}

        def kill_owner(t0):
            # The supernode that owns the task (by the fleet's hashing) dies without warning.
            time.sleep(max(0.0, t0 + args.kill_at - time.monotonic()))
            for h in cluster.supernodes:
                if metric(h, "damselfly_supernode_tasks_owned") >= 1:
                    sn_procs[h.name].kill()
                    killed.update({"supernode_killed": h.name, "killed_at_s": round(time.monotonic() - t0, 3)})
                    return

        def metric(h, key, port=8002):
            text = subprocess.run(h.cmd(["curl", "-fsS", "-m", "5", *curl_trust, f"{scheme}://{h.ip}:{port}/metrics"]),
                                  capture_output=True, text=True).stdout
            return sum(int(float(line.split()[-1])) for line in text.splitlines()
                       if line.startswith((key + " ", key + "{")))

        with CpuMeter() as cpu, SupernodeTimeline(cluster, timeline):
            times = timed_clients(procs, starts, args.run_timeout,
                                  kill_owner if args.kill_at > 0 and len(cluster.supernodes) > 1 else None)
        egress = nginx_body_bytes(work, name) - before
        # What the supernodes' links carried: piece bytes, and everything (control included). A
        # killed supernode's counters are gone with it, so with a kill this undercounts.
        alive = [h for h in cluster.supernodes if sn_procs[h.name].poll() is None]
        pieces_sent = sum(metric(h, "damselfly_supernode_upload_bytes_total") for h in alive)
        args.extra = {"supernode_piece_bytes_ratio": round(pieces_sent / args.size, 4),
                      "supernode_tx_ratio": round((sum(cluster.tx_bytes(h) for h in cluster.supernodes)
                                                   - sn_tx_before) / args.size, 4),
                      # Packets (GSO segments count once) the supernodes sent, and the syncs
                      # and assignments they answered: what the control traffic is made of.
                      "supernode_tx_packets": sum(cluster.tx_bytes(h, "packets") for h in cluster.supernodes)
                      - sn_packets_before,
                      # What the nodes' links carried, in F and in packets.
                      "node_tx_ratio": round((sum(cluster.tx_bytes(h) for h in cluster.nodes[:n])
                                              - node_tx_before) / args.size, 3),
                      "node_tx_packets": sum(cluster.tx_bytes(h, "packets") for h in cluster.nodes[:n])
                      - node_packets_before,
                      "syncs": sum(metric(h, "damselfly_supernode_sync_duration_seconds_count") for h in alive),
                      "assignments": sum(metric(h, "damselfly_supernode_assignments_total") for h in alive),
                      # Piece requests the daemons turned away (every upload slot busy).
                      "uploads_refused": sum(metric(h, "damselfly_daemon_uploads_refused_total", 65002)
                                             for h in cluster.nodes[:n]),
                      # Pieces told on the daemons' have streams (parent sets), and left out
                      # because the child said it holds them.
                      "have_notices": sum(metric(h, 'damselfly_daemon_have_notices_total{outcome="sent"}', 65002)
                                          for h in cluster.nodes[:n]),
                      "have_notices_skipped": sum(
                          metric(h, 'damselfly_daemon_have_notices_total{outcome="skipped"}', 65002)
                          for h in cluster.nodes[:n]),
                      # Packets the supernodes' and nodes' upload queues dropped (a full tbf queue).
                      "link_drops": cluster.drops(linked) - drops_before}
        if len(cluster.supernodes) > 1:
            args.extra.update({"supernodes": len(cluster.supernodes), **killed,
                               "takeovers": sum(metric(h, "damselfly_supernode_takeovers_total") for h in alive)})
        ok = verify_outputs([os.path.join(out, h.name) for h in cluster.nodes[:n]], args.sha256)
        times = [t if good else None for t, good in zip(times, ok)]
        return times, egress, cluster.tx_bytes(cluster.origin) - tx_before, cpu.summary()
    finally:
        procs.stop_all()
        shutil.rmtree(state, ignore_errors=True)


def run_bittorrent(cluster, n, args, work, torrent, www, rate_bps):
    procs = Procs(os.path.join(work, "logs"))
    state = os.path.join(work, "state-bittorrent")
    bt = os.path.join(HERE, "bt_peer.py")
    try:
        cap = ["--upload-rate", str(rate_bps)] if cluster.mode == "loopback" else []
        seed = procs.start(cluster.origin, ["/usr/bin/python3", bt, "seed", torrent, www, cluster.origin.ip, *cap],
                           "bt-seed", stdout_pipe=True)
        if seed.stdout.readline().strip() != "ready":
            raise RuntimeError("the BitTorrent seed did not start")
        peers = ",".join([cluster.origin.ip] + [h.ip for h in cluster.nodes[:n]])
        leechers = []
        for h in cluster.nodes[:n]:
            d = os.path.join(state, h.name)
            os.makedirs(d, exist_ok=True)
            p = procs.start(h, ["/usr/bin/python3", bt, "leech", torrent, d, h.ip, peers, *cap],
                            f"bt-{h.name}", stdout_pipe=True)
            leechers.append(p)
        for p in leechers:
            if p.stdout.readline().strip() != "ready":
                raise RuntimeError(f"BitTorrent leecher {p.name} did not start")
        tx_before = cluster.tx_bytes(cluster.origin)
        times = [None] * n
        t0 = time.monotonic()
        # Leechers start connecting as soon as they run; the clock starts when the
        # last is listening, which favours BitTorrent slightly (stated in the docs).

        def watch(i, p):
            for line in p.stdout:
                if line.strip() == "done":
                    times[i] = time.monotonic() - t0
                    return

        with CpuMeter() as cpu:
            threads = [threading.Thread(target=watch, args=(i, p), daemon=True) for i, p in enumerate(leechers)]
            for t in threads:
                t.start()
            deadline = time.monotonic() + args.run_timeout
            for t in threads:
                t.join(max(0.1, deadline - time.monotonic()))
        procs.stop(seed)
        rest = seed.stdout.read()
        uploaded = [int(line.split()[1]) for line in rest.splitlines() if line.startswith("uploaded ")]
        ok = verify_outputs([os.path.join(state, h.name, name_of(www)) for h in cluster.nodes[:n]], args.sha256)
        times = [t if good else None for t, good in zip(times, ok)]
        return times, uploaded[0] if uploaded else -1, cluster.tx_bytes(cluster.origin) - tx_before, cpu.summary()
    finally:
        procs.stop_all()
        shutil.rmtree(state, ignore_errors=True)


def run_http(cluster, n, args, work, url, name):
    procs = Procs(os.path.join(work, "logs"))
    state = os.path.join(work, "state-http")
    os.makedirs(state, exist_ok=True)
    try:
        before = nginx_body_bytes(work, name)
        tx_before = cluster.tx_bytes(cluster.origin)
        # Like wget's defaults: retry and continue where the transfer broke off
        # (40 flows on one capped link without fair queueing starve some of
        # them until the origin's TCP gives up on them).
        starts = [lambda h=h: procs.start(h, ["curl", "-fsS", "--retry", "20", "--retry-all-errors",
                                              "--retry-delay", "1", "-C", "-", "-o", os.path.join(state, h.name), url],
                                          f"curl-{h.name}")
                  for h in cluster.nodes[:n]]
        with CpuMeter() as cpu:
            times = timed_clients(procs, starts, args.run_timeout)
        egress = nginx_body_bytes(work, name) - before
        ok = verify_outputs([os.path.join(state, h.name) for h in cluster.nodes[:n]], args.sha256)
        times = [t if good else None for t, good in zip(times, ok)]
        return times, egress, cluster.tx_bytes(cluster.origin) - tx_before, cpu.summary()
    finally:
        procs.stop_all()
        shutil.rmtree(state, ignore_errors=True)


_www_name = {}


def name_of(www):
    return _www_name[www]


def verify_outputs(paths, want):
    """True per file that exists with the right SHA-256."""
    out = []
    for p in paths:
        r = subprocess.run(["sha256sum", p], capture_output=True, text=True)
        out.append(r.returncode == 0 and r.stdout.split()[0] == want)
    return out


def summarize(times, size, t_min, egress, cpu, max_cpu):
    done = [t for t in times if t is not None]
    s = {"completion_s": [round(t, 3) if t is not None else None for t in times],
         "finished": len(done), "origin_egress_ratio": round(egress / size, 4) if egress >= 0 else None,
         "cpu": cpu}
    if done:
        s.update({"mean_s": round(statistics.mean(done), 3), "p50_s": round(statistics.median(done), 3),
                  "max_s": round(max(done), 3)})
        s["mean_over_tmin"] = round(s["mean_s"] / t_min, 3)
        s["max_over_tmin"] = round(s["max_s"] / t_min, 3)
    # A run that saturated the CPUs measured the machine, not the network.
    s["valid"] = len(done) == len(times) and cpu["mean_busy"] < max_cpu
    if cpu["mean_busy"] >= max_cpu:
        s["invalid_reason"] = f"CPU {cpu['mean_busy']:.0%} busy (limit {max_cpu:.0%})"
    elif len(done) != len(times):
        s["invalid_reason"] = f"{len(times) - len(done)} node(s) did not finish correctly"
    return s


def plot(results, png):
    data = png.removesuffix(".png") + ".dat"
    systems = ["damselfly", "bittorrent", "http"]
    with open(data, "w") as f:
        f.write("# N t_min " + " ".join(f"{s}_mean {s}_max" for s in systems) + "\n")
        for r in results:
            cols = [str(r["nodes"]), str(r["t_min_s"])]
            for s in systems:
                x = r["systems"].get(s, {})
                if not x.get("valid"):
                    x = {}  # an invalid run is not drawn
                cols += [str(x.get("mean_s", "NaN")), str(x.get("max_s", "NaN"))]
            f.write(" ".join(cols) + "\n")
    first = results[0]
    title = (f"{first['file_bytes'] >> 20} MiB to N nodes, every host uploads "
             f"{first['upload_bytes_per_s'] * 8 / 1e6:.0f} Mbit/s ({first['mode']})")
    script = f"""set terminal pngcairo size 900,600
set output '{png}'
set title "{title}"
set xlabel 'nodes (N)'
set ylabel 'completion time (s)'
set key top left
set grid
set logscale y
plot '{data}' using 1:2 with lines lw 2 dt 2 lc rgb 'black' title 'T_{{min}} (Kumar-Ross)', \\
     '' using 1:3:3:4 with yerrorlines lc rgb '#1f77b4' title 'Damselfly (mean, bar to last node)', \\
     '' using 1:5:5:6 with yerrorlines lc rgb '#ff7f0e' title 'BitTorrent / libtorrent', \\
     '' using 1:7:7:8 with yerrorlines lc rgb '#2ca02c' title 'HTTP (curl from the origin)'
"""
    subprocess.run(["gnuplot"], input=script, text=True, check=True, timeout=60)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--nodes", default="5,10,20,40", help="comma-separated N values")
    ap.add_argument("--size", default="16M", help="file size (K/M/G)")
    ap.add_argument("--rate", default="2M", help="upload cap of every host per second (bytes: 2M = 16.8 Mbit/s)")
    ap.add_argument("--piece-size", default="",
                    help="piece size of the supernode and of the torrent (default: the supernode's own choice "
                         "for the file's size, and the same for the torrent)")
    ap.add_argument("--latency", type=float, default=0, help="added one-way latency per host in ms (netem)")
    ap.add_argument("--mode", choices=["netns", "loopback"], default="netns")
    ap.add_argument("--mtu", type=int, default=9000, help="MTU of the emulated links (jumbo frames, as in data centres)")
    ap.add_argument("--queue", choices=["fifo", "prio"], default="fifo",
                    help="the queue behind each host's rate cap: fifo (tbf's own) or prio "
                         "(pfifo_fast, this machine's default qdisc: packets a program marks "
                         "bulk wait behind the others)")
    ap.add_argument("--systems", default="damselfly,bittorrent,http")
    ap.add_argument("--timeout", type=float, default=0, help="per system run, seconds (0: 10 x N x F/u + 60)")
    ap.add_argument("--max-cpu", type=float, default=0.85, help="mean CPU busy share above which a run is invalid")
    ap.add_argument("--out", default=os.path.join(ROOT, "tests", "bench", "results"))
    ap.add_argument("--supernode-arg", action="append", default=[], help="extra supernode flag (repeatable)")
    ap.add_argument("--daemon-arg", action="append", default=[], help="extra dfget daemon flag (repeatable)")
    ap.add_argument("--keep", action="store_true", help="keep the work dir (logs) in /dev/shm")
    ap.add_argument("--tls", action="store_true",
                    help="Damselfly with TLS on every cluster link (a CA and a certificate per host)")
    ap.add_argument("--log-level", default="warn", help="supernode and daemon log level")
    ap.add_argument("--supernodes", type=int, default=1,
                    help="Damselfly with a fleet of this many supernodes (each its own host, replicating)")
    ap.add_argument("--prime", action=argparse.BooleanOptionalAction, default=True,
                    help="before each system's run, write and delete twice the bytes its nodes will hold "
                         "(at most 4 GiB) so that they land in memory the VM's host backs")
    ap.add_argument("--kill-at", type=float, default=0,
                    help="with --supernodes > 1: SIGKILL the task's owner this many seconds after the start")
    args = ap.parse_args()
    if os.geteuid() != 0:
        print("cluster_bench: needs root (network namespaces, tc)", file=sys.stderr)
        return 2
    for tool in ["ip", "tc", "curl", "gnuplot", "sha256sum"]:
        if not shutil.which(tool):
            print(f"cluster_bench: {tool} is missing (bash scripts/setup.sh bench installs it)", file=sys.stderr)
            return 2
    for b in ["supernode", "dfget"]:
        if not os.access(os.path.join(BIN, b), os.X_OK):
            print(f"cluster_bench: build/bin/{b} is missing: bash scripts/setup.sh release", file=sys.stderr)
            return 2
    ns_list = [int(x) for x in args.nodes.split(",")]
    size = parse_size(args.size)
    rate = parse_size(args.rate)
    systems = args.systems.split(",")
    os.makedirs(args.out, exist_ok=True)

    work = tempfile.mkdtemp(prefix=f"{PREFIX}-", dir="/dev/shm")
    os.chmod(work, 0o755)
    os.makedirs(os.path.join(work, "logs"))
    if args.supernodes < 1 or args.supernodes > 9:
        print("cluster_bench: --supernodes takes 1 to 9", file=sys.stderr)
        return 2
    if args.tls and args.supernodes > 1:
        print("cluster_bench: --tls takes one supernode (replicas travel over plain HTTP)", file=sys.stderr)
        return 2
    cluster = Cluster(args.mode, max(ns_list), rate, args.latency, args.mtu, args.supernodes, args.queue)
    procs = Procs(os.path.join(work, "logs"))

    def on_signal(sig, _):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_signal)
    results = []
    try:
        if args.mode == "netns":
            try:
                cluster.create()
            except RuntimeError as e:
                print(f"cluster_bench: cannot build the namespaces ({e}); try --mode loopback", file=sys.stderr)
                return 1
        else:
            for h in cluster.hosts:
                pass  # 127.0.0.0/8 is all loopback on Linux: nothing to create
        www = os.path.join(work, "www")
        os.makedirs(www)
        name = "payload.bin"
        _www_name[www] = name
        with open(os.path.join(www, name), "wb") as f:
            left = size
            while left:
                chunk = os.urandom(min(left, 1 << 20))
                f.write(chunk)
                left -= len(chunk)
        args.size = size
        # Without --piece-size the supernode chooses; the torrent gets the same.
        piece_bytes = parse_size(args.piece_size) if args.piece_size else supernode_piece_size(size)
        args.sha256 = sh("sha256sum", os.path.join(www, name)).split()[0]
        torrent = os.path.join(work, name + ".torrent")
        if "bittorrent" in systems:
            sh("/usr/bin/python3", os.path.join(HERE, "bt_peer.py"), "make", os.path.join(www, name), torrent,
               str(piece_bytes))
        start_nginx(cluster, procs, work, www, rate)
        url = f"http://{cluster.origin.ip}/{name}"
        for n in ns_list:
            t_min = max(size / rate, (n + 1) * size / ((n + 2) * rate))
            args.run_timeout = args.timeout or 10 * n * size / rate + 60
            entry = {"mode": args.mode, "queue": args.queue, "primed": args.prime, "nodes": n, "file_bytes": size,
                     "upload_bytes_per_s": rate, "mtu": args.mtu,
                     "piece_bytes": piece_bytes,
                     "latency_ms": cluster.latency_ms if cluster.latency_applied else 0,
                     "t_min_s": round(t_min, 3), "supernodes": args.supernodes, "systems": {}}
            for system in systems:
                print(f"N={n} {system} ...", file=sys.stderr, flush=True)
                args.extra = {}
                if args.prime:  # in the nodes' tmpfs: twice what they will hold
                    prime_memory(min(2 * (n + 2) * size, 4 << 30) >> 20, work)
                if system == "damselfly":
                    times, egress, tx, cpu = run_damselfly(cluster, n, args, work, url, name, rate)
                elif system == "bittorrent":
                    times, egress, tx, cpu = run_bittorrent(cluster, n, args, work, torrent, www, rate)
                elif system == "http":
                    times, egress, tx, cpu = run_http(cluster, n, args, work, url, name)
                else:
                    raise SystemExit(f"unknown system {system}")
                s = summarize(times, size, t_min, egress, cpu, args.max_cpu)
                s.update(args.extra)
                if tx:
                    s["origin_tx_ratio"] = round(tx / size, 4)  # with TCP/IP headers
                entry["systems"][system] = s
                print(f"N={n} {system}: mean {s.get('mean_s')} s, max {s.get('max_s')} s "
                      f"(T_min {t_min:.2f} s: {s.get('mean_over_tmin')}x / {s.get('max_over_tmin')}x), "
                      f"origin {s['origin_egress_ratio']}x F, CPU {cpu['mean_busy']:.0%} (user {cpu['user_share']:.0%})"
                      f"{'' if s['valid'] else ' INVALID: ' + s['invalid_reason']}", file=sys.stderr, flush=True)
                if "supernode_killed" in s:
                    print(f"N={n} {system}: {s['supernode_killed']} (the owner) killed at {s['killed_at_s']} s, "
                          f"takeovers {s['takeovers']}", file=sys.stderr, flush=True)
            results.append(entry)
    except KeyboardInterrupt:
        print("cluster_bench: interrupted; cleaning up", file=sys.stderr)
        return 130
    finally:
        procs.stop_all()
        cluster.destroy()
        if results:
            stamp = time.strftime("%Y%m%d-%H%M%S")
            base = os.path.join(args.out, f"cluster-{args.mode}-{stamp}")
            with open(base + ".json", "w") as f:
                json.dump({"command": " ".join(sys.argv), "formula": "T_min = max(F/u_origin, (N+1)F/(u_origin + "
                           "u_supernode + N u_node)); uploads capped, downloads not, all u equal here",
                           "runs": results}, f, indent=1)
            if shutil.which("gnuplot"):
                plot(results, base + ".png")
            print(f"results: {base}.json", file=sys.stderr)
        if args.keep:
            print(f"kept: {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
