"""A streaming pipeline for import and validation: read and decode block N+2 while the signatures
of N+1 are verified while N is applied and committed.

Specification: none beyond docs/FORMAT.md.

    source thread:   (height, bytes) -> native decode (ids, hashes, signature records; no GIL)
    verifier thread: gathers the records of several blocks into one batch of about
                     SIGNATURES_PER_BATCH and verifies it on every core (no GIL), a verdict each
    consumer:        the caller's loop, in block order: state rules, then commit

Every stage passes items on in block order, and an error (a malformed block, a truncated file)
travels down the pipeline as an item at its place, so the consumer meets it exactly where a
sequential reader would: the blocks before it are applied and committed, nothing after it is.
Queues are bounded, so memory stays flat however long the chain is.
"""
from __future__ import annotations

import queue
import threading
from dataclasses import dataclass
from typing import Iterable, Iterator

from ledger import signatures
from ledger.codec import SIGNATURE_RECORD_SIZE, Block, decode_block_for_validation
from ledger.errors import LedgerError

SIGNATURES_PER_BATCH = 4096      # the verifier's best batch size is 1024 to 4096 (bench/)
DECODED_BLOCKS_AHEAD_MAX = 8     # blocks decoded but not yet verified (bounds memory)
VERIFIED_BATCHES_AHEAD_MAX = 2   # batches verified but not yet consumed


@dataclass(slots=True)
class Item:
    """One block on its way through the pipeline. `block` and `verdicts` are None for a block
    passed through unverified (already stored, or before the range to verify); `error` is set
    when the block (or the input at this point) could not be decoded."""
    height: int
    data: bytes
    block: Block | None = None
    records: bytes = b""
    tx_root: bytes | None = None     # the Merkle root of the ids, computed while decoding
    verdicts: list[bool] | None = None
    error: BaseException | None = None


_END = object()


class Pipeline:
    """Iterate it to get Items in block order; close it (or use `with`) to stop early."""

    def __init__(self, source: Iterable[tuple[int, bytes]], verify_from: int = 1, threads: int | None = None,
                 signatures_per_batch: int | None = None, assume_valid_through: int = 0, decoder=None, *,
                 version: int | None):
        """`version`: the chain's format version (its genesis version), which every block is decoded
        as (FORMAT.md §8 step 2); None accepts any known version, for callers that know no chain.
        `assume_valid_through`: blocks at heights up to it are decoded and passed on with every
        signature taken as valid, unverified (ledger.assume_valid; the caller checks the hash).
        `decoder`: (bytes, version) -> (block, records, root); by default codec.decode_block_for_validation
        (the native_rules.decode_block_compact keeps blocks compact for the native rules)."""
        self._decoder = decoder or decode_block_for_validation
        self._version = version
        self._verify_from = verify_from
        self._assume_valid_through = assume_valid_through
        self._threads = threads
        self._signatures_per_batch = signatures_per_batch or SIGNATURES_PER_BATCH
        self._decoded: queue.Queue = queue.Queue(DECODED_BLOCKS_AHEAD_MAX)
        self._verified: queue.Queue = queue.Queue(VERIFIED_BATCHES_AHEAD_MAX)
        self._stop = threading.Event()
        self._workers = [threading.Thread(target=self._decode, args=(iter(source),), name="ledger-decode", daemon=True),
                         threading.Thread(target=self._verify, name="ledger-verify", daemon=True)]
        for worker in self._workers:
            worker.start()

    def _put(self, target: queue.Queue, item: object) -> bool:
        """Put unless the consumer has stopped (then give up instead of blocking forever)."""
        while not self._stop.is_set():
            try:
                target.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _get(self, source: queue.Queue) -> object:
        """Get, or _END once the consumer has stopped."""
        while not self._stop.is_set():
            try:
                return source.get(timeout=0.1)
            except queue.Empty:
                continue
        return _END

    def _decode(self, source: Iterator[tuple[int, bytes]]) -> None:
        height = 0
        try:
            for height, data in source:
                if self._stop.is_set():
                    return
                item = Item(height, data)
                if height >= self._verify_from:
                    try:
                        item.block, item.records, item.tx_root = self._decoder(data, self._version)
                    except LedgerError as error:
                        item.error = error.at(height)
                    else:
                        if height <= self._assume_valid_through:
                            item.verdicts = [True] * (len(item.records) // SIGNATURE_RECORD_SIZE)
                            item.records = b""
                if not self._put(self._decoded, item) or item.error is not None:
                    return
        except BaseException as error:   # the source failed (e.g. a truncated file): pass it on, in order
            self._put(self._decoded, Item(height + 1, b"", error=error))
        finally:
            self._put(self._decoded, _END)

    def _verify(self) -> None:
        batch: list[Item] = []
        pending = 0
        try:
            while True:
                item = self._get(self._decoded)
                if item is _END:
                    break
                batch.append(item)
                pending += len(item.records) // SIGNATURE_RECORD_SIZE
                if item.error is not None or pending >= self._signatures_per_batch or self._decoded.empty() and pending:
                    self._verify_batch(batch)
                    if not self._put(self._verified, batch):
                        return
                    batch, pending = [], 0
            if batch:
                self._verify_batch(batch)
                self._put(self._verified, batch)
        except BaseException as error:  # pragma: no cover - a bug in verification; surface it
            self._put(self._verified, [Item(0, b"", error=error)])
        finally:
            self._put(self._verified, _END)

    def _verify_batch(self, batch: list[Item]) -> None:
        records = b"".join(item.records for item in batch)
        if not records:
            return
        # Import stops at the first failing block, so only the first bad signature is needed; the
        # blocks after it (verdicts undecided) are left to check_block, should anyone get there.
        verdicts = signatures.verdicts_until_first_bad(records, self._threads)
        start = 0
        for item in batch:
            count = len(item.records) // SIGNATURE_RECORD_SIZE
            if item.block is not None and item.verdicts is None and (count == 0 or verdicts[start] is not None):
                item.verdicts = verdicts[start:start + count]
            item.records = b""   # no longer needed; keep memory flat
            start += count

    def __iter__(self) -> Iterator[Item]:
        while True:
            batch = self._get(self._verified)
            if batch is _END:
                return
            yield from batch

    def close(self) -> None:
        self._stop.set()
        for worker in self._workers:
            worker.join()

    def __enter__(self) -> "Pipeline":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
