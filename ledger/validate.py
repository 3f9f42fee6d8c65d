"""Block validation: header rules, then every transaction in order, then the state commitment
(version 1) or state root (version 2).

Specification: docs/FORMAT.md §6, §7 and §8.

Data flows one way: decoded block -> header checks -> one signature batch (header and all
transactions) -> per-transaction rules in order -> state changes -> commitment or root check.
Nothing is written here: the caller commits the returned changes, all or nothing (in version 2,
the state tree it passed is left as it was: the caller applies the changes to it too).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from ledger import merkle, signatures
from ledger.codec import Block, Genesis, check_genesis, check_record_size, signature_records
from ledger.errors import (
    BAD_BLOCK_SIGNATURE, BAD_CHAIN_ID, BAD_HEIGHT, BAD_HISTORY_ROOT, BAD_MERKLE_ROOT, BAD_PREVIOUS_HASH,
    BAD_STATE_COMMITMENT, BAD_STATE_ROOT, BAD_TIME, BAD_TX_COUNT, BAD_TX_SIGNATURE, DUPLICATE_TX, RECORD_TOO_LARGE,
    SMALL_ORDER_KEY, UNKNOWN_PROPOSER, LedgerError,
)
from ledger.state import (
    BlockChanges, StateReader, Tip, apply_transactions, genesis_commitment, genesis_history, genesis_state_root,
    root_after, state_commitment,
)

# One sentence each, shared by the readable twin and the native rules (ledger/native_rules.py).
HISTORY_ROOT_MESSAGE = "the history root does not match the tree of the earlier block hashes"
STATE_ROOT_MESSAGE = "the state root does not match the state after the block's changes"


@dataclass(frozen=True, slots=True)
class Chain:
    """What validation needs to know of a chain: fixed at genesis."""
    genesis: Genesis
    chain_id: bytes
    validators: frozenset[bytes]
    issuers: frozenset[bytes]

    @classmethod
    def from_genesis(cls, genesis: Genesis) -> "Chain":
        check_genesis(genesis)   # the trusted keys (validators, issuers) are checked wherever a chain is built
        return cls(genesis, genesis.chain_id, frozenset(genesis.validators), frozenset(genesis.issuers))

    @property
    def version(self) -> int:
        """The chain's format version (its genesis version): every block of the chain is decoded as one."""
        return self.genesis.version

    def genesis_tip(self) -> Tip:
        """Version 1: the commitment over the genesis balances. Version 2: the state root over them,
        and the history tree of one leaf, the chain id (what block 1's history root commits to)."""
        if self.genesis.version == 1:
            return Tip(0, self.chain_id, self.genesis.time_ms, genesis_commitment(self.genesis))
        return Tip(0, self.chain_id, self.genesis.time_ms, genesis_state_root(self.genesis),
                   genesis_history(self.genesis))


def check_header(chain: Chain, tip: Tip, block: Block, tx_root: bytes | None = None) -> None:
    """`tx_root`: the Merkle root of the block's ids if the caller already computed it."""
    header = block.header
    height = tip.height + 1
    if header.chain_id != chain.chain_id:
        raise LedgerError(BAD_CHAIN_ID, "the block belongs to another chain", height)
    if header.height != height:
        raise LedgerError(BAD_HEIGHT, f"the block claims height {header.height}, expected {height}", height)
    if header.previous_hash != tip.hash:
        raise LedgerError(BAD_PREVIOUS_HASH, "the block does not link to the hash of the previous block", height)
    if tip.history is not None and header.history_root != tip.history.root():
        raise LedgerError(BAD_HISTORY_ROOT, HISTORY_ROOT_MESSAGE, height)
    if header.time_ms < tip.time_ms:
        raise LedgerError(BAD_TIME, f"block time {header.time_ms} ms is before the previous time {tip.time_ms} ms", height)
    if header.tx_count != len(block.transactions):
        raise LedgerError(BAD_TX_COUNT, f"the header counts {header.tx_count} transactions, the block carries "
                          f"{len(block.transactions)}", height)
    if tx_root is None:
        tx_root = merkle.root([tx.txid for tx in block.transactions])
    if tx_root != header.tx_root:
        raise LedgerError(BAD_MERKLE_ROOT, "the transaction root does not match the transaction ids", height)
    if header.proposer not in chain.validators:
        raise LedgerError(UNKNOWN_PROPOSER, "the proposer is not a validator of this chain", height)


def _first_stateless_error(chain: Chain, reader: StateReader, block: Block, verdicts: Sequence[bool]) -> LedgerError | None:
    """Rules that need no state: the earliest failing transaction."""
    height = block.header.height
    seen: set[bytes] = set()
    for index, tx in enumerate(block.transactions):
        if tx.chain_id != chain.chain_id:
            return LedgerError(BAD_CHAIN_ID, "the transaction is signed for another chain", height, index)
        record_size_error = check_record_size(tx)
        if record_size_error is not None:
            return LedgerError(RECORD_TOO_LARGE, record_size_error, height, index)
        if signatures.is_small_order(tx.sender):
            return LedgerError(SMALL_ORDER_KEY, "the sender key has small order, so its signatures prove nothing",
                               height, index)
        # Ids already in the chain are caught by the state rules (state.apply_transactions): such a
        # transaction's nonce is always used up, so the store is only asked when the nonce fails.
        if tx.txid in seen:
            return LedgerError(DUPLICATE_TX, "the transaction id is already in this block", height, index)
        seen.add(tx.txid)
        if not verdicts[index]:
            return LedgerError(BAD_TX_SIGNATURE, "the transaction signature does not hold", height, index)
    return None


def check_block(chain: Chain, tip: Tip, reader: StateReader, block: Block,
                verdicts: Sequence[bool] | None = None, tx_root: bytes | None = None,
                tree=None) -> tuple[BlockChanges, Tip]:
    """Validate `block` as the successor of `tip` over the state `reader` shows.

    Version 2: `tree` is the state tree at `tip` (by default the reader's own, `reader.tree`, as a
    MemoryState holds one); the state root is computed on it and it is left as it was.

    `verdicts` are the signature verdicts of `signature_records(block)` (header first) when the
    caller verified them ahead, batched with other blocks; otherwise they are computed here.
    `tx_root` likewise is the Merkle root of the ids when the decoder already computed it.
    Returns the block's state changes and the new tip; raises LedgerError at the first breach,
    in the order a sequential reader would find it."""
    check_header(chain, tip, block, tx_root)
    header = block.header
    height = header.height
    transactions = block.transactions
    if verdicts is None:
        verdicts = signatures.verdicts_until_first_bad(signature_records(block))
    if not verdicts[0]:
        raise LedgerError(BAD_BLOCK_SIGNATURE, "the proposer's signature over the header does not hold", height)
    stateless_error = _first_stateless_error(chain, reader, block, verdicts[1:])
    # State rules run over the transactions before the first stateless failure, so whichever
    # failure comes first in the block is the one reported.
    limit = stateless_error.index if stateless_error is not None else len(transactions)
    changes = apply_transactions(reader, chain.issuers, transactions[:limit], height)
    if stateless_error is not None:
        raise stateless_error
    if tip.history is None:
        commitment = state_commitment(tip.state_commitment, height, changes)
        if commitment != header.state_commitment:
            raise LedgerError(BAD_STATE_COMMITMENT, "the state commitment does not match the block's changes", height)
    else:
        if tree is None:
            tree = getattr(reader, "tree", None)
            if tree is None:
                raise ValueError("validating a version-2 block needs the state tree at the tip")
        commitment = root_after(tree, changes)
        if commitment != header.state_root:
            raise LedgerError(BAD_STATE_ROOT, STATE_ROOT_MESSAGE, height)
    return changes, tip.after(height, header.hash, header.time_ms, commitment)
