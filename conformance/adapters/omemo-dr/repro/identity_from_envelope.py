#!/usr/bin/env python3
"""Reproducer (README.md, candidate finding 2): a repeated PreKeyWhisperMessage
whose identity-key field was changed in transit still decrypts on the
existing session, and omemo-dr hands the changed key to
Store.save_identity (SessionBuilder.process).

    conformance/adapters/omemo-dr/.venv/bin/python \
        conformance/adapters/omemo-dr/repro/identity_from_envelope.py

Exit status 0 when the behaviour is reproduced, 1 when it is not.
"""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import adapter as A  # noqa: E402


def main() -> int:
    srv = A.OmemoDrAdapter().server

    def ok(op, **fields):
        r = srv.answer({"id": 1, "op": op, **fields})
        assert "ok" in r, (op, r)
        return r["ok"]

    ok("hello", protocol=2, seed="22" * 32)
    alice = ok("create_party", one_time_prekeys=1)["party"]
    bob = ok("create_party", one_time_prekeys=1)["party"]
    bundle = ok("publish_bundle", party=bob, one_time_prekey=True)["bundle"]
    first = ok("initiate", party=alice, bundle=bundle, plaintext="aa")
    bob_session = ok("respond", party=bob, message=first["message"])["session"]
    # Alice has not heard back, so her next message is a PreKeyWhisperMessage too.
    second = bytes.fromhex(ok("encrypt", session=first["session"], plaintext="bb")["message"])
    field = next(f for f in ok("layout", message=second.hex())["fields"] if f["name"] == "identity_key")
    real = second[field["offset"]:field["offset"] + field["length"]]
    tampered = bytearray(second)
    tampered[field["offset"] + 5] ^= 0x10
    fake = bytes(tampered[field["offset"]:field["offset"] + field["length"]])
    party = srv.handles[bob]
    before = len(party.saved_identities)
    answer = srv.answer({"id": 2, "op": "decrypt", "session": bob_session, "message": tampered.hex()})
    saved = party.saved_identities[before:]
    print(f"decrypt of the tampered message: {answer}")
    print(f"real identity key    {real.hex()}")
    print(f"saved identity keys  {[k.hex() for k in saved]}")
    reproduced = answer.get("ok", {}).get("plaintext") == "bb" and fake in saved
    print("reproduced" if reproduced else "not reproduced")
    return 0 if reproduced else 1


if __name__ == "__main__":
    sys.exit(main())
