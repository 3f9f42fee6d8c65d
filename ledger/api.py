"""Ledger: the embedding API. It wires the pieces in one direction:
bytes -> codec (decode) -> validate (verify, apply) -> storage (commit).

Specification: none beyond docs/FORMAT.md.
"""
from __future__ import annotations

import os
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable, Iterable

from ledger import limits, merkle, state_proofs, state_tree
from ledger.assume_valid import AssumedValid, AssumeValidLookup, locate
from ledger.builder import BlockBuilder
from ledger.chainfile import ChainReader, ChainWriter
from ledger.codec import (
    Block, Genesis, Transaction, decode_block, decode_genesis, encode_block, encode_genesis, encode_header,
    encode_transaction,
)
from ledger.checkpoint import NOT_VALIDATOR, Note, default_origin, make_checkpoint, sign_checkpoint
from ledger.codec import decode_header
from ledger.errors import BAD_ENCODING
from ledger.errors import (
    BAD_STATE_COMMITMENT, BAD_STATE_ROOT, BAD_VERSION, NOT_FOUND, RECORD_TOO_LARGE, STORE_EXISTS, WRONG_GENESIS,
    LedgerError, fault_from_os_error,
)
from ledger.importer import ImportProgress, Importer, ProgressCallback
from ledger.keys import Keypair
from ledger.native_rules import (
    ACCOUNT_CACHE_ENTRIES, AccountCache, NativeRules, decode_block_compact, native_enabled, unpack_accounts,
)
from ledger.pipeline import Pipeline
from ledger.proofs import TxProof
from ledger.state import (
    Account, BlockChanges, MemoryState, Tip, apply_to_tree, apply_transactions, genesis_accounts, root_after,
)
from ledger.state_proofs import AccountProof, HistoryProof, RecordProof, StateProof
from ledger.storage import MAP_SIZE_INITIAL, PendingBlock, Snapshot, Store, Wait
from ledger.validate import Chain, check_block

# Validation reads this many blocks per segment, releasing the store's touched pages after each.
VALIDATE_SEGMENT_BLOCKS = 64
HEIGHT_MAX = 2**64 - 1


def _bytes_argument(value: object, name: str) -> bytes:
    """The API takes keys, ids and hashes as bytes; say so at the call that passes something else."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    hint = " (use bytes.fromhex for hex text)" if isinstance(value, str) else ""
    raise TypeError(f"{name} must be bytes, not {type(value).__name__}{hint}")


def _block_hash(block: bytes, height: int, version: int) -> bytes:
    """The block hash of a stored block, from its header alone (the first field of the block array)."""
    import msgpack

    unpacker = msgpack.Unpacker(raw=True)
    unpacker.feed(block)
    try:
        unpacker.read_array_header()
        start = unpacker.tell()
        unpacker.skip()
    except (ValueError, msgpack.UnpackException) as error:
        raise LedgerError(BAD_ENCODING, f"the stored block's header does not decode: {error}", height) from None
    try:
        return decode_header(block[start:unpacker.tell()], version).hash
    except LedgerError as error:
        raise error.at(height) from None


@dataclass(frozen=True, slots=True)
class TxInfo:
    height: int
    index: int
    transaction: Transaction


@dataclass(frozen=True, slots=True)
class RecordInfo:
    owner: bytes
    key: bytes
    value: bytes
    height: int
    index: int
    history: tuple[tuple[int, int, bytes], ...]   # (height, tx index, value), oldest first


@dataclass(frozen=True, slots=True)
class ValidationReport:
    start: int
    end: int
    blocks: int
    transactions: int


class Ledger:
    """One chain in an LMDB folder. Use `Ledger.create` or `Ledger.open`, ideally in a `with`.

    Writes (append, import) take the store's writer lock for their duration, so one process writes
    at a time; `wait` says whether a write blocks while another process holds it (False: raise
    EnvironmentFault `store-locked` naming the holder; True: wait; a function: called once with a
    sentence naming the holder, then wait). `writer=True` takes the lock at open and keeps it until
    close (for a read-then-append step such as building a block). A store opened `read_only` (also
    chosen by itself on read-only media) reads without LMDB's lock file and refuses writes.
    One store can be open once per process (LMDB's rule); a second open raises `already-open`.
    """

    def __init__(self, store: Store, genesis: Genesis, genesis_bytes: bytes):
        self._store = store
        self._write_mutex = threading.RLock()   # threads of this process write one at a time too
        self.genesis = genesis
        self.genesis_bytes = genesis_bytes
        self.chain = Chain.from_genesis(genesis)
        # The bound of the import's cache of accounts (ledger.native_rules), in entries.
        self.account_cache_entries = ACCOUNT_CACHE_ENTRIES
        # Version 2: the state tree (ledger.state_tree) at `_tree_tip`, derived from the stored
        # accounts and records when first needed, then kept up to date by this Ledger's writes;
        # None until then, and again after a write whose commit may have failed (rebuilt from the store).
        self._tree = None
        self._tree_tip: Tip | None = None
        if not store.read_only:
            store.start_indexer()   # the txid index is built in the background (ledger/txindex.py)

    # ------------------------------------------------------------ lifecycle

    @classmethod
    def create(cls, path: str | os.PathLike, genesis: Genesis | bytes, map_size: int = MAP_SIZE_INITIAL, *,
               wait: Wait = False, writer: bool = False) -> "Ledger":
        """Create a new store at `path` (a new or empty folder) holding `genesis` (a Genesis or its
        canonical bytes). `map_size` is the initial LMDB map size in bytes; it doubles by itself when
        full. `wait` and `writer` as for the class."""
        genesis_bytes = genesis if isinstance(genesis, bytes) else encode_genesis(genesis)
        decoded = decode_genesis(genesis_bytes)
        chain = Chain.from_genesis(decoded)
        store = Store.create(path, genesis_bytes, chain.chain_id, chain.genesis_tip(), genesis_accounts(decoded),
                             map_size, wait, writer)
        return cls(store, decoded, genesis_bytes)

    @classmethod
    def open(cls, path: str | os.PathLike, genesis: Genesis | bytes | None = None,
             map_size: int = MAP_SIZE_INITIAL, *, read_only: bool = False, wait: Wait = False,
             writer: bool = False) -> "Ledger":
        """Open an existing store; if `genesis` is given, the store must hold that chain.
        `read_only`, `wait` and `writer` as for the class."""
        store = Store.open(path, map_size, read_only, wait, writer)
        try:
            with store.snapshot() as snap:
                genesis_bytes = snap.genesis_bytes()
                stored_chain_id = snap.chain_id()
            decoded = decode_genesis(genesis_bytes)
            if decoded.chain_id != stored_chain_id:
                raise LedgerError(WRONG_GENESIS, "the stored genesis does not hash to the stored chain id")
            if genesis is not None:
                expected = genesis if isinstance(genesis, bytes) else encode_genesis(genesis)
                if expected != genesis_bytes:
                    raise LedgerError(WRONG_GENESIS, f"the store at {os.fspath(path)} holds another chain")
        except BaseException:
            store.close()
            raise
        return cls(store, decoded, genesis_bytes)

    @classmethod
    def open_or_create(cls, path: str | os.PathLike, genesis: Genesis | bytes, *, wait: Wait = False,
                       writer: bool = False) -> "Ledger":
        """Open the store at `path` holding `genesis`, creating it if `path` is new or empty."""
        if not Store.exists(path):
            try:
                return cls.create(path, genesis, wait=wait, writer=writer)
            except LedgerError as error:
                if error.code != STORE_EXISTS:   # another process created it meanwhile: open it
                    raise
        return cls.open(path, genesis, wait=wait, writer=writer)

    @property
    def read_only(self) -> bool:
        return self._store.read_only

    @contextmanager
    def writer(self, wait: Wait | None = None):
        """Hold the writer lock for a span of work (e.g. build a block, then append it), so no
        other process writes in between. `wait` defaults to the one given at open."""
        with self._write_mutex, self._store.writing(wait):
            yield self

    def close(self) -> None:
        """Close the store (and release the writer lock). Any later call raises ValueError."""
        self._store.close()

    def __enter__(self) -> "Ledger":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ------------------------------------------------------------ chain facts

    @property
    def chain_id(self) -> bytes:
        return self.chain.chain_id

    @property
    def tip(self) -> Tip:
        with self._store.snapshot() as snap:
            return snap.tip()

    @property
    def height(self) -> int:
        return self.tip.height

    def info(self) -> dict:
        with self._store.snapshot() as snap:
            tip = snap.tip()
            return {
                "chain_id": self.chain_id.hex(),
                "name": self.genesis.name,
                "height": tip.height,
                "tip_hash": tip.hash.hex(),
                "tip_time_ms": tip.time_ms,
                "tx_count": snap.tx_count(),
                # the header's state field: version 1's commitment chain (§7.1), version 2's state root (§7.2)
                ("state_commitment" if self.chain.version == 1 else "state_root"): tip.state_commitment.hex(),
                "format_version": self.chain.version,
                "validators": len(self.genesis.validators),
                "issuers": len(self.genesis.issuers),
            }

    # ------------------------------------------------------------ writing

    def builder(self, proposer: Keypair) -> BlockBuilder:
        """A builder for the block after the current tip. It reads committed state as it goes (no
        snapshot is held); `append` re-validates everything, so a block built on a tip that moved
        meanwhile is refused, never stored."""
        state_root = self._state_root_after if self.chain.genesis.version == 2 else None
        return BlockBuilder(self.chain, self.tip, _StoreReader(self._store), proposer, state_root=state_root)

    # ------------------------------------------------------------ the version-2 state tree

    def _state_tree(self):
        """The state tree at the store's tip (version 2): built on first need from the stored
        accounts and records (its root checked against the tip's state root), then kept up to date
        by this Ledger's writes, and rebuilt if another process wrote since. Hold `_write_mutex`
        while using it, so no write of this process moves it meanwhile."""
        with self._write_mutex, self._store.snapshot() as snap:
            return self._tree_at(snap, snap.tip())

    def _tree_at(self, snap: Snapshot, tip: Tip):
        if self.chain.genesis.version != 2:
            raise LedgerError(BAD_VERSION, "a version-1 chain has no state tree (its headers carry a commitment chain)")
        # The kept tree is the store's only if it also gives the tip's root (a cached copy: free).
        # A write interrupted between the tree taking a block and the tip moving (Ctrl-C, a failed
        # revert, an exception in an import's group commit) leaves it ahead of the store: rebuild.
        if self._tree is not None and self._tree_tip == tip and self._tree.root() == tip.state_commitment:
            return self._tree
        self._tree = self._tree_tip = None
        tree = _tree_of_tables(snap)
        if tree.root() != tip.state_commitment:
            raise LedgerError(BAD_STATE_ROOT, f"the store's accounts and records give the state root "
                              f"{tree.root().hex()}, not the tip's {tip.state_commitment.hex()}: the store is "
                              "damaged", tip.height)
        self._tree, self._tree_tip = tree, tip
        return tree

    def _state_root_after(self, tip: Tip, changes: BlockChanges) -> bytes:
        """The state root after `changes` over the stored state (a builder's block; the tree is
        left as it was). The builder's tip may be behind the store's: append then refuses the block."""
        with self._write_mutex:
            return root_after(self._state_tree(), changes)

    def append(self, block: Block | bytes) -> Block:
        """Validate and durably store one block; on any error nothing is written."""
        data = block if isinstance(block, bytes) else encode_block(block)
        with self._write_mutex, self._store.writing():
            with self._store.snapshot() as snap:
                tip = snap.tip()
                tree = self._tree_at(snap, tip) if tip.history is not None else None
                if native_enabled():
                    try:
                        compact, records, root = decode_block_compact(data, self.chain.version)
                    except LedgerError as error:
                        raise error.at(tip.height + 1) from None
                    rules = NativeRules(self.chain, AccountCache(), tree)
                    changes, new_tip = rules.check(tip, compact, None, root, snap.read_accounts,
                                                   snap.has_transaction, records)
                    accounts = changes.accounts_packed
                    self._tree = None   # it holds the block now: until the commit is durable, it is not the store's
                else:
                    try:
                        decoded = decode_block(data, self.chain.version)
                    except LedgerError as error:
                        raise error.at(tip.height + 1) from None
                    changes, new_tip = check_block(self.chain, tip, snap, decoded, tree=tree)
                    accounts = None
            self._store.commit([PendingBlock(new_tip.height, new_tip.hash, data, changes, new_tip)], accounts=accounts)
            if tree is not None:
                if accounts is None:   # the readable twin left the tree at the old tip
                    apply_to_tree(tree, changes)
                self._tree, self._tree_tip = tree, new_tip
        return decoded if accounts is None else decode_block(data, self.chain.version)

    def import_blocks(self, blocks: Iterable[tuple[int, bytes]], progress: ProgressCallback | None = None,
                      threads: int | None = None, assume_valid: AssumedValid | None = None) -> ImportProgress:
        """Import (height, bytes) pairs in order. Blocks already stored are skipped when identical and
        are an error when different. Decoding, signature verification (batched across blocks, on
        `threads` threads; None = every core), state rules and durable group commits overlap
        (ledger.pipeline, ledger.importer). At the first invalid block the blocks before it are
        committed and the error is raised: the same error one `append` per block would give.
        `progress` is called after each durable commit. `assume_valid` (from `assume_valid_lookup`):
        signatures of blocks up to its height are not verified (see import_chain)."""
        with self._write_mutex, self._store.writing():
            tree = None
            if self.chain.genesis.version == 2:
                with self._store.snapshot() as snap:
                    tree = self._tree_at(snap, snap.tip())
                # The importer moves the tree with the blocks it accepts, ahead of their commits:
                # it is the store's again only if the store ends at the importer's tip (below).
                self._tree = None
            importer = Importer(self._store, self.chain, progress, assume_valid, self.account_cache_entries, tree)
            try:
                return importer.run(blocks, threads)
            finally:
                if tree is not None:
                    with self._store.snapshot() as snap:
                        stored = snap.tip()
                    if stored == importer.tip:
                        self._tree, self._tree_tip = tree, stored

    def assume_valid_lookup(self, stream, block_hash: bytes) -> AssumeValidLookup:
        """The first pass of `--assume-valid` over a chain file `stream` positioned at its first
        block (as ChainReader leaves it): where `block_hash` is on the chain the file holds, or a
        one-line note why every signature will be verified (not found, or a pipe)."""
        block_hash = _bytes_argument(block_hash, "assume_valid")
        if len(block_hash) != 32:
            raise ValueError(f"assume_valid is a 32-byte block hash, not {len(block_hash)} bytes")
        return locate(stream, block_hash, self.chain_id, version=self.chain.version)

    def import_chain(self, path: str | os.PathLike, progress: ProgressCallback | None = None,
                     threads: int | None = None, assume_valid: bytes | None = None,
                     note: Callable[[str], None] | None = None) -> ImportProgress:
        """Import a chain file (or a pipe) into this store; resumable (see import_blocks).

        `assume_valid` (Bitcoin Core's -assumevalid; off by default): the hash of a block you
        trust. If the file's chain holds it, the signatures of that block and of every block
        before it are not verified; every other rule (encoding, links, Merkle roots, state rules,
        commitments, small-order keys) is still checked and the state is still computed. If the
        hash is not on the file's chain, or the input is a pipe, every signature is verified.
        `note` (a function of one str), if given, is told which happened, in one line. The
        result's `assumed_valid_height` is the last height stored without signature checks."""
        try:
            stream = open(path, "rb")
        except OSError as error:
            raise fault_from_os_error(error, path) from None
        with stream:
            reader = ChainReader(stream)
            if reader.genesis != self.genesis_bytes:
                raise LedgerError(WRONG_GENESIS, "the chain file starts from another genesis than this store", 0)
            assumed = None
            if assume_valid is not None:
                lookup = self.assume_valid_lookup(stream, assume_valid)
                assumed = lookup.assumed
                if note is not None:
                    note(lookup.note)
            return self.import_blocks(reader.blocks(), progress, threads, assumed)

    def export_chain(self, path: str | os.PathLike) -> int:
        """Write the whole chain as a chain file; returns the number of blocks written. The file
        appears complete or not at all (written beside `path`, then renamed)."""
        count = 0
        try:
            with self._store.snapshot() as snap, ChainWriter(path, self.genesis_bytes) as writer:
                for _height, data in snap.iter_blocks(1, snap.tip().height):
                    writer.write_block(data)
                    count += 1
        except OSError as error:
            raise fault_from_os_error(error, path) from None
        return count

    # ------------------------------------------------------------ checking

    def validate(self, start: int = 1, end: int | None = None, threads: int | None = None) -> ValidationReport:
        """Re-verify stored blocks start..end: encoding, links, signatures, roots, every state rule and
        the state commitments (version 2: the history and state roots, over a state tree of its own
        replayed in memory from the genesis). State is replayed from genesis (blocks before `start` are applied
        without re-checking signatures). At the tip, the stored accounts (version 2: and records)
        must equal the replay.
        Decoding and batched signature verification run ahead of the replay (ledger.pipeline).
        Blocks are read in segments, with the store's touched pages released between them, so
        memory stays flat however long the chain; stored blocks never change, so the segments
        see one chain even if a writer appends meanwhile."""
        stored_tip = self.tip
        end = stored_tip.height if end is None else min(end, stored_tip.height)
        if start < 1 or start > max(end, 1):
            raise LedgerError(NOT_FOUND, f"no stored blocks in the range {start}..{end}")
        native = native_enabled()
        replay = _ReplayState(self.genesis)
        if native:   # the replayed accounts live in a native cache, never evicted (no store behind it)
            rules = NativeRules(self.chain, AccountCache(), replay.tree)
            for key, account in replay.accounts.items():
                rules.cache.put(key, account.balance, account.nonce)
            replay.accounts = {}
        tip = self.chain.genesis_tip()
        blocks = transactions = 0
        for first in range(1, end + 1, VALIDATE_SEGMENT_BLOCKS):
            last = min(end, first + VALIDATE_SEGMENT_BLOCKS - 1)
            with self._store.snapshot() as snap, self._store.snapshot() as source:
                replay.snapshot = snap
                with Pipeline(source.iter_blocks(first, last), verify_from=start, threads=threads,
                              decoder=decode_block_compact if native else None, version=self.chain.version) as stream:
                    for item in stream:
                        if item.error is not None:
                            raise item.error
                        height = item.height
                        replay.height = height
                        if height < start and native:
                            try:
                                block = decode_block_compact(item.data, self.chain.version)[0]
                            except LedgerError as error:
                                raise error.at(height) from None
                            rules.replay(block, height, replay.has_transaction)
                            tip = tip.after(height, block.hash, block.header.time_ms, block.header.state_commitment)
                        elif native:
                            _changes, tip = rules.check(tip, item.block, item.verdicts, item.tx_root, None,
                                                        replay.has_transaction)
                            blocks += 1
                            transactions += item.block.count
                        elif height < start:
                            try:
                                block = decode_block(item.data, self.chain.version)
                            except LedgerError as error:
                                raise error.at(height) from None
                            changes = apply_transactions(replay, self.chain.issuers, block.transactions, height)
                            tip = tip.after(height, block.hash, block.header.time_ms, block.header.state_commitment)
                        else:
                            changes, tip = check_block(self.chain, tip, replay, item.block, item.verdicts,
                                                       item.tx_root)
                            blocks += 1
                            transactions += len(item.block.transactions)
                        if not native:
                            replay.apply(changes)
            self._store.release_pages()
        if tip.height != end:
            raise LedgerError(NOT_FOUND, f"the store holds no block at height {tip.height + 1}", tip.height + 1)
        if end == stored_tip.height:
            if tip != stored_tip:
                raise LedgerError(BAD_STATE_COMMITMENT, "the stored tip differs from the replayed chain", end)
            with self._store.snapshot() as snap:
                if snap.tip() == stored_tip:   # a writer that appended meanwhile changed the accounts
                    if native:
                        replay.accounts = dict(unpack_accounts(rules.cache.packed()))
                    replay.check_accounts_match(snap)
                    # Version 2: the records too (and the accounts once more, as the tree hashes them).
                    # The replay's tree gave the tip's root already: release it first, so that the
                    # check holds one whole tree in memory, not two.
                    version_2, replay.tree = replay.tree is not None, None
                    if native:
                        rules.tree = None
                    if version_2 and _tree_of_tables(snap).root() != tip.state_commitment:
                        raise LedgerError(BAD_STATE_ROOT, "the stored accounts and records differ from the replayed "
                                          "state", end)
        return ValidationReport(start, end, blocks, transactions)

    # ------------------------------------------------------------ history and checkpoints

    def history_leaves(self, size: int | None = None) -> list[bytes]:
        """The first `size` leaves of the history tree and of the block log (FORMAT.md §7.3, §14):
        the chain id, then the block hash of each height 1 .. size - 1. Default: every stored
        block (size = tip height + 1). A size beyond that is `not-found`. Read from one snapshot;
        each block's header is decoded, not its transactions."""
        with self._store.snapshot() as snap:
            tip = snap.tip().height
            if size is None:
                size = tip + 1
            if isinstance(size, bool) or not isinstance(size, int) or size < 0:
                raise ValueError(f"a tree size is an int from 0, not {size!r}")
            if size > tip + 1:
                raise LedgerError(NOT_FOUND, f"the block log holds {tip + 1} leaves (tip height {tip}), "
                                             f"not {size}", tip + 1)
            leaves = [self.chain_id] if size else []
            for height, data in snap.iter_blocks(1, size - 1):
                leaves.append(_block_hash(data, height, self.genesis.version))
        if len(leaves) != size:
            raise LedgerError(NOT_FOUND, f"the store holds no block at height {len(leaves)}", len(leaves))
        return leaves

    def checkpoint(self, keypair: Keypair, origin: str | None = None) -> Note:
        """The C2SP checkpoint of the block log at the tip (FORMAT.md §14), signed by `keypair`
        under the key name `origin` (default `ledger/<chain id hex>`). The key must be one of
        the genesis validators, else `not-validator`."""
        if keypair.public_key not in self.genesis.validators:
            raise LedgerError(NOT_VALIDATOR, f"the key {keypair.public_key.hex()} is not a validator of this "
                                             "chain's genesis; only a validator signs its checkpoints")
        origin = default_origin(self.chain_id) if origin is None else origin
        return sign_checkpoint(make_checkpoint(self.history_leaves(), origin), keypair)

    # ------------------------------------------------------------ queries

    def block_bytes(self, height_or_hash: int | bytes) -> bytes | None:
        if isinstance(height_or_hash, int) and not isinstance(height_or_hash, bool):
            if not 0 <= height_or_hash <= HEIGHT_MAX:
                raise ValueError(f"a block height is between 0 and 2**64 - 1, not {height_or_hash}")
        else:
            height_or_hash = _bytes_argument(height_or_hash, "a block reference (a height or a 32-byte hash)")
        with self._store.snapshot() as snap:
            height = height_or_hash if isinstance(height_or_hash, int) else snap.height_of(height_or_hash)
            return None if height is None else snap.block_bytes(height)

    def block(self, height_or_hash: int | bytes) -> Block | None:
        data = self.block_bytes(height_or_hash)
        return None if data is None else decode_block(data, self.chain.version)

    def tx(self, txid: bytes) -> TxInfo | None:
        txid = _bytes_argument(txid, "txid")
        with self._store.snapshot() as snap:
            location = snap.tx_location(txid)
            if location is None:
                return None
            height, index = location
            block = decode_block(snap.block_bytes(height), self.chain.version)
        return TxInfo(height, index, block.transactions[index])

    def account(self, public_key: bytes) -> Account:
        """Balance and nonce (an unknown key has balance 0 and nonce 0)."""
        public_key = _bytes_argument(public_key, "public_key")
        with self._store.snapshot() as snap:
            return snap.account(public_key)

    def record(self, owner: bytes, key: bytes) -> RecordInfo | None:
        """The latest value of `owner`'s record `key`, with every earlier value."""
        owner, key = _bytes_argument(owner, "owner"), _bytes_argument(key, "the record key")
        with self._store.snapshot() as snap:
            latest = snap.record(owner, key)
            if latest is None:
                return None
            history = tuple(snap.record_history(owner, key))
        height, index, value = latest
        return RecordInfo(owner, key, value, height, index, history)

    def prove(self, txid: bytes) -> TxProof:
        """An inclusion proof of `txid` up to its block's signed header."""
        txid = _bytes_argument(txid, "txid")
        with self._store.snapshot() as snap:
            location = snap.tx_location(txid)
            if location is None:
                raise LedgerError(NOT_FOUND, f"transaction {txid.hex()} is not in this chain")
            height, index = location
            data = snap.block_bytes(height)
        block = decode_block(data, self.chain.version)
        txids = [tx.txid for tx in block.transactions]
        return TxProof(encode_transaction(block.transactions[index]), index,
                       tuple(merkle.inclusion_proof(txids, index)), encode_header(block.header))

    # ------------------------------------------------------------ state and history proofs (FORMAT.md §12, §13)

    def _require_state_proofs(self) -> None:
        if self.genesis.version != 2:
            raise LedgerError(BAD_VERSION, "state and history proofs need a version-2 chain (this one is version "
                                           f"{self.genesis.version})")

    def _prove_state(self, make: Callable) -> "StateProof":
        """A state proof against the tip's header: `make(snapshot, tree, header)` builds it from a
        snapshot of the store and the state tree at that snapshot's tip. The proof is checked against
        the header's state root before it is handed out."""
        self._require_state_proofs()
        with self._write_mutex, self._store.snapshot() as snap:
            tip = snap.tip()
            if tip.height == 0:
                raise LedgerError(NOT_FOUND, "the chain has no block yet: a state proof needs a signed header")
            header = state_proofs.block_header_bytes(snap.block_bytes(tip.height))
            tree = self._tree_at(snap, tip)
            try:
                proof = make(snap, tree, header)
            except AssertionError:   # the table's value is not the tree's (which gives the tip's root)
                raise LedgerError(BAD_STATE_ROOT, "the store's accounts or records differ from the state tree of "
                                  "the tip's state root: the store is damaged", tip.height) from None
        if state_proofs.state_root_of(proof) != tip.state_commitment:
            raise LedgerError(BAD_STATE_ROOT, "the state tree does not give the tip's state root", tip.height)
        return proof

    def prove_account(self, public_key: bytes) -> "AccountProof":
        """A proof of the account's balance and nonce (or of its absence: balance 0, nonce 0) after
        the tip's block, up to its signed header (FORMAT.md §12)."""
        public_key = _bytes_argument(public_key, "public_key")
        if len(public_key) != 32:
            raise ValueError(f"a public key is 32 bytes, not {len(public_key)}")

        def make(snap: Snapshot, tree, header: bytes) -> "AccountProof":
            present = tree.get(state_tree.account_key_hash(public_key)) is not None
            account = snap.account(public_key)
            return state_proofs.prove_account(tree, public_key, (account.balance, account.nonce) if present else None,
                                              header)
        return self._prove_state(make)

    def prove_record(self, owner: bytes, key: bytes) -> "RecordProof":
        """A proof of `owner`'s record `key`: its latest value, or that it was never written, after
        the tip's block, up to its signed header (FORMAT.md §12)."""
        owner, key = _bytes_argument(owner, "owner"), _bytes_argument(key, "the record key")
        if len(owner) != 32:
            raise ValueError(f"an owner is a 32-byte public key, not {len(owner)} bytes")
        if len(key) > limits.RECORD_KEY_BYTES_MAX:
            raise LedgerError(RECORD_TOO_LARGE, f"a record key is at most {limits.RECORD_KEY_BYTES_MAX} bytes")

        def make(snap: Snapshot, tree, header: bytes) -> "RecordProof":
            latest = snap.record(owner, key)
            return state_proofs.prove_record(tree, owner, key, None if latest is None else latest[2], header)
        return self._prove_state(make)

    def prove_history(self, old_height: int, new_height: int) -> "HistoryProof":
        """A proof that the block at `new_height` extends the block at `old_height` (FORMAT.md §13):
        1 <= old_height < new_height <= the tip's height."""
        self._require_state_proofs()
        for value, name in ((old_height, "old_height"), (new_height, "new_height")):
            if not isinstance(value, int) or isinstance(value, bool):
                raise TypeError(f"{name} must be an int, not {type(value).__name__}")
        if not 1 <= old_height < new_height:
            raise ValueError(f"a history proof runs from a height h1 >= 1 to a height h2 > h1, not {old_height} to "
                             f"{new_height}")
        with self._store.snapshot() as snap:
            if new_height > snap.tip().height:
                raise LedgerError(NOT_FOUND, f"the store holds no block at height {new_height}", new_height)
            old_header, new_header = (state_proofs.block_header_bytes(snap.block_bytes(h))
                                      for h in (old_height, new_height))
        return state_proofs.prove_history(self.history_leaves(new_height), old_header, new_header)


def _tree_of_tables(snap: Snapshot):
    """A state tree of every account and record a snapshot's tables hold (FORMAT.md §7.2)."""
    tree = state_tree.new_tree()
    for packed in snap.iter_accounts_packed():
        state_tree.update_packed(tree, *state_tree.account_hashes(packed))
    records = []
    for record in snap.iter_records():
        records.append(record)
        if len(records) >= 65_536:
            state_tree.update_packed(tree, *state_tree.record_hashes(records))
            records = []
    state_tree.update_packed(tree, *state_tree.record_hashes(records))
    return tree


class _StoreReader:
    """Committed state, read through a short snapshot per lookup."""

    def __init__(self, store: Store):
        self._store = store

    def account(self, public_key: bytes) -> Account:
        with self._store.snapshot() as snap:
            return snap.account(public_key)

    def has_transaction(self, txid: bytes) -> bool:
        with self._store.snapshot() as snap:
            return snap.has_transaction(txid)


class _ReplayState(MemoryState):
    """Accounts replayed in memory from genesis; transaction ids looked up in the store, where an
    id counts as already present only if it was stored at an earlier height. This keeps memory
    proportional to the number of accounts, not of transactions."""

    def __init__(self, genesis: Genesis):
        super().__init__(genesis, track_transactions=False)
        self.snapshot: Snapshot | None = None
        self.height = 0

    def has_transaction(self, txid: bytes) -> bool:
        location = self.snapshot.tx_location(txid)
        return location is not None and location[0] < self.height

    def check_accounts_match(self, snap: Snapshot) -> None:
        if snap.account_count() != len(self.accounts):
            raise LedgerError(BAD_STATE_COMMITMENT, "the store holds a different set of accounts than the replay")
        for key, account in self.accounts.items():
            if snap.account(key) != account:
                raise LedgerError(BAD_STATE_COMMITMENT, f"stored account {key.hex()} differs from the replayed state")
