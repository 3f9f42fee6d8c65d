"""Every source file under ledger/ says in its header which specification or paper it implements,
or that it implements none beyond docs/FORMAT.md (issue 7, "Provenance")."""
from __future__ import annotations

import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent / "ledger"
SUFFIXES = {".py", ".pyx", ".pxi", ".pyi", ".c", ".h"}
GENERATED = {"_core.c"}  # Cython output
HEADER_LINES = 12
NAMES_A_SOURCE = ("Specification", "specification", "RFC ", "FIPS ", "FORMAT.md", "ZIP 215", "ZIP-215")


def sources() -> list[pathlib.Path]:
    return sorted(p for p in ROOT.rglob("*") if p.suffix in SUFFIXES and p.name not in GENERATED)


def test_sources_found():
    names = {p.name for p in sources()}
    assert {"blake3.c", "ge25519.h", "codec.py", "_core.pyx", "_ed25519.pxi"} <= names


@pytest.mark.parametrize("path", sources(), ids=lambda p: str(p.relative_to(ROOT)))
def test_header_names_its_specification(path):
    header = "\n".join(path.read_text(encoding="utf-8").splitlines()[:HEADER_LINES])
    assert any(token in header for token in NAMES_A_SOURCE), f"{path.name}: header names no specification"
