"""Cutting blocks from the mempool, by Hyperledger Fabric's rules, and committing them.

Specification: docs/FORMAT.md §6 (blocks); the cutting rules are Fabric's orderer BatchSize
(MaxMessageCount: max_transactions, AbsoluteMaxBytes: max_bytes) and BatchTimeout
(batch_timeout_ms): a block is cut as soon as the ready transactions reach either size limit, or
when the oldest ready transaction has waited batch_timeout, counted from the last cut at the
earliest (Fabric's batch starts empty at a cut).

Where blocks go is a BlockSink, in three steps: `hold()` is the span in which the tip the block
is built on cannot move; `submit(block)` (inside it) hands the block on; `settle(receipt)` (after
it) waits for the outcome: the block as stored, or None when it did not become part of the chain.
LocalSink appends to the node's own Ledger (the same validation path as `ledger import`: every rule
is checked again before anything is written). StreamSink publishes to the replicated block stream,
fenced by the expected last sequence so two proposers cannot both extend one stream position, and
settles when the node's applier (ledger.node.applier) has taken that message, as every node does.
"""
from __future__ import annotations

import logging
import threading
import time
from typing import Callable, ContextManager, Protocol

from ledger import Block, Keypair, Ledger, LedgerError, encode_block
from ledger.node.config import BlockCutting
from ledger.node.mempool import Mempool
from ledger.node.replication import FENCED, REPLICATION_UNAVAILABLE

log = logging.getLogger("ledger.node.proposer")


class BlockSink(Protocol):
    def hold(self) -> ContextManager: ...
    def submit(self, block: Block) -> object: ...
    def settle(self, receipt: object) -> Block | None: ...


class LocalSink:
    """Commit to this node's own store."""

    def __init__(self, ledger: Ledger):
        self.ledger = ledger

    def hold(self) -> ContextManager:
        return self.ledger.writer()

    def submit(self, block: Block) -> Block:
        return self.ledger.append(block)

    def settle(self, receipt: Block) -> Block:
        return receipt


class StreamSink:
    """Publish to the replicated block stream (ledger.node.replication). `publish(data, hash,
    after_sequence) -> sequence`; `applier` is this node's; `settle_s` bounds the wait for it."""

    def __init__(self, ledger: Ledger, applier, publish: Callable[[bytes, bytes, int], int], settle_s: float):
        self.ledger = ledger
        self.applier = applier
        self.publish = publish
        self.settle_s = settle_s

    def hold(self) -> ContextManager:
        # The applier's lock: the tip and the stream position it has reached belong together.
        return self.applier.lock

    def submit(self, block: Block) -> tuple[Block, int]:
        return block, self.publish(encode_block(block), block.hash, self.applier.position)

    def settle(self, receipt: tuple[Block, int]) -> Block | None:
        block, sequence = receipt
        if not self.applier.wait_past(sequence, self.settle_s):
            log.warning("block %d published at stream sequence %d, not yet taken here after %.1f s", block.height,
                        sequence, self.settle_s)
            return None
        stored = self.ledger.block(block.height)
        return stored if stored is not None and stored.hash == block.hash else None


class Proposer:
    """Cuts and commits blocks. `clock` gives seconds on the mempool's clock; `on_commit(block,
    seconds)` is told of every committed block and how long building and committing it took."""

    def __init__(self, ledger: Ledger, mempool: Mempool, keypair: Keypair, cutting: BlockCutting,
                 sink: BlockSink | None = None, clock: Callable[[], float] | None = None,
                 on_commit: Callable[[Block, float], None] | None = None,
                 may_propose: Callable[[], bool] = lambda: True):
        self.ledger = ledger
        self.mempool = mempool
        self.keypair = keypair
        self.cutting = cutting
        self.sink = sink or LocalSink(ledger)
        self.clock = clock or time.monotonic
        self.on_commit = on_commit
        self.may_propose = may_propose   # e.g. holds the proposer lease
        self.dropped: list[tuple[bytes, LedgerError]] = []   # the most recent refusals, for tests and logs
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_cut = float("-inf")   # when step last committed a block (the clock's time)
        self._failing_since: float | None = None   # first of the due blocks that failed in a row

    def due(self, now: float) -> bool:
        """Whether a block is to be cut at time `now` (seconds)."""
        return self._due_batch(now) is not None

    def _due_batch(self, now: float) -> list | None:
        """The batch to cut at `now`, or None when no block is due. One pass over the mempool: the
        ready transactions up to max_transactions whatever their size, of which the batch is the
        prefix within max_bytes (the same merge order, so the same batch `ready` gives)."""
        ready = self.mempool.ready(self.cutting.max_transactions, 2**63)
        batch, size = [], 0
        for entry in ready:
            if batch and size + len(entry.data) > self.cutting.max_bytes:   # one alone always goes
                break
            batch.append(entry)
            size += len(entry.data)
        if not batch:
            return None
        if len(batch) >= self.cutting.max_transactions or len(ready) > len(batch):
            return batch   # full, or more is ready than fits in max_bytes
        # Fabric's BatchTimeout runs from the first transaction of a batch, and a batch starts
        # empty at each cut: a transaction that waited through earlier blocks (behind a nonce gap,
        # say) starts the timer at the last cut, not at its arrival, or each late gap filled would
        # cut a block at once and blocks would shrink as load grows.
        started = max(min(entry.arrived for entry in batch), self._last_cut)
        return batch if now - started >= self.cutting.batch_timeout_ms / 1000 else None

    def step(self, now: float | None = None) -> Block | None:
        """Cut and commit one block if one is due at `now`; the committed block, or None."""
        now = self.clock() if now is None else now
        batch = self._due_batch(now)
        if batch is None:
            self._failing_since = None   # nothing due: nothing failing
            return None
        try:
            block = self.cut(batch)
        except Exception:
            self._failed(now)
            raise
        if block is not None:
            self._last_cut = now
            self._failing_since = None
        else:
            self._failed(now)
        return block

    def _failed(self, now: float) -> None:
        if self._failing_since is None:
            self._failing_since = now

    def healthy(self, for_seconds: float) -> bool:
        """Whether due blocks have not been failing (fenced, unacknowledged, refused, not taken
        back) for `for_seconds` or more: a node that is stuck should let another propose."""
        failing = self._failing_since
        return failing is None or self.clock() - failing < for_seconds

    def cut(self, batch: list | None = None) -> Block | None:
        """Build a block of the ready transactions (`batch`, else read now) and commit it. A
        transaction the rules now refuse is dropped from the mempool, with its reason logged. None if
        nothing was left to commit."""
        started = time.perf_counter()
        if batch is None:
            batch = self.mempool.ready(self.cutting.max_transactions, self.cutting.max_bytes)
        if not batch:
            return None
        with self.sink.hold():
            builder = self.ledger.builder(self.keypair)
            refused = []
            for entry in batch:
                try:
                    builder.add(entry.tx)
                except LedgerError as error:
                    log.warning("dropped transaction %s: %s", entry.tx.txid.hex(), error)
                    refused.append((entry.tx.txid, error))
            if refused:
                self.mempool.remove(txid for txid, _ in refused)
                self.dropped = (self.dropped + refused)[-1000:]
            if len(builder) == 0:
                return None
            block = builder.build()
            receipt = self.sink.submit(block)
        committed = self.sink.settle(receipt)
        if committed is None:
            return None
        self.mempool.remove(tx.txid for tx in committed.transactions)
        if self.on_commit is not None:
            self.on_commit(committed, time.perf_counter() - started)
        log.info("committed block %d: %d transactions, %d bytes", committed.header.height,
                 len(committed.transactions), len(encode_block(committed)))
        return committed

    # ------------------------------------------------------------ the thread

    def start(self) -> None:
        assert self._thread is None
        self._thread = threading.Thread(target=self._run, name="ledger-proposer", daemon=True)
        self._thread.start()

    def stop(self, timeout: float | None = None) -> None:
        """Ask the thread to stop and wait for it: a commit in progress completes first."""
        self._stop.set()
        with self.mempool.changed:
            self.mempool.changed.notify_all()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        wait_max = self.cutting.batch_timeout_ms / 1000
        while not self._stop.is_set():
            if not self.may_propose():
                self._failing_since = None   # failures before the lease was lost do not count after it is taken again
                self._stop.wait(0.05)
                continue
            try:
                block = self.step()
            except LedgerError as error:
                if error.code in (FENCED, REPLICATION_UNAVAILABLE):   # another block took the place, or NATS is away
                    log.info("block not published: %s", error)
                else:   # the rules refused a whole block: log, and try the next cut
                    log.error("block refused: %s", error)
                block = None
            except Exception:   # a fault (disk full, store failure): keep serving reads, retry later
                log.exception("proposing failed")
                block = None
            if block is None and not self._stop.is_set():
                self._wait_for_more(wait_max)

    def _wait_for_more(self, wait_max: float) -> None:
        """Wait until a block may be due: while something is pending, at most 50 ms (the batch
        timeout is kept to within that); sooner only when admissions bring the pool to
        max_transactions (a full block). An admission alone does not make the proposer read the
        whole pool again."""
        pending = len(self.mempool)
        deadline = time.monotonic() + (min(wait_max, 0.05) if pending else wait_max)
        while not self._stop.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                return
            size = len(self.mempool)
            if size >= self.cutting.max_transactions and size != pending:
                return
            with self.mempool.changed:
                self.mempool.changed.wait(left)
