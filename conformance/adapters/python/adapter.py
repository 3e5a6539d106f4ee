#!/usr/bin/env python3
"""Sealwire conformance adapter over the PyPI packages `x3dh` and `doubleratchet`.

Speaks the JSON-lines adapter protocol of `conformance/ADAPTER.md` on stdin and
stdout (stderr is for diagnostics only). The protocol logic -- X3DH key
agreement, the Diffie-Hellman and symmetric-key ratchets, skipped message keys,
duplicate detection, the all-or-nothing receive -- comes from the packages.
This file only

* implements the packages' hooks as the Sealwire profile fixes them
  (`../shared/design/profile.md`): HKDF/HMAC KDFs with Sealwire's labels,
  X25519 with all-zero outputs rejected, ChaCha20-Poly1305 keyed by
  HKDF(0x00*32, MK, "Sealwire MessageKeys v1", 44), the 41-byte header and
  `aad = AD || header`;
* frames what the packages exchange as Sealwire's wire structures (bundle,
  initial message, ratchet message) and maps prekey ids to public keys;
* supplies every private key the runner gives (identity seeds, prekeys,
  ephemeral and ratchet keys) through controlled randomness sources;
* maps the packages' exceptions to Sealwire's error classes.

The runner supplies every private key, so every output is byte-exact. Secrets
never appear in diagnostics.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import sys
import traceback
import warnings
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import x3dh
import x3dh.base_state
from x3dh.identity_key_pair import IdentityKeyPairSeed
import xeddsa
import doubleratchet
from doubleratchet.recommended import HashFunction as DrHash
from doubleratchet.recommended import kdf_hkdf, kdf_separate_hmacs

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes, hmac, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

ADAPTER_PROTOCOL_VERSION = 1
NAME = "python x3dh 1.3.0 + doubleratchet 1.3.0"

# Profile constants (SPEC.md §3).
VERSION = 0x01
LABEL_X3DH = b"Sealwire X3DH v1"
LABEL_ROOT = b"Sealwire Root v1"
LABEL_MESSAGE_KEYS = b"Sealwire MessageKeys v1"
KEY_LEN = 32
SIG_LEN = 64
AD_LEN = 64
HEADER_LEN = 41
TAG_LEN = 16
OVERHEAD = HEADER_LEN + TAG_LEN
MAX_PLAINTEXT_LEN = 1 << 20
MAX_MESSAGE_LEN = MAX_PLAINTEXT_LEN + OVERHEAD
INITIAL_PREFIX_LEN_WITHOUT_OPK = 1 + KEY_LEN + KEY_LEN + 4 + 1
BUNDLE_LEN_WITHOUT_OPK = 1 + KEY_LEN + 4 + KEY_LEN + SIG_LEN + 1
BUNDLE_LEN_WITH_OPK = BUNDLE_LEN_WITHOUT_OPK + 4 + KEY_LEN
MAX_SKIP = 1000
MAX_SKIPPED_KEYS = 2000
U32_MAX = 0xFFFFFFFF
# KDF_CK data: the package's HMAC KDF computes HMAC(ck, b) for every byte b
# and concatenates; the KDF chain keeps the first 32 bytes as the next chain
# key and returns the rest as the message key. So b"\x02\x01" gives
# next = HMAC(ck, 0x02), MK = HMAC(ck, 0x01), as the profile says.
MESSAGE_CHAIN_CONSTANT = b"\x02\x01"

CAPABILITIES = [
    "primitives",
    "kdf",
    "bundle",
    "session",
    "x3dh_secret",
    "wire",
    "skipped_count",
]

# Why the remaining capabilities are not offered (answered as `unsupported`).
STATE_UNSUPPORTED = (
    "the doubleratchet package's state has no list of earlier receiving ratchet keys "
    "(SPEC.md §6.5), so SPEC.md §9's persisted state cannot be produced or restored byte for byte"
)


# --------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------


class SealwireError(Exception):
    """An answer with a Sealwire error class (never carries secrets)."""

    def __init__(self, error_class: str, why: str) -> None:
        super().__init__(why)
        self.error_class = error_class


class Unsupported(Exception):
    """The operation cannot be expressed with the packages."""


def wire(why: str) -> SealwireError:
    return SealwireError("wire", why)


# --------------------------------------------------------------------------
# Controlled randomness
# --------------------------------------------------------------------------


class ScriptedSecrets:
    """Stands in for the `secrets` module inside `x3dh.base_state`.

    The x3dh package draws its ephemeral key, signed prekey and one-time
    prekeys with `secrets.token_bytes(32)` and picks a one-time prekey with
    `secrets.choice`. The adapter scripts every draw with the private key
    the runner supplied; an unscripted draw is a fault of the adapter, never
    silently replaced by fresh randomness.
    """

    def __init__(self) -> None:
        self._queue: List[bytes] = []

    @contextlib.contextmanager
    def script(self, *values: bytes):
        if self._queue:
            raise RuntimeError("scripted randomness left over from an earlier operation")
        self._queue = list(values)
        try:
            yield
            if self._queue:
                raise RuntimeError(
                    f"{len(self._queue)} scripted value(s) not drawn by the x3dh package"
                )
        finally:
            self._queue = []

    def token_bytes(self, n: int) -> bytes:
        if not self._queue:
            raise RuntimeError("the x3dh package drew randomness the adapter did not script")
        value = self._queue.pop(0)
        if len(value) != n:
            raise RuntimeError(f"the x3dh package drew {n} bytes, {len(value)} were scripted")
        return value

    def choice(self, seq: Sequence[Any]) -> Any:
        # A Sealwire bundle offers at most one one-time prekey, so the
        # package's random choice among them has exactly one option.
        if len(seq) != 1:
            raise RuntimeError(f"choice among {len(seq)} one-time prekeys")
        return seq[0]


X3DH_RANDOM = ScriptedSecrets()
x3dh.base_state.secrets = X3DH_RANDOM  # type: ignore[attr-defined]


# A private key that is never part of a session: it stands in where the
# packages need a key that cannot influence any output (a throwaway identity
# for bundle verification, the initiator's own unused signed prekey, a
# placeholder signed prekey no id names). The adapter draws no randomness of
# its own.
PLACEHOLDER_KEY = bytes([0x5A]) * KEY_LEN


class RatchetKeySource:
    """The ratchet private keys handed to the doubleratchet package's
    `_generate_priv` hook: the runner's key for this operation.

    If the package asks for a ratchet key the runner did not give (a
    decrypt without `ratchet_private_key` whose message the package treats
    as a new turn), it gets a placeholder and `unsupplied` is set: if such a
    message is then rejected the step is discarded with it, but a message
    accepted that way would leave a session with a key the runner does not
    know, so the adapter stops (see `op_decrypt`).
    """

    def __init__(self) -> None:
        self._keys: List[bytes] = []
        self.unsupplied = False

    @contextlib.contextmanager
    def provide(self, key: Optional[bytes]):
        self._keys = [] if key is None else [key]
        self.unsupplied = False
        try:
            yield
        finally:
            self._keys = []

    def draw(self) -> bytes:
        if self._keys:
            return self._keys.pop()
        self.unsupplied = True
        return PLACEHOLDER_KEY


RATCHET_KEYS = RatchetKeySource()


# --------------------------------------------------------------------------
# Primitives (cryptography)
# --------------------------------------------------------------------------


def x25519_raw(private_key: bytes, public_key: bytes) -> bytes:
    """X25519 as RFC 7748 defines it, all-zero output included.

    `cryptography` (OpenSSL) refuses to return the all-zero output: OpenSSL's
    X25519 reports failure exactly when the result is 32 zero bytes. So a
    refusal is that output.
    """
    try:
        return X25519PrivateKey.from_private_bytes(private_key).exchange(
            X25519PublicKey.from_public_bytes(public_key)
        )
    except ValueError:
        return bytes(KEY_LEN)


# y coordinates of the Ed25519 points of small order (orders 1, 2, 4, 8):
# 1, p - 1, 0 and the two of order 8. Their encodings, with either x sign bit
# and with y reduced mod p, are what strict verification refuses as R or A.
_Y_ORDER_8 = int.from_bytes(
    bytes.fromhex("26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05"), "little"
)
_SMALL_ORDER_Y = {0, 1, 2**255 - 20, _Y_ORDER_8, 2**255 - 19 - _Y_ORDER_8}


def ed25519_small_order(encoding: bytes) -> bool:
    y = int.from_bytes(encoding, "little") & ((1 << 255) - 1)
    return y % (2**255 - 19) in _SMALL_ORDER_Y


def ed25519_verify_strict(public_key: bytes, message: bytes, signature: bytes) -> bool:
    """RFC 8032 verification by `cryptography` (OpenSSL: S < L, R compared
    as encoded), plus what strict verification adds and OpenSSL does not
    check: no small-order R or A."""
    if len(public_key) != 32 or len(signature) != 64:
        return False
    if ed25519_small_order(public_key) or ed25519_small_order(signature[:32]):
        return False
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(signature, message)
        return True
    except (InvalidSignature, ValueError):
        return False


def hkdf_sha256(salt: bytes, ikm: bytes, info: bytes, length: int) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=salt, info=info).derive(ikm)


def hmac_sha256(key: bytes, message: bytes) -> bytes:
    mac = hmac.HMAC(key, hashes.SHA256())
    mac.update(message)
    return mac.finalize()


def x25519_public(private_key: bytes) -> bytes:
    return X25519PrivateKey.from_private_bytes(private_key).public_key().public_bytes(
        encoding=serialization.Encoding.Raw, format=serialization.PublicFormat.Raw
    )


# --------------------------------------------------------------------------
# doubleratchet hooks
# --------------------------------------------------------------------------


class RootKDF(kdf_hkdf.KDF):
    """KDF_RK: HKDF(salt = rk, ikm = dh_out, "Sealwire Root v1", 64)."""

    @staticmethod
    def _get_hash_function() -> DrHash:
        return DrHash.SHA_256

    @staticmethod
    def _get_info() -> bytes:
        return LABEL_ROOT


class ChainKDF(kdf_separate_hmacs.KDF):
    """KDF_CK: HMAC(ck, 0x02) || HMAC(ck, 0x01) (see MESSAGE_CHAIN_CONSTANT)."""

    @staticmethod
    def _get_hash_function() -> DrHash:
        return DrHash.SHA_256


def message_keys(message_key: bytes) -> Tuple[bytes, bytes]:
    """key || nonce = HKDF(0x00*32, MK, "Sealwire MessageKeys v1", 44)."""
    okm = hkdf_sha256(bytes(KEY_LEN), message_key, LABEL_MESSAGE_KEYS, 44)
    return okm[:32], okm[32:]


class SealwireAEAD(doubleratchet.AEAD):
    """ChaCha20-Poly1305 keyed from the message key (profile, "Sealing")."""

    @staticmethod
    async def encrypt(plaintext: bytes, key: bytes, associated_data: bytes) -> bytes:
        aead_key, nonce = message_keys(key)
        return ChaCha20Poly1305(aead_key).encrypt(nonce, plaintext, associated_data)

    @staticmethod
    async def decrypt(ciphertext: bytes, key: bytes, associated_data: bytes) -> bytes:
        aead_key, nonce = message_keys(key)
        try:
            return ChaCha20Poly1305(aead_key).decrypt(nonce, ciphertext, associated_data)
        except InvalidTag:
            raise doubleratchet.AuthenticationFailedException("decryption failed") from None


class LowOrderKey(Exception):
    """An X25519 output was all zero."""


class SealwireDHRatchet(doubleratchet.DiffieHellmanRatchet):
    """X25519 ratchet keys; the runner supplies every new private key."""

    @staticmethod
    def _generate_priv() -> bytes:
        return RATCHET_KEYS.draw()

    @staticmethod
    def _derive_pub(priv: bytes) -> bytes:
        return x25519_public(priv)

    @staticmethod
    def _perform_diffie_hellman(own_priv: bytes, other_pub: bytes) -> bytes:
        shared = x25519_raw(own_priv, other_pub)
        if shared == bytes(KEY_LEN):
            raise LowOrderKey("all-zero X25519 output")
        return shared


class RatchetLimit(Exception):
    """A counter does not fit Sealwire's u32 fields."""


def encode_header(header: doubleratchet.Header) -> bytes:
    """0x01 || DHs || u32be(PN) || u32be(N). The package's counters are
    unbounded Python integers: anything outside u32 is refused."""
    pn = header.previous_sending_chain_length
    n = header.sending_chain_length
    if not (0 <= pn <= U32_MAX and 0 <= n <= U32_MAX):
        raise RatchetLimit("counter outside u32")
    if len(header.ratchet_pub) != KEY_LEN:
        raise RatchetLimit("ratchet key length")
    return bytes([VERSION]) + header.ratchet_pub + pn.to_bytes(4, "big") + n.to_bytes(4, "big")


class SealwireDoubleRatchet(doubleratchet.DoubleRatchet):
    @staticmethod
    def _build_associated_data(associated_data: bytes, header: doubleratchet.Header) -> bytes:
        # aad = AD (64) || header (41)
        return associated_data + encode_header(header)


DR_CONFIG: Dict[str, Any] = dict(
    diffie_hellman_ratchet_class=SealwireDHRatchet,
    root_chain_kdf=RootKDF,
    message_chain_kdf=ChainKDF,
    message_chain_constant=MESSAGE_CHAIN_CONSTANT,
    dos_protection_threshold=MAX_SKIP,
    max_num_skipped_message_keys=MAX_SKIPPED_KEYS,
    aead=SealwireAEAD,
)

# The package only warns when a ratchet step would skip more than
# `dos_protection_threshold` keys of the old receiving chain (and then
# continues without them). Sealwire rejects such a message: this filter turns
# exactly that warning into an exception, raised inside the package's
# working copy of the ratchet, so the session is untouched.
DOS_WARNING = r"More than \d+ message keys skipped"


@contextlib.contextmanager
def skip_limit_is_an_error():
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=DOS_WARNING, category=UserWarning)
        yield


# --------------------------------------------------------------------------
# x3dh hooks
# --------------------------------------------------------------------------


class SealwireX3DH(x3dh.BaseState):
    """X3DH with Ed25519 identity keys encoded raw (Encode(PK) = 32 bytes)."""

    @staticmethod
    def _encode_public_key(key_format: x3dh.IdentityKeyFormat, pub: bytes) -> bytes:
        return pub


def new_x3dh_state(seed: bytes, signed_prekey_private: bytes) -> SealwireX3DH:
    """A BaseState whose identity is made from `seed` (IdentityKeyPairSeed,
    RFC 8032) and whose signed prekey is generated, and signed, by the
    package from the scripted private key."""
    with X3DH_RANDOM.script(signed_prekey_private):
        return SealwireX3DH.create(
            x3dh.IdentityKeyFormat.ED_25519,
            x3dh.HashFunction.SHA_256,
            LABEL_X3DH,
            IdentityKeyPairSeed(seed),
        )


def classify_xeddsa(error: Exception) -> SealwireError:
    """xeddsa raises one exception type for two causes; its message tells
    them apart (pinned versions)."""
    text = str(error)
    if text.startswith("Ed25519 public key rejected"):
        return SealwireError("handshake", "invalid or weak identity key")
    if text.startswith("Key agreement failed"):
        return SealwireError("low_order_key", "all-zero X25519 output")
    raise error


# --------------------------------------------------------------------------
# Wire framing (SPEC.md §4, §7, §8)
# --------------------------------------------------------------------------


FIELD_P = 2**255 - 19


def is_canonical_x25519(key: bytes) -> bool:
    return int.from_bytes(key, "little") < FIELD_P


class Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def take(self, n: int) -> bytes:
        if len(self.data) - self.pos < n:
            raise wire("truncated")
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return out

    def u8(self) -> int:
        return self.take(1)[0]

    def u32(self) -> int:
        return int.from_bytes(self.take(4), "big")

    def version(self) -> None:
        v = self.u8()
        if v != VERSION:
            raise wire(f"unsupported version {v}")

    def x25519_key(self) -> bytes:
        """A received X25519 public key must be canonical (SPEC.md §2):
        bit 255 clear and u < p. X25519 itself would accept the others."""
        key = self.take(KEY_LEN)
        if not is_canonical_x25519(key):
            raise wire("non-canonical X25519 key")
        return key

    def flag(self) -> bool:
        f = self.u8()
        if f not in (0, 1):
            raise wire("invalid flag")
        return f == 1

    def rest(self) -> bytes:
        out = self.data[self.pos :]
        self.pos = len(self.data)
        return out

    def done(self) -> None:
        if self.pos != len(self.data):
            raise wire("trailing bytes")


def decode_header(r: Reader) -> doubleratchet.Header:
    r.version()
    ratchet_pub = r.x25519_key()
    pn = r.u32()
    n = r.u32()
    return doubleratchet.Header(
        ratchet_pub=ratchet_pub, previous_sending_chain_length=pn, sending_chain_length=n
    )


def decode_ratchet_message(data: bytes) -> doubleratchet.EncryptedMessage:
    if len(data) > MAX_MESSAGE_LEN:
        raise wire("oversized")
    r = Reader(data)
    header = decode_header(r)
    body = r.rest()
    if len(body) < TAG_LEN:
        raise wire("truncated")
    return doubleratchet.EncryptedMessage(header=header, ciphertext=body)


def encode_ratchet_message(message: doubleratchet.EncryptedMessage) -> bytes:
    return encode_header(message.header) + message.ciphertext


class Bundle:
    def __init__(self, identity_key: bytes, spk_id: int, spk: bytes, sig: bytes,
                 opk: Optional[Tuple[int, bytes]]) -> None:
        self.identity_key = identity_key
        self.spk_id = spk_id
        self.spk = spk
        self.sig = sig
        self.opk = opk

    @classmethod
    def decode(cls, data: bytes) -> "Bundle":
        if len(data) > BUNDLE_LEN_WITH_OPK:
            raise wire("oversized")
        r = Reader(data)
        r.version()
        identity_key = r.take(KEY_LEN)
        spk_id = r.u32()
        spk = r.x25519_key()
        sig = r.take(SIG_LEN)
        opk = None
        if r.flag():
            opk_id = r.u32()
            opk = (opk_id, r.x25519_key())
        r.done()
        return cls(identity_key, spk_id, spk, sig, opk)

    def encode(self) -> bytes:
        out = bytes([VERSION]) + self.identity_key + self.spk_id.to_bytes(4, "big") + self.spk + self.sig
        if self.opk is None:
            return out + b"\x00"
        return out + b"\x01" + self.opk[0].to_bytes(4, "big") + self.opk[1]

    def for_x3dh(self) -> x3dh.Bundle:
        return x3dh.Bundle(
            identity_key=self.identity_key,
            signed_pre_key=self.spk,
            signed_pre_key_sig=self.sig,
            pre_keys=frozenset() if self.opk is None else frozenset([self.opk[1]]),
        )


class InitialMessage:
    def __init__(self, identity_key: bytes, ephemeral_key: bytes, spk_id: int,
                 opk_id: Optional[int], message: bytes) -> None:
        self.identity_key = identity_key
        self.ephemeral_key = ephemeral_key
        self.spk_id = spk_id
        self.opk_id = opk_id
        self.message = message

    @classmethod
    def decode(cls, data: bytes) -> "InitialMessage":
        if len(data) > MAX_MESSAGE_LEN + INITIAL_PREFIX_LEN_WITHOUT_OPK + 4:
            raise wire("oversized")
        r = Reader(data)
        r.version()
        identity_key = r.take(KEY_LEN)
        ephemeral_key = r.x25519_key()
        spk_id = r.u32()
        opk_id = r.u32() if r.flag() else None
        message = r.rest()
        decode_ratchet_message(message)
        return cls(identity_key, ephemeral_key, spk_id, opk_id, message)

    def encode(self) -> bytes:
        out = bytes([VERSION]) + self.identity_key + self.ephemeral_key + self.spk_id.to_bytes(4, "big")
        if self.opk_id is None:
            out += b"\x00"
        else:
            out += b"\x01" + self.opk_id.to_bytes(4, "big")
        return out + self.message


# --------------------------------------------------------------------------
# Handles
# --------------------------------------------------------------------------


class Session:
    def __init__(self, ratchet: SealwireDoubleRatchet, ad: bytes) -> None:
        self.ratchet = ratchet
        self.ad = ad


class PreKeyStore:
    """A responder's prekeys. The x3dh package identifies prekeys by public
    key and keeps one current and one old signed prekey; Sealwire names them
    by id. The store keeps the package-generated signed prekey pairs by id
    and one BaseState, the authority on which one-time prekeys remain; a
    respond puts the named signed prekey into a working copy of that state
    and adopts the copy only after the first message has decrypted."""

    def __init__(self, state: SealwireX3DH, signed: Dict[int, Any], one_time: Dict[int, bytes]) -> None:
        self.state = state
        self.signed = signed
        self.one_time = one_time

    def remaining_ids(self) -> List[int]:
        available = self.state.bundle.pre_keys | self.state.hidden_pre_keys
        return sorted(i for i, pub in self.one_time.items() if pub in available)


# --------------------------------------------------------------------------
# The adapter
# --------------------------------------------------------------------------


def field_bytes(req: Dict[str, Any], name: str, length: Optional[int] = None) -> bytes:
    value = req.get(name)
    if not isinstance(value, str):
        raise wire(f"field {name} missing or not hex")
    try:
        data = bytes.fromhex(value)
    except ValueError:
        raise wire(f"field {name} is not hex") from None
    if length is not None and len(data) != length:
        raise wire(f"field {name} must be {length} bytes")
    return data


def field_u32(obj: Dict[str, Any], name: str) -> int:
    value = obj.get(name)
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= U32_MAX:
        raise wire(f"field {name} must be a u32")
    return value


def hexs(data: bytes) -> str:
    return data.hex()


class Adapter:
    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.handles: Dict[str, Any] = {}
        self.counter = 0
        self.ops: Dict[str, Callable[[Dict[str, Any]], Dict[str, Any]]] = {
            "x25519": self.op_x25519,
            "ed25519_verify": self.op_ed25519_verify,
            "hkdf_sha256": self.op_hkdf_sha256,
            "hmac_sha256": self.op_hmac_sha256,
            "aead_seal": self.op_aead_seal,
            "aead_open": self.op_aead_open,
            "kdf_rk": self.op_kdf_rk,
            "kdf_ck": self.op_kdf_ck,
            "message_keys": self.op_message_keys,
            "seal": self.op_seal,
            "open": self.op_open,
            "identity_public": self.op_identity_public,
            "bundle_create": self.op_bundle_create,
            "bundle_verify": self.op_bundle_verify,
            "decode": self.op_decode,
            "prekey_store_create": self.op_prekey_store_create,
            "prekey_store_ids": self.op_prekey_store_ids,
            "initiate": self.op_initiate,
            "respond": self.op_respond,
            "encrypt": self.op_encrypt,
            "decrypt": self.op_decrypt,
            "skipped_count": self.op_skipped_count,
            "free": self.op_free,
        }

    def run(self, coro: Any) -> Any:
        return self.loop.run_until_complete(coro)

    def new_handle(self, prefix: str, value: Any) -> str:
        self.counter += 1
        handle = f"{prefix}{self.counter}"
        self.handles[handle] = value
        return handle

    def get(self, req: Dict[str, Any], name: str, kind: type) -> Any:
        handle = req.get(name)
        value = self.handles.get(handle) if isinstance(handle, str) else None
        if not isinstance(value, kind):
            # ADAPTER.md: a request that cannot be interpreted is `wire`.
            raise wire(f"unknown {kind.__name__} handle")
        return value

    # -- dispatch -----------------------------------------------------------

    def handle_line(self, line: str) -> Optional[Dict[str, Any]]:
        req = json.loads(line)
        if not isinstance(req, dict):
            raise ValueError("request is not a JSON object")
        rid = req.get("id")
        op = req.get("op")
        if op == "hello":
            if req.get("protocol") != ADAPTER_PROTOCOL_VERSION:
                # ADAPTER.md §2: another protocol version is answered `wire`.
                return {"id": rid, "error": "wire"}
            return {
                "id": rid,
                "ok": {"name": NAME, "protocol": ADAPTER_PROTOCOL_VERSION, "capabilities": CAPABILITIES},
            }
        if op in ("export_state", "import_state", "seal_state", "open_state"):
            return {"id": rid, "unsupported": STATE_UNSUPPORTED}
        handler = self.ops.get(op) if isinstance(op, str) else None
        if handler is None:
            return {"id": rid, "unsupported": f"unknown operation {op!r}"}
        try:
            return {"id": rid, "ok": handler(req)}
        except SealwireError as e:
            return {"id": rid, "error": e.error_class}
        except Unsupported as e:
            return {"id": rid, "unsupported": str(e)}

    # -- primitives ---------------------------------------------------------

    def op_x25519(self, req):
        return {"shared": hexs(x25519_raw(field_bytes(req, "private_key", 32), field_bytes(req, "public_key", 32)))}

    def op_ed25519_verify(self, req):
        # ADAPTER.md: keys and signatures of the wrong length are invalid.
        return {"valid": ed25519_verify_strict(
            field_bytes(req, "public_key"), field_bytes(req, "message"), field_bytes(req, "signature")
        )}

    def op_hkdf_sha256(self, req):
        length = req.get("length")
        if not isinstance(length, int) or isinstance(length, bool) or not 0 <= length <= 255 * 32:
            raise wire("hkdf length out of range")
        okm = hkdf_sha256(field_bytes(req, "salt"), field_bytes(req, "ikm"), field_bytes(req, "info"), length)
        return {"okm": hexs(okm)}

    def op_hmac_sha256(self, req):
        return {"mac": hexs(hmac_sha256(field_bytes(req, "key"), field_bytes(req, "message")))}

    def op_aead_seal(self, req):
        cipher = ChaCha20Poly1305(field_bytes(req, "key", 32))
        ct = cipher.encrypt(field_bytes(req, "nonce", 12), field_bytes(req, "plaintext"), field_bytes(req, "aad"))
        return {"ciphertext": hexs(ct)}

    def op_aead_open(self, req):
        cipher = ChaCha20Poly1305(field_bytes(req, "key", 32))
        try:
            pt = cipher.decrypt(field_bytes(req, "nonce", 12), field_bytes(req, "ciphertext"), field_bytes(req, "aad"))
        except InvalidTag:
            raise SealwireError("decryption_failed", "decryption failed") from None
        return {"plaintext": hexs(pt)}

    # -- KDFs and the sealing core, through the package's KDF chain ----------

    def op_kdf_rk(self, req):
        chain = doubleratchet.KDFChain.create(RootKDF, field_bytes(req, "root_key", 32))
        chain_key = self.run(chain.step(field_bytes(req, "dh_output", 32), 32))
        return {"root_key": hexs(chain.model.key), "chain_key": hexs(chain_key)}

    def op_kdf_ck(self, req):
        chain = doubleratchet.KDFChain.create(ChainKDF, field_bytes(req, "chain_key", 32))
        message_key = self.run(chain.step(MESSAGE_CHAIN_CONSTANT, 32))
        return {"chain_key": hexs(chain.model.key), "message_key": hexs(message_key)}

    def op_message_keys(self, req):
        key, nonce = message_keys(field_bytes(req, "message_key", 32))
        return {"key": hexs(key), "nonce": hexs(nonce)}

    def op_seal(self, req):
        mk = field_bytes(req, "message_key", 32)
        ad = field_bytes(req, "ad", AD_LEN)
        header = field_bytes(req, "header", HEADER_LEN)
        plaintext = field_bytes(req, "plaintext")
        if len(plaintext) > MAX_PLAINTEXT_LEN:
            raise SealwireError("ratchet_limit", "plaintext too long")
        body = self.run(SealwireAEAD.encrypt(plaintext, mk, ad + header))
        return {"message": hexs(header + body)}

    def op_open(self, req):
        mk = field_bytes(req, "message_key", 32)
        ad = field_bytes(req, "ad", AD_LEN)
        message = field_bytes(req, "message")
        if len(message) < OVERHEAD:
            raise wire("truncated")
        if len(message) > MAX_MESSAGE_LEN:
            raise wire("oversized")
        try:
            pt = self.run(SealwireAEAD.decrypt(message[HEADER_LEN:], mk, ad + message[:HEADER_LEN]))
        except doubleratchet.AuthenticationFailedException:
            raise SealwireError("decryption_failed", "decryption failed") from None
        return {"plaintext": hexs(pt)}

    # -- identity and bundles ----------------------------------------------

    def op_identity_public(self, req):
        identity = IdentityKeyPairSeed(field_bytes(req, "seed", 32))
        priv = identity.as_priv().priv
        return {
            "public_key": hexs(xeddsa.priv_to_ed25519_pub(priv)),
            "x25519_public_key": hexs(xeddsa.priv_to_curve25519_pub(priv)),
        }

    @staticmethod
    def prekey_secret(obj: Any) -> Tuple[int, bytes]:
        if not isinstance(obj, dict):
            raise wire("prekey must be an object")
        return field_u32(obj, "id"), field_bytes(obj, "private_key", 32)

    def op_bundle_create(self, req):
        seed = field_bytes(req, "identity_seed", 32)
        spk_id, spk_priv = self.prekey_secret(req.get("signed_prekey"))
        opk = req.get("one_time_prekey")
        state = new_x3dh_state(seed, spk_priv)
        opk_entry = None
        if opk is not None:
            opk_id, opk_priv = self.prekey_secret(opk)
            with X3DH_RANDOM.script(opk_priv):
                state.generate_pre_keys(1)
            (opk_pub,) = state.bundle.pre_keys
            opk_entry = (opk_id, opk_pub)
        b = state.bundle
        bundle = Bundle(b.identity_key, spk_id, b.signed_pre_key, b.signed_pre_key_sig, opk_entry)
        return {"bundle": hexs(bundle.encode())}

    async def agree_active(self, identity: SealwireX3DH, bundle: Bundle) -> Tuple[bytes, bytes, x3dh.Header]:
        """The package's active key agreement, its errors as Sealwire classes."""
        try:
            return await identity.get_shared_secret_active(bundle.for_x3dh(), b"", require_pre_key=False)
        except x3dh.KeyAgreementException:
            raise SealwireError("handshake", "key agreement refused") from None
        except xeddsa.XEdDSAException as e:
            raise classify_xeddsa(e) from None

    def op_bundle_verify(self, req):
        # The x3dh package verifies a bundle only as part of an active key
        # agreement (signature, identity key conversion, every DH with the
        # prekeys). Run exactly that with a throwaway identity and discard
        # the result.
        bundle = Bundle.decode(field_bytes(req, "bundle"))
        throwaway = new_x3dh_state(PLACEHOLDER_KEY, PLACEHOLDER_KEY)
        with X3DH_RANDOM.script(PLACEHOLDER_KEY):
            self.run(self.agree_active(throwaway, bundle))
        return {}

    def op_decode(self, req):
        structure = req.get("structure")
        data = field_bytes(req, "bytes")
        if structure == "header":
            r = Reader(data)
            header = decode_header(r)
            r.done()
            encoded = encode_header(header)
        elif structure == "ratchet_message":
            encoded = encode_ratchet_message(decode_ratchet_message(data))
        elif structure == "initial_message":
            encoded = InitialMessage.decode(data).encode()
        elif structure == "bundle":
            encoded = Bundle.decode(data).encode()
        else:
            raise Unsupported(f"unknown structure {structure!r}")
        return {"encoded": hexs(encoded)}

    # -- prekey stores ------------------------------------------------------

    def op_prekey_store_create(self, req):
        seed = field_bytes(req, "identity_seed", 32)
        signed_in = req.get("signed_prekeys")
        one_time_in = req.get("one_time_prekeys")
        if not isinstance(signed_in, list) or not isinstance(one_time_in, list):
            raise wire("signed_prekeys and one_time_prekeys must be lists")
        signed: Dict[int, Any] = {}
        for entry in signed_in:
            spk_id, spk_priv = self.prekey_secret(entry)
            # The package generates (and signs) each signed prekey; a later
            # entry with the same id replaces an earlier one.
            signed[spk_id] = new_x3dh_state(seed, spk_priv).model.signed_pre_key
        # The store's state: the identity and the one-time prekeys. Its own
        # signed prekey is a placeholder no id names; a respond puts the
        # named one in its place.
        state = new_x3dh_state(seed, PLACEHOLDER_KEY)
        one_time: Dict[int, bytes] = {}
        for entry in one_time_in:
            opk_id, opk_priv = self.prekey_secret(entry)
            before = state.bundle.pre_keys
            with X3DH_RANDOM.script(opk_priv):
                state.generate_pre_keys(1)
            added = state.bundle.pre_keys - before
            one_time[opk_id] = next(iter(added)) if added else x25519_public(opk_priv)
        return {"store": self.new_handle("store", PreKeyStore(state, signed, one_time))}

    def op_prekey_store_ids(self, req):
        store = self.get(req, "store", PreKeyStore)
        return {"one_time_prekey_ids": store.remaining_ids()}

    # -- sessions -----------------------------------------------------------

    def x3dh_outputs(self, sk: bytes, ad: bytes) -> Dict[str, Any]:
        return {"shared_secret": hexs(sk), "ad": hexs(ad)}

    def op_initiate(self, req):
        seed = field_bytes(req, "identity_seed", 32)
        bundle = Bundle.decode(field_bytes(req, "bundle"))
        ek = field_bytes(req, "ephemeral_private_key", 32)
        ratchet_key = field_bytes(req, "ratchet_private_key", 32)
        plaintext = field_bytes(req, "plaintext")
        # The initiator's own signed prekey is never used.
        identity = new_x3dh_state(seed, PLACEHOLDER_KEY)
        with X3DH_RANDOM.script(ek):
            sk, ad, x3dh_header = self.run(self.agree_active(identity, bundle))
        if len(plaintext) > MAX_PLAINTEXT_LEN:
            raise SealwireError("ratchet_limit", "plaintext too long")
        try:
            with RATCHET_KEYS.provide(ratchet_key):
                ratchet, message = self.run(SealwireDoubleRatchet.encrypt_initial_message(
                    shared_secret=sk,
                    recipient_ratchet_pub=bundle.spk,
                    message=plaintext,
                    associated_data=ad,
                    **DR_CONFIG,
                ))
        except LowOrderKey:
            raise SealwireError("low_order_key", "all-zero X25519 output") from None
        initial = InitialMessage(
            identity_key=x3dh_header.identity_key,
            ephemeral_key=x3dh_header.ephemeral_key,
            spk_id=bundle.spk_id,
            opk_id=None if x3dh_header.pre_key is None else bundle.opk[0],
            message=encode_ratchet_message(message),
        )
        out = {"session": self.new_handle("session", Session(ratchet, ad)), "initial_message": hexs(initial.encode())}
        out.update(self.x3dh_outputs(sk, ad))
        return out

    def op_respond(self, req):
        store = self.get(req, "store", PreKeyStore)
        initial = InitialMessage.decode(field_bytes(req, "initial_message"))
        ratchet_key = field_bytes(req, "ratchet_private_key", 32)
        message = decode_ratchet_message(initial.message)
        spk = store.signed.get(initial.spk_id)
        if spk is None:
            raise SealwireError("handshake", "unknown signed prekey")
        opk_pub: Optional[bytes] = None
        if initial.opk_id is not None:
            opk_pub = store.one_time.get(initial.opk_id)
            if opk_pub is None:
                raise SealwireError("handshake", "unknown one-time prekey")
        # A working copy of the store's X3DH state with the named signed
        # prekey as the current one; the store itself is not touched until
        # the first message has decrypted.
        working = SealwireX3DH.from_model(
            store.state.model.model_copy(update={"signed_pre_key": spk, "old_signed_pre_key": None}),
            x3dh.IdentityKeyFormat.ED_25519,
            x3dh.HashFunction.SHA_256,
            LABEL_X3DH,
        )
        header = x3dh.Header(
            identity_key=initial.identity_key,
            ephemeral_key=initial.ephemeral_key,
            signed_pre_key=working.bundle.signed_pre_key,
            pre_key=opk_pub,
        )
        try:
            sk, ad, spk_pair = self.run(working.get_shared_secret_passive(header, b"", require_pre_key=False))
        except x3dh.KeyAgreementException:
            raise SealwireError("handshake", "key agreement refused") from None
        except xeddsa.XEdDSAException as e:
            raise classify_xeddsa(e) from None
        with RATCHET_KEYS.provide(ratchet_key):
            ratchet, plaintext = self.receive(lambda: SealwireDoubleRatchet.decrypt_initial_message(
                shared_secret=sk,
                own_ratchet_priv=spk_pair.priv,
                message=message,
                associated_data=ad,
                **DR_CONFIG,
            ))
        # Only now: the one-time prekey is consumed, through the package.
        if opk_pub is not None:
            working.delete_pre_key(opk_pub)
        store.state = working
        out = {"session": self.new_handle("session", Session(ratchet, ad)), "plaintext": hexs(plaintext)}
        out.update(self.x3dh_outputs(sk, ad))
        return out

    def receive(self, make_coro: Callable[[], Any]) -> Any:
        """Runs a package receive with the skip-limit warning as an error
        and maps every failure to its Sealwire class."""
        try:
            with skip_limit_is_an_error():
                return self.run(make_coro())
        except doubleratchet.AuthenticationFailedException:
            raise SealwireError("decryption_failed", "decryption failed") from None
        except doubleratchet.DecryptionFailedException:
            raise SealwireError("decryption_failed", "decryption failed") from None
        except doubleratchet.DuplicateMessageException:
            raise SealwireError("duplicate", "duplicate message") from None
        except doubleratchet.DoSProtectionException:
            raise SealwireError("ratchet_limit", "too many skipped keys") from None
        except UserWarning:
            # Only DOS_WARNING is turned into an exception.
            raise SealwireError("ratchet_limit", "too many skipped keys") from None
        except LowOrderKey:
            raise SealwireError("low_order_key", "all-zero X25519 output") from None
        except RatchetLimit:
            raise SealwireError("ratchet_limit", "counter outside u32") from None
        except (AssertionError, doubleratchet.ChainNotAvailableException):
            # The package has no receiving chain yet (an initiator who has
            # received nothing gets a message under the responder's signed
            # prekey): it stops at an internal sanity check. Nothing was
            # decrypted; see DIFFERENCES.md.
            raise SealwireError("decryption_failed", "no receiving chain") from None

    def op_encrypt(self, req):
        session = self.get(req, "session", Session)
        plaintext = field_bytes(req, "plaintext")
        if session.ratchet.sending_chain_length >= U32_MAX:
            raise SealwireError("ratchet_limit", "sending counter exhausted")
        if len(plaintext) > MAX_PLAINTEXT_LEN:
            raise SealwireError("ratchet_limit", "plaintext too long")
        snapshot = copy.deepcopy(session.ratchet)
        try:
            message = self.run(session.ratchet.encrypt_message(plaintext, session.ad))
        except RatchetLimit:
            session.ratchet = snapshot
            raise SealwireError("ratchet_limit", "counter outside u32") from None
        except BaseException:
            session.ratchet = snapshot
            raise
        return {"message": hexs(encode_ratchet_message(message))}

    def op_decrypt(self, req):
        session = self.get(req, "session", Session)
        message = decode_ratchet_message(field_bytes(req, "message"))
        key = req.get("ratchet_private_key")
        ratchet_key = None if key is None else field_bytes(req, "ratchet_private_key", 32)
        # All or nothing: the package already works on a copy of its DH
        # ratchet, but the adapter keeps its own snapshot of the whole
        # session and restores it on any failure.
        snapshot = copy.deepcopy(session.ratchet)
        try:
            with RATCHET_KEYS.provide(ratchet_key):
                plaintext = self.receive(lambda: session.ratchet.decrypt_message(message, session.ad))
                if RATCHET_KEYS.unsupplied:
                    raise RuntimeError(
                        "decrypt accepted a message that starts a new ratchet turn, "
                        "but the request supplied no ratchet_private_key"
                    )
        except BaseException:
            session.ratchet = snapshot
            raise
        return {"plaintext": hexs(plaintext)}

    def op_skipped_count(self, req):
        session = self.get(req, "session", Session)
        return {"count": len(session.ratchet.model.skipped_message_keys)}

    def op_free(self, req):
        handle = req.get("handle")
        if not isinstance(handle, str) or handle not in self.handles:
            raise wire("unknown handle")
        del self.handles[handle]
        return {}


def is_blackbox_hello(line: str) -> bool:
    """A protocol-2 hello (ADAPTER-v2.md) as the first request selects the
    black-box mode (blackbox_mode.py); anything else is version 1."""
    try:
        req = json.loads(line)
    except ValueError:
        return False
    return isinstance(req, dict) and req.get("op") == "hello" and req.get("protocol") == 2


def main() -> int:
    adapter = Adapter()
    out = sys.stdout
    first = True
    for line in sys.stdin:
        if not line.strip():
            continue
        if first and is_blackbox_hello(line):
            # blackbox_mode imports this module as `adapter`: let it find this
            # one, not a second copy with its own randomness hooks.
            sys.modules.setdefault("adapter", sys.modules[__name__])
            import blackbox_mode

            return blackbox_mode.serve(adapter, line)
        first = False
        try:
            response = adapter.handle_line(line)
        except Exception:
            # A fault of the adapter or an exception the packages were not
            # expected to raise: report it (tracebacks carry no local values)
            # and stop, so the runner sees a broken implementation rather
            # than a made-up answer.
            traceback.print_exc(file=sys.stderr)
            return 1
        out.write(json.dumps(response, separators=(",", ":")) + "\n")
        out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
