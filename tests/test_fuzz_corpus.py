"""Every committed fuzz input (fuzz/corpus/<harness>/: the seeds and any crasher found since) run
through its harness's test_one_input, without atheris: a bug a fuzzer once found stays fixed."""
from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from fuzz import HARNESSES  # noqa: E402

CASES = [(name, path) for name in HARNESSES for path in sorted((ROOT / "fuzz" / "corpus" / name).glob("*"))]


def test_every_harness_has_seeds():
    assert {name for name, _ in CASES} == set(HARNESSES)


@pytest.mark.parametrize("name, path", CASES, ids=[f"{name}/{path.name}" for name, path in CASES])
def test_corpus_input(name, path):
    importlib.import_module(f"fuzz.{name}").test_one_input(path.read_bytes())



# Inputs that fail today in code another change is reworking (fuzz/findings/<harness>/<what>):
# expected to fail until fixed; once one passes, strict xfail reports it: move it to the corpus.
FINDINGS = [(name, path) for name in HARNESSES for path in sorted((ROOT / "fuzz" / "findings" / name).glob("*"))]


@pytest.mark.xfail(strict=True, raises=AssertionError,
                   reason="an open fuzz finding; when it passes, move the file to fuzz/corpus/<harness>/")
@pytest.mark.parametrize("name, path", FINDINGS, ids=[f"{name}/{path.name}" for name, path in FINDINGS])
def test_open_finding(name, path):
    importlib.import_module(f"fuzz.{name}").test_one_input(path.read_bytes())
