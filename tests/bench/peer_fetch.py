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
import os
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import data_path as dp  # noqa: E402  (the same servers and helpers)


def main():
    args = dp.build_args(__doc__, 1024)
    size = args.size << 20

    def prepare(b):
        b.a = b.start_daemon("daemon-a", "127.0.0.2")
        b.c = b.start_daemon("daemon-c", "127.0.0.5", "--parallel", "2")

    def measure(b, url, out, rep):
        b.dfget(url, out + ".a", "--daemon-socket", b.a[1], "--tag", f"t{rep}")
        os.remove(out + ".a")
        b.read_newest_task(os.path.join(b.work, "daemon-a", "tasks"))
        dp.settle()
        before = b.downloaded_bytes(b.c)
        wall, _ = b.dfget(url, out, "--daemon-socket", b.c[1], "--tag", f"t{rep}")
        after = b.downloaded_bytes(b.c)
        os.remove(out)
        return wall, (after.get("peer", 0) - before.get("peer", 0)) / size

    results = dp.alternate_builds(args.bins, args.size, args.reps, prepare, measure)
    for path, runs in results.items():
        times = [t for t, _ in runs]
        median = statistics.median(times)
        print(f"{path}: median {median:.3f} s, {size / median / 1e6:.0f} MB/s, "
              f"runs {[round(t, 3) for t in times]}, "
              f"from a peer {[round(share, 3) for _, share in runs]}")


if __name__ == "__main__":
    sys.exit(main())
