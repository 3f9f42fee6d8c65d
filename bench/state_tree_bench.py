"""The native version-2 state tree (docs/FORMAT.md §7.2, ledger/csrc/state_tree.c) at 1M and 10M
entries: build time and memory (RssAnon), batches of 2,000 changes (a block of 1,000 transfers
changes about 2,000 accounts) per second and µs per entry, proof paths per second, and the proof
size distribution; the batch cost is set against batch Ed25519 verification of 1,000 signatures on
one thread, measured in the same run (the signature ceiling's unit of work, as in
bench/native_import.py, on one thread).

    .venv/bin/python bench/state_tree_bench.py                      # 1M and 10M entries
    .venv/bin/python bench/state_tree_bench.py --sizes 1000000      # 1M only

A script printing figures, not a pytest timing test.
"""
from __future__ import annotations

import argparse
import ctypes
import os
import random
import statistics
import struct
import time

from nacl.signing import SigningKey

from ledger import _core, crypto

BATCH_ENTRIES = 2000
SIGNATURES = 1000
BUILD_CHUNK = 1_000_000


def rss_anon_mib() -> float:
    # Freed buffers (undo records, input chunks) stay in glibc's heap until trimmed: without the
    # trim they would count as the tree's.
    ctypes.CDLL(None).malloc_trim(0)
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("RssAnon:"):
                return int(line.split()[1]) / 1024
    return 0.0


def signature_records(count: int) -> bytes:
    """count records public key || signature || 32-byte message, each signer distinct (a block's
    senders), in the pipeline's record layout (128 bytes)."""
    records = []
    for _ in range(count):
        key = SigningKey(os.urandom(32))
        message = os.urandom(32)
        records.append(bytes(key.verify_key) + key.sign(message).signature + message)
    return b"".join(records)


def time_signatures(records: bytes, rounds: int) -> float:
    """Median CPU seconds to batch-verify the records on one thread."""
    times = []
    for _ in range(rounds):
        started = time.process_time()
        verdicts = crypto.verify_records(records, 128, threads=1)
        times.append(time.process_time() - started)
        assert all(verdicts)
    return statistics.median(times)


def percentile(values: list[int], fraction: float) -> int:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def bench_size(size: int, batches: int, paths: int, records: bytes, rng: random.Random) -> None:
    print(f"\n== {size:,} entries")
    rss_before = rss_anon_mib()
    tree = _core.StateTree()
    keys = bytearray()
    started = time.perf_counter()
    for start in range(0, size, BUILD_CHUNK):
        n = min(BUILD_CHUNK, size - start)
        chunk = rng.randbytes(32 * n)
        tree.update_packed(chunk, rng.randbytes(32 * n))
        keys += chunk
    build_s = time.perf_counter() - started
    keys = bytes(keys)
    rss_tree = rss_anon_mib() - rss_before - len(keys) / 2**20
    print(f"build: {build_s:.1f} s ({size / build_s / 1e6:.2f} M entries/s); bucket bits {tree.bucket_bits}; "
          f"RssAnon {rss_anon_mib():,.0f} MiB, of which the tree about {rss_tree:,.0f} MiB "
          f"({rss_tree * 2**20 / size:.0f} B/entry; the {len(keys) / 2**20:,.0f} MiB key list excluded)")

    # A block's changes: half existing keys (accounts already seen), half new ones.
    existing = len(keys) // 32
    prepared = []
    for _ in range(batches):
        old = b"".join(keys[32 * i:32 * i + 32] for i in rng.sample(range(existing), BATCH_ENTRIES // 2))
        prepared.append((old + rng.randbytes(32 * (BATCH_ENTRIES - BATCH_ENTRIES // 2)),
                         rng.randbytes(32 * BATCH_ENTRIES)))
    accounts = b"".join(keys[32 * i:32 * i + 32] + struct.pack(">QQ", i, i)
                        for i in rng.sample(range(existing), BATCH_ENTRIES))
    update_times, update_cpu = [], []
    for key_hashes, value_hashes in prepared:
        started, started_cpu = time.perf_counter(), time.process_time()
        tree.update_packed(key_hashes, value_hashes)
        update_times.append(time.perf_counter() - started)
        update_cpu.append(time.process_time() - started_cpu)
    hash_times = []
    for _ in range(20):
        started = time.process_time()
        _core.state_account_hashes(accounts)
        hash_times.append(time.process_time() - started)
    # Undo of one block (a rejected block), for scale.
    undo = tree.update_packed(*prepared[0])
    started = time.perf_counter()
    tree.revert(undo)
    revert_s = time.perf_counter() - started
    # CPU time (process_time) is what the ratios use: on a shared machine wall time also counts
    # the time other processes held the core.
    update_s = statistics.median(update_cpu)
    hash_s = statistics.median(hash_times)
    print(f"update, {BATCH_ENTRIES:,} entries a batch (median of {batches}, CPU time): {update_s * 1e3:.2f} ms = "
          f"{1 / update_s:,.0f} batches/s = {update_s / BATCH_ENTRIES * 1e6:.2f} µs/entry "
          f"(wall median {statistics.median(update_times) * 1e3:.2f} ms, "
          f"p99 {percentile([int(t * 1e6) for t in update_times], 0.99) / 1e3:.2f} ms); revert {revert_s * 1e3:.2f} ms")
    print(f"account key+value hashing of {BATCH_ENTRIES:,} packed accounts: {hash_s * 1e3:.2f} ms "
          f"= {hash_s / BATCH_ENTRIES * 1e6:.2f} µs/entry")

    signatures_s = time_signatures(records, 5)
    print(f"batch Ed25519 verification of {SIGNATURES:,} signatures, 1 thread (same run): {signatures_s * 1e3:.2f} ms "
          f"= {signatures_s / SIGNATURES * 1e6:.2f} µs/signature")
    print(f"ratio tree update / signatures (a block of {SIGNATURES:,} transfers, {BATCH_ENTRIES:,} changes): "
          f"{update_s / signatures_s:.3f}; with account hashing {(update_s + hash_s) / signatures_s:.3f}")

    probes = [keys[32 * i:32 * i + 32] for i in rng.sample(range(existing), paths // 2)]
    probes += [rng.randbytes(32) for _ in range(paths - len(probes))]
    started = time.process_time()
    found = [tree.path(k) for k in probes]
    path_s = time.process_time() - started
    lengths = [len(p.siblings) for p in found]
    non_empty = [sum(1 for s in p.siblings if s) for p in found]
    print(f"paths: {paths / path_s:,.0f} paths/s (half present, half absent keys; Python objects included)")
    print(f"siblings a path: median {statistics.median(lengths):.0f}, p99 {percentile(lengths, 0.99)}, "
          f"max {max(lengths)}; non-empty: median {statistics.median(non_empty):.0f}, "
          f"p99 {percentile(non_empty, 0.99)}, max {max(non_empty)}")
    del tree


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--batches", type=int, default=200)
    parser.add_argument("--paths", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    print(f"BLAKE3 AVX2 eight-way: {_core.blake3_simd(-1)}")
    records = signature_records(SIGNATURES)
    for size in args.sizes:
        bench_size(size, args.batches, args.paths, records, rng)


if __name__ == "__main__":
    main()
