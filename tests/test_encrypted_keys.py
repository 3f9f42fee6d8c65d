"""Encrypted key files (issue 10, "Keys a node holds"): PKCS#8 EncryptedPrivateKeyInfo (RFC 5958
§3 / RFC 5208 §6, PBES2 of RFC 8018) in RFC 7468 PEM, for Ed25519 keys (RFC 8410), read and
written through the `cryptography` package; openssl interop; the CLI's passphrase rule
(--passphrase-env NAME | --passphrase-file FILE) from keygen --encrypt to sign and propose."""
from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from ledger import Ledger
from ledger.keys import KeyFormatError, Keypair, is_encrypted_pem, load_keypair, save_keypair
from ledger_cli.main import cli

SEED = bytes(range(32))
PASSPHRASE = "correct horse battery staple"

OPENSSL = shutil.which("openssl")
needs_openssl = pytest.mark.skipif(OPENSSL is None, reason="openssl is not on PATH")


WRONG = ("wrong-passphrase", "bad-key")   # bad-key: the 1 in 256 wrong passphrases that CBC padding lets through


def _code(call) -> str:
    with pytest.raises(KeyFormatError) as info:
        call()
    message = str(info.value)
    assert message.endswith(".") and "\n" not in message and SEED.hex() not in message
    return info.value.code


# ---------------------------------------------------------------- the library


def test_encrypted_round_trip_and_codes(tmp_path):
    keypair = Keypair.from_seed(SEED)
    pem = keypair.to_pem(PASSPHRASE)
    assert pem.startswith("-----BEGIN ENCRYPTED PRIVATE KEY-----\n") and is_encrypted_pem(pem)
    assert not is_encrypted_pem(keypair.to_pem())
    assert Keypair.from_pem(pem, PASSPHRASE) == keypair
    assert Keypair.from_pem(pem.encode(), PASSPHRASE.encode()) == keypair
    assert pem != keypair.to_pem(PASSPHRASE)                   # fresh salt and IV each time
    assert _code(lambda: Keypair.from_pem(pem)) == "passphrase-needed"
    with pytest.raises(KeyFormatError, match="passphrase does not decrypt") as info:
        Keypair.from_pem(pem, "wrong")
    assert info.value.code in WRONG
    assert _code(lambda: Keypair.from_pem(pem, "")) == "passphrase-needed"
    assert _code(lambda: Keypair.from_pem(keypair.to_pem(), PASSPHRASE)) == "not-encrypted"

    path = tmp_path / "node.key"
    save_keypair(path, keypair, PASSPHRASE)
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    assert load_keypair(path, PASSPHRASE) == keypair
    assert _code(lambda: load_keypair(path)) == "passphrase-needed"
    (tmp_path / "seed.hex").write_text(SEED.hex())
    assert _code(lambda: load_keypair(tmp_path / "seed.hex", PASSPHRASE)) == "not-encrypted"


def test_encrypted_key_of_another_type_is_refused_by_name():
    other = X25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(PASSPHRASE.encode()))
    with pytest.raises(KeyFormatError, match="X25519 key, not an Ed25519 one") as info:
        Keypair.from_pem(other, PASSPHRASE)
    assert info.value.code == "bad-key"


def test_damaged_encrypted_key_is_a_key_format_error():
    pem = Keypair.from_seed(SEED).to_pem(PASSPHRASE)
    lines = pem.splitlines()
    der = bytearray(base64.b64decode("".join(lines[1:-1])))
    for index in (0, 1, 20, len(der) // 2, len(der) - 1):        # header, parameters, ciphertext
        damaged = bytearray(der)
        damaged[index] ^= 0x01
        text = f"{lines[0]}\n{base64.b64encode(bytes(damaged)).decode()}\n{lines[-1]}\n"
        assert _code(lambda: Keypair.from_pem(text, PASSPHRASE)) in WRONG
    truncated = f"{lines[0]}\n{base64.b64encode(bytes(der[:-16])).decode()}\n{lines[-1]}\n"
    assert _code(lambda: Keypair.from_pem(truncated, PASSPHRASE)) in WRONG
    two = pem + pem
    assert _code(lambda: Keypair.from_pem(two, PASSPHRASE)) == "bad-key"


def _openssl(*args: str) -> bytes:
    assert OPENSSL is not None
    return subprocess.run([OPENSSL, *args], check=True, capture_output=True, timeout=60).stdout


@needs_openssl
def test_openssl_genpkey_aes256_loads(tmp_path):
    key_file = tmp_path / "validator.pem"
    _openssl("genpkey", "-algorithm", "ed25519", "-aes256", "-pass", f"pass:{PASSPHRASE}", "-out", str(key_file))
    assert key_file.read_text().startswith("-----BEGIN ENCRYPTED PRIVATE KEY-----")
    keypair = load_keypair(key_file, PASSPHRASE)
    public_pem = _openssl("pkey", "-in", str(key_file), "-passin", f"pass:{PASSPHRASE}", "-pubout")
    assert keypair.public_pem().encode() == public_pem
    assert _code(lambda: load_keypair(key_file)) == "passphrase-needed"
    assert _code(lambda: load_keypair(key_file, PASSPHRASE + "x")) in WRONG


@needs_openssl
def test_our_encrypted_key_is_read_by_openssl(tmp_path):
    keypair = Keypair.from_seed(SEED)
    key_file = tmp_path / "key.pem"
    save_keypair(key_file, keypair, PASSPHRASE)
    assert _openssl("pkey", "-in", str(key_file), "-passin", f"pass:{PASSPHRASE}").decode() == keypair.to_pem()
    listing = _openssl("asn1parse", "-in", str(key_file)).decode()
    assert "PBES2" in listing and "aes-256-cbc" in listing


# ---------------------------------------------------------------- the CLI


def invoke(*args: object, env: dict | None = None):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False, env=env)


def ok(*args: object, env: dict | None = None):
    result = invoke(*args, env=env)
    assert result.exit_code == 0, (args, result.output, result.stderr)
    return result


ENV = {"VALIDATOR_PASS": PASSPHRASE}


@pytest.fixture
def encrypted_chain(tmp_path):
    """A chain whose validator key and alice's key are encrypted, one by env, one by file."""
    (tmp_path / "alice.pass").write_text(PASSPHRASE + "\n")
    ok("keygen", "--out", tmp_path / "validator.pem", "--encrypt", "--passphrase-env", "VALIDATOR_PASS", env=ENV)
    ok("keygen", "--out", tmp_path / "alice.pem", "--encrypt", "--passphrase-file", tmp_path / "alice.pass")
    ok("keygen", "--out", tmp_path / "bob.pem")
    for name in ("validator", "alice"):
        assert is_encrypted_pem((tmp_path / f"{name}.pem").read_text())
    keys = {"validator": load_keypair(tmp_path / "validator.pem", PASSPHRASE),
            "alice": load_keypair(tmp_path / "alice.pem", PASSPHRASE), "bob": load_keypair(tmp_path / "bob.pem")}
    assert ok("pubkey", tmp_path / "validator.pem", "--hex", "--passphrase-env", "VALIDATOR_PASS",
              env=ENV).stdout.strip() == keys["validator"].public_key.hex()
    genesis = {"name": "encrypted", "time_ms": 1_000, "validators": [keys["validator"].public_key.hex()],
               "issuers": [], "balances": {keys["alice"].public_key.hex(): 100}}
    (tmp_path / "genesis.json").write_text(json.dumps(genesis))
    ok("init", "--db", tmp_path / "db", "--genesis", tmp_path / "genesis.json")
    return tmp_path, keys


def test_keygen_encrypt_then_sign_propose_checkpoint(encrypted_chain):
    path, keys = encrypted_chain
    db, txs = path / "db", path / "txs"
    ok("sign", "transfer", "--db", db, "--key", path / "alice.pem", "--passphrase-file", path / "alice.pass",
       "--to", keys["bob"].public_key.hex(), "--amount", 30, "--out", txs)
    block = json.loads(ok("propose", "--db", db, "--key", path / "validator.pem", "--passphrase-env",
                          "VALIDATOR_PASS", txs, "--json", env=ENV).stdout)
    assert block["height"] == 1
    with Ledger.open(str(db), read_only=True) as book:
        assert book.account(keys["bob"].public_key).balance == 30
        assert book.block(1).header.proposer == keys["validator"].public_key
    ok("checkpoint", "--db", db, "--key", path / "validator.pem", "--passphrase-env", "VALIDATOR_PASS", env=ENV)


def test_encrypted_key_without_passphrase_is_exit_2_one_line(encrypted_chain):
    path, _ = encrypted_chain
    result = invoke("propose", "--db", path / "db", "--key", path / "validator.pem", "--allow-empty",
                    path / "genesis.json", "--json")
    assert result.exit_code == 2
    assert result.stderr == (f"error: {path / 'validator.pem'}: the private key PEM is encrypted and no passphrase "
                             "was given; give --passphrase-env NAME or --passphrase-file FILE.\n")
    assert json.loads(result.stdout)["code"] == "passphrase-needed"


def test_wrong_passphrase_is_exit_1_one_line(encrypted_chain):
    path, keys = encrypted_chain
    result = invoke("sign", "transfer", "--db", path / "db", "--key", path / "alice.pem", "--passphrase-env",
                    "WRONG", "--to", keys["bob"].public_key.hex(), "--amount", 1, env={"WRONG": "nope"})
    assert result.exit_code == 1
    assert result.stderr.startswith(f"error: {path / 'alice.pem'}: ") and result.stderr.count("\n") == 1
    assert "passphrase does not decrypt" in result.stderr
    result = invoke("pubkey", path / "alice.pem", "--passphrase-env", "WRONG", "--json", env={"WRONG": "nope"})
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    assert data["code"] in WRONG and data["exit_status"] == 1 and data["message"] == result.stderr[7:-1]


@pytest.mark.parametrize("args, env, message", [
    (["--passphrase-env", "UNSET_FOR_THIS_TEST"], {"UNSET_FOR_THIS_TEST": None}, "UNSET_FOR_THIS_TEST is not set"),
    (["--passphrase-env", "EMPTY"], {"EMPTY": ""}, "the passphrase is empty"),
    (["--passphrase-env", "VALIDATOR_PASS", "--passphrase-file", "genesis.json"], ENV, "at most one of"),
    (["--passphrase-file", "missing.pass"], None, "does not exist"),
])
def test_passphrase_option_mistakes_are_usage_errors(encrypted_chain, args, env, message, monkeypatch):
    path, _ = encrypted_chain
    monkeypatch.chdir(path)
    result = invoke("pubkey", path / "validator.pem", *args, env=env)
    assert result.exit_code == 2, result.output
    assert message in result.stderr and "Traceback" not in result.output


def test_passphrase_for_a_plain_key_and_keygen_rules_are_usage_errors(tmp_path):
    ok("keygen", "--out", tmp_path / "plain.pem")
    result = invoke("pubkey", tmp_path / "plain.pem", "--passphrase-env", "VALIDATOR_PASS", env=ENV)
    assert result.exit_code == 2
    assert "not encrypted, yet a passphrase was given" in result.stderr
    result = invoke("keygen", "--out", tmp_path / "k.pem", "--encrypt")
    assert result.exit_code == 2 and "--encrypt needs --passphrase-env" in result.stderr
    result = invoke("keygen", "--out", tmp_path / "k.pem", "--passphrase-env", "VALIDATOR_PASS", env=ENV)
    assert result.exit_code == 2 and "only used with --encrypt" in result.stderr
    assert not (tmp_path / "k.pem").exists()
    # Printed rather than written, the encrypted PEM decrypts with the same passphrase.
    data = json.loads(ok("keygen", "--encrypt", "--passphrase-env", "VALIDATOR_PASS", "--json", env=ENV).stdout)
    assert data["encrypted"] is True
    assert Keypair.from_pem(data["private_key_pem"], PASSPHRASE).public_key.hex() == data["public_key"]


@needs_openssl
def test_cli_reads_an_openssl_encrypted_key(tmp_path):
    key_file, pass_file = tmp_path / "validator.pem", tmp_path / "pass"
    pass_file.write_bytes(PASSPHRASE.encode() + b"\n")
    _openssl("genpkey", "-algorithm", "ed25519", "-aes256", "-pass", f"file:{pass_file}", "-out", str(key_file))
    public = ok("pubkey", key_file, "--hex", "--passphrase-file", pass_file).stdout.strip()
    assert public == load_keypair(key_file, PASSPHRASE).public_key.hex()


def test_no_traceback_from_a_real_process(tmp_path):
    Keypair.from_seed(SEED)
    save_keypair(tmp_path / "k.pem", Keypair.from_seed(SEED), PASSPHRASE)
    env = {k: v for k, v in os.environ.items() if k != "LEDGER_DB"}
    env["P"] = "wrong"
    result = subprocess.run([sys.executable, "-m", "ledger_cli.main", "pubkey", str(tmp_path / "k.pem"),
                             "--passphrase-env", "P"], capture_output=True, env=env, timeout=60)
    assert result.returncode == 1
    assert result.stderr.decode().count("\n") == 1 and b"Traceback" not in result.stderr
