#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# Benchmark: a cold download through a fresh task on the supernode against curl, builds side by side.
"""For each build directory given (each holding dfget and supernode), starts
nginx and a supernode. Each repetition, for each build in turn: curl fetches
the file from nginx, then `dfget --standalone` fetches it through the
supernode under a new tag (a task the supernode has never seen, so it
fetches from nginx while it serves the client). Alternating the builds
within one run keeps this machine's drifting memory costs out of the
comparison. Prints per build the median times and dfget's throughput as a
share of curl's (the issue's "cold >= 0.9x curl").

Usage: tests/bench/cold_fetch.py [--size 256] [--reps 6] BUILD_BIN_DIR...
"""
import os
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import data_path as dp  # noqa: E402  (the same servers and helpers)


def main():
    args = dp.build_args(__doc__, 256)

    def measure(b, url, out, rep):
        dp.settle()
        curl, _ = dp.timed(["curl", "-fsS", "-o", out, url], os.path.join(b.logs, "curl.out"))
        os.remove(out)
        dp.settle()
        cold, _ = b.dfget(url, out, "--standalone", "--supernode", b.sn_addr, "--tag", f"cold-{rep}")
        os.remove(out)
        return curl, cold

    results = dp.alternate_builds(args.bins, args.size, args.reps, lambda b: None, measure)
    for path, runs in results.items():
        curl = statistics.median(c for c, _ in runs)
        cold = statistics.median(d for _, d in runs)
        print(f"{path}: curl median {curl:.3f} s, cold dfget median {cold:.3f} s, "
              f"{curl / cold:.2f}x curl's throughput; curl {[round(c, 3) for c, _ in runs]}, "
              f"dfget {[round(d, 3) for _, d in runs]}")


if __name__ == "__main__":
    sys.exit(main())
