#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# Benchmark: a daemon fetching a file from one other daemon only, builds side by side.
"""For each build directory given (each holding dfget and supernode), starts
nginx, a supernode, daemon A and daemon C (--parallel 2: the scheduler lets
one asker have two pieces at once from one peer and leaves the seed's
copies beside them, so every piece comes from A). Each repetition, for each
build in turn: A downloads the file under a new tag, A's copy is read into
memory (on a cluster A reads its own disk), then C downloads it, timed.
Alternating the builds within one run keeps this machine's drifting memory
costs out of the comparison. Prints the median time, MB/s (10^6 bytes/s)
and the share of C's bytes that came from a peer (from its /metrics).

Usage: tests/bench/peer_fetch.py [--size 1024] [--reps 6] BUILD_BIN_DIR...
"""
import argparse
import os
import shutil
import statistics
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import data_path as dp  # noqa: E402  (the same servers and helpers)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=1024, help="MiB")
    ap.add_argument("--reps", type=int, default=6)
    ap.add_argument("bins", nargs="+", help="directories with dfget and supernode")
    args = ap.parse_args()
    size = args.size << 20
    setups = {}
    try:
        for path in args.bins:
            dp.BIN = os.path.abspath(path)
            work = tempfile.mkdtemp(prefix="damselfly-peerfetch.")
            os.chmod(work, 0o755)
            b = dp.bench(work, None)
            setups[path] = b
            b.start_origin()
            b.start_supernode()
            b.a = b.start_daemon("daemon-a", "127.0.0.2")
            b.c = b.start_daemon("daemon-c", "127.0.0.5", "--parallel", "2")
            dp.make_blob(os.path.join(work, "www", "x"), args.size)
        times = {path: [] for path in args.bins}
        shares = {path: [] for path in args.bins}
        for rep in range(args.reps):
            for path, b in setups.items():
                dp.BIN = os.path.abspath(path)
                url, out = f"{b.origin}/x", os.path.join(b.out_dir, "x")
                b.dfget(url, out + ".a", "--daemon-socket", b.a[1], "--tag", f"t{rep}")
                os.remove(out + ".a")
                b.read_newest_task(os.path.join(b.work, "daemon-a", "tasks"))
                dp.settle()
                before = b.downloaded_bytes(b.c)
                wall, _ = b.dfget(url, out, "--daemon-socket", b.c[1], "--tag", f"t{rep}")
                after = b.downloaded_bytes(b.c)
                os.remove(out)
                times[path].append(wall)
                shares[path].append((after.get("peer", 0) - before.get("peer", 0)) / size)
        for path in args.bins:
            median = statistics.median(times[path])
            print(f"{path}: median {median:.3f} s, {size / median / 1e6:.0f} MB/s, "
                  f"runs {[round(t, 3) for t in times[path]]}, "
                  f"from a peer {[round(s, 3) for s in shares[path]]}")
    finally:
        for b in setups.values():
            b.stop()
            shutil.rmtree(b.work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
