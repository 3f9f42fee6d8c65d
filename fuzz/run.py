"""Run one harness under atheris for a set time: python -m fuzz.run NAME SECONDS [libFuzzer args].

New interesting inputs go to fuzz/work/NAME/ (not committed); the committed seeds of
fuzz/corpus/NAME/ are read as well, and a crashing input is written there as crash-<sha1>, so that
`make test` replays it from then on (commit it with the fix)."""
from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path

import atheris

ROOT = Path(__file__).resolve().parent


def main() -> None:
    name, seconds, extra = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
    with atheris.instrument_imports(include=["ledger", "ledger_cli", "fuzz"]):
        harness = importlib.import_module(f"fuzz.{name}")
    work, corpus = ROOT / "work" / name, ROOT / "corpus" / name
    work.mkdir(parents=True, exist_ok=True)
    corpus.mkdir(parents=True, exist_ok=True)
    args = [sys.argv[0], f"-max_total_time={seconds}", f"-artifact_prefix={corpus}{os.sep}",
            "-timeout=20", "-rss_limit_mb=4096", *extra, str(work), str(corpus)]
    atheris.Setup(args, harness.test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
