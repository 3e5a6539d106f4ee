#!/bin/sh
# The adapter command, for both protocols: installs the hash-pinned
# requirements.txt into ./.venv on first use (all install output on stderr),
# then runs adapter.py, which speaks version 1 (ADAPTER.md) or, when the
# first request is a protocol-2 hello, the black-box mode (ADAPTER-v2.md).
set -eu
here="$(cd "$(dirname "$0")" && pwd)"
. "$here/../_v2/venv.sh"
sealwire_venv "$here"
exec "$here/.venv/bin/python" "$here/adapter.py"
