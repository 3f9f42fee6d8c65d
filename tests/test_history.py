"""History proofs (ledger/history.py, docs/FORMAT.md §7.3 and §13) against ledger.merkle: both parts
verify for every pair of small heights and the edge heights, and fail when any part is tampered."""
from __future__ import annotations

import hashlib

import pytest

from ledger import merkle
from ledger.history import HistoryParts, prove, root, verify
from ledger.history_frontier import Frontier

SIZES_MAX = 300


def _leaves(count: int) -> list[bytes]:
    # 32-byte leaves, like chain ids and block hashes
    return [hashlib.sha256(b"leaf %d" % i).digest() for i in range(count)]


LEAVES = _leaves(SIZES_MAX + 1)


def test_history_root_is_the_frontier_root():
    """history.root and the frontier a node keeps (ledger/history_frontier.py) agree at every size."""
    frontier = Frontier.empty()
    for size in range(SIZES_MAX + 1):
        assert root(LEAVES[:size]) == frontier.root() == merkle.root(LEAVES[:size]), size
        frontier = frontier.append(LEAVES[size])


# ---------------------------------------------------------------- history proofs


def _check_pair(old: int, new: int) -> HistoryParts:
    parts = prove(LEAVES, old, new)
    assert parts.consistency == merkle.consistency_proof(LEAVES[:new], old)
    assert parts.inclusion == merkle.inclusion_proof(LEAVES[:new], old)
    assert verify(old, root(LEAVES[:old]), LEAVES[old], new, root(LEAVES[:new]), *parts), (old, new)
    return parts


def test_every_pair_of_small_heights():
    for new in range(2, 40):
        for old in range(1, new):
            _check_pair(old, new)


@pytest.mark.parametrize("old,new", [
    (1, 2), (1, 300), (2, 3), (3, 4), (4, 5), (7, 8), (8, 9), (15, 16), (16, 17), (63, 64), (64, 65),
    (127, 128), (128, 129), (128, 256), (255, 256), (256, 257), (1, 256), (100, 300), (299, 300), (17, 255),
])
def test_edge_heights(old, new):
    _check_pair(old, new)


def test_prove_uses_only_the_first_new_height_leaves():
    assert prove(LEAVES, 5, 11) == prove(LEAVES[:11], 5, 11)


@pytest.mark.parametrize("old,new", [(0, 5), (5, 5), (6, 5), (-1, 3)])
def test_prove_refuses_heights_out_of_order(old, new):
    with pytest.raises(ValueError):
        prove(LEAVES, old, new)


def test_prove_needs_the_leaves_up_to_new_height():
    with pytest.raises(ValueError):
        prove(LEAVES[:10], 3, 11)


def _tamper_cases(old: int, new: int):
    """(description, arguments of verify) for every single change of a valid proof."""
    old_root, new_root = root(LEAVES[:old]), root(LEAVES[:new])
    consistency, inclusion = prove(LEAVES, old, new)
    good = (old, old_root, LEAVES[old], new, new_root, consistency, inclusion)
    flip = lambda data, i=0: data[:i] + bytes([data[i] ^ 1]) + data[i + 1:]   # noqa: E731
    # A height is bound to its root by the signed header, not by the proof: RFC 9162 proofs for
    # sizes 9 and 10 can have one shape. So a changed height comes with that height's root.
    if old > 1:
        yield "old height - 1", (old - 1, root(LEAVES[:old - 1]), LEAVES[old - 1], *good[3:])
    if old + 1 < new:
        yield "old height + 1", (old + 1, root(LEAVES[:old + 1]), LEAVES[old + 1], *good[3:])
    if new - 1 > old:
        yield "new height - 1", (*good[:3], new - 1, root(LEAVES[:new - 1]), *good[5:])
    yield "new height + 1", (*good[:3], new + 1, root(LEAVES[:new + 1]), *good[5:])
    yield "old root of another size", (good[0], root(LEAVES[:old + 1]), *good[2:])
    yield "old root", (good[0], flip(old_root), *good[2:])
    yield "old block hash", (*good[:2], flip(LEAVES[old], 31), *good[3:])
    yield "old block hash is the previous one", (*good[:2], LEAVES[old - 1], *good[3:])
    yield "new root", (*good[:4], flip(new_root), *good[5:])
    for i in range(len(consistency)):
        yield f"consistency[{i}]", (*good[:5], consistency[:i] + [flip(consistency[i], i % 32)] + consistency[i + 1:],
                                    inclusion)
    for i in range(len(inclusion)):
        yield f"inclusion[{i}]", (*good[:6], inclusion[:i] + [flip(inclusion[i], i % 32)] + inclusion[i + 1:])
    yield "consistency short", (*good[:5], consistency[:-1], inclusion)
    yield "consistency long", (*good[:5], consistency + [bytes(32)], inclusion)
    yield "inclusion short", (*good[:6], inclusion[:-1])
    yield "inclusion long", (*good[:6], inclusion + [bytes(32)])
    yield "parts swapped", (*good[:5], inclusion, consistency)
    yield "truncated node", (*good[:6], [inclusion[0][:31], *inclusion[1:]])


@pytest.mark.parametrize("old,new", [(1, 2), (1, 9), (2, 3), (4, 8), (5, 6), (7, 8), (8, 9), (13, 100), (64, 65),
                                     (99, 100), (128, 256)])
def test_every_tampered_proof_is_rejected(old, new):
    assert verify(old, root(LEAVES[:old]), LEAVES[old], new, root(LEAVES[:new]), *prove(LEAVES, old, new))
    for what, arguments in _tamper_cases(old, new):
        if what == "parts swapped" and arguments[5] == arguments[6]:
            continue
        assert not verify(*arguments), what


def test_a_fork_is_rejected():
    """The same old header cannot be shown to extend into a chain that replaced one of its blocks."""
    forked = list(LEAVES[:50])
    forked[10] = hashlib.sha256(b"other block").digest()
    parts = prove(forked, 20, 50)
    assert not verify(20, root(LEAVES[:20]), LEAVES[20], 50, root(forked), *parts)
    # and a block replaced after the old height leaves the old header in the new history
    later = list(LEAVES[:50])
    later[30] = hashlib.sha256(b"other block").digest()
    assert verify(20, root(LEAVES[:20]), LEAVES[20], 50, root(later), *prove(later, 20, 50))


def test_verify_height_zero_is_false():
    assert not verify(0, merkle.root([]), LEAVES[0], 3, root(LEAVES[:3]), [], merkle.inclusion_proof(LEAVES[:3], 0))
