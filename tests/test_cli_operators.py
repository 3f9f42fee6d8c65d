"""The operator's commands (issue 7, "Operators"): keygen never replaces a key by accident, pubkey,
the strict genesis JSON reader and `ledger genesis`, the record limits and names of `sign record`,
`propose --allow-empty / --consume`, an import progress bar that counts stored blocks, and an
example in every command's --help."""
from __future__ import annotations

import json
import os
import pty
import re
import stat
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from hypothesis import example, given, settings, strategies as st

from ledger import Keypair, Ledger, LedgerError
from ledger.keys import load_keypair, public_key_from_pem
from ledger.genesis_file import FIELDS, VALIDATOR_PLACEHOLDER, parse_genesis_json
from ledger_cli.main import cli

README = Path(__file__).resolve().parent.parent / "README.md"


def invoke(*args: object, **kwargs):
    return CliRunner().invoke(cli, [a if isinstance(a, str) else str(a) for a in args], catch_exceptions=False,
                              **kwargs)


def ok(*args: object):
    result = invoke(*args)
    assert result.exit_code == 0, (args, result.output)
    return result


def run_module(*args, **kwargs) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "LEDGER_DB"}
    return subprocess.run([sys.executable, "-m", "ledger_cli.main", *args], capture_output=True, env=env, timeout=60,
                          **kwargs)


def key_hex(seed: int) -> str:
    return Keypair.from_seed(bytes([seed]) * 32).public_key.hex()


V, I, A, B = key_hex(1), key_hex(2), key_hex(3), key_hex(4)


# ---------------------------------------------------------------- keygen and pubkey


def test_keygen_refuses_to_replace_a_key_unless_forced(tmp_path):
    path = tmp_path / "validator.pem"
    ok("keygen", "--out", path)
    before = path.read_bytes()
    result = invoke("keygen", "--out", path)
    assert result.exit_code == 2
    assert f"Invalid value for --out: {path} already exists; pass --force to replace it" in result.stderr
    assert path.read_bytes() == before
    ok("keygen", "--out", path, "--force")
    assert path.read_bytes() != before
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_keypair(path).public_key != Keypair.from_pem(before).public_key
    assert [p.name for p in tmp_path.iterdir()] == ["validator.pem"]    # no temporary file left


def test_keygen_does_not_follow_or_replace_a_planted_symlink(tmp_path):
    target = tmp_path / "elsewhere.pem"
    link = tmp_path / "key.pem"
    link.symlink_to(target)                     # dangling: O_EXCL refuses it, writing through it would not
    result = invoke("keygen", "--out", link)
    assert result.exit_code == 2 and "already exists" in result.stderr
    assert link.is_symlink() and not target.exists()


def test_keygen_new_file_is_created_0600_whatever_the_umask(tmp_path):
    old = os.umask(0)
    try:
        ok("keygen", "--out", tmp_path / "k.pem")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "k.pem").stat().st_mode) == 0o600


def test_pubkey_prints_hex_and_pem(tmp_path):
    key_file = tmp_path / "alice.pem"
    public = json.loads(ok("keygen", "--out", key_file, "--json").stdout)["public_key"]
    lines = ok("pubkey", key_file).stdout.splitlines()
    assert lines[0] == f"public key: {public}"
    assert lines[1] == "-----BEGIN PUBLIC KEY-----" and lines[-1] == "-----END PUBLIC KEY-----"
    assert public_key_from_pem("\n".join(lines[1:]) + "\n").hex() == public
    assert ok("pubkey", key_file, "--hex").stdout == public + "\n"
    data = json.loads(ok("pubkey", key_file, "--json").stdout)
    assert data["public_key"] == public and public_key_from_pem(data["public_key_pem"]).hex() == public
    # a public key PEM (openssl pkey -pubout) and a hex seed file are key files too
    (tmp_path / "alice.pub").write_text(data["public_key_pem"])
    assert ok("pubkey", tmp_path / "alice.pub", "--hex").stdout == public + "\n"
    (tmp_path / "seed.hex").write_text("01" * 32 + "\n")
    assert ok("pubkey", tmp_path / "seed.hex", "--hex").stdout == key_hex(1) + "\n"


def test_pubkey_of_a_file_that_is_not_a_key_is_one_line_exit_1(tmp_path):
    (tmp_path / "notes.txt").write_text("hello\n")
    result = invoke("pubkey", tmp_path / "notes.txt")
    assert result.exit_code == 1
    assert result.stderr == (f"error: {tmp_path / 'notes.txt'} is not a key file: the private key must be 64 or "
                             "128 hexadecimal digits\n")


# ---------------------------------------------------------------- genesis JSON, strictly


def genesis_text(**fields) -> str:
    spec = {"name": "t", "time_ms": 1000, "validators": [V], "issuers": [I], "balances": {A: 5}}
    for key, value in fields.items():
        if value is ...:
            del spec[key]
        else:
            spec[key] = value
    return json.dumps(spec)


BAD_GENESIS = [
    (genesis_text(validator=[V]), 'the genesis JSON has an unknown field "validator" (did you mean "validators"?)'),
    (genesis_text(balance={A: 1}), 'the genesis JSON has an unknown field "balance" (did you mean "balances"?)'),
    (genesis_text(comment="x"), 'the genesis JSON has an unknown field "comment" '
                                "(the fields are version, name, time_ms, validators, issuers, balances)"),
    (genesis_text(time_ms=...), 'the genesis JSON has no "time_ms" (the genesis time in milliseconds since 1970; '
                                "it is part of the chain id, so it is never taken from the clock)"),
    (genesis_text(name=...), 'the genesis JSON has no "name" (the chain\'s name; it may be "")'),
    (genesis_text(validators=...), 'the genesis JSON has no "validators" (the public keys, as hex, allowed to '
                                   "sign blocks)"),
    (genesis_text(time_ms="1000"), '"time_ms" must be an integer, not a string'),
    (genesis_text(time_ms=True), '"time_ms" must be an integer, not a boolean'),
    (genesis_text(time_ms=1000.0), '"time_ms" must be an integer, not a fraction or exponent'),
    (genesis_text(time_ms=None), '"time_ms" must be an integer, not null'),
    (genesis_text(time_ms=-1), '"time_ms" must be an integer from 0 to 18446744073709551615, not -1'),
    (genesis_text(time_ms=2**64), '"time_ms" must be an integer from 0 to 18446744073709551615, not '
                                  "18446744073709551616"),
    (genesis_text().replace('"time_ms": 1000', '"time_ms": 1e3'), '"time_ms" must be an integer, not a fraction '
                                                                  "or exponent"),
    ('{"name": "n", "a\\nb": 1, "a\\nb": 2}', 'the genesis JSON gives the key "a\\nb" twice in one object'),
    (genesis_text().replace('"time_ms": 1000', '"time_ms": NaN'), "the genesis JSON holds NaN, which is not a "
                                                                  "number a genesis can use"),
    (genesis_text(balances={A: "5"}), f'"balances.{A}" must be an integer, not a string'),
    (genesis_text(balances={A: False}), f'"balances.{A}" must be an integer, not a boolean'),
    (genesis_text(balances={A: 2.5}), f'"balances.{A}" must be an integer, not a fraction or exponent'),
    (genesis_text(balances=[[A, 5]]), '"balances" must be an object of public key (hex) to amount, not an array'),
    (genesis_text(balances={"abcd": 5}), 'a key of "balances" must be a public key as 64 hex digits, not "abcd"'),
    (genesis_text(balances={A: 5, A.upper(): 6}), f'"balances" gives the key {A.upper()} twice (once as {A})'),
    (genesis_text(validators=[V, V]), '"validators[1]" repeats the key of "validators[0]"'),
    (genesis_text(validators=[]), '"validators" is empty: a genesis needs at least one validator'),
    (genesis_text(validators=V), '"validators" must be an array of public keys (hex), not a string'),
    (genesis_text(issuers=[I, 7]), '"issuers[1]" must be a public key as 64 hex digits, not an integer'),
    (genesis_text(issuers=["0x" + I[2:]]), f'"issuers[0]" must be a public key as 64 hex digits, not "0x{I[2:]}"'),
    (genesis_text(validators=[VALIDATOR_PLACEHOLDER]), '"validators[0]" is still the template placeholder: put a '
                                                       "public key there (64 hex digits, as `ledger pubkey KEYFILE "
                                                       "--hex` prints)"),
    (genesis_text(name=5), '"name" must be a string, not an integer'),
    (genesis_text(version=3), '"version" must be 1 or 2 (the chain format; 2 for a new chain), not 3'),
    (genesis_text(version=0), '"version" must be 1 or 2 (the chain format; 2 for a new chain), not 0'),
    (genesis_text(version="1"), '"version" must be an integer, not a string'),
    ('{"name": "a", "name": "b", "time_ms": 1, "validators": ["' + V + '"]}',
     'the genesis JSON gives the key "name" twice in one object'),
    ("[]", "the genesis JSON must be an object with the fields version, name, time_ms, validators, issuers, "
           "balances, not an array"),
    ('{"name": "t",', "the genesis file is not valid JSON (line 1, column 14: Expecting property name enclosed in "
                     "double quotes)"),
]


@pytest.mark.parametrize("text, message", BAD_GENESIS, ids=[m[:40] for _, m in BAD_GENESIS])
def test_init_refuses_a_malformed_genesis_naming_the_field(tmp_path, text, message):
    path = tmp_path / "genesis.json"
    path.write_text(text)
    result = invoke("init", "--db", tmp_path / "db", "--genesis", path)
    assert result.exit_code == 1, result.output
    assert result.stderr == f"error: bad-genesis: {message}\n"
    assert not (tmp_path / "db" / "data.mdb").exists()


@pytest.mark.parametrize("text, message", [
    (genesis_text(name="x" * 65), '"name" is longer than 64 bytes of UTF-8'),
    (genesis_text(validators=[f"{i:064x}" for i in range(1, 258)]), '"validators" lists 257 keys; a genesis has at most 256'),
])
def test_genesis_file_over_a_named_limit_is_limit_exceeded(tmp_path, text, message):
    """The limits of FORMAT.md §10 carry the same code from the JSON reader as from the decoder."""
    path = tmp_path / "genesis.json"
    path.write_text(text)
    result = invoke("init", "--db", tmp_path / "db", "--genesis", path)
    assert result.exit_code == 1, result.output
    assert result.stderr == f"error: limit-exceeded: {message}\n"
    assert not (tmp_path / "db" / "data.mdb").exists()


def test_genesis_file_that_is_not_utf8_is_one_line(tmp_path):
    path = tmp_path / "genesis.json"
    path.write_bytes(b'{"name": "\xff"}')
    result = invoke("init", "--db", tmp_path / "db", "--genesis", path)
    assert result.exit_code == 1
    assert result.stderr == "error: bad-genesis: the genesis file is not UTF-8 text (byte 10)\n"


def test_two_inits_of_one_genesis_file_make_one_chain(tmp_path):
    path = tmp_path / "genesis.json"
    path.write_text(genesis_text())
    first = json.loads(ok("init", "--db", tmp_path / "a", "--genesis", path, "--json").stdout)["chain_id"]
    second = json.loads(ok("init", "--db", tmp_path / "b", "--genesis", path, "--json").stdout)["chain_id"]
    assert first == second == parse_genesis_json(genesis_text()).chain_id.hex()


def test_info_json_genesis_reads_back_as_the_same_chain(tmp_path):
    path = tmp_path / "genesis.json"
    path.write_text(genesis_text())
    ok("init", "--db", tmp_path / "a", "--genesis", path)
    info = json.loads(ok("info", "--db", tmp_path / "a", "--json").stdout)
    (tmp_path / "again.json").write_text(json.dumps(info["genesis"]))
    again = json.loads(ok("init", "--db", tmp_path / "b", "--genesis", tmp_path / "again.json", "--json").stdout)
    assert again["chain_id"] == info["chain_id"]


def test_readme_genesis_example_is_complete_and_accepted(tmp_path):
    section = README.read_text().split("### The genesis file", 1)[1]
    (example,) = re.findall(r"```json\n(.*?)```", section, re.S)[:1]
    spec = json.loads(example)
    assert set(spec) == set(FIELDS)      # every field a file usually carries
    path = tmp_path / "genesis.json"
    path.write_text(example)
    created = json.loads(ok("init", "--db", tmp_path / "db", "--genesis", path, "--json").stdout)
    assert created["chain_id"] == parse_genesis_json(example).chain_id.hex()
    info = json.loads(ok("info", "--db", tmp_path / "db", "--json").stdout)["genesis"]
    assert (info["name"], info["time_ms"], info["balances"]) == (spec["name"], spec["time_ms"], spec["balances"])
    # every field README's table names is one the reader knows, and the other way round
    table = re.findall(r"^\| `(\w+)` \|", section, re.M)
    assert sorted(table) == sorted(FIELDS)


# ---------------------------------------------------------------- ledger genesis


def test_genesis_command_writes_a_complete_file_init_accepts(tmp_path):
    out = tmp_path / "genesis.json"
    result = ok("genesis", "--name", "certs", "--time-ms", 1767225600000, "--validator", V, "--issuer", I,
                "--balance", f"{A}=1000", "--balance", f"{B.upper()}=0", "--out", out)
    spec = json.loads(out.read_text())
    assert spec == {"version": 2, "name": "certs", "time_ms": 1767225600000, "validators": [V], "issuers": [I],
                    "balances": {A: 1000, B: 0}}
    chain_id = parse_genesis_json(out.read_bytes()).chain_id.hex()
    assert result.stdout == f"wrote {out}: chain {chain_id}\n"
    created = json.loads(ok("init", "--db", tmp_path / "db", "--genesis", out, "--json").stdout)
    assert created["chain_id"] == chain_id


def test_genesis_command_writes_the_time_into_the_file(tmp_path):
    out = tmp_path / "genesis.json"
    ok("genesis", "--validator", V, "--out", out)
    assert type(json.loads(out.read_text())["time_ms"]) is int
    first = json.loads(ok("init", "--db", tmp_path / "a", "--genesis", out, "--json").stdout)["chain_id"]
    second = json.loads(ok("init", "--db", tmp_path / "b", "--genesis", out, "--json").stdout)["chain_id"]
    assert first == second


def test_genesis_template_is_accepted_once_the_key_is_filled_in(tmp_path):
    out = tmp_path / "genesis.json"
    result = ok("genesis", "--out", out, "--time-ms", 5)
    assert VALIDATOR_PLACEHOLDER in result.stdout
    refused = invoke("init", "--db", tmp_path / "db", "--genesis", out)
    assert refused.exit_code == 1
    assert refused.stderr == ('error: bad-genesis: "validators[0]" is still the template placeholder: put a public '
                              "key there (64 hex digits, as `ledger pubkey KEYFILE --hex` prints)\n")
    out.write_text(out.read_text().replace(VALIDATOR_PLACEHOLDER, V))
    ok("init", "--db", tmp_path / "db", "--genesis", out)


def test_genesis_command_prints_to_stdout_without_out():
    text = ok("genesis", "--validator", V, "--time-ms", 9).stdout
    assert json.loads(text) == {"version": 2, "name": "", "time_ms": 9, "validators": [V], "issuers": [],
                                "balances": {}}


@pytest.mark.parametrize("version", [1, 2])
def test_genesis_version_is_the_chain_format_and_two_when_left_out(tmp_path, version):
    """FORMAT.md §4: the version is part of the genesis (so of the chain id); a file without one is
    a version-2 chain, as `make_genesis` makes by default; --format-version writes either."""
    text = ok("genesis", "--validator", V, "--time-ms", 9, "--format-version", version).stdout
    assert json.loads(text)["version"] == version
    genesis = parse_genesis_json(text)
    assert genesis.version == version
    left_out = json.dumps({k: v for k, v in json.loads(text).items() if k != "version"})
    assert parse_genesis_json(left_out).version == 2
    assert (parse_genesis_json(left_out).chain_id == genesis.chain_id) == (version == 2)
    created = json.loads(ok("init", "--db", tmp_path / "db", "--genesis", _write(tmp_path, text), "--json").stdout)
    assert created["chain_id"] == genesis.chain_id.hex()
    info = json.loads(ok("info", "--db", tmp_path / "db", "--json").stdout)
    assert info["genesis"]["version"] == version


def _write(folder, text: str):
    path = folder / "genesis.json"
    path.write_text(text)
    return path


def test_genesis_command_refuses_to_replace_a_file_unless_forced(tmp_path):
    out = tmp_path / "genesis.json"
    out.write_text("precious")
    result = invoke("genesis", "--validator", V, "--out", out)
    assert result.exit_code == 2 and f"{out} already exists; pass --force to replace it" in result.stderr
    assert out.read_text() == "precious"
    ok("genesis", "--validator", V, "--out", out, "--force")
    assert json.loads(out.read_text())["validators"] == [V]


@pytest.mark.parametrize("args, message", [
    (["--validator", "abcd"], "Invalid value for --validator: 'abcd' is not a public key (64 hex digits)"),
    (["--validator", V, "--validator", V], "Invalid value for --validator: a key is given twice"),
    (["--validator", V, "--balance", A], f"Invalid value for --balance: '{A}' is not HEX=AMOUNT"),
    (["--validator", V, "--balance", f"{A}=-1"], f"Invalid value for --balance: '{A}=-1' is not HEX=AMOUNT"),
    (["--validator", V, "--balance", f"{A}={2**64}"], "is not HEX=AMOUNT (an amount from 0 to 2**64 - 1)"),
    (["--validator", V, "--balance", f"{A}=\u00b2"], "is not HEX=AMOUNT"),          # a Unicode digit int() refuses
    (["--validator", V, "--balance", f"{A}=\u0661\u0662"], "is not HEX=AMOUNT"),   # Arabic-Indic 12: not ASCII
    (["--validator", V, "--balance", f"{A}=1", "--balance", f"{A}=2"],
     f"Invalid value for --balance: the key {A} is given twice"),
])
def test_genesis_command_bad_options_are_usage_errors(tmp_path, args, message):
    result = invoke("genesis", *args, "--out", tmp_path / "g.json")
    assert result.exit_code == 2
    assert message in result.stderr
    assert not (tmp_path / "g.json").exists()


# ---------------------------------------------------------------- sign and propose


@pytest.fixture
def shell_chain(tmp_path):
    keys = {}
    for name in ("validator", "issuer", "alice", "bob"):
        ok("keygen", "--out", tmp_path / f"{name}.pem")
        keys[name] = load_keypair(tmp_path / f"{name}.pem").public_key.hex()
    (tmp_path / "genesis.json").write_text(json.dumps({
        "name": "shell", "time_ms": 1000, "validators": [keys["validator"]], "issuers": [keys["issuer"]],
        "balances": {keys["alice"]: 100}}))
    ok("init", "--db", tmp_path / "db", "--genesis", tmp_path / "genesis.json")
    return tmp_path, keys


def sign_record(path: Path, *args):
    return invoke("sign", "record", "--db", path / "db", "--key", path / "alice.pem", *args,
                  "--out", path / "pending.txs")


@pytest.mark.parametrize("args, message", [
    (["--name", "n" * 65, "--value", "v"], "Invalid value for --name: the name is 65 bytes; a record name is at "
                                           "most 64 bytes"),
    (["--name", "é" * 33, "--value", "v"], "the name is 66 bytes; a record name is at most 64 bytes"),
    (["--name", "ff" * 65, "--hex-name", "--value", "v"], "the name is 65 bytes; a record name is at most 64 bytes"),
    (["--name", "n", "--value", "v" * 4097], "Invalid value for --value: the value is 4097 bytes; a record value "
                                             "is at most 4096 bytes"),
    (["--name", "zz", "--hex-name", "--value", "v"], "Invalid value for --name: the name must be hex with "
                                                     "--hex-name"),
])
def test_sign_record_checks_the_limits_before_signing(shell_chain, args, message):
    path, _keys = shell_chain
    result = sign_record(path, *args)
    assert result.exit_code == 2, result.output
    assert message in result.stderr
    assert not (path / "pending.txs").exists()


def test_sign_record_value_file_over_the_limit(shell_chain):
    path, _keys = shell_chain
    (path / "big.bin").write_bytes(b"\0" * 4097)
    result = sign_record(path, "--name", "n", "--value-file", path / "big.bin")
    assert result.exit_code == 2
    assert ("Invalid value for --value-file: the value is over the limit; a record value is at most 4096 bytes"
            in result.stderr)
    assert not (path / "pending.txs").exists()


def test_sign_record_at_the_limits_is_stored(shell_chain):
    path, keys = shell_chain
    (path / "value.bin").write_bytes(bytes(range(256)) * 16)           # 4096 bytes, not UTF-8
    ok("sign", "record", "--db", path / "db", "--key", path / "alice.pem", "--name", "ab" * 64, "--hex-name",
       "--value-file", path / "value.bin", "--out", path / "pending.txs")
    ok("sign", "record", "--db", path / "db", "--key", path / "alice.pem", "--name", "n" * 64, "--value", "v" * 4096,
       "--out", path / "pending.txs")
    ok("propose", "--db", path / "db", "--key", path / "validator.pem", path / "pending.txs", "--time-ms", 2000)
    found = json.loads(ok("record", keys["alice"], "ab" * 64, "--hex-name", "--db", path / "db", "--json").stdout)
    assert bytes.fromhex(found["value_hex"]) == bytes(range(256)) * 16
    # --hex-key, the old spelling, still reads the same record
    old = json.loads(ok("record", keys["alice"], "ab" * 64, "--hex-key", "--db", path / "db", "--json").stdout)
    assert old["value_hex"] == found["value_hex"]
    text = json.loads(ok("record", keys["alice"], "n" * 64, "--db", path / "db", "--json").stdout)
    assert bytes.fromhex(text["value_hex"]) == b"v" * 4096


@pytest.mark.parametrize("option, message", [
    ("--name", "Error: Invalid value for --name: the name is not UTF-8 text; give a binary name as hex with "
               "--hex-name"),
    ("--value", "Error: Invalid value for --value: the value is not UTF-8 text; give a binary value with "
                "--value-file"),
])
def test_sign_record_non_utf8_argument_is_a_clear_usage_error(shell_chain, option, message):
    """Bytes from the shell that are not UTF-8 reach Python as surrogate escapes."""
    path, _keys = shell_chain
    other = "--value" if option == "--name" else "--name"
    result = run_module("sign", "record", "--db", str(path / "db"), "--key", str(path / "alice.pem"),
                        option, b"caf\xe9", other, "x", "--out", str(path / "pending.txs"))
    assert result.returncode == 2
    assert result.stderr.decode().splitlines()[-1] == message
    assert b"Traceback" not in result.stderr
    assert not (path / "pending.txs").exists()


def test_record_and_sign_record_name_the_record_alike():
    def names(command: click.Command) -> set[str]:
        return {p.name for p in command.params}
    query, signing = cli.commands["record"], cli.commands["sign"].commands["record"]
    assert {"name", "hex_name"} <= names(query) and {"name", "hex_name"} <= names(signing)
    assert "NAME" in invoke("record", "--help").stdout.splitlines()[0]
    assert "--name NAME" in invoke("sign", "record", "--help").stdout


def test_propose_refuses_an_empty_file_unless_allowed(shell_chain):
    path, _keys = shell_chain
    (path / "pending.txs").write_text("\n")
    result = invoke("propose", "--db", path / "db", "--key", path / "validator.pem", path / "pending.txs")
    assert result.exit_code == 2
    assert (f"Error: {path / 'pending.txs'} holds no transactions; pass --allow-empty to propose an empty block"
            in result.stderr)
    with Ledger.open(path / "db") as book:
        assert book.height == 0
    ok("propose", "--db", path / "db", "--key", path / "validator.pem", path / "pending.txs", "--allow-empty")
    with Ledger.open(path / "db") as book:
        assert book.height == 1 and book.block(1).transactions == ()


def test_propose_consume_empties_the_file_after_the_block_is_stored(shell_chain):
    path, keys = shell_chain
    pending = path / "pending.txs"
    ok("sign", "transfer", "--db", path / "db", "--key", path / "alice.pem", "--to", keys["bob"], "--amount", 1,
       "--out", pending)
    ok("propose", "--db", path / "db", "--key", path / "validator.pem", pending, "--consume")
    assert pending.read_bytes() == b""
    # the next transaction is signed into the same file and proposed from it
    ok("sign", "transfer", "--db", path / "db", "--key", path / "alice.pem", "--to", keys["bob"], "--amount", 2,
       "--out", pending)
    ok("propose", "--db", path / "db", "--key", path / "validator.pem", pending, "--consume")
    with Ledger.open(path / "db") as book:
        assert book.height == 2 and book.account(bytes.fromhex(keys["bob"])).balance == 3


def test_propose_consume_keeps_a_failed_block_and_lines_appended_meanwhile(shell_chain, monkeypatch):
    path, keys = shell_chain
    pending, later = path / "pending.txs", path / "later.txs"
    ok("sign", "transfer", "--db", path / "db", "--key", path / "alice.pem", "--to", keys["bob"], "--amount", 500,
       "--out", pending)                                                          # overdraft
    before = pending.read_bytes()
    result = invoke("propose", "--db", path / "db", "--key", path / "validator.pem", pending, "--consume")
    assert result.exit_code == 1 and "overdraft" in result.stderr
    assert pending.read_bytes() == before                                         # nothing stored, nothing consumed

    pending.write_bytes(b"")
    ok("sign", "transfer", "--db", path / "db", "--key", path / "alice.pem", "--to", keys["bob"], "--amount", 1,
       "--out", pending)
    ok("sign", "transfer", "--db", path / "db", "--key", path / "alice.pem", "--to", keys["bob"], "--amount", 2,
       "--nonce", 2, "--out", later)
    appended = later.read_bytes()
    real_append = Ledger.append

    def append_while_signing(self, block):
        with open(pending, "ab") as handle:           # `ledger sign --out` running while the block is stored
            handle.write(appended)
        return real_append(self, block)

    monkeypatch.setattr(Ledger, "append", append_while_signing)
    ok("propose", "--db", path / "db", "--key", path / "validator.pem", pending, "--consume")
    assert pending.read_bytes() == appended
    monkeypatch.undo()
    ok("propose", "--db", path / "db", "--key", path / "validator.pem", pending, "--consume")
    assert pending.read_bytes() == b""


# ---------------------------------------------------------------- import progress


def test_import_progress_bar_counts_blocks_stored(tmp_path):
    """130 blocks of one transaction commit in groups of 64: the bar must show 64/130, not the bytes
    the reader has read ahead (which showed 100% at height 64)."""
    chain = tmp_path / "chain.ledger"
    ok("gen", "--out", chain, "--blocks", 130, "--txs-per-block", 1, "--accounts", 10)
    master, slave = pty.openpty()
    env = {k: v for k, v in os.environ.items() if k != "LEDGER_DB"}
    process = subprocess.Popen([sys.executable, "-m", "ledger_cli.main", "import", str(chain), "--db",
                                str(tmp_path / "db")], stdout=subprocess.PIPE, stderr=slave, env=env)
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:                                 # EIO once the child has closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    assert process.wait(timeout=60) == 0
    frames = re.findall(rb"height (\d+) .*?(\d+)%", b"".join(chunks))
    assert frames, b"".join(chunks)
    for height, percent in frames:
        assert int(percent) == int(100 * int(height) / 130), frames
    assert frames[-1] == (b"130", b"100")
    assert any(int(height) < 130 for height, _ in frames)          # the bar moved before the end


# ---------------------------------------------------------------- an example in every --help


def _every_command(group: click.Group, prefix: tuple[str, ...] = ()):
    yield prefix
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            yield from _every_command(command, prefix + (name,))
        else:
            yield prefix + (name,)


@pytest.mark.parametrize("path", list(_every_command(cli)), ids=lambda p: " ".join(p) or "ledger")
def test_every_help_carries_an_example(path):
    text = ok(*path, "--help").stdout
    assert "\nExample:\n" in text.replace("  Example:", "Example:"), text
    example = text.split("Example:", 1)[1]
    assert f"ledger {' '.join(path)}".strip() in example, example


# ---------------------------------------------------------------- the genesis reader never fails another way

_json_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-2**70, max_value=2**70) | st.floats(allow_nan=False)
    | st.text(max_size=70) | st.sampled_from([V, I, A, VALIDATOR_PLACEHOLDER]),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8) | st.just(A), children,
                                                                      max_size=4),
    max_leaves=12)


@settings(max_examples=300, deadline=None)
@given(field=st.sampled_from(FIELDS + ("validator", "")), value=_json_values)
@example(field="balances", value={"\n": None})          # a newline in a key once split the error line
@example(field="validators", value=["\n"])
def test_genesis_reader_gives_a_genesis_or_one_bad_genesis_error(field, value):
    spec = json.loads(genesis_text())
    spec[field] = value
    try:
        genesis = parse_genesis_json(json.dumps(spec))
    except LedgerError as error:
        assert error.code in ("bad-genesis", "limit-exceeded") and "\n" not in error.message
        return
    # accepted: then every field was well-formed, and the genesis says what the JSON said
    assert genesis.time_ms == spec["time_ms"] and genesis.name == spec["name"]
    assert sorted(k.hex() for k in genesis.validators) == sorted(k.lower() for k in spec["validators"])


def test_genesis_json_with_a_byte_order_mark_is_read(tmp_path):
    path = tmp_path / "genesis.json"
    path.write_bytes(b"\xef\xbb\xbf" + genesis_text().encode())
    created = json.loads(ok("init", "--db", tmp_path / "db", "--genesis", path, "--json").stdout)
    assert created["chain_id"] == parse_genesis_json(genesis_text()).chain_id.hex()


def test_propose_consume_leaves_a_file_edited_meanwhile(shell_chain, monkeypatch):
    path, keys = shell_chain
    pending = path / "pending.txs"
    ok("sign", "transfer", "--db", path / "db", "--key", path / "alice.pem", "--to", keys["bob"], "--amount", 1,
       "--out", pending)
    real_append = Ledger.append

    def append_while_editing(self, block):
        pending.write_text("edited by hand\n")
        return real_append(self, block)

    monkeypatch.setattr(Ledger, "append", append_while_editing)
    result = invoke("propose", "--db", path / "db", "--key", path / "validator.pem", pending, "--consume")
    assert result.exit_code == 0
    assert result.stderr == f"warning: {pending} changed since it was read; it was left as it is\n"
    assert pending.read_text() == "edited by hand\n"


def test_sign_out_starts_a_new_line_after_a_hand_edited_last_line(shell_chain):
    path, keys = shell_chain
    pending = path / "pending.txs"
    ok("sign", "transfer", "--db", path / "db", "--key", path / "alice.pem", "--to", keys["bob"], "--amount", 1,
       "--out", pending)
    pending.write_bytes(pending.read_bytes().rstrip(b"\n"))            # an editor dropped the final newline
    ok("sign", "transfer", "--db", path / "db", "--key", path / "alice.pem", "--to", keys["bob"], "--amount", 2,
       "--out", pending)
    assert len(pending.read_text().splitlines()) == 2
    ok("propose", "--db", path / "db", "--key", path / "validator.pem", pending)
    with Ledger.open(path / "db") as book:
        assert book.account(bytes.fromhex(keys["bob"])).balance == 3


def test_readme_shell_walkthrough_runs(tmp_path):
    """The operator's walk-through in README.md, run by bash as written (with the console script)."""
    script = Path(sys.executable).parent / "ledger"
    if not script.exists():
        pytest.skip(f"console script {script} is not installed")
    text = README.read_text().split("An operator's chain from the shell", 1)[1].split("\n\n", 2)[1]
    lines = text.splitlines()
    assert lines[0].strip().startswith("ledger keygen --out validator.pem")
    for name in ("issuer", "alice", "bob"):             # "and issuer.pem, alice.pem, ..."
        ok("keygen", "--out", tmp_path / f"{name}.pem")
    env = {k: v for k, v in os.environ.items() if k != "LEDGER_DB"}
    env["PATH"] = f"{script.parent}{os.pathsep}{env.get('PATH', '')}"
    result = subprocess.run(["bash", "-euo", "pipefail", "-c", "\n".join(line[4:] for line in lines)], cwd=tmp_path,
                            env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "pending.txs").read_text() == ""             # --consume emptied it
    with Ledger.open(tmp_path / "db") as book:
        alice = load_keypair(tmp_path / "alice.pem").public_key
        assert book.height == 1 and book.account(alice).balance == 970
        assert book.record(alice, b"certificate/42").value == b"issued"
        assert book.genesis.name == "city certificates"
