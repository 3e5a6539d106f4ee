#!/usr/bin/env bash
# Instruction-count regression gate (gungraun + valgrind's callgrind).
#
# Builds the base commit in a temporary git worktree, records its counts as
# the baseline `base`, then runs the same benches on the working tree and
# fails when any instruction count (callgrind `Ir`) rises by more than the
# limit. Counts repeat exactly on noisy, shared machines, so the limit can
# be tight.
#
# usage: benches/gate.sh [BASE]        BASE: any commit-ish (default HEAD~1)
# env:
#   GATE_LIMIT        allowed rise in percent (default 2)
#   GATE_RUSTFLAGS    compiler flags for both builds (default none). Never
#                     AVX-512 code: valgrind cannot run it.
#   CARGO_TARGET_DIR  where the gate builds (default target): the base in
#                     $CARGO_TARGET_DIR/gate-base, the head in
#                     $CARGO_TARGET_DIR/gate-head; your own build there is
#                     left alone
# exit: 0 no regression, 3 regression (gungraun's code), other: error.
#
# The matching gungraun-runner (same version as the `gungraun` library in
# Cargo.lock) is installed with `cargo install --locked` when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$(pwd)"

base_ref="${1:-HEAD~1}"
limit="${GATE_LIMIT:-2}"
target="$(realpath -m "${CARGO_TARGET_DIR:-target}")"
export CARGO_TARGET_DIR="$target"
export RUSTFLAGS="${GATE_RUSTFLAGS:-}"
unset CARGO_ENCODED_RUSTFLAGS
# One home for both runs, so that the head run finds the base's baseline.
export GUNGRAUN_HOME="$target/gungraun-gate"

command -v valgrind >/dev/null || {
  echo "gate: valgrind is required (apt-get install valgrind)" >&2
  exit 1
}

version="$(awk '$0 == "name = \"gungraun\"" { getline; gsub(/[^0-9.]/, "", $0); print; exit }' Cargo.lock)"
if [ -z "$version" ]; then
  echo "gate: no gungraun in Cargo.lock" >&2
  exit 1
fi
if [ "$(gungraun-runner --version 2>/dev/null || true)" != "gungraun-runner $version" ]; then
  echo "== installing gungraun-runner $version"
  cargo install --locked gungraun-runner --version "$version"
fi

base_sha="$(git rev-parse --verify "$base_ref^{commit}")"
worktree="$(mktemp -d)/base"
cleanup() {
  git -C "$root" worktree remove --force "$worktree" 2>/dev/null || true
  rm -rf "$(dirname "$worktree")"
}
trap cleanup EXIT
git worktree add --quiet --detach "$worktree" "$base_sha"

bench=(cargo bench --locked -p sealwire-benches --features gate --bench gate --)
rm -rf "$GUNGRAUN_HOME"

if [ ! -f "$worktree/benches/benches/gate.rs" ]; then
  echo "gate: base $base_ref ($base_sha) has no gate benches: nothing to compare with"
  (cd "$root" && "${bench[@]}")
  exit 0
fi

# Cargo names a workspace member's artifacts by its path relative to the
# workspace and judges freshness by file times, so a binary built from the
# other tree can pass for this one. Each side builds into a directory of the
# gate's own and rebuilds the two workspace crates there every time (the
# user's own build in $CARGO_TARGET_DIR is never cleaned).
fresh=(cargo clean --quiet --release -p sealwire -p sealwire-benches)

echo "== baseline: $base_ref ($base_sha)"
(cd "$worktree" && export CARGO_TARGET_DIR="$target/gate-base" && "${fresh[@]}" && "${bench[@]}" --save-baseline=base)

echo "== head: working tree, limit ir=+${limit}%"
status=0
(cd "$root" && export CARGO_TARGET_DIR="$target/gate-head" && "${fresh[@]}" && "${bench[@]}" --baseline=base --callgrind-limits="ir=${limit}%") || status=$?
if [ "$status" -eq 3 ]; then
  echo "gate: FAILED: an instruction count rose by more than ${limit}% against $base_ref"
elif [ "$status" -eq 0 ]; then
  echo "gate: passed (no instruction count rose by more than ${limit}% against $base_ref)"
fi
exit "$status"
