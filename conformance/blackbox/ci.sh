#!/usr/bin/env bash
# The black-box campaigns with fixed seeds and bounded counts, compared with
# the recorded results in conformance/findings/ both ways (a new violation or
# a vanished one fails), then FINDINGS.md checked against what the recorded
# results generate. `--record` re-records the results, the fuzzer's failure
# files (conformance/findings/fuzz/) and FINDINGS.md instead.
#
# Another adapter's campaign: add one `campaign` line (any adapter command).
set -euo pipefail
cd "$(dirname "$0")/../.."
mode=--check
if [ "${1:-}" = --record ]; then
    mode=--record
    fuzz_out=conformance/findings/fuzz
    rm -rf "$fuzz_out"
else
    # Only a check's failure files are temporary (a trap on the recorded
    # directory would delete what --record just wrote).
    fuzz_out=$(mktemp -d)
    trap 'rm -rf "$fuzz_out"' EXIT
fi

cargo build --release --locked -p sealwire-blackbox
cargo test --release --locked -p sealwire-blackbox
# Build the vodozemac adapter before the clock starts (its run.sh builds it
# too, quietly, when needed).
cargo build --release --locked --manifest-path conformance/adapters/vodozemac/Cargo.toml \
    --target-dir conformance/adapters/vodozemac/target

bb=target/release/sealwire-blackbox
. conformance/blackbox/pool.bash
pool_init
pool_install_adapters
campaign() {
    name=$1
    shift
    pool_run "$name" "$bb" campaign --name "$name" "$@" "$mode" "conformance/findings/$name.json" --fuzz-out "$fuzz_out"
}
# Every protocol-2 adapter of issues 13 and 14, bounded: 64 cases and 2,000
# fuzz inputs with seed 1 each (the same seed for every implementation, so
# the results compare; each case starts a Python or Node process); the
# reference and vodozemac, whose cases are cheap, 256 cases and 10,000
# inputs. Longest first, so the pool ends together. Times:
# conformance/blackbox/README.md. The full campaigns:
# conformance/blackbox/full-campaigns.sh.
campaign privacyresearch-ts --impl conformance/adapters/privacyresearch-ts/run.sh --cases 64 --runs 2000 --seed 1
campaign libsignal-wa-live --impl 'conformance/adapters/libsignal-wa/run.sh --store live' --cases 64 --runs 2000 --seed 1
campaign python --impl conformance/adapters/python/adapter.sh --cases 64 --runs 2000 --seed 1
campaign libsignal-wa-copy --impl 'conformance/adapters/libsignal-wa/run.sh --store copy' --cases 64 --runs 2000 --seed 1
campaign libsignal-node-live --impl 'conformance/adapters/libsignal-node/run.sh --store live' --cases 64 --runs 2000 --seed 1
campaign libsignal-node-copy --impl 'conformance/adapters/libsignal-node/run.sh --store copy' --cases 64 --runs 2000 --seed 1
campaign omemo-dr --impl conformance/adapters/omemo-dr/run.sh --cases 64 --runs 2000 --seed 1
campaign oldmemo --impl conformance/adapters/oldmemo/run.sh --cases 64 --runs 2000 --seed 1
campaign libsignal-client --impl conformance/adapters/libsignal-client/run.sh --cases 64 --runs 2000 --seed 1
campaign libolm --impl conformance/adapters/libolm/run.sh --cases 64 --runs 2000 --seed 1
campaign vodozemac --impl conformance/adapters/vodozemac/run.sh --cases 256 --runs 10000 --seed 1
campaign reference --impl target/release/reference-blackbox-adapter --cases 256 --runs 10000 --seed 1
pool_wait

if [ "$mode" = --record ]; then
    "$bb" findings --json conformance/findings/summary.json
else
    "$bb" findings --check
fi
