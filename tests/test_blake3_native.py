"""The native BLAKE3 (ledger._core) against the official test vectors and the blake3 package."""
from __future__ import annotations

import json
import threading
from pathlib import Path

import blake3 as ref
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger import _core

VECTORS = json.loads(Path("/work/shared/vectors/blake3_test_vectors.json").read_text())
VKEY = VECTORS["key"].encode()
VCONTEXT = VECTORS["context_string"]


def pattern(n: int) -> bytes:
    return bytes(i % 251 for i in range(n))


@pytest.mark.parametrize("case", VECTORS["cases"], ids=lambda c: str(c["input_len"]))
def test_vectors(case):
    data = pattern(case["input_len"])
    for mode, fn in (
        ("hash", lambda n: _core.blake3(data, n)),
        ("keyed_hash", lambda n: _core.blake3_keyed(VKEY, data, n)),
        ("derive_key", lambda n: _core.blake3_derive_key(VCONTEXT, data, n)),
    ):
        expected = bytes.fromhex(case[mode])
        assert len(expected) == 131
        assert fn(len(expected)) == expected, mode
        assert fn(32) == expected[:32], mode
        assert fn(0) == b""


@pytest.mark.parametrize("case", VECTORS["cases"], ids=lambda c: str(c["input_len"]))
def test_vectors_hasher(case):
    data = pattern(case["input_len"])
    for key, mode in ((None, "hash"), (VKEY, "keyed_hash")):
        h = _core.Blake3Hasher(key)
        for i in range(0, len(data), 97):  # an odd stride crosses every block and chunk edge
            h.update(data[i : i + 97])
        expected = bytes.fromhex(case[mode])
        assert h.digest(131) == expected
        assert h.digest() == expected[:32]


def test_buffer_types():
    data = pattern(3000)
    want = ref.blake3(data).digest()
    for obj in (data, bytearray(data), memoryview(data), memoryview(bytearray(data))):
        assert _core.blake3(obj) == want
    key = bytes(range(32))
    want = ref.blake3(data, key=key).digest()
    for k in (key, bytearray(key), memoryview(key)):
        assert _core.blake3_keyed(k, memoryview(data)) == want
    assert _core.blake3_derive_key("ctx", bytearray(b"m")) == ref.blake3(b"m", derive_key_context="ctx").digest()


def test_rejects_bad_arguments():
    for bad_key in (b"", b"x" * 31, b"x" * 33):
        with pytest.raises(ValueError):
            _core.blake3_keyed(bad_key, b"data")
        with pytest.raises(ValueError):
            _core.blake3_keyed_many(bad_key, [b"a"])
        with pytest.raises(ValueError):
            _core.merkle_root_blake3(bad_key, bytes(32), b"", 1)
        with pytest.raises(ValueError):
            _core.merkle_root_blake3(bytes(32), bad_key, b"", 1)
        with pytest.raises(ValueError):
            _core.Blake3Hasher(bad_key)
    with pytest.raises(ValueError):
        _core.blake3(b"", -1)
    with pytest.raises(TypeError):
        _core.blake3("text")
    with pytest.raises(TypeError):
        _core.blake3_derive_key(b"context", b"")
    with pytest.raises(ValueError):
        _core.merkle_root_blake3(bytes(32), bytes(32), b"abc", 2)
    with pytest.raises(ValueError):
        _core.merkle_root_blake3(bytes(32), bytes(32), b"", 0)


def test_derive_key_non_ascii_context():
    ctx = "ledger ✓ context"
    assert _core.blake3_derive_key(ctx, b"k", 50) == ref.blake3(b"k", derive_key_context=ctx).digest(50)


@pytest.mark.parametrize("n", [0, 1, 63, 64, 65, 1023, 1024, 1025, 2048, 2049, 3072, 4096 * 8 + 1, (1 << 20) + 7])
def test_boundary_sizes(n):
    data = pattern(n)
    key = bytes(range(100, 132))
    assert _core.blake3(data, 200) == ref.blake3(data).digest(200)
    assert _core.blake3_keyed(key, data) == ref.blake3(data, key=key).digest()
    h = _core.Blake3Hasher()
    h.update(data[: n // 3])
    h.update(data[n // 3 :])
    assert h.digest(65) == ref.blake3(data).digest(65)


@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=10000), out_len=st.integers(0, 2000))
def test_hash_matches_package(data, out_len):
    assert _core.blake3(data, out_len) == ref.blake3(data).digest(out_len)


@settings(max_examples=300, deadline=None)
@given(key=st.binary(min_size=32, max_size=32), data=st.binary(max_size=10000), out_len=st.integers(0, 2000))
def test_keyed_matches_package(key, data, out_len):
    assert _core.blake3_keyed(key, data, out_len) == ref.blake3(data, key=key).digest(out_len)


@settings(max_examples=200, deadline=None)
@given(context=st.text(max_size=200), data=st.binary(max_size=10000), out_len=st.integers(0, 300))
def test_derive_key_matches_package(context, data, out_len):
    assert _core.blake3_derive_key(context, data, out_len) == ref.blake3(
        data, derive_key_context=context
    ).digest(out_len)


@settings(max_examples=300, deadline=None)
@given(
    data=st.binary(max_size=10000),
    cuts=st.lists(st.integers(0, 10000), max_size=12),
    key=st.none() | st.binary(min_size=32, max_size=32),
    out_len=st.integers(0, 500),
)
def test_incremental_matches_package(data, cuts, key, out_len):
    h = _core.Blake3Hasher(key)
    r = ref.blake3(key=key) if key is not None else ref.blake3()
    points = sorted({min(c, len(data)) for c in cuts} | {0, len(data)})
    for a, b in zip(points, points[1:]):
        h.update(data[a:b])
        r.update(data[a:b])
        # digest must not consume the state: interleaving it with updates changes nothing
        assert h.digest() == r.digest()
    h.update(b"")
    assert h.digest(out_len) == r.digest(out_len)
    assert h.digest(out_len) == r.digest(out_len)


@settings(max_examples=100, deadline=None)
@given(key=st.binary(min_size=32, max_size=32), items=st.lists(st.binary(max_size=3000), max_size=40))
def test_keyed_many_matches_loop(key, items):
    got = _core.blake3_keyed_many(key, items)
    assert got == b"".join(_core.blake3_keyed(key, x) for x in items)
    assert got == b"".join(ref.blake3(x, key=key).digest() for x in items)
    assert _core.blake3_keyed_many(key, tuple(bytearray(x) for x in items)) == got


def test_keyed_many_large_batch_releases_gil():
    key = bytes(range(32))
    items = [pattern(i % 300) for i in range(5000)]
    expected = b"".join(ref.blake3(x, key=key).digest() for x in items)
    results = []
    threads = [threading.Thread(target=lambda: results.append(_core.blake3_keyed_many(key, items))) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [expected] * 4


def test_hasher_shared_between_threads():
    h = _core.Blake3Hasher()
    piece = pattern(50000)
    threads = [threading.Thread(target=lambda: [h.update(piece) for _ in range(20)]) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert h.digest() == ref.blake3(piece * 80).digest()


# --- Merkle ---------------------------------------------------------------------------------

LEAF_KEY = ref.blake3(b"", derive_key_context="test merkle leaf").digest()
NODE_KEY = ref.blake3(b"", derive_key_context="test merkle node").digest()


def twin_root(leaves: list[bytes]) -> bytes:
    """RFC 9162 MTH, written as in the RFC, with the blake3 package."""
    n = len(leaves)
    if n == 0:
        return ref.blake3(b"", key=NODE_KEY).digest()
    if n == 1:
        return ref.blake3(leaves[0], key=LEAF_KEY).digest()
    k = 1
    while k * 2 < n:
        k *= 2
    return ref.blake3(twin_root(leaves[:k]) + twin_root(leaves[k:]), key=NODE_KEY).digest()


def leaves_of(count: int, size: int) -> list[bytes]:
    return [bytes((i * 7 + j * 13 + i // 256) % 256 for j in range(size)) for i in range(count)]


@pytest.mark.parametrize("size", [1, 32, 64, 65, 200, 1500])
def test_merkle_small_trees(size):
    for count in range(0, 71):
        leaves = leaves_of(count, size)
        assert _core.merkle_root_blake3(LEAF_KEY, NODE_KEY, b"".join(leaves), size) == twin_root(leaves), count


@pytest.mark.parametrize("count", [127, 128, 129, 1000, 1023, 1024, 1025, 4097])
def test_merkle_big_trees(count):
    leaves = leaves_of(count, 32)
    joined = b"".join(leaves)
    assert _core.merkle_root_blake3(LEAF_KEY, NODE_KEY, joined, 32) == twin_root(leaves)
    assert _core.merkle_root_blake3(LEAF_KEY, NODE_KEY, bytearray(joined), 32) == twin_root(leaves)
    assert _core.merkle_root_blake3(LEAF_KEY, NODE_KEY, memoryview(joined), 32) == twin_root(leaves)


def test_merkle_keys_are_distinct_roles():
    # Swapping the two keys must change the root: leaf and node hashes are domain-separated.
    leaves = b"".join(leaves_of(5, 32))
    assert _core.merkle_root_blake3(LEAF_KEY, NODE_KEY, leaves, 32) != _core.merkle_root_blake3(
        NODE_KEY, LEAF_KEY, leaves, 32
    )


@settings(max_examples=60, deadline=None)
@given(count=st.integers(0, 300), size=st.integers(1, 100), seed=st.binary(min_size=1, max_size=8))
def test_merkle_random(count, size, seed):
    blob = ref.blake3(seed).digest(count * size)
    leaves = [blob[i * size : (i + 1) * size] for i in range(count)]
    assert _core.merkle_root_blake3(LEAF_KEY, NODE_KEY, blob, size) == twin_root(leaves)


@pytest.mark.parametrize("piece", [1, 63, 64, 65, 1000, 1023, 1024, 1025, 4097])
def test_incremental_many_chunk_counts(piece):
    """Every chunk count 1..40 (every pattern of waiting subtrees up to 2^5), fed in equal pieces
    that fall on and off block and chunk boundaries."""
    data = pattern(40 * 1024 + 17)
    key = bytes(range(7, 39))
    for chunks in range(1, 41):
        n = chunks * 1024 - (0 if chunks % 3 else 5)
        for h, r in ((_core.Blake3Hasher(), ref.blake3()), (_core.Blake3Hasher(key), ref.blake3(key=key))):
            for a in range(0, n, piece):
                h.update(data[a : min(n, a + piece)])
                r.update(data[a : min(n, a + piece)])
            assert h.digest(100) == r.digest(100), (chunks, piece)
