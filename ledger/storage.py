"""The LMDB store. This module owns every LMDB detail: sub-database names, key layout, map
growth and durability. Nothing else opens an LMDB transaction.

Specification: none beyond docs/FORMAT.md (the LMDB layout below is internal).

Layout (integers big-endian so LMDB's byte order is numeric order):
  meta            b"genesis" -> genesis bytes, b"chain_id" -> 32 bytes, b"tip" -> tip record,
                  b"tx_count" -> u64, b"format" -> u32
                  (the tip record: msgpack [height, hash, time_ms, state field], and for a version-2
                  chain a fifth element, the history frontier [size, [peak, ...]] (ledger/history_frontier.py))
  blocks          height u64 -> canonical block bytes
  block_hashes    block hash -> height u64
  transactions    txid -> height u64 || index u32   (written only by stores made before the txid index:
                  complete up to their tip, read as part of the index; see ledger/txindex.py)
  txindex         run id u32 || txid -> height u64 || index u32   (ledger/txindex.py; its marker and
                  runs are meta b"txindex", written in the same transaction as the entries)
  accounts        public key -> balance u64 || nonce u64
  records         owner(32) || key -> height u64 || index u32 || value        (latest value)
  record_history  owner(32) || len(key) u8 || key || height u64 || index u32 -> value

The version-2 state tree (ledger/state_tree.py) is not stored: it is an index derived from
`accounts` and `records`, built in memory by its user (ledger/api.py) when first needed and kept
up to date by the blocks it validates. Storing it would add, per block, writes of tree nodes at
random keys (each node keyed by its position or hash), which is what made the txid index slow;
a commit stays the block appends and the existing tables.

Map growth: the map starts large (virtual address space only: on Linux the file grows as pages are
written) and doubles on MapFullError. LMDB forbids resizing while this process has read
transactions open, so growth waits until every open Snapshot (in other threads) is closed;
snapshots therefore always show their consistent view. A thread that holds a snapshot and grows
the map itself would wait forever, so that is refused with an error instead.

Durability: every write transaction is fsynced before commit returns (LMDB's default sync=True,
metasync=True), so a block reported as stored survives a crash or power loss. A crash during a
commit loses only that uncommitted group; LMDB's copy-on-write B-trees never expose a partial one.

Faults of the machine are EnvironmentFault (errors.py), never raw lmdb or OS errors: a full file
system fails the write transaction (nothing of it is kept), read-only media are opened read-only
(LMDB without its lock file: readers are then invisible to writers, so never with a live writer),
a folder that is not a ledger store is refused, not written into.

Writer lock: every write (commit, create) holds an exclusive flock on `writer.lock` in the store
folder, which names its holder (pid and command) so a second writer is told who it waits for.
LMDB already serialises write transactions, but a writer validates against the tip it read before
its transaction: the lock makes "read tip, validate, commit" one step across processes.

Lock-file preallocation: LMDB sizes lock.mdb with ftruncate (a sparse file) and writes its reader
table through a shared mapping; on a full file system (tmpfs especially) the first store to that
page has no block behind it and the process dies of SIGBUS. The file's blocks are allocated with
posix_fallocate first, so a full file system is an ENOSPC error instead.
"""
from __future__ import annotations

import fcntl
import os
import struct
import sys
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable, Iterator, Sequence, Union

import lmdb
import msgpack

from ledger.errors import (
    ALREADY_OPEN, DISK_FULL, IO_ERROR, NOT_A_STORE, READ_ONLY, STORE_EXISTS, STORE_LOCKED, WRONG_GENESIS,
    EnvironmentFault, LedgerError, fault_from_os_error,
)
from ledger import txindex
from ledger.codec import decode_genesis
from ledger.history_frontier import Frontier
from ledger.state import EMPTY_ACCOUNT, Account, BlockChanges, Tip

MAP_SIZE_INITIAL = 16 * 1024**3
MAP_SIZE_GROWTH_FACTOR = 2
STORE_FORMAT = 1
WRITER_LOCK_FILE = "writer.lock"
STORE_FILES = frozenset({"data.mdb", "lock.mdb", WRITER_LOCK_FILE})
# LMDB's lock file for its default 126 readers on 64-bit Linux is 8 KiB (a header and one 64-byte
# slot per reader, rounded up to a page); allocating more is harmless (LMDB then allows more readers).
LMDB_LOCK_FILE_BYTES = 8192
# After LMDB reports EIO from a write, a file system with less than this free is taken to be full
# (LMDB turns a short write, which is how ENOSPC shows on a partial page flush, into EIO).
NEARLY_FULL_BYTES = 1024 * 1024
DATABASES = (b"meta", b"blocks", b"block_hashes", b"transactions", b"accounts", b"records", b"record_history",
             b"txindex")

_U64 = struct.Struct(">Q")
_U32 = struct.Struct(">I")
_LOCATION = struct.Struct(">QI")
_ACCOUNT = struct.Struct(">QQ")


class MapFull(Exception):
    """A commit needs a larger map; nothing of it was written."""


Wait = Union[bool, Callable[[str], None]]


def _nearly_full(path: str) -> bool:
    try:
        stats = os.statvfs(path)
    except OSError:
        return False
    return stats.f_bavail * stats.f_frsize < NEARLY_FULL_BYTES


def on_read_only_media(path: str | os.PathLike) -> bool:
    """True when the folder cannot be written: a read-only mount, or no write permission."""
    path = os.fspath(path)
    try:
        if os.statvfs(path).f_flag & os.ST_RDONLY:
            return True
    except OSError:
        return False
    return not os.access(path, os.W_OK)


# What a caller outside this module catches for a failure of the store's engine that no LedgerError names.
StoreError = lmdb.Error


def lmdb_fault(error: lmdb.Error, path: str) -> EnvironmentFault:
    """One sentence for an LMDB failure on the store at `path`."""
    if isinstance(error, lmdb.DiskError):
        return EnvironmentFault(DISK_FULL, f"no space left on the file system holding {path}")
    if isinstance(error, lmdb.ReadonlyError):
        return EnvironmentFault(READ_ONLY, f"the store at {path} is open read-only")
    if isinstance(error, (lmdb.InvalidError, lmdb.VersionMismatchError, lmdb.IncompatibleError)):
        return EnvironmentFault(NOT_A_STORE, f"{path} is not a ledger store (its data.mdb is not a ledger LMDB file)")
    if isinstance(error, (lmdb.CorruptedError, lmdb.PageNotFoundError, lmdb.PanicError)):
        return EnvironmentFault(IO_ERROR, f"the store at {path} is damaged ({error})")
    if "Input/output error" in str(error) and _nearly_full(path):
        return EnvironmentFault(DISK_FULL, f"no space left on the file system holding {path}")
    if "Read-only file system" in str(error) or "Permission denied" in str(error):
        return EnvironmentFault(READ_ONLY, f"the store at {path} cannot be written ({error})")
    return EnvironmentFault(IO_ERROR, f"the store at {path} failed: {error}")


def _command_line() -> str:
    words = [os.path.basename(sys.argv[0] or "python")] + sys.argv[1:] if sys.argv else ["python"]
    return " ".join(words)[:200]


class WriterLock:
    """The store folder's writer lock: an exclusive flock on writer.lock, naming its holder.
    Re-entrant within one Store (any thread: a committer thread writes for its importer)."""

    def __init__(self, folder: str):
        self._folder = folder
        self._path = os.path.join(folder, WRITER_LOCK_FILE)
        self._mutex = threading.Lock()
        self._fd: int | None = None
        self._depth = 0

    @property
    def held(self) -> bool:
        return self._depth > 0

    def holder(self) -> str:
        """Who holds the lock, as a phrase ("process 123 (ledger import …)")."""
        try:
            with open(self._path) as handle:
                text = handle.read().strip()
        except OSError:
            text = ""
        pid, _, command = text.partition(" ")
        if not pid.isdigit():
            return "another process"
        return f"process {pid} ({command})" if command else f"process {pid}"

    def acquire(self, wait: Wait = False) -> None:
        with self._mutex:
            if self._depth:
                self._depth += 1
                return
            try:
                fd = os.open(self._path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
            except OSError as error:
                raise fault_from_os_error(error, self._folder) from None
            try:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    holder = self.holder()
                    if not wait:
                        raise EnvironmentFault(STORE_LOCKED, f"the store at {self._folder} is being written by "
                                               f"{holder}; wait for it to finish, or use --wait") from None
                    if callable(wait):
                        wait(f"waiting for {holder} to finish writing the store at {self._folder}")
                    fcntl.flock(fd, fcntl.LOCK_EX)
                os.ftruncate(fd, 0)
                os.pwrite(fd, f"{os.getpid()} {_command_line()}\n".encode("utf-8", "replace"), 0)
            except OSError as error:
                os.close(fd)
                raise fault_from_os_error(error, self._folder) from None
            except BaseException:
                os.close(fd)
                raise
            self._fd = fd
            self._depth = 1

    def release(self) -> None:
        with self._mutex:
            if not self._depth:
                return
            self._depth -= 1
            if self._depth:
                return
            fd, self._fd = self._fd, None
            try:
                os.ftruncate(fd, 0)   # no holder to name
            except OSError:
                pass
            os.close(fd)              # closing drops the flock

    @contextmanager
    def hold(self, wait: Wait = False):
        self.acquire(wait)
        try:
            yield self
        finally:
            self.release()


# LMDB allows one environment per data file per process (a second open and close drops the first
# one's locks). The stores this process has open, by (device, inode) of their folder.
_open_stores: dict[tuple[int, int], str] = {}
_open_stores_mutex = threading.Lock()


def _folder_identity(path: str) -> tuple[int, int]:
    status = os.stat(path)
    return status.st_dev, status.st_ino


def _claim(path: str) -> tuple[int, int]:
    identity = _folder_identity(path)
    with _open_stores_mutex:
        if identity in _open_stores:
            raise EnvironmentFault(ALREADY_OPEN, f"the store at {path} is already open in this process; "
                                   "use that Ledger (LMDB allows one per process)")
        _open_stores[identity] = path
    return identity


def _unclaim(identity: tuple[int, int] | None) -> None:
    with _open_stores_mutex:
        _open_stores.pop(identity, None)


def _is_open_here(path: str) -> bool:
    try:
        identity = _folder_identity(path)
    except OSError:
        return False
    with _open_stores_mutex:
        return identity in _open_stores


def _undo_open(env: lmdb.Environment | None, identity: tuple[int, int] | None, error: BaseException,
               path: str) -> BaseException:
    """Undo a half-made create or open, and say what failed: LMDB and OS errors become the
    environment fault they are; anything else is raised as it is."""
    if env is not None:
        env.close()
    _unclaim(identity)
    if isinstance(error, lmdb.Error):
        return lmdb_fault(error, path)
    if isinstance(error, OSError):
        return fault_from_os_error(error, path)
    return error


def _preallocate_lock_file(path: str) -> None:
    """Give lock.mdb real blocks before LMDB maps it (see the module notes: SIGBUS when full)."""
    fd = os.open(os.path.join(path, "lock.mdb"), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        status = os.fstat(fd)
        size = max(status.st_size, LMDB_LOCK_FILE_BYTES)
        # Skip a file already backed (the usual case): where the file system lacks fallocate,
        # glibc emulates it by writing bytes, which must not race with LMDB's own writes.
        if status.st_blocks * 512 < size:
            os.posix_fallocate(fd, 0, size)
    finally:
        os.close(fd)


@dataclass(frozen=True, slots=True)
class PendingBlock:
    """A validated block ready to commit, with what it changes."""
    height: int
    hash: bytes
    data: bytes
    changes: BlockChanges
    tip: Tip


def _open_databases(env: lmdb.Environment, txn: lmdb.Transaction | None, read_only: bool) -> dict:
    """Handles of the sub-databases. A read-only open of a store made before the txid index lacks
    `txindex` (and cannot create it): it reads as empty."""
    dbs = {}
    for name in DATABASES:
        try:
            dbs[name] = env.open_db(name, txn=txn, create=not read_only)
        except lmdb.NotFoundError:
            if name != b"txindex":
                raise
    return dbs


def _history_prefix(owner: bytes, key: bytes) -> bytes:
    return owner + bytes([len(key)]) + key


class Snapshot:
    """A consistent read-only view of the store (one LMDB read transaction)."""

    def __init__(self, store: "Store"):
        self._open = False
        self._store = store
        store._check_open()
        store._readers.enter()
        try:
            self._txn = store._env.begin(buffers=False)
        except lmdb.Error as error:
            store._readers.leave()
            raise lmdb_fault(error, store.path) from None
        except BaseException:
            store._readers.leave()
            raise
        self._dbs = store._dbs
        self._index_state: txindex.IndexState | None = None
        self._open = True

    def close(self) -> None:
        if self._open:
            self._open = False
            if not self._store.closed:    # closing the environment ended every transaction
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
        return self.tx_location(txid) is not None

    def read_accounts(self, keys: list[bytes]) -> list[tuple[bytes, int, int]]:
        """(key, balance, nonce) of the stored accounts among `keys` (sorted): one cursor pass."""
        found = self._txn.cursor(db=self._dbs[b"accounts"]).getmulti(keys)
        return [(key, *_ACCOUNT.unpack(raw)) for key, raw in found]

    def account_count(self) -> int:
        return self._txn.stat(self._dbs[b"accounts"])["entries"]

    def tip(self) -> Tip:
        """The tip record, checked against the chain's version: a version-2 tip carries the history
        frontier of its height + 1 leaves, a version-1 tip none (else the store is damaged)."""
        version = self.chain_version()
        try:
            tip = _unpack_tip(self._get(b"meta", b"tip"))
        except (ValueError, TypeError):
            tip = None
        if tip is None or (tip.history is None) != (version == 1) or \
                (tip.history is not None and tip.history.size != tip.height + 1):
            raise EnvironmentFault(IO_ERROR, f"the store at {self._store.path} is damaged (its tip record does not "
                                             f"fit a version-{version} chain)")
        return tip

    def iter_accounts_packed(self, chunk: int = 65_536) -> Iterator[bytes]:
        """Every stored account in key order, packed key || balance || nonce (48 bytes each, the
        layout block_rules.c lists), at most `chunk` accounts per piece."""
        parts: list[bytes] = []
        for key, value in self._txn.cursor(db=self._dbs[b"accounts"]):
            parts.append(key + value)
            if len(parts) >= chunk:
                yield b"".join(parts)
                parts = []
        if parts:
            yield b"".join(parts)

    def iter_records(self) -> Iterator[tuple[bytes, bytes, bytes]]:
        """(owner, key, latest value) of every record ever written."""
        for item_key, raw in self._txn.cursor(db=self._dbs[b"records"]):
            yield item_key[:32], item_key[32:], raw[_LOCATION.size:]

    def genesis_bytes(self) -> bytes:
        return self._get(b"meta", b"genesis")

    def chain_id(self) -> bytes:
        return self._get(b"meta", b"chain_id")

    def chain_version(self) -> int:
        """The chain's format version (its genesis version, FORMAT.md §4), which every stored block
        is decoded as; read from the genesis once per open store (it never changes)."""
        store = self._store
        if store._chain_version is None:
            store._chain_version = decode_genesis(self.genesis_bytes()).version
        return store._chain_version

    def tx_count(self) -> int:
        return _U64.unpack(self._get(b"meta", b"tx_count"))[0]

    def block_bytes(self, height: int) -> bytes | None:
        return self._get(b"blocks", _U64.pack(height))

    def height_of(self, block_hash: bytes) -> int | None:
        raw = self._get(b"block_hashes", block_hash)
        return None if raw is None else _U64.unpack(raw)[0]

    def tx_location(self, txid: bytes) -> tuple[int, int] | None:
        """Where `txid` is stored: the legacy index, the txid index's runs, then the blocks above
        the index's marker (hashed natively; at most what the indexer has not written yet)."""
        raw = self._get(b"transactions", txid)
        if raw is not None:
            return _LOCATION.unpack(raw)
        state = self.txindex_state()
        index_db = self._dbs.get(b"txindex")
        if index_db is not None:
            location = txindex.lookup(lambda key: self._txn.get(key, db=index_db), state, txid)
            if location is not None:
                return location
        return txindex.scan_blocks(self.iter_blocks(state.height + 1, self.tip().height), txid, self.chain_version())

    def txindex_state(self) -> txindex.IndexState:
        """The txid index's marker and runs. A store made before the index has none: its legacy
        `transactions` database is complete up to the tip, so the marker is the tip."""
        if self._index_state is None:
            raw = self._get(b"meta", txindex.STATE_KEY)
            self._index_state = txindex.IndexState(self.tip().height) if raw is None else txindex.IndexState.unpack(raw)
        return self._index_state

    def txindex_cursor(self):
        return self._txn.cursor(db=self._dbs[b"txindex"])

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
            # A thread that already holds a snapshot must not wait: the resize waits for it to
            # close that snapshot, so both would wait for ever (an index merge reads, then writes).
            while self._resizing and not getattr(self._local, "held", 0):
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

    def __init__(self, env: lmdb.Environment, path: str, identity: tuple[int, int] | None, read_only: bool = False,
                 wait: Wait = False, txn: lmdb.Transaction | None = None):
        self._env = env
        self.path = path
        self.read_only = read_only
        self.wait = wait
        self.writer = WriterLock(path)
        self.closed = False
        self._identity = identity
        self._dbs = _open_databases(env, txn, read_only)
        self._readers = _ReaderGate()
        self.indexer: txindex.Indexer | None = None
        self._chain_version: int | None = None   # the genesis version, once a snapshot has read it

    @staticmethod
    def _open_env(path: str, map_size: int, read_only: bool = False) -> lmdb.Environment:
        if read_only:
            # Without the lock file, which read-only media cannot hold (nor a read-only open create).
            return lmdb.open(path, map_size=map_size, max_dbs=len(DATABASES), subdir=True, readonly=True,
                             lock=False, readahead=False, create=False)
        _preallocate_lock_file(path)
        return lmdb.open(path, map_size=map_size, max_dbs=len(DATABASES), subdir=True, sync=True, metasync=True,
                         readahead=False, lock=True)

    @classmethod
    def exists(cls, path: str | os.PathLike) -> bool:
        """True when `path` holds a ledger store (an environment with a genesis)."""
        path = os.fspath(path)
        if not os.path.isfile(os.path.join(path, "data.mdb")):
            return False
        if _is_open_here(path):
            return True
        try:
            env = cls._open_env(path, 1024 * 1024, on_read_only_media(path))
        except (lmdb.Error, OSError):
            return False
        try:
            return cls._has_genesis(env)
        except lmdb.Error:
            return False
        finally:
            env.close()

    @classmethod
    def create(cls, path: str | os.PathLike, genesis: bytes, chain_id: bytes, tip: Tip,
               accounts: dict[bytes, Account], map_size: int = MAP_SIZE_INITIAL, wait: Wait = False,
               writer: bool = False) -> "Store":
        """Create a store in a new or empty folder (or over an environment a crashed create left
        empty). With `writer`, the returned store keeps the writer lock until closed."""
        path = os.fspath(path)
        try:
            os.makedirs(path, exist_ok=True)
            foreign = sorted(set(os.listdir(path)) - STORE_FILES)
        except OSError as error:
            raise fault_from_os_error(error, path) from None
        if foreign:
            raise EnvironmentFault(NOT_A_STORE, f"{path} is not empty and holds no ledger store "
                                   f"(it holds {foreign[0]!r}); give a new or empty folder")
        identity = _claim(path)
        env = None
        try:
            env = cls._open_env(path, map_size)
            if not cls._has_genesis(env):
                with env.begin() as txn:
                    if txn.stat()["entries"]:
                        raise EnvironmentFault(NOT_A_STORE, f"{path} holds another program's LMDB store, not a "
                                               "ledger store; give a new or empty folder")
            writer_lock = WriterLock(path)
            writer_lock.acquire(wait)
            try:
                if cls._has_genesis(env):   # checked again under the lock: another process may have won
                    raise LedgerError(STORE_EXISTS, f"a store already exists at {path}")
                # Sub-databases and the genesis are created in one write transaction, so a crash leaves
                # either no store or a whole one (an environment without a genesis is created over).
                with env.begin(write=True) as txn:
                    store = cls(env, path, identity, wait=wait, txn=txn)
                    meta = store._dbs[b"meta"]
                    txn.put(b"format", _U32.pack(STORE_FORMAT), db=meta)
                    txn.put(b"genesis", genesis, db=meta)
                    txn.put(b"chain_id", chain_id, db=meta)
                    txn.put(b"tx_count", _U64.pack(0), db=meta)
                    txn.put(b"tip", _pack_tip(tip), db=meta)
                    txn.put(txindex.STATE_KEY, txindex.IndexState(tip.height).pack(), db=meta)
                    for key, account in accounts.items():
                        txn.put(key, _ACCOUNT.pack(account.balance, account.nonce), db=store._dbs[b"accounts"])
            except BaseException:
                writer_lock.release()
                raise
            store.writer = writer_lock
            if not writer:
                writer_lock.release()
            return store
        except BaseException as error:
            failure = _undo_open(env, identity, error, path)
            if failure is error:
                raise
            raise failure from None

    @staticmethod
    def _has_genesis(env: lmdb.Environment) -> bool:
        with env.begin() as txn:
            meta = txn.get(b"meta")   # the main database lists the named sub-databases
            if meta is None:
                return False
        with env.begin() as txn:
            return txn.get(b"genesis", db=env.open_db(b"meta", txn=txn, create=False)) is not None

    @classmethod
    def open(cls, path: str | os.PathLike, map_size: int = MAP_SIZE_INITIAL, read_only: bool = False,
             wait: Wait = False, writer: bool = False) -> "Store":
        """Open an existing store. `read_only` (also chosen by itself on read-only media) opens it
        without LMDB's lock file and refuses writes; `writer` takes the writer lock now and keeps it
        until close; `wait` says what a write does when another process holds that lock."""
        path = os.fspath(path)
        if not os.path.isfile(os.path.join(path, "data.mdb")):
            try:
                foreign = sorted(set(os.listdir(path)) - STORE_FILES)
            except OSError:
                foreign = []
            if foreign:
                raise EnvironmentFault(NOT_A_STORE, f"{path} is not a ledger store (it holds no data.mdb)")
            raise LedgerError(WRONG_GENESIS, f"no ledger store at {path}")
        read_only = read_only or on_read_only_media(path)
        identity = _claim(path)
        env = None
        try:
            env = cls._open_env(path, map_size, read_only)   # LMDB keeps the file's own size if that is larger
            try:
                is_store = cls._has_genesis(env)
            except lmdb.IncompatibleError:
                is_store = False
            if not is_store:
                raise EnvironmentFault(NOT_A_STORE, f"{path} is an LMDB environment but not a ledger store")
            store = cls(env, path, identity, read_only, wait)
            if not read_only:
                store._mark_legacy_index()
            if writer:
                store.acquire_writer(wait)
            return store
        except BaseException as error:
            failure = _undo_open(env, identity, error, path)
            if failure is error:
                raise
            raise failure from None

    def _mark_legacy_index(self) -> None:
        """A store made before the txid index holds every id in `transactions` and no marker: its
        index is complete up to its tip, which becomes the marker before any block is added."""
        meta = self._dbs[b"meta"]
        with self._env.begin() as txn:
            if txn.get(txindex.STATE_KEY, db=meta) is not None:
                return
        with self._env.begin(write=True) as txn:
            if txn.get(txindex.STATE_KEY, db=meta) is None:
                height = msgpack.unpackb(txn.get(b"tip", db=meta))[0]
                txn.put(txindex.STATE_KEY, txindex.IndexState(height).pack(), db=meta)

    def start_indexer(self) -> None:
        """Index committed blocks in a background thread (ledger/txindex.py) until close."""
        self._check_writable()
        if self.indexer is None:
            self.indexer = txindex.Indexer(self)
            self.indexer.start()

    def stop_indexer(self, flush: bool = True) -> None:
        """Stop the indexer; with `flush`, it first indexes every stored block it can."""
        indexer, self.indexer = self.indexer, None
        if indexer is not None:
            indexer.close(flush)

    def write_index(self, work, grow_map: bool = True) -> bool:
        """Run `work(txn, meta_db, txindex_db)` in one write transaction for the txid indexer,
        under the writer lock if it is free (False, nothing written, when another process holds
        it). The transaction counts as an open snapshot, so the map is not remapped under it."""
        try:
            self.writer.acquire(False)
        except EnvironmentFault as error:
            if error.code == STORE_LOCKED:
                return False
            raise
        try:
            while True:
                self._readers.enter()
                try:
                    with self._env.begin(write=True) as txn:
                        work(txn, self._dbs[b"meta"], self._dbs[b"txindex"])
                    return True
                except lmdb.MapFullError:
                    if not grow_map:
                        raise MapFull() from None
                except lmdb.Error as error:
                    raise lmdb_fault(error, self.path) from None
                finally:
                    self._readers.leave()
                self.grow_map()
        finally:
            self.writer.release()

    def _check_open(self) -> None:
        if self.closed:
            raise ValueError("this ledger store is closed")

    def _check_writable(self) -> None:
        self._check_open()
        if self.read_only:
            raise EnvironmentFault(READ_ONLY, f"the store at {self.path} is open read-only (read-only media or "
                                   "read_only=True); it cannot be written")

    def acquire_writer(self, wait: Wait | None = None) -> None:
        """Take the writer lock (re-entrant); release it with release_writer()."""
        self._check_writable()
        self.writer.acquire(self.wait if wait is None else wait)

    def release_writer(self) -> None:
        self.writer.release()

    @contextmanager
    def writing(self, wait: Wait | None = None):
        """Hold the writer lock for a read-validate-commit step."""
        self.acquire_writer(wait)
        try:
            yield
        finally:
            self.release_writer()

    def close(self) -> None:
        if self.closed:
            return
        self.stop_indexer()
        self.closed = True
        self._env.close()
        while self.writer.held:
            self.writer.release()
        _unclaim(self._identity)

    def release_pages(self) -> bool:
        """Unmap and map the environment again, so the file pages this process has touched stop
        counting in its resident set (they stay in the page cache). Random-key indexes (ids,
        accounts) make a long import touch the whole file; doing this between commit groups keeps
        resident memory flat in chain length. Skipped (returns False) while a snapshot is open."""
        def remap() -> None:
            path, map_size = self._env.path(), self.map_size
            self._env.close()
            self._env = self._open_env(path, map_size, self.read_only)
            self._dbs = _open_databases(self._env, None, self.read_only)
        return self._readers.if_idle(remap)

    def snapshot(self) -> Snapshot:
        return Snapshot(self)

    @property
    def map_size(self) -> int:
        return self._env.info()["map_size"]

    def grow_map(self) -> None:
        """Double the map (waits until no snapshot is open in another thread)."""
        self._readers.resize(lambda: self._env.set_mapsize(self.map_size * MAP_SIZE_GROWTH_FACTOR))

    def _write(self, work, grow_map: bool = True) -> None:
        """Run `work(txn)` in one write transaction; on a full map, grow it and run it again (or,
        with grow_map=False, raise MapFull for a caller that must first close its snapshots)."""
        with self.writing():
            while True:
                try:
                    with self._env.begin(write=True) as txn:
                        work(txn)
                    return
                except lmdb.MapFullError:
                    if not grow_map:
                        raise MapFull() from None
                    self.grow_map()
                except lmdb.Error as error:
                    raise lmdb_fault(error, self.path) from None

    def commit(self, blocks: Sequence[PendingBlock], grow_map: bool = True, accounts: bytes | None = None) -> None:
        """Store a group of validated, consecutive blocks in one durable write transaction.
        `accounts`: the group's final accounts, sorted and packed (key || balance || nonce, 48 bytes
        each), when the caller has them (the native account cache); else taken from each block's changes."""
        if not blocks:
            return
        dbs = self._dbs

        # Ids are not written here: the txid indexer (ledger/txindex.py) reads them from the blocks
        # off the critical path. Each account is written once per group, in key order: putmulti
        # is one C loop, and sorted inserts keep the B-tree walk on pages just visited.
        transactions = sum(block.changes.tx_count for block in blocks)
        if accounts is not None:
            account_items = [(accounts[i:i + 32], accounts[i + 32:i + 48]) for i in range(0, len(accounts), 48)]
        else:
            latest: dict[bytes, bytes] = {}
            for block in blocks:
                for key, account in block.changes.accounts.items():
                    latest[key] = _ACCOUNT.pack(account.balance, account.nonce)
            account_items = sorted(latest.items())

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
            txn.cursor(db=dbs[b"accounts"]).putmulti(account_items)
            txn.put(b"tx_count", _U64.pack(tx_count + transactions), db=dbs[b"meta"])
            txn.put(b"tip", _pack_tip(blocks[-1].tip), db=dbs[b"meta"])

        self._write(write, grow_map)
        if self.indexer is not None:
            self.indexer.notify()


def _pack_tip(tip: Tip) -> bytes:
    fields = [tip.height, tip.hash, tip.time_ms, tip.state_commitment]
    if tip.history is not None:
        fields.append(tip.history.to_list())
    return msgpack.packb(fields, use_bin_type=True)


def _unpack_tip(raw: bytes) -> Tip:
    """A tip record: 4 fields (version 1, and every store made before version 2), or 5 (version 2)."""
    fields = msgpack.unpackb(raw)
    height, block_hash, time_ms, commitment = fields[:4]
    history = Frontier.from_list(fields[4]) if len(fields) > 4 else None
    return Tip(height, block_hash, time_ms, commitment, history)
