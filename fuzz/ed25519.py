"""Native Ed25519 verification (`verify`, `verify_batch`) against the Python twin
ledger/ed25519_ref.py (RFC 8032 with the ZIP-215 rules of docs/FORMAT.md §5): one verdict per
signature, the same from all three. Inputs are (key, signature, message) triples taken from the
data; a first byte chooses how to bend a genuine signature so that valid and nearly valid ones are
reached, not only random bytes."""
from __future__ import annotations

import hashlib

from ledger import crypto, ed25519_ref
from ledger.keys import Keypair

L = 2**252 + 27742317777372353535851937790883648493
P = 2**255 - 19
# Points of small order (encodings), and a non-canonical y (y + p) of the identity.
SMALL_ORDER = [bytes([1]) + bytes(31), bytes(32), bytes([0xEC]) + b"\xff" * 30 + b"\x7f",
               bytes.fromhex("c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a"),
               bytes.fromhex("26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05"),
               (P + 1).to_bytes(32, "little")]


def _triple(mode: int, chunk: bytes) -> tuple[bytes, bytes, bytes]:
    if mode % 4 == 0 or len(chunk) < 33:
        key, signature, message = chunk[:32], chunk[32:96], chunk[96:]
        return key.ljust(32, b"\0"), signature.ljust(64, b"\0"), message
    keypair = Keypair.from_seed(hashlib.sha256(chunk[:32]).digest())
    message = chunk[33:]
    signature = keypair.sign(message)
    key = keypair.public_key
    tweak = chunk[32]
    if mode % 4 == 2:      # S + L (non-canonical S), or R / A replaced by a small-order point
        choice = tweak % 3
        if choice == 0:
            s = int.from_bytes(signature[32:], "little") + L
            signature = signature[:32] + (s % 2**256).to_bytes(32, "little")
        elif choice == 1:
            signature = SMALL_ORDER[tweak % len(SMALL_ORDER)] + signature[32:]
        else:
            key = SMALL_ORDER[tweak % len(SMALL_ORDER)]
    elif mode % 4 == 3:    # one bit flipped anywhere in key, signature or message
        blob = bytearray(key + signature + message)
        blob[tweak % len(blob)] ^= 1 << (tweak >> 5)
        key, signature, message = bytes(blob[:32]), bytes(blob[32:96]), bytes(blob[96:])
    return key, signature, message


def test_one_input(data: bytes) -> None:
    if not data:
        return
    count = data[0] % 4 + 1
    body = data[1:]
    size = max(1, len(body) // count)
    triples = [_triple(data[0] >> 2, body[i * size:(i + 1) * size]) for i in range(count)]
    expected = [ed25519_ref.verify(k, m, s) for k, s, m in triples]
    single = [crypto.verify(k, m, s) for k, s, m in triples]
    assert single == expected, f"verify disagrees with the twin: {single} != {expected}"
    keys, signatures, messages = zip(*triples)
    batch = crypto.verify_batch(list(keys), list(messages), list(signatures), threads=1)
    assert batch == expected, f"verify_batch disagrees with the twin: {batch} != {expected}"


def _seed(mode: int, count: int, text: bytes) -> bytes:
    return bytes([(mode << 2) | (count - 1)]) + text


SEEDS = {f"mode{mode}-count{count}": _seed(mode, count, bytes(range(40, 40 + 70 * count)))
         for mode in range(4) for count in (1, 3)}
