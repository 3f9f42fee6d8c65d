"""The pure-Python ZIP-215 twin, checked on its own: constants, decoding rules, RFC 8032 test 1,
agreement with PyNaCl on ordinary signatures, and is_small_order against the ledger's y-table rule."""
from __future__ import annotations

import hashlib
import random

import pytest
from nacl.signing import SigningKey

from ledger import ed25519_ref as ref
from ledger import signatures

P, L = ref.P, ref.L


def test_constants():
    x, y = ref.B
    assert (-x * x + y * y - 1 - ref.D * x * x * y * y) % P == 0
    assert ref.encode_point(ref.B) == bytes.fromhex("5866666666666666666666666666666666666666666666666666666666666666")
    assert ref.scalar_mult(L, ref.B) == (0, 1)
    assert ref.scalar_mult(L + 1, ref.B) == ref.B
    assert ref.SQRT_M1 ** 2 % P == P - 1


def test_rfc8032_test1():
    pk = bytes.fromhex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")
    sig = bytes.fromhex("e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b")
    assert ref.verify(pk, b"", sig)
    assert not ref.verify(pk, b"x", sig)


def test_decoding_is_lenient():
    # y = 1 with the sign bit: "x = -0" decodes to the identity
    assert ref.decode_point(bytes([1] + [0] * 30 + [0x80])) == (0, 1)
    # non-canonical y = p + 1 (== 1) decodes, to the same point as y = 1
    enc = (P + 1).to_bytes(32, "little")
    assert ref.decode_point(enc) == (0, 1)
    # y = 2: x^2 = 3 / (4d + 1); not a square -> rejected
    assert ref.decode_point((2).to_bytes(32, "little")) is None
    with pytest.raises(ValueError):
        ref.decode_point(b"\0" * 31)


def test_decode_encode_roundtrip():
    rng = random.Random(3)
    for _ in range(20):
        p = ref.scalar_mult(rng.randrange(1, L), ref.B)
        assert ref.decode_point(ref.encode_point(p)) == p


def test_s_not_reduced():
    sk = SigningKey(b"\x01" * 32)
    sig = sk.sign(b"m").signature
    pk = bytes(sk.verify_key)
    assert ref.verify(pk, b"m", sig)
    s = int.from_bytes(sig[32:], "little") + L
    assert not ref.verify(pk, b"m", sig[:32] + s.to_bytes(32, "little"))


def test_agrees_with_pynacl_on_valid():
    rng = random.Random(5)
    for _ in range(20):
        sk = SigningKey(rng.randbytes(32))
        m = rng.randbytes(rng.randrange(100))
        assert ref.verify(bytes(sk.verify_key), m, sk.sign(m).signature)


def test_cofactored_equation():
    """R with an order-2 component is accepted (cofactored); the uncofactored equation would reject."""
    a, r, m = 12345, 67890, b"cofactor"
    A = ref.scalar_mult(a, ref.B)
    R = ref.point_add(ref.scalar_mult(r, ref.B), (0, P - 1))  # + the point of order 2
    pk, renc = ref.encode_point(A), ref.encode_point(R)
    k = int.from_bytes(hashlib.sha512(renc + pk + m).digest(), "little") % L
    sig = renc + ((r + k * a) % L).to_bytes(32, "little")
    assert ref.verify(pk, m, sig)


def test_is_small_order_matches_ledger_rule():
    rng = random.Random(11)
    samples = [rng.randbytes(32) for _ in range(100)]
    # the 8-torsion in canonical and non-canonical encodings
    for y in (0, 1, P - 1):
        for sign in (0, 1):
            samples.append((y | (sign << 255)).to_bytes(32, "little"))
    samples.append((P + 1).to_bytes(32, "little"))
    samples.append(((P + 1) | (1 << 255)).to_bytes(32, "little"))
    for s in samples:
        assert ref.is_small_order(s) == signatures.is_small_order(s), s.hex()
    assert ref.is_small_order(bytes([1] + [0] * 31))
    assert not ref.is_small_order(ref.encode_point(ref.B))
