#!/bin/sh
# The reproducers of the candidate findings the Python black-box (protocol 2)
# adapters' READMEs describe (each exits 0 while the library still behaves
# so). The adapters themselves run their whole campaigns in
# conformance/blackbox/ci.sh, which replaced the smoke test (v2_smoke.py, still
# there for a quick manual look). Installs each adapter's venv on first use
# (run.sh / adapter.sh).
# Closing line: "N passed, M failed"; exit status 1 if anything failed.
set -u
here="$(cd "$(dirname "$0")" && pwd)"
passed=0
failed=0
run() {
  name="$1"; shift
  start=$(date +%s)
  if "$@" >"$tmp/out" 2>"$tmp/err"; then
    passed=$((passed + 1)); verdict=ok
  else
    failed=$((failed + 1)); verdict=FAIL
    cat "$tmp/out"; tail -20 "$tmp/err"
  fi
  echo "$verdict $name ($(tail -1 "$tmp/out"); $(( $(date +%s) - start )) s)"
}
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
# Install each adapter's pinned packages first (an adapter on empty input
# installs, then exits).
for cmd in libolm/run.sh omemo-dr/run.sh oldmemo/run.sh; do
  "$here/$cmd" </dev/null >/dev/null 2>&1 || true
done
run "libolm: pre-key envelope" python3 "$here/libolm/repro/prekey_envelope.py"
run "omemo-dr: pre-key envelope" python3 "$here/libolm/repro/prekey_envelope.py" "$here/omemo-dr/run.sh"
run "omemo-dr: unbounded skipped keys" python3 "$here/omemo-dr/repro/skipped_keys_unbounded.py"
run "omemo-dr: identity from the envelope" "$here/omemo-dr/.venv/bin/python" "$here/omemo-dr/repro/identity_from_envelope.py"
run "oldmemo: identity key bit 255" python3 "$here/oldmemo/repro/identity_top_bit.py"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
