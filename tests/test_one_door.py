"""The CLI stands on the library's public API only (issue 10, "One door"): `ledger` and the names of its
`__all__`, plus the public modules ledger.errors (the stable error codes) and ledger.limits (docs/FORMAT.md
§10). Nothing under cli/ imports another `ledger.` module, nor the store's engine (lmdb).

The imports are read from the source's syntax tree (Python's ast), so a lazy import inside a function
counts as much as one at the top of a file."""
from __future__ import annotations

import ast
import os
from pathlib import Path

import pytest

import ledger

CLI = Path(__file__).resolve().parent.parent / "cli"
PUBLIC_MODULES = {"ledger.errors", "ledger.limits", "ledger.node"}   # ledger.node: `ledger node`
STORE_ENGINES = {"lmdb"}


def door_breaches(source: str, filename: str = "<source>") -> list[str]:
    """Every import in `source` that goes around the public API, as 'line N: what'."""
    breaches = []
    for node in ast.walk(ast.parse(source, filename)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                name = alias.name
                if name.startswith("ledger.") and name not in PUBLIC_MODULES:
                    breaches.append(f"line {node.lineno}: import {name}")
                elif name.split(".")[0] in STORE_ENGINES:
                    breaches.append(f"line {node.lineno}: import {name}")
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module is not None:
            module = node.module
            if module == "ledger":
                for alias in node.names:
                    if alias.name not in ledger.__all__ and f"ledger.{alias.name}" not in PUBLIC_MODULES:
                        breaches.append(f"line {node.lineno}: from ledger import {alias.name}")
            elif module.startswith("ledger.") and module not in PUBLIC_MODULES:
                breaches.append(f"line {node.lineno}: from {module} import ...")
            elif module.split(".")[0] in STORE_ENGINES:
                breaches.append(f"line {node.lineno}: from {module} import ...")
    return breaches


def test_cli_modules_import_only_the_public_api():
    files = sorted(CLI.rglob("*.py"))
    assert files, "no module under cli/"
    breaches = {str(path.relative_to(CLI.parent)): door_breaches(path.read_text(), str(path)) for path in files}
    assert {path: found for path, found in breaches.items() if found} == {}


@pytest.mark.parametrize("source", [
    "from ledger.codec import decode_genesis",
    "import ledger.chainfile",
    "import ledger.storage as storage",
    "from ledger import benchmark",             # a module, not a public name
    "from ledger import strict_json",
    "import lmdb",
    "from lmdb import Error",
    "def f():\n    from ledger.checkpoint import VerifierKey\n",
    "from ledger import Ledger, storage",
])
def test_the_check_sees_a_way_around(source):
    assert door_breaches(source)


@pytest.mark.parametrize("source", [
    "from ledger import Ledger, ChainReader, limits",
    "from ledger.errors import NOT_FOUND",
    "import ledger.limits",
    "import ledger",
    "from ledger_cli.main import cli",
])
def test_the_check_lets_the_door_through(source):
    assert door_breaches(source) == []


def test_every_public_name_resolves():
    for name in ledger.__all__:
        assert getattr(ledger, name) is not None, name
    assert len(set(ledger.__all__)) == len(ledger.__all__)


def test_the_facade_gives_the_library_objects_not_copies():
    from ledger import benchmark, chainfile, checkpoint, codec, genesis_file, render, storage, workload

    assert ledger.ChainReader is chainfile.ChainReader and ledger.decode_header is codec.decode_header
    assert ledger.VerifierKey is checkpoint.VerifierKey and ledger.parse_note is checkpoint.parse_note
    assert ledger.generate_chain_file is workload.generate_chain_file
    assert ledger.run_benchmark is benchmark.run and ledger.plot_benchmark is benchmark.plot
    assert ledger.block_json is render.block_json and ledger.parse_genesis_json is genesis_file.parse_genesis_json
    assert ledger.StoreError is storage.StoreError


def test_count_chain_blocks_counts_whole_frames_of_regular_files_only(tmp_path):
    from ledger import ChainReader, count_chain_blocks, generate_chain_file

    path = tmp_path / "chain.ledger"
    generate_chain_file(str(path), 5, 3, 8, 1, None)
    with open(path, "rb") as stream:
        reader = ChainReader(stream)
        offset = reader.position
        assert len(list(reader.blocks())) == 5
    assert count_chain_blocks(path, offset) == 5
    data = path.read_bytes()
    path.write_bytes(data[:-1])                              # the last block cut short
    assert count_chain_blocks(path, offset) == 4
    path.write_bytes(data + b"\x00\x00")                     # half a length prefix after the last block
    assert count_chain_blocks(path, offset) == 5
    assert count_chain_blocks(tmp_path / "missing", offset) is None
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    assert count_chain_blocks(fifo, offset) is None
