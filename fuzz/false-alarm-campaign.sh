#!/usr/bin/env bash
# The false-alarm campaign of issue 17: every target, several libFuzzer
# seeds, a fixed number of executions each (10.6 million in all by default),
# each run from the checked-in seeds with its dictionary (fuzz/bench.sh does
# the running). With the leak oracle's taint rule (a window the fuzzer
# supplied is checked only in ciphertext the library sealed; see
# conformance/oracles/src/leak.rs) no run may raise an oracle alarm: any
# crash fails the campaign, and its input and log are kept under
# fuzz/artifacts/<target>/.
#
#   fuzz/false-alarm-campaign.sh                 # seeds 1 2 3, every target
#   CAMPAIGN_SEEDS="4 5" fuzz/false-alarm-campaign.sh decrypt state_restore
#   CAMPAIGN_SCALE=0.1 fuzz/false-alarm-campaign.sh   # a tenth of the counts
#   SEALWIRE_FREED_SCAN=1 fuzz/false-alarm-campaign.sh   # arm the freed-memory check too
#   CAMPAIGN_JOBS=2 ...                          # runs at once (default: nproc)
#
# Prints one bench.sh table per run, then the totals as a Markdown table;
# exits 1 when any run crashed.
set -euo pipefail
cd "$(dirname "$0")"

seeds=(${CAMPAIGN_SEEDS:-1 2 3})
scale="${CAMPAIGN_SCALE:-1}"
jobs="${CAMPAIGN_JOBS:-$(nproc)}"

# Executions per target and seed: about a minute of one core each at
# today's speeds (fuzz/README.md, "Speed"), 3.54 million per seed.
runs_of() {
  local n
  case "$1" in
    decode_wire) n=1500000 ;;
    bundle) n=1000000 ;;
    decrypt) n=400000 ;;
    state_restore|respond) n=250000 ;;
    differential_seal) n=80000 ;;
    conversation) n=60000 ;;
    *) n=100000 ;;
  esac
  awk "BEGIN { printf \"%d\", $n * $scale }"
}

targets=("$@")
[ ${#targets[@]} -gt 0 ] || read -r -a targets <<< "$(cargo fuzz list | tr '\n' ' ')"
./build.sh --sanitizer none -O >&2

out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
echo "fuzz/false-alarm-campaign.sh $(date -u +%FT%TZ), commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown), seeds ${seeds[*]}, freed-memory check: ${SEALWIRE_FREED_SCAN:-off}, $jobs at once"
running=0
for seed in "${seeds[@]}"; do
  for target in "${targets[@]}"; do
    (
      BENCH_NO_BUILD=1 BENCH_SEED="$seed" BENCH_RUNS="$(runs_of "$target")" \
        ./bench.sh "$target" > "$out/$target.$seed.md" 2>&1
      echo $? > "$out/$target.$seed.rc"
    ) &
    running=$((running + 1))
    if [ "$running" -ge "$jobs" ]; then
      wait -n
      running=$((running - 1))
    fi
  done
done
wait

status=0
total=0
echo
echo "| target | seed | executions | exec per CPU second | alarms |"
echo "| --- | ---: | ---: | ---: | --- |"
for target in "${targets[@]}"; do
  for seed in "${seeds[@]}"; do
    table="$out/$target.$seed.md"
    row="$(grep "^| $target |" "$table" || true)"
    if [ "$(cat "$out/$target.$seed.rc")" != 0 ] || [ -z "$row" ] || [[ "$row" == *crashed* ]]; then
      echo "| $target | $seed | | | **crashed**: fuzz/artifacts/$target/ |"
      sed 's/^/    /' "$table" >&2
      status=1
      continue
    fi
    executions="$(echo "$row" | awk -F'|' '{ gsub(/ /, "", $3); print $3 }')"
    rate="$(echo "$row" | awk -F'|' '{ gsub(/ /, "", $5); print $5 }')"
    total=$((total + executions))
    echo "| $target | $seed | $executions | $rate | none |"
  done
done
echo
echo "executions in all: $total"
if [ "$status" = 0 ]; then
  echo "no oracle alarm"
else
  echo "FAILED: a run crashed (an oracle alarm or a finding; see its log above)"
fi
exit "$status"
