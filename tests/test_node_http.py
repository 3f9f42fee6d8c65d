"""ledger.node.http: the ASGI app called directly (no socket) for every route and every kind of
error; JSON bodies are the CLI's --json shapes."""
from __future__ import annotations

import asyncio
import json
from urllib.parse import unquote

import pytest

from ledger import account_json, block_json, check_any_proof, decode_transaction, load_proof, tx_info_json
from ledger.node.config import BlockCutting
from ledger.node.http import NodeApp
from ledger.node.mempool import Mempool
from ledger.node.metrics import Metrics
from ledger.node.proposer import Proposer
from node_fixtures import make_chain


def call(app, method, path, body=b"", headers=(), query=b""):
    """One request through the ASGI interface: (status, headers, body)."""
    messages = [{"type": "http.request", "body": body[:7], "more_body": len(body) > 7},
                {"type": "http.request", "body": body[7:], "more_body": False}]
    sent = []

    async def receive():
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message):
        sent.append(message)

    raw = path.encode()
    scope = {"type": "http", "method": method, "path": unquote(path), "raw_path": raw, "query_string": query,
             "headers": list(headers)}
    asyncio.run(app(scope, receive, send))
    start, content = sent
    assert start["type"] == "http.response.start" and content["type"] == "http.response.body"
    head = dict(start["headers"])
    assert int(head[b"content-length"]) == len(content["body"])
    return start["status"], head, content["body"]


def get_json(app, path, status=200, query=b""):
    code, head, body = call(app, "GET", path, query=query)
    assert code == status, body
    assert head[b"content-type"] == b"application/json"
    return json.loads(body)


@pytest.fixture
def node(tmp_path):
    chain = make_chain(tmp_path / "db")
    mempool = Mempool(chain.book, 3, 16)
    metrics = Metrics()
    app = NodeApp(chain.book, mempool, metrics, proposing=True)
    proposer = Proposer(chain.book, mempool, chain.validator, BlockCutting(100, 10**6, 1),
                        on_commit=metrics.committed)
    yield chain, app, mempool, proposer
    chain.book.close()


def submit(app, data, binary=False):
    if binary:
        return call(app, "POST", "/tx", data, [(b"content-type", b"application/octet-stream")])
    return call(app, "POST", "/tx", data.hex().encode() + b"\n", [(b"content-type", b"text/plain")])


def test_submit_commit_and_query_everything(node):
    chain, app, mempool, proposer = node
    transfer = chain.transfer(chain.alice, 1, 25, to=chain.bob)
    record = chain.record(chain.bob, 1, b"certificate/7", b"issued")
    status, _, body = submit(app, transfer)
    assert status == 202 and json.loads(body) == {"txid": decode_transaction(transfer).txid.hex(), "status": "pending"}
    assert submit(app, record, binary=True)[0] == 202
    block = proposer.cut()
    assert block is not None and len(block.transactions) == 2

    info = get_json(app, "/info")
    assert info["height"] == 1 and info["tx_count"] == 2 and info["genesis"]["name"] == "node test"
    assert get_json(app, "/health") == {"status": "ok", "height": 1, "proposing": True}
    assert get_json(app, "/block/1") == block_json(block)
    assert get_json(app, f"/block/{block.hash.hex()}") == block_json(block)
    txids = {"height": 1, "hash": block.hash.hex(), "txids": [tx.txid.hex() for tx in block.transactions]}
    assert get_json(app, "/block/1/txids") == txids == get_json(app, f"/block/{block.hash.hex()}/txids")
    assert get_json(app, "/block/2/txids", status=404)["code"] == "not-found"
    txid = block.transactions[0].txid
    assert get_json(app, f"/tx/{txid.hex()}") == tx_info_json(chain.book.tx(txid))
    bob = chain.bob.public_key
    assert get_json(app, f"/account/{bob.hex()}") == account_json(bob, chain.book.account(bob))
    found = get_json(app, f"/record/{bob.hex()}/certificate%2F7")
    assert found["key"] == "certificate/7" and bytes.fromhex(found["value_hex"]) == b"issued"
    assert found | {"key": b"certificate/7".hex()} == get_json(app, f"/record/{bob.hex()}/{b'certificate/7'.hex()}",
                                                              query=b"hex=1")
    for path in (f"/proof/tx/{txid.hex()}", f"/proof/account/{bob.hex()}",
                 f"/proof/record/{bob.hex()}/certificate%2F7"):
        proof = get_json(app, path)
        check_any_proof(load_proof(proof), [chain.validator.public_key], chain.book.chain_id)
        status, head, binary = call(app, "GET", path, query=b"binary=1")
        assert status == 200 and head[b"content-type"] == b"application/octet-stream"
        assert load_proof(binary).to_json() == proof   # the same proof, in its binary form

    status, head, body = call(app, "GET", "/metrics")
    assert status == 200 and head[b"content-type"].startswith(b"text/plain")
    text = body.decode()
    assert "ledger_height 1\n" in text and "ledger_mempool_transactions 0\n" in text
    assert "ledger_transactions_committed_total 2\n" in text and 'le="+Inf"} 1' in text
    # one block of 2 signatures: in every batch-size bucket from 10 up, none below
    assert 'ledger_verify_batch_signatures_bucket{le="1"} 0\n' in text
    assert 'ledger_verify_batch_signatures_bucket{le="10"} 1\n' in text
    assert "ledger_verify_batch_signatures_sum 2\n" in text and "ledger_verify_batch_signatures_count 1\n" in text


def error(app, method, path, status, code, body=b"", headers=(), query=b""):
    got, head, content = call(app, method, path, body, headers, query)
    assert got == status, content
    data = json.loads(content)
    assert data["code"] == code and data["message"] and set(data) >= {"code", "message", "height", "index"}
    return data


def test_errors(node):
    chain, app, mempool, proposer = node
    key = chain.bob.public_key.hex()
    error(app, "GET", "/nowhere", 404, "not-found")
    error(app, "GET", "/block/5", 404, "not-found")
    error(app, "GET", "/block/" + "00" * 32, 404, "not-found")
    error(app, "GET", "/block/99999999999999999999999", 400, "bad-request")
    error(app, "GET", "/block/xyz", 400, "bad-request")
    error(app, "GET", "/tx/" + "00" * 32, 404, "not-found")
    error(app, "GET", "/tx/abc", 400, "bad-request")
    error(app, "GET", "/account/" + "00" * 31, 400, "bad-request")
    error(app, "GET", f"/record/{key}/missing", 404, "not-found")
    error(app, "GET", f"/record/{key}/%FF", 400, "bad-request")
    error(app, "GET", f"/record/{key}/zz", 400, "bad-request", query=b"hex=1")
    error(app, "GET", "/proof/account/" + key, 404, "not-found")   # no block yet: no signed header
    error(app, "GET", "/proof/tx/" + "00" * 32, 404, "not-found")
    error(app, "GET", "/tx", 405, "method-not-allowed")
    error(app, "POST", "/info", 405, "method-not-allowed")
    error(app, "POST", "/tx", 400, "bad-encoding", b"not hex")
    error(app, "POST", "/tx", 400, "bad-encoding", b"\x93\x01", [(b"content-type", b"application/octet-stream")])
    error(app, "POST", "/tx", 413, "body-too-large", b"00" * 20_000)
    error(app, "POST", "/tx", 400, "overdraft", chain.transfer(chain.carol, 1, 1).hex().encode())
    data = chain.transfer(chain.alice, 1, 1)
    assert submit(app, data)[0] == 202
    error(app, "POST", "/tx", 409, "duplicate-tx", data.hex().encode())
    assert submit(app, chain.transfer(chain.alice, 2, 1))[0] == 202
    assert submit(app, chain.transfer(chain.alice, 3, 1))[0] == 202
    error(app, "POST", "/tx", 503, "mempool-full", chain.transfer(chain.bob, 1, 1).hex().encode())
    _, _, body = call(app, "GET", "/metrics")
    assert 'ledger_transactions_refused_total{code="mempool-full"} 1' in body.decode()
    assert "ledger_mempool_transactions 3\n" in body.decode()


def test_a_bug_is_a_500_without_details(node, caplog):
    chain, app, mempool, proposer = node
    app.ledger = None   # every read now fails inside the handler
    data = error(app, "GET", "/info", 500, "internal-error")
    assert "NoneType" not in data["message"] and "request failed" in caplog.text


def test_lifespan(node):
    _, app, _, _ = node
    inbox = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]
    sent = []

    async def receive():
        return inbox.pop(0)

    async def send(message):
        sent.append(message["type"])

    asyncio.run(app({"type": "lifespan"}, receive, send))
    assert sent == ["lifespan.startup.complete", "lifespan.shutdown.complete"]


def test_history_proof_and_checkpoint(node):
    """Every proof the engine offers is reachable: a history proof between two heights, and a
    checkpoint signed by the node's validator key (none without one)."""
    from ledger import VerifierKey, check_history_proof
    from ledger.checkpoint import open_checkpoint as parse_note_checkpoint

    chain, app, mempool, proposer = node
    for nonce in (1, 2):
        assert submit(app, chain.transfer(chain.alice, nonce, 1))[0] == 202
        assert proposer.cut() is not None
    shown = get_json(app, "/proof/history/1/2")
    assert shown == chain.book.prove_history(1, 2).to_json()
    check_history_proof(load_proof(json.dumps(shown).encode()), chain.book.genesis.validators, chain.book.chain_id)
    status, _, binary = call(app, "GET", "/proof/history/1/2", query=b"binary=1")
    assert status == 200 and load_proof(binary).to_json() == shown
    assert get_json(app, "/proof/history/2/1", status=400)["code"] == "bad-request"
    assert get_json(app, "/proof/history/1/3", status=404)["code"] == "not-found"
    assert get_json(app, "/proof/history/x/2", status=400)["code"] == "bad-request"

    assert get_json(app, "/checkpoint", status=404)["code"] == "not-found"
    signed = NodeApp(chain.book, mempool, Metrics(), proposing=True, keypair=chain.validator)
    status, head, body = call(signed, "GET", "/checkpoint")
    assert status == 200 and head[b"content-type"].startswith(b"text/plain")
    origin = f"ledger/{chain.book.chain_id.hex()}"
    checkpoint, signers = parse_note_checkpoint(body, [VerifierKey(origin, chain.validator.public_key)])
    assert checkpoint.size == 3 and signers[0].public_key == chain.validator.public_key   # heights 0..2
    from ledger import block_log_root
    assert checkpoint.root == block_log_root(chain.book.history_leaves())
