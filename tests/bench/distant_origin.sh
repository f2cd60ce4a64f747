#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Benchmark: fetching from an origin a round trip away. test_origin answers
# every request DELAY_MS after it came (delay_ms=N), as an origin that far
# away would; `dfget --standalone` fetches the file the way the supernode does
# (a probe, then parallel Range requests), and curl fetches it in one request.
# Usage: tests/bench/distant_origin.sh [SIZE_MIB=16] [DELAY_MS=25] [REPS=3] [BIN_DIR...]
# Each BIN_DIR holds a dfget (default: build/bin); runs alternate between them.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)
size_mib="${1:-16}"
delay_ms="${2:-25}"
reps="${3:-3}"
shift $(($# < 3 ? $# : 3))
bins=("$@")
[[ ${#bins[@]} -gt 0 ]] || bins=("$root/build/bin")
[[ -x "$root/build/bin/test_origin" ]] || bash scripts/setup.sh release >/dev/null

work=$(mktemp -d /tmp/damselfly-bench.XXXXXX)
origin_pid=""
cleanup() {
  [[ -n "$origin_pid" ]] && kill "$origin_pid" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

mkdir -p "$work/www"
head -c "$((size_mib * 1024 * 1024))" /dev/urandom >"$work/www/blob"
"$root/build/bin/test_origin" --root "$work/www" --port-file "$work/port" >"$work/origin.log" 2>&1 &
origin_pid=$!
for _ in $(seq 1 100); do [[ -s "$work/port" ]] && break; sleep 0.05; done
url="http://127.0.0.1:$(cat "$work/port")/blob?delay_ms=$delay_ms"
want=$(sha256sum "$work/www/blob" | cut -d' ' -f1)

since() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.3f", b - a }'; }
for rep in $(seq 1 "$reps"); do
  start=$EPOCHREALTIME
  curl -fsS -o "$work/curl.out" "$url"
  echo "rep $rep curl: $(since "$start") s"
  for b in "${bins[@]}"; do
    rm -f "$work/out"
    start=$EPOCHREALTIME
    "$b/dfget" --standalone -q "$url" -O "$work/out"
    took=$(since "$start")
    [[ $(sha256sum "$work/out" | cut -d' ' -f1) == "$want" ]] || { echo "$b: wrong bytes" >&2; exit 1; }
    echo "rep $rep $b: $took s"
  done
done
echo "origin requests in all: $(curl -fsS "http://127.0.0.1:$(cat "$work/port")/_stats")"
