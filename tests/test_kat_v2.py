"""Known-answer vectors for chain format version 2 (docs/FORMAT.md §7.2, §7.3, §9, §12-§14): the
engine must reproduce every value of tests/vectors/kat_v2.json, which tools/kat_independent_v2.py
computed from the format text alone (blake3, msgpack, hashlib, PyNaCl; no ledger code). For each
of its two chains (a main one, and one at the edges of the state tree: an empty map, a single
entry, key hashes sharing 16 bits, the ends of the key space) the engine imports the independent
chain file, reaches each independent state and history root, exports the same bytes, makes the
same proofs byte for byte (binary and JSON) and signs the same checkpoint note; and it gives each
tampered proof the verdict FORMAT.md names."""
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
CHAINS = {"main": VECTORS, "edges": VECTORS["edge_chain"]}
VALIDATOR = bytes.fromhex(VECTORS["keys"]["validator"])
VALIDATOR_SEED = bytes.fromhex(VECTORS["keys"]["validator_seed"])


def each(field: str) -> list:
    """(chain name, vector) for every vector of `field` in both chains, for parametrize."""
    def label(vector: dict) -> str:
        if "name" in vector:
            return vector["name"]
        if "old_height" in vector:
            return f"{vector['old_height']}-{vector['new_height']}"
        return f"block{vector['height']}"
    return [pytest.param(name, vector, id=f"{name}:{label(vector)}")
            for name, chain in CHAINS.items() for vector in chain[field]]


def tip(chain: dict) -> int:
    return chain["blocks"][-1]["height"]


def invoke(*args: object):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


@pytest.mark.parametrize("name", CHAINS)
def test_vector_file_is_consistent(name):
    chain = CHAINS[name]
    chain_file = bytes.fromhex(chain["chain_file"]["bytes"])
    assert hashlib.sha256(chain_file).hexdigest() == chain["chain_file"]["sha256"]
    genesis = decode_genesis(bytes.fromhex(chain["genesis"]["encoding"]))
    assert genesis.version == 2
    assert genesis.chain_id.hex() == chain["genesis"]["chain_id"]
    assert list(genesis.validators) == [VALIDATOR]
    assert chain["absent_terminals_covered"] == [False, True]   # EMPTY and another key's leaf


def test_edge_chain_reaches_the_edges():
    edges = CHAINS["edges"]
    assert edges["blocks"][0]["state_root"] == "00" * 32                    # the empty map, in a header
    depth = {p["name"]: p["siblings"] for p in edges["state_proofs"]}
    assert depth["one entry: account present, no sibling"] == 0
    assert depth["16 shared bits: record present"] > 16


def test_hash_keys():
    engine = {"transaction": hashing.KEY_TRANSACTION, "merkle_leaf": hashing.KEY_MERKLE_LEAF,
              "merkle_node": hashing.KEY_MERKLE_NODE, "block_header": hashing.KEY_BLOCK_HEADER,
              "genesis": hashing.KEY_GENESIS, "state_key": state_tree.KEY_STATE_KEY,
              "state_value": state_tree.KEY_STATE_VALUE, "state_leaf": state_tree.KEY_STATE_LEAF,
              "state_node": state_tree.KEY_STATE_NODE}
    assert {name: key.hex() for name, key in engine.items()} == VECTORS["hash_keys"]


@pytest.mark.parametrize("name,vector", each("blocks"))
def test_block_fields(name, vector):
    data = bytes.fromhex(vector["encoding"])
    block = decode_block(data)
    assert encode_block(block) == data
    header = block.header
    assert (header.version, header.height) == (2, vector["height"])
    assert block.hash.hex() == vector["block_hash"]
    assert header.tx_root.hex() == vector["tx_root"]
    assert header.state_root.hex() == vector["state_root"]
    assert header.history_root.hex() == vector["history_root"]
    assert header.history_root.hex() == CHAINS[name]["history_roots"][vector["height"]]
    assert [tx.txid.hex() for tx in block.transactions] == vector["txids"]


@pytest.fixture(scope="module")
def stores(tmp_path_factory):
    """For each chain: one store per height 1 … tip holding the independent blocks up to that
    height (the engine proves at its tip), the whole chain imported from the independent chain
    file through the API, and once more through the CLI (a store the CLI opens)."""
    made = {}
    for name, chain in CHAINS.items():
        path = tmp_path_factory.mktemp(f"kat-v2-{name}")
        genesis = bytes.fromhex(chain["genesis"]["encoding"])
        (path / "chain.ledger").write_bytes(bytes.fromhex(chain["chain_file"]["bytes"]))
        books = {}
        for height in range(1, tip(chain) + 1):
            book = Ledger.create(path / f"db{height}", genesis)
            for vector in chain["blocks"][:height]:
                book.append(bytes.fromhex(vector["encoding"]))
            books[height] = book
        imported = Ledger.create(path / "imported", genesis)
        imported.import_chain(path / "chain.ledger")
        result = invoke("import", path / "chain.ledger", "--db", path / "cli-db")
        assert result.exit_code == 0, result.output
        made[name] = (path, books, imported)
    yield made
    for _path, books, imported in made.values():
        for book in (*books.values(), imported):
            book.close()


@pytest.mark.parametrize("name", CHAINS)
def test_engine_accepts_the_chain_and_reaches_each_root(stores, name):
    chain = CHAINS[name]
    path, books, imported = stores[name]
    with Ledger.create(path / "genesis-only", bytes.fromhex(chain["genesis"]["encoding"])) as book:
        assert book.info()["state_root"] == chain["genesis"]["state_root"]   # over the genesis balances
    for height, book in books.items():
        vector = chain["blocks"][height - 1]
        info = book.info()
        assert (info["height"], info["tip_hash"]) == (height, vector["block_hash"])
        assert info["state_root"] == vector["state_root"]
    assert imported.info()["tip_hash"] == chain["blocks"][-1]["block_hash"]
    for vector in chain["blocks"]:
        assert encode_block(imported.block(vector["height"])) == bytes.fromhex(vector["encoding"])
    for key_hex, (balance, nonce) in chain["final_state"]["accounts"].items():
        account = imported.account(bytes.fromhex(key_hex))
        assert (account.balance, account.nonce) == (balance, nonce)
    for owner, key, value in chain["final_state"]["records"]:
        assert imported.record(bytes.fromhex(owner), bytes.fromhex(key)).value == bytes.fromhex(value)


@pytest.mark.parametrize("name", CHAINS)
def test_export_gives_the_same_bytes(stores, name):
    path, _books, imported = stores[name]
    expected = bytes.fromhex(CHAINS[name]["chain_file"]["bytes"])
    imported.export_chain(path / "api-export.ledger")
    assert (path / "api-export.ledger").read_bytes() == expected
    result = invoke("export", "--db", path / "cli-db", "--out", path / "cli-export.ledger")
    assert result.exit_code == 0, result.output
    assert (path / "cli-export.ledger").read_bytes() == expected


def _engine_proof(book, vector):
    if vector["kind"] == "account":
        return book.prove_account(bytes.fromhex(vector["public_key"]))
    return book.prove_record(bytes.fromhex(vector["owner"]), bytes.fromhex(vector["key"]))


@pytest.mark.parametrize("name,vector", each("state_proofs"))
def test_engine_state_proof_is_the_independent_one(stores, name, vector):
    _path, books, _imported = stores[name]
    proof = _engine_proof(books[vector["height"]], vector)
    expected = bytes.fromhex(vector["proof"])
    assert state_proofs.encode(proof) == expected
    assert proof.to_bytes() == expected
    assert state_proofs.decode(expected) == proof


@pytest.mark.parametrize("name,vector", each("state_proofs"))
def test_json_form(stores, name, vector):
    """§12's JSON form, field for field and in the written order, through the API and the CLI."""
    path, books, _imported = stores[name]
    produced = _engine_proof(books[vector["height"]], vector).to_json()
    assert list(produced.items()) == list(vector["json"].items())
    if vector["height"] == tip(CHAINS[name]):
        if vector["kind"] == "account":
            args = ["prove-account", vector["public_key"]]
        else:
            args = ["prove-record", vector["owner"], vector["key"], "--hex-key"]
        result = invoke(*args, "--db", path / "cli-db")
        assert result.exit_code == 0, result.output
        assert list(json.loads(result.stdout).items()) == list(vector["json"].items())
    chain_id = bytes.fromhex(CHAINS[name]["genesis"]["chain_id"])
    assert state_proofs.verify_state_proof(json.dumps(vector["json"]).encode(), [VALIDATOR], chain_id)


@pytest.mark.parametrize("name,vector", each("state_proofs"))
def test_engine_verifies_the_independent_state_proof(name, vector):
    data = bytes.fromhex(vector["proof"])
    chain_id = bytes.fromhex(CHAINS[name]["genesis"]["chain_id"])
    header = state_proofs.check_state_proof(state_proofs.decode(data), [VALIDATOR], chain_id)
    assert header.height == vector["height"]
    assert state_proofs.verify_state_proof(data, [VALIDATOR], chain_id)
    assert state_proofs.verify_state_proof(data)                      # consistency alone


@pytest.mark.parametrize("name,vector", each("history_proofs"))
def test_history_proof(stores, name, vector):
    _path, _books, imported = stores[name]
    chain_id = bytes.fromhex(CHAINS[name]["genesis"]["chain_id"])
    expected = bytes.fromhex(vector["proof"])
    proof = imported.prove_history(vector["old_height"], vector["new_height"])
    assert state_proofs.encode(proof) == expected
    assert list(proof.to_json().items()) == list(vector["json"].items())
    old, new = state_proofs.check_history_proof(state_proofs.decode(expected), [VALIDATOR], chain_id)
    assert (old.height, new.height) == (vector["old_height"], vector["new_height"])
    assert state_proofs.verify_state_proof(expected, [VALIDATOR], chain_id)


def _anchor(name: str) -> tuple[list[bytes], bytes]:
    chain_id = bytes.fromhex(VECTORS["genesis"]["chain_id"])
    if name == "other-chain":
        return [VALIDATOR], hashlib.sha256(b"another chain").digest()
    if name == "other-validator":
        return [Keypair.from_seed(bytes([9]) * 32).public_key], chain_id
    return [VALIDATOR], chain_id


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
    if vector["height"] is not None:
        assert caught.value.height == vector["height"], caught.value
    assert not state_proofs.verify_state_proof(data, trusted, chain_id)


@pytest.mark.parametrize("name", CHAINS)
def test_checkpoint_note(stores, name):
    path, _books, imported = stores[name]
    keypair = Keypair.from_seed(VALIDATOR_SEED)
    assert keypair.public_key == VALIDATOR
    expected = CHAINS[name]["checkpoint"]["note"]
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
    size = tip(CHAINS[name]) + 1
    assert f"\n{size}\n" in expected                                  # size = tip height + 1
    (path / "bad-note.txt").write_text(expected.replace(f"\n{size}\n", f"\n{size - 1}\n"))
    assert invoke("checkpoint-verify", path / "bad-note.txt", "--validator", VALIDATOR.hex()).exit_code == 1


def test_cli_verify_proof_reads_the_independent_binaries(tmp_path):
    """`ledger verify-proof` on the independent binary files (§12: a file whose first byte is not
    `{`), anchored by the genesis bytes: each proof is accepted, each tampered one refused with
    its code, and a state proof carried forward by the independent history proof (§13)."""
    (tmp_path / "genesis.bin").write_bytes(bytes.fromhex(VECTORS["genesis"]["encoding"]))
    anchor = ["--genesis", tmp_path / "genesis.bin"]
    for i, vector in enumerate(VECTORS["state_proofs"] + VECTORS["history_proofs"]):
        (tmp_path / f"{i}.bin").write_bytes(bytes.fromhex(vector["proof"]))
        result = invoke("verify-proof", tmp_path / f"{i}.bin", *anchor)
        assert result.exit_code == 0, (vector.get("name"), result.output)
    for i, vector in enumerate(VECTORS["tampered"]):
        if vector["anchor"] != "genesis":
            continue
        (tmp_path / f"t{i}.bin").write_bytes(bytes.fromhex(vector["proof"]))
        result = invoke("verify-proof", tmp_path / f"t{i}.bin", *anchor)
        assert result.exit_code == 1, (vector["name"], result.output)
        assert result.stderr.startswith(f"error: {vector['code']}"), (vector["name"], result.stderr)
    history = next(h for h in VECTORS["history_proofs"] if (h["old_height"], h["new_height"]) == (1, 4))
    old = next(p for p in VECTORS["state_proofs"] if p["name"] == "record present, old value at block 1")
    (tmp_path / "history.bin").write_bytes(bytes.fromhex(history["proof"]))
    (tmp_path / "old.bin").write_bytes(bytes.fromhex(old["proof"]))
    result = invoke("verify-proof", tmp_path / "old.bin", "--history", tmp_path / "history.bin", *anchor)
    assert result.exit_code == 0, result.output
    current = next(p for p in VECTORS["state_proofs"] if p["name"] == "record present (overwritten: revoked)")
    (tmp_path / "current.bin").write_bytes(bytes.fromhex(current["proof"]))      # its header is not the old one
    result = invoke("verify-proof", tmp_path / "current.bin", "--history", tmp_path / "history.bin", *anchor)
    assert result.exit_code == 1 and result.stderr.startswith("error: proof-invalid"), result.output
