# Minimal reproduction: a tampered identity key in a repeated pre-key message
# is accepted and handed to Store.save_identity.
import sys, json
sys.path.insert(0, "/work/wt/i13py/conformance/adapters/omemo-dr")
import adapter as A
ad = A.OmemoDrAdapter(); srv = ad.server
def call(op, **f):
    r = srv.answer({"id": 1, "op": op, **f}); return r
call("hello", protocol=2, seed="22"*32)
al = call("create_party", one_time_prekeys=1)["ok"]["party"]; bo = call("create_party", one_time_prekeys=1)["ok"]["party"]
b = call("publish_bundle", party=bo, one_time_prekey=True)["ok"]["bundle"]
i = call("initiate", party=al, bundle=b, plaintext="aa")["ok"]
sb = call("respond", party=bo, message=i["message"])["ok"]["session"]
second = bytes.fromhex(call("encrypt", session=i["session"], plaintext="bb")["ok"]["message"])
lay = call("layout", message=second.hex())["ok"]
f = next(x for x in lay["fields"] if x["name"] == "identity_key")
t = bytearray(second); t[f["offset"] + 5] ^= 0x10
party = srv.handles[bo]
before = list(party.saved_identities)
r = call("decrypt", session=sb, message=t.hex())
print("tampered identity key accepted:", r)
new = [k.hex() for k in party.saved_identities if k not in before]
real = i["message"]  # initiator identity is in the first message
print("identity keys save_identity received:", new)
print("the initiator's real identity key:", bytes(t[f["offset"]:f["offset"]+33]).hex() != second[f["offset"]:f["offset"]+33].hex() and second[f["offset"]:f["offset"]+33].hex())
