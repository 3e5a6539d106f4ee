"""Shared plumbing for the black-box (protocol 2) adapters: ADAPTER-v2.md.

Standard library only. Each adapter in conformance/adapters/<name>/ imports
this module (its directory is put on `sys.path` by the adapter) and supplies
the library-specific operations; this module does the framing (§1), the
hello (§2), the coarse error answers (§3), the handle table, the seeded
random source and the logging set-up (every log line of every library to
stderr, at the most verbose level).

Nothing here implements cryptography: the seeded generator is SHAKE256 from
`hashlib`, used as an extendable-output function over the hello's seed and a
draw counter.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import logging
import sys
import traceback
import warnings
from typing import Any, Callable, Dict, List, Optional


class Rejected(Exception):
    """The library rejected the input (coarse class `rejected`). The text
    goes to stderr, never into the response."""


class Duplicate(Exception):
    """The library itself reported a replay (coarse class `duplicate`)."""


class Unsupported(Exception):
    """The operation cannot be expressed with this library."""


def setup_logging() -> None:
    """Every logger to stderr at the lowest level Python has (1, below
    DEBUG), unfiltered; warnings through logging as well."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setLevel(1)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(1)
    logging.captureWarnings(True)
    warnings.simplefilter("always")


class SeededRandom:
    """Deterministic bytes from the hello's seed: draw i of n bytes is
    SHAKE256("sealwire-v2-draw" || seed || u64be(i)) truncated to n."""

    def __init__(self, seed: bytes) -> None:
        self.seed = seed
        self.draws = 0

    def token_bytes(self, n: int = 32) -> bytes:
        self.draws += 1
        h = hashlib.shake_256(b"sealwire-v2-draw" + self.seed + self.draws.to_bytes(8, "big"))
        return h.digest(n)

    def randbelow(self, n: int) -> int:
        """Uniform in [0, n) by rejection sampling on 64-bit draws."""
        if n <= 0:
            raise ValueError("randbelow needs n > 0")
        limit = (1 << 64) - ((1 << 64) % n)
        while True:
            v = int.from_bytes(self.token_bytes(8), "big")
            if v < limit:
                return v % n

    def randint(self, a: int, b: int) -> int:
        return a + self.randbelow(b - a + 1)

    def choice(self, seq: Any) -> Any:
        seq = list(seq)
        return seq[self.randbelow(len(seq))]


def field_hex(req: Dict[str, Any], name: str) -> bytes:
    value = req.get(name)
    if not isinstance(value, str) or value != value.lower():
        raise Rejected(f"field {name} missing or not lowercase hex")
    try:
        return bytes.fromhex(value)
    except ValueError:
        raise Rejected(f"field {name} is not hex") from None


def field_int(req: Dict[str, Any], name: str, lo: int, hi: int) -> int:
    value = req.get(name)
    if not isinstance(value, int) or isinstance(value, bool) or not lo <= value <= hi:
        raise Rejected(f"field {name} must be an integer in {lo}..{hi}")
    return value


def field_bool(req: Dict[str, Any], name: str) -> bool:
    value = req.get(name)
    if not isinstance(value, bool):
        raise Rejected(f"field {name} must be a boolean")
    return value


def read_varint(data: bytes, pos: int) -> "tuple[int, int]":
    """A protobuf-style base-128 varint at data[pos:]: (value, next pos)."""
    value = shift = 0
    while True:
        if pos >= len(data):
            raise Rejected("truncated varint")
        b = data[pos]
        pos += 1
        value |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return value, pos
        if shift > 63:
            raise Rejected("varint too long")


def parse_tlv(data: bytes, start: int, end: int, names: Dict[int, str]) -> List[Dict[str, Any]]:
    """The fields of a protobuf-style structure in data[start:end] (varint
    tags; wire type 0 varints, wire type 2 length-delimited), for the
    adapters' `layout`: each as name (from `names` by tag, else
    unknown_<tag>), tag_at, at (value offset), length (value bytes) and value
    (bytes, or the integer of a varint)."""
    out = []
    pos = start
    while pos < end:
        tag_at = pos
        tag, pos = read_varint(data, pos)
        if tag & 7 == 2:
            length, pos = read_varint(data, pos)
            if pos + length > end:
                raise Rejected("field overruns the message")
            value_at, value = pos, data[pos:pos + length]
            pos += length
        elif tag & 7 == 0:
            value_at = pos
            value, pos = read_varint(data, pos)
            length = pos - value_at
        else:
            raise Rejected("unknown wire type")
        out.append({"name": names.get(tag, f"unknown_{tag}"), "tag_at": tag_at, "at": value_at,
                    "length": length, "value": value})
    return out


def prekey_id(number: int) -> str:
    """A one-time prekey id as the adapters name it: the library's number
    as 8 lowercase hex digits, so that string order is number order."""
    return f"{number:08x}"


def log(text: str) -> None:
    """The adapter's own diagnostics (never secrets)."""
    print(f"adapter: {text}", file=sys.stderr, flush=True)


class Server:
    """The JSON-lines loop. `hello` returns the hello's `ok` object after the
    seed has been applied; `ops` maps every other operation to a handler
    returning the `ok` object. Handlers raise Rejected, Duplicate or
    Unsupported; any other exception of a handler named in `receiving`
    (those fed attacker-controlled bytes) is logged and answered `rejected`,
    elsewhere it is a fault of the adapter and stops it (status 1)."""

    RECEIVING = ("respond", "decrypt", "import_state", "initiate", "layout")

    def __init__(self, hello: Callable[[bytes], Dict[str, Any]],
                 ops: Dict[str, Callable[[Dict[str, Any]], Dict[str, Any]]]) -> None:
        self.hello = hello
        self.ops = ops
        self.greeted = False
        self.handles: Dict[str, Any] = {}
        self.counter = 0

    # -- handles -------------------------------------------------------------

    def new_handle(self, prefix: str, value: Any) -> str:
        self.counter += 1
        handle = f"{prefix}{self.counter}"
        self.handles[handle] = value
        return handle

    def get(self, req: Dict[str, Any], name: str, kind: type) -> Any:
        handle = req.get(name)
        value = self.handles.get(handle) if isinstance(handle, str) else None
        if not isinstance(value, kind):
            raise Rejected(f"unknown {kind.__name__} handle")
        return value

    def op_free(self, req: Dict[str, Any]) -> Dict[str, Any]:
        handle = req.get("handle")
        if not isinstance(handle, str) or handle not in self.handles:
            raise Rejected("unknown handle")
        del self.handles[handle]
        return {}

    # -- dispatch ------------------------------------------------------------

    def answer(self, req: Dict[str, Any]) -> Dict[str, Any]:
        rid = req.get("id")
        op = req.get("op")
        if op == "hello":
            if req.get("protocol") != 2:
                # ADAPTER.md §2: another protocol version is answered `wire`.
                return {"id": rid, "error": "wire"}
            seed = req.get("seed")
            try:
                seed_bytes = bytes.fromhex(seed) if isinstance(seed, str) else b""
            except ValueError:
                seed_bytes = b""
            if len(seed_bytes) != 32:
                log("hello without a 32-byte hex seed")
                return {"id": rid, "error": "rejected"}
            self.greeted = True
            return {"id": rid, "ok": self.hello(seed_bytes)}
        if not self.greeted:
            log("request before hello")
            return {"id": rid, "error": "rejected"}
        handler = self.op_free if op == "free" else self.ops.get(op) if isinstance(op, str) else None
        if handler is None:
            return {"id": rid, "unsupported": f"unknown operation {op!r}"}
        try:
            return {"id": rid, "ok": handler(req)}
        except Rejected as e:
            log(f"{op}: rejected: {e}")
            return {"id": rid, "error": "rejected"}
        except Duplicate as e:
            log(f"{op}: duplicate: {e}")
            return {"id": rid, "error": "duplicate"}
        except Unsupported as e:
            return {"id": rid, "unsupported": str(e)}
        except Exception:
            if op not in self.RECEIVING:
                raise
            log(f"{op}: the library raised an exception the adapter does not map; answered rejected")
            traceback.print_exc(file=sys.stderr)
            return {"id": rid, "error": "rejected"}

    def run(self, first_lines: Optional[List[str]] = None) -> int:
        out = sys.stdout
        for line in itertools.chain(first_lines or [], sys.stdin):
            if not line.strip():
                continue
            try:
                req = json.loads(line)
                if not isinstance(req, dict):
                    raise ValueError("request is not a JSON object")
            except ValueError as e:
                log(f"unreadable request: {e}")
                out.write(json.dumps({"id": None, "error": "rejected"}) + "\n")
                out.flush()
                continue
            try:
                response = self.answer(req)
            except Exception:
                traceback.print_exc(file=sys.stderr)
                return 1
            out.write(json.dumps(response, separators=(",", ":")) + "\n")
            out.flush()
        return 0


def hello_object(*, name: str, library: Dict[str, str], seedable: bool,
                 max_forward_jump: Optional[int], skipped_keys: Any,
                 old_chains: Optional[int], max_plaintext: Optional[int],
                 overhead_first: List[int], overhead_message: List[int],
                 capabilities: List[str]) -> Dict[str, Any]:
    return {
        "name": name,
        "protocol": 2,
        "library": library,
        "errors": "coarse",
        "seedable": seedable,
        "limits": {
            "max_forward_jump": max_forward_jump,
            "skipped_keys": skipped_keys,
            "old_chains": old_chains,
            "max_plaintext": max_plaintext,
        },
        "overhead": {"first": overhead_first, "message": overhead_message},
        "capabilities": capabilities,
    }
