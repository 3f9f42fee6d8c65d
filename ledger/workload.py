"""A deterministic synthetic workload: a genesis and signed blocks of transfers, mints and records,
for demos, tests and benchmarks. The same arguments always give the same bytes.

Specification: none beyond docs/FORMAT.md.

Every block goes through BlockBuilder, so the generator obeys exactly the rules validation
enforces; it never produces an invalid block.
"""
from __future__ import annotations

import hashlib
import os
import random
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Callable, Iterator

from ledger.builder import BlockBuilder
from ledger.chainfile import ChainWriter
from ledger.codec import (
    Block, Body, Genesis, Mint, Record, Transaction, Transfer, encode_block, encode_genesis,
    encode_unsigned_transaction, make_genesis,
)
from ledger.hashing import transaction_id
from ledger.keys import Keypair
from ledger.state import MemoryState
from ledger.validate import Chain

GENESIS_TIME_MS = 1_767_225_600_000   # 2026-01-01T00:00:00Z
BLOCK_INTERVAL_MS = 1_000
INITIAL_BALANCE = 10**12
VALIDATOR_COUNT = 4
SHARE_TRANSFER = 0.85
SHARE_MINT = 0.05                      # the rest are records
SIGNING_THREADS = max(1, (os.cpu_count() or 2) - 1)
SIGNING_BLOCKS_AHEAD = 2 * SIGNING_THREADS


def derived_keypair(seed: int, role: str, index: int) -> Keypair:
    """Keys of the synthetic world, derived from the workload seed (never use these for real money)."""
    return Keypair.from_seed(hashlib.sha256(f"ledger workload|{seed}|{role}|{index}".encode()).digest())


@dataclass(frozen=True)
class Workload:
    seed: int
    accounts: tuple[Keypair, ...]
    validators: tuple[Keypair, ...]
    issuer: Keypair
    genesis: Genesis

    @classmethod
    def make(cls, seed: int, account_count: int) -> "Workload":
        if account_count < 2:
            raise ValueError("a workload needs at least two accounts")
        accounts = tuple(derived_keypair(seed, "account", i) for i in range(account_count))
        validators = tuple(derived_keypair(seed, "validator", i) for i in range(VALIDATOR_COUNT))
        issuer = derived_keypair(seed, "issuer", 0)
        genesis = make_genesis(f"synthetic workload seed {seed}", GENESIS_TIME_MS,
                               [v.public_key for v in validators], [issuer.public_key],
                               {a.public_key: INITIAL_BALANCE for a in accounts})
        return cls(seed, accounts, validators, issuer, genesis)

    def blocks(self, block_count: int, txs_per_block: int) -> Iterator[Block]:
        """Signed blocks 1..block_count. State, ids and headers are computed here in order; the
        transaction signatures (which nothing else depends on) are made by a pool of threads,
        a few blocks behind. libsodium runs without the GIL, so this uses a second core."""
        chain = Chain.from_genesis(self.genesis)
        state = MemoryState(self.genesis, track_transactions=False)
        tip = chain.genesis_tip()
        by_key = {v.public_key: v for v in self.validators}
        proposers = [by_key[key] for key in self.genesis.validators]
        rng = random.Random(self.seed)
        accounts = self.accounts
        in_flight: deque[Future[Block]] = deque()
        with ThreadPoolExecutor(max_workers=SIGNING_THREADS) as pool:
            for height in range(1, block_count + 1):
                builder = BlockBuilder(chain, tip, state, proposers[height % len(proposers)])
                signers = []
                for _ in range(txs_per_block):
                    roll = rng.random()
                    sender = accounts[rng.randrange(len(accounts))]
                    if roll < SHARE_TRANSFER:
                        to = accounts[rng.randrange(len(accounts))]
                        body: Body = Transfer(to.public_key, rng.randrange(1, 1000))
                    elif roll < SHARE_TRANSFER + SHARE_MINT:
                        sender, body = self.issuer, Mint(sender.public_key, rng.randrange(1, 10_000))
                    else:
                        key = f"certificate/{rng.randrange(1000)}".encode()
                        body = Record(key, rng.randbytes(rng.randrange(16, 256)))
                    builder.add(_unsigned(chain.chain_id, sender.public_key, builder.next_nonce(sender.public_key), body))
                    signers.append(sender)
                block = builder.build(GENESIS_TIME_MS + height * BLOCK_INTERVAL_MS)
                state.apply(builder.changes)
                tip = builder.tip_after(block)
                in_flight.append(pool.submit(_sign_transactions, block, signers))
                if len(in_flight) > SIGNING_BLOCKS_AHEAD:
                    yield in_flight.popleft().result()
            while in_flight:
                yield in_flight.popleft().result()


def _unsigned(chain_id: bytes, sender: bytes, nonce: int, body: Body) -> Transaction:
    """A transaction with its id but no signature yet (state rules do not look at signatures)."""
    return Transaction(chain_id, sender, nonce, body, b"",
                       transaction_id(encode_unsigned_transaction(chain_id, sender, nonce, body)))


def _sign_transactions(block: Block, signers: list[Keypair]) -> Block:
    """Fill in the signatures (the transactions were made by this module and are not shared yet)."""
    for tx, keypair in zip(block.transactions, signers):
        tx.signature = keypair.sign(tx.txid)
    return block


def generate_chain_file(path: str | os.PathLike, block_count: int, txs_per_block: int, account_count: int,
                        seed: int, progress: Callable[[int, int], None] | None = None) -> Workload:
    """Write a chain file of `block_count` blocks; `progress(height, transactions)` after each block."""
    workload = Workload.make(seed, account_count)
    transactions = 0
    with ChainWriter(path, encode_genesis(workload.genesis)) as writer:
        for block in workload.blocks(block_count, txs_per_block):
            writer.write_block(encode_block(block))
            transactions += len(block.transactions)
            if progress is not None:
                progress(block.height, transactions)
    return workload
