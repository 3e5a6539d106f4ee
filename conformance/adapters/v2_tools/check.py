#!/usr/bin/env python3
"""Regression check of the findings' reproducers on the Node libraries.

    python3 conformance/adapters/v2_tools/check.py

Standard library only; needs Node.js 20 and npm (each adapter's run.sh
installs its pinned packages on first use; this script runs each once
first). It runs the reproducers (`repro_libsignal_js.js` for both forks,
`repro_privacyresearch_ts.js`, the maintainer reports' own), which must
behave as recorded (exit 0). The adapters themselves (both store
disciplines of both forks, libsignal-client, the TypeScript port) run their
whole campaigns in conformance/blackbox/ci.sh, which replaced this script's
smoke and overhead checks (`v2_smoke.py` and `measure.py` stay for a quick
manual look). Closing line: `N passed, M failed`; exit status 0 only when
nothing failed.
"""

import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ADAPTERS = os.path.dirname(HERE)
REPO = os.path.dirname(os.path.dirname(ADAPTERS))
FINDINGS = os.path.join(os.path.dirname(ADAPTERS), "findings")

# Installed before the reproducers run (they load these packages).
INSTALL = [
    "libsignal-wa/run.sh --store copy",
    "libsignal-node/run.sh --store copy",
    "privacyresearch-ts/run.sh",
]
REPROS = [
    ["node", os.path.join(HERE, "repro_libsignal_js.js"), "libsignal-wa"],
    ["node", os.path.join(HERE, "repro_libsignal_js.js"), "libsignal-node"],
    ["node", os.path.join(HERE, "repro_privacyresearch_ts.js")],
    # The maintainer reports' own reproducers (conformance/findings/).
    ["node", os.path.join(FINDINGS, "repro_sw_2026_003_log_keys.js"), "libsignal-wa"],
    ["node", os.path.join(FINDINGS, "repro_sw_2026_003_log_keys.js"), "libsignal-node"],
    ["node", os.path.join(FINDINGS, "repro_sw_2026_004_signed_prekey.js"), "libsignal-wa"],
    ["node", os.path.join(FINDINGS, "repro_sw_2026_004_signed_prekey.js"), "libsignal-node"],
    ["node", os.path.join(FINDINGS, "repro_sw_2026_008_ts_late_message.js")],
]


def main():
    passed = failed = 0

    def verdict(ok, what):
        nonlocal passed, failed
        print(f"{'ok  ' if ok else 'FAIL'} {what}", flush=True)
        if ok:
            passed += 1
        else:
            failed += 1

    for rel in INSTALL:
        cmd = f"'{os.path.join(ADAPTERS, rel.split()[0])}' {' '.join(rel.split()[1:])}".strip()
        # An adapter on empty input installs, then exits; output to stderr.
        subprocess.run(["sh", "-c", cmd], input="", text=True, stdout=subprocess.DEVNULL, check=False)
    for argv in REPROS:
        r = subprocess.run(argv, capture_output=True, text=True, cwd=REPO)
        last = (r.stdout.strip().splitlines() or ["(no output)"])[-1]
        verdict(r.returncode == 0, f"{' '.join(os.path.basename(a) for a in argv[1:])}: {last}")
        if r.returncode != 0:
            sys.stdout.write(r.stdout)
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
