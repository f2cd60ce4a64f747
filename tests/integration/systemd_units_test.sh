#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# systemd-analyze verify on the shipped units, pointed at the built binaries.
# Usage: systemd_units_test.sh SOURCE_DIR BIN_DIR SCRIPTS_DIR
# (SCRIPTS_DIR: the configured damselfly-token and damselfly-join, build/package/sbin)
set -euo pipefail
src=$1
bin=$2
sbin=$3
command -v systemd-analyze >/dev/null || { echo "systemd-analyze is not installed"; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for unit in "$src"/deploy/systemd/*.service; do
  sed -e "s|/usr/bin/supernode|$bin/supernode|" -e "s|/usr/bin/dfget|$bin/dfget|" \
    -e "s|/usr/sbin/damselfly-token|$sbin/damselfly-token|" \
    "$unit" >"$work/$(basename "$unit")"
done
ls "$work"/*.service >/dev/null
# Their Documentation= man pages: the ones the build generated (build/package/man).
for section in 1 8; do
  mkdir -p "$work/man/man$section"
  cp "$sbin"/../man/*."$section".gz "$work/man/man$section/"
done
MANPATH=$work/man systemd-analyze verify "$work"/*.service
echo "verified: $(cd "$work" && ls *.service | tr '\n' ' ')"

# The example configs load: every key is a known option with a valid value.
(umask 077 && openssl rand -hex 32 >"$work/cluster.token")
"$bin/supernode" --config "$src/deploy/config/supernode.yaml" --listen 127.0.0.1:0 \
  --token-file "$work/cluster.token" \
  --data-dir "$work/sn" --port-file "$work/sn.port" --log-file "$work/sn.log" &
sn=$!
"$bin/dfget" --config "$src/deploy/config/dfget.yaml" daemon --listen 127.0.0.1:0 \
  --token-file "$work/cluster.token" \
  --data-dir "$work/d" --socket "$work/d.sock" --supernode 127.0.0.1:9 --log-file "$work/d.log" &
dm=$!
for _ in $(seq 100); do
  [[ -s "$work/sn.port" && -S "$work/d.sock" ]] && break
  sleep 0.1
done
ok=1
[[ -s "$work/sn.port" ]] || { echo "supernode did not start with the example config"; ok=0; }
[[ -S "$work/d.sock" ]] || { echo "dfget daemon did not start with the example config"; ok=0; }
kill "$sn" "$dm" 2>/dev/null || true
wait "$sn" "$dm" 2>/dev/null || true
((ok)) || { cat "$work"/*.log; exit 1; }
echo "example configs load"
