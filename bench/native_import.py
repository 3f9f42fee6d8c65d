"""Import and validate throughput of one chain file next to the signature ceiling of the same cores, measured in
the same run, and the import's peak private memory (RssAnon) beside its file-backed memory (RssFile).

    .venv/bin/ledger gen --out m.ledger --blocks 1000 --txs-per-block 1000 --accounts 10000 --seed 7
    .venv/bin/python bench/native_import.py m.ledger            # the native rules
    LEDGER_RULES=python .venv/bin/python bench/native_import.py m.ledger   # the readable twin

The ceiling: batch verification (ledger.signatures.verify_records, every thread) of that chain's own
signature records, in the pipeline's batch size; decoding them is not timed.

Several chain files are measured one after the other in the same run, e.g. a version-1 and a
version-2 chain of the same seed (`ledger gen ... --format-version 1`), and the ratios of the
later ones to the first are printed: what the version-2 state tree costs against the commitment chain.

Whether import stays flat as the chain grows: the rate of the first and of the last tenth of the
chain's transactions (from the import's progress reports, one per committed group) is printed too.
"""
import os
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

from ledger import Ledger, signatures
from ledger.chainfile import ChainReader
from ledger.codec import decode_block_for_validation, decode_genesis
from ledger.pipeline import SIGNATURES_PER_BATCH


def _status_kib(field: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


class PeakMemory:
    """Samples RssAnon and RssFile every 20 ms (VmHWM mixes both)."""

    def __init__(self):
        self.anon = self.file = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            self.anon = max(self.anon, _status_kib("RssAnon"))
            self.file = max(self.file, _status_kib("RssFile"))
            time.sleep(0.02)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def ceiling(path: str) -> float:
    """Signatures verified per second over the chain's own records, all threads."""
    elapsed = count = 0
    with open(path, "rb") as stream:
        batch: list[bytes] = []
        pending = 0
        reader = ChainReader(stream)
        version = decode_genesis(reader.genesis).version
        for _height, data in reader.blocks():
            records = decode_block_for_validation(data, version)[1]
            batch.append(records)
            pending += len(records) // 128
            if pending >= SIGNATURES_PER_BATCH:
                joined = b"".join(batch)
                started = time.perf_counter()
                signatures.verify_records(joined)
                elapsed += time.perf_counter() - started
                count += pending
                batch, pending = [], 0
        if batch:
            joined = b"".join(batch)
            started = time.perf_counter()
            signatures.verify_records(joined)
            elapsed += time.perf_counter() - started
            count += pending
    return count / elapsed


def _tenth_rates(marks: list[tuple[float, int]], count: int) -> tuple[float, float]:
    """Rates over the progress marks spanning the first and the last tenth of `count` transactions."""
    def rate(lo: int, hi: int) -> float:
        start = max((m for m in marks if m[1] <= lo), key=lambda m: m[1])
        end = min((m for m in marks if m[1] >= hi), key=lambda m: m[1])
        return (end[1] - start[1]) / (end[0] - start[0])
    return rate(0, count // 10), rate(count - count // 10, count)


def main(path: str) -> dict:
    with open(path, "rb") as stream:
        genesis = ChainReader(stream).genesis
    folder = Path(tempfile.mkdtemp(prefix="ledger-native-import-"))
    rules = os.environ.get("LEDGER_RULES", "native")
    try:
        with Ledger.create(folder / "db", genesis) as book, PeakMemory() as peak:
            marks: list[tuple[float, int]] = []
            started = time.perf_counter()
            marks.append((started, 0))
            count = book.import_chain(path, progress=lambda p: marks.append(
                (time.perf_counter(), p.imported_transactions))).imported_transactions
            seconds = time.perf_counter() - started
            started = time.perf_counter()
            book.validate()
            validate_seconds = time.perf_counter() - started
        import_rate = count / seconds
        ceiling_rate = ceiling(path)
        print(f"{path} ({rules} rules): {count:,} transactions imported in {seconds:.1f} s: {import_rate:,.0f} tx/s; "
              f"signature ceiling {ceiling_rate:,.0f} sig/s; import/ceiling {import_rate / ceiling_rate:.2f}; "
              f"validate {count / validate_seconds:,.0f} tx/s ({count / validate_seconds / ceiling_rate:.2f} of the ceiling); "
              f"peak RssAnon {peak.anon / 1024:.0f} MiB, RssFile {peak.file / 1024:.0f} MiB")
        first, last = _tenth_rates(marks, count)
        print(f"  first tenth of the transactions {first:,.0f} tx/s, last tenth {last:,.0f} tx/s: last/first {last / first:.2f}")
        return {"import": import_rate / ceiling_rate, "validate": count / validate_seconds / ceiling_rate}
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    results = [main(path) for path in sys.argv[1:]]
    for path, result in zip(sys.argv[2:], results[1:]):
        print(f"{path} against {sys.argv[1]}: import/ceiling {result['import'] / results[0]['import']:.2f}x, "
              f"validate/ceiling {result['validate'] / results[0]['validate']:.2f}x")
