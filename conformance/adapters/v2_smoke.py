#!/usr/bin/env python3
"""Smoke test for a black-box (protocol 2) adapter: ADAPTER-v2.md.

    python3 conformance/adapters/v2_smoke.py '<adapter command>'

A quick check for adapter authors, standard library only: a valid hello, a
first message and replies both ways, a message delivered out of order, a
replay, a tampered message (state unchanged after each rejection, where
`export_state` is supported), persistence, and the one-time prekey consumed
once. It is not the property model (`sealwire-blackbox props`), which checks
far more; it exists so an adapter can be tried before the suite is built.
Exit status 0 when every check passed, 1 otherwise; the closing line is
`N passed, M failed`.
"""

import json
import os
import subprocess
import sys


class Adapter:
    def __init__(self, command):
        self.proc = subprocess.Popen(
            ["sh", "-c", command],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            bufsize=1,
        )
        self.next_id = 0

    def call(self, op, **fields):
        req = {"id": self.next_id, "op": op, **fields}
        self.next_id += 1
        self.proc.stdin.write(json.dumps(req) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise SystemExit(f"adapter closed stdout during {op}")
        resp = json.loads(line)
        if resp.get("id") != req["id"]:
            raise SystemExit(f"wrong id in answer to {op}: {resp!r}")
        keys = {"ok", "error", "unsupported"} & resp.keys()
        if len(keys) != 1 or len(resp) != 2:
            raise SystemExit(f"malformed answer to {op}: {resp!r}")
        return resp

    def ok(self, op, **fields):
        resp = self.call(op, **fields)
        if "ok" not in resp:
            raise SystemExit(f"{op} failed: {resp!r}")
        return resp["ok"]

    def close(self):
        self.proc.stdin.close()
        return self.proc.wait(timeout=10)


def main():
    if len(sys.argv) != 2:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    a = Adapter(sys.argv[1])
    passed = failed = 0

    def check(name, cond):
        nonlocal passed, failed
        if cond:
            passed += 1
            print(f"ok   {name}")
        else:
            failed += 1
            print(f"FAIL {name}")

    hello = a.ok("hello", protocol=2, seed=os.urandom(32).hex())
    check("hello announces protocol 2", hello.get("protocol") == 2)
    caps = hello.get("capabilities", [])
    rejected = {"fine": None, "coarse": {"rejected", "duplicate"}}[hello["errors"]]

    def is_rejection(resp):
        if "error" not in resp:
            return False
        return rejected is None or resp["error"] in rejected

    alice = a.ok("create_party", one_time_prekeys=2)["party"]
    bob = a.ok("create_party", one_time_prekeys=2)["party"]
    before = a.ok("unused_prekeys", party=bob)["ids"]
    bundle = a.ok("publish_bundle", party=bob, one_time_prekey=True)
    first_pt = os.urandom(24).hex()
    init = a.ok("initiate", party=alice, bundle=bundle["bundle"], plaintext=first_pt)
    s_a, first = init["session"], init["message"]

    bad_first = first[:-2] + ("00" if first[-2:] != "00" else "01")
    check("tampered first message rejected", is_rejection(a.call("respond", party=bob, message=bad_first)))
    check("rejected first message consumed no prekey", a.ok("unused_prekeys", party=bob)["ids"] == before)

    resp = a.ok("respond", party=bob, message=first)
    s_b = resp["session"]
    check("first message delivered", resp["plaintext"] == first_pt)
    after = a.ok("unused_prekeys", party=bob)["ids"]
    check("one one-time prekey consumed", len(after) == len(before) - 1)

    replies = [(p, a.ok("encrypt", session=s_b, plaintext=p)["message"]) for p in (os.urandom(n).hex() for n in (1, 33, 300))]
    # Out of order: the last one first.
    for p, m in [replies[2], replies[0], replies[1]]:
        got = a.call("decrypt", session=s_a, message=m)
        check("reply delivered out of order", got.get("ok", {}).get("plaintext") == p)
    check("replay rejected", is_rejection(a.call("decrypt", session=s_a, message=replies[0][1])))

    pt = os.urandom(40).hex()
    m = a.ok("encrypt", session=s_a, plaintext=pt)["message"]
    exported = a.call("export_state", session=s_b)
    flipped = m[:10] + format(int(m[10:12], 16) ^ 0x01, "02x") + m[12:]
    check("bit flip rejected", is_rejection(a.call("decrypt", session=s_b, message=flipped)))
    if "ok" in exported:
        again = a.ok("export_state", session=s_b)
        check("state unchanged after rejection", again["state"] == exported["ok"]["state"])
        copy = a.ok("import_state", party=bob, state=again["state"])["session"]
        got = a.call("decrypt", session=copy, message=m)
        check("imported state decrypts", got.get("ok", {}).get("plaintext") == pt)
    got = a.call("decrypt", session=s_b, message=m)
    check("authentic message after a tampered one", got.get("ok", {}).get("plaintext") == pt)
    check("reflection rejected", is_rejection(a.call("decrypt", session=s_a, message=m)))
    if "layout" in caps:
        lay = a.ok("layout", message=m)
        check("layout covers the message", sum(f["length"] for f in lay["fields"]) == len(m) // 2)

    status = a.close()
    check("adapter exits 0 at end of input", status == 0)
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
