#!/usr/bin/env bash
# Interop with an independent implementation: installs the pinned PyPI
# packages (x3dh, doubleratchet, cryptography) into a virtual environment and
# runs, against conformance/adapters/python/adapter.py,
#   1. the adapter's own tests (test_adapter.py),
#   2. every conformance vector (sealwire-conformance run --json), checked by
#      check_report.py: every failure must be a documented difference
#      (DIFFERENCES.md, known_differences.json) and nothing else may fail,
#   3. the live interop mode against the reference (sealwire-conformance
#      interop), random conversations in both directions.
#
# Usage: conformance/adapters/python/run.sh [VENV_DIR]
#   VENV_DIR defaults to .venv-python at the repository root (gitignored).
#   SEALWIRE_INTEROP_CONVERSATIONS (default 60) and SEALWIRE_INTEROP_SEED
#   (default 1) set the interop run.
# Needs python3 >= 3.10 (with venv), network access to PyPI (or a pip cache), cargo.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../../.." && pwd)"
venv="${1:-$repo/.venv-python}"
conversations="${SEALWIRE_INTEROP_CONVERSATIONS:-60}"
seed="${SEALWIRE_INTEROP_SEED:-1}"

echo "== python adapter: virtual environment $venv"
if ! python3 -c 'import sys; sys.exit(sys.version_info < (3, 10))'; then
  echo "run.sh: python3 >= 3.10 is needed (found $(python3 --version 2>&1))" >&2
  exit 1
fi
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$here/requirements.txt"
"$venv/bin/python" -m pip check

python="$venv/bin/python"
# The runner starts adapters with `sh -c '<command>'`: quote both paths.
adapter="'$python' '$here/adapter.py'"

echo "== python adapter: its own tests"
(cd "$here" && SEALWIRE_ADAPTER_PYTHON="$python" "$python" -m unittest -q test_adapter)

cd "$repo"
report="$(mktemp "${TMPDIR:-/tmp}/sealwire-python-report.XXXXXX.json")"
trap 'rm -f "$report"' EXIT

echo "== python adapter: conformance vectors"
# `run` exits 1 when any test fails; the documented differences do, so the
# verdict is check_report.py's.
set +e
cargo run --release --locked -q -p sealwire-conformance -- run --quiet --impl "$adapter" --json "$report"
status=$?
set -e
if [ "$status" -gt 1 ]; then
  echo "sealwire-conformance run failed with status $status" >&2
  exit "$status"
fi
"$python" "$here/check_report.py" "$report"

echo "== python adapter: live interop with the reference"
cargo run --release --locked -q -p sealwire-conformance -- interop --impl "$adapter" \
  --conversations "$conversations" --seed "$seed"
