"""The node's HTTP API: a plain ASGI 3 application (no web framework), served by uvicorn.

Specification: ASGI 3.0 (https://asgi.readthedocs.io/en/latest/specs/main.html), HTTP scope;
Prometheus text format for /metrics (ledger.node.metrics). Every JSON body has the shape the CLI's
`--json` prints for the same question (ledger's *_json renderers); errors are {"code", "message",
"height", "index"} as LedgerError.to_dict gives, with an HTTP status by kind (see STATUS_BY_CODE).

A thin shell: handlers parse the request, call the Ledger facade or the mempool, and render. Reads
of the store run on a worker thread (asyncio.to_thread), since a state proof waits for a commit in
progress and must not stall the event loop.

Routes:
  POST /tx                       a signed transaction: hex text, or raw bytes with
                                 Content-Type: application/octet-stream -> 202 {"txid", "status"}
                                 once admitted (replicated: and acknowledged by the transaction
                                 stream; if it is not, 503 replication-unavailable and the
                                 transaction is not kept)
  GET  /info                     as `ledger info --json`
  GET  /block/{height|hash}      as `ledger block --json`
  GET  /block/{height|hash}/txids   {"height", "hash", "txids"}: what a client waiting for its
                                 transactions needs, without rendering every field
  GET  /tx/{txid}                as `ledger tx --json`
  GET  /account/{key}            as `ledger account --json`
  GET  /record/{owner}/{key}     as `ledger record --json`; the key is UTF-8 text (percent-encoded),
                                 or hex with ?hex=1
  GET  /proof/tx/{txid}, /proof/account/{key}, /proof/record/{owner}/{key}
                                 the proof's JSON (FORMAT.md §11-§12), as `ledger proof` prints it;
                                 with ?binary=1 (any proof route) its binary form (§12),
                                 application/octet-stream, as `--binary --out` writes it
  GET  /proof/history/{h1}/{h2}  that block h2 extends block h1 (FORMAT.md §13), the proof's
                                 JSON as `ledger prove-history` writes it
  GET  /checkpoint               a node with a validator key: a C2SP checkpoint of the block log
                                 at the tip, signed by it (FORMAT.md §14), as text
  GET  /health                   {"status": "ok", "height", "proposing"}; replicated, also "nats"
                                 (connected or not), "leader" (holds the proposer lease), "caught_up",
                                 "stream_sequence" (the last block-stream message taken), "refused"
  GET  /refused                  replicated: the last 100 block-stream messages refused, each
                                 {"sequence", "height", "index", "code", "message"}
  GET  /metrics                  Prometheus text
"""
from __future__ import annotations

import asyncio
import json
import logging
from typing import Awaitable, Callable
from urllib.parse import parse_qs, unquote, unquote_to_bytes

from ledger import (
    Keypair, Ledger, LedgerError, account_json, block_json, encode_proof, genesis_json, record_json, tx_info_json,
)
from ledger.errors import (
    BAD_ENCODING, DUPLICATE_TX, MEMPOOL_FULL, NOT_FOUND, EnvironmentFault,
)
from ledger.node.mempool import Mempool
from ledger.node.metrics import Metrics
from ledger.node.replication import REPLICATION_UNAVAILABLE

log = logging.getLogger("ledger.node.http")

# Request codes of this API (not of the format): a malformed path or body, a wrong method.
BAD_REQUEST = "bad-request"
METHOD_NOT_ALLOWED = "method-not-allowed"
BODY_TOO_LARGE = "body-too-large"
INTERNAL = "internal-error"
# A transaction is at most a record of 64 + 4096 bytes plus its fields (~200 bytes): twice that as hex.
TX_BODY_BYTES_MAX = 16 * 1024

STATUS_BY_CODE = {NOT_FOUND: 404, MEMPOOL_FULL: 503, DUPLICATE_TX: 409, METHOD_NOT_ALLOWED: 405,
                  BODY_TOO_LARGE: 413, INTERNAL: 500, REPLICATION_UNAVAILABLE: 503}

Send = Callable[[dict], Awaitable[None]]


class HttpError(Exception):
    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def _hex_path(text: str, size: int, what: str) -> bytes:
    try:
        value = bytes.fromhex(text)
    except ValueError:
        raise HttpError(400, BAD_REQUEST, f"{what} must be hex") from None
    if len(value) != size:
        raise HttpError(400, BAD_REQUEST, f"{what} must be {size} bytes ({2 * size} hex digits)")
    return value


class NodeApp:
    """The ASGI application. `proposing` says whether this node has a validator key."""

    def __init__(self, ledger: Ledger, mempool: Mempool, metrics: Metrics, proposing: bool = False,
                 replication=None, keypair: Keypair | None = None):
        self.ledger = ledger
        self.mempool = mempool
        self.metrics = metrics
        self.proposing = proposing
        self.replication = replication   # ledger.node.replication.Replication, or None for a single node
        self.keypair = keypair           # the node's validator key, which signs its checkpoints

    async def __call__(self, scope: dict, receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        try:
            status, body, content_type = await self._route(scope, receive)
        except HttpError as error:
            status, body, content_type = error.status, _error_json(error.code, error.message), "application/json"
        except EnvironmentFault as error:
            status, body, content_type = 503, _json(error.to_dict()), "application/json"
        except LedgerError as error:
            status = STATUS_BY_CODE.get(error.code, 400)
            body, content_type = _json(error.to_dict()), "application/json"
        except Exception:   # a bug: say so without a traceback to the client, log it here
            log.exception("request failed: %s %s", scope.get("method"), scope.get("path"))
            status, body, content_type = 500, _error_json(INTERNAL, "the node failed to answer"), "application/json"
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", content_type.encode()),
                                (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})

    async def _route(self, scope: dict, receive) -> tuple[int, bytes, str]:
        method, path = scope["method"], scope["path"]
        # Split the raw path, so that a record key may hold a percent-encoded '/'.
        raw = (scope.get("raw_path") or path.encode("utf-8")).split(b"?")[0].decode("latin-1")
        parts = [unquote(part) for part in raw.split("/") if part]
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        if parts == ["tx"]:
            if method != "POST":
                raise HttpError(405, METHOD_NOT_ALLOWED, "POST a transaction to /tx")
            return await self._submit(scope, receive)
        if method != "GET":
            raise HttpError(405, METHOD_NOT_ALLOWED, f"{path} answers GET only")
        if parts == ["metrics"]:
            text = await asyncio.to_thread(self._metrics_text)
            return 200, text.encode(), "text/plain; version=0.0.4; charset=utf-8"
        if parts == ["checkpoint"]:
            if self.keypair is None:
                raise HttpError(404, NOT_FOUND, "this node holds no validator key: it signs no checkpoint")
            note = await asyncio.to_thread(self.ledger.checkpoint, self.keypair)
            return 200, note.to_text().encode(), "text/plain; charset=utf-8"
        handler = self._handler(parts, scope, query)
        answer = await asyncio.to_thread(handler)
        if parts[0] == "proof":   # a proof object: its JSON, or with ?binary=1 its binary form (FORMAT.md §12)
            if query.get("binary", ["0"])[-1] not in ("0", "", "false"):
                return 200, encode_proof(answer), "application/octet-stream"
            answer = answer.to_json()
        return 200, _json(answer), "application/json"

    def _handler(self, parts: list[str], scope: dict, query: dict) -> Callable[[], object]:
        book = self.ledger
        match parts:
            case ["health"]:
                return self._health
            case ["refused"] if self.replication is not None:
                return lambda: {"refused": [refusal.to_json() for refusal in list(self.replication.applier.refused)]}
            case ["info"]:
                return lambda: {**book.info(), "genesis": genesis_json(book.genesis)}
            case ["block", reference]:
                ref = _block_reference(reference)
                return lambda: block_json(_found(book.block(ref), f"no block {reference}"))
            case ["block", reference, "txids"]:
                ref = _block_reference(reference)
                return lambda: _txids_json(_found(book.block(ref), f"no block {reference}"))
            case ["tx", txid]:
                key = _hex_path(txid, 32, "the txid")
                return lambda: tx_info_json(_found(book.tx(key), f"no transaction {txid}"))
            case ["account", public_key]:
                key = _hex_path(public_key, 32, "the public key")
                return lambda: account_json(key, book.account(key))
            case ["record", owner, _]:
                owner_key, name, record_key = self._record_path(scope, query)
                return lambda: record_json(owner, name, _found(book.record(owner_key, record_key),
                                                               f"no record {name!r} of {owner}"))
            case ["proof", "tx", txid]:
                key = _hex_path(txid, 32, "the txid")
                return lambda: book.prove(key)
            case ["proof", "account", public_key]:
                key = _hex_path(public_key, 32, "the public key")
                return lambda: book.prove_account(key)
            case ["proof", "history", old, new]:
                heights = [_height_path(old), _height_path(new)]
                if not 1 <= heights[0] < heights[1]:
                    raise HttpError(400, BAD_REQUEST, "a history proof runs from a height h1 >= 1 to a height h2 > h1")
                return lambda: book.prove_history(*heights)
            case ["proof", "record", _, _]:
                owner_key, _, record_key = self._record_path(scope, query)
                return lambda: book.prove_record(owner_key, record_key)
        raise HttpError(404, NOT_FOUND, f"no such resource: {scope['path']}")

    def _health(self) -> dict:
        health = {"status": "ok", "height": self.ledger.height, "proposing": self.proposing}
        if self.replication is not None:
            health.update(self.replication.status())
        return health

    @staticmethod
    def _record_path(scope: dict, query: dict) -> tuple[bytes, str, bytes]:
        """(owner, the key as written, the key's bytes) from the raw path, so a key may hold '/'
        percent-encoded and any bytes as hex with ?hex=1."""
        raw = scope.get("raw_path") or scope["path"].encode("utf-8")
        raw_owner, raw_name = [part for part in raw.split(b"?")[0].split(b"/") if part][-2:]
        owner = _hex_path(raw_owner.decode("latin-1"), 32, "the owner")
        name_bytes = unquote_to_bytes(raw_name)
        name = name_bytes.decode("utf-8", "replace")
        if query.get("hex", ["0"])[-1] not in ("0", "", "false"):
            try:
                return owner, name, bytes.fromhex(name)
            except ValueError:
                raise HttpError(400, BAD_REQUEST, "the record key must be hex with ?hex=1") from None
        try:
            name_bytes.decode("utf-8")
        except UnicodeDecodeError:
            raise HttpError(400, BAD_REQUEST, "the record key is not UTF-8; give it as hex with ?hex=1") from None
        return owner, name, name_bytes

    async def _submit(self, scope: dict, receive) -> tuple[int, bytes, str]:
        body = await _read_body(receive, TX_BODY_BYTES_MAX)
        headers = dict(scope.get("headers") or [])
        content_type = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
        if content_type == b"application/octet-stream":
            data = body
        else:
            try:
                data = bytes.fromhex(body.decode("ascii").strip())
            except (UnicodeDecodeError, ValueError):
                self.metrics.submitted(BAD_ENCODING)
                raise HttpError(400, BAD_ENCODING, "the body must be a transaction in hex (or raw bytes with "
                                                   "Content-Type: application/octet-stream)") from None
        try:
            tx = self.mempool.add(data)   # ~50 µs, on the loop: a thread hop per submission cost as much
            if self.replication is not None:
                try:
                    await self.replication.publish_tx(data, tx.txid)
                except LedgerError:   # not acknowledged: not kept, so a retry is admitted again
                    self.mempool.remove([tx.txid])
                    raise
        except LedgerError as error:
            self.metrics.submitted(error.code)
            raise
        self.metrics.submitted(None)
        return 202, _json({"txid": tx.txid.hex(), "status": "pending"}), "application/json"

    def _metrics_text(self) -> str:
        return self.metrics.render(self.ledger.height, len(self.mempool), self.mempool.size_bytes)


async def _read_body(receive, limit: int) -> bytes:
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise HttpError(400, BAD_REQUEST, "the client went away")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise HttpError(413, BODY_TOO_LARGE, f"a transaction body is at most {limit} bytes")
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def _height_path(text: str) -> int:
    if not (text.isascii() and text.isdigit()):
        raise HttpError(400, BAD_REQUEST, f"{text!r} is not a height")
    height = int(text)
    if height > 2**64 - 1:
        raise HttpError(400, BAD_REQUEST, "a height is at most 2**64 - 1")
    return height


def _block_reference(reference: str) -> int | bytes:
    if reference.isascii() and reference.isdigit():
        return _height_path(reference)
    return _hex_path(reference, 32, "a block hash")


def _txids_json(block) -> dict:
    return {"height": block.height, "hash": block.hash.hex(), "txids": [tx.txid.hex() for tx in block.transactions]}


def _found(value, message: str):
    if value is None:
        raise LedgerError(NOT_FOUND, message)
    return value


def _json(data: object) -> bytes:
    # Compact: with `indent` the json module encodes in Python, not C (a block of 50 transfers:
    # 0.46 ms against 0.17 ms); the shapes are the CLI's, the whitespace is not.
    return json.dumps(data, separators=(",", ":")).encode() + b"\n"


def _error_json(code: str, message: str) -> bytes:
    return _json({"code": code, "height": None, "index": None, "message": message})
