"""Batch verification coalesced by key against the same batch without coalescing, in one run:
microseconds per signature for 4096 signatures from 1,000, 64 and 4,096 senders (each signature's
sender drawn at random among them), on 1 and 2 threads, and the ratio off/on (goal of issue 8:
>= 1.3 for 1,000 senders).

    .venv/bin/python bench/coalesce_ratio.py [--rounds N] [--n 4096]

Every figure is the best of N trials taken in turns (each configuration once per round, the
order rotating), so load from other processes disturbs the ratios as little as it can. The
decoded-key cache is on, as in an import, and warm after the first round for both modes.
"""
from __future__ import annotations

import argparse
import os
import random
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from nacl.signing import SigningKey  # noqa: E402

from ledger import crypto  # noqa: E402

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
    previous = crypto.coalesce_enabled()
    try:
        for r in range(args.rounds):
            shift = r % len(configs)
            for senders, threads, co in configs[shift:] + configs[:shift]:
                records, size = batches[senders]
                crypto.set_coalesce(co)
                t0 = time.perf_counter()
                verdicts = crypto.verify_records(records, size, threads)
                dt = time.perf_counter() - t0
                assert all(verdicts)
                best[(senders, threads, co)] = min(best[(senders, threads, co)], dt)
    finally:
        crypto.set_coalesce(previous)
    print(f"{args.n} signatures, {MSG_LEN}-byte messages, best of {args.rounds} interleaved trials")
    print(f"{'senders':>8} {'threads':>7} {'coalesced us/sig':>17} {'plain us/sig':>13} {'plain/coalesced':>16}")
    for senders in SENDERS:
        for threads in (1, 2):
            on, off = best[(senders, threads, True)], best[(senders, threads, False)]
            print(f"{senders:>8} {threads:>7} {1e6 * on / args.n:>17.2f} {1e6 * off / args.n:>13.2f} "
                  f"{off / on:>16.2f}")


if __name__ == "__main__":
    main()
