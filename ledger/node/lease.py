"""Which validator proposes: a lease held in a JetStream key-value bucket with a TTL.

Specification: README.md, "Running several nodes"; the NATS key-value store
(https://docs.nats.io/nats-concepts/jetstream/key-value-store): `create` succeeds only when the key
is absent (never written, deleted, or aged out by the bucket's TTL); `update` succeeds only when the
key's latest revision is the one named. The bucket keeps one revision per key.

Why a lease and not a rule in FORMAT.md (say, round-robin by height): the lease follows the nodes
that are alive. A rotation rule makes every height wait out a dead validator's turn, and needs a
timeout rule of its own in the protocol to skip it, which is consensus we chose not to write. The
lease is only about liveness: safety never rests on it. Two nodes that both believe they hold it
(a paused holder whose lease lapsed) publish with Nats-Expected-Last-Sequence, so at most one block
lands on any stream position, and every node applies the stream in the same order with the same
rules. What the lease costs is a failover delay: up to the TTL after a holder dies silently; none
when it stops cleanly (it deletes the key).

The holder renews every third of the TTL. It counts the lease as its own until 80% of a TTL after
the start of its last successful renewal (a margin for its clock against the server's), and stops
proposing after that even when NATS cannot be reached to say so.
"""
from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Callable

from ledger import Keypair
from ledger.node.config import NatsSettings

log = logging.getLogger("ledger.node.lease")

KEY = "proposer"


class Lease:
    def __init__(self, js, bucket: str, settings: NatsSettings, keypair: Keypair, node_name: str):
        self.js = js
        self.bucket = bucket
        self.ttl = settings.lease_ttl_ms / 1000
        self.replicas = settings.replicas
        self.value = json.dumps({"node": node_name, "validator": keypair.public_key.hex()}).encode()
        self._kv = None
        self._revision: int | None = None
        self._held_until = 0.0
        self._sit_out_until = 0.0   # after giving the lease up for ill health: let another take it

    def held(self) -> bool:
        return time.monotonic() < self._held_until

    async def _bucket(self):
        if self._kv is None:
            from nats.js.errors import BucketNotFoundError

            try:
                self._kv = await self.js.key_value(self.bucket)
            except BucketNotFoundError:
                from nats.js.api import StorageType

                self._kv = await self.js.create_key_value(bucket=self.bucket, history=1, ttl=self.ttl,
                                                          replicas=self.replicas, storage=StorageType.FILE,
                                                          description="the proposer lease (ledger node)")
        return self._kv

    async def step(self, may_take: bool = True, may_hold: bool = True) -> bool:
        """Take the lease if it is free (and `may_take`), or renew it if it is ours (and
        `may_hold`: a holder whose blocks keep failing gives the lease up and sits out two TTLs);
        whether we hold it now."""
        from nats.js.errors import KeyWrongLastSequenceError

        started = time.monotonic()
        if self._revision is not None and not may_hold:
            log.warning("giving the proposer lease up: this node's blocks have been failing for a TTL")
            await self.release()
            self._sit_out_until = started + 2 * self.ttl
            return False
        try:
            kv = await self._bucket()
            if self._revision is None:
                if not may_take or started < self._sit_out_until:
                    return False
                self._revision = await kv.create(KEY, self.value)
                log.warning("took the proposer lease (revision %d)", self._revision)
            else:
                self._revision = await kv.update(KEY, self.value, last=self._revision)
            self._held_until = started + 0.8 * self.ttl
        except KeyWrongLastSequenceError:   # another holds it, or took it after ours lapsed
            self._revision = await self._ours(kv)
            if self._revision is not None:   # our own write, whose answer was lost: still ours
                self._held_until = started + 0.8 * self.ttl
            else:
                if self.held():
                    log.warning("lost the proposer lease")
                self._held_until = 0.0
        except asyncio.CancelledError:
            raise
        except Exception as exc:   # NATS away: the lease lapses by the clock unless renewed in time
            log.info("cannot reach the lease bucket: %s: %s", type(exc).__name__, exc)
        return self.held()

    async def _ours(self, kv) -> int | None:
        """The key's revision if it holds our value (a create or update that succeeded on the
        server while its answer timed out), else None."""
        try:
            entry = await kv.get(KEY)
        except Exception:   # absent, deleted, or unreachable: not ours to assume
            return None
        return entry.revision if entry.value == self.value else None

    async def run(self, may_take: Callable[[], bool] = lambda: True,
                  may_hold: Callable[[], bool] = lambda: True) -> None:
        """Renew every third of the TTL while `may_hold()`; take the lease when free only while
        `may_take()`."""
        while True:
            await self.step(may_take(), may_hold())
            await asyncio.sleep(self.ttl / 3)

    async def release(self) -> None:
        """Delete the key if we hold it, so another validator takes over without waiting a TTL."""
        if self._revision is None or self._kv is None:
            return
        self._held_until = 0.0
        try:
            await self._kv.delete(KEY, last=self._revision)
        except Exception as exc:   # lapsed or taken meanwhile: nothing to give back
            log.info("releasing the lease: %s", exc)
        self._revision = None
