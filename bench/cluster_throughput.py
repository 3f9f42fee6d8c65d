"""End-to-end throughput of a replicated cluster (3 ledger nodes over a 3-server NATS JetStream
cluster, on this machine), next to the single-node `ledger import` rate of the same transactions
measured in the same run. Not a pytest file: run it directly.

Specification: issue 10, "Benchmark": accepted tx/s and p50/p99 latency (submit -> committed on every
node) at an offered 1,000 tx/s; then a ramp of offered rates, up if that was sustained, down if
not, to the highest sustained one (accepted within 3 % of offered, the generator kept up, p99 <= 1 s,
nothing dropped), with the CPU of each process group (/proc/PID/stat utime + stime, proc(5)) and of
the rest of the machine (/proc/stat) to say what bounds it. Each step signs with fresh senders.

    .venv/bin/python bench/cluster_throughput.py [--rate 1000] [--seconds 20] [--ramp 1250,1500,2000]
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from ledger import Ledger, decode_transaction  # noqa: E402
from tools.cluster import Cluster, cpu_seconds, venv_program  # noqa: E402
from tools.loadgen import presign, run_load, start_watchers  # noqa: E402

SUSTAINED_SHARE = 0.97        # accepted (and sent) at least this share of the offered rate
P99_SECONDS_MAX = 1.0
SATURATED_SHARE = 0.85        # of a core (one process) or of the machine's cores


def _cpu(pids: list[int]) -> float:
    return sum(value for value in (cpu_seconds(pid) for pid in pids) if value is not None)


def _machine_ticks() -> tuple[int, int]:
    """(busy, total) clock ticks of all CPUs since boot, from /proc/stat's first line (proc(5))."""
    with open("/proc/stat") as handle:
        values = [int(field) for field in handle.readline().split()[1:]]
    idle = values[3] + (values[4] if len(values) > 4 else 0)   # idle + iowait
    return sum(values[:8]) - idle, sum(values[:8])


def run_step(cluster: Cluster, step: int, rate: float, seconds: float, senders_per_step: int, threads: int,
             grace: float) -> dict:
    """Offer `rate` tx/s for `seconds` from a fresh slice of senders (nonces from 1: no gap left by an
    earlier step can strand them); the result and the cores each process group used meanwhile."""
    senders = cluster.senders[step * senders_per_step:(step + 1) * senders_per_step]
    items = presign(senders, cluster.chain_id, int(rate * seconds), cluster.sink.public_key)
    pids = cluster.pids()
    groups = {f"node-{i}": [node.pid] for i, node in enumerate(cluster.nodes) if node.pid is not None}
    groups["nats-servers"] = pids["nats"]
    groups["loadgen"] = [os.getpid()]
    watchers = start_watchers(cluster.urls)
    before = {name: _cpu(group) for name, group in groups.items()}
    machine_before = _machine_ticks()
    started = time.monotonic()
    result = run_load(cluster.urls, items, rate, threads=threads, grace=grace, watchers=watchers)
    wall = time.monotonic() - started
    cores = {name: (_cpu(group) - before[name]) / wall for name, group in groups.items()}
    busy, total = (after - first for after, first in zip(_machine_ticks(), machine_before))
    # everything else running on the machine meanwhile (other users' work is not ours to bound by)
    cores["other processes"] = max(0.0, busy / max(total, 1) * (os.cpu_count() or 1) - sum(cores.values()))
    p99 = result.latency["p99"]
    sustained = (result.accepted >= SUSTAINED_SHARE * result.offered
                 and result.sent_rate >= SUSTAINED_SHARE * rate
                 and p99 is not None and p99 <= P99_SECONDS_MAX and result.dropped == 0)
    return {"rate": rate, "result": result, "cores": cores, "sustained": sustained, "items": items}


def bound_by(cores: dict[str, float]) -> str:
    """Which CPU limit the step ran into, if any."""
    machine = os.cpu_count() or 1
    total = sum(cores.values())
    largest = max(cores, key=cores.get)
    single = [name for name in cores if name.startswith("node-") or name == "loadgen"]
    busiest = max(single, key=cores.get)
    if total >= SATURATED_SHARE * machine:
        return (f"the machine's {machine} cores ({total:.2f} busy); the largest share: {largest} "
                f"({cores[largest]:.2f})")
    if cores[busiest] >= SATURATED_SHARE:
        return f"{busiest}'s Python thread ({cores[busiest]:.2f} of one core)"
    return f"no CPU limit reached ({total:.2f} of {machine} cores): latency (batch timeout, replication round trips)"


def import_baseline(cluster: Cluster, items, max_transactions: int, folder: str) -> tuple[float, float]:
    """The same transactions in blocks of `max_transactions` (built with the Ledger's builder, in a
    chain file), then `ledger import` of that file into a fresh store: (tx/s, seconds)."""
    built = os.path.join(folder, "built")
    chain = os.path.join(folder, "same-transactions.ledger")
    with Ledger.create(built, cluster.genesis) as book:
        for first in range(0, len(items), max_transactions):
            builder = book.builder(cluster.validators[0])
            for item in items[first:first + max_transactions]:
                builder.add(decode_transaction(item.data))
            book.append(builder.build())
        book.export_chain(chain)
    fresh = os.path.join(folder, "fresh")
    ledger = venv_program("ledger")
    subprocess.run([ledger, "init", "--db", fresh, "--genesis", str(cluster.genesis_path)], check=True,
                   capture_output=True)
    started = time.perf_counter()
    subprocess.run([ledger, "import", chain, "--db", fresh], check=True, capture_output=True)
    seconds = time.perf_counter() - started
    return len(items) / seconds, seconds


def run_plan(cluster: Cluster, args, up: list[float], down: list[float]) -> list[dict]:
    """The first step; then up the `up` rates until one is not sustained or, if the first was not,
    down the `down` rates until one is."""
    first = run_step(cluster, 0, args.rate, args.seconds, args.senders_per_step, args.threads, args.grace)
    print(_line(first), flush=True)
    steps = [first]
    for rate in up if first["sustained"] else down:
        cluster.wait_same_tip(120)
        step = run_step(cluster, len(steps), rate, args.ramp_seconds, args.senders_per_step, args.threads, args.grace)
        steps.append(step)
        print(_line(step), flush=True)
        if step["sustained"] != first["sustained"]:
            break
    return steps


def _line(step: dict) -> str:
    result, cores = step["result"], step["cores"]
    lat = result.latency

    def ms(value):
        return "-" if value is None else f"{value * 1000:,.0f}"

    used = "  ".join(f"{name} {value:.2f}" for name, value in cores.items())
    per_block = result.committed / result.blocks if result.blocks else 0
    refused = ", ".join(f"{code} {count}" for code, count in sorted(result.refused.items())) or "0"
    return (f"offered {step['rate']:>6,.0f}  sent {result.sent_rate:>6,.0f}  accepted {result.accepted_rate:>6,.0f} "
            f"({result.accepted}/{result.offered}, refused {refused})  end-to-end {result.end_to_end_rate:>6,.0f} tx/s  "
            f"p50 {ms(lat['p50'])} p99 {ms(lat['p99'])} max {ms(lat['max'])} ms (202 after p50 "
            f"{ms(result.ack_latency['p50'])} p99 {ms(result.ack_latency['p99'])})  dropped {result.dropped}  "
            f"{'sustained' if step['sustained'] else 'NOT sustained'}\n    {result.blocks} blocks "
            f"({per_block:,.0f} tx/block); cores: {used}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nodes", type=int, default=3)
    parser.add_argument("--nats", type=int, default=3)
    parser.add_argument("--rate", type=float, default=1000, help="the first step's offered tx/s")
    parser.add_argument("--seconds", type=float, default=20, help="the first step's length")
    parser.add_argument("--ramp", default="1250,1500,2000,3000",
                        help="offered rates after it, if it was sustained (comma-separated)")
    parser.add_argument("--ramp-down", default="750,500,300,150",
                        help="offered rates after it, if it was not sustained")
    parser.add_argument("--ramp-seconds", type=float, default=10)
    parser.add_argument("--senders-per-step", type=int, default=120)
    parser.add_argument("--threads", type=int, default=64,
                        help="load generator threads (each waits for its 202: the durable publish)")
    parser.add_argument("--grace", type=float, default=30)
    parser.add_argument("--max-transactions", type=int, default=1000, help="[blocks] max_transactions")
    parser.add_argument("--batch-timeout-ms", type=int, default=100, help="[blocks] batch_timeout_ms")
    parser.add_argument("--proxies", action="store_true", help="route every node through TCP proxies")
    parser.add_argument("--keep", metavar="FOLDER", help="run in FOLDER and keep it (logs, stores)")
    args = parser.parse_args()
    up = [float(rate) for rate in args.ramp.split(",") if rate.strip()]
    down = [float(rate) for rate in args.ramp_down.split(",") if rate.strip()]
    steps_max = 1 + max(len(up), len(down))
    with tempfile.TemporaryDirectory(prefix="ledger-cluster-bench-") as temporary:
        folder = args.keep or temporary
        with Cluster(os.path.join(folder, "cluster"), nodes=args.nodes, nats=max(args.nats, 1),
                     senders=args.senders_per_step * steps_max, proxies=args.proxies, replicated=args.nats > 0,
                     blocks={"max_transactions": args.max_transactions,
                             "batch_timeout_ms": args.batch_timeout_ms}) as cluster:
            cluster.leader(60)
            cluster.wait_same_tip(60)
            print(f"{args.nodes} nodes, {args.nats} NATS servers (JetStream file storage, sync always, "
                  f"R{cluster.replicas}), blocks of up to {args.max_transactions} / {args.batch_timeout_ms} ms, "
                  f"{os.cpu_count()} cores", flush=True)
            try:
                steps = run_plan(cluster, args, up, down)
                tip = cluster.wait_same_tip(120)
            except BaseException:
                print(cluster.report(), file=sys.stderr)
                raise
            print(f"all nodes at height {tip['height']}, tip {tip['tip_hash'][:16]}…, "
                  f"state_root {tip.get('state_root', '')[:16]}…")
            first = steps[0]
            import_rate, import_seconds = import_baseline(cluster, first["items"], args.max_transactions,
                                                          os.path.join(folder, "baseline"))
        sustained = [step for step in steps if step["sustained"]]
        best = max(sustained, key=lambda step: step["rate"]) if sustained else None
        # what bounds the rate: the step that was not sustained next to the best one that was
        unsustained = [step for step in steps if not step["sustained"]]
        limit = min(unsustained, key=lambda step: step["rate"]) if unsustained else steps[-1]
        print(f"\nbaseline: `ledger import` of the first step's {len(first['items'])} transactions "
              f"(blocks of {args.max_transactions}) into a fresh store: {import_rate:,.0f} tx/s "
              f"({import_seconds:.2f} s, process start included)")
        result = first["result"]
        print(f"at offered {first['rate']:,.0f} tx/s: accepted {result.accepted_rate:,.0f} tx/s, end-to-end "
              f"{result.end_to_end_rate:,.0f} tx/s, p50 {result.latency['p50'] or 0:.3f} s, "
              f"p99 {result.latency['p99'] or 0:.3f} s, dropped {result.dropped}; "
              f"ratio to import {result.end_to_end_rate / import_rate:.3f}")
        if best is not None:
            print(f"highest sustained offered rate: {best['rate']:,.0f} tx/s (end-to-end "
                  f"{best['result'].end_to_end_rate:,.0f} tx/s, p99 {best['result'].latency['p99']:.3f} s); "
                  f"ratio to import {best['result'].end_to_end_rate / import_rate:.3f}")
        else:
            print("no step was sustained")
        print(f"bounded at offered {limit['rate']:,.0f} tx/s by: {bound_by(limit['cores'])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
