"""ledger.hashing: derived keys and every hashing helper against the blake3 package."""
from __future__ import annotations

import blake3 as ref
import pytest

from ledger import hashing

KINDS = ["TRANSACTION", "MERKLE_LEAF", "MERKLE_NODE", "BLOCK_HEADER", "GENESIS", "STATE"]
SAMPLES = [b"", b"x", bytes(range(64)), bytes(range(65)), bytes(i % 251 for i in range(5000))]


@pytest.mark.parametrize("kind", KINDS)
def test_keys_are_derived_from_contexts(kind):
    context = getattr(hashing, f"CONTEXT_{kind}")
    key = getattr(hashing, f"KEY_{kind}")
    assert key == ref.blake3(b"", derive_key_context=context).digest()
    assert len(key) == hashing.DIGEST_SIZE


def test_keys_and_contexts_are_distinct():
    assert len({getattr(hashing, f"CONTEXT_{k}") for k in KINDS}) == len(KINDS)
    assert len({getattr(hashing, f"KEY_{k}") for k in KINDS}) == len(KINDS)


def keyed(key: bytes, data: bytes) -> bytes:
    return ref.blake3(data, key=key).digest()


@pytest.mark.parametrize("data", SAMPLES, ids=lambda d: str(len(d)))
def test_single_hash_functions(data):
    assert hashing.transaction_id(data) == keyed(hashing.KEY_TRANSACTION, data)
    assert hashing.header_hash(data) == keyed(hashing.KEY_BLOCK_HEADER, data)
    assert hashing.genesis_hash(data) == keyed(hashing.KEY_GENESIS, data)
    assert hashing.state_hash(data) == keyed(hashing.KEY_STATE, data)
    assert hashing.merkle_leaf(data) == keyed(hashing.KEY_MERKLE_LEAF, data)


def test_transaction_ids():
    assert hashing.transaction_ids([]) == []
    assert hashing.transaction_ids(SAMPLES) == [keyed(hashing.KEY_TRANSACTION, d) for d in SAMPLES]


def test_merkle_node_and_empty():
    left, right = bytes(range(32)), bytes(range(32, 64))
    assert hashing.merkle_node(left, right) == keyed(hashing.KEY_MERKLE_NODE, left + right)
    assert hashing.merkle_empty() == keyed(hashing.KEY_MERKLE_NODE, b"")
    assert hashing.merkle_empty() != hashing.merkle_leaf(b"")
