"""The version-2 state map: key and value hashing, the sparse Merkle tree's root and paths.

Specification: docs/FORMAT.md §7.2 (the binary form of the Jellyfish Merkle tree's shape: Gao,
Hu, Wu, Jiang, Yuan, Ray, Fletcher, Lu, Ou, Kumar, Xu, Wang, "Jellyfish Merkle Tree", 2021: a
subtree of one entry is that entry's leaf).

This is the readable twin: a dict and the recursive definition, written for clarity, used by
tests as the oracle of the native tree (`_core.StateTree`, ledger/csrc/state_tree.c) and by
proof verification, which needs no tree at all (`fold`).
"""
from __future__ import annotations

import bisect
import struct
from dataclasses import dataclass
from typing import Iterable, Optional

from ledger import _core

from ledger.hashing import KEY_STATE_KEY, KEY_STATE_LEAF, KEY_STATE_NODE, KEY_STATE_VALUE   # FORMAT.md §2

EMPTY = bytes(32)
KEY_BITS = 256
TAG_ACCOUNT = b"\x00"
TAG_RECORD = b"\x01"

_keyed = _core.blake3_keyed
_U64_PAIR = struct.Struct(">QQ")


def account_key_hash(public_key: bytes) -> bytes:
    return _keyed(KEY_STATE_KEY, TAG_ACCOUNT + public_key)


def record_key_hash(owner: bytes, key: bytes) -> bytes:
    return _keyed(KEY_STATE_KEY, TAG_RECORD + owner + key)


def account_value_hash(balance: int, nonce: int) -> bytes:
    return _keyed(KEY_STATE_VALUE, TAG_ACCOUNT + _U64_PAIR.pack(balance, nonce))


def record_value_hash(value: bytes) -> bytes:
    return _keyed(KEY_STATE_VALUE, TAG_RECORD + value)


def leaf_hash(key_hash: bytes, value_hash: bytes) -> bytes:
    return _keyed(KEY_STATE_LEAF, key_hash + value_hash)


def node_hash(left: bytes, right: bytes) -> bytes:
    return _keyed(KEY_STATE_NODE, left + right)


def bit(key_hash: bytes, i: int) -> int:
    """Bit i of a key hash, bit 0 the most significant bit of the first byte."""
    return (key_hash[i >> 3] >> (7 - (i & 7))) & 1


def shares_prefix(a: bytes, b: bytes, bits: int) -> bool:
    """Whether a and b agree on their first `bits` bits."""
    return all(bit(a, i) == bit(b, i) for i in range(bits))


@dataclass(frozen=True)
class Path:
    """The siblings from the root down (EMPTY as b"") and the other leaf ending a non-membership
    path, if any: (key hash, value hash)."""
    siblings: tuple[bytes, ...]
    other: Optional[tuple[bytes, bytes]]


def fold(key_hash: bytes, terminal: bytes, siblings: Iterable[bytes]) -> bytes:
    """The root a path gives: from the terminal at depth D up to depth 0 (§7.2)."""
    path = [s if s else EMPTY for s in siblings]
    h = terminal
    for d in range(len(path) - 1, -1, -1):
        h = node_hash(path[d], h) if bit(key_hash, d) else node_hash(h, path[d])
    return h


class StateTree:
    """The map key hash -> value hash, with the root and paths computed from the definition."""

    def __init__(self, entries: Optional[dict[bytes, bytes]] = None) -> None:
        self._values: dict[bytes, bytes] = {}
        self._sorted: list[bytes] = []
        if entries:
            self.update(entries.items())

    def __len__(self) -> int:
        return len(self._values)

    def get(self, key_hash: bytes) -> Optional[bytes]:
        return self._values.get(key_hash)

    def update(self, items: Iterable[tuple[bytes, bytes]]) -> list[tuple[bytes, Optional[bytes]]]:
        """Set each key hash to its value hash (a later item for the same key wins). Returns the
        undo list for `revert`: each key hash changed, with its value before (None: absent)."""
        undo: list[tuple[bytes, Optional[bytes]]] = []
        for key_hash, value_hash in items:
            if len(key_hash) != 32 or len(value_hash) != 32:
                raise ValueError("key and value hashes are 32 bytes")
            before = self._values.get(key_hash)
            undo.append((key_hash, before))
            if before is None:
                bisect.insort(self._sorted, key_hash)
            self._values[key_hash] = value_hash
        return undo

    def revert(self, undo: list[tuple[bytes, Optional[bytes]]]) -> None:
        """Undo an `update` (the latest one not yet reverted): a rejected block changes nothing."""
        for key_hash, before in reversed(undo):
            if before is None:
                del self._values[key_hash]
                del self._sorted[bisect.bisect_left(self._sorted, key_hash)]
            else:
                self._values[key_hash] = before

    def _split(self, lo: int, hi: int, depth: int) -> int:
        """Index of the first key in sorted[lo:hi] whose bit `depth` is 1 (all share the bits above)."""
        while lo < hi:
            mid = (lo + hi) // 2
            if bit(self._sorted[mid], depth):
                hi = mid
            else:
                lo = mid + 1
        return lo

    def _root(self, lo: int, hi: int, depth: int) -> bytes:
        if hi == lo:
            return EMPTY
        if hi - lo == 1:
            key = self._sorted[lo]
            return leaf_hash(key, self._values[key])
        mid = self._split(lo, hi, depth)
        return node_hash(self._root(lo, mid, depth + 1), self._root(mid, hi, depth + 1))

    def root(self) -> bytes:
        return self._root(0, len(self._sorted), 0)

    def path(self, key_hash: bytes) -> Path:
        """The path to key_hash (present or not), per §7.2."""
        lo, hi, depth = 0, len(self._sorted), 0
        siblings: list[bytes] = []
        while hi - lo > 1:
            mid = self._split(lo, hi, depth)
            if bit(key_hash, depth):
                siblings.append(self._root(lo, mid, depth + 1))
                lo = mid
            else:
                siblings.append(self._root(mid, hi, depth + 1))
                hi = mid
            depth += 1
        other = None
        if hi - lo == 1 and self._sorted[lo] != key_hash:
            other = (self._sorted[lo], self._values[self._sorted[lo]])
        return Path(tuple(b"" if s == EMPTY else s for s in siblings), other)


# ---- what validation, storage and the builders use: one factory and the batch paths ----

_ACCOUNT_ITEM = 48   # key (32) || balance u64 big-endian || nonce u64 big-endian: block_rules.c's and the store's


def new_tree():
    """An empty state tree: the native one (`_core.StateTree`, same interface plus the packed fast
    path) when the core has it, else this twin. Every tree the ledger keeps is made here."""
    native = getattr(_core, "StateTree", None)
    return native() if native is not None else StateTree()


def account_hashes(packed: bytes) -> tuple[bytes, bytes]:
    """Key hashes and value hashes (32 bytes each, concatenated) of accounts packed 48 bytes each
    (key || u64be(balance) || u64be(nonce): the value hash's input after its tag, as it is)."""
    native = getattr(_core, "state_account_hashes", None)
    if native is not None:
        return native(packed)
    keys = b"".join(_keyed(KEY_STATE_KEY, TAG_ACCOUNT + packed[i:i + 32]) for i in range(0, len(packed), _ACCOUNT_ITEM))
    values = b"".join(_keyed(KEY_STATE_VALUE, TAG_ACCOUNT + packed[i + 32:i + 48])
                      for i in range(0, len(packed), _ACCOUNT_ITEM))
    return keys, values


def record_hashes(records: Iterable[tuple[bytes, bytes, bytes]]) -> tuple[bytes, bytes]:
    """Key hashes and value hashes (concatenated) of (owner, key, value) records."""
    native = getattr(_core, "state_record_hashes", None)
    if native is not None:
        records = list(records)
        return native([r[0] for r in records], [r[1] for r in records], [r[2] for r in records])
    keys = []
    values = []
    for owner, key, value in records:
        keys.append(record_key_hash(owner, key))
        values.append(record_value_hash(value))
    return b"".join(keys), b"".join(values)


def update_packed(tree, key_hashes: bytes, value_hashes: bytes):
    """tree.update over packed hashes (the native tree's fast path); returns its undo for revert."""
    if len(key_hashes) != len(value_hashes) or len(key_hashes) % 32:
        raise ValueError("key and value hashes are 32 bytes each, as many of one as of the other")
    fast = getattr(tree, "update_packed", None)
    if fast is not None:
        return fast(key_hashes, value_hashes)
    return tree.update([(key_hashes[i:i + 32], value_hashes[i:i + 32]) for i in range(0, len(key_hashes), 32)])
