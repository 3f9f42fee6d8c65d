"""Running a node: open the store, start the proposer thread (if the node has a validator key),
serve the HTTP API with uvicorn in this process, and stop cleanly.

Specification: README.md, "Running a node". uvicorn handles SIGINT and SIGTERM by finishing the
requests in flight and returning from `Server.serve`; the proposer is stopped after that, which
lets a block being committed finish (a commit is one LMDB transaction: it is durable or absent).
"""
from __future__ import annotations

import contextlib
import gc
import logging
import signal
import socket
import sys
import threading
from typing import Callable

from ledger import Keypair, Ledger, LedgerError, load_keypair
from ledger.errors import UNKNOWN_PROPOSER
from ledger.node.applier import Applier
from ledger.node.config import BlockCutting, NodeConfig
from ledger.node.http import NodeApp
from ledger.node.mempool import Mempool
from ledger.node.metrics import Metrics
from ledger.node.proposer import Proposer, StreamSink

log = logging.getLogger("ledger.node")


def bind(host: str, port: int) -> socket.socket:
    """A listening socket; port 0 picks a free one (read it back with getsockname)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY on accepted connections only when the
    # listening socket says TCP, and without it a response's headers and body (two writes) wait
    # for the client's delayed ACK, about 40 ms a request.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(2048)
    except BaseException:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def _server_class():
    import uvicorn

    class Server(uvicorn.Server):
        """uvicorn's server, except that after a graceful stop on a signal it returns instead of
        raising the signal again (uvicorn >= 0.29 does, which would end the process before the
        proposer is stopped and the store closed). `stopped_by` names the signal."""

        stopped_by: int | None = None

        @contextlib.contextmanager
        def capture_signals(self):
            if threading.current_thread() is not threading.main_thread():
                yield
                return
            previous = {sig: signal.signal(sig, self._on_signal) for sig in STOP_SIGNALS}
            try:
                yield
            finally:
                for sig, handler in previous.items():
                    signal.signal(sig, handler)

        def _on_signal(self, sig: int, _frame) -> None:
            if self.stopped_by is None:
                self.stopped_by = sig
            if self.should_exit and sig == signal.SIGINT:
                self.force_exit = True   # a second Ctrl-C: do not wait for open connections
            self.should_exit = True

    return Server


def run_node(config: NodeConfig, keypair: Keypair | None = None, say: Callable[[str], None] = lambda line: print(line, file=sys.stderr,
                                                                                  flush=True)) -> int | None:
    """Serve until SIGINT or SIGTERM; returns the signal that stopped it. `say` gets one line once
    the node listens: `listening on http://HOST:PORT` (the actual port, also when the configuration
    says 0), and one when it has stopped."""
    import uvicorn

    if keypair is None and config.validator_key:
        keypair = load_keypair(config.validator_key)   # a plain key file; the CLI decrypts an encrypted one
    metrics = Metrics()
    with Ledger.open(config.store) as book:
        if keypair is not None and keypair.public_key not in book.genesis.validators:
            raise LedgerError(UNKNOWN_PROPOSER, f"the validator key {keypair.public_key.hex()} is not a validator of "
                                             "this chain's genesis")
        mempool = Mempool(book, config.mempool_max_transactions, config.mempool_nonce_window)
        replication = None
        sock = bind(config.host, config.port)
        host, port = sock.getsockname()[:2]
        if config.nats is not None:
            replication = _replication(config, book, mempool, metrics, keypair, f"{host}:{port}")
        proposer = None
        if keypair is not None:
            if replication is None:
                proposer = Proposer(book, mempool, keypair, config.blocks, on_commit=metrics.committed)
            else:   # the applier tells the metrics of every block, this node's and the others'
                sink = StreamSink(book, replication.applier, replication.publish_block,
                                  settle_s=config.nats.lease_ttl_ms / 1000)
                proposer = Proposer(book, mempool, keypair, config.blocks, sink=sink, may_propose=replication.leading)
                replication.on_ready = lambda p=proposer: setattr(p, "cutting", _capped(config, replication))
                replication.healthy = lambda p=proposer: p.healthy(config.nats.lease_ttl_ms / 1000)
        app = NodeApp(book, mempool, metrics, proposing=proposer is not None, replication=replication,
                      keypair=keypair)
        server = _server_class()(uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on"))
        # What start-up made lives as long as the node: out of the collector's sight, so a full
        # collection (which stops every thread, the event loop's too) walks only what came after.
        gc.freeze()
        if replication is not None:
            replication.start()
        if proposer is not None:
            proposer.start()
        try:
            mode = (f"replicated through {', '.join(config.nats.servers)}" if replication is not None
                    else "single node")
            say(f"listening on http://{host}:{port} (chain {book.chain_id.hex()}, height {book.height}, "
                f"{'proposing' if proposer else 'not proposing: no validator key'}, {mode})")
            server.run(sockets=[sock])
        finally:
            if proposer is not None:
                proposer.stop()
            if replication is not None:
                replication.stop()
            sock.close()
        say(f"stopped at height {book.height}")
    return server.stopped_by


def _replication(config: NodeConfig, book: Ledger, mempool: Mempool, metrics: Metrics, keypair: Keypair | None,
                 address: str):
    from ledger.node.replication import Replication, names

    name = config.nats.name or address
    applier = Applier(book, mempool, names(book.chain_id).blocks_stream, config.store,
                      on_commit=metrics.committed, on_refuse=lambda refusal: metrics.refused_block(refusal.code))
    return Replication(config.nats, book, mempool, applier, keypair, name)


def _capped(config: NodeConfig, replication) -> BlockCutting:
    """The block cutting rules, with max_bytes under the NATS servers' max_payload (1 MiB unless
    their configuration raises it), learnt once connected."""
    from dataclasses import replace

    room = replication.max_payload - 4096   # the block's header and the message's NATS headers
    if config.blocks.max_bytes <= room:
        return config.blocks
    log.warning("blocks.max_bytes %d is above what the NATS servers carry (max_payload %d): cutting at %d",
                config.blocks.max_bytes, replication.max_payload, room)
    return replace(config.blocks, max_bytes=room)
