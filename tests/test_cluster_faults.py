"""Faults of a replicated chain, with real processes: 3 NATS JetStream servers and 3 `ledger node`
processes, each node with its own validator key (tools/cluster.py), under a steady load of transfers.

Specification: issue 10, "Fault tests"; README.md, "Running several nodes" (what each fault must
do): kill -9 the proposer (another takes the lease, no fork, no acknowledged transaction lost);
kill one of the 3 NATS servers (progress continues); kill and restart a follower (it catches up to
the same tip and state); cut a node off from NATS and heal it (503 replication-unavailable while
cut off, the others go on, it catches up); one transaction sent to two nodes (it lands once); a
proposer publishing an invalid block (every node refuses it with the same code, the chain goes on
from the next valid block at that height); and two proposers at once (the lease key deleted under its
holder): the expected-sequence fence keeps every block built on a stale position out of the stream.

What every test checks at its end (`converge`): the nodes report one height, tip hash and state
root; every node holds the same block hash at every height (no fork); no txid appears twice; every
transaction a node answered 202 for is in the chain; and (but for the malicious proposer) no node
refused a block-stream message, since the fence keeps every stale block out of the stream.

Timing: every wait is a poll with a deadline of tens of seconds (a shared 2-core machine is slow
now and then); nothing asserts how long anything took. Every process is killed by the Cluster's
context manager (the `cluster` fixture) whatever happens."""
from __future__ import annotations

import asyncio
import collections
import threading
import time

import pytest

from ledger import Block, Ledger, LedgerError, Transfer, encode_block, encode_transaction, sign_transaction
from ledger.builder import sign_header
from ledger.errors import BAD_STATE_ROOT, DUPLICATE_TX
from ledger.node.replication import REPLICATION_UNAVAILABLE, names
from tools.cluster import Cluster, NodeError, http_json

pytestmark = pytest.mark.cluster

DEADLINE = 60            # seconds: any one wait for the cluster to do something
LOAD_RATE = 60           # transactions a second offered, round-robin over the nodes
LOAD_SENDERS = 24        # senders the load uses; the rest are for probes of single transactions
SENDERS = 32
PROGRESS_BLOCKS = 3      # blocks that must be committed after a fault for "progress continues"


# ------------------------------------------------------------------ the cluster and its load

@pytest.fixture
def cluster(tmp_path):
    with Cluster(tmp_path, nodes=3, nats=3, senders=SENDERS, blocks={"batch_timeout_ms": 100}) as running:
        print(f"cluster folder: {tmp_path}")
        try:
            wait_ready(running)
            yield running
        finally:   # shown by pytest only when the test failed
            for node in running.nodes:
                print(f"--- {node.name} ({'alive' if node.alive() else 'dead'}), {node.log_path}:\n{node.log(25)}")


def poll(what: str, check, timeout: float = DEADLINE, interval: float = 0.1):
    """check() until it returns something other than None or False (an HTTP error counts as not
    yet); that value."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        try:
            value = check()
            if value is not None and value is not False:
                return value
            last = value
        except (OSError, NodeError) as error:
            last = error
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s: {what} (last: {last!r})")
        time.sleep(interval)


def health(node) -> dict:
    return node.get("/health", timeout=5)


def wait_ready(cluster: Cluster) -> None:
    """Every node connected to NATS and one of them holding the proposer lease."""
    poll("every node connected to NATS", lambda: all(health(node)["nats"] == "connected" for node in cluster.nodes))
    leader_of(cluster)


def leader_of(cluster: Cluster, among: list[int] | None = None, timeout: float = DEADLINE) -> int:
    """The index of the node whose /health says it holds the lease (only one may say so)."""
    among = list(range(len(cluster.nodes))) if among is None else among

    def find():
        leaders = [i for i in among if health(cluster.nodes[i])["leader"]]
        return leaders[0] if len(leaders) == 1 else None

    return poll(f"one leader among nodes {among}", find, timeout)


def height(node) -> int:
    return node.get("/info", timeout=5)["height"]


def wait_blocks(cluster: Cluster, nodes: list[int], above: int, count: int = PROGRESS_BLOCKS) -> None:
    poll(f"nodes {nodes} past height {above + count}",
         lambda: all(height(cluster.nodes[i]) >= above + count for i in nodes))


def transfer(cluster: Cluster, sender: int, nonce: int, amount: int = 1) -> tuple[str, bytes]:
    tx = sign_transaction(cluster.senders[sender], cluster.chain_id, nonce, Transfer(cluster.sink.public_key, amount))
    return tx.txid.hex(), encode_transaction(tx)


def code_of(body: object) -> str | None:
    return body.get("code") if isinstance(body, dict) else None


class Load:
    """Transfers offered at about `rate` a second from `threads` threads, each owning some senders.
    Each sender's nonces are consecutive and a transaction is sent again (same bytes, to the next
    node) until a node answers 202 or duplicate-tx, so no refusal leaves a nonce gap that would
    strand the sender's later transactions. Nodes not alive, or listed in `avoid`, are skipped."""

    def __init__(self, cluster: Cluster, senders: range = range(LOAD_SENDERS), rate: float = LOAD_RATE,
                 threads: int = 4):
        self.cluster = cluster
        self.rate = rate
        self.avoid: set[int] = set()
        self.acknowledged: dict[str, float] = {}        # txid -> when the 202 came
        self.acknowledged_by: collections.Counter = collections.Counter()   # node index -> 202s it gave
        self.answers: collections.Counter = collections.Counter()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._work, args=(list(senders)[t::threads], rate / threads, t),
                                          name=f"load {t}", daemon=True) for t in range(threads)]

    def __enter__(self) -> "Load":
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(60)

    def acknowledged_since(self, moment: float) -> int:
        with self._lock:
            return sum(when >= moment for when in self.acknowledged.values())

    def _work(self, senders: list[int], rate: float, offset: int) -> None:
        nonces = {s: 1 for s in senders}
        current = {s: transfer(self.cluster, s, 1) for s in senders}
        turn = offset
        due = time.monotonic()
        while not self._stop.is_set():
            for s in senders:
                if self._stop.is_set():
                    return
                due = max(due + 1 / rate, time.monotonic() - 1)
                delay = due - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                targets = [i for i, node in enumerate(self.cluster.nodes) if node.alive() and i not in self.avoid]
                if not targets:
                    continue
                turn += 1
                target = targets[turn % len(targets)]
                txid, data = current[s]
                try:
                    status, body = self.cluster.nodes[target].post_tx(data, timeout=15)
                    answer = str(status) if status in (202, 503) else str(code_of(body) or status)
                except OSError:
                    status, answer = None, "connection-error"
                with self._lock:
                    self.answers[answer] += 1
                    if status == 202:
                        self.acknowledged[txid] = time.monotonic()
                        self.acknowledged_by[target] += 1
                if status == 202 or answer == DUPLICATE_TX:   # known to the stream: on to the next nonce
                    nonces[s] += 1
                    current[s] = transfer(self.cluster, s, nonces[s])


class ChainView:
    """One node's chain as read over HTTP, block by block: the hash at each height and every txid."""

    def __init__(self, node):
        self.node = node
        self.hashes: list[str] = []     # hashes[h - 1]: the block at height h
        self.txids: list[str] = []

    def read_to(self, target: int) -> None:
        while len(self.hashes) < target:
            block = self.node.get(f"/block/{len(self.hashes) + 1}", timeout=10)
            assert block["height"] == len(self.hashes) + 1
            self.hashes.append(block["hash"])
            self.txids.extend(tx["txid"] for tx in block["transactions"])


def converge(cluster: Cluster, nodes: list[int] | None = None, acknowledged=(), min_height: int = 0,
             timeout: float = DEADLINE, refusals: bool = False) -> tuple[dict, ChainView]:
    """Until the nodes agree on one tip (height, hash, state root) of at least `min_height` holding
    every txid in `acknowledged`; then no fork (the same hash at every height on every node), no
    txid twice and, unless `refusals`, no block-stream message refused. (/info, one node's view)."""
    nodes = list(range(len(cluster.nodes))) if nodes is None else nodes
    views = [ChainView(cluster.nodes[i]) for i in nodes]
    wanted = set(acknowledged)
    deadline = time.monotonic() + timeout
    while True:
        described = ""
        try:
            infos = [cluster.nodes[i].get("/info", timeout=5) for i in nodes]
            for view, info in zip(views, infos):
                view.read_to(info["height"])
            tips = {(info["height"], info["tip_hash"], info["state_root"]) for info in infos}
            missing = wanted.difference(views[0].txids)
            if len(tips) == 1 and infos[0]["height"] >= min_height and not missing:
                break
            described = (", ".join(f"node-{i} at {info['height']} {info['tip_hash'][:12]}"
                                   for i, info in zip(nodes, infos))
                         + f"; {len(missing)} of {len(wanted)} acknowledged not in node-{nodes[0]}'s chain")
        except (OSError, NodeError) as error:
            described = repr(error)
        if time.monotonic() > deadline:
            raise AssertionError(f"nodes {nodes} did not converge within {timeout} s: {described}")
        time.sleep(0.2)
    tip = infos[0]
    for i, view in zip(nodes, views):
        view.read_to(tip["height"])
        assert view.hashes[:tip["height"]] == views[0].hashes[:tip["height"]], f"node-{i} forked from node-{nodes[0]}"
        assert tip["height"] == 0 or view.hashes[tip["height"] - 1] == tip["tip_hash"]
    assert len(set(views[0].txids)) == len(views[0].txids), "a transaction is in the chain twice"
    assert tip["tx_count"] == len(views[0].txids)
    if not refusals:
        for i in nodes:
            refused = cluster.nodes[i].get("/refused")["refused"]
            assert refused == [], f"node-{i} refused block-stream messages: {refused}"
    return tip, views[0]


def nats_call(cluster: Cluster, work):
    """Run `await work(js)` on a NATS connection to the cluster's live servers (not through any proxy)."""
    import nats

    servers = [url for i, url in enumerate(cluster.nats.urls) if cluster.nats.alive(i)]

    async def main():
        client = await nats.connect(servers, connect_timeout=5, max_reconnect_attempts=5)
        try:
            return await work(client.jetstream(timeout=10))
        finally:
            await client.close()

    return asyncio.run(main())


# ------------------------------------------------------------------ the faults

def test_kill_the_proposer_another_takes_over_without_losing_an_acknowledged_transaction(cluster):
    with Load(cluster) as load:
        start = height(cluster.nodes[0])
        wait_blocks(cluster, [0, 1, 2], start)
        leader = leader_of(cluster)
        cluster.nodes[leader].kill()   # SIGKILL: no goodbye, its lease must lapse
        killed = time.monotonic()
        killed_at = height(cluster.nodes[(leader + 1) % 3])
        survivors = [i for i in range(3) if i != leader]
        successor = leader_of(cluster, survivors)
        wait_blocks(cluster, survivors, killed_at)   # blocks continue, proposed by the successor
        poll("submissions acknowledged after the kill", lambda: load.acknowledged_since(killed) >= 20)
    # among the acknowledged, some were answered by the killed proposer: none of them is lost either
    assert load.acknowledged_by[leader] > 0
    converge(cluster, survivors, load.acknowledged, min_height=killed_at + PROGRESS_BLOCKS)
    assert successor != leader


def nats_server_of(cluster: Cluster, node: int) -> int | None:
    """The NATS server node `node`'s client connection is on (its /connz names the client), or None."""
    for j, port in enumerate(cluster.nats.monitor_ports):
        if cluster.nats.alive(j):
            status, body = http_json("GET", f"http://127.0.0.1:{port}/connz", timeout=5)
            if status == 200 and any(c.get("name") == cluster.nodes[node].name for c in body["connections"]):
                return j
    return None


def test_kill_one_of_three_nats_servers_progress_continues(cluster):
    stream = names(cluster.chain_id).blocks_stream

    async def stream_leader(js):
        return (await js.stream_info(stream)).cluster.leader

    with Load(cluster) as load:
        wait_blocks(cluster, [0, 1, 2], height(cluster.nodes[0]))
        # the server the proposer is connected to: it must reconnect to another to keep its lease
        leader = leader_of(cluster)
        victim = poll(f"node-{leader}'s NATS server", lambda: nats_server_of(cluster, leader))
        print(f"killing nats-{victim}; the block stream's leader is {nats_call(cluster, stream_leader)}")
        cluster.nats.kill(victim)
        killed = time.monotonic()
        killed_at = max(height(node) for node in cluster.nodes)
        wait_blocks(cluster, [0, 1, 2], killed_at)
        poll("submissions acknowledged after the kill", lambda: load.acknowledged_since(killed) >= 20)
        poll(f"node-{leader} connected to another server", lambda: nats_server_of(cluster, leader) is not None)
    assert not cluster.nats.alive(victim)
    converge(cluster, acknowledged=load.acknowledged, min_height=killed_at + PROGRESS_BLOCKS)


def test_killed_follower_restarts_and_catches_up(cluster):
    with Load(cluster) as load:
        wait_blocks(cluster, [0, 1, 2], height(cluster.nodes[0]))
        follower = (leader_of(cluster) + 1) % 3
        node = cluster.nodes[follower]
        node.kill()
        killed_at = height(cluster.nodes[(follower + 1) % 3])
        others = [i for i in range(3) if i != follower]
        wait_blocks(cluster, others, killed_at)   # it misses these blocks
        node.start()
        # it reads on while the load goes on, and gets there (it may be asked to propose meanwhile)
        poll(f"{node.name} past the blocks it missed", lambda: height(node) >= killed_at + PROGRESS_BLOCKS)
    tip, _ = converge(cluster, acknowledged=load.acknowledged, min_height=killed_at + PROGRESS_BLOCKS)
    assert cluster.nodes[follower].get("/info")["state_root"] == tip["state_root"]


def test_partitioned_leader_refuses_submissions_others_take_over_and_it_catches_up(cluster):
    probe_sender = SENDERS - 1   # not used by the load
    with Load(cluster) as load:
        wait_blocks(cluster, [0, 1, 2], height(cluster.nodes[0]))
        cut = leader_of(cluster)
        load.avoid.add(cut)   # the load goes to the others; the probes below go to the cut-off node
        node = cluster.nodes[cut]
        others = [i for i in range(3) if i != cut]
        cluster.partition(cut)
        cut_at = max(height(n) for n in cluster.nodes)
        try:
            poll(f"{node.name} sees NATS gone and stops leading",
                 lambda: (lambda h: h["nats"] == "disconnected" and not h["leader"])(health(node)))
            answers, probes = [], [transfer(cluster, probe_sender, nonce) for nonce in (1, 2)]
            for _, data in probes:   # fresh transactions: neither was ever sent before
                answers.append(node.post_tx(data, timeout=30))
            successor = leader_of(cluster, others)
            wait_blocks(cluster, others, cut_at)
        finally:
            cluster.heal(cut)
        load.avoid.clear()
        poll(f"{node.name} connected again", lambda: health(node)["nats"] == "connected")
        healed_at = max(height(n) for n in cluster.nodes)
        # healed, it acknowledges again (or says the first probe is known: a 503 is "not
        # acknowledged", and a publish the client library held during the cut may land after it)
        again = poll(f"{node.name} acknowledges again",
                     lambda: (lambda answer: answer if answer[0] in (202, 409) else None)(
                         node.post_tx(probes[0][1], timeout=30)))
        wait_blocks(cluster, [0, 1, 2], healed_at, 1)
    for status, body in answers:
        assert (status, code_of(body)) == (503, REPLICATION_UNAVAILABLE), (status, body)
    assert again[0] == 202 or code_of(again[1]) == DUPLICATE_TX, again
    assert successor != cut
    expected = set(load.acknowledged) | ({probes[0][0]} if again[0] == 202 else set())
    _, view = converge(cluster, acknowledged=expected, min_height=cut_at + PROGRESS_BLOCKS)
    print(f"after the heal: {again[0]} for the first probe; probes in the chain: "
          f"{[txid in view.txids for txid, _ in probes]}")


def test_one_transaction_sent_to_two_nodes_lands_once(cluster):
    before = converge(cluster)[0]["tx_count"]
    count = 12
    pairs = []
    for k in range(count):   # sender k, its first nonce; to nodes (k, k + 1), both at once
        txid, data = transfer(cluster, k, 1)
        targets = (k % 3, (k + 1) % 3)
        answers: list = [None, None]
        barrier = threading.Barrier(2)

        def send(slot: int, target: int) -> None:
            barrier.wait(10)
            answers[slot] = cluster.nodes[target].post_tx(data, timeout=30)

        threads = [threading.Thread(target=send, args=(slot, target)) for slot, target in enumerate(targets)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        pairs.append((txid, answers))
    for txid, answers in pairs:
        statuses = sorted(status for status, _ in answers)
        assert statuses in ([202, 202], [202, 409]), answers
        assert all(code_of(body) == DUPLICATE_TX for status, body in answers if status == 409), answers
    tip, view = converge(cluster, acknowledged=[txid for txid, _ in pairs])
    assert tip["tx_count"] == before + count
    assert all(view.txids.count(txid) == 1 for txid, _ in pairs)


def test_invalid_block_from_a_validator_is_refused_by_every_node_with_one_code(cluster, tmp_path):
    ids = names(cluster.chain_id)
    # a few blocks first, then a quiet cluster (no pending transaction: nobody cuts a block)
    for k in range(3):
        assert cluster.nodes[k].post_tx(transfer(cluster, k, 1)[1])[0] == 202
    tip, _ = converge(cluster, acknowledged=[transfer(cluster, k, 1)[0] for k in range(3)])

    async def read_stream(js):
        last = (await js.stream_info(ids.blocks_stream)).state.last_seq
        return last, [(await js.get_msg(ids.blocks_stream, seq)).data for seq in range(1, last + 1)]

    last, messages = nats_call(cluster, read_stream)
    # A replica of the chain from the stream alone, as every node makes it: the same tip.
    with Ledger.create(tmp_path / "replica", cluster.genesis) as replica:
        for data in messages:
            replica.append(data)
        assert replica.tip.hash.hex() == tip["tip_hash"]
        # The next block, built as a proposer would on that tip, then signed again by a genesis
        # validator over a wrong state root: well formed, signed, linked, and invalid.
        sender = LOAD_SENDERS
        txid, data = transfer(cluster, sender, 1, amount=7)
        builder = replica.builder(cluster.validators[0])
        builder.add(sign_transaction(cluster.senders[sender], cluster.chain_id, 1,
                                     Transfer(cluster.sink.public_key, 7)))
        good = builder.build()
        header = good.header
        wrong = bytes(b ^ 0xFF for b in header.state_root)
        bad = Block(sign_header(cluster.validators[0], cluster.chain_id, header.height, header.previous_hash,
                                header.time_ms, header.tx_count, header.tx_root, wrong, version=header.version,
                                history_root=header.history_root), good.transactions)
        with pytest.raises(LedgerError) as refused_here:
            replica.append(bad)
        expected = refused_here.value.code
        assert expected == BAD_STATE_ROOT

        async def publish(js):   # right after the last message: the place of the next height
            ack = await js.publish(ids.blocks_subject, encode_block(bad),
                                   headers={"Nats-Expected-Last-Sequence": str(last)}, timeout=10)
            return ack.seq

        bad_sequence = nats_call(cluster, publish)
        assert bad_sequence == last + 1

        def refusals():
            found = [[r for r in node.get("/refused")["refused"] if r["sequence"] == bad_sequence]
                     for node in cluster.nodes]
            return found if all(found) else None

        found = poll("every node refuses the invalid block", refusals)
        assert [[r["code"] for r in entries] for entries in found] == [[expected]] * 3
        assert all(entries[0]["height"] == header.height for entries in found)
        assert {height(node) for node in cluster.nodes} == {tip["height"]}   # refused: nothing changed

        # The chain goes on: the same transaction, submitted, lands in the next valid block at that height.
        assert cluster.nodes[1].post_tx(data)[0] == 202
        after, view = converge(cluster, acknowledged=[txid], min_height=header.height, refusals=True)
        assert view.hashes[header.height - 1] != bad.hash.hex()
        assert txid in view.txids[tip["tx_count"]:]

        # and the stream, replayed with the invalid message in it, gives the nodes' tip
        last, messages = nats_call(cluster, read_stream)
        outcomes = []
        for data in messages[len(messages) - (last - bad_sequence) - 1:]:
            try:
                replica.append(data)
                outcomes.append("appended")
            except LedgerError as error:
                outcomes.append(error.code)
        assert outcomes[0] == expected and outcomes[1:] == ["appended"] * (last - bad_sequence)
        assert replica.tip.hash.hex() == converge(cluster, refusals=True)[0]["tip_hash"]


def test_two_proposers_at_once_never_both_extend_the_chain(cluster):
    # The lease key deleted under its holder, as the bucket's TTL deletes it when a holder pauses
    # past its TTL: until the holder's next renewal fails, it and the node that took the key both
    # propose. The fence (Nats-Expected-Last-Sequence) must keep every block built on a stale
    # position out of the stream: no refusal on any node, no fork, nothing acknowledged lost.
    ids = names(cluster.chain_id)

    async def delete_lease(js):
        await (await js.key_value(ids.lease_bucket)).delete("proposer")

    overlaps = 0
    with Load(cluster) as load:
        wait_blocks(cluster, [0, 1, 2], height(cluster.nodes[0]))
        for _ in range(4):
            nats_call(cluster, delete_lease)
            # another node takes the key within a third of the TTL (3 s, the default), and the holder
            # finds out at its renewal, within a third of the TTL too
            deadline = time.monotonic() + 2.5
            while time.monotonic() < deadline:
                leaders = sum(bool(health(node)["leader"]) for node in cluster.nodes)
                overlaps += leaders > 1
                time.sleep(0.02)
            leader_of(cluster)
        wait_blocks(cluster, [0, 1, 2], max(height(node) for node in cluster.nodes), 1)
    print(f"moments seen with two leaders: {overlaps}")
    assert overlaps > 0, "the lease never had two holders at once: the scenario did not happen"
    converge(cluster, acknowledged=load.acknowledged)
