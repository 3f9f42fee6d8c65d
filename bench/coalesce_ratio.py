"""Batch verification coalesced by key against the same batch without coalescing, in one run:
microseconds per signature for 4096 signatures from 1,000, 64 and 4,096 senders (each signature's
sender drawn at random among them), on 1 and 2 threads, and the ratio off/on (goal of issue 8:
>= 1.3 for 1,000 senders).

    .venv/bin/python bench/coalesce_ratio.py [--rounds N] [--n 4096]

Every figure is the best of N trials taken in turns (each configuration once per round, the
order rotating), so load from other processes disturbs the ratios as little as it can. Wall time
and CPU time (of the whole process, all threads: what the batch costs the cores) are both shown;
on a machine shared with other work the CPU-time ratio is the steadier one. The decoded-key cache
is on, as in an import, and warm after the first round for both modes. The last column is the
number of points summed per signature (from the verifier's counters), coalesced / plain.
"""
from __future__ import annotations

import argparse
import os
import random
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from nacl.signing import SigningKey  # noqa: E402

from ledger import _core, crypto  # noqa: E402

SENDERS = (1000, 64, 4096)
MSG_LEN = 100  # about a transaction's signed bytes


def make_records(n: int, senders: int, seed: int) -> tuple[bytes, int]:
    rng = random.Random(seed)
    keys = [SigningKey(rng.randbytes(32)) for _ in range(senders)]
    pks, msgs, sigs = [], [], []
    for _ in range(n):
        sk = keys[rng.randrange(senders)]
        m = rng.randbytes(MSG_LEN)
        pks.append(bytes(sk.verify_key))
        msgs.append(m)
        sigs.append(sk.sign(m).signature)
    return crypto.pack_records(pks, msgs, sigs)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--n", type=int, default=4096)
    args = ap.parse_args()
    batches = {s: make_records(args.n, s, seed=s) for s in SENDERS}
    configs = [(s, th, co) for s in SENDERS for th in (1, 2) for co in (True, False)]
    best = {c: float("inf") for c in configs}
    best_cpu = {c: float("inf") for c in configs}
    points = {}
    previous = crypto.coalesce_enabled()
    try:
        for r in range(args.rounds):
            shift = r % len(configs)
            for senders, threads, co in configs[shift:] + configs[:shift]:
                records, size = batches[senders]
                crypto.set_coalesce(co)
                _core.ed25519_batch_stats(True)
                c0, t0 = time.process_time(), time.perf_counter()
                verdicts = crypto.verify_records(records, size, threads)
                dt, dc = time.perf_counter() - t0, time.process_time() - c0
                points[(senders, threads, co)] = _core.ed25519_batch_stats()[1]
                assert all(verdicts)
                best[(senders, threads, co)] = min(best[(senders, threads, co)], dt)
                best_cpu[(senders, threads, co)] = min(best_cpu[(senders, threads, co)], dc)
    finally:
        crypto.set_coalesce(previous)
    print(f"{args.n} signatures, {MSG_LEN}-byte messages, best of {args.rounds} interleaved trials")
    print(f"{'':16} {'wall us/sig':^31} {'CPU us/sig (all threads)':^31}")
    print(f"{'senders':>8} {'threads':>7} {'coalesced':>10} {'plain':>8} {'ratio':>11} {'coalesced':>10} {'plain':>8} "
          f"{'ratio':>11} {'points/sig':>12}")
    for senders in SENDERS:
        for threads in (1, 2):
            on, off = best[(senders, threads, True)], best[(senders, threads, False)]
            con, coff = best_cpu[(senders, threads, True)], best_cpu[(senders, threads, False)]
            pon, poff = points[(senders, threads, True)] / args.n, points[(senders, threads, False)] / args.n
            print(f"{senders:>8} {threads:>7} {1e6 * on / args.n:>10.2f} {1e6 * off / args.n:>8.2f} "
                  f"{off / on:>10.2f}x {1e6 * con / args.n:>10.2f} {1e6 * coff / args.n:>8.2f} {coff / con:>10.2f}x "
                  f"{pon:>5.2f}/{poff:.2f}")


if __name__ == "__main__":
    main()
