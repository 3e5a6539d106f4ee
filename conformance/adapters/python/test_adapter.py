#!/usr/bin/env python3
"""Tests of the Python adapter through its JSON-lines interface (stdlib only).

Run with the virtual environment's interpreter, which has the pinned
packages (see README.md):

    /work/venv-python/bin/python -m unittest conformance/adapters/python/test_adapter.py

The adapter is started with the same interpreter (`sys.executable`), or with
`$SEALWIRE_ADAPTER_PYTHON` when set. Private keys come from a seeded
generator; the seed is printed when a test fails.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import subprocess
import sys
import unittest
from pathlib import Path
from typing import Any, Dict, List, Optional

ADAPTER = Path(__file__).resolve().parent / "adapter.py"
PYTHON = os.environ.get("SEALWIRE_ADAPTER_PYTHON", sys.executable)


class Adapter:
    """One adapter process; `call` sends a request and returns the response."""

    def __init__(self, quiet: bool = False) -> None:
        self.proc = subprocess.Popen(
            [PYTHON, str(ADAPTER)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL if quiet else None,
            text=True,
        )
        self.next_id = 0

    def send(self, request: Dict[str, Any]) -> Dict[str, Any]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(json.dumps(request) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise AssertionError(f"adapter exited (rc {self.proc.wait()}) on {request['op']}")
        response = json.loads(line)
        if response.get("id") != request["id"]:
            raise AssertionError(f"response id {response.get('id')} for request {request['id']}")
        return response

    def call(self, op: str, **fields: Any) -> Dict[str, Any]:
        self.next_id += 1
        return self.send(dict(fields, id=self.next_id, op=op))

    def ok(self, op: str, **fields: Any) -> Dict[str, Any]:
        response = self.call(op, **fields)
        if "ok" not in response:
            raise AssertionError(f"{op} answered {response}")
        return response["ok"]

    def error(self, op: str, **fields: Any) -> str:
        response = self.call(op, **fields)
        if "error" not in response:
            raise AssertionError(f"{op} should fail but answered {response}")
        return response["error"]

    def close(self) -> int:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.close()
        rc = self.proc.wait(timeout=60)
        self.proc.stdout.close()
        return rc


def hx(text: bytes) -> str:
    return text.hex()


class AdapterTest(unittest.TestCase):
    def setUp(self) -> None:
        self.seed = int.from_bytes(os.urandom(4), "big")
        self.rng = random.Random(self.seed)
        self.adapter = Adapter()
        hello = self.adapter.send({"id": 0, "op": "hello", "protocol": 1})
        self.assertEqual(hello["ok"]["protocol"], 1)
        self.capabilities = hello["ok"]["capabilities"]

    def tearDown(self) -> None:
        self.assertEqual(self.adapter.close(), 0, "adapter must exit 0 on EOF")

    def run(self, result=None):  # type: ignore[override]
        # Print the seed of a failing test so it can be repeated.
        outcome = super().run(result)
        if result is not None and not result.wasSuccessful() and hasattr(self, "seed"):
            print(f"\n{self.id()}: seed {self.seed}", file=sys.stderr)
        return outcome

    def key(self) -> str:
        return bytes(self.rng.getrandbits(8) for _ in range(32)).hex()

    # -- helpers ------------------------------------------------------------

    def conversation(self, with_opk: bool = True):
        """Alice initiates with Bob's bundle; Bob responds. Returns both
        sessions, Bob's store and the bundle."""
        a = self.adapter
        alice, bob = self.key(), self.key()
        spk, opk = self.key(), self.key()
        store = a.ok(
            "prekey_store_create",
            identity_seed=bob,
            signed_prekeys=[{"id": 1, "private_key": spk}],
            one_time_prekeys=[{"id": 5, "private_key": opk}] if with_opk else [],
        )["store"]
        bundle = a.ok(
            "bundle_create",
            identity_seed=bob,
            signed_prekey={"id": 1, "private_key": spk},
            one_time_prekey={"id": 5, "private_key": opk} if with_opk else None,
        )["bundle"]
        init = a.ok(
            "initiate",
            identity_seed=alice,
            bundle=bundle,
            ephemeral_private_key=self.key(),
            ratchet_private_key=self.key(),
            plaintext=hx(b"first"),
        )
        resp = a.ok("respond", store=store, initial_message=init["initial_message"], ratchet_private_key=self.key())
        self.assertEqual(resp["plaintext"], hx(b"first"))
        self.assertEqual(resp["shared_secret"], init["shared_secret"])
        self.assertEqual(resp["ad"], init["ad"])
        return init["session"], resp["session"], store, bundle

    def send(self, session: str, text: bytes) -> str:
        return self.adapter.ok("encrypt", session=session, plaintext=hx(text))["message"]

    def receive(self, session: str, message: str) -> str:
        return self.adapter.ok("decrypt", session=session, message=message, ratchet_private_key=self.key())["plaintext"]

    def skipped(self, session: str) -> int:
        return self.adapter.ok("skipped_count", session=session)["count"]

    # -- published known answers --------------------------------------------

    def test_published_primitive_vectors(self) -> None:
        a = self.adapter
        # RFC 7748 §5.2, first X25519 test vector.
        shared = a.ok(
            "x25519",
            private_key="a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4",
            public_key="e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c",
        )["shared"]
        self.assertEqual(shared, "c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552")
        # RFC 5869 appendix A.1, HKDF-SHA256 test case 1.
        okm = a.ok(
            "hkdf_sha256",
            salt="000102030405060708090a0b0c",
            ikm="0b" * 22,
            info="f0f1f2f3f4f5f6f7f8f9",
            length=42,
        )["okm"]
        self.assertEqual(
            okm,
            "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865",
        )
        # RFC 8032 §7.1, TEST 1 (empty message).
        valid = a.ok(
            "ed25519_verify",
            public_key="d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
            message="",
            signature="e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155"
            "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
        )["valid"]
        self.assertTrue(valid)

    def test_kdf_ops_agree_with_their_definitions(self) -> None:
        # The package's KDF chains, configured by the adapter's hooks, must
        # compute exactly the profile's formulas, recomputed here with hashlib.
        import hmac as std_hmac

        a = self.adapter
        ck = bytes.fromhex(self.key())
        out = a.ok("kdf_ck", chain_key=ck.hex())
        self.assertEqual(out["chain_key"], std_hmac.new(ck, b"\x02", hashlib.sha256).hexdigest())
        self.assertEqual(out["message_key"], std_hmac.new(ck, b"\x01", hashlib.sha256).hexdigest())

        def hkdf(salt: bytes, ikm: bytes, info: bytes, length: int) -> bytes:
            prk = std_hmac.new(salt, ikm, hashlib.sha256).digest()
            okm, block, i = b"", b"", 1
            while len(okm) < length:
                block = std_hmac.new(prk, block + info + bytes([i]), hashlib.sha256).digest()
                okm += block
                i += 1
            return okm[:length]

        rk, dh = bytes.fromhex(self.key()), bytes.fromhex(self.key())
        out = a.ok("kdf_rk", root_key=rk.hex(), dh_output=dh.hex())
        expected = hkdf(rk, dh, b"Sealwire Root v1", 64)
        self.assertEqual(out["root_key"], expected[:32].hex())
        self.assertEqual(out["chain_key"], expected[32:].hex())
        mk = bytes.fromhex(self.key())
        out = a.ok("message_keys", message_key=mk.hex())
        expected = hkdf(bytes(32), mk, b"Sealwire MessageKeys v1", 44)
        self.assertEqual((out["key"], out["nonce"]), (expected[:32].hex(), expected[32:].hex()))

    def test_seal_open_round_trip_and_tamper(self) -> None:
        a = self.adapter
        mk, ad = self.key(), self.key() + self.key()
        header = "01" + self.key() + "00000003" + "00000007"
        message = a.ok("seal", message_key=mk, ad=ad, header=header, plaintext=hx(b"sealed"))["message"]
        self.assertEqual(len(bytes.fromhex(message)), len(b"sealed") + 57)
        self.assertTrue(message.startswith(header))
        self.assertEqual(a.ok("open", message_key=mk, ad=ad, message=message)["plaintext"], hx(b"sealed"))
        tampered = message[:-2] + format(int(message[-2:], 16) ^ 1, "02x")
        self.assertEqual(a.error("open", message_key=mk, ad=ad, message=tampered), "decryption_failed")
        self.assertEqual(a.error("open", message_key=mk, ad=ad, message=message[:112]), "wire")

    # -- bundles and X3DH -----------------------------------------------------

    def test_bundle_signature_verifies_and_tampering_is_rejected(self) -> None:
        a = self.adapter
        seed, spk = self.key(), self.key()
        bundle = a.ok("bundle_create", identity_seed=seed, signed_prekey={"id": 3, "private_key": spk},
                      one_time_prekey=None)["bundle"]
        raw = bytes.fromhex(bundle)
        self.assertEqual(len(raw), 134)
        self.assertEqual(raw[1:33].hex(), a.ok("identity_public", seed=seed)["public_key"])
        # The signature is checked by verifying, never by comparing bytes.
        self.assertTrue(a.ok("ed25519_verify", public_key=raw[1:33].hex(), message=raw[37:69].hex(),
                             signature=raw[69:133].hex())["valid"])
        self.assertEqual(a.ok("bundle_verify", bundle=bundle), {})
        bad_sig = raw[:100] + bytes([raw[100] ^ 0x10]) + raw[101:]
        self.assertEqual(a.error("bundle_verify", bundle=bad_sig.hex()), "handshake")
        self.assertEqual(a.error("bundle_verify", bundle=bundle[:-2]), "wire")
        self.assertEqual(a.error("bundle_verify", bundle=bundle + "00"), "wire")

    def test_one_time_prekey_is_consumed_only_after_success(self) -> None:
        a = self.adapter
        alice, bob, spk, opk = self.key(), self.key(), self.key(), self.key()
        store = a.ok("prekey_store_create", identity_seed=bob,
                     signed_prekeys=[{"id": 1, "private_key": spk}, {"id": 2, "private_key": self.key()}],
                     one_time_prekeys=[{"id": 7, "private_key": opk}, {"id": 8, "private_key": self.key()}])["store"]
        bundle = a.ok("bundle_create", identity_seed=bob, signed_prekey={"id": 1, "private_key": spk},
                      one_time_prekey={"id": 7, "private_key": opk})["bundle"]
        initial = a.ok("initiate", identity_seed=alice, bundle=bundle, ephemeral_private_key=self.key(),
                       ratchet_private_key=self.key(), plaintext=hx(b"hi"))["initial_message"]
        # A tampered first message fails and consumes nothing.
        tampered = initial[:-2] + format(int(initial[-2:], 16) ^ 0x80, "02x")
        self.assertEqual(a.error("respond", store=store, initial_message=tampered, ratchet_private_key=self.key()),
                         "decryption_failed")
        self.assertEqual(a.ok("prekey_store_ids", store=store)["one_time_prekey_ids"], [7, 8])
        a.ok("respond", store=store, initial_message=initial, ratchet_private_key=self.key())
        self.assertEqual(a.ok("prekey_store_ids", store=store)["one_time_prekey_ids"], [8])
        # A replay names a deleted one-time prekey.
        self.assertEqual(a.error("respond", store=store, initial_message=initial, ratchet_private_key=self.key()),
                         "handshake")

    def test_initiate_is_deterministic_given_the_keys(self) -> None:
        a = self.adapter
        alice, bob, spk = self.key(), self.key(), self.key()
        bundle = a.ok("bundle_create", identity_seed=bob, signed_prekey={"id": 1, "private_key": spk},
                      one_time_prekey=None)["bundle"]
        ek, rk = self.key(), self.key()
        runs = [a.ok("initiate", identity_seed=alice, bundle=bundle, ephemeral_private_key=ek,
                     ratchet_private_key=rk, plaintext=hx(b"same")) for _ in range(2)]
        self.assertEqual(runs[0]["initial_message"], runs[1]["initial_message"])
        self.assertEqual(runs[0]["shared_secret"], runs[1]["shared_secret"])
        self.assertNotEqual(runs[0]["session"], runs[1]["session"])

    # -- the ratchet ----------------------------------------------------------

    def test_conversation_out_of_order_and_replays(self) -> None:
        alice, bob, _, _ = self.conversation()
        m = [self.send(bob, f"b{i}".encode()) for i in range(4)]
        self.assertEqual(self.receive(alice, m[2]), hx(b"b2"))
        self.assertEqual(self.skipped(alice), 2)
        self.assertEqual(self.receive(alice, m[0]), hx(b"b0"))
        self.assertEqual(self.skipped(alice), 1)
        self.assertEqual(self.adapter.error("decrypt", session=alice, message=m[0], ratchet_private_key=None),
                         "duplicate")
        self.assertEqual(self.adapter.error("decrypt", session=alice, message=m[2], ratchet_private_key=None),
                         "duplicate")
        reply = self.send(alice, b"a0")
        self.assertEqual(self.receive(bob, reply), hx(b"a0"))
        self.assertEqual(self.receive(alice, m[3]), hx(b"b3"))
        self.assertEqual(self.receive(alice, m[1]), hx(b"b1"))
        self.assertEqual(self.skipped(alice), 0)

    def test_tampered_message_changes_nothing(self) -> None:
        alice, bob, _, _ = self.conversation()
        message = self.send(bob, b"intact")
        raw = bytearray(bytes.fromhex(message))
        for position in (5, 36, 40, len(raw) - 1):
            tampered = bytearray(raw)
            tampered[position] ^= 1
            error = self.adapter.error("decrypt", session=alice, message=tampered.hex(), ratchet_private_key=self.key())
            self.assertIn(error, ("decryption_failed", "low_order_key", "ratchet_limit"), f"byte {position}")
            self.assertEqual(self.skipped(alice), 0)
        self.assertEqual(self.receive(alice, message), hx(b"intact"))
        self.assertEqual(self.adapter.error("decrypt", session=alice, message=message[:100],
                                            ratchet_private_key=None), "wire")

    def test_max_skip_in_the_current_chain(self) -> None:
        alice, bob, _, _ = self.conversation()
        messages = [self.send(bob, b"m") for _ in range(1002)]
        # N = 1001 needs 1001 skipped keys: rejected, nothing stored.
        self.assertEqual(self.adapter.error("decrypt", session=alice, message=messages[1001],
                                            ratchet_private_key=self.key()), "ratchet_limit")
        self.assertEqual(self.skipped(alice), 0)
        # N = 1000 needs exactly 1000: accepted.
        self.assertEqual(self.receive(alice, messages[1000]), hx(b"m"))
        self.assertEqual(self.skipped(alice), 1000)

    def test_max_skip_across_a_ratchet_step_is_an_error_not_a_warning(self) -> None:
        alice, bob, _, _ = self.conversation()
        chain = [self.send(bob, b"c") for _ in range(1003)]
        self.assertEqual(self.receive(alice, chain[0]), hx(b"c"))
        self.assertEqual(self.receive(bob, self.send(alice, b"turn")), hx(b"turn"))
        # Bob's new chain announces PN = 1003: Alice would skip 1002 keys of
        # the old chain. The package only warns; the adapter must reject.
        next_turn = self.send(bob, b"new chain")
        self.assertEqual(self.adapter.error("decrypt", session=alice, message=next_turn,
                                            ratchet_private_key=self.key()), "ratchet_limit")
        self.assertEqual(self.skipped(alice), 0)
        # The session is untouched: the old chain still decrypts in order.
        self.assertEqual(self.receive(alice, chain[1]), hx(b"c"))

    def test_max_skip_across_a_ratchet_step_boundary_accepted(self) -> None:
        alice, bob, _, _ = self.conversation()
        chain = [self.send(bob, b"c") for _ in range(1001)]
        self.assertEqual(self.receive(alice, chain[0]), hx(b"c"))
        self.assertEqual(self.receive(bob, self.send(alice, b"turn")), hx(b"turn"))
        next_turn = self.send(bob, b"new chain")  # PN = 1001: skip exactly 1000
        self.assertEqual(self.receive(alice, next_turn), hx(b"new chain"))
        self.assertEqual(self.skipped(alice), 1000)
        self.assertEqual(self.receive(alice, chain[1000]), hx(b"c"))

    def test_no_receiving_chain_yet(self) -> None:
        # Alice has received nothing; a message under Bob's signed prekey
        # (her DHr) finds no receiving chain. The package stops at a sanity
        # check there; the adapter reports decryption_failed (DIFFERENCES.md)
        # and the session still works.
        alice, bob, _, bundle = self.conversation(with_opk=False)
        spk_public = bytes.fromhex(bundle)[37:69]
        forged = b"\x01" + spk_public + bytes(8) + bytes(self.rng.getrandbits(8) for _ in range(20))
        self.assertEqual(self.adapter.error("decrypt", session=alice, message=forged.hex(),
                                            ratchet_private_key=None), "decryption_failed")
        self.assertEqual(self.receive(alice, self.send(bob, b"still fine")), hx(b"still fine"))

    def test_a_new_turn_without_a_supplied_ratchet_key_stops_the_adapter(self) -> None:
        # Accepting it would leave a session with a key the runner does not
        # know: the adapter reports a fault (exits non-zero) instead. (Its
        # traceback is expected here: this adapter's stderr is discarded.)
        self.assertEqual(self.adapter.close(), 0)
        self.adapter = Adapter(quiet=True)
        self.adapter.send({"id": 0, "op": "hello", "protocol": 1})
        alice, bob, _, _ = self.conversation()
        message = self.send(bob, b"new turn")
        request = {"id": 10_000, "op": "decrypt", "session": alice, "message": message, "ratchet_private_key": None}
        assert self.adapter.proc.stdin is not None and self.adapter.proc.stdout is not None
        self.adapter.proc.stdin.write(json.dumps(request) + "\n")
        self.adapter.proc.stdin.flush()
        self.assertEqual(self.adapter.proc.stdout.readline(), "")
        self.assertNotEqual(self.adapter.proc.wait(timeout=60), 0)
        self.adapter = Adapter()  # a fresh one for tearDown
        self.adapter.send({"id": 0, "op": "hello", "protocol": 1})

    # -- protocol -------------------------------------------------------------

    def test_unsupported_and_malformed_requests(self) -> None:
        a = self.adapter
        alice, _, _, _ = self.conversation()
        self.assertIn("unsupported", a.call("export_state", session=alice))
        self.assertIn("unsupported", a.call("import_state", state="01"))
        self.assertNotIn("state", self.capabilities)
        self.assertEqual(a.error("encrypt", session="no-such-session", plaintext=""), "wire")
        self.assertEqual(a.error("x25519", private_key="00", public_key="00"), "wire")
        self.assertEqual(a.ok("free", handle=alice), {})
        self.assertEqual(a.error("free", handle=alice), "wire")


if __name__ == "__main__":
    unittest.main()
