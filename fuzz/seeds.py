"""Write each harness's SEEDS into fuzz/corpus/NAME/seed-<name> (deterministic: the seeds are made
from fixed keys, so rerunning rewrites identical files). python -m fuzz.seeds"""
from __future__ import annotations

import importlib
from pathlib import Path

from fuzz import HARNESSES

ROOT = Path(__file__).resolve().parent


def main() -> None:
    for name in HARNESSES:
        corpus = ROOT / "corpus" / name
        corpus.mkdir(parents=True, exist_ok=True)
        for seed, data in importlib.import_module(f"fuzz.{name}").SEEDS.items():
            (corpus / f"seed-{seed}").write_bytes(data)


if __name__ == "__main__":
    main()
