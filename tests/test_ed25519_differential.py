"""Differential tests of the native ZIP-215 verifier against the pure-Python twin (exact oracle,
always) and PyNaCl/libsodium (only where the stricter libsodium rules and ZIP-215 must agree)."""
from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from nacl.exceptions import BadSignatureError
from nacl.signing import SigningKey, VerifyKey

from ledger import crypto, ed25519_ref

P = ed25519_ref.P
L = ed25519_ref.L

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def nacl_verify(pk: bytes, msg: bytes, sig: bytes) -> bool:
    try:
        VerifyKey(pk).verify(msg, sig)
        return True
    except (BadSignatureError, ValueError, TypeError):
        return False


def strictly_encoded(enc: bytes) -> bool:
    """Canonical (y < p, no "x = -0"), decodable and not of small order: where libsodium's decoding
    rules and ZIP-215's coincide."""
    y = int.from_bytes(enc, "little") & ((1 << 255) - 1)
    if y >= P:
        return False
    pt = ed25519_ref.decode_point(enc)
    if pt is None:
        return False
    if pt[0] == 0 and enc[31] & 0x80:
        return False
    return not ed25519_ref.is_small_order(enc)


def rules_agree(pk: bytes, sig: bytes) -> bool:
    return len(pk) == 32 and len(sig) == 64 and strictly_encoded(pk) and strictly_encoded(sig[:32])


def check(pk: bytes, msg: bytes, sig: bytes, compare_nacl: bool = True) -> bool:
    """Native verdict, asserted equal to the twin's and, where the rule sets agree, libsodium's.
    (libsodium's equation is not cofactored, so points with a small-order component built on purpose
    are out of that comparison: compare_nacl=False.)"""
    native = crypto.verify(pk, msg, sig)
    twin = ed25519_ref.verify(pk, msg, sig)
    assert native == twin, (pk.hex(), msg.hex(), sig.hex())
    if compare_nacl and rules_agree(pk, sig):
        assert native == nacl_verify(pk, msg, sig), (pk.hex(), msg.hex(), sig.hex())
    return native


seeds = st.binary(min_size=32, max_size=32)
messages = st.binary(max_size=300)


@SETTINGS
@given(seed=seeds, msg=messages)
def test_valid_random(seed, msg):
    sk = SigningKey(seed)
    sig = sk.sign(msg).signature
    pk = bytes(sk.verify_key)
    assert check(pk, msg, sig) is True
    assert nacl_verify(pk, msg, sig)


@SETTINGS
@given(seed=seeds, msg=messages, part=st.sampled_from(["R", "A", "S", "M"]), pos=st.integers(0, 10**6),
       bit=st.integers(0, 7))
def test_bit_flips(seed, msg, part, pos, bit):
    sk = SigningKey(seed)
    sig = bytearray(sk.sign(msg).signature)
    pk = bytearray(bytes(sk.verify_key))
    msg = bytearray(msg)
    if part == "R":
        sig[pos % 32] ^= 1 << bit
    elif part == "S":
        sig[32 + pos % 32] ^= 1 << bit
    elif part == "A":
        pk[pos % 32] ^= 1 << bit
    elif msg:
        msg[pos % len(msg)] ^= 1 << bit
    else:
        msg.append(bit)
    assert check(bytes(pk), bytes(msg), bytes(sig)) is False


@SETTINGS
@given(seed=seeds, msg=messages, part=st.sampled_from(["R", "A", "S"]), junk=st.binary(min_size=32, max_size=32))
def test_random_replacement(seed, msg, part, junk):
    """Whole components replaced by random bytes (often not on the curve, or S >= L)."""
    sk = SigningKey(seed)
    sig = sk.sign(msg).signature
    pk = bytes(sk.verify_key)
    if part == "R":
        sig = junk + sig[32:]
    elif part == "S":
        sig = sig[:32] + junk
    else:
        pk = junk
    assert check(pk, msg, sig) is False


@SETTINGS
@given(seed=seeds, msg=messages, k=st.integers(1, 8))
def test_s_plus_multiple_of_l(seed, msg, k):
    """S + kL names the same scalar but must be rejected (S is never reduced)."""
    sk = SigningKey(seed)
    sig = sk.sign(msg).signature
    s = int.from_bytes(sig[32:], "little") + k * L
    if s < 2**256:
        assert check(bytes(sk.verify_key), msg, sig[:32] + s.to_bytes(32, "little")) is False


@SETTINGS
@given(a=st.integers(1, L - 1), r=st.integers(1, L - 1), msg=messages, ta=st.integers(0, 7), tr=st.integers(0, 7))
def test_torsion_components(a, r, msg, ta, tr):
    """Signatures made with small-order components in A and R: valid under ZIP-215 (cofactored
    equation), rejected by libsodium unless both components are zero; the twin is the oracle."""
    import hashlib
    t8 = _torsion_points()
    A = ed25519_ref.point_add(ed25519_ref.scalar_mult(a, ed25519_ref.B), t8[ta])
    R = ed25519_ref.point_add(ed25519_ref.scalar_mult(r, ed25519_ref.B), t8[tr])
    pk, renc = ed25519_ref.encode_point(A), ed25519_ref.encode_point(R)
    k = int.from_bytes(hashlib.sha512(renc + pk + msg).digest(), "little") % L
    sig = renc + ((r + k * a) % L).to_bytes(32, "little")
    assert check(pk, msg, sig, compare_nacl=False) is True
    assert crypto.verify_batch([pk], [msg], [sig]) == [True]
    if ta == 0 and tr == 0:
        assert nacl_verify(pk, msg, sig)


_T8: list = []


def _torsion_points():
    if not _T8:
        # an order-8 point: the 8-torsion generated from a known low-order encoding
        enc = bytes.fromhex("26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05")
        g = ed25519_ref.decode_point(enc)
        p = (0, 1)
        for _ in range(8):
            _T8.append(p)
            p = ed25519_ref.point_add(p, g)
    return _T8


@pytest.mark.parametrize("threads", [1, 2])
def test_batch_random_corruptions(threads):
    """Batches of random valid signatures with random corruptions; verdicts per item equal single verification."""
    rng = random.Random(99 + threads)
    for n in (1, 7, 31, 64, 257, 1000):
        pks, msgs, sigs = [], [], []
        for _ in range(n):
            sk = SigningKey(rng.randbytes(32))
            m = rng.randbytes(rng.randrange(0, 100))
            s = bytearray(sk.sign(m).signature)
            pk = bytearray(bytes(sk.verify_key))
            if rng.random() < 0.1:
                which = rng.randrange(4)
                if which == 0:
                    s[rng.randrange(32)] ^= 1 << rng.randrange(8)
                elif which == 1:
                    s[32 + rng.randrange(32)] ^= 1 << rng.randrange(8)
                elif which == 2:
                    pk[rng.randrange(32)] ^= 1 << rng.randrange(8)
                else:
                    m = m + b"!"
            pks.append(bytes(pk)); msgs.append(m); sigs.append(bytes(s))
        got = crypto.verify_batch(pks, msgs, sigs, threads=threads)
        assert got == [crypto.verify(*a) for a in zip(pks, msgs, sigs)]
        assert got == [nacl_verify(*a) for a in zip(pks, msgs, sigs)]


def test_batch_shapes_and_errors():
    sk = SigningKey(b"\x05" * 32)
    m = b"hello"
    sig = sk.sign(m).signature
    pk = bytes(sk.verify_key)
    assert crypto.verify_batch([], [], []) == []
    assert crypto.verify_batch([pk, pk[:31], pk], [m, m, m], [sig, sig, sig[:63]]) == [True, False, False]
    assert crypto.verify(pk[:31], m, sig) is False
    assert crypto.verify(bytearray(pk), memoryview(m), bytearray(sig)) is True
    with pytest.raises(ValueError):
        crypto.verify_batch([pk], [m, m], [sig])
    with pytest.raises(ValueError):
        crypto.verify_batch([pk], [m], [sig], threads=0)
    with pytest.raises(TypeError):
        crypto.verify_batch(b"\0" * 96)
    with pytest.raises(ValueError):
        crypto.verify_records(b"\0" * 97, 96)
    with pytest.raises(ValueError):
        crypto.is_small_order(b"\0" * 31)
    buf, size = crypto.pack_records([pk] * 3, [m] * 3, [sig] * 3)
    assert size == 96 + len(m)
    assert crypto.verify_batch(buf, record_size=size, threads=2) == [True] * 3
    assert crypto.cpu_count() >= 1
    # more threads than CPUs or items is fine (the C side caps them)
    many = crypto.verify_batch([pk] * 300, [m] * 299 + [b"x"], [sig] * 300, threads=8)
    assert many == [True] * 299 + [False]


@SETTINGS
@given(data=st.binary(min_size=32, max_size=32))
def test_is_small_order_random(data):
    assert crypto.is_small_order(data) == ed25519_ref.is_small_order(data)
