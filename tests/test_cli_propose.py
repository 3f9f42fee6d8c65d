"""Producing blocks from the shell: keygen -> genesis JSON -> init -> sign -> propose -> query,
prove and export; invalid transactions and non-validator keys are refused with nothing appended."""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from ledger import Ledger
from ledger.keys import load_keypair
from ledger_cli.main import cli


def run(*args, ok=True):
    result = CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)
    if ok:
        assert result.exit_code == 0, result.output + result.stderr
    return result


@pytest.fixture
def chain(tmp_path):
    keys = {}
    for name in ("validator", "issuer", "alice", "bob"):
        run("keygen", "--out", tmp_path / f"{name}.pem")
        keys[name] = load_keypair(tmp_path / f"{name}.pem")
    genesis = {"name": "shell chain", "time_ms": 1_000, "validators": [keys["validator"].public_key.hex()],
               "issuers": [keys["issuer"].public_key.hex()], "balances": {keys["alice"].public_key.hex(): 100}}
    (tmp_path / "genesis.json").write_text(json.dumps(genesis))
    run("init", "--db", tmp_path / "db", "--genesis", tmp_path / "genesis.json")
    return tmp_path, keys


def test_sign_and_propose_blocks(chain):
    path, keys = chain
    db, txs = path / "db", path / "txs"
    bob = keys["bob"].public_key.hex()
    run("sign", "transfer", "--db", db, "--key", path / "alice.pem", "--to", bob, "--amount", 30, "--out", txs)
    run("sign", "transfer", "--db", db, "--key", path / "alice.pem", "--to", bob, "--amount", 5, "--out", txs)
    run("sign", "mint", "--db", db, "--key", path / "issuer.pem", "--to", bob, "--amount", 1000, "--out", txs)
    run("sign", "record", "--db", db, "--key", path / "bob.pem", "--name", "certificate/7", "--value", "issued",
        "--out", txs)
    out = run("propose", "--db", db, "--key", path / "validator.pem", txs, "--time-ms", 2_000)
    assert "appended block 1" in out.output
    account = json.loads(run("account", bob, "--db", db, "--json").output)
    assert (account["balance"], account["nonce"]) == (1035, 1)
    alice = json.loads(run("account", keys["alice"].public_key.hex(), "--db", db, "--json").output)
    assert (alice["balance"], alice["nonce"]) == (65, 2)
    record = json.loads(run("record", bob, "certificate/7", "--db", db, "--json").output)
    assert bytes.fromhex(record["value_hex"]) == b"issued"
    # Nonces continue from the store for the next block.
    txs.unlink()
    run("sign", "transfer", "--db", db, "--key", path / "alice.pem", "--to", bob, "--amount", 1, "--out", txs)
    run("propose", "--db", db, "--key", path / "validator.pem", txs)
    with Ledger.open(db) as book:
        assert book.height == 2 and book.account(keys["alice"].public_key).nonce == 3
        txid = book.block(2).transactions[0].txid
        book.validate()
    proof = run("proof", txid.hex(), "--db", db).output
    (path / "proof.json").write_text(proof)
    run("verify-proof", path / "proof.json", "--genesis", path / "genesis.json")


def test_invalid_transaction_is_refused_and_nothing_is_appended(chain):
    path, keys = chain
    db, txs = path / "db", path / "txs"
    run("sign", "transfer", "--db", db, "--key", path / "alice.pem", "--to", keys["bob"].public_key.hex(),
        "--amount", 10, "--out", txs)
    run("sign", "transfer", "--db", db, "--key", path / "bob.pem", "--to", keys["alice"].public_key.hex(),
        "--amount", 500, "--out", txs)   # bob has 10 by then: overdraft
    result = run("propose", "--db", db, "--key", path / "validator.pem", txs, ok=False)
    assert result.exit_code == 1
    assert result.stderr.count("\n") == 1 and "overdraft" in result.stderr and "tx 1" in result.stderr
    with Ledger.open(db) as book:
        assert book.height == 0


def test_only_a_validator_may_propose(chain):
    path, keys = chain
    db, txs = path / "db", path / "txs"
    run("sign", "mint", "--db", db, "--key", path / "issuer.pem", "--to", keys["bob"].public_key.hex(),
        "--amount", 1, "--out", txs)
    result = run("propose", "--db", db, "--key", path / "alice.pem", txs, ok=False)
    assert result.exit_code == 1 and "unknown-proposer" in result.stderr
    assert run("sign", "record", "--db", db, "--key", path / "bob.pem", "--name", "k", ok=False).exit_code == 2
