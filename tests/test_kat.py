"""Fixed known-answer vectors (docs/FORMAT.md §2-§7): the engine must reproduce every value of
tests/vectors/kat.json, which tools/kat_independent.py computed from the format text with the
blake3, msgpack and PyNaCl packages and no ledger code. A change to any consensus byte (a hash
key, a field order, the Merkle split, the commitment's entry order) fails here even when the code
that computes and the code that checks change together."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from ledger import Ledger, decode_block, decode_genesis, decode_transaction, encode_block, encode_transaction, hashing
from ledger import codec, merkle
from ledger.state import genesis_commitment

VECTORS = json.loads((Path(__file__).parent / "vectors" / "kat.json").read_text())


def test_hash_keys():
    engine = {"transaction": hashing.KEY_TRANSACTION, "merkle_leaf": hashing.KEY_MERKLE_LEAF,
              "merkle_node": hashing.KEY_MERKLE_NODE, "block_header": hashing.KEY_BLOCK_HEADER,
              "genesis": hashing.KEY_GENESIS, "state": hashing.KEY_STATE}
    assert {name: key.hex() for name, key in engine.items()} == VECTORS["hash_keys"]


def test_genesis_chain_id_and_commitment():
    data = bytes.fromhex(VECTORS["genesis"]["encoding"])
    genesis = decode_genesis(data)
    assert codec.encode_genesis(genesis) == data
    assert genesis.chain_id.hex() == VECTORS["genesis"]["chain_id"]
    assert genesis_commitment(genesis).hex() == VECTORS["genesis"]["state_commitment"]


@pytest.mark.parametrize("vector", VECTORS["transactions"], ids=lambda v: v["txid"][:8])
def test_transaction_ids(vector):
    data = bytes.fromhex(vector["encoding"])
    tx = decode_transaction(data)
    assert tx.kind == vector["kind"]
    assert encode_transaction(tx) == data
    assert codec.encode_unsigned_transaction(tx.chain_id, tx.sender, tx.nonce, tx.body).hex() == vector["unsigned"]
    assert tx.txid.hex() == vector["txid"]


def test_every_kind_is_covered():
    assert {v["kind"] for v in VECTORS["transactions"]} == {0, 1, 2}
    assert len(VECTORS["blocks"]) == 2


@pytest.mark.parametrize("vector", VECTORS["blocks"], ids=lambda v: f"block{v['height']}")
def test_block_hash_and_root(vector):
    data = bytes.fromhex(vector["encoding"])
    for block in (decode_block(data), codec.decode_block_python(data)):
        assert encode_block(block) == data
        assert block.hash.hex() == vector["block_hash"]
        assert block.header.tx_root.hex() == vector["tx_root"]
        assert [tx.txid.hex() for tx in block.transactions] == vector["txids"]
        assert merkle.root([tx.txid for tx in block.transactions]).hex() == vector["tx_root"]


def test_engine_accepts_the_chain_and_reaches_each_commitment(tmp_path):
    """Appending checks every signature and rule and recomputes the state commitment (§7): the
    engine's own commitment after each block must be the independent one."""
    genesis = bytes.fromhex(VECTORS["genesis"]["encoding"])
    with Ledger.create(tmp_path / "db", genesis) as book:
        assert book.info()["state_commitment"] == VECTORS["genesis"]["state_commitment"]
        for vector in VECTORS["blocks"]:
            book.append(bytes.fromhex(vector["encoding"]))
            info = book.info()
            assert (info["height"], info["tip_hash"]) == (vector["height"], vector["block_hash"])
            assert info["state_commitment"] == vector["state_commitment"]


@pytest.mark.parametrize("vector", VECTORS["merkle"], ids=lambda v: f"{v['leaves']}leaves")
def test_merkle_roots(vector):
    leaves = [bytes([i]) + bytes(31) for i in range(vector["leaves"])]
    assert merkle.root(leaves).hex() == vector["root"]
    assert merkle._root_python(leaves).hex() == vector["root"]
