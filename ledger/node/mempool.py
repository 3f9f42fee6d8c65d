"""Pending transactions: admission checks, a bounded pool, batches in nonce order per sender.

Specification: docs/FORMAT.md §5 (transactions), §8 and §10 (the rules a block applies, the limits); the checks
here are the same rules, applied early against committed state plus what is already pending, so
that most transactions a block would refuse never enter the pool. The proposer still builds every
block through the rules (ledger's BlockBuilder), which have the last word.

Admission, in order (the first failure is the refusal, a LedgerError with a stable code):
  1. strict decoding (bad-encoding, record-too-large), chain id (bad-chain-id);
  2. small-order sender (small-order-key), signature by our verifier (bad-tx-signature);
  3. already in the chain or the pool (duplicate-tx);
  4. nonce window: committed nonce + 1 .. committed nonce + nonce_window, and not a nonce another
     pending transaction of the sender holds (bad-nonce);
  5. transfers: amount <= committed balance - the sender's pending transfers (overdraft);
     mints: the sender is a genesis issuer (not-issuer);
  6. the pool holds fewer than max_transactions (mempool-full).
A transaction gossiped from the transaction stream (`gossiped=True`) was admitted by the node it was
submitted to; here only the checks every node agrees on whatever its tip are made again (1, 2, 3,
the nonce above the committed one and its slot free, 6), not the window's upper end or the overdraft
check, which depend on how far this node's tip is behind: a lagging node would otherwise miss
transactions it may later have to propose. Two transactions that claim one sender's nonce may be
kept by different nodes: the node each was submitted to admitted it before it reached the stream
and refuses the other when it arrives. Nodes that received both only through the stream read it in
the same order and keep the same one, the earlier. Either way the block rules let at most one of
them into the chain, and once one is in, the other leaves every pool as stale.
Thread-safe: every method takes one lock; signature checks and reads of committed state run
outside it (ready and remove read the accounts between two holds of the lock).
"""
from __future__ import annotations

import heapq
import itertools
import threading
from dataclasses import dataclass
from typing import Callable, Iterable

from ledger import (
    Account, Ledger, LedgerError, Mint, Transaction, Transfer, decode_transaction, verify_transaction_signature,
)
from ledger.errors import (
    BAD_CHAIN_ID, BAD_NONCE, DUPLICATE_TX, MEMPOOL_FULL, NOT_ISSUER, OVERDRAFT,
)


@dataclass(frozen=True, slots=True)
class Pending:
    tx: Transaction
    data: bytes          # the transaction's canonical bytes, as submitted
    sequence: int        # arrival order
    arrived: float       # the clock's time at admission (seconds)


class Mempool:
    """`account(key)` and `in_chain(txid)` read committed state (by default the Ledger's);
    `clock` gives seconds (injected by tests)."""

    def __init__(self, ledger: Ledger, max_transactions: int, nonce_window: int,
                 clock: Callable[[], float] | None = None,
                 account: Callable[[bytes], Account] | None = None,
                 in_chain: Callable[[bytes], bool] | None = None):
        import time

        assert max_transactions >= 1 and nonce_window >= 1
        self.chain_id = ledger.chain_id
        self.issuers = frozenset(ledger.genesis.issuers)
        self.max_transactions = max_transactions
        self.nonce_window = nonce_window
        self._clock = clock or time.monotonic
        self._account = account or ledger.account
        self._in_chain = in_chain or (lambda txid: ledger.tx(txid) is not None)
        self._lock = threading.Lock()
        self._by_sender: dict[bytes, dict[int, Pending]] = {}
        self._by_txid: dict[bytes, Pending] = {}
        self._sequence = itertools.count()
        self._bytes = 0
        self.changed = threading.Condition(self._lock)   # notified on every admission and removal

    # ------------------------------------------------------------ admission

    def add(self, data: bytes, gossiped: bool = False) -> Transaction:
        """Admit the canonical bytes of one signed transaction, or raise LedgerError saying why not."""
        tx = decode_transaction(data)   # strict; also the record size limits
        if tx.chain_id != self.chain_id:
            raise LedgerError(BAD_CHAIN_ID, "the transaction is signed for another chain")
        verify_transaction_signature(tx)   # small-order-key, bad-tx-signature
        if isinstance(tx.body, Mint) and tx.sender not in self.issuers:
            raise LedgerError(NOT_ISSUER, "a mint's sender must be a genesis issuer")
        committed = self._account(tx.sender)
        # A transaction in the chain holds one of its sender's used nonces, so only a nonce at or
        # below the committed one can be a duplicate: the (costly, random-key) txid lookup is made
        # only then, as the block rules do (docs/FORMAT.md §8).
        if tx.nonce <= committed.nonce and self._in_chain(tx.txid):
            raise LedgerError(DUPLICATE_TX, f"transaction {tx.txid.hex()} is already in the chain")
        with self._lock:
            if tx.txid in self._by_txid:
                raise LedgerError(DUPLICATE_TX, f"transaction {tx.txid.hex()} is already pending")
            first, last = committed.nonce + 1, committed.nonce + self.nonce_window
            if gossiped:
                last = 2**64 - 1
            if not first <= tx.nonce <= last:
                raise LedgerError(BAD_NONCE, f"the nonce {tx.nonce} is outside the window {first}..{last} "
                                             "(the sender's committed nonce + 1 onwards)")
            pending = self._by_sender.get(tx.sender, {})
            if tx.nonce in pending:
                raise LedgerError(BAD_NONCE, f"another pending transaction of this sender has nonce {tx.nonce}")
            if isinstance(tx.body, Transfer) and not gossiped:
                spent = sum(p.tx.body.amount for p in pending.values()
                            if isinstance(p.tx.body, Transfer) and p.tx.nonce > committed.nonce)
                if tx.body.amount > committed.balance - spent:
                    raise LedgerError(OVERDRAFT, f"the transfer of {tx.body.amount} exceeds the balance "
                                                 f"{committed.balance} less {spent} pending")
            if len(self._by_txid) >= self.max_transactions:
                raise LedgerError(MEMPOOL_FULL, f"the mempool holds its maximum of {self.max_transactions} "
                                                "transactions; retry later")
            entry = Pending(tx, bytes(data), next(self._sequence), self._clock())
            self._by_sender.setdefault(tx.sender, {})[tx.nonce] = entry
            self._by_txid[tx.txid] = entry
            self._bytes += len(entry.data)
            self.changed.notify_all()
        return tx

    # ------------------------------------------------------------ reading

    def __len__(self) -> int:
        with self._lock:
            return len(self._by_txid)

    def __contains__(self, txid: bytes) -> bool:
        with self._lock:
            return txid in self._by_txid

    def settled(self, tx: Transaction) -> bool:
        """Whether a gossiped transaction needs no admission (no signature check): it is pending
        here already, or its nonce is used (it is in the chain, or can never be)."""
        return tx.txid in self or tx.nonce <= self._account(tx.sender).nonce

    @property
    def size_bytes(self) -> int:
        with self._lock:
            return self._bytes

    def oldest_arrival(self) -> float | None:
        with self._lock:
            return min((p.arrived for p in self._by_txid.values()), default=None)

    def ready(self, max_transactions: int, max_bytes: int) -> list[Pending]:
        """Up to `max_transactions` transactions of at most `max_bytes` in all, ready to go in the
        next block: for each sender its run of consecutive nonces from its committed nonce + 1,
        senders interleaved by arrival, each sender's in nonce order. Nothing is removed but
        transactions whose nonces the chain has passed."""
        # The committed accounts (a store read each) are read with no lock held, so that admissions
        # are not held up meanwhile: the senders are listed under the lock, their accounts read
        # outside it, and the runs built under it again from what is pending then. A sender
        # whose transactions all left meanwhile has no run; one that arrived meanwhile waits for
        # the next call. A committed nonce read just before a commit only keeps a stale entry
        # one call longer (or makes a run the block rules then refuse).
        with self._lock:
            senders = list(self._by_sender)
        committed = [self._account(sender).nonce for sender in senders]
        with self._lock:
            runs = []
            for sender, nonce in zip(senders, committed):
                pending = self._by_sender.get(sender)
                if pending is None:
                    continue
                nonce += 1
                # An admission that raced a commit can hold a nonce the chain has passed: drop it.
                for stale in [pending[n] for n in pending if n < nonce]:
                    self._by_txid.pop(stale.tx.txid, None)
                    self._drop_entry(stale)
                run = []
                while nonce in pending:
                    run.append(pending[nonce])
                    nonce += 1
                if run:
                    runs.append(run)
        # merge: always take the earliest-arrived head among senders (a sender's later nonce may have
        # arrived first; it waits behind its lower nonce)
        heap = [(run[0].sequence, i, 0) for i, run in enumerate(runs)]
        heapq.heapify(heap)
        batch, size = [], 0
        while heap and len(batch) < max_transactions:
            _, i, position = heapq.heappop(heap)
            entry = runs[i][position]
            if batch and size + len(entry.data) > max_bytes:   # one alone always goes, or it would wait forever
                break   # the rest of this sender must wait too; a smaller transaction of another would reorder
            batch.append(entry)
            size += len(entry.data)
            if position + 1 < len(runs[i]):
                heapq.heappush(heap, (runs[i][position + 1].sequence, i, position + 1))
        return batch

    # ------------------------------------------------------------ removal

    def remove(self, txids: Iterable[bytes]) -> int:
        """Remove these transactions (committed, or dropped as invalid); returns how many were here.
        Pending transactions of the same senders whose nonces the chain has passed go too."""
        txids = list(txids)
        removed = 0
        with self._lock:
            touched = set()
            for txid in txids:
                entry = self._by_txid.pop(txid, None)
                if entry is None:
                    continue
                removed += 1
                touched.add(entry.tx.sender)
                self._drop_entry(entry)
            senders = [sender for sender in touched if sender in self._by_sender]
            self.changed.notify_all()
        if not senders:
            return removed
        # their committed nonces are read with no lock held (as in ready), then the stale go
        committed = [self._account(sender).nonce for sender in senders]
        with self._lock:
            for sender, nonce in zip(senders, committed):
                pending = self._by_sender.get(sender)
                if not pending:
                    continue
                for stale in [pending[n] for n in pending if n <= nonce]:
                    self._by_txid.pop(stale.tx.txid, None)
                    self._drop_entry(stale)
            self.changed.notify_all()
        return removed

    def _drop_entry(self, entry: Pending) -> None:
        pending = self._by_sender.get(entry.tx.sender)
        if pending is not None and pending.get(entry.tx.nonce) is entry:
            del pending[entry.tx.nonce]
            if not pending:
                del self._by_sender[entry.tx.sender]
        self._bytes -= len(entry.data)
