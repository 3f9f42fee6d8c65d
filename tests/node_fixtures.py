"""Shared set-up of the node tests: a version-2 chain with a validator, an issuer and funded senders."""
from __future__ import annotations

from dataclasses import dataclass

from ledger import Keypair, Ledger, Mint, Record, Transfer, encode_transaction, make_genesis, sign_transaction


@dataclass
class Chain:
    book: Ledger
    validator: Keypair
    issuer: Keypair
    alice: Keypair
    bob: Keypair
    carol: Keypair   # unfunded

    def transfer(self, sender: Keypair, nonce: int, amount: int, to: Keypair | None = None) -> bytes:
        to_key = (to or self.carol).public_key
        return encode_transaction(sign_transaction(sender, self.book.chain_id, nonce, Transfer(to_key, amount)))

    def mint(self, sender: Keypair, nonce: int, amount: int) -> bytes:
        return encode_transaction(sign_transaction(sender, self.book.chain_id, nonce,
                                                   Mint(self.carol.public_key, amount)))

    def record(self, sender: Keypair, nonce: int, key: bytes, value: bytes) -> bytes:
        return encode_transaction(sign_transaction(sender, self.book.chain_id, nonce, Record(key, value)))


def make_chain(path) -> Chain:
    keys = [Keypair.from_seed(bytes([i]) * 32) for i in range(1, 6)]
    validator, issuer, alice, bob, carol = keys
    genesis = make_genesis("node test", 1_000, [validator.public_key], [issuer.public_key],
                           {alice.public_key: 1_000, bob.public_key: 1_000})
    book = Ledger.create(path, genesis)
    return Chain(book, validator, issuer, alice, bob, carol)
