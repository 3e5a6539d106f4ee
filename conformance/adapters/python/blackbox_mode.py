"""Black-box mode (adapter protocol 2, ADAPTER-v2.md) of the adapter over the
PyPI packages `x3dh` and `doubleratchet`.

`adapter.py` hands over to `serve` when the first request is a hello with
`protocol: 2`; version 1 is untouched. The implementation under test is the
same as in version 1 — the packages with the hooks `adapter.py` gives them
(Sealwire's profile) and Sealwire's wire format — but nothing is injected by
the runner: every private key is drawn here from a generator seeded with the
hello's seed, and the version-1 operations are called with those draws. So
messages, bundles and states are the packages' own bytes, opaque to the
suite.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from typing import Any, Dict, List, Optional

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "_v2"))

import blackbox  # noqa: E402
from blackbox import Duplicate, Rejected, Server, field_bool, field_hex, field_int  # noqa: E402

import xeddsa.bindings  # noqa: E402
from doubleratchet.migrations import parse_double_ratchet_model  # noqa: E402

import adapter as v1  # noqa: E402

SPK_ID = 1


class Party:
    def __init__(self, seed: bytes, store_handle: str) -> None:
        self.seed = seed
        self.store_handle = store_handle
        self.handed_out: set = set()


class BlackBox:
    def __init__(self, core: "v1.Adapter") -> None:
        self.core = core
        self.rng: Optional[blackbox.SeededRandom] = None
        # SHA-256 of every first message produced, for `layout`: Sealwire's
        # initial and ratchet messages cannot be told apart by their bytes.
        self.first_messages: set = set()
        self.server = Server(self.hello, {
            "create_party": self.create_party,
            "publish_bundle": self.publish_bundle,
            "unused_prekeys": self.unused_prekeys,
            "initiate": self.initiate,
            "respond": self.respond,
            "encrypt": self.encrypt,
            "decrypt": self.decrypt,
            "export_state": self.export_state,
            "import_state": self.import_state,
            "skipped_count": self.skipped_count,
            "secrets": self.secrets,
            "layout": self.layout,
        })

    def hello(self, seed: bytes) -> Dict[str, Any]:
        self.rng = blackbox.SeededRandom(seed)
        # Every random value the packages draw: x3dh's keys are scripted by
        # adapter.py with this generator's draws, the ratchet keys come from
        # the DH-ratchet hook with its draws, and the one value neither
        # scripts, the XEdDSA nonce with which x3dh signs the signed prekey
        # (`xeddsa.ed25519_priv_sign` without a nonce calls
        # `secrets.token_bytes(64)` in `xeddsa.bindings`), is drawn here too.
        xeddsa.bindings.secrets = self.rng  # type: ignore[attr-defined]
        return blackbox.hello_object(
            name=f"{v1.NAME} (Sealwire profile, black-box)",
            library={"name": "x3dh+doubleratchet", "version": "1.3.0+1.3.0", "licence": "MIT",
                     "family": "sealwire"},
            seedable=True,
            max_forward_jump=v1.MAX_SKIP,
            skipped_keys={"cap": v1.MAX_SKIPPED_KEYS, "scope": "session"},
            old_chains=None,
            max_plaintext=v1.MAX_PLAINTEXT_LEN,
            overhead_first=[v1.INITIAL_PREFIX_LEN_WITHOUT_OPK + v1.OVERHEAD,
                            v1.INITIAL_PREFIX_LEN_WITHOUT_OPK + 4 + v1.OVERHEAD],
            overhead_message=[v1.OVERHEAD, v1.OVERHEAD],
            capabilities=["state", "skipped_count", "secrets", "layout"],
        )

    def draw(self) -> str:
        assert self.rng is not None
        return self.rng.token_bytes(32).hex()

    def v1(self, op: str, req: Dict[str, Any]) -> Dict[str, Any]:
        """A version-1 operation with the adapter's own draws; its error
        classes become the coarse ones."""
        try:
            return self.core.ops[op](req)
        except v1.SealwireError as e:
            if e.error_class == "duplicate":
                raise Duplicate(str(e)) from None
            raise Rejected(f"{e.error_class}: {e}") from None

    def session(self, req: Dict[str, Any]) -> v1.Session:
        return self.server.get(req, "session", SessionHandle).session

    # -- parties -----------------------------------------------------------

    def create_party(self, req):
        n = field_int(req, "one_time_prekeys", 0, 100)
        seed = self.draw()
        store = self.v1("prekey_store_create", {
            "identity_seed": seed,
            "signed_prekeys": [{"id": SPK_ID, "private_key": self.draw()}],
            "one_time_prekeys": [{"id": i, "private_key": self.draw()} for i in range(1, n + 1)],
        })["store"]
        return {"party": self.server.new_handle("party", Party(bytes.fromhex(seed), store))}

    def store(self, party: Party) -> v1.PreKeyStore:
        return self.core.handles[party.store_handle]

    def publish_bundle(self, req):
        party = self.server.get(req, "party", Party)
        with_opk = field_bool(req, "one_time_prekey")
        store = self.store(party)
        # The signed prekey as the package generated and signed it when the
        # party was made (signing again would draw a new XEdDSA nonce).
        spk = store.signed[SPK_ID]
        identity = v1.xeddsa.priv_to_ed25519_pub(v1.IdentityKeyPairSeed(party.seed).as_priv().priv)
        opk = None
        if with_opk:
            ids = store.remaining_ids()
            if not ids:
                raise Rejected("no unused one-time prekey left")
            fresh = [i for i in ids if i not in party.handed_out]
            chosen = (fresh or ids)[0]
            party.handed_out.add(chosen)
            opk = (chosen, store.one_time[chosen])
        bundle = v1.Bundle(identity, SPK_ID, v1.x25519_public(spk.priv), spk.sig, opk)
        return {"bundle": bundle.encode().hex(), "one_time_prekey_id": None if opk is None else blackbox.prekey_id(opk[0])}

    def unused_prekeys(self, req):
        party = self.server.get(req, "party", Party)
        return {"ids": [blackbox.prekey_id(i) for i in sorted(self.store(party).remaining_ids())]}

    # -- sessions ----------------------------------------------------------

    def wrap(self, out: Dict[str, Any]) -> str:
        session = self.core.handles.pop(out["session"])
        return self.server.new_handle("session", SessionHandle(session))

    def initiate(self, req):
        party = self.server.get(req, "party", Party)
        out = self.v1("initiate", {
            "identity_seed": party.seed.hex(),
            "bundle": field_hex(req, "bundle").hex(),
            "ephemeral_private_key": self.draw(),
            "ratchet_private_key": self.draw(),
            "plaintext": field_hex(req, "plaintext").hex(),
        })
        self.first_messages.add(hashlib.sha256(bytes.fromhex(out["initial_message"])).digest())
        return {"session": self.wrap(out), "message": out["initial_message"]}

    def respond(self, req):
        party = self.server.get(req, "party", Party)
        out = self.v1("respond", {
            "store": party.store_handle,
            "initial_message": field_hex(req, "message").hex(),
            "ratchet_private_key": self.draw(),
        })
        return {"session": self.wrap(out), "plaintext": out["plaintext"]}

    def with_session(self, op: str, req: Dict[str, Any], extra: Dict[str, Any]) -> Dict[str, Any]:
        handle = self.server.get(req, "session", SessionHandle)
        key = "blackbox-session"
        self.core.handles[key] = handle.session
        try:
            return self.v1(op, {"session": key, **extra})
        finally:
            del self.core.handles[key]

    def encrypt(self, req):
        return self.with_session("encrypt", req, {"plaintext": field_hex(req, "plaintext").hex()})

    def decrypt(self, req):
        # A fresh ratchet key for the step the message may start; the
        # package draws it only if the message opens a new turn.
        return self.with_session("decrypt", req, {"message": field_hex(req, "message").hex(),
                                                  "ratchet_private_key": self.draw()})

    def export_state(self, req):
        s = self.session(req)
        state = {"ad": s.ad.hex(), "ratchet": s.ratchet.json}
        return {"state": json.dumps(state, sort_keys=True, separators=(",", ":")).encode().hex()}

    def import_state(self, req):
        self.server.get(req, "party", Party)
        try:
            state = json.loads(field_hex(req, "state").decode())
            ad = bytes.fromhex(state["ad"])
            model = parse_double_ratchet_model(state["ratchet"])
        except (ValueError, KeyError, TypeError, UnicodeDecodeError) as e:
            raise Rejected(f"state: {type(e).__name__}") from None
        ratchet = v1.SealwireDoubleRatchet.from_model(model, **v1.DR_CONFIG)
        return {"session": self.server.new_handle("session", SessionHandle(v1.Session(ratchet, ad)))}

    # -- optional ----------------------------------------------------------

    def skipped_count(self, req):
        return {"count": len(self.session(req).ratchet.model.skipped_message_keys)}

    def secrets(self, req):
        handle = req.get("handle")
        value = self.server.handles.get(handle) if isinstance(handle, str) else None
        out: List[bytes] = []
        if isinstance(value, Party):
            store = self.store(value)
            out.append(value.seed)
            out.extend(spk.priv for spk in store.signed.values())
            out.extend(sorted(store.state.model.pre_keys))
        elif isinstance(value, SessionHandle):
            m = value.session.ratchet.model
            dh = m.diffie_hellman_ratchet
            out += [dh.own_ratchet_priv, dh.root_chain.key]
            for chain in (dh.symmetric_key_ratchet.receiving_chain, dh.symmetric_key_ratchet.sending_chain):
                if chain is not None:
                    out.append(chain.key)
            out += [k.message_key for k in m.skipped_message_keys]
        else:
            raise Rejected("unknown handle")
        return {"secrets": [s.hex() for s in out]}

    def layout(self, req):
        try:
            return self.layout_of(field_hex(req, "message"))
        except v1.SealwireError as e:
            raise Rejected(f"not a message this adapter produced: {e}") from None

    def layout_of(self, data: bytes) -> Dict[str, Any]:
        fields: List[Dict[str, Any]] = []
        at = 0

        def add(name: str, length: int, authenticated: bool) -> None:
            nonlocal at
            fields.append({"name": name, "offset": at, "length": length, "authenticated": authenticated})
            at += length

        kind = "message"
        body = data
        if hashlib.sha256(data).digest() in self.first_messages:
            initial = v1.InitialMessage.decode(data)
            kind = "first"
            # Under no MAC; the identity key is in the AD (under the AEAD),
            # the other fields feed the key agreement.
            add("version", 1, False)
            add("identity_key", 32, True)
            add("ephemeral_key", 32, False)
            add("signed_prekey_id", 4, False)
            add("one_time_prekey_flag", 1, False)
            if initial.opk_id is not None:
                add("one_time_prekey_id", 4, False)
            body = initial.message
        message = v1.decode_ratchet_message(body)
        add("header.version", 1, True)
        add("header.ratchet_key", 32, True)
        add("header.previous_chain_length", 4, True)
        add("header.counter", 4, True)
        add("ciphertext", len(message.ciphertext) - v1.TAG_LEN, True)
        add("tag", v1.TAG_LEN, True)
        return {"kind": kind, "ratchet_key": message.header.ratchet_pub.hex(),
                "counter": message.header.sending_chain_length, "fields": fields}


class SessionHandle:
    def __init__(self, session: "v1.Session") -> None:
        self.session = session


def serve(core: "v1.Adapter", first_line: str) -> int:
    """Answers `first_line` (the protocol-2 hello) and every later line."""
    blackbox.setup_logging()
    # The package's skip-limit warning stays an error inside `receive`
    # (adapter.py); everywhere else warnings are shown through logging.
    try:
        return BlackBox(core).server.run(first_lines=[first_line])
    finally:
        core.loop.close()

