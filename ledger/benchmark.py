"""Throughput measurements, each against a baseline measured in the same run (machines are shared
and noisy, so only ratios taken side by side mean anything). Used by `ledger bench` and bench/.

Specification: none (measurement code; the formats measured are those of docs/FORMAT.md).

Workloads (each a zero-argument callable made by a `*_workload` function, so pytest-benchmark and
`ledger bench` time exactly the same code):
  baseline_verify     one thread, PyNaCl (libsodium) verifying signatures one by one
  baseline_blake3     a Python loop over the blake3 package (transaction ids; a Merkle tree)
  txids               our native keyed BLAKE3 over many transactions (ledger.hashing.transaction_ids)
  merkle              our native Merkle root of N leaves
  verify_batch        our ZIP-215 batch verifier at a batch size and thread count
  import / validate   the whole pipeline: chain file -> LMDB (durable commits), and re-validation
"""
from __future__ import annotations

import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import blake3 as blake3_package
from nacl.bindings import crypto_sign_open

from ledger import crypto, hashing, merkle
from ledger.api import Ledger
from ledger.chainfile import ChainReader
from ledger.codec import decode_block, decode_genesis, encode_unsigned_transaction
from ledger.workload import generate_chain_file


def best_seconds(work: Callable[[], object], repeat: int = 3) -> float:
    """The fastest of `repeat` runs (the least disturbed by other load)."""
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return min(times)


@dataclass
class Fixture:
    """A generated chain and what the workloads need from it."""
    folder: Path
    chain: Path
    transactions: int
    unsigned: list[bytes]
    records: bytes              # 128-byte signature records of every transaction
    genesis: bytes

    @classmethod
    def make(cls, blocks: int, txs_per_block: int, seed: int = 1, folder: Path | None = None) -> "Fixture":
        folder = Path(folder or tempfile.mkdtemp(prefix="ledger-bench-"))
        chain = folder / "chain.ledger"
        generate_chain_file(chain, blocks, txs_per_block, account_count=max(2, txs_per_block), seed=seed)
        unsigned, parts = [], []
        with open(chain, "rb") as stream:
            reader = ChainReader(stream)
            genesis = reader.genesis
            version = decode_genesis(genesis).version
            for _height, data in reader.blocks():
                for tx in decode_block(data, version).transactions:
                    unsigned.append(encode_unsigned_transaction(tx.chain_id, tx.sender, tx.nonce, tx.body))
                    parts += (tx.sender, tx.signature, tx.txid)
        return cls(folder, chain, len(unsigned), unsigned, b"".join(parts), genesis)

    def signature_triples(self, count: int) -> list[tuple[bytes, bytes, bytes]]:
        out = []
        for i in range(min(count, len(self.records) // 128)):
            record = self.records[128 * i:128 * (i + 1)]
            out.append((record[:32], record[96:], record[32:96]))   # key, message, signature
        return out

    def close(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


# ---------------------------------------------------------------- workloads

def baseline_verify_workload(fixture: Fixture, count: int = 2000) -> Callable[[], None]:
    triples = fixture.signature_triples(count)

    def run() -> None:
        for key, message, signature in triples:
            crypto_sign_open(signature + message, key)
    run.items = len(triples)
    return run


def verify_batch_workload(fixture: Fixture, batch_size: int, threads: int, total: int = 4096) -> Callable[[], None]:
    count = max(batch_size, total // batch_size * batch_size)
    pool = fixture.records
    buffer = (pool * (128 * count // len(pool) + 1))[:128 * count]   # repeat signatures to fill big batches
    batches = [buffer[i:i + 128 * batch_size] for i in range(0, len(buffer), 128 * batch_size)]

    def run() -> None:
        for batch in batches:
            assert all(crypto.verify_records(batch, 128, threads))
    run.items = count
    return run


def baseline_txids_workload(fixture: Fixture) -> Callable[[], None]:
    key = hashing.KEY_TRANSACTION
    items = fixture.unsigned

    def run() -> None:
        for data in items:
            blake3_package.blake3(data, key=key).digest()
    run.items = len(items)
    return run


def txids_workload(fixture: Fixture) -> Callable[[], None]:
    items = fixture.unsigned

    def run() -> None:
        hashing.transaction_ids(items)
    run.items = len(items)
    return run


def merkle_leaves(count: int) -> list[bytes]:
    return [i.to_bytes(32, "little") for i in range(count)]


def baseline_merkle_workload(leaves: list[bytes]) -> Callable[[], bytes]:
    """RFC 9162 tree with the same domain-separated keys, hashed by a Python loop over blake3."""
    leaf_key, node_key = hashing.KEY_MERKLE_LEAF, hashing.KEY_MERKLE_NODE

    def run() -> bytes:
        level = [blake3_package.blake3(leaf, key=leaf_key).digest() for leaf in leaves]
        while len(level) > 1:
            paired = [blake3_package.blake3(level[i] + level[i + 1], key=node_key).digest()
                      for i in range(0, len(level) - 1, 2)]
            if len(level) % 2:
                paired.append(level[-1])   # an odd node moves up unchanged: the RFC 9162 shape
            level = paired
        return level[0]
    run.items = len(leaves)
    return run


def merkle_workload(leaves: list[bytes]) -> Callable[[], bytes]:
    def run() -> bytes:
        return merkle.root(leaves)
    run.items = len(leaves)
    return run


def import_workload(fixture: Fixture, threads: int | None) -> Callable[[], None]:
    counter = iter(range(1 << 30))

    def run() -> None:
        path = fixture.folder / f"db-import-{next(counter)}"
        with Ledger.create(path, fixture.genesis) as book:
            book.import_chain(fixture.chain, threads=threads)
        shutil.rmtree(path)
    run.items = fixture.transactions
    return run


def validate_workload(fixture: Fixture, threads: int | None) -> Callable[[], None]:
    path = fixture.folder / "db-validate"
    if not path.exists():
        with Ledger.create(path, fixture.genesis) as book:
            book.import_chain(fixture.chain)

    def run() -> None:
        with Ledger.open(path) as book:
            book.validate(threads=threads)
    run.items = fixture.transactions
    return run


# ---------------------------------------------------------------- the whole report

@dataclass
class Report:
    rates: dict[str, float] = field(default_factory=dict)       # items per second
    ratios: dict[str, float] = field(default_factory=dict)
    threads_curve: dict[int, float] = field(default_factory=dict)   # import tx/s by threads
    batch_curve: dict[int, dict[int, float]] = field(default_factory=dict)   # threads -> size -> sig/s

    def lines(self) -> list[str]:
        out = ["rates (items/s, best of runs):"]
        out += [f"  {name:34} {rate:14,.0f}" for name, rate in self.rates.items()]
        out.append("ratios (measured in this run):")
        out += [f"  {name:34} {ratio:10.2f}x" for name, ratio in self.ratios.items()]
        return out


def run(blocks: int = 20, txs_per_block: int = 1000, merkle_count: int = 1_000_000, repeat: int = 3,
        threads: tuple[int, ...] | None = None, batch_sizes: tuple[int, ...] = (1, 16, 64, 256, 1024, 4096),
        log: Callable[[str], None] = print) -> Report:
    """Measure everything once, baselines side by side, and return rates and ratios."""
    cores = os.cpu_count() or 1
    threads = threads or tuple(sorted({1, 2, cores} - {0}))
    report = Report()
    log(f"generating a chain of {blocks} blocks x {txs_per_block} transactions ...")
    fixture = Fixture.make(blocks, txs_per_block)
    try:
        def rate(name: str, work) -> float:
            value = work.items / best_seconds(work, repeat)
            report.rates[name] = value
            log(f"  {name:34} {value:14,.0f} /s")
            return value

        base_verify = rate("baseline: PyNaCl verify, 1 thread", baseline_verify_workload(fixture))
        for count in threads:
            for size in batch_sizes:
                value = rate(f"verify batch {size}, {count} threads", verify_batch_workload(fixture, size, count))
                report.batch_curve.setdefault(count, {})[size] = value
        base_txids = rate("baseline: blake3 package txids loop", baseline_txids_workload(fixture))
        native_txids = rate("native txids", txids_workload(fixture))
        leaves = merkle_leaves(merkle_count)
        base_merkle = rate(f"baseline: blake3 loop Merkle {merkle_count:,}", baseline_merkle_workload(leaves))
        native_merkle = rate(f"native Merkle root {merkle_count:,}", merkle_workload(leaves))
        for count in threads:
            report.threads_curve[count] = rate(f"import tx/s, {count} threads", import_workload(fixture, count))
        validate_rate = rate(f"validate tx/s, {max(threads)} threads", validate_workload(fixture, max(threads)))

        one = report.batch_curve[1]
        report.ratios["best batch, 1 thread / PyNaCl"] = max(one.values()) / base_verify
        report.ratios[f"import {max(threads)} threads / PyNaCl loop"] = report.threads_curve[max(threads)] / base_verify
        report.ratios[f"validate {max(threads)} threads / PyNaCl loop"] = validate_rate / base_verify
        if 2 in report.threads_curve:
            report.ratios["import 2 threads / 1 thread"] = report.threads_curve[2] / report.threads_curve[1]
            best2 = max(report.batch_curve[2].values())
            report.ratios["verify 2 threads / 1 thread (best)"] = best2 / max(one.values())
        report.ratios["native txids / blake3 loop"] = native_txids / base_txids
        report.ratios["native Merkle / blake3 loop"] = native_merkle / base_merkle
    finally:
        fixture.close()
    return report


def plot(report: Report, path: str | os.PathLike) -> None:
    """A PNG: import throughput against threads, and verification throughput against batch size."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    counts = sorted(report.threads_curve)
    left.plot(counts, [report.threads_curve[c] for c in counts], marker="o")
    left.set(title="import (durable commits)", xlabel="threads", ylabel="transactions / s", xticks=counts)
    left.grid(alpha=0.3)
    for count, curve in sorted(report.batch_curve.items()):
        sizes = sorted(curve)
        right.plot(sizes, [curve[s] for s in sizes], marker="o", label=f"{count} threads")
    base = report.rates.get("baseline: PyNaCl verify, 1 thread")
    if base:
        right.axhline(base, color="gray", linestyle="--", label="PyNaCl, 1 thread")
    right.set(title="ZIP-215 batch verification", xlabel="batch size", ylabel="signatures / s", xscale="log")
    right.legend()
    right.grid(alpha=0.3)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
