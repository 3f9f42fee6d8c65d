"""The cluster harness itself (tools/cluster.py, tools/loadgen.py), with real processes: a 3-server
NATS JetStream cluster keeps an R3 stream writable after one server is killed, the proxy cuts and
restores TCP, and a node started by the harness takes the load generator's transactions.

Specification: issue 10 (fault tests with real processes); the stream's behaviour is NATS JetStream's
(an R3 stream acknowledges a publish once a quorum of 2 replicas stored it). Every wait is a bounded
poll; every process is killed by the harness even when an assertion fails."""
from __future__ import annotations

import asyncio
import socket
import threading
import time

import pytest

from tools.cluster import Cluster, NatsCluster, Proxy
from tools.loadgen import presign, run_load

pytestmark = pytest.mark.cluster
DEADLINE_SECONDS = 60


async def _publish_until_acked(js, subject: str, payload: bytes, deadline: float):
    """Publish until a JetStream ack comes (the stream may be electing a new leader meanwhile)."""
    import nats.errors
    import nats.js.errors

    while True:
        try:
            return await js.publish(subject, payload, timeout=2)
        except (nats.errors.TimeoutError, nats.errors.NoRespondersError, nats.js.errors.NoStreamResponseError,
                nats.js.errors.APIError):
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.2)


def test_r3_stream_takes_publishes_after_a_server_is_killed(tmp_path):
    import nats
    from nats.js.api import StorageType, StreamConfig

    with NatsCluster(tmp_path, size=3) as cluster:
        # the durable setting this harness exists for: fsync before every acknowledgement
        assert all(cluster.jsz(i)["config"]["sync_always"] for i in range(3))

        async def scenario():
            deadline = time.monotonic() + DEADLINE_SECONDS
            client = await nats.connect(servers=cluster.urls, max_reconnect_attempts=-1, reconnect_time_wait=0.2)
            try:
                js = client.jetstream()
                await js.add_stream(StreamConfig(name="HARNESS", subjects=["harness.>"], num_replicas=3,
                                                 storage=StorageType.FILE))
                first = await _publish_until_acked(js, "harness.a", b"one", deadline)
                info = await js.stream_info("HARNESS")
                assert info.config.num_replicas == 3 and len(info.cluster.replicas) == 2
                leader = info.cluster.leader   # kill the stream's leader: the harder case
                cluster.kill(int(leader.removeprefix("nats-")))
                second = await _publish_until_acked(js, "harness.a", b"two", deadline)
                info = await js.stream_info("HARNESS")
                return first.seq, second.seq, info.state.messages, info.cluster.leader, leader
            finally:
                await client.close()

        first, second, messages, new_leader, old_leader = asyncio.run(scenario())
        assert (first, second, messages) == (1, 2, 2)
        assert new_leader != old_leader
        cluster.start(int(old_leader.removeprefix("nats-")))   # the same data and configuration: it rejoins
        assert cluster.alive(int(old_leader.removeprefix("nats-")))


def _echo_server() -> tuple[socket.socket, int]:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)

    def serve(connection):
        with connection:
            while data := connection.recv(4096):
                connection.sendall(data)

    def accept():
        while True:
            try:
                connection, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=serve, args=(connection,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    return listener, listener.getsockname()[1]


def _echo(port: int, payload: bytes) -> bytes:
    """What the echo server sends back through the proxy; b"" when the connection is cut or reset."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            sock.sendall(payload)
            return sock.recv(4096)
    except OSError:
        return b""


def test_proxy_partitions_and_heals():
    listener, port = _echo_server()
    proxy = Proxy("127.0.0.1", port)
    try:
        assert _echo(proxy.port, b"before") == b"before"
        held = socket.create_connection(("127.0.0.1", proxy.port), timeout=5)
        held.sendall(b"held")
        assert held.recv(4096) == b"held"
        proxy.partition()
        try:   # the live connection is cut
            held.sendall(b"after the cut")
            cut = held.recv(4096)
        except OSError:
            cut = b""
        assert cut == b""
        held.close()
        assert _echo(proxy.port, b"during") == b""   # new connections are refused
        assert proxy.refused >= 1
        proxy.heal()
        assert _echo(proxy.port, b"healed") == b"healed"
    finally:
        proxy.close()
        listener.close()


def test_single_node_takes_the_load_and_restarts(tmp_path):
    # single-node mode (no [nats] table): the node process, its store and the load generator
    with Cluster(tmp_path, nodes=1, replicated=False, senders=8,
                 blocks={"max_transactions": 100, "batch_timeout_ms": 20}) as cluster:
        node = cluster.nodes[0]
        items = presign(cluster.senders, cluster.chain_id, 200, cluster.sink.public_key)
        result = run_load(cluster.urls, items, rate=200, threads=2, grace=DEADLINE_SECONDS)
        assert (result.accepted, result.committed, result.dropped, result.duplicates) == (200, 200, 0, 0)
        assert 0 < result.latency["p50"] <= result.latency["p99"] <= result.latency["max"]
        tip = cluster.wait_same_tip(DEADLINE_SECONDS)
        assert tip["tx_count"] == 200
        assert node.get(f"/account/{cluster.sink.public_key.hex()}")["balance"] == 200
        # the same transaction again: refused, not admitted twice
        status, body = node.post_tx(items[0].data)
        assert status == 409 and body["code"] == "duplicate-tx"
        node.kill()
        assert not node.alive()
        node.restart()
        assert node.get("/info")["tip_hash"] == tip["tip_hash"]
        pid = node.pid
    # the context manager killed it
    with pytest.raises(ProcessLookupError):
        import os
        os.kill(pid, 0)


def test_partition_cuts_a_node_off_nats_through_its_proxies(tmp_path):
    # the servers do not advertise each other to clients (no_advertise), so a node behind proxies
    # cannot reconnect around a partition: it stays cut until heal()
    with Cluster(tmp_path, nodes=2, nats=3, senders=4, proxies=True,
                 blocks={"max_transactions": 100, "batch_timeout_ms": 20}) as cluster:
        cut = 1 - cluster.leader(DEADLINE_SECONDS)   # cut off the follower; the proposer goes on
        before = presign(cluster.senders[:2], cluster.chain_id, 20, cluster.sink.public_key)
        assert run_load(cluster.urls, before, rate=100, threads=2, grace=DEADLINE_SECONDS).committed == 20
        cluster.partition(cut)
        deadline = time.monotonic() + DEADLINE_SECONDS
        while cluster.nodes[cut].get("/health")["nats"] == "connected":
            assert time.monotonic() < deadline, "the node still reaches NATS"
            time.sleep(0.1)
        during = presign(cluster.senders[2:], cluster.chain_id, 10, cluster.sink.public_key)
        result = run_load([cluster.nodes[1 - cut].url], during, rate=100, threads=2, grace=DEADLINE_SECONDS)
        assert result.committed == 10
        assert cluster.nodes[cut].get("/info")["tx_count"] == 20   # it saw nothing of them
        assert sum(proxy.refused for proxy in cluster.proxies[cut]) >= 1   # it tried to reconnect
        cluster.heal(cut)
        tip = cluster.wait_same_tip(DEADLINE_SECONDS)
        assert tip["tx_count"] == 30
