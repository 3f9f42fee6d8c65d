"""Replication through NATS JetStream: one chain, many nodes, no consensus of our own.

Specification: README.md, "Running several nodes" (the design and what each fault does); NATS
JetStream (https://docs.nats.io/nats-concepts/jetstream): streams replicated with Raft, the
publish header Nats-Expected-Last-Sequence (a publish lands only if the stream's last sequence is
the one named), Nats-Msg-Id (duplicates within the window are dropped), pull consumers, and the
key-value store (a stream per bucket; an update names the revision it replaces).

Three things per chain, named from the first 16 hex digits of its id (see `names`):
  - the block stream (file storage, `replicas` replicas): the chain's order. A proposer publishes
    an encoded block with Nats-Expected-Last-Sequence = the last sequence its node has taken, so
    two proposers can never both extend the same height: the second publish is refused by the
    stream. Every node takes every message in order (ledger.node.applier).
  - the transaction stream: every admitted transaction, kept `tx_retention_s`; every node admits
    what it reads into its own mempool, so whichever node holds the lease has them.
  - the lease bucket (ledger.node.lease): which validator proposes.

The NATS client is asyncio; it runs on its own event loop in a thread, so that the proposer (a
thread) and the HTTP app (uvicorn's loop) call it without sharing a loop.
"""
from __future__ import annotations

import asyncio
import logging
import threading
from dataclasses import dataclass
from typing import Awaitable, Callable

from ledger import Keypair, Ledger, LedgerError, decode_block, decode_transaction, limits
from ledger.errors import MEMPOOL_FULL, EnvironmentFault
from ledger.node.applier import Applier
from ledger.node.config import NatsSettings
from ledger.node.lease import Lease
from ledger.node.mempool import Mempool

log = logging.getLogger("ledger.node.replication")

# Codes of the node service (not of the format): why a publish did not happen.
REPLICATION_UNAVAILABLE = "replication-unavailable"   # NATS could not be reached or did not acknowledge in time
FENCED = "fenced"                                     # the block stream moved on: another block took the place

WRONG_LAST_SEQUENCE = 10071   # JetStream's error code for a failed Nats-Expected-Last-Sequence check
DUPLICATE_IN_PROCESS = 10158  # JetStream's: a publish with the same Nats-Msg-Id is being stored right now
PUBLISH_TIMEOUT_S = 5.0
READ_BATCH = 256


@dataclass(frozen=True)
class Names:
    blocks_stream: str
    blocks_subject: str
    txs_stream: str
    txs_subject: str
    lease_bucket: str


def names(chain_id: bytes) -> Names:
    short = chain_id.hex()[:16]
    return Names(f"LEDGER_{short}_BLOCKS", f"ledger.{short}.blocks", f"LEDGER_{short}_TXS", f"ledger.{short}.txs",
                 f"ledger_{short}_lease")


class Replication:
    """Connects to NATS, makes the streams and the bucket if absent, and runs three tasks: take the
    block stream (the applier), admit the transaction stream (the mempool), hold the lease (a node
    with a validator key). `start` returns at once; the node serves reads while NATS is away."""

    def __init__(self, settings: NatsSettings, ledger: Ledger, mempool: Mempool, applier: Applier,
                 keypair: Keypair | None, node_name: str):
        self.settings = settings
        self.ledger = ledger
        self.mempool = mempool
        self.applier = applier
        self.keypair = keypair
        self.node_name = node_name
        self.names = names(ledger.chain_id)
        self.lease: Lease | None = None
        self.max_payload = 0
        self.ready = threading.Event()    # connected once and the streams exist
        self._loop = _new_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="ledger-nats", daemon=True)
        self._nc = None
        self._js = None
        self._tasks: list[asyncio.Task] = []
        self._stopping = False
        self.tx_position = 0
        self.healthy: Callable[[], bool] = lambda: True   # the proposer's blocks are landing (set by the service)
        self._in_flight: dict[bytes, list[bool]] = {}   # txid -> [read back from the stream yet], while published
        self.blocks_caught_up = False   # the last read of the block stream found nothing more
        self.on_ready: Callable[[], None] | None = None   # called on the NATS thread once connected

    # ------------------------------------------------------------ life

    def start(self) -> None:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._main(), self._loop).add_done_callback(_log_failure)

    def stop(self, timeout: float = 5.0) -> None:
        """Give up the lease (so another validator takes over at once), close the connection.
        Once is enough: a second call, or one before `start`, does nothing."""
        self._stopping = True
        if not self._thread.is_alive():
            return
        future = asyncio.run_coroutine_threadsafe(self._close(), self._loop)
        try:
            future.result(timeout)
        except Exception as error:   # a dead connection: nothing to say goodbye to
            log.info("closing the NATS connection: %s", error)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout)
        self.applier.close()   # a block being taken (on a worker thread) is committed before the store closes

    @property
    def connected(self) -> bool:
        return self._nc is not None and self._nc.is_connected

    def leading(self) -> bool:
        return self.lease is not None and self.lease.held() and self.connected

    def status(self) -> dict:
        return {"nats": "connected" if self.connected else "disconnected",
                "leader": self.leading(),
                "caught_up": self.blocks_caught_up,
                "stream_sequence": self.applier.position,
                "refused": self.applier.refused_count}

    async def _main(self) -> None:
        import nats

        async def disconnected():
            log.warning("disconnected from NATS; reconnecting")

        async def reconnected():
            log.warning("reconnected to NATS at %s", self._nc.connected_url.netloc if self._nc else "?")

        async def error(exc):
            log.info("NATS: %s", exc)

        while not self._stopping:
            try:
                self._nc = await nats.connect(list(self.settings.servers), name=self.node_name,
                                              max_reconnect_attempts=-1, reconnect_time_wait=0.25,
                                              connect_timeout=2, ping_interval=2, max_outstanding_pings=2,
                                              disconnected_cb=disconnected, reconnected_cb=reconnected,
                                              error_cb=error)
                break
            except Exception as exc:   # no server reachable yet
                log.warning("cannot reach NATS (%s); retrying", exc)
                await asyncio.sleep(1.0)
        if self._stopping:
            return
        self._js = self._nc.jetstream(timeout=PUBLISH_TIMEOUT_S)
        self.max_payload = self._nc.max_payload
        await self._ensure_streams()
        await self._seek()
        if self.on_ready is not None:
            self.on_ready()
        self.ready.set()
        self._tasks.append(asyncio.ensure_future(self._read(
            self.names.blocks_stream, self.names.blocks_subject, lambda: self.applier.position + 1, self._take_blocks,
            lambda flag: setattr(self, "blocks_caught_up", flag))))
        self._tasks.append(asyncio.ensure_future(self._read(
            self.names.txs_stream, self.names.txs_subject, lambda: self.tx_position + 1, self._admit_txs,
            lambda flag: None, skip_to=lambda first: setattr(self, "tx_position", first - 1))))
        if self.keypair is not None:
            self.lease = Lease(self._js, self.names.lease_bucket, self.settings, self.keypair, self.node_name)
            # A node still reading a long backlog would only be fenced: it competes once caught up.
            self._tasks.append(asyncio.ensure_future(self.lease.run(may_take=lambda: self.blocks_caught_up,
                                                                    may_hold=lambda: self.healthy())))
        for task in self._tasks:
            task.add_done_callback(_log_failure)

    async def _close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)   # let each finish cancelling
        if self.lease is not None:
            await self.lease.release()
        if self._nc is not None:
            await self._nc.close()

    async def _ensure_streams(self) -> None:
        """Make the block stream, the transaction stream and the lease bucket where absent (the
        first node to start makes them; the same configuration from the others is accepted)."""
        from nats.js.api import DiscardPolicy, StorageType, StreamConfig
        from nats.js.errors import NotFoundError

        replicas = self.settings.replicas
        wanted = [
            StreamConfig(name=self.names.blocks_stream, subjects=[self.names.blocks_subject],
                         storage=StorageType.FILE, num_replicas=replicas, discard=DiscardPolicy.NEW,
                         max_msg_size=min(limits.BLOCK_BYTES_MAX, self.max_payload), duplicate_window=120.0,
                         description="the chain's blocks, in order (ledger node)"),
            StreamConfig(name=self.names.txs_stream, subjects=[self.names.txs_subject],
                         storage=StorageType.FILE, num_replicas=replicas, max_age=float(self.settings.tx_retention_s),
                         # JetStream refuses a duplicate window longer than the stream's max age
                         max_msg_size=64 * 1024, duplicate_window=min(120.0, float(self.settings.tx_retention_s)),
                         description="admitted transactions, gossiped to every node (ledger node)"),
        ]
        while not self._stopping:
            try:
                for config in wanted:
                    try:
                        info = await self._js.stream_info(config.name)
                        if info.config.num_replicas != replicas:
                            log.warning("stream %s has %s replicas, not the %d configured; using it as it is",
                                        config.name, info.config.num_replicas, replicas)
                    except NotFoundError:
                        await self._js.add_stream(config)
                return
            except Exception as exc:   # JetStream not ready (no meta leader yet), or unreachable
                log.warning("cannot make the streams yet (%s: %s); retrying", type(exc).__name__, exc)
                await asyncio.sleep(1.0)

    async def _seek(self) -> None:
        """A store with blocks but no position (made by `ledger import` of a chain file): find the
        stream message holding its tip, so reading starts after it instead of at the stream's first
        message. Tried where it is when no message was ever refused (sequence = height); otherwise
        reading from the start skips the blocks held (ledger.node.applier)."""
        tip = self.ledger.tip
        if self.applier.position != 0 or tip.height == 0:
            return
        try:
            message = await self._js.get_msg(self.names.blocks_stream, seq=tip.height)
            block = decode_block(message.data, self.ledger.genesis.version)
        except Exception as exc:   # absent, or not a block: read from the start
            log.info("the tip's block is not at stream sequence %d (%s); reading from the start", tip.height, exc)
            return
        if block.hash == tip.hash:
            self.applier.skip_to(tip.height)
            log.warning("store at height %d without a stream position: its tip is stream message %d; reading on from "
                        "there", tip.height, tip.height)

    # ------------------------------------------------------------ reading the streams

    async def _read(self, stream: str, subject: str, next_sequence: Callable[[], int],
                    handle: Callable[[list], Awaitable[None]], caught_up: Callable[[bool], None],
                    skip_to: Callable[[int], None] | None = None) -> None:
        """Read `stream` from `next_sequence()` on, strictly in order, with an ephemeral pull consumer
        made again from the next sequence whenever it fails (its server died, the connection
        dropped) or a message is missing (deliveries lost across a reconnect: the consumer takes no
        acknowledgements). `caught_up(flag)` is told after each fetch whether the stream held more.
        `skip_to(first)`, where given, is called when the messages wanted are gone from the stream
        (aged out: the transaction stream's retention), else the reader waits and says so."""
        from nats.errors import TimeoutError as NatsTimeout
        from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

        subscription = None
        while not self._stopping:
            try:
                if subscription is None:
                    config = ConsumerConfig(deliver_policy=DeliverPolicy.BY_START_SEQUENCE,
                                            opt_start_seq=next_sequence(), ack_policy=AckPolicy.NONE,
                                            inactive_threshold=30.0, num_replicas=1, mem_storage=True)
                    subscription = await self._js.pull_subscribe(subject, durable=None, stream=stream, config=config)
            except asyncio.CancelledError:
                raise
            except Exception as exc:   # no server, no JetStream leader yet: not a sign of being caught up
                log.info("reading %s: %s: %s; trying again", stream, type(exc).__name__, exc)
                await asyncio.sleep(0.5)
                continue
            try:
                messages = await subscription.fetch(READ_BATCH, timeout=1.0)
            except (NatsTimeout, asyncio.TimeoutError):   # nothing new within the second
                caught_up(True)
                continue
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.info("reading %s: %s: %s; making the consumer again", stream, type(exc).__name__, exc)
                subscription = await _drop(subscription)
                await asyncio.sleep(0.5)
                continue
            wanted = next_sequence()
            batch = []
            for message in messages:
                sequence = message.metadata.sequence.stream
                if sequence < wanted + len(batch):
                    continue   # read before
                if sequence != wanted + len(batch):
                    break      # a message missing: take what came before it, then read again from it
                batch.append((sequence, message.data))
            complete = len(batch) == sum(1 for m in messages if m.metadata.sequence.stream >= wanted)
            if not batch and not complete:   # the first message wanted did not come
                subscription = await _drop(subscription)
                first = await self._first_sequence(stream)
                if first is not None and first > wanted and skip_to is not None:
                    log.warning("%s: messages %d..%d are gone (retention); reading on from %d", stream, wanted,
                                first - 1, first)
                    skip_to(first)
                else:
                    log.error("%s: message %d did not come (the stream starts at %s); reading again in 1 s", stream,
                              wanted, first)
                    await asyncio.sleep(1.0)
                continue
            try:
                await handle(batch)
                if complete and messages:
                    caught_up(messages[-1].metadata.num_pending == 0)
            except _Backpressure as wait:   # this node cannot take more yet: read the same again later
                log.warning("%s: %s; reading again in 0.5 s", stream, wait)
                subscription = await _drop(subscription)
                await asyncio.sleep(0.5)
                continue
            except EnvironmentFault as fault:   # the disk, not the block: retry the same messages later
                log.error("cannot apply from %s: %s; retrying in 1 s", stream, fault)
                subscription = await _drop(subscription)
                await asyncio.sleep(1.0)
                continue
            except Exception:   # a bug: say so, and retry the same messages rather than skip them
                log.exception("taking messages of %s failed; retrying in 1 s", stream)
                subscription = await _drop(subscription)
                await asyncio.sleep(1.0)
                continue
            if not complete:
                log.warning("%s: a message after %d was missing from a delivery; reading again from %d", stream,
                            batch[-1][0], batch[-1][0] + 1)
                subscription = await _drop(subscription)

    async def _first_sequence(self, stream: str) -> int | None:
        try:
            return (await self._js.stream_info(stream)).state.first_seq
        except Exception as exc:   # unreachable now: the caller reads again
            log.info("stream info of %s: %s", stream, exc)
            return None

    async def _take_blocks(self, batch: list[tuple[int, bytes]]) -> None:
        await asyncio.to_thread(self._take_many, batch)   # one thread hop a delivery, not a block

    def _take_many(self, batch: list[tuple[int, bytes]]) -> None:
        for sequence, data in batch:
            self.applier.take(sequence, data)

    async def _admit_txs(self, batch: list[tuple[int, bytes]]) -> None:
        await asyncio.to_thread(self._admit_many, batch)

    def _admit_many(self, batch: list[tuple[int, bytes]]) -> None:
        for sequence, data in batch:
            try:
                tx = decode_transaction(data)
                seen = self._in_flight.get(tx.txid)
                if seen is not None:
                    seen[0] = True   # in the stream: a lost acknowledgement must not drop it here
                if not self.mempool.settled(tx):
                    self.mempool.add(data, gossiped=True)
            except LedgerError as error:   # committed meanwhile, or refused as the submitting node did
                if error.code == MEMPOOL_FULL:   # not skipped: this node may have to propose it
                    raise _Backpressure(f"the mempool is full at transaction stream message {sequence}") from None
                log.debug("gossiped transaction at %d not admitted: %s", sequence, error)
            self.tx_position = sequence

    # ------------------------------------------------------------ publishing

    def publish_block(self, data: bytes, block_hash: bytes, after_sequence: int) -> int:
        """Publish an encoded block so that it lands only right after stream message
        `after_sequence`; returns its sequence. LedgerError FENCED if the stream has moved on,
        REPLICATION_UNAVAILABLE if NATS did not acknowledge in time (the block may still have landed:
        the applier tells)."""
        future = asyncio.run_coroutine_threadsafe(self._publish_block(data, block_hash, after_sequence), self._loop)
        try:
            return future.result(PUBLISH_TIMEOUT_S + 1.0)
        except LedgerError:
            raise
        except Exception as exc:
            future.cancel()
            raise _unavailable("block", exc) from None

    async def _publish_block(self, data: bytes, block_hash: bytes, after_sequence: int) -> int:
        from nats.js.errors import APIError

        if self._js is None:
            raise LedgerError(REPLICATION_UNAVAILABLE, "not connected to NATS yet")
        headers = {"Nats-Expected-Last-Sequence": str(after_sequence), "Nats-Msg-Id": block_hash.hex(),
                   "Nats-Expected-Stream": self.names.blocks_stream}
        try:
            ack = await self._js.publish(self.names.blocks_subject, data, headers=headers)
        except APIError as exc:
            if exc.err_code == WRONG_LAST_SEQUENCE:
                raise LedgerError(FENCED, f"the block stream has moved past {after_sequence}") from None
            raise
        return ack.seq   # a duplicate (the same block within the window) names the first copy's sequence

    async def publish_tx(self, data: bytes, txid: bytes) -> None:
        """From another event loop (the HTTP app's): publish an admitted transaction to the
        transaction stream and wait for the stream's acknowledgement."""
        seen = self._in_flight[txid] = [False]
        future = asyncio.run_coroutine_threadsafe(self._publish_tx(data, txid), self._loop)
        try:
            await asyncio.wait_for(asyncio.wrap_future(future), PUBLISH_TIMEOUT_S + 1.0)
        except Exception as exc:
            future.cancel()
            if seen[0]:   # the acknowledgement was lost, but this node read it in the stream
                return
            raise exc if isinstance(exc, LedgerError) else _unavailable("transaction", exc) from None
        finally:
            self._in_flight.pop(txid, None)

    async def _publish_tx(self, data: bytes, txid: bytes) -> None:
        from nats.js.errors import APIError

        if self._js is None:
            raise LedgerError(REPLICATION_UNAVAILABLE, "not connected to NATS yet")
        while True:   # until acknowledged, or publish_tx's timeout cancels this
            try:
                await self._js.publish(self.names.txs_subject, data, headers={"Nats-Msg-Id": txid.hex()})
                return
            except APIError as exc:
                # The same transaction sent to another node at the same moment, not yet stored: ask
                # again, to be told it is stored (a duplicate acknowledged) or to store it ourselves.
                if exc.err_code != DUPLICATE_IN_PROCESS:
                    raise
            await asyncio.sleep(0.02)


def _new_loop() -> asyncio.AbstractEventLoop:
    """libuv's loop where installed (as uvicorn picks it for the HTTP side), else asyncio's."""
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


class _Backpressure(Exception):
    """Messages that cannot be taken yet (a full mempool): the reader reads them again later."""


def _unavailable(stream: str, exc: BaseException) -> LedgerError:
    return LedgerError(REPLICATION_UNAVAILABLE, f"the {stream} stream did not acknowledge: {type(exc).__name__} {exc}")


def _log_failure(future) -> None:
    """A task of the NATS thread ended by an exception: a bug; say so (the node keeps serving reads)."""
    if not future.cancelled() and future.exception() is not None:
        log.error("replication task failed", exc_info=future.exception())


async def _drop(subscription) -> None:
    if subscription is not None:
        try:
            await subscription.unsubscribe()
        except Exception:   # its connection or consumer is gone already
            pass
    return None
