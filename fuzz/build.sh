#!/usr/bin/env bash
# Builds the fuzz targets: `cargo fuzz build` with the arguments given, with
# coverage instrumentation on this repository's crates only (see
# fuzz/rustc-wrapper.sh). Every script here builds through it:
#
#   fuzz/build.sh --sanitizer none -O
#   fuzz/build.sh --sanitizer none -O --features planted-flaws --target-dir target-flaws
#   cargo +nightly ... : TOOLCHAIN=+nightly fuzz/build.sh --sanitizer address -O --target-dir target/address
set -euo pipefail
cd "$(dirname "$0")"
command -v cargo-fuzz >/dev/null 2>&1 || cargo install --locked cargo-fuzz
export RUSTC_WRAPPER="$PWD/rustc-wrapper.sh"
# Cargo's fingerprints ignore RUSTC_WRAPPER; a flag of its own in RUSTFLAGS
# (which cargo-fuzz appends to its own) makes a target directory built
# without the wrapper rebuild instead of keeping fully instrumented crates.
export RUSTFLAGS="${RUSTFLAGS:-} --cfg sealwire_fuzz_scoped_coverage"
# shellcheck disable=SC2086 # TOOLCHAIN is one optional word (+nightly)
exec cargo ${TOOLCHAIN:-} fuzz build "$@"
