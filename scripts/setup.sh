#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Installs the Debian packages Damselfly needs (only the missing ones) and builds it.
# Usage: scripts/setup.sh [PRESET]   (PRESET: release (default), ci, debug, asan, tsan, fuzz, bench, test, package)
# "test" is release plus Chromium, in which the dashboard's browser test runs
# headless, and Prometheus (prometheus, promtool), which scrapes a swarm in a
# test and checks the shipped rules (the sanitizer presets, which run every
# test, get both too).
# "bench" is release plus what tests/bench needs: iproute2 (ip, tc), libtorrent's
# Python binding for the BitTorrent side of the cluster benchmark, gnuplot.
set -euo pipefail
cd "$(dirname "$0")/.."

preset="${1:-release}"
packages=(
  cmake ninja-build g++ ccache pkg-config
  libboost1.81-dev libboost-url1.81-dev libssl-dev nlohmann-json3-dev libspdlog-dev
  libcli11-dev libyaml-cpp-dev libgtest-dev libbenchmark-dev
  nginx-light curl openssl ca-certificates
)

# "fuzz" builds the libFuzzer targets with clang 16 (its compiler-rt has the
# fuzzer and sanitizer runtimes); "tsan" uses its ThreadSanitizer runtime.
if [[ $preset == fuzz || $preset == tsan ]]; then
  packages+=(clang-16 libfuzzer-16-dev libclang-rt-16-dev)
fi

# "package" is release plus what scripts/package.sh needs: help2man (man
# pages from --help), dpkg-dev (dpkg-shlibdeps), lintian. The test presets
# need them too: a test builds, checks and installs the packages.
if [[ $preset == package || $preset == test || $preset == tsan || $preset == asan ]]; then
  packages+=(help2man dpkg-dev lintian adduser)
fi
if [[ $preset == test || $preset == tsan || $preset == asan ]]; then
  packages+=(chromium prometheus)
fi
[[ $preset == test || $preset == package ]] && preset=release

if [[ $preset == bench ]]; then
  packages+=(iproute2 python3 python3-libtorrent gnuplot-nox)
  preset=release
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  sudo_cmd=()
  [[ $(id -u) -eq 0 ]] || sudo_cmd=(sudo)
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get update -qq
  "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Debian's nginx package starts a system-wide server on port 80 where it can;
# Damselfly's demo and tests run their own nginx, so that one is not needed.

echo "setup: configuring and building (preset ${preset})"
cmake --preset "${preset}" >/dev/null
cmake --build --preset "${preset}"
