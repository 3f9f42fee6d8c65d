"""The binary size of record proofs (docs/FORMAT.md §12) in a state map of many keys: a 64-byte record
key and a 1 KiB value, the QR-code budget of 2,900 bytes.

Specification: docs/FORMAT.md §7.2 (the map's shape), §12 (the binary encoding).

Builds the native state map (ledger._core.StateTree) of --keys record entries (default 10M; real
key hashes of (owner, 64-byte key), all with the same 1 KiB value so that every proof is honest and is
verified), then prints the sizes of proofs for --sample random keys (median, 99th percentile, largest)
and for the two deepest keys of the whole map (found from the sorted key hashes). Run:

    .venv/bin/python bench/proof_size.py --keys 10000000
"""
from __future__ import annotations

import argparse
import os
import random
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from ledger import _core, merkle, state_proofs, state_tree  # noqa: E402
from ledger.codec import BlockHeader, encode_header, encode_unsigned_header  # noqa: E402
from ledger.hashing import header_hash  # noqa: E402
from ledger.keys import Keypair  # noqa: E402

QR_BYTES_MAX = 2_900
OWNER = bytes(range(32))
VALUE = b"\xa5" * 1024
CHUNK = 1_000_000


def record_key(i: int) -> bytes:
    return b"licence/%056d" % i          # 64 bytes: the largest key a record may have


def build(keys: int) -> tuple[object, np.ndarray]:
    tree = _core.StateTree()
    value_hash = state_tree.record_value_hash(VALUE)
    prefixes = np.empty(keys, dtype=np.uint64)
    prefix = b"\x01" + OWNER
    for start in range(0, keys, CHUNK):
        count = min(CHUNK, keys - start)
        packed = _core.blake3_keyed_many(state_tree.KEY_STATE_KEY, [prefix + record_key(i)
                                                                    for i in range(start, start + count)])
        tree.update_packed(packed, value_hash * count)
        prefixes[start:start + count] = np.frombuffer(packed, dtype=np.uint8).reshape(-1, 32)[:, :8] \
            .copy().view(">u8").ravel()
    return tree, prefixes


def deepest(prefixes: np.ndarray) -> tuple[int, int]:
    """Indexes of the two keys whose hashes share the longest prefix (the deepest leaves)."""
    order = np.argsort(prefixes, kind="stable")
    ordered = prefixes[order]
    shared = np.bitwise_xor(ordered[1:], ordered[:-1])
    best = int(np.argmin(shared))
    return int(order[best]), int(order[best + 1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", type=int, default=10_000_000)
    parser.add_argument("--sample", type=int, default=2_000)
    args = parser.parse_args()
    started = time.perf_counter()
    tree, prefixes = build(args.keys)
    built = time.perf_counter() - started
    validator = Keypair.from_seed(b"proof size".ljust(32, b"."))
    unsigned = BlockHeader(2, b"\x11" * 32, 123_456, b"\x22" * 32, 1_767_225_600_000, 65_536, merkle.root([]),
                           tree.root(), validator.public_key, b"", b"", b"\x33" * 32)
    digest = header_hash(encode_unsigned_header(unsigned))
    header = encode_header(BlockHeader(2, unsigned.chain_id, unsigned.height, unsigned.previous_hash,
                                       unsigned.time_ms, unsigned.tx_count, unsigned.tx_root, unsigned.state_root,
                                       validator.public_key, validator.sign(digest), digest, unsigned.history_root))

    def proof_of(i: int):
        proof = state_proofs.prove_record(tree, OWNER, record_key(i), VALUE, header)
        state_proofs.check_state_proof(proof, [validator.public_key])
        return proof

    rng = random.Random(1)
    sample = [proof_of(rng.randrange(args.keys)) for _ in range(args.sample)]
    sizes = sorted(len(p.to_bytes()) for p in sample)
    depths = sorted(len(p.path.siblings) for p in sample)
    deep = [proof_of(i) for i in deepest(prefixes)]
    print(f"state map: {args.keys:,} record keys (native tree, built in {built:.1f} s); header {len(header)} bytes; "
          f"record key 64 bytes, value {len(VALUE)} bytes")
    print(f"random keys ({args.sample}): depth median {depths[len(depths) // 2]}, max {depths[-1]}; "
          f"size median {sizes[len(sizes) // 2]}, p99 {sizes[len(sizes) * 99 // 100]}, max {sizes[-1]} bytes")
    for proof in deep:
        empty = sum(1 for s in proof.path.siblings if not s)
        print(f"deepest key: depth {len(proof.path.siblings)} ({empty} EMPTY siblings), "
              f"size {len(proof.to_bytes())} bytes")
    largest = max([sizes[-1]] + [len(p.to_bytes()) for p in deep])
    print(f"largest / QR budget ({QR_BYTES_MAX}): {largest / QR_BYTES_MAX:.3f} "
          f"({'fits' if largest <= QR_BYTES_MAX else 'DOES NOT FIT'})")


if __name__ == "__main__":
    main()
