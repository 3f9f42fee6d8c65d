"""`make cluster-demo`: a 3-server NATS JetStream cluster and 3 ledger nodes on localhost, in a
temporary folder; a load generator offers transfers round-robin to the nodes; then end-to-end tx/s,
latency from submission to committed on every node, and every node's tip and state.

Specification: issue 10, "make cluster-demo"; README "Running several nodes".

Exit status: 0 only if every node ends at the same tip (height, hash, state root) and nothing
acknowledged (202) was dropped; 1 otherwise; 3 if the cluster could not start; 130 on Ctrl-C.
Every process started is killed on the way out, whatever happens (Ctrl-C and SIGTERM included).

    .venv/bin/python -m tools.cluster_demo [--rate 500] [--seconds 15] [--keep FOLDER]
"""
from __future__ import annotations

import argparse
import signal
import sys
import tempfile
import time

from tools.cluster import Cluster
from tools.loadgen import presign, run_load, start_watchers

EXIT_OK, EXIT_INVALID, EXIT_ENVIRONMENT, EXIT_INTERRUPTED = 0, 1, 3, 130


def _stop_on_sigterm(_signal: int, _frame) -> None:
    raise KeyboardInterrupt   # the same clean-up as Ctrl-C


def run(folder: str, args) -> int:
    replicated = args.nats > 0
    started = time.monotonic()
    print(f"starting {args.nats} NATS servers and {args.nodes} ledger nodes in {folder} ...", flush=True)
    with Cluster(folder, nodes=args.nodes, nats=max(args.nats, 1), senders=args.senders, proxies=False,
                 replicated=replicated, blocks={"max_transactions": args.max_transactions,
                                                "batch_timeout_ms": args.batch_timeout_ms}) as cluster:
        if cluster.nats is not None:
            for url in cluster.nats.urls:
                print(f"  nats-server {url}  (JetStream, file storage, sync_interval {cluster.nats.sync_interval})")
        for node in cluster.nodes:
            print(f"  {node.name}  {node.url}  pid {node.pid}  log {node.log_path}")
        leader = cluster.leader(60)
        if leader is not None:
            print(f"  proposer (lease holder): {cluster.nodes[leader].name}")
        cluster.wait_same_tip(60)
        print(f"up in {time.monotonic() - started:.1f} s", flush=True)

        count = int(args.rate * args.seconds)
        items = presign(cluster.senders, cluster.chain_id, count, cluster.sink.public_key)
        print(f"offering {count} signed transfers from {args.senders} senders at {args.rate:,.0f} tx/s "
              f"for {args.seconds:g} s, round-robin to {len(cluster.nodes)} nodes ...", flush=True)
        watchers = start_watchers(cluster.urls)
        result = run_load(cluster.urls, items, args.rate, threads=args.threads, grace=args.grace, watchers=watchers)
        print(result.summary())

        print("tips:")
        infos = cluster.infos()
        for node, info in zip(cluster.nodes, infos):
            if info is None:
                print(f"  {node.name}: no answer")
            else:
                print(f"  {node.name}: height {info['height']}  hash {info['tip_hash']}  "
                      f"state_root {info.get('state_root')}  tx_count {info['tx_count']}")
        tips = {(info["height"], info["tip_hash"], info.get("state_root")) for info in infos if info is not None}
        agree = len(tips) == 1 and None not in infos
        print("all nodes agree" if agree else "NODES DISAGREE")
        if result.dropped:
            print(f"DROPPED {result.dropped} acknowledged transactions, e.g. {result.dropped_txids[:3]}")
        ok = agree and result.dropped == 0 and result.duplicates == 0 and result.committed > 0
        if not ok:
            print(cluster.report(), file=sys.stderr)
        return EXIT_OK if ok else EXIT_INVALID


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nodes", type=int, default=3)
    parser.add_argument("--nats", type=int, default=3, help="NATS servers (0: one node without replication)")
    parser.add_argument("--rate", type=float, default=500, help="offered transactions per second")
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--senders", type=int, default=96, help="funded senders (nonce window 64 each)")
    parser.add_argument("--threads", type=int, default=32,
                        help="load generator threads (each waits for its 202: the durable publish)")
    parser.add_argument("--grace", type=float, default=30, help="seconds to wait for the last commits")
    parser.add_argument("--max-transactions", type=int, default=1000, help="[blocks] max_transactions")
    parser.add_argument("--batch-timeout-ms", type=int, default=100, help="[blocks] batch_timeout_ms")
    parser.add_argument("--keep", metavar="FOLDER", help="run in FOLDER and keep it (logs, stores)")
    args = parser.parse_args(argv)
    if args.nats == 0 and args.nodes != 1:
        parser.error("--nats 0 runs a single node: add --nodes 1")
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    try:
        if args.keep:
            return run(args.keep, args)
        with tempfile.TemporaryDirectory(prefix="ledger-cluster-demo-") as folder:
            return run(folder, args)
    except KeyboardInterrupt:
        print("interrupted: every process stopped", file=sys.stderr)
        return EXIT_INTERRUPTED
    except (RuntimeError, TimeoutError, OSError) as error:
        print(f"cluster-demo: {error}", file=sys.stderr)
        return EXIT_ENVIRONMENT


if __name__ == "__main__":
    sys.exit(main())
