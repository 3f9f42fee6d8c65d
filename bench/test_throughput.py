"""Throughput of the hot path, each figure beside its baseline in the same run (see conftest.py for
the printed ratios and the plot). Run with `make bench` (pytest bench --benchmark-autosave)."""
from __future__ import annotations

import os

import pytest

from ledger import benchmark as workloads

THREADS = sorted({1, 2, os.cpu_count() or 1})
BATCH_SIZES = [1, 16, 64, 256, 1024, 4096]
MERKLE_LEAVES = 1_000_000


@pytest.fixture(scope="session")
def chain():
    fixture = workloads.Fixture.make(blocks=20, txs_per_block=1000)
    yield fixture
    fixture.close()


@pytest.fixture(scope="session")
def leaves():
    return workloads.merkle_leaves(MERKLE_LEAVES)


def measure(benchmark, group: str, work, rounds: int = 3) -> None:
    benchmark.group = group
    benchmark.extra_info["items"] = work.items
    benchmark.pedantic(work, rounds=rounds, iterations=1, warmup_rounds=0)


def test_baseline_pynacl_verify(benchmark, chain):
    measure(benchmark, "verify", workloads.baseline_verify_workload(chain))


@pytest.mark.parametrize("threads", THREADS)
@pytest.mark.parametrize("size", BATCH_SIZES)
def test_verify_batch(benchmark, chain, size, threads):
    benchmark.extra_info.update(size=size, threads=threads)
    measure(benchmark, "verify", workloads.verify_batch_workload(chain, size, threads))


def test_baseline_blake3_txids(benchmark, chain):
    measure(benchmark, "txids", workloads.baseline_txids_workload(chain))


def test_native_txids(benchmark, chain):
    measure(benchmark, "txids", workloads.txids_workload(chain))


def test_baseline_blake3_merkle(benchmark, leaves):
    measure(benchmark, "merkle", workloads.baseline_merkle_workload(leaves), rounds=1)


def test_native_merkle(benchmark, leaves):
    measure(benchmark, "merkle", workloads.merkle_workload(leaves))


@pytest.mark.parametrize("threads", THREADS)
def test_import(benchmark, chain, threads):
    benchmark.extra_info["threads"] = threads
    measure(benchmark, "import", workloads.import_workload(chain, threads))


@pytest.mark.parametrize("threads", THREADS)
def test_validate(benchmark, chain, threads):
    benchmark.extra_info["threads"] = threads
    measure(benchmark, "validate", workloads.validate_workload(chain, threads))
