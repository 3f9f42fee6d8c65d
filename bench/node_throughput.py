"""Single-node `ledger node` throughput: transactions submitted over HTTP (one keep-alive client)
until all are committed, next to appending the same transactions with the Ledger's builder in
this process (the baseline, measured in the same run). Not a pytest file: run it directly.

    .venv/bin/python bench/node_throughput.py [--transactions 2000]
"""
from __future__ import annotations

import argparse
import http.client
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests"))
from node_fixtures import make_chain  # noqa: E402

from ledger import Keypair, Ledger, decode_transaction  # noqa: E402
from ledger.keys import save_keypair  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--transactions", type=int, default=2000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        chain = make_chain(os.path.join(folder, "db"))
        senders = [chain.alice, chain.bob]
        data = [chain.transfer(senders[i % 2], i // 2 + 1, 1) for i in range(args.transactions)]
        chain.book.close()
        # baseline: the same transactions appended in blocks of 500 in this process
        import shutil
        shutil.copytree(os.path.join(folder, "db"), os.path.join(folder, "db2"))
        with Ledger.open(os.path.join(folder, "db2")) as book:
            started = time.perf_counter()
            for first in range(0, len(data), 500):
                builder = book.builder(chain.validator)
                for item in data[first:first + 500]:
                    builder.add(decode_transaction(item))
                book.append(builder.build())
            baseline = len(data) / (time.perf_counter() - started)
        save_keypair(os.path.join(folder, "validator.pem"), chain.validator)
        with open(os.path.join(folder, "node.toml"), "w") as handle:
            handle.write('[store]\npath = "db"\n[http]\nport = 0\n[validator]\nkey_file = "validator.pem"\n'
                         '[blocks]\nmax_transactions = 500\nbatch_timeout_ms = 50\n'
                         f'[mempool]\nnonce_window = {args.transactions}\n')
        process = subprocess.Popen([sys.executable, "-m", "ledger_cli.main", "node", "--config",
                                    os.path.join(folder, "node.toml")], stderr=subprocess.PIPE, text=True)
        try:
            line = process.stderr.readline()
            host, port = line.split()[2].removeprefix("http://").rsplit(":", 1)
            client = http.client.HTTPConnection(host, int(port), timeout=60)
            client.connect()   # http.client sends headers and body in two writes: without NODELAY,
            client.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)   # 40 ms delayed ACKs
            started = time.perf_counter()
            for item in data:
                client.request("POST", "/tx", item, {"Content-Type": "application/octet-stream"})
                response = client.getresponse()
                response.read()
                assert response.status == 202, response.status
            submitted = time.perf_counter() - started
            last = decode_transaction(data[-1]).txid.hex()
            while True:
                client.request("GET", f"/tx/{last}")
                response = client.getresponse()
                response.read()
                if response.status == 200:
                    break
                time.sleep(0.01)
            committed = time.perf_counter() - started
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(60)
        rate = len(data) / committed
        print(f"{len(data)} transactions: HTTP submit {len(data) / submitted:,.0f} tx/s, submit→all committed "
              f"{rate:,.0f} tx/s; in-process builder+append {baseline:,.0f} tx/s; ratio {rate / baseline:.2f}")


if __name__ == "__main__":
    main()
