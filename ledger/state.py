"""State rules: balances, nonces, mints and records, applied to a block's transactions in order,
and what the header commits to: version 1's state commitment chained over each block's sorted
changes, version 2's state root (the block's changes applied to the state tree) and history tree.

Specification: docs/FORMAT.md §7-§8 (§7.2 and §7.3 for version 2).

Applying reads the state before the block through a `StateReader` (the LMDB store, or memory)
and returns the block's changes without writing anything: the caller commits them, all or
nothing. The first transaction that breaks a rule stops the block with its index.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Iterable, Protocol, Sequence

import msgpack

from ledger import hashing, limits, state_tree
from ledger.codec import Genesis, Mint, Record, Transaction, Transfer
from ledger.history_frontier import Frontier
from ledger.errors import BAD_NONCE, DUPLICATE_TX, NOT_ISSUER, OVERDRAFT, OVERFLOW, LedgerError

STATE_ACCOUNT = 0
STATE_RECORD = 1
_ACCOUNT_VALUE = struct.Struct(">QQ")


@dataclass(slots=True, unsafe_hash=True)   # immutable by convention; not frozen (3x cheaper to make)
class Account:
    balance: int = 0
    nonce: int = 0


EMPTY_ACCOUNT = Account()


@dataclass(frozen=True, slots=True)
class Tip:
    """The last accepted block (height 0 is the genesis): the next block must extend it.
    `state_commitment` is the header's state field: version 1's commitment, version 2's state root.
    `history` (version 2 only; None in version 1) is the frontier of the history tree over the
    chain id and every block hash up to this one: the next header's history root is its root."""
    height: int
    hash: bytes
    time_ms: int
    state_commitment: bytes
    history: Frontier | None = None

    def after(self, height: int, block_hash: bytes, time_ms: int, state: bytes) -> "Tip":
        """The tip a block accepted on this one makes (its hash joins the history, in version 2)."""
        history = None if self.history is None else self.history.append(block_hash)
        return Tip(height, block_hash, time_ms, state, history)


class StateReader(Protocol):
    def account(self, public_key: bytes) -> Account: ...
    def has_transaction(self, txid: bytes) -> bool: ...


@dataclass(slots=True)
class BlockChanges:
    """What a block changes: the final value of every touched account, every record write in order."""
    accounts: dict[bytes, Account] = field(default_factory=dict)
    records: list[tuple[bytes, bytes, bytes, int]] = field(default_factory=list)  # owner, key, value, tx index
    txids: list[bytes] = field(default_factory=list)

    @property
    def tx_count(self) -> int:
        return len(self.txids)


class MemoryState:
    """A whole state in memory: the genesis, then blocks' changes applied one after another; for
    a version-2 genesis also its state tree (`tree`, None in version 1)."""

    def __init__(self, genesis: Genesis | None = None, track_transactions: bool = True):
        """With track_transactions=False the state does not remember ids (saving memory on long
        chains): only use it where duplicates are impossible by construction."""
        self.accounts: dict[bytes, Account] = {}
        self.txids: set[bytes] = set()
        self.track_transactions = track_transactions
        self.tree = None
        if genesis is not None:
            self.accounts.update(genesis_accounts(genesis))
            if genesis.version == 2:
                self.tree = genesis_tree(genesis)

    def account(self, public_key: bytes) -> Account:
        return self.accounts.get(public_key, EMPTY_ACCOUNT)

    def has_transaction(self, txid: bytes) -> bool:
        return txid in self.txids

    def apply(self, changes: BlockChanges) -> None:
        self.accounts.update(changes.accounts)
        if self.tree is not None:
            apply_to_tree(self.tree, changes)
        if self.track_transactions:
            self.txids.update(changes.txids)


class LayeredState:
    """Changes of blocks not yet committed, over a reader of the committed state. Changes sit in
    layers, one per commit group, so that when a group becomes durable its layer can be dropped
    and the reader replaced by a newer snapshot (`rebase`) while later groups stay layered."""

    def __init__(self, base: StateReader):
        self.base = base
        self.layers: list[tuple[dict[bytes, Account], set[bytes]]] = [({}, set())]

    def account(self, public_key: bytes) -> Account:
        for accounts, _txids in reversed(self.layers):
            found = accounts.get(public_key)
            if found is not None:
                return found
        return self.base.account(public_key)

    def has_transaction(self, txid: bytes) -> bool:
        return any(txid in txids for _accounts, txids in self.layers) or self.base.has_transaction(txid)

    def apply(self, changes: BlockChanges) -> None:
        accounts, txids = self.layers[-1]
        accounts.update(changes.accounts)
        txids.update(changes.txids)

    def push(self) -> None:
        """Start a new layer: later changes go there."""
        self.layers.append(({}, set()))

    def rebase(self, base: StateReader, committed_layers: int) -> None:
        """`base` now holds the oldest `committed_layers` layers: read it, and forget them."""
        self.base = base
        del self.layers[:committed_layers]
        if not self.layers:
            self.layers.append(({}, set()))


def genesis_accounts(genesis: Genesis) -> dict[bytes, Account]:
    return {key: Account(amount, 0) for key, amount in genesis.balances}


def apply_transactions(reader: StateReader, issuers: frozenset[bytes], transactions: Sequence[Transaction],
                       height: int) -> BlockChanges:
    """Apply the state rules in order. Raises LedgerError(code, height, index) at the first breach."""
    changes = BlockChanges()
    touched = changes.accounts

    def get(key: bytes) -> Account:
        found = touched.get(key)
        return found if found is not None else reader.account(key)

    for index, tx in enumerate(transactions):
        sender = get(tx.sender)
        if tx.nonce != sender.nonce + 1:
            # A transaction already in the chain has a used nonce, so it always lands here; only
            # then is the (random-access, so costly) index of ids asked.
            if tx.nonce <= sender.nonce and reader.has_transaction(tx.txid):
                raise LedgerError(DUPLICATE_TX, "the transaction id is already in the chain", height, index)
            raise LedgerError(BAD_NONCE, f"nonce {tx.nonce} is not the sender's previous nonce {sender.nonce} + 1",
                              height, index)
        body = tx.body
        if isinstance(body, Transfer):
            if body.amount > sender.balance:
                raise LedgerError(OVERDRAFT, f"transfer of {body.amount} exceeds the sender's balance {sender.balance}",
                                  height, index)
            if body.to == tx.sender:
                touched[tx.sender] = Account(sender.balance, tx.nonce)
            else:
                recipient = get(body.to)
                if recipient.balance + body.amount > limits.AMOUNT_MAX:
                    raise LedgerError(OVERFLOW, "the recipient's balance would exceed 2**64 - 1", height, index)
                touched[tx.sender] = Account(sender.balance - body.amount, tx.nonce)
                touched[body.to] = Account(recipient.balance + body.amount, recipient.nonce)
        elif isinstance(body, Mint):
            if tx.sender not in issuers:
                raise LedgerError(NOT_ISSUER, "only a genesis issuer may mint", height, index)
            touched[tx.sender] = Account(sender.balance, tx.nonce)
            recipient = get(body.to)
            if recipient.balance + body.amount > limits.AMOUNT_MAX:
                raise LedgerError(OVERFLOW, "the recipient's balance would exceed 2**64 - 1", height, index)
            touched[body.to] = Account(recipient.balance + body.amount, recipient.nonce)
        elif isinstance(body, Record):
            # Record sizes are a stateless rule (validate.py), checked before the state rules.
            touched[tx.sender] = Account(sender.balance, tx.nonce)
            changes.records.append((tx.sender, body.key, body.value, index))
        else:  # pragma: no cover - the decoder only makes the three kinds
            raise TypeError(f"unknown transaction body {body!r}")
        changes.txids.append(tx.txid)
    return changes


def _commitment_entries(accounts: dict[bytes, Account], records: Iterable[tuple[bytes, bytes, bytes, int]]) -> list:
    latest: dict[tuple[bytes, bytes], bytes] = {}
    for owner, key, value, _index in records:
        latest[(owner, key)] = value
    entries: list = [[STATE_ACCOUNT, key, accounts[key].balance, accounts[key].nonce] for key in sorted(accounts)]
    entries += [[STATE_RECORD, owner, key, latest[(owner, key)]] for owner, key in sorted(latest)]
    return entries


def state_commitment(previous: bytes, height: int, changes: BlockChanges) -> bytes:
    """commitment(h) = H_state(commitment(h-1) || msgpack([h, sorted changes]))."""
    entries = _commitment_entries(changes.accounts, changes.records)
    return hashing.state_hash(previous + msgpack.packb([height, entries], use_bin_type=True))


def genesis_commitment(genesis: Genesis) -> bytes:
    """commitment(0) chains from the chain id over the initial balances."""
    entries = _commitment_entries(genesis_accounts(genesis), ())
    return hashing.state_hash(genesis.chain_id + msgpack.packb([0, entries], use_bin_type=True))


# ---- version 2: the state tree (§7.2) ----

def genesis_tree(genesis: Genesis):
    """The state tree after the genesis: every genesis balance (zero balances included), nonce 0."""
    tree = state_tree.new_tree()
    packed = b"".join(key + _ACCOUNT_VALUE.pack(amount, 0) for key, amount in genesis.balances)
    state_tree.update_packed(tree, *state_tree.account_hashes(packed))
    return tree


def genesis_state_root(genesis: Genesis) -> bytes:
    return genesis_tree(genesis).root()


def latest_records(records: Iterable[tuple[bytes, bytes, bytes, int]]) -> list[tuple[bytes, bytes, bytes]]:
    """(owner, key, value) of the last write of each (owner, key), from writes in block order."""
    latest: dict[tuple[bytes, bytes], bytes] = {}
    for owner, key, value, _index in records:
        latest[(owner, key)] = value
    return [(owner, key, value) for (owner, key), value in latest.items()]


def change_hashes(changes) -> tuple[bytes, bytes]:
    """The state-map entries a block's changes set (its touched accounts' final values, the last
    write of each record), as packed key hashes and value hashes. `changes` is a BlockChanges, or
    the native rules' changes whose accounts are already packed (`accounts_packed`)."""
    packed = getattr(changes, "accounts_packed", None)
    if packed is None:
        packed = b"".join(key + _ACCOUNT_VALUE.pack(account.balance, account.nonce)
                          for key, account in changes.accounts.items())
    account_keys, account_values = state_tree.account_hashes(packed)
    record_keys, record_values = state_tree.record_hashes(latest_records(changes.records))
    return account_keys + record_keys, account_values + record_values


def apply_to_tree(tree, changes):
    """Set the block's changes in the tree; returns the undo that `tree.revert` takes."""
    return state_tree.update_packed(tree, *change_hashes(changes))


def root_after(tree, changes) -> bytes:
    """The state root after `changes`, leaving the tree as it was."""
    undo = apply_to_tree(tree, changes)
    try:
        return tree.root()
    finally:
        tree.revert(undo)


def genesis_history(genesis: Genesis) -> Frontier:
    """The history tree before block 1: its one leaf is the chain id (§7.3)."""
    return Frontier.empty().append(genesis.chain_id)
