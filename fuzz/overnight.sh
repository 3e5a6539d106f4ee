#!/usr/bin/env bash
# Overnight fuzzing on one machine: every target in turn, libFuzzer's fork
# mode over all cores, a time budget per target; afterwards the corpus is
# merged and minimised, and every crash is collected with the command that
# reproduces it. OUT/SUMMARY.md is the morning's page: per target the
# executions, exec/s, edges and features reached, corpus growth and crashes
# (with reproduce and minimise commands), and a coverage plot per target
# over the run (OUT/<target>.coverage.png, drawn by gnuplot where it is
# installed; the data in OUT/<target>.coverage.tsv either way).
#
#   fuzz/overnight.sh                       # all targets, 1 h each
#   HOURS_PER_TARGET=0.5 fuzz/overnight.sh decrypt conversation
#   SANITIZER=address fuzz/overnight.sh     # needs a nightly toolchain
#   SEALWIRE_FREED_SCAN=1 fuzz/overnight.sh # also arm the freed-memory check
#   SMOKE=1 fuzz/overnight.sh               # 30 s per target, then a 20 s
#                                           # AddressSanitizer run of each
#                                           # target where nightly exists
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
SMOKE="${SMOKE:-}"
if [ -n "$SMOKE" ]; then
  HOURS_PER_TARGET="${HOURS_PER_TARGET:-0.0084}"   # about 30 s
else
  HOURS_PER_TARGET="${HOURS_PER_TARGET:-1}"
fi
SANITIZER="${SANITIZER:-none}"
OUT="${OUT:-artifacts/overnight/$(date -u +%Y%m%dT%H%M%SZ)}"
budget="$(awk "BEGIN { printf \"%d\", $HOURS_PER_TARGET * 3600 }")"

command -v cargo-fuzz >/dev/null 2>&1 || cargo install --locked cargo-fuzz
toolchain=()
target_dir=target
if [ "$SANITIZER" != none ]; then
  toolchain=(+nightly)   # -Zsanitizer needs nightly
  target_dir="target/$SANITIZER"   # keep the stable, sanitizer-free build
fi
TOOLCHAIN="${toolchain[*]}" ./build.sh --sanitizer "$SANITIZER" -O --target-dir "$target_dir"
triple="$(rustc -vV | sed -n 's/^host: //p')"
bin_dir="$target_dir/$triple/release"

targets=("$@")
[ ${#targets[@]} -gt 0 ] || read -r -a targets <<< "$(cargo fuzz list | tr '\n' ' ')"
mkdir -p "$OUT/crashes"
summary="$OUT/SUMMARY.md"
{
  echo "# Overnight fuzzing $(date -u +%FT%TZ)"
  echo
  echo "jobs: $JOBS, budget per target: ${budget}s, sanitizer: $SANITIZER, commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
  echo
  echo "| target | executions | exec/s (all jobs) | edges (cov) | features (ft) | corpus before | corpus after merge | crashes |"
  echo "| --- | --- | --- | --- | --- | --- | --- | --- |"
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
  # Coverage over time, from fork mode's status lines
  # ("#N: cov: C ft: F corp: K exec/s: ... time: Ts"): seconds, executions,
  # edges, features, corpus.
  grep -E '^#[0-9]+: cov: ' "$OUT/$target.log" \
    | sed -E 's/^#([0-9]+): cov: ([0-9]+) ft: ([0-9]+) corp: ([0-9]+).* time: ([0-9]+)s.*/\5\t\1\t\2\t\3\t\4/' \
    > "$OUT/$target.coverage.tsv" || true
  cov="$(tail -n 1 "$OUT/$target.coverage.tsv" | cut -f 3)"
  ft="$(tail -n 1 "$OUT/$target.coverage.tsv" | cut -f 4)"
  echo "| $target | ${execs:-?} | ${rate:-?} | ${cov:-?} | ${ft:-?} | $before | $after | $crashes |" >> "$summary"
done

# A coverage plot per target (edges and features over the run), so that a
# night whose yield dropped shows at a glance. gnuplot from Debian's
# packages (gnuplot-nox) draws them; without it the .tsv files stay.
{
  echo
  echo "## Coverage over time"
  echo
  if command -v gnuplot >/dev/null 2>&1; then
    for target in "${targets[@]}"; do
      data_file="$OUT/$target.coverage.tsv"
      if [ -s "$data_file" ]; then
        gnuplot -e "set terminal pngcairo size 800,400; set output '$OUT/$target.coverage.png'; \
          set title '$target'; set xlabel 'seconds'; set ylabel 'edges (cov)'; \
          set y2label 'features (ft)'; set ytics nomirror; set y2tics; set key left top; \
          plot '$data_file' using 1:3 with linespoints title 'cov', \
               '' using 1:4 axes x1y2 with linespoints title 'ft'" \
          && echo "![$target]($target.coverage.png)"
      else
        echo "- $target: no status lines in $target.log"
      fi
    done
  else
    echo "no plots: gnuplot is not installed (\`apt-get install gnuplot-nox\`); the data is in <target>.coverage.tsv (seconds, executions, cov, ft, corpus)"
  fi
} >> "$summary"

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

# Smoke mode: a short AddressSanitizer run of every target, where a nightly
# toolchain exists (stable CI, fuzz/ci.sh, stays sanitizer-free).
if [ -n "$SMOKE" ] && [ "$SANITIZER" = none ]; then
  {
    echo
    echo "## AddressSanitizer smoke run"
    echo
  } >> "$summary"
  if cargo +nightly --version >/dev/null 2>&1 \
      && TOOLCHAIN=+nightly ./build.sh --sanitizer address -O --target-dir target/address \
        > "$OUT/asan-build.log" 2>&1; then
    echo "| target | executions | exec/s | result |" >> "$summary"
    echo "| --- | --- | --- | --- |" >> "$summary"
    for target in "${targets[@]}"; do
      max_len="$(sed -n 's/^max_len = //p' "$data/options/$target.options")"
      scratch="$(mktemp -d)"
      mkdir -p "$OUT/crashes-asan/$target"
      echo "== $target: AddressSanitizer, ${ASAN_SECONDS:-20}s"
      result=ok
      "target/address/$triple/release/$target" "$scratch" "$data/seeds/$target" \
        -max_total_time="${ASAN_SECONDS:-20}" -dict="$data/dict/$target.dict" -max_len="$max_len" \
        -artifact_prefix="$OUT/crashes-asan/$target/" -print_final_stats=1 \
        > "$OUT/$target.asan.log" 2>&1 || result="CRASH: see $target.asan.log and crashes-asan/$target/ (reproduce: \`(cd fuzz && cargo +nightly fuzz run -O --target-dir target/address $target <file>)\`)"
      rm -rf "$scratch"
      execs="$(sed -n 's/^stat::number_of_executed_units: //p' "$OUT/$target.asan.log")"
      rate="$(sed -n 's/^stat::average_exec_per_sec: //p' "$OUT/$target.asan.log")"
      echo "| $target | ${execs:-?} | ${rate:-?} | $result |" >> "$summary"
    done
  else
    echo "not run: no nightly toolchain, or the ASan build failed (asan-build.log)" >> "$summary"
  fi
fi
cat "$summary"
