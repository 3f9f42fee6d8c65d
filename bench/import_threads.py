"""Import and validation throughput of one chain file, at 1 and 2 verification threads (best of 2).

    .venv/bin/ledger gen --out chain.ledger --blocks 100 --txs-per-block 1000 --accounts 1000 --seed 2
    .venv/bin/python bench/import_threads.py chain.ledger
"""
import shutil
import sys
import tempfile
import time
from pathlib import Path

from ledger import Ledger
from ledger.chainfile import ChainReader


def main(path: str) -> None:
    with open(path, "rb") as stream:
        genesis = ChainReader(stream).genesis
    folder = Path(tempfile.mkdtemp(prefix="ledger-import-"))
    try:
        for threads in (1, 2):
            best, count = float("inf"), 0
            for _ in range(2):
                shutil.rmtree(folder / "db", ignore_errors=True)
                with Ledger.create(folder / "db", genesis) as book:
                    started = time.perf_counter()
                    count = book.import_chain(path, threads=threads).imported_transactions
                    best = min(best, time.perf_counter() - started)
            print(f"import, {threads} thread(s): {count / best:,.0f} tx/s")
        with Ledger.open(folder / "db") as book:
            started = time.perf_counter()
            book.validate()
            print(f"validate: {count / (time.perf_counter() - started):,.0f} tx/s")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main(sys.argv[1])
