"""Block validation in the native core: the transaction rules, a block's sorted changes and its state
commitment run in C (ledger/csrc/block_rules.c) over an in-memory cache of accounts, without a
Python object per transaction. Python sees one result per block. In version 2 the block's changes
are hashed and set in the state tree (ledger.state_tree.new_tree: the native tree, packed), whose
root the header must carry.

Specification: docs/FORMAT.md §7-§8. The readable twin, and the tests' oracle, is ledger/state.py
apply_transactions + ledger/validate.py check_block; every path gives the same code, height, index,
message and commitment. Set LEDGER_RULES=python to run the twin on every path instead.
"""
from __future__ import annotations

import os
import struct
from typing import Callable, Sequence

from ledger import _core, hashing, signatures
from ledger.codec import BlockHeader, _as_bytes, _chain_version
from ledger.errors import (
    BAD_BLOCK_SIGNATURE, BAD_CHAIN_ID, BAD_NONCE, BAD_STATE_COMMITMENT, BAD_STATE_ROOT, BAD_TX_SIGNATURE,
    DUPLICATE_TX, NOT_ISSUER, OVERDRAFT, OVERFLOW, RECORD_TOO_LARGE, SMALL_ORDER_KEY, LedgerError,
)
from ledger import limits
from ledger.state import Account, Tip, apply_to_tree
from ledger.validate import STATE_ROOT_MESSAGE, Chain, check_header

AccountCache = _core.AccountCache
CompactBlock = _core.CompactBlock
ACCOUNT_CACHE_ENTRIES = 500_000   # about 100 bytes each in the table: ~50-100 MB at most
_ACCOUNT = struct.Struct(">QQ")
_ACCOUNT_ITEM = 48                # key (32) || balance (8) || nonce (8), big-endian


def native_enabled() -> bool:
    """False when LEDGER_RULES=python asks every path to run the readable twin."""
    return os.environ.get("LEDGER_RULES", "native") != "python"


class _Model:
    BlockHeader = BlockHeader
    LedgerError = LedgerError


def decode_block_compact(data: bytes, version: int | None = None) -> tuple[CompactBlock, bytes, bytes]:
    """As codec.decode_block_for_validation (a block of a chain of format `version`; None: any
    known version), but the block stays compact (see CompactBlock)."""
    block, root, records = _core.block_decode_compact(_as_bytes(data, "a block"), hashing.KEY_TRANSACTION,
                                                      hashing.KEY_BLOCK_HEADER, hashing.KEY_MERKLE_LEAF,
                                                      hashing.KEY_MERKLE_NODE, _Model, _chain_version(version))
    return block, records, root


class NativeChanges:
    """A block's changes in compact form: `accounts_packed` (its changed accounts sorted by key,
    48 bytes each, the store's encoding), `records` (owner, key, value, index), `txids_packed`."""
    __slots__ = ("accounts_packed", "records", "txids_packed")

    def __init__(self, accounts_packed: bytes, records: list, txids_packed: bytes):
        self.accounts_packed = accounts_packed
        self.records = records
        self.txids_packed = txids_packed

    @property
    def tx_count(self) -> int:
        return len(self.txids_packed) // 32

    @property
    def txids(self) -> list[bytes]:
        packed = self.txids_packed
        return [packed[i:i + 32] for i in range(0, len(packed), 32)]

    @property
    def accounts(self) -> dict[bytes, Account]:
        return dict(unpack_accounts(self.accounts_packed))


def unpack_accounts(packed: bytes) -> list[tuple[bytes, Account]]:
    return [(packed[i:i + 32], Account(*_ACCOUNT.unpack_from(packed, i + 32)))
            for i in range(0, len(packed), _ACCOUNT_ITEM)]


def account_items(packed: bytes) -> list[tuple[bytes, bytes]]:
    """(key, stored value) pairs of packed accounts, as Store.commit writes them."""
    return [(packed[i:i + 32], packed[i + 32:i + 48]) for i in range(0, len(packed), _ACCOUNT_ITEM)]


class _HeaderView:
    """What check_header reads of a block, for a compact one (its root is always given)."""
    __slots__ = ("header", "transactions")

    def __init__(self, block: CompactBlock):
        self.header = block.header
        self.transactions = range(block.count)


class NativeRules:
    """Validates compact blocks of one chain over an AccountCache and, in version 2, the state tree
    at the tip (`tree`): an accepted block's changes enter both; a rejected block changes neither."""

    def __init__(self, chain: Chain, cache: AccountCache, tree=None):
        self.chain = chain
        self.cache = cache
        self.tree = tree
        self.issuers = b"".join(sorted(chain.issuers))

    def load(self, block: CompactBlock, read_accounts: Callable[[list[bytes]], list[tuple[bytes, int, int]]]) -> None:
        """Bring the block's accounts into the cache: those it lacks are read in one sorted pass."""
        missing = self.cache.load(block)
        if missing and read_accounts is not None:
            self.cache.fill(read_accounts([missing[i:i + 32] for i in range(0, len(missing), 32)]))

    def check(self, tip: Tip, block: CompactBlock, verdicts: Sequence[bool | None] | None, tx_root: bytes,
              read_accounts, has_transaction: Callable[[bytes], bool], records: bytes | None = None
              ) -> tuple[NativeChanges, Tip]:
        """check_block's twin for a compact block: the same order, codes, indexes and messages.
        `verdicts` None: verified here from the block's signature `records`."""
        chain = self.chain
        check_header(chain, tip, _HeaderView(block), tx_root)
        header = block.header
        height = header.height
        if verdicts is None:   # not verified ahead (or left undecided after a bad signature of an earlier block)
            if records is None:
                records = decode_block_compact(block.data, chain.version)[1]
            verdicts = signatures.verdicts_until_first_bad(records)
        if not verdicts[0]:
            raise LedgerError(BAD_BLOCK_SIGNATURE, "the proposer's signature over the header does not hold", height)
        self.load(block, read_accounts)
        version_2 = tip.history is not None
        rule, index, a, b, commitment, accounts, record_indexes = _core.block_rules(
            self.cache, block, chain.chain_id, self.issuers, hashing.KEY_STATE, verdicts, height,
            None if version_2 else tip.state_commitment, None if version_2 else header.state_commitment)
        if rule != 0:
            raise _rule_error(rule, index, a, b, height, block, has_transaction)
        writes = block.record_writes(record_indexes) if record_indexes else []
        changes = NativeChanges(accounts, writes, block.txids)
        if version_2:
            commitment = self._accept(changes, height, header.state_root)
        return changes, tip.after(height, header.hash, header.time_ms, commitment)

    def _accept(self, changes: NativeChanges, height: int, expected: bytes | None) -> bytes:
        """Version 2: set the block's changes in the tree; if its root is not `expected` (None: not
        checked), put the tree back and reject the block, else the accounts enter the cache too."""
        if self.tree is None:
            raise ValueError("validating a version-2 block needs the state tree at the tip")
        undo = apply_to_tree(self.tree, changes)
        try:
            root = self.tree.root()
            if expected is not None and root != expected:
                raise LedgerError(BAD_STATE_ROOT, STATE_ROOT_MESSAGE, height)
            self.cache.accept(changes.accounts_packed)
        except BaseException:
            self.tree.revert(undo)
            raise
        return root

    def replay(self, block: CompactBlock, height: int, has_transaction: Callable[[bytes], bool]) -> NativeChanges:
        """apply_transactions' twin for a stored block replayed without its checks (signatures taken
        as valid, the commitment or state root not compared): its changes enter the cache (and the
        tree, in version 2)."""
        self.load(block, None)
        version_2 = self.chain.genesis.version == 2
        rule, index, a, b, _commitment, accounts, record_indexes = _core.block_rules(
            self.cache, block, self.chain.chain_id, self.issuers, hashing.KEY_STATE, [True] * (block.count + 1),
            height, None if version_2 else bytes(32), None)
        if rule != 0:
            raise _rule_error(rule, index, a, b, height, block, has_transaction)
        writes = block.record_writes(record_indexes) if record_indexes else []
        changes = NativeChanges(accounts, writes, block.txids)
        if version_2:
            self._accept(changes, height, None)
        return changes


def _rule_error(rule: int, index: int, a: int, b: int, height: int, block: CompactBlock,
                has_transaction: Callable[[bytes], bool]) -> LedgerError:
    """The twin's error for a verdict of csrc/block_rules.c (validate.py, state.py messages)."""
    if rule == 1:
        return LedgerError(BAD_CHAIN_ID, "the transaction is signed for another chain", height, index)
    if rule == 2:
        return LedgerError(RECORD_TOO_LARGE, f"the record key is over {limits.RECORD_KEY_BYTES_MAX} bytes", height, index)
    if rule == 3:
        return LedgerError(RECORD_TOO_LARGE, f"the record value is over {limits.RECORD_VALUE_BYTES_MAX} bytes",
                           height, index)
    if rule == 4:
        return LedgerError(SMALL_ORDER_KEY, "the sender key has small order, so its signatures prove nothing",
                           height, index)
    if rule == 5:
        return LedgerError(DUPLICATE_TX, "the transaction id is already in this block", height, index)
    if rule == 6:
        return LedgerError(BAD_TX_SIGNATURE, "the transaction signature does not hold", height, index)
    if rule == 8 and has_transaction(block.txids[32 * index:32 * index + 32]):
        return LedgerError(DUPLICATE_TX, "the transaction id is already in the chain", height, index)
    if rule in (7, 8):
        return LedgerError(BAD_NONCE, f"nonce {a} is not the sender's previous nonce {b} + 1", height, index)
    if rule == 9:
        return LedgerError(OVERDRAFT, f"transfer of {a} exceeds the sender's balance {b}", height, index)
    if rule == 10:
        return LedgerError(NOT_ISSUER, "only a genesis issuer may mint", height, index)
    if rule == 11:
        return LedgerError(OVERFLOW, "the recipient's balance would exceed 2**64 - 1", height, index)
    if rule == 12:
        return LedgerError(BAD_STATE_COMMITMENT, "the state commitment does not match the block's changes", height)
    raise AssertionError(f"unknown rule verdict {rule}")  # pragma: no cover
