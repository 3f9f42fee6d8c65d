"""The LMDB store. This module owns every LMDB detail: sub-database names, key layout, map
growth and durability. Nothing else opens an LMDB transaction.

Specification: none beyond docs/FORMAT.md (the LMDB layout below is internal).

Layout (integers big-endian so LMDB's byte order is numeric order):
  meta            b"genesis" -> genesis bytes, b"chain_id" -> 32 bytes, b"tip" -> tip record,
                  b"tx_count" -> u64, b"format" -> u32
  blocks          height u64 -> canonical block bytes
  block_hashes    block hash -> height u64
  transactions    txid -> height u64 || index u32
  accounts        public key -> balance u64 || nonce u64
  records         owner(32) || key -> height u64 || index u32 || value        (latest value)
  record_history  owner(32) || len(key) u8 || key || height u64 || index u32 -> value

Map growth: the map starts large (virtual address space only: on Linux the file grows as pages are
written) and doubles on MapFullError. LMDB forbids resizing while this process has read
transactions open, so growth waits until every open Snapshot (in other threads) is closed;
snapshots therefore always show their consistent view. A thread that holds a snapshot and grows
the map itself would wait forever, so that is refused with an error instead.

Durability: every write transaction is fsynced before commit returns (LMDB's default sync=True,
metasync=True), so a block reported as stored survives a crash or power loss. A crash during a
commit loses only that uncommitted group; LMDB's copy-on-write B-trees never expose a partial one.
"""
from __future__ import annotations

import os
import struct
import threading
from dataclasses import dataclass
from typing import Iterator, Sequence

import lmdb
import msgpack

from ledger.errors import STORE_EXISTS, WRONG_GENESIS, LedgerError
from ledger.state import EMPTY_ACCOUNT, Account, BlockChanges, Tip

MAP_SIZE_INITIAL = 16 * 1024**3
MAP_SIZE_GROWTH_FACTOR = 2
STORE_FORMAT = 1
DATABASES = (b"meta", b"blocks", b"block_hashes", b"transactions", b"accounts", b"records", b"record_history")

_U64 = struct.Struct(">Q")
_U32 = struct.Struct(">I")
_LOCATION = struct.Struct(">QI")
_ACCOUNT = struct.Struct(">QQ")


class MapFull(Exception):
    """A commit needs a larger map; nothing of it was written."""


@dataclass(frozen=True, slots=True)
class PendingBlock:
    """A validated block ready to commit, with what it changes."""
    height: int
    hash: bytes
    data: bytes
    changes: BlockChanges
    tip: Tip


def _history_prefix(owner: bytes, key: bytes) -> bytes:
    return owner + bytes([len(key)]) + key


class Snapshot:
    """A consistent read-only view of the store (one LMDB read transaction)."""

    def __init__(self, store: "Store"):
        self._store = store
        store._readers.enter()
        try:
            self._txn = store._env.begin(buffers=False)
        except BaseException:
            store._readers.leave()
            raise
        self._dbs = store._dbs
        self._open = True

    def close(self) -> None:
        if self._open:
            self._open = False
            self._txn.abort()
            self._store._readers.leave()

    def __del__(self) -> None:
        self.close()

    def __enter__(self) -> "Snapshot":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _get(self, db: bytes, key: bytes) -> bytes | None:
        return self._txn.get(key, db=self._dbs[db])

    # StateReader
    def account(self, public_key: bytes) -> Account:
        raw = self._get(b"accounts", public_key)
        return EMPTY_ACCOUNT if raw is None else Account(*_ACCOUNT.unpack(raw))

    def has_transaction(self, txid: bytes) -> bool:
        return self._get(b"transactions", txid) is not None

    def account_count(self) -> int:
        return self._txn.stat(self._dbs[b"accounts"])["entries"]

    def tip(self) -> Tip:
        height, block_hash, time_ms, commitment = msgpack.unpackb(self._get(b"meta", b"tip"))
        return Tip(height, block_hash, time_ms, commitment)

    def genesis_bytes(self) -> bytes:
        return self._get(b"meta", b"genesis")

    def chain_id(self) -> bytes:
        return self._get(b"meta", b"chain_id")

    def tx_count(self) -> int:
        return _U64.unpack(self._get(b"meta", b"tx_count"))[0]

    def block_bytes(self, height: int) -> bytes | None:
        return self._get(b"blocks", _U64.pack(height))

    def height_of(self, block_hash: bytes) -> int | None:
        raw = self._get(b"block_hashes", block_hash)
        return None if raw is None else _U64.unpack(raw)[0]

    def tx_location(self, txid: bytes) -> tuple[int, int] | None:
        raw = self._get(b"transactions", txid)
        return None if raw is None else _LOCATION.unpack(raw)

    def record(self, owner: bytes, key: bytes) -> tuple[int, int, bytes] | None:
        raw = self._get(b"records", owner + key)
        if raw is None:
            return None
        height, index = _LOCATION.unpack_from(raw)
        return height, index, raw[_LOCATION.size:]

    def record_history(self, owner: bytes, key: bytes) -> list[tuple[int, int, bytes]]:
        prefix = _history_prefix(owner, key)
        entries = []
        cursor = self._txn.cursor(db=self._dbs[b"record_history"])
        if cursor.set_range(prefix):
            for item_key, value in cursor:
                if not item_key.startswith(prefix) or len(item_key) != len(prefix) + _LOCATION.size:
                    break
                height, index = _LOCATION.unpack_from(item_key, len(prefix))
                entries.append((height, index, value))
        return entries

    def iter_blocks(self, start: int, end: int) -> Iterator[tuple[int, bytes]]:
        cursor = self._txn.cursor(db=self._dbs[b"blocks"])
        if not cursor.set_range(_U64.pack(start)):
            return
        for key, value in cursor:
            height = _U64.unpack(key)[0]
            if height > end:
                return
            yield height, value


class _ReaderGate:
    """Counts open snapshots so the map is only resized when none is open in this process."""

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._open = 0
        self._resizing = False
        self._local = threading.local()

    def enter(self) -> None:
        with self._condition:
            while self._resizing:
                self._condition.wait()
            self._open += 1
        self._local.held = getattr(self._local, "held", 0) + 1

    def leave(self) -> None:
        with self._condition:
            self._open -= 1
            self._condition.notify_all()
        self._local.held = getattr(self._local, "held", 1) - 1

    def if_idle(self, action) -> bool:
        """Run `action` at once if no snapshot is open, else skip it; says whether it ran."""
        if getattr(self._local, "held", 0):
            return False
        with self._condition:
            if self._open:
                return False
            self._resizing = True
            try:
                action()
            finally:
                self._resizing = False
                self._condition.notify_all()
        return True

    def resize(self, action) -> None:
        if getattr(self._local, "held", 0):
            raise RuntimeError("the LMDB map must grow, but this thread holds an open snapshot; close it first")
        with self._condition:
            self._resizing = True
            try:
                while self._open:
                    self._condition.wait()
                action()
            finally:
                self._resizing = False
                self._condition.notify_all()


class Store:
    """An LMDB environment holding one chain."""

    def __init__(self, env: lmdb.Environment, txn: lmdb.Transaction | None = None):
        self._env = env
        self._dbs = {name: env.open_db(name, txn=txn) for name in DATABASES}
        self._readers = _ReaderGate()

    @staticmethod
    def _open_env(path: str, map_size: int) -> lmdb.Environment:
        return lmdb.open(path, map_size=map_size, max_dbs=len(DATABASES), subdir=True, sync=True, metasync=True,
                         readahead=False, lock=True)

    @classmethod
    def exists(cls, path: str | os.PathLike) -> bool:
        """True when `path` holds a ledger store (an environment with a genesis). Do not call it on
        a store this process has open: LMDB allows one environment per file per process."""
        path = os.fspath(path)
        if not os.path.exists(os.path.join(path, "data.mdb")):
            return False
        env = cls._open_env(path, 1024 * 1024)
        try:
            return cls._has_genesis(env)
        finally:
            env.close()

    @classmethod
    def create(cls, path: str | os.PathLike, genesis: bytes, chain_id: bytes, tip: Tip,
               accounts: dict[bytes, Account], map_size: int = MAP_SIZE_INITIAL) -> "Store":
        path = os.fspath(path)
        os.makedirs(path, exist_ok=True)
        env = cls._open_env(path, map_size)
        if cls._has_genesis(env):
            env.close()
            raise LedgerError(STORE_EXISTS, f"a store already exists at {path}")
        # Sub-databases and the genesis are created in one write transaction, so a crash leaves
        # either no store or a whole one (an environment without a genesis is created over).
        with env.begin(write=True) as txn:
            store = cls(env, txn)
            meta = store._dbs[b"meta"]
            txn.put(b"format", _U32.pack(STORE_FORMAT), db=meta)
            txn.put(b"genesis", genesis, db=meta)
            txn.put(b"chain_id", chain_id, db=meta)
            txn.put(b"tx_count", _U64.pack(0), db=meta)
            txn.put(b"tip", _pack_tip(tip), db=meta)
            for key, account in accounts.items():
                txn.put(key, _ACCOUNT.pack(account.balance, account.nonce), db=store._dbs[b"accounts"])
        return store

    @staticmethod
    def _has_genesis(env: lmdb.Environment) -> bool:
        with env.begin() as txn:
            meta = txn.get(b"meta")   # the main database lists the named sub-databases
            if meta is None:
                return False
        with env.begin() as txn:
            return txn.get(b"genesis", db=env.open_db(b"meta", txn=txn, create=False)) is not None

    @classmethod
    def open(cls, path: str | os.PathLike, map_size: int = MAP_SIZE_INITIAL) -> "Store":
        path = os.fspath(path)
        if not cls.exists(path):
            raise LedgerError(WRONG_GENESIS, f"no ledger store at {path}")
        env = cls._open_env(path, map_size)   # LMDB keeps the file's own size if that is larger
        if not cls._has_genesis(env):
            env.close()
            raise LedgerError(WRONG_GENESIS, f"{path} is an LMDB environment but not a ledger store")
        return cls(env)

    def close(self) -> None:
        self._env.close()

    def release_pages(self) -> bool:
        """Unmap and map the environment again, so the file pages this process has touched stop
        counting in its resident set (they stay in the page cache). Random-key indexes (ids,
        accounts) make a long import touch the whole file; doing this between commit groups keeps
        resident memory flat in chain length. Skipped (returns False) while a snapshot is open."""
        def remap() -> None:
            path, map_size = self._env.path(), self.map_size
            self._env.close()
            self._env = self._open_env(path, map_size)
            self._dbs = {name: self._env.open_db(name) for name in DATABASES}
        return self._readers.if_idle(remap)

    def snapshot(self) -> Snapshot:
        return Snapshot(self)

    def file_size(self) -> int:
        """Bytes of the data file (what a commit can map at most)."""
        return os.stat(os.path.join(self._env.path(), "data.mdb")).st_size

    @property
    def map_size(self) -> int:
        return self._env.info()["map_size"]

    def grow_map(self) -> None:
        """Double the map (waits until no snapshot is open in another thread)."""
        self._readers.resize(lambda: self._env.set_mapsize(self.map_size * MAP_SIZE_GROWTH_FACTOR))

    def _write(self, work, grow_map: bool = True) -> None:
        """Run `work(txn)` in one write transaction; on a full map, grow it and run it again (or,
        with grow_map=False, raise MapFull for a caller that must first close its snapshots)."""
        while True:
            try:
                with self._env.begin(write=True) as txn:
                    work(txn)
                return
            except lmdb.MapFullError:
                if not grow_map:
                    raise MapFull() from None
                self.grow_map()

    def commit(self, blocks: Sequence[PendingBlock], grow_map: bool = True) -> None:
        """Store a group of validated, consecutive blocks in one durable write transaction."""
        if not blocks:
            return
        dbs = self._dbs

        # Each id and each account is written once per group, in key order: putmulti is one C
        # loop, and sorted inserts keep the B-tree walk on pages just visited.
        locations = sorted((txid, _LOCATION.pack(block.height, index))
                           for block in blocks for index, txid in enumerate(block.changes.txids))
        accounts: dict[bytes, bytes] = {}
        for block in blocks:
            for key, account in block.changes.accounts.items():
                accounts[key] = _ACCOUNT.pack(account.balance, account.nonce)
        account_items = sorted(accounts.items())

        def write(txn: lmdb.Transaction) -> None:
            tx_count = _U64.unpack(txn.get(b"tx_count", db=dbs[b"meta"]))[0]
            for block in blocks:
                height_key = _U64.pack(block.height)
                # Heights only grow, so append=True (no B-tree search) is safe; LMDB refuses it
                # (returns False) if the key is not past the last one, and we check.
                if not txn.put(height_key, block.data, db=dbs[b"blocks"], append=True):
                    raise RuntimeError(f"block {block.height} is not past the stored tip")
                if not txn.put(block.hash, height_key, db=dbs[b"block_hashes"], overwrite=False):
                    raise RuntimeError(f"block hash of height {block.height} is already stored")
                for owner, key, value, index in block.changes.records:
                    location = _LOCATION.pack(block.height, index)
                    txn.put(owner + key, location + value, db=dbs[b"records"])
                    txn.put(_history_prefix(owner, key) + location, value, db=dbs[b"record_history"])
            _consumed, added = txn.cursor(db=dbs[b"transactions"]).putmulti(locations, overwrite=False)
            if added != len(locations):
                raise RuntimeError("a transaction id of this group is already stored")
            txn.cursor(db=dbs[b"accounts"]).putmulti(account_items)
            txn.put(b"tx_count", _U64.pack(tx_count + len(locations)), db=dbs[b"meta"])
            txn.put(b"tip", _pack_tip(blocks[-1].tip), db=dbs[b"meta"])

        self._write(write, grow_map)


def _pack_tip(tip: Tip) -> bytes:
    return msgpack.packb([tip.height, tip.hash, tip.time_ms, tip.state_commitment], use_bin_type=True)
