"""Ed25519 signature verification under the ZIP-215 rules, in our native core.

Specification: Ed25519 verification, RFC 8032 §5.1.7, with the rules of ZIP 215
(https://zips.z.cash/zip-0215).

The rules (ZIP 215):

* ``S`` must be below the group order ``L`` as an integer; it is never reduced.
* ``A`` (the public key) and ``R`` decode leniently: a non-canonical ``y >= p`` and the
  "x = -0" encoding are accepted; only bytes that name no point on the curve are rejected.
* ``k = SHA-512(R || A || message) mod L`` over the bytes as received.
* Accept iff ``[8][S]B = [8]R + [8][k]A``. A batch checks a random linear combination (128-bit
  coefficients from the OS CSPRNG) of the same cofactored equations and, when it fails, bisects
  to give every signature its own verdict, so batch and single verdicts agree. Terms of the same
  public key (identical 32-byte encodings) are coalesced into one point of the combination, as
  Zcash's zebra batch verifier does: d distinct keys cost n + d + 1 points instead of 2n + 1
  (:func:`set_coalesce` turns that off for benchmarks; verdicts do not change).
  :func:`first_bad` answers only "which is the first bad one?": it follows the leftmost failing
  half alone, so a batch of bad signatures costs about what a valid batch does (block validation
  stops at the first failure and needs no more).

Keys, messages and signatures are bytes-like objects (bytes, bytearray, memoryview, ...); anything
else (an int, a str, a list) is a TypeError, never converted.

Rejecting small-order sender keys is a ledger rule applied before batching (:func:`is_small_order`),
not part of the signature check. The pure-Python twin is :mod:`ledger.ed25519_ref`.

Work is done in C with the GIL released; batches are split across threads (pthreads).
"""
from __future__ import annotations

from typing import Sequence, Union

from ledger import _core

__all__ = [
    "PUBLIC_KEY_SIZE", "SIGNATURE_SIZE", "RECORD_HEADER_SIZE", "verify", "verify_batch", "verify_records",
    "pack_records", "is_small_order", "cpu_count", "first_bad", "first_bad_record", "set_coalesce",
    "coalesce_enabled",
]

PUBLIC_KEY_SIZE = 32
SIGNATURE_SIZE = 64
#: A record is public_key (32) || signature (64) || message; its header is the first 96 bytes.
RECORD_HEADER_SIZE = PUBLIC_KEY_SIZE + SIGNATURE_SIZE

BytesLike = Union[bytes, bytearray, memoryview]


def verify(public_key: BytesLike, message: BytesLike, signature: BytesLike) -> bool:
    """True iff ``signature`` (64 bytes, R || S) is a valid ZIP-215 signature of ``message`` by
    ``public_key`` (32 bytes). Wrong lengths give False; objects that are not bytes-like, TypeError."""
    return _core.ed25519_verify(public_key, message, signature)


def _thread_count(threads: int | None) -> int:
    """The C side's thread count: 0 = one per online CPU (threads=None), else at least 1."""
    nthreads = 0 if threads is None else int(threads)
    if threads is not None and nthreads < 1:
        raise ValueError("threads must be at least 1")
    return nthreads


def verify_batch(
    public_keys: Union[Sequence[BytesLike], BytesLike],
    messages: Sequence[BytesLike] | None = None,
    signatures: Sequence[BytesLike] | None = None,
    threads: int | None = None,
    *,
    record_size: int | None = None,
) -> list[bool]:
    """A verdict for every signature, equal to what :func:`verify` says of each.

    Either three equal-length sequences ``(public_keys, messages, signatures)``, or one contiguous
    buffer of fixed-size records passed as ``public_keys`` with ``messages`` and ``signatures``
    left out and ``record_size`` given (see :func:`verify_records`).

    ``threads``: how many threads to split the batch over; None means one per online CPU. Small
    batches use fewer threads than asked.
    """
    nthreads = _thread_count(threads)
    if messages is None and signatures is None:
        if record_size is None:
            raise TypeError("verify_batch(records, record_size=...) needs record_size for a buffer of records")
        return _core.ed25519_verify_records(public_keys, record_size, nthreads)
    if messages is None or signatures is None:
        raise TypeError("give public_keys, messages and signatures, or one buffer of records")
    if record_size is not None:
        raise TypeError("record_size is only for a buffer of records")
    return _core.ed25519_verify_batch(public_keys, messages, signatures, nthreads)


def first_bad(public_keys: Sequence[BytesLike], messages: Sequence[BytesLike], signatures: Sequence[BytesLike],
              threads: int | None = None) -> int | None:
    """The position of the first (key, message, signature) whose signature fails, None if all
    hold: what ``verify_batch(...).index(False)`` would say, without verdicts for the rest."""
    nthreads = _thread_count(threads)
    return _core.ed25519_first_bad(public_keys, messages, signatures, nthreads)


def first_bad_record(records: BytesLike, record_size: int, threads: int | None = None) -> int | None:
    """:func:`first_bad` over a buffer of records laid out as for :func:`verify_records`."""
    nthreads = _thread_count(threads)
    return _core.ed25519_first_bad_records(records, record_size, nthreads)


def verify_records(records: BytesLike, record_size: int, threads: int | None = None) -> list[bool]:
    """Verdicts for one contiguous buffer of ``len(records) // record_size`` records, each laid out as
    ``public_key (32) || signature (64) || message (record_size - 96)``."""
    nthreads = _thread_count(threads)
    return _core.ed25519_verify_records(records, record_size, nthreads)


def pack_records(public_keys: Sequence[BytesLike], messages: Sequence[BytesLike],
                 signatures: Sequence[BytesLike]) -> tuple[bytes, int]:
    """Packs equal-length messages into the record layout; returns (buffer, record_size)."""
    if not (len(public_keys) == len(messages) == len(signatures)):
        raise ValueError("public_keys, messages and signatures must have the same length")
    sizes = {len(m) for m in messages}
    if len(sizes) > 1:
        raise ValueError("records need messages of one length")
    record_size = RECORD_HEADER_SIZE + (sizes.pop() if sizes else 0)
    parts = []
    for pk, m, sig in zip(public_keys, messages, signatures):
        pk, m, sig = _bytes_like(pk), _bytes_like(m), _bytes_like(sig)
        if len(pk) != PUBLIC_KEY_SIZE or len(sig) != SIGNATURE_SIZE:
            raise ValueError("public keys are 32 bytes and signatures 64 bytes")
        parts += (pk, sig, m)
    return b"".join(parts), record_size


def _bytes_like(value: object) -> bytes:
    """The bytes of a bytes-like object; TypeError for anything else (an int, a str, a list), which
    bytes() would silently turn into some bytes."""
    if type(value) is bytes:
        return value
    try:
        return memoryview(value).tobytes()  # type: ignore[arg-type]
    except TypeError:
        raise TypeError(f"expected a bytes-like object, not {type(value).__name__}") from None


def is_small_order(public_key: BytesLike) -> bool:
    """True iff the 32 bytes decode (leniently, as ZIP-215 does) to a point whose order divides 8."""
    public_key = _bytes_like(public_key)
    if len(public_key) != PUBLIC_KEY_SIZE:
        raise ValueError("a public key is 32 bytes")
    return _core.ed25519_is_small_order(public_key)


def set_coalesce(enabled: bool) -> bool:
    """Turns coalescing by key in batch verification on (the default) or off, for every later batch
    of every thread; returns the previous setting, so a benchmark can restore it. Verdicts are the
    same either way; off checks the plain 2n + 1 point combination."""
    previous = _core.ed25519_batch_coalesce(-1)
    _core.ed25519_batch_coalesce(1 if enabled else 0)
    return previous


def coalesce_enabled() -> bool:
    """Whether batch verification coalesces terms by public key (see :func:`set_coalesce`)."""
    return _core.ed25519_batch_coalesce(-1)


def cpu_count() -> int:
    """CPUs online, as the native batch verifier counts them."""
    return _core.ed25519_cpu_count()
