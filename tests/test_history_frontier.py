"""The history frontier (FORMAT.md §7.3) against the RFC 9162 tree of ledger/merkle.py."""
import hashlib

import pytest

from ledger import merkle
from ledger.history_frontier import Frontier


def test_root_equals_merkle_root_for_every_size_to_300():
    frontier, leaves = Frontier.empty(), []
    for i in range(300):
        assert frontier.root() == merkle.root(leaves), i
        assert frontier.size == i and len(frontier.peaks) == bin(i).count("1")
        data = hashlib.sha256(i.to_bytes(4, "big")).digest()
        leaves.append(data)
        frontier = frontier.append(data)


def test_round_trip_and_refusals():
    frontier = Frontier.empty()
    for i in range(13):
        frontier = frontier.append(bytes([i]) * 32)
    assert Frontier.from_list(frontier.to_list()) == frontier
    size, peaks = frontier.to_list()
    with pytest.raises(ValueError):
        Frontier.from_list([size + 2, peaks])   # 15 has four 1 bits, 13 three
    with pytest.raises(ValueError):
        Frontier.from_list([size, peaks[:-1] + [b"short"]])
