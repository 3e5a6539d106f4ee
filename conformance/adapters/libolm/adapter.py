#!/usr/bin/env python3
"""Black-box (protocol 2) adapter over libolm, through the PyPI binding
`python-olm` (ADAPTER-v2.md). See README.md.

The protocol is libolm's: its accounts, one-time and fallback keys, 3DH,
Olm ratchet, pre-key and normal messages, pickles. This file frames them as
opaque bytes:

* a message is one byte of Olm message type (0 pre-key, 1 normal) followed
  by the raw Olm message (the base64 text libolm speaks, decoded);
* a bundle is the responder's Curve25519 identity key (32), Ed25519 key
  (32), a kind byte (1 one-time key, 2 fallback key), the key (32), and the
  account's Ed25519 signature (64) over kind || key || identity key, which
  the initiator verifies with libolm's `ed25519_verify` as a Matrix client
  verifies a signed one-time key;
* a state is the session's libolm pickle under a fixed pickle key.
"""

from __future__ import annotations

import base64
import json
import os
import re
import sys
from typing import Any, Dict, List, Optional, Tuple

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "_v2"))

import blackbox  # noqa: E402
from blackbox import Rejected, Server, field_bool, field_hex, field_int  # noqa: E402

import olm  # noqa: E402
import olm.account  # noqa: E402
import olm.session  # noqa: E402
from _libolm import ffi, lib  # noqa: E402  (the binding's own CFFI module)
from cryptography.hazmat.primitives import hashes, hmac, padding, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey  # noqa: E402
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes  # noqa: E402
from cryptography.hazmat.primitives.kdf.hkdf import HKDF  # noqa: E402

PICKLE_KEY = "sealwire black-box adapter pickle key"
TYPE_PRE_KEY = 0
TYPE_MESSAGE = 1
KIND_ONE_TIME = 1
KIND_FALLBACK = 2
BUNDLE_LEN = 32 + 32 + 1 + 32 + 64
MAC_LEN = 8  # libolm's ratchet cipher truncates HMAC-SHA256 to 8 bytes


def library_version() -> str:
    major, minor, patch = ffi.new("uint8_t *"), ffi.new("uint8_t *"), ffi.new("uint8_t *")
    lib.olm_get_library_version(major, minor, patch)
    return f"{major[0]}.{minor[0]}.{patch[0]}"


def b64(raw: bytes) -> bytes:
    """libolm's base64: standard alphabet, no padding."""
    return base64.b64encode(raw).rstrip(b"=")


def unb64(text: Any) -> bytes:
    if isinstance(text, str):
        text = text.encode()
    return base64.b64decode(text + b"=" * (-len(text) % 4))


class Party:
    def __init__(self, account: olm.Account) -> None:
        self.account = account
        self.handed_out: set = set()

    def identity(self) -> Tuple[bytes, bytes]:
        keys = self.account.identity_keys
        return unb64(keys["curve25519"]), unb64(keys["ed25519"])

    def one_time_keys(self) -> Dict[str, bytes]:
        """libolm's own list of the account's one-time keys that are still
        there (the adapter never marks keys as published, so libolm lists
        every key it has not removed)."""
        return {kid: unb64(k) for kid, k in self.account.one_time_keys["curve25519"].items()}

    def fallback_key(self) -> bytes:
        (key,) = self.account.fallback_key["curve25519"].values()
        return unb64(key)


def key_number(kid: str) -> int:
    """libolm's key id (base64 of a big-endian u32) as its number."""
    return int.from_bytes(unb64(kid), "big")


# --------------------------------------------------------------------------
# Olm message parsing (for the layout and to know which key a pre-key
# message names); libolm's format: version byte, then tag/value fields
# (varint tags; 0x0A, 0x12, 0x1A, 0x22 length-delimited, 0x10 varint).
# --------------------------------------------------------------------------


FIELD_NAMES = {
    "message": {0x0A: "ratchet_key", 0x10: "counter", 0x22: "ciphertext"},
    "pre_key": {0x0A: "one_time_key", 0x12: "base_key", 0x1A: "identity_key", 0x22: "message"},
}


def parse_fields(data: bytes, start: int, end: int, kind: str) -> List[Dict[str, Any]]:
    return blackbox.parse_tlv(data, start, end, FIELD_NAMES[kind])


def layout_fields(raw: bytes, base: int, kind: str, authenticated_body: bool,
                  prefix: str) -> Tuple[List[Dict[str, Any]], Optional[bytes], Optional[int]]:
    fields = [{"name": f"{prefix}version", "offset": base, "length": 1, "authenticated": authenticated_body}]
    ratchet_key = counter = None
    body_end = len(raw) - (MAC_LEN if kind == "message" else 0)
    for f in parse_fields(raw, 1, body_end, kind):
        fields.append({"name": f"{prefix}{f['name']}.tag", "offset": base + f["tag_at"],
                       "length": f["at"] - f["tag_at"], "authenticated": authenticated_body})
        if kind == "pre_key" and f["name"] == "message":
            inner, rk, ctr = layout_fields(f["value"], base + f["at"], "message", True, "message.")
            fields.extend(inner)
            ratchet_key, counter = rk, ctr
            continue
        fields.append({"name": f"{prefix}{f['name']}", "offset": base + f["at"], "length": f["length"],
                       "authenticated": authenticated_body})
        if f["name"] == "ratchet_key":
            ratchet_key = f["value"]
        if f["name"] == "counter":
            counter = f["value"]
    if kind == "message":
        fields.append({"name": f"{prefix}mac", "offset": base + body_end, "length": MAC_LEN,
                       "authenticated": True})
    return fields, ratchet_key, counter


def pre_key_field(raw: bytes, name: str) -> Optional[bytes]:
    for f in parse_fields(raw, 1, len(raw), "pre_key"):
        if f["name"] == name:
            return f["value"]
    return None


# --------------------------------------------------------------------------
# Secrets: libolm's pickles, decrypted with the adapter's own pickle key
# --------------------------------------------------------------------------


def unpickle_plain(pickle: bytes) -> bytes:
    """The plaintext of a libolm pickle under PICKLE_KEY: libolm's pickle
    cipher (src/pickle_encoding.c, src/cipher.cpp) is HKDF-SHA256(no salt,
    key, info "Pickle") -> AES-256 key, HMAC key, IV; AES-256-CBC with
    PKCS#7 padding; HMAC-SHA256 truncated to 8 bytes; unpadded base64. The
    primitives are `cryptography`'s."""
    raw = unb64(pickle)
    okm = HKDF(algorithm=hashes.SHA256(), length=80, salt=None, info=b"Pickle").derive(PICKLE_KEY.encode())
    aes_key, mac_key, iv = okm[:32], okm[32:64], okm[64:]
    body, tag = raw[:-MAC_LEN], raw[-MAC_LEN:]
    mac = hmac.HMAC(mac_key, hashes.SHA256())
    mac.update(body)
    if mac.finalize()[:MAC_LEN] != tag:
        raise RuntimeError("pickle MAC mismatch: the adapter misreads libolm's pickle format")
    decryptor = Cipher(algorithms.AES(aes_key), modes.CBC(iv)).decryptor()
    padded = decryptor.update(body) + decryptor.finalize()
    unpadder = padding.PKCS7(128).unpadder()
    return unpadder.update(padded) + unpadder.finalize()


class PickleReader:
    """libolm's pickle encoding (src/pickle.cpp): u32 big-endian, bool and
    u8 one byte, keys as raw bytes, lists as a u32 count then the items."""

    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def take(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise RuntimeError("pickle shorter than its layout: the adapter misreads libolm's pickle format")
        self.pos += n
        return self.data[self.pos - n:self.pos]

    def u32(self) -> int:
        return int.from_bytes(self.take(4), "big")

    def curve_pair(self) -> Tuple[bytes, bytes]:
        public, private = self.take(32), self.take(32)
        derived = X25519PrivateKey.from_private_bytes(private).public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        if derived != public:
            raise RuntimeError("pickle key pair does not match: the adapter misreads libolm's pickle format")
        return public, private

    def done(self) -> None:
        if self.pos != len(self.data):
            raise RuntimeError("pickle longer than its layout: the adapter misreads libolm's pickle format")


def session_secrets(session: olm.Session) -> List[bytes]:
    """Session pickle version 1 (src/session.cpp, src/ratchet.cpp): version,
    received_message, alice identity, alice base, bob one-time key, then the
    ratchet: root key; sender chains (ratchet key pair, chain key, index);
    receiver chains (ratchet key, chain key, index); skipped message keys
    (ratchet key, message key, index)."""
    r = PickleReader(unpickle_plain(session.pickle(PICKLE_KEY)))
    if r.u32() != 1:
        raise RuntimeError("unknown session pickle version")
    r.take(1 + 32 * 3)
    out = [r.take(32)]
    for _ in range(r.u32()):
        out += [r.curve_pair()[1], r.take(32)]
        r.u32()
    for _ in range(r.u32()):
        r.take(32)
        out.append(r.take(32))
        r.u32()
    for _ in range(r.u32()):
        r.take(32)
        out.append(r.take(32))
        r.u32()
    r.done()
    return out


def account_secrets(account: olm.Account) -> List[bytes]:
    """Account pickle version 4 (src/account.cpp): version; identity keys
    (Ed25519 public 32 and private 64, Curve25519 pair); one-time keys (id,
    published, pair); the number of fallback keys (u8) and each (id,
    published, pair); the next key id."""
    r = PickleReader(unpickle_plain(account.pickle(PICKLE_KEY)))
    if r.u32() != 4:
        raise RuntimeError("unknown account pickle version")
    r.take(32)
    out = [r.take(64), r.curve_pair()[1]]
    for _ in range(r.u32()):
        r.take(5)
        out.append(r.curve_pair()[1])
    for _ in range(r.take(1)[0]):
        r.take(5)
        out.append(r.curve_pair()[1])
    r.u32()
    r.done()
    return out


# --------------------------------------------------------------------------
# Opaque messages
# --------------------------------------------------------------------------


def encode_message(message: Any) -> bytes:
    if isinstance(message, olm.OlmPreKeyMessage):
        kind = TYPE_PRE_KEY
    elif isinstance(message, olm.OlmMessage):
        kind = TYPE_MESSAGE
    else:
        raise RuntimeError("python-olm returned an unknown message type")
    return bytes([kind]) + unb64(message.ciphertext)


def split_message(data: bytes) -> Tuple[int, bytes]:
    if len(data) < 2 or data[0] not in (TYPE_PRE_KEY, TYPE_MESSAGE):
        raise Rejected("not an opaque Olm message (type byte 0 or 1, then the message)")
    return data[0], data[1:]


def decrypt_raw(session: olm.Session, message_type: int, raw: bytes) -> bytes:
    """libolm's olm_decrypt, called as python-olm's Session.decrypt calls it,
    but returning the plaintext bytes (python-olm decodes them as UTF-8,
    replacing what is not, which would lose binary plaintexts)."""
    ciphertext = b64(raw)
    buf = ffi.new("char[]", ciphertext)
    max_len = lib.olm_decrypt_max_plaintext_length(session._session, message_type, buf, len(ciphertext))
    if max_len == lib.olm_error():
        raise Rejected(ffi.string(lib.olm_session_last_error(session._session)).decode())
    out = ffi.new("char[]", max(max_len, 1))
    buf = ffi.new("char[]", ciphertext)  # olm_decrypt_max_plaintext_length destroyed the first copy
    n = lib.olm_decrypt(session._session, message_type, buf, len(ciphertext), out, max_len)
    if n == lib.olm_error():
        raise Rejected(ffi.string(lib.olm_session_last_error(session._session)).decode())
    plaintext = ffi.unpack(out, n)
    lib.memset(out, 0, max(max_len, 1))
    return plaintext


# --------------------------------------------------------------------------
# Operations
# --------------------------------------------------------------------------


class OlmAdapter:
    def __init__(self) -> None:
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
        # python-olm draws every random value libolm needs (account,
        # one-time and fallback keys, outbound session, encryption) with the
        # module-level URANDOM of account.py and session.py, and hands it to
        # libolm, which has no random source of its own.
        rng = blackbox.SeededRandom(seed)
        olm.account.URANDOM = rng.token_bytes
        olm.session.URANDOM = rng.token_bytes
        version = library_version()
        return blackbox.hello_object(
            name=f"libolm {version} (python-olm 3.2.16)",
            library={"name": "libolm", "version": version, "licence": "Apache-2.0", "family": "olm"},
            seedable=True,
            max_forward_jump=2000,
            skipped_keys={"cap": 40, "scope": "session"},
            old_chains=4,
            max_plaintext=None,
            overhead_first=[154, 179],
            overhead_message=[49, 71],
            capabilities=["state", "skipped_count", "secrets", "layout"],
        )

    # -- parties -----------------------------------------------------------

    def create_party(self, req):
        n = field_int(req, "one_time_prekeys", 0, 100)
        account = olm.Account()
        if n:
            account.generate_one_time_keys(n)
        # The fallback key stands in for "no one-time prekey": Olm's 3DH needs
        # a key of the responder's besides its identity, and libolm accepts
        # its fallback key there without consuming it.
        account.generate_fallback_key()
        return {"party": self.server.new_handle("party", Party(account))}

    def publish_bundle(self, req):
        party = self.server.get(req, "party", Party)
        with_otk = field_bool(req, "one_time_prekey")
        curve, ed = party.identity()
        key_id = None
        if with_otk:
            keys = party.one_time_keys()
            if not keys:
                raise Rejected("no unused one-time key left")
            fresh = sorted((k for k in keys if k not in party.handed_out), key=key_number)
            key_id = fresh[0] if fresh else sorted(keys, key=key_number)[0]
            party.handed_out.add(key_id)
            kind, key = KIND_ONE_TIME, keys[key_id]
        else:
            kind, key = KIND_FALLBACK, party.fallback_key()
        signed = bytes([kind]) + key + curve
        signature = unb64(party.account.sign(signed))
        bundle = curve + ed + bytes([kind]) + key + signature
        return {"bundle": bundle.hex(),
                "one_time_prekey_id": None if key_id is None else blackbox.prekey_id(key_number(key_id))}

    def unused_prekeys(self, req):
        party = self.server.get(req, "party", Party)
        return {"ids": [blackbox.prekey_id(n) for n in sorted(map(key_number, party.one_time_keys()))]}

    # -- sessions ----------------------------------------------------------

    def initiate(self, req):
        party = self.server.get(req, "party", Party)
        bundle = field_hex(req, "bundle")
        plaintext = field_hex(req, "plaintext")
        if len(bundle) != BUNDLE_LEN or bundle[64] not in (KIND_ONE_TIME, KIND_FALLBACK):
            raise Rejected("bundle has the wrong length or kind")
        curve, ed, kind, key, signature = bundle[:32], bundle[32:64], bundle[64], bundle[65:97], bundle[97:]
        try:
            olm.ed25519_verify(b64(ed), bytes([kind]) + key + curve, b64(signature))
        except olm.OlmVerifyError as e:
            raise Rejected(f"bundle signature: {e}") from None
        try:
            session = olm.OutboundSession(party.account, b64(curve), b64(key))
        except olm.OlmSessionError as e:
            raise Rejected(f"outbound session: {e}") from None
        message = session.encrypt(plaintext)
        return {"session": self.server.new_handle("session", session), "message": encode_message(message).hex()}

    def respond(self, req):
        party = self.server.get(req, "party", Party)
        kind, raw = split_message(field_hex(req, "message"))
        if kind != TYPE_PRE_KEY:
            raise Rejected("a first message is an Olm pre-key message")
        try:
            session = olm.InboundSession(party.account, olm.OlmPreKeyMessage(b64(raw).decode()))
        except olm.OlmSessionError as e:
            raise Rejected(f"inbound session: {e}") from None
        # The session is kept, and the one-time key removed, only once the
        # message has decrypted.
        plaintext = decrypt_raw(session, TYPE_PRE_KEY, raw)
        used = pre_key_field(raw, "one_time_key")
        if used is not None and used != party.fallback_key():
            party.account.remove_one_time_keys(session)
        return {"session": self.server.new_handle("session", session), "plaintext": plaintext.hex()}

    def encrypt(self, req):
        session = self.server.get(req, "session", olm.Session)
        plaintext = field_hex(req, "plaintext")
        return {"message": encode_message(session.encrypt(plaintext)).hex()}

    def decrypt(self, req):
        session = self.server.get(req, "session", olm.Session)
        kind, raw = split_message(field_hex(req, "message"))
        return {"plaintext": decrypt_raw(session, kind, raw).hex()}

    def export_state(self, req):
        session = self.server.get(req, "session", olm.Session)
        return {"state": session.pickle(PICKLE_KEY).hex()}

    def import_state(self, req):
        self.server.get(req, "party", Party)
        state = field_hex(req, "state")
        try:
            session = olm.Session.from_pickle(state, PICKLE_KEY)
        except (olm.OlmSessionError, ValueError) as e:
            raise Rejected(f"unpickle: {e}") from None
        return {"session": self.server.new_handle("session", session)}

    # -- optional ----------------------------------------------------------

    def skipped_count(self, req):
        session = self.server.get(req, "session", olm.Session)
        # libolm's olm_session_describe lists the index of every stored
        # skipped message key after "skipped message keys:".
        text = session.describe(buffer_length=8192)
        found = re.search(r"skipped message keys:((?: \d+)*)$", text)
        if found is None:
            raise RuntimeError(f"unexpected olm_session_describe output: {text!r}")
        return {"count": len(found.group(1).split())}

    def secrets(self, req):
        handle = req.get("handle")
        value = self.server.handles.get(handle) if isinstance(handle, str) else None
        if isinstance(value, Party):
            out = account_secrets(value.account)
        elif isinstance(value, olm.Session):
            out = session_secrets(value)
        else:
            raise Rejected("unknown handle")
        return {"secrets": [s.hex() for s in out]}

    def layout(self, req):
        kind, raw = split_message(field_hex(req, "message"))
        if kind == TYPE_PRE_KEY:
            # The envelope (version and the three keys) is covered by no MAC:
            # in `respond` the keys feed the 3DH, so a change makes the inner
            # MAC fail; on an existing session libolm does not look at them.
            inner, ratchet_key, counter = layout_fields(raw, 1, "pre_key", False, "")
        else:
            inner, ratchet_key, counter = layout_fields(raw, 1, "message", True, "")
        fields = [{"name": "adapter.message_type", "offset": 0, "length": 1, "authenticated": False}] + inner
        if sum(f["length"] for f in fields) != len(raw) + 1 or ratchet_key is None:
            raise Rejected("not a message libolm produced")
        return {"kind": "first" if kind == TYPE_PRE_KEY else "message",
                "ratchet_key": ratchet_key.hex(), "counter": counter, "fields": fields}


def main() -> int:
    blackbox.setup_logging()
    return OlmAdapter().server.run()


if __name__ == "__main__":
    sys.exit(main())
