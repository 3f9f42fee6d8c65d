"""Import at 100,000 and 1,000,000 transactions next to the signature ceiling of the same cores in
the same run (verify_records over that chain's own signature records, every thread); validation of
the stored chain; `--assume-valid` import against the verified import of the same chain; batch
verification of a chain with 1,000 senders with and without coalescing by key. conftest.py prints
each as a ratio with the goal of issue 8 it answers, met or not met.

LEDGER_BENCH_SCALE=100000 (comma-separated sizes) runs a smaller set.
"""
from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest
from scale_tools import chain_records, ceiling_seconds, coalesce_verifier

from ledger import Ledger
from ledger.chainfile import ChainReader
from ledger.codec import decode_block, decode_genesis
from ledger.workload import generate_chain_file

TXS_PER_BLOCK = 1000
SENDERS = 1000            # accounts of the generated chains: about 1,000 distinct signers
SIZES = [int(size) for size in os.environ.get("LEDGER_BENCH_SCALE", "100000,1000000").split(",")]


class ScaleChain:
    def __init__(self, folder: Path, transactions: int):
        self.folder = folder
        self.transactions = transactions
        self.path = folder / f"chain-{transactions}.ledger"
        generate_chain_file(self.path, transactions // TXS_PER_BLOCK, TXS_PER_BLOCK, SENDERS, seed=8)
        with open(self.path, "rb") as stream:
            reader = ChainReader(stream)
            self.genesis = reader.genesis
            last = None
            for _height, data in reader.blocks():
                last = data
        self.tip_hash = decode_block(last, decode_genesis(self.genesis).version).hash
        self.records, self.sample_blocks, self.sample_transactions = chain_records(self.path)
        self.store: Path | None = None

    def fresh_store(self, name: str) -> Path:
        path = self.folder / f"{name}-{self.transactions}"
        shutil.rmtree(path, ignore_errors=True)
        return path

    def stored(self) -> Path:
        """A store holding the chain (the verified import's, or a new one)."""
        if self.store is None:
            self.store = self.fresh_store("stored")
            with Ledger.create(self.store, self.genesis) as book:
                book.import_chain(self.path)
        return self.store


@pytest.fixture(scope="session")
def scale_folder():
    folder = Path(tempfile.mkdtemp(prefix="ledger-bench-scale-"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


_chains: dict[int, ScaleChain] = {}


@pytest.fixture(params=SIZES, ids=lambda size: f"{size // 1000}k")
def chain(request, scale_folder) -> ScaleChain:
    size = request.param
    if size not in _chains:
        _chains[size] = ScaleChain(scale_folder, size)
    return _chains[size]


def _record(benchmark, group: str, chain: ScaleChain, items: int) -> None:
    benchmark.group = group
    benchmark.extra_info.update(items=items, transactions=chain.transactions)


def test_scale_ceiling(benchmark, chain):
    """verify_records over the chain's own records in import-sized batches, every thread."""
    _record(benchmark, "scale", chain, chain.sample_transactions)
    benchmark.pedantic(ceiling_seconds, args=(chain.records,), rounds=3, iterations=1)


def test_scale_import(benchmark, chain):
    _record(benchmark, "scale", chain, chain.transactions)
    path = chain.fresh_store("import")

    def setup():
        shutil.rmtree(path, ignore_errors=True)
        return (), {}

    def run():
        with Ledger.create(path, chain.genesis) as book:
            assert book.import_chain(chain.path).imported_transactions == chain.transactions

    benchmark.pedantic(run, setup=setup, rounds=1, iterations=1)
    chain.store = path


def test_scale_import_assume_valid(benchmark, chain):
    _record(benchmark, "scale", chain, chain.transactions)
    path = chain.fresh_store("assumed")

    def setup():
        shutil.rmtree(path, ignore_errors=True)
        return (), {}

    def run():
        with Ledger.create(path, chain.genesis) as book:
            result = book.import_chain(chain.path, assume_valid=chain.tip_hash)
            assert result.assumed_valid_height == chain.transactions // TXS_PER_BLOCK

    benchmark.pedantic(run, setup=setup, rounds=1, iterations=1)
    shutil.rmtree(path, ignore_errors=True)


def test_scale_validate(benchmark, chain):
    store = chain.stored()
    _record(benchmark, "scale", chain, chain.transactions)

    def run():
        with Ledger.open(store, read_only=True) as book:
            assert book.validate().transactions == chain.transactions

    benchmark.pedantic(run, rounds=1, iterations=1)


@pytest.mark.parametrize("coalesce", [True, False], ids=["coalesced", "uncoalesced"])
def test_scale_verify_coalesce(benchmark, scale_folder, coalesce):
    """One batch per import-sized slice of a chain with 1,000 senders, with and without the
    batch verifier's coalescing of terms by public key."""
    verifier = coalesce_verifier(coalesce)
    if verifier is None:
        pytest.skip("this build's batch verifier has no coalesce switch (issue 8 item 5 not merged)")
    size = min(SIZES)
    if size not in _chains:
        _chains[size] = ScaleChain(scale_folder, size)
    chain = _chains[size]
    _record(benchmark, "coalesce", chain, len(chain.records) // 128)
    benchmark.extra_info["coalesce"] = coalesce
    with verifier as verify:
        benchmark.pedantic(ceiling_seconds, args=(chain.records,), kwargs={"verify": verify}, rounds=3, iterations=1)
