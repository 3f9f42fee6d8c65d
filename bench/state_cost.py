"""What the state field costs per transaction, version 2's state tree against version 1's commitment
chain, beside the signature ceiling of the same cores, all measured in one run.

Specification: docs/FORMAT.md §7.1 (the commitment chain) and §7.2 (the state tree); the ceiling is
bench/native_import.py's (batch verification of the chain's own signature records, every thread).

    .venv/bin/ledger gen --out m1.ledger --blocks 1000 --txs-per-block 1000 --accounts 10000 --seed 7 --format-version 1
    .venv/bin/ledger gen --out m2.ledger --blocks 1000 --txs-per-block 1000 --accounts 10000 --seed 7
    .venv/bin/python bench/state_cost.py m1.ledger m2.ledger

Each chain's blocks are decoded first (not timed), then replayed through the native rules on one
thread with no store and no signature checks (NativeRules.replay: the rules, the changes, then the
commitment in version 1, the tree update and root in version 2), best of `--repeat` runs. Printed:
µs per transaction for each chain, the time of the tree's own part (hashing the changes, updating the
tree, its root), and each as a fraction of the time the ceiling spends on one signature, which is
what an import at the ceiling has per transaction. The machine being shared, the figures are only
compared within one run.
"""
from __future__ import annotations

import argparse
import time

from ledger import state
from ledger.chainfile import ChainReader
from ledger.codec import decode_genesis
from ledger.native_rules import AccountCache, NativeRules, decode_block_compact
from ledger.validate import Chain

import native_import   # bench/native_import.py: the ceiling of the same run


def replay_seconds(path: str) -> tuple[float, float, int]:
    """(seconds for the whole replay, seconds inside the tree's part, transactions)."""
    with open(path, "rb") as stream:
        reader = ChainReader(stream)
        genesis = decode_genesis(reader.genesis)
        blocks = [decode_block_compact(data, genesis.version)[0] for _height, data in reader.blocks()]
    chain = Chain.from_genesis(genesis)
    tree = state.genesis_tree(genesis) if genesis.version == 2 else None
    rules = NativeRules(chain, AccountCache(), tree)
    for key, amount in genesis.balances:
        rules.cache.put(key, amount, 0)
    tree_seconds = 0.0
    apply = state.apply_to_tree

    def timed_apply(tree, changes):
        nonlocal tree_seconds
        started = time.perf_counter()
        try:
            return apply(tree, changes)
        finally:
            tree_seconds += time.perf_counter() - started

    import ledger.native_rules as native_rules
    native_rules.apply_to_tree = timed_apply
    try:
        started = time.perf_counter()
        for height, block in enumerate(blocks, start=1):
            rules.replay(block, height, lambda txid: False)
        seconds = time.perf_counter() - started
    finally:
        native_rules.apply_to_tree = apply
    if tree is not None:
        assert tree.root() == blocks[-1].header.state_root, "the replay must reach the chain's state root"
    return seconds, tree_seconds, sum(block.count for block in blocks)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("version_1_chain")
    parser.add_argument("version_2_chain")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    ceiling = native_import.ceiling(args.version_2_chain)
    per_signature_us = 1e6 / ceiling
    results = {}
    for name, path in (("version 1", args.version_1_chain), ("version 2", args.version_2_chain)):
        runs = [replay_seconds(path) for _ in range(args.repeat)]
        seconds, tree_seconds, count = min(runs)
        results[name] = (1e6 * seconds / count, 1e6 * tree_seconds / count)
    print(f"signature ceiling {ceiling:,.0f} sig/s: {per_signature_us:.2f} µs a signature")
    for name, (total_us, tree_us) in results.items():
        line = f"{name}: rules and state field {total_us:.2f} µs/tx = {total_us / per_signature_us:.2f} of a signature"
        if tree_us:
            line += f"; of which the state tree {tree_us:.2f} µs/tx = {tree_us / per_signature_us:.2f} of a signature"
        print(line)
    v1, v2 = results["version 1"][0], results["version 2"][0]
    print(f"version 2 against version 1: {v2 / v1:.2f}x the time of the rules and state field")


if __name__ == "__main__":
    main()
