"""What history roots, history leaves and checkpoints cost, as ratios against baselines measured in the same run.

Specification: none (a benchmark of ledger/history_frontier.py, ledger/history.py, ledger/checkpoint.py and
Ledger.history_leaves, docs/FORMAT.md §7.3, §13 and §14).

    .venv/bin/python bench/history_checkpoint.py [--leaves 200000] [--blocks 400] [--txs-per-block 500]

1. A history root per block: Frontier.append + root() per leaf, against recomputing
   merkle.root over every leaf so far (the native root) at each of the first --recompute leaves.
2. A history proof (history.prove + history.verify) from the middle to the end of --leaves leaves,
   against one merkle.root over the same leaves (proving hashes the whole tree once).
3. Ledger.history_leaves (headers only) against decoding every stored block (decode_block) for
   its hash.
4. Signing and verifying a checkpoint note against one bare Ed25519 signature / verification.
"""
from __future__ import annotations

import argparse
import hashlib
import tempfile
import time
from pathlib import Path

import nacl.bindings

from ledger import Ledger, decode_block, merkle
from ledger.checkpoint import VerifierKey, make_checkpoint, open_checkpoint, sign_checkpoint
from ledger import history
from ledger.history_frontier import Frontier
from ledger.workload import Workload, generate_chain_file


def best_of(repeat: int, action) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        best = min(best, time.perf_counter() - started)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--leaves", type=int, default=200_000)
    parser.add_argument("--recompute", type=int, default=2_000)
    parser.add_argument("--blocks", type=int, default=400)
    parser.add_argument("--txs-per-block", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    leaves = [hashlib.sha256(b"%d" % i).digest() for i in range(args.leaves)]

    def frontier_roots(count: int) -> None:
        frontier = Frontier.empty()
        for leaf in leaves[:count]:
            frontier = frontier.append(leaf)
            frontier.root()

    def recomputed_roots(count: int) -> None:
        for size in range(1, count + 1):
            merkle.root(leaves[:size])

    n = args.recompute
    frontier_s = best_of(args.repeat, lambda: frontier_roots(n))
    recompute_s = best_of(1, lambda: recomputed_roots(n))
    print(f"1. a root per block, {n} blocks: frontier {n / frontier_s:,.0f} roots/s, recomputing "
          f"{n / recompute_s:,.0f} roots/s; ratio {recompute_s / frontier_s:,.1f}x")

    size = args.leaves
    old = size // 2
    root_s = best_of(args.repeat, lambda: merkle.root(leaves))
    parts = history.prove(leaves, old, size)
    prove_s = best_of(args.repeat, lambda: history.prove(leaves, old, size))
    old_root, new_root = history.root(leaves[:old]), history.root(leaves)
    verify_s = best_of(args.repeat, lambda: history.verify(old, old_root, leaves[old], size, new_root, *parts))
    print(f"2. history proof {old} -> {size}: prove {prove_s * 1e3:.1f} ms ({prove_s / root_s:.1f}x one root), "
          f"verify {verify_s * 1e6:.0f} us, {len(parts.consistency) + len(parts.inclusion)} hashes")

    with tempfile.TemporaryDirectory() as folder:
        chain = Path(folder) / "chain.ledger"
        generate_chain_file(chain, args.blocks, args.txs_per_block, 1_000, 1)
        with Ledger.create(Path(folder) / "db", Workload.make(1, 1_000).genesis) as book:
            book.import_chain(chain)
            leaves_s = best_of(args.repeat, book.history_leaves)
            decoded_s = best_of(args.repeat, lambda: [decode_block(book.block_bytes(h)).hash
                                                      for h in range(1, args.blocks + 1)])
            print(f"3. history_leaves, {args.blocks} blocks of {args.txs_per_block} tx: {args.blocks / leaves_s:,.0f} "
                  f"blocks/s; decoding whole blocks {args.blocks / decoded_s:,.0f} blocks/s; ratio "
                  f"{decoded_s / leaves_s:,.1f}x")
            validator = Workload.make(1, 1_000).validators[0]
            note = book.checkpoint(validator)
            print(f"   checkpoint of the store: {book.history_leaves.__name__} + sign: "
                  f"{best_of(args.repeat, lambda: book.checkpoint(validator)) * 1e3:.1f} ms; size "
                  f"{len(note.to_bytes())} bytes")

    checkpoint = make_checkpoint(leaves[:1000], "example.org/log")
    key = VerifierKey(checkpoint.origin, validator.public_key)
    text = sign_checkpoint(checkpoint, validator).to_text()
    rounds = 2_000
    sign_s = best_of(args.repeat, lambda: [sign_checkpoint(checkpoint, validator) for _ in range(rounds)])
    open_s = best_of(args.repeat, lambda: [open_checkpoint(text, [key]) for _ in range(rounds)])
    message = checkpoint.text().encode()
    signature = validator.sign(message)
    bare_sign_s = best_of(args.repeat, lambda: [validator.sign(message) for _ in range(rounds)])
    bare_open_s = best_of(args.repeat, lambda: [nacl.bindings.crypto_sign_open(signature + message, key.public_key)
                                               for _ in range(rounds)])
    print(f"4. sign a checkpoint {rounds / sign_s:,.0f}/s ({sign_s / bare_sign_s:.2f}x a bare signature); "
          f"parse and verify {rounds / open_s:,.0f}/s ({open_s / bare_open_s:.2f}x a bare verification)")


if __name__ == "__main__":
    main()
