"""A deterministic synthetic workload: a genesis and signed blocks of transfers, mints and records,
for demos, tests and benchmarks. The same arguments always give the same bytes.

Specification: none beyond docs/FORMAT.md.

The generator applies the state rules itself on flat lists (BlockBuilder, which checks every rule
per transaction, is several times slower); tests/test_workload.py checks its blocks against
validation and against BlockBuilder's, so it never produces an invalid block.
"""
from __future__ import annotations

import hashlib
import os
import random
import struct
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Callable, Iterator

import msgpack

from ledger import hashing, limits, merkle, state_tree
from ledger.builder import sign_header
from ledger.chainfile import ChainWriter
from ledger.codec import (
    KIND_MINT, KIND_RECORD, KIND_TRANSFER, Block, Genesis, decode_block, encode_genesis, encode_header,
    make_genesis, signed_from_unsigned,
)
from ledger.keys import Keypair
from ledger.state import (
    Account, BlockChanges, genesis_accounts, genesis_commitment, genesis_history, genesis_tree, latest_records,
    state_commitment,
)

GENESIS_TIME_MS = 1_767_225_600_000   # 2026-01-01T00:00:00Z
BLOCK_INTERVAL_MS = 1_000
INITIAL_BALANCE = 10**12
VALIDATOR_COUNT = 4
SHARE_TRANSFER = 0.85
SHARE_MINT = 0.05                      # the rest are records
SIGNING_THREADS = max(1, os.cpu_count() or 1)
SIGNING_BLOCKS_AHEAD = 2 * SIGNING_THREADS     # blocks made but not yet signed (bounds memory)
_ACCOUNT_VALUE = struct.Struct(">QQ")


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
    def make(cls, seed: int, account_count: int, version: int = limits.DEFAULT_FORMAT_VERSION) -> "Workload":
        """`version`: the chain format (FORMAT.md §6). The same seed draws the same transactions in
        either version (their bytes differ: the chain id is the genesis's hash)."""
        if account_count < 2:
            raise ValueError("a workload needs at least two accounts")
        accounts = tuple(derived_keypair(seed, "account", i) for i in range(account_count))
        validators = tuple(derived_keypair(seed, "validator", i) for i in range(VALIDATOR_COUNT))
        issuer = derived_keypair(seed, "issuer", 0)
        genesis = make_genesis(f"synthetic workload seed {seed}", GENESIS_TIME_MS,
                               [v.public_key for v in validators], [issuer.public_key],
                               {a.public_key: INITIAL_BALANCE for a in accounts}, version=version)
        return cls(seed, accounts, validators, issuer, genesis)

    def blocks(self, block_count: int, txs_per_block: int) -> Iterator[Block]:
        """Signed blocks 1..block_count, decoded (for tests; `block_bytes` is the fast path)."""
        for data in self.block_bytes(block_count, txs_per_block):
            yield decode_block(data, self.genesis.version)

    def block_bytes(self, block_count: int, txs_per_block: int) -> Iterator[bytes]:
        """The canonical bytes of signed blocks 1..block_count.

        The world is a few flat lists indexed by account (keys, balances, nonces), and each
        transaction is packed straight to its unsigned bytes: no Transaction, Account or builder
        object per transaction. Ids are hashed per block in one native call, the header (which
        depends on ids and state, never on transaction signatures) is made here in order, and the
        transaction signatures, which nothing else depends on, are made by a pool of threads a
        few blocks behind: libsodium signs without the GIL, so every core signs. The random draws
        are the ones BlockBuilder's generator always made, so a seed gives the same bytes.
        tests/test_workload.py checks each block against validation and the readable builder."""
        chain_id = self.genesis.chain_id
        accounts = self.accounts
        account_count = len(accounts)
        keys = [a.public_key for a in accounts] + [self.issuer.public_key]
        keypairs = list(accounts) + [self.issuer]
        issuer = account_count
        start = genesis_accounts(self.genesis)
        balances = [start[key].balance if key in start else 0 for key in keys]
        nonces = [0] * len(keys)
        by_key = {v.public_key: v for v in self.validators}
        proposers = [by_key[key] for key in self.genesis.validators]
        rng = random.Random(self.seed)
        random_unit, randrange, randbytes = rng.random, rng.randrange, rng.randbytes
        pack = msgpack.Packer(use_bin_type=True, autoreset=True).pack
        version = self.genesis.version
        previous_hash = chain_id
        if version == 1:
            commitment = genesis_commitment(self.genesis)
        else:   # the state tree and the history frontier, moved along block by block
            tree, history = genesis_tree(self.genesis), genesis_history(self.genesis)
        in_flight: deque[Future[bytes]] = deque()
        with ThreadPoolExecutor(max_workers=SIGNING_THREADS) as pool:
            for height in range(1, block_count + 1):
                unsigned: list[bytes] = []
                signers: list[bytes] = []
                touched: set[int] = set()
                records: list[tuple[bytes, bytes, bytes, int]] = []
                for index in range(txs_per_block):
                    roll = random_unit()
                    sender = randrange(account_count)
                    if roll < SHARE_TRANSFER:
                        to = randrange(account_count)
                        amount = randrange(1, 1000)
                        nonce = nonces[sender] + 1
                        nonces[sender] = nonce
                        if to != sender:
                            if amount > balances[sender] or balances[to] + amount > limits.AMOUNT_MAX:
                                raise AssertionError("the synthetic workload ran out of balance")
                            balances[sender] -= amount
                            balances[to] += amount
                            touched.add(to)
                        touched.add(sender)
                        unsigned.append(pack([chain_id, keys[sender], nonce, KIND_TRANSFER, [keys[to], amount]]))
                        signers.append(keypairs[sender])
                    elif roll < SHARE_TRANSFER + SHARE_MINT:
                        amount = randrange(1, 10_000)
                        nonce = nonces[issuer] + 1
                        nonces[issuer] = nonce
                        if balances[sender] + amount > limits.AMOUNT_MAX:
                            raise AssertionError("the synthetic workload minted past the balance limit")
                        balances[sender] += amount
                        touched.add(issuer)
                        touched.add(sender)
                        unsigned.append(pack([chain_id, keys[issuer], nonce, KIND_MINT, [keys[sender], amount]]))
                        signers.append(keypairs[issuer])
                    else:
                        key = f"certificate/{randrange(1000)}".encode()
                        value = randbytes(randrange(16, 256))
                        nonce = nonces[sender] + 1
                        nonces[sender] = nonce
                        touched.add(sender)
                        records.append((keys[sender], key, value, index))
                        unsigned.append(pack([chain_id, keys[sender], nonce, KIND_RECORD, [key, value]]))
                        signers.append(keypairs[sender])
                txids = hashing.transaction_ids(unsigned)
                if version == 1:
                    changes = BlockChanges({keys[i]: Account(balances[i], nonces[i]) for i in touched}, records)
                    commitment = state_commitment(commitment, height, changes)
                    history_root = b""
                else:
                    packed = b"".join(keys[i] + _ACCOUNT_VALUE.pack(balances[i], nonces[i]) for i in touched)
                    account_keys, account_values = state_tree.account_hashes(packed)
                    record_keys, record_values = state_tree.record_hashes(latest_records(records))
                    state_tree.update_packed(tree, account_keys + record_keys, account_values + record_values)
                    commitment, history_root = tree.root(), history.root()
                header = sign_header(proposers[height % len(proposers)], chain_id, height, previous_hash,
                                     GENESIS_TIME_MS + height * BLOCK_INTERVAL_MS, len(unsigned),
                                     merkle.root(txids), commitment, version=version, history_root=history_root)
                previous_hash = header.hash
                if version == 2:
                    history = history.append(header.hash)
                in_flight.append(pool.submit(_finish_block, encode_header(header), unsigned, txids, signers))
                if len(in_flight) > SIGNING_BLOCKS_AHEAD:
                    yield in_flight.popleft().result()
            while in_flight:
                yield in_flight.popleft().result()


def _finish_block(header: bytes, unsigned: list[bytes], txids: list[bytes], signers: list[Keypair]) -> bytes:
    """Sign every transaction and frame the block: msgpack [header, [transactions]], each
    transaction its unsigned array with the signature appended (codec.signed_from_unsigned)."""
    parts = [b"\x92", header, msgpack.Packer().pack_array_header(len(unsigned))]
    for data, txid, signer in zip(unsigned, txids, signers):
        parts.append(signed_from_unsigned(data, signer.sign(txid)))
    return b"".join(parts)


def generate_chain_file(path: str | os.PathLike, block_count: int, txs_per_block: int, account_count: int,
                        seed: int, progress: Callable[[int, int], None] | None = None,
                        version: int = limits.DEFAULT_FORMAT_VERSION) -> Workload:
    """Write a chain file of `block_count` blocks of format `version`; `progress(height, transactions)`
    after each block."""
    workload = Workload.make(seed, account_count, version)
    transactions = 0
    with ChainWriter(path, encode_genesis(workload.genesis)) as writer:
        for height, data in enumerate(workload.block_bytes(block_count, txs_per_block), start=1):
            writer.write_block(data)
            transactions += txs_per_block
            if progress is not None:
                progress(height, transactions)
    return workload
