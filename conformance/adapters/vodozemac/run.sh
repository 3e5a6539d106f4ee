#!/bin/sh
# Builds the vodozemac adapter into this directory's target/ (pinned by
# Cargo.lock; all build output on stderr) and runs it. stdout carries only
# the adapter protocol.
set -e
here=$(cd "$(dirname "$0")" && pwd)
cargo build --quiet --release --locked --manifest-path "$here/Cargo.toml" --target-dir "$here/target" 1>&2
exec "$here/target/release/sealwire-vodozemac-adapter"
