"""Tests of ledger.merkle.

* SHA-256 (RFC 6962 hashing): every file of /work/shared/vectors/merkle/ — the RFC 6962 reference
  tree, the transparency-dev/merkle inclusion and consistency vectors (failure cases included)
  and a real Certificate Transparency log (argon2020) inclusion and consistency proof.
* BLAKE3: the native root against its Python twin, every inclusion and consistency proof of
  small trees (and their tampered variants), the CVE-2012-2459 shape, and property tests.
"""
from __future__ import annotations

import base64
import hashlib
import json
import os
import random
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from ledger import merkle
from ledger.merkle import (
    BLAKE3,
    HashScheme,
    SHA256,
    consistency_proof,
    inclusion_proof,
    root,
    root_from_leaf_hashes,
    scheme,
    verify_consistency,
    verify_inclusion,
    verify_inclusion_hash,
)

VECTORS = Path(os.environ.get("LEDGER_VECTORS", "/work/shared/vectors")) / "merkle"
TD = VECTORS / "transparency-dev-merkle" / "testdata"
ARGON = VECTORS / "golang-mod-argon2020"
REFERENCE = VECTORS / "rfc6962-sha256-reference-tree.json"

# From golang/mod sumdb/tlog/ct_test.go (see SOURCES.md): the argon2020 log's earlier tree head.
ARGON_OLD_SIZE = 3654490
ARGON_OLD_ROOT = base64.b64decode("AuIZ5V6sDUj1vn3Y1K85oOaQ7y+FJJKtyRTl1edIKBQ=")

needs_vectors = pytest.mark.skipif(not VECTORS.is_dir(), reason=f"no test vectors at {VECTORS}")


def _files(directory: Path) -> list[Path]:
    return sorted(directory.rglob("*.json")) if directory.is_dir() else []


def _id(path: Path) -> str:
    return str(path.relative_to(VECTORS))


INCLUSION_FILES = _files(TD / "inclusion")
CONSISTENCY_FILES = _files(TD / "consistency")
ARGON_FILES = sorted(ARGON.glob("*.json")) if ARGON.is_dir() else []


def _b64(value: str) -> bytes:
    return base64.b64decode(value, validate=True)


def _reference() -> dict:
    return json.loads(REFERENCE.read_text())


def _reference_leaves() -> list[bytes]:
    return [bytes.fromhex(h) for h in _reference()["leaf_inputs_hex"]]


def _flip(data: bytes, bit: int) -> bytes:
    out = bytearray(data)
    out[bit // 8] ^= 1 << (bit % 8)
    return bytes(out)


# --- every vector file is used -------------------------------------------------------------------


@needs_vectors
def test_every_vector_file_is_covered() -> None:
    covered = {REFERENCE, VECTORS / "SOURCES.md", *INCLUSION_FILES, *CONSISTENCY_FILES, *ARGON_FILES}
    present = {p for p in VECTORS.rglob("*") if p.is_file()}
    assert present - covered == set(), "vector files no test reads"
    assert len(INCLUSION_FILES) == 98 and len(CONSISTENCY_FILES) == 98
    assert {p.name for p in ARGON_FILES} == {"consistency.json", "entries.json", "proof.json", "sth.json"}


# --- RFC 6962 reference tree (SHA-256) -----------------------------------------------------------


@needs_vectors
def test_reference_tree_roots_every_size() -> None:
    ref = _reference()
    assert ref["hash"] == "sha256"
    leaves = _reference_leaves()
    for size, want in enumerate(ref["root_hashes_by_size_hex"]):
        assert root(leaves[:size], "sha256").hex() == want, size
        assert merkle._root_python(leaves[:size], SHA256).hex() == want, size


@needs_vectors
def test_reference_tree_leaf_and_node_hashes() -> None:
    ref = _reference()
    leaves = _reference_leaves()
    hashes = merkle.leaf_hashes(leaves, "sha256")
    assert [h.hex() for h in hashes] == ref["leaf_hashes_hex"]
    levels = merkle._levels(hashes, SHA256.node)
    assert [[h.hex() for h in level] for level in levels] == ref["node_hashes_by_level_hex"]
    assert root_from_leaf_hashes(hashes, "sha256").hex() == ref["root_hashes_by_size_hex"][8]


@needs_vectors
def test_reference_single_hash_vectors() -> None:
    for vector in _reference()["extra_vectors"]:
        want = vector["want"]
        if "left_ascii" in vector:
            got = SHA256.node(vector["left_ascii"].encode(), vector["right_ascii"].encode())
        elif "input_ascii" in vector:
            got = SHA256.leaf(vector["input_ascii"].encode())
        elif "input_hex" in vector:
            got = SHA256.leaf(bytes.fromhex(vector["input_hex"]))
        else:
            got = SHA256.empty()
            assert root([], "sha256") == got
        assert got.hex() == want, vector["desc"]


@needs_vectors
def test_reference_tree_all_proofs_verify() -> None:
    ref = _reference()
    leaves = _reference_leaves()
    roots = [bytes.fromhex(h) for h in ref["root_hashes_by_size_hex"]]
    for size in range(1, 9):
        for index in range(size):
            proof = inclusion_proof(leaves[:size], index, "sha256")
            assert verify_inclusion(leaves[index], index, size, proof, roots[size], "sha256")
        for old in range(1, size + 1):
            proof = consistency_proof(leaves[:size], old, "sha256")
            assert verify_consistency(old, size, roots[old], roots[size], proof, "sha256")


# --- transparency-dev/merkle vectors (SHA-256) ---------------------------------------------------


@needs_vectors
@pytest.mark.parametrize("path", INCLUSION_FILES, ids=_id)
def test_transparency_dev_inclusion(path: Path) -> None:
    v = json.loads(path.read_text())
    leaf_hash, root_ = _b64(v["leafHash"]), _b64(v["root"])
    proof = [_b64(p) for p in v["proof"] or []]
    ok = verify_inclusion_hash(leaf_hash, v["leafIdx"], v["treeSize"], proof, root_, "sha256")
    assert ok is (not v["wantErr"]), v["desc"]

    if path.name == "happy-path.json":
        # The happy paths are trees over the reference leaves: we must produce the same proof.
        leaves = _reference_leaves()[: v["treeSize"]]
        assert root(leaves, "sha256") == root_
        assert SHA256.leaf(leaves[v["leafIdx"]]) == leaf_hash
        assert inclusion_proof(leaves, v["leafIdx"], "sha256") == proof


@needs_vectors
@pytest.mark.parametrize("path", CONSISTENCY_FILES, ids=_id)
def test_transparency_dev_consistency(path: Path) -> None:
    v = json.loads(path.read_text())
    root1, root2 = _b64(v["root1"]), _b64(v["root2"])
    proof = [_b64(p) for p in v["proof"] or []]
    ok = verify_consistency(v["size1"], v["size2"], root1, root2, proof, "sha256")
    assert ok is (not v["wantErr"]), v["desc"]

    if path.name == "happy-path.json":
        leaves = _reference_leaves()[: v["size2"]]
        assert root(leaves[: v["size1"]], "sha256") == root1
        assert root(leaves, "sha256") == root2
        assert consistency_proof(leaves, v["size1"], "sha256") == proof


# --- a real CT log: argon2020 (SHA-256) ----------------------------------------------------------


def _argon(name: str) -> dict:
    return json.loads((ARGON / name).read_text())


def _argon_inclusion() -> tuple[bytes, int, int, list[bytes], bytes]:
    entry = _b64(_argon("entries.json")["entries"][0]["leaf_input"])
    proof = _argon("proof.json")
    sth = _argon("sth.json")
    return (
        entry,
        proof["leaf_index"],
        sth["tree_size"],
        [_b64(p) for p in proof["audit_path"]],
        _b64(sth["sha256_root_hash"]),
    )


def _argon_consistency() -> tuple[int, int, bytes, bytes, list[bytes]]:
    sth = _argon("sth.json")
    proof = [_b64(p) for p in _argon("consistency.json")["consistency"]]
    return ARGON_OLD_SIZE, sth["tree_size"], ARGON_OLD_ROOT, _b64(sth["sha256_root_hash"]), proof


def _check_argon_sth() -> None:
    sth = _argon("sth.json")
    assert sth["tree_size"] == 961984013
    assert len(_b64(sth["sha256_root_hash"])) == 32
    # Both proofs end at this tree head.
    assert verify_inclusion(*_argon_inclusion(), "sha256")
    assert verify_consistency(*_argon_consistency(), "sha256")


def _check_argon_entries() -> None:
    entry, index, size, proof, root_ = _argon_inclusion()
    # An RFC 6962 MerkleTreeLeaf: version v1 (0), leaf type timestamped_entry (0).
    assert entry[:2] == b"\x00\x00"
    assert verify_inclusion_hash(hashlib.sha256(b"\x00" + entry).digest(), index, size, proof, root_, "sha256")
    # One byte of the certificate changed: no longer in the log.
    assert not verify_inclusion(_flip(entry, 8 * 100), index, size, proof, root_, "sha256")


def _check_argon_proof() -> None:
    entry, index, size, proof, root_ = _argon_inclusion()
    assert index == 10000 and len(proof) == 30
    assert verify_inclusion(entry, index, size, proof, root_, "sha256")
    assert not verify_inclusion(entry, index + 1, size, proof, root_, "sha256")
    # (size + 1 has the same proof shape, so only the root could tell; a size with one more
    # level needs one more proof hash.)
    assert not verify_inclusion(entry, index, size * 2, proof, root_, "sha256")
    assert not verify_inclusion(entry, index, size // 2, proof, root_, "sha256")
    assert not verify_inclusion(entry, index, size, proof[:-1], root_, "sha256")
    for i in (0, 15, 29):
        bad = list(proof)
        bad[i] = _flip(bad[i], 3)
        assert not verify_inclusion(entry, index, size, bad, root_, "sha256")


def _check_argon_consistency() -> None:
    old_size, new_size, old_root, new_root, proof = _argon_consistency()
    assert len(proof) == 30
    assert verify_consistency(old_size, new_size, old_root, new_root, proof, "sha256")
    assert not verify_consistency(old_size + 1, new_size, old_root, new_root, proof, "sha256")
    assert not verify_consistency(old_size, new_size * 2, old_root, new_root, proof, "sha256")
    assert not verify_consistency(old_size * 2, new_size, old_root, new_root, proof, "sha256")
    assert not verify_consistency(old_size, new_size, _flip(old_root, 0), new_root, proof, "sha256")
    assert not verify_consistency(old_size, new_size, old_root, new_root, proof[:-1], "sha256")
    for i in (0, 10, 29):
        bad = list(proof)
        bad[i] = _flip(bad[i], 255)
        assert not verify_consistency(old_size, new_size, old_root, new_root, bad, "sha256")


_ARGON_CHECKS = {
    "sth.json": _check_argon_sth,
    "entries.json": _check_argon_entries,
    "proof.json": _check_argon_proof,
    "consistency.json": _check_argon_consistency,
}


@needs_vectors
@pytest.mark.parametrize("path", ARGON_FILES, ids=_id)
def test_argon2020_log(path: Path) -> None:
    _ARGON_CHECKS[path.name]()


# --- API behaviour (SHA-256, no native module needed) --------------------------------------------


def test_scheme_resolution() -> None:
    assert scheme("sha256") is SHA256 and scheme("SHA256") is SHA256
    assert scheme("blake3") is BLAKE3 and scheme(BLAKE3) is BLAKE3
    with pytest.raises(ValueError):
        scheme("md5")
    with pytest.raises(ValueError):
        scheme(3)  # type: ignore[arg-type]


def test_sha256_scheme_is_rfc6962() -> None:
    assert SHA256.leaf(b"abc") == hashlib.sha256(b"\x00abc").digest()
    assert SHA256.node(b"l" * 32, b"r" * 32) == hashlib.sha256(b"\x01" + b"l" * 32 + b"r" * 32).digest()
    assert SHA256.empty() == hashlib.sha256(b"").digest()


def test_verifiers_return_false_for_bad_values() -> None:
    leaves = [bytes([i]) * 3 for i in range(7)]
    r = root(leaves, "sha256")
    proof = inclusion_proof(leaves, 3, "sha256")
    good = (leaves[3], 3, 7, proof, r)
    assert verify_inclusion(*good, hash="sha256")
    for index, size in [(-1, 7), (7, 7), (3, 0), (3, -1), (0, 0), (2**70, 2**71)]:
        assert verify_inclusion(leaves[3], index, size, proof, r, "sha256") is False
    assert verify_inclusion(leaves[3], 3, 7, proof + [b"\x00" * 32], r, "sha256") is False
    assert verify_inclusion(leaves[3], 3, 7, proof[:-1], r, "sha256") is False
    assert verify_inclusion(leaves[3], 3, 7, [p[:31] for p in proof], r, "sha256") is False
    assert verify_inclusion(leaves[3], 3, 7, proof, r[:31], "sha256") is False
    assert verify_inclusion(leaves[3], 3, 7, proof, r + b"\x00", "sha256") is False
    assert verify_inclusion_hash(b"", 3, 7, proof, r, "sha256") is False
    # bytes-like arguments are fine
    assert verify_inclusion(bytearray(leaves[3]), 3, 7, [memoryview(p) for p in proof], bytearray(r), "sha256")

    cproof = consistency_proof(leaves, 3, "sha256")
    r3 = root(leaves[:3], "sha256")
    assert verify_consistency(3, 7, r3, r, cproof, "sha256")
    for old, new in [(0, 7), (-1, 7), (8, 7), (3, 16), (4, 7), (3, -1), (2**70, 2**71)]:
        assert verify_consistency(old, new, r3, r, cproof, "sha256") is False
    assert verify_consistency(3, 7, r3, r, [], "sha256") is False
    assert verify_consistency(3, 7, r3, r, cproof + cproof[:1], "sha256") is False
    assert verify_consistency(3, 7, r3[:-1], r, cproof, "sha256") is False
    assert verify_consistency(7, 7, r, r, [], "sha256") is True
    assert verify_consistency(7, 7, r, r, cproof, "sha256") is False
    assert verify_consistency(7, 7, r, r3, [], "sha256") is False
    assert verify_consistency(0, 0, SHA256.empty(), SHA256.empty(), [], "sha256") is False


def test_wrong_types_raise_value_error() -> None:
    leaves = [b"a", b"b", b"c"]
    r = root(leaves, "sha256")
    proof = inclusion_proof(leaves, 1, "sha256")
    bad_calls = [
        lambda: verify_inclusion("b", 1, 3, proof, r, "sha256"),
        lambda: verify_inclusion(b"b", 1.0, 3, proof, r, "sha256"),
        lambda: verify_inclusion(b"b", 1, "3", proof, r, "sha256"),
        lambda: verify_inclusion(b"b", True, 3, proof, r, "sha256"),
        lambda: verify_inclusion(b"b", 1, 3, b"".join(proof), r, "sha256"),
        lambda: verify_inclusion(b"b", 1, 3, [1, 2], r, "sha256"),
        lambda: verify_inclusion(b"b", 1, 3, proof, r.hex(), "sha256"),
        lambda: verify_inclusion_hash(None, 1, 3, proof, r, "sha256"),
        lambda: verify_consistency(1, 3, r, r, "proof", "sha256"),
        lambda: verify_consistency(1, None, r, r, [], "sha256"),
        lambda: verify_consistency(1, 3, None, r, [], "sha256"),
        lambda: root(b"abc", "sha256"),
        lambda: root(["a"], "sha256"),
        lambda: root_from_leaf_hashes(b"x" * 32, "sha256"),
        lambda: inclusion_proof(leaves, 3, "sha256"),
        lambda: inclusion_proof(leaves, -1, "sha256"),
        lambda: consistency_proof(leaves, 4, "sha256"),
        lambda: consistency_proof(leaves, -1, "sha256"),
    ]
    for call in bad_calls:
        with pytest.raises(ValueError):
            call()  # type: ignore[no-untyped-call]


def test_sha256_proofs_small_trees() -> None:
    """The same exhaustive checks as for BLAKE3 below, without the native module."""
    _exhaustive_proof_checks("sha256", max_size=24)


class _CountingSha256(HashScheme):
    """RFC 6962 SHA-256 hashing that counts its calls: the cost of each operation, without a clock."""

    name = "counting-sha256"

    def __init__(self) -> None:
        self.leaves = self.nodes = 0
        leaf, node = SHA256.hashers()

        def counted_leaf(data: bytes) -> bytes:
            self.leaves += 1
            return leaf(data)

        def counted_node(left: bytes, right: bytes) -> bytes:
            self.nodes += 1
            return node(left, right)

        self._fns = (counted_leaf, counted_node)

    def hashers(self):  # type: ignore[no-untyped-def]
        return self._fns

    def empty(self) -> bytes:
        return SHA256.empty()

    def take(self) -> tuple[int, int]:
        counts, self.leaves, self.nodes = (self.leaves, self.nodes), 0, 0
        return counts


def test_python_tree_costs_are_linear_and_proofs_logarithmic() -> None:
    """Each hash is computed once: n leaves and n - 1 nodes to build; a proof checks in about
    log2(n) nodes. Counted, not timed, so the test means the same on any machine."""
    n = 100_000
    leaves = [i.to_bytes(8, "little") * 4 for i in range(n)]
    counting = _CountingSha256()
    r = merkle._root_python(leaves, counting)
    assert counting.take() == (n, n - 1)
    assert r == merkle._root_python(leaves, SHA256)
    proof = inclusion_proof(leaves, 77_777, counting)
    assert counting.take() == (n, n - 1)
    cproof = consistency_proof(leaves, 65_537, counting)
    assert counting.take() == (n, n - 1)
    depth = (n - 1).bit_length()
    assert len(proof) <= depth and len(cproof) <= depth + 1
    assert verify_inclusion(leaves[77_777], 77_777, n, proof, r, counting)
    leaf_count, node_count = counting.take()
    assert leaf_count == 1 and node_count <= depth
    assert verify_consistency(65_537, n, root(leaves[:65_537], "sha256"), r, cproof, counting)
    assert counting.take()[1] <= 2 * (depth + 1)


# --- shared exhaustive checks --------------------------------------------------------------------


def _exhaustive_proof_checks(hash_name: str, max_size: int) -> None:
    rng = random.Random(hash_name)
    all_leaves = [rng.randbytes(rng.randrange(0, 40)) for _ in range(max_size)]
    roots = [root(all_leaves[:n], hash_name) for n in range(max_size + 1)]
    hs = scheme(hash_name)
    for size in range(1, max_size + 1):
        leaves = all_leaves[:size]
        r = roots[size]
        for index in range(size):
            proof = inclusion_proof(leaves, index, hash_name)
            leaf = leaves[index]
            assert len(proof) <= (size - 1).bit_length()
            assert verify_inclusion(leaf, index, size, proof, r, hash_name)
            for i, p in enumerate(proof):
                for bit in (0, rng.randrange(256)):
                    bad = list(proof)
                    bad[i] = _flip(p, bit)
                    assert not verify_inclusion(leaf, index, size, bad, r, hash_name)
            for other in range(size + 2):
                if other != index:
                    assert not verify_inclusion(leaf, other, size, proof, r, hash_name)
            for other_size in range(size + 3):
                if other_size != size:
                    # (Against r itself a proof can fit another size of the same shape, e.g. leaf
                    # 0 of 3 and of 4 leaves; what it must not do is match that size's real root.)
                    if other_size <= max_size:
                        assert not verify_inclusion(leaf, index, other_size, proof, roots[other_size], hash_name)
            assert not verify_inclusion(leaf + b"x", index, size, proof, r, hash_name)
            assert not verify_inclusion(leaf, index, size, proof, _flip(r, 5), hash_name)
            assert not verify_inclusion(leaf, index, size, proof + [r], r, hash_name)
            if proof:
                assert not verify_inclusion(leaf, index, size, proof[:-1], r, hash_name)
                assert not verify_inclusion(leaf, index, size, proof[1:], r, hash_name)
                assert not verify_inclusion_hash(proof[0], index, size, proof, r, hash_name)
        for old in range(1, size + 1):
            proof = consistency_proof(leaves, old, hash_name)
            assert verify_consistency(old, size, roots[old], r, proof, hash_name)
            if old == size:
                assert proof == []
                continue
            for i, p in enumerate(proof):
                bad = list(proof)
                bad[i] = _flip(p, rng.randrange(256))
                assert not verify_consistency(old, size, roots[old], r, bad, hash_name)
            assert not verify_consistency(old, size, _flip(roots[old], 1), r, proof, hash_name)
            assert not verify_consistency(old, size, roots[old], _flip(r, 1), proof, hash_name)
            assert not verify_consistency(old, size, roots[old], r, proof[:-1], hash_name)
            assert not verify_consistency(old, size, roots[old], r, proof + [r], hash_name)
            for other_old in range(0, size + 1):
                if other_old != old:
                    assert not verify_consistency(other_old, size, roots[old], r, proof, hash_name)
            for other_new in range(old, max_size + 1):
                if other_new != size:
                    assert not verify_consistency(old, other_new, roots[old], roots[other_new], proof, hash_name)
        assert not verify_consistency(0, size, hs.empty(), r, [], hash_name)


# --- BLAKE3 (needs the native module) ------------------------------------------------------------


@pytest.fixture(scope="module")
def core():
    try:
        from ledger import _core
    except ImportError as exc:  # pragma: no cover - only before the native module is built
        pytest.skip(f"ledger._core is not built: {exc}")
    return _core


@pytest.fixture(scope="module")
def hashing(core):
    from ledger import hashing

    return hashing


def _native_root(core, hashing, leaves: list[bytes], leaf_size: int) -> bytes:
    return core.merkle_root_blake3(hashing.KEY_MERKLE_LEAF, hashing.KEY_MERKLE_NODE, b"".join(leaves), leaf_size)


def test_blake3_scheme_matches_blake3_package(hashing) -> None:
    blake3 = pytest.importorskip("blake3")
    leaf_key, node_key = hashing.KEY_MERKLE_LEAF, hashing.KEY_MERKLE_NODE
    assert leaf_key != node_key
    for data in (b"", b"a", bytes(range(200)) * 7):
        assert BLAKE3.leaf(data) == blake3.blake3(data, key=leaf_key).digest()
    left, right = b"L" * 32, b"R" * 32
    assert BLAKE3.node(left, right) == blake3.blake3(left + right, key=node_key).digest()
    assert BLAKE3.empty() == blake3.blake3(b"", key=node_key).digest()
    # A BLAKE3 root computed from the package alone, for a 3-leaf tree (split at 2).
    leaves = [b"x", b"y", b"z"]
    lh = [blake3.blake3(d, key=leaf_key).digest() for d in leaves]
    n01 = blake3.blake3(lh[0] + lh[1], key=node_key).digest()
    assert root(leaves) == blake3.blake3(n01 + lh[2], key=node_key).digest()


def test_blake3_native_root_matches_python_twin(core, hashing) -> None:
    assert hasattr(core, "merkle_root_blake3"), "the native Merkle root is missing"
    rng = random.Random(9162)
    for leaf_size in (1, 32, 33, 64, 100):
        pool = [rng.randbytes(leaf_size) for _ in range(130)]
        for n in range(0, 131):
            leaves = pool[:n]
            want = merkle._root_python(leaves, BLAKE3)
            assert _native_root(core, hashing, leaves, leaf_size) == want, (leaf_size, n)
            assert root(leaves) == want, (leaf_size, n)
    assert merkle._root_python([], BLAKE3) == BLAKE3.empty() == root([])


@pytest.mark.parametrize("n", [255, 256, 257, 1000, 1023, 1024, 1025, 4097, 65_535, 65_536, 65_537, 100_003])
def test_blake3_native_root_matches_python_twin_big(core, hashing, n: int) -> None:
    leaves = [i.to_bytes(4, "little") * 8 for i in range(n)]
    assert _native_root(core, hashing, leaves, 32) == merkle._root_python(leaves, BLAKE3)


def test_blake3_mixed_length_leaves_use_python_path(hashing) -> None:
    leaves = [b"", b"a", b"bb", b"", b"ccc"]
    assert root(leaves) == merkle._root_python(leaves, BLAKE3)
    assert root([b"", b""]) == BLAKE3.node(BLAKE3.leaf(b""), BLAKE3.leaf(b""))


def test_blake3_root_shape(hashing) -> None:
    leaves = [bytes([i]) * 32 for i in range(7)]
    h = [BLAKE3.leaf(d) for d in leaves]
    node = BLAKE3.node
    # 7 leaves split at 4, the right 3 at 2: the lone 7th leaf is never paired with itself.
    want = node(node(node(h[0], h[1]), node(h[2], h[3])), node(node(h[4], h[5]), h[6]))
    assert root(leaves) == want
    assert root(leaves[:1]) == h[0]
    assert root_from_leaf_hashes(h) == want


def test_blake3_duplicated_last_leaf_changes_root(hashing) -> None:
    """CVE-2012-2459: in Bitcoin's tree, [a, b, c] and [a, b, c, c] share a root. Not here."""
    for n in range(2, 70):
        leaves = [i.to_bytes(2, "big") * 16 for i in range(n)]
        roots = {root(leaves), root(leaves + leaves[-1:]), root(leaves + leaves[-2:])}
        assert len(roots) == 3, n
        # Nor does the Python path (used for leaves of mixed lengths) collide.
        assert merkle._root_python(leaves, BLAKE3) != merkle._root_python(leaves + leaves[-1:], BLAKE3)
    # The explicit Bitcoin shape for [a, b, c] versus [a, b, c, c]:
    a, b, c = (bytes([x]) * 32 for x in b"abc")
    assert root([a, b, c]) != root([a, b, c, c])
    # A leaf that looks like two concatenated hashes does not collide with the node above them.
    h = [BLAKE3.leaf(d) for d in (a, b)]
    assert root([h[0] + h[1]]) != root([a, b])


def test_blake3_proofs_small_trees(hashing) -> None:
    _exhaustive_proof_checks("blake3", max_size=40)


def test_blake3_consistency_all_pairs_same_length_leaves(hashing) -> None:
    """Roots from the native path (same-length leaves) against proofs from the level table."""
    leaves = [i.to_bytes(1, "big") * 32 for i in range(40)]
    roots = [root(leaves[:n]) for n in range(41)]
    for new in range(1, 41):
        for old in range(1, new + 1):
            proof = consistency_proof(leaves[:new], old)
            assert verify_consistency(old, new, roots[old], roots[new], proof)
        for index in range(new):
            assert verify_inclusion(leaves[index], index, new, inclusion_proof(leaves[:new], index), roots[new])


# --- property tests -------------------------------------------------------------------------------

_leaf_lists = st.lists(st.binary(max_size=48), min_size=1, max_size=80)
_settings = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.mark.parametrize("hash_name", ["sha256", "blake3"])
def test_properties(hash_name: str, request: pytest.FixtureRequest) -> None:
    if hash_name == "blake3":
        request.getfixturevalue("hashing")

    @_settings
    @given(leaves=_leaf_lists, data=st.data())
    def check(leaves: list[bytes], data: st.DataObject) -> None:
        n = len(leaves)
        r = root(leaves, hash_name)
        assert r == merkle._root_python(leaves, hash_name)
        assert r == root_from_leaf_hashes(merkle.leaf_hashes(leaves, hash_name), hash_name)

        index = data.draw(st.integers(0, n - 1), label="index")
        proof = inclusion_proof(leaves, index, hash_name)
        assert verify_inclusion(leaves[index], index, n, proof, r, hash_name)
        wrong_index = data.draw(st.integers(-3, n + 3).filter(lambda i: i != index), label="wrong_index")
        if not 0 <= wrong_index < n or leaves[wrong_index] != leaves[index]:
            # (An equal leaf elsewhere can legitimately share the proof, e.g. [x, x].)
            assert not verify_inclusion(leaves[index], wrong_index, n, proof, r, hash_name)
        other = data.draw(st.binary(max_size=48).filter(lambda b: b != leaves[index]), label="other")
        assert not verify_inclusion(other, index, n, proof, r, hash_name)

        old = data.draw(st.integers(1, n), label="old")
        old_root = root(leaves[:old], hash_name)
        cproof = consistency_proof(leaves, old, hash_name)
        assert verify_consistency(old, n, old_root, r, cproof, hash_name)
        if old < n:
            # A different history of the same size is not consistent with the new tree.
            changed = data.draw(st.integers(0, old - 1), label="changed")
            forged = list(leaves)
            forged[changed] = forged[changed] + b"!"
            assert not verify_consistency(old, n, root(forged[:old], hash_name), r, cproof, hash_name)

        # Appending a leaf changes the root, and the old tree is consistent with the new one.
        extra = data.draw(st.binary(max_size=48), label="extra")
        grown = leaves + [extra]
        r2 = root(grown, hash_name)
        assert r2 != r
        assert verify_consistency(n, n + 1, r, r2, consistency_proof(grown, n, hash_name), hash_name)

    check()


@_settings
@given(
    leaf_hash=st.binary(max_size=40),
    index=st.integers(-(2**65), 2**65),
    size=st.integers(-(2**65), 2**65),
    proof=st.lists(st.binary(min_size=30, max_size=34), max_size=70),
    root_=st.binary(max_size=40),
    old=st.integers(-(2**65), 2**65),
)
def test_verifiers_never_raise_on_well_typed_garbage(
    leaf_hash: bytes, index: int, size: int, proof: list[bytes], root_: bytes, old: int
) -> None:
    assert verify_inclusion_hash(leaf_hash, index, size, proof, root_, "sha256") in (True, False)
    assert verify_consistency(old, size, leaf_hash, root_, proof, "sha256") in (True, False)


@_settings
@given(
    size=st.integers(1, 2**64),
    data=st.data(),
)
def test_random_proofs_of_the_right_length_are_rejected(size: int, data: st.DataObject) -> None:
    index = data.draw(st.integers(0, size - 1))
    length = data.draw(st.integers(0, 66))
    proof = [data.draw(st.binary(min_size=32, max_size=32)) for _ in range(length)]
    leaf_hash = data.draw(st.binary(min_size=32, max_size=32))
    root_ = data.draw(st.binary(min_size=32, max_size=32))
    assume(not (size == 1 and not proof and leaf_hash == root_))  # the one-leaf tree's root is its leaf
    assert not verify_inclusion_hash(leaf_hash, index, size, proof, root_, "sha256")
