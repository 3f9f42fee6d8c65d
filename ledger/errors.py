"""Errors a user can act on: a stable code, where it happened (block height, transaction index), one sentence.

Specification: none beyond docs/FORMAT.md.

The codes are part of the interface: scripts match on them, so a code never changes meaning.
"""
from __future__ import annotations

import errno
import os

# Decoding and limits.
BAD_ENCODING = "bad-encoding"            # not the canonical encoding of the expected schema
LIMIT_EXCEEDED = "limit-exceeded"        # a named limit of the format is exceeded
BAD_VERSION = "bad-version"              # a format version unknown, or not the chain's
BAD_CHAIN_FILE = "bad-chain-file"        # chain file framing: magic, truncated length prefix (a version other than 1 is bad-version)
UNKNOWN_TX_KIND = "unknown-tx-kind"      # a transaction kind this format does not define (0 transfer, 1 mint, 2 record)
BAD_GENESIS = "bad-genesis"              # genesis rules (sorted unique keys, at least one validator)
# Header rules.
BAD_CHAIN_ID = "bad-chain-id"            # header or transaction names another chain
BAD_HEIGHT = "bad-height"                # not the next height
BAD_PREVIOUS_HASH = "bad-previous-hash"  # does not link to the tip
BAD_TIME = "bad-time"                    # time went backwards
BAD_TX_COUNT = "bad-tx-count"            # header count differs from the transactions carried
BAD_MERKLE_ROOT = "bad-merkle-root"      # header root differs from the root of the transaction ids
UNKNOWN_PROPOSER = "unknown-proposer"    # proposer is not a genesis validator
BAD_BLOCK_SIGNATURE = "bad-block-signature"
BAD_STATE_COMMITMENT = "bad-state-commitment"   # version 1: the commitment chain link (FORMAT.md §7.1)
BAD_HISTORY_ROOT = "bad-history-root"   # version 2: the header's history root is not that of the earlier block hashes (§7.3)
BAD_STATE_ROOT = "bad-state-root"       # version 2: the header's state root is not the map's after the block (§7.2)
# Transaction rules.
BAD_TX_SIGNATURE = "bad-tx-signature"
SMALL_ORDER_KEY = "small-order-key"      # sender key is a point of small order (anyone could sign)
DUPLICATE_TX = "duplicate-tx"            # transaction id already in this block or the chain
BAD_NONCE = "bad-nonce"                  # nonce is not the sender's previous nonce + 1
OVERDRAFT = "overdraft"                  # transfer exceeds the sender's balance
OVERFLOW = "overflow"                    # a balance would exceed 2**64 - 1
NOT_ISSUER = "not-issuer"                # mint by a key that is not a genesis issuer
RECORD_TOO_LARGE = "record-too-large"    # record key over 64 bytes or value over 4 KiB
# Store.
CONFLICTING_BLOCK = "conflicting-block"  # a different block is already stored at this height
WRONG_GENESIS = "wrong-genesis"          # the store holds another chain
NOT_FOUND = "not-found"
STORE_EXISTS = "store-exists"
# A node's mempool (ledger node; not a rule of the format).
MEMPOOL_FULL = "mempool-full"            # the node's mempool holds its configured maximum; retry later
# The environment (raised as EnvironmentFault; the CLI exits 3): nothing is wrong with the data.
DISK_FULL = "disk-full"                  # the file system has no space left; nothing of the failed write is kept
READ_ONLY = "read-only"                  # the store is on read-only media or was opened read-only
STORE_LOCKED = "store-locked"            # another writer holds the store's writer lock
NOT_A_STORE = "not-a-store"              # the folder or its data.mdb is not a ledger store
ALREADY_OPEN = "already-open"            # this process already has the store open (LMDB allows one per process)
IO_ERROR = "io-error"                    # any other operating-system or LMDB failure


class LedgerError(Exception):
    """A rejected input or a failed operation. `code` is stable; `height` and `index` say where."""

    def __init__(self, code: str, message: str, height: int | None = None, index: int | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.height = height
        self.index = index

    def at(self, height: int | None = None, index: int | None = None) -> "LedgerError":
        """Fill in the location if the raiser did not know it."""
        if self.height is None:
            self.height = height
        if self.index is None:
            self.index = index
        return self

    def __str__(self) -> str:
        where = []
        if self.height is not None:
            where.append(f"height {self.height}")
        if self.index is not None:
            where.append(f"tx {self.index}")
        location = f" at {', '.join(where)}" if where else ""
        return f"{self.code}{location}: {self.message}"

    def to_dict(self) -> dict:
        return {"code": self.code, "height": self.height, "index": self.index, "message": self.message}


class EnvironmentFault(LedgerError):
    """The machine, not the data, stopped the operation: disk full, read-only media, a held writer
    lock, a folder that is not a store, an I/O error. Retrying elsewhere or later can succeed."""


def fault_from_os_error(error: OSError, path: str | os.PathLike) -> EnvironmentFault:
    """One sentence for an operating-system error met while working on `path`."""
    reason = error.strerror or str(error)
    if error.errno in (errno.ENOSPC, errno.EDQUOT):
        return EnvironmentFault(DISK_FULL, f"no space left on the file system holding {os.fspath(path)}")
    if error.errno == errno.EROFS:
        return EnvironmentFault(READ_ONLY, f"{os.fspath(path)} is on a read-only file system")
    return EnvironmentFault(IO_ERROR, f"{os.fspath(path)}: {reason}")
