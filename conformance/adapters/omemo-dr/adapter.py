#!/usr/bin/env python3
"""Black-box (protocol 2) adapter over PyPI `omemo-dr` (Gajim's port of the
Signal/axolotl session layer for OMEMO), at its session level:
`SessionBuilder` and `SessionCipher` over an in-memory `Store`
(ADAPTER-v2.md). See README.md.

Framing, all the adapter's own:

* a message is one byte of type (0 `PreKeyWhisperMessage`, 1
  `WhisperMessage`: OMEMO carries this as the `prekey` attribute) followed by
  the library's serialized message;
* a bundle is device id (u32) ‖ one-time prekey id (u32) ‖ its key (33) ‖
  signed prekey id (u32) ‖ its key (33) ‖ signature (64) ‖ identity key (33),
  the fields of omemo-dr's `PreKeyBundle` (keys as the library serializes
  them, with their 0x05 type byte);
* a state is the session's `SessionRecord.serialize()` (protobuf).

The store holds session records serialized, as a persistent store (Gajim's
SQLite one) does: `load_session` hands out a fresh record every time, so
nothing the library does to a record it has not stored survives.
"""

from __future__ import annotations

import abc
import os
import sys
import types
from typing import Any, Dict, List, Optional, Tuple

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "_v2"))

import blackbox  # noqa: E402
from blackbox import Duplicate, Rejected, Server, field_bool, field_hex, field_int  # noqa: E402

import omemo_dr.ecc.curve  # noqa: E402
from omemo_dr.const import MAX_INT, NS_OMEMO_TMP  # noqa: E402
from omemo_dr.ecc.curve import Curve  # noqa: E402
from omemo_dr.exceptions import (  # noqa: E402
    DuplicateMessageException,
    InvalidKeyException,
    InvalidKeyIdException,
    InvalidMessageException,
    InvalidVersionException,
    NoSessionException,
    UntrustedIdentityException,
)
from omemo_dr.identitykey import IdentityKey  # noqa: E402
from omemo_dr.protocol.prekeywhispermessage import PreKeyWhisperMessage  # noqa: E402
from omemo_dr.protocol.whispermessage import WhisperMessage  # noqa: E402
from omemo_dr.sessionbuilder import SessionBuilder  # noqa: E402
from omemo_dr.sessioncipher import SessionCipher  # noqa: E402
from omemo_dr.state.prekeybundle import PreKeyBundle  # noqa: E402
from omemo_dr.state.sessionrecord import SessionRecord  # noqa: E402
from omemo_dr.state.store import Store  # noqa: E402
from omemo_dr.util.keyhelper import KeyHelper  # noqa: E402

VERSION = "1.2.0"
TYPE_PRE_KEY = 0
TYPE_MESSAGE = 1
SPK_ID = 1
PEER = "peer@sealwire.test"
KEY_LEN = 33
BUNDLE_LEN = 4 + 4 + KEY_LEN + 4 + KEY_LEN + 64 + KEY_LEN
MAC_LEN = 8

LIBRARY_ERRORS = (
    InvalidKeyException, InvalidKeyIdException, InvalidMessageException, InvalidVersionException,
    NoSessionException, UntrustedIdentityException,
)

WHISPER_FIELDS = {0x0A: "ratchet_key", 0x10: "counter", 0x18: "previous_counter", 0x22: "ciphertext"}
PRE_KEY_FIELDS = {0x28: "device_id", 0x08: "pre_key_id", 0x30: "signed_pre_key_id", 0x12: "base_key",
                  0x1A: "identity_key", 0x22: "message"}


class Party:
    """A device: identity, device id, one signed prekey, one-time prekeys
    (PreKeyRecord, serialized as a persistent store keeps them)."""

    def __init__(self, device_id: int, identity, signed, pre_keys: Dict[int, bytes]) -> None:
        self.device_id = device_id
        self.identity = identity
        self.signed = signed
        self.pre_keys = pre_keys
        self.handed_out: set = set()
        # Identity keys the library asked the store to save, by recipient:
        # omemo-dr calls save_identity from SessionBuilder.process.
        self.saved_identities: List[bytes] = []


class Session:
    def __init__(self, party: Party, record: bytes, remote_device: int) -> None:
        self.party = party
        self.record = record
        self.remote_device = remote_device


def unused(name: str):
    def method(self, *args, **kwargs):
        raise NotImplementedError(f"Store.{name} is not used at omemo-dr's session level")
    method.__name__ = name
    return method


class SessionStore(Store):
    """omemo-dr's Store for one party and one session record. Trust: every
    identity is trusted (the session level has no trust decisions of its
    own; an application's policy would sit here)."""

    def __init__(self, party: Party, session: Optional[Session]) -> None:
        self.party = party
        self.session = session
        self.stored: Optional[bytes] = None

    def get_identity_key_pair(self):
        return self.party.identity

    def get_our_device_id(self) -> int:
        return self.party.device_id

    def is_trusted_identity(self, recipient_id, identity_key) -> bool:
        return True

    def save_identity(self, recipient_id, identity_key) -> None:
        self.party.saved_identities.append(identity_key.serialize())

    def load_pre_key(self, pre_key_id):
        from omemo_dr.state.prekeyrecord import PreKeyRecord
        if pre_key_id not in self.party.pre_keys:
            raise InvalidKeyIdException(f"no one-time prekey {pre_key_id}")
        return PreKeyRecord.from_bytes(self.party.pre_keys[pre_key_id])

    def contains_pre_key(self, pre_key_id) -> bool:
        return pre_key_id in self.party.pre_keys

    def remove_pre_key(self, pre_key_id) -> None:
        self.party.pre_keys.pop(pre_key_id, None)

    def load_signed_pre_key(self, signed_pre_key_id):
        if signed_pre_key_id != SPK_ID:
            raise InvalidKeyIdException(f"no signed prekey {signed_pre_key_id}")
        return self.party.signed

    def contains_signed_pre_key(self, signed_pre_key_id) -> bool:
        return signed_pre_key_id == SPK_ID

    def load_session(self, recipient_id, device_id):
        record = self.stored if self.stored is not None else (self.session.record if self.session else None)
        return SessionRecord(serialized=record) if record else SessionRecord()

    def store_session(self, recipient_id, device_id, session_record) -> None:
        self.stored = session_record.serialize()

    def contains_session(self, recipient_id, device_id) -> bool:
        return self.stored is not None or self.session is not None


for _name in Store.__abstractmethods__:
    if _name not in SessionStore.__dict__:
        setattr(SessionStore, _name, unused(_name))
abc.update_abstractmethods(SessionStore)


def encode_message(message: Any) -> bytes:
    kind = TYPE_PRE_KEY if isinstance(message, PreKeyWhisperMessage) else TYPE_MESSAGE
    return bytes([kind]) + message.serialize()


def split_message(data: bytes) -> Tuple[int, bytes]:
    if len(data) < 2 or data[0] not in (TYPE_PRE_KEY, TYPE_MESSAGE):
        raise Rejected("not an opaque OMEMO message (type byte 0 or 1, then the message)")
    return data[0], data[1:]


def u32(data: bytes, at: int) -> int:
    return int.from_bytes(data[at:at + 4], "big")


class OmemoDrAdapter:
    def __init__(self) -> None:
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

    def hello(self, seed: bytes) -> Dict[str, Any]:
        # omemo-dr draws every random byte of the session level with
        # os.urandom in omemo_dr/ecc/curve.py (key pairs: 32 bytes; XEdDSA
        # signature nonces: 64 bytes); the module's `os` is replaced by one
        # whose urandom is the seeded generator. Device ids (KeyHelper uses
        # the `random` module) are drawn by the adapter from it as well.
        self.rng = blackbox.SeededRandom(seed)
        omemo_dr.ecc.curve.os = types.SimpleNamespace(urandom=self.rng.token_bytes)  # type: ignore
        return blackbox.hello_object(
            name=f"omemo-dr {VERSION} (SessionBuilder/SessionCipher)",
            library={"name": "omemo-dr", "version": VERSION, "licence": "GPL-3.0-or-later", "family": "omemo"},
            seedable=True,
            max_forward_jump=2000,
            skipped_keys={"cap": None, "scope": "chain"},
            old_chains=4,
            max_plaintext=None,
            overhead_first=[131, 172],
            overhead_message=[52, 78],
            capabilities=["state", "skipped_count", "secrets", "layout"],
        )

    # -- parties -----------------------------------------------------------

    def create_party(self, req):
        n = field_int(req, "one_time_prekeys", 0, 100)
        assert self.rng is not None
        identity = KeyHelper.generate_identity_key_pair()
        device_id = self.rng.randint(1, MAX_INT)
        signed = KeyHelper.generate_signed_pre_key(identity, SPK_ID)
        pre_keys = {r.get_id(): r.serialize() for r in KeyHelper.generate_pre_keys(1, n)}
        return {"party": self.server.new_handle("party", Party(device_id, identity, signed, pre_keys))}

    def publish_bundle(self, req):
        party = self.server.get(req, "party", Party)
        if not field_bool(req, "one_time_prekey"):
            # SessionBuilder.process_message always loads the message's
            # one-time prekey; legacy OMEMO bundles always carry them.
            raise blackbox.Unsupported("omemo-dr cannot start a session without a one-time prekey")
        ids = sorted(party.pre_keys)
        if not ids:
            raise Rejected("no unused one-time prekey left")
        fresh = [i for i in ids if i not in party.handed_out]
        chosen = (fresh or ids)[0]
        party.handed_out.add(chosen)
        store = SessionStore(party, None)
        opk = store.load_pre_key(chosen).get_key_pair().get_public_key().serialize()
        spk = party.signed.get_key_pair().get_public_key().serialize()
        bundle = (party.device_id.to_bytes(4, "big") + chosen.to_bytes(4, "big") + opk
                  + SPK_ID.to_bytes(4, "big") + spk + party.signed.get_signature()
                  + party.identity.get_public_key().serialize())
        return {"bundle": bundle.hex(), "one_time_prekey_id": blackbox.prekey_id(chosen)}

    def unused_prekeys(self, req):
        party = self.server.get(req, "party", Party)
        return {"ids": [blackbox.prekey_id(i) for i in sorted(party.pre_keys)]}

    # -- sessions ----------------------------------------------------------

    def initiate(self, req):
        party = self.server.get(req, "party", Party)
        data = field_hex(req, "bundle")
        plaintext = field_hex(req, "plaintext")
        if len(data) != BUNDLE_LEN:
            raise Rejected("bundle has the wrong length")
        at = 0

        def take(n: int) -> bytes:
            nonlocal at
            at += n
            return data[at - n:at]

        device_id, opk_id, opk = u32(take(4), 0), u32(take(4), 0), take(KEY_LEN)
        spk_id, spk, sig, ik = u32(take(4), 0), take(KEY_LEN), take(64), take(KEY_LEN)
        try:
            bundle = PreKeyBundle(device_id, NS_OMEMO_TMP, opk_id, Curve.decode_point(opk), spk_id,
                                  Curve.decode_point(spk), sig, IdentityKey(Curve.decode_point(ik)))
            store = SessionStore(party, None)
            SessionBuilder(store, PEER, device_id).process_pre_key_bundle(bundle)
            session = Session(party, store.stored, device_id)
            store = SessionStore(party, session)
            message = SessionCipher(store, PEER, device_id).encrypt(plaintext)
        except LIBRARY_ERRORS as e:
            raise Rejected(f"{type(e).__name__}: {e}") from None
        session.record = store.stored
        return {"session": self.server.new_handle("session", session), "message": encode_message(message).hex()}

    def respond(self, req):
        party = self.server.get(req, "party", Party)
        kind, raw = split_message(field_hex(req, "message"))
        if kind != TYPE_PRE_KEY:
            raise Rejected("a first message is a PreKeyWhisperMessage")
        try:
            message = PreKeyWhisperMessage.from_bytes(raw)
            store = SessionStore(party, None)
            plaintext = SessionCipher(store, PEER, message.get_device_id()).decrypt_pkmsg(message)
        except DuplicateMessageException as e:
            raise Duplicate(str(e)) from None
        except LIBRARY_ERRORS as e:
            raise Rejected(f"{type(e).__name__}: {e}") from None
        session = Session(party, store.stored, message.get_device_id())
        return {"session": self.server.new_handle("session", session), "plaintext": plaintext.hex()}

    def encrypt(self, req):
        session = self.server.get(req, "session", Session)
        plaintext = field_hex(req, "plaintext")
        store = SessionStore(session.party, session)
        message = SessionCipher(store, PEER, session.remote_device).encrypt(plaintext)
        session.record = store.stored
        return {"message": encode_message(message).hex()}

    def decrypt(self, req):
        session = self.server.get(req, "session", Session)
        kind, raw = split_message(field_hex(req, "message"))
        store = SessionStore(session.party, session)
        cipher = SessionCipher(store, PEER, session.remote_device)
        try:
            if kind == TYPE_PRE_KEY:
                plaintext = cipher.decrypt_pkmsg(PreKeyWhisperMessage.from_bytes(raw))
            else:
                plaintext = cipher.decrypt_msg(WhisperMessage.from_bytes(raw))
        except DuplicateMessageException as e:
            raise Duplicate(str(e)) from None
        except LIBRARY_ERRORS as e:
            raise Rejected(f"{type(e).__name__}: {e}") from None
        if store.stored is not None:
            session.record = store.stored
        return {"plaintext": plaintext.hex()}

    def export_state(self, req):
        session = self.server.get(req, "session", Session)
        # The record and the peer's device id it is filed under.
        return {"state": (session.remote_device.to_bytes(4, "big") + session.record).hex()}

    def import_state(self, req):
        party = self.server.get(req, "party", Party)
        state = field_hex(req, "state")
        if len(state) < 5:
            raise Rejected("state too short")
        try:
            SessionRecord(serialized=state[4:])
        except Exception as e:  # protobuf's DecodeError and friends
            raise Rejected(f"state: {type(e).__name__}") from None
        return {"session": self.server.new_handle("session", Session(party, state[4:], u32(state, 0)))}

    # -- optional ----------------------------------------------------------

    def states(self, session: Session) -> List[Any]:
        record = SessionRecord(serialized=session.record)
        return [record.get_session_state()] + list(record.get_previous_session_states())

    def skipped_count(self, req):
        session = self.server.get(req, "session", Session)
        return {"count": sum(len(chain.messageKeys) for state in self.states(session)
                             for chain in state.get_structure().receiverChains)}

    def secrets(self, req):
        handle = req.get("handle")
        value = self.server.handles.get(handle) if isinstance(handle, str) else None
        out: List[bytes] = []
        if isinstance(value, Party):
            out.append(value.identity.get_private_key().serialize())
            out.append(value.signed.get_key_pair().get_private_key().serialize())
            store = SessionStore(value, None)
            out += [store.load_pre_key(i).get_key_pair().get_private_key().serialize()
                    for i in sorted(value.pre_keys)]
        elif isinstance(value, Session):
            for state in self.states(value):
                s = state.get_structure()
                out += [s.rootKey, s.senderChain.senderRatchetKeyPrivate, s.senderChain.chainKey.key]
                for chain in s.receiverChains:
                    out.append(chain.chainKey.key)
                    for mk in chain.messageKeys:
                        out += [mk.cipherKey, mk.macKey]
        else:
            raise Rejected("unknown handle")
        return {"secrets": [s.hex() for s in out if s]}

    def layout(self, req):
        kind, raw = split_message(field_hex(req, "message"))
        fields = [{"name": "adapter.message_type", "offset": 0, "length": 1, "authenticated": False}]
        if kind == TYPE_PRE_KEY:
            # The envelope is under no MAC: in `respond` the keys feed the
            # key agreement; on an existing session only the base key picks
            # the state.
            fields.append({"name": "version", "offset": 1, "length": 1, "authenticated": False})
            inner = None
            for f in blackbox.parse_tlv(raw, 1, len(raw), PRE_KEY_FIELDS):
                fields.append({"name": f"{f['name']}.tag", "offset": 1 + f["tag_at"],
                               "length": f["at"] - f["tag_at"], "authenticated": False})
                if f["name"] == "message":
                    inner = (1 + f["at"], f["value"])
                else:
                    fields.append({"name": f["name"], "offset": 1 + f["at"], "length": f["length"],
                                   "authenticated": False})
            if inner is None:
                raise Rejected("pre-key message without its message")
            base, whisper = inner
            prefix = "message."
        else:
            base, whisper, prefix = 1, raw, ""
        ratchet_key = counter = None
        fields.append({"name": f"{prefix}version", "offset": base, "length": 1, "authenticated": True})
        body_end = len(whisper) - MAC_LEN
        for f in blackbox.parse_tlv(whisper, 1, body_end, WHISPER_FIELDS):
            fields.append({"name": f"{prefix}{f['name']}.tag", "offset": base + f["tag_at"],
                           "length": f["at"] - f["tag_at"], "authenticated": True})
            fields.append({"name": f"{prefix}{f['name']}", "offset": base + f["at"], "length": f["length"],
                           "authenticated": True})
            if f["name"] == "ratchet_key":
                ratchet_key = f["value"]
            elif f["name"] == "counter":
                counter = f["value"]
        fields.append({"name": f"{prefix}mac", "offset": base + body_end, "length": MAC_LEN, "authenticated": True})
        fields.sort(key=lambda f: f["offset"])
        if sum(f["length"] for f in fields) != len(raw) + 1 or ratchet_key is None:
            raise Rejected("not a message omemo-dr produced")
        return {"kind": "first" if kind == TYPE_PRE_KEY else "message", "ratchet_key": ratchet_key.hex(),
                "counter": counter, "fields": fields}


def main() -> int:
    blackbox.setup_logging()
    return OmemoDrAdapter().server.run()


if __name__ == "__main__":
    sys.exit(main())
