#!/usr/bin/env python3
"""Reproducer (README.md, candidate finding), through the adapter protocol:
a first message whose key exchange has bit 255 of the identity key's
Curve25519 encoding flipped is accepted by `respond`.

    python3 conformance/adapters/oldmemo/repro/identity_top_bit.py [ADAPTER COMMAND]

Exit status 0 when reproduced, 1 otherwise.
"""

import os
import sys

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", ".."))

from v2_smoke import Adapter  # noqa: E402


def main() -> int:
    a = Adapter(sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "..", "run.sh"))
    a.ok("hello", protocol=2, seed="33" * 32)
    alice = a.ok("create_party", one_time_prekeys=1)["party"]
    bob = a.ok("create_party", one_time_prekeys=1)["party"]
    bundle = a.ok("publish_bundle", party=bob, one_time_prekey=True)["bundle"]
    first = a.ok("initiate", party=alice, bundle=bundle, plaintext="aa" * 8)
    field = next(f for f in a.ok("layout", message=first["message"])["fields"] if f["name"] == "key_exchange.ik")
    tampered = bytearray(bytes.fromhex(first["message"]))
    tampered[field["offset"] + field["length"] - 1] ^= 0x80
    answer = a.call("respond", party=bob, message=tampered.hex())
    a.close()
    print(f"respond with bit 255 of the identity key flipped: {answer}")
    ok = answer.get("ok", {}).get("plaintext") == "aa" * 8
    print("reproduced" if ok else "not reproduced")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
