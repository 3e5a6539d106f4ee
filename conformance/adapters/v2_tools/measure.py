#!/usr/bin/env python3
"""Measure what a black-box (protocol 2) adapter must declare in its hello.

    python3 conformance/adapters/v2_tools/measure.py '<adapter command>' [TURNS]

Standard library only. Drives the adapter through its JSON-lines interface
(conformance/ADAPTER-v2.md) and prints, as one JSON object on stdout:

- `overhead`: the observed range of len(message) - len(plaintext) for first
  messages (with and without a one-time prekey, and first messages repeated
  before a reply) and for every other message, over plaintexts of 0 to 1024
  bytes and TURNS ratchet turns (default 40) with runs of 1 to 5 messages per
  turn;
- `state_deterministic`: whether export_state gives the same bytes twice for
  an unchanged session, and whether import_state then export_state gives
  them back;
- `declared`: the hello's `overhead`, and `within`: whether every observed
  value lies inside it.

Exit status 0 when the observed overhead lies within the declared range and
the state is deterministic, 1 otherwise.
"""

import json
import os
import random
import subprocess
import sys


class Adapter:
    def __init__(self, command):
        self.proc = subprocess.Popen(["sh", "-c", command], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)
        self.next_id = 0

    def ok(self, op, **fields):
        req = {"id": self.next_id, "op": op, **fields}
        self.next_id += 1
        self.proc.stdin.write(json.dumps(req) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise SystemExit(f"adapter closed stdout during {op}")
        resp = json.loads(line)
        if "ok" not in resp:
            raise SystemExit(f"{op} failed: {resp!r}")
        return resp["ok"]

    def close(self):
        self.proc.stdin.close()
        return self.proc.wait(timeout=30)


def main():
    if len(sys.argv) not in (2, 3):
        print(__doc__.strip(), file=sys.stderr)
        return 2
    turns = int(sys.argv[2]) if len(sys.argv) == 3 else 40
    rng = random.Random(1)
    a = Adapter(sys.argv[1])
    hello = a.ok("hello", protocol=2, seed=os.urandom(32).hex())
    first, other = [], []
    sizes = [0, 1, 15, 16, 17, 31, 32, 33, 100, 255, 256, 1000, 1024]

    def pt():
        return os.urandom(rng.choice(sizes)).hex()

    deterministic = True
    for otk in (True, False):
        alice = a.ok("create_party", one_time_prekeys=3)["party"]
        bob = a.ok("create_party", one_time_prekeys=3)["party"]
        bundle = a.ok("publish_bundle", party=bob, one_time_prekey=otk)["bundle"]
        p = pt()
        init = a.ok("initiate", party=alice, bundle=bundle, plaintext=p)
        sa = init["session"]
        first.append(len(init["message"]) // 2 - len(p) // 2)
        resp = a.ok("respond", party=bob, message=init["message"])
        sb = resp["session"]
        # First messages again before any reply.
        for _ in range(3):
            p = pt()
            m = a.ok("encrypt", session=sa, plaintext=p)["message"]
            first.append(len(m) // 2 - len(p) // 2)
            a.ok("decrypt", session=sb, message=m)
        sides = [(sb, sa), (sa, sb)]
        for t in range(turns):
            snd, rcv = sides[t % 2]
            for _ in range(rng.randint(1, 5)):
                p = pt()
                m = a.ok("encrypt", session=snd, plaintext=p)["message"]
                other.append(len(m) // 2 - len(p) // 2)
                got = a.ok("decrypt", session=rcv, message=m)["plaintext"]
                if got != p:
                    raise SystemExit("round trip failed")
        for s, party in ((sa, alice), (sb, bob)):
            e1 = a.ok("export_state", session=s)["state"]
            e2 = a.ok("export_state", session=s)["state"]
            copy = a.ok("import_state", party=party, state=e1)["session"]
            e3 = a.ok("export_state", session=copy)["state"]
            deterministic = deterministic and e1 == e2 == e3
    a.close()
    declared = hello["overhead"]
    observed = {"first": [min(first), max(first)], "message": [min(other), max(other)]}
    within = all(declared[k][0] <= observed[k][0] and observed[k][1] <= declared[k][1] for k in observed)
    print(json.dumps({"observed": observed, "declared": declared, "within": within,
                      "state_deterministic": deterministic, "first_messages": len(first),
                      "messages": len(other)}))
    return 0 if within and deterministic else 1


if __name__ == "__main__":
    sys.exit(main())
