"""Assembling and signing transactions and blocks.

Specification: docs/FORMAT.md §5-§6; signatures are Ed25519 (RFC 8032 §5.1.6) made by PyNaCl.

A BlockBuilder holds the chain, the tip it builds on and a reader of the state there; each added
transaction is checked against the state left by the ones before it, so `build()` only ever
produces a block that `validate.check_block` accepts.
"""
from __future__ import annotations

import time
from typing import Callable

from ledger import limits, merkle, signatures
from ledger.codec import (
    Block, BlockHeader, Body, Mint, Record, Transaction, Transfer, check_record_size, encode_unsigned_header,
    encode_unsigned_transaction,
)
from ledger.errors import BAD_CHAIN_ID, LIMIT_EXCEEDED, RECORD_TOO_LARGE, SMALL_ORDER_KEY, LedgerError
from ledger.hashing import header_hash, transaction_id
from ledger.keys import Keypair
from ledger.state import (
    BlockChanges, LayeredState, StateReader, Tip, apply_transactions, root_after, state_commitment,
)
from ledger.validate import Chain


def _check_bytes(value: object, what: str, size: int | None = None) -> None:
    if not isinstance(value, bytes):
        hint = " (encode text with .encode() or hex with bytes.fromhex)" if isinstance(value, str) else ""
        raise TypeError(f"{what} must be bytes, not {type(value).__name__}{hint}")
    if size is not None and len(value) != size:
        raise ValueError(f"{what} must be {size} bytes, not {len(value)}")


def _check_unsigned(value: object, what: str, maximum: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{what} must be an int, not {type(value).__name__}")
    if not 0 <= value <= maximum:
        raise ValueError(f"{what} must be between 0 and {maximum}, not {value}")


def check_body(body: object) -> None:
    """Raise TypeError or ValueError, naming the field, if `body` cannot be encoded (the types and
    ranges of the format; the rules that depend on state, such as record sizes, stay in the rules)."""
    if isinstance(body, (Transfer, Mint)):
        _check_bytes(body.to, "the recipient", limits.KEY_BYTES)
        _check_unsigned(body.amount, "the amount", limits.AMOUNT_MAX)
    elif isinstance(body, Record):
        _check_bytes(body.key, "the record key")
        _check_bytes(body.value, "the record value")
    else:
        raise TypeError(f"a transaction body is a Transfer, Mint or Record, not {type(body).__name__}")


def check_transaction(tx: object) -> None:
    """Raise TypeError or ValueError, naming the field, if `tx` cannot be encoded."""
    if not isinstance(tx, Transaction):
        raise TypeError(f"expected a Transaction, not {type(tx).__name__}")
    _check_bytes(tx.chain_id, "the chain id", limits.HASH_BYTES)
    _check_bytes(tx.sender, "the sender", limits.KEY_BYTES)
    _check_unsigned(tx.nonce, "the nonce", limits.NONCE_MAX)
    check_body(tx.body)
    _check_bytes(tx.signature, "the signature")   # workloads add transactions signed later, in batches


def sign_transaction(keypair: Keypair, chain_id: bytes, nonce: int, body: Body) -> Transaction:
    """A signed transaction: the signature is over the 32-byte transaction id. Raises TypeError or
    ValueError for a field of the wrong type or range (say, an amount of 2**64 or a str key)."""
    _check_bytes(chain_id, "the chain id", limits.HASH_BYTES)
    _check_unsigned(nonce, "the nonce", limits.NONCE_MAX)
    check_body(body)
    txid = transaction_id(encode_unsigned_transaction(chain_id, keypair.public_key, nonce, body))
    return Transaction(chain_id, keypair.public_key, nonce, body, keypair.sign(txid), txid)


def sign_header(proposer: Keypair, chain_id: bytes, height: int, previous_hash: bytes, time_ms: int,
                tx_count: int, tx_root: bytes, commitment: bytes, *, version: int,
                history_root: bytes = b"") -> BlockHeader:
    """A signed header of a chain of format `version` (its genesis version, FORMAT.md §6).
    `commitment` is the state field: version 1's commitment chain, version 2's state root; a
    version-2 header also carries `history_root` (32 bytes), a version-1 header none (b"")."""
    if version not in limits.FORMAT_VERSIONS:
        raise ValueError(f"unknown chain format version {version!r}")
    _check_bytes(history_root, "the history root", limits.HASH_BYTES if version == 2 else 0)
    unsigned = BlockHeader(version, chain_id, height, previous_hash, time_ms, tx_count, tx_root,
                           commitment, proposer.public_key, b"", history_root=history_root)
    digest = header_hash(encode_unsigned_header(unsigned))
    return BlockHeader(version, chain_id, height, previous_hash, time_ms, tx_count, tx_root,
                       commitment, proposer.public_key, proposer.sign(digest), digest, history_root)


class BlockBuilder:
    """Collects transactions for the block after `tip` and signs it as `proposer`.

    Version 2: the header's state root is `state_root(tip, changes)` when given (Ledger.builder
    passes its stored tree's), else computed on the reader's own tree (`reader.tree`, as a
    MemoryState at `tip` holds one), which is left as it was."""

    def __init__(self, chain: Chain, tip: Tip, reader: StateReader, proposer: Keypair,
                 state_root: Callable[[Tip, BlockChanges], bytes] | None = None):
        self.chain = chain
        self.tip = tip
        self.proposer = proposer
        self._reader = reader
        self._state_root = state_root
        self._state = LayeredState(reader)
        self._transactions: list[Transaction] = []
        self._changes = BlockChanges()

    @property
    def height(self) -> int:
        return self.tip.height + 1

    def __len__(self) -> int:
        return len(self._transactions)

    @property
    def changes(self) -> BlockChanges:
        """The state changes of the transactions added so far."""
        return self._changes

    def tip_after(self, block: Block) -> Tip:
        """The tip `block` (built on this builder's tip) makes."""
        header = block.header
        return self.tip.after(header.height, header.hash, header.time_ms, header.state_commitment)

    def next_nonce(self, public_key: bytes) -> int:
        return self._state.account(public_key).nonce + 1

    def transaction(self, sender: Keypair, body: Body) -> Transaction:
        """Sign `body` from `sender` with its next nonce and add it."""
        tx = sign_transaction(sender, self.chain.chain_id, self.next_nonce(sender.public_key), body)
        self.add(tx)
        return tx

    def add(self, tx: Transaction) -> None:
        """Add a signed transaction; raises LedgerError (and adds nothing) if the rules reject it,
        TypeError or ValueError if a field has the wrong type or range."""
        check_transaction(tx)
        index = len(self._transactions)
        if index >= limits.TRANSACTIONS_PER_BLOCK_MAX:
            raise LedgerError(LIMIT_EXCEEDED, "the block is full", self.height, index)
        if tx.chain_id != self.chain.chain_id:
            raise LedgerError(BAD_CHAIN_ID, "the transaction is signed for another chain", self.height, index)
        record_size_error = check_record_size(tx)
        if record_size_error is not None:
            raise LedgerError(RECORD_TOO_LARGE, record_size_error, self.height, index)
        if signatures.is_small_order(tx.sender):
            raise LedgerError(SMALL_ORDER_KEY, "the sender key has small order", self.height, index)
        try:
            changes = apply_transactions(self._state, self.chain.issuers, [tx], self.height)
        except LedgerError as error:
            error.index = index
            raise
        self._state.apply(changes)
        self._changes.accounts.update(changes.accounts)
        self._changes.records.extend((owner, key, value, index) for owner, key, value, _ in changes.records)
        self._changes.txids.append(tx.txid)
        self._transactions.append(tx)

    def build(self, time_ms: int | None = None) -> Block:
        """Sign the block. Time defaults to now, and never goes before the previous block's time."""
        if time_ms is None:
            time_ms = max(int(time.time() * 1000), self.tip.time_ms)
        txids = [tx.txid for tx in self._transactions]
        if self.chain.version == 1:
            state, history_root = state_commitment(self.tip.state_commitment, self.height, self._changes), b""
        else:
            if self._state_root is not None:
                state = self._state_root(self.tip, self._changes)
            else:
                state = root_after(self._reader.tree, self._changes)
            history_root = self.tip.history.root()
        header = sign_header(self.proposer, self.chain.chain_id, self.height, self.tip.hash, time_ms, len(txids),
                             merkle.root(txids), state, version=self.chain.version, history_root=history_root)
        return Block(header, tuple(self._transactions))
