"""The one place the ledger checks Ed25519 signatures: a whole batch in, a verdict per item out.

Today the verdicts come from libsodium through PyNaCl; the native ZIP-215 batch verifier replaces
it behind this same function. Rejecting small-order sender keys is a ledger rule, not part of the
signature check: it is deterministic and applied before batching (`is_small_order`).
"""
from __future__ import annotations

from typing import Sequence

from nacl.exceptions import BadSignatureError
from nacl.signing import VerifyKey

_P = 2**255 - 19
_D = (-121665 * pow(121666, _P - 2, _P)) % _P


def _sqrt(value: int) -> int | None:
    """A square root mod p (p = 5 mod 8), or None."""
    root = pow(value, (_P + 3) // 8, _P)
    if (root * root - value) % _P == 0:
        return root
    root = root * pow(2, (_P - 1) // 4, _P) % _P
    return root if (root * root - value) % _P == 0 else None


def _x_squared(y: int) -> int:
    return (y * y - 1) * pow(_D * y * y + 1, _P - 2, _P) % _P


def _small_order_ys() -> frozenset[int]:
    """y-coordinates of the eight points of order dividing 8 on edwards25519.

    Orders 1 and 2: y = 1 and y = -1 (x = 0). Order 4: y = 0. Order 8: doubling gives an order-4
    point, whose y is 0, so y^2 = -x^2; on the curve that means d*y^4 + 2*y^2 - 1 = 0."""
    ys = {1, _P - 1, 0}
    discriminant = _sqrt((1 + _D) % _P)
    for sign in (1, -1):
        y_squared = (-1 + sign * discriminant) * pow(_D, _P - 2, _P) % _P
        y = _sqrt(y_squared)
        if y is not None and _sqrt(_x_squared(y)) is not None:
            ys.update({y, _P - y})
    assert len(ys) == 5, "edwards25519 has five distinct y among its 8-torsion points"
    return frozenset(ys)


_SMALL_ORDER_YS = _small_order_ys()


def is_small_order(public_key: bytes) -> bool:
    """True when the key decodes (leniently, as ZIP-215 does: y may be >= p, x may be "-0") to a
    point whose order divides 8. Every such point has one of five y values, and each of those y
    values decodes, so the test is on y alone."""
    if len(public_key) != 32:
        raise ValueError("a public key is 32 bytes")
    y = int.from_bytes(public_key, "little") & ((1 << 255) - 1)
    return y % _P in _SMALL_ORDER_YS


def verify_batch(public_keys: Sequence[bytes], messages: Sequence[bytes], signatures: Sequence[bytes]) -> list[bool]:
    """A verdict for every (key, message, signature)."""
    if not (len(public_keys) == len(messages) == len(signatures)):
        raise ValueError("public_keys, messages and signatures must have the same length")
    verdicts = []
    for key, message, signature in zip(public_keys, messages, signatures):
        try:
            VerifyKey(key).verify(message, signature)
            verdicts.append(True)
        except (BadSignatureError, ValueError, TypeError):
            verdicts.append(False)
    return verdicts
