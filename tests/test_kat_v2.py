"""Known-answer vectors for chain format version 2 (docs/FORMAT.md §7.2, §7.3, §9, §12-§14): the
engine must reproduce every value of tests/vectors/kat_v2.json, which tools/kat_independent_v2.py
computed from the format text alone (blake3, msgpack, hashlib, PyNaCl; no ledger code). The
engine imports the independent chain file, reaches each independent state and history root,
exports the same bytes, makes the same proofs byte for byte, gives each tampered proof the verdict
FORMAT.md names, and signs the same checkpoint note."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from ledger import Keypair, Ledger, decode_block, decode_genesis, encode_block, hashing, state_proofs, state_tree
from ledger.errors import LedgerError
from ledger.keys import save_keypair
from ledger_cli.main import cli

VECTORS = json.loads((Path(__file__).parent / "vectors" / "kat_v2.json").read_text())
GENESIS = bytes.fromhex(VECTORS["genesis"]["encoding"])
CHAIN_ID = bytes.fromhex(VECTORS["genesis"]["chain_id"])
VALIDATOR = bytes.fromhex(VECTORS["keys"]["validator"])
CHAIN_FILE = bytes.fromhex(VECTORS["chain_file"]["bytes"])
TIP = VECTORS["blocks"][-1]["height"]


def invoke(*args: object):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def test_vector_file_is_consistent():
    assert hashlib.sha256(CHAIN_FILE).hexdigest() == VECTORS["chain_file"]["sha256"]
    assert decode_genesis(GENESIS).version == 2
    assert decode_genesis(GENESIS).chain_id == CHAIN_ID
    assert VECTORS["absent_terminals_covered"] == [False, True]   # EMPTY and another leaf


def test_hash_keys():
    engine = {"transaction": hashing.KEY_TRANSACTION, "merkle_leaf": hashing.KEY_MERKLE_LEAF,
              "merkle_node": hashing.KEY_MERKLE_NODE, "block_header": hashing.KEY_BLOCK_HEADER,
              "genesis": hashing.KEY_GENESIS, "state_key": state_tree.KEY_STATE_KEY,
              "state_value": state_tree.KEY_STATE_VALUE, "state_leaf": state_tree.KEY_STATE_LEAF,
              "state_node": state_tree.KEY_STATE_NODE}
    assert {name: key.hex() for name, key in engine.items()} == VECTORS["hash_keys"]


@pytest.mark.parametrize("vector", VECTORS["blocks"], ids=lambda v: f"block{v['height']}")
def test_block_fields(vector):
    data = bytes.fromhex(vector["encoding"])
    block = decode_block(data)
    assert encode_block(block) == data
    header = block.header
    assert (header.version, header.height) == (2, vector["height"])
    assert block.hash.hex() == vector["block_hash"]
    assert header.tx_root.hex() == vector["tx_root"]
    assert header.state_root.hex() == vector["state_root"]
    assert header.history_root.hex() == vector["history_root"]
    assert [tx.txid.hex() for tx in block.transactions] == vector["txids"]


@pytest.fixture(scope="module")
def stores(tmp_path_factory):
    """One store per height 1 … tip, each holding the independent blocks up to that height (the
    engine proves at its tip), and the whole chain imported from the independent chain file."""
    path = tmp_path_factory.mktemp("kat-v2")
    (path / "chain.ledger").write_bytes(CHAIN_FILE)
    books = {}
    for height in range(1, TIP + 1):
        book = Ledger.create(path / f"db{height}", GENESIS)
        for vector in VECTORS["blocks"][:height]:
            book.append(bytes.fromhex(vector["encoding"]))
        books[height] = book
    imported = Ledger.create(path / "imported", GENESIS)
    imported.import_chain(path / "chain.ledger")
    result = invoke("import", path / "chain.ledger", "--db", path / "cli-db")   # a store the CLI opens
    assert result.exit_code == 0, result.output
    yield path, books, imported
    for book in (*books.values(), imported):
        book.close()


def test_engine_accepts_the_chain_and_reaches_each_root(stores):
    path, books, imported = stores
    with Ledger.create(path / "genesis-only", GENESIS) as book:     # the root over the genesis balances
        assert book.info()["state_commitment"] == VECTORS["genesis"]["state_root"]
    for height, book in books.items():
        vector = VECTORS["blocks"][height - 1]
        info = book.info()
        assert (info["height"], info["tip_hash"]) == (height, vector["block_hash"])
        assert info["state_commitment"] == vector["state_root"]
    assert imported.info()["tip_hash"] == VECTORS["blocks"][-1]["block_hash"]
    for vector in VECTORS["blocks"]:
        stored = imported.block(vector["height"])
        assert encode_block(stored) == bytes.fromhex(vector["encoding"])
    for key_hex, (balance, nonce) in VECTORS["final_state"]["accounts"].items():
        account = imported.account(bytes.fromhex(key_hex))
        assert (account.balance, account.nonce) == (balance, nonce)
    for owner, key, value in VECTORS["final_state"]["records"]:
        assert imported.record(bytes.fromhex(owner), bytes.fromhex(key)).value == bytes.fromhex(value)


def test_export_gives_the_same_bytes(stores):
    path, _books, imported = stores
    imported.export_chain(path / "api-export.ledger")
    assert (path / "api-export.ledger").read_bytes() == CHAIN_FILE
    result = invoke("export", "--db", path / "cli-db", "--out", path / "cli-export.ledger")
    assert result.exit_code == 0, result.output
    assert (path / "cli-export.ledger").read_bytes() == CHAIN_FILE


@pytest.mark.parametrize("vector", VECTORS["state_proofs"], ids=lambda v: v["name"])
def test_engine_state_proof_is_the_independent_one(stores, vector):
    _path, books, _imported = stores
    book = books[vector["height"]]
    if vector["kind"] == "account":
        proof = book.prove_account(bytes.fromhex(vector["public_key"]))
    else:
        proof = book.prove_record(bytes.fromhex(vector["owner"]), bytes.fromhex(vector["key"]))
    expected = bytes.fromhex(vector["proof"])
    assert state_proofs.encode(proof) == expected
    assert proof.to_bytes() == expected
    assert state_proofs.decode(expected) == proof


@pytest.mark.parametrize("vector", VECTORS["state_proofs"], ids=lambda v: v["name"])
def test_json_form(stores, vector):
    """§12's JSON form, field for field and in the written order, through the API and the CLI."""
    path, books, _imported = stores
    book = books[vector["height"]]
    if vector["kind"] == "account":
        proof = book.prove_account(bytes.fromhex(vector["public_key"]))
        args = ["prove-account", vector["public_key"]]
    else:
        proof = book.prove_record(bytes.fromhex(vector["owner"]), bytes.fromhex(vector["key"]))
        args = ["prove-record", vector["owner"], vector["key"], "--hex-key"]
    produced = proof.to_json()
    assert list(produced) == list(vector["json"])
    assert produced == vector["json"]
    if vector["height"] == TIP:
        result = invoke(*args, "--db", path / "cli-db")
        assert result.exit_code == 0, result.output
        assert list(json.loads(result.stdout).items()) == list(vector["json"].items())
    assert state_proofs.verify_state_proof(json.dumps(vector["json"]).encode(), [VALIDATOR], CHAIN_ID)


@pytest.mark.parametrize("vector", VECTORS["state_proofs"], ids=lambda v: v["name"])
def test_engine_verifies_the_independent_state_proof(vector):
    data = bytes.fromhex(vector["proof"])
    header = state_proofs.check_state_proof(state_proofs.decode(data), [VALIDATOR], CHAIN_ID)
    assert header.height == vector["height"]
    assert state_proofs.verify_state_proof(data, [VALIDATOR], CHAIN_ID)
    assert state_proofs.verify_state_proof(data)                      # consistency alone


@pytest.mark.parametrize("vector", VECTORS["history_proofs"], ids=lambda v: f"{v['old_height']}-{v['new_height']}")
def test_history_proof(stores, vector):
    _path, _books, imported = stores
    expected = bytes.fromhex(vector["proof"])
    proof = imported.prove_history(vector["old_height"], vector["new_height"])
    assert state_proofs.encode(proof) == expected
    old, new = state_proofs.check_history_proof(state_proofs.decode(expected), [VALIDATOR], CHAIN_ID)
    assert (old.height, new.height) == (vector["old_height"], vector["new_height"])
    assert state_proofs.verify_state_proof(expected, [VALIDATOR], CHAIN_ID)
    assert list(proof.to_json().items()) == list(vector["json"].items())


def _anchor(name: str) -> tuple[list[bytes], bytes]:
    if name == "other-chain":
        return [VALIDATOR], hashlib.sha256(b"another chain").digest()
    if name == "other-validator":
        return [Keypair.from_seed(bytes([9]) * 32).public_key], CHAIN_ID
    return [VALIDATOR], CHAIN_ID


@pytest.mark.parametrize("vector", VECTORS["tampered"], ids=lambda v: v["name"])
def test_tampered_proof_is_rejected_with_the_named_code(vector):
    data = bytes.fromhex(vector["proof"])
    trusted, chain_id = _anchor(vector["anchor"])
    with pytest.raises(LedgerError) as caught:
        proof = state_proofs.decode(data)
        if vector["base"] == "history":
            state_proofs.check_history_proof(proof, trusted, chain_id)
        else:
            state_proofs.check_state_proof(proof, trusted, chain_id)
    assert caught.value.code == vector["code"], caught.value
    assert not state_proofs.verify_state_proof(data, trusted, chain_id)


def test_checkpoint_note(stores):
    path, _books, imported = stores
    keypair = Keypair.from_seed(bytes.fromhex(VECTORS["keys"]["validator_seed"]))
    assert keypair.public_key == VALIDATOR
    expected = VECTORS["checkpoint"]["note"]
    assert imported.checkpoint(keypair).to_bytes() == expected.encode()
    save_keypair(path / "validator.pem", keypair)
    result = invoke("checkpoint", "--db", path / "cli-db", "--key", path / "validator.pem",
                    "--out", path / "note.txt")
    assert result.exit_code == 0, result.output
    assert (path / "note.txt").read_bytes() == expected.encode()
    (path / "independent-note.txt").write_text(expected)
    result = invoke("checkpoint-verify", path / "independent-note.txt", "--validator", VALIDATOR.hex(),
                    "--db", path / "cli-db")
    assert result.exit_code == 0, result.output
    assert f"\n{TIP + 1}\n" in expected                              # size = tip height + 1
    (path / "bad-note.txt").write_text(expected.replace(f"\n{TIP + 1}\n", f"\n{TIP}\n"))
    assert invoke("checkpoint-verify", path / "bad-note.txt", "--validator", VALIDATOR.hex()).exit_code == 1
