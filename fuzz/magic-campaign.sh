#!/usr/bin/env bash
# Does fuzzing pass the suite's blind spots? For each planted flaw whose
# trigger is a value of a field the fuzzer controls (a 4-byte magic
# plaintext prefix, a reserved 32-bit id, a length band), fuzz the target
# that reaches it, from the checked-in seeds (which never carry a trigger),
# with the flaw switched on, and time how long libFuzzer takes to find an
# input whose oracle fails. No dictionary: the triggers' values are in no
# dictionary (the bundle dictionary's u32_max would hand over the reserved
# id), so what finds them is comparison tracing alone. Prints a Markdown
# table (fuzz/README.md, "Passing magic values").
#
#   fuzz/magic-campaign.sh                 # every pair, seeds 1 2 3, 600 s cap
#   MAGIC_SEEDS="1 2" MAGIC_MAX_TIME=300 fuzz/magic-campaign.sh
#   MAGIC_NO_BUILD=1 fuzz/magic-campaign.sh
#   MAGIC_NO_BUILD=1 MAGIC_BIN_DIR=<dir> fuzz/magic-campaign.sh magic_plaintext_no_advance
#                                          # another build's binaries, some flaws
#
# The binaries are a planted-flaws build (`--features planted-flaws`) in
# their own target directory, fuzz/target-flaws: the reference fuzzed by CI
# and overnight.sh never has them. One process per run, -seed=<seed>, into
# a scratch corpus. Exits 1 when some pair was not found within the cap
# (the table says which), 0 when every run found its flaw.
set -euo pipefail
cd "$(dirname "$0")"
data=../conformance/oracles

MAGIC_SEEDS="${MAGIC_SEEDS:-1 2 3}"
MAGIC_MAX_TIME="${MAGIC_MAX_TIME:-600}"
target_dir=target-flaws

if [ -z "${MAGIC_NO_BUILD:-}" ]; then
  ./build.sh --sanitizer none -O --features planted-flaws --target-dir "$target_dir" >&2
fi
triple="$(rustc -vV | sed -n 's/^host: //p')"
bin_dir="${MAGIC_BIN_DIR:-$target_dir/$triple/release}"

# flaw:target:what the trigger is
pairs=(
  "magic_plaintext_no_advance:conversation:a plaintext starting with the 4 bytes 7f 53 57 21"
  "large_tamper_advances:conversation:a damaged message of more than 64 KiB of plaintext"
  "reserved_id_lax_signature:bundle:signed-prekey id 0xFFFFFFFF with a bad signature"
)

scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
missed=0
echo "fuzz/magic-campaign.sh $(date -u +%FT%TZ), commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown), load: $(cut -d' ' -f1-3 /proc/loadavg), cap ${MAGIC_MAX_TIME} s per run"
echo
echo "| flaw | target | trigger | seed | found | seconds | executions | oracle's message |"
echo "| --- | --- | --- | ---: | --- | ---: | ---: | --- |"
for pair in "${pairs[@]}"; do
  IFS=: read -r flaw target what <<< "$pair"
  if [ $# -gt 0 ] && ! printf '%s\n' "$@" | grep -qx "$flaw"; then
    continue
  fi
  max_len="$(sed -n 's/^max_len = //p' "$data/options/$target.options")"
  for seed in $MAGIC_SEEDS; do
    corpus="$scratch/$flaw-$seed"
    rm -rf "$corpus"
    mkdir -p "$corpus"
    log="$scratch/$flaw-$seed.log"
    start=$(date +%s.%N)
    found=no
    if ! SEALWIRE_PLANTED_FLAW="$flaw" "$bin_dir/$target" "$corpus" "$data/seeds/$target" \
        -seed="$seed" -max_total_time="$MAGIC_MAX_TIME" \
        -max_len="$max_len" -artifact_prefix="$scratch/$flaw-$seed-" -print_final_stats=1 \
        > "$log" 2>&1; then
      found=yes
    fi
    end=$(date +%s.%N)
    seconds=$(awk "BEGIN { printf \"%.1f\", $end - $start }")
    execs="$(sed -n 's/.*stat::number_of_executed_units: *//p' "$log" | tail -n1)"
    [ -n "$execs" ] || execs="$(grep -o '#[0-9]*' "$log" | tail -n1 | tr -d '#')"
    message=""
    if [ "$found" = yes ]; then
      message="$(grep -m1 -o ' oracle: .*' "$log" | head -n1 | cut -c1-160 | tr '|' '/')"
      # The finding must be the flaw: the same input passes with it off.
      input="$(ls "$scratch/$flaw-$seed-"crash-* 2>/dev/null | head -n1 || true)"
      if [ -n "$input" ] && ! "$bin_dir/$target" "$input" > "$log.off" 2>&1; then
        found="no (the input also fails with the flaw off: see $log.off)"
        missed=1
      fi
    else
      missed=1
    fi
    echo "| $flaw | $target | $what | $seed | $found | $seconds | ${execs:-?} | ${message} |"
  done
done
exit "$missed"
