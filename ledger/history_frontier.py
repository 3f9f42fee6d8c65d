"""The frontier of the version-2 history tree: the roots of its perfect subtrees, enough to append a
leaf and to give the RFC 9162 root of every leaf so far without keeping the leaves.

Specification: docs/FORMAT.md §3 and §7.3 (RFC 9162 §2.1.1: MTH(D[0:n]) splits at the largest power of
two k < n, so the root of n leaves is the right fold of the roots of the perfect subtrees that the
binary digits of n give, largest first).
"""
from __future__ import annotations

from dataclasses import dataclass

from ledger import hashing


@dataclass(frozen=True, slots=True)
class Frontier:
    size: int                     # number of leaves appended
    peaks: tuple[bytes, ...]      # roots of the perfect subtrees, largest (leftmost) first

    @classmethod
    def empty(cls) -> "Frontier":
        return cls(0, ())

    def append(self, data: bytes) -> "Frontier":
        """The frontier with one more leaf (its data: the chain id or a block hash)."""
        peaks = list(self.peaks)
        node = hashing.merkle_leaf(data)
        size = self.size
        while size & 1:   # each trailing 1 bit of the old size is a subtree of the new one's size: merge
            node = hashing.merkle_node(peaks.pop(), node)
            size >>= 1
        peaks.append(node)
        return Frontier(self.size + 1, tuple(peaks))

    def root(self) -> bytes:
        if not self.peaks:
            return hashing.merkle_empty()
        node = self.peaks[-1]
        for peak in reversed(self.peaks[:-1]):
            node = hashing.merkle_node(peak, node)
        return node

    def to_list(self) -> list:
        """[size, [peak, ...]] for storing beside a tip (msgpack)."""
        return [self.size, list(self.peaks)]

    @classmethod
    def from_list(cls, value: list) -> "Frontier":
        size, peaks = value
        if len(peaks) != bin(size).count("1") or any(len(p) != 32 for p in peaks):
            raise ValueError("a frontier has one 32-byte peak per 1 bit of its size")
        return cls(size, tuple(bytes(p) for p in peaks))
