"""History proofs over the history tree of version-2 headers: produce and check both parts.

Specification: docs/FORMAT.md §7.3 (the tree) and §13 (history proofs), over the Merkle tree of
§3 (RFC 9162 §2.1: tree hash, inclusion proof §2.1.3, consistency proof §2.1.4), hashed with
BLAKE3 as §2 says.

The leaves of the history tree are

    L0 = the chain id,  Li = the block hash of height i  (i >= 1)

and the header at height h carries, as ``history_root``, the root of the first h leaves
L0 .. L(h-1). A node keeps that root up to date block by block with the frontier of
``ledger/history_frontier.py`` (``Frontier.empty().append(chain_id)`` at the genesis, then
``append(block_hash)`` after each block: its ``root()`` is the next header's ``history_root``).
``Ledger.history_leaves(size)`` reads the leaves back from a store.

The header at h2 shows that it extends the header at h1 < h2 by two RFC 9162 proofs in its tree
of size h2: a consistency proof from size h1 (the old header's ``history_root``) and an inclusion
proof of leaf h1, which is the old header's own block hash (h1 < h2, so it is in the tree).

* :func:`root` -- the history root over leaves L0 .. L(n-1) (what the header at n carries);
* :func:`prove` -- the two parts from the leaves;
* :func:`verify` -- checks both parts against the two headers' heights, roots and the old
  header's block hash.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple, Union

from ledger import merkle

__all__ = ["HistoryParts", "prove", "root", "verify"]

HASH = "blake3"                  # FORMAT.md §7.3: the tree of §3 with the BLAKE3 hashes of §2

Bytes = Union[bytes, bytearray, memoryview]


def root(leaves: Sequence[Bytes]) -> bytes:
    """The history root over ``leaves`` (L0 .. L(n-1)): what a header at height n carries."""
    return merkle.root(list(leaves), HASH)


class HistoryParts(NamedTuple):
    """The two hash lists of a §13 history proof, from old height to new height."""

    consistency: list[bytes]   # RFC 9162 §2.1.4: tree of size old_height -> tree of size new_height
    inclusion: list[bytes]     # RFC 9162 §2.1.3: leaf L(old_height) at index old_height, tree of size new_height


def _check_heights(old_height: object, new_height: object) -> tuple[int, int]:
    for name, value in (("old_height", old_height), ("new_height", new_height)):
        if not isinstance(value, int) or isinstance(value, bool):
            raise TypeError(f"{name} must be an int, not {type(value).__name__}")
    if not 1 <= old_height < new_height:
        raise ValueError(f"a history proof needs 1 <= old height < new height, not {old_height} and {new_height}")
    return old_height, new_height


def prove(leaves: Sequence[Bytes], old_height: int, new_height: int) -> HistoryParts:
    """The consistency and inclusion parts of a history proof from ``old_height`` to ``new_height``.

    ``leaves`` are L0, L1, ... (the chain id, then block hashes by height), at least
    ``new_height`` of them; only the first ``new_height`` are used, since the header at
    ``new_height`` commits to exactly those. The old header's own block hash is
    L(old_height), a leaf of that tree because old_height < new_height.
    """
    old_height, new_height = _check_heights(old_height, new_height)
    if len(leaves) < new_height:
        raise ValueError(f"a proof to height {new_height} needs {new_height} leaves, not {len(leaves)}")
    tree = list(leaves[:new_height])
    return HistoryParts(merkle.consistency_proof(tree, old_height, HASH),
                        merkle.inclusion_proof(tree, old_height, HASH))


def verify(old_height: int, old_root: Bytes, old_block_hash: Bytes, new_height: int, new_root: Bytes,
           consistency: Sequence[Bytes], inclusion: Sequence[Bytes]) -> bool:
    """Do the two parts show that the header at ``new_height`` (history root ``new_root``) extends
    the header at ``old_height`` (history root ``old_root``, block hash ``old_block_hash``)?

    FORMAT.md §13 steps 5-7: old height < new height (and >= 1: no header has height 0); the
    consistency proof from (old_height, old_root) to (new_height, new_root); the inclusion proof
    of leaf(old_block_hash) at index old_height in the tree (new_height, new_root). Never raises
    for well-typed arguments: anything malformed is False.

    The heights must come from the same signed headers as the roots: an RFC 9162 proof does not
    bind a size to its root by itself (the proofs for sizes 9 and 10 can have one shape), the
    header's signature does.
    """
    for name, value in (("old_height", old_height), ("new_height", new_height)):
        if not isinstance(value, int) or isinstance(value, bool):
            raise TypeError(f"{name} must be an int, not {type(value).__name__}")
    if not 1 <= old_height < new_height:
        return False
    return (merkle.verify_consistency(old_height, new_height, old_root, new_root, consistency, HASH)
            and merkle.verify_inclusion(old_block_hash, old_height, new_height, inclusion, new_root, HASH))
