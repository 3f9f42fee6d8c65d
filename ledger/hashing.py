"""Domain-separated BLAKE3-256 for every kind of hashed object.

Specification: docs/FORMAT.md §2; BLAKE3 keyed_hash and derive_key modes (O'Connor, Aumasson, Neves,
Wilcox-O'Hearn, 2020).

Each kind of object is hashed with BLAKE3 in keyed mode under its own key, and each key is
derived (BLAKE3 derive_key mode) from a distinct context string. A Merkle node is 64 bytes of
input, so under a fixed key it costs exactly one compression. Keys are computed once at import
by our native core; tests recompute them with the blake3 package.
"""
from __future__ import annotations

from ledger import _core

DIGEST_SIZE = 32

CONTEXT_TRANSACTION = "ledger 2026-11-26 v1 transaction id"
CONTEXT_MERKLE_LEAF = "ledger 2026-11-26 v1 merkle leaf"
CONTEXT_MERKLE_NODE = "ledger 2026-11-26 v1 merkle node"
CONTEXT_BLOCK_HEADER = "ledger 2026-11-26 v1 block header"
CONTEXT_GENESIS = "ledger 2026-11-26 v1 genesis"
CONTEXT_STATE = "ledger 2026-11-26 v1 state"
CONTEXT_STATE_KEY = "ledger 2026-11-30 v2 state key"       # version 2's state map (§7.2, ledger/state_tree.py)
CONTEXT_STATE_VALUE = "ledger 2026-11-30 v2 state value"
CONTEXT_STATE_LEAF = "ledger 2026-11-30 v2 state leaf"
CONTEXT_STATE_NODE = "ledger 2026-11-30 v2 state node"

KEY_TRANSACTION = _core.blake3_derive_key(CONTEXT_TRANSACTION, b"")
KEY_MERKLE_LEAF = _core.blake3_derive_key(CONTEXT_MERKLE_LEAF, b"")
KEY_MERKLE_NODE = _core.blake3_derive_key(CONTEXT_MERKLE_NODE, b"")
KEY_BLOCK_HEADER = _core.blake3_derive_key(CONTEXT_BLOCK_HEADER, b"")
KEY_GENESIS = _core.blake3_derive_key(CONTEXT_GENESIS, b"")
KEY_STATE = _core.blake3_derive_key(CONTEXT_STATE, b"")
KEY_STATE_KEY = _core.blake3_derive_key(CONTEXT_STATE_KEY, b"")
KEY_STATE_VALUE = _core.blake3_derive_key(CONTEXT_STATE_VALUE, b"")
KEY_STATE_LEAF = _core.blake3_derive_key(CONTEXT_STATE_LEAF, b"")
KEY_STATE_NODE = _core.blake3_derive_key(CONTEXT_STATE_NODE, b"")

_keyed = _core.blake3_keyed


def transaction_id(unsigned_transaction: bytes) -> bytes:
    """The id of a transaction: its canonical encoding without the signature, hashed."""
    return _keyed(KEY_TRANSACTION, unsigned_transaction)


def transaction_ids(unsigned_transactions: list[bytes]) -> list[bytes]:
    """Many transaction ids in one native call (the GIL is released while hashing)."""
    digests = _core.blake3_keyed_many(KEY_TRANSACTION, unsigned_transactions)
    return [digests[i : i + DIGEST_SIZE] for i in range(0, len(digests), DIGEST_SIZE)]


def header_hash(unsigned_header: bytes) -> bytes:
    """The block hash: the canonical header without the proposer's signature, hashed."""
    return _keyed(KEY_BLOCK_HEADER, unsigned_header)


def genesis_hash(genesis: bytes) -> bytes:
    """The chain id: the canonical genesis, hashed."""
    return _keyed(KEY_GENESIS, genesis)


def state_hash(data: bytes) -> bytes:
    """One link of the state commitment chain."""
    return _keyed(KEY_STATE, data)


def merkle_leaf(data: bytes) -> bytes:
    return _keyed(KEY_MERKLE_LEAF, data)


def merkle_node(left: bytes, right: bytes) -> bytes:
    return _keyed(KEY_MERKLE_NODE, left + right)


def merkle_empty() -> bytes:
    """The root of a tree with no leaves: the node key over empty input (no node is 0 bytes long)."""
    return _keyed(KEY_MERKLE_NODE, b"")
