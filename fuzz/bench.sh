#!/usr/bin/env bash
# Fuzzing speed per CPU second of one process, every target, in one run.
#
#   fuzz/bench.sh                    # every target, default counts
#   BENCH_RUNS=20000 fuzz/bench.sh decrypt conversation
#   BENCH_NO_BUILD=1 fuzz/bench.sh   # use the binaries already built
#   BENCH_BIN_DIR=<dir> BENCH_NO_BUILD=1 fuzz/bench.sh   # another build's binaries
#   BENCH_SEEDS="1 2 3 4 5" fuzz/bench.sh  # the seeds (default 1 2 3; BENCH_SEED=N: one)
#   BENCH_CORPUS_OUT=<dir> fuzz/bench.sh   # keep each target's corpus in <dir>/<target>
#                                          # (every seed's finds together)
#                                          # (for fuzz/protocol-coverage.sh)
#
# Each target runs one libFuzzer process from its checked-in seeds with its
# dictionary and max_len, a fixed number of executions (-runs, BENCH_RUNS or
# the per-target default below) with -seed=<seed>, once per seed, each into
# its own scratch corpus (fuzz/seeds and conformance/oracles/seeds are only
# read); the table gives the median seed's rate, cov/ft/corpus, and every
# seed's rate.
# The same binary, seed and count make the same mutations, so cov/ft at the
# end compare builds: a speed-up that lost coverage shows there.
# exec per CPU second = executions / (user + sys CPU time of the process,
# from /usr/bin/time): most of the noise of a shared machine goes away.
# Prints a Markdown table with the aims of issue 17; exits 1 when a target
# crashed (its log is kept), 0 otherwise (missing an aim is reported in the
# table, not as a failure: this is a measurement).
set -euo pipefail
cd "$(dirname "$0")"
data=../conformance/oracles

# Seeds: BENCH_SEEDS (a list), or BENCH_SEED (one), or 1 2 3. One run
# from the seeds is one random walk, and the inputs a walk keeps decide
# what an execution costs (how many bundles verify, how many messages
# start a ratchet step): the same build gave bundle 8,688 and 11,148
# exec per CPU second with seeds 1 and 3. The table reports the median.
read -r -a seeds <<< "${BENCH_SEEDS:-${BENCH_SEED:-1 2 3}}"
[ -x /usr/bin/time ] || { echo "bench.sh needs /usr/bin/time (GNU time)" >&2; exit 2; }

if [ -z "${BENCH_NO_BUILD:-}" ]; then
  ./build.sh --sanitizer none -O >&2
fi
triple="$(rustc -vV | sed -n 's/^host: //p')"
bin_dir="${BENCH_BIN_DIR:-target/$triple/release}"

# The aims (issue 17) and default execution counts (about 10-30 s per
# target on one shared core at the speeds of the aims).
aim() {
  case "$1" in
    decode_wire) echo 50000 ;;
    bundle|decrypt|state_restore|differential_seal) echo 10000 ;;
    respond|conversation) echo 5000 ;;
    *) echo 0 ;;
  esac
}
default_runs() {
  case "$1" in
    decode_wire) echo 300000 ;;
    bundle|decrypt|state_restore|differential_seal) echo 100000 ;;
    *) echo 40000 ;;
  esac
}

targets=("$@")
[ ${#targets[@]} -gt 0 ] || read -r -a targets <<< "$(cargo fuzz list | tr '\n' ' ')"

scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
status=0
echo "fuzz/bench.sh $(date -u +%FT%TZ), commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown), load: $(cut -d' ' -f1-3 /proc/loadavg), seeds ${seeds[*]}"
echo
echo "| target | executions (all seeds) | CPU s (user+sys, all seeds) | exec per CPU second (median seed) | per seed | aim | met | cov | ft | corpus |"
echo "| --- | ---: | ---: | ---: | --- | ---: | --- | ---: | ---: | ---: |"
for target in "${targets[@]}"; do
  runs="${BENCH_RUNS:-$(default_runs "$target")}"
  max_len="$(sed -n 's/^max_len = //p' "$data/options/$target.options")"
  # (default counts: about 10-30 s per seed at the aims' speeds)
  out="${BENCH_CORPUS_OUT:-$scratch}/$target"
  rm -rf "$out"
  mkdir -p "$out"
  rates=()
  summaries=()
  cpu_all=0
  execs_all=0
  crashed=""
  for seed in "${seeds[@]}"; do
    corpus="$scratch/corpus-$target-$seed"
    rm -rf "$corpus"
    mkdir -p "$corpus"
    log="$scratch/$target-$seed.log"
    if ! /usr/bin/time -f 'cpu %U %S' -o "$scratch/$target.time" \
        "$bin_dir/$target" "$corpus" "$data/seeds/$target" \
        -runs="$runs" -seed="$seed" -dict="$data/dict/$target.dict" \
        -max_len="$max_len" -artifact_prefix="$scratch/" -print_final_stats=1 \
        > "$log" 2>&1; then
      mkdir -p "artifacts/$target"
      cp "$log" "artifacts/$target/bench-seed$seed.log"
      # The input that crashed (libFuzzer names it crash-, leak-, oom- or
      # timeout-<sha1>), to reproduce: fuzz/target/.../<target> <file>.
      find "$scratch" -maxdepth 1 -type f \( -name 'crash-*' -o -name 'leak-*' -o -name 'oom-*' -o -name 'timeout-*' \) \
        -exec cp {} "artifacts/$target/" \;
      crashed="$seed"
      break
    fi
    # Every seed's finds, together (fuzz/protocol-coverage.sh reads them).
    cp "$corpus"/* "$out"/ 2>/dev/null || true
    execs="$(sed -n 's/^stat::number_of_executed_units: //p' "$log")"
    cpu="$(awk '/^cpu / { printf "%.2f", $2 + $3 }' "$scratch/$target.time")"
    cpu_all="$(awk -v a="$cpu_all" -v b="$cpu" 'BEGIN { printf "%.2f", a + b }')"
    execs_all=$((execs_all + execs))
    rate="$(awk -v n="$execs" -v c="$cpu" 'BEGIN { if (c > 0) printf "%d", n / c; else print 0 }')"
    # The last status line: "#N DONE cov: C ft: F corp: K/..."
    done_line="$(grep -E '^#[0-9]+' "$log" | tail -n 1)"
    cov="$(sed -nE 's/.* cov: ([0-9]+).*/\1/p' <<< "$done_line")"
    ft="$(sed -nE 's/.* ft: ([0-9]+).*/\1/p' <<< "$done_line")"
    corp="$(sed -nE 's/.* corp: ([0-9]+).*/\1/p' <<< "$done_line")"
    rates+=("$rate")
    summaries+=("$rate ${cov:-?} ${ft:-?} ${corp:-?}")
  done
  if [ -n "$crashed" ]; then
    echo "| $target | crashed: see fuzz/artifacts/$target/bench-seed$crashed.log | | | | | | | | |"
    status=1
    continue
  fi
  # The median seed's run (the lower middle one of an even count) gives
  # the rate and its cov/ft/corpus.
  read -r rate cov ft corp <<< "$(printf '%s\n' "${summaries[@]}" | sort -n | sed -n "$(( (${#summaries[@]} + 1) / 2 ))p")"
  goal="$(aim "$target")"
  met=no
  [ "$rate" -ge "$goal" ] && met=yes
  per_seed="$(IFS=' '; echo "${rates[*]}" | sed 's/ / \/ /g')"
  echo "| $target | $execs_all | $cpu_all | $rate | $per_seed | $goal | $met | $cov | $ft | $corp |"
done
echo
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
exit "$status"
