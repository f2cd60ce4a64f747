#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Sets up and builds Damselfly, then runs a local demo on loopback: an nginx
# origin, a supernode and several dfget clients downloading one file at once.
# Usage: scripts/demo.sh [CLIENTS] [SIZE_MIB]
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

clients="${1:-8}"
size_mib="${2:-256}"
bash scripts/setup.sh release >/dev/null
bin="$root/build/bin"
source scripts/lib.sh

work=$(mktemp -d /tmp/damselfly-demo.XXXXXX)
chmod 755 "$work"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

mkdir -p "$work/www" "$work/nginx" "$work/out" "$work/logs"
echo "demo: generating a ${size_mib} MiB file"
head -c "$((size_mib * 1024 * 1024))" /dev/urandom >"$work/www/release.tar"
want=$(sha256sum "$work/www/release.tar" | cut -d' ' -f1)

origin_port=$(free_port)
start_nginx "$work/www" "$work/nginx" "$origin_port" "$work/logs/origin-access.log"
pids+=("$nginx_pid")

"$bin/supernode" --listen 127.0.0.1:0 --port-file "$work/supernode.port" \
  --data-dir "$work/cache" --log-file "$work/logs/supernode.log" &
pids+=($!)
for _ in $(seq 1 100); do [[ -s "$work/supernode.port" ]] && break; sleep 0.1; done
sn_port=$(cat "$work/supernode.port")

url="http://127.0.0.1:$origin_port/release.tar"
echo "demo: origin nginx on 127.0.0.1:$origin_port, supernode on 127.0.0.1:$sn_port, $clients clients"
echo "demo: each client runs: dfget $url -O FILE --supernode 127.0.0.1:$sn_port"
start=$(date +%s.%N)
cpids=()
for i in $(seq 1 "$clients"); do
  "$bin/dfget" "$url" -O "$work/out/client$i.tar" --supernode "127.0.0.1:$sn_port" \
    >"$work/logs/client$i.log" 2>&1 &
  cpids+=($!)
done
failed=0
for i in $(seq 1 "$clients"); do
  wait "${cpids[$((i - 1))]}" || failed=$((failed + 1))
done
end=$(date +%s.%N)

echo
printf '%-9s %-10s %s\n' client verified "what dfget reported"
for i in $(seq 1 "$clients"); do
  got=$(sha256sum "$work/out/client$i.tar" 2>/dev/null | cut -d' ' -f1 || true)
  ok=no; [[ "$got" == "$want" ]] && ok=yes
  printf '%-9s %-10s %s\n' "client$i" "$ok" "$(tail -n1 "$work/logs/client$i.log" | sed 's/^dfget: //')"
done
file_bytes=$(stat -c %s "$work/www/release.tar")
origin_bytes=$(awk '$1 != "/" {s += $2} END {print s + 0}' "$work/logs/origin-access.log")
metrics=$(curl -fsS "http://127.0.0.1:$sn_port/metrics")
sn_up=$(awk '/^damselfly_supernode_upload_bytes_total /{print $2}' <<<"$metrics")
echo
echo "summary:"
echo "  clients:                 $clients ($failed failed)"
echo "  file:                    $file_bytes bytes"
echo "  delivered:               $((file_bytes * clients)) bytes in $(awk -v a="$start" -v b="$end" 'BEGIN {printf "%.2f", b - a}') s"
echo "  origin sent:             $origin_bytes bytes ($(awk -v o="$origin_bytes" -v f="$file_bytes" 'BEGIN {printf "%.4f", o / f}') x the file)"
echo "  supernode sent to peers: $sn_up bytes"
[[ $failed -eq 0 ]]
