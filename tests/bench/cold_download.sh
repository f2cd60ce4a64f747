#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Benchmark: a cold download (empty supernode cache) through Damselfly against
# curl straight from the same nginx origin on loopback, side by side in one run.
# Usage: tests/bench/cold_download.sh [SIZE_MIB=1024] [REPS=3]
# Prints one line per run and a JSON summary; the ratio is curl's time over
# dfget's time (dfget's throughput as a fraction of curl's). dfget's time
# includes the supernode's origin fetch and dfget's final fsync; curl's does
# not fsync. curl to /dev/null shows the loopback HTTP ceiling.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)
size_mib="${1:-1024}"
reps="${2:-3}"
bin="$root/build/bin"
source scripts/lib.sh
[[ -x "$bin/dfget" && -x "$bin/supernode" ]] || bash scripts/setup.sh release >/dev/null

work=$(mktemp -d /tmp/damselfly-bench.XXXXXX)
chmod 755 "$work"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT


mkdir -p "$work/www" "$work/nginx" "$work/out"
head -c "$((size_mib * 1024 * 1024))" /dev/urandom >"$work/www/blob"
port=$(free_port)
start_nginx "$work/www" "$work/nginx" "$port" off
pids+=("$nginx_pid")
url="http://127.0.0.1:$port/blob"
cat "$work/www/blob" >/dev/null  # the origin serves from page cache in every run alike
curl -fsS -o /dev/null "$url"    # and nginx has warmed up

# Deleting a large file on a filesystem mounted with "discard" stalls the next
# large write for a while; let the disk settle before every timed run.
settle() { sync; sleep 2; }

null_times=()
curl_times=()
dfget_times=()
for rep in $(seq 1 "$reps"); do
  # The loopback HTTP ceiling: curl with nowhere to write.
  t0=$(now)
  curl -fsS -o /dev/null "$url"
  t1=$(now)
  null_times+=("$(elapsed "$t0" "$t1")")

  settle
  t0=$(now)
  curl -fsS -o "$work/out/curl.out" "$url"
  t1=$(now)
  curl_times+=("$(elapsed "$t0" "$t1")")
  rm -f "$work/out/curl.out"

  rm -rf "$work/cache" "$work/sn.port"
  "$bin/supernode" --listen 127.0.0.1:0 --port-file "$work/sn.port" --data-dir "$work/cache" \
    --log-level warn &
  sn=$!
  for _ in $(seq 1 100); do [[ -s "$work/sn.port" ]] && break; sleep 0.05; done
  settle
  t0=$(now)
  "$bin/dfget" "$url" -O "$work/out/dfget.out" --supernode "127.0.0.1:$(cat "$work/sn.port")" -q \
    --standalone
  t1=$(now)
  dfget_times+=("$(elapsed "$t0" "$t1")")
  kill "$sn"
  wait "$sn" 2>/dev/null || true
  rm -f "$work/out/dfget.out"
  echo "run $rep: curl to /dev/null ${null_times[-1]} s, curl to file ${curl_times[-1]} s, dfget cold ${dfget_times[-1]} s"
done

mn=$(median "${null_times[@]}")
mc=$(median "${curl_times[@]}")
md=$(median "${dfget_times[@]}")
awk -v n="$mn" -v c="$mc" -v d="$md" -v mib="$size_mib" -v reps="$reps" 'BEGIN {
  printf "{\"size_mib\": %d, \"reps\": %d, \"curl_devnull_median_s\": %.3f, ", mib, reps, n
  printf "\"curl_median_s\": %.3f, \"dfget_cold_median_s\": %.3f, ", c, d
  printf "\"curl_mib_per_s\": %.1f, \"dfget_mib_per_s\": %.1f, \"ratio\": %.3f}\n", mib / c, mib / d, c / d
}'
