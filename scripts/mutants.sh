#!/usr/bin/env bash
# Mutation testing of the reference crate (protocol/src) with cargo-mutants.
#
#   scripts/mutants.sh                 # every mutant (about 40 min on 2 cores, MUTANTS_JOBS=2)
#   scripts/mutants.sh --shard 3/24    # one deterministic 1/24 sample
#   scripts/mutants.sh -f protocol/src/seal.rs   # the mutants of one file (phase 3 adds it to the ring files)
#   MUTANTS_TIMEOUT=600 scripts/...    # per-mutant test timeout in seconds (default 300)
#   MUTANTS_JOBS=2 scripts/...         # parallel build/test jobs (default 1)
#
# Three phases, so that the whole run fits in an afternoon:
#   1. every mutant of the default build against the reference crate's own
#      tests (unit tests and protocol/tests; seconds per mutant);
#   2. only the mutants phase 1 did not catch (`--iterate` skips the caught
#      and unviable ones) again, now also against the conformance suite
#      (the vectors run against the reference, the property model, the fuzz
#      oracles' regression seeds);
#   3. the sealing core built with the ring backend (`--features ring`:
#      protocol/src/seal.rs and seal/with_ring.rs, which the default build
#      does not compile), against the crate's tests, into mutants-ring/.
# A mutant counts as caught if a phase catches it. Survivors are listed in
# mutants.out/missed.txt and mutants-ring/mutants.out/missed.txt; each must
# be caught by a new test or added to scripts/mutants-exclusions.txt with a
# one-line reason.
set -euo pipefail
case "${1:-}" in
  -h|--help)
    # The usage is the comment block above: print it without the '#'.
    sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'
    exit 0
    ;;
esac
cd "$(dirname "$0")/.."

if ! command -v cargo-mutants >/dev/null 2>&1; then
  cargo install --locked cargo-mutants
fi

# scripts/mutants-exclusions.txt: one regex per line (matched against the
# names `cargo mutants --list` prints), each directly under a `# reason` line.
excludes=()
previous=''
while IFS= read -r line; do
  case "$line" in
    '') ;;
    '#'*) ;;
    *)
      case "$previous" in '#'*) ;; *) echo "mutants-exclusions.txt: no '# reason' line above: $line"; exit 1 ;; esac
      excludes+=(--exclude-re "$line")
      ;;
  esac
  previous=$line
done < scripts/mutants-exclusions.txt

common=(--package sealwire --timeout "${MUTANTS_TIMEOUT:-300}" --jobs "${MUTANTS_JOBS:-1}")
if cargo nextest --version >/dev/null 2>&1; then
  common+=(--test-tool nextest)
fi

# count KIND [DIR]: how many mutants DIR/mutants.out/KIND.txt lists.
count() { local f="${2:-.}/mutants.out/$1.txt"; if [ -f "$f" ]; then wc -l < "$f"; else echo 0; fi; }

echo "== phase 1: the reference crate's own tests"
status=0
cargo mutants "${common[@]}" --test-package sealwire --exclude protocol/src/seal/with_ring.rs \
  "${excludes[@]}" "$@" || status=$?
caught1=$(count caught)
unviable=$(count unviable)
left=$(( $(count missed) + $(count timeout) ))
# cargo-mutants exits 2 when mutants were missed, 3 on timeouts; both are
# handed to phase 2. Anything else is a failure of the run itself.
case "$status" in 0|2|3) ;; *) echo "phase 1 failed (exit $status)"; exit "$status" ;; esac

caught2=0
missed=0
timeout=0
if [ "$left" -gt 0 ]; then
  echo "== phase 2: $left survivors against the conformance suite too"
  rm -rf mutants.out.phase1
  cp -r mutants.out mutants.out.phase1
  status=0
  cargo mutants "${common[@]}" --iterate --exclude protocol/src/seal/with_ring.rs \
    --test-package sealwire --test-package sealwire-conformance --test-package sealwire-reference \
    --test-package sealwire-vectors --test-package sealwire-model --test-package sealwire-oracles \
    "${excludes[@]}" "$@" || status=$?
  case "$status" in 0|2|3) ;; *) echo "phase 2 failed (exit $status)"; exit "$status" ;; esac
  caught2=$(count caught)
  missed=$(count missed)
  timeout=$(count timeout)
fi

echo "== phase 3: the sealing core with the ring backend"
status=0
cargo mutants "${common[@]}" --features ring --test-package sealwire \
  --file protocol/src/seal.rs --file protocol/src/seal/with_ring.rs \
  --output mutants-ring "${excludes[@]}" "$@" || status=$?
case "$status" in 0|2|3) ;; *) echo "phase 3 failed (exit $status)"; exit "$status" ;; esac
echo "ring backend: $(count caught mutants-ring) caught, $(count missed mutants-ring) missed, $(count timeout mutants-ring) timed out, $(count unviable mutants-ring) unviable"
missed=$((missed + $(count missed mutants-ring)))
timeout=$((timeout + $(count timeout mutants-ring)))
caught2=$((caught2 + $(count caught mutants-ring)))
unviable=$((unviable + $(count unviable mutants-ring)))

caught=$((caught1 + caught2))
echo "mutants: $caught caught ($caught1 by the crate's tests, the rest by the conformance suite or in the ring build), $missed missed, $timeout timed out (inconclusive: rerun them with a longer MUTANTS_TIMEOUT), $unviable unviable, $(( ${#excludes[@]} / 2 )) reviewed exclusions"
if [ "$((caught + missed))" -gt 0 ]; then
  echo "score: $(( caught * 100 / (caught + missed) ))% of $((caught + missed)) viable mutants with a verdict"
fi
if [ "$missed" -gt 0 ] || [ "$timeout" -gt 0 ]; then
  echo "survivors: mutants.out/{missed,timeout}.txt, mutants-ring/mutants.out/{missed,timeout}.txt"
  exit 2
fi
