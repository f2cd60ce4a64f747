#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Sets up and builds Damselfly, then runs a local demo on loopback: an nginx
# origin, a supernode and a dfget daemon per node, every node downloading one
# file at once, and prints what came from where.
# Usage: scripts/demo.sh [NODES=8] [SIZE_MIB=256] [SUPERNODE_RATE=50M] [NODE_RATE=50M]
# The upload caps stand in for network links: with the supernode capped, the
# nodes get most of the file from each other.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

clients="${1:-8}"
size_mib="${2:-256}"
supernode_rate="${3:-50M}"
node_rate="${4:-50M}"
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

# The cluster token: the supernode and every daemon demand it of each other.
(umask 077 && openssl rand -hex 32 >"$work/cluster.token")
"$bin/supernode" --listen 127.0.0.1:0 --port-file "$work/supernode.port" \
  --data-dir "$work/cache" --log-file "$work/logs/supernode.log" --upload-rate "$supernode_rate" \
  --token-file "$work/cluster.token" &
pids+=($!)
for _ in $(seq 1 100); do [[ -s "$work/supernode.port" ]] && break; sleep 0.1; done
sn_port=$(cat "$work/supernode.port")

# One dfget daemon per node, each on its own loopback address (127.0.0.2, .3, ...).
daemon_port=$(free_port)
for i in $(seq 1 "$clients"); do
  ip="127.0.0.$((i + 1))"
  "$bin/dfget" daemon --listen "$ip:$daemon_port" --data-dir "$work/node$i" \
    --socket "$work/node$i.sock" --supernode "127.0.0.1:$sn_port" --upload-rate "$node_rate" \
    --log-file "$work/logs/node$i.log" --token-file "$work/cluster.token" &
  pids+=($!)
done
for i in $(seq 1 "$clients"); do
  for _ in $(seq 1 100); do [[ -S "$work/node$i.sock" ]] && break; sleep 0.1; done
done

url="http://127.0.0.1:$origin_port/release.tar"
echo "demo: origin nginx on 127.0.0.1:$origin_port, supernode on 127.0.0.1:$sn_port (upload cap $supernode_rate/s)"
echo "demo: cluster token in $work/cluster.token (the supernode and daemons refuse requests without it)"
echo "demo: $clients nodes, daemons on 127.0.0.2-$((clients + 1)):$daemon_port (upload cap $node_rate/s each)"
echo "demo: on each node: dfget $url -O FILE --daemon-socket NODE.sock"
start=$(date +%s.%N)
cpids=()
for i in $(seq 1 "$clients"); do
  "$bin/dfget" "$url" -O "$work/out/node$i.tar" --daemon-socket "$work/node$i.sock" \
    >"$work/logs/client$i.log" 2>&1 &
  cpids+=($!)
done
failed=0
for i in $(seq 1 "$clients"); do
  wait "${cpids[$((i - 1))]}" || failed=$((failed + 1))
done
end=$(date +%s.%N)

metric() { awk -v s="$2" '$1 == s {print $2}' <<<"$1"; }
echo
printf '%-8s %-9s %-9s %14s %14s %14s\n' node verified seconds "from peers" "from supernode" "uploaded"
for i in $(seq 1 "$clients"); do
  got=$(sha256sum "$work/out/node$i.tar" 2>/dev/null | cut -d' ' -f1 || true)
  ok=no; [[ "$got" == "$want" ]] && ok=yes
  m=$(curl -fsS "http://127.0.0.$((i + 1)):$daemon_port/metrics")
  secs=$(sed -n 's/.* in \([0-9.]*\) s .*/\1/p' "$work/logs/client$i.log")
  printf '%-8s %-9s %-9s %14s %14s %14s\n' "node$i" "$ok" "${secs:--}" \
    "$(metric "$m" 'damselfly_daemon_download_bytes_total{from="peer"}')" \
    "$(metric "$m" 'damselfly_daemon_download_bytes_total{from="supernode"}')" \
    "$(metric "$m" 'damselfly_daemon_upload_bytes_total')"
done
file_bytes=$(stat -c %s "$work/www/release.tar")
origin_bytes=$(awk '$1 != "/" {s += $2} END {print s + 0}' "$work/logs/origin-access.log")
sn_up=$(metric "$(curl -fsS "http://127.0.0.1:$sn_port/metrics")" damselfly_supernode_upload_bytes_total)
echo
echo "summary:"
echo "  nodes:                 $clients ($failed failed)"
echo "  file:                  $file_bytes bytes"
echo "  delivered:             $((file_bytes * clients)) bytes in $(awk -v a="$start" -v b="$end" 'BEGIN {printf "%.2f", b - a}') s"
echo "  origin sent:           $origin_bytes bytes ($(awk -v o="$origin_bytes" -v f="$file_bytes" 'BEGIN {printf "%.4f", o / f}') x the file)"
echo "  supernode sent:        $sn_up bytes ($(awk -v o="$sn_up" -v f="$file_bytes" 'BEGIN {printf "%.2f", o / f}') x the file); the rest came from peers"
[[ $failed -eq 0 ]]
