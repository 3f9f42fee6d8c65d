"""The history tree of version-2 headers: a compact range to extend it, and history proofs.

Specification: docs/FORMAT.md §7.3 (the tree) and §13 (history proofs), over the Merkle tree of
§3 (RFC 9162 §2.1: tree hash, inclusion proof §2.1.3, consistency proof §2.1.4), hashed with
BLAKE3 as §2 says. The compact range is the "frontier" of an append-only RFC 9162 tree
(Crosby & Wallach 2009, "Efficient data structures for tamper-evident logging"; the
"compact range" of transparency-dev/merkle), written here from the tree's definition.

The leaves of the history tree are

    L0 = the chain id,  Li = the block hash of height i  (i >= 1)

and the header at height h carries, as ``history_root``, the root of the first h leaves
L0 .. L(h-1). So a node that has stored block h keeps the frontier of h + 1 leaves: its
``root()`` is the ``history_root`` of the header at h + 1, and appending that header's block hash
gives the frontier to keep with the new tip:

    frontier = Frontier().append(chain_id)            # stored with the genesis (height 0)
    header(h).history_root == frontier.root()         # frontier holds h leaves when block h is made
    frontier = frontier.append(block_hash(h))         # stored with the tip at h

The API is small on purpose (the version-2 header code builds on it):

* :class:`Frontier` -- an immutable value: ``append(leaf)`` (at most log2(n) node hashes),
  ``root()``, ``size``, ``to_bytes()`` / ``from_bytes()`` (the encoding below) and
  ``to_list()`` / ``from_list()`` (the same fields for a msgpack record);
* :func:`prove` -- the two parts of a §13 history proof from the leaves;
* :func:`verify` -- checks both parts.

**Why the frontier is enough.** A tree of n leaves is, by the RFC 9162 split at the largest
power of two below n, the right fold of the roots of the perfect subtrees that the binary digits
of n name, largest (leftmost) first: for n = 13 = 8 + 4 + 1 the root is
node(P8, node(P4, P1)). Appending a leaf adds a perfect subtree of one leaf and merges equal
sizes from the right, like a binary counter's carries. ``tests/test_history.py`` checks the
root against :func:`ledger.merkle.root` for every size up to a few hundred.

**Encoding.** ``to_bytes()`` is ``u64be(size) || node_0 || ... || node_{k-1}``, where
k = popcount(size) and the nodes are the perfect-subtree roots, 32 bytes each, largest subtree
(leftmost) first. Any other length, or a size of 2**64 or more, is refused (``bad-encoding``).
``to_list()`` is ``[size, [node_0, ..., node_{k-1}]]`` with the same order.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import NamedTuple, Union

from ledger import merkle
from ledger.errors import BAD_ENCODING, LedgerError

__all__ = ["Frontier", "HistoryParts", "SIZE_MAX", "prove", "root", "verify"]

HASH = "blake3"                  # FORMAT.md §7.3: the tree of §3 with the BLAKE3 hashes of §2
NODE_SIZE = 32
SIZE_MAX = 2**64 - 1             # the size is written as a u64
_SIZE_BYTES = 8

Bytes = Union[bytes, bytearray, memoryview]


def _node_bytes(value: object, what: str) -> bytes:
    if not isinstance(value, (bytes, bytearray, memoryview)):
        raise TypeError(f"{what} must be bytes, not {type(value).__name__}")
    value = bytes(value)
    if len(value) != NODE_SIZE:
        raise ValueError(f"{what} must be {NODE_SIZE} bytes, not {len(value)}")
    return value


class Frontier:
    """The compact range [0, size) of an append-only RFC 9162 tree: the roots of its perfect
    subtrees, largest (leftmost) first. Immutable: ``append`` returns a new value.

    ``hash`` is the tree's hash (:func:`ledger.merkle.scheme`): ``"blake3"`` for the history tree
    of §7.3, ``"sha256"`` for the RFC 6962 block log of a checkpoint (§14).
    """

    __slots__ = ("_size", "_nodes", "_scheme")

    def __init__(self, size: int = 0, nodes: Iterable[Bytes] = (), hash: merkle.HashArg = HASH):
        if not isinstance(size, int) or isinstance(size, bool):
            raise TypeError(f"size must be an int, not {type(size).__name__}")
        if not 0 <= size <= SIZE_MAX:
            raise ValueError(f"size must be 0 .. 2**64 - 1, not {size}")
        checked = tuple(_node_bytes(node, "each frontier node") for node in nodes)
        if len(checked) != size.bit_count():
            raise ValueError(f"a frontier of {size} leaves has {size.bit_count()} nodes, not {len(checked)}")
        object.__setattr__(self, "_size", size)
        object.__setattr__(self, "_nodes", checked)
        object.__setattr__(self, "_scheme", merkle.scheme(hash))

    # ------------------------------------------------------------ the value

    @property
    def size(self) -> int:
        """How many leaves the tree holds."""
        return self._size

    @property
    def nodes(self) -> tuple[bytes, ...]:
        """The perfect-subtree roots, largest (leftmost) first; popcount(size) of them."""
        return self._nodes

    @property
    def hash(self) -> str:
        """The name of the tree's hash (``"blake3"`` or ``"sha256"``)."""
        return self._scheme.name

    def append(self, leaf: Bytes) -> "Frontier":
        """The frontier of one more leaf, whose raw data is ``leaf`` (hashed as a Merkle leaf)."""
        if not isinstance(leaf, (bytes, bytearray, memoryview)):
            raise TypeError(f"a leaf must be bytes, not {type(leaf).__name__}")
        return self.append_leaf_hash(self._scheme.hashers()[0](bytes(leaf)))

    def append_leaf_hash(self, leaf_hash: Bytes) -> "Frontier":
        """The frontier of one more leaf, given its leaf hash."""
        if self._size == SIZE_MAX:
            raise ValueError("the tree is full (2**64 - 1 leaves)")
        node_fn = self._scheme.hashers()[1]
        carry = _node_bytes(leaf_hash, "a leaf hash")
        nodes = list(self._nodes)
        size = self._size
        # Each 1 bit at the bottom of size is a perfect subtree as large as the carry: merge them.
        while size & 1:
            carry = node_fn(nodes.pop(), carry)
            size >>= 1
        nodes.append(carry)
        return self._trusted(self._size + 1, tuple(nodes))

    def _trusted(self, size: int, nodes: tuple[bytes, ...]) -> "Frontier":
        """A frontier of this hash from parts already checked (append builds them from checked ones)."""
        frontier = object.__new__(Frontier)
        object.__setattr__(frontier, "_size", size)
        object.__setattr__(frontier, "_nodes", nodes)
        object.__setattr__(frontier, "_scheme", self._scheme)
        return frontier

    def extend(self, leaves: Iterable[Bytes]) -> "Frontier":
        """The frontier after appending every leaf of ``leaves`` in order."""
        frontier = self
        for leaf in leaves:
            frontier = frontier.append(leaf)
        return frontier

    def root(self) -> bytes:
        """The RFC 9162 root of the leaves so far (the empty tree's root for size 0)."""
        if not self._nodes:
            return self._scheme.empty()
        node_fn = self._scheme.hashers()[1]
        result = self._nodes[-1]
        for node in reversed(self._nodes[:-1]):
            result = node_fn(node, result)
        return result

    # ------------------------------------------------------------ encodings

    def to_bytes(self) -> bytes:
        """``u64be(size) || nodes`` (see the module notes)."""
        return self._size.to_bytes(_SIZE_BYTES, "big") + b"".join(self._nodes)

    @classmethod
    def from_bytes(cls, data: Bytes, hash: merkle.HashArg = HASH) -> "Frontier":
        """The frontier :meth:`to_bytes` wrote; anything else is ``bad-encoding``."""
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(f"a frontier encoding must be bytes, not {type(data).__name__}")
        data = bytes(data)
        if len(data) < _SIZE_BYTES:
            raise LedgerError(BAD_ENCODING, f"a frontier encoding is at least {_SIZE_BYTES} bytes, not {len(data)}")
        size = int.from_bytes(data[:_SIZE_BYTES], "big")
        expected = _SIZE_BYTES + NODE_SIZE * size.bit_count()
        if len(data) != expected:
            raise LedgerError(BAD_ENCODING, f"a frontier of {size} leaves is {expected} bytes, not {len(data)}")
        nodes = [data[i:i + NODE_SIZE] for i in range(_SIZE_BYTES, expected, NODE_SIZE)]
        return cls(size, nodes, hash)

    def to_list(self) -> list:
        """``[size, [node, ...]]``, for a msgpack record."""
        return [self._size, list(self._nodes)]

    @classmethod
    def from_list(cls, value: object, hash: merkle.HashArg = HASH) -> "Frontier":
        """The frontier :meth:`to_list` wrote; anything else is ``bad-encoding``."""
        if (not isinstance(value, (list, tuple)) or len(value) != 2 or type(value[0]) is not int
                or not isinstance(value[1], (list, tuple))):
            raise LedgerError(BAD_ENCODING, "a frontier is [size, [node, ...]]")
        try:
            return cls(value[0], value[1], hash)
        except (TypeError, ValueError) as error:
            raise LedgerError(BAD_ENCODING, f"a malformed frontier: {error}") from None

    # ------------------------------------------------------------ object protocol

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("Frontier is immutable")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Frontier):
            return NotImplemented
        return (self._size, self._nodes, self._scheme.name) == (other._size, other._nodes, other._scheme.name)

    def __hash__(self) -> int:
        return hash((self._size, self._nodes, self._scheme.name))

    def __repr__(self) -> str:
        return f"Frontier(size={self._size}, hash={self._scheme.name!r}, root={self.root().hex()})"


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
