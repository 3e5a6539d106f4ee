#!/bin/sh
# The libolm black-box adapter (ADAPTER-v2.md): installs the pinned
# python-olm into ./.venv on first use, then runs adapter.py, which speaks
# the adapter protocol on stdin/stdout. All install output goes to stderr.
set -eu
here="$(cd "$(dirname "$0")" && pwd)"
. "$here/../_v2/venv.sh"
sealwire_venv "$here"
exec "$here/.venv/bin/python" "$here/adapter.py"
