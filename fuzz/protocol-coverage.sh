#!/usr/bin/env bash
# The edges of the reference crate (protocol/src) that a corpus reaches,
# per target: the coverage that matters, without the oracle's own edges
# (libFuzzer's cov/ft count those too, so they move when the oracle
# changes even if the protocol's coverage does not).
#
#   fuzz/protocol-coverage.sh CORPUS_ROOT [targets...]   # CORPUS_ROOT/<target>/
#
# Comparing two builds of the oracles (same protocol code): run each
# build's binaries the same fixed count from the seeds with
# `BENCH_CORPUS_OUT=<dir> BENCH_BIN_DIR=<its bin dir> BENCH_NO_BUILD=1
# fuzz/bench.sh`, then this script on both directories. Every corpus is
# measured with the same binary, so the numbers compare.
#
# Needs a nightly toolchain: libFuzzer's -print_coverage=1 symbolizes
# through the sanitizer runtime, which only the AddressSanitizer build
# (`cargo +nightly fuzz build --sanitizer address`) links. Prints a
# Markdown table: covered edges / all edges of protocol/src's functions,
# and the functions with at least one covered edge.
set -euo pipefail
root="$(cd "${1:?usage: fuzz/protocol-coverage.sh CORPUS_ROOT [targets...]}" && pwd)"
shift
cd "$(dirname "$0")"
TOOLCHAIN=+nightly ./build.sh --sanitizer address -O --target-dir target/address >&2
triple="$(rustc -vV | sed -n 's/^host: //p')"
targets=("$@")
[ ${#targets[@]} -gt 0 ] || read -r -a targets <<< "$(cargo fuzz list | tr '\n' ' ')"
echo "| target | inputs found | protocol/src edges covered (with the seeds) | functions reached |"
echo "| --- | ---: | ---: | ---: |"
for target in "${targets[@]}"; do
  corpus="$root/$target"
  [ -d "$corpus" ] || { echo "| $target | no corpus in $corpus | | |"; continue; }
  inputs="$(find "$corpus" -type f | wc -l)"
  # With the seeds: libFuzzer writes only the inputs it found into the
  # corpus directory, not the seeds it started from, and what a fuzzer
  # has reached is both.
  "target/address/$triple/release/$target" -runs=0 -print_coverage=1 "$corpus" \
    ../conformance/oracles/seeds/"$target" 2>&1 \
    | awk -v t="$target" -v n="$inputs" '
        /^(UN)?COVERED_FUNC: / && /\/protocol\/src\// {
          split($5, e, "/"); covered += e[1]; total += e[2]
          if (e[1] > 0) reached++
        }
        END {
          if (total == 0) { printf "| %s | %d | no protocol/src function in the coverage report | |\n", t, n; exit 1 }
          printf "| %s | %d | %d / %d | %d |\n", t, n, covered, total, reached
        }'
done
