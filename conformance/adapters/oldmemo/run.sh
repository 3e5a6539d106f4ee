#!/bin/sh
# The oldmemo black-box adapter (ADAPTER-v2.md): installs the pinned
# oldmemo into ./.venv on first use, then runs adapter.py, which speaks
# the adapter protocol on stdin/stdout. All install output goes to stderr.
set -eu
here="$(cd "$(dirname "$0")" && pwd)"
. "$here/../_v2/venv.sh"
sealwire_venv "$here"
# oldmemo numbers pre keys in the iteration order of a frozenset of bytes,
# which follows Python's per-process hash seed; fixing it makes the same
# hello seed give the same bytes (README.md, "Seeding").
PYTHONHASHSEED=0 exec "$here/.venv/bin/python" "$here/adapter.py"
