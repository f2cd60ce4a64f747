#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# systemd-analyze verify on the shipped units, pointed at the built binaries.
# Usage: systemd_units_test.sh SOURCE_DIR BIN_DIR
set -euo pipefail
src=$1
bin=$2
command -v systemd-analyze >/dev/null || { echo "systemd-analyze is not installed"; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for unit in "$src"/deploy/systemd/*.service; do
  sed -e "s|/usr/local/bin/supernode|$bin/supernode|" -e "s|/usr/local/bin/dfget|$bin/dfget|" \
    "$unit" >"$work/$(basename "$unit")"
done
ls "$work"/*.service >/dev/null
systemd-analyze verify "$work"/*.service
echo "verified: $(cd "$work" && ls *.service | tr '\n' ' ')"
