#!/usr/bin/env bash
# The full black-box campaigns of the protocol-2 adapters (issues 13 and 14):
# 3,000 random cases and 10,000 fuzz inputs, seed 1, the same for every
# implementation so the results compare; 3,000 cases give a schedule that one
# case in a thousand reaches a 95% chance of being run (1 - 0.999^3000).
# Too slow for CI with Python and Node adapters (each case starts a fresh
# adapter process), so ci.sh runs a bounded subset of each (64 cases, 2,000
# fuzz inputs, the same seed) and this script records or checks the full
# ones in conformance/findings/full/<name>.json. Expected duration, from the
# per-case times of the bounded campaigns (conformance/blackbox/README.md):
# up to some 14 hours for all of them on a loaded 2-core machine, most of it
# in the Node and oldmemo adapters, one at a time; pool.bash runs two at
# once by default (BLACKBOX_JOBS), about half that. The reference alone:
# see the README.
#
#   bash conformance/blackbox/full-campaigns.sh            # check against the recorded full results
#   bash conformance/blackbox/full-campaigns.sh --record   # record them
#   bash conformance/blackbox/full-campaigns.sh --record libolm   # one campaign
#   bash conformance/blackbox/full-campaigns.sh --record libolm omemo-dr   # some
set -euo pipefail
cd "$(dirname "$0")/../.."
mode=--check
if [ "${1:-}" = --record ]; then
    mode=--record
    shift
fi
only=" $* "
mkdir -p conformance/findings/full
fuzz_out=$(mktemp -d)
trap 'rm -rf "$fuzz_out"' EXIT
cargo build --release --locked -p sealwire-blackbox
bb=target/release/sealwire-blackbox
. conformance/blackbox/pool.bash
pool_init
pool_install_adapters
campaign() {
    name=$1
    shift
    if [ "$only" != "  " ] && [[ "$only" != *" $name "* ]]; then
        return 0
    fi
    pool_run "$name" "$bb" campaign --name "$name" "$@" --cases 3000 --runs 10000 --seed 1 \
        "$mode" "conformance/findings/full/$name.json" --fuzz-out "$fuzz_out"
}
campaign reference --impl target/release/reference-blackbox-adapter
campaign libolm --impl conformance/adapters/libolm/run.sh
campaign python --impl conformance/adapters/python/adapter.sh
campaign omemo-dr --impl conformance/adapters/omemo-dr/run.sh
campaign oldmemo --impl conformance/adapters/oldmemo/run.sh
campaign libsignal-client --impl conformance/adapters/libsignal-client/run.sh
campaign libsignal-wa-copy --impl 'conformance/adapters/libsignal-wa/run.sh --store copy'
campaign libsignal-wa-live --impl 'conformance/adapters/libsignal-wa/run.sh --store live'
campaign libsignal-node-copy --impl 'conformance/adapters/libsignal-node/run.sh --store copy'
campaign libsignal-node-live --impl 'conformance/adapters/libsignal-node/run.sh --store live'
campaign privacyresearch-ts --impl conformance/adapters/privacyresearch-ts/run.sh
pool_wait
