# Sourced by the black-box adapters' run.sh: makes sure the adapter's own
# virtual environment (<adapter>/.venv, gitignored) holds exactly its
# hash-pinned requirements.txt, then returns. Everything it prints goes to
# stderr (stdout is the adapter protocol's). Idempotent: when the venv was
# built from the same requirements.txt it only compares one file.
#
#   sealwire_venv <adapter directory>
sealwire_venv() {
  _dir="$1"
  _venv="$_dir/.venv"
  _stamp="$_venv/sealwire-requirements.txt"
  if [ -x "$_venv/bin/python" ] && cmp -s "$_dir/requirements.txt" "$_stamp"; then
    return 0
  fi
  if ! python3 -c 'import sys; sys.exit(sys.version_info < (3, 10))' >&2; then
    echo "run.sh: python3 >= 3.10 is needed (found $(python3 --version 2>&1))" >&2
    return 1
  fi
  # One installer at a time when the runner starts several adapters at once.
  exec 9>"$_dir/.venv.lock"
  if command -v flock >/dev/null 2>&1; then flock 9; fi
  if ! { [ -x "$_venv/bin/python" ] && cmp -s "$_dir/requirements.txt" "$_stamp"; }; then
    echo "run.sh: installing $_dir/requirements.txt into $_venv" >&2
    rm -rf "$_venv"
    python3 -m venv "$_venv" >&2
    _pip="$_venv/bin/python -m pip install --quiet --disable-pip-version-check --no-input --require-hashes"
    if [ -f "$_dir/requirements-build.txt" ]; then
      # A package published only as an sdist (named in $SEALWIRE_SDISTS by
      # the adapter's run.sh) is built here, with the pinned build
      # requirements and no build isolation, so every file installed is
      # hash-checked; it needs a C compiler and the Python headers.
      if ! "$_venv/bin/python" -c 'import sysconfig, os, sys; sys.exit(not os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h")))'; then
        echo "run.sh: $SEALWIRE_SDISTS is built from source and needs the Python headers (Python.h; on Debian: python3-dev) and a C compiler" >&2
        return 1
      fi
      $_pip --only-binary :all: -r "$_dir/requirements-build.txt" >&2
      $_pip --only-binary :all: --no-binary "$SEALWIRE_SDISTS" --no-build-isolation \
        -r "$_dir/requirements.txt" >&2
    else
      $_pip --only-binary :all: -r "$_dir/requirements.txt" >&2
    fi
    "$_venv/bin/python" -m pip check >&2
    cat "$_dir/requirements.txt" > "$_stamp"
  fi
  exec 9>&-
}
