"""The synthetic workload's fast generator against its readable twin: the generator BlockBuilder
drives, checking every rule per transaction (what ledger/workload.py was before it was made fast).
Same seed, same bytes; and every generated chain validates."""
from __future__ import annotations

import random

import pytest

from ledger import Ledger
from ledger.builder import BlockBuilder
from ledger.codec import Block, Body, Mint, Record, Transaction, Transfer, encode_block, encode_unsigned_transaction
from ledger.hashing import transaction_id
from ledger.state import MemoryState
from ledger.validate import Chain
from ledger.workload import (
    BLOCK_INTERVAL_MS, GENESIS_TIME_MS, SHARE_MINT, SHARE_TRANSFER, Workload, generate_chain_file,
)


def reference_blocks(workload: Workload, block_count: int, txs_per_block: int):
    """Blocks made one checked transaction at a time through BlockBuilder, signed in order."""
    chain = Chain.from_genesis(workload.genesis)
    state = MemoryState(workload.genesis, track_transactions=False)
    tip = chain.genesis_tip()
    by_key = {v.public_key: v for v in workload.validators}
    proposers = [by_key[key] for key in workload.genesis.validators]
    rng = random.Random(workload.seed)
    accounts = workload.accounts
    for height in range(1, block_count + 1):
        builder = BlockBuilder(chain, tip, state, proposers[height % len(proposers)])
        for _ in range(txs_per_block):
            roll = rng.random()
            sender = accounts[rng.randrange(len(accounts))]
            if roll < SHARE_TRANSFER:
                to = accounts[rng.randrange(len(accounts))]
                body: Body = Transfer(to.public_key, rng.randrange(1, 1000))
            elif roll < SHARE_TRANSFER + SHARE_MINT:
                sender, body = workload.issuer, Mint(sender.public_key, rng.randrange(1, 10_000))
            else:
                key = f"certificate/{rng.randrange(1000)}".encode()
                body = Record(key, rng.randbytes(rng.randrange(16, 256)))
            nonce = builder.next_nonce(sender.public_key)
            txid = transaction_id(encode_unsigned_transaction(chain.chain_id, sender.public_key, nonce, body))
            builder.add(Transaction(chain.chain_id, sender.public_key, nonce, body, sender.sign(txid), txid))
        block = builder.build(GENESIS_TIME_MS + height * BLOCK_INTERVAL_MS)
        state.apply(builder.changes)
        tip = builder.tip_after(block)
        yield block


@pytest.mark.parametrize("accounts, blocks, txs", [(2, 3, 40), (7, 4, 150), (50, 2, 15), (50, 2, 16), (3, 2, 0)])
def test_fast_generator_gives_the_builders_bytes(accounts, blocks, txs):
    workload = Workload.make(5, accounts)
    fast = list(workload.block_bytes(blocks, txs))
    assert fast == [encode_block(block) for block in reference_blocks(workload, blocks, txs)]


def test_generated_chain_imports_and_validates(tmp_path):
    path = tmp_path / "chain.ledger"
    workload = generate_chain_file(path, 6, 300, 9, seed=3)
    with Ledger.create(tmp_path / "db", workload.genesis) as book:
        result = book.import_chain(path)
        assert (result.imported_blocks, result.imported_transactions) == (6, 1800)
        assert book.validate().transactions == 1800


def test_blocks_decodes_the_same_bytes():
    workload = Workload.make(9, 4)
    assert [encode_block(b) for b in workload.blocks(2, 30)] == list(workload.block_bytes(2, 30))
    assert all(isinstance(b, Block) for b in workload.blocks(1, 1))
