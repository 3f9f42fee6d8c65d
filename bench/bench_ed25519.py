"""pytest-benchmark timings of Ed25519 verification: PyNaCl's single verify (the baseline), ours
single (key cache cold and warm), and our batches of 1..4096 on one and two threads.

    .venv/bin/python -m pytest bench/bench_ed25519.py --benchmark-group-by=group

Ratios against PyNaCl measured in one run are printed by bench/verify_ratios.py; here the
``extra_info`` of each batch row holds its time per signature.
"""
from __future__ import annotations

import os

import pytest
from nacl.signing import SigningKey, VerifyKey

from ledger import _core, crypto

SIZES = [1, 16, 64, 256, 1024, 4096]
GROUP = 32  # signatures per round of the single-verify benchmarks


@pytest.fixture(scope="module")
def items():
    pks, msgs, sigs = [], [], []
    for _ in range(max(SIZES)):
        sk = SigningKey(os.urandom(32))
        m = os.urandom(64)
        pks.append(bytes(sk.verify_key))
        msgs.append(m)
        sigs.append(sk.sign(m).signature)
    return pks, msgs, sigs


@pytest.fixture
def key_cache_off():
    _core.ed25519_keycache(False)
    yield
    _core.ed25519_keycache(True)


@pytest.mark.benchmark(group="single")
def test_pynacl_single(benchmark, items):
    pks, msgs, sigs = items
    vks = [VerifyKey(pk) for pk in pks[:GROUP]]

    def run():
        for i in range(GROUP):
            vks[i].verify(msgs[i], sigs[i])

    benchmark(run)
    benchmark.extra_info["us_per_sig"] = benchmark.stats.stats.min / GROUP * 1e6


@pytest.mark.benchmark(group="single")
def test_ours_single_cold_keys(benchmark, items, key_cache_off):
    pks, msgs, sigs = items

    def run():
        for i in range(GROUP):
            assert crypto.verify(pks[i], msgs[i], sigs[i])

    benchmark(run)
    benchmark.extra_info["us_per_sig"] = benchmark.stats.stats.min / GROUP * 1e6


@pytest.mark.benchmark(group="single")
def test_ours_single_repeat_keys(benchmark, items):
    pks, msgs, sigs = items
    _core.ed25519_keycache(True)

    def run():
        for i in range(GROUP):
            assert crypto.verify(pks[i], msgs[i], sigs[i])

    benchmark(run)
    benchmark.extra_info["us_per_sig"] = benchmark.stats.stats.min / GROUP * 1e6


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("n", SIZES)
def test_ours_batch(benchmark, items, key_cache_off, n, threads):
    benchmark.group = f"batch {n}"
    pks, msgs, sigs = (x[:n] for x in items)
    result = benchmark(crypto.verify_batch, pks, msgs, sigs, threads)
    assert all(result)
    benchmark.extra_info["us_per_sig"] = benchmark.stats.stats.min / n * 1e6


@pytest.mark.parametrize("n", [1024])
def test_ours_records_buffer(benchmark, items, key_cache_off, n):
    benchmark.group = f"batch {n}"
    buf, size = crypto.pack_records(*(x[:n] for x in items))
    result = benchmark(crypto.verify_batch, buf, None, None, 1, record_size=size)
    assert all(result)
    benchmark.extra_info["us_per_sig"] = benchmark.stats.stats.min / n * 1e6
