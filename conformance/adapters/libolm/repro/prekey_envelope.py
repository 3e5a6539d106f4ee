#!/usr/bin/env python3
"""Reproducer (README.md, candidate findings 1 and 2), through the adapter
protocol: single-bit flips of the unauthenticated envelope of a repeated
pre-key message are accepted by `decrypt` on the responder's session, and an
appended unknown field is accepted both there and by `respond`.

    python3 conformance/adapters/libolm/repro/prekey_envelope.py [ADAPTER COMMAND]

The command defaults to this adapter's run.sh. Exit status 0 when all three
behaviours are reproduced, 1 otherwise.
"""

import os
import sys

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", ".."))

from v2_smoke import Adapter  # noqa: E402


def main() -> int:
    command = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "..", "run.sh")
    a = Adapter(command)
    a.ok("hello", protocol=2, seed="00" * 32)
    alice = a.ok("create_party", one_time_prekeys=2)["party"]
    bob = a.ok("create_party", one_time_prekeys=2)["party"]
    bundle = a.ok("publish_bundle", party=bob, one_time_prekey=True)["bundle"]
    first = a.ok("initiate", party=alice, bundle=bundle, plaintext="aa" * 8)
    second = a.ok("encrypt", session=first["session"], plaintext="bb" * 8)["message"]
    bob_session = a.ok("respond", party=bob, message=first["message"])["session"]
    state = a.ok("export_state", session=bob_session)["state"]
    raw = bytes.fromhex(second)
    accepted = {}
    for f in a.ok("layout", message=second)["fields"]:
        if f["authenticated"]:
            continue
        for off in range(f["offset"], f["offset"] + f["length"]):
            for bit in range(8):
                t = bytearray(raw)
                t[off] ^= 1 << bit
                copy = a.ok("import_state", party=bob, state=state)["session"]
                if "ok" in a.call("decrypt", session=copy, message=t.hex()):
                    accepted[f["name"]] = accepted.get(f["name"], 0) + 1
                a.ok("free", handle=copy)
    copy = a.ok("import_state", party=bob, state=state)["session"]
    extended = a.call("decrypt", session=copy, message=second + "2801")
    bundle2 = a.ok("publish_bundle", party=bob, one_time_prekey=True)["bundle"]
    first2 = a.ok("initiate", party=alice, bundle=bundle2, plaintext="cc" * 8)
    responded = a.call("respond", party=bob, message=first2["message"] + "2801")
    a.close()
    print(f"single-bit flips accepted by decrypt, per envelope field: {accepted}")
    print(f"repeated pre-key message + unknown field 28 01: {extended}")
    print(f"first message + unknown field 28 01, respond: {responded}")
    ok = sum(accepted.values()) > 0 and "ok" in extended and "ok" in responded
    print("reproduced" if ok else "not reproduced")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
