"""The transaction-id index: txid -> (height, index in block), built off the import's critical path.

Specification: none beyond docs/FORMAT.md (the index is internal and can be rebuilt from the blocks).
Model: Bitcoin Core's txindex (src/index/txindex.cpp): validation never waits on it; a background
thread reads committed blocks from the block store beyond its own best-height marker and indexes
them; a crash leaves the index at its marker, from which it resumes. Store.commit writes no ids.

On-disk shape: append-only sorted runs (LSM-style, as Erigon's ETL collector and TigerBeetle's
grooves do) in the `txindex` sub-database, key = run id (u32, big-endian) || txid, value =
height (u64) || index (u32). A batch of up to BATCH_IDS_MAX ids is sorted (natively, without the
GIL) and written as one new run with append=True (no B-tree search, pages filled full), in the
same write transaction as the index state in meta (b"txindex": marker height, live runs, runs
waiting to be deleted, the run a merge is writing). A lookup probes each live run. When there are
more than RUNS_MAX runs, the smallest are merged into one of at most MERGE_IDS_MAX ids, written
MERGE_IDS_PER_TXN ids a transaction and made live (the merged runs marked dead) in its last one; the
dead runs are deleted in later transactions of DELETE_IDS_PER_TXN. A merge cut short by a crash
leaves a run that was never live: the next merge deletes it as dead and starts again.

Why runs, not sorted batches into one B-tree (measured on the shared 2-core machine, batches of
250,000 random ids written straight to LMDB with fsync):
                      1M ids: write µs/id  file    5M ids: write µs/id (last batch)  file     peak RSS
    one B-tree (putmulti)     1.66         172 MB          2.63 (4.51)                1055 MB  1480 MB
    append-only runs          0.86          56 MB          1.19 (1.19)                 282 MB   346 MB
A sorted batch into one tree still dirties about one leaf page per id once the tree has more
leaves than the batch has ids, so its cost grows with the tree, and those dirty pages are the
process's anonymous memory until the commit. Appending a run costs the same at any size. Lookups
cost one B-tree probe per run (6.6 µs with 4 runs, 92 µs with 20 unmerged runs at 5M), which is
why runs are merged: at most RUNS_MAX + total / MERGE_IDS_MAX probes. Through this module's own
writer and merger (batches of BATCH_IDS_MAX): 1M ids 0.59 µs/id appended, 4 runs, lookup 9-12 µs,
peak RssAnon 98 MB (the benchmark's own); 5M ids 0.61 µs/id appended + 0.86 µs/id merging (one
merge of 8 runs), 13 runs, lookup 19-32 µs, peak RssAnon 103 MB. (A merge written in one
transaction peaked at 195 MB: its dirty pages are anonymous memory until it commits; hence the
chunks. With MERGE_IDS_MAX at 8M: 4 runs, lookup 7 µs, but 1.6 µs/id merging, Python's heapq
holding the GIL the import needs.) A run never grows past MERGE_IDS_MAX, so a lookup probes one run
per 2M ids plus up to RUNS_MAX smaller ones: about 21 at 10M ids, 66 at 100M.

Import of a 1,000,000-transaction chain (ledger gen --blocks 1000 --txs-per-block 1000 --accounts
10000 --seed 7; same machine, loaded by other work, so CPU seconds are the steadier figure): before
(ids written in each commit) 12,400-19,100 tx/s, 40-43 CPU s; after 23,300-34,900 tx/s, 28-31 CPU
s, the index at heights 734-933 of 1000 when the import ends (it writes 262,144 ids at a time) and
0.2 s of flush at close. An index built from scratch after the import (indexer held) catches up
at 0.8-1.0 million ids/s.

A batch is written when full, when no block has come for IDLE_FLUSH_S, or, caught up, once its
oldest id has waited AGE_FLUSH_S: a node's steady trickle of small blocks is never idle, and a
lookup above the marker hashes every id there.

Queries stay correct above the marker: Snapshot.tx_location (ledger/storage.py) asks the legacy
`transactions` database (stores written before the index existed: complete up to their tip), then
the runs, then scans the stored blocks marker+1..tip, hashing their ids natively.

Writers: the indexer writes only while holding the store's writer lock (re-entrant within one
process); if another process holds it, the indexer waits and tries again (that process indexes).
Each flush re-reads the marker inside its write transaction and drops its batch if the marker
moved, so two processes never index the same heights twice.
"""
from __future__ import annotations

import heapq
import itertools
import struct
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Iterable, Iterator

import msgpack

from ledger import _core, hashing
from ledger.codec import _chain_version, decode_block_python
from ledger.errors import LedgerError

if TYPE_CHECKING:   # pragma: no cover
    import lmdb
    from ledger.storage import Store

ENTRY_SIZE = 44                  # txid (32) || height u64 || index u32, as _core.block_txid_entries makes them
BATCH_IDS_MAX = 262_144          # ids gathered before a run is written (11.5 MB of entries)
BLOCKS_PER_READ_MAX = 256        # blocks read per snapshot (a snapshot blocks map growth while open)
RUNS_MAX = 16                    # more live runs than this and the smallest are merged
MERGE_IDS_MAX = 2_097_152        # the largest run a merge makes
MERGE_IDS_PER_TXN = 65_536       # ids a merge writes per transaction (bounds its dirty pages and chunk: ~13 MB)
DELETE_IDS_PER_TXN = 262_144     # entries of merged-away runs deleted per write transaction
IDLE_FLUSH_S = 1.0               # gathered ids are written once no block has arrived for this long
AGE_FLUSH_S = 30.0               # or, caught up, once the oldest gathered id has waited this long (a node's
                                 # steady stream of small blocks is never idle; a lookup above the marker scans)
LOCKED_RETRY_S = 1.0             # wait before trying again while another process holds the writer lock
STATE_KEY = b"txindex"

_RUN = struct.Struct(">I")
_U64 = struct.Struct(">Q")
_LOCATION = struct.Struct(">QI")


@dataclass(slots=True)
class IndexState:
    """What the index holds: every stored block up to `height`, in the live `runs` (id, count)."""
    height: int
    next_run: int = 0
    runs: list[tuple[int, int]] = field(default_factory=list)
    dead: list[int] = field(default_factory=list)   # merged away, still to be deleted
    merging: int | None = None                       # the run a merge is writing (not live yet)

    def pack(self) -> bytes:
        return msgpack.packb([self.height, self.next_run, [list(run) for run in self.runs], self.dead, self.merging])

    @classmethod
    def unpack(cls, raw: bytes) -> "IndexState":
        height, next_run, runs, dead, merging = msgpack.unpackb(raw)
        return cls(height, next_run, [tuple(run) for run in runs], list(dead), merging)


def block_entries(data: bytes, height: int, version: int | None) -> bytes:
    """The index entries of one stored block of a chain of format `version` (its genesis version;
    native: decoded and hashed without the GIL)."""
    return _core.block_txid_entries(data, height, hashing.KEY_TRANSACTION, LedgerError, _chain_version(version))


def block_entries_python(data: bytes, height: int, version: int | None) -> bytes:
    """The readable twin of block_entries."""
    block = decode_block_python(data, version)
    return b"".join(tx.txid + _LOCATION.pack(height, index) for index, tx in enumerate(block.transactions))


def find_in_entries(entries: bytes, txid: bytes) -> tuple[int, int] | None:
    """The location of `txid` among a block's entries, if there."""
    start = 0
    while True:
        found = entries.find(txid, start)
        if found < 0:
            return None
        if found % ENTRY_SIZE == 0:
            return _LOCATION.unpack_from(entries, found + 32)
        start = found + 1


def run_key(run: int, txid: bytes) -> bytes:
    return _RUN.pack(run) + txid


def lookup(get: Callable[[bytes], bytes | None], state: IndexState, txid: bytes) -> tuple[int, int] | None:
    """Probe each live run (`get` reads the txindex sub-database)."""
    for run, _count in state.runs:
        raw = get(_RUN.pack(run) + txid)
        if raw is not None:
            return _LOCATION.unpack(raw)
    return None


def scan_blocks(blocks: Iterable[tuple[int, bytes]], txid: bytes, version: int | None) -> tuple[int, int] | None:
    """Find `txid` in blocks (of a chain of format `version`) the index has not reached, by hashing their ids."""
    for height, data in blocks:
        location = find_in_entries(block_entries(data, height, version), txid)
        if location is not None:
            return location
    return None


def _run_items(run: int, entries: bytearray) -> Iterator[tuple[bytes, bytes]]:
    prefix = _RUN.pack(run)
    view = bytes(entries)
    for offset in range(0, len(view), ENTRY_SIZE):
        yield prefix + view[offset:offset + 32], view[offset + 32:offset + ENTRY_SIZE]


def write_run(txn: "lmdb.Transaction", db, state: IndexState, entries: bytearray, height: int) -> IndexState:
    """Append `entries` (sorted) as a new run covering the blocks up to `height`; returns the new
    state, which the caller writes in the same transaction."""
    count = len(entries) // ENTRY_SIZE
    runs = list(state.runs)
    run = state.next_run
    if count:
        _consumed, added = txn.cursor(db=db).putmulti(_run_items(run, entries), append=True)
        if added != count:
            raise RuntimeError(f"index run {run} was not appended past the last run")
        runs.append((run, count))
    return IndexState(height, run + 1 if count else run, runs, list(state.dead), state.merging)


def runs_to_merge(state: IndexState) -> list[int]:
    """The smallest live runs, merged while there are more than RUNS_MAX (size-tiered)."""
    if len(state.runs) <= RUNS_MAX:
        return []
    chosen, total = [], 0
    for run, count in sorted(state.runs, key=lambda item: item[1]):
        if total + count > MERGE_IDS_MAX:
            break
        chosen.append(run)
        total += count
    return chosen if len(chosen) >= 2 else []


def iterate_run(cursor, run: int) -> Iterator[tuple[bytes, bytes]]:
    """(txid, location) of one run, in txid order."""
    prefix = _RUN.pack(run)
    if not cursor.set_range(prefix):
        return
    for key, value in cursor:
        if not key.startswith(prefix):
            return
        yield key[4:], value


def start_merge(state: IndexState) -> IndexState:
    """The first transaction of a merge: its run id is taken, not yet live."""
    return IndexState(state.height, state.next_run + 1, list(state.runs), list(state.dead), state.next_run)


def append_merged(txn: "lmdb.Transaction", db, run: int, chunk: list[tuple[bytes, bytes]]) -> None:
    """Append a chunk of the merged stream (txid order) to the merge's run."""
    prefix = _RUN.pack(run)
    _consumed, added = txn.cursor(db=db).putmulti([(prefix + txid, value) for txid, value in chunk], append=True)
    if added != len(chunk):
        raise RuntimeError(f"merged index run {run} was not appended in order")


def finish_merge(state: IndexState, runs: list[int], total: int) -> IndexState:
    """The last transaction of a merge: its run goes live, the merged runs go to be deleted."""
    expected = sum(count for old, count in state.runs if old in runs)
    if total != expected:
        raise RuntimeError(f"merging index runs {runs} wrote {total} ids, not {expected}")
    live = [item for item in state.runs if item[0] not in runs] + [(state.merging, total)]
    return IndexState(state.height, state.next_run, live, list(state.dead) + list(runs), None)


def abandon_merge(txn: "lmdb.Transaction", db, state: IndexState) -> IndexState:
    """A merge a crash left unfinished: its partial run is deleted like a merged-away one."""
    return IndexState(state.height, state.next_run, list(state.runs), list(state.dead) + [state.merging], None)


def delete_dead(txn: "lmdb.Transaction", db, state: IndexState) -> IndexState:
    """Delete up to DELETE_IDS_PER_TXN entries of merged-away runs."""
    dead = list(state.dead)
    budget = DELETE_IDS_PER_TXN
    cursor = txn.cursor(db=db)
    while dead and budget:
        prefix = _RUN.pack(dead[0])
        if not cursor.set_range(prefix) or not cursor.key().startswith(prefix):
            dead.pop(0)
            continue
        while budget and cursor.key().startswith(prefix):
            if not cursor.delete():   # deleted the last entry: nothing after it
                break
            budget -= 1
    return IndexState(state.height, state.next_run, list(state.runs), dead, state.merging)


class _Locked(Exception):
    """Another process holds the writer lock: leave merging to a later flush."""


class Indexer:
    """The background thread that indexes committed blocks. Started by the Ledger of a writing
    process; `notify` after each commit; `close` writes what is gathered (catching up to the tip
    when `flush`) and stops the thread."""

    def __init__(self, store: "Store"):
        self._store = store
        self._condition = threading.Condition()
        self._arrived = False
        self._stopping = False
        self._flush_on_stop = True
        self._held = False
        self._parked = False
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="ledger-txindex", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def notify(self) -> None:
        """New blocks were committed."""
        with self._condition:
            self._arrived = True
            self._condition.notify_all()

    def close(self, flush: bool = True) -> None:
        with self._condition:
            self._stopping = True
            self._flush_on_stop = flush
            self._condition.notify_all()
        if self._thread.is_alive():
            self._thread.join()

    def hold(self) -> None:
        """Stop indexing until `release` (for tests: the index then lags deterministically).
        Returns once the thread is parked: nothing committed after this is indexed meanwhile."""
        with self._condition:
            self._held = True
            self._condition.notify_all()
            while not self._parked and self._thread.is_alive():
                self._condition.wait(0.05)

    def release(self) -> None:
        with self._condition:
            self._held = False
            self._condition.notify_all()

    # ------------------------------------------------------------ the thread

    def _run(self) -> None:
        try:
            self._loop()
        except BaseException as error:   # a full disk, a damaged block: queries still scan; keep the error
            self.error = error
        finally:
            with self._condition:
                self._parked = True
                self._condition.notify_all()

    def _wait(self, timeout: float | None) -> bool:
        """Wait for a commit or a stop (True) or the timeout (False)."""
        with self._condition:
            if not self._arrived and not self._stopping and not self._held:
                self._condition.wait(timeout)
            arrived = self._arrived or self._stopping or self._held
            self._arrived = False
            return arrived

    def _loop(self) -> None:
        store = self._store
        entries = bytearray()
        base = next_height = -1    # entries hold the blocks base+1..next_height-1
        idle = False
        gathered_at = time.monotonic()   # when entries last went from empty to not
        while True:
            with self._condition:
                while self._held and not self._stopping:
                    self._parked = True
                    self._condition.notify_all()
                    self._condition.wait()
                self._parked = False
                stopping, flush = self._stopping, self._flush_on_stop
            if stopping and not flush:
                return
            with store.snapshot() as snap:
                state = snap.txindex_state()
                tip = snap.tip().height
                if not entries and state.height != base:
                    base, next_height = state.height, state.height + 1
                # A full batch waits for its flush (the writer lock may be another process's).
                last = min(tip, next_height + BLOCKS_PER_READ_MAX - 1)
                if len(entries) >= BATCH_IDS_MAX * ENTRY_SIZE:
                    last = next_height - 1
                version = snap.chain_version()
                for height, data in snap.iter_blocks(next_height, last):
                    if not entries:
                        gathered_at = time.monotonic()
                    entries += block_entries(data, height, version)
                    next_height = height + 1
                    if len(entries) >= BATCH_IDS_MAX * ENTRY_SIZE:
                        break
            caught_up = next_height > tip
            if not caught_up and len(entries) < BATCH_IDS_MAX * ENTRY_SIZE:
                continue
            aged = time.monotonic() - gathered_at >= AGE_FLUSH_S
            if next_height - 1 > base and (len(entries) >= BATCH_IDS_MAX * ENTRY_SIZE or
                                           caught_up and (stopping or idle or aged)):
                idle = False
                marker = self._flush(entries, base, next_height - 1)
                if marker is None:                 # another process holds the writer lock
                    if stopping:
                        return
                    self._wait(LOCKED_RETRY_S)
                    continue
                entries, base, next_height = bytearray(), marker, marker + 1
                try:
                    self._merge()
                except _Locked:
                    pass
                continue
            if not caught_up:
                continue
            if stopping:
                return
            # Caught up: wait for the next commit; with ids gathered, write them once none comes.
            idle = not self._wait(IDLE_FLUSH_S if next_height - 1 > base else None)

    def _flush(self, entries: bytearray, base: int, height: int) -> int | None:
        """Write `entries` (blocks base+1..height) as a run; returns the new marker, or None when
        another process holds the writer lock. If the marker moved meanwhile (another process
        indexed), the entries are dropped and the stored marker returned."""
        _core.sort_txid_entries(entries)
        outcome: list[int] = []

        def work(txn, meta_db, index_db) -> None:
            state = IndexState.unpack(txn.get(STATE_KEY, db=meta_db))
            if state.height != base:
                outcome.append(state.height)
                return
            new_state = write_run(txn, index_db, state, entries, height)
            txn.put(STATE_KEY, new_state.pack(), db=meta_db)
            outcome.append(height)

        if not self._store.write_index(work):
            return None
        return outcome[0]

    def _merge(self) -> None:
        """Merge runs while there are too many, then delete the merged-away ones."""
        from ledger.storage import MapFull   # storage imports this module
        store = self._store
        while True:
            try:
                with store.snapshot() as snap:
                    state = snap.txindex_state()
                    if state.merging is not None:
                        self._write_state(abandon_merge, state)
                        continue
                    runs = runs_to_merge(state)
                    if not runs and not state.dead:
                        return
                    if runs:
                        self._merge_runs(snap, state, runs)
                        continue
                self._write_state(delete_dead, state)
            except MapFull:
                store.grow_map()

    def _merge_runs(self, snap, state: IndexState, runs: list[int]) -> None:
        """Write the union of `runs` as one new run, MERGE_IDS_PER_TXN ids a transaction (so a
        merge's dirty pages stay small); it goes live in the last one. The runs are read through
        `snap`: a run never changes once written."""
        state = self._write_state(lambda txn, db, current: start_merge(current), state)
        if state is None:
            return
        streams = [iterate_run(snap.txindex_cursor(), run) for run in runs]
        merged = heapq.merge(*streams)
        total = 0
        while state is not None and state.merging is not None:
            chunk = list(itertools.islice(merged, MERGE_IDS_PER_TXN))
            total += len(chunk)

            def work(txn, db, current: IndexState) -> IndexState:
                append_merged(txn, db, current.merging, chunk)
                return finish_merge(current, runs, total) if len(chunk) < MERGE_IDS_PER_TXN else current

            state = self._write_state(work, state)

    def _write_state(self, change: Callable, expected: IndexState) -> IndexState | None:
        """Apply `change(txn, db, state)` to the stored state if it is still `expected`; returns the
        new state, or None when another process changed the index meanwhile (re-read then)."""
        written: list[IndexState] = []

        def work(txn, meta_db, index_db) -> None:
            state = IndexState.unpack(txn.get(STATE_KEY, db=meta_db))
            if state != expected:
                return
            new_state = change(txn, index_db, state)
            txn.put(STATE_KEY, new_state.pack(), db=meta_db)
            written.append(new_state)

        if not self._store.write_index(work, grow_map=False):
            raise _Locked()
        return written[0] if written else None
