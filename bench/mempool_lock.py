"""How long Mempool.ready() holds the pool's lock, and how long an `add` alongside it waits, for the
pool as it is (ledger/node/mempool.py) against the pool before issue 10's review (the committed
accounts read under the lock; that ready/remove are kept below as the baseline), in one run.

    .venv/bin/python bench/mempool_lock.py [--senders 5000] [--per-sender 4] [--rounds 20]

A real chain (LMDB) funds every sender; the pool holds senders x per-sender transfers. For each
variant: ready() alone (its lock holds, the longest single hold), then ready() called in a loop
from a thread (as the proposer does) while the main thread adds and removes one transaction at a
time (as the HTTP server and the applier do); `add` latencies are reported alongside the same adds
with no ready() running. Figures are milliseconds; the last line gives the ratios before/after.
The longest pause of Python's full (generation 2) garbage collection in each variant is shown
too: it stops every thread whatever the lock, and is what the maxima beyond the lock holds are.
"""
from __future__ import annotations

import argparse
import gc
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from ledger import Keypair, Ledger, Transfer, encode_transaction, make_genesis, sign_transaction  # noqa: E402
from ledger.node.mempool import Mempool  # noqa: E402


class Before(Mempool):
    """ready() and remove() as they were: every sender's committed account read under the lock."""

    def ready(self, max_transactions, max_bytes):
        import heapq
        with self._lock:
            runs = []
            for sender, pending in list(self._by_sender.items()):
                nonce = self._account(sender).nonce + 1
                for stale in [pending[n] for n in pending if n < nonce]:
                    self._by_txid.pop(stale.tx.txid, None)
                    self._drop_entry(stale)
                run = []
                while nonce in pending:
                    run.append(pending[nonce])
                    nonce += 1
                if run:
                    runs.append(run)
        heap = [(run[0].sequence, i, 0) for i, run in enumerate(runs)]
        heapq.heapify(heap)
        batch, size = [], 0
        while heap and len(batch) < max_transactions:
            _, i, position = heapq.heappop(heap)
            entry = runs[i][position]
            if batch and size + len(entry.data) > max_bytes:
                break
            batch.append(entry)
            size += len(entry.data)
            if position + 1 < len(runs[i]):
                heapq.heappush(heap, (runs[i][position + 1].sequence, i, position + 1))
        return batch

    def remove(self, txids):
        removed = 0
        with self._lock:
            senders = set()
            for txid in txids:
                entry = self._by_txid.pop(txid, None)
                if entry is None:
                    continue
                removed += 1
                senders.add(entry.tx.sender)
                self._drop_entry(entry)
            for sender in senders:
                pending = self._by_sender.get(sender)
                if not pending:
                    continue
                committed = self._account(sender).nonce
                for nonce in [n for n in pending if n <= committed]:
                    stale = pending[nonce]
                    self._by_txid.pop(stale.tx.txid, None)
                    self._drop_entry(stale)
            self.changed.notify_all()
        return removed


class TimedLock:
    """The pool's lock, timing every hold taken by one watched thread."""

    def __init__(self):
        self._lock = threading.Lock()
        self.watched = None
        self.holds: list[float] = []
        self._since = 0.0

    def acquire(self, blocking=True, timeout=-1):
        got = self._lock.acquire(blocking, timeout)
        if got and threading.get_ident() == self.watched:
            self._since = time.perf_counter()
        return got

    def release(self):
        if threading.get_ident() == self.watched:
            self.holds.append(time.perf_counter() - self._since)
        self._lock.release()

    __enter__ = acquire

    def __exit__(self, *exc):
        self.release()


def instrument(mempool: Mempool) -> TimedLock:
    lock = TimedLock()
    mempool._lock = lock
    mempool.changed = threading.Condition(lock)
    return lock


class GcPauses:
    """The longest full collection since the last reset (gc.callbacks)."""

    def __init__(self):
        self.longest, self._since = 0.0, 0.0
        gc.callbacks.append(self)

    def __call__(self, phase, info):
        if phase == "start":
            self._since = time.perf_counter()
        elif info["generation"] == 2:
            self.longest = max(self.longest, time.perf_counter() - self._since)


GC = GcPauses()


def ms(seconds: float) -> float:
    return seconds * 1000


def measure(kind, book, fill, extra, rounds):
    mempool = kind(book, 10_000_000, 64)
    GC.longest = 0.0
    lock = instrument(mempool)
    for data in fill:
        mempool.add(data)
    # ready() alone
    lock.watched = threading.get_ident()
    durations, longest = [], []
    for _ in range(rounds):
        lock.holds.clear()
        started = time.perf_counter()
        ready = mempool.ready(1000, 2**63)
        durations.append(time.perf_counter() - started)
        longest.append(max(lock.holds))
    assert len(ready) == 1000 and len(mempool) == len(fill)
    # adds with nothing alongside
    alone = []
    for data in extra:
        started = time.perf_counter()
        tx = mempool.add(data)
        alone.append(time.perf_counter() - started)
        mempool.remove([tx.txid])
    # adds while a thread calls ready() in a loop
    done = threading.Event()
    holds = []

    def proposer():
        lock.watched = threading.get_ident()
        for _ in range(rounds):
            lock.holds.clear()
            mempool.ready(1000, 2**63)
            holds.append(max(lock.holds))
        done.set()

    lock.watched = None
    thread = threading.Thread(target=proposer)
    thread.start()
    alongside, i = [], 0
    while not done.is_set():
        data = extra[i % len(extra)]
        i += 1
        started = time.perf_counter()
        tx = mempool.add(data)
        alongside.append(time.perf_counter() - started)
        mempool.remove([tx.txid])
    thread.join()
    assert len(mempool) == len(fill)
    return {
        "ready": statistics.median(durations), "hold": statistics.median(longest), "hold_max": max(longest),
        "hold_loaded": max(holds), "add_alone_max": max(alone),
        "add_p99": sorted(alongside)[int(len(alongside) * 0.99)], "add_max": max(alongside), "adds": len(alongside),
        "gc": GC.longest,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--senders", type=int, default=5000)
    parser.add_argument("--per-sender", type=int, default=4)
    parser.add_argument("--extra", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    keys = [Keypair.from_seed(i.to_bytes(4, "big") * 8) for i in range(1, args.senders + args.extra + 2)]
    validator, senders, others = keys[0], keys[1:args.senders + 1], keys[args.senders + 1:]
    folder = tempfile.mkdtemp(prefix="mempool-lock-")
    try:
        book = Ledger.create(os.path.join(folder, "db"), make_genesis(
            "mempool lock", 1_000, [validator.public_key], [], {k.public_key: 10**6 for k in keys[1:]}))
        chain_id, to = book.chain_id, validator.public_key

        def transfer(key, nonce):
            return encode_transaction(sign_transaction(key, chain_id, nonce, Transfer(to, 1)))

        # arrival interleaved by nonce, as a steady load would bring them
        fill = [transfer(k, n) for n in range(1, args.per_sender + 1) for k in senders]
        extra = [transfer(k, 1) for k in others]
        print(f"{len(fill)} pending from {len(senders)} senders; ready(1000) x {args.rounds}; ms")
        results = {}
        for name, kind in (("before", Before), ("after", Mempool)):
            r = results[name] = measure(kind, book, fill, extra, args.rounds)
            print(f"{name:7} ready {ms(r['ready']):6.1f}  lock hold median {ms(r['hold']):6.2f} "
                  f"max {ms(r['hold_max']):6.2f} (loaded {ms(r['hold_loaded']):6.2f})  "
                  f"add alone max {ms(r['add_alone_max']):5.2f}  add alongside p99 {ms(r['add_p99']):6.2f} "
                  f"max {ms(r['add_max']):6.2f} ({r['adds']} adds)  full gc max {ms(r['gc']):5.1f}")
        b, a = results["before"], results["after"]
        print(f"ratios before/after: lock hold {b['hold'] / a['hold']:.1f}x, "
              f"add alongside max {b['add_max'] / a['add_max']:.1f}x, p99 {b['add_p99'] / a['add_p99']:.1f}x")
        book.close()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
