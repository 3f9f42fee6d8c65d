"""The one place the ledger checks Ed25519 signatures: whole batches in, a verdict per item out
(or, for block validation, verdicts up to the first bad signature only).

Specification: Ed25519 (RFC 8032 §5.1.7) under the rules of ZIP 215, through ledger.crypto.

Verdicts come from our native ZIP-215 verifier (ledger.crypto; rules in its docstring and in
README.md): one batch per call, split across threads, bisected on failure so every signature gets
the verdict single verification would give. Rejecting small-order sender keys is a ledger rule,
not part of the signature check: it is deterministic and applied before batching.
"""
from __future__ import annotations

import functools
from typing import Sequence

from ledger import crypto

SIGNATURE_RECORD_SIZE = 128   # public key (32) || signature (64) || 32-byte message

# Deciding small order decodes the point (a square root, ~6 µs). Senders repeat, so remember.
is_small_order = functools.lru_cache(maxsize=1 << 16)(crypto.is_small_order)


def verify_batch(public_keys: Sequence[bytes], messages: Sequence[bytes], signatures: Sequence[bytes],
                 threads: int | None = None) -> list[bool]:
    """A verdict for every (key, message, signature)."""
    return crypto.verify_batch(public_keys, messages, signatures, threads)


def verify_records(records: bytes, threads: int | None = None) -> list[bool]:
    """A verdict for every 128-byte record of `records` (see codec.signature_records)."""
    return crypto.verify_records(records, SIGNATURE_RECORD_SIZE, threads)


def verdicts_until_first_bad(records: bytes, threads: int | None = None) -> list[bool | None]:
    """For validation, which stops at the first failure: True for every record before the first
    bad signature, False at it, None (undecided) after it. Costs about one valid batch whatever
    the records hold, where verify_records bisects a batch of bad signatures item by item (several
    times the cost). Read in order, stopping at the first False: a None is never a verdict."""
    count = len(records) // SIGNATURE_RECORD_SIZE
    first = crypto.first_bad_record(records, SIGNATURE_RECORD_SIZE, threads)
    if first is None:
        return [True] * count
    return [True] * first + [False] + [None] * (count - first - 1)


def verify_transaction_signature(tx) -> None:
    """Raise LedgerError unless one transaction's sender may sign (not a small-order key) and its
    signature over the txid verifies: what a block's rules check, for a transaction on its own
    (a node's mempool admission)."""
    from ledger.errors import BAD_TX_SIGNATURE, SMALL_ORDER_KEY, LedgerError

    if is_small_order(tx.sender):
        raise LedgerError(SMALL_ORDER_KEY, "the sender key has small order")
    if not verify_batch([tx.sender], [tx.txid], [tx.signature], threads=1)[0]:
        raise LedgerError(BAD_TX_SIGNATURE, "the signature does not verify")
