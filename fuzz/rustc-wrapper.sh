#!/usr/bin/env bash
# RUSTC_WRAPPER of the fuzz builds (set by fuzz/build.sh): coverage
# instrumentation only for this repository's own crates.
#
# cargo-fuzz puts SanitizerCoverage (`-Cpasses=sancov-module` and its
# `-Cllvm-args=-sanitizer-coverage-*` options) into RUSTFLAGS, so every
# crate is instrumented, the cryptographic primitives from crates.io
# included. Their code is constant time and not the code under test: its
# edges tell libFuzzer nothing about the protocol, and its comparison
# callbacks (on every AEAD block and field multiplication) took over half
# of some targets' time and filled libFuzzer's comparison tables with values
# from inside the primitives. LLVM's coverage ignore list cannot be given
# to rustc (it is a frontend option of clang, not an -llvm-args flag), so
# this wrapper drops the pass for every crate whose manifest is outside the
# repository. The reference (protocol/), the oracles, the spec model and
# the fuzz targets stay instrumented; sanitizers (-Zsanitizer) are left on
# everywhere.
set -euo pipefail
rustc="$1"
shift
root="$(cd "$(dirname "$0")/.." && pwd -P)"
manifest=""
[ -z "${CARGO_MANIFEST_DIR:-}" ] || manifest="$(cd "$CARGO_MANIFEST_DIR" && pwd -P)"
case "$manifest" in
  "$root" | "$root"/*) exec "$rustc" "$@" ;;
esac
args=()
for arg in "$@"; do
  [ "$arg" = "-Cpasses=sancov-module" ] || args+=("$arg")
done
exec "$rustc" "${args[@]}"
