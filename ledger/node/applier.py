"""Applying the replicated block stream: every node, the proposer too, takes the stream's messages
in sequence order and imports each block through the same validation path as `ledger import`.

Specification: README.md, "Running several nodes"; docs/FORMAT.md §8 (the rules, in their order).
The chain is a deterministic function of the stream: message by message, a block the rules accept
at the node's tip is appended; any other message is refused with the code the rules give and
changes nothing. Every honest node holds the same store after the same prefix of the stream, so
every one refuses the same messages with the same codes and ends at the same tip.

The position (the last stream sequence taken, accepted or refused) is kept in a small file in the
store folder, written after each message without fsync: it only saves work. A position file that
is behind the store (a crash between the commit and the file) makes the node read again messages it
has taken: a block it already holds (the same bytes at that height) is skipped, and any other
message is refused again, now against the current tip (so possibly with another code: `bad-height`
where it was, say, `bad-block-signature`; the chain and state are the same either way). With no file at all (a store made by
`ledger import` of a chain file) the node reads the stream from its first message and skips what it
holds: catching up from a chain file plus the stream.
"""
from __future__ import annotations

import collections
import json
import logging
import os
import threading
import time
from dataclasses import dataclass
from typing import Callable

from ledger import Block, EnvironmentFault, Ledger, LedgerError, decode_block
from ledger.node.mempool import Mempool

log = logging.getLogger("ledger.node.applier")

POSITION_FILE = "stream-position.json"


@dataclass(frozen=True)
class Refusal:
    sequence: int
    height: int | None
    index: int | None
    code: str
    message: str

    def to_json(self) -> dict:
        return {"sequence": self.sequence, "height": self.height, "index": self.index, "code": self.code,
                "message": self.message}


class Applier:
    """Takes stream messages in order (`take`); `lock` is held while a message is taken, and by a
    proposer that builds a block, so the tip and the position it reads belong together.
    `on_commit(block, seconds)` and `on_refuse(refusal)` are told of each outcome."""

    def __init__(self, ledger: Ledger, mempool: Mempool | None, stream: str, folder: str,
                 on_commit: Callable[[Block, float], None] | None = None,
                 on_refuse: Callable[[Refusal], None] | None = None):
        self.ledger = ledger
        self.mempool = mempool
        self.stream = stream
        self.path = os.path.join(folder, POSITION_FILE)
        self.on_commit = on_commit
        self.on_refuse = on_refuse
        self.lock = threading.RLock()
        self.changed = threading.Condition(self.lock)   # notified after every message taken
        self.refused: collections.deque[Refusal] = collections.deque(maxlen=100)
        self.refused_count = 0
        self.closed = False   # after close: no message is taken (the store is about to close)
        self.position = self._load()

    def _load(self) -> int:
        try:
            with open(self.path, encoding="utf-8") as handle:
                data = json.load(handle)
            if data.get("stream") == self.stream and isinstance(data.get("sequence"), int):
                return max(0, data["sequence"])
            log.warning("%s names another stream (%r): reading %s from its start", self.path, data.get("stream"),
                        self.stream)
        except FileNotFoundError:
            pass
        except (OSError, ValueError) as error:
            log.warning("cannot read %s (%s): reading the stream from its start", self.path, error)
        return 0

    def _save(self) -> None:
        temporary = self.path + ".tmp"
        tip = self.ledger.tip
        with open(temporary, "w", encoding="utf-8") as handle:
            json.dump({"stream": self.stream, "sequence": self.position, "height": tip.height,
                       "tip_hash": tip.hash.hex()}, handle)
        os.replace(temporary, self.path)

    def take(self, sequence: int, data: bytes) -> Block | Refusal | None:
        """Take the message at stream `sequence`: the appended block, the refusal, or None when the
        message was taken before (a sequence at or below the position, or a block already held).
        An EnvironmentFault (disk full, I/O error) leaves the message untaken and is raised."""
        with self.lock:
            if sequence <= self.position or self.closed:
                return None
            started = time.perf_counter()
            outcome: Block | Refusal | None
            try:
                outcome = self.ledger.append(data)
            except EnvironmentFault:
                raise   # the machine, not the block: the message is not taken; the caller retries it
            except LedgerError as error:
                # A block already held (read again after a restart) is refused too, as it is not at
                # the tip's next height: asked only then, so a new block is decoded once, by append.
                held = self._held(data)
                outcome = None if held else Refusal(sequence, error.height, error.index, error.code,
                                                    str(error.message))
            self.position = sequence
            try:
                self._save()
            except OSError as error:   # the store's folder went bad: the next commit says so too
                log.error("cannot write %s: %s", self.path, error)
            if isinstance(outcome, Refusal):
                self.refused.append(outcome)
                self.refused_count += 1
                log.warning("refused stream message %d (height %s): %s: %s", sequence, outcome.height,
                            outcome.code, outcome.message)
                if self.on_refuse is not None:
                    self.on_refuse(outcome)
            elif isinstance(outcome, Block):
                if self.mempool is not None:
                    self.mempool.remove(tx.txid for tx in outcome.transactions)
                if self.on_commit is not None:
                    self.on_commit(outcome, time.perf_counter() - started)
            self.changed.notify_all()
            return outcome

    def _held(self, data: bytes) -> bool:
        """Whether the message is a block this store already holds (read again after a restart):
        the same bytes. A block's hash covers its header less the signature, so a copy with another
        signature, or other transactions under the same header, is not held: append refuses it."""
        tip = self.ledger.tip
        if tip.height == 0:
            return False
        try:
            block = decode_block(data, self.ledger.genesis.version)
        except LedgerError:
            return False   # append refuses it with its code
        if block.height > tip.height:
            return False
        return self.ledger.block_bytes(block.height) == bytes(data)

    def close(self) -> None:
        """Wait for a message being taken to be committed, and take no more."""
        with self.lock:
            self.closed = True
            self.changed.notify_all()

    def skip_to(self, sequence: int) -> None:
        """Record that the messages up to `sequence` are held (the caller found the tip's block
        there)."""
        with self.lock:
            if sequence > self.position:
                self.position = sequence
                self._save()
                self.changed.notify_all()

    def wait_past(self, sequence: int, timeout: float) -> bool:
        """Wait until the message at `sequence` has been taken; whether it has."""
        deadline = time.monotonic() + timeout
        with self.changed:
            while self.position < sequence:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.changed.wait(left)
            return True
