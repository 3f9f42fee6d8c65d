"""Record and account proofs made and verified per second on one core (docs/FORMAT.md §12; goals:
>= 10,000 made and >= 5,000 verified per second).

Specification: docs/FORMAT.md §12.

Each rate is printed beside a baseline measured in the same run, so the ratio says where the time
goes: making a proof against the native state tree's path lookup alone, verifying one (decoding the
binary, folding the path, the header's signature) against one Ed25519 verification alone. With --db,
also Ledger.prove_account on a version-2 store, for the keys of its genesis balances (what a
service answering requests does: a snapshot, the tree, the tip's header). Run pinned to one core:

    taskset -c 0 .venv/bin/python bench/proof_rate.py --keys 1000000
    taskset -c 0 .venv/bin/python bench/proof_rate.py --db db
"""
from __future__ import annotations

import argparse
import os
import random
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from ledger import signatures, state_proofs, state_tree, verify_state_proof  # noqa: E402
from bench.proof_size import OWNER, VALUE, build, record_key  # noqa: E402
from ledger import merkle  # noqa: E402
from ledger.codec import BlockHeader, encode_header, encode_unsigned_header  # noqa: E402
from ledger.hashing import header_hash  # noqa: E402
from ledger.keys import Keypair  # noqa: E402

MADE_PER_SECOND_GOAL = 10_000
VERIFIED_PER_SECOND_GOAL = 5_000


def rate(function, items: list) -> float:
    """Calls per second of function over items (one core: this thread, nothing in parallel)."""
    started = time.perf_counter()
    for item in items:
        function(item)
    return len(items) / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", type=int, default=1_000_000, help="record keys in the state map")
    parser.add_argument("--count", type=int, default=20_000, help="proofs made and verified per measurement")
    parser.add_argument("--db", default=None, help="also prove accounts of this version-2 store through the API")
    args = parser.parse_args()

    tree, _ = build(args.keys)
    validator = Keypair.from_seed(b"proof rate".ljust(32, b"."))
    unsigned = BlockHeader(2, b"\x11" * 32, 1_000, b"\x22" * 32, 1_767_225_600_000, 1_000, merkle.root([]),
                           tree.root(), validator.public_key, b"", b"", b"\x33" * 32)
    digest = header_hash(encode_unsigned_header(unsigned))
    header = encode_header(BlockHeader(2, unsigned.chain_id, unsigned.height, unsigned.previous_hash,
                                       unsigned.time_ms, unsigned.tx_count, unsigned.tx_root, unsigned.state_root,
                                       validator.public_key, validator.sign(digest), digest, unsigned.history_root))
    rng = random.Random(7)
    names = [record_key(rng.randrange(args.keys)) for _ in range(args.count)]
    key_hashes = [state_tree.record_key_hash(OWNER, name) for name in names]

    path_rate = rate(tree.path, key_hashes)
    made_rate = rate(lambda name: state_proofs.prove_record(tree, OWNER, name, VALUE, header).to_bytes(), names)
    proofs = [state_proofs.prove_record(tree, OWNER, name, VALUE, header).to_bytes() for name in names]
    trusted, chain_id = [validator.public_key], unsigned.chain_id
    assert all(verify_state_proof(p, trusted, chain_id) for p in proofs[:100])
    verified_rate = rate(lambda data: verify_state_proof(data, trusted, chain_id), proofs)
    signature_rate = rate(lambda _: signatures.verify_batch([validator.public_key], [digest],
                                                            [header[-64:]], threads=1), proofs)
    print(f"state map of {args.keys:,} record keys; record proofs of a 1 KiB value, {len(proofs[0])} bytes")
    print(f"made:     {made_rate:10,.0f} proofs/s  (goal {MADE_PER_SECOND_GOAL:,}: {made_rate / MADE_PER_SECOND_GOAL:.2f}x; "
          f"baseline tree.path {path_rate:,.0f}/s, ratio {made_rate / path_rate:.2f})")
    print(f"verified: {verified_rate:10,.0f} proofs/s  (goal {VERIFIED_PER_SECOND_GOAL:,}: "
          f"{verified_rate / VERIFIED_PER_SECOND_GOAL:.2f}x; baseline one Ed25519 verification {signature_rate:,.0f}/s, "
          f"ratio {verified_rate / signature_rate:.2f})")

    if args.db:
        from ledger import Ledger
        with Ledger.open(args.db, read_only=True) as book:
            keys = [key for key, _ in book.genesis.balances] or [validator.public_key]
            keys = [keys[i % len(keys)] for i in range(min(args.count, 5_000))]
            book.prove_account(keys[0])      # the first call builds the state tree
            api_rate = rate(book.prove_account, keys)
            api_proofs = [book.prove_account(key).to_bytes() for key in keys[:1_000]]
            store_trusted = list(book.genesis.validators)
            api_verified = rate(lambda data: verify_state_proof(data, store_trusted, book.chain_id), api_proofs)
        print(f"store {args.db}: Ledger.prove_account {api_rate:,.0f} proofs/s "
              f"({api_rate / MADE_PER_SECOND_GOAL:.2f}x the goal), verified {api_verified:,.0f}/s")


if __name__ == "__main__":
    main()
