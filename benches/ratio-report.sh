#!/usr/bin/env bash
# Runs the seal/open benches and the peers once, then prints the ratio table
# (sealwire / raw AEAD, sealwire / snow, sealwire / vodozemac per size) from
# that one run. Ratios are what we track: absolute times on shared machines
# move by up to 25% between identical runs.
#
# usage: benches/ratio-report.sh [--check] [criterion args...]
#   --check           exit 1 when a tracked target is missed
#   criterion args    e.g. --measurement-time 3 --warm-up-time 1
# env:
#   BENCH_RUSTFLAGS   compiler flags for the run (default: none, the portable
#                     build users get; see benches/README.md for the others)
#   BENCH_FEATURES    extra features of sealwire-benches, e.g. "ring" for
#                     Sealwire's ring AEAD backend plus the raw ring floor
#   CARGO_TARGET_DIR  where to build (default: target); the report reads
#                     $CARGO_TARGET_DIR/criterion
set -euo pipefail
cd "$(dirname "$0")/.."

check=()
if [ "${1:-}" = "--check" ]; then
  check=(--check)
  shift
fi

export RUSTFLAGS="${BENCH_RUSTFLAGS:-}"
target="${CARGO_TARGET_DIR:-target}"

# One run only: drop earlier results of these groups so that no stale
# estimate can enter the ratios.
for group in seal open peers_seal peers_open; do
  rm -rf "${target:?}/criterion/$group"
done

features="peers${BENCH_FEATURES:+,$BENCH_FEATURES}"
echo "== features '${features}', RUSTFLAGS='${RUSTFLAGS}' ($(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | cut -d: -f2- | xargs || true))"
cargo bench --locked -p sealwire-benches --features "$features" --bench seal --bench peers -- --noplot "$@"
cargo run --locked --release -q -p sealwire-benches --bin ratio-report -- "${check[@]}" "$target/criterion"
