#!/usr/bin/env bash
# Mutation testing of the reference crate (protocol/src) with cargo-mutants.
#
#   scripts/mutants.sh                 # every mutant (hours on 2 cores)
#   scripts/mutants.sh --shard 3/24    # one deterministic 1/24 sample
#   MUTANTS_TIMEOUT=600 scripts/...    # per-mutant test timeout in seconds (default 300)
#
# The tests that must catch each mutant: the reference crate's own tests
# (unit and protocol/tests) and the conformance suite's vectors run against
# the reference implementation (conformance/tests/run_reference.rs).
# Surviving mutants are listed in mutants.out/missed.txt; each must be
# caught by a new test or added to scripts/mutants-exclusions.txt with a
# one-line reason.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v cargo-mutants >/dev/null 2>&1; then
  cargo install --locked cargo-mutants
fi

excludes=()
while IFS= read -r line; do
  case "$line" in ''|'#'*) continue ;; esac
  excludes+=(--exclude-re "$line")
done < scripts/mutants-exclusions.txt

cargo mutants \
  --package sealwire \
  --test-package sealwire --test-package sealwire-conformance \
  --timeout "${MUTANTS_TIMEOUT:-300}" \
  "${excludes[@]}" \
  "$@" || status=$?

count() { if [ -f "mutants.out/$1.txt" ]; then wc -l < "mutants.out/$1.txt"; else echo 0; fi; }
caught=$(count caught)
missed=$(count missed)
timeout=$(count timeout)
unviable=$(count unviable)
viable=$(wc -l < mutants.out/unviable.txt 2>/dev/null || echo 0)
viable=$((caught + missed + timeout))
echo "mutants: $caught caught, $missed missed, $timeout timed out (inconclusive: rerun them with a longer MUTANTS_TIMEOUT), $unviable unviable"
if [ "$((caught + missed))" -gt 0 ]; then
  echo "score: $(( caught * 100 / (caught + missed) ))% of $((caught + missed)) viable mutants with a verdict ($viable viable in all)"
fi
exit "${status:-0}"
