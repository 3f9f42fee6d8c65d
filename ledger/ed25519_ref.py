"""Pure-Python Ed25519 verification under the ZIP-215 rules: the slow, obviously correct twin of
the native verifier in ``ledger._core`` (ledger/csrc/ed25519_*.c).

Specification: RFC 8032 §5.1 (§5.1.3 decoding, §5.1.7 verification) with the rules of ZIP 215.

The rules (ZIP 215, https://zips.z.cash/zip-0215):

* ``S`` (the last 32 bytes of the signature) must be below the group order ``L`` as an integer;
  it is never reduced.
* ``A`` (the public key) and ``R`` (the first 32 bytes of the signature) are decoded leniently:
  the 255-bit ``y`` may be ``>= p`` (it is then used mod ``p``) and ``x = 0`` with the sign bit
  set ("-0") is accepted. Only encodings that are not on the curve are rejected.
* ``k = SHA-512(R || A || M) mod L``, over the bytes as received.
* Accept iff ``[8][S]B = [8]R + [8][k]A`` (the cofactored equation).

Everything is done with Python integers in affine coordinates, straight from RFC 8032 section 5.1.
"""
from __future__ import annotations

import hashlib

__all__ = ["P", "L", "D", "B", "decode_point", "encode_point", "verify", "is_small_order",
           "point_add", "scalar_mult", "Point"]

P = 2**255 - 19
L = 2**252 + 27742317777372353535851937790883648493
D = (-121665 * pow(121666, P - 2, P)) % P
SQRT_M1 = pow(2, (P - 1) // 4, P)

Point = tuple[int, int]  # affine (x, y)
IDENTITY: Point = (0, 1)


def point_add(p: Point, q: Point) -> Point:
    """Edwards addition on -x^2 + y^2 = 1 + d x^2 y^2 (complete: no exceptional cases)."""
    x1, y1 = p
    x2, y2 = q
    t = D * x1 * x2 * y1 * y2 % P
    x3 = (x1 * y2 + y1 * x2) * pow(1 + t, P - 2, P) % P
    y3 = (y1 * y2 + x1 * x2) * pow(1 - t, P - 2, P) % P
    return x3, y3


def point_neg(p: Point) -> Point:
    return (-p[0]) % P, p[1]


# Scalar multiplication runs in projective (X : Y : Z) coordinates, x = X/Z, y = Y/Z, so that it
# needs no inversion per step. The projective sum is the same affine law with its two
# denominators cleared: Z3 = Z1 Z2 (Z1^2 Z2^2 - e^2), e = d X1 X2 Y1 Y2 / (Z1 Z2)... written out
# below exactly as the affine formula, multiplied through.
def _padd(p: tuple[int, int, int], q: tuple[int, int, int]) -> tuple[int, int, int]:
    x1, y1, z1 = p
    x2, y2, z2 = q
    zz = z1 * z2 % P
    zz2 = zz * zz % P
    e = D * x1 * x2 % P * y1 * y2 % P
    # x3 = (x1 y2 + y1 x2) zz / (zz^2 + e),  y3 = (y1 y2 + x1 x2) zz / (zz^2 - e)
    nx = (x1 * y2 + y1 * x2) * zz % P
    ny = (y1 * y2 + x1 * x2) * zz % P
    dx = (zz2 + e) % P
    dy = (zz2 - e) % P
    return nx * dy % P, ny * dx % P, dx * dy % P


def scalar_mult(n: int, p: Point) -> Point:
    """[n]p by double-and-add, n >= 0."""
    r = (0, 1, 1)
    q = (p[0], p[1], 1)
    for bit in bin(n)[2:] if n else "":
        r = _padd(r, r)
        if bit == "1":
            r = _padd(r, q)
    zi = pow(r[2], P - 2, P)
    return r[0] * zi % P, r[1] * zi % P


def _recover_x(y: int, sign: int) -> int | None:
    """x with -x^2 + y^2 = 1 + d x^2 y^2 and the given sign, or None when there is none.
    ZIP-215: for x = 0 either sign bit is accepted."""
    u = (y * y - 1) % P
    v = (D * y * y + 1) % P
    x2 = u * pow(v, P - 2, P) % P
    x = pow(x2, (P + 3) // 8, P)
    if (x * x - x2) % P != 0:
        x = x * SQRT_M1 % P
    if (x * x - x2) % P != 0:
        return None
    if x & 1 != sign:
        x = (-x) % P
    return x


def decode_point(s: bytes) -> Point | None:
    """ZIP-215 lenient decoding of 32 bytes; None iff the bytes name no point on the curve."""
    if len(s) != 32:
        raise ValueError("a point encoding is 32 bytes")
    n = int.from_bytes(s, "little")
    sign = n >> 255
    y = (n & ((1 << 255) - 1)) % P  # non-canonical y >= p is accepted and reduced
    x = _recover_x(y, sign)
    if x is None:
        return None
    return x, y


def encode_point(p: Point) -> bytes:
    x, y = p
    return (y | ((x & 1) << 255)).to_bytes(32, "little")


# Base point: y = 4/5, x even.
_BY = 4 * pow(5, P - 2, P) % P
B: Point = (_recover_x(_BY, 0), _BY)  # type: ignore[assignment]


def _mul8(p: Point) -> Point:
    for _ in range(3):
        p = point_add(p, p)
    return p


def verify(public_key: bytes, message: bytes, signature: bytes) -> bool:
    """ZIP-215 verification of one Ed25519 signature (64 bytes R || S) on message by public_key."""
    public_key, message, signature = bytes(public_key), bytes(message), bytes(signature)
    if len(public_key) != 32 or len(signature) != 64:
        return False
    s = int.from_bytes(signature[32:], "little")
    if s >= L:
        return False
    a = decode_point(public_key)
    r = decode_point(signature[:32])
    if a is None or r is None:
        return False
    k = int.from_bytes(hashlib.sha512(signature[:32] + public_key + message).digest(), "little") % L
    # [8]([S]B - R - [k]A) == identity
    lhs = scalar_mult(s, B)
    rhs = point_add(r, scalar_mult(k, a))
    return _mul8(point_add(lhs, point_neg(rhs))) == IDENTITY


def is_small_order(public_key: bytes) -> bool:
    """True iff the 32 bytes decode (leniently) to a point whose order divides 8."""
    public_key = bytes(public_key)
    if len(public_key) != 32:
        raise ValueError("a public key is 32 bytes")
    a = decode_point(public_key)
    return a is not None and _mul8(a) == IDENTITY
