"""Tests of the `ledger` command line: in-process through Click's CliRunner and as real
subprocesses (`python -m ledger_cli.main` and the installed `ledger` console script).

Exit status contract: 0 ok, 1 invalid data (one line on stderr: code, height, tx index, reason),
2 usage error.
"""
from __future__ import annotations

import dataclasses
import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from ledger import Keypair, Ledger, Transfer, decode_block, decode_genesis, encode_block
from ledger.chainfile import ChainReader, ChainWriter
from ledger.keys import load_keypair
from ledger_cli.main import cli

BLOCKS = 5
TXS = 50
ACCOUNTS = 20
SEED = 1

COMMANDS = ["keygen", "init", "gen", "import", "export", "validate", "info", "block", "tx", "account", "record",
            "proof", "verify-proof"]

DB = object()   # placeholder for the path of the module's store in parametrized arguments

CONSOLE_SCRIPT = Path(sys.executable).parent / "ledger"


# ---------------------------------------------------------------- helpers


def invoke(*args: object, env: dict | None = None):
    """Run the CLI in-process; stdout and stderr are kept apart (result.stdout / result.stderr)."""
    runner = CliRunner()
    return runner.invoke(cli, [str(a) for a in args], env=env, catch_exceptions=False)


def ok(*args: object):
    result = invoke(*args)
    assert result.exit_code == 0, (args, result.output)
    return result


def ok_json(*args: object):
    return json.loads(ok(*args, "--json").stdout)


def _subprocess_env() -> dict:
    env = dict(os.environ)
    env.pop("LEDGER_DB", None)
    return env


def run_module(*args: object) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ledger_cli.main", *map(str, args)], capture_output=True,
                          text=True, env=_subprocess_env(), timeout=60)


def run_script(*args: object) -> subprocess.CompletedProcess:
    if not CONSOLE_SCRIPT.exists():
        pytest.skip(f"console script {CONSOLE_SCRIPT} is not installed")
    return subprocess.run([str(CONSOLE_SCRIPT), *map(str, args)], capture_output=True, text=True,
                          env=_subprocess_env(), timeout=60)


def read_chain(path: Path) -> tuple[bytes, list[bytes]]:
    with open(path, "rb") as stream:
        reader = ChainReader(stream)
        return reader.genesis, [data for _height, data in reader.blocks()]


def write_chain(path: Path, genesis: bytes, blocks: list[bytes]) -> None:
    with ChainWriter(path, genesis) as writer:
        for data in blocks:
            writer.write_block(data)


def flip_last_byte(hex_text: str) -> str:
    data = bytearray(bytes.fromhex(hex_text))
    data[-1] ^= 0x01
    return data.hex()


def flip_byte(hex_text: str, offset: int) -> str:
    data = bytearray(bytes.fromhex(hex_text))
    data[offset] ^= 0x01
    return data.hex()


def assert_one_line_error(stderr: str, code: str) -> str:
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr
    assert code in lines[0], stderr
    assert "Traceback" not in stderr
    return lines[0]


def error_code(line: str) -> str:
    """The code of an "error: CODE[ at height H[, tx I]]: reason" line."""
    assert line.startswith("error: "), line
    return line[len("error: "):].split(":")[0].split(" ")[0]


# ---------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def chain(tmp_path_factory) -> Path:
    """A small generated chain file (5 blocks x 50 tx)."""
    path = tmp_path_factory.mktemp("chain") / "chain.ledger"
    ok("gen", "--out", path, "--blocks", BLOCKS, "--txs-per-block", TXS, "--accounts", ACCOUNTS, "--seed", SEED)
    return path


@pytest.fixture(scope="module")
def db(chain, tmp_path_factory) -> Path:
    """A store holding `chain` (read-only for tests: copy it before changing it)."""
    path = tmp_path_factory.mktemp("store") / "db"
    ok("import", chain, "--db", path)
    return path


@pytest.fixture(scope="module")
def blocks(chain) -> list:
    _genesis, datas = read_chain(chain)
    return [decode_block(data) for data in datas]


@pytest.fixture(scope="module")
def genesis_file(chain, tmp_path_factory) -> Path:
    genesis, _ = read_chain(chain)
    path = tmp_path_factory.mktemp("genesis") / "genesis.bin"
    path.write_bytes(genesis)
    return path


@pytest.fixture(scope="module")
def proof_file(db, blocks, tmp_path_factory) -> Path:
    txid = blocks[2].transactions[13].txid.hex()
    path = tmp_path_factory.mktemp("proof") / "proof.json"
    path.write_text(ok("proof", txid, "--db", db).stdout)
    return path


# ---------------------------------------------------------------- help and usage


def test_every_required_command_exists():
    assert set(COMMANDS) <= set(cli.commands)


@pytest.mark.parametrize("command", COMMANDS)
def test_help_of_every_command(command):
    result = invoke(command, "--help")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("Usage:")
    assert command in result.stdout.splitlines()[0]


def test_top_level_help_lists_every_command():
    result = ok("--help")
    for command in COMMANDS:
        assert command in result.stdout


@pytest.mark.parametrize("args", [
    [],                                                    # no command
    ["frobnicate"],                                        # unknown command
    ["info"],                                              # missing --db
    ["info", "--db", "x", "--bogus"],                      # unknown option
    ["import", "--db", "x"],                               # missing CHAIN_FILE
    ["import", "does-not-exist.ledger", "--db", "x"],      # CHAIN_FILE must exist
    ["gen", "--out", "x.ledger", "--blocks", "-1"],
    ["gen", "--out", "x.ledger", "--accounts", "1"],
    ["gen", "--out", "x.ledger", "--seed", "abc"],
    ["gen"],                                               # missing --out
    ["init", "--db", "x"],                                 # missing --genesis
    ["validate", "--db", "x", "--from", "0"],
    ["block", "xyz", "--db", DB],                         # neither height nor hex hash
    ["block", "abcd", "--db", DB],                        # hash of the wrong length
    ["tx", "00" * 31, "--db", DB],                        # TXID of the wrong length
    ["tx", "zz" * 32, "--db", DB],                        # TXID not hex
    ["account", "nothex", "--db", DB],
    ["record", "00" * 31, "key", "--db", DB],
    ["proof", "--db", "x"],                                # missing TXID
    ["verify-proof"],                                      # missing PROOF_FILE
    ["verify-proof", "no-such-proof.json"],
])
def test_usage_errors_exit_2(args, tmp_path, monkeypatch, db):
    args = [str(db) if a is DB else a for a in args]
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("LEDGER_DB", raising=False)
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2, result.output
    assert not Path("x").exists()          # a usage error creates no store


def test_verify_proof_untrusted_validator_not_hex_is_usage_error(proof_file):
    assert invoke("verify-proof", proof_file, "--validator", "zz").exit_code == 2


def test_help_and_usage_errors_as_subprocesses():
    result = run_module("--help")
    assert result.returncode == 0 and "import" in result.stdout
    result = run_script("verify-proof", "--help")
    assert result.returncode == 0 and "Usage:" in result.stdout
    assert run_module("frobnicate").returncode == 2
    result = run_script("info")
    assert result.returncode == 2 and "--db" in result.stderr


# ---------------------------------------------------------------- gen


def test_gen_is_deterministic(tmp_path, chain):
    a, b, c = tmp_path / "a.ledger", tmp_path / "b.ledger", tmp_path / "c.ledger"
    common = ["--blocks", BLOCKS, "--txs-per-block", TXS, "--accounts", ACCOUNTS]
    ok("gen", "--out", a, *common, "--seed", SEED)
    ok("gen", "--out", b, *common, "--seed", SEED)
    ok("gen", "--out", c, *common, "--seed", SEED + 1)
    assert a.read_bytes() == b.read_bytes() == chain.read_bytes()
    assert a.read_bytes() != c.read_bytes()
    # the different seed gives a different genesis, hence a different chain
    assert read_chain(a)[0] != read_chain(c)[0]


@pytest.mark.parametrize("version", ["1", "2"])
def test_gen_of_each_format_version_round_trips(tmp_path, version):
    """`ledger gen --format-version` (2 by default), then import, validate and export: byte-identical."""
    chain_file, db, out = tmp_path / "c.ledger", tmp_path / "db", tmp_path / "out.ledger"
    ok("gen", "--out", chain_file, "--blocks", 3, "--txs-per-block", 20, "--accounts", 5, "--seed", 3,
       "--format-version", version)
    genesis, datas = read_chain(chain_file)
    assert decode_genesis(genesis).version == int(version)
    assert all(decode_block(data, int(version)).header.version == int(version) for data in datas)
    ok("import", chain_file, "--db", db)
    assert ok_json("validate", "--db", db)["valid"] is True
    ok("export", "--db", db, "--out", out)
    assert out.read_bytes() == chain_file.read_bytes()
    default = tmp_path / "default.ledger"
    ok("gen", "--out", default, "--blocks", 1, "--txs-per-block", 1, "--accounts", 2)
    assert decode_genesis(read_chain(default)[0]).version == 2
    assert invoke("gen", "--out", tmp_path / "x.ledger", "--format-version", "3").exit_code == 2


def test_gen_writes_the_requested_shape(blocks):
    assert [b.height for b in blocks] == list(range(1, BLOCKS + 1))
    assert all(len(b.transactions) == TXS for b in blocks)
    kinds = {tx.kind for b in blocks for tx in b.transactions}
    assert kinds == {0, 1, 2}    # transfers, mints and records


def test_gen_as_subprocess_matches_in_process(tmp_path, chain):
    out = tmp_path / "sub.ledger"
    result = run_module("gen", "--out", out, "--blocks", BLOCKS, "--txs-per-block", TXS,
                        "--accounts", ACCOUNTS, "--seed", SEED)
    assert result.returncode == 0, result.stderr
    assert out.read_bytes() == chain.read_bytes()


# ---------------------------------------------------------------- import / validate / export


def test_import_validate_export_roundtrip(tmp_path, chain):
    store = tmp_path / "db"
    imported = ok_json("import", chain, "--db", store)
    assert imported["imported_blocks"] == BLOCKS
    assert imported["imported_transactions"] == BLOCKS * TXS
    assert imported["skipped_blocks"] == 0
    assert imported["height"] == BLOCKS
    report = ok_json("validate", "--db", store)
    assert report["valid"] is True
    assert (report["from"], report["to"], report["blocks"], report["transactions"]) == (1, BLOCKS, BLOCKS, BLOCKS * TXS)
    out = tmp_path / "exported.ledger"
    result = ok("export", "--db", store, "--out", out)
    assert f"exported {BLOCKS} blocks" in result.stdout
    assert out.read_bytes() == chain.read_bytes()


def test_import_twice_skips(tmp_path, chain):
    store = tmp_path / "db"
    ok("import", chain, "--db", store)
    again = ok_json("import", chain, "--db", store)
    assert again["imported_blocks"] == 0
    assert again["skipped_blocks"] == BLOCKS
    assert again["height"] == BLOCKS
    text = ok("import", chain, "--db", store).stdout
    assert "imported 0 blocks" in text and f"skipped {BLOCKS}" in text


def test_import_resumes_from_a_prefix(tmp_path, chain):
    genesis, datas = read_chain(chain)
    prefix = tmp_path / "prefix.ledger"
    write_chain(prefix, genesis, datas[:2])
    store = tmp_path / "db"
    assert ok_json("import", prefix, "--db", store)["height"] == 2
    resumed = ok_json("import", chain, "--db", store)
    assert (resumed["skipped_blocks"], resumed["imported_blocks"], resumed["height"]) == (2, BLOCKS - 2, BLOCKS)
    ok("validate", "--db", store)


def test_validate_range(db):
    report = ok_json("validate", "--db", db, "--from", 2, "--to", 4)
    assert (report["from"], report["to"], report["blocks"], report["transactions"]) == (2, 4, 3, 3 * TXS)
    text = ok("validate", "--db", db, "--from", 3).stdout
    assert text.startswith("valid: blocks 3..5")


def test_validate_range_past_tip_is_invalid(db):
    result = invoke("validate", "--db", db, "--from", 9)
    assert result.exit_code == 1
    assert_one_line_error(result.stderr, "not-found")


def test_roundtrip_with_console_script(tmp_path):
    chain = tmp_path / "c.ledger"
    store = tmp_path / "db"
    out = tmp_path / "out.ledger"
    for args in (["gen", "--out", chain, "--blocks", 3, "--txs-per-block", 20, "--accounts", 10, "--seed", 5],
                 ["import", chain, "--db", store],
                 ["validate", "--db", store],
                 ["export", "--db", store, "--out", out]):
        result = run_script(*args)
        assert result.returncode == 0, (args, result.stderr)
    assert out.read_bytes() == chain.read_bytes()
    info = json.loads(run_script("info", "--db", store, "--json").stdout)
    assert info["height"] == 3 and info["tx_count"] == 60


# ---------------------------------------------------------------- rejected imports


def _chain_with_bad_block_3(chain: Path, out: Path, edit) -> tuple[bytes, list[bytes]]:
    genesis, datas = read_chain(chain)
    bad = decode_block(datas[2])
    datas = datas[:2] + [encode_block(edit(bad))] + datas[3:]
    write_chain(out, genesis, datas)
    return genesis, datas


def _bad_tx_signature(index: int):
    def edit(block):
        txs = list(block.transactions)
        sig = bytearray(txs[index].signature)
        sig[10] ^= 0x01
        txs[index] = dataclasses.replace(txs[index], signature=bytes(sig))
        return dataclasses.replace(block, transactions=tuple(txs))
    return edit


def _bad_header_signature(block):
    sig = bytearray(block.header.signature)
    sig[0] ^= 0x80
    return dataclasses.replace(block, header=dataclasses.replace(block.header, signature=bytes(sig)))


def _assert_store_holds_first_two(tmp_path: Path, store: Path, genesis: bytes, datas: list[bytes]):
    info = ok_json("info", "--db", store)
    assert info["height"] == 2
    assert info["tx_count"] == 2 * TXS
    assert info["tip_hash"] == decode_block(datas[1]).hash.hex()
    exported = tmp_path / "exported.ledger"
    ok("export", "--db", store, "--out", exported)
    expected = tmp_path / "expected.ledger"
    write_chain(expected, genesis, datas[:2])
    assert exported.read_bytes() == expected.read_bytes()
    ok("validate", "--db", store)


def test_rejected_import_bad_transaction(tmp_path, chain):
    bad = tmp_path / "bad.ledger"
    genesis, datas = _chain_with_bad_block_3(chain, bad, _bad_tx_signature(7))
    store = tmp_path / "db"
    result = invoke("import", bad, "--db", store)
    assert result.exit_code == 1
    line = assert_one_line_error(result.stderr, "bad-tx-signature")
    assert "height 3" in line and "tx 7" in line
    assert result.stdout == ""
    _assert_store_holds_first_two(tmp_path, store, genesis, datas)
    # the original chain resumes from there
    resumed = ok_json("import", chain, "--db", store)
    assert (resumed["skipped_blocks"], resumed["imported_blocks"], resumed["height"]) == (2, BLOCKS - 2, BLOCKS)


def test_rejected_import_bad_header_as_subprocess(tmp_path, chain):
    bad = tmp_path / "bad.ledger"
    genesis, datas = _chain_with_bad_block_3(chain, bad, _bad_header_signature)
    store = tmp_path / "db"
    result = run_module("import", bad, "--db", store)
    assert result.returncode == 1
    line = assert_one_line_error(result.stderr, "bad-block-signature")
    assert "height 3" in line and "tx " not in line
    _assert_store_holds_first_two(tmp_path, store, genesis, datas)


def test_rejected_import_tx_error_with_console_script(tmp_path, chain):
    bad = tmp_path / "bad.ledger"
    _chain_with_bad_block_3(chain, bad, _bad_tx_signature(0))
    result = run_script("import", bad, "--db", tmp_path / "db")
    assert result.returncode == 1
    line = assert_one_line_error(result.stderr, "bad-tx-signature")
    assert "height 3" in line and "tx 0" in line


def test_conflicting_block_in_existing_store(tmp_path, chain):
    store = tmp_path / "db"
    ok("import", chain, "--db", store)
    bad = tmp_path / "bad.ledger"
    _chain_with_bad_block_3(chain, bad, _bad_header_signature)
    result = invoke("import", bad, "--db", store)
    assert result.exit_code == 1
    line = assert_one_line_error(result.stderr, "conflicting-block")
    assert "height 3" in line
    assert ok_json("info", "--db", store)["height"] == BLOCKS


def test_rejected_import_truncated_file_keeps_blocks_before(tmp_path, chain):
    genesis, datas = read_chain(chain)
    truncated = tmp_path / "truncated.ledger"
    write_chain(truncated, genesis, datas[:2])
    with open(truncated, "ab") as handle:
        handle.write(len(datas[2]).to_bytes(4, "big") + datas[2][:100])
    store = tmp_path / "db"
    result = invoke("import", truncated, "--db", store)
    assert result.exit_code == 1
    line = assert_one_line_error(result.stderr, "bad-chain-file")
    assert "height 3" in line
    assert ok_json("info", "--db", store)["height"] == 2


def test_import_of_another_genesis_is_wrong_genesis(tmp_path, chain):
    store = tmp_path / "db"
    ok("import", chain, "--db", store)
    other = tmp_path / "other.ledger"
    ok("gen", "--out", other, "--blocks", 1, "--txs-per-block", 5, "--accounts", 5, "--seed", 99)
    result = invoke("import", other, "--db", store)
    assert result.exit_code == 1
    assert_one_line_error(result.stderr, "wrong-genesis")
    info = ok_json("info", "--db", store)
    assert info["height"] == BLOCKS and info["name"] == f"synthetic workload seed {SEED}"


def test_import_of_a_non_chain_file(tmp_path):
    junk = tmp_path / "junk.ledger"
    junk.write_bytes(b"hello, not a chain file")
    result = invoke("import", junk, "--db", tmp_path / "db")
    assert result.exit_code == 1
    assert_one_line_error(result.stderr, "bad-chain-file")


# ---------------------------------------------------------------- info and queries


def test_info_json_matches_api(db, blocks, chain):
    info = ok_json("info", "--db", db)
    for field in ("chain_id", "height", "tip_hash", "tx_count", "state_root"):   # a version-2 chain
        assert field in info
    assert "state_commitment" not in info
    genesis, _ = read_chain(chain)
    tip = blocks[-1].header
    assert info["chain_id"] == decode_genesis(genesis).chain_id.hex() == tip.chain_id.hex()
    assert info["height"] == BLOCKS
    assert info["tip_hash"] == tip.hash.hex()
    assert info["tx_count"] == BLOCKS * TXS
    assert info["state_root"] == tip.state_root.hex()
    with Ledger.open(db) as book:
        api = book.info()
    assert {k: v for k, v in info.items() if k != "genesis"} == api
    assert info["genesis"]["name"] == f"synthetic workload seed {SEED}"
    assert len(info["genesis"]["validators"]) == info["validators"]
    assert len(info["genesis"]["balances"]) == ACCOUNTS


def test_info_text_and_envvar(db):
    text = invoke("info", env={"LEDGER_DB": str(db)})
    assert text.exit_code == 0, text.output
    lines = dict(line.split(None, 1) for line in text.stdout.splitlines())
    assert lines["height"] == str(BLOCKS)
    assert lines["tx_count"] == str(BLOCKS * TXS)


def test_block_by_height_and_hash(db, blocks):
    target = blocks[2]
    by_height = ok_json("block", 3, "--db", db)
    by_hash = ok_json("block", target.hash.hex(), "--db", db)
    assert by_height == by_hash
    assert by_height["height"] == 3
    assert by_height["hash"] == target.hash.hex()
    assert by_height["previous_hash"] == blocks[1].hash.hex()
    assert by_height["tx_count"] == TXS
    assert [t["txid"] for t in by_height["transactions"]] == [tx.txid.hex() for tx in target.transactions]
    text = ok("block", target.hash.hex(), "--db", db).stdout
    assert text.splitlines()[0].split() == ["height", "3"]
    assert target.hash.hex() in text
    assert target.transactions[0].txid.hex() in text
    assert f"{TXS - 20} more" in text     # only the first 20 transactions in text form
    assert ok("block", 3, "--db", db).stdout == text


@pytest.mark.parametrize("ref", ["0", "99", "ab" * 32])
def test_missing_block_exits_1(db, ref):
    result = invoke("block", ref, "--db", db)
    assert result.exit_code == 1
    assert_one_line_error(result.stderr, "not-found")


def test_tx_query(db, blocks):
    tx = blocks[3].transactions[21]
    data = ok_json("tx", tx.txid.hex(), "--db", db)
    assert (data["height"], data["index"], data["txid"]) == (4, 21, tx.txid.hex())
    assert data["sender"] == tx.sender.hex() and data["nonce"] == tx.nonce
    assert data["signature"] == tx.signature.hex()
    text = ok("tx", tx.txid.hex(), "--db", db).stdout
    assert tx.txid.hex() in text and "height" in text


def test_missing_tx_exits_1(db):
    for command in ("tx", "proof"):
        result = invoke(command, "00" * 32, "--db", db)
        assert result.exit_code == 1, command
        assert_one_line_error(result.stderr, "not-found")


def test_account_query_matches_api(db, blocks):
    key = blocks[0].transactions[0].sender
    data = ok_json("account", key.hex(), "--db", db)
    with Ledger.open(db) as book:
        expected = book.account(key)
    assert data == {"public_key": key.hex(), "balance": expected.balance, "nonce": expected.nonce}
    assert expected.nonce >= 1
    text = ok("account", key.hex(), "--db", db).stdout
    assert text.strip() == f"balance {expected.balance}  nonce {expected.nonce}"
    unknown = ok_json("account", "11" * 32, "--db", db)
    assert (unknown["balance"], unknown["nonce"]) == (0, 0)


def test_record_query_and_history(db, blocks):
    history: dict[tuple[bytes, bytes], list] = {}
    for block in blocks:
        for index, tx in enumerate(block.transactions):
            if tx.kind == 2:
                history.setdefault((tx.sender, tx.body.key), []).append(
                    {"height": block.height, "index": index, "value_hex": tx.body.value.hex()})
    assert history, "the generated chain holds no record transaction"
    (owner, key), versions = max(history.items(), key=lambda item: len(item[1]))
    data = ok_json("record", owner.hex(), key.decode(), "--db", db)
    assert data["owner"] == owner.hex() and data["key"] == key.decode()
    assert data["history"] == versions
    assert data["value_hex"] == versions[-1]["value_hex"]
    assert (data["height"], data["index"]) == (versions[-1]["height"], versions[-1]["index"])
    assert ok_json("record", owner.hex(), key.hex(), "--hex-key", "--db", db)["history"] == versions
    with Ledger.open(db) as book:
        api = book.record(owner, key)
    assert api.value.hex() == data["value_hex"] and len(api.history) == len(versions)
    text = ok("record", owner.hex(), key.decode(), "--db", db).stdout
    assert versions[-1]["value_hex"] in text and f"{len(versions)} versions" in text
    # the block view names it a record with its key
    height, index = versions[0]["height"], versions[0]["index"]
    shown = ok_json("block", height, "--db", db)["transactions"][index]
    assert shown["kind"] == "record" and shown["key"]["text"] == key.decode()


def test_missing_record_exits_1(db, blocks):
    owner = blocks[0].transactions[0].sender.hex()
    result = invoke("record", owner, "no-such-key", "--db", db)
    assert result.exit_code == 1
    assert_one_line_error(result.stderr, "not-found")


def test_record_hex_key_not_hex_is_usage_error(db, blocks):
    owner = blocks[0].transactions[0].sender.hex()
    result = CliRunner().invoke(cli, ["record", owner, "zz", "--hex-key", "--db", str(db)])
    assert result.exit_code == 2


@pytest.mark.parametrize("command", [["info"], ["validate"], ["block", "1"], ["tx", "00" * 32],
                                     ["account", "00" * 32], ["record", "00" * 32, "k"], ["proof", "00" * 32],
                                     ["export", "--out", "out.ledger"]])
def test_missing_db_exits_1(tmp_path, command):
    missing = tmp_path / "nowhere"
    result = invoke(*command, "--db", missing)
    assert result.exit_code == 1, result.output
    assert_one_line_error(result.stderr, "not-found")
    assert not (missing / "data.mdb").exists()


def test_missing_db_as_subprocess(tmp_path):
    result = run_module("info", "--db", tmp_path / "nowhere", "--json")
    assert result.returncode == 1
    assert_one_line_error(result.stderr, "not-found")
    error = json.loads(result.stdout)   # with --json the error is a JSON object on stdout too
    assert error["code"] == "not-found" and error["exit_status"] == 1


# ---------------------------------------------------------------- proofs


def test_proof_json_and_verify(db, blocks, proof_file, genesis_file):
    proof = json.loads(proof_file.read_text())
    tx = blocks[2].transactions[13]
    assert proof["txid"] == tx.txid.hex()
    assert (proof["height"], proof["index"], proof["tx_count"]) == (3, 13, TXS)
    assert proof["block_hash"] == blocks[2].hash.hex()
    assert proof["chain_id"] == blocks[2].header.chain_id.hex()
    assert proof["audit_path"]
    result = ok("verify-proof", proof_file, "--genesis", genesis_file)
    assert result.stdout.startswith(f"valid: transaction {tx.txid.hex()} is at index 13 of block 3")


def test_verify_proof_from_stdin(proof_file, genesis_file):
    result = CliRunner().invoke(cli, ["verify-proof", "-", "--genesis", str(genesis_file)],
                                input=proof_file.read_text())
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("valid:")


def test_verify_proof_as_subprocesses(proof_file, genesis_file, tmp_path):
    assert run_module("verify-proof", proof_file, "--genesis", genesis_file).returncode == 0
    unanchored = run_module("verify-proof", proof_file)
    assert unanchored.returncode == 1 and unanchored.stdout == ""
    assert_one_line_error(unanchored.stderr, "proof-unanchored")
    proof = json.loads(proof_file.read_text())
    proof["audit_path"][0] = flip_last_byte(proof["audit_path"][0])
    tampered = tmp_path / "tampered.json"
    tampered.write_text(json.dumps(proof))
    result = run_script("verify-proof", tampered, "--genesis", genesis_file)
    assert result.returncode == 1
    assert_one_line_error(result.stderr, "proof-invalid")


def test_verify_proof_with_trusted_validators(proof_file, blocks, genesis_file, tmp_path):
    proposer = blocks[2].header.proposer.hex()
    result = ok("verify-proof", proof_file, "--validator", proposer)
    assert "not checked" not in result.stdout
    ok("verify-proof", proof_file, "--genesis", genesis_file)
    # a genesis of another chain: the header is not of that chain
    other_chain = tmp_path / "other.ledger"
    ok("gen", "--out", other_chain, "--blocks", 0, "--accounts", 2, "--seed", 42)
    other_genesis = tmp_path / "other-genesis.bin"
    other_genesis.write_bytes(read_chain(other_chain)[0])
    result = invoke("verify-proof", proof_file, "--genesis", other_genesis)
    assert result.exit_code == 1
    assert_one_line_error(result.stderr, "proof-invalid")


def test_verify_proof_untrusted_validator_exits_1(proof_file, blocks):
    stranger = Keypair.generate().public_key.hex()
    result = invoke("verify-proof", proof_file, "--validator", stranger)
    assert result.exit_code == 1
    line = assert_one_line_error(result.stderr, "proof-invalid")
    assert "trusted" in line
    # another validator of the same chain is not the proposer either
    other = blocks[0].header.proposer.hex()
    assert other != blocks[2].header.proposer.hex()
    assert invoke("verify-proof", proof_file, "--validator", other).exit_code == 1


# offset 42: inside the sender key (fixarray, bin8 chain id, bin8 header, 5 bytes into the sender)
@pytest.mark.parametrize("field, tamper, code", [
    ("audit_path", lambda p: p["audit_path"].__setitem__(0, flip_last_byte(p["audit_path"][0])), "proof-invalid"),
    ("audit_path", lambda p: p["audit_path"].__setitem__(-1, flip_byte(p["audit_path"][-1], 0)), "proof-invalid"),
    ("audit_path", lambda p: p["audit_path"].pop(), "proof-invalid"),
    ("header", lambda p: p.__setitem__("header", flip_last_byte(p["header"])), "proof-invalid"),   # signature
    ("header", lambda p: p.__setitem__("header", flip_byte(p["header"], 20)), "proof-invalid"),    # chain id
    ("transaction", lambda p: p.__setitem__("transaction", flip_byte(p["transaction"], 42)), "proof-invalid"),
    ("index", lambda p: p.__setitem__("index", p["index"] + 1), "proof-invalid"),
    ("transaction", lambda p: p.__setitem__("transaction", p["transaction"] + "00"), "bad-encoding"),  # trailing
    ("header", lambda p: p.__setitem__("header", "zz" + p["header"][2:]), "bad-encoding"),           # not hex
    ("version", lambda p: p.__setitem__("version", 2), "bad-version"),
])
def test_verify_proof_tampered_exits_1(proof_file, genesis_file, tmp_path, field, tamper, code):
    """Anchored to the chain's genesis, so each refusal is the tampering's own, with its exact code."""
    assert invoke("verify-proof", proof_file, "--genesis", genesis_file).exit_code == 0
    proof = json.loads(proof_file.read_text())
    tamper(proof)
    tampered = tmp_path / "tampered.json"
    tampered.write_text(json.dumps(proof))
    result = invoke("verify-proof", tampered, "--genesis", genesis_file)
    assert result.exit_code == 1, (field, result.output)
    assert error_code(assert_one_line_error(result.stderr, code)) == code
    assert result.stdout == ""


def test_verify_proof_tampered_transaction_signature_exits_1(proof_file, genesis_file, tmp_path):
    proof = json.loads(proof_file.read_text())
    proof["transaction"] = flip_last_byte(proof["transaction"])
    tampered = tmp_path / "tampered.json"
    tampered.write_text(json.dumps(proof))
    assert_one_line_error(invoke("verify-proof", tampered, "--genesis", genesis_file).stderr, "proof-invalid")


def test_verify_proof_not_json_is_one_line(tmp_path):
    junk = tmp_path / "junk.json"
    junk.write_text("{not json")
    result = run_module("verify-proof", junk)
    assert result.returncode == 1
    assert_one_line_error(result.stderr, "bad-encoding")


# ---------------------------------------------------------------- keygen and init


def test_keygen_out_writes_private_pem(tmp_path):
    path = tmp_path / "key.pem"
    data = ok_json("keygen", "--out", path)
    assert data["private_key_file"] == str(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    text = path.read_text()
    assert text.startswith("-----BEGIN PRIVATE KEY-----")
    assert Keypair.from_pem(text).public_key.hex() == data["public_key"]
    assert load_keypair(path).public_key.hex() == data["public_key"]
    again = ok("keygen", "--out", tmp_path / "key2.pem").stdout
    assert again.strip().startswith("public key: ")
    assert again.split()[-1] != data["public_key"]


def test_keygen_without_out_prints_pem():
    result = ok("keygen")
    pem, _, tail = result.stdout.partition("-----END PRIVATE KEY-----")
    keypair = Keypair.from_pem(pem + "-----END PRIVATE KEY-----\n")
    assert tail.strip() == f"public key: {keypair.public_key.hex()}"
    data = ok_json("keygen")
    assert Keypair.from_pem(data["private_key_pem"]).public_key.hex() == data["public_key"]


def test_keygen_as_subprocess(tmp_path):
    path = tmp_path / "sub.pem"
    result = run_script("keygen", "--out", path)
    assert result.returncode == 0, result.stderr
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert result.stdout.strip() == f"public key: {load_keypair(path).public_key.hex()}"


def test_genesis_json_from_keygen_keys_works_with_init(tmp_path):
    keys = {}
    for role in ("validator", "issuer", "alice", "bob"):
        keys[role] = ok_json("keygen", "--out", tmp_path / f"{role}.pem")["public_key"]
    spec = {"name": "cli test chain", "time_ms": 1_700_000_000_000, "validators": [keys["validator"]],
            "issuers": [keys["issuer"]], "balances": {keys["alice"]: 1000}}
    genesis_json = tmp_path / "genesis.json"
    genesis_json.write_text(json.dumps(spec))
    store = tmp_path / "db"
    created = ok_json("init", "--db", store, "--genesis", genesis_json)
    assert (created["height"], created["tx_count"], created["validators"], created["issuers"]) == (0, 0, 1, 1)
    info = ok_json("info", "--db", store)
    assert info["chain_id"] == created["chain_id"]
    assert info["genesis"]["validators"] == [keys["validator"]]
    assert info["genesis"]["issuers"] == [keys["issuer"]]
    assert info["genesis"]["balances"] == {keys["alice"]: 1000}
    assert ok_json("account", keys["alice"], "--db", store)["balance"] == 1000

    # a block signed with the keygen keys is accepted, exported, re-imported and validated
    validator, alice = load_keypair(tmp_path / "validator.pem"), load_keypair(tmp_path / "alice.pem")
    with Ledger.open(store) as book:
        builder = book.builder(validator)
        tx = builder.transaction(alice, Transfer(bytes.fromhex(keys["bob"]), 10))
        book.append(builder.build(1_700_000_001_000))
    ok("validate", "--db", store)
    exported = tmp_path / "chain.ledger"
    ok("export", "--db", store, "--out", exported)
    copy = tmp_path / "copy"
    assert ok_json("import", exported, "--db", copy)["height"] == 1
    assert ok_json("account", keys["bob"], "--db", copy)["balance"] == 10
    assert ok_json("account", keys["alice"], "--db", copy) == {"public_key": keys["alice"], "balance": 990, "nonce": 1}
    assert ok_json("tx", tx.txid.hex(), "--db", copy)["height"] == 1

    # init over an existing store is refused
    result = invoke("init", "--db", store, "--genesis", genesis_json)
    assert result.exit_code == 1
    assert_one_line_error(result.stderr, "store-exists")


def test_init_from_canonical_genesis_bytes(tmp_path, genesis_file, chain):
    store = tmp_path / "db"
    ok("init", "--db", store, "--genesis", genesis_file)
    # a store made by init accepts the chain of that genesis
    assert ok_json("import", chain, "--db", store)["height"] == BLOCKS
    result = ok("init", "--db", tmp_path / "db2", "--genesis", genesis_file)
    assert "created" in result.stdout


GOOD_KEY = "11" * 32   # any 32 bytes are a well-formed key here; small order is not this test's concern


@pytest.mark.parametrize("change, code", [
    ({"validators": None}, "bad-genesis"),                         # missing
    ({"validators": ["abcd"]}, "bad-genesis"),                     # not a 32-byte key
    ({"validators": "not a list"}, "bad-genesis"),
    ({"validators": []}, "bad-genesis"),                           # FORMAT.md §4: at least one validator
    ({"validators": [GOOD_KEY, GOOD_KEY]}, "bad-genesis"),         # duplicates
    ({"validators": [f"{i:064x}" for i in range(1, 258)]}, "limit-exceeded"),   # 257 > 256
    ({"name": "n" * 65}, "limit-exceeded"),
])
def test_init_with_bad_genesis_exits_1(tmp_path, change, code):
    """A complete genesis with one fault at a time, so each refusal names that fault's code."""
    spec = {"name": "bad genesis", "time_ms": 1_000, "validators": [GOOD_KEY], "issuers": [], "balances": {}}
    spec.update(change)
    spec = {key: value for key, value in spec.items() if value is not None}
    genesis_json = tmp_path / "genesis.json"
    genesis_json.write_text(json.dumps(spec))
    store = tmp_path / "db"
    result = invoke("init", "--db", store, "--genesis", genesis_json)
    assert result.exit_code == 1, result.output
    assert error_code(assert_one_line_error(result.stderr, code)) == code
    assert not (store / "data.mdb").exists()


def test_copied_store_is_independent(tmp_path, db):
    """Stores are plain folders: a copy answers the same queries."""
    copy = tmp_path / "copy"
    shutil.copytree(db, copy)
    assert ok_json("info", "--db", copy) == ok_json("info", "--db", db)
