"""`ledger checkpoint` and `ledger checkpoint-verify` through the real CLI (docs/FORMAT.md §14):
the note is a C2SP checkpoint of the block log (RFC 6962 over the chain id and the block hashes,
computed here from the chain file, not through the store), signed by a genesis validator only;
the verifier refuses tampered notes, untrusted keys, other origins and other stores."""
from __future__ import annotations

import base64
import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from ledger import decode_block, decode_genesis, merkle
from ledger.chainfile import ChainReader
from ledger.checkpoint import VerifierKey, open_checkpoint, parse_checkpoint, parse_note
from ledger.keys import Keypair, save_keypair
from ledger.workload import Workload
from ledger_cli.main import cli

BLOCKS = 9
TXS = 4
ACCOUNTS = 10
SEED = 3


def invoke(*args: object):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def ok(*args: object):
    result = invoke(*args)
    assert result.exit_code == 0, (args, result.output)
    return result


def fails(status: int, code: str | None, *args: object):
    result = invoke(*args)
    assert result.exit_code == status, (args, result.output)
    if code is not None:
        lines = result.stderr.splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"error: {code}"), result.stderr
    return result


def _format_options(version: int) -> list:
    """`ledger gen` options for a chain of format `version` (before --format-version existed, gen
    wrote version 1 only)."""
    if "--format-version" in ok("gen", "--help").stdout:
        return ["--format-version", version]
    if version != 1:
        pytest.skip("this `ledger gen` writes version-1 chains only")
    return []


@pytest.fixture(scope="module", params=[1, 2], ids=["v1", "v2"])
def made(request, tmp_path_factory):
    """A generated chain of 9 blocks (format version 1, then 2), a store of it and one of its
    first 5 blocks, its genesis file, a validator key file and a key that validates nothing."""
    path = tmp_path_factory.mktemp(f"checkpoint-v{request.param}")
    chain = path / "chain.ledger"
    ok("gen", "--out", chain, "--blocks", BLOCKS, "--txs-per-block", TXS, "--accounts", ACCOUNTS, "--seed", SEED,
       *_format_options(request.param))
    with open(chain, "rb") as stream:
        reader = ChainReader(stream)
        genesis = reader.genesis
        blocks = [data for _height, data in reader.blocks()]
    (path / "genesis.bin").write_bytes(genesis)
    validator = Workload.make(SEED, ACCOUNTS).validators[0]
    assert validator.public_key in decode_genesis(genesis).validators
    save_keypair(path / "validator.pem", validator)
    save_keypair(path / "stranger.pem", Keypair.from_seed(bytes(range(32))))
    # the whole chain in one store, its first five blocks in another (a file of those blocks)
    ok("import", chain, "--db", path / "db")
    from ledger.chainfile import ChainWriter
    with ChainWriter(path / "prefix.ledger", genesis) as writer:
        for data in blocks[:5]:
            writer.write_block(data)
    ok("import", path / "prefix.ledger", "--db", path / "prefix")
    assert decode_genesis(genesis).version == request.param
    leaves = [decode_genesis(genesis).chain_id] + [decode_block(data).hash for data in blocks]
    return path, leaves


def test_checkpoint_is_the_signed_block_log(made):
    path, leaves = made
    text = ok("checkpoint", "--db", path / "db", "--key", path / "validator.pem").stdout
    chain_id = leaves[0].hex()
    root = merkle.root(leaves, "sha256")
    lines = text.split("\n")
    assert lines[:4] == [f"ledger/{chain_id}", str(BLOCKS + 1), base64.b64encode(root).decode(), ""]
    assert lines[4].startswith(f"\u2014 ledger/{chain_id} ") and lines[5:] == [""]
    key = VerifierKey(f"ledger/{chain_id}", Workload.make(SEED, ACCOUNTS).validators[0].public_key)
    checkpoint, signers = open_checkpoint(text, [key])
    assert (checkpoint.size, checkpoint.root, signers) == (BLOCKS + 1, root, (key,))
    # any RFC 6962 tool can check a block hash against it
    proof = merkle.inclusion_proof(leaves, 4, "sha256")
    assert merkle.verify_inclusion(leaves[4], 4, checkpoint.size, proof, checkpoint.root, "sha256")


def test_checkpoint_json_and_out_file(made, tmp_path):
    path, leaves = made
    out = tmp_path / "cp.txt"
    data = json.loads(ok("checkpoint", "--db", path / "db", "--key", path / "validator.pem", "--out", out,
                         "--json").stdout)
    assert data["note"] == out.read_text(encoding="utf-8")
    assert (data["size"], data["height"], data["out"]) == (BLOCKS + 1, BLOCKS, str(out))
    assert base64.b64decode(data["root"]) == bytes.fromhex(data["root_hex"]) == merkle.root(leaves, "sha256")
    [signer] = data["signers"]
    key = VerifierKey.from_string(signer["verifier_key"])
    assert key.public_key.hex() == signer["public_key"] and key.key_id.hex() == signer["key_id"]
    assert open_checkpoint(out.read_bytes(), [key])[0].size == BLOCKS + 1
    # text mode with --out names the file and the verifier key
    again = tmp_path / "cp2.txt"
    line = ok("checkpoint", "--db", path / "db", "--key", path / "validator.pem", "--out", again).stdout
    assert str(again) in line and signer["verifier_key"] in line
    assert again.read_text(encoding="utf-8") == out.read_text(encoding="utf-8")   # Ed25519 is deterministic


def test_an_existing_out_file_is_kept_unless_forced(made, tmp_path):
    path, _ = made
    out = tmp_path / "cp.txt"
    out.write_text("keep me")
    fails(2, None, "checkpoint", "--db", path / "db", "--key", path / "validator.pem", "--out", out)
    assert out.read_text() == "keep me"
    ok("checkpoint", "--db", path / "db", "--key", path / "validator.pem", "--out", out, "--force")
    assert parse_note(out.read_text(encoding="utf-8")).signatures


def test_a_key_that_is_no_validator_is_refused(made, tmp_path):
    path, _ = made
    out = tmp_path / "cp.txt"
    result = fails(1, "not-validator", "checkpoint", "--db", path / "db", "--key", path / "stranger.pem",
                   "--out", out)
    assert "not a validator" in result.stderr and not out.exists()
    data = json.loads(invoke("checkpoint", "--db", path / "db", "--key", path / "stranger.pem", "--json").stdout)
    assert (data["code"], data["exit_status"]) == ("not-validator", 1)


def test_verify_with_the_genesis_and_the_store(made, tmp_path):
    path, _ = made
    note = tmp_path / "cp.txt"
    ok("checkpoint", "--db", path / "db", "--key", path / "validator.pem", "--out", note)
    line = ok("checkpoint-verify", note, "--genesis", path / "genesis.bin", "--db", path / "db").stdout
    assert line.startswith("valid: checkpoint of ledger/") and f"size {BLOCKS + 1}" in line and "matches" in line
    data = json.loads(ok("checkpoint-verify", note, "--genesis", path / "genesis.bin", "--json").stdout)
    assert data["valid"] is True and data["store"] is None and data["size"] == BLOCKS + 1


def test_verify_with_a_hex_key_or_a_verifier_key(made, tmp_path):
    path, _ = made
    note = tmp_path / "cp.txt"
    data = json.loads(ok("checkpoint", "--db", path / "db", "--key", path / "validator.pem", "--out", note,
                         "--json").stdout)
    [signer] = data["signers"]
    ok("checkpoint-verify", note, "--validator", signer["public_key"])
    ok("checkpoint-verify", note, "--validator", signer["verifier_key"])
    stranger = Keypair.from_seed(bytes(range(32))).public_key.hex()
    fails(1, "proof-invalid", "checkpoint-verify", note, "--validator", stranger)
    ok("checkpoint-verify", note, "--validator", stranger, "--validator", signer["public_key"])   # others ignored


def test_an_older_checkpoint_still_matches_the_grown_store_and_a_newer_one_is_not_found(made, tmp_path):
    path, leaves = made
    old = tmp_path / "old.txt"
    ok("checkpoint", "--db", path / "prefix", "--key", path / "validator.pem", "--out", old)
    assert parse_checkpoint(parse_note(old.read_text(encoding="utf-8")).text).root == \
        merkle.root(leaves[:6], "sha256")
    ok("checkpoint-verify", old, "--genesis", path / "genesis.bin", "--db", path / "db")
    new = tmp_path / "new.txt"
    ok("checkpoint", "--db", path / "db", "--key", path / "validator.pem", "--out", new)
    fails(1, "not-found", "checkpoint-verify", new, "--genesis", path / "genesis.bin", "--db", path / "prefix")


def test_a_store_of_another_chain_does_not_match(made, tmp_path):
    path, _ = made
    note = tmp_path / "cp.txt"
    ok("checkpoint", "--db", path / "db", "--key", path / "validator.pem", "--out", note)
    other = tmp_path / "other.ledger"
    ok("gen", "--out", other, "--blocks", BLOCKS + 2, "--txs-per-block", TXS, "--accounts", ACCOUNTS, "--seed",
       SEED + 1)
    ok("import", other, "--db", tmp_path / "other")
    fails(1, "proof-invalid", "checkpoint-verify", note, "--genesis", path / "genesis.bin", "--db", tmp_path / "other")


def _edit(note: Path, old: str, new: str) -> None:
    text = note.read_text(encoding="utf-8")
    assert old in text
    note.write_text(text.replace(old, new, 1), encoding="utf-8")


@pytest.mark.parametrize("edit,code", [
    (lambda text: ("\n10\n", "\n9\n"), "proof-invalid"),                        # another size
    (lambda text: (text.split("\n")[2], base64.b64encode(bytes(32)).decode()), "proof-invalid"),   # another root
    (lambda text: ("\n\n\u2014", "\next\n\n\u2014"), "bad-encoding"),             # an extension line added (§14: none)
    (lambda text: ("ledger/", "ledger!"), "proof-invalid"),                      # another origin
    (lambda text: ("\n\n\u2014", "\n\u2014"), "bad-encoding"),                   # no blank line
    (lambda text: ("\u2014 ", "- "), "bad-encoding"),                           # not an em dash
    (lambda text: ("=\n", "\n"), "bad-encoding"),                               # base64 padding cut
    (lambda text: ("\n10\n", "\n010\n"), "bad-encoding"),                       # a leading zero
])
def test_tampered_notes_are_refused(made, tmp_path, edit, code):
    path, _ = made
    note = tmp_path / "cp.txt"
    ok("checkpoint", "--db", path / "db", "--key", path / "validator.pem", "--out", note)
    ok("checkpoint-verify", note, "--genesis", path / "genesis.bin")
    _edit(note, *edit(note.read_text(encoding="utf-8")))
    fails(1, code, "checkpoint-verify", note, "--genesis", path / "genesis.bin")


def test_a_changed_signature_is_refused(made, tmp_path):
    path, _ = made
    note = tmp_path / "cp.txt"
    ok("checkpoint", "--db", path / "db", "--key", path / "validator.pem", "--out", note)
    text = note.read_text(encoding="utf-8")
    head, signature = text.rsplit(" ", 1)
    raw = bytearray(base64.b64decode(signature))
    raw[10] ^= 1
    note.write_text(f"{head} {base64.b64encode(bytes(raw)).decode()}\n", encoding="utf-8")
    result = fails(1, "proof-invalid", "checkpoint-verify", note, "--genesis", path / "genesis.bin")
    assert "does not verify" in result.stderr


def test_a_custom_origin(made, tmp_path):
    path, _ = made
    note = tmp_path / "cp.txt"
    ok("checkpoint", "--db", path / "db", "--key", path / "validator.pem", "--origin", "example.org/city-log",
       "--out", note)
    assert note.read_text(encoding="utf-8").startswith("example.org/city-log\n")
    # the genesis alone expects its own origin, ledger/<chain id>
    result = fails(1, "proof-invalid", "checkpoint-verify", note, "--genesis", path / "genesis.bin")
    assert "origin" in result.stderr
    ok("checkpoint-verify", note, "--genesis", path / "genesis.bin", "--origin", "example.org/city-log",
       "--db", path / "db")
    fails(1, "proof-invalid", "checkpoint-verify", note, "--genesis", path / "genesis.bin", "--origin", "example.org/x")


@pytest.mark.parametrize("args", [
    ["checkpoint", "--db", "{db}", "--key", "{key}", "--origin", "has space"],
    ["checkpoint", "--db", "{db}", "--key", "{key}", "--origin", "a+b"],
    ["checkpoint", "--db", "{db}", "--key", "{dir}/missing.pem"],
    ["checkpoint", "--key", "{key}"],
    ["checkpoint-verify", "{dir}/missing.txt", "--genesis", "{genesis}"],
    ["checkpoint-verify", "{note}"],                                       # no trusted key
    ["checkpoint-verify", "{note}", "--validator", "abcd"],
    ["checkpoint-verify", "{note}", "--validator", "name+00000000+AAAA"],
])
def test_usage_errors_exit_2(made, tmp_path, monkeypatch, args):
    path, _ = made
    monkeypatch.delenv("LEDGER_DB", raising=False)
    note = tmp_path / "cp.txt"
    ok("checkpoint", "--db", path / "db", "--key", path / "validator.pem", "--out", note)
    values = {"db": path / "db", "key": path / "validator.pem", "dir": tmp_path, "genesis": path / "genesis.bin",
              "note": note}
    assert invoke(*[a.format(**values) for a in args]).exit_code == 2


def test_a_missing_store_is_not_found(made, tmp_path):
    path, _ = made
    fails(1, "not-found", "checkpoint", "--db", tmp_path / "nothing", "--key", path / "validator.pem")


def test_checkpoint_and_verify_as_subprocesses(made, tmp_path):
    path, _ = made
    note = tmp_path / "cp.txt"
    run = lambda *args: subprocess.run([sys.executable, "-m", "ledger_cli.main", *map(str, args)],  # noqa: E731
                                       capture_output=True, text=True, timeout=60)
    made_note = run("checkpoint", "--db", path / "db", "--key", path / "validator.pem", "--out", note)
    assert made_note.returncode == 0, made_note.stderr
    checked = run("checkpoint-verify", note, "--genesis", path / "genesis.bin", "--db", path / "db")
    assert checked.returncode == 0 and checked.stdout.startswith("valid:"), checked.stderr
    refused = run("checkpoint", "--db", path / "db", "--key", path / "stranger.pem")
    assert refused.returncode == 1 and refused.stderr.count("\n") == 1 and "not-validator" in refused.stderr


# ---------------------------------------------------------------- the API under the commands


def test_history_leaves_of_a_store(made):
    from ledger import Ledger, LedgerError
    from ledger.history import root
    from ledger.history_frontier import Frontier

    path, leaves = made
    with Ledger.open(path / "db", read_only=True) as book:
        assert book.history_leaves() == leaves
        for size in range(len(leaves) + 1):
            assert book.history_leaves(size) == leaves[:size]
        with pytest.raises(LedgerError) as raised:
            book.history_leaves(len(leaves) + 1)
        assert raised.value.code == "not-found"
        with pytest.raises(ValueError):
            book.history_leaves(-1)
        stranger = Keypair.from_seed(bytes(range(32)))
        with pytest.raises(LedgerError) as raised:
            book.checkpoint(stranger)
        assert raised.value.code == "not-validator"
    # the BLAKE3 history root the header at height h carries (version 2), three ways
    frontier = Frontier.empty()
    with Ledger.open(path / "db", read_only=True) as book:
        for height in range(1, len(leaves)):
            frontier = frontier.append(leaves[height - 1])
            assert frontier.root() == root(leaves[:height])
            if book.genesis.version >= 2:
                assert book.block(height).header.history_root == root(book.history_leaves(height))


def test_history_proofs_between_the_stored_headers(made):
    """history.prove over a store's leaves, checked against the signed headers' own roots (v2)."""
    from ledger import Ledger
    from ledger.history import prove, verify

    path, leaves = made
    with Ledger.open(path / "db", read_only=True) as book:
        if book.genesis.version < 2:
            pytest.skip("version-1 headers carry no history root")
        headers = {height: book.block(height).header for height in range(1, BLOCKS + 1)}
        for old in range(1, BLOCKS):
            for new in range(old + 1, BLOCKS + 1):
                parts = prove(book.history_leaves(new), old, new)
                assert verify(old, headers[old].history_root, headers[old].hash, new, headers[new].history_root,
                              *parts), (old, new)
                assert not verify(old, headers[old].history_root, headers[old - 1].hash if old > 1 else bytes(32),
                                  new, headers[new].history_root, *parts)


@pytest.mark.parametrize("version", [1, 2])
def test_a_chain_without_blocks_has_a_block_log_of_one_leaf(tmp_path, version):
    from ledger import Ledger, make_genesis

    validator = Keypair.from_seed(bytes([7]) * 32)
    save_keypair(tmp_path / "validator.pem", validator)
    genesis = make_genesis("empty", 0, [validator.public_key], version=version)
    with Ledger.create(tmp_path / "db", genesis) as book:
        assert book.history_leaves() == [book.chain_id]
        chain_id = book.chain_id
    text = ok("checkpoint", "--db", tmp_path / "db", "--key", tmp_path / "validator.pem").stdout
    checkpoint = open_checkpoint(text, [VerifierKey(f"ledger/{chain_id.hex()}", validator.public_key)])[0]
    assert (checkpoint.size, checkpoint.root) == (1, merkle.root([chain_id], "sha256"))
    (tmp_path / "cp.txt").write_text(text, encoding="utf-8")
    ok("checkpoint-verify", tmp_path / "cp.txt", "--validator", validator.public_key.hex(), "--db", tmp_path / "db")
