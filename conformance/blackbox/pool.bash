# Runs black-box campaigns a few at a time (sourced by ci.sh and
# full-campaigns.sh). A campaign spends most of its time waiting on its
# adapter's process (each case starts a fresh Python or Node process), so on
# 2 cores two campaigns at once take about as long as one: measured
# 156 s one after the other and 66 s side by side for libsignal-client and
# omemo-dr (conformance/blackbox/README.md). Each campaign is seeded and
# independent of time (the per-request timeout is 10 s, far above any
# request), so running them side by side changes no result.
#
#   pool_init            # once: BLACKBOX_JOBS campaigns at once (default: nproc)
#   pool_install_adapters  # each adapter's locked packages, one at a time
#   pool_run NAME CMD... # starts CMD as campaign NAME when a slot is free
#   pool_wait            # waits for all, prints each log in start order,
#                        # returns 1 if any campaign failed
#
# Each campaign's output goes to its own log, printed whole when all are
# done, so the logs do not interleave.

pool_init() {
    pool_jobs=${BLACKBOX_JOBS:-$(nproc 2>/dev/null || echo 2)}
    case "$pool_jobs" in
        '' | *[!0-9]* | 0)
            echo "BLACKBOX_JOBS must be a positive integer, not '$pool_jobs'" >&2
            return 2
            ;;
    esac
    pool_dir=$(mktemp -d)
    pool_names=()
    echo "pool: $pool_jobs campaigns at a time (BLACKBOX_JOBS)"
}

pool_run() {
    local name=$1
    shift
    while [ "$(jobs -rp | wc -l)" -ge "$pool_jobs" ]; do
        wait -n || true
    done
    pool_names+=("$name")
    (
        start=$(date +%s)
        if "$@" >"$pool_dir/$name.log" 2>&1; then
            status=ok
        else
            status="FAILED (exit $?)"
        fi
        echo "campaign $name: $status, took $(($(date +%s) - start)) s" >"$pool_dir/$name.status"
    ) &
}

pool_wait() {
    wait
    local failed=0 name
    for name in "${pool_names[@]}"; do
        echo "== campaign $name"
        cat "$pool_dir/$name.log"
        if [ -f "$pool_dir/$name.status" ]; then
            cat "$pool_dir/$name.status"
        else
            echo "campaign $name: FAILED (no status written)"
        fi
        grep -q ': ok, took' "$pool_dir/$name.status" 2>/dev/null || failed=1
    done
    if [ "$failed" -ne 0 ]; then
        echo "failed campaigns:"
        grep -h -v ': ok, took' "$pool_dir"/*.status 2>/dev/null || true
    fi
    rm -rf "$pool_dir"
    return "$failed"
}

# Each adapter's run.sh installs its locked packages into its own directory
# on first use: done here, one adapter at a time, so that two campaigns of
# one adapter (the two store disciplines) never install side by side. An
# adapter given no input exits.
pool_install_adapters() {
    local run log
    log=$(mktemp)
    for run in conformance/adapters/{libolm,omemo-dr,oldmemo,libsignal-client,privacyresearch-ts}/run.sh \
        'conformance/adapters/libsignal-wa/run.sh --store copy' \
        'conformance/adapters/libsignal-node/run.sh --store copy' \
        conformance/adapters/python/adapter.sh conformance/adapters/vodozemac/run.sh; do
        # shellcheck disable=SC2086 # the command and its arguments, split on purpose
        if ! $run </dev/null >/dev/null 2>"$log"; then
            cat "$log" >&2
            echo "pool: $run failed to install or start" >&2
            rm -f "$log"
            return 1
        fi
    done
    rm -f "$log"
}
