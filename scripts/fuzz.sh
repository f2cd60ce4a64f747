#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Builds the libFuzzer targets (preset "fuzz", clang 16, ASan+UBSan) and runs
# each for SECONDS (default 10), starting from its seed corpus in
# tests/fuzz/corpus/<target>/. New inputs go to a scratch dir, not the repo.
# A crash stops the run with the reproducer's path and a non-zero exit.
# With --runs N, each target instead runs N executions (a campaign).
# Usage: scripts/fuzz.sh [SECONDS | --runs N] [TARGET...]
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ ${1:-} == --runs ]]; then
  budget=(-runs="$2")
  shift 2
else
  seconds="${1:-10}"
  budget=(-max_total_time="$seconds")
  shift || true
fi
# Quiet when the build succeeds; its whole output (the compiler's errors) when not.
build_log="$(mktemp)"
if ! bash scripts/setup.sh fuzz >"$build_log" 2>&1; then
  cat "$build_log" >&2
  echo "fuzz: building the fuzz targets failed" >&2
  rm -f "$build_log"
  exit 1
fi
rm -f "$build_log"

targets=("$@")
if ((${#targets[@]} == 0)); then
  for f in tests/fuzz/fuzz_*.cpp; do targets+=("$(basename "$f" .cpp)"); done
fi
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
failed=0
for t in "${targets[@]}"; do
  mkdir -p "$scratch/$t"
  log="$scratch/$t.log"
  # Targets whose cost grows with the input's length search short inputs:
  # a config file or an event sequence of 256 bytes reaches all they do.
  limits=()
  case $t in fuzz_config | fuzz_swarm) limits=(-max_len=256) ;; esac
  start=$SECONDS
  if build-fuzz/bin/"$t" "${budget[@]}" "${limits[@]}" -timeout=10 -rss_limit_mb=2048 \
      -artifact_prefix="$scratch/$t-" "$scratch/$t" "tests/fuzz/corpus/$t" >"$log" 2>&1; then
    runs=$(grep -oE 'Done [0-9]+ runs' "$log" | grep -oE '[0-9]+' || echo "?")
    echo "fuzz: $t: $runs runs in $((SECONDS - start))s, no crash"
  else
    echo "fuzz: $t: FAILED"
    tail -40 "$log"
    mkdir -p build-fuzz/crashes
    for c in "$scratch"/"$t"-*; do
      [[ -e $c ]] || continue
      cp "$c" build-fuzz/crashes/
      echo "fuzz: reproducer kept: build-fuzz/crashes/$(basename "$c")"
    done
    failed=1
  fi
done
exit "$failed"
