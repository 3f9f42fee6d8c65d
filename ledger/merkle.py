"""Merkle trees of the RFC 9162 shape, with inclusion and consistency proofs.

Specification: RFC 9162 §2.1 (tree hash, inclusion and consistency proofs) with the hashes of
docs/FORMAT.md §3.

Shape (RFC 9162 §2.1.1): the hash of a list of ``n`` leaves is

* ``empty()`` for ``n == 0``,
* ``leaf(d0)`` for ``n == 1``,
* ``node(MTH(D[0:k]), MTH(D[k:n]))`` for ``n > 1``, where ``k`` is the largest power of two
  strictly less than ``n``.

No node is ever paired with itself: a lone node at the right edge of a level moves up unchanged.
Bitcoin's tree instead hashes such a node with a copy of itself, so ``[a, b, c]`` and
``[a, b, c, c]`` share a root (CVE-2012-2459); here they cannot, because leaves and interior
nodes are hashed in separate domains and the tree size fixes the shape.

The hash is pluggable (:class:`HashScheme`):

* ``BLAKE3`` (the ledger's own): leaf = keyed BLAKE3 under the merkle-leaf key, node = keyed
  BLAKE3 under the merkle-node key over ``left || right``, empty = keyed BLAKE3 under the
  merkle-node key over no input (see :mod:`ledger.hashing`).
* ``SHA256`` (RFC 6962): leaf = SHA-256(0x00 || d), node = SHA-256(0x01 || l || r),
  empty = SHA-256(""). It exists so that the published RFC 6962 / RFC 9162 test vectors check
  the tree shape and the proof algorithms.

Proofs are produced from the per-level hashes of the whole tree (``O(n)`` hashing once, then
``O(log n)`` lookups) and verified with the algorithms of RFC 9162 §2.1.3.2 and §2.1.4.2.

Verification conventions (the verifiers return ``False`` for every malformed-but-well-typed
input and raise :class:`ValueError` only for arguments of the wrong type):

* Every hash a verifier combines (leaf hash, proof elements, roots) must be exactly
  ``digest_size`` (32) bytes long.
* Inclusion: ``index < size`` is required, so nothing is included in the empty tree.
* Consistency: ``old_size > new_size`` is rejected. ``old_size == new_size`` is accepted iff the
  proof is empty and the two roots are byte-equal (a tree is consistent with itself, whatever
  its root). ``old_size == 0`` is always rejected: a proof from the empty tree proves nothing
  (the transparency-dev/merkle convention, which its published test vectors encode). Callers
  that accept a first checkpoint of an empty log should special-case it themselves.
"""
from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Sequence
from typing import Union

__all__ = [
    "BLAKE3",
    "SHA256",
    "HashScheme",
    "consistency_proof",
    "inclusion_proof",
    "leaf_hashes",
    "root",
    "root_from_leaf_hashes",
    "scheme",
    "verify_consistency",
    "verify_inclusion",
    "verify_inclusion_hash",
]

DIGEST_SIZE = 32

Bytes = Union[bytes, bytearray, memoryview]


class HashScheme:
    """The three hashes a Merkle tree needs. Subclasses fill in :meth:`hashers` and :meth:`empty`.

    ``leaf(data)`` hashes one raw leaf, ``node(left, right)`` one interior node from its two
    children's hashes, ``empty()`` is the root of the tree with no leaves.
    """

    name: str = ""
    digest_size: int = DIGEST_SIZE

    def hashers(self) -> tuple[Callable[[bytes], bytes], Callable[[bytes, bytes], bytes]]:
        """The (leaf, node) functions themselves, for hot loops that call them many times."""
        raise NotImplementedError

    def leaf(self, data: bytes) -> bytes:
        return self.hashers()[0](data)

    def node(self, left: bytes, right: bytes) -> bytes:
        return self.hashers()[1](left, right)

    def empty(self) -> bytes:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<HashScheme {self.name}>"


class _Sha256Scheme(HashScheme):
    """RFC 6962 §2.1 hashing with SHA-256."""

    name = "sha256"

    def __init__(self) -> None:
        sha256 = hashlib.sha256

        def leaf(data: bytes) -> bytes:
            return sha256(b"\x00" + data).digest()

        def node(left: bytes, right: bytes) -> bytes:
            return sha256(b"\x01" + left + right).digest()

        self._fns = (leaf, node)
        self._empty = sha256(b"").digest()

    def hashers(self) -> tuple[Callable[[bytes], bytes], Callable[[bytes, bytes], bytes]]:
        return self._fns

    def empty(self) -> bytes:
        return self._empty


class _Blake3Scheme(HashScheme):
    """Domain-separated keyed BLAKE3 from :mod:`ledger.hashing`.

    ledger.hashing needs the native module; it is imported on first use so that the SHA-256
    scheme (and this module) work without it.
    """

    name = "blake3"

    def __init__(self) -> None:
        self._fns: tuple[Callable[[bytes], bytes], Callable[[bytes, bytes], bytes]] | None = None

    def hashers(self) -> tuple[Callable[[bytes], bytes], Callable[[bytes, bytes], bytes]]:
        if self._fns is None:
            from ledger import hashing

            self._fns = (hashing.merkle_leaf, hashing.merkle_node)
        return self._fns

    def empty(self) -> bytes:
        from ledger import hashing

        return hashing.merkle_empty()


BLAKE3: HashScheme = _Blake3Scheme()
SHA256: HashScheme = _Sha256Scheme()

_SCHEMES = {"blake3": BLAKE3, "sha256": SHA256}

HashArg = Union[str, HashScheme]


def scheme(name_or_scheme: HashArg) -> HashScheme:
    """Resolve ``"blake3"`` / ``"sha256"`` (any case) or pass a :class:`HashScheme` through."""
    if isinstance(name_or_scheme, HashScheme):
        return name_or_scheme
    if isinstance(name_or_scheme, str):
        found = _SCHEMES.get(name_or_scheme.lower())
        if found is not None:
            return found
        raise ValueError(f"unknown Merkle hash {name_or_scheme!r}; expected one of {sorted(_SCHEMES)}")
    raise ValueError(f"hash must be a name or a HashScheme, not {type(name_or_scheme).__name__}")


# --- argument checks ---------------------------------------------------------------------------


def _as_bytes(value: object, what: str) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, (bytearray, memoryview)):
        return bytes(value)
    raise ValueError(f"{what} must be bytes, not {type(value).__name__}")


def _as_int(value: object, what: str) -> int:
    # bool is an int subclass; a flag passed as a size is a caller bug, not a small tree.
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise ValueError(f"{what} must be an int, not {type(value).__name__}")


def _as_leaves(leaves: object) -> list[bytes]:
    if isinstance(leaves, (bytes, bytearray, memoryview, str)) or not isinstance(leaves, Sequence):
        raise ValueError(f"leaves must be a sequence of bytes, not {type(leaves).__name__}")
    return [_as_bytes(leaf, "each leaf") for leaf in leaves]


def _as_proof(proof: object) -> list[bytes]:
    if proof is None:
        return []
    if isinstance(proof, (bytes, bytearray, memoryview, str)) or not isinstance(proof, Sequence):
        raise ValueError(f"proof must be a sequence of bytes, not {type(proof).__name__}")
    return [_as_bytes(p, "each proof element") for p in proof]


# --- building the tree -------------------------------------------------------------------------


def leaf_hashes(leaves: Sequence[bytes], hash: HashArg = "blake3") -> list[bytes]:
    """The leaf hash of every raw leaf."""
    leaf_fn = scheme(hash).hashers()[0]
    return [leaf_fn(d) for d in _as_leaves(leaves)]


def _levels(hashes: list[bytes], node_fn: Callable[[bytes, bytes], bytes]) -> list[list[bytes]]:
    """Every level of the tree, leaves first, root level (one hash) last; ``hashes`` non-empty.

    Entry ``i`` of level ``l`` is the hash of leaves ``[i * 2**l, min((i + 1) * 2**l, n))``. A lone
    last entry moves up a level unchanged, which is exactly the RFC 9162 split at the largest
    power of two below the size (and never pairs a node with itself).
    """
    levels = [hashes]
    level = hashes
    while len(level) > 1:
        paired = len(level) & ~1
        up = [node_fn(level[i], level[i + 1]) for i in range(0, paired, 2)]
        if paired != len(level):
            up.append(level[-1])
        levels.append(up)
        level = up
    return levels


def _root_of_hashes(hashes: list[bytes], hs: HashScheme) -> bytes:
    if not hashes:
        return hs.empty()
    node_fn = hs.hashers()[1]
    level = hashes
    while len(level) > 1:
        paired = len(level) & ~1
        up = [node_fn(level[i], level[i + 1]) for i in range(0, paired, 2)]
        if paired != len(level):
            up.append(level[-1])
        level = up
    return level[0]


def _root_python(leaves: Sequence[bytes], scheme_: HashArg = "blake3") -> bytes:
    """The root computed in Python only: the twin the native root is tested against."""
    hs = scheme(scheme_)
    leaf_fn = hs.hashers()[0]
    return _root_of_hashes([leaf_fn(d) for d in _as_leaves(leaves)], hs)


_THREADS = os.cpu_count() or 1


def root(leaves: Sequence[bytes], hash: HashArg = "blake3") -> bytes:
    """The Merkle Tree Hash of the raw leaves ``leaves``.

    With BLAKE3 and leaves that all have the same non-zero length, the whole tree is hashed by
    one native call (``_core.merkle_root_blake3``) on their concatenation; otherwise in Python.
    Both give the same root.
    """
    hs = scheme(hash)
    if hs is BLAKE3 and type(leaves) is list and leaves and type(leaves[0]) is bytes and leaves[0]:
        # The fast path: the native core checks and packs the list itself, and splits big trees
        # over every core. Leaves of mixed sizes fall through to the general path below.
        from ledger import _core, hashing

        try:
            return _core.merkle_root_blake3(hashing.KEY_MERKLE_LEAF, hashing.KEY_MERKLE_NODE, leaves,
                                            len(leaves[0]), _THREADS)
        except ValueError:
            pass
    data = _as_leaves(leaves)
    if hs is BLAKE3 and data:
        size = len(data[0])
        if size > 0 and all(len(d) == size for d in data):
            from ledger import _core, hashing

            native = getattr(_core, "merkle_root_blake3", None)
            if native is not None:
                return native(hashing.KEY_MERKLE_LEAF, hashing.KEY_MERKLE_NODE, b"".join(data), size)
    return _root_python(data, hs)


def root_from_leaf_hashes(hashes: Sequence[bytes], hash: HashArg = "blake3") -> bytes:
    """The Merkle Tree Hash of a tree whose leaf hashes (not raw leaves) are ``hashes``."""
    hs = scheme(hash)
    if isinstance(hashes, (bytes, bytearray, memoryview, str)) or not isinstance(hashes, Sequence):
        raise ValueError(f"hashes must be a sequence of bytes, not {type(hashes).__name__}")
    return _root_of_hashes([_as_bytes(h, "each leaf hash") for h in hashes], hs)


# --- producing proofs --------------------------------------------------------------------------


def inclusion_proof(leaves: Sequence[bytes], index: int, hash: HashArg = "blake3") -> list[bytes]:
    """The RFC 9162 §2.1.3.1 inclusion proof (audit path) of leaf ``index``, leaf side first."""
    hs = scheme(hash)
    index = _as_int(index, "index")
    data = _as_leaves(leaves)
    if not 0 <= index < len(data):
        raise ValueError(f"index {index} is outside a tree of {len(data)} leaves")
    leaf_fn, node_fn = hs.hashers()
    levels = _levels([leaf_fn(d) for d in data], node_fn)
    proof = []
    i = index
    for level in levels[:-1]:
        sibling = i ^ 1
        if sibling < len(level):
            proof.append(level[sibling])
        i >>= 1
    return proof


def _subtree_hash(levels: list[list[bytes]], lo: int, hi: int) -> bytes:
    """MTH(D[lo:hi]) for a range that is a node of the tree (``lo`` aligned to the next power
    of two at or above ``hi - lo``, and ``hi`` either that far away or the tree size)."""
    width = hi - lo
    level = (width - 1).bit_length()
    return levels[level][lo >> level]


def consistency_proof(leaves: Sequence[bytes], old_size: int, hash: HashArg = "blake3") -> list[bytes]:
    """The RFC 9162 §2.1.4.1 proof that the first ``old_size`` leaves are a prefix of ``leaves``.

    The new size is ``len(leaves)``. For ``old_size`` 0 or equal to the new size the proof is
    empty (see the module notes on how such proofs verify).
    """
    hs = scheme(hash)
    old_size = _as_int(old_size, "old_size")
    data = _as_leaves(leaves)
    new_size = len(data)
    if not 0 <= old_size <= new_size:
        raise ValueError(f"old_size {old_size} is outside 0..{new_size}")
    if old_size == 0 or old_size == new_size:
        return []
    leaf_fn, node_fn = hs.hashers()
    levels = _levels([leaf_fn(d) for d in data], node_fn)

    # SUBPROOF(m, D[lo:hi], b), unrolled: walk down from the whole tree, collecting the hashes
    # the recursion would append on the way back up, then reverse them.
    tail: list[bytes] = []
    m, lo, hi, complete = old_size, 0, new_size, True
    while m != hi - lo:
        k = 1 << ((hi - lo - 1).bit_length() - 1)  # largest power of two < hi - lo
        if m <= k:
            tail.append(_subtree_hash(levels, lo + k, hi))
            hi = lo + k
        else:
            tail.append(_subtree_hash(levels, lo, lo + k))
            lo += k
            m -= k
            complete = False
    if not complete:
        tail.append(_subtree_hash(levels, lo, hi))
    tail.reverse()
    return tail


# --- verifying proofs --------------------------------------------------------------------------


def verify_inclusion_hash(
    leaf_hash: bytes,
    index: int,
    size: int,
    proof: Sequence[bytes],
    root: bytes,
    hash: HashArg = "blake3",
) -> bool:
    """RFC 9162 §2.1.3.2: does ``proof`` show the leaf with hash ``leaf_hash`` at ``index`` in the
    tree of ``size`` leaves whose root is ``root``? Never raises for well-typed arguments."""
    hs = scheme(hash)
    leaf_hash = _as_bytes(leaf_hash, "leaf_hash")
    root_ = _as_bytes(root, "root")
    index = _as_int(index, "index")
    size = _as_int(size, "size")
    path = _as_proof(proof)
    n = hs.digest_size
    if len(leaf_hash) != n or len(root_) != n or any(len(p) != n for p in path):
        return False
    if not 0 <= index < size:
        return False
    node_fn = hs.hashers()[1]
    fn, sn = index, size - 1
    r = leaf_hash
    for p in path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_fn(p, r)
            if not fn & 1:
                # fn is the last node of its level and has no sibling: climb until it is a right
                # child (or the root of the remaining tree).
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_fn(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root_


def verify_inclusion(
    leaf: bytes,
    index: int,
    size: int,
    proof: Sequence[bytes],
    root: bytes,
    hash: HashArg = "blake3",
) -> bool:
    """Like :func:`verify_inclusion_hash`, for the raw leaf data ``leaf``."""
    hs = scheme(hash)
    data = _as_bytes(leaf, "leaf")
    return verify_inclusion_hash(hs.hashers()[0](data), index, size, proof, root, hs)


def verify_consistency(
    old_size: int,
    new_size: int,
    old_root: bytes,
    new_root: bytes,
    proof: Sequence[bytes],
    hash: HashArg = "blake3",
) -> bool:
    """RFC 9162 §2.1.4.2: does ``proof`` show the tree (``old_size``, ``old_root``) is a prefix of
    the tree (``new_size``, ``new_root``)? Never raises for well-typed arguments; see the module
    notes for the conventions on equal sizes and on ``old_size == 0``."""
    hs = scheme(hash)
    old_size = _as_int(old_size, "old_size")
    new_size = _as_int(new_size, "new_size")
    old_root = _as_bytes(old_root, "old_root")
    new_root = _as_bytes(new_root, "new_root")
    path = _as_proof(proof)
    if old_size <= 0 or old_size > new_size:
        return False
    if old_size == new_size:
        return not path and old_root == new_root
    n = hs.digest_size
    if len(old_root) != n or len(new_root) != n or any(len(p) != n for p in path):
        return False
    if not path:
        return False
    if old_size & (old_size - 1) == 0:
        # The old tree is a complete subtree of the new one, so the proof omits its root.
        path = [old_root, *path]
    node_fn = hs.hashers()[1]
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_fn(c, fr)
            sr = node_fn(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_fn(sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == old_root and sr == new_root
