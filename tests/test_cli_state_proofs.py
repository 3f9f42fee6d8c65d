"""`ledger verify-proof` with account, record and history proofs (docs/FORMAT.md §12, §13), as JSON and
as binary files, anchored or not, carried forward with --history; and `ledger prove-account`,
`prove-record`, `prove-history` on a version-2 store, through the certificate scenario: issue a
record, prove it, revoke it, and see the old proof refused against the new header."""
from __future__ import annotations

import json
from dataclasses import replace

import pytest
from click.testing import CliRunner

from ledger import encode_genesis, make_genesis, state_proofs
from ledger_cli.main import cli

from tests.test_state_proofs import (
    ABSENT_EMPTY, ACCOUNTS, PRESENT_KEY, PRESENT_NAME, PRESENT_OWNER, RECORDS, STRANGER, TREE, VALIDATOR,
    account_proof, history_chain, make_header, record_proof,
)

GENESIS = make_genesis("cli state proofs", 1_000, [VALIDATOR.public_key], version=2)
CHAIN_ID = GENESIS.chain_id
HEADERS, LEAVES = history_chain(12, chain_id=CHAIN_ID)


def run(*args: str, input: bytes | None = None):
    return CliRunner().invoke(cli, list(args), input=input, catch_exceptions=False)


@pytest.fixture
def files(tmp_path):
    genesis = tmp_path / "genesis.bin"
    genesis.write_bytes(encode_genesis(GENESIS))
    other = tmp_path / "other.bin"
    other.write_bytes(encode_genesis(make_genesis("other", 1_000, [VALIDATOR.public_key], version=2)))
    proofs = {
        "account": account_proof(PRESENT_KEY, header=HEADERS[5]),
        "absent": account_proof(ABSENT_EMPTY, header=HEADERS[5]),
        "record": record_proof(PRESENT_OWNER, PRESENT_NAME, header=HEADERS[5]),
        "history": state_proofs.prove_history(LEAVES[:12], HEADERS[5], HEADERS[12]),
        "history-4": state_proofs.prove_history(LEAVES[:12], HEADERS[4], HEADERS[12]),
    }
    paths = {"genesis": str(genesis), "other": str(other)}
    for name, proof in proofs.items():
        (tmp_path / f"{name}.json").write_text(json.dumps(proof.to_json()))
        (tmp_path / f"{name}.bin").write_bytes(proof.to_bytes())
        paths[name] = str(tmp_path / name)
    return paths, proofs


@pytest.mark.parametrize("name", ["account", "absent", "record", "history"])
@pytest.mark.parametrize("form", [".json", ".bin"])
def test_verify_every_kind_in_both_forms(files, name, form):
    paths, _ = files
    result = run("verify-proof", paths[name] + form, "--genesis", paths["genesis"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("valid: ") and f"anchored by the genesis of chain {CHAIN_ID.hex()}" in result.output
    assert {"account": "has balance", "absent": "is not in the state", "record": "holds",
            "history": "block 12"}[name] in result.output
    result = run("verify-proof", paths[name] + form, "--validator", VALIDATOR.public_key.hex())
    assert result.exit_code == 0 and "anchored by trusted validator" in result.output
    result = run("verify-proof", paths[name] + form)
    assert result.exit_code == 1 and "proof-unanchored" in result.output
    result = run("verify-proof", paths[name] + form, "--no-anchor")
    assert result.exit_code == 0 and "NOT anchored" in result.output
    for anchor in (["--genesis", paths["other"]], ["--validator", STRANGER.public_key.hex()]):
        result = run("verify-proof", paths[name] + form, *anchor)
        assert result.exit_code == 1 and "proof-invalid" in result.output
        assert len(result.output.strip().splitlines()) == 1


def test_verify_reads_stdin(files):
    paths, proofs = files
    result = run("verify-proof", "-", "--no-anchor", input=proofs["record"].to_bytes())
    assert result.exit_code == 0 and "holds" in result.output


def test_tampered_files_give_one_line_and_exit_1(files, tmp_path):
    paths, proofs = files
    data = bytearray(proofs["record"].to_bytes())
    data[-5] ^= 1
    bad = tmp_path / "bad.bin"
    bad.write_bytes(bytes(data))
    result = run("verify-proof", str(bad), "--no-anchor")
    assert result.exit_code == 1 and result.output.startswith("error: proof-invalid")
    bad.write_bytes(proofs["record"].to_bytes() + b"\x00")
    result = run("verify-proof", str(bad), "--no-anchor")
    assert result.exit_code == 1 and result.output.startswith("error: bad-encoding")
    shown = proofs["account"].to_json()
    bad.write_text(json.dumps({**shown, "balance": shown["balance"] + 1}))
    result = run("verify-proof", str(bad), "--no-anchor")
    assert result.exit_code == 1 and "proof-invalid" in result.output and "'balance'" in result.output
    bad.write_bytes(b"\x00" * 70_000)
    result = run("verify-proof", str(bad), "--no-anchor")
    assert result.exit_code == 1 and result.output.startswith("error: limit-exceeded")


def test_history_carries_a_proof_forward(files):
    paths, _ = files
    for form in (".json", ".bin"):
        result = run("verify-proof", paths["record"] + form, "--history", paths["history"] + form,
                     "--genesis", paths["genesis"])
        assert result.exit_code == 0, result.output
        assert "carried forward to block 12" in result.output
    result = run("verify-proof", paths["record"] + ".json", "--history",
                 paths["history-4"] + ".json", "--genesis", paths["genesis"])
    assert result.exit_code == 1 and "proof-invalid" in result.output and "old header" in result.output
    result = run("verify-proof", paths["record"] + ".json", "--history", paths["account"] + ".json",
                 "--genesis", paths["genesis"])
    assert result.exit_code == 2 and "not a history proof" in result.output


def test_usage_errors(files):
    paths, _ = files
    result = run("verify-proof", paths["record"] + ".json", "--no-anchor", "--validator", VALIDATOR.public_key.hex())
    assert result.exit_code == 2
    result = run("verify-proof", paths["record"] + ".missing", "--no-anchor")
    assert result.exit_code == 2


# ---------------------------------------------------------------- prove-* on a store: the certificate example


@pytest.fixture
def store(tmp_path):
    from ledger import Keypair
    issuer = Keypair.from_seed(b"cli issuer".ljust(32, b"."))
    (tmp_path / "validator.pem").write_text(VALIDATOR.to_pem())
    (tmp_path / "issuer.pem").write_text(issuer.to_pem())
    genesis = make_genesis("certificates", 1_000, [VALIDATOR.public_key], [issuer.public_key], version=2)
    (tmp_path / "genesis.bin").write_bytes(encode_genesis(genesis))
    db = str(tmp_path / "db")
    assert run("init", "--db", db, "--genesis", str(tmp_path / "genesis.bin")).exit_code == 0
    return tmp_path, db, issuer.public_key.hex()


def _issue(tmp_path, db: str, value: str) -> None:
    pending = str(tmp_path / "pending.txs")
    result = run("sign", "record", "--db", db, "--key", str(tmp_path / "issuer.pem"), "--name", "licence/2026/0042",
                 "--value", value, "--out", pending)
    assert result.exit_code == 0, result.output
    result = run("propose", "--db", db, "--key", str(tmp_path / "validator.pem"), pending, "--consume")
    assert result.exit_code == 0, result.output


def test_certificate_example_end_to_end(store):
    tmp_path, db, issuer = store
    genesis = str(tmp_path / "genesis.bin")
    _issue(tmp_path, db, "valid until 2027-12-31")
    issued = tmp_path / "issued.json"
    result = run("prove-record", issuer, "licence/2026/0042", "--db", db, "--out", str(issued))
    assert result.exit_code == 0, result.output
    result = run("verify-proof", str(issued), "--genesis", genesis)
    assert result.exit_code == 0 and "holds " + b"valid until 2027-12-31".hex() in result.output, result.output

    _issue(tmp_path, db, "revoked 2026-12-01")
    revoked = tmp_path / "revoked.bin"
    result = run("prove-record", issuer, "licence/2026/0042", "--db", db, "--binary", "--out", str(revoked))
    assert result.exit_code == 0 and "the binary proof is" in result.output
    result = run("verify-proof", str(revoked), "--genesis", genesis)
    assert result.exit_code == 0 and b"revoked 2026-12-01".hex() in result.output and "block 2" in result.output
    # the old proof against the new header: refused
    old = state_proofs.load_proof(issued.read_bytes())
    new = state_proofs.load_proof(revoked.read_bytes())
    stale = tmp_path / "stale.bin"
    stale.write_bytes(replace(old, header=new.header).to_bytes())
    result = run("verify-proof", str(stale), "--genesis", genesis)
    assert result.exit_code == 1 and result.output.startswith("error: proof-invalid at height 2")
    # the old proof carried forward says only that block 1 held the old value, in the chain of block 2
    history = tmp_path / "history.json"
    assert run("prove-history", "--db", db, "--from", "1", "--to", "2", "--out", str(history)).exit_code == 0
    result = run("verify-proof", str(issued), "--history", str(history), "--genesis", genesis)
    assert result.exit_code == 0 and "after block 1" in result.output and "carried forward to block 2" in result.output


def test_prove_commands_print_json_size_and_errors(store):
    tmp_path, db, issuer = store
    result = run("prove-account", issuer, "--db", db)
    assert result.exit_code == 1 and result.output.startswith("error: not-found")   # no block yet
    _issue(tmp_path, db, "v")
    result = run("prove-account", issuer, "--db", db)
    shown = json.loads(result.output)
    assert shown["kind"] == "account" and shown["nonce"] == 1 and shown["present"] is True
    result = run("prove-record", issuer, "6c6963656e63652f323032362f30303432", "--hex-key", "--db", db, "--json")
    wrapped = json.loads(result.output)
    assert set(wrapped) == {"proof", "size"}
    assert wrapped["size"] == len(bytes.fromhex(wrapped["proof"]["proof"])) and wrapped["proof"]["value"] == "76"
    result = run("prove-record", issuer, "nothing", "--db", db)
    assert json.loads(result.output)["present"] is False
    assert run("prove-record", issuer, "x", "--db", db, "--binary").exit_code == 2
    assert run("prove-history", "--db", db, "--from", "1", "--to", "1").exit_code == 2
    result = run("prove-history", "--db", db, "--from", "1", "--to", "9")
    assert result.exit_code == 1 and "not-found" in result.output
    out = tmp_path / "p.json"
    assert run("prove-account", issuer, "--db", db, "--out", str(out)).exit_code == 0
    assert run("prove-account", issuer, "--db", db, "--out", str(out)).exit_code == 2       # refuses to replace
    assert run("prove-account", issuer, "--db", db, "--out", str(out), "--force").exit_code == 0
    assert run("prove-account", "zz", "--db", db).exit_code == 2
    result = run("prove-account", issuer, "--db", db, "--json", "--binary")
    assert result.exit_code == 2 and '"code": "usage"' in result.output


def test_transaction_proof_in_binary(store):
    tmp_path, db, issuer = store
    _issue(tmp_path, db, "v")
    from ledger import Ledger
    with Ledger.open(db) as book:
        txid = book.block(1).transactions[0].txid.hex()
    out = tmp_path / "tx.bin"
    result = run("proof", txid, "--db", db, "--binary", "--out", str(out), "--json")
    assert result.exit_code == 0 and json.loads(result.output)["size"] == out.stat().st_size
    assert out.read_bytes()[:3] == b"\x96\x01\x03"
    result = run("verify-proof", str(out), "--genesis", str(tmp_path / "genesis.bin"))
    assert result.exit_code == 0 and f"transaction {txid} is at index 0 of block 1" in result.output
    data = bytearray(out.read_bytes())
    data[-1] ^= 1
    out.write_bytes(bytes(data))
    result = run("verify-proof", str(out), "--genesis", str(tmp_path / "genesis.bin"))
    assert result.exit_code == 1 and result.output.startswith("error: proof-invalid")


def test_readme_certificate_walkthrough_runs(tmp_path):
    """The certificate example of README.md, run by bash as written after the operator's walk-through."""
    import os
    import subprocess
    import sys
    from pathlib import Path
    script = Path(sys.executable).parent / "ledger"
    if not script.exists():
        pytest.skip(f"console script {script} is not installed")
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    setup = readme.split("An operator's chain from the shell", 1)[1].split("\n\n", 2)[1]
    example = readme.split("A certificate, checked offline by anyone", 1)[1].split("\n\n", 2)[1]
    for name in ("issuer", "alice", "bob"):
        assert run("keygen", "--out", str(tmp_path / f"{name}.pem")).exit_code == 0
    env = {k: v for k, v in os.environ.items() if k != "LEDGER_DB"}
    env["PATH"] = f"{script.parent}{os.pathsep}{env.get('PATH', '')}"
    lines = [line[4:] for line in (setup + "\n" + example).splitlines()]
    result = subprocess.run(["bash", "-euo", "pipefail", "-c", "\n".join(lines)], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    verdicts = [line for line in result.stdout.splitlines() if line.startswith("valid: ")]
    assert len(verdicts) == 3
    assert b"valid until 2027-12-31".hex() in verdicts[0] and "after block 2" in verdicts[0]
    assert b"revoked".hex() in verdicts[1] and "after block 3" in verdicts[1]
    assert "after block 2" in verdicts[2] and "carried forward to block 3" in verdicts[2]
    issued = state_proofs.load_proof((tmp_path / "issued.json").read_bytes())
    revoked = state_proofs.load_proof((tmp_path / "revoked.bin").read_bytes())
    (tmp_path / "stale.bin").write_bytes(replace(issued, header=revoked.header).to_bytes())
    result = run("verify-proof", str(tmp_path / "stale.bin"), "--genesis", str(tmp_path / "genesis.json"))
    assert result.exit_code == 1 and result.output.startswith("error: proof-invalid at height 3")
