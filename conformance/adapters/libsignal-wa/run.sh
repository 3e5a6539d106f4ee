#!/bin/sh
# Black-box (protocol 2) adapter for npm `libsignal` 6.0.0
# (conformance/ADAPTER-v2.md). Installs the pinned packages of
# package-lock.json into this directory's node_modules when they are missing
# or stale (npm ci; all install output to stderr), then runs the adapter.
# Usage: conformance/adapters/libsignal-wa/run.sh --store copy|live  (Node.js 20)
set -eu
here="$(cd "$(dirname "$0")" && pwd)"
stamp="$here/node_modules/.sealwire-lock"
if ! cmp -s "$here/package-lock.json" "$stamp" 2>/dev/null; then
  (cd "$here" && npm ci --no-audit --no-fund --loglevel=error) 1>&2
  cp "$here/package-lock.json" "$stamp"
fi
exec node "$here/adapter.js" "$@"
