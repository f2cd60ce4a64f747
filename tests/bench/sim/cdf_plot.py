#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# Completion-time CDFs: an emulated-cluster run (every system it ran) beside swarm_sim on the same settings.
"""Usage: cdf_plot.py RESULTS.json [--nodes N] [--out PNG]

Reads a tests/bench/cluster result, runs build/bin/swarm_sim with the run's
N, file size, upload rate and piece size (--per-node --json), and plots the
fraction of nodes done against time over T_min for each system and for the
simulator, with gnuplot (pngcairo). Writes PNG and a .dat beside it.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


def cdf(times, t_min):
    xs = sorted(t / t_min for t in times if t >= 0)
    return [(x, (i + 1) / len(xs)) for i, x in enumerate(xs)]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("results")
    ap.add_argument("--nodes", type=int, default=0, help="which run of the file (default: the largest N)")
    ap.add_argument("--out", default=os.path.join(ROOT, "docs", "img", "cdf.png"))
    args = ap.parse_args()
    with open(args.results) as f:
        data = json.load(f)
    runs = data["runs"]
    run = max(runs, key=lambda r: r["nodes"]) if not args.nodes else next(
        (r for r in runs if r["nodes"] == args.nodes), None)
    if run is None:
        sys.exit(f"cdf_plot: no run with {args.nodes} nodes in {args.results}")
    t_min = run["t_min_s"]
    sim = subprocess.run(
        [os.path.join(ROOT, "build", "bin", "swarm_sim"), "--nodes", str(run["nodes"]),
         "--size", str(run["file_bytes"]), "--rate", str(int(run["upload_bytes_per_s"])),
         "--piece-size", str(run["piece_bytes"]), "--latency-ms", str(run.get("latency_ms") or 0.05),
         "--json", "--per-node"],
        check=True, capture_output=True, text=True, timeout=600)
    simulated = json.loads(sim.stdout)
    curves = {name: cdf(s["completion_s"], t_min) for name, s in run["systems"].items()
              if s.get("completion_s")}
    curves["damselfly (simulated)"] = cdf(simulated["completion_s"], t_min)
    dat = os.path.splitext(args.out)[0] + ".dat"
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(dat, "w") as f:
        for name, points in curves.items():
            f.write(f'# {name}\n')
            for x, y in points:
                f.write(f"{x:.4f} {y:.4f}\n")
            f.write("\n\n")
    plots = ", ".join(f'"{dat}" index {i} with steps lw 2 title "{name}"'
                      for i, name in enumerate(curves))
    script = f"""
set terminal pngcairo size 900,520 font ",11" noenhanced
set output "{args.out}"
set title "{run['nodes']} nodes, {run['file_bytes'] >> 20} MiB, every host {run['upload_bytes_per_s'] / 2**20:g} MiB/s, {run['piece_bytes'] >> 10} KiB pieces"
set xlabel "completion time / T_min ({t_min:g} s)"
set ylabel "nodes done"
set yrange [0:1.02]
set logscale x 2
set key bottom right
set grid
plot {plots}
"""
    with tempfile.NamedTemporaryFile("w", suffix=".gp", delete=False) as f:
        f.write(script)
    subprocess.run(["gnuplot", f.name], check=True, timeout=60)
    os.unlink(f.name)
    print(f"{args.out} ({', '.join(curves)})")


if __name__ == "__main__":
    main()
