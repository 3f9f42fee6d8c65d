"""`make bench-large`: gen, import and validate a chain of 10,000,000 transactions; tx/s at 1M, 5M
and 10M along the way, peak RssAnon and RssFile, bench/results/scale.png, and the goals of issue 8
that this run measures, each printed as met or not met with its figure.

Specification: none (measurement code).

    .venv/bin/python bench/scale_large.py                       # 10,000,000 transactions
    .venv/bin/python bench/scale_large.py --transactions 1000000 # the same at 1M (a quick check)

Import's rate at a mark is measured over the window of the last fifth of the transactions before
it (the speed at that chain length) and also cumulatively; the signature ceiling is verify_records
over this chain's own signature records (a 200,000-signature sample), on every core, in this run.
"""
from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from scale_tools import PeakMemory, chain_records, ceiling_tx_per_s  # noqa: E402

from ledger import Ledger  # noqa: E402
from ledger.chainfile import ChainReader  # noqa: E402
from ledger.workload import generate_chain_file  # noqa: E402

MARK_FRACTIONS = (0.1, 0.5, 1.0)    # of the chain: 1M, 5M and 10M for the default 10M
RSS_ANON_BUDGET_MB = 300
RESULTS = Path(__file__).resolve().parent / "results"


def window_rate(points: list[tuple[float, int]], mark: int) -> tuple[float, float] | None:
    """(windowed, cumulative) tx/s at the first point at or past `mark`."""
    end = next((p for p in points if p[1] >= mark), None)
    if end is None:
        return None
    start = next(p for p in points if p[1] >= 0.8 * mark)
    if start is end:
        start = max((p for p in points if p[1] < end[1]), key=lambda p: p[1], default=(0.0, 0))
    windowed = (end[1] - start[1]) / max(end[0] - start[0], 1e-9)
    return windowed, end[1] / max(end[0], 1e-9)


def curve(points: list[tuple[float, int]], segments: int = 40) -> list[tuple[int, float]]:
    """(chain length, tx/s over the segment before it) for about `segments` equal segments."""
    if not points:
        return []
    step = max(1, points[-1][1] // segments)
    out, last = [], (0.0, 0)
    for t, n in points:
        if n - last[1] >= step:
            out.append((n, (n - last[1]) / max(t - last[0], 1e-9)))
            last = (t, n)
    return out


def plot(import_curve, validate_rate, ceiling, path: Path) -> str:
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "matplotlib is not installed: no plot"
    figure, axes = plt.subplots(figsize=(8, 4.5))
    axes.plot([n / 1e6 for n, _ in import_curve], [r for _, r in import_curve], marker=".", label="import")
    axes.axhline(ceiling, color="gray", linestyle="--", label="signature ceiling (same run)")
    axes.axhline(validate_rate, color="green", linestyle=":", label="validate (whole chain)")
    axes.set_xlabel("chain length (million transactions)")
    axes.set_ylabel("transactions per second")
    axes.set_ylim(bottom=0)
    axes.legend()
    axes.set_title("import throughput against chain length")
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    return f"plot: {path}"


def goal(name: str, met: bool, figure: str) -> str:
    return f"  [{'met' if met else 'NOT met'}] {name}: {figure}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--transactions", type=int, default=10_000_000)
    parser.add_argument("--txs-per-block", type=int, default=1000)
    parser.add_argument("--accounts", type=int, default=1000)
    parser.add_argument("--folder", type=Path, default=None, help="work folder (default: a new temporary one)")
    parser.add_argument("--plot", type=Path, default=RESULTS / "scale.png")
    args = parser.parse_args()
    blocks = max(1, args.transactions // args.txs_per_block)
    total = blocks * args.txs_per_block
    folder = args.folder or Path(tempfile.mkdtemp(prefix="ledger-scale-"))
    folder.mkdir(parents=True, exist_ok=True)
    chain = folder / "chain.ledger"
    print(f"scale: {total:,} transactions ({blocks:,} blocks of {args.txs_per_block}), {args.accounts:,} accounts, "
          f"in {folder}", flush=True)
    try:
        with PeakMemory() as memory:
            started = time.perf_counter()
            generate_chain_file(chain, blocks, args.txs_per_block, args.accounts, seed=1)
            gen_s = time.perf_counter() - started
        print(f"gen: {gen_s:.1f} s ({total / gen_s:,.0f} tx/s), {chain.stat().st_size / 1e9:.2f} GB; "
              f"{memory.line()}", flush=True)

        records, sample_blocks, sample_transactions = chain_records(chain)
        ceiling = ceiling_tx_per_s(records, sample_blocks, sample_transactions)
        del records
        print(f"signature ceiling (verify_records over {sample_transactions + sample_blocks:,} of this chain's "
              f"signatures, every core): {ceiling:,.0f} tx/s", flush=True)

        with open(chain, "rb") as stream:
            genesis = ChainReader(stream).genesis
        points: list[tuple[float, int]] = []
        marks = sorted({max(1, int(total * fraction)) for fraction in MARK_FRACTIONS})
        printed: set[int] = set()

        def progress(p) -> None:
            points.append((time.perf_counter() - import_started, p.imported_transactions))
            for mark in marks:
                if mark not in printed and p.imported_transactions >= mark:
                    printed.add(mark)
                    windowed, cumulative = window_rate(points, mark)
                    print(f"import at {mark:,}: {windowed:,.0f} tx/s (last fifth), {cumulative:,.0f} tx/s "
                          f"(from the start); {memory_import.line()}", flush=True)

        with PeakMemory() as memory_import, Ledger.create(folder / "db", genesis) as book:
            import_started = time.perf_counter()
            result = book.import_chain(chain, progress=progress)
            import_s = time.perf_counter() - import_started
        import_rate = result.imported_transactions / import_s
        print(f"import: {import_s:.1f} s ({import_rate:,.0f} tx/s); {memory_import.line()}", flush=True)

        with PeakMemory() as memory_validate, Ledger.open(folder / "db") as book:
            started = time.perf_counter()
            report = book.validate()
            validate_s = time.perf_counter() - started
        validate_rate = report.transactions / validate_s
        print(f"validate: {validate_s:.1f} s ({validate_rate:,.0f} tx/s); {memory_validate.line()}", flush=True)

        print(plot(curve(points), validate_rate, ceiling, args.plot))
        print("goals (issue 8) measured by this run:")
        first, last = marks[0], marks[-1]
        first_rates, last_rates = window_rate(points, first), window_rate(points, last)
        print(goal(f"import/ceiling >= 0.8 at {first:,}", first_rates[1] / ceiling >= 0.8,
                   f"{first_rates[1]:,.0f} / {ceiling:,.0f} = {first_rates[1] / ceiling:.2f}"))
        if last != first:
            print(goal(f"tx/s at {last:,} >= 0.8 x tx/s at {first:,}", last_rates[0] >= 0.8 * first_rates[0],
                       f"{last_rates[0]:,.0f} / {first_rates[0]:,.0f} = {last_rates[0] / first_rates[0]:.2f}"))
        peak_anon_mb = max(memory.peak_anon_kib, memory_import.peak_anon_kib, memory_validate.peak_anon_kib) / 1024
        print(goal(f"peak RssAnon <= {RSS_ANON_BUDGET_MB} MB at {total:,}", peak_anon_mb <= RSS_ANON_BUDGET_MB,
                   f"{peak_anon_mb:,.0f} MB (import {memory_import.peak_anon_kib / 1024:,.0f}, validate "
                   f"{memory_validate.peak_anon_kib / 1024:,.0f}, gen {memory.peak_anon_kib / 1024:,.0f}; RssFile "
                   f"peak {memory_import.peak_file_kib / 1024:,.0f} MB)"))
        print(goal("validate >= 0.9 x ceiling", validate_rate >= 0.9 * ceiling,
                   f"{validate_rate:,.0f} / {ceiling:,.0f} = {validate_rate / ceiling:.2f}"))
        gen_limit_s = 240 * total / 10_000_000
        print(goal(f"gen of {total:,} <= {gen_limit_s:.0f} s (4 minutes for 10M, scaled)", gen_s <= gen_limit_s,
                   f"{gen_s:.0f} s"))
    finally:
        if args.folder is None:
            shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
