"""A small, fixed chain for the harnesses' seeds and oracles: fixed keys, so every run makes the
same bytes, in either format version (docs/FORMAT.md §6). Made through the public builder
functions; blocks are signed and rooted correctly (their state commitments and history roots are
not checked by anything the harnesses call)."""
from __future__ import annotations

from functools import lru_cache

from ledger import codec, merkle
from ledger.builder import sign_header, sign_transaction
from ledger.codec import Block, Mint, Record, Transfer, make_genesis
from ledger.keys import Keypair

VALIDATOR = Keypair.from_seed(b"fuzz validator".ljust(32, b"."))
ISSUER = Keypair.from_seed(b"fuzz issuer".ljust(32, b"."))
ALICE = Keypair.from_seed(b"fuzz alice".ljust(32, b"."))
BOB = Keypair.from_seed(b"fuzz bob".ljust(32, b"."))


@lru_cache(maxsize=None)
def chain(version: int = 1) -> tuple[codec.Genesis, tuple[Block, ...]]:
    genesis = make_genesis("fuzz", 1_000, [VALIDATOR.public_key], [ISSUER.public_key],
                           {ALICE.public_key: 1_000, BOB.public_key: 2**64 - 1}, version=version)
    chain_id = genesis.chain_id
    bodies = [
        [(ALICE, Transfer(BOB.public_key, 0)), (ISSUER, Mint(ALICE.public_key, 300)),
         (BOB, Record(b"name", b"bob")), (ALICE, Record(b"k" * 64, b"v" * 200))],
        [(ALICE, Transfer(ALICE.public_key, 17)), (BOB, Transfer(ALICE.public_key, 2**40))],
        [],
    ]
    nonces: dict[bytes, int] = {}
    blocks, previous, time_ms = [], chain_id, 2_000
    for height, pairs in enumerate(bodies, 1):
        txs = []
        for key, body in pairs:
            nonces[key.public_key] = nonces.get(key.public_key, 0) + 1
            txs.append(sign_transaction(key, chain_id, nonces[key.public_key], body))
        header = sign_header(VALIDATOR, chain_id, height, previous, time_ms + height, len(txs),
                             merkle.root([t.txid for t in txs]), bytes([height]) * 32, version=version,
                             history_root=bytes([0x80 + height]) * 32 if version == 2 else b"")
        blocks.append(Block(header, tuple(txs)))
        previous = header.hash
    return genesis, tuple(blocks)


def encoded_blocks(version: int = 1) -> list[bytes]:
    return [codec.encode_block(block) for block in chain(version)[1]]
