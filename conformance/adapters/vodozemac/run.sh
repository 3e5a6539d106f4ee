#!/bin/sh
# Builds the vodozemac adapter into this directory's target/ (pinned by
# Cargo.lock; all build output on stderr) when it is missing or older than
# its sources, and runs it. stdout carries only the adapter protocol.
set -e
here=$(cd "$(dirname "$0")" && pwd)
bin="$here/target/release/sealwire-vodozemac-adapter"
if [ ! -x "$bin" ] || [ -n "$(find "$here/src" "$here/Cargo.toml" "$here/Cargo.lock" -newer "$bin" 2>/dev/null)" ]; then
    cargo build --quiet --release --locked --manifest-path "$here/Cargo.toml" --target-dir "$here/target" 1>&2
fi
exec "$bin"
