#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Builds the Debian packages damselfly-supernode and damselfly-dfget from the
# release build into build/packages/ and checks them with lintian.
# Usage: scripts/package.sh
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh package
rm -rf build/packages
(cd build && cpack -G DEB >packages.log 2>&1) || { cat build/packages.log; exit 1; }
echo "package: lintian"
report=$(lintian --tag-display-limit 0 build/packages/*.deb 2>&1)
[[ -z $report ]] || echo "$report"
if grep -qE '^(E|W): ' <<<"$report"; then
  echo "package: lintian reports errors or warnings" >&2
  exit 1
fi
for deb in build/packages/*.deb; do
  echo "package: $deb ($(dpkg-deb -f "$deb" Installed-Size) KiB installed)"
done
