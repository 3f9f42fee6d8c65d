"""The native Merkle root by every path — portable or AVX2 eight-way compression, one thread or
several, leaves as a buffer or as a list — equals the Python twin (ledger.merkle._root_python)."""
from __future__ import annotations

import pytest

from ledger import _core, hashing, merkle

SIZES = [1, 2, 3, 7, 8, 9, 15, 16, 17, 31, 33, 63, 64, 65, 100, 255, 256, 257, 1000, 4097,
         32767, 32768, 32769, 65536, 65537, 100_003]
LEAF = hashing.KEY_MERKLE_LEAF
NODE = hashing.KEY_MERKLE_NODE


@pytest.fixture(scope="module")
def leaves():
    return [hashing.transaction_id(i.to_bytes(8, "little")) for i in range(max(SIZES))]


@pytest.fixture(params=[False, True], ids=["portable", "avx2"])
def simd(request):
    if request.param and not _core.blake3_simd_available():
        pytest.skip("this CPU has no AVX2")
    before = _core.blake3_simd(-1)
    _core.blake3_simd(1 if request.param else 0)
    assert _core.blake3_simd(-1) == request.param
    yield request.param
    _core.blake3_simd(1 if before else 0)


@pytest.mark.parametrize("threads", [1, 2, 5])
def test_every_path_equals_the_twin(leaves, simd, threads):
    for size in SIZES:
        expected = merkle._root_python(leaves[:size], merkle.BLAKE3)
        assert _core.merkle_root_blake3(LEAF, NODE, leaves[:size], 32, threads) == expected, size
        assert _core.merkle_root_blake3(LEAF, NODE, b"".join(leaves[:size]), 32, threads) == expected, size


@pytest.mark.parametrize("leaf_size", [4, 12, 60, 64, 65, 100])
def test_other_leaf_sizes(simd, leaf_size):
    data = bytes(range(256)) * 200
    for count in (1, 16, 17, 40, 100):
        raw = [data[i * leaf_size:(i + 1) * leaf_size] for i in range(count)]
        assert _core.merkle_root_blake3(LEAF, NODE, raw, leaf_size, 2) == merkle._root_python(raw, merkle.BLAKE3)


def test_list_of_mixed_sizes_falls_back_to_the_general_path():
    raw = [b"a" * 32, b"b" * 31, b"c" * 32]
    with pytest.raises(ValueError):
        _core.merkle_root_blake3(LEAF, NODE, raw, 32)
    assert merkle.root(raw) == merkle._root_python(raw, merkle.BLAKE3)
