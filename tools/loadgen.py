"""A load generator for ledger nodes: pre-signed transfers offered at a fixed rate over HTTP, and
watchers that time when each one is committed on every node.

Specification: issue 10's benchmark ("end-to-end accepted tx/s and p50/p99 latency, submit →
committed on every node") and the node's HTTP API (README "Running a node": POST /tx, GET /info,
GET /block/{height}).

Open loop: transaction k is due at start + k / rate whatever the answers before it, so a slow node
shows as latency and a lagging generator as a sent rate below the offered one (both are reported).
Each sender's transactions carry consecutive nonces; many senders, taken in turn, keep each one
inside the mempool's nonce window. A transfer refused on submission leaves a gap in its sender's
nonces: that sender's later accepted transactions can never commit, and are counted as `stranded`,
not as dropped.
"""
from __future__ import annotations

import http.client
import json
import socket
import threading
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from ledger import Keypair, Transfer, encode_transaction, sign_transaction

WATCH_POLL_SECONDS = 0.02     # a commit is seen at most this late (plus one request)
THREADS_DEFAULT = 16
HTTP_TIMEOUT_SECONDS = 10
CONNECTION_ERROR = "connection-error"


@dataclass(frozen=True)
class Item:
    """One pre-signed transaction."""
    txid: str            # hex
    data: bytes          # its canonical encoding
    sender: int          # index in the senders list
    nonce: int


def presign(senders: list[Keypair], chain_id: bytes, count: int, to: bytes, first_nonces: list[int] | None = None,
            amount: int = 1) -> list[Item]:
    """`count` transfers of `amount` to `to`, sender k % len(senders) in turn, each sender's nonces
    consecutive from first_nonces[s] (default 1)."""
    nonces = list(first_nonces) if first_nonces is not None else [1] * len(senders)
    items = []
    for k in range(count):
        s = k % len(senders)
        tx = sign_transaction(senders[s], chain_id, nonces[s], Transfer(to, amount))
        data = encode_transaction(tx)
        items.append(Item(tx.txid.hex(), data, s, nonces[s]))
        nonces[s] += 1
    return items


def _percentile(values: list[float], fraction: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]   # nearest rank, rounded down


@dataclass
class Result:
    offered: int                  # transactions offered
    offered_rate: float           # the target rate, tx/s
    sent_rate: float              # the rate actually offered (the generator can lag)
    accepted: int                 # answered 202
    refused: dict[str, int]       # by code (connection-error: no answer)
    committed: int                # accepted and seen in a block on every watched node
    stranded: int                 # accepted after a refused transaction of the same sender
    dropped: int                  # accepted, not stranded, not committed everywhere within the grace
    duplicates: int               # a txid seen twice in one node's chain
    end_to_end_rate: float        # committed / (last commit seen - first submission)
    accepted_rate: float          # accepted / the sending period
    latency: dict[str, float | None]   # seconds, submit -> committed on every watched node: p50 p90 p99 max
    ack_latency: dict[str, float | None]   # seconds, submit -> the 202 answer (the durable publish): p50 p99 max
    seconds: float                # first submission to the last commit seen (or the grace's end)
    blocks: int = 0               # blocks committed meanwhile (as the first watched node saw them)
    dropped_txids: list[str] = field(default_factory=list)

    def summary(self) -> str:
        lat = self.latency

        def ms(value: float | None) -> str:
            return "-" if value is None else f"{value * 1000:,.0f}"

        refused = ", ".join(f"{code} {count}" for code, count in sorted(self.refused.items())) or "none"
        return (f"offered {self.offered} at {self.offered_rate:,.0f} tx/s (sent at {self.sent_rate:,.0f} tx/s); "
                f"accepted {self.accepted} ({self.accepted_rate:,.0f} tx/s); refused: {refused}\n"
                f"committed on every node {self.committed}, end-to-end {self.end_to_end_rate:,.0f} tx/s; "
                f"dropped {self.dropped}, stranded {self.stranded}, duplicates {self.duplicates}; "
                f"{self.blocks} blocks\n"
                f"latency submit -> committed everywhere (ms): p50 {ms(lat['p50'])}  p90 {ms(lat['p90'])}  "
                f"p99 {ms(lat['p99'])}  max {ms(lat['max'])}; submit -> 202: p50 {ms(self.ack_latency['p50'])}  "
                f"p99 {ms(self.ack_latency['p99'])}")

    def to_json(self) -> dict:
        data = dict(self.__dict__)
        data.pop("dropped_txids")
        return data


class _Client:
    """One keep-alive HTTP connection to a node, reopened after an error, and before a request once
    it has been idle for IDLE_SECONDS_MAX (the server may have closed it meanwhile: uvicorn does after
    5 s, and a POST that meets a closed connection is not repeated)."""

    IDLE_SECONDS_MAX = 2.0

    def __init__(self, url: str):
        parts = urlsplit(url)
        self.host, self.port = parts.hostname, parts.port
        self.connection: http.client.HTTPConnection | None = None
        self.used = 0.0

    def request(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None
                ) -> tuple[int, bytes]:
        if self.connection is not None and time.monotonic() - self.used > self.IDLE_SECONDS_MAX:
            self.close()
        for attempt in range(2):   # a keep-alive connection the server closed fails once, harmlessly
            self.used = time.monotonic()
            if self.connection is None:
                self.connection = http.client.HTTPConnection(self.host, self.port, timeout=HTTP_TIMEOUT_SECONDS)
                self.connection.connect()   # headers and body go in two writes: no 40 ms delayed ACK
                self.connection.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            try:
                self.connection.request(method, path, body, headers or {})
                response = self.connection.getresponse()
                return response.status, response.read()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                self.close()
                if attempt == 1 or method == "POST":
                    raise   # a POST is not repeated: it may have been admitted
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self.connection is not None:
            self.connection.close()
            self.connection = None


class Watcher(threading.Thread):
    """Follows one node's chain from `start_height`: /info, then /block/{h} for each new height,
    timestamping every txid when first seen."""

    def __init__(self, url: str, start_height: int | None = None):
        super().__init__(name=f"watch {url}", daemon=True)
        self.url = url
        self.client = _Client(url)
        self.height = start_height
        self.seen: dict[str, float] = {}
        self.duplicates = 0
        self.blocks = 0           # blocks read (after the start height)
        self.errors = 0
        self.stopping = threading.Event()

    def _get(self, path: str) -> dict:
        status, body = self.client.request("GET", path)
        if status != 200:
            raise OSError(f"GET {path}: HTTP {status}")
        return json.loads(body)

    def poll(self) -> None:
        height = self._get("/info")["height"]
        if self.height is None:
            self.height = height
        while self.height < height:
            block = self._get(f"/block/{self.height + 1}")
            now = time.monotonic()
            for tx in block["transactions"]:
                if tx["txid"] in self.seen:
                    self.duplicates += 1
                else:
                    self.seen[tx["txid"]] = now
            self.height += 1
            self.blocks += 1

    def run(self) -> None:
        while not self.stopping.is_set():
            try:
                self.poll()
            except (OSError, ValueError, KeyError, http.client.HTTPException):
                self.errors += 1   # the node is down or restarting: try again
                self.client.close()
            self.stopping.wait(WATCH_POLL_SECONDS)

    def stop(self) -> None:
        self.stopping.set()
        self.join(30)
        self.client.close()


def start_watchers(urls: list[str]) -> list[Watcher]:
    """One started watcher per node, each from the node's current height (read now, or on the first
    answer of a node that is down)."""
    watchers = []
    for url in urls:
        watcher = Watcher(url)
        try:
            watcher.poll()   # fixes the start height before any load
        except (OSError, ValueError, KeyError, http.client.HTTPException):
            watcher.client.close()
        watcher.start()
        watchers.append(watcher)
    return watchers


def run_load(urls: list[str], items: list[Item], rate: float, threads: int = THREADS_DEFAULT,
             grace: float = 30.0, watch_urls: list[str] | None = None,
             watchers: list[Watcher] | None = None, on_progress=None) -> Result:
    """Offer `items` round-robin across `urls` at `rate` tx/s from `threads` threads, then wait up to
    `grace` seconds after the last submission for every accepted one to be committed on every node of
    `watch_urls` (default: `urls`). `watchers` already running may be passed (and are stopped here).
    A node that is down answers nothing (refused as connection-error); leave a node that stays down
    out of `watch_urls`, else everything counts as dropped."""
    assert rate > 0 and threads >= 1 and items
    watchers = watchers if watchers is not None else start_watchers(watch_urls or urls)
    count = len(items)
    submitted = [0.0] * count
    answered = [0.0] * count
    status_of: list[str | None] = [None] * count     # "accepted" or the refusal code
    started = time.monotonic() + 0.05

    def worker(t: int) -> None:
        clients = [_Client(url) for url in urls]
        try:
            for k in range(t, count, threads):
                due = started + k / rate
                delay = due - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                client = clients[k % len(urls)]
                submitted[k] = time.monotonic()
                try:
                    status, body = client.request("POST", "/tx", items[k].data,
                                                  {"Content-Type": "application/octet-stream"})
                    answered[k] = time.monotonic()
                except (OSError, http.client.HTTPException):
                    client.close()
                    status_of[k] = CONNECTION_ERROR
                    continue
                if status == 202:
                    status_of[k] = "accepted"
                else:
                    try:
                        status_of[k] = str(json.loads(body).get("code", f"http-{status}"))
                    except (ValueError, AttributeError):
                        status_of[k] = f"http-{status}"
        finally:
            for client in clients:
                client.close()

    pool = [threading.Thread(target=worker, args=(t,), name=f"load {t}", daemon=True) for t in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    last_submitted = max(submitted)
    sending_seconds = max(last_submitted - started, 1e-9)

    # stranded: accepted after a refusal of the same sender (its nonce gap can never be filled)
    gapped: set[int] = set()
    stranded: set[int] = set()
    for k in sorted(range(count), key=lambda k: (items[k].sender, items[k].nonce)):
        if status_of[k] != "accepted":
            gapped.add(items[k].sender)
        elif items[k].sender in gapped:
            stranded.add(k)
    expected = [k for k in range(count) if status_of[k] == "accepted" and k not in stranded]

    def committed_everywhere(k: int) -> bool:
        return all(items[k].txid in watcher.seen for watcher in watchers)

    deadline = last_submitted + grace
    while time.monotonic() < deadline and not all(committed_everywhere(k) for k in expected):
        if on_progress is not None:
            on_progress(sum(committed_everywhere(k) for k in expected), len(expected))
        time.sleep(0.1)
    for watcher in watchers:
        watcher.stop()

    latencies, last_commit, dropped = [], started, []
    for k in expected:
        times = [watcher.seen.get(items[k].txid) for watcher in watchers]
        if all(seen is not None for seen in times):
            latencies.append(max(times) - submitted[k])
            last_commit = max(last_commit, max(times))
        else:
            dropped.append(items[k].txid)
    refused: dict[str, int] = {}
    for code in status_of:
        if code != "accepted":
            refused[code or "not-sent"] = refused.get(code or "not-sent", 0) + 1
    accepted = sum(code == "accepted" for code in status_of)
    first = min(submitted)
    span = max(last_commit - first, 1e-9)
    acks = [answered[k] - submitted[k] for k in range(count) if status_of[k] == "accepted"]
    return Result(
        offered=count, offered_rate=rate, sent_rate=count / max(last_submitted - first, 1e-9) if count > 1 else rate,
        accepted=accepted, refused=refused, committed=len(latencies), stranded=len(stranded), dropped=len(dropped),
        duplicates=sum(watcher.duplicates for watcher in watchers),
        end_to_end_rate=len(latencies) / span if latencies else 0.0, accepted_rate=accepted / sending_seconds,
        latency={"p50": _percentile(latencies, 0.50), "p90": _percentile(latencies, 0.90),
                 "p99": _percentile(latencies, 0.99), "max": max(latencies) if latencies else None},
        ack_latency={"p50": _percentile(acks, 0.50), "p99": _percentile(acks, 0.99), "max": max(acks, default=None)},
        seconds=span, blocks=watchers[0].blocks if watchers else 0, dropped_txids=dropped)
