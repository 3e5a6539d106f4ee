#!/usr/bin/env bash
# Overnight fuzzing on one machine: every target in turn, libFuzzer's fork
# mode over all cores, a time budget per target; afterwards the corpus is
# merged and minimised, and every crash is collected with the command that
# reproduces it.
#
#   fuzz/overnight.sh                       # all targets, 1 h each
#   HOURS_PER_TARGET=0.5 fuzz/overnight.sh decrypt conversation
#   SANITIZER=address fuzz/overnight.sh     # needs a nightly toolchain
#   SEALWIRE_FREED_SCAN=1 fuzz/overnight.sh # also arm the freed-memory check
#
# Environment: JOBS (default: all cores), HOURS_PER_TARGET (default 1),
# SANITIZER (none | address; default none), OUT (default
# fuzz/artifacts/overnight/<UTC timestamp>, not checked in). The corpus lives in fuzz/corpus/<target>
# (not checked in) and grows from run to run.
set -euo pipefail
cd "$(dirname "$0")"
# Seeds, dictionaries, options and past crash inputs live beside the oracles
# that read them.
data=../conformance/oracles

JOBS="${JOBS:-$(nproc)}"
HOURS_PER_TARGET="${HOURS_PER_TARGET:-1}"
SANITIZER="${SANITIZER:-none}"
OUT="${OUT:-artifacts/overnight/$(date -u +%Y%m%dT%H%M%SZ)}"
budget="$(awk "BEGIN { printf \"%d\", $HOURS_PER_TARGET * 3600 }")"

command -v cargo-fuzz >/dev/null 2>&1 || cargo install --locked cargo-fuzz
toolchain=()
if [ "$SANITIZER" != none ]; then
  toolchain=(+nightly)   # -Zsanitizer needs nightly
fi
cargo "${toolchain[@]}" fuzz build --sanitizer "$SANITIZER" -O
triple="$(rustc -vV | sed -n 's/^host: //p')"
bin_dir="target/$triple/release"

targets=("$@")
[ ${#targets[@]} -gt 0 ] || read -r -a targets <<< "$(cargo fuzz list | tr '\n' ' ')"
mkdir -p "$OUT/crashes"
summary="$OUT/SUMMARY.md"
{
  echo "# Overnight fuzzing $(date -u +%FT%TZ)"
  echo
  echo "jobs: $JOBS, budget per target: ${budget}s, sanitizer: $SANITIZER, commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
  echo
  echo "| target | executions | exec/s (all jobs) | corpus before | corpus after merge | crashes |"
  echo "| --- | --- | --- | --- | --- | --- |"
} > "$summary"

for target in "${targets[@]}"; do
  bin="$bin_dir/$target"
  max_len="$(sed -n 's/^max_len = //p' "$data/options/$target.options")"
  corpus="corpus/$target"
  mkdir -p "$corpus" "$OUT/crashes/$target"
  before="$(find "$corpus" -type f | wc -l)"
  echo "== $target: fork mode, $JOBS jobs, ${budget}s"
  # -ignore_crashes: keep fuzzing after a crash (each is saved under
  # -artifact_prefix); -fork runs $JOBS worker processes.
  "$bin" "$corpus" "$data/seeds/$target" \
    -fork="$JOBS" -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1 \
    -max_total_time="$budget" -dict="$data/dict/$target.dict" -max_len="$max_len" \
    -artifact_prefix="$OUT/crashes/$target/" -print_final_stats=1 \
    > "$OUT/$target.log" 2>&1 || true

  echo "== $target: merging and minimising the corpus"
  minimised="$(mktemp -d)"
  "$bin" -merge=1 -max_len="$max_len" "$minimised" "$corpus" "$data/seeds/$target" \
    > "$OUT/$target.merge.log" 2>&1 || true
  if [ -n "$(ls -A "$minimised")" ]; then
    rm -rf "$corpus"
    mv "$minimised" "$corpus"
  else
    rm -rf "$minimised"
  fi
  after="$(find "$corpus" -type f | wc -l)"

  execs="$(grep -oE '#[0-9]+' "$OUT/$target.log" | tail -n 1 | tr -d '#')"
  rate="$(grep -oE 'exec/s: [0-9]+' "$OUT/$target.log" | tail -n 1 | awk '{print $2}')"
  crashes="$(find "$OUT/crashes/$target" -type f | wc -l)"
  echo "| $target | ${execs:-?} | ${rate:-?} | $before | $after | $crashes |" >> "$summary"
done

{
  echo
  echo "## Crashes"
  echo
  found=0
  for crash in "$OUT"/crashes/*/*; do
    [ -e "$crash" ] || continue
    found=1
    target="$(basename "$(dirname "$crash")")"
    echo "- \`$crash\`"
    echo "  - reproduce: \`(cd fuzz && cargo fuzz run --sanitizer $SANITIZER -O $target $crash)\`"
    echo "  - minimise: \`(cd fuzz && cargo fuzz tmin --sanitizer $SANITIZER -O $target $crash)\`"
    echo "  - once fixed, keep it: \`cp $crash conformance/oracles/regressions/$target/<what-it-was>\` (replayed by \`cargo test\`)"
  done
  [ "$found" = 1 ] || echo "none"
} >> "$summary"
cat "$summary"
