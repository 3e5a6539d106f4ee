#!/bin/sh
# The black-box campaigns with fixed seeds and bounded counts, compared with
# the recorded results in conformance/findings/ both ways (a new violation or
# a vanished one fails), then FINDINGS.md checked against what the recorded
# results generate. `--record` re-records the results, the fuzzer's failure
# files (conformance/findings/fuzz/) and FINDINGS.md instead.
#
# Another adapter's campaign: add one `campaign` line (any adapter command).
set -eu
cd "$(dirname "$0")/../.."
mode=--check
fuzz_out=$(mktemp -d)
trap 'rm -rf "$fuzz_out"' EXIT
if [ "${1:-}" = --record ]; then
    mode=--record
    fuzz_out=conformance/findings/fuzz
    rm -rf "$fuzz_out"
fi

cargo build --release --locked -p sealwire-blackbox
cargo test --release --locked -p sealwire-blackbox
# Build the vodozemac adapter before the clock starts (its run.sh builds it
# too, quietly, when needed).
cargo build --release --locked --manifest-path conformance/adapters/vodozemac/Cargo.toml \
    --target-dir conformance/adapters/vodozemac/target

bb=target/release/sealwire-blackbox
campaign() {
    name=$1
    shift
    start=$(date +%s)
    "$bb" campaign --name "$name" "$@" "$mode" "conformance/findings/$name.json" --fuzz-out "$fuzz_out"
    echo "ci.sh: campaign $name took $(($(date +%s) - start)) s"
}
campaign reference --impl target/release/reference-blackbox-adapter --cases 256 --runs 10000 --seed 1
campaign vodozemac --impl conformance/adapters/vodozemac/run.sh --cases 256 --runs 10000 --seed 1
# libolm (issue 13's third CI target): the bounded subset, 64 cases and
# 2,000 fuzz inputs with seed 1; 55 s on this machine (2 Dec 2026, idle,
# python-olm already installed by conformance/adapters/libolm/run.sh).
campaign libolm --impl conformance/adapters/libolm/run.sh --cases 64 --runs 2000 --seed 1
# The other protocol-2 adapters of issues 13 and 14 (each run.sh installs its
# locked packages into its own directory on first use). Bounded subset: 64
# cases and 2,000 fuzz inputs with seed 1 each (each case starts a Python or
# Node process); the full campaigns (256 / 10,000, seed 1) are
# conformance/blackbox/full-campaigns.sh. These seven take several minutes
# each on 2 cores and have not yet been timed or re-checked one after another
# on a quiet machine, so CI does not run them yet: BLACKBOX_ALL=1 does (and
# `--record` always re-records them). Their recorded results stay in
# conformance/findings/ and FINDINGS.md is checked against them below.
if [ "${BLACKBOX_ALL:-0}" = 1 ] || [ "$mode" = --record ]; then
    campaign python --impl conformance/adapters/python/adapter.sh --cases 64 --runs 2000 --seed 1
    campaign omemo-dr --impl conformance/adapters/omemo-dr/run.sh --cases 64 --runs 2000 --seed 1
    campaign oldmemo --impl conformance/adapters/oldmemo/run.sh --cases 64 --runs 2000 --seed 1
    campaign libsignal-client --impl conformance/adapters/libsignal-client/run.sh --cases 64 --runs 2000 --seed 1
    campaign libsignal-wa-copy --impl 'conformance/adapters/libsignal-wa/run.sh --store copy' --cases 64 --runs 2000 --seed 1
    # Not yet recorded (its fuzzer had not finished after 20 min under load;
    # conformance/findings/libsignal-wa-live.notes.md has the model's results):
    # campaign libsignal-wa-live --impl 'conformance/adapters/libsignal-wa/run.sh --store live' --cases 64 --runs 2000 --seed 1
    campaign libsignal-node-copy --impl 'conformance/adapters/libsignal-node/run.sh --store copy' --cases 64 --runs 2000 --seed 1
    # Not yet recorded (its fuzzer had not finished after 20 min under load;
    # conformance/findings/libsignal-node-live.notes.md has the model's results):
    # campaign libsignal-node-live --impl 'conformance/adapters/libsignal-node/run.sh --store live' --cases 64 --runs 2000 --seed 1
    campaign privacyresearch-ts --impl conformance/adapters/privacyresearch-ts/run.sh --cases 64 --runs 2000 --seed 1

fi

if [ "$mode" = --record ]; then
    "$bb" findings --json conformance/findings/summary.json
else
    "$bb" findings --check
fi
