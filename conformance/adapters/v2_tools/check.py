#!/usr/bin/env python3
"""Regression check of the Node black-box adapters against what is recorded.

    python3 conformance/adapters/v2_tools/check.py

Standard library only; needs Node.js 20 and npm (each adapter's run.sh
installs its pinned packages on first use). For every configuration it runs

1. `v2_smoke.py`: the set of failing checks must be exactly the recorded
   one (none, or, under `--store live`, the three state-after-rejection
   checks the libraries' findings explain: README.md of libsignal-wa);
2. `measure.py` (40 turns): the observed overhead lies in the declared range
   and export_state is deterministic;

and then the reproducers (`repro_libsignal_js.js` for both forks,
`repro_privacyresearch_ts.js`), which must behave as recorded (exit 0).
A new failure or a vanished one fails the check. Closing line:
`N passed, M failed`; exit status 0 only when nothing failed.
"""

import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ADAPTERS = os.path.dirname(HERE)
REPO = os.path.dirname(os.path.dirname(ADAPTERS))
FINDINGS = os.path.join(os.path.dirname(ADAPTERS), "findings")

LIVE_FAILS = {"state unchanged after rejection", "imported state decrypts", "authentic message after a tampered one"}
CONFIGS = [
    ("libsignal-client/run.sh", set()),
    ("libsignal-wa/run.sh --store copy", set()),
    ("libsignal-wa/run.sh --store live", LIVE_FAILS),
    ("libsignal-node/run.sh --store copy", set()),
    ("libsignal-node/run.sh --store live", LIVE_FAILS),
    ("privacyresearch-ts/run.sh", set()),
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

    for rel, expected in CONFIGS:
        cmd = f"'{os.path.join(ADAPTERS, rel.split()[0])}' {' '.join(rel.split()[1:])}".strip()
        # Install (if needed) before the timed protocol runs; install output goes to stderr.
        subprocess.run(["sh", "-c", cmd], input="", text=True, stdout=subprocess.DEVNULL, check=False)
        smoke = subprocess.run([sys.executable, os.path.join(ADAPTERS, "v2_smoke.py"), cmd],
                               capture_output=True, text=True, cwd=REPO)
        fails = {line[5:] for line in smoke.stdout.splitlines() if line.startswith("FAIL ")}
        closing = smoke.stdout.strip().splitlines()[-1:] or ["(no output)"]
        ran = closing[0].endswith("failed") and " passed, " in closing[0]
        verdict(ran and fails == expected,
                f"{rel}: smoke {closing[0]}; failing {sorted(fails)}, recorded {sorted(expected)}")
        meas = subprocess.run([sys.executable, os.path.join(HERE, "measure.py"), cmd, "40"],
                              capture_output=True, text=True, cwd=REPO)
        verdict(meas.returncode == 0, f"{rel}: measure {meas.stdout.strip() or meas.stderr.strip()[-300:]}")
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
