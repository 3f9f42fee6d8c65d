"""What a hostile block costs the validator, as a ratio to a valid block of the same size, same run.

A hostile block carries well-formed signatures that do not hold (each decodes; the group equation
fails), the most expensive kind for a verifier that bisects. Block validation needs only the first
bad one (crypto.first_bad: the leftmost failing half is followed alone); the per-signature API
(crypto.verify_records) still bisects every item. Times are the best of --repeat runs.

    .venv/bin/python bench/hostile_block.py [--txs 4096] [--threads 1] [--repeat 5]
"""
import argparse
import dataclasses
import tempfile
import time
from pathlib import Path

from ledger import Ledger, LedgerError, crypto, signatures
from ledger.codec import SIGNATURE_RECORD_SIZE, encode_block, signature_records
from ledger.keys import Keypair
from ledger.workload import Workload


def best_of(repeat: int, work) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        work()
        best = min(best, time.perf_counter() - started)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--txs", type=int, default=4096)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    workload = Workload.make(5, 1000)
    valid = next(iter(workload.blocks(1, args.txs)))
    stranger = Keypair.from_seed(b"s" * 32)
    forged = tuple(dataclasses.replace(tx, signature=stranger.sign(tx.txid)) for tx in valid.transactions)
    hostile = dataclasses.replace(valid, transactions=forged)
    last_bad = dataclasses.replace(valid, transactions=valid.transactions[:-1] + forged[-1:])
    blocks = {"valid": valid, "all signatures bad": hostile, "only the last bad": last_bad}
    records = {name: signature_records(block) for name, block in blocks.items()}
    count = len(records["valid"]) // SIGNATURE_RECORD_SIZE
    threads, repeat = args.threads, args.repeat
    print(f"{count} signatures a block (header + {args.txs} transactions), {threads} thread(s), best of {repeat}")

    def row(label: str, run) -> None:
        times = {name: best_of(repeat, lambda r=r: run(r)) for name, r in records.items()}
        base = times["valid"]
        cells = "  ".join(f"{name}: {t * 1e3:7.1f} ms ({t / base:4.2f}x)" for name, t in times.items())
        print(f"{label:<34} {cells}")

    row("per-signature verdicts (bisect)", lambda r: crypto.verify_records(r, SIGNATURE_RECORD_SIZE, threads))
    row("first bad only (validation path)", lambda r: signatures.verdicts_until_first_bad(r, threads))

    # The whole validation path: append the block to a store (the valid one is committed).
    encoded = {name: encode_block(block) for name, block in blocks.items()}
    times = {}
    with tempfile.TemporaryDirectory() as folder:
        for name, data in encoded.items():
            best = float("inf")
            for attempt in range(repeat):
                with Ledger.create(Path(folder) / f"{name}-{attempt}", workload.genesis) as book:
                    started = time.perf_counter()
                    try:
                        book.append(data)
                    except LedgerError:
                        pass
                    best = min(best, time.perf_counter() - started)
            times[name] = best
    base = times["valid"]
    print(f"{'Ledger.append (decode .. commit)':<34} " +
          "  ".join(f"{name}: {t * 1e3:7.1f} ms ({t / base:4.2f}x)" for name, t in times.items()))
    print(f"hostile block / valid block, validation path: {times['all signatures bad'] / base:.2f}x "
          f"(last signature bad: {times['only the last bad'] / base:.2f}x)")


if __name__ == "__main__":
    main()
