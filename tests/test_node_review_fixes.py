"""Tests of the review fixes to ledger.node.replication, lease and proposer (commit 0057060).

Specification: README.md, "Running several nodes"; NATS JetStream (a stream's max_age ages its
first messages out, and a consumer asked to start at a sequence that is gone starts at the first
one held; the key-value store's update at a named revision). What is pinned down: the stream
reader takes only consecutive messages (a gap inside one delivery is read again, never skipped),
skips transactions aged out of the stream once instead of making consumers in a loop, and does not
spin on a block stream that lost messages; a full mempool holds the transaction reader back
instead of skipping gossip; a lost acknowledgement of a transaction this node read back from the
stream counts as acknowledged; the lease adopts its own write whose answer was lost, and a holder
told its blocks are failing gives the lease up and sits out two TTLs; the proposer says it is
unhealthy once due blocks have failed for the given time. Waits poll with a generous deadline.
"""
from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import time
from types import SimpleNamespace

import pytest

from ledger import Keypair, LedgerError, decode_transaction
from ledger.node import lease as lease_module
from ledger.node import replication as replication_module
from ledger.node.applier import Applier
from ledger.node.config import BlockCutting, NatsSettings
from ledger.node.lease import KEY, Lease
from ledger.node.mempool import Mempool
from ledger.node.proposer import LocalSink, Proposer
from ledger.node.replication import FENCED, REPLICATION_UNAVAILABLE, Replication, names
from node_fixtures import make_chain
from test_node_replication import WAIT_S, cluster, js_call, nats_url, wait_for  # noqa: F401 (fixtures)


@pytest.fixture
def chain(tmp_path):
    chain = make_chain(tmp_path / "db")
    yield chain
    chain.book.close()


def _unused_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"nats://127.0.0.1:{probe.getsockname()[1]}"


@pytest.fixture
def idle_replication(chain, tmp_path):
    """A Replication whose event loop runs but which never connects (no NATS needed)."""
    def make(mempool: Mempool) -> Replication:
        applier = Applier(chain.book, mempool, names(chain.book.chain_id).blocks_stream, os.fspath(tmp_path / "db"))
        rep = Replication(NatsSettings((_unused_url(),), replicas=1), chain.book, mempool, applier, None, "idle")
        rep._thread.start()   # the loop only: publish_tx runs there
        made.append(rep)
        return rep
    made: list[Replication] = []
    yield make
    for rep in made:
        rep.stop()
        rep._loop.close()


# ---------------------------------------------------------------- the stream reader

class Reader:
    """Runs `rep._read` on its own stream on the Replication's loop, recording what it is handed,
    the skips it asks for and the consumers it makes."""

    def __init__(self, rep: Replication, stream: str, subject: str, with_skip: bool, caught_up=lambda flag: None):
        self.rep, self.stream = rep, stream
        self.position = 0
        self.handled: list[tuple[int, bytes]] = []
        self.skips: list[int] = []
        self.subscribes = 0
        real = rep._js.pull_subscribe

        async def counting(*args, **kwargs):
            if kwargs.get("stream") == stream:
                self.subscribes += 1
                return await self.subscribe(real, *args, **kwargs)
            return await real(*args, **kwargs)
        rep._js.pull_subscribe = counting   # the instance's attribute; the node's own readers pass through

        async def handle(batch):
            for sequence, data in batch:
                self.handled.append((sequence, bytes(data)))
                self.position = sequence

        def skip_to(first):
            self.skips.append(first)
            self.position = first - 1

        kwargs = {"skip_to": skip_to} if with_skip else {}

        async def start():
            return asyncio.ensure_future(rep._read(stream, subject, lambda: self.position + 1, handle, caught_up,
                                                   **kwargs))
        self.task = asyncio.run_coroutine_threadsafe(start(), rep._loop).result(WAIT_S)

    async def subscribe(self, real, *args, **kwargs):
        return await real(*args, **kwargs)

    def stop(self) -> None:
        async def cancel():
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)
        asyncio.run_coroutine_threadsafe(cancel(), self.rep._loop).result(WAIT_S)
        del self.rep._js.pull_subscribe

    def consumers(self, url: str) -> int:
        return js_call(url, lambda js: js.stream_info(self.stream)).state.consumer_count


@pytest.fixture
def own_stream(cluster):
    """A stream of the test's own, deleted afterwards: `make(max_age) -> (stream, subject)`."""
    from nats.js.api import StreamConfig

    made = []

    def make(max_age: float | None = None):
        stream = f"REVIEW_{os.getpid()}_{time.monotonic_ns()}"
        subject = f"review.{stream.lower()}"
        config = StreamConfig(name=stream, subjects=[subject], max_age=max_age,
                              duplicate_window=max_age if max_age else None)
        js_call(cluster.url, lambda js: js.add_stream(config))
        made.append(stream)
        return stream, subject, config

    yield make

    async def delete(js):
        for stream in made:
            await js.delete_stream(stream)
    js_call(cluster.url, delete)


def _publish(url: str, subject: str, *payloads: bytes) -> list[int]:
    async def work(js):
        return [(await js.publish(subject, payload)).seq for payload in payloads]
    return js_call(url, work)


def _age_out_first_three(url: str, stream: str, subject: str, config) -> None:
    """Messages 1..3 published and aged out by the stream's max_age; then the stream keeps what
    follows (a longer max_age) and holds messages 4 and 5."""
    assert _publish(url, subject, b"m1", b"m2", b"m3") == [1, 2, 3]
    wait_for(lambda: js_call(url, lambda js: js.stream_info(stream)).state.messages == 0,
             "messages 1..3 to age out")
    config.max_age = 3600.0
    js_call(url, lambda js: js.update_stream(config))
    assert _publish(url, subject, b"m4", b"m5") == [4, 5]
    assert js_call(url, lambda js: js.stream_info(stream)).state.first_seq == 4


@pytest.mark.cluster
def test_transactions_aged_out_are_skipped_once_not_spun_on(cluster, own_stream):
    node = cluster("a")
    stream, subject, config = own_stream(max_age=1.0)
    _age_out_first_three(cluster.url, stream, subject, config)
    reader = Reader(node.replication, stream, subject, with_skip=True)
    try:
        wait_for(lambda: len(reader.handled) >= 2, "messages 4 and 5 handled")
        time.sleep(1.5)   # a window in which a spinning reader makes hundreds of consumers
        assert reader.skips == [4]
        assert reader.handled == [(4, b"m4"), (5, b"m5")]
        assert reader.subscribes <= 4, reader.subscribes
    finally:
        reader.stop()
    assert reader.consumers(cluster.url) <= 4


@pytest.mark.cluster
def test_a_block_stream_missing_its_first_messages_is_not_spun_on(cluster, own_stream):
    """No skip_to (the block stream: a lost block cannot be skipped): the reader waits and says
    so, taking nothing, and makes a consumer about once a second, not hundreds."""
    node = cluster("a")
    stream, subject, config = own_stream(max_age=1.0)
    _age_out_first_three(cluster.url, stream, subject, config)
    reader = Reader(node.replication, stream, subject, with_skip=False)
    try:
        wait_for(lambda: reader.subscribes >= 1, "the first consumer")
        time.sleep(2.0)
        assert reader.handled == [] and reader.skips == []
        assert 1 <= reader.subscribes <= 5, reader.subscribes
    finally:
        reader.stop()
    assert reader.consumers(cluster.url) <= 5


def _message(sequence: int, data: bytes, pending: int) -> SimpleNamespace:
    return SimpleNamespace(metadata=SimpleNamespace(sequence=SimpleNamespace(stream=sequence), num_pending=pending),
                           data=data)


class _GappedOnce:
    """A pull subscription whose first fetch delivers stream messages 1, 2 and 4 (3 lost, as
    across a reconnect); later fetches, and every later subscription, are the real ones."""

    def __init__(self, real):
        self.real, self.first = real, True

    async def fetch(self, *args, **kwargs):
        if self.first:
            self.first = False
            return [_message(1, b"m1", 3), _message(2, b"m2", 2), _message(4, b"m4", 0)]
        return await self.real.fetch(*args, **kwargs)

    async def unsubscribe(self):
        await self.real.unsubscribe()


@pytest.mark.cluster
def test_a_gap_inside_one_delivery_is_read_again_not_skipped(cluster, own_stream):
    node = cluster("a")
    stream, subject, _ = own_stream()
    assert _publish(cluster.url, subject, b"m1", b"m2", b"m3", b"m4") == [1, 2, 3, 4]
    gapped = []

    class GappedReader(Reader):
        async def subscribe(self, real, *args, **kwargs):
            subscription = await real(*args, **kwargs)
            if not gapped:
                gapped.append(subscription)
                return _GappedOnce(subscription)
            return subscription

    reader = GappedReader(node.replication, stream, subject, with_skip=False)
    try:
        # four handled, or message 4 handed on before 3 (then no more come)
        wait_for(lambda: len(reader.handled) >= 4 or (len(reader.handled) == 3 and reader.handled[2][0] != 3),
                 "four messages handled")
        assert reader.handled == [(1, b"m1"), (2, b"m2"), (3, b"m3"), (4, b"m4")], reader.handled
        assert reader.subscribes == 2   # the gapped one, then one from message 3
    finally:
        reader.stop()


@pytest.mark.cluster
def test_a_consumer_that_cannot_be_made_is_no_sign_of_being_caught_up(cluster, own_stream):
    """pull_subscribe timing out (no JetStream leader yet) must not tell caught_up(True): a node
    that believes it is caught up competes for the lease while far behind."""
    from nats.errors import TimeoutError as NatsTimeout

    node = cluster("a")
    stream, subject, _ = own_stream()
    flags = []

    class Unready(Reader):
        async def subscribe(self, real, *args, **kwargs):
            await asyncio.sleep(0.01)   # the request's wait (so a reader that retries at once does not block the loop)
            raise NatsTimeout

    reader = Unready(node.replication, stream, subject, with_skip=False, caught_up=flags.append)
    try:
        wait_for(lambda: reader.subscribes >= 2, "two attempts at a consumer")
    finally:
        reader.stop()
    assert True not in flags, flags[:5]


# ---------------------------------------------------------------- stop and the applier

def test_stop_lets_a_block_being_taken_commit_and_takes_no_more(chain, idle_replication, monkeypatch):
    """Replication.stop closes the applier: a message being taken (on a worker thread) is
    committed before stop returns, and none is taken after (the store is about to close)."""
    import threading

    from ledger import encode_block

    rep = idle_replication(Mempool(chain.book, 100, 16))
    builder = chain.book.builder(chain.validator)
    builder.add(decode_transaction(chain.transfer(chain.alice, 1, 1)))
    first = builder.build()
    inside, release = threading.Event(), threading.Event()
    real_append = chain.book.append

    def slow_append(data):
        inside.set()
        assert release.wait(WAIT_S)
        return real_append(data)
    monkeypatch.setattr(chain.book, "append", slow_append)
    taking = threading.Thread(target=rep.applier.take, args=(1, encode_block(first)))
    taking.start()
    assert inside.wait(WAIT_S)
    stopping = threading.Thread(target=rep.stop)
    stopping.start()
    release.set()
    taking.join(WAIT_S)
    stopping.join(WAIT_S)
    assert not stopping.is_alive() and chain.book.height == 1 and rep.applier.position == 1
    monkeypatch.setattr(chain.book, "append", real_append)
    builder = chain.book.builder(chain.validator)
    builder.add(decode_transaction(chain.transfer(chain.alice, 2, 1)))
    assert rep.applier.take(2, encode_block(builder.build())) is None   # closed: not taken
    assert chain.book.height == 1 and rep.applier.position == 1


# ---------------------------------------------------------------- gossip backpressure

def test_a_full_mempool_holds_the_transaction_reader_back(chain, idle_replication):
    mempool = Mempool(chain.book, 2, 16)
    rep = idle_replication(mempool)
    batch = [(10 + i, chain.transfer(chain.alice, i + 1, 1)) for i in range(4)]
    txids = [decode_transaction(data).txid for _, data in batch]
    with pytest.raises(replication_module._Backpressure):
        rep._admit_many(batch)
    assert rep.tx_position == 11 and len(mempool) == 2 and txids[2] not in mempool
    mempool.remove(txids[:2])   # a block took them
    rep._admit_many([(sequence, data) for sequence, data in batch if sequence > rep.tx_position])
    assert rep.tx_position == 13 and all(txid in mempool for txid in txids[2:])


# ---------------------------------------------------------------- a lost acknowledgement

def test_a_lost_ack_of_a_transaction_read_back_counts_as_acknowledged(chain, idle_replication, monkeypatch):
    mempool = Mempool(chain.book, 100, 16)
    rep = idle_replication(mempool)
    data = chain.transfer(chain.alice, 1, 10)
    txid = decode_transaction(data).txid

    async def lost_ack(data_, txid_):   # stored by the stream, but its answer never comes
        deadline = time.monotonic() + WAIT_S
        while not rep._in_flight.get(txid_, [False])[0]:
            if time.monotonic() > deadline:
                raise RuntimeError("the transaction was never read back")
            await asyncio.sleep(0.01)
        raise asyncio.TimeoutError("the acknowledgement was lost")
    monkeypatch.setattr(rep, "_publish_tx", lost_ack)

    async def scenario():
        publishing = asyncio.ensure_future(rep.publish_tx(data, txid))
        deadline = time.monotonic() + WAIT_S
        while txid not in getattr(rep, "_in_flight", {}):
            assert time.monotonic() < deadline and not publishing.done(), "publish_tx did not mark it in flight"
            await asyncio.sleep(0.01)
        await asyncio.to_thread(rep._admit_many, [(1, data)])   # the reader finds it in the stream
        await publishing   # returns: acknowledged
    asyncio.run(scenario())
    assert txid in mempool and rep._in_flight == {}

    # not read back: the lost acknowledgement is an error, and LedgerErrors pass unchanged
    async def no_ack(data_, txid_):
        raise asyncio.TimeoutError("no answer")
    monkeypatch.setattr(rep, "_publish_tx", no_ack)
    other = chain.transfer(chain.alice, 2, 10)
    with pytest.raises(LedgerError) as caught:
        asyncio.run(rep.publish_tx(other, decode_transaction(other).txid))
    assert caught.value.code == REPLICATION_UNAVAILABLE

    async def fenced(data_, txid_):
        raise LedgerError(FENCED, "a LedgerError of the publish itself")
    monkeypatch.setattr(rep, "_publish_tx", fenced)
    with pytest.raises(LedgerError) as caught:
        asyncio.run(rep.publish_tx(other, decode_transaction(other).txid))
    assert caught.value.code == FENCED and rep._in_flight == {}


# ---------------------------------------------------------------- the lease

class FakeMonotonic:
    """The lease module's clock, moved by hand (the bucket's TTL on the server is real time)."""

    def __init__(self):
        self.now = time.monotonic()

    def monotonic(self) -> float:
        return self.now


@pytest.fixture
def leases(nats_url, monkeypatch):
    """Two Lease objects of different validators on a bucket of the test's own; the lease
    module's clock is `leases.clock`; `leases.kv` is the test's own view of the bucket."""
    import nats

    clock = FakeMonotonic()
    monkeypatch.setattr(lease_module, "time", clock)
    settings = NatsSettings((nats_url,), replicas=1, lease_ttl_ms=1000)
    bucket = f"review_lease_{os.getpid()}_{time.monotonic_ns()}"
    loop = asyncio.new_event_loop()
    connections = [loop.run_until_complete(nats.connect(nats_url, connect_timeout=2)) for _ in range(3)]
    made = [Lease(c.jetstream(timeout=5), bucket, settings, Keypair.from_seed(bytes([i + 1]) * 32), f"n{i}")
            for i, c in enumerate(connections[:2])]
    loop.run_until_complete(made[0]._bucket())   # the bucket, made by the first
    view = SimpleNamespace(one=made[0], two=made[1], clock=clock, run=loop.run_until_complete,
                           kv=loop.run_until_complete(connections[2].jetstream(timeout=5).key_value(bucket)))
    try:
        yield view
    finally:
        loop.run_until_complete(connections[2].jetstream(timeout=5).delete_key_value(bucket))
        for connection in connections:
            loop.run_until_complete(connection.close())
        loop.close()


@pytest.mark.cluster
def test_the_lease_adopts_its_own_write_whose_answer_was_lost(leases):
    one, two, run = leases.one, leases.two, leases.run
    assert run(one.step()) and not run(two.step())
    # one's renewal landed on the server but its answer was lost: its revision is stale
    landed = run(leases.kv.update(KEY, one.value, last=one._revision))
    assert landed != one._revision
    assert run(one.step()), "the holder lost the lease to its own write"
    assert one._revision == landed   # adopted
    assert run(one.step()) and one._revision == landed + 1 and not run(two.step())
    assert (run(leases.kv.get(KEY))).value == one.value
    # another's value is not adopted: a stale holder whose key another took loses it
    run(leases.kv.delete(KEY))
    assert run(two.step())
    assert not run(one.step()) and not one.held() and one._revision is None
    assert run(two.step())


@pytest.mark.cluster
def test_a_failing_holder_gives_the_lease_up_and_sits_out_two_ttls(leases):
    one, two, run, clock = leases.one, leases.two, leases.run, leases.clock
    assert run(one.step()) and run(one.step(may_hold=True))
    gave_up = clock.now
    assert not run(one.step(may_take=True, may_hold=False))   # its blocks have been failing for a TTL
    assert not one.held()
    assert run(two.step()), "the lease was not handed over at once"
    run(two.release())   # free again
    for elapsed in (0.0, 1.0, 1.99):   # inside the sit-out (two TTLs), the free lease is not taken
        clock.now = gave_up + elapsed * one.ttl
        assert not run(one.step(may_take=True)), elapsed
    clock.now = gave_up + 2.01 * one.ttl
    assert run(one.step(may_take=True))


# ---------------------------------------------------------------- the proposer's health

class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class FlakySink(LocalSink):
    """The node's own store, except that while `failing` each block is fenced, and while `lost`
    each is submitted but never settles."""

    def __init__(self, ledger):
        super().__init__(ledger)
        self.failing = True
        self.lost = False

    def submit(self, block):
        if self.failing:
            raise LedgerError(FENCED, "the block stream has moved on")
        return block if self.lost else super().submit(block)

    def settle(self, receipt):
        return None if self.lost else super().settle(receipt)


def test_the_proposer_is_unhealthy_after_due_blocks_fail_for_the_ttl(chain):
    clock = Clock()
    mempool = Mempool(chain.book, 1000, 16, clock=clock)
    sink = FlakySink(chain.book)
    proposer = Proposer(chain.book, mempool, chain.validator, BlockCutting(1, 10**6, 500), sink=sink, clock=clock)
    ttl = 1.0
    assert proposer.healthy(ttl)
    mempool.add(chain.transfer(chain.alice, 1, 1))
    for _ in range(3):   # failing, for less than the TTL
        with pytest.raises(LedgerError):
            proposer.step()
        assert proposer.healthy(ttl)
        clock.now += 0.25
    clock.now += 0.25   # a TTL since the first failure
    assert not proposer.healthy(ttl)
    with pytest.raises(LedgerError):
        proposer.step()
    assert not proposer.healthy(ttl)
    sink.failing = False   # a block lands: healthy again at once
    assert proposer.step() is not None and proposer.healthy(ttl)

    # blocks that never settle count as failing too; nothing due ends it
    sink.lost = True
    mempool.add(chain.transfer(chain.alice, 2, 1))
    assert proposer.step() is None
    clock.now += ttl
    assert proposer.step() is None and not proposer.healthy(ttl)
    mempool.remove([decode_transaction(chain.transfer(chain.alice, 2, 1)).txid])
    assert proposer.step() is None and proposer.healthy(ttl)   # nothing due
    clock.now += 10 * ttl
    assert proposer.healthy(ttl)


def test_failures_before_the_lease_was_given_up_do_not_count_after_it_is_taken_again(chain):
    """Through the proposer's thread: blocks fail for a TTL (the lease is given up); another node
    leads for a long time; this node takes the lease again and its first block is fenced (its
    applier had not yet taken the other's last block, as after any failover). One failure is not
    a TTL of failures: it must still count as healthy."""
    clock = Clock()
    mempool = Mempool(chain.book, 1000, 16, clock=clock)
    sink = FlakySink(chain.book)
    submits = []
    real_submit = sink.submit

    def counting(block):
        submits.append(clock.now)
        return real_submit(block)
    sink.submit = counting
    leading = [True]
    proposer = Proposer(chain.book, mempool, chain.validator, BlockCutting(1, 10**6, 500), sink=sink, clock=clock,
                        may_propose=lambda: leading[0])
    ttl = 1.0
    mempool.add(chain.transfer(chain.alice, 1, 1))
    proposer.start()
    try:
        wait_for(lambda: len(submits) >= 1, "a first fenced block")
        clock.now += ttl
        assert not proposer.healthy(ttl)   # failing for a TTL: the lease is given up
        leading[0] = False
        seen = len(submits)
        clock.now += 3600   # another node leads for an hour
        time.sleep(0.2)     # the thread idles, not proposing
        assert len(submits) == seen
        leading[0] = True   # taken again; the first block is fenced
        wait_for(lambda: len(submits) > seen, "a block after the lease was taken again")
        leading[0] = False
        assert proposer.healthy(ttl), "judged on failures from before the lease was given up"
    finally:
        proposer.stop(WAIT_S)
