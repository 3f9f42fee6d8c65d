"""After the benchmarks: print every figure as a ratio to its baseline from the same run, and
write bench/results/throughput.png (throughput against threads and batch size)."""
from __future__ import annotations

from pathlib import Path

from ledger.benchmark import Report, plot


def _rates(config) -> dict[str, tuple[float, dict]]:
    session = getattr(config, "_benchmarksession", None)
    rates = {}
    for bench in getattr(session, "benchmarks", []) or []:
        items = bench.extra_info.get("items")
        if items and bench.stats and bench.stats.min:
            rates[bench.name] = (items / bench.stats.min, bench.extra_info)
    return rates


def _goal(write, name: str, ratio: float, target: float, figure: str) -> None:
    write(f"  [{'met' if ratio >= target else 'NOT met'}] {name} >= {target}: {ratio:.2f} ({figure})")


def _scale_summary(write, rates: dict) -> None:
    """bench/test_scale.py: each figure over the ceiling (or its twin) of the same run, as a goal."""
    sizes = sorted({name.split("[")[1].rstrip("]") for name in rates if name.startswith("test_scale_")
                    and "[" in name and "coalesce" not in name}, key=lambda size: int(size.rstrip("k")))
    if not sizes and not any(name.startswith("test_scale_verify_coalesce") for name in rates):
        return
    write("")
    write("scale (issue 8 goals; every ratio against a figure of this same run):")
    for size in sizes:
        ceiling = rates.get(f"test_scale_ceiling[{size}]", (None,))[0]
        imported = rates.get(f"test_scale_import[{size}]", (None,))[0]
        assumed = rates.get(f"test_scale_import_assume_valid[{size}]", (None,))[0]
        validated = rates.get(f"test_scale_validate[{size}]", (None,))[0]
        if ceiling:
            write(f"  {size} transactions: signature ceiling {ceiling:,.0f} tx/s (verify_records over the chain's "
                  f"own records, every thread)")
        if ceiling and imported:
            target = 0.8 if size == "1000k" else None
            line = f"import {imported:,.0f} / ceiling {ceiling:,.0f} tx/s"
            if target:
                _goal(write, f"import/ceiling at {size}", imported / ceiling, target, line)
            else:
                write(f"  import/ceiling at {size}: {imported / ceiling:.2f} ({line})")
        if ceiling and validated:
            _goal(write, f"validate/ceiling at {size}", validated / ceiling, 0.9,
                  f"validate {validated:,.0f} / ceiling {ceiling:,.0f} tx/s")
        if imported and assumed:
            _goal(write, f"--assume-valid import / verified import at {size}", assumed / imported, 2.0,
                  f"{assumed:,.0f} / {imported:,.0f} tx/s")
    coalesced = rates.get("test_scale_verify_coalesce[coalesced]", (None,))[0]
    plain = rates.get("test_scale_verify_coalesce[uncoalesced]", (None,))[0]
    if coalesced and plain:
        _goal(write, "batch verification of a 1,000-sender chain, coalesced / not", coalesced / plain, 1.3,
              f"{coalesced:,.0f} / {plain:,.0f} signatures/s")
    else:
        write("  coalesced batch verification: not measured (no coalesce switch in this build)")


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    rates = _rates(config)
    if not rates:
        return
    _scale_summary(terminalreporter.write_line, rates)
    report = Report()
    for name, (rate, info) in rates.items():
        report.rates[name] = rate
        if name.startswith("test_verify_batch"):
            report.batch_curve.setdefault(info["threads"], {})[info["size"]] = rate
        if name.startswith("test_import"):
            report.threads_curve[info["threads"]] = rate
    base_verify = rates.get("test_baseline_pynacl_verify", (None,))[0]
    write = terminalreporter.write_line
    write("")
    write("ratios, each against a baseline measured in this run (best of rounds):")
    if base_verify and report.batch_curve:
        for threads, curve in sorted(report.batch_curve.items()):
            size, best = max(curve.items(), key=lambda kv: kv[1])
            write(f"  verify batch, {threads} thread(s), best at {size}: {best / base_verify:6.2f}x PyNaCl single "
                  f"({best / threads / base_verify:.2f}x per thread)")
        if 1 in report.batch_curve and 2 in report.batch_curve:
            write(f"  verify 2 threads / 1 thread (best sizes): "
                  f"{max(report.batch_curve[2].values()) / max(report.batch_curve[1].values()):6.2f}x")
    if base_verify:
        for name, (rate, info) in sorted(rates.items()):
            if name.startswith(("test_import", "test_validate")):
                write(f"  {name}: {rate:,.0f} tx/s = {rate / base_verify:6.2f}x the PyNaCl one-thread verify loop")
    if 1 in report.threads_curve and 2 in report.threads_curve:
        write(f"  import 2 threads / 1 thread: {report.threads_curve[2] / report.threads_curve[1]:6.2f}x")
    for native, baseline in (("test_native_txids", "test_baseline_blake3_txids"),
                             ("test_native_merkle", "test_baseline_blake3_merkle")):
        if native in rates and baseline in rates:
            write(f"  {native} / {baseline}: {rates[native][0] / rates[baseline][0]:6.2f}x")
    if report.batch_curve and report.threads_curve:
        if base_verify:
            report.rates["baseline: PyNaCl verify, 1 thread"] = base_verify
        path = Path(__file__).resolve().parent / "results" / "throughput.png"
        path.parent.mkdir(exist_ok=True)
        try:
            plot(report, path)
            write(f"plot: {path}")
        except ImportError:
            write("matplotlib is not installed: no plot")
