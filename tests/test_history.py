"""The history tree helpers (ledger/history.py, docs/FORMAT.md §7.3 and §13) against ledger.merkle:
the frontier's root is merkle.root for every size, its encodings round-trip and refuse anything
else, and history proofs verify for every pair of sizes and fail when any part is tampered."""
from __future__ import annotations

import hashlib

import pytest

from ledger import merkle
from ledger.errors import LedgerError
from ledger.history import SIZE_MAX, Frontier, HistoryParts, prove, root, verify

SIZES_MAX = 300


def _leaves(count: int) -> list[bytes]:
    # 32-byte leaves like chain ids and block hashes (the native root's fast path), and one of
    # another length below to take the general path too.
    return [hashlib.sha256(b"leaf %d" % i).digest() for i in range(count)]


LEAVES = _leaves(SIZES_MAX + 1)


def _frontiers(leaves, hash="blake3"):
    frontier = Frontier(hash=hash)
    yield frontier
    for leaf in leaves:
        frontier = frontier.append(leaf)
        yield frontier


# ---------------------------------------------------------------- the frontier


@pytest.mark.parametrize("hash_name", ["blake3", "sha256"])
def test_frontier_root_is_the_merkle_root_for_every_size(hash_name):
    for size, frontier in enumerate(_frontiers(LEAVES, hash_name)):
        assert frontier.size == size
        assert len(frontier.nodes) == bin(size).count("1")
        assert frontier.root() == merkle.root(LEAVES[:size], hash_name), size


def test_frontier_of_leaves_of_mixed_lengths():
    leaves = [b"", b"a", b"chain id" * 4, bytes(100)] * 5
    for size, frontier in enumerate(_frontiers(leaves)):
        assert frontier.root() == merkle.root(leaves[:size]), size


def test_history_root_is_the_frontier_root():
    assert root(LEAVES[:77]) == Frontier().extend(LEAVES[:77]).root()
    assert root([]) == merkle.root([]) == Frontier().root()


def test_nodes_are_the_perfect_subtree_roots_largest_first():
    frontier = Frontier().extend(LEAVES[:13])   # 8 + 4 + 1
    assert frontier.nodes == (merkle.root(LEAVES[:8]), merkle.root(LEAVES[8:12]), merkle.root(LEAVES[12:13]))


def test_append_does_not_change_the_original():
    first = Frontier().extend(LEAVES[:5])
    copy = Frontier.from_bytes(first.to_bytes())
    second = first.append(LEAVES[5])
    assert first == copy and first.size == 5 and second.size == 6
    with pytest.raises(AttributeError):
        first._size = 9


def test_append_leaf_hash_is_append():
    leaf_hash = merkle.leaf_hashes([LEAVES[7]])[0]
    base = Frontier().extend(LEAVES[:7])
    assert base.append_leaf_hash(leaf_hash) == base.append(LEAVES[7])


@pytest.mark.parametrize("size", [0, 1, 2, 3, 7, 8, 13, 255, 256, 300])
def test_encodings_round_trip(size):
    frontier = Frontier().extend(LEAVES[:size])
    data = frontier.to_bytes()
    assert len(data) == 8 + 32 * bin(size).count("1")
    assert data[:8] == size.to_bytes(8, "big")
    assert Frontier.from_bytes(data) == frontier
    assert Frontier.from_bytes(data).root() == frontier.root()
    assert Frontier.from_list(frontier.to_list()) == frontier


def test_the_encoding_is_documented():
    frontier = Frontier().extend(LEAVES[:6])   # 4 + 2
    assert frontier.to_bytes() == bytes(7) + b"\x06" + merkle.root(LEAVES[:4]) + merkle.root(LEAVES[4:6])
    assert frontier.to_list() == [6, [merkle.root(LEAVES[:4]), merkle.root(LEAVES[4:6])]]


@pytest.mark.parametrize("data", [
    b"",
    bytes(7),
    bytes(8) + bytes(32),                       # size 0 has no node
    (1).to_bytes(8, "big"),                     # size 1 needs one node
    (3).to_bytes(8, "big") + bytes(32),         # size 3 needs two
    (3).to_bytes(8, "big") + bytes(96),
    (2).to_bytes(8, "big") + bytes(31),
])
def test_from_bytes_refuses_other_lengths(data):
    with pytest.raises(LedgerError) as raised:
        Frontier.from_bytes(data)
    assert raised.value.code == "bad-encoding"


@pytest.mark.parametrize("value", [
    None, [], [1], [1, [bytes(32)], 0], ["1", [bytes(32)]], [True, [bytes(32)]], [1, bytes(32)],
    [1, [bytes(31)]], [2, []], [-1, []], [2**64, [bytes(32)]], [1, ["00" * 32]],
])
def test_from_list_refuses_malformed(value):
    with pytest.raises(LedgerError) as raised:
        Frontier.from_list(value)
    assert raised.value.code == "bad-encoding"


def test_sizes_near_the_u64_limit():
    nodes = [bytes([i]) * 32 for i in range(64)]
    full = Frontier(SIZE_MAX, nodes)
    assert Frontier.from_bytes(full.to_bytes()) == full
    with pytest.raises(ValueError):
        full.append(b"x")
    below = Frontier(SIZE_MAX - 1, nodes[:63])
    assert below.append(b"x").size == SIZE_MAX
    with pytest.raises(ValueError):
        Frontier(SIZE_MAX + 1, nodes + [bytes(32)])


def test_the_hash_is_part_of_the_value():
    assert Frontier().extend(LEAVES[:3]) != Frontier(hash="sha256").extend(LEAVES[:3])
    assert Frontier.from_bytes(Frontier(hash="sha256").extend(LEAVES[:3]).to_bytes(), "sha256").root() == \
        merkle.root(LEAVES[:3], "sha256")


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
