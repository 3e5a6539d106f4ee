#!/usr/bin/env bash
# Builds the fuzz targets: `cargo fuzz build` with the arguments given and
# the flags below. Every script here builds through it:
#
#   fuzz/build.sh --sanitizer none -O
#   fuzz/build.sh --sanitizer none -O --features planted-flaws --target-dir target-flaws
#   TOOLCHAIN=+nightly fuzz/build.sh --sanitizer address -O --target-dir target/address
set -euo pipefail
cd "$(dirname "$0")"
command -v cargo-fuzz >/dev/null 2>&1 || cargo install --locked cargo-fuzz
# Keep short memcmp/bcmp calls as calls. LLVM expands a comparison of a few
# bytes (`plaintext.starts_with(b"\x7fSW!")`) into loads and an integer
# compare after SanitizerCoverage has run, so comparison tracing saw only
# the call's 0-or-not result and libFuzzer never learnt the 4 bytes
# (fuzz/README.md, "Passing magic values"); as calls they reach libFuzzer's
# memcmp and bcmp interceptors, which feed its comparison tables. (clang
# does the same with -fno-builtin-memcmp under -fsanitize=fuzzer.)
# cargo-fuzz appends RUSTFLAGS to its own flags; cargo's fingerprints see
# the change, so a directory built without it is rebuilt.
export RUSTFLAGS="${RUSTFLAGS:-} -Cllvm-args=-max-loads-per-memcmp=0"
# shellcheck disable=SC2086 # TOOLCHAIN is one optional word (+nightly)
exec cargo ${TOOLCHAIN:-} fuzz build "$@"
