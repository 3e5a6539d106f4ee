#!/usr/bin/env bash
# Builds and runs the in-process cargo-fuzz targets of the black-box mode
# (README.md): a Rust library's protocol-2 adapter inside the fuzzing
# process, coverage-guided, each input checked by the black-box oracle.
#
#   conformance/blackbox/fuzz/run.sh                 # vodozemac_in_process, 20000 inputs, libFuzzer seed 1
#   RUNS=0 TIME=3600 conformance/blackbox/fuzz/run.sh   # an hour instead of a count
#   conformance/blackbox/fuzz/run.sh -- -jobs=2      # extra libFuzzer arguments after --
#
# env: TARGET (default vodozemac_in_process), RUNS (default 20000; 0: no
# count), TIME (seconds, default 0: no limit), SEED (libFuzzer -seed,
# default 1), SEALWIRE_BLACKBOX_SEED (the model's seed, default 1).
# The corpus grows in a scratch directory (printed), seeded from seeds/;
# a failing input is written to artifacts/<target>/ and the script fails.
# Stable Rust, no sanitizer (`-s none`), and `--no-cfg-fuzzing`: vodozemac
# skips its MAC and signature checks under cfg(fuzzing).
set -euo pipefail
cd "$(dirname "$0")"
target="${TARGET:-vodozemac_in_process}"
extra=()
if [ "${1:-}" = -- ]; then shift; extra=("$@"); fi
command -v cargo-fuzz >/dev/null 2>&1 || cargo install --locked cargo-fuzz
cargo fuzz build --sanitizer none -O --no-cfg-fuzzing "$target"
triple="$(rustc -vV | sed -n 's/^host: //p')"
bin="target/$triple/release/$target"
corpus="$(mktemp -d)"
trap 'rm -rf "$corpus"' EXIT
cp seeds/"$target"/* "$corpus"/
mkdir -p "artifacts/$target"
echo "-- $target: corpus $corpus, runs ${RUNS:-20000}, time ${TIME:-0} s, seed ${SEED:-1}"
"$bin" -runs="${RUNS:-20000}" -max_total_time="${TIME:-0}" -seed="${SEED:-1}" \
  -max_len=512 -timeout=30 -artifact_prefix="artifacts/$target/" \
  -print_final_stats=1 "${extra[@]}" "$corpus"
