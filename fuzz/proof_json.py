"""Proof JSON (ledger.proofs: TxProof.from_json, check_proof), anchored to the fixed sample chain's
validator and chain id: any text gives an accepted proof or one LedgerError, never another
exception, and an accepted proof proves a transaction that the sample chain really holds at that
block and index (nobody but the validator can sign a header, so anything else is a forgery the
verifier let through)."""
from __future__ import annotations

import json

from ledger import codec, merkle
from ledger.errors import LedgerError
from ledger.proofs import TxProof, check_proof

from fuzz import sample

_GENESIS, _BLOCKS = sample.chain()
_GENUINE = {(block.hash, index, tx.txid) for block in _BLOCKS for index, tx in enumerate(block.transactions)}


def test_one_input(data: bytes) -> None:
    text = data.decode("utf-8", "replace")
    try:
        proof = TxProof.from_json(text)
        check_proof(proof, [sample.VALIDATOR.public_key], _GENESIS.chain_id)
    except LedgerError:
        return
    header = codec.decode_header(proof.header)
    tx = codec.decode_transaction(proof.transaction)
    assert (header.hash, proof.index, tx.txid) in _GENUINE, "accepted a proof of something the chain does not hold"


def _proof(block, index: int) -> bytes:
    txids = [tx.txid for tx in block.transactions]
    proof = TxProof(codec.encode_transaction(block.transactions[index]), index,
                    tuple(merkle.inclusion_proof(txids, index)), codec.encode_header(block.header))
    return json.dumps(proof.to_json(), indent=1).encode()


SEEDS = {f"block{block.height}-tx{index}": _proof(block, index)
         for block in _BLOCKS for index in range(len(block.transactions))}
