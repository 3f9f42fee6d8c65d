"""`ledger node` as a real process: it starts on a free port, takes transactions over HTTP,
commits them, and stops cleanly on SIGTERM. Every wait is a bounded poll, never a fixed sleep."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

from ledger import Ledger, decode_transaction
from ledger.keys import save_keypair
from node_fixtures import make_chain

DEADLINE_SECONDS = 120   # generous: a loaded 2-core machine may start Python slowly


def http(method, url, body=None, headers=None):
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_node_serves_commits_and_stops(tmp_path):
    chain = make_chain(tmp_path / "db")
    data = [chain.transfer(chain.alice, nonce, 7, to=chain.bob) for nonce in range(1, 6)]
    data.append(chain.record(chain.bob, 1, b"name", b"value"))
    chain.book.close()
    save_keypair(tmp_path / "validator.pem", chain.validator, b"node test passphrase")   # encrypted
    (tmp_path / "node.toml").write_text(
        '[store]\npath = "db"\n[http]\nhost = "127.0.0.1"\nport = 0\n[validator]\nkey_file = "validator.pem"\n'
        '[blocks]\nmax_transactions = 4\nbatch_timeout_ms = 50\n')
    process = subprocess.Popen([sys.executable, "-m", "ledger_cli.main", "node", "--config", tmp_path / "node.toml",
                                "--passphrase-env", "NODE_TEST_PASSPHRASE"],
                               env={**os.environ, "NODE_TEST_PASSPHRASE": "node test passphrase"},
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines: list[str] = []
    listening = threading.Event()

    def read_stderr():
        for line in process.stderr:
            lines.append(line)
            if line.startswith("listening on "):
                listening.set()

    reader = threading.Thread(target=read_stderr, daemon=True)
    reader.start()
    try:
        assert listening.wait(DEADLINE_SECONDS), "".join(lines)
        base = next(line for line in lines if line.startswith("listening on ")).split()[2]
        assert http("GET", base + "/health")[1]["height"] == 0
        for item in data[:3]:
            assert http("POST", base + "/tx", item.hex().encode())[0] == 202
        for item in data[3:]:
            status, body = http("POST", base + "/tx", item, {"Content-Type": "application/octet-stream"})
            assert status == 202, body
        assert http("POST", base + "/tx", data[0].hex().encode())[1]["code"] in ("duplicate-tx",)
        txids = [decode_transaction(item).txid.hex() for item in data]
        deadline = time.monotonic() + DEADLINE_SECONDS
        while time.monotonic() < deadline:
            if all(http("GET", f"{base}/tx/{txid}")[0] == 200 for txid in txids):
                break
            time.sleep(0.05)
        found = [http("GET", f"{base}/tx/{txid}")[1] for txid in txids]
        assert all("height" in item for item in found), found
        info = http("GET", base + "/info")[1]
        assert info["tx_count"] == 6 and info["height"] >= 2   # at most 4 per block
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(DEADLINE_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        reader.join(10)
    assert process.returncode == 0, "".join(lines)
    assert any(line.startswith("stopped at height ") for line in lines), "".join(lines)
    with Ledger.open(tmp_path / "db") as book:   # the store is closed and whole
        assert book.account(chain.bob.public_key).balance == 1035
        book.validate()


def test_bad_config_and_missing_store_refused(tmp_path):
    from click.testing import CliRunner

    from ledger_cli.main import cli

    (tmp_path / "node.toml").write_text('[store]\npath = "db"\n[blocks]\nmax_txs = 3\n')
    result = CliRunner().invoke(cli, ["node", "--config", str(tmp_path / "node.toml")])
    assert result.exit_code == 2 and "max_txs" in result.output
    (tmp_path / "node.toml").write_text('[store]\npath = "db"\n')
    result = CliRunner().invoke(cli, ["node", "--config", str(tmp_path / "node.toml")])
    assert result.exit_code == 1 and "not-found" in result.output
    # an encrypted validator key without its passphrase: refused before anything starts
    make_chain(tmp_path / "db").book.close()
    from ledger import Keypair
    save_keypair(tmp_path / "validator.pem", Keypair.from_seed(bytes([1]) * 32), b"secret")
    (tmp_path / "node.toml").write_text('[store]\npath = "db"\n[validator]\nkey_file = "validator.pem"\n')
    result = CliRunner().invoke(cli, ["node", "--config", str(tmp_path / "node.toml")])
    assert result.exit_code == 2 and "passphrase" in result.output, result.output   # usage, as every command


def test_listening_socket_says_tcp():
    # asyncio sets TCP_NODELAY on accepted connections only for a socket whose proto is TCP; without
    # it every response waited ~40 ms for the client's delayed ACK (22 tx/s instead of ~900).
    import socket

    from ledger.node.service import bind

    sock = bind("127.0.0.1", 0)
    try:
        assert sock.proto == socket.IPPROTO_TCP and sock.getsockname()[1] != 0
    finally:
        sock.close()
