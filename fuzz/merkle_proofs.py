"""The Merkle proof verifiers (ledger.merkle.verify_inclusion, verify_consistency; RFC 9162
§2.1.3-2.1.4 with the hashes of docs/FORMAT.md §3): a proof made for a tree verifies (complete),
and after any change to the claim or the proof, a proof verifies only if its hashes are the tree's
own: the leaf and roots are real, the path is the one for their real positions, and with the real
tree size the claimed index (or old size) is the real one (sound). Any exception is a finding too.

RFC 9162 verification does not bind the tree size by itself: the path for leaf i of n also verifies
for a larger claimed size whose path has the same shape (2 -> 10 and 2 -> 12 compute the same
hashes). A claim of a size no tree with that root has cannot be told apart without the leaves;
ledger binds the size elsewhere (tx_count is in the signed header), so the harness allows it."""
from __future__ import annotations

from ledger import merkle

SCHEMES = ("blake3", "sha256")


def _take(data: bytes, at: int) -> int:
    return data[at % len(data)] if data else 0


def test_one_input(data: bytes) -> None:
    if len(data) < 6:
        return
    hash_name = SCHEMES[data[0] & 1]
    n = data[1] % 40 + 1
    leaves = [bytes([i]) + data[6:14] for i in range(n)]     # distinct leaves, content from the input
    roots = {size: merkle.root(leaves[:size], hash_name) for size in range(1, n + 1)}
    mutation = data[5]
    if data[0] & 2:
        _inclusion(data, hash_name, leaves, roots, mutation)
    else:
        _consistency(data, hash_name, leaves, roots, mutation)


def _mutate_path(path: list[bytes], mutation: int, data: bytes) -> list[bytes]:
    path = list(path)
    kind = mutation % 6
    if kind == 1 and path:
        path.pop(_take(data, 7) % len(path))
    elif kind == 2:
        path.insert(_take(data, 8) % (len(path) + 1), data[-32:].ljust(32, b"\0"))
    elif kind == 3 and path:
        at = _take(data, 9) % len(path)
        node = bytearray(path[at])
        node[_take(data, 10) % 32] ^= 1 << (_take(data, 11) % 8)
        path[at] = bytes(node)
    elif kind == 4 and len(path) > 1:
        path[0], path[-1] = path[-1], path[0]
    return path


def _inclusion(data, hash_name, leaves, roots, mutation) -> None:
    n = len(leaves)
    size = data[2] % n + 1
    index = data[3] % size
    proof = merkle.inclusion_proof(leaves[:size], index, hash_name)
    assert merkle.verify_inclusion(leaves[index], index, size, proof, roots[size], hash_name), "complete"
    claim_index, claim_size, claim_root, leaf = index, size, roots[size], leaves[index]
    if mutation & 0x10:
        claim_index = data[4] % 48 - 2
    if mutation & 0x20:
        claim_size = _take(data, 12) % 48 - 2
    if mutation & 0x40:
        claim_root = roots[_take(data, 13) % n + 1]
    if mutation & 0x80:
        leaf = leaves[_take(data, 14) % n]
    path = _mutate_path(proof, mutation, data)
    if merkle.verify_inclusion(leaf, claim_index, claim_size, path, claim_root, hash_name):
        # What the hashes really say: the leaf sits at `real_index` of the tree whose root is given.
        real_size = _size_of(roots, claim_root)
        real_index = leaves.index(leaf)
        assert real_size is not None and real_index < real_size, "accepted a root or leaf of no such tree"
        assert merkle.verify_inclusion(leaf, real_index, real_size, path, claim_root, hash_name), \
            f"accepted a path that is not the leaf's: {claim_index}/{claim_size}, really {real_index}/{real_size}"
        assert claim_size != real_size or claim_index == real_index, \
            f"accepted the leaf at index {claim_index} of {claim_size}; it is at {real_index}"


def _consistency(data, hash_name, leaves, roots, mutation) -> None:
    n = len(leaves)
    new = data[2] % n + 1
    old = data[3] % new + 1
    proof = merkle.consistency_proof(leaves[:new], old, hash_name)
    assert merkle.verify_consistency(old, new, roots[old], roots[new], proof, hash_name), "complete"
    claim_old, claim_new, old_root, new_root = old, new, roots[old], roots[new]
    if mutation & 0x10:
        claim_old = data[4] % 48 - 2
    if mutation & 0x20:
        claim_new = _take(data, 12) % 48 - 2
    if mutation & 0x40:
        old_root = roots[_take(data, 13) % n + 1]
    if mutation & 0x80:
        new_root = roots[_take(data, 14) % n + 1]
    path = _mutate_path(proof, mutation, data)
    if not merkle.verify_consistency(claim_old, claim_new, old_root, new_root, path, hash_name):
        return
    if claim_old == claim_new >= 1:   # a tree is consistent with itself, whatever its size: no proof, same root
        assert old_root == new_root and not path, "accepted two trees of one size with different roots"
        return
    real_old, real_new = _size_of(roots, old_root), _size_of(roots, new_root)
    assert real_old is not None and real_new is not None and real_old <= real_new, "accepted roots of no such trees"
    assert merkle.verify_consistency(real_old, real_new, old_root, new_root, path, hash_name), \
        f"accepted a path that is not the trees': {claim_old} -> {claim_new}, really {real_old} -> {real_new}"
    assert claim_new != real_new or claim_old == real_old, \
        f"accepted {claim_old} as a prefix of {claim_new}; the old root is of {real_old} leaves"


def _size_of(roots: dict[int, bytes], root: bytes) -> int | None:
    """The size of our tree whose root this is (roots of different sizes differ)."""
    return next((size for size, value in roots.items() if value == root), None)


SEEDS = {f"{'inclusion' if flags & 2 else 'consistency'}-{scheme}-m{mutation}":
         bytes([flags | (s & 1), 13, 11, 6, 3, mutation]) + bytes(range(40))
         for s, scheme in enumerate(SCHEMES) for flags in (0, 2) for mutation in (0, 0x13, 0x24, 0x43, 0x81)}
