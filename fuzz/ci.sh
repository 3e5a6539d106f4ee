#!/usr/bin/env bash
# CI fuzzing on stable Rust: builds every target without a sanitizer,
# replays the checked-in seeds and past crash inputs through each target
# (with the freed-memory check armed),
# then fuzzes each target for FUZZ_RUNS executions (default 40000) from its
# seeds, with libFuzzer's -seed=FUZZ_SEED (default 1). A count, not a time:
# the same binary, seed and count make the same mutations however fast the
# machine, so a CI run repeats and a failure replays (the binary also
# depends on the checkout path: fuzz/README.md). overnight.sh fuzzes by
# time with random seeds, to explore.
# A crash fails the script; its input is left in fuzz/artifacts/<target>/
# with the command that reproduces it.
set -euo pipefail
cd "$(dirname "$0")"
# Seeds, dictionaries, options and past crash inputs live beside the oracles
# that read them (conformance/oracles/README.md).
data=../conformance/oracles

RUNS_PER_TARGET="${FUZZ_RUNS:-40000}"
FUZZ_SEED="${FUZZ_SEED:-1}"
command -v cargo-fuzz >/dev/null 2>&1 || cargo install --locked cargo-fuzz

echo "-- building every fuzz target (stable, --sanitizer none)"
./build.sh --sanitizer none -O
triple="$(rustc -vV | sed -n 's/^host: //p')"
bin_dir="target/$triple/release"

max_len() { sed -n 's/^max_len = //p' "$data/options/$1.options"; }

for target in $(cargo fuzz list); do
  bin="$bin_dir/$target"
  echo "-- $target: replaying $data/seeds/$target and $data/regressions/$target"
  replay=()
  for dir in "$data/seeds/$target" "$data/regressions/$target"; do
    [ -d "$dir" ] && replay+=("$dir")
  done
  # -runs=0: execute every input of the given corpora once, then stop;
  # with the freed-memory check armed (fuzz/README.md).
  SEALWIRE_FREED_SCAN=1 "$bin" -runs=0 -max_len="$(max_len "$target")" "${replay[@]}" 2>&1 | tail -n 2

  echo "-- $target: fuzzing for $RUNS_PER_TARGET executions (libFuzzer -seed=$FUZZ_SEED)"
  corpus="$(mktemp -d)"
  mkdir -p "artifacts/$target"
  if ! "$bin" "$corpus" "$data/seeds/$target" \
      -runs="$RUNS_PER_TARGET" \
      -seed="$FUZZ_SEED" \
      -dict="$data/dict/$target.dict" \
      -max_len="$(max_len "$target")" \
      -artifact_prefix="artifacts/$target/" \
      -print_final_stats=1 > "artifacts/$target/ci.log" 2>&1; then
    grep -E "panicked|oracle:|SUMMARY|Test unit written" "artifacts/$target/ci.log" || true
    echo "FAIL: $target crashed; reproduce with:"
    for crash in "artifacts/$target"/crash-* "artifacts/$target"/oom-* "artifacts/$target"/timeout-*; do
      [ -e "$crash" ] && echo "  (cd fuzz && cargo fuzz run --sanitizer none -O $target $crash)"
    done
    exit 1
  fi
  grep -E "^stat::(number_of_executed_units|average_exec_per_sec)" "artifacts/$target/ci.log"
  rm -rf "$corpus"
done
echo "-- fuzz: every target built, replayed and fuzzed without a crash"
