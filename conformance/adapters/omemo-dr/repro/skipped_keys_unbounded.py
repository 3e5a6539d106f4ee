#!/usr/bin/env python3
"""Reproducer (README.md, candidate finding 1), through the adapter
protocol: with 999 of every 1000 messages dropped, the receiving session
stores every skipped message key; the count grows without a cap.

    python3 conformance/adapters/omemo-dr/repro/skipped_keys_unbounded.py [ADAPTER COMMAND] [MESSAGES]

Defaults: this adapter's run.sh, 8000 messages. Exit status 0 when more than
2,000 keys are stored at the end (reproduced), 1 otherwise.
"""

import os
import sys

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", ".."))

from v2_smoke import Adapter  # noqa: E402


def main() -> int:
    command = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "..", "run.sh")
    total = int(sys.argv[2]) if len(sys.argv) > 2 else 8000
    a = Adapter(command)
    a.ok("hello", protocol=2, seed="11" * 32)
    alice = a.ok("create_party", one_time_prekeys=1)["party"]
    bob = a.ok("create_party", one_time_prekeys=1)["party"]
    bundle = a.ok("publish_bundle", party=bob, one_time_prekey=True)["bundle"]
    first = a.ok("initiate", party=alice, bundle=bundle, plaintext="00")
    bob_session = a.ok("respond", party=bob, message=first["message"])["session"]
    count = 0
    for k in range(1, total + 1):
        m = a.ok("encrypt", session=bob_session, plaintext="01")["message"]
        if k % 1000 == 0:
            got = a.call("decrypt", session=first["session"], message=m)
            count = a.ok("skipped_count", session=first["session"])["count"]
            print(f"after message {k}: delivered {'ok' in got}, stored skipped keys {count}")
    a.close()
    ok = count > 2000
    print("reproduced" if ok else "not reproduced")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
