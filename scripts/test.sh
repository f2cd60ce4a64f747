#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Sets up, builds with warnings as errors, and runs every test: each libFuzzer
# target for a short fixed budget (FUZZ_SECONDS, default 10), then unit tests
# and integration tests that start real origins, supernodes and dfget on loopback.
# For the fast unit run alone: (cd build && ctest -L unit -j"$(nproc)").
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh test
bash scripts/fuzz.sh "${FUZZ_SECONDS:-10}"
cd build
ctest --output-on-failure
