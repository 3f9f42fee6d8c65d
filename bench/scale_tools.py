"""Helpers of the scale benchmarks (bench/test_scale.py, bench/scale_large.py): private memory
sampled from /proc, a chain's own signature records, and the signature ceiling over them.

Specification: none (measurement code). Memory is the kernel's RssAnon (private, what the process
really holds) and RssFile (file pages mapped, e.g. LMDB's map: page cache the kernel reclaims),
from /proc/PID/status (proc(5)); the kernel keeps no peak of either, so a thread samples them.
"""
from __future__ import annotations

import threading
import time
from pathlib import Path

from ledger import crypto
from ledger.chainfile import ChainReader
from ledger.codec import decode_block_for_validation, decode_genesis
from ledger.pipeline import SIGNATURES_PER_BATCH

SIGNATURE_RECORD_SIZE = 128
CEILING_SIGNATURES_MAX = 200_000      # a sample of the chain's records is enough for a rate


def memory_kib(pid: int | str = "self") -> dict[str, int]:
    """RssAnon and RssFile (KiB) of a process, from /proc/PID/status."""
    values = {}
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                name, _, rest = line.partition(":")
                if name in ("RssAnon", "RssFile", "VmHWM"):
                    values[name] = int(rest.split()[0])
    except (FileNotFoundError, ProcessLookupError):
        pass
    return values


class PeakMemory:
    """Samples a process's RssAnon and RssFile every `interval_s` in a thread; keeps the peaks."""

    def __init__(self, pid: int | str = "self", interval_s: float = 0.05):
        self.pid = pid
        self.interval_s = interval_s
        self.peak_anon_kib = 0
        self.peak_file_kib = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bench-memory", daemon=True)

    def _run(self) -> None:
        while True:
            self.sample()
            if self._stop.wait(self.interval_s):
                return

    def sample(self) -> None:
        values = memory_kib(self.pid)
        self.peak_anon_kib = max(self.peak_anon_kib, values.get("RssAnon", 0))
        self.peak_file_kib = max(self.peak_file_kib, values.get("RssFile", 0))

    def __enter__(self) -> "PeakMemory":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.sample()

    def line(self) -> str:
        return f"peak RssAnon {self.peak_anon_kib / 1024:,.0f} MB, peak RssFile {self.peak_file_kib / 1024:,.0f} MB"


def chain_records(path: Path, signatures_max: int = CEILING_SIGNATURES_MAX) -> tuple[bytes, int, int]:
    """The 128-byte signature records (header and transactions) of the first blocks of a chain
    file, up to about `signatures_max`; with the blocks and transactions they came from."""
    parts, count, blocks, transactions = [], 0, 0, 0
    with open(path, "rb") as stream:
        reader = ChainReader(stream)
        version = decode_genesis(reader.genesis).version
        for _height, data in reader.blocks():
            block, records, _root = decode_block_for_validation(data, version)
            parts.append(records)
            count += len(records) // SIGNATURE_RECORD_SIZE
            blocks += 1
            transactions += len(block.transactions)
            if count >= signatures_max:
                break
    return b"".join(parts), blocks, transactions


def ceiling_seconds(records: bytes, threads: int | None = None, batch: int = SIGNATURES_PER_BATCH,
                    verify=None) -> float:
    """Seconds to verify every record in batches of the import pipeline's size, on every core."""
    verify = verify or crypto.verify_records
    step = batch * SIGNATURE_RECORD_SIZE
    started = time.perf_counter()
    for offset in range(0, len(records), step):
        verdicts = verify(records[offset:offset + step], SIGNATURE_RECORD_SIZE, threads)
        if not all(verdicts):
            raise AssertionError("the benchmark chain holds a bad signature")
    return time.perf_counter() - started


def ceiling_tx_per_s(records: bytes, blocks: int, transactions: int, threads: int | None = None) -> float:
    """The signature ceiling in transactions per second: every transaction costs its signature
    and its share of its block's header signature."""
    signatures = len(records) // SIGNATURE_RECORD_SIZE
    per_signature_s = ceiling_seconds(records, threads) / signatures
    return transactions / ((transactions + blocks) * per_signature_s)


def coalesce_verifier(enabled: bool):
    """verify_records with the batch verifier's coalescing of terms by public key (issue 8 item 5)
    on or off, as a context manager yielding the function; None where this build has no switch
    (neither a `coalesce` argument of verify_records nor a module-level switch)."""
    import contextlib
    import inspect

    from ledger import _core
    if "coalesce" in inspect.signature(crypto.verify_records).parameters:
        return contextlib.nullcontext(
            lambda records, size, threads: crypto.verify_records(records, size, threads, coalesce=enabled))
    for owner, name in ((crypto, "coalesce"), (crypto, "set_coalesce"), (_core, "ed25519_coalesce")):
        switch = getattr(owner, name, None)
        if callable(switch):
            return _switched(switch, enabled)
    return None


def _switched(switch, enabled: bool):
    import contextlib

    @contextlib.contextmanager
    def scope():
        try:
            previous = switch()
        except TypeError:
            previous = True
        switch(enabled)
        try:
            yield crypto.verify_records
        finally:
            switch(bool(previous))
    return scope()
