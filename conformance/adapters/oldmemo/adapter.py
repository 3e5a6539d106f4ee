#!/usr/bin/env python3
"""Black-box (protocol 2) adapter over PyPI `oldmemo` (OMEMO in the
`eu.siacs.conversations.axolotl` namespace over the `x3dh` and
`doubleratchet` packages), at its `Backend` level (ADAPTER-v2.md). See
README.md.

`oldmemo.Oldmemo` is the lowest public level that has sessions: it builds
them (`build_session_active` / `build_session_passive`), encrypts and
decrypts the 32 bytes of OMEMO key material through them
(`encrypt_key_material` / `decrypt_key_material`), stores and loads them
(`store_session` / `load_session`), and encrypts the payload with that key
material (`encrypt_plaintext` / `decrypt_plaintext`, AES-128-GCM). A
plaintext of the suite travels as an OMEMO message does: the payload
encrypted by the backend, its key and GCM tag through the session.

An opaque message is

    type (0 key exchange, 1 message) ‖ [sign bit, key exchange only] ‖
    u16be length ‖ key element ‖ IV (12) ‖ payload

where the key element is what OMEMO puts in `<key>` (an OMEMOKeyExchange or
an OMEMOAuthenticatedMessage, as the backend serializes them), IV and
payload what it puts in `<iv>` and `<payload>`, and the sign bit stands for
what an OMEMO client learns from the sender's published identity key (the
key exchange carries the identity key in Curve25519 form, without it).

A decryption commits nothing until the payload has decrypted, as python-omemo's
SessionManager does (it stores the session only then): every operation loads
the session afresh from its stored JSON and stores it back on success.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from typing import Any, Dict, List, Optional, Tuple

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "_v2"))

import blackbox  # noqa: E402
from blackbox import Duplicate, Rejected, Server, field_bool, field_hex, field_int  # noqa: E402

import doubleratchet  # noqa: E402
import doubleratchet.recommended.diffie_hellman_ratchet_curve25519 as dr25519  # noqa: E402
import omemo  # noqa: E402
import omemo.identity_key_pair  # noqa: E402
import oldmemo  # noqa: E402
import oldmemo.oldmemo as om  # noqa: E402
import x3dh  # noqa: E402
import x3dh.base_state  # noqa: E402
import xeddsa  # noqa: E402
import xeddsa.bindings  # noqa: E402
from omemo.session import Initiation  # noqa: E402
from omemo.storage import Just, Maybe, Nothing, Storage  # noqa: E402

VERSION = "2.1.0"
NS = om.NAMESPACE
TYPE_KEY_EXCHANGE = 0
TYPE_MESSAGE = 1
IV_LEN = 12
OWN_JID = "party@sealwire.test"
PEER_DEVICE = 1
MAC_LEN = om.AEADImpl.AUTHENTICATION_TAG_TRUNCATED_LENGTH
SKIPPED = 1000  # Oldmemo's default max_num_per_session_skipped_keys (and per message)

MESSAGE_FIELDS = {0x0A: "dh_pub", 0x10: "n", 0x18: "pn", 0x22: "ciphertext"}
KEY_EXCHANGE_FIELDS = {0x08: "pk_id", 0x30: "spk_id", 0x1A: "ik", 0x12: "ek", 0x22: "message", 0x28: "unused"}


class MemStorage(Storage):
    """python-omemo's key/value Storage, in memory (values are JSON)."""

    def __init__(self, data: Optional[Dict[str, Any]] = None) -> None:
        super().__init__(disable_cache=True)
        self.data: Dict[str, Any] = dict(data or {})

    async def _load(self, key: str) -> Maybe:
        return Just(json.loads(self.data[key])) if key in self.data else Nothing()

    async def _store(self, key: str, value: Any) -> None:
        self.data[key] = json.dumps(value, sort_keys=True)

    async def _delete(self, key: str) -> None:
        self.data.pop(key, None)


class Party:
    def __init__(self, storage: MemStorage, device_id: int) -> None:
        self.storage = storage
        self.backend = om.Oldmemo(storage)
        self.device_id = device_id
        self.handed_out: set = set()


class Session:
    """A session as the backend stores it: the entries store_session wrote
    under /oldmemo/<jid>/<device>/, relative to that prefix."""

    def __init__(self, party: Party, entries: Dict[str, str]) -> None:
        self.party = party
        self.entries = entries


def prefix(jid: str) -> str:
    return f"/{NS}/{jid}/{PEER_DEVICE}/"


class OldmemoAdapter:
    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.rng: Optional[blackbox.SeededRandom] = None
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

    def run(self, coro: Any) -> Any:
        return self.loop.run_until_complete(coro)

    def hello(self, seed: bytes) -> Dict[str, Any]:
        # Every random value on this path is drawn through a module-level
        # `secrets`: omemo's identity seed (omemo/identity_key_pair.py), the
        # x3dh package's prekeys, ephemeral key and prekey choice
        # (x3dh/base_state.py), the XEdDSA nonce of the signed-prekey
        # signature (xeddsa/bindings.py) and oldmemo's payload key and IVs
        # (oldmemo/oldmemo.py). Each is pointed at the generator seeded with
        # the hello's seed. The one exception is the ratchet key: the
        # doubleratchet package's Curve25519 ratchet draws it in its
        # `_generate_priv` hook with OpenSSL's X25519PrivateKey.generate();
        # the hook is replaced by one returning 32 seeded bytes (an X25519
        # private key is 32 random bytes, clamped when used).
        self.rng = blackbox.SeededRandom(seed)
        for module in (omemo.identity_key_pair, x3dh.base_state, xeddsa.bindings, om):
            module.secrets = self.rng  # type: ignore[attr-defined]
        rng = self.rng
        dr25519.DiffieHellmanRatchet._generate_priv = staticmethod(lambda: rng.token_bytes(32))  # type: ignore
        return blackbox.hello_object(
            name=f"oldmemo {VERSION} (Backend, over doubleratchet 1.3.0 and x3dh 1.3.0)",
            library={"name": "oldmemo", "version": VERSION, "licence": "AGPL-3.0-only", "family": "omemo"},
            seedable=True,
            max_forward_jump=SKIPPED,
            skipped_keys={"cap": SKIPPED, "scope": "session"},
            old_chains=None,
            max_plaintext=None,
            overhead_first=[175, 207],
            overhead_message=[97, 121],
            capabilities=["state", "skipped_count", "secrets", "layout"],
        )

    # -- parties -----------------------------------------------------------

    def create_party(self, req):
        n = field_int(req, "one_time_prekeys", 0, 100)
        assert self.rng is not None
        party = Party(MemStorage(), self.rng.randint(1, 2**31 - 1))
        if n:
            self.run(party.backend.generate_pre_keys(n))
        else:
            self.run(party.backend.get_bundle(OWN_JID, party.device_id))  # creates the identity and state
        return {"party": self.server.new_handle("party", party)}

    def bundle_of(self, party: Party) -> om.BundleImpl:
        return self.run(party.backend.get_bundle(OWN_JID, party.device_id))

    def publish_bundle(self, req):
        party = self.server.get(req, "party", Party)
        if not field_bool(req, "one_time_prekey"):
            # build_session_active asserts that the key agreement used a
            # pre key; legacy OMEMO always has one.
            raise blackbox.Unsupported("oldmemo cannot start a session without a one-time prekey")
        bundle = self.bundle_of(party)
        ids = bundle.pre_key_ids
        if not ids:
            raise Rejected("no unused one-time prekey left")
        by_id = {i: k for k, i in ids.items()}
        fresh = sorted(i for i in by_id if i not in party.handed_out)
        chosen = (fresh or sorted(by_id))[0]
        party.handed_out.add(chosen)
        b = bundle.bundle
        data = (party.device_id.to_bytes(4, "big") + bundle.signed_pre_key_id.to_bytes(4, "big")
                + chosen.to_bytes(4, "big") + b.identity_key + b.signed_pre_key + b.signed_pre_key_sig
                + by_id[chosen])
        return {"bundle": data.hex(), "one_time_prekey_id": blackbox.prekey_id(chosen)}

    def unused_prekeys(self, req):
        party = self.server.get(req, "party", Party)
        return {"ids": [blackbox.prekey_id(i) for i in sorted(self.bundle_of(party).pre_key_ids.values())]}

    # -- sessions ----------------------------------------------------------

    def stored(self, party: Party, session: om.SessionImpl) -> Dict[str, str]:
        """The entries store_session writes for `session`, relative to its prefix."""
        scratch = om.Oldmemo(MemStorage())
        self.run(scratch.store_session(session))
        storage = scratch._Oldmemo__storage  # the MemStorage given to it just above
        p = prefix(session.bare_jid)
        return {k[len(p):]: v for k, v in storage.data.items() if k.startswith(p)}

    def load(self, handle: Session, jid: str = "peer@sealwire.test") -> om.SessionImpl:
        storage = MemStorage({prefix(jid) + k: v for k, v in handle.entries.items()})
        session = self.run(om.Oldmemo(storage).load_session(jid, PEER_DEVICE))
        if session is None:
            raise Rejected("stored session could not be loaded")
        return session

    def new_session(self, party: Party, session: om.SessionImpl) -> str:
        return self.server.new_handle("session", Session(party, self.stored(party, session)))

    def seal(self, session: Optional[om.SessionImpl], party: Party, plaintext: bytes,
             build: Optional[om.BundleImpl] = None) -> Tuple[om.SessionImpl, bytes]:
        if plaintext:
            content, key_material = self.run(party.backend.encrypt_plaintext(plaintext))
        else:
            content, key_material = self.run(party.backend.encrypt_empty())
        if build is not None:
            session, ekm = self.run(party.backend.build_session_active(
                "peer@sealwire.test", PEER_DEVICE, build, key_material))
        else:
            ekm = self.run(party.backend.encrypt_key_material(session, key_material))
        authenticated = ekm.serialize()
        if session.initiation is Initiation.ACTIVE and not session.confirmed:
            # Until the peer has answered, OMEMO sends the key exchange with
            # every message (oldmemo.etree.serialize_message does the same).
            key, sign = session.key_exchange.serialize(authenticated)
            head = bytes([TYPE_KEY_EXCHANGE, int(sign)])
        else:
            key, head = authenticated, bytes([TYPE_MESSAGE])
        message = head + len(key).to_bytes(2, "big") + key + content.initialization_vector + content.ciphertext
        return session, message

    def parse(self, data: bytes) -> Tuple[int, bool, bytes, bytes, bytes]:
        if len(data) < 1 or data[0] not in (TYPE_KEY_EXCHANGE, TYPE_MESSAGE):
            raise Rejected("not an opaque OMEMO message (type byte 0 or 1)")
        kind, at, sign = data[0], 1, False
        if kind == TYPE_KEY_EXCHANGE:
            if len(data) < 2 or data[1] not in (0, 1):
                raise Rejected("sign bit must be 0 or 1")
            sign, at = bool(data[1]), 2
        if len(data) < at + 2:
            raise Rejected("truncated")
        n = int.from_bytes(data[at:at + 2], "big")
        at += 2
        if len(data) < at + n + IV_LEN:
            raise Rejected("truncated")
        return kind, sign, data[at:at + n], data[at + n:at + n + IV_LEN], data[at + n + IV_LEN:]

    def open_payload(self, party: Party, pkm: Any, iv: bytes, payload: bytes) -> bytes:
        """The payload with the key material the session gave: an empty
        payload only for an empty OMEMO message (key without GCM tag)."""
        if not payload:
            if pkm.auth_tag != b"":
                raise Rejected("payload missing for key material with a tag")
            return b""
        if pkm.auth_tag == b"":
            raise Rejected("payload for key material without a tag")
        return self.run(party.backend.decrypt_plaintext(om.ContentImpl(payload, iv), pkm))

    def initiate(self, req):
        party = self.server.get(req, "party", Party)
        data = field_hex(req, "bundle")
        plaintext = field_hex(req, "plaintext")
        if len(data) != 12 + 32 + 32 + 64 + 32:
            raise Rejected("bundle has the wrong length")
        device_id, spk_id, pk_id = (int.from_bytes(data[i:i + 4], "big") for i in (0, 4, 8))
        ik, spk, sig, pk = data[12:44], data[44:76], data[76:140], data[140:172]
        bundle = om.BundleImpl(f"peer{device_id}@sealwire.test", device_id,
                               x3dh.Bundle(identity_key=ik, signed_pre_key=spk, signed_pre_key_sig=sig,
                                           pre_keys=frozenset([pk])), spk_id, {pk: pk_id})
        try:
            session, message = self.seal(None, party, plaintext, build=bundle)
        except omemo.KeyExchangeFailed as e:
            raise Rejected(f"key exchange failed: {e}") from None
        return {"session": self.new_session(party, session), "message": message.hex()}

    def respond(self, req):
        party = self.server.get(req, "party", Party)
        kind, sign, key, iv, payload = self.parse(field_hex(req, "message"))
        if kind != TYPE_KEY_EXCHANGE:
            raise Rejected("a first message carries the key exchange")
        try:
            kex, authenticated = om.KeyExchangeImpl.parse(key, sign)
            ekm = om.EncryptedKeyMaterialImpl.parse(authenticated, "peer@sealwire.test", PEER_DEVICE)
            session, pkm = self.run(party.backend.build_session_passive(
                "peer@sealwire.test", PEER_DEVICE, kex, ekm))
            plaintext = self.open_payload(party, pkm, iv, payload)
        except (ValueError, omemo.KeyExchangeFailed, omemo.DecryptionFailed) as e:
            raise Rejected(f"{type(e).__name__}: {e}") from None
        # As SessionManager does after a key exchange decrypted: delete the
        # pre key.
        self.run(party.backend.delete_pre_key(session))
        return {"session": self.new_session(party, session), "plaintext": plaintext.hex()}

    def encrypt(self, req):
        handle = self.server.get(req, "session", Session)
        session, message = self.seal(self.load(handle), handle.party, field_hex(req, "plaintext"))
        handle.entries = self.stored(handle.party, session)
        return {"message": message.hex()}

    def decrypt(self, req):
        handle = self.server.get(req, "session", Session)
        kind, sign, key, iv, payload = self.parse(field_hex(req, "message"))
        session = self.load(handle)
        try:
            if kind == TYPE_KEY_EXCHANGE:
                kex, key = om.KeyExchangeImpl.parse(key, sign)
                # SessionManager: a key exchange that builds this session is
                # decrypted with it (anything else would build a new one).
                if not session.key_exchange.builds_same_session(kex):
                    raise Rejected("key exchange for another session")
            ekm = om.EncryptedKeyMaterialImpl.parse(key, "peer@sealwire.test", PEER_DEVICE)
            pkm = self.run(handle.party.backend.decrypt_key_material(session, ekm))
            plaintext = self.open_payload(handle.party, pkm, iv, payload)
        except (ValueError, omemo.DecryptionFailed) as e:
            cause = e.__cause__
            if isinstance(cause, doubleratchet.DuplicateMessageException):
                raise Duplicate(str(cause)) from None
            raise Rejected(f"{type(e).__name__}: {e}; cause {type(cause).__name__}") from None
        handle.entries = self.stored(handle.party, session)
        return {"plaintext": plaintext.hex()}

    def export_state(self, req):
        handle = self.server.get(req, "session", Session)
        return {"state": json.dumps(handle.entries, sort_keys=True, separators=(",", ":")).encode().hex()}

    def import_state(self, req):
        party = self.server.get(req, "party", Party)
        try:
            entries = json.loads(field_hex(req, "state").decode())
            if not isinstance(entries, dict) or not all(isinstance(v, str) for v in entries.values()):
                raise ValueError("not a session state")
            handle = Session(party, entries)
            self.load(handle)
        except (ValueError, UnicodeDecodeError, TypeError) as e:
            raise Rejected(f"state: {type(e).__name__}") from None
        return {"session": self.server.new_handle("session", handle)}

    # -- optional ----------------------------------------------------------

    def skipped_count(self, req):
        handle = self.server.get(req, "session", Session)
        return {"count": len(self.load(handle).double_ratchet.model.skipped_message_keys)}

    def secrets(self, req):
        handle = req.get("handle")
        value = self.server.handles.get(handle) if isinstance(handle, str) else None
        out: List[bytes] = []
        if isinstance(value, Party):
            identity = self.run(omemo.identity_key_pair.IdentityKeyPair.get(value.storage))
            out.append(identity.seed if identity.is_seed else identity.as_priv().priv)
            out.append(identity.as_priv().priv)
            state = json.loads(value.storage.data[f"/{NS}/x3dh"])
            model = x3dh.migrations.parse_base_state_model(state)[0]
            out.append(model.signed_pre_key.priv)
            if model.old_signed_pre_key is not None:
                out.append(model.old_signed_pre_key.priv)
            out += sorted(model.pre_keys)
        elif isinstance(value, Session):
            m = self.load(value).double_ratchet.model
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
        data = field_hex(req, "message")
        kind, sign, key, iv, payload = self.parse(data)
        fields = [{"name": "adapter.type", "offset": 0, "length": 1, "authenticated": False}]
        at = 1
        if kind == TYPE_KEY_EXCHANGE:
            fields.append({"name": "adapter.sign_bit", "offset": 1, "length": 1, "authenticated": False})
            at = 2
        fields.append({"name": "adapter.key_length", "offset": at, "length": 2, "authenticated": False})
        at += 2
        authenticated = key
        if kind == TYPE_KEY_EXCHANGE:
            fields.append({"name": "key_exchange.version", "offset": at, "length": 1, "authenticated": False})
            inner_at = None
            for f in blackbox.parse_tlv(key, 1, len(key), KEY_EXCHANGE_FIELDS):
                fields.append({"name": f"key_exchange.{f['name']}.tag", "offset": at + f["tag_at"],
                               "length": f["at"] - f["tag_at"], "authenticated": False})
                if f["name"] == "message":
                    inner_at, authenticated = at + f["at"], f["value"]
                else:
                    fields.append({"name": f"key_exchange.{f['name']}", "offset": at + f["at"],
                                   "length": f["length"], "authenticated": False})
            if inner_at is None:
                raise Rejected("key exchange without its message")
            at = inner_at
        # OMEMOAuthenticatedMessage: version 0x33, OMEMOMessage, truncated MAC.
        fields.append({"name": "message.version", "offset": at, "length": 1, "authenticated": True})
        ratchet_key = counter = None
        body_end = len(authenticated) - MAC_LEN
        for f in blackbox.parse_tlv(authenticated, 1, body_end, MESSAGE_FIELDS):
            fields.append({"name": f"message.{f['name']}.tag", "offset": at + f["tag_at"],
                           "length": f["at"] - f["tag_at"], "authenticated": True})
            fields.append({"name": f"message.{f['name']}", "offset": at + f["at"], "length": f["length"],
                           "authenticated": True})
            if f["name"] == "dh_pub":
                ratchet_key = f["value"]
            elif f["name"] == "n":
                counter = f["value"]
        fields.append({"name": "message.mac", "offset": at + body_end, "length": MAC_LEN, "authenticated": True})
        end = len(data) - len(payload) - IV_LEN
        # The GCM key and tag travel in the session-encrypted key material,
        # so IV and payload are authenticated.
        fields.append({"name": "iv", "offset": end, "length": IV_LEN, "authenticated": True})
        fields.append({"name": "payload", "offset": end + IV_LEN, "length": len(payload), "authenticated": True})
        fields.sort(key=lambda f: f["offset"])
        if sum(f["length"] for f in fields) != len(data) or ratchet_key is None:
            raise Rejected("not a message oldmemo produced")
        return {"kind": "first" if kind == TYPE_KEY_EXCHANGE else "message",
                "ratchet_key": ratchet_key.hex(), "counter": counter if counter is not None else 0,
                "fields": fields}


def main() -> int:
    blackbox.setup_logging()
    adapter = OldmemoAdapter()
    try:
        return adapter.server.run()
    finally:
        adapter.loop.close()


if __name__ == "__main__":
    sys.exit(main())
