#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Benchmark: what TLS on the cluster's links costs. A supernode holding a
# file serves it to dfget --standalone on loopback, once over plain HTTP
# (sendfile) and once over TLS (the same token, a cluster CA), side by side.
# Usage: tests/bench/tls_cost.sh [SIZE_MIB=512] [REPS=3]
# Prints one line per run and a JSON summary: median seconds and MiB/s per
# mode, and the supernode's CPU seconds per GiB served. Outputs go to
# /dev/shm, so the disk is not what is measured.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)
size_mib="${1:-512}"
reps="${2:-3}"
bin="$root/build/bin"
source scripts/lib.sh
[[ -x "$bin/dfget" && -x "$bin/supernode" ]] || bash scripts/setup.sh release >/dev/null

work=$(mktemp -d /tmp/damselfly-tls-bench.XXXXXX)
out=$(mktemp -d /dev/shm/damselfly-tls-bench.XXXXXX)
chmod 755 "$work"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work" "$out"
}
trap cleanup EXIT

cpu_seconds() { awk -v hz="$(getconf CLK_TCK)" '{printf "%.2f", ($14 + $15) / hz}' "/proc/$1/stat"; }

mkdir -p "$work/www" "$work/nginx" "$work/pki"
head -c "$((size_mib * 1024 * 1024))" /dev/urandom >"$work/www/blob"
port=$(free_port)
start_nginx "$work/www" "$work/nginx" "$port" off
pids+=("$nginx_pid")
url="http://127.0.0.1:$port/blob"

(umask 077 && openssl rand -hex 32 >"$work/token")
pki="$work/pki"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 \
  -subj "/CN=bench CA" -keyout "$pki/ca.key" -out "$pki/ca.pem" \
  -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "/CN=supernode" \
  -keyout "$pki/sn.key" -out "$pki/sn.csr" 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' >"$pki/sn.ext"
openssl x509 -req -in "$pki/sn.csr" -CA "$pki/ca.pem" -CAkey "$pki/ca.key" -CAcreateserial \
  -days 1 -extfile "$pki/sn.ext" -out "$pki/sn.pem" 2>/dev/null

declare -A times cpu
for mode in plain tls; do
  rm -rf "$work/cache" "$work/sn.port"
  extra=()
  client=()
  scheme=""
  if [[ $mode == tls ]]; then
    extra=(--tls-cert "$pki/sn.pem" --tls-key "$pki/sn.key")
    client=(--cluster-ca "$pki/ca.pem")
    scheme="https://"
  fi
  "$bin/supernode" --listen 127.0.0.1:0 --port-file "$work/sn.port" --data-dir "$work/cache" \
    --token-file "$work/token" --log-level warn "${extra[@]}" &
  sn=$!
  pids+=("$sn")
  for _ in $(seq 1 100); do [[ -s "$work/sn.port" ]] && break; sleep 0.05; done
  fetch() {
    "$bin/dfget" "$url" -O "$out/blob" --supernode "${scheme}127.0.0.1:$(cat "$work/sn.port")" -q \
      --standalone --no-back-source --token-file "$work/token" "${client[@]}"
  }
  fetch  # the supernode fetches the file once; the timed runs are warm
  rm -f "$out/blob"
  for rep in $(seq 1 "$reps"); do
    c0=$(cpu_seconds "$sn")
    t0=$(now)
    fetch
    t1=$(now)
    c1=$(cpu_seconds "$sn")
    rm -f "$out/blob"
    times[$mode]+="$(elapsed "$t0" "$t1") "
    cpu[$mode]+="$(awk -v a="$c0" -v b="$c1" 'BEGIN {printf "%.2f", b - a}') "
    echo "$mode run $rep: $(elapsed "$t0" "$t1") s, supernode CPU $(awk -v a="$c0" -v b="$c1" 'BEGIN {printf "%.2f", b - a}') s"
  done
  kill "$sn"
  wait "$sn" 2>/dev/null || true
done

# shellcheck disable=SC2086
tp=$(median ${times[plain]})
# shellcheck disable=SC2086
tt=$(median ${times[tls]})
# shellcheck disable=SC2086
cp=$(median ${cpu[plain]})
# shellcheck disable=SC2086
ct=$(median ${cpu[tls]})
ktls=no
[[ -e /proc/net/tls_stat ]] && ktls=yes
awk -v p="$tp" -v t="$tt" -v cp="$cp" -v ct="$ct" -v mib="$size_mib" -v reps="$reps" -v k="$ktls" 'BEGIN {
  printf "{\"size_mib\": %d, \"reps\": %d, \"kernel_tls\": \"%s\", ", mib, reps, k
  printf "\"plain_median_s\": %.3f, \"tls_median_s\": %.3f, ", p, t
  printf "\"plain_mib_per_s\": %.1f, \"tls_mib_per_s\": %.1f, ", mib / p, mib / t
  printf "\"supernode_cpu_s_per_gib_plain\": %.2f, \"supernode_cpu_s_per_gib_tls\": %.2f}\n", cp * 1024 / mib, ct * 1024 / mib
}'
