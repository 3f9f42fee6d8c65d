"""Ed25519 verification speed as ratios to PyNaCl's (libsodium's) single verify, all measured in
one run on this machine: our single verify, our batches of 1..4096 on one thread and on two, and
the two-thread speed-up.

    .venv/bin/python bench/verify_ratios.py [--rounds N]

A ratio r means r times as many signatures per second as PyNaCl; "per core" divides by the
threads used. Every timing is the best of many short trials taken in turns (PyNaCl, then each of
ours, round after round), so load from other processes on a shared machine disturbs the ratios as
little as it can: a trial that was slowed down never becomes the best one.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from nacl.signing import SigningKey, VerifyKey  # noqa: E402

from ledger import _core, crypto  # noqa: E402

SIZES = (1, 16, 64, 256, 1024, 4096)
SINGLE_GROUP = 32  # signatures per trial of the single-verify timings


def make_items(n: int, msg_len: int = 64) -> tuple[list[bytes], list[bytes], list[bytes]]:
    pks, msgs, sigs = [], [], []
    for _ in range(n):
        sk = SigningKey(os.urandom(32))
        m = os.urandom(msg_len)
        pks.append(bytes(sk.verify_key))
        msgs.append(m)
        sigs.append(sk.sign(m).signature)
    return pks, msgs, sigs


class Timer:
    """Best time per signature of a callable over trials."""

    def __init__(self, fn, items: int, trial_seconds: float):
        self.fn, self.items, self.best = fn, items, float("inf")
        t0 = time.perf_counter()
        fn()
        once = time.perf_counter() - t0
        self.loops = max(1, int(trial_seconds / max(once, 1e-9)))

    def trial(self) -> None:
        fn = self.fn
        t0 = time.perf_counter()
        for _ in range(self.loops):
            fn()
        self.best = min(self.best, (time.perf_counter() - t0) / (self.loops * self.items))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=12, help="trials per timing (more: steadier)")
    ap.add_argument("--trial", type=float, default=0.05, help="seconds per trial")
    args = ap.parse_args()
    pks, msgs, sigs = make_items(max(SIZES))
    vks = [VerifyKey(pk) for pk in pks[:SINGLE_GROUP]]
    assert all(crypto.verify_batch(pks, msgs, sigs, threads=2))

    def nacl_single():
        for i in range(SINGLE_GROUP):
            vks[i].verify(msgs[i], sigs[i])

    def cache(on: bool, fn):
        def run():
            _core.ed25519_keycache(on)
            fn()
        return run

    def ours_single():
        v = crypto.verify
        for i in range(SINGLE_GROUP):
            v(pks[i], msgs[i], sigs[i])

    def batch(n: int, threads: int):
        a, b, c = pks[:n], msgs[:n], sigs[:n]
        return lambda: crypto.verify_batch(a, b, c, threads=threads)

    # "new keys": the decoded-key cache off, as if every signer were new (the worst case);
    # "repeat keys": the cache on and warm, as for a ledger's repeat senders.
    base = Timer(nacl_single, SINGLE_GROUP, args.trial)
    timers = {
        ("single, new keys", 1): Timer(cache(False, ours_single), SINGLE_GROUP, args.trial),
        ("single, repeat keys", 1): Timer(cache(True, ours_single), SINGLE_GROUP, args.trial),
    }
    for n in SIZES:
        for threads in (1, 2):
            timers[(f"batch {n}", threads)] = Timer(cache(False, batch(n, threads)), n, args.trial)
    timers[("batch 1024, repeat keys", 1)] = Timer(cache(True, batch(1024, 1)), 1024, args.trial)
    ceiling = ParallelCeiling()
    for _ in range(args.rounds):
        base.trial()
        for t in timers.values():
            t.trial()
        ceiling.trial()
    ceiling.close()
    _core.ed25519_keycache(True)
    b = base.best
    print(f"PyNaCl (libsodium) single verify: {b * 1e6:.2f} us/sig = ratio 1.00 "
          f"(best of {args.rounds} trials, interleaved with ours)")
    print(f"{'what':<26}{'threads':>8}{'us/sig':>10}{'x PyNaCl':>10}{'per core':>10}")
    for (name, threads), t in timers.items():
        print(f"{name:<26}{threads:>8}{t.best * 1e6:>10.2f}{b / t.best:>10.2f}{b / t.best / threads:>10.2f}")
    print()
    print(f"{'batch':<8}{'2 threads vs 1':>16}")
    for n in SIZES:
        print(f"{n:<8}{timers[(f'batch {n}', 1)].best / timers[(f'batch {n}', 2)].best:>16.2f}")
    print(f"\nCPUs online: {crypto.cpu_count()}. Parallel ceiling of this machine during the run: a trivial "
          f"CPU-bound job ran at best {ceiling.best:.2f}x, typically {ceiling.median():.2f}x, faster on 2 "
          f"processes than on 1 (below 2 while other work holds a core).")


def _spin(n: int) -> int:
    x = 0
    for i in range(n):
        x += i
    return x


class ParallelCeiling:
    """How much faster two CPU-bound processes finish two equal jobs than one process does, sampled
    once per round alongside the timings."""

    def __init__(self, n: int = 1_000_000):
        import multiprocessing as mp
        self.n, self.samples = n, []
        self.pool = mp.get_context("fork").Pool(2)
        self.pool.map(_spin, [1000, 1000])

    def trial(self) -> None:
        t0 = time.perf_counter()
        _spin(self.n)
        _spin(self.n)
        serial = time.perf_counter() - t0
        t0 = time.perf_counter()
        self.pool.map(_spin, [self.n, self.n])
        self.samples.append(serial / (time.perf_counter() - t0))

    @property
    def best(self) -> float:
        return max(self.samples)

    def median(self) -> float:
        return sorted(self.samples)[len(self.samples) // 2]

    def close(self) -> None:
        self.pool.close()
        self.pool.join()


if __name__ == "__main__":
    main()
