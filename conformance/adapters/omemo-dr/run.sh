#!/bin/sh
# The omemo-dr black-box adapter (ADAPTER-v2.md): installs the pinned
# omemo-dr into ./.venv on first use, then runs adapter.py, which speaks
# the adapter protocol on stdin/stdout. All install output goes to stderr.
set -eu
here="$(cd "$(dirname "$0")" && pwd)"
# omemo-dr is published only as an sdist (a C extension, its Curve25519 and
# XEdDSA code): built from the hash-pinned sdist, see ../_v2/venv.sh.
SEALWIRE_SDISTS=omemo-dr
. "$here/../_v2/venv.sh"
sealwire_venv "$here"
exec "$here/.venv/bin/python" "$here/adapter.py"
